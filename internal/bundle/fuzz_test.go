package bundle_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/plugin"
)

// The seed corpora are in testdata/fuzz/FuzzXxx; TestWriteFuzzSeeds (fuzzseeds_test.go) wrote
// them. Plain go test runs the seeds only; fuzz with, for example:
//
//	go test -trimpath -run XXX -fuzz FuzzExtract -fuzztime 10m ./internal/bundle/

// FuzzManifest parses a manifest.json and checks what the rest of the package relies on: parsing
// and checking never panic; every seal encoding works on anything parsed, versions 2 and 3 read
// back to what they encode (so no two manifests, nor two names, share a seal), and all survive
// the manifest being written and read again (as Sign, Write and then ReadManifest do); the
// current version covers every field a manifest can set; and a manifest CheckManifest accepts has safe file names and runs only files
// its file_list (and so its signature) covers.
func FuzzManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bundle.ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseManifest returned a manifest and %v", err)
			}
			return
		}
		files := map[string]string{}
		if m.Seal != nil && m.Seal.Files != nil {
			files = m.Seal.Files
		} else {
			for _, name := range m.FileList {
				files[name] = fmt.Sprintf("%064x", len(name))
			}
		}
		v1, err := bundle.SealContent(1, m, files, "")
		if err != nil {
			t.Fatalf("version 1 encoding: %v", err)
		}
		v2, err := bundle.SealContent(2, m, files, "")
		if err != nil {
			t.Fatalf("version 2 encoding: %v", err)
		}
		back, backFiles, err := decodeSealV2(v2)
		if err != nil {
			t.Fatalf("version 2 encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(back, sealedPart(m)) || len(backFiles) != len(files) || (len(files) > 0 && !reflect.DeepEqual(backFiles, files)) {
			t.Fatalf("version 2 encoding decodes to\n%+v %v\nwant\n%+v %v", back, backFiles, sealedPart(m), files)
		}
		name := "b.zip"
		if m.Seal != nil && m.Seal.Name != "" {
			name = m.Seal.Name
		}
		v3, err := bundle.SealContent(3, m, files, name)
		if err != nil {
			t.Fatalf("version 3 encoding: %v", err)
		}
		back, backFiles, backName, err := decodeSeal(v3, 3)
		if err != nil {
			t.Fatalf("version 3 encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(back, sealedPart(m)) || len(backFiles) != len(files) || (len(files) > 0 && !reflect.DeepEqual(backFiles, files)) || backName != name {
			t.Fatalf("version 3 encoding decodes to\n%+v %v %q\nwant\n%+v %v %q", back, backFiles, backName, sealedPart(m), files, name)
		}
		manifest, section, hook := bundle.SealCoverage(bundle.SealVersion)
		if un := bundle.Uncovered(m, manifest, section, hook); len(un) > 0 {
			t.Fatalf("a parsed manifest sets fields the current seal does not cover: %v", un)
		}

		written, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatalf("the manifest cannot be written back: %v", err)
		}
		again, err := bundle.ParseManifest(written)
		if err != nil {
			t.Fatalf("the manifest written back does not parse: %v\n%s", err, written)
		}
		if got, _ := bundle.SealContent(1, again, files, ""); !bytes.Equal(got, v1) {
			t.Fatalf("version 1 sealed content changes when the manifest is written and read:\n%s\n%s", v1, got)
		}
		if got, _ := bundle.SealContent(2, again, files, ""); !bytes.Equal(got, v2) {
			t.Fatal("version 2 sealed content changes when the manifest is written and read")
		}
		if got, _ := bundle.SealContent(3, again, files, name); !bytes.Equal(got, v3) {
			t.Fatal("version 3 sealed content changes when the manifest is written and read")
		}

		if bundle.CheckManifest(m) != nil {
			return
		}
		seen := map[string]bool{}
		for _, name := range m.FileList {
			if err := bundle.CheckName(name); err != nil {
				t.Fatalf("CheckManifest accepted file_list name %q: %v", name, err)
			}
			if seen[strings.ToLower(name)] {
				t.Fatalf("CheckManifest accepted %q twice", name)
			}
			seen[strings.ToLower(name)] = true
		}
		for _, name := range m.FileList {
			for _, other := range m.FileList {
				if strings.HasPrefix(strings.ToLower(other), strings.ToLower(name)+"/") {
					t.Fatalf("CheckManifest accepted %q, the folder of %q, as a file", name, other)
				}
			}
		}
		if m.CustomMiddleware.Driver != apidef.GoPluginDriver {
			return
		}
		// Every hook the gateway would run, at the path it would run it from (as Merge joins it
		// to the bundle's folder), is a listed file, or has a versioned name that is (the gateway
		// resolves it among the listed files only).
		const dir = "/bundles/b"
		listed := map[string]bool{}
		for _, name := range m.FileList {
			listed[filepath.Join(dir, filepath.FromSlash(name))] = true
		}
		cm := m.CustomMiddleware
		hooks := slices.Concat(cm.Pre, cm.PostKeyAuth, cm.Post, cm.Response, []apidef.MiddlewareDefinition{cm.AuthCheck, cm.TrafficLogs})
		for _, d := range hooks {
			if d.Disabled || d.Path == "" {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(d.Path))
			if !strings.HasPrefix(p, dir+"/") {
				t.Fatalf("CheckManifest accepted hook %s with file %q (%s), outside the bundle", d.Name, d.Path, p)
			}
			if listed[p] {
				continue
			}
			versioned := false
			for f := range listed {
				versioned = versioned || filepath.Dir(f) == filepath.Dir(p) && plugin.IsVersionedName(filepath.Base(f), filepath.Base(p))
			}
			if !versioned {
				t.Fatalf("CheckManifest accepted hook %s with file %q (%s), which file_list %q does not hold, nor a versioned name of it", d.Name, d.Path, p, m.FileList)
			}
		}
	})
}

