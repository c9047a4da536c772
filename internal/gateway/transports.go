package gateway

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// transports holds the upstream transports: one per distinct set of settings, so that every API
// without overrides shares one, and an API's own settings (proxy.transport) get a transport of
// their own. They are made when a snapshot is built, never per request, and kept across
// reloads while a snapshot uses them; the others have their idle connections closed.
type transports struct {
	cfg *config.Config
	log *slog.Logger
	// base holds the settings from tyk.conf; lo, hi and ciphers are resolved.
	base proxy.TransportOptions

	mu sync.Mutex
	m  map[transportKey]*http.Transport
	// ca is proxy_ssl_ca_file as last read successfully: the system's roots and its
	// certificates (nil: the system's roots alone); caSum is its content's hash.
	ca    *x509.CertPool
	caSum [32]byte
	// certs are the client certificates of security.certificates.upstream by file path, as
	// last read successfully.
	certs map[string]*clientCert
}

// clientCert is a client certificate file's content, loaded.
type clientCert struct {
	sum  [32]byte
	cert *tls.Certificate
	err  error // why the file cannot be used, when cert is nil
}

// transportKey is everything that tells two transports apart.
type transportKey struct {
	insecure   bool
	commonName string // ssl_force_common_name_check: the one host the transport serves
	lo, hi     uint16
	ciphers    string
	noReneg    bool
	http2, h2c bool
	proxyURL   string
	clientCert string
	certSum    [32]byte
	caSum      [32]byte
}

// newTransports loads the upstream CA file and client certificates the configuration names; a
// file that cannot be read or parsed is an error.
func newTransports(cfg *config.Config, log *slog.Logger) (*transports, error) {
	lo, hi, ciphers := cfg.UpstreamTLS()
	t := &transports{
		cfg: cfg,
		log: log,
		base: proxy.TransportOptions{
			ResponseHeaderTimeout: cfg.ProxyTimeout(),
			InsecureSkipVerify:    cfg.ProxySSLInsecureSkipVerify,
			MinVersion:            lo,
			MaxVersion:            hi,
			CipherSuites:          ciphers,
			DisableRenegotiation:  cfg.ProxySSLDisableRenegotiation,
			HTTP2:                 cfg.ProxyEnableHTTP2,
		},
		m:     map[transportKey]*http.Transport{},
		certs: map[string]*clientCert{},
	}
	if err := t.refresh(true); err != nil {
		return nil, err
	}
	if cfg.ProxySSLInsecureSkipVerify {
		log.Warn("proxy_ssl_insecure_skip_verify is true: no upstream's TLS certificate is checked, so anyone on the path to an upstream can read and change what it is sent")
	}
	return t, nil
}

// refresh re-reads the CA file and the client certificates, so that a reload picks up renewed
// files. A file that became unreadable or invalid keeps its last good content (logged), unless
// strict (at start), when it is an error.
func (t *transports) refresh(strict bool) error {
	var errs []error
	if f := t.cfg.ProxySSLCAFile; f != "" {
		pool, sum, err := loadCAFile(f)
		t.mu.Lock()
		switch {
		case err == nil:
			t.ca, t.caSum = pool, sum
		case strict:
			errs = append(errs, fmt.Errorf("proxy_ssl_ca_file: %w", err))
		default:
			t.log.Error("proxy_ssl_ca_file cannot be used; upstreams keep the CAs last read", "file", f, "error", err)
		}
		t.mu.Unlock()
	}
	for domain, f := range t.cfg.Security.Certificates.Upstream {
		data, err := os.ReadFile(f)
		sum := sha256.Sum256(data)
		t.mu.Lock()
		old := t.certs[f]
		if err == nil && old != nil && old.sum == sum {
			t.mu.Unlock()
			continue
		}
		var cc *clientCert
		if err == nil {
			cert, perr := tls.X509KeyPair(data, data)
			if perr != nil {
				err = fmt.Errorf("%s: a PEM file holding a certificate and its private key is needed: %w", f, perr)
			} else {
				cc = &clientCert{sum: sum, cert: &cert}
			}
		}
		switch {
		case cc != nil:
			t.certs[f] = cc
		case strict:
			errs = append(errs, fmt.Errorf("security.certificates.upstream[%q]: %w", domain, err))
		case old != nil && old.cert != nil:
			t.log.Error("upstream client certificate cannot be used; the one last read stays", "domain", domain, "file", f, "error", err)
		default:
			t.certs[f] = &clientCert{err: err}
		}
		t.mu.Unlock()
	}
	return errors.Join(errs...)
}

// loadCAFile returns the system's roots with the certificates of a PEM file added.
func loadCAFile(file string) (*x509.CertPool, [32]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, [32]byte{}, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, [32]byte{}, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, sha256.Sum256(data), nil
}

