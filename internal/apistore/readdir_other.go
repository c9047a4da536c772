//go:build !linux

package apistore

import "github.com/gatehouse/gatehouse/internal/regfile"

// fileReader reads the files of one directory.
type fileReader struct{}

func newFileReader(string) *fileReader { return &fileReader{} }

// read returns the content of file: refused when it is not a regular file, or larger than
// MaxFileSize.
func (*fileReader) read(file string) ([]byte, error) { return regfile.Read(file, MaxFileSize) }

// stat returns no status: elsewhere than on Linux every file is read.
func (*fileReader) stat(string) fileStat { return 0 }

func (*fileReader) close() {}
