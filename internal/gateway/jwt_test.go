package gateway_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/middleware/jwt"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// hs256 and rs256 sign tokens by hand with the standard library: the gateway's JOSE library
// never checks its own tokens here.
func hs256(secret []byte, hdr, claims map[string]any) string {
	input := jwsInput(map[string]any{"alg": "HS256"}, hdr, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func rs256(t *testing.T, k *rsa.PrivateKey, kid string, claims map[string]any) string {
	input := jwsInput(map[string]any{"alg": "RS256", "kid": kid}, nil, claims)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func jwsInput(base, hdr, claims map[string]any) string {
	for k, v := range hdr {
		base[k] = v
	}
	h, _ := json.Marshal(base)
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
}

func jsonError(msg string) string { return `^\{\s*"error": "` + regexp.QuoteMeta(msg) + `"\s*\}\s*$` }

func TestJWT(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	now := clock.Now().Unix()
	up := gt.NewUpstream(t)
	secret := []byte("jwt-secret-for-the-tests-0123456789")
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	hm := gt.Keyed(gt.API("jwt-hmac", "/hmac/", up.URL))
	hm.OrgID, hm.EnableJWT, hm.JWTSigningMethod, hm.UseStandardAuth = "acme", true, "hmac", false
	hm.JWTSource = base64.StdEncoding.EncodeToString(secret)
	hm.JWTPolicyFieldName, hm.JWTDefaultPolicies = "pol", []string{"limited"}
	hm.JWTExpiresAtValidationSkew = 5
	hm.StripAuthData = true
	rs := gt.Keyed(gt.API("jwt-rsa", "/rsa/", up.URL))
	rs.OrgID, rs.EnableJWT, rs.JWTSigningMethod, rs.UseStandardAuth = "acme", true, "rsa", false
	rs.JWTSource = base64.StdEncoding.EncodeToString(pubPEM)
	rs.JWTDefaultPolicies = []string{"limited"}

	// A key-auth API the gold policy grants too: a JWT session's name is not a key for it.
	plain := gt.Keyed(gt.API("plain-key", "/plain/", up.URL))
	plain.OrgID = "acme"

	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{hm, rs, plain}, Policies: `{
		"limited": {"org_id": "acme", "rate": 2, "per": 60, "access_rights": {"jwt-hmac": {"api_id": "jwt-hmac"}, "jwt-rsa": {"api_id": "jwt-rsa"}}},
		"gold": {"org_id": "acme", "rate": 100, "per": 60, "access_rights": {"jwt-hmac": {"api_id": "jwt-hmac"}, "plain-key": {"api_id": "plain-key"}}},
		"elsewhere": {"org_id": "acme", "rate": 100, "per": 60, "access_rights": {"other": {"api_id": "other"}}}
	}`})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	alg := func(a string, claims map[string]any) string {
		return hs256(secret, map[string]any{"alg": a}, claims)
	}

	refused := []gt.Case{
		{Name: "no token", Path: "/hmac/x", Code: 400, BodyMatch: jsonError("Authorization field missing")},
		{Name: "bad signature", Path: "/hmac/x", Headers: bearer(hs256([]byte("other"), nil, map[string]any{"sub": "a"})), Code: 403, BodyMatch: jsonError("Key not authorized")},
		{Name: "alg none", Path: "/hmac/x", Headers: bearer(jwsInput(map[string]any{"alg": "none"}, nil, map[string]any{"sub": "a"}) + "."), Code: 403,
			BodyMatch: jsonError("Key not authorized: Unexpected signing method")},
		{Name: "HS256 signed with the RSA public key", Path: "/rsa/x", Headers: bearer(hs256(pubPEM, nil, map[string]any{"sub": "a"})), Code: 403,
			BodyMatch: jsonError("Key not authorized: Unexpected signing method")},
		{Name: "HS512 label on an HS256 MAC", Path: "/hmac/x", Headers: bearer(alg("HS512", map[string]any{"sub": "a"})), Code: 403, BodyMatch: jsonError("Key not authorized")},
		{Name: "expired beyond the skew", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "a", "exp": now - 5})), Code: 401,
			BodyMatch: jsonError("Key not authorized: token has expired")},
		{Name: "not valid yet", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "a", "nbf": now + 60})), Code: 401,
			BodyMatch: jsonError("Key not authorized: token is not valid yet")},
		{Name: "issued in the future", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "a", "iat": now + 60})), Code: 401,
			BodyMatch: jsonError("Key not authorized: token used before issued")},
		{Name: "no identity", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"name": "a"})), Code: 403,
			BodyMatch: jsonError("no suitable claims for user ID were found")},
		{Name: "unknown policy", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "a", "pol": "nope"})), Code: 403,
			BodyMatch: jsonError("key not authorized: no matching policy found")},
		{Name: "policy for another API", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "a", "pol": "elsewhere"})), Code: 403,
			BodyMatch: jsonError("Access to this API has been disallowed")},
	}
	g.Run(t, refused...)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d requests from refused tokens", n)
	}

	// Two tokens for the same subject share its rate limit (2 per minute from the default
	// policy); another subject has its own.
	aliceA := hs256(secret, nil, map[string]any{"sub": "alice", "jti": "1", "exp": now + 60})
	aliceB := hs256(secret, nil, map[string]any{"sub": "alice", "jti": "2"})
	bob := hs256(secret, nil, map[string]any{"sub": "bob"})
	g.Run(t,
		gt.Case{Name: "RS256 with the configured key", Path: "/rsa/x", Headers: bearer(rs256(t, rk, "", map[string]any{"sub": "carol"})), Code: 200},
		gt.Case{Name: "alice, first token", Path: "/hmac/x", Headers: bearer(aliceA), Code: 200},
		gt.Case{Name: "alice, second token", Path: "/hmac/x", Headers: bearer(aliceB), Code: 200},
		gt.Case{Name: "alice, limit shared", Path: "/hmac/x", Headers: bearer(aliceA), Code: 429, BodyMatch: jsonError("Rate limit exceeded")},
		gt.Case{Name: "bob has his own limit", Path: "/hmac/x", Headers: bearer(bob), Code: 200},
		// As in Tyk, a session expires with its token: a token accepted within its exp skew
		// finds its session expired.
		gt.Case{Name: "zoe's token expired within the skew", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "zoe", "exp": now - 4})),
			Code: 401, BodyMatch: jsonError("Key has expired, please renew")},
	)
	if last, ok := up.Last(); !ok || last.Headers["Authorization"] != "" {
		t.Errorf("strip_auth_data: the upstream got the token: %+v", last)
	}
	// A policy claim changes the stored session: alice on gold has a new, larger limit.
	g.Run(t, gt.Case{Name: "alice on gold", Path: "/hmac/x", Headers: bearer(hs256(secret, nil, map[string]any{"sub": "alice", "pol": "gold"})), Code: 200})
	// Her session's name, org and MD5 of the subject, is no secret: as a key it opens nothing.
	before := len(up.Requests())
	g.Run(t, gt.Case{Name: "a JWT session's name is not a key", Path: "/plain/x",
		Headers: map[string]string{"Authorization": "acme" + "6384e2b2184bcbf58eccf10ca7a6563c"}, // md5("alice")
		Code:    403, BodyMatch: jsonError("Access to this API has been disallowed")})
	if n := len(up.Requests()); n != before {
		t.Errorf("the upstream received a request authorised by a JWT session's name")
	}

	// The session is stored under the org and the MD5 of the identity, like any key.
	r := g.Do(gt.Case{Path: "/tyk/keys/acme" + "9f9d51bc70ef21ca5c14f307980a29d8", Admin: true}) // md5("bob")
	if r.Code != 200 || !regexp.MustCompile(`"alias":\s*"bob"`).MatchString(r.Body) || !regexp.MustCompile(`"TykJWTSessionID"`).MatchString(r.Body) {
		t.Errorf("stored JWT session: %d %s", r.Code, r.Body)
	}
}