// forTarget returns the transport an API forwards to target on: its proxy.transport settings
// over tyk.conf's, field by field. Settings that cannot work (an unknown cipher, versions out
// of order) are an error, which refuses the definition.
func (t *transports) forTarget(def *apidef.APIDefinition, target *url.URL) (http.RoundTripper, error) {
	o := t.base
	tr := def.Proxy.Transport
	o.InsecureSkipVerify = o.InsecureSkipVerify || tr.SSLInsecureSkipVerify
	if tr.SSLMinVersion != 0 || tr.SSLMaxVersion != 0 {
		lo, hi := t.cfg.ProxySSLMinVersion, t.cfg.ProxySSLMaxVersion
		if tr.SSLMinVersion != 0 {
			lo = int(tr.SSLMinVersion)
		}
		if tr.SSLMaxVersion != 0 {
			hi = int(tr.SSLMaxVersion)
		}
		var err error
		if o.MinVersion, o.MaxVersion, err = tlsconf.ResolveVersions(lo, hi, "proxy.transport.ssl_min_version", "proxy.transport.ssl_max_version"); err != nil {
			return nil, err
		}
	}
	if len(tr.SSLCipherSuites) > 0 {
		ids, _, err := tlsconf.CipherSuites(tr.SSLCipherSuites, "proxy.transport.ssl_ciphers")
		if err != nil {
			return nil, err
		}
		o.CipherSuites = ids
	}
	key := transportKey{proxyURL: tr.ProxyURL}
	if tr.ProxyURL != "" {
		u, err := url.Parse(tr.ProxyURL)
		if err != nil {
			return nil, errors.New("proxy.transport.proxy_url is not a URL")
		}
		o.ProxyURL = u
	}
	switch strings.ToLower(target.Scheme) {
	case "h2c":
		// Cleartext: the TLS settings do not apply.
		key.h2c, o.H2C = true, true
	case "https":
		host := strings.ToLower(target.Hostname())
		if tr.SSLForceCommonNameCheck {
			o.CommonName, key.commonName = host, host
		}
		t.mu.Lock()
		o.RootCAs, key.caSum = t.ca, t.caSum
		if f := t.clientCertFile(host); f != "" {
			cc := t.certs[f]
			if cc == nil || cc.cert == nil {
				t.mu.Unlock()
				why := "it was not loaded"
				if cc != nil {
					why = cc.err.Error()
				}
				return nil, fmt.Errorf("the upstream client certificate for %s (security.certificates.upstream) cannot be used: %s", host, why)
			}
			o.ClientCert, key.clientCert, key.certSum = cc.cert, f, cc.sum
		}
		t.mu.Unlock()
		key.insecure, key.lo, key.hi, key.noReneg, key.http2 = o.InsecureSkipVerify, o.MinVersion, o.MaxVersion, o.DisableRenegotiation, o.HTTP2
		key.ciphers = fmt.Sprint(o.CipherSuites)
	default:
		// Plain HTTP: one transport whatever the TLS settings, which do not apply.
		o = proxy.TransportOptions{ResponseHeaderTimeout: o.ResponseHeaderTimeout, ProxyURL: o.ProxyURL}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if rt, ok := t.m[key]; ok {
		return rt, nil
	}
	rt := proxy.NewTransport(o)
	t.m[key] = rt
	return rt, nil
}

// clientCertFile returns the client certificate file for an upstream host: the entry for the
// host itself, else for "*." and its parent domain, else for "*", as Tyk chooses.
func (t *transports) clientCertFile(host string) string {
	m := t.cfg.Security.Certificates.Upstream
	if len(m) == 0 {
		return ""
	}
	if f, ok := m[host]; ok {
		return f
	}
	if _, parent, ok := strings.Cut(host, "."); ok {
		if f, ok := m["*."+parent]; ok {
			return f
		}
	}
	return m["*"]
}

// retain keeps the transports snap forwards on and closes the idle connections of the others,
// which no new request will use. Requests still in flight on the previous snapshot finish on
// them; their connections then idle out.
func (t *transports) retain(snap *snapshot) {
	used := map[http.RoundTripper]bool{}
	for _, rt := range snap.apis {
		for i := range rt.versions {
			v := &rt.versions[i]
			if u, ok := v.upstream.(interface{ Transports() []http.RoundTripper }); ok {
				for _, tr := range u.Transports() {
					used[tr] = true
				}
			}
		}
		if rt.uptime != nil {
			for _, c := range rt.uptime.checks {
				if c.Transport != nil {
					used[c.Transport] = true
				}
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, tr := range t.m {
		if !used[tr] {
			tr.CloseIdleConnections()
			delete(t.m, k)
		}
	}
}

// close closes every transport's idle connections.
func (t *transports) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.m {
		tr.CloseIdleConnections()
	}
}

// logInsecureUpstream warns, once per new or changed definition, that it turns off the check of
// its upstream's certificate.
func (g *Gateway) logInsecureUpstream(prev *snapshot, rt *apiRuntime, def *apidef.APIDefinition) {
	if !def.Proxy.Transport.SSLInsecureSkipVerify {
		return
	}
	if old, ok := prevAPI(prev, rt.id); ok && old.rawSum == rt.rawSum {
		return
	}
	g.log.Warn("API definition turns off the check of its upstream's TLS certificate (proxy.transport.ssl_insecure_skip_verify)", "api_id", rt.id)
}
