//go:build unix

package regfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/regfile"
)

// within runs f and fails the test when it has not returned after a few seconds: a read that
// blocks on a named pipe, or never ends on a device, would otherwise hang the test.
func within(t *testing.T, f func() ([]byte, error)) ([]byte, error) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := f()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not return within 5s")
		return nil, nil
	}
}

// specials makes, in dir, a named pipe without a writer (fifo.json), a symbolic link to
// /dev/zero (zero.json) and a directory (dir.json), and returns their names with what the
// refusal must say.
func specials(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"fifo.json": "not a regular file but a named pipe (FIFO)",
		"zero.json": "not a regular file but a character device",
		"dir.json":  "not a regular file but a directory",
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	refused := specials(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "ok.json"), []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.json"), make([]byte, 101), 0o644); err != nil {
		t.Fatal(err)
	}

	b, err := within(t, func() ([]byte, error) { return regfile.Read(filepath.Join(dir, "ok.json"), 100) })
	if err != nil || string(b) != `{"a": 1}` {
		t.Fatalf("Read(ok.json) = %q, %v", b, err)
	}
	b, err = within(t, func() ([]byte, error) { return regfile.Read(filepath.Join(dir, "big.json"), 101) })
	if err != nil || len(b) != 101 {
		t.Fatalf("Read(big.json, 101) = %d bytes, %v; want all 101", len(b), err)
	}
	_, err = within(t, func() ([]byte, error) { return regfile.Read(filepath.Join(dir, "big.json"), 100) })
	if !errors.Is(err, regfile.ErrTooLarge) || !strings.Contains(err.Error(), "big.json: file too large: larger than 100 bytes") {
		t.Errorf("Read(big.json, 100): %v; want it refused as larger than 100 bytes", err)
	}
	_, err = within(t, func() ([]byte, error) { return regfile.Read(filepath.Join(dir, "none.json"), 100) })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read(none.json): %v; want not found", err)
	}
	for name, want := range refused {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			b, err := within(t, func() ([]byte, error) { return regfile.Read(path, 100) })
			if !errors.Is(err, regfile.ErrNotRegular) {
				t.Fatalf("Read(%s) = %d bytes, %v; want ErrNotRegular", name, len(b), err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Read(%s): %q; want the path and %q", name, err, want)
			}
		})
	}
}

func TestReadInRoot(t *testing.T) {
	dir := t.TempDir()
	refused := specials(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "ok.json"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := within(t, func() ([]byte, error) { return regfile.ReadInRoot(dir, "ok.json", 10) }); err != nil || string(b) != "ok" {
		t.Fatalf("ReadInRoot(ok.json) = %q, %v", b, err)
	}
	// A link out of the root is refused by the root, before anything is opened.
	if _, err := within(t, func() ([]byte, error) { return regfile.ReadInRoot(dir, "zero.json", 10) }); err == nil || errors.Is(err, regfile.ErrNotRegular) {
		t.Errorf("ReadInRoot(zero.json): %v; want it refused as outside the root", err)
	}
	delete(refused, "zero.json")
	for name, want := range refused {
		_, err := within(t, func() ([]byte, error) { return regfile.ReadInRoot(dir, name, 10) })
		if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadInRoot(%s): %v; want %q", name, err, want)
		}
	}
}