// rsaJWKS serves the public halves of RSA keys by kid, which a test may replace, counting the
// fetches.
type rsaJWKS struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches atomic.Int32
}

func newRSAJWKS(t *testing.T, keys map[string]*rsa.PrivateKey) *rsaJWKS {
	j := &rsaJWKS{keys: keys}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		defer j.mu.Unlock()
		var out []map[string]any
		for kid, k := range j.keys {
			out = append(out, map[string]any{"kty": "RSA", "kid": kid, "n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": out})
	}))
	t.Cleanup(j.Close)
	return j
}

// set replaces the keys served.
func (j *rsaJWKS) set(keys map[string]*rsa.PrivateKey) {
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
}

// TestJWTJWKSRotation serves a JWKS from a test server and rotates its key.
func TestJWTJWKSRotation(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	oldKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	newKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := newRSAJWKS(t, map[string]*rsa.PrivateKey{"old": oldKey})
	fetches := &jwks.fetches

	def := gt.Keyed(gt.API("jwks", "/jwks/", up.URL))
	def.EnableJWT, def.JWTSigningMethod, def.JWTSource, def.UseStandardAuth = true, "rsa", jwks.URL, false
	def.JWTDefaultPolicies = []string{"p"}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def},
		Policies: `{"p": {"rate": 1000, "per": 1, "access_rights": {"jwks": {"api_id": "jwks"}}}}`})
	claims := map[string]any{"sub": "dave"}
	oldTok, newTok := rs256(t, oldKey, "old", claims), rs256(t, newKey, "new", claims)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	g.Run(t, gt.Case{Name: "old kid", Path: "/jwks/x", Headers: bearer(oldTok), Code: 200})
	jwks.set(map[string]*rsa.PrivateKey{"new": newKey})
	g.Run(t,
		gt.Case{Name: "new kid within the refetch interval", Path: "/jwks/x", Headers: bearer(newTok), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "random kids within the interval", Path: "/jwks/x", Headers: bearer(rs256(t, newKey, "random", claims)), Code: 403},
	)
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	clock.Advance(11 * time.Second)
	g.Run(t,
		gt.Case{Name: "new kid after the interval", Path: "/jwks/x", Headers: bearer(newTok), Code: 200},
		gt.Case{Name: "old kid after rotation", Path: "/jwks/x", Headers: bearer(oldTok), Code: 403, BodyMatch: jsonError("Key not authorized")},
	)
	if n := fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// The key server goes away: once the cache times out, tokens are refused (fail closed).
	jwks.Close()
	clock.Advance(5 * time.Minute)
	g.Run(t, gt.Case{Name: "dead JWKS", Path: "/jwks/x", Headers: bearer(newTok), Code: 403, BodyMatch: jsonError("Key not authorized")})
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream requests = %d, want 2", n)
	}
}

