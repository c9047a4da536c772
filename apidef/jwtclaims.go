package apidef

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// JWTClaimValidation holds the claim checks of a JWT scheme in Tyk OAS (5.10 and later):
// allowedIssuers, allowedAudiences, allowedSubjects, jtiValidation and customClaimValidation.
// Tyk Classic has no fields for them; these are Gatehouse's Classic names
// (jwt_claim_validation), which a Tyk OAS definition maps to, so that a Classic definition may
// use them too. Each list, when not empty, lets in only tokens whose claim holds one of its
// values.
type JWTClaimValidation struct {
	AllowedIssuers   []string `json:"allowed_issuers,omitempty"`
	AllowedAudiences []string `json:"allowed_audiences,omitempty"`
	AllowedSubjects  []string `json:"allowed_subjects,omitempty"`
	// RequireJTI lets in only tokens with a jti claim (its value is not checked), as Tyk's
	// jtiValidation.
	RequireJTI bool `json:"jti_validation,omitempty"`
	// Custom are the rules of other claims, by claim: a name, or a dotted path into nested
	// objects and lists ("user.roles", "permissions.0.resource").
	Custom map[string]ClaimRule `json:"custom,omitempty"`
}

// ClaimRule is one rule of customClaimValidation.
type ClaimRule struct {
	// Type is required (the claim is present and not null), exact_match (its value is one of
	// AllowedValues) or contains (a list holding one of them, a string holding one as a
	// substring, or another value whose JSON text does).
	Type          string `json:"type"`
	AllowedValues []any  `json:"allowed_values,omitempty"`
	// NonBlocking logs a failure rather than refusing the token.
	NonBlocking bool `json:"non_blocking,omitempty"`
}

// The types of ClaimRule.
const (
	ClaimRequired   = "required"
	ClaimExactMatch = "exact_match"
	ClaimContains   = "contains"
)

// IsZero reports whether nothing is checked, so that a definition without checks encodes
// without the field.
func (v JWTClaimValidation) IsZero() bool {
	return len(v.AllowedIssuers) == 0 && len(v.AllowedAudiences) == 0 && len(v.AllowedSubjects) == 0 &&
		!v.RequireJTI && len(v.Custom) == 0
}

// claimPathSpecial are the characters of gjson's path syntax beyond dotted paths and `\.`
// (wildcards, queries, modifiers): Gatehouse reads those paths only, and refuses a rule that
// would mean something else to Tyk.
const claimPathSpecial = `*?#@|{}[]!=<>%`

// ClaimPath splits a claim path as gjson, which Tyk uses, reads it: on dots, `\.` being a dot
// within a name ("https://acme\.test/roles" is one claim); an index reads a list. It refuses
// empty names, other escapes and gjson's other syntax.
func ClaimPath(path string) ([]string, error) {
	if strings.ContainsAny(path, claimPathSpecial) {
		return nil, fmt.Errorf("only dotted paths are read, with \\. for a dot within a name (no wildcards, queries or modifiers: any of %s)", claimPathSpecial)
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case c == '\\':
			return nil, errors.New("a backslash only escapes a dot (\\.)")
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	if slices.Contains(parts, "") {
		return nil, errors.New("not a claim name or a dotted path such as \"user.roles\"")
	}
	return parts, nil
}

// Validate returns what is wrong with the checks, each error naming its field under at.
func (v JWTClaimValidation) Validate(at string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+"."+format, args...)) }
	for _, l := range []struct {
		field string
		list  []string
	}{{"allowed_issuers", v.AllowedIssuers}, {"allowed_audiences", v.AllowedAudiences}, {"allowed_subjects", v.AllowedSubjects}} {
		if slices.Contains(l.list, "") {
			add("%s: an empty entry would let in tokens without the claim", l.field)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(v.Custom)) {
		r := v.Custom[name]
		if _, err := ClaimPath(name); err != nil {
			add("custom[%q]: %v", name, err)
		}
		switch r.Type {
		case ClaimRequired:
		case ClaimExactMatch, ClaimContains:
			if len(r.AllowedValues) == 0 {
				add("custom[%q]: %s with no allowed values would refuse every token (as in Tyk); list them, or use required", name, r.Type)
			}
			if r.Type == ClaimContains && slices.Contains(r.AllowedValues, any("")) {
				add("custom[%q]: contains \"\" holds for every string, number and object: the check would let every token through", name)
			}
		default:
			add("custom[%q].type: %q is not required, exact_match or contains", name, r.Type)
		}
	}
	return errs
}
