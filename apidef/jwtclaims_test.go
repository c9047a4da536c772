package apidef_test

import (
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
		{"namespaced claim", map[string]apidef.ClaimRule{"https://acme.test/roles": {Type: "contains", AllowedValues: []any{"admin"}}}, ""},
		{"unknown type", map[string]apidef.ClaimRule{"dept": {Type: "regex"}}, `custom["dept"].type: "regex" is not required`},
		{"no type", map[string]apidef.ClaimRule{"dept": {}}, `custom["dept"].type: "" is not`},
		{"exact without values", map[string]apidef.ClaimRule{"role": {Type: "exact_match"}}, "would refuse every token"},
		{"contains without values", map[string]apidef.ClaimRule{"role": {Type: "contains", NonBlocking: true}}, "would refuse every token"},
		{"wildcard", map[string]apidef.ClaimRule{"roles.#": {Type: "required"}}, "only plain dotted paths"},
		{"escape", map[string]apidef.ClaimRule{`a\.b`: {Type: "required"}}, "only plain dotted paths"},
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
