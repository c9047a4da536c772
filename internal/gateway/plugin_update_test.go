package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/version"
)

const hotDir = "internal/plugintest/testdata/hot"

// TestPluginHotUpdate points an API at a new build of its plugin and reloads: new requests run
// the new code, a request in flight finishes with the old, and nothing restarts.
func TestPluginHotUpdate(t *testing.T) {
	v1 := plugintest.BuildModule(t, hotDir, "example.com/hot/build1", nil)
	v2 := plugintest.BuildModule(t, hotDir, "example.com/hot/build2", map[string]string{`"v1"`: `"v2"`})
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
	}))
	t.Cleanup(up.Close)
	def := gt.API("hot", "/hot/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(v1, "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, g.Do(gt.Case{Path: "/hot/x"}))

	inflight := make(chan gt.Response, 1)
	go func() { inflight <- g.Do(gt.Case{Path: "/hot/slow"}) }()
	<-arrived
	def.CustomMiddleware.Pre = hooks(v2, "Version")
	g.WriteAPI(def)
	g.Reload()
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v2"}}, g.Do(gt.Case{Path: "/hot/x"}))
	close(release)
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, <-inflight)

	// Going back to the first build reuses the plugin already loaded.
	def.CustomMiddleware.Pre = hooks(v1, "Version")
	g.WriteAPI(def)
	g.Reload()
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, g.Do(gt.Case{Path: "/hot/x"}))
}

