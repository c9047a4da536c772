package jwt

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testPolicies() policy.Set {
	p := func(id string) *apidef.Policy {
		return &apidef.Policy{ID: id, OrgID: "org", Rate: 100, Per: 1, AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
	}
	return policy.Set{"base": p("base"), "default-a": p("default-a"), "default-b": p("default-b"), "read": p("read"), "write": p("write")}
}

func newAuth(t testing.TB, def *apidef.APIDefinition, o Options) (*Auth, *session.Manager) {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	o.Sessions, o.Policies = m, testPolicies()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	if o.Cache == nil {
		// Every test runs with the verified-token cache, as the gateway does.
		o.Cache = NewCache(0)
	}
	def.EnableJWT, def.OrgID, def.APIID = true, "org", "api"
	a, err := New(def, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, m
}

func run(a *Auth, header string) (*chain.Context, error) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	c := &chain.Context{State: &reqctx.State{}}
	c.State.Gateway = c
	r = reqctx.With(r, c.State)
	return c, a.Step().Run(httptest.NewRecorder(), r, c)
}

// answer is the status and message of an error, or 0 and "" for none.
func answer(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var ce *chain.Error
	if !errors.As(err, &ce) {
		return -1, err.Error()
	}
	return ce.Status, ce.Message
}

func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "alice", "pol": "base"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func TestHMAC(t *testing.T) {
	secret := []byte("a-secret-of-some-length-0123456789")
	rk := rsaKey(t)
	def := &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret), JWTPolicyFieldName: "pol",
		JWTExpiresAtValidationSkew: 10, JWTIssuedAtValidationSkew: 20, JWTNotBeforeValidationSkew: 30}
	a, _ := newAuth(t, def, Options{})
	now := testNow.Unix()
	tests := []struct {
		name   string
		header string
		status int
		msg    string
	}{
		{"no token", "", 400, "Authorization field missing"},
		{"good HS256", "Bearer " + signJWS(t, "HS256", "", secret, claims(nil)), 0, ""},
		{"good HS384", signJWS(t, "HS384", "", secret, claims(nil)), 0, ""},
		{"good HS512", signJWS(t, "HS512", "", secret, claims(nil)), 0, ""},
		{"wrong secret", signJWS(t, "HS256", "", []byte("another secret"), claims(nil)), 403, "Key not authorized"},
		{"tampered payload", tamper(signJWS(t, "HS256", "", secret, claims(nil))), 403, "Key not authorized"},
		{"garbage", "not.a.jwt", 403, "Key not authorized"},
		{"alg none", signJWS(t, "none", "", nil, claims(nil)), 403, "Key not authorized: Unexpected signing method"},
		{"alg RS256 on an hmac API", signJWS(t, "RS256", "", rk, claims(nil)), 403, "Key not authorized: Unexpected signing method"},
		{"unknown alg", strings.Replace(signJWS(t, "HS256", "", secret, claims(nil)), b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)), b64.EncodeToString([]byte(`{"alg":"XX1","typ":"JWT"}`)), 1), 403, "Key not authorized: Unexpected signing method"},
		{"expired beyond skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"exp": now - 10})), 401, "Key not authorized: token has expired"},
		{"expired within skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"exp": now - 9})), 0, ""},
		{"issued in the future beyond skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"iat": now + 21})), 401, "Key not authorized: token used before issued"},
		{"issued in the future within skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"iat": now + 20})), 0, ""},
		{"not yet valid beyond skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"nbf": now + 31})), 401, "Key not authorized: token is not valid yet"},
		{"not yet valid within skew", signJWS(t, "HS256", "", secret, claims(map[string]any{"nbf": now + 30})), 0, ""},
		{"exp not a number", signJWS(t, "HS256", "", secret, claims(map[string]any{"exp": "soon"})), 403, "Key not authorized"},
		{"no identity", signJWS(t, "HS256", "", secret, claims(map[string]any{"sub": nil})), 403, "no suitable claims for user ID were found"},
		{"empty sub", signJWS(t, "HS256", "", secret, claims(map[string]any{"sub": ""})), 403, "found an empty user ID in sub claim"},
		{"no policy", signJWS(t, "HS256", "", secret, claims(map[string]any{"pol": nil})), 403, "key not authorized: no matching policy"},
		{"unknown policy", signJWS(t, "HS256", "", secret, claims(map[string]any{"pol": "nope"})), 403, "key not authorized: no matching policy found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second time a token that passed comes from the cache.
			for range 2 {
				_, err := run(a, tc.header)
				if st, msg := answer(err); st != tc.status || msg != tc.msg {
					t.Errorf("got %d %q (%v), want %d %q", st, msg, err, tc.status, tc.msg)
				}
			}
		})
	}
}

// tamper changes the payload of a token, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = b64.EncodeToString([]byte(`{"sub":"mallory","pol":"base"}`))
	return strings.Join(parts, ".")
}

// TestAlgorithmConfusion: an HMAC token whose secret is the API's RSA (or EC) public key, as
// PEM, must be refused: the rsa method accepts only RS*/PS*.
func TestAlgorithmConfusion(t *testing.T) {
	rk := rsaKey(t)
	ek := ecKey(t, elliptic.P256())
	for _, tc := range []struct {
		method string
		pub    []byte
	}{{"rsa", pemPublic(t, &rk.PublicKey)}, {"ecdsa", pemPublic(t, &ek.PublicKey)}} {
		t.Run(tc.method, func(t *testing.T) {
			a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: tc.method, JWTSource: source(tc.pub), JWTPolicyFieldName: "pol"}, Options{})
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				_, err := run(a, signJWS(t, alg, "", tc.pub, claims(nil)))
				if st, msg := answer(err); st != 403 || msg != "Key not authorized: Unexpected signing method" {
					t.Errorf("%s signed with the public key: got %d %q, want 403", alg, st, msg)
				}
			}
			_, err := run(a, signJWS(t, "none", "", nil, claims(nil)))
			if st, _ := answer(err); st != 403 {
				t.Errorf("alg none: got %d, want 403", st)
			}
		})
	}
}

