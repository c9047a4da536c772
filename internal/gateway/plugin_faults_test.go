package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
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

// TestPluginHookSemantics covers what hooks may do: answer, pass headers, read or replace the
// body, change the path, and what they may not: panic, misuse the sdk, smuggle a dot segment.
func TestPluginHookSemantics(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := func(id string, cm apidef.MiddlewareSection) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		cm.Driver = "goplugin"
		d.CustomMiddleware = cm
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("panic-pre", apidef.MiddlewareSection{Pre: hooks(so, "Panic")}),
		api("panic-post", apidef.MiddlewareSection{Post: hooks(so, "Panic")}),
		api("panic-late", apidef.MiddlewareSection{Pre: hooks(so, "PanicAfterWrite")}),
		api("panic-resp", apidef.MiddlewareSection{Response: hooks(so, "PanicResponse")}),
		api("read", apidef.MiddlewareSection{Pre: hooks(so, "ReadBody"), Post: hooks(so, "ReadSome")}),
		api("replace", apidef.MiddlewareSection{Post: hooks(so, "ReplaceBody")}),
		api("header", apidef.MiddlewareSection{Pre: hooks(so, "SetHeaderOnly")}),
		api("redirect", apidef.MiddlewareSection{Pre: hooks(so, "Redirect")}),
		api("nilsession", apidef.MiddlewareSection{Pre: hooks(so, "NilSession")}),
		api("var", apidef.MiddlewareSection{Pre: hooks(so, "VarHook")}),
		api("rewrite", apidef.MiddlewareSection{Post: hooks(so, "RewritePath")}),
		api("dotdot", apidef.MiddlewareSection{Post: hooks(so, "RewriteDotDot")}),
		api("resp-rewrite", apidef.MiddlewareSection{Response: hooks(so, "ResponseRewrite")}),
		api("resp-refuse", apidef.MiddlewareSection{Response: hooks(so, "ResponseRefuse")}),
		api("count", apidef.MiddlewareSection{Pre: hooks(so, "Counter")}),
		api("abort", apidef.MiddlewareSection{Pre: hooks(so, "Abort")}),
	}})
	internal := `"error": "Internal Server Error"`
	// A hook aborting the response (panic(http.ErrAbortHandler)) cuts the client's connection,
	// as net/http does, and says so in the log (net/http says nothing).
	if res, err := g.Client.Get(g.URL + "/abort/x"); err == nil {
		res.Body.Close()
		t.Errorf("an aborting hook: %d, want the connection cut", res.StatusCode)
	}
	g.Run(t,
		gt.Case{Name: "panic in pre gives 500", Path: "/panic-pre/x", Code: 500, BodyMatch: internal},
		gt.Case{Name: "panic in post gives 500", Path: "/panic-post/x", Code: 500, BodyMatch: internal},
		gt.Case{Name: "panic after writing keeps what was written", Path: "/panic-late/x", Code: 202, BodyEmpty: true},
		gt.Case{Name: "panic in response gives 500, never the upstream body", Path: "/panic-resp/x", Code: 500,
			BodyMatch: internal, HeadersNotPresent: []string{"X-Echo"}},
		gt.Case{Name: "the gateway still serves", Path: "/header/x", Code: 200, HeadersMatch: map[string]string{"X-Hook": "was-here", "X-Echo": "1"}},
		gt.Case{Name: "a body read by hooks still reaches the upstream", Method: "POST", Path: "/read/x", Body: "hello body", Code: 200,
			BodyMatch: `(?s)"X-Body-Seen": "10".*"X-Body-Start": "hel".*"body": "hello body"`},
		gt.Case{Name: "a replaced body reaches the upstream with its length", Method: "POST", Path: "/replace/x", Body: "original", Code: 200,
			BodyMatch: `"body": "replaced by the plugin",\s+"body_length": 22`},
		gt.Case{Name: "a redirect is a final answer", Path: "/redirect/x", Code: 302, HeadersMatch: map[string]string{"Location": "/elsewhere"}},
		gt.Case{Name: "SetSession(nil) is a plugin error", Path: "/nilsession/x", Code: 500},
		gt.Case{Name: "an exported variable works as a hook", Path: "/var/x", Code: 200, HeadersMatch: map[string]string{"X-Var-Hook": "yes"}},
		gt.Case{Name: "a changed path reaches the upstream", Path: "/rewrite/x", Code: 200, BodyMatch: `"path": "/rewritten/by/plugin"`},
		gt.Case{Name: "a dot segment set by a plugin is refused", Path: "/dotdot/x", Code: 400},
		gt.Case{Name: "response hook status, headers and body, with a fixed length", Path: "/resp-rewrite/x", Code: 201,
			BodyEquals: strings.Repeat("x", 5000), HeadersMatch: map[string]string{"X-Rewritten": "1", "Content-Length": "5000"}},
		gt.Case{Name: "a response hook may answer instead of the upstream", Path: "/resp-refuse/x", Code: 403,
			BodyEquals: "refused by response hook", HeadersNotPresent: []string{"X-Echo"}},
	)
	for _, want := range []string{`hook=pre symbol=Panic`, `hook=post symbol=Panic`, `hook=response symbol=PanicResponse`, `goroutine `,
		`msg="plugin aborted the response (panic(http.ErrAbortHandler)): the client's connection is cut" api_id=abort hook=pre symbol=Abort`} {
		if !strings.Contains(g.Logs(), want) {
			t.Errorf("the panic log lacks %q", want)
		}
	}
	for _, seen := range up.Requests() {
		if seen.Path == "/a/../../secret" || strings.Contains(seen.Path, "secret") {
			t.Errorf("the upstream received %q", seen.Path)
		}
	}
	// Plugin state lives as long as the process: a reload keeps it.
	first := g.Do(gt.Case{Path: "/count/x"}).Header.Get("X-Count")
	g.Reload()
	second := g.Do(gt.Case{Path: "/count/x"}).Header.Get("X-Count")
	if first == "" || second == first {
		t.Errorf("counter %q then %q: the plugin's state should carry over a reload", first, second)
	}
}

