package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/session"
)

// TestCertificateAuth: with auth_configs.authToken.use_certificate (Tyk 5.12's certificate
// auth), the key is the one created for the client certificate the handshake presents, which
// must be in the certificate store; a token is not read, and a certificate's key, whose name
// is no secret, is no token on any API. Tyk's answers: 401 without a certificate or without a
// key for it, 403 for an expired one or one taken out of the store.
func TestCertificateAuth(t *testing.T) {
	up := gt.NewUpstream(t)
	serverCA, edge := tlsEdge(t, "certs.localhost")
	clientCA := certtest.NewCA(t, "partner CA")
	partner := clientCA.Issue(t, certtest.Leaf{CommonName: "partner", Client: true})
	stranger := clientCA.Issue(t, certtest.Leaf{CommonName: "stranger", Client: true})
	expired := expiredClientCert(t)

	byCert := gt.Keyed(gt.API("bycert", "/bycert/", up.URL))
	byCert.OrgID, byCert.Domain = "acme", "certs.localhost"
	byCert.AuthConfigs = map[string]apidef.AuthConfig{apidef.ConfigAuthToken: {Name: apidef.ConfigAuthToken, UseCertificate: true}}
	open := gt.Keyed(gt.API("open", "/open/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{byCert, open}, Config: edge})
	do := func(method, sni, host, path, token, body string, admin bool, cert *certtest.Pair) (int, string) {
		t.Helper()
		client := certClient(serverCA, sni, cert, nil)
		req, _ := http.NewRequest(method, "https://"+g.Server.Addr()+path, strings.NewReader(body))
		req.Host = host
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		if admin {
			req.Header.Set("X-Tyk-Authorization", gt.Secret)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s https://%s%s: %v", method, host, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin := func(method, path, body string) (int, string) {
		t.Helper()
		return do(method, "localhost", "localhost", path, "", body, true, nil)
	}
	const certsHost = "certs.localhost"
	call := func(token string, cert *certtest.Pair) (int, string) {
		t.Helper()
		return do("GET", certsHost, certsHost, "/bycert/x", token, "", false, cert)
	}

	code, body := admin("POST", "/tyk/certs?org_id=acme", string(partner.CertPEM))
	var added struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &added); code != 200 || err != nil || added.ID == "" {
		t.Fatalf("adding the certificate: %d %s", code, body)
	}
	if want := "acme" + fingerprint(partner); added.ID != want {
		t.Fatalf("certificate id %q, want %q", added.ID, want)
	}
	keyBody := func(cert string) string {
		b, _ := json.Marshal(map[string]any{"rate": 1000, "per": 1, "certificate": cert, "org_id": "acme",
			"access_rights": map[string]any{"bycert": map[string]any{"api_id": "bycert", "versions": []string{"Default"}},
				"open": map[string]any{"api_id": "open", "versions": []string{"Default"}}}})
		return string(b)
	}
	code, body = admin("POST", "/tyk/keys", keyBody(added.ID))
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &created); code != 200 || err != nil || created.Key != "certificate-"+added.ID {
		t.Fatalf("creating the certificate's key: %d %s", code, body)
	}
	name := created.Key

	for _, c := range []struct {
		what  string
		token string
		cert  *certtest.Pair
		code  int
		body  string
	}{
		{"the certificate, no token", "", partner, 200, ""},
		{"the certificate and a token that is no key: the token is not read", "nonsense", partner, 200, ""},
		{"no certificate", "", nil, 401, "Client certificate required"},
		{"no certificate, the key's name as a token", name, nil, 401, "Client certificate required"},
		{"a certificate without a key", "", stranger, 401, "Access to this API has been disallowed"},
		{"an expired certificate", "", expired, 403, "Certificate has expired"},
		{"a certificate not valid yet", "", selfSignedClientCert(t, time.Now().Add(time.Hour), time.Now().Add(48*time.Hour)), 403, "Access to this API has been disallowed"},
	} {
		if code, body := call(c.token, c.cert); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.what, code, body, c.code, c.body)
		}
	}
	// A connection made for a name the handshake asks no certificate for (reused by a client
	// for this API's host): 421, so that the client opens one for this host.
	if code, body := do("GET", "localhost", certsHost, "/bycert/x", "", "", false, partner); code != http.StatusMisdirectedRequest {
		t.Errorf("a connection made for another name: %d %s, want 421", code, body)
	}
	// The key's name is no token on an API with key auth, whose access rights it has.
	if code, body := do("GET", "localhost", "localhost", "/open/x", name, "", false, nil); code != 403 {
		t.Errorf("the certificate's key as a token elsewhere: %d %s", code, body)
	}

	// The Gateway API: one key per certificate, only for certificates in the store, and names
	// that match.
	for _, c := range []struct {
		what, method, path, body string
		code                     int
		msg                      string
	}{
		{"a second key for the certificate", "POST", "/tyk/keys", keyBody(added.ID), 409, "Key with given certificate already found"},
		{"a key for a certificate not in the store", "POST", "/tyk/keys", keyBody("acme" + fingerprint(stranger)), 400, "is not in the certificate store"},
		{"a certificate id that is no id", "POST", "/tyk/keys", keyBody("acme"), 400, "not an id of the certificate store"},
		{"a certificate's key under another name", "POST", "/tyk/keys/my-own-name-0123456789", keyBody(added.ID), 400, "is named from it"},
		{"a name for certificates without one", "POST", "/tyk/keys/certificate-made-up-0123456789",
			`{"rate": 1, "per": 1, "access_rights": {"open": {"api_id": "open", "versions": ["Default"]}}}`, 400, "are for client certificates' keys"},
		{"the certificate's key rewritten without it", "PUT", "/tyk/keys/" + name,
			`{"rate": 1, "per": 1, "access_rights": {"open": {"api_id": "open", "versions": ["Default"]}}}`, 400, "keep its certificate field"},
		{"a key for a certificate not in the store, written by its name", "POST", "/tyk/keys/certificate-acme" + fingerprint(stranger),
			keyBody("acme" + fingerprint(stranger)), 400, "is not in the certificate store"},
		{"a new key written by its hash", "POST", "/tyk/keys/" + session.HashKey("certificate-acme"+fingerprint(stranger)) + "?hashed=true",
			`{"rate": 1, "per": 1, "access_rights": {"open": {"api_id": "open", "versions": ["Default"]}}}`, 400, "not by its hash"},
		{"a certificate's key that is also an OAuth token", "POST", "/tyk/keys",
			strings.Replace(keyBody(added.ID), `"certificate"`, `"oauth_client_id": "cli", "certificate"`, 1), 400, "found by the client certificate only"},
		{"the certificate's key rewritten by its name", "PUT", "/tyk/keys/" + name, keyBody(added.ID), 200, ""},
	} {
		if code, body := admin(c.method, c.path, c.body); code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s, want %d %q", c.what, code, body, c.code, c.msg)
		}
	}

	// Requests racing to create the certificate's key (on one gateway or on several sharing a
	// store): one is created, the others get 409, none writes over it.
	if code, body := admin("DELETE", "/tyk/keys/"+name, ""); code != 200 {
		t.Fatalf("deleting the certificate's key: %d %s", code, body)
	}
	const racers = 8
	codes := make(chan int, racers)
	for range racers {
		go func() {
			req, _ := http.NewRequest("POST", "https://"+g.Server.Addr()+"/tyk/keys", strings.NewReader(keyBody(added.ID)))
			req.Host = "localhost"
			req.Header.Set("X-Tyk-Authorization", gt.Secret)
			resp, err := certClient(serverCA, "localhost", nil, nil).Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	got := map[int]int{}
	for range racers {
		got[<-codes]++
	}
	if got[200] != 1 || got[409] != racers-1 {
		t.Errorf("%d requests creating one certificate's key: answers %v, want one 200 and 409s", racers, got)
	}

	// Taken out of the store, the certificate no longer gets in, key or not.
	if code, body := admin("DELETE", "/tyk/certs/"+added.ID, ""); code != 200 {
		t.Fatalf("deleting the certificate: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := call("", partner)
		if code == 403 && strings.Contains(body, "Access to this API has been disallowed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the certificate taken out of the store: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCertificateAuthNeedsTLS: certificate auth on a gateway without TLS is refused, saying why.
func TestCertificateAuthNeedsTLS(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("bycert", "/bycert/", up.URL))
	def.Auth.UseCertificate = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	if r := g.Do(gt.Case{Path: "/bycert/x"}); r.Code != 404 {
		t.Errorf("an API with certificate auth served without TLS: %d %s", r.Code, r.Body)
	}
	if !strings.Contains(g.Logs(), "needs TLS on the listener") {
		t.Error("the log does not say why the API is refused")
	}
}
