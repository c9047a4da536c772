package config

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// ListenerTLS returns the TLS settings of the gateway's listeners (the proxy and a separate
// Gateway API listener) when http_server_options.use_ssl is set: the certificates to load and
// the resolved versions and cipher suites. Load has validated them; for a hand-built
// configuration, Validate reports what this would get wrong.
func (c *Config) ListenerTLS() ([]tlsconf.Pair, tlsconf.Options) {
	o := c.HTTPServerOptions
	var pairs []tlsconf.Pair
	for i, cf := range o.Certificates {
		pairs = append(pairs, tlsconf.Pair{
			Domain:   cf.DomainName,
			Source:   fmt.Sprintf("http_server_options.certificates[%d]", i),
			CertFile: cf.CertFile,
			KeyFile:  cf.KeyFile,
		})
	}
	for i, f := range o.SSLCertificates {
		pairs = append(pairs, tlsconf.Pair{Source: fmt.Sprintf("http_server_options.ssl_certificates[%d]", i), CertFile: f})
	}
	lo, hi, _ := tlsconf.ResolveVersions(o.MinVersion, o.MaxVersion, "", "")
	if lo == 0 {
		lo, hi = tlsconf.DefaultMinVersion, tlsconf.DefaultMaxVersion
	}
	ids, _, _ := tlsconf.CipherSuites(o.SSLCiphers, "")
	return pairs, tlsconf.Options{MinVersion: lo, MaxVersion: hi, CipherSuites: ids}
}

// checkTLS validates the listener TLS keys of http_server_options.
func (c *Config) checkTLS(add func(string, ...any), note func(string, ...any)) {
	const p = "http_server_options."
	o := c.HTTPServerOptions
	lo, _, err := tlsconf.ResolveVersions(o.MinVersion, o.MaxVersion, p+"min_version", p+"max_version")
	if err != nil {
		add("%v", err)
	}
	ids, notes, err := tlsconf.CipherSuites(o.SSLCiphers, p+"ssl_ciphers")
	if err != nil {
		add("%v", err)
	}
	for _, n := range notes {
		note("%s", n)
	}
	for i, cf := range o.Certificates {
		if strings.TrimSpace(cf.CertFile) == "" || strings.TrimSpace(cf.KeyFile) == "" {
			add("%scertificates[%d] needs both cert_file and key_file", p, i)
		}
	}
	for i, f := range o.SSLCertificates {
		if strings.TrimSpace(f) == "" {
			add("%sssl_certificates[%d] is empty; give the path of a PEM file holding a certificate and its key", p, i)
		}
	}
	if !o.UseSSL {
		if len(o.Certificates) > 0 || len(o.SSLCertificates) > 0 {
			note("%suse_ssl is false, so the certificates configured are not served: the listeners speak plain HTTP", p)
		}
		return
	}
	if len(o.Certificates) == 0 && len(o.SSLCertificates) == 0 {
		add("%suse_ssl is true but no certificate is configured; set %scertificates "+
			"([{\"domain_name\", \"cert_file\", \"key_file\"}]) or %sssl_certificates (PEM files holding a certificate and its key)", p, p, p)
	}
	if err == nil && lo != 0 && o.EnableHTTP2 {
		if why := tlsconf.HTTP2CipherProblem(ids, lo); why != "" {
			add("%senable_http2 is true and %sssl_ciphers allows TLS 1.2, but %s; add one, or set %smin_version to 772", p, p, why, p)
		}
	}
	if lo != 0 && lo < tlsconf.DefaultMinVersion {
		note("%smin_version %d lets clients use TLS older than 1.2, which is deprecated (RFC 8996)", p, o.MinVersion)
	}
	if o.EnableH2C {
		note("%senable_h2c applies only to listeners without TLS; with use_ssl, HTTP/2 is enable_http2", p)
	}
}
