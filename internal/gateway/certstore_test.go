package gateway_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// certID is the id the certificate store gives pair's certificate under org.
func certID(org string, der []byte) string {
	sum := sha256.Sum256(der)
	return org + hex.EncodeToString(sum[:])
}

// settles waits until c's request gets c's status (a change to the store reloads the
// gateways, which takes a moment), and then checks the whole answer.
func settles(t *testing.T, g *gt.Gateway, c gt.Case) {
	t.Helper()
	eventually(t, c.Name, func() bool { return g.Do(c).Code == c.Code })
	g.Run(t, c)
}

// TestCertificateStoreAPI: /tyk/certs adds, lists, describes and removes certificates in Tyk's
// shapes; a definition naming an upstream client certificate by id serves once the store holds
// it, presenting it, and stops when it is removed (a removal is not undone by the last good
// copy, as a file's breakage is).
func TestCertificateStoreAPI(t *testing.T) {
	m := startMutualTLSUpstream(t)
	bundle, err := os.ReadFile(m.good)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(bundle, bundle)
	if err != nil {
		t.Fatal(err)
	}
	id := certID("org1", pair.Certificate[0])
	byID := gt.API("byid", "/byid/", m.target)
	byID.UpstreamCertificates = map[string]string{"*": id}
	// Pinning by id: the key of the certificate the id names, not those of the CA stored in
	// its chain (which signed the upstream's certificate too).
	pinCA := certtest.NewCA(t, "pinned upstream CA")
	upPair, sibling := pinCA.Localhost(t), pinCA.Localhost(t)
	pinUp := startTLSUpstream(t, upPair.WithChain(pinCA), false, nil)
	pinTarget := strings.Replace(pinUp.URL, "127.0.0.1", "localhost", 1)
	upPinID, siblingPinID := certID("pins", upPair.TLS.Certificate[0]), certID("pins", sibling.TLS.Certificate[0])
	pinOwn := gt.API("pin-own", "/pin-own/", pinTarget)
	pinOwn.PinnedPublicKeys = map[string]string{"*": upPinID}
	pinSibling := gt.API("pin-sibling", "/pin-sibling/", pinTarget)
	pinSibling.PinnedPublicKeys = map[string]string{"*": siblingPinID}
	// Pinned by an id the memory store never held: its fingerprint (of the upstream's key)
	// stands for it, until the id is removed through the store.
	fpID := "keys" + certtest.PublicKeyFingerprint(upPair.TLS.Leaf)
	pinFP := gt.API("pin-fp", "/pin-fp/", pinTarget)
	pinFP.PinnedPublicKeys = map[string]string{"*": fpID}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{byID, pinOwn, pinSibling, pinFP}, Config: func(c *config.Config) {
		c.ProxySSLCAFile = m.caFile
	}})
	ca := certtest.NewCA(t, "listed CA")

	g.Run(t,
		gt.Case{Name: "not in the store: not served", Path: "/byid/x", Code: http.StatusNotFound},
		gt.Case{Name: "health says what to do", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: `POST /tyk/certs`},
		gt.Case{Name: "an empty store", Path: "/tyk/certs", Admin: true, Code: http.StatusOK, BodyMatch: `"certs": \[\]`},
		gt.Case{Name: "add the client certificate", Method: "POST", Path: "/tyk/certs?org_id=org1", Body: string(bundle), Admin: true,
			Code: http.StatusOK, BodyMatch: `"id": "` + id + `",\s*"status": "ok",\s*"message": "Certificate added"`},
		gt.Case{Name: "again: refused as Tyk does", Method: "POST", Path: "/tyk/certs?org_id=org1", Body: string(bundle), Admin: true,
			Code: http.StatusForbidden, BodyMatch: `already`},
		gt.Case{Name: "not PEM", Method: "POST", Path: "/tyk/certs", Body: "hello", Admin: true, Code: http.StatusForbidden, BodyMatch: `no PEM certificate`},
		gt.Case{Name: "a CA without key, in another org", Method: "POST", Path: "/tyk/certs?org_id=org2", Body: string(ca.PEM), Admin: true,
			Code: http.StatusOK, BodyMatch: regexpQuote(certID("org2", ca.Cert.Raw))},
		gt.Case{Name: "without the secret", Path: "/tyk/certs", Code: http.StatusForbidden},
	)
	settles(t, g, gt.Case{Name: "served once the store holds it", Path: "/byid/x", Code: http.StatusOK})
	for _, p := range []*certtest.Pair{upPair, sibling} {
		g.Run(t, gt.Case{Name: "add a pinned certificate with its CA", Method: "POST", Path: "/tyk/certs?org_id=pins",
			Body: string(p.CertPEM) + string(pinCA.PEM), Admin: true, Code: http.StatusOK})
	}
	settles(t, g, gt.Case{Name: "pinned by the upstream certificate's id", Path: "/pin-own/x", Code: http.StatusOK})
	g.Run(t, gt.Case{Name: "pinned by a sibling's id: its CA is not pinned", Path: "/pin-sibling/x", Code: http.StatusBadGateway},
		gt.Case{Name: "pinned by an id never added: its fingerprint", Path: "/pin-fp/x", Code: http.StatusOK},
		gt.Case{Name: "remove the id never added", Method: "DELETE", Path: "/tyk/certs/" + fpID, Admin: true, Code: http.StatusOK})
	settles(t, g, gt.Case{Name: "removed: the fingerprint no longer stands for it", Path: "/pin-fp/x", Code: http.StatusNotFound})
	if _, peer := m.up.last(t); peer != "gateway" {
		t.Errorf("the upstream saw the client certificate %q, want the store's", peer)
	}

	var list struct{ Certs []string }
	r := g.Do(gt.Case{Path: "/tyk/certs?org_id=org1", Admin: true})
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Certs) != 1 || list.Certs[0] != id {
		t.Fatalf("org1's list: %s", r.Body)
	}
	r = g.Do(gt.Case{Path: "/tyk/certs", Admin: true})
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Certs) != 4 {
		t.Fatalf("the whole list: %s", r.Body)
	}
	g.Run(t,
		gt.Case{Name: "detailed", Path: "/tyk/certs?mode=detailed&org_id=org2", Admin: true, Code: http.StatusOK,
			BodyMatch: `"subject_cn": "listed CA",[\s\S]*"has_private": false,[\s\S]*"is_ca": true`},
		gt.Case{Name: "one", Path: "/tyk/certs/" + id, Admin: true, Code: http.StatusOK,
			BodyMatch: `"fingerprint": "` + id[4:] + `",\s*"has_private": true`},
		gt.Case{Name: "one, not the key", Path: "/tyk/certs/" + id, Admin: true, Code: http.StatusOK, BodyNotMatch: `PRIVATE|BEGIN`},
		gt.Case{Name: "several, one unknown", Path: "/tyk/certs/" + id + "," + certID("x", []byte("y")), Admin: true, Code: http.StatusOK,
			BodyMatch: `^\[\s*\{[\s\S]*\},\s*null\s*\]`},
		gt.Case{Name: "unknown", Path: "/tyk/certs/" + certID("x", []byte("y")), Admin: true, Code: http.StatusNotFound,
			BodyMatch: `Certificate with given SHA256 fingerprint not found`},
		gt.Case{Name: "remove", Method: "DELETE", Path: "/tyk/certs/" + id, Admin: true, Code: http.StatusOK, BodyMatch: `"removed"`},
	)
	settles(t, g, gt.Case{Name: "removed: no longer served", Path: "/byid/x", Code: http.StatusNotFound})
}

