package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// tlsUpstream is an https upstream on loopback that records what it saw of each request.
type tlsUpstream struct {
	URL    string
	srv    *httptest.Server
	mu     sync.Mutex
	protos []int
	peers  []string // the client certificate's common name, "" without one
	closed atomic.Int32
}

// startTLSUpstream starts an https upstream serving cert; configure adjusts its TLS config, and
// http2 offers h2 by ALPN.
func startTLSUpstream(t *testing.T, cert tls.Certificate, http2 bool, configure func(*tls.Config)) *tlsUpstream {
	t.Helper()
	u := &tlsUpstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		u.mu.Lock()
		u.protos = append(u.protos, r.ProtoMajor)
		u.peers = append(u.peers, peer)
		u.mu.Unlock()
		fmt.Fprintf(w, "tls upstream: HTTP/%d peer=%q path=%s", r.ProtoMajor, peer, r.URL.Path)
	}))
	u.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if configure != nil {
		configure(u.srv.TLS)
	}
	u.srv.EnableHTTP2 = http2
	// Refused handshakes are the point of several tests; they need not fill the output.
	u.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	u.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			u.closed.Add(1)
		}
	}
	u.srv.StartTLS()
	t.Cleanup(u.srv.Close)
	u.URL = u.srv.URL
	return u
}

func (u *tlsUpstream) last(t *testing.T) (proto int, peer string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.protos) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.protos[len(u.protos)-1], u.peers[len(u.peers)-1]
}

func (u *tlsUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.protos)
}

const proxyFailed = "There was a problem proxying the request"

// TestUpstreamTLSVerification: an upstream whose certificate chains to a private CA is refused
// by default, with Tyk's error and a hint in the log, and served once the CA is trusted through
// proxy_ssl_ca_file or verification is turned off globally.
func TestUpstreamTLSVerification(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, nil)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	api := func() []*apidef.APIDefinition { return []*apidef.APIDefinition{gt.API("tls", "/tls/", up.URL+"/base")} }

	t.Run("system roots only", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: api()})
		g.Run(t, gt.Case{Path: "/tls/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed})
		if logs := g.Logs(); !contains(logs, "certificate") || !contains(logs, "proxy_ssl_ca_file") {
			t.Errorf("the log does not say the certificate was refused, with a hint:\n%s", logs)
		}
		if n := up.count(); n != 0 {
			t.Errorf("the upstream received %d requests over an unverified connection", n)
		}
	})
	t.Run("proxy_ssl_ca_file", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: api(), Config: func(c *config.Config) { c.ProxySSLCAFile = caFile }})
		g.Run(t, gt.Case{Path: "/tls/x", Code: http.StatusOK, BodyMatch: `HTTP/1 .*path=/base/x`})
	})
	t.Run("proxy_ssl_insecure_skip_verify", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: api(), Config: func(c *config.Config) { c.ProxySSLInsecureSkipVerify = true }})
		g.Run(t, gt.Case{Path: "/tls/x", Code: http.StatusOK})
		if n := countLines(g.Logs(), "proxy_ssl_insecure_skip_verify is true"); n != 1 {
			t.Errorf("the global skip was logged %d times, want once:\n%s", n, g.Logs())
		}
	})
	t.Run("unreadable CA file", func(t *testing.T) {
		bad := certtest.WriteFile(t, t.TempDir(), "ca.pem", []byte("not a certificate"))
		cfg := config.Default()
		cfg.ProxySSLCAFile = bad
		_, err := newGatewayErr(t, cfg)
		if err == nil || !contains(err.Error(), "proxy_ssl_ca_file") {
			t.Errorf("gateway.New with a CA file holding no certificate: %v, want an error naming proxy_ssl_ca_file", err)
		}
	})
}

