package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/version"
)

const pluginUsage = `Usage:
  gatehouse plugin init [--tyk] [--module PATH] [DIR]
      make a plugin folder (default: the current one) that builds, tests and works in an
      editor offline: go.mod, a hook in main.go, its test in main_test.go, and the gateway's
      packages (with --tyk, Tyk's too) in DIR/.gatehouse. Run it again after upgrading
      gatehouse to refresh them; it never touches your code.
  gatehouse plugin test [DIR] [-- GO_TEST_FLAGS...]
      run the plugin's tests against this binary's packages with its build settings, as the
      plugin will load (e.g. gatehouse plugin test -- -run TestHook -v).
  gatehouse plugin build PLUGIN_NAME [BUILD_ID [GOOS GOARCH]] [--src DIR] [--out DIR]
      compile the plugin in the current folder (or --src) for this gatehouse binary, into
      {name}_{version}_{GOOS}_{GOARCH}.so in the source folder (or --out).
      DEBUG=1 prints every command, GO_TIDY=1 runs go mod tidy on the plugin,
      GO_GET=1 resolves its dependencies afresh with go get.
  gatehouse plugin check [--json] FILE.so
      say, without loading it, whether FILE.so can load into this binary, and why not.
  gatehouse plugin load -f A.so[,B.so] -s SYMBOL
      load each file in this process, look SYMBOL up and say which hooks it fits.
`

func cmdPlugin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, pluginUsage)
		return 2
	}
	switch args[0] {
	case "init":
		return cmdPluginInit(args[1:], stdout, stderr)
	case "test":
		return cmdPluginTest(args[1:], stdout, stderr)
	case "build":
		return cmdPluginBuild(args[1:], stdout, stderr)
	case "check":
		return cmdPluginCheck(args[1:], stdout, stderr)
	case "load":
		return cmdPluginLoad(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pluginUsage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse plugin: unknown command %q\n\n%s", args[0], pluginUsage)
	return 2
}

// parseInterleaved parses flags that may come before or after the positional arguments, as in
// Tyk's `build.sh plugin.so id --flag`.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func envOn(name string) bool {
	v := os.Getenv(name)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

func cmdPluginBuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", ".", "the plugin's source folder")
	out := fs.String("out", "", "where to write the .so (default: the source folder)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) < 1 || len(pos) > 4 || len(pos) == 3 {
		fmt.Fprint(stderr, "gatehouse plugin build: want PLUGIN_NAME [BUILD_ID [GOOS GOARCH]]\n\n"+pluginUsage)
		return 2
	}
	o := compiler.Options{
		SrcDir: *src, OutDir: *out, Name: pos[0], Version: version.Version, Log: stdout,
		Debug: envOn("DEBUG"), Tidy: envOn("GO_TIDY"), Get: envOn("GO_GET"),
	}
	if len(pos) > 1 {
		o.BuildID = pos[1]
	}
	if len(pos) == 4 {
		o.GOOS, o.GOARCH = pos[2], pos[3]
	}
	// Tyk's compiler also takes the target from the environment.
	if o.GOOS == "" {
		o.GOOS = os.Getenv("GOOS")
	}
	if o.GOARCH == "" {
		o.GOARCH = os.Getenv("GOARCH")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := compiler.Build(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse plugin build: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res.File)
	return 0
}

func cmdPluginCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, "gatehouse plugin check: want one FILE.so\n\n"+pluginUsage)
		return 2
	}
	rep, err := plugin.Check(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse plugin check: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			OK bool `json:"ok"`
			*plugin.Report
			Fix string `json:"fix,omitempty"`
		}{rep.OK(), rep, fixIfBad(rep)})
	} else if rep.OK() {
		fmt.Fprintf(stdout, "ok: %s can load into this gateway (Go %s, plugin path %s)\n", rep.File, rep.GoVersion, rep.PluginPath)
		for _, n := range rep.Notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
	} else {
		fmt.Fprintln(stdout, rep.Err())
		for _, n := range rep.Notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

func fixIfBad(r *plugin.Report) string {
	if r.OK() {
		return ""
	}
	return r.Fix()
}

func cmdPluginLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	files := fs.String("f", "", "comma-separated plugin files")
	symbol := fs.String("s", "", "the symbol to look up")
	if _, err := parseInterleaved(fs, args); err != nil {
		return 2
	}
	if *files == "" || *symbol == "" {
		fmt.Fprint(stderr, "gatehouse plugin load: want -f FILE.so[,FILE.so] -s SYMBOL\n\n"+pluginUsage)
		return 2
	}
	cache, err := os.MkdirTemp("", "gatehouse-plugin-load-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer os.RemoveAll(cache)
	l := plugin.NewLoader(plugin.Options{BaseDir: ".", CacheDir: cache, Version: version.Version})
	failed := false
	for _, f := range strings.Split(*files, ",") {
		if err := loadOne(l, f, *symbol, stdout); err != nil {
			fmt.Fprintf(stdout, "[file=%s, symbol=%s] failed: %v\n", f, *symbol, err)
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}

func loadOne(l *plugin.Loader, file, symbol string, w io.Writer) error {
	p, err := l.OpenFile(file)
	if err != nil {
		return err
	}
	sym, err := p.Lookup(symbol)
	if err != nil {
		return err
	}
	kind, ok := plugin.KindOf(sym)
	if !ok {
		return errors.New("the symbol fits no hook: a request hook is " + plugin.KindRequest.Signature() +
			", a response hook " + plugin.KindResponse.Signature() + ", an analytics hook " + plugin.KindAnalytics.Signature())
	}
	fmt.Fprintf(w, "[file=%s, symbol=%s] loaded ok (plugin path %s): fits %s hooks\n", file, symbol, p.PluginPath(), kind.Hooks())
	return nil
}
