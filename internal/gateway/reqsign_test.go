package gateway_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"math/big"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// upstreamSignature is a signature as an upstream reads it, parsed by hand.
type upstreamSignature struct {
	keyID, algorithm, signature string
	headers                     []string
	line                        string // what was signed, rebuilt from the request received
}

var sigParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// readUpstreamSignature parses the signature header of a request an upstream received and
// rebuilds the signing string from what it received, as an upstream checking it would: the
// request line as sent, and each named header's value.
func readUpstreamSignature(t *testing.T, got echo.Request, header string) upstreamSignature {
	t.Helper()
	v := got.Headers[header]
	if !strings.HasPrefix(v, "Signature ") {
		t.Fatalf("the upstream got %s %q, want a signature", header, v)
	}
	var s upstreamSignature
	for _, m := range sigParam.FindAllStringSubmatch(v, -1) {
		switch m[1] {
		case "keyId":
			s.keyID = m[2]
		case "algorithm":
			s.algorithm = m[2]
		case "headers":
			s.headers = strings.Split(m[2], " ")
		case "signature":
			s.signature = m[2]
		}
	}
	var lines []string
	for _, h := range s.headers {
		if h == "(request-target)" {
			lines = append(lines, "(request-target): "+strings.ToLower(got.Method)+" "+got.URI)
			continue
		}
		val, ok := got.Headers[textproto.CanonicalMIMEHeaderKey(h)]
		if !ok {
			t.Errorf("the signature names %q, which the upstream did not get", h)
		}
		lines = append(lines, h+": "+val)
	}
	s.line = strings.Join(lines, "\n")
	return s
}

