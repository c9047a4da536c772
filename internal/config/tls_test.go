package config

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestListenerTLSKeys(t *testing.T) {
	path := writeConf(t, `{"http_server_options": {
		"use_ssl": true, "enable_http2": true, "enable_h2c": false,
		"certificates": [{"domain_name": "api.example.com", "cert_file": "certs/api.pem", "key_file": "/abs/api-key.pem"}],
		"ssl_certificates": ["certs/both.pem"],
		"min_version": 771, "max_version": 772,
		"ssl_ciphers": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"]
	}}`)
	c, _ := mustLoad(t, path, nil)
	dir := filepath.Dir(path)
	pairs, o := c.ListenerTLS()
	if len(pairs) != 2 {
		t.Fatalf("pairs %+v, want 2", pairs)
	}
	if p := pairs[0]; p.Domain != "api.example.com" || p.CertFile != filepath.Join(dir, "certs/api.pem") ||
		p.KeyFile != "/abs/api-key.pem" || p.Source != "http_server_options.certificates[0]" {
		t.Errorf("pair 0 = %+v (relative paths are relative to the config file)", p)
	}
	if p := pairs[1]; p.CertFile != filepath.Join(dir, "certs/both.pem") || p.KeyFile != "" || p.Source != "http_server_options.ssl_certificates[0]" {
		t.Errorf("pair 1 = %+v", p)
	}
	if o.MinVersion != tls.VersionTLS12 || o.MaxVersion != tls.VersionTLS13 {
		t.Errorf("versions %x..%x", o.MinVersion, o.MaxVersion)
	}
	if !slices.Equal(o.CipherSuites, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}) {
		t.Errorf("cipher suites %x", o.CipherSuites)
	}
	if !c.HTTPServerOptions.EnableHTTP2 || !c.HTTPServerOptions.UseSSL {
		t.Error("use_ssl or enable_http2 not read")
	}
}

func TestListenerTLSDefaults(t *testing.T) {
	c := Default()
	_, o := c.ListenerTLS()
	if o.MinVersion != tls.VersionTLS12 || o.MaxVersion != tls.VersionTLS13 || o.CipherSuites != nil {
		t.Errorf("defaults %+v, want TLS 1.2 to 1.3 and Go's cipher suites", o)
	}
}

