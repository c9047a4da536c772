package bundle_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

func TestWriteExtractRoundTrip(t *testing.T) {
	key, _ := testKeys()
	big := bytes.Repeat([]byte("plugin code "), 20000)
	files := map[string][]byte{
		"plugin.so":          big,
		"lib/dep.so":         []byte("dep"),
		"lib/deeper/x.so":    []byte("deeper"),
		"data/empty.txt":     nil,
		"..dots-are-fine.so": []byte("dots"),
	}
	list := []string{"plugin.so", "lib/dep.so", "lib/deeper/x.so", "data/empty.txt", "..dots-are-fine.so"}
	tests := []struct {
		name string
		sign bool
	}{
		{name: "signed and sealed", sign: true},
		{name: "checksum only", sign: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bundleDir(t, files)
			m := goManifest(list...)
			m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Post", Path: "lib/deeper/x.so"}}
			outDir := t.TempDir()
			out := filepath.Join(outDir, "b.zip")
			signKey := key
			if !tt.sign {
				signKey = nil
			}
			if err := bundle.Write(m, src, out, signKey); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := tree(t, outDir); !slices.Equal(got, []string{"b.zip"}) {
				t.Errorf("Write left %v beside the bundle, want only b.zip", got)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// Every sub-folder has its own entry, before anything in it and after its parent, as
			// Tyk's extractor needs; files keep file_list's order.
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var entries []string
			for _, f := range zr.File {
				if strings.HasSuffix(f.Name, "/") != f.Mode().IsDir() {
					t.Errorf("entry %q has mode %v", f.Name, f.Mode())
				}
				entries = append(entries, f.Name)
			}
			if want := []string{"plugin.so", "lib/", "lib/dep.so", "lib/deeper/", "lib/deeper/x.so", "data/", "data/empty.txt",
				"..dots-are-fine.so", "manifest.json"}; !slices.Equal(entries, want) {
				t.Errorf("zip entries = %q, want %q", entries, want)
			}

			parent := t.TempDir()
			target := filepath.Join(parent, "b")
			if err := bundle.Extract(data, target, bundle.DefaultLimits); err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got := tree(t, parent); !slices.Equal(got, []string{
				"b/", "b/..dots-are-fine.so", "b/data/", "b/data/empty.txt", "b/lib/", "b/lib/deeper/",
				"b/lib/deeper/x.so", "b/lib/dep.so", "b/manifest.json", "b/plugin.so",
			}) {
				t.Errorf("extracted tree = %v", got)
			}
			for name, want := range files {
				got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(name)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: got %d bytes (%v), want %d bytes", name, len(got), err, len(want))
				}
			}
			got, err := bundle.ReadManifest(filepath.Join(target, bundle.ManifestName))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.FileList, list) || got.CustomMiddleware.Post[0].Path != "lib/deeper/x.so" {
				t.Errorf("manifest = %+v", got)
			}
			if err := bundle.CheckContents(target, got); err != nil {
				t.Errorf("CheckContents: %v", err)
			}
			verifyKey := &key.PublicKey
			if !tt.sign {
				verifyKey = nil
			}
			if _, err := bundle.VerifyFiles(got, target, "b.zip", verifyKey, false); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	tests := []struct {
		name  string
		m     *apidef.BundleManifest
		files map[string][]byte
	}{
		{"a manifest failing CheckManifest", goManifest("../plugin.so"), map[string][]byte{"plugin.so": []byte("x")}},
		{"a listed file missing", goManifest("plugin.so", "missing.so"), map[string][]byte{"plugin.so": []byte("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bundleDir(t, tt.files)
			outDir := t.TempDir()
			if err := bundle.Write(tt.m, src, filepath.Join(outDir, "b.zip"), nil); err == nil {
				t.Fatal("Write = nil, want an error")
			}
			if got := tree(t, outDir); len(got) != 0 {
				t.Errorf("Write left %v", got)
			}
		})
	}
}

// TestWriteFoldersDifferingInCase: folders whose names differ only in case get one folder entry,
// so the bundle does not repeat a name and extracts.
func TestWriteFoldersDifferingInCase(t *testing.T) {
	files := map[string][]byte{"Lib/a.so": []byte("a"), "lib/b.so": []byte("b")}
	data := signedBundleZip(t, "bundle.zip", goManifest("Lib/a.so", "lib/b.so"), files, nil)
	target := filepath.Join(t.TempDir(), "b")
	if err := bundle.Extract(data, target, bundle.DefaultLimits); err != nil {
		t.Fatalf("Extract = %v", err)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(target, filepath.FromSlash(name))); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
}

// TestWriteFailingLeavesNoTemporaryFile: when the bundle cannot be put in place (here out is a
// folder that is not empty), Write fails and removes its temporary file.
func TestWriteFailingLeavesNoTemporaryFile(t *testing.T) {
	src := bundleDir(t, map[string][]byte{"plugin.so": []byte("x")})
	outDir := t.TempDir()
	out := filepath.Join(outDir, "b.zip")
	writeFiles(t, out, map[string][]byte{"in-the-way": []byte("x")})
	err := bundle.Write(goManifest("plugin.so"), src, out, nil)
	if err == nil || !strings.Contains(err.Error(), out) {
		t.Fatalf("Write over a folder = %v, want an error naming %s", err, out)
	}
	if got := tree(t, outDir); !slices.Equal(got, []string{"b.zip/", "b.zip/in-the-way"}) {
		t.Errorf("Write left %v, want only the folder that was in the way", got)
	}
}

func TestExtractRefusals(t *testing.T) {
	ptr := func(v uint64) *uint64 { return &v }
	zeros := make([]byte, 10<<20)
	oneMB := bundle.Limits{MaxEntries: 100, MaxBytes: 1 << 20}
	tests := []struct {
		name string
		data []byte
		lim  bundle.Limits
	}{
		{"zip slip ../../x", buildZip(t, zipEntry{Name: "../../x", Data: []byte("x")}), bundle.DefaultLimits},
		{"absolute /abs", buildZip(t, zipEntry{Name: "/abs", Data: []byte("x")}), bundle.DefaultLimits},
		{"a/../../x", buildZip(t, zipEntry{Name: "a/../../x", Data: []byte("x")}), bundle.DefaultLimits},
		{"a/../b (stays inside, still refused)", buildZip(t, zipEntry{Name: "a/../b", Data: []byte("x")}), bundle.DefaultLimits},
		{`windows ..\x`, buildZip(t, zipEntry{Name: `..\x`, Data: []byte("x")}), bundle.DefaultLimits},
		{`windows C:\x`, buildZip(t, zipEntry{Name: `C:\x`, Data: []byte("x")}), bundle.DefaultLimits},
		{"an empty name", buildZip(t, zipEntry{Name: "", Data: []byte("x")}), bundle.DefaultLimits},
		{"a control character", buildZip(t, zipEntry{Name: "a\x00b", Data: []byte("x")}), bundle.DefaultLimits},
		{"a symlink entry", buildZip(t, zipEntry{Name: "plugin.so", Data: []byte("/etc/passwd"), Mode: os.ModeSymlink | 0o777}), bundle.DefaultLimits},
		{"a symlink in a sub-folder after a good file", buildZip(t,
			zipEntry{Name: "ok.so", Data: []byte("ok")},
			zipEntry{Name: "lib/link", Data: []byte("../../../etc"), Mode: os.ModeSymlink | 0o777}), bundle.DefaultLimits},
		{"a named pipe entry", buildZip(t, zipEntry{Name: "fifo", Mode: os.ModeNamedPipe | 0o644}), bundle.DefaultLimits},
		{"a device entry", buildZip(t, zipEntry{Name: "dev", Mode: os.ModeDevice | os.ModeCharDevice | 0o644}), bundle.DefaultLimits},
		{"a duplicate name", buildZip(t,
			zipEntry{Name: "plugin.so", Data: []byte("one")},
			zipEntry{Name: "plugin.so", Data: []byte("two")}), bundle.DefaultLimits},
		{"names differing only by case", buildZip(t,
			zipEntry{Name: "lib/Plugin.so", Data: []byte("one")},
			zipEntry{Name: "lib/plugin.so", Data: []byte("two")}), bundle.DefaultLimits},
		{"a folder and a file of the same name", buildZip(t,
			zipEntry{Name: "x/", Mode: fs.ModeDir | 0o755},
			zipEntry{Name: "x", Data: []byte("file")}), bundle.DefaultLimits},
		{"a file, then a file inside it", buildZip(t,
			zipEntry{Name: "a", Data: []byte("file")},
			zipEntry{Name: "a/b", Data: []byte("inside")}), bundle.DefaultLimits},
		{"a file inside, then the file", buildZip(t,
			zipEntry{Name: "a/b", Data: []byte("inside")},
			zipEntry{Name: "a", Data: []byte("file")}), bundle.DefaultLimits},
		{"a file, and a folder of its name in another case", buildZip(t,
			zipEntry{Name: "lib", Data: []byte("file")},
			zipEntry{Name: "LIB/x.so", Data: []byte("inside")}), bundle.DefaultLimits},
		{"an element longer than 255 bytes", buildZip(t, zipEntry{Name: strings.Repeat("a", 256), Data: []byte("x")}), bundle.DefaultLimits},
		{"more entries than MaxEntries", buildZip(t,
			zipEntry{Name: "a", Data: []byte("a")}, zipEntry{Name: "b", Data: []byte("b")},
			zipEntry{Name: "c", Data: []byte("c")}, zipEntry{Name: "d", Data: []byte("d")}),
			bundle.Limits{MaxEntries: 3, MaxBytes: 1 << 20}},
		{"declared size over MaxBytes", buildZip(t, zipEntry{Name: "big", Data: make([]byte, 2<<20), Deflate: true}), oneMB},
		{"declared sizes adding up over MaxBytes", buildZip(t,
			zipEntry{Name: "a", Data: make([]byte, 600<<10), Deflate: true},
			zipEntry{Name: "b", Data: make([]byte, 600<<10), Deflate: true}), oneMB},
		{"a bomb whose header lies about its size", buildZip(t,
			zipEntry{Name: "bomb", Data: zeros, Deflate: true, Declared: ptr(100)}), oneMB},
		{"a bomb whose declared sizes wrap around uint64", buildZip(t,
			zipEntry{Name: "a", Data: []byte("ab")},
			zipEntry{Name: "bomb", Data: zeros, Deflate: true, Declared: ptr(math.MaxUint64)}), oneMB},
		{"a good file, then a bomb", buildZip(t,
			zipEntry{Name: "ok.so", Data: []byte("fine")},
			zipEntry{Name: "bomb", Data: zeros, Deflate: true, Declared: ptr(10)}), oneMB},
		{"not a zip at all", []byte("this is not a zip archive, just text"), bundle.DefaultLimits},
		{"no bytes", nil, bundle.DefaultLimits},
		{"a truncated zip", buildZip(t, zipEntry{Name: "a", Data: []byte("aaaa")})[:30], bundle.DefaultLimits},
	}
	// Archives whose headers declare too much are refused on the declared sizes, before anything
	// is inflated (a header that lies is caught while inflating, by archive/zip or the limit).
	const declared = "entries declare more than the limit"
	byDeclared := map[string]bool{
		"declared size over MaxBytes":                    true,
		"declared sizes adding up over MaxBytes":         true,
		"a bomb whose declared sizes wrap around uint64": true,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			target := filepath.Join(parent, "bundle")
			start := time.Now()
			err := bundle.Extract(tt.data, target, tt.lim)
			if err == nil {
				t.Fatalf("Extract accepted the archive: %v", tree(t, parent))
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, bundle.ErrUnsafe) {
				t.Errorf("Extract = %v, want ErrUnsafe", err)
			}
			if byDeclared[tt.name] && !strings.Contains(err.Error(), declared) {
				t.Errorf("Extract = %v, want the refusal of the declared sizes", err)
			}
			if left := tree(t, parent); len(left) != 0 {
				t.Errorf("Extract left %v in the parent folder, want nothing", left)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Extract took %v", d)
			}
		})
	}
}