func TestRSAAndECDSA(t *testing.T) {
	rk, other := rsaKey(t), rsaKey(t)
	e256, e384 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	rsaA, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTSource: source(pemPublic(t, &rk.PublicKey)), JWTPolicyFieldName: "pol"}, Options{})
	ecA, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "ecdsa", JWTSource: source(pemPublic(t, &e256.PublicKey)), JWTPolicyFieldName: "pol"}, Options{})
	tests := []struct {
		name   string
		a      *Auth
		tok    string
		status int
	}{
		{"RS256", rsaA, signJWS(t, "RS256", "", rk, claims(nil)), 0},
		{"RS512", rsaA, signJWS(t, "RS512", "", rk, claims(nil)), 0},
		{"PS256", rsaA, signJWS(t, "PS256", "", rk, claims(nil)), 0},
		{"RS256 other key", rsaA, signJWS(t, "RS256", "", other, claims(nil)), 403},
		{"ES256 on rsa", rsaA, signJWS(t, "ES256", "", e256, claims(nil)), 403},
		{"ES256", ecA, signJWS(t, "ES256", "", e256, claims(nil)), 0},
		{"ES384 other curve", ecA, signJWS(t, "ES384", "", e384, claims(nil)), 403},
		{"RS256 on ecdsa", ecA, signJWS(t, "RS256", "", rk, claims(nil)), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(tc.a, tc.tok)
			if st, msg := answer(err); st != tc.status {
				t.Errorf("got %d %q (%v), want %d", st, msg, err, tc.status)
			}
		})
	}
}