func TestListenerTLSFromEnv(t *testing.T) {
	c, _ := mustLoad(t, "", []string{
		"GATEHOUSE_HTTP_SERVER_OPTIONS_USE_SSL=true",
		`GATEHOUSE_HTTP_SERVER_OPTIONS_CERTIFICATES=[{"domain_name":"a.test","cert_file":"a.pem","key_file":"a-key.pem"}]`,
		"GATEHOUSE_HTTP_SERVER_OPTIONS_SSL_CERTIFICATES=b.pem, c.pem",
		"GATEHOUSE_HTTP_SERVER_OPTIONS_MIN_VERSION=772",
		"GATEHOUSE_HTTP_SERVER_OPTIONS_SSL_CIPHERS=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	})
	pairs, o := c.ListenerTLS()
	if len(pairs) != 3 || pairs[0].Domain != "a.test" || pairs[0].KeyFile != "a-key.pem" || pairs[2].CertFile != "c.pem" {
		t.Errorf("pairs %+v", pairs)
	}
	if o.MinVersion != tls.VersionTLS13 {
		t.Errorf("min version %x", o.MinVersion)
	}
	_, _, err := Load("", []string{`GATEHOUSE_HTTP_SERVER_OPTIONS_CERTIFICATES=[{"cert":"a.pem"}]`})
	wantErrContains(t, err, `GATEHOUSE_HTTP_SERVER_OPTIONS_CERTIFICATES`, `unknown field "cert"`)
}

func TestListenerTLSProblems(t *testing.T) {
	const certs = `"certificates": [{"cert_file": "c.pem", "key_file": "k.pem"}]`
	for _, tt := range []struct {
		name string
		opts string
		want []string // "" : valid
		note string
	}{
		{"valid", `"use_ssl": true, ` + certs, nil, ""},
		{"min above max", `"use_ssl": true, ` + certs + `, "min_version": 772, "max_version": 771`,
			[]string{"http_server_options.min_version 772 (TLS 1.3) is above http_server_options.max_version 771 (TLS 1.2)"}, ""},
		{"max alone below 1.2", `"use_ssl": true, ` + certs + `, "max_version": 770`,
			[]string{"http_server_options.max_version 770 (TLS 1.1) is below the default"}, ""},
		{"not a version", `"min_version": 3`,
			[]string{"http_server_options.min_version is 3, which is not a TLS version; use 769 (TLS 1.0), 770 (TLS 1.1), 771 (TLS 1.2) or 772 (TLS 1.3)"}, ""},
		{"unknown cipher", `"ssl_ciphers": ["ECDHE-RSA-AES128-GCM-SHA256"]`,
			[]string{`http_server_options.ssl_ciphers: unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA256"; use Go's names: `, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, ""},
		{"use_ssl without certificates", `"use_ssl": true`,
			[]string{"http_server_options.use_ssl is true but no certificate is configured"}, ""},
		{"certificate without key", `"use_ssl": true, "certificates": [{"cert_file": "c.pem"}]`,
			[]string{"http_server_options.certificates[0] needs both cert_file and key_file"}, ""},
		{"h2 without its cipher", `"use_ssl": true, "enable_http2": true, ` + certs + `, "ssl_ciphers": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]`,
			[]string{"enable_http2 is true and http_server_options.ssl_ciphers allows TLS 1.2, but HTTP/2 over TLS 1.2 needs"}, ""},
		{"h2 with TLS 1.3 only", `"use_ssl": true, "enable_http2": true, ` + certs + `, "min_version": 772, "ssl_ciphers": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]`, nil, ""},
		{"old TLS noted", `"use_ssl": true, ` + certs + `, "min_version": 769`, nil, "min_version 769 lets clients use TLS older than 1.2"},
		{"certificates without use_ssl noted", certs, nil, "use_ssl is false, so the certificates configured are not served"},
		{"insecure cipher noted", `"ssl_ciphers": ["TLS_RSA_WITH_RC4_128_SHA"]`, nil, "TLS_RSA_WITH_RC4_128_SHA, which Go marks insecure"},
		{"a list of objects", `"certificates": {"cert_file": "c.pem"}`, []string{"http_server_options.certificates must be a list of objects, not an object"}, ""},
		{"wrong type inside", `"certificates": [{"cert_file": 1}]`, []string{"http_server_options.certificates[0].cert_file must be a string"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, warnings, err := Load(writeConf(t, `{"http_server_options": {`+tt.opts+`}}`), nil)
			if len(tt.want) == 0 {
				if err != nil || c == nil {
					t.Fatalf("Load: %v", err)
				}
			} else {
				wantErrContains(t, err, tt.want...)
			}
			if tt.note != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tt.note) }) {
				t.Errorf("warnings %q, want one containing %q", warnings, tt.note)
			}
		})
	}
}

func TestCertificatesUnknownKeyWarned(t *testing.T) {
	_, warnings := mustLoad(t, writeConf(t, `{"http_server_options": {"certificates": [{"cert_file": "c.pem", "key_file": "k.pem", "passphrase": "x"}]}}`), nil)
	if !slices.Contains(warnings, `unknown config key "http_server_options.certificates[0].passphrase" ignored`) {
		t.Errorf("warnings %q, want the unknown key inside certificates named", warnings)
	}
}

