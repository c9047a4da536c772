package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/tlsconf/tlstest"
)

// tlsGateway starts a gateway serving TLS with the given certificates, in front of up at /t/.
func tlsGateway(t *testing.T, up string, edit func(o *config.HTTPServerOptions)) *gt.Gateway {
	t.Helper()
	return gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("t", "/t/", up)}, Config: func(c *config.Config) {
		c.HTTPServerOptions.UseSSL = true
		edit(&c.HTTPServerOptions)
	}})
}

// httpsURL is the gateway's proxy listener as an https URL.
func httpsURL(g *gt.Gateway) string { return "https://" + g.Server.Addr() }

// servedCert returns the common name of the certificate the listener at addr presents for
// serverName, on a new connection. The chain is checked, not the name: the default
// certificate is served for names it does not carry.
func servedCert(t *testing.T, ca *tlstest.CA, addr, serverName string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool})
			return err
		}})
	if err != nil {
		t.Fatalf("handshake with %s as %q: %v", addr, serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(b)
}

// TestTLSCertificatesBySNI: two certificates, one from certificates (with a domain_name) and
// one from ssl_certificates; each client sees the one for the name it asks for, the first is
// the default, and the upstream hears X-Forwarded-Proto: https.
func TestTLSCertificatesBySNI(t *testing.T) {
	ca := tlstest.NewCA(t)
	a := ca.Issue(t, "a.test", "127.0.0.1")
	b := ca.Issue(t, "b.test")
	up := gt.NewUpstream(t)
	g := tlsGateway(t, up.URL, func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: a.CertFile, KeyFile: a.KeyFile}}
		o.SSLCertificates = []string{b.BothFile}
	})
	addr := g.Server.Addr()
	for _, tt := range []struct{ sni, want string }{
		{"a.test", "a.test"}, {"b.test", "b.test"}, {"B.TEST", "b.test"}, {"other.test", "a.test"}, {"", "a.test"},
	} {
		if got := servedCert(t, ca, addr, tt.sni); got != tt.want {
			t.Errorf("SNI %q: served %q, want %q", tt.sni, got, tt.want)
		}
	}
	for _, name := range []string{"a.test", "b.test"} {
		resp, body := get(t, ca.Client(name, false), httpsURL(g)+"/t/x")
		if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != name {
			t.Fatalf("%s: %d %v %s", name, resp.StatusCode, resp.TLS != nil, body)
		}
		seen, ok := up.Last()
		if !ok || seen.Headers["X-Forwarded-Proto"] != "https" {
			t.Errorf("%s: the upstream saw X-Forwarded-Proto %q, want https", name, seen.Headers["X-Forwarded-Proto"])
		}
	}
}