// TestPluginHookLeavesNil runs hooks that leave the request without its URL or header map, or
// the response without its header map or body: the client gets a clean 500 naming nothing of
// the plugin (the log names the hook), or for a missing response body an empty one, never a
// dropped connection; the gateway keeps serving.
func TestPluginHookLeavesNil(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := func(id string, cm apidef.MiddlewareSection) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		cm.Driver = "goplugin"
		d.CustomMiddleware = cm
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("nil-url", apidef.MiddlewareSection{Pre: hooks(so, "NilURL")}),
		api("nil-header", apidef.MiddlewareSection{Post: hooks(so, "NilHeader")}),
		api("nil-resp-header", apidef.MiddlewareSection{Response: hooks(so, "NilResponseHeader")}),
		api("nil-resp-body", apidef.MiddlewareSection{Response: hooks(so, "NilResponseBody")}),
		gt.API("healthy", "/healthy/", up.URL),
	}})
	internal := `"error": "Internal Server Error"`
	g.Run(t,
		gt.Case{Name: "a nil URL", Path: "/nil-url/x", Code: 500, BodyMatch: internal},
		gt.Case{Name: "a nil request header", Path: "/nil-header/x", Code: 500, BodyMatch: internal},
		gt.Case{Name: "a nil response header", Path: "/nil-resp-header/x", Code: 500, BodyMatch: internal, HeadersNotPresent: []string{"X-Echo"}},
		gt.Case{Name: "a nil response body is an empty one", Path: "/nil-resp-body/x", Code: 200, BodyEmpty: true,
			HeadersMatch: map[string]string{"Content-Length": "0", "X-Echo": "1"}},
		gt.Case{Name: "the gateway still serves", Path: "/healthy/x", Code: 200},
	)
	for _, want := range []string{
		`hook=pre symbol=NilURL`, `left the request without a URL`,
		`hook=post symbol=NilHeader`, `left the request without a header map`,
		`hook=response symbol=NilResponseHeader`, `left the response without a header map`,
	} {
		if !strings.Contains(g.Logs(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	for _, seen := range up.Requests() {
		if strings.HasPrefix(seen.Path, "/nil-url") || strings.HasPrefix(seen.Path, "/nil-header") {
			t.Errorf("the upstream received %q", seen.Path)
		}
	}
}

// TestPluginAuth covers auth_check plugins: the session they set passes through expiry, access
// rights and rate limits like any key, and a plugin that neither answers nor sets a session
// never lets a request in.
func TestPluginAuth(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	authAPI := func(id, sym string) *apidef.APIDefinition {
		d := gt.Keyed(gt.API(id, "/"+id+"/", up.URL))
		d.CustomPluginAuthEnabled = true
		d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", AuthCheck: apidef.MiddlewareDefinition{Name: sym, Path: so}}
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		authAPI("noop", "AuthNoop"), authAPI("limited", "AuthFromHeader"), authAPI("other", "AuthFromHeader"),
		authAPI("expired", "ExpiredSession"), authAPI("endpoints", "AuthEndpointLimits"), authAPI("zero-per", "AuthZeroPer"),
		authAPI("broken-endpoints", "AuthBrokenEndpointLimit"),
	}})
	user := map[string]string{"X-User": "carol"}
	g.Run(t,
		gt.Case{Name: "a plugin that does nothing never lets in", Path: "/noop/x", Code: 400, BodyMatch: "Session state is missing"},
		gt.Case{Name: "plugin refuses", Path: "/limited/x", Code: 401, BodyEquals: "who are you?"},
		gt.Case{Name: "plugin lets in (1)", Path: "/limited/x", Headers: user, Code: 200},
		gt.Case{Name: "plugin lets in (2)", Path: "/limited/x", Headers: user, Code: 200},
		gt.Case{Name: "the session's rate limit applies", Path: "/limited/x", Headers: user, Code: 429},
		gt.Case{Name: "the session's access rights apply", Path: "/other/x", Headers: user, Code: 403},
		gt.Case{Name: "expiry applies", Path: "/expired/x", Code: 401, BodyMatch: "Key has expired"},
		// A session's per-endpoint limit applies to its endpoint only.
		gt.Case{Name: "per-endpoint limit (1)", Path: "/endpoints/x", Code: 200},
		gt.Case{Name: "per-endpoint limit reached", Path: "/endpoints/x", Code: 429},
		gt.Case{Name: "another endpoint has the session's rate", Path: "/endpoints/y", Code: 200},
		// A session whose limits could not be enforced as written is not served.
		gt.Case{Name: "a rate with a per of 0 refuses the request", Path: "/zero-per/x", Code: 500},
		gt.Case{Name: "an endpoint limit's path that is no pattern refuses the request", Path: "/broken-endpoints/x", Code: 500},
		gt.Case{Name: "the stored session is readable", Admin: true, Path: "/tyk/keys/carol", Code: 200, BodyMatch: `"alias": "carol"`},
	)
	if n := len(up.Requests()); n != 4 {
		t.Errorf("upstream received %d requests, want 4", n)
	}
	if !strings.Contains(g.Logs(), "auth_check plugin neither answered the request nor called sdk.SetSession") {
		t.Error("the do-nothing auth plugin was not logged")
	}
	for _, want := range []string{"hook AuthZeroPer cannot be served", "per is 0",
		"hook AuthBrokenEndpointLimit cannot be served", `access_rights[\"broken-endpoints\"].endpoints[0]: endpoint path`} {
		if !strings.Contains(g.Logs(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestPluginAuthStripsAuthData: with strip_auth_data, the credentials an auth_check plugin read
// do not reach the upstream. As Tyk's StripAuth does after any auth, the token source of each
// auth_configs entry, or of the legacy auth object, is stripped once the plugin let the request
// in; without strip_auth_data the header goes on.
func TestPluginAuthStripsAuthData(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	for _, c := range []struct {
		name  string
		strip bool
		set   func(d *apidef.APIDefinition)
	}{
		{"the legacy auth object", true, func(d *apidef.APIDefinition) { d.Auth = apidef.AuthConfig{AuthHeaderName: "X-User"} }},
		{"an auth_configs entry", true, func(d *apidef.APIDefinition) {
			d.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {AuthHeaderName: "X-User"}}
		}},
		{"not stripping", false, func(d *apidef.APIDefinition) { d.Auth = apidef.AuthConfig{AuthHeaderName: "X-User"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := gt.NewUpstream(t)
			// AuthFromHeader lets the user named by X-User in to the API "limited".
			d := gt.Keyed(gt.API("limited", "/limited/", up.URL))
			d.CustomPluginAuthEnabled, d.StripAuthData = true, c.strip
			d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", AuthCheck: apidef.MiddlewareDefinition{Name: "AuthFromHeader", Path: so}}
			c.set(d)
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{d}})
			gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/limited/x", Headers: map[string]string{"X-User": "carol", "X-Other": "kept"}}))
			seen, ok := up.Last()
			if !ok {
				t.Fatal("the upstream received nothing")
			}
			if v, found := seen.Headers["X-User"]; found == c.strip {
				t.Errorf("strip_auth_data %v: the upstream got X-User %q (found %v)", c.strip, v, found)
			}
			if seen.Headers["X-Other"] != "kept" {
				t.Errorf("a header no auth config names was stripped: %v", seen.Headers)
			}
		})
	}
}

// TestPluginLateWriteStaysInItsRequest: a plugin that keeps the writer its hook was handed and
// writes to it after its request was answered reaches nothing. net/http hands a finished
// response's buffers to the next response it serves, so such a write once landed in another
// client's body and broke its connection's framing; now it gets reqctx.ErrRequestEnded.
func TestPluginLateWriteStaysInItsRequest(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	keep := gt.API("keep", "/keep/", up.URL)
	keep.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "KeepAndAnswer")}
	other := gt.API("other", "/other/", up.URL)
	other.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "WriteKept")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keep, other}})
	victim := &http.Client{Transport: &http.Transport{}} // another client, connections of its own
	defer victim.CloseIdleConnections()
	for i := range 20 {
		if r := g.Do(gt.Case{Path: "/keep/x"}); r.Code != 200 || r.Body != "mine" {
			t.Fatalf("round %d: /keep/x: %d %q", i, r.Code, r.Body)
		}
		resp, err := victim.Get(g.URL + "/other/x")
		if err != nil {
			t.Fatalf("round %d: another client's request: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("round %d: another client's request: reading the body: %v", i, err)
		}
		if resp.StatusCode != 200 || strings.Contains(string(body), "LEAKED") {
			t.Fatalf("round %d: another client got %d with bytes a plugin wrote to an earlier request's writer:\n%.200s", i, resp.StatusCode, body)
		}
		// The upstream's echo shows what the late write and flush returned to the plugin.
		if !strings.Contains(string(body), `"X-Late-Write": "false"`) || !strings.Contains(string(body), `"X-Late-Flush": "false"`) {
			t.Fatalf("round %d: the late write or flush did not fail:\n%.600s", i, body)
		}
	}
}