// TestJWTCachedTokens: tokens are cached once verified, but a cached token stops passing at its
// exp (with the skew), and a reload that changes the API's secret refuses what was cached.
func TestJWTCachedTokens(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	now := clock.Now().Unix()
	up := gt.NewUpstream(t)
	secret, rotated := []byte("jwt-secret-for-the-tests-0123456789"), []byte("the-rotated-secret-0123456789abcdef")
	def := gt.Keyed(gt.API("jwt-cache", "/c/", up.URL))
	def.OrgID, def.EnableJWT, def.JWTSigningMethod, def.UseStandardAuth = "acme", true, "hmac", false
	def.JWTSource = base64.StdEncoding.EncodeToString(secret)
	def.JWTDefaultPolicies = []string{"p"}
	def.JWTExpiresAtValidationSkew = 2
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def},
		Policies: `{"p": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"jwt-cache": {"api_id": "jwt-cache"}}}}`})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	tok := hs256(secret, nil, map[string]any{"sub": "erin", "exp": now + 30})
	g.Run(t,
		gt.Case{Name: "first use", Path: "/c/x", Headers: bearer(tok), Code: 200},
		gt.Case{Name: "cached", Path: "/c/x", Headers: bearer(tok), Code: 200},
	)
	clock.Advance(31 * time.Second)
	// Within the skew the token passes the JWT step, but its session expired with it, as in Tyk.
	g.Run(t, gt.Case{Name: "within the exp skew", Path: "/c/x", Headers: bearer(tok), Code: 401, BodyMatch: jsonError("Key has expired, please renew")})
	clock.Advance(1 * time.Second)
	g.Run(t, gt.Case{Name: "expired, though cached", Path: "/c/x", Headers: bearer(tok), Code: 401, BodyMatch: jsonError("Key not authorized: token has expired")})

	fresh := hs256(secret, nil, map[string]any{"sub": "gina"})
	g.Run(t, gt.Case{Name: "a token without exp, cached", Path: "/c/x", Headers: bearer(fresh), Code: 200})
	def.JWTSource = base64.StdEncoding.EncodeToString(rotated)
	g.WriteAPI(def)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "old secret's token after the reload", Path: "/c/x", Headers: bearer(fresh), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "new secret's token", Path: "/c/x", Headers: bearer(hs256(rotated, nil, map[string]any{"sub": "gina"})), Code: 200},
	)
	if n := len(up.Requests()); n != 4 {
		t.Errorf("upstream requests = %d, want 4", n)
	}
}

// TestJWTJWKSAcrossReloads: reloads keep a JWKS's keys and its refetch budget, so reloading
// does not make the gateway fetch the keys again, and an API that stops using the URL drops it.
func TestJWTJWKSAcrossReloads(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := newRSAJWKS(t, map[string]*rsa.PrivateKey{"k1": key})
	fetches := &jwks.fetches
	def := gt.Keyed(gt.API("jwks-reload", "/jr/", up.URL))
	def.EnableJWT, def.JWTSigningMethod, def.JWTSource, def.UseStandardAuth = true, "rsa", jwks.URL, false
	def.JWTDefaultPolicies = []string{"p"}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def},
		Policies: `{"p": {"rate": 1000, "per": 1, "access_rights": {"jwks-reload": {"api_id": "jwks-reload"}}}}`})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	good := rs256(t, key, "k1", map[string]any{"sub": "frank"})
	g.Run(t, gt.Case{Name: "first token fetches", Path: "/jr/x", Headers: bearer(good), Code: 200})
	for i := range 5 {
		g.Reload()
		g.Run(t,
			gt.Case{Name: fmt.Sprintf("after reload %d", i+1), Path: "/jr/x", Headers: bearer(good), Code: 200},
			gt.Case{Name: fmt.Sprintf("unknown kid after reload %d", i+1), Path: "/jr/x", Headers: bearer(rs256(t, key, fmt.Sprintf("kid-%d", i), map[string]any{"sub": "frank"})), Code: 403},
		)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d after 5 reloads within the refetch interval, want 1", n)
	}
	// Past the TTL the keys are fetched again, once, whatever the reloads.
	clock.Advance(jwt.DefaultJWKSCacheTTL + time.Second)
	g.Reload()
	g.Run(t, gt.Case{Name: "after the TTL", Path: "/jr/x", Headers: bearer(good), Code: 200})
	g.Reload()
	g.Run(t, gt.Case{Name: "and a reload more", Path: "/jr/x", Headers: bearer(good), Code: 200})
	if n := fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

