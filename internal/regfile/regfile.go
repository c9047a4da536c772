// Package regfile reads the files the gateway loads its dynamic configuration from (API
// definitions, policies, templates) so that what is not a regular file cannot hold it up: a
// named pipe would block the read until a writer comes, and a device such as /dev/zero would
// never end. A file is opened without blocking (O_NONBLOCK), refused unless the opened file is
// a regular one, and read up to a bound.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the error for a path that names something other than a regular
// file (after symbolic links): a directory, a named pipe, a device, a socket.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file larger than the bound it is read with.
var ErrTooLarge = errors.New("file too large")

// openFlags open without blocking: a named pipe without a writer opens at once instead of
// waiting for one, and no terminal becomes the process's controlling one. Regular files read as
// they always do.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// Read returns the content of the regular file at path, which may hold at most max bytes. A
// path that does not name a regular file is refused (ErrNotRegular) without a byte read, and a
// larger file (ErrTooLarge) without more than max+1 read. Errors are *fs.PathError naming path.
func Read(path string, max int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, fi, path, max)
}

// Open opens the regular file at path for reading, as Read does (without blocking, and
// refusing what is not a regular file without a byte read), for a caller that reads it itself:
// it must bound what it reads, since the file may grow. It also returns the file's status.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := regular(f, path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// ReadInRoot is Read for the file name inside the directory dir, as os.OpenInRoot opens it
// (neither name nor a symbolic link may lead out of dir).
func ReadInRoot(dir, name string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := regular(f, name)
	if err != nil {
		return nil, err
	}
	return read(f, fi, name, max)
}

// regular returns the status of f, opened at path, refusing what is not a regular file.
func regular(f *os.File, path string) (fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi.Mode())
	}
	return fi, nil
}

// read reads f, a regular file of status fi opened at path, up to max bytes (ErrTooLarge past).
func read(f *os.File, fi fs.FileInfo, path string, max int64) ([]byte, error) {
	if fi.Size() > max {
		return nil, TooLarge(path, max)
	}
	// Sized from the status, and bounded while read: the file may grow meanwhile.
	b := make([]byte, 0, min(fi.Size(), max)+1)
	for {
		n, err := f.Read(b[len(b):min(int64(cap(b)), max+1)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return nil, TooLarge(path, max)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Check returns the error Read gives for a file of the mode and size found at path (nil when it
// is a regular file of at most max bytes): for readers of their own, such as those that open a
// file with system calls.
func Check(path string, mode fs.FileMode, size, max int64) error {
	if !mode.IsRegular() {
		return notRegular(path, mode)
	}
	if size > max {
		return TooLarge(path, max)
	}
	return nil
}

// notRegular is the error for a file at path of a mode that is not a regular file's.
func notRegular(path string, mode fs.FileMode) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w but %s", ErrNotRegular, Kind(mode))}
}

// TooLarge is the error for a file at path larger than max bytes.
func TooLarge(path string, max int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: larger than %s, the most read of one file", ErrTooLarge, bytesText(max))}
}

// Kind names what a file of a mode that is not a regular file's is ("a named pipe (FIFO)"), for
// errors: a symbolic link's too, for modes read without following links (an archive's entries).
func Kind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file (type " + mode.Type().String() + ")"
}

// bytesText gives n in MiB when it is a whole number of them, else in bytes.
func bytesText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