// TestResponseHookBodyOnBodylessStatus: a response hook that rewrites every body also runs on
// 204 and 304 answers, which carry none: the client still gets them, well formed, instead of a
// connection the proxy aborted over a body it could not send.
func TestResponseHookBodyOnBodylessStatus(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/etag":
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			_, _ = w.Write([]byte(`[1,2,3]`))
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer up.Close()
	api := gt.API("wrap", "/wrap/", up.URL)
	api.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Response: hooks(so, "WrapBody")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}})
	g.Run(t, gt.Case{Name: "200 is wrapped", Path: "/wrap/etag", Code: 200, BodyEquals: `{"data":[1,2,3]}`})
	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		code       int
	}{
		{"304", "/wrap/etag", map[string]string{"If-None-Match": `"v1"`}, http.StatusNotModified},
		{"204", "/wrap/nocontent", nil, http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL+tc.path, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := g.Client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v (the gateway dropped the connection)", tc.path, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || len(body) != 0 {
				t.Errorf("status %d, body %q; want %d and no body", resp.StatusCode, body, tc.code)
			}
		})
	}
	if tc := g.Do(gt.Case{Path: "/wrap/etag", Headers: map[string]string{"If-None-Match": `"v1"`}}); tc.Header.Get("ETag") != `"v1"` {
		t.Errorf("the 304's headers were not kept: ETag %q", tc.Header.Get("ETag"))
	}
}

