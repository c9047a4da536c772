package oas

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestJWTScheme(t *testing.T) {
	auth := func(scheme string) map[string]string {
		return map[string]string{"security": `[{"jwt": []}]`,
			"x.server.authentication": `{"enabled": true, "stripAuthorizationData": true, "securitySchemes": {"jwt": ` + scheme + `}}`}
	}
	tests := []struct {
		name        string
		scheme      string
		check       func(t *testing.T, def *apidef.APIDefinition)
		unsupported []string // of Document.Unsupported, with the scheme's prefix
		refused     []string // of the Classic checks (apidef Unsupported)
	}{
		{
			name: "every mapped field",
			scheme: `{"enabled": true, "source": "c2VjcmV0", "signingMethod": "hmac", "identityBaseField": "email",
				"skipKid": true, "policyFieldName": "pol", "clientBaseField": "azp", "defaultPolicies": ["d1", "d2"],
				"issuedAtValidationSkew": 1, "notBeforeValidationSkew": 2, "expiresAtValidationSkew": 3,
				"idpClientIdMappingDisabled": true,
				"scopes": {"claimName": "scp", "scopeToPolicyMapping": [{"scope": "read", "policyId": "p-read"}, {"scope": "write", "policyId": "p-write"}]},
				"header": {"enabled": true, "name": "Authorization"}, "query": {"enabled": true, "name": "jwt"}}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				got := []any{def.EnableJWT, def.JWTSource, def.JWTSigningMethod, def.JWTIdentityBaseField, def.JWTSkipKid,
					def.JWTPolicyFieldName, def.JWTClientIDBaseField, def.JWTDefaultPolicies,
					[3]uint64{def.JWTIssuedAtValidationSkew, def.JWTNotBeforeValidationSkew, def.JWTExpiresAtValidationSkew},
					def.IDPClientIDMappingDisabled, def.JWTScopeClaimName, def.JWTScopeToPolicyMapping, def.StripAuthData, def.UseKeylessAccess}
				want := []any{true, "c2VjcmV0", "hmac", "email", true, "pol", "azp", []string{"d1", "d2"}, [3]uint64{1, 2, 3},
					true, "scp", map[string]string{"read": "p-read", "write": "p-write"}, true, false}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got  %v\nwant %v", got, want)
				}
				ac := def.JWTTokenConfig()
				if ac.DisableHeader || ac.AuthHeaderName != "Authorization" || !ac.UseParam || ac.ParamName != "jwt" || ac.UseCookie {
					t.Errorf("token sources %+v", ac)
				}
			},
		},
		{
			name:   "one-entry lists win over the single fields, one JWKS URL is jwt_jwks_uris",
			scheme: `{"enabled": true, "jwksURIs": [{"url": "https://idp.test/jwks"}], "signingMethod": "rsa", "identityBaseField": "sub", "subjectClaims": ["email"], "policyFieldName": "pol", "basePolicyClaims": ["tier"], "scopes": {"claimName": "scope", "claims": ["perms"]}}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !reflect.DeepEqual(def.JWTJwksURIs, []apidef.JWKSURI{{URL: "https://idp.test/jwks"}}) || def.JWTIdentityBaseField != "email" || def.JWTPolicyFieldName != "tier" || def.JWTScopeClaimName != "perms" {
					t.Errorf("jwks %v identity %q policy %q scope %q", def.JWTJwksURIs, def.JWTIdentityBaseField, def.JWTPolicyFieldName, def.JWTScopeClaimName)
				}
				if ac := def.JWTTokenConfig(); !ac.DisableHeader {
					t.Errorf("no header object, yet the header is read: %+v", ac)
				}
			},
		},
		{
			name:   "no source: Tyk's one-to-one mode, served",
			scheme: `{"enabled": true, "signingMethod": "hmac", "skipKid": true}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.EnableJWT || def.JWTSource != "" || !def.JWTSkipKid {
					t.Errorf("enable_jwt %v, jwt_source %q, jwt_skip_kid %v", def.EnableJWT, def.JWTSource, def.JWTSkipKid)
				}
			},
		},
		{
			name: "claim lists are mapped whole",
			scheme: `{"enabled": true, "source": "c2VjcmV0",
				"subjectClaims": ["a", "b"], "basePolicyClaims": ["c", "d"], "scopes": {"claims": ["e", "f"]}}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				got := [][]string{def.JWTSubjectClaims, def.JWTBasePolicyClaims, def.JWTScopeClaims, {def.JWTIdentityBaseField, def.JWTPolicyFieldName, def.JWTScopeClaimName}}
				if want := [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}, {"a", "c", "e"}}; !reflect.DeepEqual(got, want) {
					t.Errorf("got %q, want %q", got, want)
				}
			},
		},
		{
			name: "claim validation is mapped",
			scheme: `{"enabled": true, "source": "c2VjcmV0", "allowedIssuers": ["https://idp"], "allowedAudiences": ["api"], "allowedSubjects": ["a"],
				"jtiValidation": {"enabled": true}, "customClaimValidation": {"role": {"type": "exact_match", "allowedValues": ["admin", 3]},
				"team": {"type": "required", "nonBlocking": true}}}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				v := def.JWTClaimValidation
				want := apidef.JWTClaimValidation{AllowedIssuers: []string{"https://idp"}, AllowedAudiences: []string{"api"},
					AllowedSubjects: []string{"a"}, RequireJTI: true, Custom: map[string]apidef.ClaimRule{
						"role": {Type: "exact_match", AllowedValues: []any{"admin", float64(3)}},
						"team": {Type: "required", NonBlocking: true}}}
				if !reflect.DeepEqual(v, want) {
					t.Errorf("jwt_claim_validation = %+v\nwant %+v", v, want)
				}
			},
		},
		{
			name:   "several JWKS URLs, with their cache timeouts",
			scheme: `{"enabled": true, "jwksURIs": [{"url": "https://a.test/jwks", "cacheTimeout": "5m"}, {"url": "https://b.test/jwks", "cacheTimeout": 30}, {"url": "https://c.test/jwks"}], "signingMethod": "rsa"}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := []apidef.JWKSURI{{URL: "https://a.test/jwks", CacheTimeout: 300}, {URL: "https://b.test/jwks", CacheTimeout: 30}, {URL: "https://c.test/jwks"}}
				if !reflect.DeepEqual(def.JWTJwksURIs, want) {
					t.Errorf("jwt_jwks_uris %v, want %v", def.JWTJwksURIs, want)
				}
			},
		},
		{
			name:   "a disabled scheme maps nothing and refuses nothing",
			scheme: `{"enabled": false, "allowedIssuers": ["x"]}`,
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.EnableJWT {
					t.Error("enable_jwt from a disabled scheme")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, d := classic(t, doc(t, auth(tc.scheme)))
			if tc.check != nil {
				tc.check(t, def)
			}
			var want []string
			for _, u := range tc.unsupported {
				want = append(want, "server.authentication.securitySchemes.jwt."+u)
			}
			got := d.Unsupported()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Unsupported() = %q\nwant %q", got, want)
			}
			refused := def.Unsupported()
			if !slices.Equal(refused, tc.refused) {
				t.Errorf("Classic Unsupported() = %q, want %q", refused, tc.refused)
			}
		})
	}
}

func TestJWTSchemeInert(t *testing.T) {
	_, d := classic(t, doc(t, map[string]string{"security": `[{"jwt": []}]`,
		"x.server.authentication": `{"enabled": true, "securitySchemes": {"jwt": {"enabled": true, "source": "aHR0cHM6Ly94", "jwksURIs": [{"url": "https://idp.test/jwks", "cacheTimeout": "5m"}, {"url": "https://idp.test/b", "cacheTimeout": "soon"}], "signingMethod": "rsa"}}}`}))
	got := strings.Join(d.Inert(), "\n")
	if !strings.Contains(got, "jwksURIs[1].cacheTimeout") || strings.Contains(got, "jwksURIs[0]") || !strings.Contains(got, "jwt.source (jwksURIs are used in its place") {
		t.Errorf("Inert() = %q, want the cacheTimeout that does not read and the source noted", got)
	}
}
