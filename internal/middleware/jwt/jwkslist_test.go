package jwt

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestJWKSList: with jwt_jwks_uris, a token's kid is found in any of the sets, in order; a kid a
// later set holds never makes an earlier one fetch again once both are fetched; a set that is
// down leaves the others serving; a kid no set holds is refused; each set keeps its own
// cache_timeout; jwt_source is not read.
func TestJWKSList(t *testing.T) {
	ka, kb := rsaKey(t), rsaKey(t)
	a, b := newJWKSServer(t), newJWKSServer(t)
	a.set(jwkOf("a1", &ka.PublicKey))
	b.set(jwkOf("b1", &kb.PublicKey))
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	def := &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTPolicyFieldName: "pol",
		JWTSource:   source([]byte("https://never-read.test/jwks")),
		JWTJwksURIs: []apidef.JWKSURI{{URL: a.URL, CacheTimeout: 60}, {URL: b.URL}}}
	auth, _ := newAuth(t, def, Options{Now: clock, JWKSRefetch: 10 * time.Second, JWKSCacheTTL: time.Hour})
	check := func(name, tok string, status int) {
		t.Helper()
		_, err := run(auth, tok)
		if st, msg := answer(err); st != status {
			t.Errorf("%s: got %d %q (%v), want %d", name, st, msg, err, status)
		}
	}
	tokA := signJWS(t, "RS256", "a1", ka, claims(nil))
	tokB := signJWS(t, "RS256", "b1", kb, claims(map[string]any{"sub": "bob"}))
	check("a key of the first set", tokA, 0)
	check("a key of the second set", tokB, 0)
	if fa, fb := a.fetches.Load(), b.fetches.Load(); fa != 1 || fb != 1 {
		t.Fatalf("fetches %d, %d, want 1 each", fa, fb)
	}
	for range 5 {
		advance(11 * time.Second)
		check("the second set's key again", signJWS(t, "RS256", "b1", kb, claims(map[string]any{"sub": "bob", "n": now.Unix()})), 0)
	}
	if fa := a.fetches.Load(); fa != 1 {
		t.Errorf("the first set was fetched %d times for kids the second holds, want 1", fa)
	}
	check("a kid neither holds", signJWS(t, "RS256", "nope", ka, claims(nil)), 403)

	// The first set's own cache_timeout (60 s) has passed: it is fetched again; down, its keys
	// go, and the second set still serves.
	a.down.Store(true)
	advance(time.Minute)
	check("the first set down, its key", signJWS(t, "RS256", "a1", ka, claims(map[string]any{"n": 1})), 403)
	before := b.fetches.Load()
	check("the first set down, the second's key", signJWS(t, "RS256", "b1", kb, claims(map[string]any{"sub": "bob", "n": 2})), 0)
	if fb := b.fetches.Load(); fb != before {
		t.Errorf("the second set (one hour) was fetched again for a key it holds: %d, then %d", before, fb)
	}
	if keys := auth.JWKSKeys(); len(keys) != 2 || !strings.HasSuffix(keys[0], a.URL) || !strings.HasSuffix(keys[1], b.URL) {
		t.Errorf("JWKSKeys() = %q", keys)
	}
}