// TestJWTClientBaseField: the token's client claim names a key created through the Gateway API;
// that key's first policy is the session's base policy.
func TestJWTClientBaseField(t *testing.T) {
	up := gt.NewUpstream(t)
	secret := []byte("jwt-client-secret-0123456789abcdef")
	def := gt.Keyed(gt.API("jwt-client", "/jc/", up.URL))
	def.OrgID, def.EnableJWT, def.JWTSigningMethod, def.UseStandardAuth = "acme", true, "hmac", false
	def.JWTSource = base64.StdEncoding.EncodeToString(secret)
	def.JWTClientIDBaseField = "azp"
	def.JWTDefaultPolicies = []string{"small"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Policies: `{
		"small": {"org_id": "acme", "rate": 1, "per": 60, "access_rights": {"jwt-client": {"api_id": "jwt-client"}}},
		"large": {"org_id": "acme", "rate": 100, "per": 60, "access_rights": {"jwt-client": {"api_id": "jwt-client"}}}
	}`})
	client := g.CreateKey(&apidef.SessionState{OrgID: "acme", ApplyPolicies: []string{"large"}})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	viaClient := hs256(secret, nil, map[string]any{"sub": "henry", "azp": client})
	noClient := hs256(secret, nil, map[string]any{"sub": "iris", "azp": "no-such-client"})
	g.Run(t,
		gt.Case{Name: "client key's policy", Path: "/jc/x", Headers: bearer(viaClient), Code: 200},
		gt.Case{Name: "client key's policy, again", Path: "/jc/x", Headers: bearer(viaClient), Code: 200},
		gt.Case{Name: "unknown client: the default policy", Path: "/jc/x", Headers: bearer(noClient), Code: 200},
		gt.Case{Name: "the default policy's limit", Path: "/jc/x", Headers: bearer(noClient), Code: 429},
		gt.Case{Name: "the client key's larger limit", Path: "/jc/x", Headers: bearer(viaClient), Code: 200},
	)
	r := g.Do(gt.Case{Path: "/tyk/keys/acme" + md5Hex("henry"), Admin: true})
	if r.Code != 200 || !regexp.MustCompile(`"apply_policies":\s*\[\s*"large"\s*\]`).MatchString(r.Body) {
		t.Errorf("henry's session: %d %s", r.Code, r.Body)
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestJWTOAS: a Tyk OAS API with a JWT security scheme is served by the same middleware.
func TestJWTOAS(t *testing.T) {
	up := gt.NewUpstream(t)
	secret := []byte("oas-jwt-secret-0123456789abcdefgh")
	g := gt.Start(t, gt.Options{Policies: `{"p": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"oas-jwt": {"api_id": "oas-jwt"}}},
		"scoped": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"oas-jwt": {"api_id": "oas-jwt"}}}}`})
	g.WriteFile("oas-jwt.json", []byte(`{"openapi": "3.0.3", "info": {"title": "oas-jwt", "version": "1"},
	  "paths": {"/a": {"get": {"operationId": "getA"}}},
	  "components": {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	  "security": [{"jwt": []}],
	  "x-tyk-api-gateway": {"info": {"id": "oas-jwt", "name": "oas-jwt", "orgId": "acme", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"},
	    "server": {"listenPath": {"value": "/oj/", "strip": true},
	      "authentication": {"enabled": true, "stripAuthorizationData": true, "securitySchemes": {"jwt": {
	        "enabled": true, "source": "`+base64.StdEncoding.EncodeToString(secret)+`", "signingMethod": "hmac",
	        "subjectClaims": ["email"], "defaultPolicies": ["p"], "expiresAtValidationSkew": 0,
	        "scopes": {"claimName": "scope", "scopeToPolicyMapping": [{"scope": "read", "policyId": "scoped"}]},
	        "header": {"enabled": true, "name": "Authorization"}}}}}}}`))
	g.Reload()
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	g.Run(t,
		gt.Case{Name: "no token", Path: "/oj/a", Code: 400, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "wrong secret", Path: "/oj/a", Headers: bearer(hs256([]byte("nope"), nil, map[string]any{"email": "k@x"})), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "alg none", Path: "/oj/a", Headers: bearer(jwsInput(map[string]any{"alg": "none"}, nil, map[string]any{"email": "k@x"}) + "."), Code: 403,
			BodyMatch: jsonError("Key not authorized: Unexpected signing method")},
		gt.Case{Name: "no subject claim", Path: "/oj/a", Headers: bearer(hs256(secret, nil, map[string]any{"name": "k"})), Code: 403, BodyMatch: jsonError("no suitable claims for user ID were found")},
		gt.Case{Name: "good token", Path: "/oj/a", Headers: bearer(hs256(secret, nil, map[string]any{"email": "k@x"})), Code: 200},
		gt.Case{Name: "a scope's policy", Path: "/oj/a", Headers: bearer(hs256(secret, nil, map[string]any{"email": "l@x", "scope": "read"})), Code: 200},
	)
	if last, ok := up.Last(); !ok || last.Headers["Authorization"] != "" {
		t.Errorf("stripAuthorizationData: the upstream got the token: %+v", last)
	}
	r := g.Do(gt.Case{Path: "/tyk/keys/acme" + md5Hex("l@x"), Admin: true})
	if r.Code != 200 || !regexp.MustCompile(`"apply_policies":\s*\[\s*"scoped"\s*\]`).MatchString(r.Body) {
		t.Errorf("l@x's session: %d %s", r.Code, r.Body)
	}
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream requests = %d, want 2", n)
	}
}

