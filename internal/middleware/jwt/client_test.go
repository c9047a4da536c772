package jwt

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
)

// TestClientBaseField: with jwt_client_base_field, the claim names a key whose first policy is
// the token's base policy, read on every request (so a change of the client key applies to
// cached tokens too); without such a key, the defaults apply; a policy claim name wins.
func TestClientBaseField(t *testing.T) {
	secret := []byte("s3cret-for-client-keys-0123456789")
	def := &apidef.APIDefinition{JWTSource: source(secret), JWTClientIDBaseField: "azp", JWTDefaultPolicies: []string{"default-a"}}
	a, m := newAuth(t, def, Options{})
	ctx := context.Background()
	put := func(key string, pols ...string) {
		t.Helper()
		if err := m.Put(ctx, session.ID{Key: key}, &apidef.SessionState{OrgID: "org", ApplyPolicies: pols}, 0); err != nil {
			t.Fatal(err)
		}
	}
	put("client-1", "read", "write")
	put("client-nopol")
	sessionPolicies := func(tok string) ([]string, int, string) {
		t.Helper()
		c, err := run(a, "Bearer "+tok)
		st, msg := answer(err)
		if err != nil {
			return nil, st, msg
		}
		return c.State.Session.ApplyPolicies, 0, ""
	}
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
		status int
	}{
		{"client key's first policy", map[string]any{"azp": "client-1"}, []string{"read"}, 0},
		{"unknown client: the defaults", map[string]any{"azp": "nobody"}, []string{"default-a"}, 0},
		{"client without policies: the defaults", map[string]any{"azp": "client-nopol"}, []string{"default-a"}, 0},
		{"no client claim: the defaults", map[string]any{}, []string{"default-a"}, 0},
		{"client claim not a string: the defaults", map[string]any{"azp": 7}, []string{"default-a"}, 0},
	}
	for _, tc := range tests {
		c := map[string]any{"sub": "u-" + tc.name}
		for k, v := range tc.claims {
			c[k] = v
		}
		tk := signJWS(t, "HS256", "", secret, c)
		for i := range 2 { // the second time from the cache
			got, st, msg := sessionPolicies(tk)
			if st != tc.status || len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("%s (use %d): policies %q, status %d %q; want %q, %d", tc.name, i, got, st, msg, tc.want, tc.status)
			}
		}
	}

	// The client key changes its policies: a cached token follows at once.
	cached := signJWS(t, "HS256", "", secret, map[string]any{"sub": "carol", "azp": "client-1"})
	if got, _, _ := sessionPolicies(cached); len(got) != 1 || got[0] != "read" {
		t.Fatalf("before the change: %q", got)
	}
	put("client-1", "write")
	if got, _, _ := sessionPolicies(cached); len(got) != 1 || got[0] != "write" {
		t.Errorf("after the client key changed: %q, want [write]", got)
	}
	// The client key names a policy that does not exist: refused.
	put("client-1", "gone")
	if _, st, msg := sessionPolicies(cached); st != 403 || msg != "key not authorized: no matching policy found" {
		t.Errorf("client key with a missing policy: %d %q", st, msg)
	}

	// A policy claim name wins over the client field, as in Tyk.
	both := &apidef.APIDefinition{JWTSource: source(secret), JWTClientIDBaseField: "azp", JWTPolicyFieldName: "pol"}
	b, _ := newAuth(t, both, Options{})
	c, err := run(b, signJWS(t, "HS256", "", secret, map[string]any{"sub": "dan", "azp": "client-1", "pol": "base"}))
	if err != nil || c.State.Session.ApplyPolicies[0] != "base" {
		t.Errorf("policy claim with a client field: %v %+v", err, c)
	}
}

// TestSessionExpiryFromExp: the identity's session expires with the token when the token lives
// longer (as in Tyk): set on creation, extended by a later token, never shortened.
func TestSessionExpiryFromExp(t *testing.T) {
	secret := []byte("s3cret-for-expiry-0123456789abcdef")
	a, m := newAuth(t, &apidef.APIDefinition{JWTSource: source(secret), JWTPolicyFieldName: "pol"}, Options{})
	now := testNow.Unix()
	id := session.ID{Key: "org" + md5hex("alice")}
	steps := []struct {
		name string
		exp  any // nil: no exp claim
		want int64
	}{
		{"created without exp: never expires", nil, 0},
		{"a token with exp sets it", now + 100, now + 100},
		{"a shorter-lived token does not shorten it", now + 50, now + 100},
		{"a token without exp leaves it", nil, now + 100},
		{"a longer-lived token extends it", now + 300, now + 300},
		{"a huge exp is the far future, clamped", 1e30, maxClaimSeconds},
	}
	for _, s := range steps {
		c := claims(map[string]any{"exp": s.exp})
		if _, err := run(a, signJWS(t, "HS256", "", secret, c)); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		stored, err := m.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Expires != s.want {
			t.Errorf("%s: session expires %d, want %d", s.name, stored.Expires, s.want)
		}
	}
	// Created from a token with exp.
	if _, err := run(a, signJWS(t, "HS256", "", secret, claims(map[string]any{"sub": "bob", "exp": now + 20}))); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Get(context.Background(), session.ID{Key: "org" + md5hex("bob")}); s == nil || s.Expires != now+20 {
		t.Errorf("session created from a token with exp: %+v", s)
	}
}
