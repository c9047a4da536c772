// Package plugintest builds real Go plugins for tests, with the running test binary's own Go
// toolchain and build settings (plugin.BuildSettings), so that they load into it the way users'
// plugins load into the gateway. Each plugin is built once per test binary.
//
// Test packages that build plugins call Main from TestMain, which removes the built files when the
// tests end.
package plugintest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

var (
	dirOnce sync.Once
	outDir  string
	dirErr  error

	mu     sync.Mutex
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	n    int // the build's number, given when its key is first asked for
	file string
	err  error
}

// Main runs the tests and removes the built plugins afterwards; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if outDir != "" {
		os.RemoveAll(outDir)
	}
	os.Exit(code)
}

func dir() (string, error) {
	dirOnce.Do(func() { outDir, dirErr = os.MkdirTemp("", "gatehouse-plugins-") })
	return outDir, dirErr
}

// ModuleRoot returns the root of the gatehouse module (where go.mod is).
func ModuleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/gatehouse/gatehouse\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("plugintest: the gatehouse module root was not found above the working directory")
		}
		d = parent
	}
}

// Build compiles the plugin package at pkg (a path relative to the module root, such as
// "internal/plugintest/testdata/tykcompat") and returns the .so file.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return BuildVariant(t, pkg, "", nil)
}

// BuildVariant is Build with the build flags changed by edit (for plugins that must not match
// the test binary); name tells variants apart in the cache.
func BuildVariant(t testing.TB, pkg, name string, edit func(flags []string) []string) string {
	t.Helper()
	return cached(t, "pkg:"+pkg+":"+name, func(out string) error {
		root, err := ModuleRoot()
		if err != nil {
			return err
		}
		return goBuild(root, out, "./"+filepath.ToSlash(pkg), false, edit)
	})
}

// BuildModule compiles a copy of the plugin source in dir (relative to the module root) as a
// module of its own named modulePath, in a workspace with the gatehouse module, after replacing
// each key of edits by its value in the source. Different module paths give plugins that can be
// loaded side by side, as the compiler's build ids do.
func BuildModule(t testing.TB, dir, modulePath string, edits map[string]string) string {
	t.Helper()
	key := fmt.Sprintf("mod:%s:%s:%v", dir, modulePath, edits)
	return cached(t, key, func(out string) error {
		root, err := ModuleRoot()
		if err != nil {
			return err
		}
		ws, err := os.MkdirTemp(filepath.Dir(out), "ws-")
		if err != nil {
			return err
		}
		src := filepath.Join(ws, "plugin")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no Go files in %s", dir)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			s := string(data)
			for from, to := range edits {
				s = strings.ReplaceAll(s, from, to)
			}
			if err := os.WriteFile(filepath.Join(src, filepath.Base(f)), []byte(s), 0o644); err != nil {
				return err
			}
		}
		gomod := fmt.Sprintf("module %s\n\ngo 1.26\n\nrequire github.com/gatehouse/gatehouse v0.0.0\n", modulePath)
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
			return err
		}
		work := fmt.Sprintf("go %s\n\nuse (\n\t./plugin\n\t%s\n)\n", strings.TrimPrefix(runtime.Version(), "go"), root)
		if err := os.WriteFile(filepath.Join(ws, "go.work"), []byte(work), 0o644); err != nil {
			return err
		}
		return goBuild(src, out, ".", true, nil)
	})
}

func cached(t testing.TB, key string, do func(out string) error) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("plugintest: the go command is needed to build test plugins: %v", err)
	}
	mu.Lock()
	b, ok := builds[key]
	if !ok {
		b = &build{n: len(builds) + 1}
		builds[key] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		d, err := dir()
		if err != nil {
			b.err = err
			return
		}
		b.file = filepath.Join(d, fmt.Sprintf("plugin%d.so", b.n))
		b.err = do(b.file)
	})
	if b.err != nil {
		t.Fatalf("plugintest: building %s: %v", key, b.err)
	}
	return b.file
}

// Flags returns the go build flags and environment that reproduce the running binary's build
// settings for a plugin (plugin.BuildSettings).
func Flags() (flags, env []string) {
	flags, env = plugin.CodeFlags(plugin.HostSettings(), runtime.GOARCH)
	return append([]string{"-buildmode=plugin"}, flags...), env
}

// goBuild runs go build in dir; with workspace it uses the go.work above dir, else none.
func goBuild(dir, out, pkg string, workspace bool, edit func([]string) []string) error {
	flags, env := Flags()
	if edit != nil {
		flags = edit(flags)
	}
	args := append([]string{"build"}, flags...)
	if slices.Contains(flags, "-race") { // not for a variant built without it
		args = append(args, plugin.RaceMapping(plugin.HostSettings(), runtime.GOOS, runtime.GOARCH, slot(out))...)
	}
	args = append(args, "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if !workspace {
		cmd.Env = append(cmd.Env, "GOWORK=off")
	}
	outp, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, outp)
	}
	return nil
}

// slot numbers a plugin built for a test binary by its file name, plugin<n>.so: each build its
// own place where plugin.RaceMapping maps it under the race detector.
func slot(out string) uint64 {
	var n uint64
	fmt.Sscanf(filepath.Base(out), "plugin%d.so", &n)
	return n
}

// runs numbers the runs of each test in this process, by name (see Run).
var runs = struct {
	sync.Mutex
	m map[string]runOf
}{m: map[string]runOf{}}

type runOf struct {
	t testing.TB
	n int
}

// Run returns which run of the test t is in this process: 1, then 2 and on when go test
// -count runs it again in the same binary. A plugin is opened once per process and the loader
// remembers every content it saw, opened or refused, so a test that needs a plugin or a file
// content the process has not seen yet names it after its run (a module path for BuildModule,
// a file's bytes). Calls from one run return the same number.
func Run(t testing.TB) int {
	t.Helper()
	runs.Lock()
	defer runs.Unlock()
	r := runs.m[t.Name()]
	if r.t != t {
		r = runOf{t: t, n: r.n + 1}
		runs.m[t.Name()] = r
	}
	return r.n
}