// TestJWTOneToOne: an API with enable_jwt and no jwt_source verifies each token with the secret
// of the key its kid names (jwt_data.secret, set through the Gateway API); the key's own limits
// apply.
func TestJWTOneToOne(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("jwt-keys", "/jk/", up.URL))
	def.OrgID, def.EnableJWT, def.JWTSigningMethod, def.UseStandardAuth = "acme", true, "hmac", false
	plain := gt.Keyed(gt.API("plain-keys", "/pk/", up.URL))
	plain.OrgID = "acme"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, plain}})
	secret := "secret-of-partner-one-0123456789"
	body := `{"org_id": "acme", "rate": 2, "per": 60, "access_rights": {"jwt-keys": {"api_id": "jwt-keys", "versions": ["Default"]},
		"plain-keys": {"api_id": "plain-keys", "versions": ["Default"]}},
		"jwt_data": {"secret": "` + secret + `"}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/partner-one", Body: body}); r.Code != 200 {
		t.Fatalf("creating the key: %d %s", r.Code, r.Body)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	withKid := func(kid string, key []byte) string {
		return hs256(key, map[string]any{"kid": kid}, map[string]any{"sub": "someone"})
	}
	g.Run(t,
		gt.Case{Name: "the key's secret", Path: "/jk/x", Headers: bearer(withKid("partner-one", []byte(secret))), Code: 200},
		gt.Case{Name: "another secret", Path: "/jk/x", Headers: bearer(withKid("partner-one", []byte("guess"))), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "an unknown key", Path: "/jk/x", Headers: bearer(withKid("partner-two", []byte(secret))), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "the key's limit", Path: "/jk/x", Headers: bearer(withKid("partner-one", []byte(secret))), Code: 200},
		gt.Case{Name: "the key's limit reached", Path: "/jk/x", Headers: bearer(withKid("partner-one", []byte(secret))), Code: 429},
		// Its name is every token's kid, no secret: it is not a token on a key-auth API.
		gt.Case{Name: "the key's name as a token", Path: "/pk/x", Headers: map[string]string{"Authorization": "partner-one"}, Code: 403,
			BodyMatch: jsonError("Access to this API has been disallowed")},
	)
	// The key's secret changes through the Gateway API: old tokens stop at once (no cache).
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/keys/partner-one", Body: strings.Replace(body, secret, "a-new-secret-0123456789abcdefgh", 1)}); r.Code != 200 {
		t.Fatalf("updating the key: %d %s", r.Code, r.Body)
	}
	g.Run(t, gt.Case{Name: "the old secret after the change", Path: "/jk/x", Headers: bearer(withKid("partner-one", []byte(secret))), Code: 403})
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream requests = %d, want 2", n)
	}
}

// TestJWTOneToOneKeyConfusion: a key whose jwt_data.secret is an RSA public key PEM (for an rsa
// one-to-one API) is no HMAC secret: an HS256 token signed with those public PEM bytes, naming
// the key, is refused on an HMAC one-to-one API (the method unset, so hmac) the key reaches,
// while its RS256 tokens still pass on the rsa API.
func TestJWTOneToOneKeyConfusion(t *testing.T) {
	up := gt.NewUpstream(t)
	hm := gt.Keyed(gt.API("jwt-hmac-keys", "/hk/", up.URL))
	hm.OrgID, hm.EnableJWT, hm.UseStandardAuth = "acme", true, false
	rs := gt.Keyed(gt.API("jwt-rsa-keys", "/rk/", up.URL))
	rs.OrgID, rs.EnableJWT, rs.JWTSigningMethod, rs.UseStandardAuth = "acme", true, "rsa", false
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{hm, rs}})
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	secret, _ := json.Marshal(string(pubPEM))
	body := `{"org_id": "acme", "rate": 100, "per": 60, "access_rights": {"jwt-hmac-keys": {"api_id": "jwt-hmac-keys", "versions": ["Default"]},
		"jwt-rsa-keys": {"api_id": "jwt-rsa-keys", "versions": ["Default"]}},
		"jwt_data": {"secret": ` + string(secret) + `}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/rsa-partner", Body: body}); r.Code != 200 {
		t.Fatalf("creating the key: %d %s", r.Code, r.Body)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	g.Run(t,
		gt.Case{Name: "HS256 forged with the public PEM, by kid", Path: "/hk/x", Headers: bearer(hs256(pubPEM, map[string]any{"kid": "rsa-partner"}, map[string]any{"sub": "x"})),
			Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "HS256 forged with the public PEM, by sub", Path: "/hk/x", Headers: bearer(hs256(pubPEM, nil, map[string]any{"sub": "rsa-partner"})),
			Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "RS256 signed with the private key", Path: "/rk/x", Headers: bearer(rs256(t, rk, "rsa-partner", map[string]any{"sub": "x"})), Code: 200},
	)
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream requests = %d, want 1", n)
	}
}