// TestPluginLoadFailuresFailClosed points hooks at files that cannot be loaded: their APIs
// answer 500 with a clear error, /hello names API, hook, file and reason, other APIs serve.
func TestPluginLoadFailuresFailClosed(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	initPanic := plugintest.Build(t, "internal/plugintest/testdata/initpanic")
	up := gt.NewUpstream(t)
	api := func(id string, cm apidef.MiddlewareSection) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		cm.Driver = "goplugin"
		d.CustomMiddleware = cm
		return d
	}
	perPath := gt.API("perpath", "/perpath/", up.URL)
	perPath.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{{Path: "/guarded", Method: "GET", PluginPath: "nope.so", SymbolName: "X"}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("missing", apidef.MiddlewareSection{Pre: hooks("does-not-exist.so", "Hook")}),
		api("nosymbol", apidef.MiddlewareSection{Pre: hooks(so, "NoSuchHook")}),
		api("wrongtype", apidef.MiddlewareSection{Post: hooks(so, "WrongType")}),
		api("initpanic", apidef.MiddlewareSection{Pre: hooks(initPanic, "Hook")}),
		api("badresp", apidef.MiddlewareSection{Response: hooks(so, "Panic")}),
		perPath,
		gt.API("healthy", "/healthy/", up.URL),
	}})
	unavailable := "This API is unavailable: a plugin it needs could not be loaded"
	g.Run(t,
		gt.Case{Name: "missing file", Path: "/missing/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "missing symbol", Path: "/nosymbol/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "wrong type", Path: "/wrongtype/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "panic in init", Path: "/initpanic/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "a request hook given as response hook", Path: "/badresp/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "per-endpoint failure guards its endpoint", Path: "/perpath/guarded", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "other endpoints of that API serve", Path: "/perpath/open", Code: 200},
		gt.Case{Name: "other APIs serve", Path: "/healthy/x", Code: 200},
	)
	if got := len(up.Requests()); got != 2 {
		t.Errorf("upstream received %d requests, want 2 (the open endpoint and the healthy API)", got)
	}
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	for _, want := range []string{
		`"status":"warn"`,
		`plugin:missing:pre:Hook`, `plugin file not found: tried`, filepath.Join(g.Config.MiddlewarePath, "does-not-exist_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so"),
		`plugin:nosymbol:pre:NoSuchHook`, `has no exported symbol \"NoSuchHook\"; the file exports:`, `Counter func(http.ResponseWriter, *http.Request) (fits pre`,
		`more (gatehouse plugin check `,
		`plugin:wrongtype:post:WrongType`, `symbol \"WrongType\" is func(int) int, but a request hook must be func(http.ResponseWriter, *http.Request)`,
		`plugin:initpanic:pre:Hook`, `panicked while initialising: this plugin fails while initialising`,
		`plugin:badresp:response:Panic`,
		`plugin:perpath:endpoint:X`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("/hello lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/hello:\n%s", h)
	}
}

