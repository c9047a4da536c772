package plugin_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

func TestIsVersionedName(t *testing.T) {
	for _, tt := range []struct {
		file, name string
		want       bool
	}{
		{"p1_v0.1.0_linux_amd64.so", "p1.so", true},
		{"p1_v0.1.0_linux_amd64.so", "p1", true},
		{"p1_0.1.0_darwin_arm64.so", "p1.so", true},
		{"my_plugin_v5.3.0_linux_arm64.so", "my_plugin.so", true},
		{"p1_v5.3.0_rc_1_linux_amd64.so", "p1.so", true}, // the version may hold '_'
		{"p1.so", "p1.so", false},
		{"p2_v0.1.0_linux_amd64.so", "p1.so", false},
		{"p10_v0.1.0_linux_amd64.so", "p1.so", false},
		{"p1_v0.1.0_linux.so", "p1.so", false},
		{"p1__linux_amd64.so", "p1.so", false},
		{"p1_v0.1.0__amd64.so", "p1.so", false},
		{"p1_v0.1.0_linux_.so", "p1.so", false},
		{"p1_v0.1.0_linux_amd64.so.bak", "p1.so", false},
		{"p1_v0.1.0_linux_amd64", "p1.so", false},
	} {
		if got := plugin.IsVersionedName(tt.file, tt.name); got != tt.want {
			t.Errorf("IsVersionedName(%q, %q) = %v, want %v", tt.file, tt.name, got, tt.want)
		}
	}
	// What VersionedName writes, IsVersionedName recognises.
	if f := plugin.VersionedName("p1.so", "v0.1.0", runtime.GOOS, runtime.GOARCH); !plugin.IsVersionedName(f, "p1.so") {
		t.Errorf("IsVersionedName(%q, p1.so) = false", f)
	}
}

// TestResolveAmong: a hook path resolves among a set of files as it resolves on disk (Resolve):
// the versioned name first, then without the "v", then the path itself; a file outside the set
// is never chosen, and the error says where it looked.
func TestResolveAmong(t *testing.T) {
	dir := t.TempDir()
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, Version: "v0.1.0"})
	suffix := "_" + runtime.GOOS + "_" + runtime.GOARCH + ".so"
	v, noV, plain := filepath.Join(dir, "p1_v0.1.0"+suffix), filepath.Join(dir, "p1_0.1.0"+suffix), filepath.Join(dir, "p1.so")
	if got := l.Candidates("", "p1.so"); !slices.Equal(got, []string{v, noV, plain}) {
		t.Fatalf("Candidates = %q", got)
	}
	for _, tt := range []struct {
		set  []string
		want string
	}{
		{[]string{plain, noV, v}, v},
		{[]string{plain, noV}, noV},
		{[]string{plain}, plain},
		{[]string{v}, v},
	} {
		got, err := l.ResolveAmong("", plain, "in the list", func(f string) bool { return slices.Contains(tt.set, f) })
		if err != nil || got != tt.want {
			t.Errorf("ResolveAmong in %q = %q, %v; want %q", tt.set, got, err, tt.want)
		}
		// On disk, Resolve chooses the same.
		for _, f := range []string{v, noV, plain} {
			os.Remove(f)
		}
		for _, f := range tt.set {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := l.Resolve("", "p1.so"); err != nil || got != tt.want {
			t.Errorf("Resolve with %q on disk = %q, %v; want %q", tt.set, got, err, tt.want)
		}
	}
	// The files on disk do not count: only the set does.
	_, err := l.ResolveAmong("", plain, "in the list", func(string) bool { return false })
	if !errors.Is(err, plugin.ErrNotFound) || !strings.Contains(err.Error(), "in the list: tried "+v) {
		t.Errorf("ResolveAmong in nothing = %v", err)
	}
}
