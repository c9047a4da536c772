package gateway_test

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

const (
	tykcompatPkg = "internal/plugintest/testdata/tykcompat"
	seedPkg      = "internal/plugintest/testdata/seed"
	faultsPkg    = "internal/plugintest/testdata/faults"
)

func hooks(so string, names ...string) []apidef.MiddlewareDefinition {
	var out []apidef.MiddlewareDefinition
	for _, n := range names {
		out = append(out, apidef.MiddlewareDefinition{Name: n, Path: so})
	}
	return out
}

// TestSeedExamples runs the two examples of the seed document end to end: AddFooBarHeader at
// post (the upstream receives Foo: Bar) and MyPluginResponse (the client receives
// X-Response-Added and the replaced body, with a correct length).
func TestSeedExamples(t *testing.T) {
	so := plugintest.Build(t, seedPkg)
	up := gt.NewUpstream(t)
	post := gt.API("post", "/my_api_name/", up.URL)
	post.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "AddFooBarHeader")}
	resp := gt.API("resp", "/resp/", up.URL)
	resp.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Response: hooks(so, "MyPluginResponse")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{post, resp}})

	g.Run(t, gt.Case{Name: "post hook", Path: "/my_api_name/get", Code: 200, BodyMatch: `"Foo": "Bar"`})
	if seen, _ := up.Last(); seen.Headers["Foo"] != "Bar" {
		t.Errorf("upstream headers %v lack Foo: Bar", seen.Headers)
	}
	body := `{"message":"Hi! I'm a response plugin"}`
	r := g.Do(gt.Case{Path: "/resp/get"})
	gt.Check(t, gt.Case{Code: 200, BodyEquals: body, HeadersMatch: map[string]string{
		"X-Response-Added": "resp-added", "Content-Length": "39"}}, r)
	if len(body) != 39 {
		t.Fatalf("test bug: body is %d bytes", len(body))
	}
}

// TestTykGoPluginMWs is Tyk's TestGoPluginMWs: the four request hooks on two auth APIs (old and
// new custom-auth flags), and disabled hooks.
func TestTykGoPluginMWs(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	cm := apidef.MiddlewareSection{
		Driver:      "goplugin",
		Pre:         hooks(so, "MyPluginPre"),
		AuthCheck:   apidef.MiddlewareDefinition{Name: "MyPluginAuthCheck", Path: so},
		PostKeyAuth: hooks(so, "MyPluginPostKeyAuth"),
		Post:        hooks(so, "MyPluginPost"),
	}
	config := map[string]interface{}{"my-context-data": "my-plugin-config"}
	old := gt.Keyed(gt.API("goplugin", "/goplugin", up.URL))
	old.UseGoPluginAuth, old.CustomMiddleware, old.ConfigData = true, cm, config
	cur := gt.Keyed(gt.API("custom-auth", "/goplugin-custom-plugin-auth", up.URL))
	cur.CustomPluginAuthEnabled, cur.CustomMiddleware, cur.ConfigData = true, cm, config

	disabled := cm
	disabled.Pre = []apidef.MiddlewareDefinition{{Name: "MyPluginPre", Path: so, Disabled: true}}
	disabled.PostKeyAuth = []apidef.MiddlewareDefinition{{Name: "MyPluginPostKeyAuth", Path: so, Disabled: true}}
	disabled.Post = []apidef.MiddlewareDefinition{{Name: "MyPluginPost", Path: so, Disabled: true}}
	keyless := gt.API("disabled", "/disabled-goplugins", up.URL)
	keyless.CustomMiddleware = disabled
	disabledAuth := disabled
	disabledAuth.AuthCheck.Disabled = true
	noAuth := gt.Keyed(gt.API("disabled-auth", "/disabled-auth-goplugins", up.URL))
	noAuth.CustomPluginAuthEnabled, noAuth.CustomMiddleware = true, disabledAuth

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{old, cur, keyless, noAuth}})
	for _, lp := range []string{"/goplugin", "/goplugin-custom-plugin-auth"} {
		g.Run(t,
			gt.Case{Name: lp + " auth failure", Path: lp + "/plugin_hit", Headers: map[string]string{"Authorization": "invalid_token"},
				Code: 403, BodyEquals: "auth failed", HeadersMatch: map[string]string{"X-Auth-Result": "failed"}},
			gt.Case{Name: lp + " full chain", Path: lp + "/plugin_hit", Headers: map[string]string{"Authorization": "abc"}, Code: 200,
				BodyMatch: `"message":"post message"`, HeadersMatch: map[string]string{
					"X-Initial-URI":   lp + "/plugin_hit",
					"X-Auth-Result":   "OK",
					"X-Session-Alias": "abc-session",
					"X-Plugin-Data":   "my-plugin-config",
				}},
			// The session the auth plugin stored can be deleted through the Gateway API.
			gt.Case{Name: lp + " stored session", Admin: true, Method: "DELETE", Path: "/tyk/keys/abc", Code: 200, BodyMatch: `"action": "deleted"`},
		)
	}
	g.Run(t,
		gt.Case{Name: "disabled hooks", Path: "/disabled-goplugins/plugin_hit", Headers: map[string]string{"Authorization": "abc"}, Code: 200,
			BodyMatch: `"Authorization": "abc"`, HeadersNotPresent: []string{"X-Initial-URI", "X-Plugin-Data", "X-Session-Alias"}},
		gt.Case{Name: "disabled auth_check falls back to keys", Path: "/disabled-auth-goplugins/plugin_hit",
			Headers: map[string]string{"Authorization": "abc"}, Code: 403, BodyMatch: "Access to this API has been disallowed"},
	)
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream received %d requests; only the disabled-hooks API forwards", n)
	}
}

