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
