package compiler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

// TestOptions describe a run of a plugin's tests.
type TestOptions struct {
	// SrcDir is the plugin's source folder, with or without go.mod.
	SrcDir string
	// Args are passed to go test after the packages (-run, -v, -count...).
	Args []string
	// Stdout and Stderr receive go test's output; Log the compiler's notes. Nil discards.
	Stdout, Stderr, Log io.Writer
	// Debug prints every command run.
	Debug bool
	// Gateway is the build to match; nil means the running binary.
	Gateway *Gateway
	// Env is added to the environment of the go commands.
	Env []string
}

// TestFailedError is a go test run that failed; Code is its exit status.
type TestFailedError struct{ Code int }

func (e *TestFailedError) Error() string { return fmt.Sprintf("go test exited with status %d", e.Code) }

// Test runs the tests of a plugin's packages in the workspace a build uses: the gateway's own
// source of the packages plugins import (and Tyk's, for a Tyk plugin), with the gateway's
// toolchain and build settings, so that the tests run against exactly what the plugin loads
// with. The plugin keeps its module path; a folder without go.mod works as for Build.
func Test(ctx context.Context, o TestOptions) error {
	name := sanitizeModuleElem(filepath.Base(absOr(o.SrcDir)))
	if !namePattern().MatchString(name) {
		name = "plugin"
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	b := &builder{o: Options{SrcDir: o.SrcDir, Name: name, Debug: o.Debug, Log: log, Gateway: o.Gateway, Env: o.Env}, log: io.Discard, tests: true}
	if o.Debug {
		b.log = log
	}
	if err := b.prepare(); err != nil {
		return err
	}
	b.id = "" // the module keeps its path: nothing is loaded
	ws, err := os.MkdirTemp("", "gatehouse-plugin-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ws)
	if err := b.tmpIn(ws); err != nil {
		return err
	}
	if err := b.toolchain(ctx); err != nil {
		return err
	}
	if b.env[0] != "GOTOOLCHAIN=local" {
		fmt.Fprintf(log, "==> the local go is not the gateway's %s: using %s\n", b.gw.GoVersion, b.env[0])
	}
	if err := b.workspace(ws); err != nil {
		return err
	}
	if b.tyk.any() {
		fmt.Fprintf(log, "==> %s\n", b.tyk.describe())
	}
	if note := vendorNote(b.o.SrcDir); note != "" {
		fmt.Fprintf(log, "==> note: %s\n", note)
	}
	if err := b.deps(ctx); err != nil {
		return err
	}
	env := append(append([]string{}, b.env...), "GOWORK="+b.work)
	env = append(env, b.gw.buildEnv(b.goos, b.goarch)...)
	flags, _ := plugin.CodeFlags(b.gw.Settings, b.goarch)
	args := append(append(append([]string{"test"}, flags...), "./..."), o.Args...)
	cmd := b.goCmd(ctx, args...)
	cmd.Dir = b.pluginDir
	cmd.Env = b.environ(env)
	cmd.Stdout, cmd.Stderr = orDiscard(o.Stdout), orDiscard(o.Stderr)
	if o.Debug {
		fmt.Fprintf(log, "    + (cd %s && %s %s %s)\n", b.pluginDir, strings.Join(env, " "), goCommand, strings.Join(args, " "))
	}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &TestFailedError{Code: ee.ExitCode()}
	}
	return err
}

func absOr(dir string) string {
	if dir == "" {
		dir = "."
	}
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