// TestUpstreamInsecureSkipVerifyPerAPI: proxy.transport.ssl_insecure_skip_verify affects only
// the API that sets it, and is logged once per definition load, not per request or reload.
func TestUpstreamInsecureSkipVerifyPerAPI(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, nil)
	insecure := gt.API("insecure", "/insecure/", up.URL)
	insecure.Proxy.Transport.SSLInsecureSkipVerify = true
	checked := gt.API("checked", "/checked/", up.URL)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{insecure, checked}})
	for range 3 {
		g.Run(t,
			gt.Case{Name: "insecure API", Path: "/insecure/x", Code: http.StatusOK},
			gt.Case{Name: "other API to the same upstream", Path: "/checked/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed},
		)
	}
	g.Reload()
	g.Reload()
	g.Run(t, gt.Case{Name: "after reloads", Path: "/checked/x", Code: http.StatusBadGateway})
	logs := g.Logs()
	if n := countLines(logs, "ssl_insecure_skip_verify"); n != 1 {
		t.Errorf("the skip was logged %d times, want once:\n%s", n, logs)
	}
	if l := linesWith(logs, "ssl_insecure_skip_verify"); !contains(l, "api_id=insecure") || contains(l, "api_id=checked") {
		t.Errorf("the skip is not logged for the API that sets it alone:\n%s", l)
	}
	// A changed definition is a new load: logged again.
	insecure.Name = "changed"
	g.WriteAPI(insecure)
	g.Reload()
	if n := countLines(g.Logs(), "ssl_insecure_skip_verify"); n != 2 {
		t.Errorf("after a change the skip was logged %d times in all, want twice", n)
	}
}

// mutualTLSUpstream is an https upstream that requires a client certificate its own client CA
// issued, with the files a gateway needs to reach it.
type mutualTLSUpstream struct {
	up  *tlsUpstream
	dir string
	// caFile holds the upstream's server CA; good a client certificate and key it trusts,
	// stranger one it does not.
	caFile, good, stranger string
	// target is the upstream's URL with the host localhost, so that "*.domain" entries can be
	// tried.
	target string
}

func startMutualTLSUpstream(t *testing.T) *mutualTLSUpstream {
	t.Helper()
	serverCA := certtest.NewCA(t, "upstream server CA")
	clientCA := certtest.NewCA(t, "upstream client CA")
	m := &mutualTLSUpstream{dir: t.TempDir()}
	m.up = startTLSUpstream(t, serverCA.Localhost(t).TLS, false, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = clientCA.Pool()
	})
	m.caFile = certtest.WriteFile(t, m.dir, "ca.pem", serverCA.PEM)
	m.good = certtest.WriteFile(t, m.dir, "gateway-client.pem", clientCA.Issue(t, certtest.Leaf{CommonName: "gateway", Client: true}).Bundle())
	m.stranger = certtest.WriteFile(t, m.dir, "stranger.pem", certtest.NewCA(t, "other").Issue(t, certtest.Leaf{CommonName: "stranger", Client: true}).Bundle())
	m.target = strings.Replace(m.up.URL, "127.0.0.1", "localhost", 1)
	return m
}

// TestUpstreamMutualTLS: an upstream that requires a client certificate refuses the gateway
// without one, and accepts the one security.certificates.upstream names for its host, for
// "*.domain" or for "*".
func TestUpstreamMutualTLS(t *testing.T) {
	m := startMutualTLSUpstream(t)
	up, caFile, good, stranger, target := m.up, m.caFile, m.good, m.stranger, m.target

	tests := []struct {
		name  string
		certs map[string]string
		code  int
	}{
		{name: "no client certificate", code: http.StatusBadGateway},
		{name: "certificate for another host", certs: map[string]string{"api.example.com": good}, code: http.StatusBadGateway},
		{name: "certificate the upstream does not trust", certs: map[string]string{"localhost": stranger}, code: http.StatusBadGateway},
		{name: "certificate for the host", certs: map[string]string{"localhost": good, "*": stranger}, code: http.StatusOK},
		{name: "certificate for any host", certs: map[string]string{"*": good}, code: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			g := gt.Start(t, gt.Options{
				APIs: []*apidef.APIDefinition{gt.API("mtls", "/mtls/", target)},
				Config: func(c *config.Config) {
					c.ProxySSLCAFile = caFile
					c.Security.Certificates.Upstream = tc.certs
				},
			})
			r := g.Do(gt.Case{Path: "/mtls/x"})
			if r.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.Code, tc.code, r.Body)
			}
			if tc.code != http.StatusOK {
				if !contains(r.Body, proxyFailed) {
					t.Errorf("body %q, want Tyk's %q", r.Body, proxyFailed)
				}
				if up.count() != before {
					t.Error("the upstream served a request without a trusted client certificate")
				}
				return
			}
			if _, peer := up.last(t); peer != "gateway" {
				t.Errorf("the upstream saw the client certificate %q, want the gateway's", peer)
			}
		})
	}
}