// TestPluginSamePathRefused loads a rebuild of a plugin that kept its module path: Go cannot load
// it beside the first, and the error says what to do instead of Go's "plugin already loaded". A
// new API fails closed; an API updated to it keeps its previous version serving.
func TestPluginSamePathRefused(t *testing.T) {
	first := plugintest.BuildModule(t, hotDir, "example.com/hot/same", nil)
	second := plugintest.BuildModule(t, hotDir, "example.com/hot/same", map[string]string{`"v1"`: `"v1-rebuilt"`})
	up := gt.NewUpstream(t)
	a := gt.API("a", "/a/", up.URL)
	a.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(first, "Version")}
	b := gt.API("b", "/b/", up.URL)
	b.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(second, "Version")}
	// d answers 401 through an error-override template file, read when d is compiled.
	templates := t.TempDir()
	template := filepath.Join(templates, "denied.json")
	if err := os.WriteFile(template, []byte(`{"v": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := gt.Keyed(gt.API("d", "/d/", up.URL))
	d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(first, "Version")}
	d.ErrorOverrides = apidef.ErrorOverrides{"401": {{Response: apidef.ErrorResponse{Template: "denied"}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{a, b, d}, Policies: `{"gold": {"rate": 10, "per": 1, "access_rights": {"a": {"api_id": "a"}}}}`,
		Config: func(c *config.Config) { c.TemplatePath = templates }})
	g.Run(t,
		gt.Case{Name: "first build serves", Path: "/a/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}},
		gt.Case{Name: "second build fails closed", Path: "/b/x", Code: 500},
		gt.Case{Name: "health says what to do", Admin: true, Path: "/hello", BodyMatch: `plugin path \\"example.com/hot/same\\" is already loaded from .*Rebuild this one with a new build id`},
	)
	// The refused content at yet another path is refused too, without opening it.
	data, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "hot.so")
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a.CustomMiddleware.Pre = hooks(other, "Version")
	g.WriteAPI(a)
	d.CustomMiddleware.Pre = hooks(other, "Version")
	g.WriteAPI(d)
	g.Reload()
	// A hot update that cannot load never takes down what works: the first version serves on,
	// reported.
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, g.Do(gt.Case{Path: "/a/x"}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"plugin:a"(?s:.*)is already loaded from .*the previous version of the API keeps serving`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
	if strings.Contains(g.Logs(), "plugin already loaded\"") {
		t.Error("Go's bare error reached the log: the file was opened")
	}
	gt.Check(t, gt.Case{Code: 401, BodyEquals: `{"v": 1}`, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, g.Do(gt.Case{Path: "/d/x"}))
	// A file the previous version was made from changed (its error-override template): it
	// serves no more (a's, made from no such file, goes on).
	if err := os.WriteFile(template, []byte(`{"v": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/d/x"}))
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}}, g.Do(gt.Case{Path: "/a/x"}))
	// The previous version was compiled with the policies of its time (its auth holds them):
	// once they change, it serves no more, and the new version fails closed as its hook cannot
	// load.
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(`{"gold": {"rate": 10, "per": 1, "access_rights": {"zz": {"api_id": "zz"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/a/x"}))
	if !strings.Contains(g.Logs(), "a plugin of the new version cannot be loaded; what the API is compiled from (its definition, document, policies or files) changed besides its plugins") {
		t.Error("the log does not say why the previous version stopped serving")
	}

	// With fail_on_plugin_load_error, such an update fails the reload, as any plugin that
	// cannot load does, rather than keep the previous version.
	c := gt.API("c", "/c/", up.URL)
	c.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(first, "Version")}
	strict := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{c}, Config: func(cfg *config.Config) { cfg.FailOnPluginLoadError = true }})
	c.CustomMiddleware.Pre = hooks(second, "Version")
	strict.WriteAPI(c)
	if err := strict.GW.Reload(t.Context(), true); err == nil || !strings.Contains(err.Error(), "fail_on_plugin_load_error") {
		t.Errorf("with fail_on_plugin_load_error, a plugin path loaded already: reload = %v, want it refused", err)
	}
}

// TestPluginOverwrittenInPlace overwrites the file an API's hook names, at the same path, and
// reloads: a build with a new module path serves its new code; a rebuild that kept the module
// path of the code loaded from that file is refused with what to do (Go cannot load it beside the
// first) while the version before serves on, reported: never the new file opened as the old code.
func TestPluginOverwrittenInPlace(t *testing.T) {
	first := plugintest.BuildModule(t, hotDir, "example.com/hot/inplace1", map[string]string{`"v1"`: `"first"`})
	second := plugintest.BuildModule(t, hotDir, "example.com/hot/inplace2", map[string]string{`"v1"`: `"second"`})
	rebuilt := plugintest.BuildModule(t, hotDir, "example.com/hot/inplace2", map[string]string{`"v1"`: `"second-rebuilt"`})
	file := filepath.Join(t.TempDir(), "hot.so")
	copyFile(t, first, file)
	up := gt.NewUpstream(t)
	def := gt.API("inplace", "/inplace/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(file, "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Name: "the first build", Path: "/inplace/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "first"}})

	copyFile(t, second, file)
	g.Reload()
	g.Run(t, gt.Case{Name: "overwritten with a new module path", Path: "/inplace/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "second"}})

	copyFile(t, rebuilt, file)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "overwritten with the same module path: the version before serves on", Path: "/inplace/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "second"}},
		gt.Case{Name: "and says what to do", Admin: true, Path: "/hello", BodyMatch: `plugin path \\"example.com/hot/inplace2\\" is already loaded from .*Rebuild this one with a new build id.*the previous version of the API keeps serving`},
	)
}

// TestPluginPathResolution checks the order of candidate files and the base of relative paths.
func TestPluginPathResolution(t *testing.T) {
	// The log names the file chosen when its plugin is first opened, once per process: each run
	// of the test (-count) builds plugins of its own.
	run := plugintest.Run(t)
	built := plugintest.BuildModule(t, hotDir, fmt.Sprintf("example.com/hot/resolve%d", run), map[string]string{`"v1"`: `"versioned"`})
	plain := plugintest.BuildModule(t, hotDir, fmt.Sprintf("example.com/hot/resolve-plain%d", run), map[string]string{`"v1"`: `"plain"`})
	up := gt.NewUpstream(t)
	var mw string
	def := gt.API("r", "/r/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("plugins/hot.so", "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		mw = c.MiddlewarePath
		copyFile(t, plain, filepath.Join(mw, "plugins", "hot.so"))
		copyFile(t, built, filepath.Join(mw, "plugins", "hot_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so"))
	}})
	g.Run(t, gt.Case{Name: "the versioned name wins, relative to middleware_path", Path: "/r/x", Code: 200,
		HeadersMatch: map[string]string{"X-Plugin-Version": "versioned"}})
	if !strings.Contains(g.Logs(), "hot_"+version.Version) {
		t.Error("the log does not name the file chosen")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAnalyticsPlugin is Tyk's TestAnalyticsPlugin: each request's record reaches the analytics
// plugin, with detailed recording, before it is written to the analytics file.
func TestAnalyticsPlugin(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	faults := plugintest.Build(t, faultsPkg)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "upstream-server")
		w.Write([]byte("upstream body"))
	}))
	t.Cleanup(up.Close)
	file, analytics := analyticsFile(t)
	tagged := gt.API("tagged", "/test/", up.URL)
	tagged.EnableDetailedRecording = true
	tagged.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: so, FuncName: "MyAnalyticsPluginAddTag"}
	panicky := gt.API("panicky", "/panicky/", up.URL)
	panicky.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: faults, FuncName: "PanicAnalytics"}
	broken := gt.API("broken", "/broken/", up.URL)
	broken.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: "missing.so", FuncName: "X"}
	untracked := gt.API("untracked", "/untracked/", up.URL)
	untracked.DoNotTrack = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{tagged, panicky, broken, untracked}, Config: analytics})
	g.Run(t,
		gt.Case{Name: "tagged", Path: "/test/x", Code: 200, BodyEquals: "upstream body"},
		gt.Case{Name: "a panicking analytics plugin does not hurt the request", Path: "/panicky/x", Code: 200},
		gt.Case{Name: "an unloadable analytics plugin does not stop the API", Path: "/broken/x", Code: 200},
		gt.Case{Name: "do_not_track", Path: "/untracked/x", Code: 200},
	)
	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1 (only the tagged API's; the others are dropped or untracked)", len(records))
	}
	rec := records[0]
	if rec.APIID != "tagged" || rec.ResponseCode != 200 || rec.Path != "/test/x" || rec.Method != "GET" {
		t.Errorf("record %+v", rec)
	}
	if !strings.Contains(strings.Join(rec.Tags, ","), "TEST") {
		t.Errorf("tags %v lack TEST", rec.Tags)
	}
	raw, err := base64.StdEncoding.DecodeString(rec.RawResponse)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("raw response does not parse: %v\n%s", err, raw)
	}
	if res.Header.Get("Server") != "" || res.Header.Get("Test") != "test" {
		t.Errorf("the plugin's edits are missing from the raw response:\n%s", raw)
	}
	if !strings.Contains(g.Logs(), "analytics plugin panicked; the record is dropped") {
		t.Error("the analytics panic was not logged")
	}
}

