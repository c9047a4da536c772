package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/example"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/gcroom"
	"github.com/gatehouse/gatehouse/internal/version"
)

func cmdStart(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conf := fs.String("conf", "", "the gateway config file (tyk.conf keys); without it, built-in defaults")
	withExample := fs.Bool("example", false, "also start an echo upstream and serve the example API at "+example.ListenPath)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	traceFile := fs.String("trace", "", "write an execution trace of the whole run to this file (for go tool trace): every goroutine's "+
		"scheduling and the collector's phases, to see where a slow request waited; it costs a few percent of CPU and grows by megabytes a second under load")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, rec := range []struct {
		file, what string
		start      func(io.Writer) error
		stop       func()
	}{
		{*cpuProfile, "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{*traceFile, "execution trace", trace.Start, trace.Stop},
	} {
		if rec.file == "" {
			continue
		}
		f, err := os.Create(rec.file)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse: cannot write the %s: %v\n", rec.what, err)
			return 1
		}
		if err := rec.start(f); err != nil {
			fmt.Fprintf(stderr, "gatehouse: cannot start the %s: %v\n", rec.what, err)
			f.Close()
			return 1
		}
		defer func() {
			rec.stop()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "gatehouse: writing the %s: %v\n", rec.what, err)
			}
		}()
	}
	cfg, warnings, err := config.Load(*conf, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse: the configuration is not valid:\n%v\n", err)
		return 1
	}
	log := newLogger(stderr, cfg)
	for _, w := range warnings {
		log.Warn("config: " + w)
	}
	if err := start(cfg, log, *withExample); err != nil {
		log.Error("gatehouse stopped", "error", err)
		return 1
	}
	return 0
}

func start(cfg *config.Config, log *slog.Logger, withExample bool) error {
	// The collector's room grows with a large live heap (thousands of APIs) unless GOGC is set.
	defer gcroom.Start(log).Stop()
	var extra []apistore.Entry
	if withExample {
		up, err := example.StartUpstream()
		if err != nil {
			return err
		}
		defer up.Close()
		tmp, err := os.MkdirTemp("", "gatehouse-example-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		src, err := example.WritePlugin(tmp)
		if err != nil {
			return err
		}
		if extra, err = example.Definitions(up.URL(), src); err != nil {
			return err
		}
		log.Info("example echo upstream started; the example plugin is compiled from source next", "url", up.URL())
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version, Extra: extra})
	if err != nil {
		return err
	}
	// The signals are caught before the listeners open: a SIGTERM that comes as soon as the
	// gateway answers drains it, rather than killing it (the default action) mid-request.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := gw.Start()
	if err != nil {
		return errors.Join(err, gw.Close())
	}
	if withExample {
		log.Info("try the example: curl -i http://" + srv.Addr() + example.ListenPath + "get")
	}
	go func() {
		// After the first signal, a second one kills the process at once (the default action),
		// for when the grace period is longer than the operator will wait.
		<-ctx.Done()
		stop()
	}()
	return srv.Run(ctx)
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