// TestUpstreamTLSVersionsAndCiphers: ssl_min_version refuses an upstream that speaks only TLS
// 1.2 when it asks for 1.3, per API and globally; cipher suites the upstream does not share
// fail the handshake; settings that cannot work refuse the definition with the reason.
func TestUpstreamTLSVersionsAndCiphers(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, func(c *tls.Config) {
		c.MaxVersion = tls.VersionTLS12
		c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	})
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	withCA := func(c *config.Config) { c.ProxySSLCAFile = caFile }

	plain := gt.API("plain", "/plain/", up.URL)
	min13 := gt.API("min13", "/min13/", up.URL)
	min13.Proxy.Transport.SSLMinVersion = 772
	max12 := gt.API("max12", "/max12/", up.URL)
	max12.Proxy.Transport.SSLMaxVersion = 771
	ciphers := gt.API("ciphers", "/ciphers/", up.URL)
	ciphers.Proxy.Transport.SSLCipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
	sharedCipher := gt.API("shared-cipher", "/shared-cipher/", up.URL)
	sharedCipher.Proxy.Transport.SSLCipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}
	unknown := gt.API("unknown-cipher", "/unknown-cipher/", up.URL)
	unknown.Proxy.Transport.SSLCipherSuites = []string{"TLS_NOT_A_CIPHER"}
	order := gt.API("order", "/order/", up.URL)
	order.Proxy.Transport.SSLMinVersion, order.Proxy.Transport.SSLMaxVersion = 772, 771
	notVersion := gt.API("not-version", "/not-version/", up.URL)
	notVersion.Proxy.Transport.SSLMinVersion = 999

	g := gt.Start(t, gt.Options{Config: withCA, APIs: []*apidef.APIDefinition{plain, min13, max12, ciphers, sharedCipher, unknown, order, notVersion}})
	g.Run(t,
		gt.Case{Name: "defaults: TLS 1.2 accepted", Path: "/plain/x", Code: http.StatusOK},
		gt.Case{Name: "ssl_min_version 772 against a TLS 1.2 upstream", Path: "/min13/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed},
		gt.Case{Name: "ssl_max_version 771", Path: "/max12/x", Code: http.StatusOK},
		gt.Case{Name: "no cipher suite in common", Path: "/ciphers/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed},
		gt.Case{Name: "a cipher suite in common", Path: "/shared-cipher/x", Code: http.StatusOK},
		gt.Case{Name: "unknown cipher refuses the definition", Path: "/unknown-cipher/x", Code: http.StatusNotFound},
		gt.Case{Name: "versions out of order refuse the definition", Path: "/order/x", Code: http.StatusNotFound},
		gt.Case{Name: "not a version refuses the definition", Path: "/not-version/x", Code: http.StatusNotFound},
	)
	logs := g.Logs()
	for _, want := range []string{
		`proxy.transport.ssl_ciphers: unknown cipher suite \"TLS_NOT_A_CIPHER\"`,
		"proxy.transport.ssl_min_version 772 (TLS 1.3) is above proxy.transport.ssl_max_version 771 (TLS 1.2)",
		"proxy.transport.ssl_min_version is 999, which is not a TLS version",
	} {
		if !contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, linesWith(logs, "not loaded"))
		}
	}

	t.Run("proxy_ssl_min_version 772", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("plain", "/plain/", up.URL)}, Config: func(c *config.Config) {
			withCA(c)
			c.ProxySSLMinVersion = 772
		}})
		g.Run(t, gt.Case{Path: "/plain/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed})
	})
	t.Run("per-API ssl_max_version under a global minimum", func(t *testing.T) {
		api := gt.API("plain", "/plain/", up.URL)
		api.Proxy.Transport.SSLMaxVersion = 771
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) {
			withCA(c)
			c.ProxySSLMinVersion = 772
		}})
		g.Run(t, gt.Case{Path: "/plain/x", Code: http.StatusNotFound})
		if !contains(g.Logs(), "is above proxy.transport.ssl_max_version") {
			t.Errorf("the log does not say why:\n%s", linesWith(g.Logs(), "not loaded"))
		}
	})
}

