package jwt

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// countingKeys counts the verifications that needed the key, i.e. the cache misses.
type countingKeys struct {
	keySource
	n atomic.Int32
}

func (c *countingKeys) key(ctx context.Context, kid string) (any, error) {
	c.n.Add(1)
	return c.keySource.key(ctx, kid)
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func TestCacheWindow(t *testing.T) {
	secret := []byte("a-secret-of-some-length-0123456789")
	clock := &testClock{now: testNow}
	now := testNow.Unix()
	def := &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret), JWTPolicyFieldName: "pol",
		JWTExpiresAtValidationSkew: 5, JWTNotBeforeValidationSkew: 3, JWTIssuedAtValidationSkew: 2}
	cache := NewCache(0)
	a, _ := newAuth(t, def, Options{Now: clock.Now, Cache: cache})
	keys := &countingKeys{keySource: a.keys}
	a.keys = keys
	tok := signJWS(t, "HS256", "", secret, claims(map[string]any{"exp": now + 60, "nbf": now - 10, "iat": now - 20}))
	type step struct {
		name   string
		at     time.Time
		status int
		msg    string
		misses int32 // key lookups so far
	}
	for _, s := range []step{
		{"first use verifies", testNow, 0, "", 1},
		{"second use is cached", testNow, 0, "", 1},
		{"just before exp plus skew, cached", testNow.Add(64 * time.Second), 0, "", 1},
		{"at exp plus skew the cached token has expired", testNow.Add(65 * time.Second), 401, "Key not authorized: token has expired", 2},
		{"and stays expired", testNow.Add(70 * time.Second), 401, "Key not authorized: token has expired", 3},
		// A clock set back before nbf (less its skew): the cached entry is not used either.
		{"verified again inside the window", testNow, 0, "", 4},
		{"before nbf less skew", testNow.Add(-14 * time.Second), 401, "Key not authorized: token is not valid yet", 5},
	} {
		clock.Set(s.at)
		_, err := run(a, "Bearer "+tok)
		if st, msg := answer(err); st != s.status || msg != s.msg {
			t.Errorf("%s: got %d %q (%v), want %d %q", s.name, st, msg, err, s.status, s.msg)
		}
		if n := keys.n.Load(); n != s.misses {
			t.Errorf("%s: %d verifications so far, want %d", s.name, n, s.misses)
		}
	}
}

// TestCacheAcrossAPIs: a token cached for one API is not valid for another API sharing the
// cache, nor for the same API compiled again with another secret (a reload).
func TestCacheAcrossAPIs(t *testing.T) {
	secretA, secretB := []byte("secret-of-api-a-0123456789abcdef"), []byte("secret-of-api-b-0123456789abcdef")
	cache := NewCache(0)
	a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secretA), JWTPolicyFieldName: "pol"}, Options{Cache: cache})
	b, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secretB), JWTPolicyFieldName: "pol"}, Options{Cache: cache})
	tok := "Bearer " + signJWS(t, "HS256", "", secretA, claims(nil))
	for i := range 2 {
		if _, err := run(a, tok); err != nil {
			t.Fatalf("API a, use %d: %v", i, err)
		}
	}
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d tokens, want 1", cache.Len())
	}
	if _, err := run(b, tok); err == nil {
		t.Fatal("API b accepted a token signed with API a's secret, cached for API a")
	} else if st, msg := answer(err); st != 403 || msg != "Key not authorized" {
		t.Errorf("API b: got %d %q, want 403", st, msg)
	}
	// The same definition with a new secret: a new compilation, nothing cached for it.
	again, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secretB), JWTPolicyFieldName: "pol"}, Options{Cache: cache})
	if _, err := run(again, tok); err == nil {
		t.Fatal("a recompiled API with another secret accepted the token cached before")
	}
}

func TestCacheBounds(t *testing.T) {
	secret := []byte("a-secret-of-some-length-0123456789")
	cache := NewCache(64)
	a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret), JWTPolicyFieldName: "pol"}, Options{Cache: cache})
	for i := range 1000 {
		if _, err := run(a, signJWS(t, "HS256", "", secret, claims(map[string]any{"sub": fmt.Sprintf("user-%d", i)}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.Len(); n > 64 || n == 0 {
		t.Errorf("cache holds %d tokens after 1000, want 1 to 64", n)
	}
	cache.Reset()
	// An identity too large to count as a bounded entry is served, never cached.
	big := strings.Repeat("x", maxCachedBytes)
	for range 2 {
		if _, err := run(a, signJWS(t, "HS256", "", secret, claims(map[string]any{"sub": big}))); err != nil {
			t.Fatal(err)
		}
	}
	if n := cache.Len(); n != 0 {
		t.Errorf("cache holds %d tokens, want the large one not cached", n)
	}
}

func TestJWKSSets(t *testing.T) {
	sets := NewJWKSSets()
	def := func(url string) *apidef.APIDefinition {
		return &apidef.APIDefinition{JWTSigningMethod: "rsa", JWTSource: url, JWTPolicyFieldName: "pol"}
	}
	a, _ := newAuth(t, def("https://idp.test/jwks"), Options{JWKS: sets})
	b, _ := newAuth(t, def("https://idp.test/jwks"), Options{JWKS: sets})
	c, _ := newAuth(t, def("https://other.test/jwks"), Options{JWKS: sets})
	if a.keys != b.keys {
		t.Error("two compilations naming the same JWKS do not share its keys")
	}
	if a.keys == c.keys || sets.Len() != 2 {
		t.Errorf("two URLs share keys, or %d sets held, want 2", sets.Len())
	}
	sets.Retain(map[string]bool{c.JWKSKeys()[0]: true})
	if sets.Len() != 1 {
		t.Errorf("%d sets held after retaining one, want 1", sets.Len())
	}
	if d, _ := newAuth(t, def("https://idp.test/jwks"), Options{JWKS: sets}); d.keys == a.keys {
		t.Error("a dropped set came back")
	}
}
