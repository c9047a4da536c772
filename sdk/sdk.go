// Package sdk is what Go plugins import to work with the request they are given: the key's
// session, the API definition and the auth token. It mirrors Tyk's ctx package, so a Tyk plugin
// ports by changing its import paths.
//
// Plugins are compiled against this exact package, so it depends on the standard library (and
// the gateway's own apidef) alone.
package sdk

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// GetSession returns the session of the key that made the request, or nil before auth has run
// and on keyless APIs (unless a plugin set one). Changes to it are stored only through
// SetSession with scheduleUpdate.
func GetSession(r *http.Request) *apidef.SessionState {
	if st := reqctx.From(r); st != nil {
		return st.MutableSession()
	}
	return nil
}

// SetSession makes s the session of the request. An auth_check plugin calls it to let a request
// in: expiry, access rights, rate limit and quota then apply to s as to any key. When s.KeyID is
// empty it takes the request's auth token. With scheduleUpdate the session is stored under its
// KeyID once the hook returns, so the Gateway API can read and delete it afterwards.
//
// The optional hashKey is accepted for compatibility with Tyk and ignored: a stored session is
// kept the way the gateway keeps every key (hashed when hash_keys is on), so the Gateway API and
// the key check always find it. A nil s is a plugin bug: the gateway answers the request with a
// 500 and logs the hook.
func SetSession(r *http.Request, s *apidef.SessionState, scheduleUpdate bool, hashKey ...bool) {
	st := reqctx.From(r)
	if st == nil {
		return
	}
	if s == nil {
		st.Err = errors.New("sdk.SetSession was called with a nil session")
		return
	}
	if s.KeyID == "" {
		s.KeyID = st.Token
	}
	st.Session, st.SessionShared = s, false
	st.Token = s.KeyID
	st.SessionSet = true
	st.ScheduleUpdate = st.ScheduleUpdate || scheduleUpdate
}

// ClientIP returns the client's address, as the gateway decides it for the API's IP allow and
// block lists: the TCP peer, or, when the peer is one of trusted_proxies, what X-Forwarded-For
// says (read from the right, past the trusted hops). X-Forwarded-For and X-Real-IP from any
// other peer are not believed. Outside the gateway (a plain request, sdktest) it is the host of
// r.RemoteAddr.
func ClientIP(r *http.Request) string {
	if r == nil {
		return ""
	}
	if st := reqctx.From(r); st != nil && st.ClientIP.IsValid() {
		return st.ClientIP.String()
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// GetDefinition returns a copy of the definition of the API serving the request, config_data
// included, or nil outside the gateway. For a Tyk OAS API it is the Classic definition the
// document maps to (with IsOAS set); GetOASDefinition gives the document. Each call returns a
// new deep copy, the plugin's own (as Tyk's ctx.GetDefinition does): changing it changes
// nothing in the gateway, nor what another call returns.
func GetDefinition(r *http.Request) *apidef.APIDefinition {
	st := reqctx.From(r)
	if st == nil || st.API == nil {
		return nil
	}
	return st.API.Clone()
}

// GetOASDefinition returns a copy of the Tyk OAS document (OpenAPI 3 with x-tyk-api-gateway)
// of the API serving the request, or nil for a Classic API and outside the gateway. It works in
// every hook, response hooks included. Changing the copy changes nothing in the gateway. Unlike
// Tyk's ctx.GetDefinition, GetDefinition is not nil for an OAS API: it returns the Classic
// definition the document maps to, config_data (pluginConfig.data.value) included.
func GetOASDefinition(r *http.Request) *apidef.OASDefinition {
	st := reqctx.From(r)
	if st == nil || st.OAS == nil {
		return nil
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(st.OAS, &doc); err != nil {
		return nil
	}
	return &apidef.OASDefinition{Raw: append(json.RawMessage(nil), st.OAS...), Doc: doc}
}

// GetAuthToken returns the auth token of the request: the one the key was found by, or the one a
// plugin's SetSession set. It is empty on keyless APIs.
func GetAuthToken(r *http.Request) string {
	if st := reqctx.From(r); st != nil {
		return st.Token
	}
	return ""
}
