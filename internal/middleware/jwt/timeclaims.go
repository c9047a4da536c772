package jwt

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// The time claims (exp, nbf, iat) are clamped to [minClaimSeconds, maxClaimSeconds], from the
// first second of the year 1 to the last of the year 9999, before they become int64 seconds and
// times. A claim beyond the bounds still means what it says, the far past or the far future
// (a huge exp: valid for ever; a huge nbf or iat: not valid yet), where converting it as it
// is overflows int64 (1e30 became -9223372036854775808, a token expired in 292 billion BC) or
// time.Time's arithmetic.
const (
	minClaimSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxClaimSeconds = 253402300799 // 9999-12-31T23:59:59Z
)

// timeClaim is a time claim read from a token.
type timeClaim struct {
	time.Time
	// raw is the claim as the token wrote it, for the log.
	raw string
}

// readTimeClaim reads the time claim name, seconds since the epoch (RFC 7519's NumericDate),
// clamped to the bounds above and truncated to the second as golang-jwt truncates it: nil
// when the token has none, or 0, which golang-jwt and Tyk read as none. A claim that is not a
// number, or not a finite one, is an error naming it.
func readTimeClaim(claims jwtlib.MapClaims, name string) (*timeClaim, error) {
	v, ok := claims[name]
	if !ok {
		return nil, nil
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case json.Number:
		// Out of range, Float64 returns ±Inf with its error: refused below as not finite.
		var err error
		if f, err = n.Float64(); err != nil && !math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s claim %q is not a number", name, n.String())
		}
	default:
		return nil, fmt.Errorf("%s claim is not a number (a JSON %s)", name, jsonKind(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s claim %v is not a finite number", name, f)
	}
	if f == 0 {
		return nil, nil
	}
	sec := math.Floor(f)
	switch {
	case sec > maxClaimSeconds:
		sec = maxClaimSeconds
	case sec < minClaimSeconds:
		sec = minClaimSeconds
	}
	return &timeClaim{Time: time.Unix(int64(sec), 0), raw: strconv.FormatFloat(f, 'f', -1, 64)}, nil
}

// jsonKind names the JSON type of a decoded claim value.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
