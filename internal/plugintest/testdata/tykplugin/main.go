// Package main is a Tyk Go plugin of our own writing, built unchanged by `gatehouse plugin
// build`: it imports Tyk's packages and makes the calls of Tyk's own test plugin
// (test/goplugins) and of the public example plugins (metadata injection, a session set by a
// hook, config_data), one hook of each kind.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"

	"github.com/TykTechnologies/tyk-pump/analytics"
	"github.com/TykTechnologies/tyk/ctx"
	"github.com/TykTechnologies/tyk/header"
	"github.com/TykTechnologies/tyk/request"
	"github.com/TykTechnologies/tyk/user"
)

// MyPluginPre runs before auth: there is no session yet.
func MyPluginPre(rw http.ResponseWriter, r *http.Request) {
	if ctx.GetSession(r) != nil {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add(header.XInitialURI, r.URL.RequestURI())
}

// MyPluginAuthCheck lets in the key "abc" with a session of its own: two requests a minute.
func MyPluginAuthCheck(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get(header.Authorization) != "abc" {
		rw.Header().Add(header.XAuthResult, "failed")
		rw.WriteHeader(http.StatusForbidden)
		_, _ = rw.Write([]byte("auth failed"))
		return
	}
	session := &user.SessionState{
		OrgID:    "default",
		Alias:    "abc-session",
		KeyID:    "abc",
		Rate:     2,
		Per:      60,
		MetaData: map[string]interface{}{"tier": "gold"},
	}
	ctx.SetSession(r, session, true)
	if !session.IsModified() {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add(header.XAuthResult, "OK")
}

// MyPluginPostKeyAuth reads the session the auth hook set.
func MyPluginPostKeyAuth(rw http.ResponseWriter, r *http.Request) {
	session := ctx.GetSession(r)
	if session == nil {
		rw.Header().Add(header.XSessionAlias, "not found")
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add(header.XSessionAlias, session.Alias)
	rw.Header().Add("X-Session-Tier", fmt.Sprint(session.MetaData["tier"]))
	rw.Header().Add("X-Session-Rate", strconv.FormatFloat(session.Rate, 'f', -1, 64)+"/"+strconv.FormatFloat(session.Per, 'f', -1, 64))
	rw.Header().Add("X-Auth-Token", ctx.GetAuthToken(r))
}

func configData(r *http.Request) string {
	if def := ctx.GetDefinition(r); def != nil {
		if v, ok := def.ConfigData["my-context-data"].(string); ok {
			return v
		}
	}
	return "null"
}

// MyPluginPost answers the request itself, with the API's config_data.
func MyPluginPost(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set(header.ContentType, header.ApplicationJSON)
	rw.Header().Set("X-Plugin-Data", configData(r))
	rw.Header().Set("X-Api-Name", ctx.GetDefinition(r).Name)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte(`{"message":"post message"}`))
}

// MyPluginResponse replaces the upstream's body.
func MyPluginResponse(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Add("X-Response-Added", "resp-added")
	res.Body = io.NopCloser(bytes.NewBufferString(`{"message":"response injected message"}`))
	res.Header.Add("X-Plugin-Data", configData(req))
}

// MyPluginPerPathFoo adds a header on one endpoint.
func MyPluginPerPathFoo(rw http.ResponseWriter, r *http.Request) { rw.Header().Add("X-foo", "foo") }

// InjectMetadata copies the session's meta data into a request header for the upstream, as
// Tyk's go-post-inject_metadata example does.
func InjectMetadata(rw http.ResponseWriter, r *http.Request) {
	if session := ctx.GetSession(r); session != nil {
		r.Header.Set("X-Tier", fmt.Sprint(session.MetaData["tier"]))
	}
}

// SlowSetSession is a post_key_auth hook as Tyk plugins write them: it reads the session, does
// slow work (here: a call to the URL in X-Hold-URL, which answers when the test says), then
// sets meta data and stores the session with ctx.SetSession(r, s, true).
func SlowSetSession(rw http.ResponseWriter, r *http.Request) {
	s := ctx.GetSession(r)
	if u := r.Header.Get("X-Hold-URL"); u != "" {
		res, err := http.Get(u)
		if err != nil {
			rw.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	s.MetaData = map[string]interface{}{"plan": "gold"}
	ctx.SetSession(r, s, true)
}

// MyAnalyticsPluginAddTag tags each record and drops the Server header of the recorded
// response.
func MyAnalyticsPluginAddTag(record *analytics.AnalyticsRecord) {
	record.Tags = append(record.Tags, "TEST")
	raw, err := base64.StdEncoding.DecodeString(record.RawResponse)
	if err != nil {
		return
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return
	}
	res.Header.Del("Server")
	res.Header.Set("Test", "test")
	out, err := httputil.DumpResponse(res, true)
	if err != nil {
		return
	}
	record.RawResponse = base64.StdEncoding.EncodeToString(out)
}

// ContextDataFirst reads the request's context variables as Tyk plugins do, asserting their
// type unchecked, and adds one for the hooks after it.
func ContextDataFirst(rw http.ResponseWriter, r *http.Request) {
	data := r.Context().Value(ctx.ContextData).(map[string]interface{})
	r.Header.Set("X-Ctx-Path", fmt.Sprint(data["path"]))
	r.Header.Set("X-Ctx-Request-Data", fmt.Sprint(data["request_data_q"]))
	r.Header.Set("X-Ctx-Token", fmt.Sprint(data["token"]))
	data["set_by_first"] = "yes"
}

// ContextDataPost reads what the first hook added.
func ContextDataPost(rw http.ResponseWriter, r *http.Request) {
	data, ok := r.Context().Value(ctx.ContextData).(map[string]interface{})
	if !ok {
		r.Header.Set("X-Ctx-Post", "no context data")
		return
	}
	r.Header.Set("X-Ctx-Post", fmt.Sprint(data["set_by_first"]))
}

// ContextDataCheck notes whether there is context data, after what earlier hooks noted (none
// in a pre hook, or without enable_context_vars).
func ContextDataCheck(rw http.ResponseWriter, r *http.Request) {
	_, ok := r.Context().Value(ctx.ContextData).(map[string]interface{})
	r.Header.Set("X-Ctx-Present", r.Header.Get("X-Ctx-Present")+strconv.FormatBool(ok)+";")
}

// ClientRealIP tells the client's address as Tyk plugins read it, with request.RealIP.
func ClientRealIP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Real-Ip-Seen", request.RealIP(r))
}

func main() {}