// hmacOK reports whether s is the HMAC of its line under secret, standard base64,
// URL-query-escaped, as Tyk sends it.
func (s upstreamSignature) hmacOK(secret string, h func() hash.Hash) bool {
	m := hmac.New(h, []byte(secret))
	m.Write([]byte(s.line))
	return s.signature == url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// rsaCertPEM returns a self-signed certificate of a new RSA key, with the key, in PEM.
func rsaCertPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "gateway signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// TestRequestSigning: request_signing signs what the upstream gets, after the gateway's own
// changes: the request line as sent (the target's path and the query), the headers the steps
// and the proxy added, the gateway's Date; a client's Authorization is replaced, never signed. header_list signs the names the request carries; signature_header moves the
// signature; rsa-sha256 signs with the private key of a certificate store id, and an API whose
// key is removed from the store sends nothing more.
func TestRequestSigning(t *testing.T) {
	up := gt.NewUpstream(t)
	all := gt.API("all", "/all/", up.URL+"/base/")
	all.Proxy.StripListenPath = true
	v := all.VersionData.Versions["Default"]
	v.GlobalHeaders = map[string]string{"X-Added": "by-the-gateway"}
	all.VersionData.Versions["Default"] = v
	all.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-1", Algorithm: "hmac-sha256", Secret: "upstream-secret"}

	listed := gt.API("listed", "/listed/", up.URL)
	listed.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-2", Algorithm: "hmac-sha1", Secret: "other-secret",
		HeaderList: []string{"(request-target)", "Date", "X-Tenant", "Digest"}, SignatureHeader: "Signature"}

	fallback := gt.API("fallback", "/fallback/", up.URL)
	fallback.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-3", Algorithm: "hmac-sha1", Secret: "s", HeaderList: []string{"Digest"}}

	// A version with a target of its own signs too.
	versioned := gt.API("versioned", "/versioned/", up.URL)
	versioned.VersionData.NotVersioned = false
	versioned.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version"}
	versioned.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {Name: "v1"}, "v2": {Name: "v2", OverrideTarget: up.URL + "/v2"}}
	versioned.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-4", Algorithm: "hmac-sha256", Secret: "v"}

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{all, listed, fallback, versioned}})

	g.Run(t, gt.Case{Name: "override_target", Path: "/versioned/o", Headers: map[string]string{"X-Api-Version": "v2"}, Code: http.StatusOK})
	got, _ := up.Last()
	if s := readUpstreamSignature(t, got, "Authorization"); got.Path != "/v2/o" || !s.hmacOK("v", sha256.New) {
		t.Errorf("a version's own target got %s, signed %q:\n%s", got.Path, got.Headers["Authorization"], s.line)
	}

	// Without header_list: every header sent is signed, the gateway's too.
	g.Run(t, gt.Case{Name: "every header", Path: "/all/x?q=1&r=2", Headers: map[string]string{"Authorization": "Bearer client-token", "X-Tenant": "t1"}, Code: http.StatusOK})
	got, _ = up.Last()
	s := readUpstreamSignature(t, got, "Authorization")
	if s.keyID != "gw-1" || s.algorithm != "hmac-sha256" {
		t.Errorf("keyId %q algorithm %q, want gw-1 hmac-sha256", s.keyID, s.algorithm)
	}
	if !s.hmacOK("upstream-secret", sha256.New) {
		t.Errorf("the signature does not check against what the upstream got:\n%s", s.line)
	}
	if !strings.HasPrefix(s.line, "(request-target): get /base/x?q=1&r=2\n") {
		t.Errorf("the request line signed is not the one sent:\n%s", s.line)
	}
	for _, h := range []string{"date", "via", "x-added", "x-forwarded-for", "x-forwarded-host", "x-tenant"} {
		if !slices.Contains(s.headers, h) {
			t.Errorf("headers=%q leaves out %q", s.headers, h)
		}
	}
	if slices.Contains(s.headers, "authorization") {
		t.Errorf("headers=%q signs the header the signature replaces", s.headers)
	}
	if _, err := http.ParseTime(got.Headers["Date"]); err != nil {
		t.Errorf("the Date the gateway added, %q, is no HTTP date", got.Headers["Date"])
	}

	// A body: its length as sent is signed.
	g.Run(t, gt.Case{Name: "a body", Method: http.MethodPost, Path: "/all/b", Body: "hello", Code: http.StatusOK})
	got, _ = up.Last()
	if s := readUpstreamSignature(t, got, "Authorization"); !slices.Contains(s.headers, "content-length") || !s.hmacOK("upstream-secret", sha256.New) {
		t.Errorf("a POST's signature (%q) does not check against what the upstream got:\n%s", s.headers, s.line)
	}

	// header_list: what the request carries of it, in its order; the client's Authorization
	// passes as it came, the signature in Signature.
	const date = "Sun, 06 Dec 2099 10:00:00 GMT"
	g.Run(t, gt.Case{Name: "header_list", Path: "/listed/y?z=1", Headers: map[string]string{"Authorization": "Bearer client-token", "X-Tenant": "t2", "Date": date}, Code: http.StatusOK})
	got, _ = up.Last()
	s = readUpstreamSignature(t, got, "Signature")
	if want := []string{"(request-target)", "date", "x-tenant"}; !slices.Equal(s.headers, want) {
		t.Errorf("headers=%q, want %q (digest is not sent)", s.headers, want)
	}
	if !s.hmacOK("other-secret", sha1.New) || s.line != "(request-target): get /y?z=1\ndate: "+got.Headers["Date"]+"\nx-tenant: t2" {
		t.Errorf("the signature does not check, or signs another line:\n%s", s.line)
	}
	// The date signed is the gateway's: a client cannot have requests signed for later.
	if got.Headers["Date"] == date {
		t.Errorf("the client's Date %q was signed", date)
	}
	if got.Headers["Authorization"] != "Bearer client-token" {
		t.Errorf("the client's Authorization became %q", got.Headers["Authorization"])
	}

	// None of header_list's names sent: the request line and a date, as in Tyk.
	g.Run(t, gt.Case{Name: "header_list none sent", Path: "/fallback/", Code: http.StatusOK})
	got, _ = up.Last()
	s = readUpstreamSignature(t, got, "Authorization")
	if want := []string{"(request-target)", "date"}; !slices.Equal(s.headers, want) || !s.hmacOK("s", sha1.New) {
		t.Errorf("headers=%q (want %q), or the signature does not check:\n%s", s.headers, want, s.line)
	}

	// rsa-sha256 with a certificate store id.
	key, bundle := rsaCertPEM(t)
	r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/certs?org_id=acme", Body: bundle})
	var added struct{ ID string }
	if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &added) != nil {
		t.Fatalf("adding the signing certificate: %d %s", r.Code, r.Body)
	}
	rsaAPI := gt.API("rsa", "/rsa/", up.URL)
	rsaAPI.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-rsa", Algorithm: "rsa-sha256", CertificateID: added.ID}
	g.WriteAPI(rsaAPI)
	g.ReloadAndWait()
	g.Run(t, gt.Case{Name: "rsa-sha256", Path: "/rsa/k", Code: http.StatusOK})
	got, _ = up.Last()
	s = readUpstreamSignature(t, got, "Authorization")
	raw, err := base64.StdEncoding.DecodeString(s.signature)
	sum := sha256.Sum256([]byte(s.line))
	if err != nil || s.algorithm != "rsa-sha256" || rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], raw) != nil {
		t.Errorf("the rsa-sha256 signature (%q, %q) does not check with the certificate's key:\n%s", s.algorithm, s.signature, s.line)
	}

	sent := len(up.Requests())
	g.Run(t, gt.Case{Name: "remove the signing certificate", Admin: true, Method: http.MethodDelete, Path: "/tyk/certs/" + added.ID, Code: http.StatusOK})
	g.ReloadAndWait()
	if c := g.Do(gt.Case{Path: "/rsa/k"}); c.Code == http.StatusOK {
		t.Errorf("with its key removed from the store the API still answers 200")
	}
	if n := len(up.Requests()); n != sent {
		t.Errorf("with its key removed from the store the API sent %d more requests", n-sent)
	}
	if logs := g.Logs(); !strings.Contains(logs, "request_signing.certificate_id") {
		t.Errorf("the log does not say why the API stopped serving:\n%s", logs)
	}
	g.Run(t, gt.Case{Name: "/hello says why", Admin: true, Path: "/hello", BodyMatch: "request_signing.certificate_id"})

	// A file holding an EC certificate and key: rsa-sha256 cannot sign with it.
	ec := certtest.WriteFile(t, t.TempDir(), "ec.pem", certtest.NewCA(t, "signing CA").Localhost(t).Bundle())
	ecAPI := gt.API("ec", "/ec/", up.URL)
	ecAPI.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "gw-ec", Algorithm: "rsa-sha256", CertificateID: ec}
	g.WriteAPI(ecAPI)
	g.ReloadAndWait()
	g.Run(t, gt.Case{Name: "an EC key is not served", Admin: true, Path: "/hello", BodyMatch: `needs an RSA private key`})
	if n := len(up.Requests()); n != sent {
		t.Errorf("the upstream got %d more requests", n-sent)
	}
}

