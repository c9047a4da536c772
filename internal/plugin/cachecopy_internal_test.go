package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/version"
)

// TestCacheCopyRefusesOtherContent checks that the copy written to the cache must have the
// content hashed before it: a file that changed between the two reads is refused, and nothing
// is left in the cache.
func TestCacheCopyRefusesOtherContent(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	l := NewLoader(Options{BaseDir: t.TempDir(), CacheDir: cache, Version: version.Version})
	first := sha256.Sum256([]byte("the content hashed"))
	hash := hex.EncodeToString(first[:])
	_, err := l.cacheCopy(hash, strings.NewReader("the content read the second time"))
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "changed while it was read") {
		t.Errorf("a copy of other content: %v, want ErrChanged", err)
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("the cache holds %d files after a refused copy", len(left))
	}
	path, err := l.cacheCopy(hash, strings.NewReader("the content hashed"))
	if err != nil || filepath.Base(path) != hash+".so" {
		t.Fatalf("a copy of the content hashed: %q, %v", path, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "the content hashed" {
		t.Errorf("the cache holds %q", got)
	}
}

// TestOpenFileStreams checks that opening a file does not read it into memory: a 32 MiB file
// (not a plugin, so refused after it was hashed and copied) allocates far less than its size.
func TestOpenFileStreams(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "big.so")
	const size = 32 << 20
	if err := os.WriteFile(file, bytes.Repeat([]byte(t.Name()), size/len(t.Name())+1)[:size], 0o644); err != nil {
		t.Fatal(err)
	}
	l := NewLoader(Options{BaseDir: dir, CacheDir: filepath.Join(dir, "cache"), Version: version.Version})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := l.OpenFile(file)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a file that is not a plugin was opened")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > size/8 {
		t.Errorf("opening a %d-byte file allocated %d bytes: it was read into memory", size, got)
	}
}
