// Package auth holds the built-in auth steps: the standard key check (a token looked up in the
// key store), the session checks every key passes (inactive, expired), and the access-rights
// check (API, version, allowed URLs).
package auth

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// DefaultHeader is the header the token is read from when the definition names none.
const DefaultHeader = "Authorization"

// TokenSource is where an API's auth token is found, compiled from its definition.
type TokenSource struct {
	header string // "" when headers are disabled
	param  string // "" when query parameters are not used
	cookie string // "" when cookies are not used
}

// NewTokenSource compiles the auth token configuration of a definition.
func NewTokenSource(c apidef.AuthConfig) TokenSource {
	name := c.AuthHeaderName
	if name == "" {
		name = DefaultHeader
	}
	var ts TokenSource
	if !c.DisableHeader {
		ts.header = http.CanonicalHeaderKey(name)
	}
	if c.UseParam {
		ts.param = c.ParamName
		if ts.param == "" {
			ts.param = name
		}
	}
	if c.UseCookie {
		ts.cookie = c.CookieName
		if ts.cookie == "" {
			ts.cookie = name
		}
	}
	return ts
}

// Token returns the request's token as Tyk reads it: the header's (a leading "Bearer "
// removed), overridden by a non-empty query parameter, overridden by a non-empty cookie. The
// parameter's and the cookie's are taken exactly as sent: "KEY+" decodes to "KEY ", which is not
// KEY.
func (ts TokenSource) Token(r *http.Request) string {
	v, fromHeader := ts.raw(r)
	if fromHeader {
		return trimBearer(v)
	}
	return v
}

// Raw returns the request's credential as sent, where Token finds it, without removing a
// "Bearer " prefix: the OAuth check reads the scheme itself.
func (ts TokenSource) Raw(r *http.Request) string {
	v, _ := ts.raw(r)
	return v
}

func (ts TokenSource) raw(r *http.Request) (v string, fromHeader bool) {
	if ts.cookie != "" {
		if c, err := r.Cookie(ts.cookie); err == nil && c.Value != "" {
			return c.Value, false
		}
	}
	if ts.param != "" && r.URL.RawQuery != "" {
		if v := r.URL.Query().Get(ts.param); v != "" {
			return v, false
		}
	}
	if ts.header != "" {
		if v := r.Header.Get(ts.header); v != "" {
			return v, true
		}
	}
	return "", false
}

func trimBearer(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return v
}

// Strip removes the token from the request wherever it may be, so it does not reach the
// upstream (`strip_auth_data`).
func (ts TokenSource) Strip(r *http.Request) {
	if ts.header != "" {
		r.Header.Del(ts.header)
	}
	if ts.param != "" && r.URL.RawQuery != "" {
		r.URL.RawQuery = removeParam(r.URL.RawQuery, ts.param)
	}
	if ts.cookie != "" {
		cookies := r.Cookies()
		r.Header.Del("Cookie")
		for _, c := range cookies {
			if c.Name != ts.cookie {
				r.AddCookie(c)
			}
		}
	}
}

// removeParam cuts every name=value pair of name out of a raw query, leaving the rest exactly as
// sent.
func removeParam(raw, name string) string {
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name || k == name {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}
