//go:build unix

package events

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

// TestReadTemplateFile: a webhook template is read inside its root, at most MaxTemplate bytes;
// a named pipe (whose opening used to wait for a writer, holding the reload) or a directory is
// refused at once.
func TestReadTemplateFile(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "ok.json"), []byte(`{"event": "{{.Type}}"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "big.json"), make([]byte, MaxTemplate+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "pipe.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(name string) ([]byte, error) {
		type result struct {
			b   []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			b, err := ReadTemplateFile(root, name)
			done <- result{b, err}
		}()
		select {
		case r := <-done:
			return r.b, r.err
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadTemplateFile(%s) did not return within 10s", name)
			return nil, nil
		}
	}
	if b, err := read("ok.json"); err != nil || !strings.Contains(string(b), "{{.Type}}") {
		t.Errorf("ReadTemplateFile(ok.json) = %q, %v", b, err)
	}
	if _, err := read("big.json"); !errors.Is(err, regfile.ErrTooLarge) {
		t.Errorf("ReadTemplateFile(big.json): %v; want it refused as too large", err)
	}
	if _, err := read("none.json"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadTemplateFile(none.json): %v; want not found", err)
	}
	for name, want := range map[string]string{"pipe.json": "a named pipe (FIFO)", "dir.json": "a directory"} {
		if _, err := read(name); !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadTemplateFile(%s): %v; want it refused as %s", name, err, want)
		}
	}
}
