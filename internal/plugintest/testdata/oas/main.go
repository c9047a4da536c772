// Package main is a plugin for the Tyk OAS tests: each hook says it ran, and what it reads of
// the API through sdk.GetOASDefinition and sdk.GetDefinition.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk"
)

// title returns the document's info.title, or "none" for a Classic API. It then changes the
// copy it was given, which must change nothing for the next reader.
func title(r *http.Request) string {
	o := sdk.GetOASDefinition(r)
	if o == nil {
		return "none"
	}
	info, _ := o.Doc["info"].(map[string]interface{})
	t, _ := info["title"].(string)
	info["title"] = "changed by a plugin"
	if ext := o.TykExtension(); ext == nil {
		return "no extension"
	}
	return t
}

// team returns config_data.team: GetDefinition is never nil on the gateway, OAS APIs included.
func team(r *http.Request) string {
	def := sdk.GetDefinition(r)
	if def == nil {
		return "nil definition"
	}
	t, _ := def.ConfigData["team"].(string)
	if def.IsOAS {
		t += " (oas)"
	}
	return t
}

// Pre reports what it reads and tells the upstream it ran.
func Pre(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Pre-Title", title(r))
	rw.Header().Set("X-Pre-Team", team(r))
	r.Header.Set("X-Pre", "1")
}

// PostAuth tells the upstream it ran, with the key's alias.
func PostAuth(rw http.ResponseWriter, r *http.Request) {
	alias := "no session"
	if s := sdk.GetSession(r); s != nil {
		alias = s.Alias
	}
	r.Header.Set("X-Post-Auth", alias)
}

// Post tells the upstream it ran.
func Post(rw http.ResponseWriter, r *http.Request) {
	r.Header.Set("X-Post", title(r))
}

// PerOperation tells the upstream it ran.
func PerOperation(rw http.ResponseWriter, r *http.Request) {
	r.Header.Set("X-Per-Operation", "1")
}

// NeverUsed must not run: only an operation's first postPlugins entry is used.
func NeverUsed(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusTeapot)
}

// Response reports, in a response hook, what it reads.
func Response(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Set("X-Response-Title", title(req))
	res.Header.Set("X-Response-Team", team(req))
}

// Auth lets in the token "let-me-in" only, as the key "plugin-key".
func Auth(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Custom-Token") != "let-me-in" {
		rw.WriteHeader(http.StatusUnauthorized)
		_, _ = rw.Write([]byte("custom auth refused"))
		return
	}
	sdk.SetSession(r, &apidef.SessionState{KeyID: "plugin-key", Alias: "custom-auth"}, false)
}

func main() {}
