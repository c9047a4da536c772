package apidef_test

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestAuthMethods(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*apidef.APIDefinition)
		want   []string
		base   string
	}{
		{name: "keyless", modify: func(a *apidef.APIDefinition) { a.UseKeylessAccess, a.UseStandardAuth = true, true }},
		{name: "no flag is the key check", modify: func(a *apidef.APIDefinition) {}, want: []string{"auth_token"}, base: "auth_token"},
		{name: "hmac alone", modify: func(a *apidef.APIDefinition) { a.EnableSignatureChecking = true }, want: []string{"hmac_key"}, base: "hmac_key"},
		{name: "hmac and the key check", modify: func(a *apidef.APIDefinition) { a.EnableSignatureChecking, a.UseStandardAuth = true, true },
			want: []string{"hmac_key", "auth_token"}, base: "auth_token"},
		{name: "every method in Tyk's order, unset base is the last", modify: func(a *apidef.APIDefinition) {
			a.UseStandardAuth, a.EnableJWT, a.EnableSignatureChecking, a.UseBasicAuth = true, true, true, true
		}, want: []string{"basic_auth_user", "hmac_key", "jwt_claim", "auth_token"}, base: "auth_token"},
		{name: "base identity named", modify: func(a *apidef.APIDefinition) {
			a.UseStandardAuth, a.EnableJWT, a.BaseIdentityProvidedBy = true, true, "jwt_claim"
		}, want: []string{"jwt_claim", "auth_token"}, base: "jwt_claim"},
		{name: "a custom auth plugin replaces the key check", modify: func(a *apidef.APIDefinition) { a.UseStandardAuth, a.UseGoPluginAuth = true, true },
			want: []string{"custom_auth"}, base: "custom_auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validDef()
			tc.modify(a)
			if got := a.AuthMethods(); !slices.Equal(got, tc.want) {
				t.Errorf("AuthMethods() = %q, want %q", got, tc.want)
			}
			if got := a.BaseIdentity(); got != tc.base {
				t.Errorf("BaseIdentity() = %q, want %q", got, tc.base)
			}
		})
	}
}

func TestValidateHMACAndBaseIdentity(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*apidef.APIDefinition)
		want   string // "" means valid
	}{
		{name: "every hmac algorithm", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"}
		}},
		{name: "unknown algorithm", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"hmac-sha256", "hmac-md5"}
		}, want: `hmac_allowed_algorithms[1]: "hmac-md5" is not one of hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512, rsa-sha256`},
		{name: "algorithm names are exact", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"HMAC-SHA256"}
		}, want: `hmac_allowed_algorithms[0]: "HMAC-SHA256" is not one of`},
		{name: "an RSA algorithm but rsa-sha256 is refused, not invalid", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"rsa-sha512"}
		}},
		{name: "infinite skew", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedClockSkew = true, math.Inf(1)
		}, want: "hmac_allowed_clock_skew: +Inf is not a number of milliseconds"},
		{name: "hmac settings of an API without signatures are not read", modify: func(a *apidef.APIDefinition) {
			a.HmacAllowedAlgorithms = []string{"nonsense"}
		}},
		{name: "base identity of a method not enabled", modify: func(a *apidef.APIDefinition) {
			a.UseStandardAuth, a.UseBasicAuth, a.BaseIdentityProvidedBy = true, true, "jwt_claim"
		}, want: `base_identity_provided_by: "jwt_claim" is not one of the auth methods the API enables (basic_auth_user, auth_token)`},
		{name: "base identity with one method is not read", modify: func(a *apidef.APIDefinition) {
			a.UseStandardAuth, a.BaseIdentityProvidedBy = true, "jwt_claim"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validDef()
			tc.modify(a)
			err := a.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestAuthAlternatives: security_requirements is any one of its sets of auth methods, each run
// in Tyk's order; one set of every method is what the API does without it; a set that is empty,
// or names a method the API does not enable, refuses the definition.
func TestAuthAlternatives(t *testing.T) {
	// A Classic API reads none: every method it enables must pass.
	classic := &apidef.APIDefinition{UseStandardAuth: true, EnableJWT: true, SecurityRequirements: []byte(`[["authToken"], ["jwt"]]`)}
	if got, err := classic.AuthAlternatives(); got != nil || err != nil {
		t.Errorf("a Classic API's alternatives: %q, %v; want none", got, err)
	}
	for _, tc := range []struct {
		name string
		reqs string
		want [][]string
		err  string
	}{
		{"none", ``, nil, ""},
		{"every method", `[["jwt", "authToken", "basic"]]`, nil, ""},
		{"key or JWT or basic", `[["authToken"], ["jwt"], ["basic"]]`, [][]string{{apidef.AuthToken}, {apidef.AuthJWTClaim}, {apidef.AuthBasicUser}}, ""},
		{"Tyk's order within a set", `[["authToken", "basic"], ["jwt"]]`, [][]string{{apidef.AuthBasicUser, apidef.AuthToken}, {apidef.AuthJWTClaim}}, ""},
		{"a method no set names", `[["basic"], ["jwt"]]`, nil, "names no set with auth_token, which the API enables"},
		{"empty set", `[["authToken"], []]`, nil, "security_requirements[1] is empty"},
		{"not enabled", `[["authToken"], ["hmac"]]`, nil, `"hmac" names an auth method the API does not enable`},
		{"unknown", `[["apikey"]]`, nil, `"apikey" is not an auth method's name`},
		{"not a list of lists", `["authToken"]`, nil, "a list of lists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := &apidef.APIDefinition{IsOAS: true, UseStandardAuth: true, UseBasicAuth: true, EnableJWT: true, SecurityRequirements: []byte(tc.reqs)}
			got, err := def.AuthAlternatives()
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AuthAlternatives() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFallbackToDefaultInert: fallback_to_default without versions served by other APIs is noted.
func TestFallbackToDefaultInert(t *testing.T) {
	def := &apidef.APIDefinition{VersionDefinition: apidef.VersionDefinition{Location: "header", VersionAPIs: &apidef.VersionAPIs{FallbackToDefault: true}}}
	if !slices.ContainsFunc(def.Inert(), func(s string) bool { return strings.HasPrefix(s, "definition.fallback_to_default") }) {
		t.Errorf("Inert() = %q", def.Inert())
	}
}