func TestNewRefusesBadSources(t *testing.T) {
	rk := rsaKey(t)
	for _, tc := range []struct {
		name string
		def  apidef.APIDefinition
	}{
		{"not base64", apidef.APIDefinition{JWTSource: "header"}},
		{"rsa without PEM", apidef.APIDefinition{JWTSigningMethod: "rsa", JWTSource: source([]byte("secret"))}},
		{"ecdsa with an RSA key", apidef.APIDefinition{JWTSigningMethod: "ecdsa", JWTSource: source(pemPublic(t, &rk.PublicKey))}},
		{"hmac with a PEM public key", apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(pemPublic(t, &rk.PublicKey))}},
		{"unset method (hmac) with a PEM public key", apidef.APIDefinition{JWTSource: source(pemPublic(t, &rk.PublicKey))}},
		{"hmac with a DER public key", apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(func() []byte { d, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey); return d }())}},
		{"hmac with a PKCS #1 DER public key", apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(x509.MarshalPKCS1PublicKey(&rk.PublicKey))}},
		{"hmac with a JWKS", apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: "https://idp.test/jwks"}},
		{"unknown method", apidef.APIDefinition{JWTSigningMethod: "eddsa", JWTSource: source([]byte("secret"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(&tc.def, Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "jwt_") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

func TestIdentityAndSession(t *testing.T) {
	secret := []byte("s3cret")
	def := &apidef.APIDefinition{JWTSource: source(secret), JWTIdentityBaseField: "user.email", JWTPolicyFieldName: "pol"}
	a, m := newAuth(t, def, Options{})
	tok := signJWS(t, "HS256", "", secret, claims(map[string]any{"user": map[string]any{"email": "a@example.com"}}))
	c, err := run(a, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := "org" + md5hex("a@example.com")
	if c.State.Token != want || c.KeyHash != session.HashKey(want) {
		t.Errorf("token %q hash %q, want %q and its hash", c.State.Token, c.KeyHash, want)
	}
	s, err := m.Get(context.Background(), session.ID{Key: want})
	if err != nil {
		t.Fatalf("stored session: %v", err)
	}
	if s.Alias != "a@example.com" || s.OrgID != "org" || s.MetaData[SessionIDMeta] != want || len(s.ApplyPolicies) != 1 || s.ApplyPolicies[0] != "base" {
		t.Errorf("stored session = %+v", s)
	}
	if c.State.Session.Rate != 100 {
		t.Errorf("policy not applied: rate %v", c.State.Session.Rate)
	}
	// A later token naming another policy updates the stored session.
	if _, err := run(a, signJWS(t, "HS256", "", secret, claims(map[string]any{"pol": "read", "user": map[string]any{"email": "a@example.com"}}))); err != nil {
		t.Fatal(err)
	}
	if s, _ = m.Get(context.Background(), session.ID{Key: want}); len(s.ApplyPolicies) != 1 || s.ApplyPolicies[0] != "read" {
		t.Errorf("after a new policy: %q", s.ApplyPolicies)
	}
	// The base claim empty: Tyk's message names it.
	_, err = run(a, signJWS(t, "HS256", "", secret, claims(map[string]any{"user": map[string]any{"email": ""}})))
	if st, msg := answer(err); st != 403 || msg != "found an empty user ID in predefined base claim, claim: user.email" {
		t.Errorf("empty base claim: %d %q", st, msg)
	}
	// The base claim absent: sub is used.
	c, err = run(a, signJWS(t, "HS256", "", secret, claims(nil)))
	if err != nil || c.State.Token != "org"+md5hex("alice") {
		t.Errorf("sub fallback: %v %q", err, c.State.Token)
	}
}

func TestPolicies(t *testing.T) {
	secret := []byte("s3cret")
	def := &apidef.APIDefinition{JWTSource: source(secret), JWTPolicyFieldName: "pol", JWTDefaultPolicies: []string{"default-a", "default-b"},
		JWTScopeToPolicyMapping: map[string]string{"read:x": "read", "write:x": "write"}}
	a, _ := newAuth(t, def, Options{})
	scoped := &apidef.APIDefinition{JWTSource: source(secret), JWTScopeClaimName: "perms", JWTScopeToPolicyMapping: map[string]string{"read:x": "read"}}
	b, _ := newAuth(t, scoped, Options{})
	// Tyk's scopes.jwt wins over the older fields whenever scopes sets anything: even
	// scopes.oidc alone leaves JWT with no mapping.
	newer, _ := newAuth(t, &apidef.APIDefinition{JWTSource: source(secret), JWTDefaultPolicies: []string{"default-a"},
		JWTScopeClaimName: "scope", JWTScopeToPolicyMapping: map[string]string{"read:x": "write"},
		Scopes: &apidef.Scopes{JWT: apidef.ScopeClaim{ScopeClaimName: "perms", ScopeToPolicy: map[string]string{"read:x": "read"}}}}, Options{})
	oidcOnly, _ := newAuth(t, &apidef.APIDefinition{JWTSource: source(secret), JWTDefaultPolicies: []string{"default-a"},
		JWTScopeToPolicyMapping: map[string]string{"read:x": "write"},
		Scopes:                  &apidef.Scopes{OIDC: apidef.ScopeClaim{ScopeToPolicy: map[string]string{"read:x": "read"}}}}, Options{})
	tests := []struct {
		name   string
		a      *Auth
		claims map[string]any
		want   []string
		msg    string
	}{
		{"base from the claim", a, claims(nil), []string{"base"}, ""},
		{"base as a list", a, claims(map[string]any{"pol": []any{"base", "read"}}), []string{"base", "read"}, ""},
		{"defaults", a, claims(map[string]any{"pol": nil}), []string{"default-a", "default-b"}, ""},
		{"scopes add to the base", a, claims(map[string]any{"scope": "read:x write:x other"}), []string{"base", "read", "write"}, ""},
		{"scopes replace the defaults", a, claims(map[string]any{"pol": nil, "scope": []any{"write:x"}}), []string{"write"}, ""},
		{"unmatched scope keeps the defaults", a, claims(map[string]any{"pol": nil, "scope": "other"}), []string{"default-a", "default-b"}, ""},
		{"custom scope claim", b, claims(map[string]any{"pol": nil, "perms": "read:x"}), []string{"read"}, ""},
		{"no scope match, no policy", b, claims(map[string]any{"pol": nil, "perms": "other"}), nil, "key not authorized: no matching policy found in scope claim"},
		{"no scope, no policy", b, claims(map[string]any{"pol": nil}), nil, "key not authorized: no scope or policy in token"},
		{"scopes.jwt over the older mapping", newer, claims(map[string]any{"perms": "read:x", "scope": "read:x"}), []string{"read"}, ""},
		{"scopes.jwt's claim only", newer, claims(map[string]any{"scope": "read:x"}), []string{"default-a"}, ""},
		{"scopes.oidc alone leaves JWT no mapping", oidcOnly, claims(map[string]any{"scope": "read:x"}), []string{"default-a"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := run(tc.a, signJWS(t, "HS256", "", secret, tc.claims))
			if _, msg := answer(err); msg != tc.msg {
				t.Fatalf("error %q, want %q", msg, tc.msg)
			}
			if err == nil && strings.Join(c.State.Session.ApplyPolicies, ",") != strings.Join(tc.want, ",") {
				t.Errorf("apply_policies %q, want %q", c.State.Session.ApplyPolicies, tc.want)
			}
		})
	}
}

// jwksServer serves a JWK set that the test can change, counting fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
	down    atomic.Bool
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]any) {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func TestJWKSRotation(t *testing.T) {
	old, cur := rsaKey(t), rsaKey(t)
	ek := ecKey(t, elliptic.P256())
	srv := newJWKSServer(t)
	srv.set(jwkOf("old", &old.PublicKey), jwkOf("ec", &ek.PublicKey))
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTSource: source([]byte(srv.URL)), JWTPolicyFieldName: "pol"},
		Options{Now: clock, JWKSRefetch: time.Minute, JWKSCacheTTL: time.Hour})
	check := func(name, tok string, status int) {
		t.Helper()
		_, err := run(a, tok)
		if st, msg := answer(err); st != status {
			t.Errorf("%s: got %d %q (%v), want %d", name, st, msg, err, status)
		}
	}
	oldTok := signJWS(t, "RS256", "old", old, claims(nil))
	check("old kid before rotation", oldTok, 0)
	check("old kid again, cached", oldTok, 0)
	check("EC key of an rsa API", signJWS(t, "ES256", "ec", ek, claims(nil)), 403)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	// Rotation: the server now holds only the new key. The first request naming it within the
	// refetch interval of the first fetch is refused: no refetch yet.
	srv.set(jwkOf("new", &cur.PublicKey))
	newTok := signJWS(t, "RS256", "new", cur, claims(nil))
	check("new kid within the interval", newTok, 403)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (no refetch within the interval)", n)
	}
	advance(time.Minute)
	check("new kid after the interval", newTok, 0)
	check("old kid after rotation", oldTok, 403)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// Many unknown kids, concurrently, cause at most one fetch per interval.
	advance(time.Minute)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(a, signJWS(t, "RS256", "kid-"+string(rune('a'+i%26)), cur, claims(nil)))
		}()
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("fetches = %d after 50 unknown kids, want 3", n)
	}
	check("new kid still served", newTok, 0)

	// The key server dies: keys serve until the TTL, then tokens are refused.
	srv.down.Store(true)
	advance(time.Hour)
	check("dead JWKS after the TTL", newTok, 403)
	check("dead JWKS, within the refetch interval", newTok, 403)
	srv.down.Store(false)
	advance(time.Minute)
	check("JWKS back", newTok, 0)
}

