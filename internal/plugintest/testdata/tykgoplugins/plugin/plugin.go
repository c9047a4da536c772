// Package plugin holds the request and response hooks.
package plugin

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/TykTechnologies/tyk/ctx"
	"github.com/TykTechnologies/tyk/header"
	"github.com/TykTechnologies/tyk/headers"
	"github.com/TykTechnologies/tyk/user"
)

// Pre names the API in a header, through the package's name before late 2022.
func Pre(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set(headers.XGenerator, "tyk-goplugins")
	if def := ctx.GetDefinition(r); def != nil {
		rw.Header().Set("X-Api-Name", def.Name)
	}
	rw.Header().Add(header.XInitialURI, r.URL.RequestURI())
}

// AuthCheck lets in the key "abc" on a session whose key it names, asking for the key to be
// hashed as Tyk's test plugin does (the fourth argument).
func AuthCheck(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get(header.Authorization) != "abc" {
		rw.Header().Add(header.XAuthResult, "failed")
		rw.WriteHeader(http.StatusForbidden)
		_, _ = rw.Write([]byte("auth failed"))
		return
	}
	session := &user.SessionState{
		OrgID: "default",
		Alias: "abc-session",
		KeyID: "abc",
	}
	ctx.SetSession(r, session, true, true)
	rw.Header().Add(header.XAuthResult, "OK")
}

// PostKeyAuth reads the session AuthCheck set.
func PostKeyAuth(rw http.ResponseWriter, r *http.Request) {
	session := ctx.GetSession(r)
	if session == nil {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add(header.XSessionAlias, session.Alias)
	rw.Header().Set("X-Session-Key", session.KeyID)
}

// clientIP is the request's address without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IPRateLimiter is an auth hook that lets every client in on a session keyed on its IP address,
// so that the gateway's rate limiter counts per client: two requests a minute.
func IPRateLimiter(rw http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	session := &user.SessionState{
		Alias:    ip,
		Rate:     2,
		Per:      60,
		MetaData: map[string]interface{}{"client_ip": ip},
		KeyID:    ip,
	}
	ctx.SetSession(r, session, true)
}

// policy is the part of config_data AuthorizeFromConfig reads.
type policy struct {
	AllowedPaths []string `json:"allowed_paths"`
}

// AuthorizeFromConfig allows only the paths config_data's "policy" lists; it answers 401 (and
// 500 when the configuration is unreadable) itself.
func AuthorizeFromConfig(rw http.ResponseWriter, r *http.Request) {
	def := ctx.GetDefinition(r)
	raw, err := json.Marshal(def.ConfigData["policy"])
	var p policy
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	for _, allowed := range p.AllowedPaths {
		if strings.HasSuffix(r.URL.Path, allowed) {
			return
		}
	}
	rw.Header().Set(header.ContentType, header.ApplicationJSON)
	rw.WriteHeader(http.StatusUnauthorized)
	_, _ = rw.Write([]byte(`{"error":"not allowed by policy"}`))
}

// ResponseOASTitle reports the Tyk OAS document's title, or that the API is Classic.
func ResponseOASTitle(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	doc := ctx.GetOASDefinition(req)
	if doc == nil {
		res.Header.Add("X-OAS-Doc-Title", "classic")
		return
	}
	res.Header.Add("X-OAS-Doc-Title", doc.Info.Title)
}
