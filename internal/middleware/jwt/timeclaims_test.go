package jwt

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestHugeTimeClaims: exp, nbf and iat beyond int64 seconds mean the far future or the far
// past, not an overflow (an exp of 1e30 was read as -9223372036854775808 and the token refused
// as expired, with that number in the log). A claim that is not a finite number is refused
// with a reason naming it.
func TestHugeTimeClaims(t *testing.T) {
	secret := []byte("a-secret-of-some-length-0123456789")
	a, _ := newAuth(t, &apidef.APIDefinition{JWTSigningMethod: "hmac", JWTSource: source(secret), JWTPolicyFieldName: "pol",
		JWTExpiresAtValidationSkew: 10, JWTIssuedAtValidationSkew: 20, JWTNotBeforeValidationSkew: 30}, Options{})
	now := float64(testNow.Unix())
	tests := []struct {
		name   string
		claims map[string]any
		status int
		msg    string
		cause  string // in the logged error
	}{
		{"huge exp: valid", map[string]any{"exp": 1e30}, 0, "", ""},
		{"largest float exp: valid", map[string]any{"exp": math.MaxFloat64}, 0, "", ""},
		{"exp 2^63, just past int64: valid", map[string]any{"exp": 9223372036854775808.0}, 0, "", ""},
		{"huge negative exp: expired", map[string]any{"exp": -1e30}, 401, "Key not authorized: token has expired",
			"exp -1000000000000000000000000000000"},
		{"huge nbf: not valid yet", map[string]any{"nbf": 1e30}, 401, "Key not authorized: token is not valid yet",
			"nbf 1000000000000000000000000000000"},
		{"huge negative nbf: valid", map[string]any{"nbf": -1e30}, 0, "", ""},
		{"huge iat: issued in the future", map[string]any{"iat": 1e30}, 401, "Key not authorized: token used before issued",
			"iat 1000000000000000000000000000000"},
		{"huge negative iat: valid", map[string]any{"iat": -1e30}, 0, "", ""},
		{"every claim huge but sensible", map[string]any{"exp": 1e300, "iat": now, "nbf": -1e300}, 0, "", ""},
		{"exp beyond float64: malformed token", map[string]any{"exp": json.RawMessage("1e400")}, 403, "Key not authorized", ""},
		{"exp a string", map[string]any{"exp": "soon"}, 403, "Key not authorized", "exp claim is not a number (a JSON string)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second time from the cache, when it passed
				_, err := run(a, signJWS(t, "HS256", "", secret, claims(tc.claims)))
				if st, msg := answer(err); st != tc.status || msg != tc.msg {
					t.Fatalf("got %d %q (%v), want %d %q", st, msg, err, tc.status, tc.msg)
				}
				if err != nil && !strings.Contains(err.Error(), tc.cause) {
					t.Errorf("error %q does not say %q", err, tc.cause)
				}
				if err != nil && strings.Contains(err.Error(), "-9223372036854775808") {
					t.Errorf("error %q shows an overflow", err)
				}
			}
		})
	}
}

func TestReadTimeClaim(t *testing.T) {
	far, past := time.Unix(maxClaimSeconds, 0), time.Unix(minClaimSeconds, 0)
	tests := []struct {
		name string
		v    any
		want time.Time
		none bool // no claim
		err  string
	}{
		{"seconds", 1700000000.0, time.Unix(1700000000, 0), false, ""},
		{"fraction truncated", 1700000000.9, time.Unix(1700000000, 0), false, ""},
		{"zero: none", 0.0, time.Time{}, true, ""},
		{"huge", 1e30, far, false, ""},
		{"huge negative", -1e30, past, false, ""},
		{"json.Number", json.Number("1700000000"), time.Unix(1700000000, 0), false, ""},
		{"json.Number huge", json.Number("1e30"), far, false, ""},
		{"json.Number beyond float64", json.Number("1e400"), time.Time{}, false, "exp claim +Inf is not a finite number"},
		{"json.Number not a number", json.Number("soon"), time.Time{}, false, `exp claim "soon" is not a number`},
		{"NaN", math.NaN(), time.Time{}, false, "exp claim NaN is not a finite number"},
		{"+Inf", math.Inf(1), time.Time{}, false, "exp claim +Inf is not a finite number"},
		{"-Inf", math.Inf(-1), time.Time{}, false, "exp claim -Inf is not a finite number"},
		{"boolean", true, time.Time{}, false, "exp claim is not a number (a JSON boolean)"},
		{"null", nil, time.Time{}, false, "exp claim is not a number (a JSON null)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readTimeClaim(jwtlib.MapClaims{"exp": tc.v}, "exp")
			switch {
			case tc.err != "":
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.none != (got == nil):
				t.Fatalf("got %v, want %v", got, tc.want)
			case got != nil && !got.Equal(tc.want):
				t.Errorf("got %v, want %v", got.Time, tc.want)
			}
		})
	}
	if got, err := readTimeClaim(jwtlib.MapClaims{}, "exp"); got != nil || err != nil {
		t.Errorf("absent claim: %v, %v", got, err)
	}
}