func TestTykGoPluginResponseHook(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	def := gt.API("resp", "/goplugin", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Response: hooks(so, "MyPluginResponse")}
	def.ConfigData = map[string]interface{}{"my-context-data": "my-plugin-config"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Path: "/goplugin/plugin_hit", Code: 200, BodyEquals: `{"message":"response injected message"}`,
		HeadersMatch: map[string]string{"X-Response-Added": "resp-added", "X-Plugin-Data": "my-plugin-config", "Content-Length": "39"}})
}

// TestTykGoPluginPerPath is Tyk's TestGoPluginPerPathSingleFile and TestGoPluginAPIandPerPath.
func TestTykGoPluginPerPath(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	def := gt.API("perpath", "/goplugin", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginPre")}
	def.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {Name: "v1", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{
			{Path: "/foo", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathFoo"},
			{Path: "/bar", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathBar"},
			{Path: "/resp", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathResp"},
			{Path: "/disabled", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathResp", Disabled: true},
			{Path: "/both", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathFoo"},
			{Path: "/both", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathBar"},
		}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t,
		gt.Case{Name: "foo", Path: "/goplugin/foo", Code: 200, HeadersMatch: map[string]string{"X-Foo": "foo", "X-Initial-URI": "/goplugin/foo"}},
		gt.Case{Name: "bar", Path: "/goplugin/bar", Code: 200, HeadersMatch: map[string]string{"X-Bar": "bar"}, HeadersNotPresent: []string{"X-Foo"}},
		gt.Case{Name: "resp", Path: "/goplugin/resp", Code: 200, BodyEquals: `{"current_time":"now"}`,
			HeadersMatch: map[string]string{"Content-Type": "application/json"}},
		gt.Case{Name: "wrong method", Method: "POST", Path: "/goplugin/foo", Code: 200, HeadersNotPresent: []string{"X-Foo"}},
		gt.Case{Name: "disabled", Path: "/goplugin/disabled", Code: 200, BodyNotMatch: "current_time"},
		gt.Case{Name: "every matching entry runs, in order", Path: "/goplugin/both", Code: 200,
			HeadersMatch: map[string]string{"X-Foo": "foo", "X-Bar": "bar"}},
	)
}

// TestTykGoPluginErrors is Tyk's TestGoPlugin_PreventDoubleError and
// TestGoPlugin_DontWriteBodyInCaseIfPluginRespondsWith4xxOrHigher: the client gets exactly what
// the plugin wrote.
func TestTykGoPluginErrors(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	api := func(id, sym string) *apidef.APIDefinition {
		d := gt.API(id, "/"+id, up.URL)
		d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, sym)}
		return d
	}
	perPath := func(id, sym string) *apidef.APIDefinition {
		d := gt.API(id, "/"+id, up.URL)
		d.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true,
			ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{{Path: "/get", Method: "GET", PluginPath: so, SymbolName: sym}}}}}
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("teapot", "MyPluginReturningError"), api("body", "RejectWithBody"), api("nobody", "RejectWithoutBody"),
		perPath("pp-body", "RejectWithBody"), perPath("pp-nobody", "RejectWithoutBody"),
	}})
	g.Run(t,
		gt.Case{Name: "418", Path: "/teapot/get", Code: http.StatusTeapot, BodyEquals: "I'm a teapot"},
		gt.Case{Name: "403 with body", Path: "/body/get", Code: 403, BodyEquals: "hello"},
		gt.Case{Name: "403 without body", Path: "/nobody/get", Code: 403, BodyEmpty: true},
		gt.Case{Name: "per-path 403 with body", Path: "/pp-body/get", Code: 403, BodyEquals: "hello"},
		gt.Case{Name: "per-path 403 without body", Path: "/pp-nobody/get", Code: 403, BodyEmpty: true},
	)
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream received %d requests after plugins answered", n)
	}
}

