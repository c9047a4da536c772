package jwt

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
)

// TestOneToOne: without jwt_source each token names a key, by kid or (with jwt_skip_kid, or
// without a kid) its identity claim, and is verified with that key's jwt_data.secret; the
// request then carries the key's own session.
func TestOneToOne(t *testing.T) {
	secret := []byte("per-key-secret-0123456789abcdef")
	rk := rsaKey(t)
	ctx := context.Background()
	newOne := func(def *apidef.APIDefinition) (*Auth, *session.Manager) {
		a, m := newAuth(t, def, Options{})
		put := func(name, secret string) {
			s := &apidef.SessionState{OrgID: "org", Rate: 7, Per: 1, JWTData: apidef.JWTData{Secret: secret},
				AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
			if err := m.Put(ctx, session.ID{Key: name}, s, 0); err != nil {
				t.Fatal(err)
			}
		}
		put("key-1", string(secret))
		put("alice", string(secret))
		put("no-secret", "")
		put("rsa-key", string(pemPublic(t, &rk.PublicKey)))
		return a, m
	}
	hm, _ := newOne(&apidef.APIDefinition{JWTSigningMethod: "hmac"})
	skip, _ := newOne(&apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSkipKid: true})
	rs, _ := newOne(&apidef.APIDefinition{JWTSigningMethod: "rsa"})
	issuer, _ := newOne(&apidef.APIDefinition{JWTSigningMethod: "hmac",
		JWTClaimValidation: apidef.JWTClaimValidation{AllowedIssuers: []string{"https://idp.test"}}})
	now := testNow.Unix()
	tests := []struct {
		name   string
		a      *Auth
		tok    string
		key    string // the session's key when it passes
		status int
		msg    string
	}{
		{"by kid", hm, signJWS(t, "HS256", "key-1", secret, map[string]any{"sub": "whoever"}), "key-1", 0, ""},
		{"no kid: by sub", hm, signJWS(t, "HS256", "", secret, map[string]any{"sub": "alice"}), "alice", 0, ""},
		{"jwt_skip_kid: by sub, the kid ignored", skip, signJWS(t, "HS256", "key-1", secret, map[string]any{"sub": "alice"}), "alice", 0, ""},
		{"RSA key's PEM as the secret", rs, signJWS(t, "RS256", "rsa-key", rk, map[string]any{}), "rsa-key", 0, ""},
		{"unknown key", hm, signJWS(t, "HS256", "nobody", secret, map[string]any{}), "", 403, "Key not authorized"},
		{"wrong secret", hm, signJWS(t, "HS256", "key-1", []byte("another secret"), map[string]any{}), "", 403, "Key not authorized"},
		{"a key without jwt_data", hm, signJWS(t, "HS256", "no-secret", []byte(""), map[string]any{}), "", 403, "Key not authorized"},
		{"no kid, no sub", hm, signJWS(t, "HS256", "", secret, map[string]any{"name": "x"}), "", 403, "Key not authorized"},
		{"alg none", hm, signJWS(t, "none", "key-1", nil, map[string]any{}), "", 403, "Key not authorized: Unexpected signing method"},
		// Key confusion: the HMAC API, the RSA key's public PEM as the HMAC secret.
		{"HMAC API, HS256 signed with an RSA key's PEM secret", hm, signJWS(t, "HS256", "rsa-key", pemPublic(t, &rk.PublicKey), map[string]any{}), "", 403, "Key not authorized"},
		{"HMAC API, HS256 signed with an RSA key's PEM secret, by sub", skip, signJWS(t, "HS256", "", pemPublic(t, &rk.PublicKey), map[string]any{"sub": "rsa-key"}), "", 403, "Key not authorized"},
		{"HS256 with the RSA PEM as secret", rs, signJWS(t, "HS256", "rsa-key", pemPublic(t, &rk.PublicKey), map[string]any{}), "", 403, "Key not authorized: Unexpected signing method"},
		{"expired", hm, signJWS(t, "HS256", "key-1", secret, map[string]any{"exp": now - 1}), "", 401, "Key not authorized: token has expired"},
		{"claim checks: allowed issuer", issuer, signJWS(t, "HS256", "key-1", secret, map[string]any{"iss": "https://idp.test"}), "key-1", 0, ""},
		{"claim checks: other issuer", issuer, signJWS(t, "HS256", "key-1", secret, map[string]any{"iss": "https://evil.test"}), "", 401,
			"Key not authorized: iss claim is not an allowed issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := run(tc.a, "Bearer "+tc.tok)
			if st, msg := answer(err); st != tc.status || msg != tc.msg {
				t.Fatalf("got %d %q (%v), want %d %q", st, msg, err, tc.status, tc.msg)
			}
			if tc.status == 0 && (c.State.Token != tc.key || c.State.Session.Rate != 7) {
				t.Errorf("session of %q (rate %v), want the key %q's", c.State.Token, c.State.Session.Rate, tc.key)
			}
		})
	}
}
