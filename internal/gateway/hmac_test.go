package gateway_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// httpSign signs a request as a client library does, by hand with the standard library (the
// gateway's own signer is not used): the HMAC of the signing string, base64, URL-escaped, in
// Tyk's Authorization header.
func httpSign(keyID, secret, alg string, newHash func() hash.Hash, signed []string, lines []string) string {
	m := hmac.New(newHash, []byte(secret))
	m.Write([]byte(strings.Join(lines, "\n")))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return `Signature keyId="` + keyID + `",algorithm="` + alg + `",headers="` + strings.Join(signed, " ") + `",signature="` + sig + `"`
}

// hmacKey creates a key with hmac_enabled through the Gateway API and returns it with the
// secret the gateway generated for it.
func hmacKey(t *testing.T, g *gt.Gateway, body string) (key, secret string) {
	t.Helper()
	r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys", Body: body})
	var created struct{ Key string }
	if err := json.Unmarshal([]byte(r.Body), &created); r.Code != 200 || err != nil || created.Key == "" {
		t.Fatalf("creating an HMAC key: %d %s", r.Code, r.Body)
	}
	if strings.Contains(r.Body, "hmac_string") {
		t.Errorf("the create reply holds the secret: %s", r.Body)
	}
	r = g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + created.Key})
	var s apidef.SessionState
	if err := json.Unmarshal([]byte(r.Body), &s); r.Code != 200 || err != nil {
		t.Fatalf("reading the HMAC key: %d %s", r.Code, r.Body)
	}
	raw, err := base64.StdEncoding.DecodeString(s.HmacSecret)
	if !s.HMACEnabled || err != nil || len(raw) != 32 {
		t.Fatalf("the key's hmac_string %q is not Tyk's form (base64 of 32 hex digits)", s.HmacSecret)
	}
	return created.Key, s.HmacSecret
}

