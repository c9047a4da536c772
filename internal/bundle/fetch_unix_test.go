//go:build unix

package bundle_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestFetchFileURLSpecialFiles: a file:// "bundle" that is a named pipe or a device is refused
// at once, naming what it is, rather than holding its download for good (a pipe without a
// writer) or filling the limit (/dev/zero).
func TestFetchFileURLSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.zip"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, base := range map[string]string{"pipe.zip": dir, "zero": "/dev"} {
		f := newFetcher(t, bundle.FetchOptions{BaseURL: "file://" + filepath.ToSlash(base)})
		err := testkit.Within(t, 10*time.Second, "fetching "+name, func() error {
			_, err := fetch(t, f, context.Background(), name)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("fetching %s: %v, want it refused as not a regular file", name, err)
		}
	}
}
