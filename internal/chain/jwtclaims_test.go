package chain

import (
	"encoding/base64"
	"testing"
)

func TestJWTClaims(t *testing.T) {
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	c := &Context{JWT: seg(`{"alg":"HS256","kid":"k1"}`) + "." + seg(`{"sub":"alice","kid":"claim","n":3}`) + ".sig"}
	m := c.JWTClaims()
	if m["alg"] != "HS256" || m["kid"] != "claim" || m["sub"] != "alice" || m["n"] != 3.0 {
		t.Errorf("JWTClaims = %v, want the header's alg, the claims' kid, sub and n", m)
	}
	m["sub"] = "changed"
	if c.JWTClaims()["sub"] != "changed" {
		t.Error("JWTClaims decoded the token again")
	}
	if got := (&Context{}).JWTClaims(); got != nil {
		t.Errorf("without a token: %v", got)
	}
	if got := (&Context{JWT: "!!.??"}).JWTClaims(); len(got) != 0 {
		t.Errorf("an undecodable token: %v", got)
	}
}

// BenchmarkJWTClaims is what a request whose transforms read a jwt_claims_* variable pays for
// a typical token (seven claims): the header and claims decoded once.
func BenchmarkJWTClaims(b *testing.B) {
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tok := seg(`{"alg":"RS256","kid":"2024-key","typ":"JWT"}`) + "." +
		seg(`{"sub":"user-1234","iss":"https://id.example.com/","aud":["api"],"exp":1900000000,"iat":1800000000,"scope":"read write","tenant":"t-42"}`) + ".sig"
	b.ReportAllocs()
	for b.Loop() {
		c := Context{JWT: tok}
		if c.JWTClaims()["sub"] != "user-1234" {
			b.Fatal("not decoded")
		}
	}
}
