package jwt

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
)

// TestOneToOneSecretChange: a key's jwt_data.secret changed through the store is used from the
// next request on; tokens signed with the old secret are refused at once, though the old
// secret's parsing is cached; and a key whose secret is removed, or which is deleted, verifies
// no token.
func TestOneToOneSecretChange(t *testing.T) {
	rk1, rk2 := rsaKey(t), rsaKey(t)
	for _, tc := range []struct {
		method, alg string
		old, new    any    // signing keys
		oldS, newS  string // the key's secrets
	}{
		{"hmac", "HS256", []byte("first-secret-0123456789"), []byte("second-secret-0123456789"), "first-secret-0123456789", "second-secret-0123456789"},
		{"rsa", "RS256", rk1, rk2, string(pemPublic(t, &rk1.PublicKey)), string(pemPublic(t, &rk2.PublicKey))},
	} {
		t.Run(tc.method, func(t *testing.T) {
			a, m := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: tc.method}, Options{})
			put := func(secret string) {
				t.Helper()
				s := &apidef.SessionState{OrgID: "org", JWTData: apidef.JWTData{Secret: secret},
					AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
				if err := m.Put(context.Background(), session.ID{Key: "key-1"}, s, 0); err != nil {
					t.Fatal(err)
				}
			}
			oldTok := "Bearer " + signJWS(t, tc.alg, "key-1", tc.old, map[string]any{})
			newTok := "Bearer " + signJWS(t, tc.alg, "key-1", tc.new, map[string]any{})
			want := func(step, tok string, status int) {
				t.Helper()
				_, err := run(a, tok)
				if st, msg := answer(err); st != status {
					t.Errorf("%s: got %d %q (%v), want %d", step, st, msg, err, status)
				}
			}
			put(tc.oldS)
			want("old secret, old token", oldTok, 0)
			want("old secret, new token", newTok, 403)
			put(tc.newS)
			want("new secret, old token", oldTok, 403)
			want("new secret, new token", newTok, 0)
			put(tc.oldS)
			want("back to the old secret, new token", newTok, 403)
			want("back to the old secret, old token", oldTok, 0)
			// The secret removed from the key: nothing verifies, its cached parsing neither.
			put("")
			want("no secret, old token", oldTok, 403)
			// The key deleted: its tokens are refused though their secret's parsing is cached.
			put(tc.oldS)
			want("the key again", oldTok, 0)
			if ok, err := m.Delete(context.Background(), session.ID{Key: "key-1"}); !ok || err != nil {
				t.Fatalf("deleting the key: %t, %v", ok, err)
			}
			want("the key deleted, old token", oldTok, 403)
			want("the key deleted, new token", newTok, 403)
			if a.secrets.len() == 0 {
				t.Error("nothing was cached: the steps above did not check the cache")
			}
		})
	}
}

// TestSecretCacheBounded: a flood of keys with distinct secrets is served, each with its own
// secret, while the parsed-secret cache stays at its bound; a secret above maxCachedSecret is
// used but not kept.
func TestSecretCacheBounded(t *testing.T) {
	const bound = 8
	cache := NewCache(0)
	cache.secrets = newSecretCache(bound)
	a, m := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac"}, Options{Cache: cache})
	ctx := context.Background()
	for i := range 5 * bound {
		name := fmt.Sprintf("key-%d", i)
		secret := fmt.Sprintf("secret-%d-0123456789", i)
		if i == 3 {
			secret = strings.Repeat("s", maxCachedSecret+1)
		}
		s := &apidef.SessionState{OrgID: "org", JWTData: apidef.JWTData{Secret: secret},
			AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
		if err := m.Put(ctx, session.ID{Key: name}, s, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := run(a, "Bearer "+signJWS(t, "HS256", name, []byte(secret), map[string]any{})); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Another key's secret never verifies this key's tokens, cached or not.
		if i > 0 {
			other := fmt.Sprintf("secret-%d-0123456789", i-1)
			if _, err := run(a, "Bearer "+signJWS(t, "HS256", name, []byte(other), map[string]any{})); err == nil {
				t.Fatalf("%s: a token signed with another key's secret passed", name)
			}
		}
		if n := cache.secrets.len(); n > bound {
			t.Fatalf("after %d keys the cache holds %d secrets, bound %d", i+1, n, bound)
		}
	}
	if n := cache.secrets.len(); n != bound {
		t.Errorf("the cache holds %d secrets, want %d (full)", n, bound)
	}
	for _, m := range cache.secrets.byMethod {
		for s := range m {
			if len(s) > maxCachedSecret {
				t.Errorf("a secret of %d bytes is cached", len(s))
			}
		}
	}
}
