package apidef_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestJWTClaimValidationChecks: rules Tyk would apply to refuse every token, or that name a
// claim with gjson syntax Gatehouse does not read, refuse the definition with the rule named.
func TestJWTClaimValidationChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule map[string]apidef.ClaimRule
		want string // "" means valid
	}{
		{"required", map[string]apidef.ClaimRule{"dept": {Type: "required"}}, ""},
		{"nested", map[string]apidef.ClaimRule{"user.roles": {Type: "contains", AllowedValues: []any{"admin"}}}, ""},
		{"namespaced claim", map[string]apidef.ClaimRule{`https://acme\.test/roles`: {Type: "contains", AllowedValues: []any{"admin"}}}, ""},
		{"unknown type", map[string]apidef.ClaimRule{"dept": {Type: "regex"}}, `custom["dept"].type: "regex" is not required`},
		{"no type", map[string]apidef.ClaimRule{"dept": {}}, `custom["dept"].type: "" is not`},
		{"exact without values", map[string]apidef.ClaimRule{"role": {Type: "exact_match"}}, "would refuse every token"},
		{"contains without values", map[string]apidef.ClaimRule{"role": {Type: "contains", NonBlocking: true}}, "would refuse every token"},
		{"wildcard", map[string]apidef.ClaimRule{"roles.#": {Type: "required"}}, "only dotted paths are read"},
		{"other escape", map[string]apidef.ClaimRule{`a\b`: {Type: "required"}}, "a backslash only escapes a dot"},
		{"trailing backslash", map[string]apidef.ClaimRule{`a\`: {Type: "required"}}, "a backslash only escapes a dot"},
		{"contains the empty string", map[string]apidef.ClaimRule{"role": {Type: "contains", AllowedValues: []any{"x", ""}}}, "would let every token through"},
		{"empty segment", map[string]apidef.ClaimRule{"a..b": {Type: "required"}}, "not a claim name"},
		{"empty", map[string]apidef.ClaimRule{"": {Type: "required"}}, "not a claim name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := &apidef.APIDefinition{APIID: "j", Name: "j", Active: true, EnableJWT: true, JWTSigningMethod: "hmac",
				JWTSource: "c2VjcmV0", Proxy: apidef.ProxyConfig{ListenPath: "/j/", TargetURL: "http://up.test"},
				JWTClaimValidation: apidef.JWTClaimValidation{Custom: tc.rule}}
			err := def.Validate()
			switch {
			case tc.want == "" && err != nil && strings.Contains(err.Error(), "jwt_claim_validation"):
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "jwt_claim_validation."+"custom") && !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one about jwt_claim_validation saying %q", err, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestClaimPath: paths split as gjson splits them, `\.` a dot within a name.
func TestClaimPath(t *testing.T) {
	for path, want := range map[string][]string{
		"sub":                      {"sub"},
		"user.roles.0":             {"user", "roles", "0"},
		`https://acme\.test/roles`: {"https://acme.test/roles"},
		`a\.b.c`:                   {"a.b", "c"},
		"urn:acme:claims/roles":    {"urn:acme:claims/roles"},
	} {
		got, err := apidef.ClaimPath(path)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ClaimPath(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", `a\`, `a\b`, "a.*", "a|b"} {
		if got, err := apidef.ClaimPath(bad); err == nil {
			t.Errorf("ClaimPath(%q) = %q, want an error", bad, got)
		}
	}
}

// TestJWTClaimListsWithoutEmptyEntries: an empty entry would let in tokens without the claim.
func TestJWTClaimListsWithoutEmptyEntries(t *testing.T) {
	errs := apidef.JWTClaimValidation{AllowedIssuers: []string{"a", ""}, AllowedSubjects: []string{""}}.Validate("v")
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "v.allowed_issuers: an empty entry") || !strings.Contains(errs[1].Error(), "v.allowed_subjects") {
		t.Errorf("errors = %v", errs)
	}
}

// TestJWTClaimValidationInert: claim checks on an API without JWT auth are reported.
func TestJWTClaimValidationInert(t *testing.T) {
	def := &apidef.APIDefinition{UseStandardAuth: true, JWTClaimValidation: apidef.JWTClaimValidation{RequireJTI: true}}
	if !slices.ContainsFunc(def.Inert(), func(s string) bool { return strings.HasPrefix(s, "jwt_claim_validation") }) {
		t.Errorf("Inert() = %q, want jwt_claim_validation named", def.Inert())
	}
	def.EnableJWT = true
	if slices.ContainsFunc(def.Inert(), func(s string) bool { return strings.HasPrefix(s, "jwt_claim_validation") }) {
		t.Errorf("Inert() names jwt_claim_validation on a JWT API: %q", def.Inert())
	}
}
