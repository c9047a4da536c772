package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"

	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// UpstreamTLS returns the resolved TLS versions and cipher suites spoken to upstreams
// (proxy_ssl_min_version, proxy_ssl_max_version and proxy_ssl_ciphers): TLS 1.2 to 1.3 and Go's
// suites unless configured. Load has validated them; for a hand-built configuration, Validate
// reports what this would get wrong.
func (c *Config) UpstreamTLS() (lo, hi uint16, ciphers []uint16) {
	lo, hi, err := tlsconf.ResolveVersions(c.ProxySSLMinVersion, c.ProxySSLMaxVersion, "", "")
	if err != nil {
		lo, hi = tlsconf.DefaultMinVersion, tlsconf.DefaultMaxVersion
	}
	ciphers, _, _ = tlsconf.CipherSuites(c.ProxySSLCiphers, "")
	return lo, hi, ciphers
}

// checkUpstreamTLS validates the keys of the TLS spoken to upstreams.
func (c *Config) checkUpstreamTLS(add func(string, ...any), note func(string, ...any)) {
	lo, _, err := tlsconf.ResolveVersions(c.ProxySSLMinVersion, c.ProxySSLMaxVersion, "proxy_ssl_min_version", "proxy_ssl_max_version")
	if err != nil {
		add("%v", err)
	} else if lo < tlsconf.DefaultMinVersion {
		note("proxy_ssl_min_version %d lets the gateway speak TLS older than 1.2 to upstreams, which is deprecated (RFC 8996)", c.ProxySSLMinVersion)
	}
	_, notes, err := tlsconf.CipherSuites(c.ProxySSLCiphers, "proxy_ssl_ciphers")
	if err != nil {
		add("%v", err)
	}
	for _, n := range notes {
		note("%s", n)
	}
	// proxy_ssl_insecure_skip_verify is logged by the gateway, once, where it takes effect.
	for _, domain := range slices.Sorted(maps.Keys(c.Security.Certificates.Upstream)) {
		if why := apidef.UpstreamHostKeyProblem(domain); why != "" {
			add("security.certificates.upstream: %s", why)
		}
		if strings.TrimSpace(c.Security.Certificates.Upstream[domain]) == "" {
			add("security.certificates.upstream[%q] is empty; give the path of a PEM file holding "+
				"the client certificate and its private key", domain)
		}
	}
	for _, domain := range slices.Sorted(maps.Keys(c.Security.PinnedPublicKeys)) {
		if why := apidef.UpstreamHostKeyProblem(domain); why != "" {
			add("security.pinned_public_keys: %s", why)
		}
		if _, err := apidef.PinnedKeys(c.Security.PinnedPublicKeys[domain]); err != nil {
			add("security.pinned_public_keys[%q] %v", domain, err)
		}
	}
}