// TestUpstreamCommonNameCheck: ssl_force_common_name_check accepts a certificate whose common
// name is the upstream's host even without alternative names (which Go's own check needs), and
// refuses one whose common name differs even when its alternative names match.
func TestUpstreamCommonNameCheck(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	cnOnly := startTLSUpstream(t, ca.Issue(t, certtest.Leaf{CommonName: "127.0.0.1"}).TLS, false, nil)
	sanOnly := startTLSUpstream(t, ca.Issue(t, certtest.Leaf{CommonName: "someone-else", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}).TLS, false, nil)
	other := certtest.NewCA(t, "untrusted")
	untrusted := startTLSUpstream(t, other.Issue(t, certtest.Leaf{CommonName: "127.0.0.1"}).TLS, false, nil)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)

	force := func(id, target string) *apidef.APIDefinition {
		a := gt.API(id, "/"+id+"/", target)
		a.Proxy.Transport.SSLForceCommonNameCheck = true
		return a
	}
	g := gt.Start(t, gt.Options{
		Config: func(c *config.Config) { c.ProxySSLCAFile = caFile },
		APIs: []*apidef.APIDefinition{
			gt.API("cn-default", "/cn-default/", cnOnly.URL),
			force("cn-forced", cnOnly.URL),
			gt.API("san-default", "/san-default/", sanOnly.URL),
			force("san-forced", sanOnly.URL),
			force("untrusted-forced", untrusted.URL),
		},
	})
	g.Run(t,
		gt.Case{Name: "common name only, Go's check", Path: "/cn-default/x", Code: http.StatusBadGateway},
		gt.Case{Name: "common name only, forced check", Path: "/cn-forced/x", Code: http.StatusOK},
		gt.Case{Name: "alternative names only, Go's check", Path: "/san-default/x", Code: http.StatusOK},
		gt.Case{Name: "other common name, forced check", Path: "/san-forced/x", Code: http.StatusBadGateway},
		gt.Case{Name: "forced check still verifies the chain", Path: "/untrusted-forced/x", Code: http.StatusBadGateway},
	)
}

// TestUpstreamHTTP2: proxy_enable_http2 speaks HTTP/2 to a TLS upstream that offers it; without
// it the gateway speaks HTTP/1.1, as Tyk does.
func TestUpstreamHTTP2(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, true, nil)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	for _, tc := range []struct {
		enable bool
		want   int
	}{{false, 1}, {true, 2}} {
		t.Run(fmt.Sprintf("proxy_enable_http2=%v", tc.enable), func(t *testing.T) {
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("h2", "/h2/", up.URL)}, Config: func(c *config.Config) {
				c.ProxySSLCAFile = caFile
				c.ProxyEnableHTTP2 = tc.enable
			}})
			g.Run(t, gt.Case{Path: "/h2/x", Code: http.StatusOK})
			if proto, _ := up.last(t); proto != tc.want {
				t.Errorf("the upstream saw HTTP/%d, want HTTP/%d", proto, tc.want)
			}
		})
	}
}

// TestUpstreamH2C: an h2c:// target is reached over cleartext HTTP/2 with prior knowledge.
func TestUpstreamH2C(t *testing.T) {
	var protos []int
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.ProtoMajor)
		mu.Unlock()
		fmt.Fprintf(w, "h2c upstream: HTTP/%d tls=%v path=%s", r.ProtoMajor, r.TLS != nil, r.URL.Path)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true) // and not HTTP/1: only prior knowledge works
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	target := "h2c://" + ln.Addr().String() + "/base"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("h2c", "/h2c/", target),
		gt.API("http1", "/http1/", "http://"+ln.Addr().String()),
	}})
	g.Run(t,
		gt.Case{Name: "h2c target", Path: "/h2c/x", Code: http.StatusOK, BodyMatch: `^h2c upstream: HTTP/2 tls=false path=/base/x$`},
		gt.Case{Name: "the same server as http is not reached with h2", Path: "/http1/x", Code: http.StatusBadGateway},
	)
	mu.Lock()
	defer mu.Unlock()
	if len(protos) != 1 || protos[0] != 2 {
		t.Errorf("the upstream saw %v, want one HTTP/2 request", protos)
	}
}