// TestClaimLists: subject, base policy and scope claims tried in order (Tyk OAS subjectClaims,
// basePolicyClaims, scopes.claims): the first the token holds is used; one held empty refuses
// the token; without any, sub.
func TestClaimLists(t *testing.T) {
	secret := []byte("secret")
	def := &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret),
		JWTSubjectClaims: []string{"email", "user.id"}, JWTBasePolicyClaims: []string{"tier", "pol"},
		JWTScopeClaims: []string{"scp", "permissions"}, JWTScopeToPolicyMapping: map[string]string{"read": "read", "write": "write"}}
	a, _ := newAuth(t, def, Options{})
	for _, tc := range []struct {
		name   string
		claims map[string]any
		alias  string
		pols   string
		msg    string
	}{
		{"the first subject claim", map[string]any{"email": "a@x", "user": map[string]any{"id": "u1"}, "tier": "base"}, "a@x", "base", ""},
		{"the second, nested", map[string]any{"user": map[string]any{"id": "u1"}, "tier": "base"}, "u1", "base", ""},
		{"neither: sub", map[string]any{"sub": "s1", "pol": "base"}, "s1", "base", ""},
		{"the first held empty", map[string]any{"email": "", "sub": "s1", "pol": "base"}, "", "", msgEmptyBaseClaim + "email"},
		{"the second policy claim", map[string]any{"sub": "s2", "pol": "default-a"}, "s2", "default-a", ""},
		{"the first policy claim wins", map[string]any{"sub": "s5", "tier": "default-b", "pol": "default-a"}, "s5", "default-b", ""},
		{"scopes in the second scope claim", map[string]any{"sub": "s3", "pol": "base", "permissions": []any{"read"}}, "s3", "base,read", ""},
		{"the first scope claim wins", map[string]any{"sub": "s4", "pol": "base", "scp": "write", "permissions": []any{"read"}}, "s4", "base,write", ""},
		{"a subject claim that is no string is passed over", map[string]any{"email": 42, "user": map[string]any{"id": nil}, "sub": "s6", "pol": "base"}, "s6", "base", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := run(a, signJWS(t, "HS256", "", secret, tc.claims))
			if _, msg := answer(err); msg != tc.msg {
				t.Fatalf("error %q, want %q", msg, tc.msg)
			}
			if err != nil {
				return
			}
			if s := c.State.Session; s.Alias != tc.alias || strings.Join(s.ApplyPolicies, ",") != tc.pols {
				t.Errorf("alias %q policies %q, want %q %q", s.Alias, s.ApplyPolicies, tc.alias, tc.pols)
			}
		})
	}
}

// TestScopeFallbackOAS: a Tyk OAS API falls back to the scope claim when the token holds none
// of the scope claims named, as Tyk OAS does; a Classic API reads only the claim it names.
func TestScopeFallbackOAS(t *testing.T) {
	secret := []byte("secret")
	for _, oas := range []bool{true, false} {
		def := &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret), IsOAS: oas, JWTPolicyFieldName: "pol",
			JWTScopeClaims: []string{"scp"}, JWTScopeToPolicyMapping: map[string]string{"read": "read"}}
		a, _ := newAuth(t, def, Options{})
		c, err := run(a, signJWS(t, "HS256", "", secret, map[string]any{"sub": "s", "pol": "base", "scope": "read"}))
		if err != nil {
			t.Fatalf("oas %v: %v", oas, err)
		}
		want := "base"
		if oas {
			want = "base,read"
		}
		if got := strings.Join(c.State.Session.ApplyPolicies, ","); got != want {
			t.Errorf("oas %v: policies %q, want %q", oas, got, want)
		}
	}
}

// TestJWKSSetsByTTL: APIs naming one JWKS URL with different cache timeouts hold sets of their
// own (one never lives by the other's time), and the same timeout shares one; a token without a
// kid finds no key, and a JWK without one is never used.
func TestJWKSSetsByTTL(t *testing.T) {
	k := rsaKey(t)
	srv := newJWKSServer(t)
	noKid := jwkOf("", &k.PublicKey)
	srv.set(jwkOf("k", &k.PublicKey), noKid)
	sets := NewJWKSSets()
	mk := func(secs int64) *Auth {
		a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTPolicyFieldName: "pol", JWTJwksURIs: []apidef.JWKSURI{{URL: srv.URL, CacheTimeout: secs}}}, Options{JWKS: sets})
		return a
	}
	day, minute, minute2 := mk(86400), mk(60), mk(60)
	if day.keys.(jwksList)[0] == minute.keys.(jwksList)[0] || minute.keys.(jwksList)[0] != minute2.keys.(jwksList)[0] || sets.Len() != 2 {
		t.Errorf("sets by time to live: %d held, want 2 (a day's apart from a minute's, the two minutes' shared)", sets.Len())
	}
	if got := minute.keys.(jwksList)[0].ttl; got != time.Minute {
		t.Errorf("the minute's set lives %v", got)
	}
	if _, err := run(minute, signJWS(t, "RS256", "", k, claims(nil))); err == nil {
		t.Error("a token without a kid was accepted")
	}
	if _, err := run(minute, signJWS(t, "RS256", "k", k, claims(nil))); err != nil {
		t.Errorf("the key's own kid: %v", err)
	}
}

