//go:build linux

package apistore

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// read returns the content of file, which is in the reader's directory.
func (r *fileReader) read(file string) ([]byte, error) {
	if r.dir < 0 {
		return os.ReadFile(file)
	}
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Openat(r.dir, filepath.Base(file), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: file, Err: err}
	}
	defer syscall.Close(fd)
	if r.buf == nil {
		r.buf = make([]byte, 64<<10)
	}
	n := 0
	for {
		if n == len(r.buf) {
			r.buf = append(r.buf, 0)[:n]
			r.buf = r.buf[:cap(r.buf)]
		}
		m, err := retryEINTR(func() (int, error) { return syscall.Read(fd, r.buf[n:]) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: file, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return append([]byte(nil), r.buf[:n]...), nil
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
