package compiler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/compiler"
)

// sourceGateway is a gateway carrying this tree's packages, for what needs no build settings.
func sourceGateway() *compiler.Gateway {
	return &compiler.Gateway{GoVersion: runtime.Version(), ModulePath: gatehouse.ModulePath, Source: gatehouse.Source, Compat: gatehouse.Compat}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestScaffold makes plugin folders and refreshes them: the packages and the replace
// directives are rewritten, the author's files and requirements never.
func TestScaffold(t *testing.T) {
	gw := sourceGateway()
	scaffold := func(t *testing.T, dir string, tyk bool, version string) *compiler.ScaffoldResult {
		t.Helper()
		res, err := compiler.Scaffold(compiler.ScaffoldOptions{Dir: dir, Tyk: tyk, Version: version, Gateway: gw})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("a new folder", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "my plugin")
		res := scaffold(t, dir, false, "v1.0.0")
		if res.Refreshed || res.Tyk || strings.Join(res.Wrote, " ") != "go.mod main.go main_test.go .gitignore" {
			t.Errorf("result %+v", res)
		}
		gomod := readFile(t, filepath.Join(dir, "go.mod"))
		for _, want := range []string{"module gatehouse.plugin/my_plugin\n", "require github.com/gatehouse/gatehouse v0.0.0\n",
			"replace github.com/gatehouse/gatehouse => ./.gatehouse/gatehouse\n"} {
			if !strings.Contains(gomod, want) {
				t.Errorf("go.mod lacks %q:\n%s", want, gomod)
			}
		}
		pk := filepath.Join(dir, ".gatehouse", "gatehouse")
		for _, f := range []string{"sdk/sdk.go", "sdk/sdktest/sdktest.go", "apidef/api.go", "internal/reqctx/reqctx.go"} {
			if !exists(filepath.Join(pk, f)) {
				t.Errorf("%s was not written", f)
			}
		}
		if exists(filepath.Join(pk, "sdk", "sdk_test.go")) || exists(filepath.Join(dir, ".gatehouse", "tyk")) {
			t.Error("tests or Tyk's packages were written")
		}
		// The gateway's requirements are not the packages': nothing has to look them up.
		if got := readFile(t, filepath.Join(pk, "go.mod")); strings.Contains(got, "require") {
			t.Errorf("the packages' go.mod requires modules:\n%s", got)
		}
		if !strings.HasPrefix(readFile(t, filepath.Join(dir, ".gatehouse", "VERSION")), "v1.0.0 ") {
			t.Error("VERSION does not name the gateway")
		}
	})

	t.Run("a refresh keeps the author's files", func(t *testing.T) {
		dir := t.TempDir()
		scaffold(t, dir, false, "v1.0.0")
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\n// mine\nfunc main() {}\n"), 0o644)
		os.Remove(filepath.Join(dir, "main_test.go"))
		gomod := filepath.Join(dir, "go.mod")
		mine := strings.Replace(readFile(t, gomod), "\n"+goLine()+"\n", "\ngo 1.21\n\nrequire example.com/dep v1.2.3\n", 1)
		os.WriteFile(gomod, []byte(mine), 0o644)
		stale := filepath.Join(dir, ".gatehouse", "gatehouse", "sdk", "removed.go")
		os.WriteFile(stale, []byte("package sdk\n"), 0o644)

		res := scaffold(t, dir, false, "v1.1.0")
		if !res.Refreshed || res.Previous != "v1.0.0" || len(res.Wrote) != 0 {
			t.Errorf("result %+v", res)
		}
		if got := readFile(t, filepath.Join(dir, "main.go")); !strings.Contains(got, "// mine") {
			t.Errorf("main.go was rewritten:\n%s", got)
		}
		if exists(filepath.Join(dir, "main_test.go")) {
			t.Error("the deleted main_test.go was written again")
		}
		if exists(stale) {
			t.Error("a file the gateway no longer has is still in .gatehouse")
		}
		got := readFile(t, gomod)
		if !strings.Contains(got, "example.com/dep v1.2.3") || !strings.Contains(got, "\n"+goLine()+"\n") {
			t.Errorf("go.mod lost the author's requirement:\n%s", got)
		}
		if strings.Join(res.Changed, ";") != goLine() {
			t.Errorf("changed %q; go.mod:\n%s", res.Changed, got)
		}
	})

	t.Run("tyk, and a refresh adding it", func(t *testing.T) {
		dir := t.TempDir()
		res := scaffold(t, dir, true, "v1.0.0")
		if !res.Tyk {
			t.Fatalf("result %+v", res)
		}
		if got := readFile(t, filepath.Join(dir, "main.go")); !strings.Contains(got, `"github.com/TykTechnologies/tyk/ctx"`) || strings.Contains(got, "tyk/log") {
			t.Errorf("main.go:\n%s", got)
		}
		for _, f := range []string{"tyk/go.mod", "tyk/ctx/ctx.go", "tyk/user/session.go", "tyk/log/go.mod", "tyk/log/go.sum", "tyk-pump/analytics/analytics.go"} {
			if !exists(filepath.Join(dir, ".gatehouse", f)) {
				t.Errorf("%s was not written", f)
			}
		}
		if got := readFile(t, filepath.Join(dir, ".gatehouse", "tyk", "ctx", "ctx.go")); strings.Contains(got, "gatehouse_compat") {
			t.Error("the compat build line was kept")
		}
		// Run again without --tyk: the folder keeps Tyk's packages.
		if res := scaffold(t, dir, false, "v1.0.0"); !res.Tyk || len(res.Changed) != 0 {
			t.Errorf("refresh without --tyk: %+v", res)
		}

		native := t.TempDir()
		scaffold(t, native, false, "v1.0.0")
		res = scaffold(t, native, true, "v1.0.0")
		gomod := readFile(t, filepath.Join(native, "go.mod"))
		for _, want := range []string{"github.com/TykTechnologies/tyk v0.0.0", "github.com/TykTechnologies/tyk => ./.gatehouse/tyk",
			"github.com/TykTechnologies/tyk/log => ./.gatehouse/tyk/log", "github.com/TykTechnologies/tyk-pump => ./.gatehouse/tyk-pump"} {
			if !strings.Contains(gomod, want) {
				t.Errorf("go.mod after --tyk lacks %q:\n%s", want, gomod)
			}
		}
		if len(res.Changed) != 4 {
			t.Errorf("changed %q", res.Changed)
		}
	})

	t.Run("a replace moved by the author is put back", func(t *testing.T) {
		dir := t.TempDir()
		scaffold(t, dir, true, "v1.0.0")
		gomod := filepath.Join(dir, "go.mod")
		os.WriteFile(gomod, []byte(strings.Replace(readFile(t, gomod), "./.gatehouse/tyk-pump", "../pump", 1)), 0o644)
		res := scaffold(t, dir, false, "v1.0.0")
		if got := readFile(t, gomod); strings.Contains(got, "../pump") || len(res.Changed) != 1 {
			t.Errorf("changed %q:\n%s", res.Changed, got)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for name, files := range map[string]map[string]string{
			"a folder with files":     {"notes.txt": "x"},
			"someone else's go.mod":   {"go.mod": "module example.com/theirs\n\ngo 1.26\n"},
			"a stray packages folder": {".gatehouse/README.md": "x"},
		} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				for f, data := range files {
					os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
					os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644)
				}
				_, err := compiler.Scaffold(compiler.ScaffoldOptions{Dir: dir, Version: "v1.0.0", Gateway: gw})
				if err == nil || !strings.Contains(err.Error(), "plugin init") || !strings.Contains(err.Error(), "gatehouse plugin build") {
					t.Errorf("err = %v", err)
				}
				if exists(filepath.Join(dir, "main.go")) {
					t.Error("main.go was written")
				}
			})
		}
		// A folder made by plugin init whose .gatehouse is a symbolic link (a cloned folder can
		// hold one) is not refreshed through it: nothing outside the folder is removed.
		t.Run("a linked packages folder", func(t *testing.T) {
			dir := t.TempDir()
			scaffold(t, dir, false, "v1.0.0")
			outside := t.TempDir()
			os.MkdirAll(filepath.Join(outside, "gatehouse"), 0o755)
			os.WriteFile(filepath.Join(outside, "gatehouse", "keep.txt"), []byte("mine"), 0o644)
			os.RemoveAll(filepath.Join(dir, ".gatehouse"))
			if err := os.Symlink(outside, filepath.Join(dir, ".gatehouse")); err != nil {
				t.Fatal(err)
			}
			_, err := compiler.Scaffold(compiler.ScaffoldOptions{Dir: dir, Version: "v1.0.1", Gateway: gw})
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("err = %v, want a refusal naming the symbolic link", err)
			}
			if !exists(filepath.Join(outside, "gatehouse", "keep.txt")) {
				t.Error("the refresh removed files outside the folder")
			}
		})
		// Hidden files (a fresh git repository) do not count.
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, ".git"), 0o755)
		os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("mine\n"), 0o644)
		res := scaffold(t, dir, false, "v1.0.0")
		if readFile(t, filepath.Join(dir, ".gitignore")) != "mine\n" || strings.Contains(strings.Join(res.Wrote, " "), ".gitignore") {
			t.Error("the author's .gitignore was rewritten")
		}
		if _, err := compiler.Scaffold(compiler.ScaffoldOptions{Dir: t.TempDir(), Module: "not a path", Gateway: gw}); err == nil {
			t.Error("a bad module path was accepted")
		}
	})
}

