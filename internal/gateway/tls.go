package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/middleware/mtls"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// TLS at the edge: the listeners' certificates, re-read on every reload, and the protocols each
// listener speaks.

// readCert reads a reference to certificates or keys: a file, or an id of the certificate
// store (its private key decrypted), waiting for the store at most its timeout. A reference is
// read once per reload, however many APIs name it (their checks of what changed too).
func (g *Gateway) readCert(ref string) ([]byte, error) {
	m := &g.certReads
	m.mu.Lock()
	r, ok := m.m[ref]
	m.mu.Unlock()
	if ok {
		return r.data, r.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.StorageTimeout())
	defer cancel()
	data, err := g.certStore.Read(ctx, ref)
	if errors.Is(err, storage.ErrUnavailable) {
		// Not remembered: the store may answer the next read (at start, once it is waited for).
		return data, err
	}
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]certRead{}
	}
	m.m[ref] = certRead{data, err}
	m.mu.Unlock()
	return data, err
}

// certReads remembers what readCert read since the reload began.
type certReads struct {
	mu sync.Mutex
	m  map[string]certRead
}

type certRead struct {
	data []byte
	err  error
}

// forget starts a reload's reads afresh.
func (c *certReads) forget() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// readListenerCert is readCert for the listeners' certificates: one removed from the store
// stops being served at the next reload (tlsconf.Absent).
func (g *Gateway) readListenerCert(ref string) ([]byte, error) {
	data, err := g.readCert(ref)
	if errors.Is(err, certstore.ErrNotFound) {
		err = tlsconf.Absent{Err: err}
	}
	return data, err
}

// waitForCertStore waits for Redis, for as long as it takes, when the listeners' certificates
// are in the certificate store: the gateway cannot serve TLS without them (Tyk waits too). It
// reports whether there was a Redis to wait for.
func (g *Gateway) waitForCertStore() bool {
	w, ok := g.store.(interface{ WaitConnected(context.Context) error })
	if !ok {
		return false
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.WaitConnected(ctx)
		cancel()
		if err == nil {
			return true
		}
		g.log.Warn("Redis is not ready: waiting for it, as the listeners' certificates are in the certificate store (http_server_options.ssl_certificates)", "error", err)
	}
}