// TestFailOnPluginLoadError makes a plugin that cannot load stop the start, and a reload.
func TestFailOnPluginLoadError(t *testing.T) {
	up := gt.NewUpstream(t)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.AppPath, cfg.MiddlewarePath, cfg.FailOnPluginLoadError = dir, dir, true
	def := gt.API("a", "/a/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("missing.so", "Hook")}
	if err := os.WriteFile(filepath.Join(dir, "a.json"), mustJSON(t, def), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.New(gateway.Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "fail_on_plugin_load_error") || !strings.Contains(err.Error(), `pre hook "Hook"`) {
		t.Fatalf("gateway.New = %v, want a refusal naming the hook", err)
	}

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("ok", "/ok/", up.URL)},
		Config: func(c *config.Config) { c.FailOnPluginLoadError = true }})
	// A plugin that is slow to open and then fails must stop the start or reload too: its
	// reloads wait for plugins' init functions without the usual budget.
	if b := g.GW.OpenBudget(); b < 24*time.Hour {
		t.Errorf("with fail_on_plugin_load_error a reload waits %v for the plugins it opens, want no bound", b)
	}
	g.WriteAPI(def)
	if err := g.GW.Reload(t.Context(), true); err == nil {
		t.Fatal("a reload with a broken plugin succeeded")
	}
	g.Run(t,
		gt.Case{Name: "the old snapshot serves", Path: "/ok/x", Code: 200},
		gt.Case{Name: "the broken API is not served", Path: "/a/x", Code: 404},
	)
}

