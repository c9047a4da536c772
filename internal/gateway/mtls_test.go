package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// expiredClientCert is a self-signed client certificate whose validity ended an hour ago.
func expiredClientCert(t *testing.T) *certtest.Pair {
	t.Helper()
	return selfSignedClientCert(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
}

// selfSignedClientCert is a self-signed client certificate valid from notBefore to notAfter.
func selfSignedClientCert(t *testing.T, notBefore, notAfter time.Time) *certtest.Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	p := &certtest.Pair{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}
	if p.TLS, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsEdge makes the certificate of the gateway's TLS listener, issued for localhost, 127.0.0.1
// and names by a CA of the test's own: it returns the CA (clients trust it: certClient) and the
// configuration that serves the certificate.
func tlsEdge(t *testing.T, names ...string) (*certtest.CA, func(*config.Config)) {
	t.Helper()
	ca, dir := certtest.NewCA(t, "gateway CA"), t.TempDir()
	srv := ca.Issue(t, certtest.Leaf{CommonName: "localhost", DNSNames: append([]string{"localhost"}, names...),
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cert, key := certtest.WriteFile(t, dir, "cert.pem", srv.CertPEM), certtest.WriteFile(t, dir, "key.pem", srv.KeyPEM)
	return ca, func(c *config.Config) {
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.Certificates = []config.CertificateFile{{CertFile: cert, KeyFile: key}}
	}
}

// certClient is a client of the gateway's TLS listener (its certificate issued by ca) that
// sends sni ("" sends none) and, when the handshake asks, cert (none when nil); asked, when
// set, is called at each handshake that asks. Every request opens a connection of its own.
func certClient(ca *certtest.CA, sni string, cert *certtest.Pair, asked func()) *http.Client {
	tc := &tls.Config{ServerName: sni, RootCAs: ca.Pool(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if asked != nil {
				asked()
			}
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return &cert.TLS, nil
		}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fingerprint(p *certtest.Pair) string {
	sum := sha256.Sum256(p.TLS.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// TestMutualTLS: APIs with use_mutual_tls_auth let in only the client certificates they list
// (a PEM file, a CA's PEM text, a Tyk certificate-store id ending with the fingerprint), with
// Tyk's 403s, keyless as they are; the handshake asks for a certificate only for their server
// names, so other APIs and names are reached as before; an API added by a reload is asked for
// at once; without use_ssl such an API is refused.
func TestMutualTLS(t *testing.T) {
	up := gt.NewUpstream(t)
	serverCA, clientCA, otherCA := certtest.NewCA(t, "gateway CA"), certtest.NewCA(t, "partner CA"), certtest.NewCA(t, "stranger CA")
	dir := t.TempDir()
	srv := serverCA.Issue(t, certtest.Leaf{CommonName: "localhost", DNSNames: []string{"localhost", "secure.localhost", "late.localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	certFile := certtest.WriteFile(t, dir, "cert.pem", srv.CertPEM)
	keyFile := certtest.WriteFile(t, dir, "key.pem", srv.KeyPEM)
	partner := clientCA.Issue(t, certtest.Leaf{CommonName: "partner", Client: true})
	colleague := clientCA.Issue(t, certtest.Leaf{CommonName: "colleague", Client: true})
	stranger := otherCA.Issue(t, certtest.Leaf{CommonName: "stranger", Client: true})
	expired := expiredClientCert(t)
	partnerFile := certtest.WriteFile(t, dir, "partner.pem", partner.Bundle())

	secure := func(id string, certs ...string) *apidef.APIDefinition {
		a := gt.API(id, "/"+id+"/", up.URL)
		a.Domain, a.UseMutualTLSAuth, a.ClientCertificates = "secure.localhost", true, certs
		return a
	}
	apis := []*apidef.APIDefinition{
		secure("byfile", partnerFile),
		secure("byca", string(clientCA.PEM)),
		secure("byid", "globex"+fingerprint(expired), "globex"+fingerprint(colleague)),
		gt.API("open", "/open/", up.URL),
	}
	g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.Certificates = []config.CertificateFile{{CertFile: certFile, KeyFile: keyFile}}
	}})

	// call sends GET path to host over a new TLS connection, presenting cert when the server
	// asks; asked counts the handshakes that asked.
	var asked atomic.Int32
	// callSNI is call with a server name of its own for the handshake ("" sends none).
	callSNI := func(sni, host, path string, cert *certtest.Pair) (int, string) {
		t.Helper()
		client := certClient(serverCA, sni, cert, func() { asked.Add(1) })
		req, _ := http.NewRequest("GET", "https://"+g.Server.Addr()+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET https://%s%s: %v", host, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	call := func(host, path string, cert *certtest.Pair) (int, string) {
		t.Helper()
		return callSNI(host, host, path, cert)
	}
	sec := "secure.localhost"
	for _, c := range []struct {
		name, host, path string
		cert             *certtest.Pair
		code             int
		body             string
	}{
		{"listed file", sec, "/byfile/x", partner, 200, ""},
		{"no certificate", sec, "/byfile/x", nil, 403, "Client TLS certificate is required"},
		{"another certificate of the same CA", sec, "/byfile/x", colleague, 403, "Certificate with SHA256 " + fingerprint(colleague) + " not allowed"},
		{"listed CA's certificate", sec, "/byca/x", colleague, 200, ""},
		{"another CA's certificate", sec, "/byca/x", stranger, 403, "not allowed"},
		{"a self-signed certificate claiming nothing", sec, "/byca/x", expired, 403, "not allowed"},
		{"listed by id", sec, "/byid/x", colleague, 200, ""},
		{"listed by id, expired", sec, "/byid/x", expired, 403, "Certificate has expired"},
		{"listed by id, another", sec, "/byid/x", partner, 403, "not allowed"},
	} {
		code, body := call(c.host, c.path, c.cert)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, body, c.code, c.body)
		}
	}
	if asked.Load() == 0 {
		t.Fatal("no handshake for secure.localhost asked for a client certificate")
	}

	// Other server names are not asked, and reach their APIs as before.
	asked.Store(0)
	if code, _ := call("localhost", "/open/x", nil); code != 200 {
		t.Errorf("an API without mutual TLS: %d", code)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("a handshake for localhost asked for a client certificate %d times", n)
	}
	// A certificate the listener was asked for on the secure name does not open other APIs
	// on that connection's name: requests are checked per API.
	if code, body := call(sec, "/open/x", stranger); code != 404 && code != 200 {
		t.Errorf("an API without mutual TLS, on the secure name: %d %s", code, body)
	}

	// A connection made for a name that was not asked, reused for an mTLS API's host (as
	// browsers do with HTTP/2): 421, so that the client opens one for that host.
	if code, body := callSNI("localhost", sec, "/byfile/x", partner); code != 421 || !strings.Contains(body, "Misdirected Request") {
		t.Errorf("a connection for another name: %d %q, want 421", code, body)
	}
	// A client connecting to the address sends no name: it is asked.
	asked.Store(0)
	if code, body := callSNI("", sec, "/byfile/x", partner); code != 200 || asked.Load() != 1 {
		t.Errorf("no server name: %d %q, asked %d times", code, body, asked.Load())
	}

	// A certificate taken out of a listed file stops being let in at the next reload, though
	// the definition did not change.
	if err := os.WriteFile(partnerFile, colleague.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	if code, _ := call(sec, "/byfile/x", partner); code != 403 {
		t.Errorf("a certificate taken out of the file, after a reload: %d, want 403", code)
	}
	if code, _ := call(sec, "/byfile/x", colleague); code != 200 {
		t.Errorf("the certificate the file holds now, after a reload: %d, want 200", code)
	}

	// An API added by a reload is asked for at once.
	late := gt.API("late", "/late/", up.URL)
	late.Domain, late.UseMutualTLSAuth, late.ClientCertificates = "late.localhost", true, []string{partnerFile}
	g.WriteAPI(late)
	g.Reload()
	asked.Store(0)
	if code, body := call("late.localhost", "/late/x", colleague); code != 200 || asked.Load() != 1 {
		t.Errorf("an API added by a reload: %d %q, asked %d times", code, body, asked.Load())
	}
}

// TestMutualTLSNeedsTLS: without use_ssl an API with use_mutual_tls_auth is not served, and
// /hello says why; one that lists no certificate is not served either.
func TestMutualTLSNeedsTLS(t *testing.T) {
	up := gt.NewUpstream(t)
	plain := gt.API("plain", "/plain/", up.URL)
	plain.UseMutualTLSAuth, plain.ClientCertificates = true, []string{strings.Repeat("ab", 32)}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plain}})
	g.Run(t,
		gt.Case{Name: "not served", Path: "/plain/x", Code: 404},
		gt.Case{Name: "health says why", Admin: true, Path: "/hello", Code: 200, BodyMatch: `use_mutual_tls_auth needs TLS on the listener`},
	)
}

// TestCertificateBindings: a key bound to client certificates (Tyk's
// mtls_static_certificate_bindings) is let in only with one of them, unexpired, presented in the
// handshake; a key without bindings is not concerned; bindings naming no certificate are refused
// by the Gateway API.
func TestCertificateBindings(t *testing.T) {
	up := gt.NewUpstream(t)
	serverCA, edge := tlsEdge(t, "secure.localhost")
	clientCA := certtest.NewCA(t, "partner CA")
	partner := clientCA.Issue(t, certtest.Leaf{CommonName: "partner", Client: true})
	colleague := clientCA.Issue(t, certtest.Leaf{CommonName: "colleague", Client: true})
	expired := expiredClientCert(t)

	secure := gt.Keyed(gt.API("secure", "/secure/", up.URL))
	secure.Domain, secure.UseMutualTLSAuth, secure.ClientCertificates = "secure.localhost", true, []string{string(clientCA.PEM)}
	open := gt.Keyed(gt.API("open", "/open/", up.URL))
	// A post_key_auth hook that answers the request itself: it must never act for a client
	// without the key's certificate.
	hooked := gt.Keyed(gt.API("hooked", "/hooked/", up.URL))
	hooked.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", PostKeyAuth: []apidef.MiddlewareDefinition{
		{Name: "Redirect", Path: plugintest.Build(t, faultsPkg)}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{secure, open, hooked}, Config: edge})
	client := func(sni string, cert *certtest.Pair) *http.Client { return certClient(serverCA, sni, cert, nil) }
	call := func(sni, host, path, key string, cert *certtest.Pair) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+g.Server.Addr()+path, nil)
		req.Host = host
		req.Header.Set("Authorization", key)
		resp, err := client(sni, cert).Do(req)
		if err != nil {
			t.Fatalf("GET https://%s%s: %v", host, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	admin := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://"+g.Server.Addr()+path, strings.NewReader(body))
		req.Host = "localhost"
		req.Header.Set("X-Tyk-Authorization", gt.Secret)
		resp, err := client("localhost", nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	key := func(name string, bindings ...string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"rate": 1000, "per": 1, "mtls_static_certificate_bindings": bindings,
			"access_rights": map[string]any{"secure": map[string]any{"api_id": "secure", "versions": []string{"Default"}},
				"open":   map[string]any{"api_id": "open", "versions": []string{"Default"}},
				"hooked": map[string]any{"api_id": "hooked", "versions": []string{"Default"}}}})
		if code, body := admin("POST", "/tyk/keys/"+name, string(b)); code != 200 {
			t.Fatalf("creating key %s: %d %s", name, code, body)
		}
		return name
	}
	bound := key("bound-key-0123456789", fingerprint(partner))
	byID := key("bound-by-id-0123456789", "acme"+strings.ToUpper(fingerprint(colleague)))
	boundExpired := key("bound-expired-0123456789", fingerprint(expired))
	free := key("free-key-0123456789")
	sec := "secure.localhost"
	for _, c := range []struct {
		name, sni, host, path, key string
		cert                       *certtest.Pair
		code                       int
		body                       string
	}{
		{"bound key, its certificate", sec, sec, "/secure/x", bound, partner, 200, ""},
		{"bound key, another certificate the API allows", sec, sec, "/secure/x", bound, colleague, 403, "Access to this API has been disallowed"},
		{"bound by Tyk's certificate id (case aside)", sec, sec, "/secure/x", byID, colleague, 200, ""},
		{"bound key on an API whose handshake asks for no certificate", "localhost", "localhost", "/open/x", bound, partner, 403, "Access to this API has been disallowed"},
		{"asked without a server name: the bound certificate works on the other API", "", "localhost", "/open/x", bound, partner, 200, ""},
		{"bound to an expired certificate", "", "localhost", "/open/x", boundExpired, expired, 403, "Certificate has expired"},
		{"a key without bindings, any certificate", sec, sec, "/secure/x", free, colleague, 200, ""},
		{"a key without bindings, no certificate asked", "localhost", "localhost", "/open/x", free, nil, 200, ""},
		{"a post_key_auth hook does not act for a bound key without its certificate", "localhost", "localhost", "/hooked/x", bound, nil, 403, "Access to this API has been disallowed"},
		{"the hook acts once the certificate is presented", "", "localhost", "/hooked/x", bound, partner, 302, ""},
	} {
		code, body := call(c.sni, c.host, c.path, c.key, c.cert)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.code, c.body)
		}
	}
	code, body := admin("POST", "/tyk/keys/bad-binding-0123456789", `{"rate": 10, "per": 1, "mtls_static_certificate_bindings": ["cert-id"],
		"access_rights": {"open": {"api_id": "open", "versions": ["Default"]}}}`)
	if code != 400 || !strings.Contains(body, "mtls_static_certificate_bindings[0]") {
		t.Errorf("a binding naming no certificate: %d %s", code, body)
	}
}
