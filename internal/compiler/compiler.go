// Package compiler builds Go plugins for the gatehouse binary it runs in, so that what it builds
// loads into that binary: it writes the binary's own source of the packages plugins import (embed
// in the root package) into a temporary workspace, points the plugin's module at it, and builds
// with the binary's toolchain and the build settings that change code (plugin.BuildSettings). No
// container, no checkout of the gateway.
//
// Each build gets its own plugin path: the module path with the build id appended, rewritten in
// a copy (imports of the module itself included), never in the user's files. Without a build id
// the id is derived from the source, so a changed plugin always loads beside its previous build.
package compiler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

// Options describe a build.
type Options struct {
	// SrcDir is the plugin's source folder (a main package, with or without go.mod).
	SrcDir string
	// OutDir is where the .so is written; default SrcDir.
	OutDir string
	// PerBuildDir writes the .so into a folder of OutDir named by the build id, so that the
	// builds of a changed source sit side by side.
	PerBuildDir bool
	// Name is the plugin's file name, as Tyk's compiler takes it ("plugin.so" or "plugin").
	Name string
	// BuildID makes the plugin path unique; empty derives it from the source.
	BuildID string
	// GOOS and GOARCH select the target; empty means this machine's.
	GOOS, GOARCH string
	// Version is the gateway version the file name carries.
	Version string
	// Debug prints every command run (Tyk's DEBUG=1), Tidy runs go mod tidy on the plugin
	// (GO_TIDY=1), Get resolves its dependencies afresh with go get (GO_GET=1).
	Debug, Tidy, Get bool
	// Log receives progress; nil discards it.
	Log io.Writer
	// Gateway is the build to match; nil means the running binary.
	Gateway *Gateway
	// Env is added to the environment of the go commands (GOPROXY=off, ...); the build
	// settings the compiler sets win over it.
	Env []string
}

// Result is a finished build.
type Result struct {
	File       string
	PluginPath string
	BuildID    string
	// Report is the pre-flight check of the file against the running binary, nil for a target
	// other than this machine's.
	Report *plugin.Report
}

// goCommand is the go command, from PATH.
const goCommand = "go"

// lazyRegexp compiles expr on first use: the compiler's patterns serve plugin builds, which
// most gateway processes never run, and compiling them all in an init cost every start 118 KB
// of heap (GODEBUG=inittrace=1).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	namePattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	idPattern   = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	osPattern   = lazyRegexp(`^[a-z0-9]+$`)
)

// Plan returns the file a build with these options writes, {name}_{version}_{GOOS}_{GOARCH}.so,
// and its build id, without building; or why the build cannot be made.
func Plan(o Options) (file, buildID string, err error) {
	b := &builder{o: o}
	if err := b.prepare(); err != nil {
		return "", "", err
	}
	return b.out, b.id, nil
}

