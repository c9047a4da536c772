// Package main is Tyk's own test plugin (test/goplugins/test_goplugin.go), ported to Gatehouse
// by changing its imports: ctx → sdk, user → apidef, analytics → sdk.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk"
)

// MyPluginPre checks that there is no session yet and records the request URI.
func MyPluginPre(rw http.ResponseWriter, r *http.Request) {
	if sdk.GetSession(r) != nil {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add("X-Initial-URI", r.URL.RequestURI())
}

// MyPluginAuthCheck lets in the key "abc" only.
func MyPluginAuthCheck(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "abc" {
		rw.Header().Add("X-Auth-Result", "failed")
		rw.WriteHeader(http.StatusForbidden)
		_, _ = rw.Write([]byte("auth failed"))
		return
	}
	session := &apidef.SessionState{OrgID: "default", Alias: "abc-session", KeyID: "abc"}
	sdk.SetSession(r, session, true, true)
	rw.Header().Add("X-Auth-Result", "OK")
}

// MyPluginPostKeyAuth reports the session's alias.
func MyPluginPostKeyAuth(rw http.ResponseWriter, r *http.Request) {
	session := sdk.GetSession(r)
	if session == nil {
		rw.Header().Add("X-Session-Alias", "not found")
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	rw.Header().Add("X-Session-Alias", session.Alias)
}

func configData(r *http.Request) string {
	if def := sdk.GetDefinition(r); def != nil {
		if v, ok := def.ConfigData["my-context-data"].(string); ok {
			return v
		}
	}
	return "null"
}

// MyPluginPost answers the request itself.
func MyPluginPost(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("X-Plugin-Data", configData(r))
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte(`{"message":"post message"}`))
}

// MyPluginResponse replaces the upstream's body (without fixing Content-Length: the gateway does).
func MyPluginResponse(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Add("X-Response-Added", "resp-added")
	res.Body = io.NopCloser(bytes.NewBufferString(`{"message":"response injected message"}`))
	res.Header.Add("X-Plugin-Data", configData(req))
}

// MyPluginPerPathFoo adds a header.
func MyPluginPerPathFoo(rw http.ResponseWriter, r *http.Request) { rw.Header().Add("X-foo", "foo") }

// MyPluginPerPathBar adds a header.
func MyPluginPerPathBar(rw http.ResponseWriter, r *http.Request) { rw.Header().Add("X-bar", "bar") }

// MyPluginPerPathResp answers the request itself.
func MyPluginPerPathResp(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte(`{"current_time":"now"}`))
}

// MyPluginReturningError answers 418.
func MyPluginReturningError(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusTeapot)
	_, _ = rw.Write([]byte("I'm a teapot"))
}

// MyPluginApplyingPolicy gives the request a stored session with the policy "my-pol".
func MyPluginApplyingPolicy(rw http.ResponseWriter, r *http.Request) {
	session := &apidef.SessionState{KeyID: "my-key", ApplyPolicies: []string{"my-pol"}}
	sdk.SetSession(r, session, true)
}

// RejectWithBody refuses with a body.
func RejectWithBody(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusForbidden)
	_, _ = rw.Write([]byte("hello"))
}

// RejectWithoutBody refuses without a body.
func RejectWithoutBody(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusForbidden)
}

// MyAnalyticsPluginDeleteHeader removes the Server header from the recorded response.
func MyAnalyticsPluginDeleteHeader(record *sdk.AnalyticsRecord) {
	str, err := base64.StdEncoding.DecodeString(record.RawResponse)
	if err != nil {
		return
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(str)), nil)
	if err != nil {
		return
	}
	res.Header.Del("Server")
	var b bytes.Buffer
	if err := res.Write(&b); err != nil {
		return
	}
	record.RawResponse = base64.StdEncoding.EncodeToString(b.Bytes())
}

// MyAnalyticsPluginAddTag tags the record and edits its recorded response.
func MyAnalyticsPluginAddTag(record *sdk.AnalyticsRecord) {
	record.Tags = append(record.Tags, "TEST")
	str, err := base64.StdEncoding.DecodeString(record.RawResponse)
	if err != nil {
		return
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(str)), nil)
	if err != nil {
		return
	}
	res.Header.Del("Server")
	res.Header.Add("Test", "test")
	var b bytes.Buffer
	if err := res.Write(&b); err != nil {
		return
	}
	record.RawResponse = base64.StdEncoding.EncodeToString(b.Bytes())
}

func main() {}

// Not in Tyk's plugin: added for Gatehouse's tests.

// ResetSession is the common post_key_auth pattern: it reads the request's session, changes it
// and sets it again (asking for it to be stored).
func ResetSession(rw http.ResponseWriter, r *http.Request) {
	s := sdk.GetSession(r)
	if s == nil {
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	if s.MetaData == nil {
		s.MetaData = map[string]interface{}{}
	}
	s.MetaData["seen-by"] = "ResetSession"
	sdk.SetSession(r, s, true)
}
