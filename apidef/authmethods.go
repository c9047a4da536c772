package apidef

import (
	"encoding/json"
	"fmt"
	"maps"
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
	var errs []error
	if _, err := a.AuthAlternatives(); err != nil {
		errs = append(errs, err)
	}
	m := a.AuthMethods()
	if len(m) < 2 || a.BaseIdentityProvidedBy == "" || slices.Contains(m, a.BaseIdentityProvidedBy) {
		return errs
	}
	return append(errs, fmt.Errorf("base_identity_provided_by: %q is not one of the auth methods the API enables (%s)", a.BaseIdentityProvidedBy, strings.Join(m, ", ")))
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
	if nonEmptyJSON(a.SecurityRequirements) && !a.IsOAS && !a.requiresAll(m) {
		out = append(out, "security_requirements on a Classic API with several auth methods (Tyk reads them for Tyk OAS APIs in compliant securityProcessingMode only, and a Classic API requires every method it enables)")
	}
	return out
}

// requiresAll reports whether security_requirements is one set naming exactly the methods m,
// which is what a Classic API does with several methods: every one must pass.
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

// The auth_configs names of the auth methods, which security_requirements uses too.
const (
	ConfigAuthToken = "authToken"
	ConfigBasic     = "basic"
	ConfigHMAC      = "hmac"
	ConfigJWT       = "jwt"
	ConfigCoprocess = "coprocess"
	ConfigOAuth     = "oauth"
)

// configNames are the auth_configs names of the auth methods.
var configNames = map[string]string{
	AuthBasicUser: ConfigBasic,
	AuthHMACKey:   ConfigHMAC,
	AuthJWTClaim:  ConfigJWT,
	AuthToken:     ConfigAuthToken,
	AuthCustom:    ConfigCoprocess,
}

// configMethods are the auth methods by their auth_configs names.
var configMethods = func() map[string]string {
	m := map[string]string{}
	for method, name := range configNames {
		m[name] = method
	}
	return m
}()

// AuthAlternatives returns the sets of auth methods security_requirements lets a request pass
// with (Tyk's compliant security processing: any one set, every method of it), each in Tyk's
// order; nil when every method the API enables must pass (no requirements, or one set naming
// them all), as without requirements. As in Tyk, only a Tyk OAS API (is_oas) reads them: a
// Classic one requires every method it enables, and one whose requirements say otherwise is
// refused (unsupportedAuthMethods). That only compliant mode gives an OAS API requirements is
// the OAS mapping's doing: oas.Document.SecurityRequirements is nil in legacy mode, and for
// Tyk's pair of files apistore puts the document's in place of the Classic file's.
func (a *APIDefinition) AuthAlternatives() ([][]string, error) {
	if !nonEmptyJSON(a.SecurityRequirements) || a.UseKeylessAccess || !a.IsOAS {
		return nil, nil
	}
	var reqs [][]string
	if err := json.Unmarshal(a.SecurityRequirements, &reqs); err != nil {
		return nil, fmt.Errorf("security_requirements: %v (a list of lists of auth_configs names is expected, e.g. [[\"authToken\"], [\"jwt\"]])", err)
	}
	enabled := a.AuthMethods()
	var sets [][]string
	for i, req := range reqs {
		if len(req) == 0 {
			return nil, fmt.Errorf("security_requirements[%d] is empty, which would let any request in; make the API keyless (use_keyless) if that is meant", i)
		}
		var set []string
		for _, name := range req {
			method, ok := configMethods[name]
			switch {
			case !ok:
				return nil, fmt.Errorf("security_requirements[%d]: %q is not an auth method's name (%s)", i, name, strings.Join(slices.Sorted(maps.Keys(configMethods)), ", "))
			case !slices.Contains(enabled, method):
				return nil, fmt.Errorf("security_requirements[%d]: %q names an auth method the API does not enable (it enables %s)", i, name, strings.Join(enabled, ", "))
			}
			set = append(set, method)
		}
		// In Tyk's order, without repeats.
		var ordered []string
		for _, m := range enabled {
			if slices.Contains(set, m) {
				ordered = append(ordered, m)
			}
		}
		sets = append(sets, ordered)
	}
	// A method switched on that no set names would never run: the API would ask for less
	// than its author switched on.
	for _, m := range enabled {
		if !slices.ContainsFunc(sets, func(set []string) bool { return slices.Contains(set, m) }) {
			return nil, fmt.Errorf("security_requirements names no set with %s, which the API enables; name it in a requirement, or switch it off", m)
		}
	}
	if len(sets) == 1 && len(sets[0]) == len(enabled) {
		return nil, nil // every method: what the API does without requirements
	}
	return sets, nil
}
