package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpstreamTLSValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // "" for a valid config
	}{
		{name: "defaults", modify: func(*Config) {}},
		{name: "tyk numbers", modify: func(c *Config) { c.ProxySSLMinVersion, c.ProxySSLMaxVersion = 771, 772 }},
		{name: "min above max", modify: func(c *Config) { c.ProxySSLMinVersion, c.ProxySSLMaxVersion = 772, 771 },
			want: "proxy_ssl_min_version 772 (TLS 1.3) is above proxy_ssl_max_version 771 (TLS 1.2)"},
		{name: "max alone below 1.2", modify: func(c *Config) { c.ProxySSLMaxVersion = 770 },
			want: "proxy_ssl_max_version 770 (TLS 1.1) is below the default"},
		{name: "not a version", modify: func(c *Config) { c.ProxySSLMinVersion = 12 },
			want: "proxy_ssl_min_version is 12, which is not a TLS version"},
		{name: "known ciphers", modify: func(c *Config) {
			c.ProxySSLCiphers = []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"}
		}},
		{name: "unknown cipher", modify: func(c *Config) { c.ProxySSLCiphers = []string{"TLS_RSA_WITH_RC4_128_MD4"} },
			want: `proxy_ssl_ciphers: unknown cipher suite "TLS_RSA_WITH_RC4_128_MD4"`},
		{name: "upstream certificates", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"*": "a.pem", "*.example.com": "b.pem", "api.example.com": "c.pem", "10.0.0.1": "d.pem"}
		}},
		{name: "upstream certificate with a scheme", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"https://api.example.com": "a.pem"}
		}, want: `security.certificates.upstream: the key "https://api.example.com" is not`},
		{name: "upstream certificate with a port", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"api.example.com:443": "a.pem", "*.example.com:8443": "b.pem"}
		}},
		{name: "upstream certificate with a port out of range", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"api.example.com:0": "a.pem"}
		}, want: `the key "api.example.com:0" has a port that is not a number from 1 to 65535`},
		{name: "upstream certificate in upper case", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"API.example.com": "a.pem"}
		}, want: `the key "API.example.com" is not`},
		{name: "pinned public keys", modify: func(c *Config) {
			c.Security.PinnedPublicKeys = map[string]string{"*": "a.pem", "api.example.com": "b.pem, " + strings.Repeat("ab", 32)}
		}},
		{name: "pinned public keys for a URL", modify: func(c *Config) {
			c.Security.PinnedPublicKeys = map[string]string{"https://api.example.com/": "a.pem"}
		}, want: `security.pinned_public_keys: the key "https://api.example.com/" is not`},
		{name: "pinned public keys empty", modify: func(c *Config) {
			c.Security.PinnedPublicKeys = map[string]string{"api.example.com": " , "}
		}, want: `security.pinned_public_keys["api.example.com"] lists no public key`},
		{name: "too many pinned public keys", modify: func(c *Config) {
			c.Security.PinnedPublicKeys = map[string]string{"*": strings.Repeat("k.pem,", 101)}
		}, want: `security.pinned_public_keys["*"] lists more than 100 public keys`},
		{name: "upstream certificate without a file", modify: func(c *Config) {
			c.Security.Certificates.Upstream = map[string]string{"api.example.com": " "}
		}, want: `security.certificates.upstream["api.example.com"] is empty`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.modify(c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestUpstreamTLSResolved(t *testing.T) {
	c := Default()
	lo, hi, ciphers := c.UpstreamTLS()
	if lo != tls.VersionTLS12 || hi != tls.VersionTLS13 || ciphers != nil {
		t.Errorf("defaults: %x %x %v, want TLS 1.2 to 1.3 and Go's suites", lo, hi, ciphers)
	}
	c.ProxySSLMinVersion, c.ProxySSLCiphers = 772, []string{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"}
	lo, hi, ciphers = c.UpstreamTLS()
	if lo != tls.VersionTLS13 || hi != tls.VersionTLS13 || len(ciphers) != 1 || ciphers[0] != tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("configured: %x %x %v", lo, hi, ciphers)
	}
}

// TestUpstreamKeysFromFileAndEnvironment: the keys load from tyk.conf's shape, relative paths
// resolve against the file's directory, and the environment sets the certificate map as
// KEY=VALUE pairs.
func TestUpstreamKeysFromFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tyk.conf")
	conf := `{"listen_address": "127.0.0.1", "proxy_ssl_insecure_skip_verify": false,
		"proxy_ssl_min_version": 771, "proxy_ssl_max_version": 772, "proxy_enable_http2": true,
		"proxy_ssl_ciphers": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"], "proxy_ssl_disable_renegotiation": true,
		"proxy_ssl_ca_file": "tls/ca.pem",
		"security": {"certificates": {"upstream": {"*": "tls/client.pem", "api.example.com": "/etc/api.pem"}},
			"pinned_public_keys": {"*": "tls/pin.pem, org` + strings.Repeat("ab", 32) + `,/etc/pin.pem"}}}`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, warnings := mustLoad(t, path, nil)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	check(t, "proxy_ssl_ca_file", c.ProxySSLCAFile, filepath.Join(dir, "tls", "ca.pem"))
	check(t, "security.certificates.upstream", c.Security.Certificates.Upstream,
		map[string]string{"*": filepath.Join(dir, "tls", "client.pem"), "api.example.com": "/etc/api.pem"})
	check(t, "security.pinned_public_keys", c.Security.PinnedPublicKeys,
		map[string]string{"*": filepath.Join(dir, "tls", "pin.pem") + ",org" + strings.Repeat("ab", 32) + ",/etc/pin.pem"})
	check(t, "versions", [2]int{c.ProxySSLMinVersion, c.ProxySSLMaxVersion}, [2]int{771, 772})
	check(t, "flags", [2]bool{c.ProxyEnableHTTP2, c.ProxySSLDisableRenegotiation}, [2]bool{true, true})

	c, _ = mustLoad(t, path, []string{"GATEHOUSE_SECURITY_CERTIFICATES_UPSTREAM=*=/a.pem, api.example.com = /b.pem"})
	check(t, "from the environment", c.Security.Certificates.Upstream, map[string]string{"*": "/a.pem", "api.example.com": "/b.pem"})

	c, _ = mustLoad(t, path, []string{`GATEHOUSE_SECURITY_PINNED_PUBLIC_KEYS={"api.example.com": "a.pem,b.pem"}`})
	check(t, "pins from the environment, as JSON", c.Security.PinnedPublicKeys, map[string]string{"api.example.com": "a.pem,b.pem"})
	if _, _, err := Load(path, []string{`GATEHOUSE_SECURITY_PINNED_PUBLIC_KEYS={"api.example.com": 1}`}); err == nil ||
		!strings.Contains(err.Error(), "JSON object of strings") {
		t.Errorf("a JSON map variable holding a number: %v, want an error", err)
	}

	if _, _, err := Load(path, []string{"GATEHOUSE_SECURITY_CERTIFICATES_UPSTREAM=no-pair"}); err == nil ||
		!strings.Contains(err.Error(), "KEY=VALUE") {
		t.Errorf("a map variable without pairs: %v, want an error", err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte(`{"security": {"certificates": {"upstream": {"*": 1}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(bad, nil); err == nil || !strings.Contains(err.Error(), `security.certificates.upstream["*"] must be a string`) {
		t.Errorf("a certificate map holding a number: %v", err)
	}
}
