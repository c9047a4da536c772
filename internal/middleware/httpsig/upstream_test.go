package httpsig

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

var signClock = func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.FixedZone("CET", 3600)) }

// signed signs a request made by mk with rs and returns the request and its signature's
// parameters, read back by Parse.
func signed(t *testing.T, rs apidef.RequestSigning, key *rsa.PrivateKey, r *http.Request) Params {
	t.Helper()
	s, err := NewSigner(rs, key, signClock)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(r); err != nil {
		t.Fatal(err)
	}
	v := r.Header.Get(rs.Header())
	p, err := Parse(v)
	if err != nil {
		t.Fatalf("the signature header %q does not parse: %v", v, err)
	}
	if p.KeyID != rs.KeyID || p.Algorithm != rs.Algorithm {
		t.Errorf("keyId %q algorithm %q, want %q %q", p.KeyID, p.Algorithm, rs.KeyID, rs.Algorithm)
	}
	return p
}

// TestSignerEveryHeader: without header_list the request line, every single-valued header in
// canonical form but the signature's own, sorted, and a Date added in GMT when there is none.
func TestSignerEveryHeader(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://up.test/base/x?q=1&r=%2F", nil)
	r.Header = http.Header{
		"X-Tenant":      {"t1"},
		"Accept":        {"application/json"},
		"X-Several":     {"a", "b"},
		"Authorization": {"Bearer client"},
		"User-Agent":    nil,
		"x-raw":         {"not canonical"},
	}
	rs := apidef.RequestSigning{IsEnabled: true, KeyID: "gw", Algorithm: apidef.HMACSHA512, Secret: "s"}
	p := signed(t, rs, nil, r)
	// A POST without a body is sent with Content-Length: 0.
	if want := []string{"(request-target)", "accept", "content-length", "date", "x-tenant"}; !slices.Equal(p.Headers, want) {
		t.Errorf("headers %q, want %q", p.Headers, want)
	}
	if got := r.Header.Get("Date"); got != "Sun, 06 Dec 2026 09:00:00 GMT" {
		t.Errorf("Date %q, want the clock's time in GMT", got)
	}
	line := "(request-target): post /base/x?q=1&r=%2F\naccept: application/json\ncontent-length: 0\ndate: Sun, 06 Dec 2026 09:00:00 GMT\nx-tenant: t1"
	if !Verify("s", apidef.HMACSHA512, line, p.Signature) {
		t.Errorf("the signature is not the HMAC-SHA512 of\n%s", line)
	}
	// The date signed is the gateway's, whatever the client sent: a client cannot have
	// requests signed for later.
	r = httptest.NewRequest(http.MethodGet, "http://up.test/", nil)
	r.Header = http.Header{"Date": {"Mon, 07 Dec 2026 08:00:00 GMT"}, "X-Aux-Date": {"Mon, 07 Dec 2026 08:00:00 GMT"},
		"X_aux_date": {"Mon, 07 Dec 2026 08:00:00 GMT"}, "date": {"Mon, 07 Dec 2026 08:00:00 GMT"}}
	p = signed(t, rs, nil, r)
	if want := []string{"(request-target)", "date"}; !slices.Equal(p.Headers, want) || r.Header.Get("Date") != "Sun, 06 Dec 2026 09:00:00 GMT" || r.Header.Get("X-Aux-Date") != "" {
		t.Errorf("headers %q, Date %q, X-Aux-Date %q: the client's date is signed", p.Headers, r.Header.Get("Date"), r.Header.Get("X-Aux-Date"))
	}
	// Spelt with '_' or in another case, which some upstreams read as the same: gone too.
	for _, k := range []string{"X_aux_date", "date"} {
		if _, ok := r.Header[k]; ok {
			t.Errorf("the client's %s is sent beside the gateway's Date: %v", k, r.Header)
		}
	}
}