// TestUpstreamProxyURL: proxy.transport.proxy_url sends an API's requests through an outbound
// proxy: https targets through a CONNECT tunnel, http ones as absolute-form requests. Other
// APIs go direct.
func TestUpstreamProxyURL(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, nil)
	plainUp := gt.NewUpstream(t)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	px := startConnectProxy(t)

	viaTLS := gt.API("via-tls", "/via-tls/", up.URL)
	viaTLS.Proxy.Transport.ProxyURL = px.URL
	viaPlain := gt.API("via-plain", "/via-plain/", plainUp.URL)
	viaPlain.Proxy.Transport.ProxyURL = px.URL
	direct := gt.API("direct", "/direct/", up.URL)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.ProxySSLCAFile = caFile },
		APIs: []*apidef.APIDefinition{viaTLS, viaPlain, direct}})

	g.Run(t, gt.Case{Name: "https through CONNECT", Path: "/via-tls/x", Code: http.StatusOK, BodyMatch: "path=/x"})
	if got := px.seen(); len(got) != 1 || got[0] != "CONNECT "+strings.TrimPrefix(up.URL, "https://") {
		t.Errorf("the proxy saw %q, want one CONNECT to the upstream", got)
	}
	g.Run(t, gt.Case{Name: "direct API", Path: "/direct/x", Code: http.StatusOK})
	if got := px.seen(); len(got) != 1 {
		t.Errorf("an API without proxy_url went through the proxy: %q", got)
	}
	g.Run(t, gt.Case{Name: "http through the proxy", Path: "/via-plain/y", Code: http.StatusOK})
	if got := px.seen(); len(got) != 2 || got[1] != "GET "+plainUp.URL+"/y" {
		t.Errorf("the proxy saw %q, want an absolute-form GET to the upstream", got)
	}
}

// connectProxy is a minimal outbound HTTP proxy: CONNECT tunnels and absolute-form requests.
type connectProxy struct {
	URL  string
	mu   sync.Mutex
	reqs []string
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Host
		if r.Method != http.MethodConnect {
			target = r.URL.String()
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Method+" "+target)
		p.mu.Unlock()
		if r.Method != http.MethodConnect {
			resp, err := http.DefaultTransport.RoundTrip(r.Clone(r.Context()))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		up, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		fmt.Fprint(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			io.Copy(up, brw)
			up.Close()
		}()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// TestUpstreamTransportsShared: APIs with the same settings share one transport, built when the
// snapshot is, and kept across reloads; a transport no API uses any longer is dropped and its
// idle connections closed.
func TestUpstreamTransportsShared(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, nil)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	a, b := gt.API("a", "/a/", up.URL), gt.API("b", "/b/", up.URL)
	c1, c2 := gt.API("c1", "/c1/", up.URL), gt.API("c2", "/c2/", up.URL)
	for _, d := range []*apidef.APIDefinition{c1, c2} {
		d.Proxy.Transport.SSLMaxVersion = 771
	}
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.ProxySSLCAFile = caFile },
		APIs: []*apidef.APIDefinition{a, b, c1, c2}})
	tr := func(id string) http.RoundTripper {
		t.Helper()
		trs := g.GW.UpstreamTransports(id)
		if len(trs) != 1 {
			t.Fatalf("API %s forwards on %d transports, want 1", id, len(trs))
		}
		return trs[0]
	}
	if tr("a") != tr("b") || tr("c1") != tr("c2") || tr("a") == tr("c1") {
		t.Fatal("APIs with the same settings do not share a transport, or APIs with different ones do")
	}
	if n := g.GW.UpstreamTransportCount(); n != 2 {
		t.Errorf("%d transports, want 2", n)
	}
	g.Run(t, gt.Case{Path: "/c1/x", Code: http.StatusOK})
	before := tr("a")
	g.Reload()
	if tr("a") != before {
		t.Error("a reload that changed nothing replaced the shared transport")
	}
	if n := up.closed.Load(); n != 0 {
		t.Fatalf("%d upstream connections closed before the override was removed", n)
	}
	// c1 and c2 lose their override: their transport is no longer used, and the connection it
	// keeps idle to the upstream is closed.
	for _, d := range []*apidef.APIDefinition{c1, c2} {
		d.Proxy.Transport.SSLMaxVersion = 0
		g.WriteAPI(d)
	}
	g.Reload()
	if tr("c1") != tr("a") {
		t.Error("after the override was removed, c1 does not share the common transport")
	}
	if n := g.GW.UpstreamTransportCount(); n != 1 {
		t.Errorf("%d transports after the reload, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for up.closed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if up.closed.Load() == 0 {
		t.Error("the idle connection of the transport no longer used was not closed")
	}
}

// newGatewayErr builds a gateway from cfg with empty app and middleware paths, and returns
// what gateway.New returned.
func newGatewayErr(t *testing.T, cfg *config.Config) (*gateway.Gateway, error) {
	t.Helper()
	cfg.AppPath, cfg.MiddlewarePath = t.TempDir(), t.TempDir()
	g, err := gateway.New(gateway.Options{Config: cfg})
	if err == nil {
		t.Cleanup(func() { g.Close() })
	}
	return g, err
}

// linesWith returns the lines of s that contain sub.
func linesWith(s, sub string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}

