package compiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// replacingPlugin writes a plugin folder repo/plug whose go.mod replaces example.com/lib with
// ../lib (a monorepo) and example.com/abs with an absolute folder, and both folders; it returns
// the plugin's folder, the relative one and the absolute one.
func replacingPlugin(t *testing.T) (plug, lib, abs string) {
	t.Helper()
	repo := t.TempDir()
	plug, lib, abs = filepath.Join(repo, "plug"), filepath.Join(repo, "lib"), filepath.Join(t.TempDir(), "abs")
	testkit.WriteTree(t, plug, map[string]string{
		"go.mod": "module example.com/plug\n\ngo 1.26\n\nrequire (\n\texample.com/lib v0.0.0\n\texample.com/abs v0.0.0\n)\n\n" +
			"replace example.com/lib => ../lib\n\nreplace example.com/abs => " + abs + "\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	testkit.WriteTree(t, lib, map[string]string{
		"go.mod":               "module example.com/lib\n\ngo 1.26\n",
		"lib.go":               "package lib\n\nconst V = \"one\"\n",
		"sub/sub.go":           "package sub\n",
		"testdata/data.txt":    "embedded",
		"nested/go.mod":        "module example.com/lib/nested\n",
		"nested/nested.go":     "package nested\n",
		".hidden/h.go":         "package h\n",
		"_skipped/s.go":        "package s\n",
		"vendor/v/v.go":        "package v\n",
		".git/config":          "[core]\n",
		"static/.well-known/x": "embedded by all:static",
	})
	testkit.WriteTree(t, abs, map[string]string{"go.mod": "module example.com/abs\n\ngo 1.26\n", "abs.go": "package abs\n"})
	return plug, lib, abs
}