func TestJWKSUnreachable(t *testing.T) {
	srv := newJWKSServer(t)
	url := srv.URL
	srv.Close()
	rk := rsaKey(t)
	a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTSource: url, JWTPolicyFieldName: "pol"}, Options{JWKSTimeout: time.Second})
	_, err := run(a, signJWS(t, "RS256", "k", rk, claims(nil)))
	if st, msg := answer(err); st != 403 || msg != "Key not authorized" {
		t.Errorf("got %d %q, want 403 Key not authorized", st, msg)
	}
}

func TestJWKSParse(t *testing.T) {
	rk := rsaKey(t)
	e521 := ecKey(t, elliptic.P521())
	bad := jwkOf("bad-ec", &e521.PublicKey)
	bad["y"] = bad["x"] // not on the curve
	set, _ := json.Marshal(map[string]any{"keys": []any{
		jwkOf("r", &rk.PublicKey), jwkOf("e", &e521.PublicKey), bad,
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
	}})
	rsaKeys, err := parseJWKS(set, "rsa")
	if err != nil || len(rsaKeys) != 1 || rsaKeys["r"] == nil {
		t.Errorf("rsa keys = %v, %v", rsaKeys, err)
	}
	ecKeys, err := parseJWKS(set, "ecdsa")
	if err != nil || len(ecKeys) != 1 || ecKeys["e"] == nil {
		t.Errorf("ecdsa keys = %v, %v", ecKeys, err)
	}
}
