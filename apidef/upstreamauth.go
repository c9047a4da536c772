package apidef

import (
	"fmt"
	"strings"
)

// UpstreamAuth is upstream_auth: credentials the gateway adds to every request it sends the
// upstream. Basic auth is served; OAuth (client credentials, password) is refused.
type UpstreamAuth struct {
	Enabled   bool              `json:"enabled,omitempty"`
	BasicAuth UpstreamBasicAuth `json:"basic_auth,omitzero"`
	OAuth     Toggle            `json:"oauth,omitzero"`
}

// UpstreamBasicAuth is upstream_auth.basic_auth: "Basic base64(username:password)" in the
// Authorization header, or in the header named by header (Tyk's newer field) or header_name
// (its older one), replacing what the client sent there.
type UpstreamBasicAuth struct {
	Enabled    bool            `json:"enabled,omitempty"`
	Username   string          `json:"username,omitempty"`
	Password   string          `json:"password,omitempty"`
	Header     UpstreamAuthHdr `json:"header,omitzero"`
	HeaderName string          `json:"header_name,omitempty"`
}

// UpstreamAuthHdr is a header of upstream authentication: used when enabled and named.
type UpstreamAuthHdr struct {
	Enabled bool   `json:"enabled,omitempty"`
	Name    string `json:"name,omitempty"`
}

// BasicAuthOn reports whether upstream basic auth applies: both switches on, as in Tyk.
func (u UpstreamAuth) BasicAuthOn() bool { return u.Enabled && u.BasicAuth.Enabled }

// HeaderFor returns the header the credentials go in: Authorization unless one is named.
func (b UpstreamBasicAuth) HeaderFor() string {
	switch {
	case b.Header.Enabled && b.Header.Name != "":
		return b.Header.Name
	case b.HeaderName != "":
		return b.HeaderName
	}
	return "Authorization"
}

// validateUpstreamAuth reports basic auth credentials a request could not carry.
func (a *APIDefinition) validateUpstreamAuth() []error {
	if !a.UpstreamAuth.BasicAuthOn() {
		return nil
	}
	b := a.UpstreamAuth.BasicAuth
	var errs []error
	if b.Username == "" {
		errs = append(errs, fmt.Errorf("upstream_auth.basic_auth.username: missing"))
	}
	if strings.Contains(b.Username, ":") {
		errs = append(errs, fmt.Errorf("upstream_auth.basic_auth.username: a basic auth user name cannot hold ':' (RFC 7617)"))
	}
	if strings.ContainsAny(b.Username+b.Password, "\r\n\x00") {
		errs = append(errs, fmt.Errorf("upstream_auth.basic_auth: the user name or password holds CR, LF or NUL"))
	}
	if h := b.HeaderFor(); !IsToken(h) {
		errs = append(errs, fmt.Errorf("upstream_auth.basic_auth.header: %q is not a header name", h))
	} else if hopByHop(h) {
		errs = append(errs, fmt.Errorf("upstream_auth.basic_auth.header: %q is a hop-by-hop or framing header, not one for credentials", h))
	}
	return errs
}

// hopByHop reports whether h is a hop-by-hop or framing header.
func hopByHop(h string) bool {
	switch strings.ToLower(h) {
	case "connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length":
		return true
	}
	return false
}