// TestUpstreamCAFileReload: proxy_ssl_ca_file is read again on reload, so a CA added to it is
// trusted from then on; a file that became unreadable keeps the CAs last read.
func TestUpstreamCAFileReload(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	up := startTLSUpstream(t, ca.Localhost(t).TLS, false, nil)
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", certtest.NewCA(t, "another CA").PEM)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.ProxySSLCAFile = caFile },
		APIs: []*apidef.APIDefinition{gt.API("tls", "/tls/", up.URL)}})
	g.Run(t, gt.Case{Name: "CA not in the file", Path: "/tls/x", Code: http.StatusBadGateway})

	certtest.WriteFile(t, filepath.Dir(caFile), filepath.Base(caFile), ca.PEM)
	g.Reload()
	g.Run(t, gt.Case{Name: "CA added, after a reload", Path: "/tls/x", Code: http.StatusOK})

	certtest.WriteFile(t, filepath.Dir(caFile), filepath.Base(caFile), []byte("truncated"))
	g.Reload()
	g.Run(t, gt.Case{Name: "file broken, the last good one stays", Path: "/tls/x", Code: http.StatusOK})
	if !contains(g.Logs(), "proxy_ssl_ca_file cannot be used") {
		t.Errorf("the broken CA file was not logged:\n%s", g.Logs())
	}
}

// TestUpstreamMutualTLSPerAPI: a definition's upstream_certificates present its own client
// certificate, over tyk.conf's for the hosts it names, most specific entry first (host and
// port over host); upstream_certificates_disabled leaves them aside; a file that cannot be used
// keeps the API from serving, saying why.
func TestUpstreamMutualTLSPerAPI(t *testing.T) {
	m := startMutualTLSUpstream(t)
	up, caFile, good, stranger, target, dir := m.up, m.caFile, m.good, m.stranger, m.target, m.dir
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target, "https://"))

	own := gt.API("own", "/own/", target)
	own.UpstreamCertificates = map[string]string{"localhost": good}
	global := gt.API("global", "/global/", target)
	disabled := gt.API("disabled", "/disabled/", target)
	disabled.UpstreamCertificates = map[string]string{"localhost": good}
	disabled.UpstreamCertificatesDisabled = true
	byPort := gt.API("port", "/port/", target)
	byPort.UpstreamCertificates = map[string]string{"localhost:" + port: good, "localhost": stranger, "*": stranger}
	otherPort := gt.API("other-port", "/other-port/", target)
	otherPort.UpstreamCertificates = map[string]string{"localhost:1": good}
	missing := gt.API("missing", "/missing/", target)
	missing.UpstreamCertificates = map[string]string{"*": filepath.Join(dir, "nowhere.pem")}
	storeID := gt.API("store-id", "/store-id/", target)
	storeID.UpstreamCertificates = map[string]string{"*": "globex" + strings.Repeat("ab", 32)}

	g := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{own, global, disabled, byPort, otherPort, missing, storeID},
		Config: func(c *config.Config) {
			c.ProxySSLCAFile = caFile
			c.Security.Certificates.Upstream = map[string]string{"*": stranger}
		},
	})
	for _, tc := range []struct {
		path, peer string
	}{{"/own/x", "gateway"}, {"/port/x", "gateway"}} {
		g.Run(t, gt.Case{Name: tc.path, Path: tc.path, Code: http.StatusOK})
		if _, peer := up.last(t); peer != tc.peer {
			t.Errorf("%s: the upstream saw the client certificate %q, want %q", tc.path, peer, tc.peer)
		}
	}
	before := up.count()
	g.Run(t,
		gt.Case{Name: "tyk.conf's certificate", Path: "/global/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed},
		gt.Case{Name: "the API's own switched off", Path: "/disabled/x", Code: http.StatusBadGateway},
		gt.Case{Name: "an entry for another port", Path: "/other-port/x", Code: http.StatusBadGateway},
		gt.Case{Name: "a missing file: not served", Path: "/missing/x", Code: http.StatusNotFound},
		gt.Case{Name: "health says why", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `nowhere\.pem`},
		gt.Case{Name: "a store id: not served, said so", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `neither a file nor an id of a certificate in the store`},
	)
	if n := up.count(); n != before {
		t.Errorf("the upstream served %d requests without the certificate it trusts", n-before)
	}
	if !contains(g.Logs(), "upstream_certificates") {
		t.Errorf("the refused handshake's hint does not name upstream_certificates:\n%s", g.Logs())
	}

	// A renewed file is used from the next reload on.
	other := certtest.NewCA(t, "renewed client CA")
	certtest.WriteFile(t, dir, "gateway-client.pem", other.Issue(t, certtest.Leaf{CommonName: "renewed", Client: true}).Bundle())
	g.Reload()
	g.Run(t, gt.Case{Name: "the renewed certificate, not trusted by the upstream", Path: "/own/x", Code: http.StatusBadGateway})
}