// TestSlowAnalyticsPluginDoesNotDelayResponse: the analytics plugin runs after the response is
// written, so a slow one (a plugin calling a slow service) must not hold the client's response
// back: the client has the whole response, and its next request on the same connection is
// served, long before the plugin returns. A streamed (chunked) response too.
func TestSlowAnalyticsPluginDoesNotDelayResponse(t *testing.T) {
	faults := plugintest.Build(t, faultsPkg)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("upstream "))
		if r.URL.Path == "/streamed" {
			w.(http.Flusher).Flush()
		}
		w.Write([]byte("body"))
	}))
	t.Cleanup(up.Close)
	file, analytics := analyticsFile(t)
	slow := gt.API("slow", "/slow/", up.URL)
	slow.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: faults, FuncName: "SlowAnalytics"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{slow}, Config: analytics})
	client := &http.Client{Timeout: time.Second}
	for _, path := range []string{"/slow/x", "/slow/x", "/slow/streamed", "/slow/streamed"} {
		start := time.Now()
		res, err := client.Get(g.URL + path)
		if err != nil {
			t.Fatalf("%s: the response waited for the analytics plugin: %v (after %v)", path, err, time.Since(start))
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || string(body) != "upstream body" {
			t.Fatalf("%s: status %d body %q err %v (after %v)", path, res.StatusCode, body, err, time.Since(start))
		}
	}
	if n := len(readRecords(t, file, 4)); n != 4 {
		t.Errorf("%d records written, want the slow plugin's 4", n)
	}
}

// TestAnalyticsPluginCallsBounded: analytics plugin calls that have not returned (a slow plugin,
// more requests than it keeps up with) are bounded: past gateway.MaxAnalyticsHooks running,
// records are dropped and counted, and requests are still answered at once. The plugin holds
// every call until the test opens its gate.
func TestAnalyticsPluginCallsBounded(t *testing.T) {
	faults := plugintest.Build(t, faultsPkg)
	gate := filepath.Join(t.TempDir(), "gate")
	t.Setenv("GATEHOUSE_TEST_ANALYTICS_GATE", gate)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("upstream body"))
	}))
	t.Cleanup(up.Close)
	file, analytics := analyticsFile(t)
	held := gt.API("held", "/held/", up.URL)
	held.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: faults, FuncName: "GatedAnalytics"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{held}, Config: analytics})
	client := &http.Client{Timeout: 5 * time.Second}
	n := gateway.MaxAnalyticsHooks + 50
	for i := range n {
		res, err := client.Get(g.URL + "/held/x")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if d := g.GW.AnalyticsDropped(); d != 50 {
		t.Errorf("dropped %d records while %d calls were held, want 50", d, gateway.MaxAnalyticsHooks)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := len(readRecords(t, file, gateway.MaxAnalyticsHooks)); got != gateway.MaxAnalyticsHooks {
		t.Errorf("%d records written, want %d (the calls that could run)", got, gateway.MaxAnalyticsHooks)
	}
}