// TestSignerHeaderList: header_list's names the request carries, in its order, each once;
// (request-target) and date always, with a Date added; none carried, the request line and date.
func TestSignerHeaderList(t *testing.T) {
	rs := apidef.RequestSigning{IsEnabled: true, KeyID: "gw", Algorithm: apidef.HMACSHA1, Secret: "s", SignatureHeader: "x-signature",
		HeaderList: []string{"X-Tenant", "Digest", "(request-target)", "x-tenant", "Date"}}
	r := httptest.NewRequest(http.MethodGet, "http://up.test/a", nil)
	r.Header = http.Header{"X-Tenant": {"t1"}, "X-Other": {"o"}}
	p := signed(t, rs, nil, r)
	if want := []string{"x-tenant", "(request-target)", "date"}; !slices.Equal(p.Headers, want) {
		t.Errorf("headers %q, want %q", p.Headers, want)
	}
	line := "x-tenant: t1\n(request-target): get /a\ndate: Sun, 06 Dec 2026 09:00:00 GMT"
	if !Verify("s", apidef.HMACSHA1, line, p.Signature) {
		t.Errorf("the signature is not the HMAC-SHA1 of\n%s", line)
	}
	if _, ok := r.Header["X-Signature"]; !ok {
		t.Errorf("the signature is not in the canonical X-Signature: %v", r.Header)
	}

	rs.HeaderList = []string{"Digest"}
	r = httptest.NewRequest(http.MethodGet, "http://up.test/b", nil)
	p = signed(t, rs, nil, r)
	if want := []string{"(request-target)", "date"}; !slices.Equal(p.Headers, want) || r.Header.Get("Date") == "" {
		t.Errorf("headers %q (want %q), Date %q", p.Headers, want, r.Header.Get("Date"))
	}
}

// TestSignerRSA: rsa-sha256 signs with the private key, standard base64, and a signer needs one.
func TestSignerRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := apidef.RequestSigning{IsEnabled: true, KeyID: "gw", Algorithm: apidef.RSASHA256, CertificateID: "c.pem"}
	r := httptest.NewRequest(http.MethodDelete, "http://up.test/z", nil)
	p := signed(t, rs, key, r)
	line := "(request-target): delete /z\ndate: Sun, 06 Dec 2026 09:00:00 GMT"
	if !VerifyRSA(&key.PublicKey, line, p.Signature) {
		t.Errorf("the signature does not verify with the public key over\n%s", line)
	}
	if _, err := NewSigner(rs, nil, nil); err == nil {
		t.Error("an rsa-sha256 signer without a key was made")
	}
}

// TestSignerSignsWhatIsSent: the header signed is the one the transport writes: Content-Length
// from the request's length (a GET's stale header dropped, a body a plugin replaced counted as
// sent), the gateway's Date whether or not header_list signs it, and no client header spelling
// the signature header with '_'.
func TestSignerSignsWhatIsSent(t *testing.T) {
	rs := apidef.RequestSigning{IsEnabled: true, KeyID: "gw", Algorithm: apidef.HMACSHA256, Secret: "s", SignatureHeader: "X-Signature"}
	r := httptest.NewRequest(http.MethodGet, "http://up.test/g", nil)
	r.Header = http.Header{"Content-Length": {"0"}, "X_signature": {`Signature keyId="evil"`}}
	p := signed(t, rs, nil, r)
	if want := []string{"(request-target)", "date"}; !slices.Equal(p.Headers, want) {
		t.Errorf("GET: headers %q, want %q (no Content-Length is sent)", p.Headers, want)
	}
	if _, ok := r.Header["X_signature"]; ok {
		t.Errorf("the client's X_signature is sent beside the signature: %v", r.Header)
	}

	r = httptest.NewRequest(http.MethodPost, "http://up.test/p", strings.NewReader("a much longer body than 5"))
	r.Header = http.Header{"Content-Length": {"5"}}
	p = signed(t, rs, nil, r)
	line := "(request-target): post /p\ncontent-length: 25\ndate: Sun, 06 Dec 2026 09:00:00 GMT"
	if !Verify("s", apidef.HMACSHA256, line, p.Signature) || r.Header.Get("Content-Length") != "25" {
		t.Errorf("a replaced body: Content-Length %q, the signature not over\n%s", r.Header.Get("Content-Length"), line)
	}

	rs.HeaderList = []string{"(request-target)", "x-tenant"}
	r = httptest.NewRequest(http.MethodGet, "http://up.test/d", nil)
	r.Header = http.Header{"Date": {"Mon, 01 Jan 2035 00:00:00 GMT"}, "X-Aux-Date": {"Mon, 01 Jan 2035 00:00:00 GMT"}}
	signed(t, rs, nil, r)
	if r.Header.Get("Date") != "Sun, 06 Dec 2026 09:00:00 GMT" || r.Header.Get("X-Aux-Date") != "" {
		t.Errorf("a list without date sent the client's Date %q, X-Aux-Date %q", r.Header.Get("Date"), r.Header.Get("X-Aux-Date"))
	}
}