// Build compiles a plugin.
func Build(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	b := &builder{o: o, log: o.Log}
	if b.log == nil {
		b.log = io.Discard
	}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	ws, err := os.MkdirTemp("", "gatehouse-plugin-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(ws)
	if err := b.tmpIn(ws); err != nil {
		return nil, err
	}

	var res *Result
	steps := []struct {
		name string
		run  func() error
	}{
		{"checking the go toolchain", func() error { return b.toolchain(ctx) }},
		{"writing the workspace", func() error { return b.workspace(ws) }},
		{"resolving dependencies", func() error { return b.deps(ctx) }},
		{"compiling", func() error { return b.compile(ctx) }},
		{"checking the plugin", func() error { res, err = b.check(); return err }},
	}
	for _, s := range steps {
		t := time.Now()
		fmt.Fprintf(b.log, "==> %s\n", s.name)
		if err := s.run(); err != nil {
			return nil, err
		}
		fmt.Fprintf(b.log, "    done in %s\n", time.Since(t).Round(time.Millisecond))
	}
	fmt.Fprintf(b.log, "==> wrote %s (plugin path %s) in %s\n", res.File, res.PluginPath, time.Since(start).Round(time.Millisecond))
	return res, nil
}

type builder struct {
	o         Options
	log       io.Writer
	gw        *Gateway
	goos      string
	goarch    string
	name      string
	id        string
	env       []string // for every go command
	pluginDir string
	work      string // the go.work file
	modPath   string
	out       string
	tmp       string  // where compile writes, beside out and unique to the build
	gotmp     string  // the go commands' GOTMPDIR, in the workspace
	tyk       *tykUse // what the plugin takes from Tyk's modules
	tests     bool    // a test run: test files and testdata count
}

func (b *builder) prepare() error {
	o := b.o
	if o.SrcDir == "" {
		o.SrcDir = "."
	}
	src, err := filepath.Abs(o.SrcDir)
	if err != nil {
		return err
	}
	b.o.SrcDir = src
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("the plugin source %s is not a folder", src)
	}
	b.name = strings.TrimSuffix(o.Name, ".so")
	if !namePattern().MatchString(b.name) {
		return fmt.Errorf("plugin name %q: use a file name such as plugin.so (letters, digits, '.', '_', '-')", o.Name)
	}
	b.goos, b.goarch = o.GOOS, o.GOARCH
	if b.goos == "" {
		b.goos = runtime.GOOS
	}
	if b.goarch == "" {
		b.goarch = runtime.GOARCH
	}
	if !osPattern().MatchString(b.goos) || !osPattern().MatchString(b.goarch) {
		return fmt.Errorf("GOOS %q and GOARCH %q must be lower-case letters and digits", b.goos, b.goarch)
	}
	b.gw = o.Gateway
	if b.gw == nil {
		if b.gw, err = Running(); err != nil {
			return err
		}
	}
	if err := b.gw.checkBuildable(); err != nil {
		return err
	}
	b.id = o.BuildID
	if b.id == "" {
		h, err := SourceHash(src)
		if err != nil {
			return err
		}
		b.id = h[:12]
	} else if !idPattern().MatchString(b.id) {
		return fmt.Errorf("build id %q: use up to 64 letters, digits, '.', '_' and '-'", b.id)
	}
	outDir := o.OutDir
	if outDir == "" {
		outDir = src
	}
	if o.PerBuildDir {
		outDir = filepath.Join(outDir, b.id)
	}
	if b.out, err = filepath.Abs(filepath.Join(outDir, plugin.VersionedName(b.name, o.Version, b.goos, b.goarch))); err != nil {
		return err
	}
	return nil
}

// toolchain makes sure the go command is the gateway's version: the local one if it is, else
// the same version fetched through GOTOOLCHAIN.
func (b *builder) toolchain(ctx context.Context) error {
	if _, err := exec.LookPath(goCommand); err != nil {
		return fmt.Errorf("the go command is needed to build plugins and was not found: install Go %s (https://go.dev/dl/) and retry", b.gw.GoVersion)
	}
	local, err := b.output(ctx, "", []string{"GOTOOLCHAIN=local"}, "env", "GOVERSION")
	if err != nil {
		return err
	}
	local = strings.TrimSpace(local)
	// The user's GOFLAGS (-mod, -race...) must not change the build. An empty GOFLAGS would
	// not do: the go command reads an empty variable as unset and takes the go env file's
	// (`go env -w GOFLAGS=-mod=mod`); -buildvcs=false changes nothing in a build copy.
	b.env = []string{"GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false"}
	if local == b.gw.GoVersion {
		fmt.Fprintf(b.log, "    go %s, as the gateway\n", local)
		return b.experiments(ctx)
	}
	fmt.Fprintf(b.log, "    local go is %s, the gateway was built with %s: using GOTOOLCHAIN=%s\n", local, b.gw.GoVersion, b.gw.GoVersion)
	b.env[0] = "GOTOOLCHAIN=" + b.gw.GoVersion
	got, err := b.output(ctx, "", b.env[:1], "env", "GOVERSION")
	if err != nil || strings.TrimSpace(got) != b.gw.GoVersion {
		return fmt.Errorf("the gateway was built with %s, the local go is %s, and GOTOOLCHAIN could not fetch %s (%v). Install it: "+
			"`go install golang.org/dl/%s@latest && %s download`, then run this again with PATH including it (or with access to proxy.golang.org)",
			b.gw.GoVersion, local, b.gw.GoVersion, err, b.gw.GoVersion, b.gw.GoVersion)
	}
	return b.experiments(ctx)
}

