package compiler

import (
	"errors"
	"fmt"
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

// TestGraphConflicts: a module of the packages a build compiles that the gateway links, selected
// newer than the gateway has, is a conflict, named with the shortest chain of requirements in the
// workspace's module graph from the plugin's module that asks for it; one asked for by the
// gateway's own modules only is named with theirs. A module the graph raises but the build
// compiles no package of is none (example.com/same is listed at the gateway's version).
func TestGraphConflicts(t *testing.T) {
	gw := &Gateway{ModulePath: "github.com/gatehouse/gatehouse", Modules: map[string]string{
		"golang.org/x/sys": "v0.48.0", "golang.org/x/text": "v0.42.0", "golang.org/x/mod": "v0.43.0", "example.com/same": "v1.0.0",
	}}
	graph := `example.com/p_id golang.org/x/term@v0.48.0
example.com/p_id example.com/a@v1.0.0
example.com/p_id example.com/same@v1.0.0
example.com/p_id go@1.26
github.com/gatehouse/gatehouse golang.org/x/sys@v0.48.0
github.com/gatehouse/gatehouse golang.org/x/text@v0.42.0
github.com/gatehouse/gatehouse golang.org/x/mod@v0.43.0
github.com/gatehouse/gatehouse github.com/acme/tool@v1.0.0
golang.org/x/term@v0.48.0 golang.org/x/sys@v0.50.0
golang.org/x/term@v0.48.0 go@1.26.0
example.com/a@v1.0.0 example.com/b@v1.1.0
example.com/b@v1.1.0 golang.org/x/text@v0.43.0
example.com/b@v1.1.0 golang.org/x/sys@v0.49.0
github.com/acme/tool@v1.0.0 golang.org/x/mod@v0.44.0
go@1.26.8 toolchain@go1.26.8
`
	// What the build compiles (go list -deps): the versions selected, example.com/same at the gateway's.
	listed := "golang.org/x/sys v0.50.0\ngolang.org/x/text v0.43.0\ngolang.org/x/mod v0.44.0\ngolang.org/x/sys v0.50.0\nexample.com/a v1.0.0\nexample.com/same v1.0.0\n\n"
	got := builtConflicts(listed, gw)
	explainConflicts(got, graph, "example.com/p_id")
	want := []Conflict{
		{Module: "golang.org/x/mod", Plugin: "v0.44.0", Gateway: "v0.43.0", Via: "github.com/gatehouse/gatehouse -> github.com/acme/tool@v1.0.0 -> golang.org/x/mod@v0.44.0"},
		{Module: "golang.org/x/sys", Plugin: "v0.50.0", Gateway: "v0.48.0", Via: "golang.org/x/term@v0.48.0 -> golang.org/x/sys@v0.50.0"},
		{Module: "golang.org/x/text", Plugin: "v0.43.0", Gateway: "v0.42.0", Via: "example.com/a@v1.0.0 -> example.com/b@v1.1.0 -> golang.org/x/text@v0.43.0"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("conflicts\n%+v\nwant\n%+v", got, want)
	}
	msg := (&ConflictError{Conflicts: got}).Error()
	for _, s := range []string{
		"golang.org/x/sys: plugin wants v0.50.0, gateway has v0.48.0 (not in the plugin's go.mod: pulled in by golang.org/x/term@v0.48.0 -> golang.org/x/sys@v0.50.0)",
		"fix: require an older version of golang.org/x/term than v0.48.0, one whose requirements the gateway's versions satisfy (it must not need golang.org/x/sys newer than v0.48.0",
		"fix: require an older version of example.com/a than v1.0.0",
		"this gatehouse's own module github.com/gatehouse/gatehouse asks for golang.org/x/mod v0.44.0",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("the message lacks %q:\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "drop replace directives") {
		t.Errorf("the fix for a direct requirement is given for indirect ones only:\n%s", msg)
	}
}