// TestUpstreamCertificatePinning: pinned_public_keys let an API reach an upstream whose chain
// holds a pinned key, without trusting its CA, and refuse one whose chain does not, before any
// request reaches it; the API's own entries win over tyk.conf's security.pinned_public_keys;
// fingerprints, Tyk store ids and PEM files of keys or certificates are read; a pin file
// renewed is read at the next reload.
func TestUpstreamCertificatePinning(t *testing.T) {
	ca := certtest.NewCA(t, "private upstream CA")
	pair := ca.Localhost(t)
	up := startTLSUpstream(t, pair.WithChain(ca), false, nil)
	leafFP := certtest.PublicKeyFingerprint(pair.TLS.Leaf)
	other := certtest.NewCA(t, "someone else")
	dir := t.TempDir()
	caKeyFile := certtest.WriteFile(t, dir, "ca-key.pem", certtest.PublicKeyPEM(ca.Cert))
	caCertFile := certtest.WriteFile(t, dir, "ca-cert.pem", ca.PEM)
	pinFile := certtest.WriteFile(t, dir, "rotating.pem", certtest.PublicKeyPEM(ca.Cert))
	wrong := certtest.PublicKeyFingerprint(other.Cert)

	api := func(id, pins string, disabled bool) *apidef.APIDefinition {
		a := gt.API(id, "/"+id+"/", up.URL)
		if pins != "" {
			a.PinnedPublicKeys = map[string]string{"127.0.0.1": pins}
		}
		a.CertificatePinningDisabled = disabled
		return a
	}
	apis := []*apidef.APIDefinition{
		api("leaf", leafFP, false),
		api("store-id", "globex"+strings.ToUpper(leafFP), false),
		api("ca-key-file", wrong+", "+caKeyFile, false),
		api("ca-cert-file", caCertFile, false),
		api("wrong", wrong, false),
		api("global", "", false),
		api("disabled", leafFP, true),
		api("rotating", pinFile, false),
		api("missing", filepath.Join(dir, "nowhere.pem"), false),
		api("device", "/dev/zero", false),
	}
	g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		c.Security.PinnedPublicKeys = map[string]string{"*": wrong}
	}})
	g.Run(t,
		gt.Case{Name: "the leaf's key, no CA trusted", Path: "/leaf/x", Code: http.StatusOK},
		gt.Case{Name: "a Tyk store id ending with the fingerprint", Path: "/store-id/x", Code: http.StatusOK},
		gt.Case{Name: "the CA's key from a PUBLIC KEY file", Path: "/ca-key-file/x", Code: http.StatusOK},
		gt.Case{Name: "the CA's key from its certificate", Path: "/ca-cert-file/x", Code: http.StatusOK},
		gt.Case{Name: "a file of the key in rotation", Path: "/rotating/x", Code: http.StatusOK},
	)
	before := up.count()
	g.Run(t,
		gt.Case{Name: "another key", Path: "/wrong/x", Code: http.StatusBadGateway, BodyMatch: proxyFailed},
		gt.Case{Name: "tyk.conf's pins", Path: "/global/x", Code: http.StatusBadGateway},
		gt.Case{Name: "the API's own switched off: tyk.conf's", Path: "/disabled/x", Code: http.StatusBadGateway},
		gt.Case{Name: "a missing file: not served", Path: "/missing/x", Code: http.StatusNotFound},
		gt.Case{Name: "health says why", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `pinned public keys for 127\.0\.0\.1.*nowhere\.pem`},
		gt.Case{Name: "a device is never read", Path: "/device/x", Code: http.StatusNotFound},
		gt.Case{Name: "health says so", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `read /dev/zero: not a regular file but a character device`},
	)
	if n := up.count(); n != before {
		t.Errorf("the upstream received %d requests over connections no pin accepted", n-before)
	}
	if !contains(g.Logs(), "pin its current key") {
		t.Errorf("the pinning failure's hint is not logged:\n%s", g.Logs())
	}

	// The key in rotation.pem is replaced by another: refused from the next reload on.
	certtest.WriteFile(t, dir, "rotating.pem", certtest.PublicKeyPEM(other.Cert))
	g.Reload()
	g.Run(t, gt.Case{Name: "after the file changed", Path: "/rotating/x", Code: http.StatusBadGateway})
	// A file that became unreadable keeps the keys last read, logged.
	certtest.WriteFile(t, dir, "rotating.pem", []byte("truncated"))
	g.Reload()
	g.Run(t, gt.Case{Name: "broken file: the last keys stay", Path: "/rotating/x", Code: http.StatusBadGateway})
	if !contains(g.Logs(), "pinned public key file cannot be used") {
		t.Errorf("the broken pin file was not logged:\n%s", g.Logs())
	}
}

