package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
)

// minSecretLength is the length below which the secret gets a warning.
const minSecretLength = 16

// Server is a started gateway: its listeners and HTTP servers.
type Server struct {
	g       *Gateway
	main    *http.Server
	control *http.Server
	mainLn  net.Listener
	ctlLn   net.Listener
	// metrics serves Prometheus metrics on metricsLn; nil when off or not bound.
	metrics   *http.Server
	metricsLn net.Listener
	errs      chan error
	hup       chan os.Signal
}

// Start binds the listeners and serves in the background: the proxy on listen_address and
// listen_port, and the Gateway API on control_api_hostname and control_api_port (or on the proxy
// listener when control_api_port is 0 or the same address). The Gateway API refuses to start
// without a usable secret; the proxy then serves alone, with /hello on its listener, and /hello
// reports why.
func (g *Gateway) Start() (*Server, error) {
	cfg := g.cfg
	s := &Server{g: g, errs: make(chan error, 3), hup: make(chan os.Signal, 1)}
	// Caught from the start, so a SIGHUP that comes early reloads rather than kills.
	signal.Notify(s.hup, syscall.SIGHUP)

	var api http.Handler
	// clientCAs verify the Gateway API's client certificates (control_api_use_mutual_tls).
	var clientCAs *x509.CertPool
	if len(strings.TrimSpace(cfg.Secret)) < minSecretLength && cfg.SecretProblem() == "" {
		g.log.Warn("the secret is short; anyone who guesses it controls the gateway: use a long random value (openssl rand -hex 32)", "length", len(cfg.Secret))
	}
	if problem := cfg.SecretProblem(); problem != "" {
		msg := "the Gateway API is not running: " + problem
		g.mu.Lock()
		g.adminProblem = msg
		g.mu.Unlock()
		g.log.Warn(msg)
	} else {
		var clientCerts func() map[[32]byte]bool
		pool, allowed, err := g.controlClientCerts()
		if err != nil {
			signal.Stop(s.hup)
			return nil, fmt.Errorf("loading the Gateway API's client certificates: %w", err)
		}
		if pool != nil {
			g.controlCerts.Store(&controlCertSet{pool: pool, allowed: allowed})
			clientCAs = pool
			clientCerts = func() map[[32]byte]bool { return g.controlCerts.Load().allowed }
		}
		api = admin.New(admin.Options{
			Secret:                 cfg.Secret,
			Backend:                g,
			Sessions:               g.sessions,
			Counters:               g.store,
			Store:                  g.store,
			Certs:                  g.certStore,
			OAuthRedirectSeparator: cfg.OAuthRedirectURISeparator,
			AllowMasterKeys:        cfg.AllowMasterKeys,
			HealthPath:             cfg.HealthCheckEndpointName,
			ReadyPath:              cfg.ReadinessCheckEndpointName,
			Logger:                 g.log,
			Status:                 g,
			Profiler:               cfg.EnableHTTPProfiler,
			WriteTimeout:           seconds(cfg.HTTPServerOptions.WriteTimeout),
			ClientCerts:            clientCerts,
		})
	}

	mainHandler := http.Handler(g)
	switch {
	case api != nil && cfg.ControlOnMainListener():
		mainHandler = withAPI(g, api, cfg, true, cfg.EnableHTTPProfiler)
	case api == nil:
		mainHandler = withAPI(g, admin.CheckHandler(g, cfg.HealthCheckEndpointName, cfg.ReadinessCheckEndpointName), cfg, false, false)
	}

	var err error
	if s.mainLn, err = net.Listen("tcp", cfg.ListenAddr()); err != nil {
		signal.Stop(s.hup)
		return nil, fmt.Errorf("listening on %s: %w", cfg.ListenAddr(), err)
	}
	g.listenPort.Store(int32(s.mainLn.Addr().(*net.TCPAddr).Port))
	maxConns := maxConnections(cfg.HTTPServerOptions.MaxConnections)
	s.mainLn = limitConnections(s.mainLn, maxConns, g.log)
	s.main = g.httpServer(limitRequests(mainHandler, maxConns, g.log))
	if s.main.TLSConfig != nil {
		g.askForClientCerts(s.main)
	}
	if api != nil && !cfg.ControlOnMainListener() {
		if s.ctlLn, err = net.Listen("tcp", cfg.ControlAddr()); err != nil {
			signal.Stop(s.hup)
			s.mainLn.Close()
			return nil, fmt.Errorf("listening for the Gateway API on %s: %w", cfg.ControlAddr(), err)
		}
		s.ctlLn = limitConnections(s.ctlLn, maxConns, g.log)
		s.control = g.httpServer(api)
		if clientCAs != nil {
			requireClientCerts(s.control, &g.controlCerts)
		}
	}
	if err := s.listenMetrics(maxConns); err != nil {
		signal.Stop(s.hup)
		s.mainLn.Close()
		if s.ctlLn != nil {
			s.ctlLn.Close()
		}
		return nil, err
	}
	if s.control != nil {
		go s.serve(s.control, s.ctlLn)
		g.log.Info("Gateway API listening", "addr", s.ctlLn.Addr().String(), "tls", g.certs != nil)
	}
	go s.serve(s.main, s.mainLn)
	g.log.Info("gateway listening", "addr", s.mainLn.Addr().String(), "apis", len(g.snap.Load().apis),
		"tls", g.certs != nil, "http2", g.protocols().HTTP2() || g.protocols().UnencryptedHTTP2(), "max_connections", maxConns)
	return s, nil
}