// TestPluginInitPanicPoisonsItsPackages loads usea while the init of a package it shares with
// useb (and not with the gateway) panics: its API fails closed. Once the cause is gone, an API
// using useb is added: Go would stop the process opening useb (the package's initialisation was
// left in progress), so the gateway refuses it, says why and what to do, and keeps serving.
func TestPluginInitPanicPoisonsItsPackages(t *testing.T) {
	usea := plugintest.Build(t, "internal/plugintest/testdata/usea")
	useb := plugintest.Build(t, "internal/plugintest/testdata/useb")
	flag := filepath.Join(t.TempDir(), "panic")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEHOUSE_TEST_SHARED_PANIC", flag)
	up := gt.NewUpstream(t)
	api := func(id, so string) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Hook")}
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api("usea", usea), gt.API("healthy", "/healthy/", up.URL)}})
	unavailable := "This API is unavailable: a plugin it needs could not be loaded"
	g.Run(t, gt.Case{Name: "usea fails closed", Path: "/usea/x", Code: 500, BodyMatch: unavailable})
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	g.WriteAPI(api("useb", useb))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "useb is refused", Path: "/useb/x", Code: 500, BodyMatch: unavailable},
		gt.Case{Name: "the gateway still serves", Path: "/healthy/x", Code: 200},
	)
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	for _, want := range []string{
		`plugin:useb:pre:Hook`, `contains package github.com/gatehouse/gatehouse/internal/plugintest/testdata/shared`,
		`whose initialisation panicked earlier in this process`, `restart the gateway to load this plugin`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("/hello lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/hello:\n%s", h)
	}
}

// TestPluginCachePruned: the start and each reload remove the plugin cache's old files of
// contents not loaded in this process (earlier releases, from an earlier process), and keep
// the copy of the plugin the gateway serves.
func TestPluginCachePruned(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	data, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	mw := t.TempDir()
	cache := filepath.Join(mw, ".plugin-cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-24 * time.Hour)
	plant := func(name string, data []byte) string {
		f := filepath.Join(cache, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, long, long); err != nil {
			t.Fatal(err)
		}
		return f
	}
	sum := sha256.Sum256(data)
	serving := plant(hex.EncodeToString(sum[:])+".so", data)
	release := func(n int) string {
		sum := sha256.Sum256([]byte(fmt.Sprintf("release %d of %s", n, mw)))
		return plant(hex.EncodeToString(sum[:])+".so", []byte("an earlier release"))
	}
	first := release(1)

	up := gt.NewUpstream(t)
	def := gt.API("p", "/p/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "SetHeaderOnly")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) { c.MiddlewarePath = mw }})
	check := func(when string, gone string) {
		t.Helper()
		g.Run(t, gt.Case{Name: "serves " + when, Path: "/p/x", Code: 200, HeadersMatch: map[string]string{"X-Hook": "was-here"}})
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s: an earlier release's cache file is still there", when)
		}
		if _, err := os.Stat(serving); err != nil {
			t.Errorf("%s: the served plugin's cache file is gone: %v", when, err)
		}
	}
	check("after the start", first)
	second := release(2)
	g.Reload()
	check("after a reload", second)
}

// TestPluginMismatchRefusedBeforeOpen builds a plugin with -trimpath flipped against the test
// binary: every shared package compiles differently, and the pre-flight check refuses the file
// with the difference and the fix, without ever opening it.
func TestPluginMismatchRefusedBeforeOpen(t *testing.T) {
	so := plugintest.BuildVariant(t, "internal/plugintest/testdata/hot", "flipped-trimpath", func(flags []string) []string {
		for i, f := range flags {
			if f == "-trimpath" {
				return append(flags[:i:i], flags[i+1:]...)
			}
		}
		return append(flags, "-trimpath")
	})
	up := gt.NewUpstream(t)
	def := gt.API("mismatch", "/mismatch/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Path: "/mismatch/x", Code: 500, BodyMatch: "a plugin it needs could not be loaded"})
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	for _, want := range []string{"cannot load into this gateway", "build setting -trimpath", "package net/http", "gatehouse plugin build"} {
		if !strings.Contains(h, want) {
			t.Errorf("/hello lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(g.Logs(), "plugin was built with a different version of package") {
		t.Error("the file was opened: Go's own error appeared")
	}
}

// TestPluginHooksRunInDeclaredOrder lists two hooks together in each phase, in both orders: they
// run in the order declared.
func TestPluginHooksRunInDeclaredOrder(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := func(id string, cm apidef.MiddlewareSection) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		cm.Driver = "goplugin"
		d.CustomMiddleware = cm
		return d
	}
	endpoints := gt.API("endpoint", "/endpoint/", up.URL)
	entry := func(path, sym string) apidef.GoPluginMeta {
		return apidef.GoPluginMeta{Path: path, Method: "GET", PluginPath: so, SymbolName: sym}
	}
	endpoints.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{
			entry("/ab", "OrderA"), entry("/ab", "OrderB"), entry("/ba", "OrderB"), entry("/ba", "OrderA"),
		}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("pre-ab", apidef.MiddlewareSection{Pre: hooks(so, "OrderA", "OrderB")}),
		api("pre-ba", apidef.MiddlewareSection{Pre: hooks(so, "OrderB", "OrderA")}),
		api("post-ab", apidef.MiddlewareSection{Post: hooks(so, "OrderA", "OrderB")}),
		api("post-ba", apidef.MiddlewareSection{Post: hooks(so, "OrderB", "OrderA")}),
		api("response-ab", apidef.MiddlewareSection{Response: hooks(so, "OrderResponseA", "OrderResponseB")}),
		api("response-ba", apidef.MiddlewareSection{Response: hooks(so, "OrderResponseB", "OrderResponseA")}),
		endpoints,
	}})
	for path, want := range map[string]string{
		"/pre-ab/x": "a,b", "/pre-ba/x": "b,a",
		"/post-ab/x": "a,b", "/post-ba/x": "b,a",
		"/response-ab/x": "a,b", "/response-ba/x": "b,a",
		"/endpoint/ab": "a,b", "/endpoint/ba": "b,a",
	} {
		r := g.Do(gt.Case{Path: path})
		if got := strings.Join(r.Header.Values("X-Order"), ","); r.Code != 200 || got != want {
			t.Errorf("%s: %d, hooks ran in order %q, want %q", path, r.Code, got, want)
		}
	}
}