// TestJWKSListCacheAfterStaleSet: a set past its time that tokens no longer use does not keep
// the verified-token cache off: it is fetched again in the background, and then tokens are
// cached again.
func TestJWKSListCacheAfterStaleSet(t *testing.T) {
	ka, kb := rsaKey(t), rsaKey(t)
	a, b := newJWKSServer(t), newJWKSServer(t)
	a.set(jwkOf("a1", &ka.PublicKey))
	b.set(jwkOf("b1", &kb.PublicKey))
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	auth, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTPolicyFieldName: "pol",
		JWTJwksURIs: []apidef.JWKSURI{{URL: a.URL, CacheTimeout: 60}, {URL: b.URL, CacheTimeout: 3600}}}, Options{Now: clock, JWKSRefetch: 10 * time.Second})
	if _, err := run(auth, signJWS(t, "RS256", "a1", ka, claims(nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(auth, signJWS(t, "RS256", "b1", kb, claims(nil))); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if _, ok := auth.keys.generation(clock()); ok {
		t.Fatal("cacheable with a set past its time")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := auth.keys.generation(clock()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not cacheable; fetches of the stale set: %d", a.fetches.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.fetches.Load(); n != 2 {
		t.Errorf("the stale set was fetched %d times, want 2", n)
	}
}

// TestJWKSFlush: a flush disowns a fetch under way (what it read is not stored, and the next
// token fetches afresh), drops the tokens verified with the set from the cache of every API
// sharing it, and names no set when given none.
func TestJWKSFlush(t *testing.T) {
	ka, kb := rsaKey(t), rsaKey(t)
	var mu sync.Mutex
	keysA := []map[string]any{jwkOf("a1", &ka.PublicKey)}
	var hold chan struct{} // when set, the next answer waits for it to close
	var fetchesA atomic.Int32
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		body, _ := json.Marshal(map[string]any{"keys": keysA})
		h := hold
		mu.Unlock()
		fetchesA.Add(1)
		if h != nil {
			<-h
		}
		w.Write(body)
	}))
	t.Cleanup(a.Close)
	setA := func(keys ...map[string]any) { mu.Lock(); keysA = keys; mu.Unlock() }
	b := newJWKSServer(t)
	b.set(jwkOf("b1", &kb.PublicKey))
	sets := NewJWKSSets()
	o := Options{JWKS: sets, JWKSRefetch: time.Nanosecond, Now: time.Now}
	x, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTPolicyFieldName: "pol", JWTJwksURIs: []apidef.JWKSURI{{URL: a.URL}}}, o)
	y, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTPolicyFieldName: "pol", JWTJwksURIs: []apidef.JWKSURI{{URL: a.URL}, {URL: b.URL}}}, o)
	tokA := signJWS(t, "RS256", "a1", ka, claims(nil))
	// Both sets fetched first, then a1's token verified and cached against them.
	if _, err := run(y, signJWS(t, "RS256", "b1", kb, claims(map[string]any{"sub": "b"}))); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := run(y, tokA); err != nil {
			t.Fatal(err)
		}
	}
	if n := sets.Flush(nil, false); n != 0 {
		t.Errorf("a flush naming no set flushed %d", n)
	}
	setA() // the provider drops a1
	if n := sets.Flush(x.JWKSKeys(), false); n != 1 {
		t.Fatalf("flushed %d sets, want 1", n)
	}
	if _, err := run(y, tokA); err == nil {
		t.Error("a token verified with a flushed set was served from another API's cache")
	}

	// A fetch under way when the flush comes: it read the old keys, and must not store them.
	setA(jwkOf("a1", &ka.PublicKey))
	release := make(chan struct{})
	mu.Lock()
	hold = release
	mu.Unlock()
	before := fetchesA.Load()
	done := make(chan error, 1)
	go func() {
		_, err := run(x, signJWS(t, "RS256", "a1", ka, claims(map[string]any{"sub": "late"})))
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for fetchesA.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no fetch started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	setA()
	sets.Flush(x.JWKSKeys(), false)
	mu.Lock()
	hold = nil
	mu.Unlock()
	close(release)
	<-done
	if _, err := run(x, signJWS(t, "RS256", "a1", ka, claims(map[string]any{"sub": "after"}))); err == nil {
		t.Error("keys read before the flush were stored after it")
	}
}
