package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
)

// The benchmark re-executes itself to run the upstream and the bare proxy as processes of their
// own, so that each one's CPU and memory are measured apart from the load generator and from each
// other.

// runUpstream is the `upstream` subcommand.
func runUpstream(args []string) int {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	raw := fs.Bool("raw", false, "answer from a minimal HTTP/1.1 server on raw TCP (rawupstream.go) instead of net/http")
	if fs.Parse(args) != nil {
		return 2
	}
	if *raw {
		return serveRawUntilSignal(*addr)
	}
	return serve(*addr, &http.Server{Handler: benchkit.UpstreamHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second})
}

// serveRawUntilSignal listens on addr, prints "listening on ADDR" and serves the raw upstream
// until SIGTERM or SIGINT.
func serveRawUntilSignal(addr string) int {
	return serveUntilSignal(addr, serveRaw, func(ln net.Listener) { ln.Close() })
}

// runBareProxy is the `bareproxy` subcommand. Its server has the gateway's default timeouts, so
// the two differ only by what the gateway does per request. With --pool=false it copies bodies
// without a BufferPool, as an httputil.ReverseProxy does by default (a fresh 32 KiB buffer per
// response): the pinned mode's baseline, beside the pooling one as the ceiling. With
// --cpuprofile it writes a CPU profile of its whole run there when it stops, as gatehouse start
// does, so that gatehouse's can be diffed against it.
func runBareProxy(args []string) int {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "upstream URL")
	pool := fs.Bool("pool", true, "reuse copy buffers through the gateway's BufferPool")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if fs.Parse(args) != nil {
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bareproxy: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bareproxy: starting the CPU profile: %v\n", err)
			f.Close()
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "bareproxy: writing the CPU profile: %v\n", err)
			}
		}()
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		fmt.Fprintf(os.Stderr, "bareproxy: bad --upstream %q\n", *upstream)
		return 2
	}
	rp := benchkit.BareProxy(target)
	if !*pool {
		rp.BufferPool = nil
	}
	o := config.Default().HTTPServerOptions
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return serve(*addr, &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: sec(o.ReadHeaderTimeout),
		ReadTimeout:       sec(o.ReadTimeout),
		WriteTimeout:      sec(o.WriteTimeout),
		IdleTimeout:       sec(o.IdleTimeout),
	})
}

// serve listens on addr, prints "listening on ADDR" and serves until SIGTERM or SIGINT.
func serve(addr string, srv *http.Server) int {
	return serveUntilSignal(addr, func(ln net.Listener) error {
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	}, func(net.Listener) {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
}

// serveUntilSignal listens on addr, prints "listening on ADDR" (what the benchmark reads to find
// a child's address) and runs serve on the listener; at SIGTERM or SIGINT it calls shutdown,
// which must make serve return. Its exit status is 1 when listening or serving failed.
func serveUntilSignal(addr string, serve func(net.Listener) error, shutdown func(net.Listener)) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, func() { shutdown(ln) })
	if err := serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