// TestUpstreamTLSFilesReuse: adding or removing an API that names its own pin or client
// certificate files leaves the other APIs compiled as they were on the reloads that follow,
// while a change to such a file compiles its API again.
func TestUpstreamTLSFilesReuse(t *testing.T) {
	ca := certtest.NewCA(t, "pinned CA")
	dir := t.TempDir()
	pinFile := certtest.WriteFile(t, dir, "pin.pem", certtest.PublicKeyPEM(ca.Cert))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}})
	b := gt.API("b", "/b/", "https://127.0.0.1:1")
	b.PinnedPublicKeys = map[string]string{"*": pinFile}
	g.WriteAPI(b)
	g.Reload()
	a, bb := g.GW.Compiled("a"), g.GW.Compiled("b")
	g.Reload()
	if g.GW.Compiled("a") != a || g.GW.Compiled("b") != bb {
		t.Error("a reload that changed nothing compiled an API again")
	}
	certtest.WriteFile(t, dir, "pin.pem", certtest.PublicKeyPEM(certtest.NewCA(t, "next").Cert))
	g.Reload()
	if g.GW.Compiled("b") == bb {
		t.Error("b was reused though its pin file changed")
	}
	if g.GW.Compiled("a") != a {
		t.Error("a was compiled again for another API's pin file")
	}
	if err := os.Remove(filepath.Join(g.AppPath, "b.json")); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Reload()
	if g.GW.Compiled("a") != a {
		t.Error("removing b compiled a again")
	}
}

// TestUpstreamPinningIPTarget: an upstream addressed by IP address must present a certificate
// for that address even when its chain holds a pinned key (Go sends no server name for an
// address, so the check must not rest on it).
func TestUpstreamPinningIPTarget(t *testing.T) {
	ca := certtest.NewCA(t, "pinned CA")
	other := startTLSUpstream(t, ca.Issue(t, certtest.Leaf{CommonName: "billing.example", DNSNames: []string{"billing.example"}}).WithChain(ca), false, nil)
	own := startTLSUpstream(t, ca.Localhost(t).WithChain(ca), false, nil)
	pinned := func(id, target string) *apidef.APIDefinition {
		a := gt.API(id, "/"+id+"/", target)
		a.PinnedPublicKeys = map[string]string{"*": certtest.PublicKeyFingerprint(ca.Cert)}
		return a
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{pinned("other", other.URL), pinned("own", own.URL)}})
	g.Run(t,
		gt.Case{Name: "a certificate for another name", Path: "/other/x", Code: http.StatusBadGateway},
		gt.Case{Name: "a certificate for the address", Path: "/own/x", Code: http.StatusOK},
	)
	if n := other.count(); n != 0 {
		t.Errorf("the upstream with another name's certificate got %d requests", n)
	}
}

// TestPinsOnPlainTargetWarned: pins a definition writes for an http:// target's host cannot
// apply, which the log says rather than dropping them in silence.
func TestPinsOnPlainTargetWarned(t *testing.T) {
	up := gt.NewUpstream(t)
	plain := gt.API("plain", "/plain/", up.URL)
	plain.PinnedPublicKeys = map[string]string{"*": strings.Repeat("ab", 32)}
	other := gt.API("other", "/other/", up.URL)
	other.PinnedPublicKeys = map[string]string{"api.example.com": strings.Repeat("ab", 32)}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plain, other}})
	g.Run(t, gt.Case{Path: "/plain/x", Code: http.StatusOK})
	if l := linesWith(g.Logs(), "reached without TLS"); !contains(l, "api_id=plain") || contains(l, "api_id=other") {
		t.Errorf("the warning is not logged for the API whose pins name its plain target alone:\n%s", g.Logs())
	}
}