// TestTLSHTTP2: with enable_http2, h2 is negotiated by ALPN and HTTP/1.1 is still served;
// without it, h2 is never offered. Over h2 too the upstream hears X-Forwarded-Proto: https.
func TestTLSHTTP2(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	for _, h2 := range []bool{true, false} {
		t.Run(map[bool]string{true: "enable_http2", false: "http1 only"}[h2], func(t *testing.T) {
			up := gt.NewUpstream(t)
			g := tlsGateway(t, up.URL, func(o *config.HTTPServerOptions) {
				o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
				o.EnableHTTP2 = h2
			})
			conn, err := tls.Dial("tcp", g.Server.Addr(), &tls.Config{RootCAs: ca.Pool, NextProtos: []string{"h2", "http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			proto := conn.ConnectionState().NegotiatedProtocol
			conn.Close()
			want := map[bool]string{true: "h2", false: "http/1.1"}[h2]
			if proto != want {
				t.Errorf("ALPN chose %q, want %q", proto, want)
			}
			resp, body := get(t, ca.Client("", true), httpsURL(g)+"/t/x")
			wantProto := map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[h2]
			if resp.StatusCode != 200 || resp.Proto != wantProto {
				t.Errorf("a client that can speak h2 got %d over %s, want 200 over %s: %s", resp.StatusCode, resp.Proto, wantProto, body)
			}
			resp, body = get(t, ca.Client("", false), httpsURL(g)+"/t/x")
			if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" {
				t.Errorf("an HTTP/1.1 client got %d over %s: %s", resp.StatusCode, resp.Proto, body)
			}
			if seen, _ := up.Last(); seen.Headers["X-Forwarded-Proto"] != "https" {
				t.Errorf("the upstream saw X-Forwarded-Proto %q", seen.Headers["X-Forwarded-Proto"])
			}
		})
	}
}

// TestTLSOldVersionsRefused: by default TLS 1.1 is refused and 1.2 served; with min_version
// 772, 1.2 is refused too.
func TestTLSOldVersionsRefused(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	for _, tt := range []struct {
		name      string
		min       int
		refused   uint16
		served    uint16
		servedStr string
	}{
		{"default", 0, tls.VersionTLS11, tls.VersionTLS12, "TLS 1.2"},
		{"min_version 772", 772, tls.VersionTLS12, tls.VersionTLS13, "TLS 1.3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := tlsGateway(t, "http://127.0.0.1:1", func(o *config.HTTPServerOptions) {
				o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
				o.MinVersion = tt.min
			})
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			conn, err := tls.DialWithDialer(dialer, "tcp", g.Server.Addr(), &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tt.refused})
			if err == nil {
				conn.Close()
				t.Fatalf("a %s handshake succeeded", tls.VersionName(tt.refused))
			}
			if !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("refusal %v, want a protocol version alert", err)
			}
			conn, err = tls.DialWithDialer(dialer, "tcp", g.Server.Addr(), &tls.Config{RootCAs: ca.Pool, MaxVersion: tt.served})
			if err != nil {
				t.Fatalf("a %s handshake failed: %v", tt.servedStr, err)
			}
			conn.Close()
		})
	}
}

// TestTLSCipherSuites: with ssl_ciphers, a TLS 1.2 client offering only another suite is
// refused, and one offering a listed suite is served with it.
func TestTLSCipherSuites(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1") // ECDSA
	g := tlsGateway(t, "http://127.0.0.1:1", func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
		o.SSLCiphers = []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"} // the legacy name
	})
	cfg := func(suite uint16) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}
	}
	if conn, err := tls.Dial("tcp", g.Server.Addr(), cfg(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)); err == nil {
		conn.Close()
		t.Fatal("a suite not in ssl_ciphers was accepted")
	}
	conn, err := tls.Dial("tcp", g.Server.Addr(), cfg(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if s := conn.ConnectionState().CipherSuite; s != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("suite %s", tls.CipherSuiteName(s))
	}
}

// TestTLSRotationOnReload: a certificate replaced on disk serves after a reload to new
// handshakes, while a request in flight on the old connection completes and that connection
// stays usable.
func TestTLSRotationOnReload(t *testing.T) {
	ca := tlstest.NewCA(t)
	v1 := ca.Issue(t, "v1.test", "127.0.0.1")
	v2 := ca.Issue(t, "v2.test", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlstest.Copy(t, v1.CertFile, certFile)
	tlstest.Copy(t, v1.KeyFile, keyFile)

	// The upstream holds /slow until the test closes the channel it hands over.
	arrived := make(chan chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			release := make(chan struct{})
			arrived <- release
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "done")
	}))
	defer slow.Close()
	g := tlsGateway(t, slow.URL, func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: certFile, KeyFile: keyFile}}
		o.EnableHTTP2 = true
	})
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			client := ca.Client("", h2)
			type result struct {
				status int
				cert   string
				body   string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := client.Get(httpsURL(g) + "/t/slow")
				if err != nil {
					done <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				done <- result{resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName, string(b), err}
			}()
			var release chan struct{}
			select {
			case release = <-arrived:
			case r := <-done:
				t.Fatalf("the slow request ended early: %+v", r)
			}
			var once sync.Once
			let := func() { once.Do(func() { close(release) }) }
			defer let()
			old, fresh := v1, v2
			if h2 { // the first subtest rotated to v2; rotate back
				old, fresh = v2, v1
			}
			tlstest.Copy(t, fresh.CertFile, certFile)
			tlstest.Copy(t, fresh.KeyFile, keyFile)
			g.Reload()
			if got := servedCert(t, ca, g.Server.Addr(), ""); got != fresh.Cert.Subject.CommonName {
				t.Errorf("a handshake after the reload got %q, want %q", got, fresh.Cert.Subject.CommonName)
			}
			let()
			r := <-done
			if r.err != nil || r.status != 200 || r.body != "done" || r.cert != old.Cert.Subject.CommonName {
				t.Fatalf("the request in flight across the reload: %+v, want 200 done on %s", r, old.Cert.Subject.CommonName)
			}
			// The connection it used was not dropped: the next request reuses it.
			resp, body := get(t, client, httpsURL(g)+"/t/again")
			if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].Subject.CommonName != old.Cert.Subject.CommonName || resp.TLS.DidResume {
				t.Errorf("the next request on the kept-alive connection: %d on %s: %s", resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName, body)
			}
			client.CloseIdleConnections()
		})
	}
}