// TestUnchangedFailingPluginNotRetried points a hook at a file that cannot load and reloads: the
// file is opened (and its failure logged) once, not at every reload.
func TestUnchangedFailingPluginNotRetried(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.so")
	// A content new to the process on each run (-count): the loader remembers those it refused.
	if err := os.WriteFile(bad, []byte("not a plugin: "+bad), 0o644); err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t)
	def := gt.API("bad", "/bad/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(bad, "Hook"), Post: hooks(bad, "Hook")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Reload()
	g.Reload()
	g.Run(t, gt.Case{Path: "/bad/x", Code: 500})
	if n := strings.Count(g.Logs(), `msg="plugin not loaded" file=`+bad); n != 1 {
		t.Errorf("the failing file was opened %d times over a start, two hooks and two reloads, want 1", n)
	}
}

// TestPluginKeepsRequest: a plugin may keep the request and the writer its hook was handed
// after the hook returned (handing them to a goroutine of its own), and the gateway cannot tell
// when it lets go. What it reaches through them must stay that request's: the sdk answers with
// the token and session of the request it kept, never those of a later request served by the
// memory the gateway reuses (its pooled per-request struct), and the writer a later hook is
// handed is never the one kept. Keyed requests with two keys in turn, on an API whose post
// hooks report on the request kept before (Peek), then keep the current one (Keep).
func TestPluginKeepsRequest(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := gt.Keyed(gt.API("keep", "/keep/", up.URL))
	api.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "Peek", "Keep")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}})
	access := map[string]apidef.AccessDefinition{"keep": {APIID: "keep", Versions: []string{"Default"}}}
	keys := []string{
		g.CreateKey(&apidef.SessionState{Alias: "first", AccessRights: access}),
		g.CreateKey(&apidef.SessionState{Alias: "second", AccessRights: access}),
	}
	aliases := []string{"first", "second"}
	for i := range 20 {
		k := i % 2
		r := g.Do(gt.Case{Path: "/keep/x", Headers: map[string]string{"Authorization": keys[k]}})
		if r.Code != 200 {
			t.Fatalf("request %d: status %d: %s", i, r.Code, r.Body)
		}
		if i == 0 {
			continue
		}
		prev := 1 - k
		if got := r.Header.Get("X-Kept-Token"); got != keys[prev] {
			t.Errorf("request %d: the request kept from before says its token is %q, want %q (its own)", i, got, keys[prev])
		}
		if got := r.Header.Get("X-Kept-Alias"); got != aliases[prev] {
			t.Errorf("request %d: the request kept from before has the session of %q, want %q (its own)", i, got, aliases[prev])
		}
		if got := r.Header.Get("X-Kept-Same-Writer"); got != "false" {
			t.Errorf("request %d: the hook was handed the writer kept from an earlier request (X-Kept-Same-Writer %q)", i, got)
		}
	}
}
