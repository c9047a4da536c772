package httpsig

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

func TestSigningString(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		headers map[string]string
		signed  []string
		want    string
	}{
		{name: "date alone", method: "GET", target: "/api/x", headers: map[string]string{"Date": "Mon, 02 Jan 2006 15:04:05 GMT"},
			signed: []string{"date"}, want: "date: Mon, 02 Jan 2006 15:04:05 GMT"},
		{name: "request target: lowercase method, path without the query", method: "POST", target: "/api/orders/1?debug=1",
			headers: map[string]string{"Date": "D"}, signed: []string{"(request-target)", "date"},
			want: "(request-target): post /api/orders/1\ndate: D"},
		{name: "names lowercased, values trimmed, in the order listed", method: "GET", target: "/a",
			headers: map[string]string{"X-Foo": "  bar  ", "Content-Type": "application/json"}, signed: []string{"X-Foo", "content-type"},
			want: "x-foo: bar\ncontent-type: application/json"},
		{name: "a missing header signs as empty", method: "GET", target: "/a", signed: []string{"x-missing"}, want: "x-missing: "},
		{name: "x-aux-date replaces date", method: "GET", target: "/a",
			headers: map[string]string{"Date": "ignored", "X-Aux-Date": "Tue, 03 Jan 2006 15:04:05 GMT"}, signed: []string{"date"},
			want: "x-aux-date: Tue, 03 Jan 2006 15:04:05 GMT"},
		{name: "no date at all", method: "GET", target: "/a", signed: []string{"date"}, want: ": "},
		{name: "request target uses the decoded path", method: "GET", target: "/api/a%20b", signed: []string{"(request-target)"},
			want: "(request-target): get /api/a b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := SigningString(r, tc.signed); got != tc.want {
				t.Errorf("SigningString = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Params
		err    bool
	}{
		{name: "every parameter", header: `Signature keyId="k1",algorithm="hmac-sha256",headers="(request-target) date",signature="abc%3D"`,
			want: Params{KeyID: "k1", Algorithm: "hmac-sha256", Headers: []string{"(request-target)", "date"}, Signature: "abc%3D"}},
		{name: "headers default to date, any case of names", header: `signature KEYID="k",Algorithm="hmac-sha1",SIGNATURE="s"`,
			want: Params{KeyID: "k", Algorithm: "hmac-sha1", Headers: []string{"date"}, Signature: "s"}},
		{name: "spaces after commas", header: `Signature keyId="k", algorithm="hmac-sha1", signature="s"`,
			want: Params{KeyID: "k", Algorithm: "hmac-sha1", Headers: []string{"date"}, Signature: "s"}},
		{name: "a signature with = inside", header: `Signature keyId="k",signature="YQ=="`,
			want: Params{KeyID: "k", Headers: []string{"date"}, Signature: "YQ=="}},
		{name: "unknown parameter", header: `Signature keyId="k",realm="x",signature="s"`, err: true},
		{name: "not name=value", header: `Signature keyId="k",signature`, err: true},
		{name: "empty", header: `Signature`, err: true},
		// An empty name would sign the constant line ": ".
		{name: "empty headers list", header: `Signature keyId="k",headers="",signature="s"`, err: true},
		{name: "two spaces in the headers list", header: `Signature keyId="k",headers="(request-target)  date",signature="s"`, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.header)
			if (err != nil) != tc.err {
				t.Fatalf("Parse error = %v, want error %v", err, tc.err)
			}
			if err == nil && (got.KeyID != tc.want.KeyID || got.Algorithm != tc.want.Algorithm || got.Signature != tc.want.Signature ||
				strings.Join(got.Headers, "|") != strings.Join(tc.want.Headers, "|")) {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// sign is the test's own signer: the HMAC with crypto/hmac, base64, URL-escaped, as a client
// library computes it.
func sign(secret, alg, s string) string {
	h := map[string]func() hash.Hash{"hmac-sha1": sha1.New, "hmac-sha256": sha256.New, "hmac-sha384": sha512.New384, "hmac-sha512": sha512.New}[alg]
	m := hmac.New(h, []byte(secret))
	m.Write([]byte(s))
	return url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// TestSignMatchesOpenSSL checks Sign against openssl dgst -hmac, for each algorithm.
func TestSignMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		// CI installs openssl and sets GATEHOUSE_REQUIRE_OPENSSL: there this never skips.
		if os.Getenv("GATEHOUSE_REQUIRE_OPENSSL") != "" {
			t.Fatalf("openssl is not installed and GATEHOUSE_REQUIRE_OPENSSL is set: %v", err)
		}
		t.Skip("openssl not installed; TestVerify checks against a hand-written signer")
	}
	const secret, msg = "c2VjcmV0LWtleQ==", "(request-target): get /api/x\ndate: Mon, 02 Jan 2006 15:04:05 GMT"
	for alg, digest := range map[string]string{"hmac-sha1": "sha1", "hmac-sha256": "sha256", "hmac-sha384": "sha384", "hmac-sha512": "sha512"} {
		cmd := exec.Command("openssl", "dgst", "-"+digest, "-hmac", secret, "-binary")
		cmd.Stdin = strings.NewReader(msg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", digest, err)
		}
		want := url.QueryEscape(base64.StdEncoding.EncodeToString(out))
		if got := Sign(secret, alg, msg); got != want {
			t.Errorf("%s: Sign = %q, openssl gives %q", alg, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	const secret, msg = "secret", "date: x"
	good := sign(secret, "hmac-sha256", msg)
	if !strings.HasSuffix(good, "%3D") {
		t.Fatalf("signature %q does not end with an escaped =", good)
	}
	tests := []struct {
		name, alg, sig string
		want           bool
	}{
		{name: "good", alg: "hmac-sha256", sig: good, want: true},
		// 32 bytes in base64 always end with "=", escaped "%3D".
		{name: "lowercase escapes", alg: "hmac-sha256", sig: strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(good), want: true},
		{name: "unescaped base64 is not Tyk's form", alg: "hmac-sha256", sig: mustUnescape(t, good)},
		{name: "another algorithm's signature", alg: "hmac-sha512", sig: good},
		{name: "unknown algorithm is SHA-1, as in Tyk", alg: "hmac-md5", sig: sign(secret, "hmac-sha1", msg), want: true},
		{name: "empty signature", alg: "hmac-sha256", sig: ""},
		{name: "one byte off", alg: "hmac-sha256", sig: "A" + good[1:], want: good[0] == 'A'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verify(secret, tc.alg, msg, tc.sig); got != tc.want {
				t.Errorf("Verify(%q) = %v, want %v", tc.sig, got, tc.want)
			}
		})
	}
	if Verify("", "hmac-sha256", msg, sign("", "hmac-sha256", msg)) {
		t.Error("an empty secret verified a signature")
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

const keyID, secret = "key-0001", "OWI4ZjNlMmYxYzRkNDBkYjlmN2I2OTljMmZjODQxZTU="

// fixture is the step over a memory key store with a fixed clock.
type fixture struct {
	a   *Auth
	now time.Time
}

func newFixture(t *testing.T, def *apidef.APIDefinition) *fixture {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	sessions := session.NewManager(store, true)
	put := func(id string, s *apidef.SessionState) {
		s.AccessRights = map[string]apidef.AccessDefinition{"api": {APIID: "api"}}
		if err := sessions.Put(context.Background(), session.ID{Key: id}, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	put(keyID, &apidef.SessionState{HMACEnabled: true, HmacSecret: secret})
	put("not-enabled", &apidef.SessionState{HmacSecret: secret})
	put("no-secret", &apidef.SessionState{HMACEnabled: true})
	f := &fixture{now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	a, err := New(def, Options{Sessions: sessions, Policies: policy.Set{}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

func (f *fixture) do(r *http.Request) (*chain.Context, error) {
	c := &chain.Context{State: &reqctx.State{}}
	c.State.Gateway = c
	r = reqctx.With(r, c.State)
	return c, f.a.Step().Run(httptest.NewRecorder(), r, c)
}

func TestAuth(t *testing.T) {
	const path = "/api/orders"
	date := func(d time.Duration) string {
		return time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC).Add(d).Format(http.TimeFormat)
	}
	header := func(id, alg, headers, sig string) string {
		return `Signature keyId="` + id + `",algorithm="` + alg + `",headers="` + headers + `",signature="` + sig + `"`
	}
	// signed signs the request line and the date with the test's own signer.
	signed := func(id, key, alg, d string) string {
		return header(id, alg, "(request-target) date", sign(key, alg, "(request-target): get "+path+"\ndate: "+d))
	}
	tests := []struct {
		name     string
		def      func(*apidef.APIDefinition)
		header   string
		date     string // Date header
		aux      string // X-Aux-Date header
		wantFail bool
	}{
		{name: "hmac-sha1", header: signed(keyID, secret, "hmac-sha1", date(0)), date: date(0)},
		{name: "hmac-sha256", header: signed(keyID, secret, "hmac-sha256", date(0)), date: date(0)},
		{name: "hmac-sha384", header: signed(keyID, secret, "hmac-sha384", date(0)), date: date(0)},
		{name: "hmac-sha512", header: signed(keyID, secret, "hmac-sha512", date(0)), date: date(0)},
		{name: "x-aux-date", aux: date(0), date: "garbage",
			header: header(keyID, "hmac-sha256", "date", sign(secret, "hmac-sha256", "x-aux-date: "+date(0)))},
		{name: "numeric zone", date: "Wed, 04 Mar 2026 11:00:00 +0100",
			header: header(keyID, "hmac-sha256", "date", sign(secret, "hmac-sha256", "date: Wed, 04 Mar 2026 11:00:00 +0100"))},
		{name: "wrong secret", header: signed(keyID, "not-the-secret", "hmac-sha256", date(0)), date: date(0), wantFail: true},
		{name: "signed another path", date: date(0), wantFail: true,
			header: header(keyID, "hmac-sha256", "(request-target) date", sign(secret, "hmac-sha256", "(request-target): get /api/other\ndate: "+date(0)))},
		{name: "signed another date", header: signed(keyID, secret, "hmac-sha256", date(time.Second)), date: date(0), wantFail: true},
		{name: "algorithm not allowed", def: func(d *apidef.APIDefinition) { d.HmacAllowedAlgorithms = []string{"hmac-sha512"} },
			header: signed(keyID, secret, "hmac-sha256", date(0)), date: date(0), wantFail: true},
		{name: "algorithm allowed", def: func(d *apidef.APIDefinition) { d.HmacAllowedAlgorithms = []string{"hmac-sha512", "hmac-sha256"} },
			header: signed(keyID, secret, "hmac-sha256", date(0)), date: date(0)},
		{name: "rsa", header: header(keyID, "rsa-sha256", "date", "c2ln"), date: date(0), wantFail: true},
		{name: "unknown key", header: signed("nobody", secret, "hmac-sha256", date(0)), date: date(0), wantFail: true},
		{name: "key without hmac_enabled", header: signed("not-enabled", secret, "hmac-sha256", date(0)), date: date(0), wantFail: true},
		{name: "key without a secret", header: signed("no-secret", "", "hmac-sha256", date(0)), date: date(0), wantFail: true},
		{name: "no keyId", header: `Signature algorithm="hmac-sha256",signature="x"`, date: date(0), wantFail: true},
		{name: "no header", date: date(0), wantFail: true},
		{name: "unknown parameter", header: signed(keyID, secret, "hmac-sha256", date(0)) + `,nonce="1"`, date: date(0), wantFail: true},
		{name: "no date", header: header(keyID, "hmac-sha256", "x-a", sign(secret, "hmac-sha256", "x-a: ")), wantFail: true},
		{name: "a date that does not parse", date: "yesterday", wantFail: true,
			header: header(keyID, "hmac-sha256", "date", sign(secret, "hmac-sha256", "date: yesterday"))},
		{name: "old date without a skew limit", header: signed(keyID, secret, "hmac-sha256", date(-48*time.Hour)), date: date(-48 * time.Hour)},
		{name: "within the skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 },
			header: signed(keyID, secret, "hmac-sha256", date(-5*time.Second)), date: date(-5 * time.Second)},
		{name: "replayed past the skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 },
			header: signed(keyID, secret, "hmac-sha256", date(-6*time.Second)), date: date(-6 * time.Second), wantFail: true},
		// With a skew, the date checked must be signed, else the request replays with a fresh one.
		{name: "date not signed, with a skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 }, date: date(0), wantFail: true,
			header: header(keyID, "hmac-sha256", "(request-target)", sign(secret, "hmac-sha256", "(request-target): get "+path))},
		{name: "x-aux-date signed, with a skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 }, aux: date(0),
			header: header(keyID, "hmac-sha256", "x-aux-date", sign(secret, "hmac-sha256", "x-aux-date: "+date(0)))},
		{name: "x-aux-date signed but the date is Date's, with a skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 },
			date: date(0), wantFail: true, header: header(keyID, "hmac-sha256", "x-aux-date", sign(secret, "hmac-sha256", "x-aux-date: "))},
		{name: "from the future past the skew", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 5000 },
			header: signed(keyID, secret, "hmac-sha256", date(6*time.Second)), date: date(6 * time.Second), wantFail: true},
		// A skew under a millisecond is the strictest, never none.
		{name: "replayed with a skew under a millisecond", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 0.5 },
			header: signed(keyID, secret, "hmac-sha256", date(-48*time.Hour)), date: date(-48 * time.Hour), wantFail: true},
		{name: "date not signed, with a skew under a millisecond", def: func(d *apidef.APIDefinition) { d.HmacAllowedClockSkew = 0.5 }, date: date(0), wantFail: true,
			header: header(keyID, "hmac-sha256", "(request-target)", sign(secret, "hmac-sha256", "(request-target): get "+path))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &apidef.APIDefinition{APIID: "api", EnableSignatureChecking: true}
			if tc.def != nil {
				tc.def(d)
			}
			f := newFixture(t, d)
			r := httptest.NewRequest(http.MethodGet, path, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if tc.date != "" {
				r.Header.Set("Date", tc.date)
			}
			if tc.aux != "" {
				r.Header.Set("X-Aux-Date", tc.aux)
			}
			c, err := f.do(r)
			if !tc.wantFail {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.State.Session == nil || c.State.Token != keyID || c.KeyHash != session.HashKey(keyID) {
					t.Errorf("session %v token %q hash %q, want the key's", c.State.Session, c.State.Token, c.KeyHash)
				}
				return
			}
			var e *chain.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message != MsgInvalid {
				t.Fatalf("err = %v, want 400 %q", err, MsgInvalid)
			}
			if c.State.Session != nil {
				t.Error("a refused request has a session")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error names the secret: %v", err)
			}
		})
	}
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateSecret()
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || strings.Trim(string(raw), "0123456789abcdef") != "" {
		t.Errorf("secret %q: base64 of %q, want 32 hex digits (%v)", a, raw, err)
	}
	if a == b {
		t.Error("two secrets are the same")
	}
}

// BenchmarkAuth measures one signature check that passes: parsing the header, the signing
// string, the key lookup (memory store) and the HMAC.
func BenchmarkAuth(b *testing.B) {
	store := memory.New()
	defer store.Close()
	sessions := session.NewManager(store, true)
	s := &apidef.SessionState{HMACEnabled: true, HmacSecret: secret, AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
	if err := sessions.Put(context.Background(), session.ID{Key: keyID}, s, 0); err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	a, err := New(&apidef.APIDefinition{APIID: "api", EnableSignatureChecking: true, HmacAllowedClockSkew: 1000},
		Options{Sessions: sessions, Policies: policy.Set{}, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	d := now.Format(http.TimeFormat)
	r := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
	r.Header.Set("Date", d)
	r.Header.Set("Authorization", `Signature keyId="`+keyID+`",algorithm="hmac-sha256",headers="(request-target) date",signature="`+
		sign(secret, "hmac-sha256", "(request-target): get /api/orders\ndate: "+d)+`"`)
	step := a.Step()
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		c := &chain.Context{State: &reqctx.State{}}
		if err := step.Run(w, r, c); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const s = "(request-target): get /x\ndate: Mon, 02 Jan 2006 15:04:05 GMT"
	sig, err := SignRSA(key, s)
	if err != nil {
		t.Fatal(err)
	}
	otherSig, _ := SignRSA(other, s)
	for name, c := range map[string]struct {
		sig, signing string
		want         bool
	}{
		"plain base64":            {sig, s, true},
		"URL-escaped":             {url.QueryEscape(sig), s, true},
		"lowercase escapes":       {strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(url.QueryEscape(sig)), s, true},
		"another signing string":  {sig, s + "x", false},
		"another key's signature": {otherSig, s, false},
		"not base64":              {"!!!", s, false},
		"empty":                   {"", s, false},
		"a broken escape":         {"%zz" + sig, s, false},
		"truncated":               {sig[:len(sig)-8], s, false},
	} {
		if got := VerifyRSA(&key.PublicKey, c.signing, c.sig); got != c.want {
			t.Errorf("%s: VerifyRSA = %v, want %v", name, got, c.want)
		}
	}
}