// TestSourceHashCoversReplacedFolders: the build id of a plugin without one covers what the
// build reads of the folders its go.mod replaces modules with, relative or absolute: an edit
// there gives a new build id (and so a new build, on reload and after a restart), and only
// there: nested modules, vendor and .git folders are not part of what the build reads; hidden
// and '_' files and folders are, as go:embed reads them (`all:static` takes static/.well-known).
func TestSourceHashCoversReplacedFolders(t *testing.T) {
	plug, lib, abs := replacingPlugin(t)
	hash := func() string {
		t.Helper()
		h, err := SourceHash(plug)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash()
	if again := hash(); again != base {
		t.Fatalf("two hashes of an unchanged source differ: %s, %s", base, again)
	}
	for _, c := range []struct {
		file    string
		changes bool
	}{
		{filepath.Join(lib, "lib.go"), true},
		{filepath.Join(lib, "sub", "sub.go"), true},
		{filepath.Join(lib, "go.mod"), true},
		{filepath.Join(lib, "testdata", "data.txt"), true},
		{filepath.Join(abs, "abs.go"), true},
		{filepath.Join(lib, "nested", "nested.go"), false},
		{filepath.Join(lib, ".hidden", "h.go"), true},
		{filepath.Join(lib, "_skipped", "s.go"), true},
		{filepath.Join(lib, "static", ".well-known", "x"), true},
		{filepath.Join(lib, "vendor", "v", "v.go"), false},
		{filepath.Join(lib, ".git", "config"), false},
	} {
		before := hash()
		old, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.file, append(old, "\n// edited\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		if changed := hash() != before; changed != c.changes {
			t.Errorf("editing %s: build id changed %v, want %v", c.file, changed, c.changes)
		}
	}
	// A new file in a replaced folder is a change too.
	before := hash()
	testkit.WriteTree(t, lib, map[string]string{"more.go": "package lib\n"})
	if hash() == before {
		t.Error("a file added to a replaced folder kept the build id")
	}
}

// TestSourceHashReplacedBounds: what is hashed of replaced folders is bounded, in files and
// folders and in bytes, so a replace naming / or a huge tree does not read the disk: past the
// bound the build id is not derived, and the error says why and what to do.
func TestSourceHashReplacedBounds(t *testing.T) {
	plug, lib, _ := replacingPlugin(t)
	defer func(e int, b int64) { maxReplacedEntries, maxReplacedBytes = e, b }(maxReplacedEntries, maxReplacedBytes)

	maxReplacedEntries = 30
	for i := range 30 {
		testkit.WriteTree(t, lib, map[string]string{fmt.Sprintf("many/f%d.go", i): "package many\n"})
	}
	_, err := SourceHash(plug)
	var big *errReplacedTooLarge
	if !errors.As(err, &big) || !strings.Contains(err.Error(), "replaces example.com/lib with ../lib") || !strings.Contains(err.Error(), "more than 30 files and folders") ||
		!strings.Contains(err.Error(), "give `gatehouse plugin build` a build id") {
		t.Errorf("past the bound on files: err = %v", err)
	}
	if err := os.RemoveAll(filepath.Join(lib, "many")); err != nil {
		t.Fatal(err)
	}
	maxReplacedEntries = 20_000
	if _, err := SourceHash(plug); err != nil {
		t.Fatalf("within the bounds: %v", err)
	}

	maxReplacedBytes = 1 << 20
	testkit.WriteTree(t, lib, map[string]string{"big.txt": strings.Repeat("x", 1<<20+1)})
	if _, err := SourceHash(plug); !errors.As(err, &big) || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("past the bound on bytes: err = %v", err)
	}
	maxReplacedBytes = 64 << 20

	// A replace naming the root of the disk ends at the bound, quickly.
	root := t.TempDir()
	testkit.WriteTree(t, root, map[string]string{
		"go.mod":  "module example.com/plug\n\ngo 1.26\n\nrequire example.com/root v0.0.0\n\nreplace example.com/root => /\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	if _, err := os.Stat("/go.mod"); err == nil {
		t.Skip("/ holds a go.mod")
	}
	start := time.Now()
	_, err = SourceHash(root)
	if err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Errorf("a replace naming / (no module): err = %v", err)
	}
	// The same with a module there: a folder of its own stands in for /, with more entries
	// than the bound allows.
	maxReplacedEntries = 200
	huge := t.TempDir()
	testkit.WriteTree(t, huge, map[string]string{"go.mod": "module example.com/root\n"})
	for i := range 300 {
		testkit.WriteTree(t, huge, map[string]string{fmt.Sprintf("d%d/f.go", i): "package d\n"})
	}
	testkit.WriteTree(t, root, map[string]string{"go.mod": "module example.com/plug\n\ngo 1.26\n\nrequire example.com/root v0.0.0\n\nreplace example.com/root => " + huge + "\n"})
	if _, err = SourceHash(root); !errors.As(err, &big) {
		t.Errorf("a huge replaced tree: err = %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("refusing took %s", took)
	}
}

// TestMissingReplacedFolderNamed: a replace naming a folder that does not exist (or is no
// module) is refused naming the folder as go.mod writes it and where it was looked for.
func TestMissingReplacedFolderNamed(t *testing.T) {
	plug, lib, _ := replacingPlugin(t)
	if err := os.RemoveAll(lib); err != nil {
		t.Fatal(err)
	}
	_, err := SourceHash(plug)
	if err == nil || !strings.Contains(err.Error(), "replaces example.com/lib with ../lib, a folder that does not exist (looked for at "+lib+", relative to the plugin's folder "+plug+")") {
		t.Errorf("a missing replaced folder: err = %v", err)
	}
	testkit.WriteTree(t, lib, map[string]string{"lib.go": "package lib\n"})
	if _, err := SourceHash(plug); err == nil || !strings.Contains(err.Error(), "replaces example.com/lib with ../lib, whose folder "+lib+" holds no go.mod") {
		t.Errorf("a replaced folder without go.mod: err = %v", err)
	}

	// The replace directives the build drops (plugin init's, pointing the gateway's module and
	// Tyk's at .gatehouse/, which a fresh clone lacks) name nothing the build reads.
	scaffolded := t.TempDir()
	testkit.WriteTree(t, scaffolded, map[string]string{
		"go.mod": "module example.com/scaffolded\n\ngo 1.26\n\nrequire " + gatehouse.ModulePath + " v0.0.0\n\n" +
			"replace " + gatehouse.ModulePath + " => ./.gatehouse/gatehouse\n\nreplace " + TykModule + " => ./.gatehouse/tyk\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	if _, err := SourceHash(scaffolded); err != nil {
		t.Errorf("a plugin init folder without .gatehouse/: %v", err)
	}
	if err := resolveReplaces(scaffolded, scaffolded); err != nil {
		t.Errorf("a plugin init folder without .gatehouse/: %v", err)
	}
}

// TestResolveReplaces: the build copy's relative replace directives name the folders beside the
// plugin's own folder; absolute ones and module replacements are left as they are.
func TestResolveReplaces(t *testing.T) {
	plug, lib, abs := replacingPlugin(t)
	copyDir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(plug, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gomod = append(gomod, "\nreplace example.com/other => example.com/fork v1.2.3\n"...)
	testkit.WriteTree(t, copyDir, map[string]string{"go.mod": string(gomod)})
	if err := resolveReplaces(copyDir, plug); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range readMod(t, copyDir).Replace {
		got[r.Old.Path] = r.New.Path + " " + r.New.Version
	}
	want := map[string]string{"example.com/lib": lib + " ", "example.com/abs": abs + " ", "example.com/other": "example.com/fork v1.2.3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replace directives of the copy: %v, want %v", got, want)
	}
}