// goLine is the go line a new plugin's go.mod gets from this toolchain.
func goLine() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	return "go " + parts[0] + "." + parts[1] + ".0"
}

// TestPluginTest runs a plugin's tests in the build workspace: a folder without go.mod, whose
// test reads testdata and checks the gateway's build settings; a failing test gives go test's
// status; extra arguments reach go test.
func TestPluginTest(t *testing.T) {
	gw := gateway(t)
	dir := writeSource(t, hotSource)
	os.Mkdir(filepath.Join(dir, "testdata"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "want.txt"), []byte("v1"), 0o644)
	os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(`package main

import (
	"net/http/httptest"
	"os"
	"runtime/debug"
	"testing"

	"github.com/gatehouse/gatehouse/sdk/sdktest"
)

func TestVersion(t *testing.T) {
	want, err := os.ReadFile("testdata/want.txt")
	if err != nil {
		t.Fatal(err)
	}
	res := sdktest.Run(Version, sdktest.NewRequest("GET", "/", nil))
	if got := res.Response.Header().Get("X-Plugin-Version"); got != string(want) {
		t.Errorf("got %q", got)
	}
	_ = httptest.NewRecorder
}

func TestSettings(t *testing.T) {
	info, _ := debug.ReadBuildInfo()
	for _, s := range info.Settings {
		if s.Key == "-trimpath" && s.Value == "true" {
			return
		}
	}
	t.Error("not built with -trimpath")
}

func TestFails(t *testing.T) {
	if os.Getenv("PLUGIN_TEST_FAIL") != "" {
		t.Fatal("failed as asked")
	}
}
`), 0o644)
	run := func(env []string, args ...string) (string, error) {
		var out strings.Builder
		err := compiler.Test(context.Background(), compiler.TestOptions{SrcDir: dir, Args: args, Stdout: &out, Stderr: &out, Gateway: gw, Env: env})
		return out.String(), err
	}
	out, err := run(nil, "-v", "-count=1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"--- PASS: TestVersion", "--- PASS: TestSettings", "ok  \tgatehouse.plugin/"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = run([]string{"PLUGIN_TEST_FAIL=1"}, "-run", "TestFails", "-count=1")
	var failed *compiler.TestFailedError
	if !errors.As(err, &failed) || failed.Code != 1 || !strings.Contains(out, "failed as asked") || strings.Contains(out, "TestVersion") {
		t.Errorf("a failing test: %v\n%s", err, out)
	}
	if exists(filepath.Join(dir, "go.mod")) {
		t.Error("a go.mod was written into the plugin's folder")
	}
}
