package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// TLS at the edge: the listeners' certificates, re-read on every reload, and the protocols each
// listener speaks.

// loadCerts reads the listeners' certificates when http_server_options.use_ssl is set. A
// certificate that cannot be used stops the start.
func (g *Gateway) loadCerts() error {
	if !g.cfg.HTTPServerOptions.UseSSL {
		return nil
	}
	pairs, opts := g.cfg.ListenerTLS()
	certs, err := tlsconf.Load(pairs)
	if err != nil {
		return fmt.Errorf("loading the TLS certificates: %w", err)
	}
	g.certs, g.tlsOpts = certs, opts
	for _, e := range certs.Expiry() {
		g.log.Warn("TLS certificate out of its validity period", "certificate", e)
	}
	return nil
}

// reloadCerts re-reads the listeners' certificates. When one cannot be used, the ones loaded
// before keep serving, and the problem is logged once and reported by Health until a reload
// reads them all.
func (g *Gateway) reloadCerts() {
	if g.certs == nil {
		return
	}
	problem := ""
	if err := g.certs.Reload(); err != nil {
		problem = "the TLS certificates could not be re-read, so the ones loaded before keep serving: " +
			strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	g.mu.Lock()
	prev := g.certProblem
	g.certProblem = problem
	g.mu.Unlock()
	switch {
	case problem != "" && problem != prev:
		g.log.Error(problem)
	case problem == "" && prev != "":
		g.log.Info("TLS certificates re-read; the new ones serve")
	}
}

// certHealth reports the certificates' problems to Health.
func (g *Gateway) certHealth(warn func(key, kind, out string)) {
	if g.certs == nil {
		return
	}
	g.mu.Lock()
	problem := g.certProblem
	g.mu.Unlock()
	if problem != "" {
		warn("tls", "system", problem)
	}
	for _, e := range g.certs.Expiry() {
		warn("tls_certificate", "system", "a certificate served is out of its validity period: "+e)
	}
}

// tlsConfig returns the listeners' TLS configuration, nil without use_ssl.
func (g *Gateway) tlsConfig() *tls.Config {
	if g.certs == nil {
		return nil
	}
	return tlsconf.ServerConfig(g.certs, g.tlsOpts)
}

// protocols returns what a listener speaks: HTTP/1.1 always; HTTP/2 over TLS with
// enable_http2; cleartext HTTP/2 (prior knowledge) on a plain listener only with enable_h2c.
func (g *Gateway) protocols() *http.Protocols {
	o := g.cfg.HTTPServerOptions
	p := new(http.Protocols)
	p.SetHTTP1(true)
	if g.certs != nil {
		p.SetHTTP2(o.EnableHTTP2)
	} else {
		p.SetUnencryptedHTTP2(o.EnableH2C)
	}
	return p
}