// loadCerts reads the listeners' certificates when http_server_options.use_ssl is set. A
// certificate that cannot be used stops the start. waited reports that Redis was waited for
// (and so answers), the certificates being in the certificate store.
func (g *Gateway) loadCerts() (waited bool, err error) {
	if !g.cfg.HTTPServerOptions.UseSSL {
		return false, nil
	}
	pairs, opts := g.cfg.ListenerTLS()
	inStore := false
	for i, p := range pairs {
		pairs[i].Read = g.readListenerCert
		if certstore.InStore(p.CertFile) {
			inStore = true
		}
	}
	if inStore {
		waited = g.waitForCertStore()
		// tyk.conf's upstream certificates and pins may have been read before Redis answered.
		_ = g.transports.refresh(false)
	}
	certs, err := tlsconf.Load(pairs)
	if err != nil {
		return waited, fmt.Errorf("loading the TLS certificates: %w", err)
	}
	g.certs, g.tlsOpts = certs, opts
	for _, e := range certs.Expiry() {
		g.log.Warn("a TLS certificate will not serve as configured", "certificate", e)
	}
	return waited, nil
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
		warn("tls_certificate", "system", "listener certificate: "+e)
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

// controlCertSet is security.certificates.control_api as last read successfully: the pool the
// handshake verifies against and the certificates' sums each request is checked against.
type controlCertSet struct {
	pool    *x509.CertPool
	allowed map[[32]byte]bool
}

// refreshControlCerts reads security.certificates.control_api again, at a reload, so that a
// rotated or revoked operator certificate takes effect without a restart; files that cannot be
// read keep the previous list, logged.
func (g *Gateway) refreshControlCerts() {
	if g.controlCerts.Load() == nil {
		return
	}
	pool, allowed, err := g.controlClientCerts()
	if err != nil {
		g.log.Error("the Gateway API's client certificates could not be re-read, so the ones read before are still the only ones let in", "error", err)
		return
	}
	if pool == nil {
		return // not asked for (the configuration is not re-read): a nil pool would trust the system's roots
	}
	g.controlCerts.Store(&controlCertSet{pool: pool, allowed: allowed})
}

// controlClientCerts reads security.certificates.control_api when
// security.control_api_use_mutual_tls is set: the pool the Gateway API listener verifies client
// certificates against, and the sums of the certificates allowed. A file that cannot be read or
// holds no certificate stops the start. nil, nil without mutual TLS.
func (g *Gateway) controlClientCerts() (*x509.CertPool, map[[32]byte]bool, error) {
	if !g.cfg.Security.ControlAPIUseMutualTLS {
		return nil, nil, nil
	}
	pool, allowed := x509.NewCertPool(), map[[32]byte]bool{}
	for i, f := range g.cfg.Security.Certificates.ControlAPI {
		where := fmt.Sprintf("security.certificates.control_api[%d] (%s)", i, f)
		data, err := g.readCert(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		certs, err := mtls.PEMCertificates(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, cert := range certs {
			pool.AddCert(cert)
			allowed[sha256.Sum256(cert.Raw)] = true
		}
	}
	return pool, allowed, nil
}

// requireClientCerts makes srv's TLS handshake require a client certificate that verifies
// against the pool set holds at the time. The pool's names are not announced in the handshake
// (as Tyk's skip_client_ca_announcement): a Go client sends a certificate only when its issuer
// is among those announced, and the pool holds the allowed certificates themselves, not their
// issuers.
func requireClientCerts(srv *http.Server, set *atomic.Pointer[controlCertSet]) {
	tc := srv.TLSConfig.Clone()
	tc.ClientAuth = tls.RequireAnyClientCert
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("a client certificate is required")
		}
		opts := x509.VerifyOptions{Roots: set.Load().pool, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
	srv.TLSConfig = tc
}

// compileServerCerts reads the server certificates a definition's certificates name (files or
// certificate-store ids, each a certificate with its key), nil when it names none or the
// listener has no TLS. One that cannot be used refuses the API: clients asking for its domain
// would be served another name's certificate.
func (g *Gateway) compileServerCerts(def *apidef.APIDefinition, read *certsRead) ([]*tls.Certificate, error) {
	if len(def.Certificates) == 0 || g.certs == nil {
		return nil, nil
	}
	if len(def.Certificates) > maxAPICertificates {
		return nil, fmt.Errorf("certificates: more than %d", maxAPICertificates)
	}
	var certs []*tls.Certificate
	for i, ref := range def.Certificates {
		data, err := g.readCert(ref)
		if err != nil {
			return nil, fmt.Errorf("certificates[%d]: %w", i, err)
		}
		cert, err := tls.X509KeyPair(data, data)
		if err != nil {
			return nil, fmt.Errorf("certificates[%d] (%s): a certificate with its private key is needed", i, ref)
		}
		certs = append(certs, &cert)
		read.add(ref, data)
	}
	return certs, nil
}

// maxAPICertificates bounds the server certificates one definition adds.
const maxAPICertificates = 64

// certsRead are the certificate references (files or store ids) an API's compile read, and a
// hash of what each held then, so that a reload compiles the API again when one changed.
type certsRead struct {
	refs []string
	sums [][32]byte
}

func (c *certsRead) add(ref string, data []byte) {
	c.refs = append(c.refs, ref)
	c.sums = append(c.sums, sha256.Sum256(data))
}

// certsChanged reports whether a reference of c now holds something else, or cannot be read any
// more (a certificate removed from the store). A store that cannot be reached changes nothing.
func (g *Gateway) certsChanged(c *certsRead) bool {
	for i, ref := range c.refs {
		data, err := g.readCert(ref)
		switch {
		case errors.Is(err, storage.ErrUnavailable):
		case err != nil || sha256.Sum256(data) != c.sums[i]:
			return true
		}
	}
	return false
}

// setServerCerts gives the listeners the server certificates of snap's APIs, besides tyk.conf's.
func (g *Gateway) setServerCerts(snap *snapshot) {
	if g.certs == nil {
		return
	}
	var extra []*tls.Certificate
	for _, rt := range snap.apis {
		if rt.rare != nil {
			extra = append(extra, rt.rare.serverCerts...)
		}
	}
	g.certs.SetExtra(extra)
}