// TestJWTClaimsContextVars: with enable_context_vars, a JWT's header parameters and claims are
// the jwt_claims_<name> context variables, as in Tyk, in header transforms (request and
// response), URL rewrites and body transforms; each request gets its own token's, cached
// tokens included; without enable_context_vars they are empty.
func TestJWTClaimsContextVars(t *testing.T) {
	up := gt.NewUpstream(t)
	secret := []byte("jwt-secret-for-the-claims-0123456789")
	hdrs := map[string]string{
		"X-Sub": "$tyk_context.jwt_claims_sub", "X-Kid": "$tyk_context.jwt_claims_kid",
		"X-Aud": "$tyk_context.jwt_claims_aud", "X-Level": "$tyk_context.jwt_claims_level",
		"X-Missing": "[$tyk_context.jwt_claims_nothing]",
	}
	api := func(id, path string, vars bool) *apidef.APIDefinition {
		def := gt.Keyed(gt.API(id, path, up.URL))
		def.OrgID, def.EnableJWT, def.JWTSigningMethod, def.UseStandardAuth = "acme", true, "hmac", false
		def.JWTSource = base64.StdEncoding.EncodeToString(secret)
		def.JWTDefaultPolicies = []string{"open"}
		def.EnableContextVars = vars
		tmpl := base64.StdEncoding.EncodeToString([]byte(`{"who": "{{._tyk_context.jwt_claims_sub}}", "tenant": "{{._tyk_context.jwt_claims_tenant}}"}`))
		def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
			Name: "Default", UseExtendedPaths: true,
			GlobalHeaders:         hdrs,
			GlobalResponseHeaders: map[string]string{"X-Sub-Out": "$tyk_context.jwt_claims_sub"},
			ExtendedPaths: apidef.ExtendedPathsSet{
				URLRewrite: []apidef.URLRewriteMeta{{Path: "/who", Method: "GET", MatchPattern: "/who$",
					RewriteTo: path + "seen?tenant=$tyk_context.jwt_claims_tenant"}},
				Transform: []apidef.TemplateMeta{{Path: "/body", Method: "POST",
					TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: tmpl}}},
			},
		}}
		return def
	}
	// A one-to-one API (no jwt_source): the key's jwt_data secret verifies, and the claims are
	// read all the same.
	one := gt.Keyed(gt.API("jwt-one-vars", "/jo/", up.URL))
	one.OrgID, one.EnableJWT, one.JWTSigningMethod, one.UseStandardAuth = "acme", true, "hmac", false
	one.EnableContextVars = true
	one.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", GlobalHeaders: hdrs}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api("jwt-vars", "/jv/", true), api("jwt-novars", "/jn/", false), one},
		Policies: `{"open": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"jwt-vars": {"api_id": "jwt-vars"}, "jwt-novars": {"api_id": "jwt-novars"}}}}`})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	alice := hs256(secret, map[string]any{"kid": "k-1"}, map[string]any{"sub": "alice", "aud": []any{"a", "b"}, "level": 3, "tenant": "t-1"})
	bob := hs256(secret, map[string]any{"kid": "k-1"}, map[string]any{"sub": "bob", "tenant": "t 2", "kid": "claim-kid"})

	seen := func(name string, c gt.Case) echo.Request {
		t.Helper()
		c.Name, c.Code = name, 200
		g.Run(t, c)
		last, _ := up.Last()
		return last
	}
	want := func(got echo.Request, hdr map[string]string) {
		t.Helper()
		for k, v := range hdr {
			if got.Headers[k] != v {
				t.Errorf("upstream header %s = %q, want %q (headers %v)", k, got.Headers[k], v, got.Headers)
			}
		}
	}
	for i, tok := range []string{alice, bob, alice} { // the second alice comes from the token cache
		r := seen("header transforms", gt.Case{Path: "/jv/x", Headers: bearer(tok)})
		if tok == alice {
			want(r, map[string]string{"X-Sub": "alice", "X-Kid": "k-1", "X-Aud": "a,b", "X-Level": "3", "X-Missing": "[]"})
		} else {
			// A claim wins over the header parameter of the same name.
			want(r, map[string]string{"X-Sub": "bob", "X-Kid": "claim-kid", "X-Aud": "", "X-Level": ""})
		}
		resp := g.Do(gt.Case{Path: "/jv/x", Headers: bearer(tok)})
		if wantSub := map[bool]string{true: "alice", false: "bob"}[tok == alice]; resp.Header.Get("X-Sub-Out") != wantSub {
			t.Errorf("request %d: response header X-Sub-Out = %q, want %q", i, resp.Header.Get("X-Sub-Out"), wantSub)
		}
	}
	if r := seen("URL rewrite", gt.Case{Path: "/jv/who", Headers: bearer(bob)}); r.Path != "/seen" || r.Query != "tenant=t+2" {
		t.Errorf("rewritten request: path %q query %q, want /seen tenant=t+2", r.Path, r.Query)
	}
	if r := seen("body transform", gt.Case{Method: http.MethodPost, Path: "/jv/body", Headers: bearer(alice), Body: `{}`}); r.Body != `{"who": "alice", "tenant": "t-1"}` {
		t.Errorf("transformed body = %q", r.Body)
	}
	// Without enable_context_vars every $tyk_context variable is empty, as in Tyk.
	want(seen("no context vars", gt.Case{Path: "/jn/x", Headers: bearer(alice)}), map[string]string{"X-Sub": "", "X-Kid": "", "X-Missing": "[]"})

	key := `{"org_id": "acme", "rate": 100, "per": 1, "access_rights": {"jwt-one-vars": {"api_id": "jwt-one-vars", "versions": ["Default"]}},
		"jwt_data": {"secret": "secret-of-partner-one-0123456789"}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/partner-one", Body: key}); r.Code != 200 {
		t.Fatalf("creating the key: %d %s", r.Code, r.Body)
	}
	tok := hs256([]byte("secret-of-partner-one-0123456789"), map[string]any{"kid": "partner-one"}, map[string]any{"sub": "someone", "level": 7})
	want(seen("one-to-one", gt.Case{Path: "/jo/x", Headers: bearer(tok)}), map[string]string{"X-Sub": "someone", "X-Kid": "partner-one", "X-Level": "7"})
}

// TestJWTClaimValidation: a Tyk OAS JWT scheme's allowedIssuers, allowedAudiences,
// allowedSubjects, jtiValidation and customClaimValidation (mapped to jwt_claim_validation)
// refuse tokens that fail them with 401, before any session is made, and a non-blocking rule
// lets its failures through.
func TestJWTClaimValidation(t *testing.T) {
	up := gt.NewUpstream(t)
	secret := []byte("oas-claims-secret-0123456789abcdef")
	g := gt.Start(t, gt.Options{Policies: `{"p": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"claims": {"api_id": "claims"}}}}`})
	g.WriteFile("claims.json", []byte(`{"openapi": "3.0.3", "info": {"title": "claims", "version": "1"}, "paths": {},
	  "components": {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	  "security": [{"jwt": []}],
	  "x-tyk-api-gateway": {"info": {"id": "claims", "name": "claims", "orgId": "acme", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"},
	    "server": {"listenPath": {"value": "/claims/", "strip": true},
	      "authentication": {"enabled": true, "securitySchemes": {"jwt": {
	        "enabled": true, "source": "`+base64.StdEncoding.EncodeToString(secret)+`", "signingMethod": "hmac",
	        "defaultPolicies": ["p"], "header": {"enabled": true, "name": "Authorization"},
	        "allowedIssuers": ["https://idp.acme.test"], "allowedAudiences": ["orders"], "allowedSubjects": ["alice", "bob"],
	        "jtiValidation": {"enabled": true},
	        "customClaimValidation": {
	          "user.roles": {"type": "contains", "allowedValues": ["admin", "editor"]},
	          "tier": {"type": "exact_match", "allowedValues": ["gold"], "nonBlocking": true}}}}}}}}`))
	g.Reload()
	token := func(edit func(map[string]any)) map[string]string {
		c := map[string]any{"iss": "https://idp.acme.test", "aud": []string{"web", "orders"}, "sub": "alice", "jti": "j1",
			"user": map[string]any{"roles": []string{"viewer", "editor"}}, "tier": "gold"}
		if edit != nil {
			edit(c)
		}
		return map[string]string{"Authorization": "Bearer " + hs256(secret, nil, c)}
	}
	g.Run(t,
		gt.Case{Name: "every claim good", Path: "/claims/x", Headers: token(nil), Code: 200},
		gt.Case{Name: "other issuer", Path: "/claims/x", Headers: token(func(c map[string]any) { c["iss"] = "https://evil.test" }),
			Code: 401, BodyMatch: jsonError("Key not authorized: iss claim is not an allowed issuer")},
		gt.Case{Name: "other audience", Path: "/claims/x", Headers: token(func(c map[string]any) { c["aud"] = "web" }),
			Code: 401, BodyMatch: jsonError("Key not authorized: aud claim names no allowed audience")},
		gt.Case{Name: "other subject", Path: "/claims/x", Headers: token(func(c map[string]any) { c["sub"] = "mallory" }),
			Code: 401, BodyMatch: jsonError("Key not authorized: sub claim is not an allowed subject")},
		gt.Case{Name: "no jti", Path: "/claims/x", Headers: token(func(c map[string]any) { delete(c, "jti") }),
			Code: 401, BodyMatch: jsonError("Key not authorized: jti claim is missing")},
		gt.Case{Name: "no allowed role", Path: "/claims/x", Headers: token(func(c map[string]any) { c["user"] = map[string]any{"roles": []string{"viewer"}} }),
			Code: 401, BodyMatch: jsonError("Key not authorized: claim user.roles fails its contains check")},
		gt.Case{Name: "non-blocking rule fails", Path: "/claims/x", Headers: token(func(c map[string]any) { c["tier"] = "silver"; c["sub"] = "bob" }), Code: 200},
	)
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream requests = %d, want 2 (refused tokens must not reach it)", n)
	}
	// A refused token made no session.
	if r := g.Do(gt.Case{Path: "/tyk/keys/acme" + md5Hex("mallory"), Admin: true}); r.Code != 404 {
		t.Errorf("a token refused for its subject has a session: %d %s", r.Code, r.Body)
	}
	if !strings.Contains(g.Logs(), "claim tier fails its exact_match check") {
		t.Errorf("the non-blocking failure is not logged:\n%s", g.Logs())
	}
}

// TestJWTOASSeveralJWKS: a Tyk OAS API's jwksURIs are all served: a token signed with a key of
// any of the JWKS passes, one whose kid none holds is refused; basePolicyClaims and
// subjectClaims are tried in order.
func TestJWTOASSeveralJWKS(t *testing.T) {
	up := gt.NewUpstream(t)
	keyA, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyB, _ := rsa.GenerateKey(rand.Reader, 2048)
	a, b := newRSAJWKS(t, map[string]*rsa.PrivateKey{"a": keyA}), newRSAJWKS(t, map[string]*rsa.PrivateKey{"b": keyB})
	g := gt.Start(t, gt.Options{Policies: `{"gold": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"oas-jwks": {"api_id": "oas-jwks"}}},
		"p": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"oas-jwks": {"api_id": "oas-jwks"}}}}`})
	g.WriteFile("oas-jwks.json", []byte(`{"openapi": "3.0.3", "info": {"title": "oas-jwks", "version": "1"},
	  "paths": {"/a": {"get": {"operationId": "getA"}}},
	  "components": {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	  "security": [{"jwt": []}],
	  "x-tyk-api-gateway": {"info": {"id": "oas-jwks", "name": "oas-jwks", "orgId": "acme", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"},
	    "server": {"listenPath": {"value": "/ojk/", "strip": true},
	      "authentication": {"enabled": true, "securitySchemes": {"jwt": {
	        "enabled": true, "signingMethod": "rsa",
	        "jwksURIs": [{"url": "`+a.URL+`", "cacheTimeout": "10m"}, {"url": "`+b.URL+`"}],
	        "subjectClaims": ["email", "sub"], "basePolicyClaims": ["tier", "pol"], "defaultPolicies": ["p"],
	        "header": {"enabled": true, "name": "Authorization"}}}}}}}`))
	g.Reload()
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	g.Run(t,
		gt.Case{Name: "a key of the first JWKS", Path: "/ojk/a", Headers: bearer(rs256(t, keyA, "a", map[string]any{"email": "a@x", "tier": "gold"})), Code: 200},
		gt.Case{Name: "a key of the second JWKS", Path: "/ojk/a", Headers: bearer(rs256(t, keyB, "b", map[string]any{"sub": "b1", "pol": "gold"})), Code: 200},
		gt.Case{Name: "a kid neither holds", Path: "/ojk/a", Headers: bearer(rs256(t, keyB, "c", map[string]any{"sub": "c1"})), Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "a key under the other's kid", Path: "/ojk/a", Headers: bearer(rs256(t, keyA, "b", map[string]any{"sub": "d1"})), Code: 403, BodyMatch: jsonError("Key not authorized")},
	)
	r := g.Do(gt.Case{Path: "/tyk/keys/acme" + md5Hex("a@x"), Admin: true})
	if r.Code != 200 || !regexp.MustCompile(`"apply_policies":\s*\[\s*"gold"\s*\]`).MatchString(r.Body) {
		t.Errorf("a@x's session (identity from email, policy from tier): %d %s", r.Code, r.Body)
	}
}

// TestJWTFlushJWKS: DELETE /tyk/cache/jwks/{api_id} (and /tyk/cache/jwks) drops an API's JWKS
// keys and verified tokens: a key the provider removed stops working at once rather than at
// the next refetch; with Redis, on every gateway; an unknown API gets 404.
func TestJWTFlushJWKS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	oldKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	newKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := newRSAJWKS(t, map[string]*rsa.PrivateKey{"old": oldKey})
	def := gt.Keyed(gt.API("flushed", "/flushed/", up.URL))
	def.EnableJWT, def.JWTSigningMethod, def.JWTSource, def.UseStandardAuth = true, "rsa", jwks.URL, false
	def.JWTDefaultPolicies = []string{"p"}
	plain := gt.API("plain", "/plain/", up.URL)
	var nodes []*gt.Gateway
	for range 2 {
		nodes = append(nodes, gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{def, plain},
			Policies: `{"p": {"rate": 1000, "per": 1, "access_rights": {"flushed": {"api_id": "flushed"}}}}`}))
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	oldTok := rs256(t, oldKey, "old", map[string]any{"sub": "erin"})
	for i, g := range nodes {
		if r := g.Do(gt.Case{Path: "/flushed/x", Headers: bearer(oldTok)}); r.Code != 200 {
			t.Fatalf("node %d, the old key before rotation: %d", i, r.Code)
		}
	}
	// The provider rotates: the old key is gone. Cached, it still works until flushed.
	jwks.set(map[string]*rsa.PrivateKey{"new": newKey})
	if r := nodes[1].Do(gt.Case{Path: "/flushed/x", Headers: bearer(oldTok)}); r.Code != 200 {
		t.Fatalf("node 1, the old key before the flush (cached): %d", r.Code)
	}
	gt.Check(t, gt.Case{Code: 404, BodyMatch: "API not found"}, nodes[0].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/jwks/nope"}))
	gt.Check(t, gt.Case{Code: 404, BodyMatch: "API not found"}, nodes[0].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/jwks/%2A"}))
	// A flush naming an API without JWKS flushes nothing: the old key, cached, still serves.
	gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/jwks/plain"}))
	if r := nodes[0].Do(gt.Case{Path: "/flushed/x", Headers: bearer(oldTok)}); r.Code != 200 {
		t.Fatalf("node 0, the old key after flushing another API's JWKS: %d", r.Code)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: "cache invalidated"}, nodes[0].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/jwks/flushed"}))
	gt.Check(t, gt.Case{Code: 403}, nodes[0].Do(gt.Case{Path: "/flushed/x", Headers: bearer(oldTok)}))
	gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Path: "/flushed/x", Headers: bearer(rs256(t, newKey, "new", map[string]any{"sub": "erin"}))}))
	within(t, 5*time.Second, "node 1 dropping the old key", func() string {
		if r := nodes[1].Do(gt.Case{Path: "/flushed/x", Headers: bearer(oldTok)}); r.Code != 403 {
			return fmt.Sprint(r.Code)
		}
		return ""
	})
	gt.Check(t, gt.Case{Code: 200, BodyMatch: "cache invalidated"}, nodes[1].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/jwks"}))
}