// TestRequestSigningToGatehouse: a gateway's signed requests pass another gateway's HMAC
// signature check (enable_signature_checking) with the key they name, and fail it with another
// secret: the two sides read signatures alike.
func TestRequestSigningToGatehouse(t *testing.T) {
	up := gt.NewUpstream(t)
	checked := gt.Keyed(gt.API("checked", "/checked/", up.URL))
	checked.OrgID, checked.EnableSignatureChecking, checked.UseStandardAuth = "acme", true, false
	checked.HmacAllowedClockSkew = 30000
	back := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{checked}})
	key, secret := hmacKey(t, back, `{"org_id": "acme", "rate": 100, "per": 60, "hmac_enabled": true,
		"access_rights": {"checked": {"api_id": "checked", "versions": ["Default"]}}}`)

	front := gt.API("front", "/front/", back.URL+"/checked/")
	front.Proxy.StripListenPath = true
	front.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: key, Algorithm: "hmac-sha256", Secret: secret,
		HeaderList: []string{"(request-target)", "date", "x-tenant"}}
	wrong := gt.API("wrong", "/wrong/", back.URL+"/checked/")
	wrong.Proxy.StripListenPath = true
	wrong.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: key, Algorithm: "hmac-sha256", Secret: secret + "x"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{front, wrong}})

	g.Run(t,
		gt.Case{Name: "signed by the front gateway", Path: "/front/orders", Headers: map[string]string{"X-Tenant": "t1"}, Code: http.StatusOK},
		gt.Case{Name: "signed with another secret", Path: "/wrong/orders", Code: http.StatusBadRequest, BodyMatch: "Authorization field missing, malformed or invalid"},
	)
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("the upstream behind the checking gateway got %d requests, want the one signed right", n)
	}
}
