package gateway_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// rsaSign signs a request as a client library does, by hand with the standard library:
// PKCS #1 v1.5 over SHA-256 of the signing string, standard base64.
func rsaSign(t *testing.T, keyID string, key *rsa.PrivateKey, signed, lines []string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return `Signature keyId="` + keyID + `",algorithm="rsa-sha256",headers="` + strings.Join(signed, " ") + `",signature="` + base64.StdEncoding.EncodeToString(sig) + `"`
}

// publicKeyPEM returns pub as a PEM PUBLIC KEY block.
func publicKeyPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// TestRSASignatures: rsa-sha256 request signatures are verified with the public key a key's
// rsa_certificate_id names in the certificate store, as in Tyk: a signature by that key passes,
// one by another key or for another path gets the 400, a key without an RSA key in the store
// Tyk's 500s; a key removed from the store stops passing.
func TestRSASignatures(t *testing.T) {
	up := gt.NewUpstream(t)
	api := gt.Keyed(gt.API("rsa", "/rsa/", up.URL))
	api.OrgID, api.EnableSignatureChecking, api.UseStandardAuth = "acme", true, false
	api.HmacAllowedAlgorithms = []string{"rsa-sha256"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}})

	signer, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	addKey := func(pemText string) string {
		t.Helper()
		r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/certs?org_id=acme", Body: pemText})
		var out struct{ ID string }
		if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &out) != nil {
			t.Fatalf("adding a public key: %d %s", r.Code, r.Body)
		}
		return out.ID
	}
	rsaID, ecID := addKey(publicKeyPEM(t, &signer.PublicKey)), addKey(publicKeyPEM(t, &ec.PublicKey))
	access := `"access_rights": {"rsa": {"api_id": "rsa", "versions": ["Default"]}}`
	key := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, EnableHTTPSignatureValidation: true, RSACertificateID: rsaID,
		AccessRights: map[string]apidef.AccessDefinition{"rsa": {APIID: "rsa", Versions: []string{"Default"}}}})
	ecKey := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, EnableHTTPSignatureValidation: true, RSACertificateID: ecID,
		AccessRights: map[string]apidef.AccessDefinition{"rsa": {APIID: "rsa", Versions: []string{"Default"}}}})
	missingKey := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, EnableHTTPSignatureValidation: true, RSACertificateID: "acme" + strings.Repeat("0", 64),
		AccessRights: map[string]apidef.AccessDefinition{"rsa": {APIID: "rsa", Versions: []string{"Default"}}}})
	offKey := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, RSACertificateID: rsaID,
		AccessRights: map[string]apidef.AccessDefinition{"rsa": {APIID: "rsa", Versions: []string{"Default"}}}})
	g.Run(t, gt.Case{Name: "a key naming a file is refused", Admin: true, Method: http.MethodPost, Path: "/tyk/keys",
		Body: `{"org_id": "acme", "enable_http_signature_validation": true, "rsa_certificate_id": "/etc/passwd", ` + access + `}`,
		Code: http.StatusBadRequest, BodyMatch: `rsa_certificate_id`})

	now := time.Now().UTC().Format(http.TimeFormat)
	signed := func(name, path, keyID string, k *rsa.PrivateKey) gt.Case {
		return gt.Case{Name: name, Path: path, Headers: map[string]string{"Date": now,
			"Authorization": rsaSign(t, keyID, k, []string{"(request-target)", "date"}, []string{"(request-target): get /rsa/x", "date: " + now})}}
	}
	with := func(c gt.Case, code int, body string) gt.Case {
		c.Code, c.BodyMatch = code, body
		return c
	}
	const invalid = "Authorization field missing, malformed or invalid"
	g.Run(t,
		with(signed("signed by the key's RSA key", "/rsa/x", key, signer), http.StatusOK, ""),
		with(signed("signed by another key", "/rsa/x", key, other), http.StatusBadRequest, invalid),
		with(signed("signed for another path", "/rsa/y", key, signer), http.StatusBadRequest, invalid),
		with(signed("a key without enable_http_signature_validation", "/rsa/x", offKey, signer), http.StatusBadRequest, invalid),
		with(signed("an id the store does not hold", "/rsa/x", missingKey, signer), http.StatusInternalServerError, "Certificate not found"),
		with(signed("an EC key in the store", "/rsa/x", ecKey, signer), http.StatusInternalServerError, "Certificate doesn't contain RSA Public key"),
	)
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("the upstream received %d requests, want the one signed by the key's RSA key", n)
	}
	g.Run(t, gt.Case{Name: "remove the public key", Admin: true, Method: http.MethodDelete, Path: "/tyk/certs/" + rsaID, Code: http.StatusOK})
	g.Run(t, with(signed("removed from the store", "/rsa/x", key, signer), http.StatusInternalServerError, "Certificate not found"))
}