func TestExtractAccepts(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"explicit folder entries", buildZip(t,
			zipEntry{Name: "lib/", Mode: fs.ModeDir | 0o755},
			zipEntry{Name: "lib/x.so", Data: []byte("x")},
			zipEntry{Name: "manifest.json", Data: []byte("{}")}),
			[]string{"b/", "b/lib/", "b/lib/x.so", "b/manifest.json"}},
		{"files in sub-folders without folder entries (as Tyk writes)", buildZip(t,
			zipEntry{Name: "a/b/c.so", Data: []byte("c"), Deflate: true},
			zipEntry{Name: "..x", Data: []byte("x")}),
			[]string{"b/", "b/..x", "b/a/", "b/a/b/", "b/a/b/c.so"}},
		{"exactly at the limits", buildZip(t,
			zipEntry{Name: "a", Data: make([]byte, 512<<10), Deflate: true},
			zipEntry{Name: "b", Data: make([]byte, 512<<10), Deflate: true}),
			[]string{"b/", "b/a", "b/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			err := bundle.Extract(tt.data, filepath.Join(parent, "b"), bundle.Limits{MaxEntries: 3, MaxBytes: 1 << 20})
			if err != nil {
				t.Fatalf("Extract = %v", err)
			}
			if got := tree(t, parent); !slices.Equal(got, tt.want) {
				t.Errorf("tree = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExtractIntoExistingFolder(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "b")
	writeFiles(t, target, map[string][]byte{"keep": []byte("old")})
	err := bundle.Extract(buildZip(t, zipEntry{Name: "new", Data: []byte("new")}), target, bundle.DefaultLimits)
	if err == nil {
		t.Fatal("Extract over a non-empty folder succeeded")
	}
	if got := tree(t, parent); !slices.Equal(got, []string{"b/", "b/keep"}) {
		t.Errorf("tree = %v, want the old folder untouched and no temporary folder", got)
	}
}

func TestCheckContents(t *testing.T) {
	m := goManifest("plugin.so", "lib/dep.so")
	tests := []struct {
		name  string
		files map[string][]byte
		bad   string // "" means fine; else the name that must be reported
	}{
		{"exactly the manifest and the listed files", map[string][]byte{}, ""},
		{"an extra file at the top", map[string][]byte{"evil.so": []byte("x")}, "evil.so"},
		{"an extra file in a listed file's folder", map[string][]byte{"lib/evil.so": []byte("x")}, "lib/evil.so"},
		{"an extra file in a new folder", map[string][]byte{"more/evil.so": []byte("x")}, "more/evil.so"},
		{"a listed name in another case", map[string][]byte{"Plugin.so": []byte("x")}, "Plugin.so"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"plugin.so": []byte("p"), "lib/dep.so": []byte("d"), bundle.ManifestName: []byte("{}")}
			for k, v := range tt.files {
				files[k] = v
			}
			dir := bundleDir(t, files)
			err := bundle.CheckContents(dir, m)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("CheckContents = %v", err)
				}
				return
			}
			if !errors.Is(err, bundle.ErrUnsafe) || !strings.Contains(err.Error(), tt.bad) {
				t.Fatalf("CheckContents = %v, want ErrUnsafe naming %s", err, tt.bad)
			}
		})
	}
}
