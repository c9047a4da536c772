package apidef

import (
	"fmt"
	"net/url"
	"slices"
)

// OAuthMeta is Tyk's oauth_meta: what the API's OAuth 2.0 server (use_oauth2) grants.
type OAuthMeta struct {
	// AllowedAccessTypes are the grant types its token endpoint serves (OAuthGrant...).
	AllowedAccessTypes []string `json:"allowed_access_types,omitempty"`
	// AllowedAuthorizeTypes are the response types of its authorize endpoints: "code" and
	// "token".
	AllowedAuthorizeTypes []string `json:"allowed_authorize_types,omitempty"`
	// AuthLoginRedirect is where {listen_path}/oauth/authorize sends the user (307): the
	// identity provider's login page, which approves the client through the Gateway's
	// {listen_path}/tyk/oauth/authorize-client/.
	AuthLoginRedirect string `json:"auth_login_redirect,omitempty"`
}

// Notifications are Tyk's notifications of an OAuth API: after each token its token endpoint
// issues, a POST to OAuthKeyChangeURL with the header X-Tyk-Shared-Secret: SharedSecret.
type Notifications struct {
	SharedSecret      string `json:"shared_secret,omitempty"`
	OAuthKeyChangeURL string `json:"oauth_on_keychange_url,omitempty"`
}

// The grant types of OAuthMeta.AllowedAccessTypes, by Tyk's names.
const (
	OAuthGrantAuthorizationCode = "authorization_code"
	OAuthGrantRefreshToken      = "refresh_token"
	OAuthGrantPassword          = "password"
	OAuthGrantClientCredentials = "client_credentials"
	// OAuthGrantImplicit is Tyk's marker for the implicit grant (osin's __implicit), which a
	// Tyk OAS oauth2 scheme's implicit flow maps to; the implicit grant itself is
	// AllowedAuthorizeTypes' "token", so the marker changes nothing.
	OAuthGrantImplicit = "__implicit"
)

// The response types of OAuthMeta.AllowedAuthorizeTypes.
const (
	OAuthResponseCode  = "code"
	OAuthResponseToken = "token"
)

// validateOAuth checks oauth_meta on an API with use_oauth2: its grant and response types must
// be ones the token and authorize endpoints serve ("assertion", which Tyk lets through without
// checking anything, is refused).
func (a *APIDefinition) validateOAuth() []error {
	if !a.UseOauth2 || a.UseKeylessAccess {
		return nil
	}
	var errs []error
	grants := []string{OAuthGrantAuthorizationCode, OAuthGrantRefreshToken, OAuthGrantPassword, OAuthGrantClientCredentials, OAuthGrantImplicit}
	for i, g := range a.OAuthMeta.AllowedAccessTypes {
		if !slices.Contains(grants, g) {
			errs = append(errs, fmt.Errorf("oauth_meta.allowed_access_types[%d]: %q is not one of %q", i, g, grants))
		}
	}
	responses := []string{OAuthResponseCode, OAuthResponseToken}
	for i, t := range a.OAuthMeta.AllowedAuthorizeTypes {
		if !slices.Contains(responses, t) {
			errs = append(errs, fmt.Errorf("oauth_meta.allowed_authorize_types[%d]: %q is not one of %q", i, t, responses))
		}
	}
	if u := a.Notifications.OAuthKeyChangeURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("notifications.oauth_on_keychange_url: %q is not an http(s) URL", u))
		}
	}
	return errs
}

// OAuthAllows reports whether the API's OAuth server serves grant type g.
func (m OAuthMeta) OAuthAllows(g string) bool { return slices.Contains(m.AllowedAccessTypes, g) }

// OAuthAuthorizes reports whether the API's OAuth server answers response type t.
func (m OAuthMeta) OAuthAuthorizes(t string) bool { return slices.Contains(m.AllowedAuthorizeTypes, t) }
