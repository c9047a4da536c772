package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestResponseProcessors: a Tyk Classic definition's legacy response_processors are served: a
// header_injector's options change every upstream response after the version's global
// response headers (so it removes a header they set), with variables substituted, and not in a
// version whose global response headers are disabled; response_body_transform changes nothing;
// the gateway's own refusals are not changed.
func TestResponseProcessors(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "php/5")
		w.Header().Set("X-Kept", "yes")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	def := gt.Keyed(gt.API("procs", "/procs/", up.URL))
	def.EnableContextVars = true
	def.VersionData.NotVersioned = false
	def.VersionData.DefaultVersion = "v1"
	def.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version"}
	def.VersionData.Versions = map[string]apidef.VersionInfo{
		"v1": {Name: "v1", GlobalResponseHeaders: map[string]string{"X-Global": "set", "X-Dropped": "by the processor"}},
		"v2": {Name: "v2", GlobalResponseHeadersDisabled: true},
	}
	def.ResponseProcessors = json.RawMessage(`[
		{"name": "header_injector", "options": {"add_headers": {"X-Team": "$tyk_meta.team", "X-Path": "$tyk_context.path"}, "remove_headers": ["X-Powered-By", "X-Dropped"]}},
		{"name": "response_body_transform", "options": {}}]`)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	s := &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"procs": {APIID: "procs", Versions: []string{"v1", "v2"}}}}
	s.MetaData = map[string]any{"team": "payments"}
	key := g.CreateKey(s)

	g.Run(t,
		gt.Case{Name: "v1", Path: "/procs/x", Headers: map[string]string{"Authorization": key}, Code: 200, BodyEquals: "ok",
			HeadersMatch:      map[string]string{"X-Team": "payments", "X-Path": "/procs/x", "X-Global": "set", "X-Kept": "yes"},
			HeadersNotPresent: []string{"X-Powered-By", "X-Dropped"}},
		gt.Case{Name: "global response headers disabled", Path: "/procs/x", Headers: map[string]string{"Authorization": key, "X-Api-Version": "v2"}, Code: 200,
			HeadersMatch:      map[string]string{"X-Powered-By": "php/5"},
			HeadersNotPresent: []string{"X-Team", "X-Global"}},
		gt.Case{Name: "the gateway's refusal", Path: "/procs/x", Code: 401, HeadersNotPresent: []string{"X-Team"}},
	)
}
