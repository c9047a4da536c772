package apidef

import (
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

// claimPathSpecial are the characters of gjson's path syntax beyond plain dotted paths
// (wildcards, queries, modifiers, escapes): Gatehouse reads plain paths only, and refuses a
// rule that would mean something else to Tyk.
const claimPathSpecial = `*?#@|{}[]!=<>%\`

// Validate returns what is wrong with the checks, each error naming its field under at.
func (v JWTClaimValidation) Validate(at string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+"."+format, args...)) }
	for _, name := range slices.Sorted(maps.Keys(v.Custom)) {
		r := v.Custom[name]
		switch {
		case name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
			add("custom[%q]: not a claim name or a dotted path such as \"user.roles\"", name)
		case strings.ContainsAny(name, claimPathSpecial):
			add("custom[%q]: only plain dotted paths are read (no wildcards, queries or escapes: any of %s)", name, claimPathSpecial)
		}
		switch r.Type {
		case ClaimRequired:
		case ClaimExactMatch, ClaimContains:
			if len(r.AllowedValues) == 0 {
				add("custom[%q]: %s with no allowed values would refuse every token (as in Tyk); list them, or use required", name, r.Type)
			}
		default:
			add("custom[%q].type: %q is not required, exact_match or contains", name, r.Type)
		}
	}
	return errs
}
