// Package testkit holds the small helpers that tests of several packages share. It imports only
// the standard library, so that the tests of any package, however low in the import graph (the
// gateway's own, below internal/gatewaytest), can use it without an import cycle.
package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time (user and system, every goroutine) the process has used so far:
// benchmarks report it per operation, steadier on a shared machine than wall time, and counting
// the work of goroutines beside the one timed.
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SyncBuffer is a bytes.Buffer that goroutines may write while a test reads it: a logger's
// destination, or a child process's stdout and stderr. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Within runs f and returns its result, or fails the test when f has not returned after limit:
// for what must never block (a reload beside a named pipe, a plugin's init). f goes on, on its
// own goroutine, when the test fails.
func Within[T any](tb testing.TB, limit time.Duration, what string, f func() T) T {
	tb.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		tb.Fatalf("%s did not return within %v", what, limit)
		var zero T
		return zero
	}
}

// WriteTree writes files (relative names, slash-separated, and their contents) under dir,
// making the folders they need.
func WriteTree(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