// TestHMACSignatures calls an API with enable_signature_checking through the gateway, with a
// real upstream: requests signed by the test with a key whose secret the Gateway API generated
// pass and count against the key's rate limit; a wrong signature, missing headers, a
// disallowed algorithm, a date outside the clock skew and a replayed request get Tyk's 400 and
// reach nothing.
func TestHMACSignatures(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	api := gt.Keyed(gt.API("signed", "/signed/", up.URL))
	api.OrgID, api.EnableSignatureChecking, api.UseStandardAuth = "acme", true, false
	api.HmacAllowedAlgorithms = []string{"hmac-sha256", "hmac-sha512"}
	api.HmacAllowedClockSkew = 30000 // 30 s
	api.StripAuthData = true
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{api}})

	key, secret := hmacKey(t, g, `{"org_id": "acme", "rate": 4, "per": 60, "hmac_enabled": true,
		"access_rights": {"signed": {"api_id": "signed", "versions": ["Default"]}}}`)
	plainKey := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"signed": {APIID: "signed", Versions: []string{"Default"}}}})

	date := func(d time.Duration) string { return clock.Now().Add(d).Format(http.TimeFormat) }
	signedReq := func(name, path, d string, alg string, h func() hash.Hash, keyID, sec string) gt.Case {
		return gt.Case{Name: name, Path: path, Headers: map[string]string{
			"Date":          d,
			"X-Trace":       "t-1",
			"Authorization": httpSign(keyID, sec, alg, h, []string{"(request-target)", "date", "x-trace"}, []string{"(request-target): get " + path, "date: " + d, "x-trace: t-1"}),
		}}
	}
	bad := func(c gt.Case) gt.Case {
		c.Code, c.BodyMatch = 400, jsonError("Authorization field missing, malformed or invalid")
		return c
	}
	now := date(0)
	old := date(-time.Minute)
	g.Run(t,
		bad(gt.Case{Name: "no signature", Path: "/signed/x", Headers: map[string]string{"Date": now}}),
		bad(signedReq("wrong secret", "/signed/x", now, "hmac-sha256", sha256.New, key, secret+"x")),
		bad(signedReq("another key's name", "/signed/x", now, "hmac-sha256", sha256.New, plainKey, secret)),
		bad(gt.Case{Name: "signed for another path", Path: "/signed/y", Headers: signedReq("", "/signed/x", now, "hmac-sha256", sha256.New, key, secret).Headers}),
		bad(signedReq("algorithm not allowed", "/signed/x", now, "hmac-sha384", sha512.New384, key, secret)),
		bad(gt.Case{Name: "no date", Path: "/signed/x", Headers: map[string]string{
			"Authorization": httpSign(key, secret, "hmac-sha256", sha256.New, []string{"(request-target)"}, []string{"(request-target): get /signed/x"})}}),
		bad(signedReq("a date outside the clock skew", "/signed/x", old, "hmac-sha256", sha256.New, key, secret)),
		// With a clock skew set, a signature that leaves the date out is refused: the request
		// could be replayed forever with a fresh Date.
		bad(gt.Case{Name: "date not signed", Path: "/signed/x", Headers: map[string]string{"Date": now,
			"Authorization": httpSign(key, secret, "hmac-sha256", sha256.New, []string{"(request-target)"}, []string{"(request-target): get /signed/x"})}}),
		bad(gt.Case{Name: "x-aux-date signed, Date checked", Path: "/signed/x", Headers: map[string]string{"Date": now,
			"Authorization": httpSign(key, secret, "hmac-sha256", sha256.New, []string{"(request-target)", "x-aux-date"}, []string{"(request-target): get /signed/x", "x-aux-date: "})}}),
		// An empty header name signs the constant line ": ".
		bad(gt.Case{Name: "empty headers list", Path: "/signed/x", Headers: map[string]string{"Date": now,
			"Authorization": httpSign(key, secret, "hmac-sha256", sha256.New, []string{""}, []string{": "})}}),
		// The key itself is no bearer token here.
		bad(gt.Case{Name: "the key as a token", Path: "/signed/x", Headers: map[string]string{"Authorization": key, "Date": now}}),
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d refused requests", n)
	}

	// A header the client signed, changed on the way, breaks the signature.
	tampered := signedReq("tampered header", "/signed/x", now, "hmac-sha256", sha256.New, key, secret)
	tampered.Headers["X-Trace"] = "t-2"
	g.Run(t, bad(tampered))

	// Good signatures pass, with the key's rate limit (4 a minute).
	ok := signedReq("signed, sha256", "/signed/x", now, "hmac-sha256", sha256.New, key, secret)
	ok.Code = 200
	ok512 := signedReq("signed, sha512", "/signed/x", now, "hmac-sha512", sha512.New, key, secret)
	ok512.Code = 200
	auxDate := gt.Case{Name: "signed X-Aux-Date", Path: "/signed/x", Code: 200, Headers: map[string]string{"X-Aux-Date": now,
		"Authorization": httpSign(key, secret, "hmac-sha256", sha256.New, []string{"(request-target)", "x-aux-date"}, []string{"(request-target): get /signed/x", "x-aux-date: " + now})}}
	g.Run(t, auxDate, ok, ok512)
	last, _ := up.Last()
	if last.Headers["Authorization"] != "" || last.Headers["X-Trace"] != "t-1" {
		t.Errorf("upstream headers %v: want the signature stripped (strip_auth_data) and the rest kept", last.Headers)
	}
	// The same signed request a minute later is a replay: refused, though its signature is good.
	clock.Advance(time.Minute)
	g.Run(t, bad(signedReq("replayed a minute later", "/signed/x", now, "hmac-sha256", sha256.New, key, secret)))
	now = date(0)
	limited := signedReq("fourth", "/signed/x", now, "hmac-sha256", sha256.New, key, secret)
	limited.Code = 200
	over := signedReq("over the key's rate limit", "/signed/x", now, "hmac-sha256", sha256.New, key, secret)
	over.Code, over.BodyMatch = 429, jsonError("Rate limit exceeded")
	g.Run(t, limited, over)
	if n := len(up.Requests()); n != 4 {
		t.Errorf("the upstream received %d requests, want 4", n)
	}
	if strings.Contains(g.Logs(), secret) {
		t.Error("the logs hold the HMAC secret")
	}

	// Written back as read, the key keeps its secret; written without one, it keeps it too.
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
	var stored map[string]any
	if err := json.Unmarshal([]byte(r.Body), &stored); err != nil {
		t.Fatal(err)
	}
	delete(stored, "hmac_string")
	for _, body := range []string{r.Body, string(mustJSON(t, stored))} {
		if w := g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/keys/" + key, Body: body}); w.Code != 200 {
			t.Fatalf("PUT the key: %d %s", w.Code, w.Body)
		}
		var s apidef.SessionState
		r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
		if err := json.Unmarshal([]byte(r.Body), &s); err != nil || s.HmacSecret != secret {
			t.Errorf("after PUT the secret is %q, want %q", s.HmacSecret, secret)
		}
	}
}

// TestHMACKeyNotABearerToken: an HMAC key's name is sent in the clear by every signed request
// (its keyId), so it is no token on a key-auth API, even one its access rights name (Tyk lets
// it in there); a plain key is.
func TestHMACKeyNotABearerToken(t *testing.T) {
	up := gt.NewUpstream(t)
	signed := gt.Keyed(gt.API("signed", "/signed/", up.URL))
	signed.EnableSignatureChecking, signed.UseStandardAuth = true, false
	plain := gt.Keyed(gt.API("plain", "/plain/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{signed, plain}})
	key, _ := hmacKey(t, g, `{"rate": 100, "per": 60, "hmac_enabled": true,
		"access_rights": {"signed": {"api_id": "signed", "versions": ["Default"]}, "plain": {"api_id": "plain", "versions": ["Default"]}}}`)
	plainKey := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"plain": {APIID: "plain", Versions: []string{"Default"}}}})
	g.Run(t,
		gt.Case{Name: "the HMAC key's name as a token", Path: "/plain/x", Headers: map[string]string{"Authorization": key}, Code: 403},
		gt.Case{Name: "a plain key", Path: "/plain/x", Headers: map[string]string{"Authorization": plainKey}, Code: 200},
	)
}