// tlsHealth fetches /hello over TLS.
func tlsHealth(t *testing.T, ca *tlstest.CA, g *gt.Gateway) admin.Health {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, httpsURL(g)+"/hello", nil)
	req.Header.Set("X-Tyk-Authorization", gt.Secret) // the details name the certificates
	resp, err := ca.Client("", false).Do(req)
	if err != nil {
		t.Fatalf("/hello: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var h admin.Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/hello: %v: %s", err, body)
	}
	return h
}

// TestTLSBadCertificateAtReload: a certificate file broken on disk keeps the old certificate
// serving through reloads, is logged once and reported by /hello until it is fixed.
func TestTLSBadCertificateAtReload(t *testing.T) {
	ca := tlstest.NewCA(t)
	v1 := ca.Issue(t, "v1.test", "127.0.0.1")
	v2 := ca.Issue(t, "v2.test", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlstest.Copy(t, v1.CertFile, certFile)
	tlstest.Copy(t, v1.KeyFile, keyFile)
	g := tlsGateway(t, "http://127.0.0.1:1", func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: certFile, KeyFile: keyFile}}
	})
	if h := tlsHealth(t, ca, g); h.Status != admin.StatusPass {
		t.Fatalf("/hello before: %+v", h)
	}
	// Half a rotation: the new certificate beside the old key.
	tlstest.Copy(t, v2.CertFile, certFile)
	g.Reload()
	g.Reload()
	if got := servedCert(t, ca, g.Server.Addr(), ""); got != "v1.test" {
		t.Fatalf("after a reload with a broken certificate, served %q, want the old v1.test", got)
	}
	h := tlsHealth(t, ca, g)
	d, ok := h.Details["tls"]
	if h.Status != admin.StatusWarn || !ok || d.Status != admin.StatusWarn ||
		!strings.Contains(d.Output, "the ones loaded before keep serving") || !strings.Contains(d.Output, "private key does not match public key") {
		t.Fatalf("/hello with a broken certificate: %+v", h)
	}
	if n := countLines(g.Logs(), "the TLS certificates could not be re-read"); n != 1 {
		t.Errorf("the problem was logged %d times over two reloads, want once", n)
	}
	tlstest.Copy(t, v2.KeyFile, keyFile)
	g.Reload()
	if got := servedCert(t, ca, g.Server.Addr(), ""); got != "v2.test" {
		t.Fatalf("after the fix, served %q, want v2.test", got)
	}
	if h := tlsHealth(t, ca, g); h.Status != admin.StatusPass {
		t.Errorf("/hello after the fix: %+v", h)
	}
}

// TestTLSPlainHTTPRefused: plain HTTP sent to the TLS port gets a 400 that says why and the
// connection is closed, at once; a request Go does not recognise as HTTP is closed at once.
func TestTLSPlainHTTPRefused(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	g := tlsGateway(t, "http://127.0.0.1:1", func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
		o.EnableHTTP2 = true
	})
	for _, tt := range []struct{ request, want string }{
		{"GET /t/x HTTP/1.1\r\nHost: gw.test\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
		{"POST /t/x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
		{"DELETE /t/x HTTP/1.1\r\nHost: gw.test\r\n\r\n", ""},
	} {
		start := time.Now()
		conn, err := net.Dial("tcp", g.Server.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, tt.request)
		got, err := io.ReadAll(conn) // to EOF: the gateway closes the connection
		conn.Close()
		if err != nil {
			t.Errorf("%q: %v after %v (want the connection closed at once)", tt.request, err, time.Since(start))
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%q: got %q, want %q", tt.request, got, tt.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q: took %v", tt.request, d)
		}
	}
}