// withAPI serves the health and readiness checks (with tyk the /tyk/ paths, with profiler
// /debug/pprof/) from api, the rest from gw.
func withAPI(gw http.Handler, api http.Handler, cfg *config.Config, tyk, profiler bool) http.Handler {
	health, ready := cfg.HealthPath(), cfg.ReadyPath()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == health || p == ready || tyk && strings.HasPrefix(p, "/tyk/") || profiler && strings.HasPrefix(p, admin.ProfilerPath) {
			// The path as sent must be the path served: a dot segment, an encoded slash or
			// merged slashes get the same 400 as on any API, not a redirect or a 404 from the
			// Gateway API's router.
			if raw, err := router.RawPath(r); err != nil || !canonicalAs(raw, p) {
				chain.WriteError(w, http.StatusBadRequest, chain.MsgBadRequest)
				return
			}
			api.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})
}

// canonicalAs reports whether a raw path is canonical and decodes to path.
func canonicalAs(raw, path string) bool {
	canon, err := router.Canonicalize(raw)
	return err == nil && canon == path
}

func (g *Gateway) httpServer(h http.Handler) *http.Server {
	o := g.cfg.HTTPServerOptions
	h = writeProgress(headerLimit(closeAfterChunked(h), o.MaxHeaderBytes), seconds(o.WriteProgressTimeout), seconds(o.WriteTimeout))
	var connState func(net.Conn, http.ConnState)
	if o.WriteProgressTimeout > 0 {
		// The connections come from progressListener (Server.serve).
		connState = releaseHijacked
	}
	return &http.Server{
		Handler:        h,
		MaxHeaderBytes: o.MaxHeaderBytes,
		ConnState:      connState,
		// Each connection's context can carry the state of the HTTP/1 request being served on
		// it, which saves copying every request to carry it (ServeHTTP, reqctx.Conn).
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return reqctx.NewConn(ctx) },
		// "OPTIONS *" reaches the handler, which refuses it, rather than getting Go's 200.
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            seconds(o.ReadHeaderTimeout),
		ReadTimeout:                  seconds(o.ReadTimeout),
		WriteTimeout:                 seconds(o.WriteTimeout),
		IdleTimeout:                  seconds(o.IdleTimeout),
		ErrorLog:                     log.New(serverLog{g.log}, "", 0),
		// With use_ssl, every listener serves TLS (see tls.go); Serve then uses ServeTLS.
		TLSConfig: g.tlsConfig(),
		Protocols: g.protocols(),
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: maxStreams},
	}
}

// serverLog takes what net/http logs: at debug level what clients cause (a broken TLS handshake,
// a malformed request), and at error level a handler's panic, which net/http recovers from by
// dropping the connection, and which is a bug of the gateway's to report.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	if strings.HasPrefix(msg, "http: panic serving") || strings.HasPrefix(msg, "http2: panic serving") {
		l.log.Error("a handler panicked; its connection was dropped (please report this)", "panic", msg)
	} else {
		l.log.Debug(msg)
	}
	return len(p), nil
}

// closeAfterChunked closes the connection after answering any request with a Transfer-Encoding.
// Go drops a Content-Length sent alongside it before a handler sees the request, so such a
// request may have been framed differently by a proxy in front of us (CL.TE smuggling): RFC 9112
// 6.1 says to close the connection after answering it, whatever the answer.
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// serve serves srv (from httpServer) on ln, whose connections it wraps for
// write_progress_timeout (progressListener).
func (s *Server) serve(srv *http.Server, ln net.Listener) {
	ln = progressListener(ln, seconds(s.g.cfg.HTTPServerOptions.WriteProgressTimeout))
	serve := srv.Serve
	if srv.TLSConfig != nil {
		// The certificates come from TLSConfig.GetCertificate; ServeTLS adds h2 to the
		// offered protocols when srv.Protocols allows HTTP/2.
		serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
	}
	if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.errs <- err
	}
}

// Addr returns the proxy listener's address.
func (s *Server) Addr() string { return s.mainLn.Addr().String() }

// ControlAddr returns the Gateway API listener's address, or "" when the Gateway API shares the
// proxy listener or is not running.
func (s *Server) ControlAddr() string {
	if s.ctlLn == nil {
		return ""
	}
	return s.ctlLn.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests until ctx ends, then
// closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	signal.Stop(s.hup)
	var errs []error
	for _, srv := range []*http.Server{s.main, s.control, s.metrics} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			srv.Close()
		}
	}
	return errors.Join(errs...)
}

// Run serves until ctx ends, reloading on SIGHUP, then shuts down gracefully within the
// configured grace period (graceful_shutdown_timeout_duration) and closes the gateway.
func (s *Server) Run(ctx context.Context) error {
	var runErr error
loop:
	for {
		select {
		case <-s.hup:
			s.g.log.Info("SIGHUP: reloading")
			_ = s.g.Reload(ctx, false)
		case err := <-s.errs:
			runErr = err
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	s.g.Stopping()
	if d := s.g.cfg.ShutdownDelay(); d > 0 {
		// Time for load balancers to see /ready fail and send traffic elsewhere; until then
		// this gateway serves as before. A second signal ends the process at once (cmd).
		s.g.log.Info("shutting down: /ready answers 503; serving on before draining", "delay", d)
		t := time.NewTimer(d)
	delay:
		for {
			select {
			case <-t.C:
				break delay
			case <-s.hup:
				s.g.log.Info("SIGHUP: reloading")
				_ = s.g.Reload(context.Background(), false)
			case err := <-s.errs:
				t.Stop()
				if runErr == nil {
					runErr = err
				}
				break delay
			}
		}
	}
	s.g.log.Info("shutting down: draining in-flight requests", "grace", s.g.cfg.GraceTimeout())
	sctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.GraceTimeout())
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		s.g.log.Warn("requests still in flight at the end of the grace period were cut", "error", err)
	}
	if err := s.g.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