// experiments refuses a GOEXPERIMENT the gateway was not built with that the go env file
// sets: the environment's is left out of every go command (environ), the file's is not.
func (b *builder) experiments(ctx context.Context) error {
	want := b.gw.Settings["GOEXPERIMENT"]
	if want != "" {
		return nil // the build sets it
	}
	got, err := b.output(ctx, "", b.env, "env", "GOEXPERIMENT")
	if err != nil {
		return err
	}
	if got = strings.TrimSpace(got); got != "" {
		return fmt.Errorf("the go env file sets GOEXPERIMENT=%s, which the gateway was not built with, so the plugin would not load: run `go env -u GOEXPERIMENT` (or point GOENV elsewhere) and retry", got)
	}
	return nil
}

// environ is the environment of the go commands: this process's and o.Env, without the build
// settings that change code (the build sets the gateway's), then env, and GOTMPDIR (tmpIn).
func (b *builder) environ(env []string) []string {
	var out []string
	for _, kv := range append(os.Environ(), b.o.Env...) {
		k, _, _ := strings.Cut(kv, "=")
		if plugin.IsCodeEnv(k) {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, env...)
	if b.gotmp != "" {
		out = append(out, "GOTMPDIR="+b.gotmp)
	}
	return out
}

// tmpIn makes the go commands keep their work folders in ws: a go command that is stopped
// (it does not clean up on a signal) leaves its folder there, which the build removes with ws.
func (b *builder) tmpIn(ws string) error {
	b.gotmp = filepath.Join(ws, "gotmp")
	return os.Mkdir(b.gotmp, 0o700)
}

// goCmd is a go command that, when ctx ends, is killed with the processes it started (the
// compilers, the linker, a test binary), which would otherwise run on after it.
func (b *builder) goCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, goCommand, args...)
	killGroupOnCancel(cmd)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// workspace writes the gateway's source and a copy of the plugin, wired together.
