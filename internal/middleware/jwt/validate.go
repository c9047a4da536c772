package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/logevery"
)

// claimChecks are the claim checks of jwt_claim_validation (Tyk OAS's allowedIssuers, ...,
// customClaimValidation), run on every verified token after its time claims and before its
// identity, as in Tyk.
type claimChecks struct {
	issuers, audiences, subjects []string
	jti                          bool
	custom                       []claimCheck // sorted by claim, so failures are reported alike
	log                          *slog.Logger
	// warnings throttles the warnings of non-blocking checks to one every warnEvery, saying how
	// many failed in between: each is a request a client chose.
	warnings logevery.Gate
}

type claimCheck struct {
	claim       string
	path        []string // claim as apidef.ClaimPath splits it
	kind        string
	values      []any
	texts       []string // values as contains compares them with strings
	nonBlocking bool
}

// warnEvery is the least time between two warnings of non-blocking checks of an API.
const warnEvery = 10 * time.Second

// newClaimChecks compiles v (validated by apidef); nil when it checks nothing.
func newClaimChecks(v apidef.JWTClaimValidation, log *slog.Logger) *claimChecks {
	if v.IsZero() {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &claimChecks{issuers: v.AllowedIssuers, audiences: v.AllowedAudiences, subjects: v.AllowedSubjects,
		jti: v.RequireJTI, log: log, warnings: logevery.Gate{Every: warnEvery}}
	for _, name := range slices.Sorted(maps.Keys(v.Custom)) {
		r := v.Custom[name]
		path, err := apidef.ClaimPath(name)
		if err != nil {
			path = nil // refused by apidef; never found, so the check fails closed
		}
		cc := claimCheck{claim: name, path: path, kind: r.Type, values: r.AllowedValues, nonBlocking: r.NonBlocking}
		for _, a := range r.AllowedValues {
			cc.texts = append(cc.texts, text(a))
		}
		c.custom = append(c.custom, cc)
	}
	return c
}

// refuse is the answer to a token a check refuses: 401, as Tyk's time claims.
func refuse(why string) error {
	return chain.Errorf(http.StatusUnauthorized, msgNotAuthorized+": "+why, errors.New(why)).Flagged("TCV")
}

// check returns the error of the first check claims fail, nil when they pass (non-blocking
// checks that fail are logged).
func (c *claimChecks) check(claims jwtlib.MapClaims, now time.Time) error {
	if c == nil {
		return nil
	}
	if len(c.issuers) > 0 {
		if s, _ := claims["iss"].(string); !slices.Contains(c.issuers, s) {
			return refuse("iss claim is not an allowed issuer")
		}
	}
	if len(c.audiences) > 0 && !c.audienceAllowed(claims["aud"]) {
		return refuse("aud claim names no allowed audience")
	}
	if len(c.subjects) > 0 {
		if s, _ := claims["sub"].(string); !slices.Contains(c.subjects, s) {
			return refuse("sub claim is not an allowed subject")
		}
	}
	if c.jti && claims["jti"] == nil {
		return refuse("jti claim is missing")
	}
	for i := range c.custom {
		cc := &c.custom[i]
		v, ok := claimAt(claims, cc.path)
		if ok && v == nil {
			ok = false // null counts as missing, as in Tyk
		}
		if ok && cc.holds(v) {
			continue
		}
		why := fmt.Sprintf("claim %s fails its %s check", cc.claim, cc.kind)
		if !ok {
			why = fmt.Sprintf("claim %s is missing", cc.claim)
		}
		if !cc.nonBlocking {
			return refuse(why)
		}
		c.warn(why, now)
	}
	return nil
}

// audienceAllowed reports whether aud, a string or a list, holds an allowed audience.
func (c *claimChecks) audienceAllowed(aud any) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(c.audiences, a)
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok && slices.Contains(c.audiences, s) {
				return true
			}
		}
	}
	return false
}

// holds reports whether v, present and not null, passes the check.
func (cc *claimCheck) holds(v any) bool {
	switch cc.kind {
	case apidef.ClaimRequired:
		return true
	case apidef.ClaimExactMatch:
		return slices.ContainsFunc(cc.values, func(a any) bool { return reflect.DeepEqual(a, v) })
	case apidef.ClaimContains:
		switch x := v.(type) {
		case []any:
			// A list holds one of the values, compared as exact_match compares.
			return slices.ContainsFunc(x, func(e any) bool {
				return slices.ContainsFunc(cc.values, func(a any) bool { return reflect.DeepEqual(a, e) })
			})
		case string:
			return slices.ContainsFunc(cc.texts, func(t string) bool { return strings.Contains(x, t) })
		default:
			s := text(x)
			return slices.ContainsFunc(cc.texts, func(t string) bool { return strings.Contains(s, t) })
		}
	}
	return false
}

// text is v as contains compares it: a string as it is, anything else as JSON text (42, true,
// {"a":1}).
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// claimAt returns the claim at path, as gjson reads it: through objects by name and lists by
// index (only as written canonically: "01" and "-1" find nothing). A claim whose name holds a
// dot is reached with its escaped form only (apidef.ClaimPath), as in Tyk: a top-level claim
// named "user.role" never stands in for the nested user.role a rule names.
func claimAt(claims jwtlib.MapClaims, path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	var cur any = map[string]any(claims)
	for _, part := range path {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != part {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// warn logs a non-blocking check's failure, at most every warnEvery.
func (c *claimChecks) warn(why string, now time.Time) {
	held, ok := c.warnings.Allow(now)
	if !ok {
		return
	}
	c.log.Warn("jwt: a token fails a non-blocking claim check (jwt_claim_validation); the request goes on",
		"why", why, "also_failed_since_last_warning", held)
}
