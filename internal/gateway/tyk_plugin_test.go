package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/compiler"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// Tyk plugin folders of our own writing: go.mod requires Tyk's modules, the code imports
// Tyk's packages, and nothing is changed to build them.
const (
	tykPluginDir = "../plugintest/testdata/tykplugin"
	tykLogDir    = "../plugintest/testdata/tyklog"
)

type tykBuild struct {
	once sync.Once
	file string
	err  error
}

var tykBuilds sync.Map

// buildTyk compiles a Tyk plugin folder with the compiler, as `gatehouse plugin build` does,
// once per test binary. With offline, the Go proxy is off: nothing of Tyk's can be fetched.
func buildTyk(t *testing.T, dir string, offline bool) string {
	t.Helper()
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the compiler's plugins load only into a binary built with -trimpath; run the tests with -trimpath")
	}
	v, _ := tykBuilds.LoadOrStore(dir, &tykBuild{})
	b := v.(*tykBuild)
	b.once.Do(func() {
		out, err := os.MkdirTemp("", "gatehouse-tyk-plugin-")
		if err != nil {
			b.err = err
			return
		}
		var log bytes.Buffer
		env := []string{}
		if offline {
			env = append(env, "GOPROXY=off")
		}
		res, err := compiler.Build(context.Background(), compiler.Options{SrcDir: dir, OutDir: out, Name: "plugin.so", Log: &log, Env: env})
		if err != nil {
			b.err = err
			return
		}
		if !strings.Contains(log.String(), "Tyk plugin: built against Gatehouse's packages for Tyk's plugin API (Tyk v5.14.0)") {
			b.err = &buildLogError{log.String()}
			return
		}
		b.file = res.File
	})
	if b.err != nil {
		if !offline && strings.Contains(b.err.Error(), "logrus") && os.Getenv("GATEHOUSE_REQUIRE_GOPROXY") == "" {
			t.Skipf("logrus could not be had: %v", b.err)
		}
		t.Fatalf("building the Tyk plugin %s: %v", dir, b.err)
	}
	return b.file
}

type buildLogError struct{ log string }

func (e *buildLogError) Error() string {
	return "the build did not say which Tyk API it emulates:\n" + e.log
}

// TestTykPluginUnchanged builds a Tyk plugin folder unchanged (go.mod requiring Tyk and
// tyk-pump, with the Go proxy off) and runs every hook end to end: pre; auth_check setting a
// session with ctx.SetSession(r, s, true), which is stored and rate-limited; post_key_auth
// reading it; post reading config_data; response; per-endpoint; analytics adding a tag.
func TestTykPluginUnchanged(t *testing.T) {
	so := buildTyk(t, tykPluginDir, true)
	up := gt.NewUpstream(t)
	configData := map[string]interface{}{"my-context-data": "my-plugin-config"}

	auth := gt.Keyed(gt.API("tykauth", "/tykauth", up.URL))
	auth.CustomPluginAuthEnabled, auth.ConfigData = true, configData
	auth.CustomMiddleware = apidef.MiddlewareSection{
		Driver:      "goplugin",
		Pre:         hooks(so, "MyPluginPre"),
		AuthCheck:   apidef.MiddlewareDefinition{Name: "MyPluginAuthCheck", Path: so},
		PostKeyAuth: hooks(so, "MyPluginPostKeyAuth"),
		Post:        hooks(so, "MyPluginPost"),
	}
	meta := gt.Keyed(gt.API("tykmeta", "/tykmeta", up.URL))
	meta.CustomPluginAuthEnabled = true
	meta.CustomMiddleware = apidef.MiddlewareSection{
		Driver:      "goplugin",
		AuthCheck:   apidef.MiddlewareDefinition{Name: "MyPluginAuthCheck", Path: so},
		PostKeyAuth: hooks(so, "InjectMetadata"),
	}
	resp := gt.API("tykresp", "/tykresp", up.URL)
	resp.ConfigData = configData
	resp.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Response: hooks(so, "MyPluginResponse")}
	resp.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {Name: "v1", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{
			{Path: "/foo", Method: "GET", PluginPath: so, SymbolName: "MyPluginPerPathFoo"},
		}}}}

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "upstream-server")
		w.Write([]byte("upstream body"))
	}))
	t.Cleanup(server.Close)
	file, analytics := analyticsFile(t)
	tagged := gt.API("tyktagged", "/tyktagged/", server.URL)
	tagged.EnableDetailedRecording = true
	tagged.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: so, FuncName: "MyAnalyticsPluginAddTag"}

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{auth, meta, resp, tagged}, Config: analytics})
	abc := map[string]string{"Authorization": "abc"}
	// The session's meta data reaches the upstream through a post_key_auth hook.
	g.Run(t, gt.Case{Name: "meta data to the upstream", Path: "/tykmeta/x", Headers: abc, Code: 200})
	if seen, _ := up.Last(); seen.Headers["X-Tier"] != "gold" {
		t.Errorf("upstream headers %v lack X-Tier: gold", seen.Headers)
	}
	// The key's rate (2 a minute) is the key's on every API: the request above was its first.
	g.Run(t,
		gt.Case{Name: "auth failure", Path: "/tykauth/plugin_hit", Headers: map[string]string{"Authorization": "invalid"},
			Code: 403, BodyEquals: "auth failed", HeadersMatch: map[string]string{"X-Auth-Result": "failed"}},
		gt.Case{Name: "full chain", Path: "/tykauth/plugin_hit", Headers: abc, Code: 200,
			BodyEquals: `{"message":"post message"}`, HeadersMatch: map[string]string{
				"X-Initial-URI":   "/tykauth/plugin_hit",
				"X-Auth-Result":   "OK",
				"X-Session-Alias": "abc-session",
				"X-Session-Tier":  "gold",
				"X-Session-Rate":  "2/60",
				"X-Auth-Token":    "abc",
				"X-Plugin-Data":   "my-plugin-config",
				"X-Api-Name":      "tykauth",
				"Content-Type":    "application/json",
			}},
		gt.Case{Name: "the session the plugin set is rate-limited", Path: "/tykauth/plugin_hit", Headers: abc, Code: 429},
		gt.Case{Name: "the session was stored", Admin: true, Path: "/tyk/keys/abc", Code: 200, BodyMatch: `"alias": ?"abc-session"`},
		gt.Case{Name: "response hook", Path: "/tykresp/get", Code: 200, BodyEquals: `{"message":"response injected message"}`,
			HeadersMatch: map[string]string{"X-Response-Added": "resp-added", "X-Plugin-Data": "my-plugin-config"}},
		gt.Case{Name: "per-endpoint hook", Path: "/tykresp/foo", Code: 200, HeadersMatch: map[string]string{"X-Foo": "foo"}},
		gt.Case{Name: "no per-endpoint hook elsewhere", Path: "/tykresp/bar", Code: 200, HeadersNotPresent: []string{"X-Foo"}},
		gt.Case{Name: "analytics", Path: "/tyktagged/x", Code: 200, BodyEquals: "upstream body"},
	)
	records := readRecords(t, file, 1)
	var rec *struct{ tags, raw string }
	for _, x := range records {
		if x.APIID == "tyktagged" {
			rec = &struct{ tags, raw string }{strings.Join(x.Tags, ","), x.RawResponse}
		}
	}
	if rec == nil {
		t.Fatalf("no record of the tagged API among %d", len(records))
	}
	if !strings.Contains(rec.tags, "TEST") {
		t.Errorf("tags %q lack TEST", rec.tags)
	}
	raw, err := base64.StdEncoding.DecodeString(rec.raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("raw response does not parse: %v\n%s", err, raw)
	}
	if res.Header.Get("Server") != "" || res.Header.Get("Test") != "test" {
		t.Errorf("the analytics plugin's edits are missing from the raw response:\n%s", raw)
	}
}

