//go:build linux

package apistore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gatehouse/gatehouse/internal/regfile"
)

// fileReader reads the files of one directory. On Linux it opens each relative to the
// directory's descriptor with plain system calls: with thousands of definitions, os.ReadFile's
// extra calls (two fstat, an fcntl) and the walk of the whole path for every file were most of
// an unchanged reload's time.
type fileReader struct {
	dir int
	buf []byte
}

func newFileReader(dir string) *fileReader {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return &fileReader{dir: -1}
	}
	return &fileReader{dir: fd}
}

// read returns the content of file, which is in the reader's directory: refused, without a
// byte read, when it is not a regular file (a named pipe would block the reload until a writer
// came, a device such as /dev/zero would never end), or larger than MaxFileSize.
func (r *fileReader) read(file string) ([]byte, error) {
	if r.dir < 0 {
		return regfile.Read(file, MaxFileSize)
	}
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Openat(r.dir, filepath.Base(file), syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: file, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if _, err := retryEINTR(func() (int, error) { return 0, syscall.Fstat(fd, &st) }); err != nil {
		return nil, &os.PathError{Op: "stat", Path: file, Err: err}
	}
	if err := regfile.Check(file, fileMode(st.Mode), st.Size, MaxFileSize); err != nil {
		return nil, err
	}
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	if need := int(st.Size) + 1; need > len(r.buf) {
		r.buf = make([]byte, need) // the file whole at one read, and its end
	}
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, 0)[:n]
			r.buf = r.buf[:cap(r.buf)]
		}
		// At most one byte past the bound: a file growing while it is read is cut there.
		m, err := retryEINTR(func() (int, error) { return syscall.Read(fd, r.buf[n:min(len(r.buf), MaxFileSize+1)]) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: file, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
		if n > MaxFileSize {
			return nil, regfile.TooLarge(file, MaxFileSize)
		}
	}
	return append([]byte(nil), r.buf[:n]...), nil
}

// fileMode returns the type bits of a stat mode as fs.FileMode's.
func fileMode(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	}
	return fs.ModeIrregular
}

// stat returns the status of file, in the reader's directory, once settled (its ctime older
// than settleTime); 0 when it is not, or cannot be had.
func (r *fileReader) stat(file string) fileStat {
	if r.dir < 0 {
		return 0
	}
	var st unix.Stat_t
	if _, err := retryEINTR(func() (int, error) { return 0, unix.Fstatat(r.dir, filepath.Base(file), &st, 0) }); err != nil {
		return 0
	}
	ctime := st.Ctim.Nano()
	if time.Since(time.Unix(0, ctime)) < settleTime {
		return 0
	}
	return newFileStat(uint64(st.Dev), st.Ino, uint64(st.Size), st.Mtim.Nano(), ctime)
}

func (r *fileReader) close() {
	if r.dir >= 0 {
		syscall.Close(r.dir)
	}
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, syscall.EINTR) {
			return n, err
		}
	}
}