// FuzzExtract extracts an archive under limits and checks Extract's promises: no panic; every
// refusal is ErrUnsafe and leaves nothing behind; nothing is ever written outside the target's
// folder; and an archive extracted holds only private regular files and folders, with names
// CheckName accepts, each file exactly as the archive holds it, within the limits.
func FuzzExtract(f *testing.F) {
	root := fuzzTempDir(f)
	// The targets sit deep in root, so that a name climbing out of one by up to eight levels
	// lands inside root, where the walk below finds it.
	chain := []string{root}
	for i := range 8 {
		chain = append(chain, filepath.Join(chain[i], fmt.Sprint("d", i)))
	}
	if err := os.MkdirAll(chain[len(chain)-1], 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxEntries, maxBytes uint16) {
		lim := bundle.Limits{MaxEntries: int(maxEntries), MaxBytes: int64(maxBytes)}
		parent, err := os.MkdirTemp(chain[len(chain)-1], "parent-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		target := filepath.Join(parent, "bundle")

		err = bundle.Extract(data, target, lim)

		werr := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if slices.Contains(chain, p) || p == parent || strings.HasPrefix(p, target+string(filepath.Separator)) || (p == target && d.IsDir()) {
				return nil
			}
			return fmt.Errorf("%s was written outside the target", p)
		})
		if werr != nil {
			t.Fatal(werr)
		}
		if err != nil {
			if !errors.Is(err, bundle.ErrUnsafe) {
				t.Errorf("Extract = %v, want ErrUnsafe", err)
			}
			if left, _ := os.ReadDir(parent); len(left) > 0 {
				t.Fatalf("a refused archive (%v) left %v", err, left)
			}
			return
		}
		checkExtracted(t, data, target, lim)
	})
}

// fuzzTempDir returns a folder for a fuzz target's files, removed when it ends: in /dev/shm when
// there is one, since file systems on disks can make creating and removing files a hundred times
// slower, and fuzzing creates and removes a few for each input.
func fuzzTempDir(f *testing.F) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "gatehouse-"+f.Name()+"-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}

// checkExtracted checks a folder Extract made from data.
func checkExtracted(t *testing.T, data []byte, target string, lim bundle.Limits) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Extract accepted what archive/zip cannot read: %v", err)
	}
	want := map[string]*zip.File{}
	folders := map[string]bool{}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if f.Mode().IsDir() {
			folders[name] = true
		} else {
			want[name] = f
		}
		for i := range len(name) {
			if name[i] == '/' {
				folders[name[:i]] = true
			}
		}
	}
	var count int
	var total int64
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == target {
			return err
		}
		rel, err := filepath.Rel(target, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := bundle.CheckName(rel); err != nil {
			return fmt.Errorf("extracted a name CheckName refuses: %w", err)
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s has mode %v: others may read or write it", rel, info.Mode())
		}
		switch {
		case info.IsDir():
			if !folders[rel] {
				return fmt.Errorf("folder %s is in no entry's name", rel)
			}
			return nil
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s is a %v, not a regular file", rel, info.Mode().Type())
		}
		f, ok := want[rel]
		if !ok {
			return fmt.Errorf("file %s is not a file of the archive", rel)
		}
		delete(want, rel)
		count++
		total += info.Size()
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("archive/zip cannot open %s, which Extract extracted: %w", rel, err)
		}
		defer rc.Close()
		content, err := io.ReadAll(io.LimitReader(rc, lim.MaxBytes+1))
		if err != nil {
			return fmt.Errorf("archive/zip cannot read %s, which Extract extracted: %w", rel, err)
		}
		if !bytes.Equal(got, content) {
			return fmt.Errorf("%s holds %d bytes, the archive %d", rel, len(got), len(content))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) > 0 {
		t.Fatalf("files of the archive not extracted: %v", slices.Sorted(maps.Keys(want)))
	}
	if count > lim.MaxEntries || total > lim.MaxBytes {
		t.Fatalf("extracted %d files, %d bytes, over the limits %+v", count, total, lim)
	}
}