// TestTykGoPluginApplyPolicy is Tyk's TestGoPlugin_ApplyPolicy: a pre hook on a keyless API
// sets a stored session with a policy; the stored key has the policy's rate.
func TestTykGoPluginApplyPolicy(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	def := gt.API("pol", "/my-goplugin", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginApplyingPolicy")}
	g := gt.Start(t, gt.Options{Policies: `{"my-pol": {"rate": 114, "per": 1, "access_rights": {"pol": {"api_id": "pol"}}}}`,
		APIs: []*apidef.APIDefinition{def}})
	g.Run(t,
		gt.Case{Name: "request", Path: "/my-goplugin/get", Code: 200},
		gt.Case{Name: "stored with the policy's rate", Admin: true, Path: "/tyk/keys/my-key", Code: 200, BodyMatch: `"rate": 114`},
	)
}

// TestInertFields: the fields Gatehouse reads but that change nothing for Go plugins
// (enable_context_vars, id_extractor, require_session, raw_body_only) are shown to change
// nothing: the same plugin at the same hooks, with and without them, sends the upstream the same
// request (a hook with require_session still runs on a keyless API, with no session), and the
// gateway says once, at load, that they have no effect.
func TestInertFields(t *testing.T) {
	so := plugintest.Build(t, seedPkg)
	up := gt.NewUpstream(t)
	plain := gt.API("plain", "/plain/", up.URL)
	plain.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "AddFooBarHeader")}
	inert := gt.API("inert", "/inert/", up.URL)
	inert.EnableContextVars = true
	inert.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin",
		Pre: []apidef.MiddlewareDefinition{{Name: "AddFooBarHeader", Path: so, RequireSession: true, RawBodyOnly: true}}}
	inert.CustomMiddleware.IdExtractor.ExtractFrom = "header"
	inert.CustomMiddleware.IdExtractor.ExtractWith = "value"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plain, inert}})

	seen := func(path string) map[string]string {
		t.Helper()
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Method: "POST", Path: path + "x?q=1", Body: `{"a":1}`, Headers: map[string]string{"X-Client": "c"}}))
		r, ok := up.Last()
		if !ok {
			t.Fatal("nothing reached the upstream")
		}
		h := r.Headers
		delete(h, "Via") // names the API
		h["path"], h["query"], h["body"] = r.Path, r.Query, r.Body
		return h
	}
	want, got := seen("/plain/"), seen("/inert/")
	if want["Foo"] != "Bar" {
		t.Fatalf("the plugin did not run: %v", want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with the inert fields the upstream saw\n%v\nwithout them\n%v", got, want)
	}
	logs := g.Logs()
	for _, f := range []string{"enable_context_vars", "id_extractor", "require_session", "raw_body_only"} {
		if n := len(regexp.MustCompile(`has no effect" api_id=inert field="(custom_middleware\.)?`+f).FindAllString(logs, -1)); n != 1 {
			t.Errorf("the log does not say once that %s has no effect:\n%s", f, logs)
		}
	}
}

// TestIgnoredFieldsLogBounded: a definition setting thousands of fields Gatehouse ignores is
// logged with the first 50 and how many more, not with all of them.
func TestIgnoredFieldsLogBounded(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	var b strings.Builder
	b.WriteString(`{"api_id": "many", "name": "many", "use_keyless": true, "active": true,
	  "proxy": {"listen_path": "/many/", "target_url": "` + up.URL + `"},
	  "version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}`)
	for i := range 2000 {
		fmt.Fprintf(&b, `, "unknown_field_%04d": 1`, i)
	}
	b.WriteString("}")
	g.WriteFile("many.json", []byte(b.String()))
	g.Reload()
	g.Run(t, gt.Case{Name: "served", Path: "/many/x", Code: 200})
	logs := g.Logs()
	if !strings.Contains(logs, "unknown_field_0000") || !strings.Contains(logs, "and 1950 more") || strings.Contains(logs, "unknown_field_1999") {
		t.Errorf("the ignored fields were not logged as the first 50 and a count:\n%.2000s", logs)
	}
}