// TestH2COnlyWhenEnabled: a plain listener speaks cleartext HTTP/2 (prior knowledge) only with
// enable_h2c; HTTP/1.1 is served either way, and an Upgrade: h2c request stays HTTP/1.1.
func TestH2COnlyWhenEnabled(t *testing.T) {
	h2c := func() *http.Client {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 10 * time.Second}
	}
	for _, enabled := range []bool{true, false} {
		t.Run(map[bool]string{true: "enable_h2c", false: "default"}[enabled], func(t *testing.T) {
			up := gt.NewUpstream(t)
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("t", "/t/", up.URL)}, Config: func(c *config.Config) {
				c.HTTPServerOptions.EnableH2C = enabled
			}})
			resp, err := h2c().Get(g.URL + "/t/x")
			if enabled {
				if err != nil {
					t.Fatalf("h2c request: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
					t.Errorf("h2c: %d over %s", resp.StatusCode, resp.Proto)
				}
				if seen, _ := up.Last(); seen.Headers["X-Forwarded-Proto"] != "http" {
					t.Errorf("the upstream saw X-Forwarded-Proto %q, want http", seen.Headers["X-Forwarded-Proto"])
				}
			} else if err == nil {
				resp.Body.Close()
				if resp.Proto == "HTTP/2.0" {
					t.Fatalf("an h2c request was served over HTTP/2 without enable_h2c")
				}
			}
			g.Run(t, gt.Case{Name: "HTTP/1.1", Path: "/t/x", Code: 200})
			r, err := g.Raw("GET /t/x HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
			if err != nil || r.Code != 200 {
				t.Errorf("Upgrade: h2c: %v %+v, want a plain 200", err, r)
			}
		})
	}
}

// TestTLSGatewayAPIOwnPort: a Gateway API on its own port serves TLS with the same
// certificates, and refuses plain HTTP as the proxy listener does.
func TestTLSGatewayAPIOwnPort(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.ControlAPIHostname, c.ControlAPIPort = "127.0.0.1", port
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.EnableHTTP2 = true
		c.HTTPServerOptions.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
	}})
	ctl := g.Server.ControlAddr()
	if ctl == "" {
		t.Fatal("the Gateway API is not on its own listener")
	}
	req, _ := http.NewRequest("GET", "https://"+ctl+"/tyk/apis", nil)
	req.Header.Set("X-Tyk-Authorization", gt.Secret)
	resp, err := ca.Client("", true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Proto != "HTTP/2.0" {
		t.Errorf("Gateway API over TLS: %d over %s: %s", resp.StatusCode, resp.Proto, body)
	}
	conn, err := net.Dial("tcp", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /tyk/apis HTTP/1.1\r\nHost: x\r\n\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) || !strings.HasPrefix(line, "HTTP/1.0 400") {
		t.Errorf("plain HTTP to the Gateway API's TLS port: %q %v", line, err)
	}
}

// TestTLSExpiredCertificateReported: an expired certificate is served (the operator's choice)
// and /hello says so.
func TestTLSExpiredCertificateReported(t *testing.T) {
	ca := tlstest.NewCA(t)
	old := ca.IssueValid(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "old.test")
	g := tlsGateway(t, "http://127.0.0.1:1", func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: old.CertFile, KeyFile: old.KeyFile}}
	})
	h := g.GW.Health(context.Background())
	if d := h.Details["tls_certificate"]; h.Status != admin.StatusWarn || d.Status != admin.StatusWarn ||
		!strings.Contains(d.Output, `http_server_options.certificates[0]`) || !strings.Contains(d.Output, `"old.test" expired on`) {
		t.Errorf("/hello with an expired certificate: %+v", h)
	}
}