// TestTykPluginLog: lines a Tyk plugin logs with log.Get() reach the gateway's log, with the
// plugin function, and the API when the line carries the request's context. log.Get() needs
// logrus (from the module cache or the proxy); the test is skipped when neither has it.
func TestTykPluginLog(t *testing.T) {
	so := buildTyk(t, tykLogDir, false)
	up := gt.NewUpstream(t)
	def := gt.API("tyklog", "/tyklog", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "LogHello")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Path: "/tyklog/x", Code: 200, HeadersMatch: map[string]string{"X-Logged": "yes"}})
	logs := g.Logs()
	for _, want := range []string{
		`msg="plain line from a tyk plugin" plugin_func=LogHello`,
		`greeting=hello`,
		`level=WARN msg="request line from a tyk plugin" api_id=tyklog plugin_func=LogHello`,
		`api_name=tyklog`,
		// A line its init logs names the plugin's init, not the standard library's plugin.Open.
		`msg="init line from a tyk plugin" plugin_func=init plugin=`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the gateway's log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "plugin=plugin ") {
		t.Errorf("a line is attributed to the standard library's plugin package:\n%s", logs)
	}
}

// TestTykPluginContextData: a Tyk plugin reading r.Context().Value(ctx.ContextData) gets the
// request's context variables as a map[string]interface{} when its API has enable_context_vars,
// from the first hook after the pre hooks (which get nil, as in Tyk), with the key once auth ran;
// what one hook adds, the next reads. Without enable_context_vars it is nil, as in Tyk.
func TestTykPluginContextData(t *testing.T) {
	so := buildTyk(t, tykPluginDir, true)
	up := gt.NewUpstream(t)
	on := gt.Keyed(gt.API("ctxdata", "/ctxdata/", up.URL))
	on.EnableContextVars = true
	on.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "ContextDataCheck"),
		PostKeyAuth: hooks(so, "ContextDataFirst"), Post: hooks(so, "ContextDataPost", "ContextDataCheck")}
	off := gt.API("noctxdata", "/noctxdata/", up.URL)
	off.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "ContextDataPost", "ContextDataCheck")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{on, off}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"ctxdata": {APIID: "ctxdata", Versions: []string{"Default"}}}})
	g.Run(t, gt.Case{Path: "/ctxdata/x?q=hello", Headers: map[string]string{"Authorization": key}, Code: 200})
	seen, _ := up.Last()
	for k, want := range map[string]string{"X-Ctx-Path": "/ctxdata/x", "X-Ctx-Request-Data": "hello", "X-Ctx-Token": key,
		"X-Ctx-Post": "yes", "X-Ctx-Present": "false;true;"} {
		if seen.Headers[k] != want {
			t.Errorf("with enable_context_vars, the upstream's %s = %q, want %q", k, seen.Headers[k], want)
		}
	}
	g.Run(t, gt.Case{Path: "/noctxdata/x", Code: 200})
	seen, _ = up.Last()
	if seen.Headers["X-Ctx-Present"] != "false;" || seen.Headers["X-Ctx-Post"] != "no context data" {
		t.Errorf("without enable_context_vars a plugin got context data: %v", seen.Headers)
	}
}
