package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// More Tyk plugin folders of our own writing, built unchanged with the Go proxy off: one that
// reads Tyk OAS documents (ctx.GetOASDefinition, GetTykExtension), and one that makes the calls
// of Tyk's own test plugin and of the public examples that tykplugin does not.
const (
	tykOASDir       = "../plugintest/testdata/tykoas"
	tykGoPluginsDir = "../plugintest/testdata/tykgoplugins"
)

// itemsDoc is a Tyk OAS API (a lone document in app_path) whose hooks are in the plugin so.
func itemsDoc(so, upstream string) []byte {
	return []byte(strings.NewReplacer("PLUGIN_SO", so, "UPSTREAM", upstream).Replace(`{
  "openapi": "3.0.3",
  "info": {"title": "Items Service", "version": "1.0.0"},
  "paths": {
    "/items": {"get": {"operationId": "listItems", "responses": {"200": {"description": "items"}}}},
    "/items/{id}": {"get": {"operationId": "getItem",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "an item"}}}}
  },
  "x-tyk-api-gateway": {
    "info": {"id": "items", "name": "items-api", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "/items-api/", "strip": true}},
    "middleware": {"global": {
      "pluginConfig": {"driver": "goplugin", "data": {"enabled": true, "value": {"team": "inventory"}}},
      "prePlugins": [{"enabled": true, "functionName": "ReadOAS", "path": "PLUGIN_SO"}],
      "postPlugins": [{"enabled": true, "functionName": "AfterChange", "path": "PLUGIN_SO"}],
      "responsePlugins": [{"enabled": true, "functionName": "ResponseTitle", "path": "PLUGIN_SO"}]
    }}
  }
}`))
}

// TestTykPluginOAS: a Tyk plugin reads a Tyk OAS API's document with ctx.GetOASDefinition
// (title, paths) and GetTykExtension (name, upstream, listen path, config data), in request
// and response hooks; its changes to its copy are its own; on a Classic API the document is nil
// and GetDefinition is not.
func TestTykPluginOAS(t *testing.T) {
	so := buildTyk(t, tykOASDir, true)
	up := gt.NewUpstream(t)
	classic := gt.API("classic", "/classic/", up.URL)
	classic.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "ReadOAS"), Response: hooks(so, "ResponseTitle")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{classic}})
	g.WriteFile("items.json", itemsDoc(so, up.URL))
	g.Reload()

	g.Run(t,
		gt.Case{Name: "OAS API", Path: "/items-api/items/7", Code: 200, HeadersMatch: map[string]string{
			"X-OAS-Title":       "Items Service",
			"X-OAS-Operation":   "getItem",
			"X-OAS-Paths":       "2",
			"X-OAS-Name":        "items-api",
			"X-OAS-Upstream":    up.URL,
			"X-OAS-Listen-Path": "/items-api/",
			"X-OAS-Team":        "inventory",
			"X-Def-Team":        "inventory",
			"X-OAS-Doc-Title":   "Items Service",
		}, HeadersNotPresent: []string{"X-OAS", "X-OAS-Extension"}},
		gt.Case{Name: "Classic API", Path: "/classic/x", Code: 200, HeadersMatch: map[string]string{
			"X-OAS": "none", "X-Def-Name": "classic", "X-OAS-Doc-Title": "none",
		}, HeadersNotPresent: []string{"X-OAS-Title"}},
	)
	var seen map[string]string
	for _, req := range up.Requests() {
		if req.Path == "/items/7" {
			seen = req.Headers
		}
	}
	if seen == nil {
		t.Fatalf("the upstream did not see /items/7: %v", up.Requests())
	}
	if seen["X-Title-Seen-By-Post"] != "Items Service" || seen["X-Team-Seen-By-Post"] != "inventory" {
		t.Errorf("a plugin's change to its copy reached the next hook: %v", seen)
	}
}

