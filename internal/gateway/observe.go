package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/observe"
	"github.com/gatehouse/gatehouse/internal/plugin"
)

// statusWriter notes the status of the response written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx answers are interim (103 Early Hints); 101 is final for an upgrade.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes on, for streamed responses.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController (and the proxy's upgrade handling) reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countRefusal counts a request a limit refused, from the error its step failed with.
func countRefusal(obs observe.API, err error) {
	var e *chain.Error
	if !errors.As(err, &e) {
		return
	}
	switch e.Message {
	case chain.MsgRateLimitExceeded:
		obs.Refused(observe.RateLimit)
	case chain.MsgAPIRateLimit:
		obs.Refused(observe.APIRateLimit)
	case chain.MsgQuotaExceeded:
		obs.Refused(observe.Quota)
	}
}

// apiObs returns the handle of an API's metrics, nil when nothing observes.
func (g *Gateway) apiObs(apiID string) observe.API {
	if g.obs == nil {
		return nil
	}
	return g.obs.API(apiID)
}

// pluginObs returns the handle of a plugin hook's metrics, nil when nothing observes.
func (g *Gateway) pluginObs(apiID, phase, symbol string) observe.Plugin {
	if g.obs == nil {
		return nil
	}
	return g.obs.Plugin(apiID, phase, symbol)
}

// loadReason classifies why a plugin hook could not be loaded, for the load failure metric:
// a small fixed set, never the error's text.
func loadReason(err error) string {
	var le *loadError
	switch {
	case errors.As(err, &le):
		return le.reason
	case errors.Is(err, plugin.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return "not_found"
	case errors.Is(err, plugin.ErrChanged):
		return "changed"
	case errors.Is(err, plugin.ErrUnsupported):
		return "unsupported"
	case strings.Contains(err.Error(), "symbol"):
		return "symbol"
	}
	return "open"
}

// loadError marks the stage a plugin load failed at, for loadReason; its text is the cause's.
type loadError struct {
	reason string
	err    error
}

func (e *loadError) Error() string { return e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// listenMetrics binds the metrics listener (prometheus.listen_address) and serves the metrics
// at prometheus.path, with TLS when the other listeners have it. The default address being
// taken (another gatehouse on the machine) is a warning, and the gateway serves without
// metrics; an address the configuration chose must bind.
func (s *Server) listenMetrics(maxConns int) error {
	g := s.g
	if g.prom == nil {
		return nil
	}
	pc := g.cfg.Prometheus
	ln, err := net.Listen("tcp", pc.ListenAddress)
	if err != nil {
		if pc.ListenAddress == config.DefaultPrometheusAddress {
			g.log.Warn("metrics are not served: the default metrics address is taken; set prometheus.listen_address to serve them",
				"addr", pc.ListenAddress, "error", err)
			return nil
		}
		return fmt.Errorf("listening for metrics on %s (prometheus.listen_address): %w", pc.ListenAddress, err)
	}
	s.metricsLn = limitConnections(ln, maxConns, g.log)
	// The path is compared as written, not made a ServeMux pattern: a "{" in it would be a
	// wildcard, or a pattern ServeMux refuses with a panic.
	metrics, path := g.prom.Handler(), pc.Path
	s.metrics = g.httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		metrics.ServeHTTP(w, r)
	}))
	go s.serve(s.metrics, s.metricsLn)
	g.log.Info("metrics listening", "addr", ln.Addr().String(), "path", pc.Path, "tls", g.certs != nil)
	return nil
}

// MetricsAddr returns the metrics listener's address, or "" when metrics are not served.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}