func (b *builder) workspace(ws string) error {
	gwDir := filepath.Join(ws, "gateway")
	if err := writeFS(b.gw.Source, gwDir); err != nil {
		return fmt.Errorf("writing the gateway's source: %w", err)
	}
	// Two builds of one plugin at once must not share the file compile writes.
	b.tmp = b.out + "." + filepath.Base(ws) + ".tmp"
	b.pluginDir = filepath.Join(ws, "plugin")
	if err := copySource(b.o.SrcDir, b.pluginDir); err != nil {
		return fmt.Errorf("copying the plugin's source: %w", err)
	}
	if goFiles, _ := filepath.Glob(filepath.Join(b.pluginDir, "*.go")); len(goFiles) == 0 {
		return fmt.Errorf("the plugin source %s holds no Go files: build in the plugin's folder (package main, with the functions the hooks name)", b.o.SrcDir)
	}
	if note := vendorNote(b.o.SrcDir); note != "" && !b.tests {
		fmt.Fprintf(b.log, "    note: %s\n", note) // Test says it in its own output
	}
	gomod, err := os.ReadFile(filepath.Join(b.pluginDir, "go.mod"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if b.tyk, err = scanTyk(b.pluginDir, gomod, b.tests); err != nil {
		return err
	}
	if err := b.tyk.check(); err != nil {
		return err
	}
	var extra []string
	if b.tyk.any() {
		if err := writeCompat(b.gw.Compat, ws, b.tyk, false); err != nil {
			return fmt.Errorf("writing the Tyk compatibility packages: %w", err)
		}
		for _, m := range b.tyk.modules() {
			extra = append(extra, m[0])
		}
		fmt.Fprintf(b.log, "    %s\n", b.tyk.describe())
	}
	mod, f, err := pluginModule(b.pluginDir, b.name, b.id, b.gw, goVersionLine(b.gw.GoVersion))
	if err != nil {
		return err
	}
	if err := conflicts(f, b.gw); err != nil {
		return err
	}
	if err := resolveReplaces(b.pluginDir, b.o.SrcDir); err != nil {
		return err
	}
	b.modPath = mod
	if !b.tests {
		fmt.Fprintf(b.log, "    plugin path %s (build id %s)\n", mod, b.id)
	}
	work, err := writeWorkspace(ws, strings.TrimPrefix(b.gw.GoVersion, "go"), extra...)
	if err != nil {
		return err
	}
	b.work = work
	return nil
}

func (b *builder) deps(ctx context.Context) error {
	// go get and go mod tidy do not work in a workspace: they run on the plugin's module alone,
	// with the gateway's source replaced in.
	alone := append(append([]string{}, b.env...), "GOWORK=off")
	if b.o.Get || b.o.Tidy {
		err := withGatewayReplace(b.pluginDir, b.gw, b.tyk.modules(), func() error {
			if b.o.Get {
				if _, err := b.output(ctx, b.pluginDir, alone, "get", "./..."); err != nil {
					return err
				}
			}
			if b.o.Tidy {
				if _, err := b.output(ctx, b.pluginDir, alone, "mod", "tidy"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Requirements go get or tidy raised may now pass the gateway's.
	data, err := os.ReadFile(filepath.Join(b.pluginDir, "go.mod"))
	if err != nil {
		return err
	}
	f, err := parseModFile(data)
	if err != nil {
		return err
	}
	if err := conflicts(f, b.gw); err != nil {
		return err
	}
	// The requirements of the plugin's requirements count too: the build selects, for each
	// module, the highest version any module of the graph asks for, so a requirement of a
	// requirement may raise a module the gateway links. What counts is the modules of the
	// packages the build compiles, as go list -deps finds them (reading what the build reads:
	// it works offline wherever the build does; go list -m all and go mod graph read the whole
	// graph's go.mod files, which an offline module cache may lack).
	work := append(append([]string{}, b.env...), "GOWORK="+b.work)
	work = append(work, b.gw.buildEnv(b.goos, b.goarch)...)
	// What the command compiles: the plugin's package, or with plugin test every package of
	// the folder with its tests.
	args := []string{"list", "-e", "-deps", "-f", "{{with .Module}}{{.Path}} {{.Version}}{{end}}"}
	pattern := "."
	if b.tests {
		flags, _ := plugin.CodeFlags(b.gw.Settings, b.goarch) // as Test runs go test
		args, pattern = append(append(args, "-test"), flags...), "./..."
	} else {
		args = append(args, b.gw.buildFlags(b.goarch)...)
	}
	listed, err := b.output(ctx, b.pluginDir, work, append(args, pattern)...)
	if err != nil {
		return err
	}
	if strings.TrimSpace(listed) == "" {
		// Not even the plugin's own module: nothing was checked, and the build would not know
		// what to compile either.
		return fmt.Errorf("go list found no package to build in %s (%s): the folder must hold the plugin's Go files", b.o.SrcDir, pattern)
	}
	cs := builtConflicts(listed, b.gw)
	if len(cs) == 0 {
		return nil
	}
	// Which requirement pulls each in: from the graph, when it can be read.
	if graph, err := b.output(ctx, b.pluginDir, work, "mod", "graph"); err == nil {
		explainConflicts(cs, graph, b.modPath)
	}
	return &ConflictError{Conflicts: cs}
}

func (b *builder) compile(ctx context.Context) error {
	env := append(append([]string{}, b.env...), "GOWORK="+b.work)
	env = append(env, b.gw.buildEnv(b.goos, b.goarch)...)
	cc, err := crossCompiler(b.goos, b.goarch)
	if err != nil {
		return err
	}
	if cc != "" {
		env = append(env, "CC="+cc)
		fmt.Fprintf(b.log, "    cross-compiling for %s/%s with %s\n", b.goos, b.goarch, cc)
	}
	tmp := b.tmp
	if err := os.MkdirAll(filepath.Dir(b.out), 0o755); err != nil {
		return err
	}
	args := append([]string{"build"}, b.gw.buildFlags(b.goarch)...)
	// For a gateway under the race detector, where the detector can tell what the plugin's code
	// did (see plugin.RaceMapping).
	args = append(args, plugin.RaceMapping(b.gw.Settings, b.goos, b.goarch, plugin.NamedSlot(b.modPath))...)
	args = append(args, "-o", tmp, ".")
	if _, err := b.output(ctx, b.pluginDir, env, args...); err != nil {
		os.Remove(tmp)
		if b.tyk.any() {
			if terr := explainTyk(err.Error()); terr != nil {
				return terr
			}
		}
		return err
	}
	return nil
}

// vendorNote says, for a plugin folder with a vendor/modules.txt, that the build does not use
// vendor/, and where the dependencies come from; "" for a folder without. vendor/ is not
// honoured: the build is a workspace with the gateway's source, whose modules the plugin must
// share at the gateway's versions, and the go command reads no module's vendor folder in a
// workspace (go work vendor would vendor the gateway's modules too, from the module cache).
func vendorNote(src string) string {
	if _, err := os.Stat(filepath.Join(src, "vendor", "modules.txt")); err != nil {
		return ""
	}
	return "vendor/ is not used: the plugin is built in a workspace with the gateway's source, where no module's vendor folder counts. " +
		"Its dependencies come from the module cache or the Go proxy (or the folders go.mod replaces them with), at the gateway's versions for the modules the gateway links " +
		"and at the versions go.mod selects for the others, so edits to vendored files are not built. To build a patched module the gateway does not link, " +
		"put it in a folder of its own and replace it in go.mod (replace example.com/mod => ./mod)"
}

// check checks the file compile wrote beside the output and, if it loads, puts it in place: a
// build that fails leaves the previous file of that name alone.
func (b *builder) check() (*Result, error) {
	tmp := b.tmp
	res := &Result{File: b.out, PluginPath: b.modPath, BuildID: b.id}
	if b.goos != runtime.GOOS || b.goarch != runtime.GOARCH {
		fmt.Fprintf(b.log, "    built for %s/%s: check it with `gatehouse plugin check` on that platform\n", b.goos, b.goarch)
		return res, os.Rename(tmp, b.out)
	}
	rep, err := plugin.Check(tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	rep.File = b.out
	res.Report = rep
	if err := rep.Err(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("the plugin was built but will not load into this gateway (a compiler bug; please report it): %w", err)
	}
	if err := os.Rename(tmp, b.out); err != nil {
		return nil, err
	}
	if rep.PluginPath != "" {
		res.PluginPath = rep.PluginPath
	}
	fmt.Fprintf(b.log, "    loads into this gateway: Go %s, plugin path %s\n", rep.GoVersion, res.PluginPath)
	return res, nil
}

// output runs the go command and returns its standard output; on failure the error holds what it
// printed.
func (b *builder) output(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := b.goCmd(ctx, args...)
	cmd.Dir = dir
	cmd.Env = b.environ(env)
	if b.o.Debug {
		fmt.Fprintf(b.log, "    + (cd %s && %s %s %s)\n", orDot(dir), strings.Join(env, " "), goCommand, strings.Join(args, " "))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		// What the go command says about the copy it built is said of the user's files: the
		// workspace is gone when they read it.
		text := fmt.Sprintf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
		if b.tmp != "" {
			text = strings.ReplaceAll(text, b.tmp, b.out)
		}
		if b.pluginDir != "" {
			text = strings.ReplaceAll(text, b.pluginDir, b.o.SrcDir)
		}
		return "", errors.New(text)
	}
	return stdout.String(), nil
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// crossCompilers are the C cross compilers for targets other than this machine's, with the
// Debian package that provides each.
var crossCompilers = map[string][2]string{
	"linux/arm64":   {"aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"},
	"linux/amd64":   {"x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu"},
	"linux/arm":     {"arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf"},
	"linux/s390x":   {"s390x-linux-gnu-gcc", "gcc-s390x-linux-gnu"},
	"linux/ppc64le": {"powerpc64le-linux-gnu-gcc", "gcc-powerpc64le-linux-gnu"},
	"linux/riscv64": {"riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu"},
}

// crossCompiler returns the C compiler for a target other than this machine's ("" for this
// machine), or says which package provides it.
func crossCompiler(goos, goarch string) (string, error) {
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		return "", nil
	}
	target := goos + "/" + goarch
	cc, ok := crossCompilers[target]
	if !ok {
		return "", fmt.Errorf("cross-compiling plugins for %s is not supported (cgo needs a C cross compiler; supported targets: linux/arm64, linux/amd64, linux/arm, linux/s390x, linux/ppc64le, linux/riscv64)", target)
	}
	if _, err := exec.LookPath(cc[0]); err != nil {
		return "", fmt.Errorf("cross-compiling for %s needs the C cross compiler %s, which is not installed; on Debian or Ubuntu: apt-get install %s", target, cc[0], cc[1])
	}
	return cc[0], nil
}