// TestTykGoPlugins runs a plugin that makes the calls of Tyk's test plugin and of the public
// examples not covered by TestTykPluginUnchanged, unchanged: hooks exported as variables that
// hold functions of other packages (Tyk's complex-plugin), ctx.SetSession(r, s, true, true)
// with KeyID, a session keyed on the client's IP and rate-limited, authorisation from
// config_data with the plugin's own 401, the old headers package, the OAS title in a response
// hook, and an analytics hook masking the recorded request body.
func TestTykGoPlugins(t *testing.T) {
	so := buildTyk(t, tykGoPluginsDir, true)
	up := gt.NewUpstream(t)

	auth := gt.Keyed(gt.API("tykauth2", "/tykauth2/", up.URL))
	auth.CustomPluginAuthEnabled = true
	auth.ConfigData = map[string]interface{}{"policy": map[string]interface{}{"allowed_paths": []interface{}{"/open"}}}
	auth.CustomMiddleware = apidef.MiddlewareSection{
		Driver:      "goplugin",
		Pre:         hooks(so, "MyPluginPre"),
		AuthCheck:   apidef.MiddlewareDefinition{Name: "MyPluginAuthCheck", Path: so},
		PostKeyAuth: hooks(so, "MyPluginPostKeyAuth", "AuthorizeFromConfig"),
		Response:    hooks(so, "MyResponsePluginAccessingOASAPI"),
	}
	byIP := gt.Keyed(gt.API("byip", "/byip/", up.URL))
	byIP.CustomPluginAuthEnabled = true
	byIP.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", AuthCheck: apidef.MiddlewareDefinition{Name: "IPRateLimiter", Path: so}}
	masked := gt.API("masked", "/masked/", up.URL)
	masked.EnableDetailedRecording = true
	masked.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: so, FuncName: "MyAnalyticsPluginMaskJSONLoginBody"}

	file, analytics := analyticsFile(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{auth, byIP, masked}, Config: analytics})
	abc := map[string]string{"Authorization": "abc"}
	g.Run(t,
		gt.Case{Name: "auth refused", Path: "/tykauth2/open", Headers: map[string]string{"Authorization": "nope"}, Code: 403,
			BodyEquals: "auth failed", HeadersMatch: map[string]string{"X-Auth-Result": "failed", "X-Generator": "tyk-goplugins"}},
		gt.Case{Name: "every hook, from variables", Path: "/tykauth2/open", Headers: abc, Code: 200, HeadersMatch: map[string]string{
			"X-Generator":     "tyk-goplugins",
			"X-Api-Name":      "tykauth2",
			"X-Initial-URI":   "/tykauth2/open",
			"X-Auth-Result":   "OK",
			"X-Session-Alias": "abc-session",
			"X-Session-Key":   "abc",
			"X-OAS-Doc-Title": "classic",
		}},
		gt.Case{Name: "the session set with hashKey was stored", Admin: true, Path: "/tyk/keys/abc", Code: 200, BodyMatch: `"alias": ?"abc-session"`},
		gt.Case{Name: "config_data policy refuses", Path: "/tykauth2/closed", Headers: abc, Code: 401,
			BodyEquals: `{"error":"not allowed by policy"}`, HeadersMatch: map[string]string{"Content-Type": "application/json"}},
		gt.Case{Name: "by IP 1", Path: "/byip/a", Code: 200},
		gt.Case{Name: "by IP 2", Path: "/byip/a", Code: 200},
		gt.Case{Name: "by IP: the client's third request in a minute", Path: "/byip/a", Code: 429},
		gt.Case{Name: "analytics", Method: "POST", Path: "/masked/login", Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"email":"someone@example.com","password":"x"}`, Code: 200},
	)
	var raw string
	for _, rec := range readRecords(t, file, 1) {
		if rec.APIID == "masked" {
			raw = rec.RawRequest
		}
	}
	data, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || raw == "" {
		t.Fatalf("no raw request recorded for the masked API (%v)", err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("the raw request does not parse: %v\n%s", err, data)
	}
	body, _ := io.ReadAll(req.Body)
	if !strings.Contains(string(body), `"email":"****"`) || strings.Contains(string(data), "someone@example.com") {
		t.Errorf("the analytics plugin did not mask the email:\n%s", data)
	}
}
