package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/version"
)

func cmdPluginInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tyk := fs.Bool("tyk", false, "write a plugin against Tyk's plugin API (Tyk's import paths)")
	module := fs.String("module", "", "the new plugin's module path (default gatehouse.plugin/DIRNAME)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprint(stderr, "gatehouse plugin init: want at most one DIR\n\n"+pluginUsage)
		return 2
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	res, err := compiler.Scaffold(compiler.ScaffoldOptions{Dir: dir, Tyk: *tyk, Module: *module, Version: version.Version})
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse plugin init: %v\n", err)
		return 1
	}
	kind := "gatehouse"
	if res.Tyk {
		kind = "gatehouse and Tyk"
	}
	if res.Refreshed {
		from := ""
		if res.Previous != "" && res.Previous != version.Version {
			from = " (were " + res.Previous + "'s)"
		}
		fmt.Fprintf(stdout, "refreshed %s: the %s packages in %s/ are now gatehouse %s's%s\n",
			res.Dir, kind, compiler.PackagesDir, version.Version, from)
		for _, c := range res.Changed {
			fmt.Fprintf(stdout, "  go.mod: %s\n", c)
		}
		return 0
	}
	fmt.Fprintf(stdout, "made a plugin in %s: %s, with the %s packages in %s/ (gatehouse %s)\n",
		res.Dir, strings.Join(res.Wrote, ", "), kind, compiler.PackagesDir, version.Version)
	cd := ""
	if wd, err := os.Getwd(); err != nil || wd != res.Dir {
		rel, err := filepath.Rel(wd, res.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = res.Dir
		}
		cd = "cd " + rel + " && "
	}
	fmt.Fprintf(stdout, "next:\n  %sgo test ./...                  # or gatehouse plugin test: with the gateway's build settings\n"+
		"  gatehouse plugin build plugin.so   # then name AddGreeting at a hook of an API (docs/building-plugins.md)\n", cd)
	return 0
}

func cmdPluginTest(args []string, stdout, stderr io.Writer) int {
	var goArgs []string
	for i, a := range args {
		if a == "--" {
			args, goArgs = args[:i], args[i+1:]
			break
		}
	}
	fs := flag.NewFlagSet("plugin test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		fmt.Fprint(stderr, "flags for go test go after --: gatehouse plugin test [DIR] -- -run TestHook -v\n")
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprint(stderr, "gatehouse plugin test: want at most one DIR; flags for go test go after --\n\n"+pluginUsage)
		return 2
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = compiler.Test(ctx, compiler.TestOptions{
		SrcDir: dir, Args: goArgs, Stdout: stdout, Stderr: stderr, Log: stderr, Debug: envOn("DEBUG"),
	})
	var failed *compiler.TestFailedError
	switch {
	case errors.As(err, &failed):
		return failed.Code // go test said why
	case err != nil:
		fmt.Fprintf(stderr, "gatehouse plugin test: %v\n", err)
		return 1
	}
	return 0
}
