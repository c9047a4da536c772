//go:build !linux

package apistore

import "os"

// fileReader reads the files of one directory.
type fileReader struct{}

func newFileReader(string) *fileReader { return &fileReader{} }

func (*fileReader) read(file string) ([]byte, error) { return os.ReadFile(file) }

func (*fileReader) close() {}