func TestControlAPIMutualTLSKeys(t *testing.T) {
	const tlsOn = `"http_server_options": {"use_ssl": true, "certificates": [{"cert_file": "c.pem", "key_file": "k.pem"}]}`
	const own = `"control_api_port": 9699`
	for _, tt := range []struct {
		name, conf string
		want       []string // empty: valid
		note       string
	}{
		{"valid", tlsOn + `, ` + own + `, "security": {"control_api_use_mutual_tls": true, "certificates": {"control_api": ["ops.pem"]}}`, nil, ""},
		{"without use_ssl", own + `, "security": {"control_api_use_mutual_tls": true, "certificates": {"control_api": ["ops.pem"]}}`,
			[]string{"security.control_api_use_mutual_tls is true but http_server_options.use_ssl is false"}, ""},
		{"on the proxy's listener", tlsOn + `, "control_api_port": 0, "security": {"control_api_use_mutual_tls": true, "certificates": {"control_api": ["ops.pem"]}}`,
			[]string{"the Gateway API shares the proxy's listener; set control_api_port to a port of its own"}, ""},
		{"no certificate", tlsOn + `, ` + own + `, "security": {"control_api_use_mutual_tls": true}`,
			[]string{"security.certificates.control_api lists no certificate"}, ""},
		{"an empty entry", tlsOn + `, ` + own + `, "security": {"control_api_use_mutual_tls": true, "certificates": {"control_api": [" "]}}`,
			[]string{"security.certificates.control_api[0] is empty"}, ""},
		{"certificates without the switch noted", own + `, "security": {"certificates": {"control_api": ["ops.pem"]}}`, nil,
			"security.certificates.control_api is set but security.control_api_use_mutual_tls is false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, `{`+tt.conf+`}`)
			c, warnings, err := Load(path, nil)
			if len(tt.want) > 0 {
				wantErrContains(t, err, tt.want...)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.note != "" && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, tt.note) }) {
				t.Errorf("warnings %q, want one containing %q", warnings, tt.note)
			}
			if slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "control_api_use_mutual_tls\" ignored") }) {
				t.Errorf("the key is warned as unknown: %q", warnings)
			}
			if f := c.Security.Certificates.ControlAPI; len(f) != 1 || f[0] != filepath.Join(filepath.Dir(path), "ops.pem") {
				t.Errorf("control_api = %q, want ops.pem relative to the config file", f)
			}
		})
	}
}

// TestCertificateStoreIDsInConfigFile: ids of the certificate store in tyk.conf stay ids (not
// paths beside the file), unless a file of that name is there.
func TestCertificateStoreIDsInConfigFile(t *testing.T) {
	id := "acme" + strings.Repeat("0123456789abcdef", 4)
	shadowed := "globex" + strings.Repeat("fedcba9876543210", 4)
	path := writeConf(t, `{"http_server_options": {"ssl_certificates": ["`+id+`", "`+shadowed+`", "certs/both.pem"]},
		"security": {"certificates": {"upstream": {"*": "`+id+`"}, "control_api": ["`+id+`"], "apis": ["`+id+`"]},
		"pinned_public_keys": {"*": "`+id+`"}}}`)
	dir := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(dir, shadowed), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := mustLoad(t, path, nil)
	got := map[string]string{
		"ssl_certificates[0]": c.HTTPServerOptions.SSLCertificates[0],
		"upstream":            c.Security.Certificates.Upstream["*"],
		"control_api":         c.Security.Certificates.ControlAPI[0],
		"apis":                c.Security.Certificates.APIs[0],
		"pinned_public_keys":  c.Security.PinnedPublicKeys["*"],
	}
	for k, v := range got {
		if v != id {
			t.Errorf("%s = %q, want the id %q", k, v, id)
		}
	}
	if want := filepath.Join(dir, shadowed); c.HTTPServerOptions.SSLCertificates[1] != want {
		t.Errorf("an id with a file of its name beside tyk.conf = %q, want the file %q", c.HTTPServerOptions.SSLCertificates[1], want)
	}
	if want := filepath.Join(dir, "certs/both.pem"); c.HTTPServerOptions.SSLCertificates[2] != want {
		t.Errorf("a path = %q, want %q", c.HTTPServerOptions.SSLCertificates[2], want)
	}
}
