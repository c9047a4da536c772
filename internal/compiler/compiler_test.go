package compiler_test

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// hotSource is a one-file plugin without go.mod: Version sets X-Plugin-Version.
const hotSource = `package main

import "net/http"

const version = "v1"

func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Plugin-Version", version) }

func main() {}
`

// gateway returns the test binary as the gateway to build for. Plugins can only be built for a
// binary built with -trimpath; when the tests run without it, this checks that the compiler says
// so, and skips what needs a build.
func gateway(t *testing.T) *compiler.Gateway {
	t.Helper()
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] == "true" {
		return gw
	}
	_, err = compiler.Build(context.Background(), compiler.Options{SrcDir: writeSource(t, hotSource), Name: "p.so", Version: version.Version, Gateway: gw})
	if err == nil || !strings.Contains(err.Error(), "built without -trimpath") {
		t.Fatalf("a binary without -trimpath must be refused with the reason; got %v", err)
	}
	t.Skip("the test binary was built without -trimpath, so it cannot load plugins built by the compiler (checked: the compiler says so). Run the tests with -trimpath, as the README's test command does.")
	return nil
}

func writeSource(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func build(t *testing.T, o compiler.Options) *compiler.Result {
	t.Helper()
	if o.Version == "" {
		o.Version = version.Version
	}
	res, err := compiler.Build(context.Background(), o)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return res
}

// call opens a built plugin in this process and runs its request hook.
func call(t *testing.T, file, symbol string) http.Header {
	t.Helper()
	l := plugin.NewLoader(plugin.Options{BaseDir: t.TempDir(), Version: version.Version})
	p, err := l.OpenFile(file)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	fn, err := p.RequestHook(symbol)
	if err != nil {
		t.Fatal(err)
	}
	// Under the race detector the compiler's plugins ask to be mapped low, where the detector
	// can restore their code addresses (plugin.RaceMapping); the kernel's default is the top
	// of the address space (0x7f...).
	if plugin.RaceMapping(plugin.HostSettings(), runtime.GOOS, runtime.GOARCH, 0) != nil {
		if pc := reflect.ValueOf(fn).Pointer(); pc >= 0xe0_0000_0000 {
			t.Errorf("%s: the hook's code is at %#x, not below 896 GiB where the race detector can restore it", file, pc)
		}
	}
	rec := httptest.NewRecorder()
	fn(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Header()
}

func TestBuildThenLoad(t *testing.T) {
	gw := gateway(t)
	src := writeSource(t, hotSource)
	res := build(t, compiler.Options{SrcDir: src, Name: "plugin.so", Gateway: gw})
	want := filepath.Join(src, "plugin_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so")
	if res.File != want {
		t.Errorf("file %s, want %s", res.File, want)
	}
	if res.Report == nil || !res.Report.OK() {
		t.Fatalf("the built file does not pass the check: %+v", res.Report)
	}
	if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "v1" {
		t.Errorf("the loaded plugin set %q", got)
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err == nil {
		t.Error("the compiler wrote into the user's source folder")
	}
}

func TestTwoBuildIDsLoadSideBySide(t *testing.T) {
	gw := gateway(t)
	src := writeSource(t, hotSource)
	a := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", BuildID: "123", Gateway: gw})
	b := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", BuildID: "456", Gateway: gw})
	if a.PluginPath == b.PluginPath {
		t.Fatalf("both builds have plugin path %s", a.PluginPath)
	}
	for _, r := range []*compiler.Result{a, b} {
		if got := call(t, r.File, "Version").Get("X-Plugin-Version"); got != "v1" {
			t.Errorf("%s: %q", r.File, got)
		}
	}
}

func TestContentDerivedBuildID(t *testing.T) {
	gw := gateway(t)
	src := writeSource(t, hotSource)
	out := t.TempDir()
	o := compiler.Options{SrcDir: src, OutDir: out, PerBuildDir: true, Name: "p.so", Version: version.Version, Gateway: gw}
	file, id, err := compiler.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	first := build(t, o)
	if first.File != file || first.BuildID != id || file != filepath.Join(out, id, "p_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so") {
		t.Errorf("planned %s (id %s), built %s (id %s)", file, id, first.File, first.BuildID)
	}
	again := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Gateway: gw})
	if first.BuildID != again.BuildID {
		t.Errorf("the same source gave ids %s and %s", first.BuildID, again.BuildID)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(strings.Replace(hotSource, `"v1"`, `"v2"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Gateway: gw})
	if changed.BuildID == first.BuildID || changed.PluginPath == first.PluginPath {
		t.Fatalf("a changed source kept id %s / plugin path %s", changed.BuildID, changed.PluginPath)
	}
	// Both versions load in one process: a hot update needs nothing more.
	if call(t, first.File, "Version").Get("X-Plugin-Version") != "v1" || call(t, changed.File, "Version").Get("X-Plugin-Version") != "v2" {
		t.Error("the two builds do not run their own code")
	}
}

// TestSelfImportsRewritten builds a plugin whose main package imports a package of its own
// module: the build id rewrites the module path and that import in a copy, never in the source.
func TestSelfImportsRewritten(t *testing.T) {
	gw := gateway(t)
	root, err := plugintest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "internal/compiler/testdata/complex")
	before, _ := os.ReadFile(filepath.Join(src, "main.go"))
	res := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "complex.so", BuildID: "b1", Gateway: gw})
	if res.PluginPath != "example.com/complex_b1" {
		t.Errorf("plugin path %s, want example.com/complex_b1", res.PluginPath)
	}
	after, _ := os.ReadFile(filepath.Join(src, "main.go"))
	if string(before) != string(after) {
		t.Error("the user's source was changed")
	}
	l := plugin.NewLoader(plugin.Options{BaseDir: t.TempDir(), Version: version.Version})
	p, err := l.OpenFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.RequestHook("Hook"); err != nil {
		t.Fatal(err)
	}
}

// TestSharedModuleConflict reports, before compiling, a module the plugin needs newer than the
// gateway has.
func TestSharedModuleConflict(t *testing.T) {
	gw := gateway(t)
	fake := *gw
	fake.Modules = map[string]string{"golang.org/x/text": "v0.3.0", "golang.org/x/net": "v0.30.0"}
	src := writeSource(t, hotSource)
	gomod := "module example.com/needy\n\ngo 1.26\n\nrequire (\n\tgolang.org/x/text v0.20.0\n\tgolang.org/x/net v0.10.0\n)\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: &fake})
	var ce *compiler.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConflictError", err)
	}
	if len(ce.Conflicts) != 1 || ce.Conflicts[0] != (compiler.Conflict{Module: "golang.org/x/text", Plugin: "v0.20.0", Gateway: "v0.3.0"}) {
		t.Errorf("conflicts %+v", ce.Conflicts)
	}
	if !strings.Contains(err.Error(), "golang.org/x/text: plugin wants v0.20.0, gateway has v0.3.0") {
		t.Errorf("message: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Error("something was written: the conflict must be found before compiling")
	}
}

// TestCrossCompileArm64 builds for linux/arm64: the file's ELF machine is AArch64. Without the C
// cross compiler, the error names the Debian package to install.
func TestCrossCompileArm64(t *testing.T) {
	gw := gateway(t)
	if runtime.GOARCH == "arm64" {
		t.Skip("this machine is arm64: nothing to cross-compile")
	}
	src := writeSource(t, hotSource)
	_, lookErr := exec.LookPath("aarch64-linux-gnu-gcc")
	res, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, Name: "p.so", Version: version.Version, GOOS: "linux", GOARCH: "arm64", Gateway: gw})
	if lookErr != nil {
		if err == nil || !strings.Contains(err.Error(), "apt-get install gcc-aarch64-linux-gnu") {
			t.Fatalf("without the cross compiler: %v", err)
		}
		// The error is right; building needs the cross compiler. CI installs it and sets
		// GATEHOUSE_REQUIRE_CROSS, so that there the test never passes by skipping.
		if os.Getenv("GATEHOUSE_REQUIRE_CROSS") != "" {
			t.Fatalf("the cross compiler aarch64-linux-gnu-gcc is not installed and GATEHOUSE_REQUIRE_CROSS is set; the error was right: %v", err)
		}
		t.Skipf("the cross compiler aarch64-linux-gnu-gcc is not installed (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross), so only its error was checked: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.File, "p_"+version.Version+"_linux_arm64.so") {
		t.Errorf("file %s", res.File)
	}
	f, err := elf.Open(res.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_DYN {
		t.Errorf("machine %v type %v, want EM_AARCH64 ET_DYN", f.Machine, f.Type)
	}
}

func TestRefusesWhatCannotWork(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	noTrim := *gw
	noTrim.Settings = map[string]string{"CGO_ENABLED": "1"}
	noCgo := *gw
	noCgo.Settings = map[string]string{"-trimpath": "true", "CGO_ENABLED": "0"}
	// The other refusals come before any build, so the settings need only pass the first check.
	fine := *gw
	fine.Settings = map[string]string{"-trimpath": "true", "CGO_ENABLED": "1"}
	gw = &fine
	src := writeSource(t, hotSource)
	for _, tc := range []struct {
		name string
		o    compiler.Options
		want string
	}{
		{"gateway without -trimpath", compiler.Options{Name: "p.so", Gateway: &noTrim}, "go build -trimpath ./cmd/gatehouse"},
		{"gateway without cgo", compiler.Options{Name: "p.so", Gateway: &noCgo}, "CGO_ENABLED=1"},
		{"bad name", compiler.Options{Name: "../p.so", Gateway: gw}, "plugin name"},
		{"bad build id", compiler.Options{Name: "p.so", BuildID: "a/b", Gateway: gw}, "build id"},
		{"bad target", compiler.Options{Name: "p.so", GOOS: "Linux", GOARCH: "amd64", Gateway: gw}, "GOOS"},
		{"unsupported target", compiler.Options{Name: "p.so", GOOS: "plan9", GOARCH: "amd64", Gateway: gw}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.SrcDir, tc.o.Version, tc.o.OutDir = src, version.Version, t.TempDir()
			_, err := compiler.Build(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestModuleInsideTheGatewayRefused: a plugin whose module is the gateway's (or inside it, or
// inside Tyk's) is refused before building, saying to rename it: its imports of the gateway's
// packages would be read as its own.
func TestModuleInsideTheGatewayRefused(t *testing.T) {
	gw := gateway(t)
	for _, mod := range []string{gw.ModulePath, gw.ModulePath + "/myplugin", "github.com/TykTechnologies/tyk/myplugin"} {
		src := writeSource(t, hotSource)
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module "+mod+"\n\ngo 1.26\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "p.so", Version: version.Version, Gateway: gw})
		if err == nil || !strings.Contains(err.Error(), "rename the plugin's module") {
			t.Errorf("module %s: err = %v, want a refusal saying to rename it", mod, err)
		}
	}
}

// TestTidyGetDebug builds with Tyk's DEBUG=1, GO_TIDY=1 and GO_GET=1, offline: the commands are
// printed, go get and go mod tidy run on the plugin's module with the gateway's source replaced in,
// and the plugin, which imports the gateway's sdk, builds and loads. The user's go.mod is not
// touched.
func TestTidyGetDebug(t *testing.T) {
	gw := gateway(t)
	t.Setenv("GOPROXY", "off")
	src := writeSource(t, `package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"
)

func Version(rw http.ResponseWriter, r *http.Request) {
	if sdk.GetSession(r) == nil {
		rw.Header().Set("X-Plugin-Version", "tidy")
	}
}

func main() {}
`)
	gomod := "module example.com/tidy\n\ngo 1.26\n\nrequire github.com/gatehouse/gatehouse v0.1.0\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "tidy.so", Gateway: gw, Debug: true, Tidy: true, Get: true, Log: &log})
	for _, want := range []string{"GOWORK=off go get ./...)", "GOWORK=off go mod tidy)", " go build -buildmode=plugin "} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
	if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "tidy" {
		t.Errorf("the loaded plugin set %q", got)
	}
	if data, _ := os.ReadFile(filepath.Join(src, "go.mod")); string(data) != gomod {
		t.Errorf("the user's go.mod changed:\n%s", data)
	}
}

// TestTykNotProvided: a Tyk plugin that imports a package of Tyk's the compiler does not
// provide is refused before compiling; one that uses a name it does not provide is refused with
// that name, from the compiler's error. Neither fetches anything (the Go proxy is off).
func TestTykNotProvided(t *testing.T) {
	gw := gateway(t)
	build := func(src string) error {
		dir := writeSource(t, src)
		gomod := "module example.com/p\n\ngo 1.26\n\nrequire github.com/TykTechnologies/tyk v1.9.2-0.20250415092215-1f2e3d4c5b6a\n"
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := compiler.Build(context.Background(), compiler.Options{SrcDir: dir, OutDir: t.TempDir(), Name: "p.so", Gateway: gw, Env: []string{"GOPROXY=off"}})
		if err == nil {
			t.Fatal("built")
		}
		return err
	}
	err := build("package main\n\nimport \"github.com/TykTechnologies/tyk/config\"\n\nvar _ = config.Global\n\nfunc main() {}\n")
	if !strings.Contains(err.Error(), "package github.com/TykTechnologies/tyk/config (imported by main.go): not provided") {
		t.Errorf("error: %v", err)
	}
	err = build("package main\n\nimport (\n\t\"net/http\"\n\n\t\"github.com/TykTechnologies/tyk/ctx\"\n)\n\n" +
		"func Pre(w http.ResponseWriter, r *http.Request) {\n\t_ = ctx.GetErrorClassification(r)\n\tctx.SetSession(r, nil, \"token\", true)\n" +
		"\tdoc := ctx.GetOASDefinition(r)\n\t_ = doc.Paths.Find(\"/x\").Get.Responses\n\t_ = doc.GetTykExtension().ErrorOverrides\n}\n\nfunc main() {}\n")
	// Tyk OAS documents are provided in the standard library only: kin-openapi's parts the
	// model leaves out, and the extension's unmodelled parts, are named.
	for _, want := range []string{"ctx.GetErrorClassification: not provided", "Tyk's API before 4.0.1", "emulates Tyk v5.14.0",
		"oas.OpenAPIOperation.Responses: not provided", "oas.XTykAPIGateway.ErrorOverrides: not provided"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	// A folder written for Tyk before 4.0.1, as the public examples that still use
	// ctx.SetSession(r, session, key, true) with the old headers package: refused with the
	// file, the line and the call to write instead.
	_, err = compiler.Build(context.Background(), compiler.Options{SrcDir: tykOldDir, OutDir: t.TempDir(), Name: "old.so", Gateway: gw, Env: []string{"GOPROXY=off"}})
	if err == nil {
		t.Fatal("the pre-4.0.1 plugin built")
	}
	for _, want := range []string{"ctx.SetSession(r, session, token, scheduleUpdate) (main.go:34)", "Tyk's API before 4.0.1",
		"write `session.KeyID = token` and call `ctx.SetSession(r, session, scheduleUpdate)`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// tykOldDir is a Tyk plugin folder written against Tyk's API before 4.0.1.
const tykOldDir = "../plugintest/testdata/tykold"

// TestIndirectNewerModuleConflict: a plugin whose go.mod asks for nothing newer than the gateway
// has, but requires a module that itself requires a newer version of a module the gateway
// links (as golang.org/x/term v0.48.0 requires golang.org/x/sys v0.50.0), is refused before
// compiling, naming the requirement that pulls the version in and what to do; it was built and
// then refused as "a compiler bug". Local only: the plugin's requirement is a folder it replaces
// the module with, and the newer version of the gateway's module (golang.org/x/mod, which the
// test binary links) is the gateway's own, renamed v0.999.0, served by a file:// proxy, with a
// module cache of the test's own.
func TestIndirectNewerModuleConflict(t *testing.T) {
	gw := gateway(t)
	const shared = "golang.org/x/mod"
	// A test binary's build information lists no modules: the gateway's version is its go.mod's.
	have := ""
	gomod, err := fs.ReadFile(gw.Source, "go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == shared {
			have = f[1]
		}
	}
	if have == "" {
		t.Fatalf("the gateway's go.mod does not require %s", shared)
	}
	fake := *gw
	fake.Modules = map[string]string{shared: have}
	gw = &fake
	realCache := strings.TrimSpace(goEnv(t, "GOMODCACHE"))
	dl := filepath.Join(realCache, "cache", "download", shared, "@v")
	zipData, zerr := os.ReadFile(filepath.Join(dl, have+".zip"))
	if zerr != nil {
		// CI runs go mod download first and sets GATEHOUSE_REQUIRE_GOPROXY: there it must run.
		if os.Getenv("GATEHOUSE_REQUIRE_GOPROXY") != "" {
			t.Fatalf("the module cache lacks %s@%s and GATEHOUSE_REQUIRE_GOPROXY is set: %v", shared, have, zerr)
		}
		t.Skipf("the module cache lacks %s@%s (go mod download fetches it): %v", shared, have, zerr)
	}
	// Its go.mod requires nothing: the test's module cache gets only what the gateway's builds
	// fetched.
	modData := []byte("module " + shared + "\n\ngo 1.26\n")
	const newer = "v0.999.0"
	proxy := t.TempDir()
	pv := filepath.Join(proxy, shared, "@v")
	if err := os.MkdirAll(pv, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"list":          []byte(newer + "\n"),
		newer + ".info": []byte(`{"Version":"` + newer + `","Time":"2030-01-01T00:00:00Z"}`),
		newer + ".mod":  modData,
		newer + ".zip":  renameModuleZip(t, zipData, shared+"@"+have+"/", shared+"@"+newer+"/", modData),
	} {
		if err := os.WriteFile(filepath.Join(pv, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	t.Cleanup(func() { makeWritable(cache) }) // the go command leaves extracted modules read-only

	repo := t.TempDir()
	src, lib := filepath.Join(repo, "plugin"), filepath.Join(repo, "lib")
	for dir, files := range map[string]map[string]string{
		lib: {
			"go.mod": "module example.com/lib\n\ngo 1.26\n\nrequire " + shared + " " + newer + "\n",
			"lib.go": "package lib\n\nimport \"golang.org/x/mod/semver\"\n\nfunc Newer(a, b string) bool { return semver.Compare(a, b) > 0 }\n",
		},
		src: {
			"go.mod": "module example.com/indirect\n\ngo 1.26\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
			"main.go": "package main\n\nimport (\n\t\"net/http\"\n\n\t\"example.com/lib\"\n)\n\n" +
				"func Version(rw http.ResponseWriter, r *http.Request) {\n\tif lib.Newer(\"v2.0.0\", \"v1.0.0\") {\n\t\trw.Header().Set(\"X-Plugin-Version\", \"lib\")\n\t}\n}\n\nfunc main() {}\n",
		},
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	_, err = compiler.Build(context.Background(), compiler.Options{SrcDir: src, OutDir: out, Name: "p.so", Version: version.Version, Gateway: gw,
		Env: []string{"GOPROXY=file://" + filepath.ToSlash(proxy) + ",file://" + filepath.ToSlash(filepath.Join(realCache, "cache", "download")), "GOMODCACHE=" + cache, "GOSUMDB=off"}})
	var ce *compiler.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConflictError", err)
	}
	want := compiler.Conflict{Module: shared, Plugin: newer, Gateway: have, Via: "example.com/lib@v0.0.0 -> " + shared + "@" + newer}
	if len(ce.Conflicts) != 1 || ce.Conflicts[0] != want {
		t.Errorf("conflicts %+v, want %+v", ce.Conflicts, want)
	}
	for _, s := range []string{
		shared + ": plugin wants " + newer + ", gateway has " + have + " (not in the plugin's go.mod: pulled in by example.com/lib@v0.0.0 -> " + shared + "@" + newer + ")",
		"fix: require an older version of example.com/lib than v0.0.0, one whose requirements the gateway's versions satisfy (it must not need " + shared + " newer than " + have,
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the message lacks %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "compiler bug") {
		t.Errorf("called a compiler bug:\n%v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Error("something was written: the conflict must be found before compiling")
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// renameModuleZip returns a module zip whose files are those of data with the prefix from (the
// module's path@version/) changed to to, and go.mod the one given.
func renameModuleZip(t *testing.T, data []byte, from, to string, gomod []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, from) {
			t.Fatalf("%s is not under %s", f.Name, from)
		}
		w, err := zw.Create(to + strings.TrimPrefix(f.Name, from))
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == from+"go.mod" {
			if _, err := w.Write(gomod); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(w, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeWritable makes what the go command wrote read-only under dir writable again, for the
// test's temporary folders to be removed.
func makeWritable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
}

// TestNestedModuleImportsKept: a module nested under the plugin's own module path (plugin
// github.com/acme/mono requiring github.com/acme/mono/common, replaced with ./common, which has
// its own go.mod) keeps its path: only imports whose longest matching module is the plugin's
// are given the build id. They were all rewritten ("no required module provides package
// github.com/acme/mono_ID/common").
func TestNestedModuleImportsKept(t *testing.T) {
	gw := gateway(t)
	src := t.TempDir()
	testkit.WriteTree(t, src, map[string]string{
		"go.mod": "module github.com/acme/mono\n\ngo 1.26\n\nrequire github.com/acme/mono/common v0.0.0\n\nreplace github.com/acme/mono/common => ./common\n",
		"main.go": "package main\n\nimport (\n\t\"net/http\"\n\n\t\"github.com/acme/mono/common\"\n\t\"github.com/acme/mono/own\"\n)\n\n" +
			"func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set(\"X-Plugin-Version\", common.Tag()+\"+\"+own.Tag()) }\n\nfunc main() {}\n",
		"own/own.go":        "package own\n\nfunc Tag() string { return \"own\" }\n",
		"common/go.mod":     "module github.com/acme/mono/common\n\ngo 1.26\n",
		"common/common.go":  "package common\n\nimport \"github.com/acme/mono/common/sub\"\n\nfunc Tag() string { return sub.Tag() }\n",
		"common/sub/sub.go": "package sub\n\nfunc Tag() string { return \"common\" }\n",
	})
	res := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "mono.so", BuildID: "m1", Gateway: gw, Env: []string{"GOPROXY=off"}})
	if res.PluginPath != "github.com/acme/mono_m1" {
		t.Errorf("plugin path %s", res.PluginPath)
	}
	if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "common+own" {
		t.Errorf("the loaded plugin set %q", got)
	}
}

// TestVendorNotUsedSaidSo: a plugin folder with vendor/modules.txt is built from the module
// cache (or the proxy, or a local replace) as the gateway's workspace resolves it, not from
// vendor/, whose edits are not built: plugin build and plugin test say so in their output.
// They said nothing, and a patched vendored package was silently replaced.
func TestVendorNotUsedSaidSo(t *testing.T) {
	gw := gateway(t)
	repo := t.TempDir()
	src := filepath.Join(repo, "plugin")
	testkit.WriteTree(t, repo, map[string]string{
		"plugin/go.mod": "module example.com/vend\n\ngo 1.26\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => ../dep\n",
		"plugin/main.go": "package main\n\nimport (\n\t\"net/http\"\n\n\t\"example.com/dep\"\n)\n\n" +
			"func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set(\"X-Plugin-Version\", dep.Tag()) }\n\nfunc main() {}\n",
		"plugin/vendor/modules.txt":            "# example.com/dep v0.0.0 => ../dep\n## explicit\nexample.com/dep\n# example.com/dep => ../dep\n",
		"plugin/vendor/example.com/dep/dep.go": "package dep\n\nfunc Tag() string { return \"patched in vendor\" }\n",
		"dep/go.mod":                           "module example.com/dep\n\ngo 1.26\n",
		"dep/dep.go":                           "package dep\n\nfunc Tag() string { return \"dep\" }\n",
	})
	const note = "vendor/ is not used"
	var log strings.Builder
	res := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "vend.so", Gateway: gw, Log: &log, Env: []string{"GOPROXY=off"}})
	if !strings.Contains(log.String(), note) || !strings.Contains(log.String(), "module cache or the Go proxy") {
		t.Errorf("plugin build's output does not say vendor/ is not used:\n%s", log.String())
	}
	if got := call(t, res.File, "Version").Get("X-Plugin-Version"); got != "dep" {
		t.Errorf("the loaded plugin set %q, want the replaced module's %q", got, "dep")
	}
	log.Reset()
	var out strings.Builder
	if err := compiler.Test(context.Background(), compiler.TestOptions{SrcDir: src, Args: []string{"-run", "^$"}, Stdout: &out, Stderr: &out, Log: &log, Gateway: gw, Env: []string{"GOPROXY=off"}}); err != nil {
		t.Fatalf("plugin test: %v\n%s", err, out.String())
	}
	if !strings.Contains(log.String(), note) {
		t.Errorf("plugin test's output does not say vendor/ is not used:\n%s", log.String())
	}
}

// TestHiddenFilesBuilt: the build copy holds what go build would read of the plugin's folder:
// `//go:embed all:static` embeds static/.well-known/ and static/_private/, and a testdata file
// can be embedded, while .git, .gatehouse and built .so files stay out. Editing a hidden file
// gives a new build id; editing .git does not. Hidden and '_' folders were left out of the copy
// and the id.
func TestHiddenFilesBuilt(t *testing.T) {
	gw := gateway(t)
	src := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		testkit.WriteTree(t, src, map[string]string{name: body})
	}
	write("go.mod", "module example.com/emb\n\ngo 1.26\n")
	write("main.go", `package main

import (
	"embed"
	"net/http"
	"strings"
)

//go:embed all:static
var static embed.FS

//go:embed testdata/fixture.txt
var fixture string

func Version(rw http.ResponseWriter, r *http.Request) {
	var got []string
	for _, name := range []string{"static/index.html", "static/.well-known/openid-configuration", "static/_private/key.txt"} {
		b, err := static.ReadFile(name)
		if err != nil {
			b = []byte("missing")
		}
		got = append(got, string(b))
	}
	got = append(got, fixture)
	rw.Header().Set("X-Plugin-Version", strings.Join(got, ","))
}

func main() {}
`)
	write("static/index.html", "index")
	write("static/.well-known/openid-configuration", "oidc")
	write("static/_private/key.txt", "key")
	write("testdata/fixture.txt", "fixture")
	write(".git/HEAD", "ref: refs/heads/main\n")
	write(".gatehouse/README.md", "written by plugin init\n")
	write("_old/broken.go", "package broken\n\nthis does not compile\n")
	write(".hidden/broken.go", "package broken\n\nthis does not compile\n")

	id := func() string {
		t.Helper()
		_, id, err := compiler.Plan(compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "emb.so", Version: version.Version, Gateway: gw})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	before := id()
	write(".git/HEAD", "ref: refs/heads/other\n")
	write(".gatehouse/README.md", "written again\n")
	if id() != before {
		t.Error("editing .git or .gatehouse changed the build id")
	}
	write("static/.well-known/openid-configuration", "oidc2")
	if id() == before {
		t.Error("editing static/.well-known/openid-configuration kept the build id")
	}
	res := build(t, compiler.Options{SrcDir: src, OutDir: t.TempDir(), Name: "emb.so", Gateway: gw, Env: []string{"GOPROXY=off"}})
	if got, want := call(t, res.File, "Version").Get("X-Plugin-Version"), "index,oidc2,key,fixture"; got != want {
		t.Errorf("the plugin embeds %q, want %q", got, want)
	}
}
