package oas

import (
	"encoding/json"

	"github.com/gatehouse/gatehouse/apidef"
)

// OAuthScheme is Tyk's side of an OpenAPI `oauth2` security scheme: Tyk's OAuth 2.0 server,
// mapped onto Classic's use_oauth2, oauth_meta, notifications and auth_configs.oauth. A scheme
// with `providers` is Tyk's external OAuth, and one with `scopeCheck` Tyk's OAS-native OAuth 2.0
// (tokens from another server, their scopes checked): neither is served (see Unsupported).
type OAuthScheme struct {
	Enabled bool `json:"enabled"`
	AuthSources
	AllowedAuthorizeTypes []string `json:"allowedAuthorizeTypes"`
	RefreshToken          bool     `json:"refreshToken"`
	AuthLoginRedirect     string   `json:"authLoginRedirect"`
	Notifications         *struct {
		SharedSecret   string `json:"sharedSecret"`
		OnKeyChangeURL string `json:"onKeyChangeUrl"`
	} `json:"notifications,omitempty"`
	Providers  json.RawMessage `json:"providers,omitempty"`
	ScopeCheck json.RawMessage `json:"scopeCheck,omitempty"`
}

// external reports whether the scheme is Tyk's external OAuth: a non-empty `providers`, as Tyk
// tells the two apart (a `providers` that is not a list counts too: refused, not guessed).
func (o *OAuthScheme) external() bool {
	var p []json.RawMessage
	return present(o.Providers) && (json.Unmarshal(o.Providers, &p) != nil || len(p) > 0)
}

// OAuthFlows is the OpenAPI `flows` of an `oauth2` scheme: which grants the token endpoint
// serves. Only each flow's presence is read, as in Tyk.
type OAuthFlows struct {
	AuthorizationCode json.RawMessage `json:"authorizationCode,omitempty"`
	ClientCredentials json.RawMessage `json:"clientCredentials,omitempty"`
	Password          json.RawMessage `json:"password,omitempty"`
	Implicit          json.RawMessage `json:"implicit,omitempty"`
}

// oauthTo maps the `oauth2` schemes names of the security requirements read onto Classic, as
// Tyk maps one: `enabled` onto use_oauth2; `refreshToken` and the OpenAPI flows present onto
// oauth_meta.allowed_access_types (refresh_token first, then authorization_code,
// client_credentials, password, and the implicit flow as Tyk's marker __implicit);
// `allowedAuthorizeTypes` and `authLoginRedirect` onto the rest of oauth_meta; `notifications`
// onto notifications; and where the token is read onto auth_configs.oauth (Tyk's sources;
// without a header object the header is not read). The settings of a scheme switched off are
// mapped too, as Tyk maps them. One API has one OAuth server: of several schemes, the one
// switched on is mapped (the first when none is); two switched on are refused.
func (d *Document) oauthTo(def *apidef.APIDefinition, names []string, add func(string, ...any)) {
	if len(names) == 0 {
		return
	}
	a := d.Ext.Server.Authentication
	var on []string
	for _, n := range names {
		if d.schemeEnabled(n, apidef.ConfigOAuth) {
			on = append(on, n)
		}
	}
	name := names[0]
	switch {
	case len(on) > 1:
		add("server.authentication.securitySchemes: %q and %q are both oauth2 schemes switched on; an API has one OAuth 2.0 server: switch one off", on[0], on[1])
		return
	case len(on) == 1:
		name = on[0]
	}
	var o OAuthScheme
	if raw := a.SecuritySchemes[name]; nonEmpty(raw) {
		if err := json.Unmarshal(raw, &o); err != nil {
			add("server.authentication.securitySchemes.%s: %v", name, err)
			return
		}
	}
	if o.external() || present(o.ScopeCheck) {
		return // refused by Unsupported
	}
	def.UseOauth2 = o.Enabled
	var access []string
	if o.RefreshToken {
		access = append(access, apidef.OAuthGrantRefreshToken)
	}
	flows := d.SecuritySchemes[name].Flows
	for _, f := range []struct {
		field string
		raw   json.RawMessage
		grant string
	}{
		{"authorizationCode", flows.AuthorizationCode, apidef.OAuthGrantAuthorizationCode},
		{"clientCredentials", flows.ClientCredentials, apidef.OAuthGrantClientCredentials},
		{"password", flows.Password, apidef.OAuthGrantPassword},
		{"implicit", flows.Implicit, apidef.OAuthGrantImplicit},
	} {
		if !present(f.raw) {
			continue
		}
		// A flow is an object: `"password": false` grants nothing, it is a mistake.
		if f.raw[0] != '{' {
			add("components.securitySchemes.%s.flows.%s: an OAuth flow object is expected, not %s", name, f.field, f.raw)
			continue
		}
		access = append(access, f.grant)
	}
	def.OAuthMeta = apidef.OAuthMeta{
		AllowedAccessTypes:    access,
		AllowedAuthorizeTypes: append([]string(nil), o.AllowedAuthorizeTypes...),
		AuthLoginRedirect:     o.AuthLoginRedirect,
	}
	if n := o.Notifications; n != nil {
		def.Notifications = apidef.Notifications{SharedSecret: n.SharedSecret, OAuthKeyChangeURL: n.OnKeyChangeURL}
	}
	if def.AuthConfigs == nil {
		def.AuthConfigs = map[string]apidef.AuthConfig{}
	}
	def.AuthConfigs[apidef.ConfigOAuth] = o.apply(apidef.AuthConfig{Name: apidef.ConfigOAuth, DisableHeader: true})
}

// present reports whether a field was given a value other than null ({} is one: Tyk tells a
// flow's presence by a non-nil pointer).
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}