func regexpQuote(s string) string { return strings.NewReplacer(".", `\.`, "+", `\+`).Replace(s) }

// TestCertificateStoreFleet: with Redis, a certificate added through one gateway is what
// another's TLS listener serves (ssl_certificates) and what its APIs take, by id, as client
// certificates (a CA's id lets in what the CA issued; a client certificate's id that one alone,
// not the CA stored in its chain) and upstream client certificates; one removed through a
// gateway stops being let in, or served, on the others.
func TestCertificateStoreFleet(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	m := startMutualTLSUpstream(t)
	upstreamBundle, err := os.ReadFile(m.good)
	if err != nil {
		t.Fatal(err)
	}
	upPair, _ := tls.X509KeyPair(upstreamBundle, upstreamBundle)
	serverCA, clientCA, otherCA := certtest.NewCA(t, "listener CA"), certtest.NewCA(t, "partner CA"), certtest.NewCA(t, "stranger CA")
	listener := serverCA.Issue(t, certtest.Leaf{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	partner := clientCA.Issue(t, certtest.Leaf{CommonName: "partner", Client: true})
	bob := clientCA.Issue(t, certtest.Leaf{CommonName: "bob", Client: true})
	otherListener := certtest.WriteFile(t, t.TempDir(), "other.pem",
		serverCA.Issue(t, certtest.Leaf{CommonName: "other.localhost", DNSNames: []string{"other.localhost"}}).Bundle())
	stranger := otherCA.Issue(t, certtest.Leaf{CommonName: "stranger", Client: true})

	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	add := func(name string, pem []byte) string {
		t.Helper()
		r := a.Do(gt.Case{Method: "POST", Path: "/tyk/certs?org_id=acme", Body: string(pem), Admin: true})
		var out struct{ ID string }
		if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &out) != nil {
			t.Fatalf("adding %s: %d %s", name, r.Code, r.Body)
		}
		return out.ID
	}
	listenerID, caID, upID := add("listener", listener.Bundle()), add("client CA", clientCA.PEM), add("upstream client", upstreamBundle)
	bobID := add("bob with his CA", append(append([]byte{}, bob.CertPEM...), clientCA.PEM...))
	if upID != certID("acme", upPair.Certificate[0]) {
		t.Fatalf("upstream client id %s", upID)
	}

	secure := gt.API("secure", "/secure/", m.target)
	secure.UseMutualTLSAuth, secure.ClientCertificates = true, []string{caID}
	secure.UpstreamCertificates = map[string]string{"*": upID}
	byLeaf := gt.API("byleaf", "/byleaf/", m.target)
	byLeaf.UseMutualTLSAuth, byLeaf.ClientCertificates = true, []string{bobID}
	byLeaf.UpstreamCertificates = map[string]string{"*": upID}
	// Pinned by an id Redis does not hold: nothing pinned, so nothing reached.
	pinned := gt.API("pinned", "/pinned/", m.target)
	pinned.PinnedPublicKeys = map[string]string{"*": "acme" + strings.Repeat("0", 64)}
	b := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{secure, byLeaf, pinned}, Config: func(c *config.Config) {
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.SSLCertificates = []string{listenerID, otherListener}
		c.ProxySSLCAFile = m.caFile
	}})
	callPath := func(path string, cert *certtest.Pair) (int, string, error) {
		t.Helper()
		client := certClient(serverCA, "localhost", cert, nil)
		req, _ := http.NewRequest(http.MethodGet, "https://"+b.Server.Addr()+path, nil)
		req.Header.Set("X-Tyk-Authorization", gt.Secret) // /hello's details need it
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	call := func(cert *certtest.Pair) (int, string) {
		t.Helper()
		code, body, err := callPath("/secure/x", cert)
		if err != nil {
			t.Fatalf("the listener serving the store's certificate: %v", err)
		}
		return code, body
	}
	health := func() string {
		t.Helper()
		_, body, err := callPath("/hello", nil)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	leafCall := func(cert *certtest.Pair) int {
		t.Helper()
		code, _, err := callPath("/byleaf/x", cert)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	if code, _, err := callPath("/pinned/x", bob); err != nil || code != http.StatusNotFound {
		t.Errorf("an upstream pinned only by an id Redis does not hold: %d %v, want 404 (not served)", code, err)
	}
	if h := health(); !strings.Contains(h, "no pinned key can be used") {
		t.Errorf("/hello does not say why the pinned API is not served:\n%s", h)
	}
	if code := leafCall(bob); code != http.StatusOK {
		t.Errorf("the certificate a leaf's id names: %d", code)
	}
	if code := leafCall(partner); code != http.StatusForbidden {
		t.Errorf("another certificate of the CA stored in the leaf's chain: %d, want 403", code)
	}
	if code, body := call(partner); code != http.StatusOK {
		t.Fatalf("a certificate the stored CA issued: %d %s", code, body)
	}
	if _, peer := m.up.last(t); peer != "gateway" {
		t.Errorf("the upstream saw the client certificate %q, want the store's", peer)
	}
	if code, _ := call(stranger); code != http.StatusForbidden {
		t.Errorf("another CA's certificate: %d, want 403", code)
	}

	// Removed through a: b stops letting the CA's certificates in.
	a.Run(t, gt.Case{Name: "remove the CA", Method: "DELETE", Path: "/tyk/certs/" + caID, Admin: true, Code: http.StatusOK})
	// The API lists nothing else: it is no longer served (404), saying why on /hello.
	eventually(t, "the removed CA stops letting its certificates in on the other gateway", func() bool {
		code, _ := call(partner)
		return code == http.StatusNotFound
	})
	if h := health(); !strings.Contains(h, "ids the certificate store does not hold allow nothing") {
		t.Errorf("/hello does not say why the API is not served:\n%s", h)
	}
	// A client certificate removed by its own id is not let in either (its fingerprint does not
	// stand for it: Redis's answer is final, as in Tyk).
	a.Run(t, gt.Case{Name: "remove bob", Method: "DELETE", Path: "/tyk/certs/" + bobID, Admin: true, Code: http.StatusOK})
	eventually(t, "bob is refused once removed (the API lists nothing else: not served)", func() bool { return leafCall(bob) == http.StatusNotFound })

	// The listener's certificate removed: the other one serves, and the name it was for is no
	// longer served a certificate clients trust for it.
	a.Run(t, gt.Case{Name: "remove the listener's certificate", Method: "DELETE", Path: "/tyk/certs/" + listenerID, Admin: true, Code: http.StatusOK})
	eventually(t, "the removed listener certificate stops being served", func() bool {
		_, _, err := callPath("/secure/x", partner)
		return err != nil && strings.Contains(err.Error(), "certificate")
	})
	// /hello over the remaining certificate (verified for its own name).
	tc := &tls.Config{ServerName: "other.localhost", RootCAs: serverCA.Pool()}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+b.Server.Addr()+"/hello", nil)
	req.Header.Set("X-Tyk-Authorization", gt.Secret) // the details name the certificate
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if h, _ := io.ReadAll(resp.Body); !strings.Contains(string(h), "no longer served") {
		t.Errorf("/hello does not report the certificate no longer served:\n%s", h)
	}
}
