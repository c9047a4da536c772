package compiler_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// TestSymlinkedSourceFiles: a plugin folder whose files are symbolic links, as in a
// Kubernetes ConfigMap mount (each file a link to ..data/FILE) or a folder assembled with
// ln -s, is a folder of Go source to every go command; the compiler must not call it empty.
func TestSymlinkedSourceFiles(t *testing.T) {
	gw := gateway(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "..2026_01_01_00_00_00.000")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, "main.go"), []byte(hotSource), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "myplugin")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(src, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "main.go"), filepath.Join(src, "main.go")); err != nil {
		t.Fatal(err)
	}
	_, _, err := compiler.Plan(compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
	if err != nil {
		t.Fatalf("a folder whose main.go is a symbolic link: %v", err)
	}
}

// TestGoEnvFileGOFLAGSIgnored: `go env -w GOFLAGS=-mod=mod` is a common developer setting. The
// user's GOFLAGS must not reach the build, from the environment or from the go env file (the go
// command reads an empty GOFLAGS as unset and takes the file's).
func TestGoEnvFileGOFLAGSIgnored(t *testing.T) {
	gw := gateway(t)
	envFile := filepath.Join(t.TempDir(), "go.env")
	if err := os.WriteFile(envFile, []byte("GOFLAGS=-mod=mod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOENV", envFile)
	src := writeSource(t, hotSource)
	_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
	if err != nil {
		t.Fatalf("GOFLAGS from the go env file changed the build: %v", err)
	}
}

// TestEnvironmentGOEXPERIMENTIgnored: a GOEXPERIMENT in the user's environment (the gateway was built
// without one) must not change what the compiler builds: it sets the gateway's build settings,
// and an empty one is left to the environment.
func TestEnvironmentGOEXPERIMENTIgnored(t *testing.T) {
	gw := gateway(t)
	if gw.Settings["GOEXPERIMENT"] != "" {
		t.Skip("the test binary has a GOEXPERIMENT")
	}
	t.Setenv("GOEXPERIMENT", "nogreenteagc")
	src := writeSource(t, hotSource)
	res, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
	if err != nil {
		t.Fatalf("GOEXPERIMENT from the environment leaked into the build: %v", err)
	}
	if !res.Report.OK() {
		t.Fatalf("report %+v", res.Report)
	}
}

// TestFailedCheckKeepsPreviousFile: a build whose file fails the pre-flight check reports
// failure, so it must not leave that file at the output path, over the working build of the
// same name the gateway loads.
func TestFailedCheckKeepsPreviousFile(t *testing.T) {
	gw := gateway(t)
	src := writeSource(t, hotSource)
	out := t.TempDir()
	good := build(t, compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Gateway: gw})
	before, err := os.ReadFile(good.File)
	if err != nil {
		t.Fatal(err)
	}
	// Any cause of a file that does not load will do: here a gateway description that differs
	// from the running binary (a GOEXPERIMENT it was not built with).
	other := *gw
	other.Settings = map[string]string{}
	for k, v := range gw.Settings {
		other.Settings[k] = v
	}
	other.Settings["GOEXPERIMENT"] = "nogreenteagc"
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(strings.Replace(hotSource, `"v1"`, `"v2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: &other})
	if err == nil {
		t.Fatal("a GOEXPERIMENT=nogreenteagc build passed the check of a binary without it")
	}
	t.Logf("second build failed as expected: %.200s", err)
	after, rerr := os.ReadFile(good.File)
	if rerr != nil || string(after) != string(before) {
		t.Fatalf("the failed build replaced the working %s (read err %v)", good.File, rerr)
	}
}

// TestReplacedSharedModuleRefused: a plugin whose go.mod replaces a module the gateway is built
// with (a fork, a local checkout) builds that module's packages from the replacement, for the
// gateway's packages too, so the plugin cannot load. The docs promise that shared modules are
// built at the gateway's versions and that a conflict fails before compiling, with the module
// named.
func TestReplacedSharedModuleRefused(t *testing.T) {
	gw := gateway(t)
	// Test binaries carry no module list in their build information; the gateway binary
	// does, and links golang.org/x/mod (this package uses it) at the version of go.mod.
	fake := *gw
	fake.Modules = map[string]string{"golang.org/x/mod": "v0.43.0"}
	gw = &fake
	mc, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	modcache := strings.TrimSpace(string(mc))
	semverSrc, err := os.ReadFile(filepath.Join(modcache, "golang.org/x/mod@"+gw.Modules["golang.org/x/mod"], "semver", "semver.go"))
	if err != nil {
		t.Skip(err)
	}
	src := t.TempDir()
	files := map[string]string{
		"main.go": `package main

import (
	"net/http"

	"golang.org/x/mod/semver"
)

func Version(rw http.ResponseWriter, r *http.Request) {
	if semver.Forked() {
		rw.Header().Set("X-Plugin-Version", semver.Canonical("v1.2"))
	}
}

func main() {}
`,
		"go.mod":                "module example.com/forked\n\ngo 1.26\n\nrequire golang.org/x/mod " + gw.Modules["golang.org/x/mod"] + "\n\nreplace golang.org/x/mod => ./xmod\n",
		"xmod/go.mod":           "module golang.org/x/mod\n\ngo 1.23\n",
		"xmod/semver/semver.go": string(semverSrc) + "\n// Forked is what the fork adds.\nfunc Forked() bool { return true }\n",
	}
	testkit.WriteTree(t, src, files)
	out := t.TempDir()
	res, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: gw})
	if err == nil {
		if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "v1.2.0" {
			t.Fatalf("got %q", got)
		}
		return
	}
	if strings.Contains(err.Error(), "compiler bug") || !strings.Contains(err.Error(), "golang.org/x/mod") || !strings.Contains(err.Error(), "replace") {
		t.Fatalf("a replace of a shared module must be refused before compiling, naming the module and the replace; got: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Error("something was written: the conflict must be found before compiling")
	}
}

// TestGoLineNewerThanGateway: a plugin's go.mod naming a newer Go than the gateway's (go mod
// init or go get with a newer local toolchain writes that) would fail with the go command's
// advice about the compiler's own go.work, which the user cannot act on. A newer patch release
// of the gateway's Go is lowered to the gateway's, as Tyk's newer compiler does; a newer
// language version is refused, naming the go line, the gateway's Go and the fix.
func TestGoLineNewerThanGateway(t *testing.T) {
	gw := gateway(t)
	v := strings.Split(strings.TrimPrefix(gw.GoVersion, "go"), ".")
	if len(v) < 2 {
		t.Fatalf("gateway Go version %q", gw.GoVersion)
	}
	minor, err := strconv.Atoi(v[1])
	if err != nil {
		t.Fatalf("gateway Go version %q: %v", gw.GoVersion, err)
	}
	withGo := func(line string) error {
		src := writeSource(t, hotSource)
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/newer\n\ngo "+line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
		return err
	}
	patch := v[0] + "." + v[1] + ".99"
	if err := withGo(patch); err != nil {
		t.Errorf("go %s (a newer patch release than the gateway's %s): %v", patch, gw.GoVersion, err)
	}
	lang := fmt.Sprintf("%s.%d", v[0], minor+1)
	err = withGo(lang)
	if err == nil {
		t.Fatalf("go %s (a newer language version than the gateway's %s) built", lang, gw.GoVersion)
	}
	if msg := err.Error(); strings.Contains(msg, "go work use") || !strings.Contains(msg, "go "+lang) ||
		!strings.Contains(msg, gw.GoVersion) || !strings.Contains(msg, "go mod edit -go=") {
		t.Errorf("go %s, gateway %s: the error must name the go line, the gateway's Go and the fix; got:\n%v", lang, gw.GoVersion, err)
	}
}

// TestConcurrentBuildsOfOnePlugin: two `gatehouse plugin build` of one folder at once
// (two terminals, a CI matrix) must all succeed, each writing a file of its own before the
// check puts it in place.
func TestConcurrentBuildsOfOnePlugin(t *testing.T) {
	gw := gateway(t)
	src := writeSource(t, hotSource)
	out := t.TempDir()
	build(t, compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Gateway: gw}) // warm the cache
	for round := 0; round < 3; round++ {
		errs := make(chan error, 3)
		for i := 0; i < 3; i++ {
			go func() {
				_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: gw})
				errs <- err
			}()
		}
		for i := 0; i < 3; i++ {
			if err := <-errs; err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
}

// TestErrorsNameTheSource: a build's errors speak of the user's folder and output file, never of
// the workspace copy the go command ran in, which is gone by the time they are read; a folder
// with no Go files (the build run in the wrong folder) says so before any go command.
func TestErrorsNameTheSource(t *testing.T) {
	gw := gateway(t)
	// The parent of a plugin's folder: files below it, none in it.
	empty := t.TempDir()
	if err := os.MkdirAll(filepath.Join(empty, "myplugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "myplugin", "main.go"), []byte(hotSource), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: empty, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
	if err == nil || !strings.Contains(err.Error(), empty+" holds no Go files") {
		t.Errorf("a folder without Go files: err = %v", err)
	}
	src := writeSource(t, "package main\n\nfunc main() { undefined() }\n")
	out := t.TempDir()
	_, err = compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: gw})
	if err == nil {
		t.Fatal("a source that does not compile was built")
	}
	if msg := err.Error(); strings.Contains(msg, "gatehouse-plugin-build-") || !strings.Contains(msg, "main.go:3:15: undefined: undefined") || !strings.Contains(msg, "-o "+out) {
		t.Errorf("the error names the workspace, or not the source and output:\n%s", msg)
	}
}

// TestRelativeReplaceBuilds: a plugin in a monorepo whose go.mod replaces a module with a
// folder beside it (replace example.com/lib => ../lib), which plain go build -buildmode=plugin
// builds, builds here too: the build copy sits in a temporary workspace, so the replace is
// resolved against the plugin's own folder. An edit of the replaced folder gives a new build id
// (the id without one covers it), and a replace naming no folder is refused naming it as go.mod
// writes it and where it was looked for, never the workspace.
func TestRelativeReplaceBuilds(t *testing.T) {
	gw := gateway(t)
	repo := t.TempDir()
	plug, lib := filepath.Join(repo, "plug"), filepath.Join(repo, "lib")
	libSource := func(v string) string {
		return "package lib\n\nfunc Version() string { return \"" + v + "\" }\n"
	}
	testkit.WriteTree(t, repo, map[string]string{
		"plug/go.mod": "module example.com/plug\n\ngo 1.26\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"plug/main.go": `package main

import (
	"net/http"

	"example.com/lib"
)

func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Plugin-Version", lib.Version()) }

func main() {}
`,
		"lib/go.mod": "module example.com/lib\n\ngo 1.26\n",
		"lib/lib.go": libSource("lib-one"),
	})
	o := compiler.Options{SrcDir: plug, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw}
	res := build(t, o)
	if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "lib-one" {
		t.Fatalf("the plugin runs %q, want lib-one from ../lib", got)
	}
	if err := os.WriteFile(filepath.Join(lib, "lib.go"), []byte(libSource("lib-two")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, id, err := compiler.Plan(o); err != nil || id == res.BuildID {
		t.Errorf("after an edit of ../lib the build id is %q (err %v), the same as before", id, err)
	}

	// A replace naming a folder that is not there, with a build id (nothing hashed) and without.
	gomod := "module example.com/plug\n\ngo 1.26\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../nolib\n"
	if err := os.WriteFile(filepath.Join(plug, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"given", ""} {
		o.BuildID = id
		_, err := compiler.Build(context.Background(), o)
		want := "replaces example.com/lib with ../nolib, a folder that does not exist (looked for at " + filepath.Join(repo, "nolib")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "gatehouse-plugin-build-") {
			t.Errorf("build id %q: a missing replaced folder: err = %v", id, err)
		}
	}
}