// TestH2ConnectionSpecificHeadersNotForwarded (S21): an HTTP/2 request carrying a
// connection-specific header (malformed, RFC 9113 8.2.2) is refused, by a reset or an answer of
// the server's own, and nothing of it reaches the upstream; the same request without it does.
// The frames are written by hand, since Go's client never sends such headers.
func TestH2ConnectionSpecificHeadersNotForwarded(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	up := gt.NewUpstream(t)
	g := tlsGateway(t, up.URL, func(o *config.HTTPServerOptions) {
		o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
		o.EnableHTTP2 = true
	})
	for _, tt := range []struct {
		name  string
		extra [][2]string
		pass  bool
	}{
		{"connection", [][2]string{{"connection", "x-hop"}, {"x-hop", "secret"}}, false},
		{"te gzip", [][2]string{{"te", "gzip"}}, false},
		{"keep-alive", [][2]string{{"keep-alive", "timeout=5"}}, false},
		{"proxy-connection", [][2]string{{"proxy-connection", "keep-alive"}}, false},
		{"upgrade", [][2]string{{"upgrade", "h2c"}}, false},
		{"transfer-encoding", [][2]string{{"transfer-encoding", "chunked"}}, false},
		{"none (control)", nil, true},
		{"te trailers", [][2]string{{"te", "trailers"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.Requests())
			marker := strings.ReplaceAll(tt.name, " ", "-")
			outcome, data := h2Request(t, ca, g.Server.Addr(), append([][2]string{
				{":method", "GET"}, {":scheme", "https"}, {":authority", "gw.test"}, {":path", "/t/x"}, {"x-case", marker},
			}, tt.extra...))
			reqs := up.Requests()[before:]
			if !tt.pass {
				if len(reqs) != 0 || outcome == "answered" && strings.Contains(string(data), marker) {
					t.Fatalf("forwarded (%s: %q): the upstream saw %+v", outcome, data, reqs)
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Headers["X-Case"] != marker {
				t.Fatalf("not forwarded (%s: %q)", outcome, data)
			}
			for k, v := range reqs[0].Headers {
				switch strings.ToLower(k) {
				case "connection", "x-hop", "keep-alive", "proxy-connection", "upgrade", "transfer-encoding":
					t.Errorf("the upstream received %s: %q", k, v)
				}
			}
		})
	}
}

// h2Request sends one HTTP/2 request with the given header fields (written as HPACK literals,
// short strings only) on a new TLS connection, and reads until its stream ends or is reset, or
// the connection is refused. It returns what happened and the DATA received.
func h2Request(t *testing.T, ca *tlstest.CA, addr string, fields [][2]string) (outcome string, data []byte) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q", p)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var block []byte
	for _, f := range fields {
		// A literal header field without indexing, with a new name (RFC 7541 6.2.2).
		block = append(block, 0x00, byte(len(f[0])))
		block = append(block, f[0]...)
		block = append(block, byte(len(f[1])))
		block = append(block, f[1]...)
	}
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		n := len(payload)
		h := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
		return append(h, payload...)
	}
	const frameData, frameHeaders, frameRST, frameSettings, frameGoAway = 0x0, 0x1, 0x3, 0x4, 0x7
	const flagEndStream, flagEndHeaders = 0x1, 0x4
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(frameSettings, 0, 0, nil)...)
	out = append(out, frame(frameHeaders, flagEndStream|flagEndHeaders, 1, block)...)
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	for {
		var h [9]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		payload := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
		if _, err := io.ReadFull(conn, payload); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		stream := uint32(h[5]&0x7f)<<24 | uint32(h[6])<<16 | uint32(h[7])<<8 | uint32(h[8])
		if stream == 1 && h[3] == frameData { // unpadded: the gateway sets no padding
			data = append(data, payload...)
		}
		switch {
		case h[3] == frameGoAway:
			return "connection refused (GOAWAY)", data
		case stream == 1 && h[3] == frameRST:
			return "stream reset", data
		case stream == 1 && h[4]&flagEndStream != 0:
			return "answered", data
		}
	}
}
