package apidef

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Auth methods, by Tyk's names for base_identity_provided_by (apidef.AuthTypeEnum).
const (
	AuthToken     = "auth_token"
	AuthJWTClaim  = "jwt_claim"
	AuthBasicUser = "basic_auth_user"
	AuthHMACKey   = "hmac_key"
	AuthCustom    = "custom_auth"
	AuthOAuthKey  = "oauth_key"
	AuthOIDCUser  = "oidc_user"
)

// AuthMethods returns the auth methods a keyed definition enables, in the order Tyk runs them:
// OAuth 2.0 bearer tokens, basic auth, HMAC signatures, JWT, a custom auth plugin, then the key
// check, which runs when use_standard_auth is set or when no other method is. A keyless
// definition has none. OpenID and the other methods Gatehouse refuses are not listed. Unlike Tyk, a custom auth
// plugin replaces the key check even with use_standard_auth (docs/plugins.md).
func (a *APIDefinition) AuthMethods() []string {
	if a.UseKeylessAccess {
		return nil
	}
	var out []string
	if a.UseOauth2 {
		out = append(out, AuthOAuthKey)
	}
	if a.UseBasicAuth {
		out = append(out, AuthBasicUser)
	}
	if a.EnableSignatureChecking {
		out = append(out, AuthHMACKey)
	}
	if a.EnableJWT {
		out = append(out, AuthJWTClaim)
	}
	if a.CustomAuthEnabled() {
		out = append(out, AuthCustom)
	}
	if a.UseStandardAuth && !a.CustomAuthEnabled() || len(out) == 0 {
		out = append(out, AuthToken)
	}
	return out
}

// BaseIdentity returns the auth method whose session the request carries when several run
// (rate limits, quotas, what plugins see): base_identity_provided_by when set; otherwise the
// last to run, as in Tyk, where each method replaces the session of the one before when the
// field is unset.
func (a *APIDefinition) BaseIdentity() string {
	m := a.AuthMethods()
	switch {
	case len(m) == 0:
		return ""
	case a.BaseIdentityProvidedBy != "" && slices.Contains(m, a.BaseIdentityProvidedBy):
		return a.BaseIdentityProvidedBy
	}
	return m[len(m)-1]
}

// validateAuthMethods checks base_identity_provided_by against the methods the definition
// enables. Tyk would serve a definition whose base identity names a method that never runs,
// answering every request 400 (no session).
func (a *APIDefinition) validateAuthMethods() []error {
	m := a.AuthMethods()
	if len(m) < 2 || a.BaseIdentityProvidedBy == "" || slices.Contains(m, a.BaseIdentityProvidedBy) {
		return nil
	}
	return []error{fmt.Errorf("base_identity_provided_by: %q is not one of the auth methods the API enables (%s)", a.BaseIdentityProvidedBy, strings.Join(m, ", "))}
}

// unsupportedAuthMethods lists the combinations of auth methods Gatehouse does not implement.
func (a *APIDefinition) unsupportedAuthMethods() []string {
	m := a.AuthMethods()
	if len(m) < 2 {
		return nil
	}
	var out []string
	if slices.Contains(m, AuthOAuthKey) {
		out = append(out, "OAuth 2.0 (use_oauth2) together with other auth methods")
	}
	if slices.Contains(m, AuthCustom) {
		out = append(out, "a custom auth plugin together with basic auth, HMAC signatures or JWT")
	}
	if nonEmptyJSON(a.SecurityRequirements) && !a.requiresAll(m) {
		out = append(out, "security_requirements with several auth methods (any one of several sets of methods; Gatehouse requires every method the API enables)")
	}
	return out
}

// configNames are the auth_configs names of the auth methods, which security_requirements uses.
var configNames = map[string]string{
	AuthBasicUser: "basic",
	AuthHMACKey:   "hmac",
	AuthJWTClaim:  "jwt",
	AuthToken:     "authToken",
	AuthCustom:    "coprocess",
}

// requiresAll reports whether security_requirements is one set naming exactly the methods m,
// which is what Gatehouse does with several methods: every one must pass.
func (a *APIDefinition) requiresAll(m []string) bool {
	var reqs [][]string
	if json.Unmarshal(a.SecurityRequirements, &reqs) != nil || len(reqs) != 1 || len(reqs[0]) != len(m) {
		return false
	}
	for _, method := range m {
		if !slices.Contains(reqs[0], configNames[method]) {
			return false
		}
	}
	return true
}
