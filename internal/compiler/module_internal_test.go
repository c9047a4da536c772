package compiler

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

func readMod(t *testing.T, dir string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseModFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func requires(f *modfile.File, path string) string {
	for _, r := range f.Require {
		if r.Mod.Path == path {
			return r.Mod.Version
		}
	}
	return ""
}

// TestWithGatewayReplace checks the go.mod that go get and go mod tidy (GO_GET=1, GO_TIDY=1) run
// on: it requires the gateway module replaced by the workspace's copy, and afterwards says nothing
// of it again, keeping what the commands changed and what was there.
func TestWithGatewayReplace(t *testing.T) {
	const gwPath = "github.com/gatehouse/gatehouse"
	gw := &Gateway{ModulePath: gwPath}
	dir := t.TempDir()
	gomod := "module example.com/p\n\ngo 1.26\n\nrequire golang.org/x/text v0.3.0\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("go get failed")
	err := withGatewayReplace(dir, gw, nil, func() error {
		f := readMod(t, dir)
		if v := requires(f, gwPath); v != "v0.0.0" {
			t.Errorf("during: the gateway module is required at %q, want v0.0.0", v)
		}
		if len(f.Replace) != 1 || f.Replace[0].Old.Path != gwPath || f.Replace[0].New.Path != "../gateway" {
			t.Errorf("during: replace directives %+v, want the gateway module by ../gateway", f.Replace)
		}
		// What go get would do: require one more module.
		if err := f.AddRequire("golang.org/x/sync", "v0.1.0"); err != nil {
			t.Fatal(err)
		}
		out, _ := f.Format()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), out, 0o644); err != nil {
			t.Fatal(err)
		}
		return failure
	})
	if !errors.Is(err, failure) {
		t.Errorf("err = %v, want the command's error", err)
	}
	f := readMod(t, dir)
	if v := requires(f, gwPath); v != "" || len(f.Replace) != 0 {
		t.Errorf("after: the gateway module is still required (%q) or replaced (%+v)", v, f.Replace)
	}
	if requires(f, "golang.org/x/text") != "v0.3.0" || requires(f, "golang.org/x/sync") != "v0.1.0" {
		data, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		t.Errorf("after: the plugin's own requirements changed:\n%s", data)
	}
	if f.Module.Mod.Path != "example.com/p" || !strings.HasPrefix(f.Go.Version, "1.26") {
		t.Errorf("after: module %s, go %s", f.Module.Mod.Path, f.Go.Version)
	}
}
