package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

func TestGatewayAPISecret(t *testing.T) {
	g := gt.Start(t, gt.Options{})
	for _, h := range []map[string]string{nil, {"X-Tyk-Authorization": "wrong"}, {"X-Tyk-Authorization": ""}, {"X-Tyk-Authorization": gt.Secret + "x"}} {
		gt.Check(t, gt.Case{Code: 403, BodyMatch: `"message": "Attempted administrative access with invalid or missing key!"`},
			g.Do(gt.Case{Path: "/tyk/apis", Headers: h}))
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/tyk/apis", Admin: true}))
	// /hello needs no secret.
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"status": "pass"`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
}

func TestGatewayAPIRefusesBadSecrets(t *testing.T) {
	for name, secret := range map[string]string{"empty": "", "Tyk sample": config.TykSampleSecret} {
		t.Run(name, func(t *testing.T) {
			g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.Secret = secret }})
			gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Path: "/tyk/apis", Headers: map[string]string{"X-Tyk-Authorization": secret}}))
			gt.Check(t, gt.Case{Code: 200, BodyMatch: `"status": "warn"(?s:.*)"gateway_api"(?s:.*)the Gateway API is not running`},
				g.Do(gt.Case{Admin: true, Path: "/hello"}))
		})
	}
}

// portTakenTB is a test's TB whose Fatalf, while starting is set, panics with portTaken when
// the gateway could not listen because its port was taken, so that the start can be tried again.
type portTakenTB struct {
	testing.TB
	starting *bool
}

type portTaken struct{}

func (p portTakenTB) Fatalf(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); *p.starting && strings.Contains(msg, "address already in use") {
		p.TB.Log(msg)
		panic(portTaken{})
	}
	p.TB.Helper()
	p.TB.Fatalf(format, args...)
}

// startOnFreePort starts a gateway whose configuration names a port (edit sets it in the
// configuration) that was free a moment before: a port the gateway must bind itself, as the
// Gateway API's own. Another process may take it meanwhile; the start is then tried again with
// another port.
func startOnFreePort(t *testing.T, o gt.Options, edit func(c *config.Config, port int)) (*gt.Gateway, int) {
	t.Helper()
	starting := true
	tb := portTakenTB{TB: t, starting: &starting}
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		oo := o
		oo.Config = func(c *config.Config) {
			if o.Config != nil {
				o.Config(c)
			}
			edit(c, port)
		}
		g, taken := func() (g *gt.Gateway, taken bool) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(portTaken); !ok {
						panic(r)
					}
					taken = true
				}
			}()
			return gt.Start(tb, oo), false
		}()
		if !taken {
			starting = false
			return g, port
		}
		if attempt == 5 {
			t.Fatal("the port was taken before the gateway listened on it, five times in a row")
		}
	}
}

func TestGatewayAPIOnItsOwnListener(t *testing.T) {
	up := gt.NewUpstream(t)
	g, port := startOnFreePort(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("root", "/", up.URL)}}, func(c *config.Config, port int) {
		c.ControlAPIHostname = "127.0.0.1"
		c.ControlAPIPort = port
	})
	if got, want := g.Server.ControlAddr(), "127.0.0.1:"+strconv.Itoa(port); got != want {
		t.Fatalf("control address %q, want %q", got, want)
	}
	// On the proxy listener /tyk/ is just a path of the API at "/": it goes upstream.
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Echo": "1"}}, g.Do(gt.Case{Path: "/tyk/apis", Admin: true}))
	req, _ := http.NewRequest("GET", "http://"+g.Server.ControlAddr()+"/tyk/apis", nil)
	req.Header.Set("X-Tyk-Authorization", gt.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Gateway API on its listener: %d", resp.StatusCode)
	}
}

func TestGatewayAPIManagesAPIs(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	def := gt.API("made", "/made/", up.URL)
	def.ConfigData = map[string]interface{}{"k": "v"}
	body, _ := json.Marshal(def)
	// Unknown fields are kept as sent.
	withExtra := strings.Replace(string(body), "{", `{"enable_detailed_recording": true, `, 1)

	g.Run(t,
		gt.Case{Name: "create", Admin: true, Method: "POST", Path: "/tyk/apis", Body: withExtra, Code: 200,
			BodyMatch: `"key": "made"(?s:.*)"action": "added"`},
		gt.Case{Name: "not live before reload", Path: "/made/x", Code: 404},
		gt.Case{Name: "create again conflicts", Admin: true, Method: "POST", Path: "/tyk/apis", Body: withExtra, Code: 400,
			BodyMatch: "exists"},
		gt.Case{Name: "get", Admin: true, Path: "/tyk/apis/made", Code: 200, BodyMatch: `"listen_path": "/made/"`},
		gt.Case{Name: "list", Admin: true, Path: "/tyk/apis", Code: 200, BodyMatch: `"api_id": "made"`},
		gt.Case{Name: "get missing", Admin: true, Path: "/tyk/apis/nope", Code: 404},
		gt.Case{Name: "reload", Admin: true, Path: "/tyk/reload?block=true", Code: 200, BodyMatch: `"status": "ok"`},
		gt.Case{Name: "live after reload", Path: "/made/x", Code: 200},
	)
	saved, err := os.ReadFile(filepath.Join(g.AppPath, "made.json"))
	if err != nil || !strings.Contains(string(saved), "enable_detailed_recording") {
		t.Errorf("stored file %s (err %v) lost the unknown field", saved, err)
	}

	def.Proxy.ListenPath = "/moved/"
	body, _ = json.Marshal(def)
	g.Run(t,
		gt.Case{Name: "update", Admin: true, Method: "PUT", Path: "/tyk/apis/made", Body: string(body), Code: 200, BodyMatch: `"action": "modified"`},
		gt.Case{Name: "update missing", Admin: true, Method: "PUT", Path: "/tyk/apis/other", Body: strings.Replace(string(body), `"made"`, `"other"`, -1), Code: 404},
		gt.Case{Name: "update with another id", Admin: true, Method: "PUT", Path: "/tyk/apis/made", Body: strings.Replace(string(body), `"api_id":"made"`, `"api_id":"x"`, 1), Code: 400},
		gt.Case{Name: "reload", Admin: true, Path: "/tyk/reload/?block=true", Code: 200},
		gt.Case{Name: "old path gone", Path: "/made/x", Code: 404},
		gt.Case{Name: "new path", Path: "/moved/x", Code: 200},
		gt.Case{Name: "delete", Admin: true, Method: "DELETE", Path: "/tyk/apis/made", Code: 200, BodyMatch: `"action": "deleted"`},
		gt.Case{Name: "delete missing", Admin: true, Method: "DELETE", Path: "/tyk/apis/made", Code: 404},
		gt.Case{Name: "still served until a reload", Path: "/moved/x", Code: 200},
		gt.Case{Name: "group reload", Admin: true, Path: "/tyk/reload/group", Code: 200, BodyMatch: `"status": "ok"`},
	)
	// A group reload does not wait for the nodes to reload (with the memory store, this one).
	eventually(t, "the group reload takes the deleted API down", func() bool {
		return g.Do(gt.Case{Path: "/moved/x"}).Code == http.StatusNotFound
	})
}

// TestGatewayAPICreateGeneratesID checks that POST /tyk/apis without an api_id stores the
// definition under a generated id, which the answer gives.
func TestGatewayAPICreateGeneratesID(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	def := gt.API("", "/gen/", up.URL)
	body, _ := json.Marshal(def)
	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(body)})
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`}, r)
	var out struct{ Key string }
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil || out.Key == "" {
		t.Fatalf("answer %s names no generated id", r.Body)
	}
	if err := apidef.ValidateAPIID(out.Key); err != nil {
		t.Errorf("generated id %q: %v", out.Key, err)
	}
	g.Run(t,
		gt.Case{Name: "stored under the id", Admin: true, Path: "/tyk/apis/" + out.Key, Code: 200,
			BodyMatch: `"api_id": "` + out.Key + `"(?s:.*)"listen_path": "/gen/"`},
		gt.Case{Name: "serves after reload", Admin: true, Path: "/tyk/reload?block=true", Code: 200},
		gt.Case{Name: "served", Path: "/gen/x", Code: 200},
	)
	if _, err := os.Stat(filepath.Join(g.AppPath, out.Key+".json")); err != nil {
		t.Errorf("no file for the generated id: %v", err)
	}
	// A second definition without an id gets another one.
	def.Proxy.ListenPath = "/gen2/"
	body, _ = json.Marshal(def)
	r2 := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(body)})
	gt.Check(t, gt.Case{Code: 200}, r2)
	if strings.Contains(r2.Body, out.Key) {
		t.Errorf("second generated id repeats the first: %s", r2.Body)
	}
}

// TestGatewayAPIUpdateNeedsStoredAPI checks that an update of an API that is not stored (deleted
// after the request came in) writes nothing: the check is made as the definition is stored.
func TestGatewayAPIUpdateNeedsStoredAPI(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	def := gt.API("gone", "/gone/", up.URL)
	raw, _ := json.Marshal(def)
	if err := g.GW.SaveAPI(t.Context(), def, raw, false); !errors.Is(err, apistore.ErrNotFound) {
		t.Errorf("SaveAPI(update of a missing API) = %v, want ErrNotFound", err)
	}
	if entries, _ := os.ReadDir(g.AppPath); len(entries) != 0 {
		t.Errorf("app_path holds %d files, want none", len(entries))
	}
}

func TestGatewayAPIRefusesBadDefinitions(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("taken", "/taken/", up.URL)}})
	mk := func(mut func(*apidef.APIDefinition)) string {
		d := gt.API("new", "/new/", up.URL)
		mut(d)
		b, _ := json.Marshal(d)
		return string(b)
	}
	cases := []gt.Case{
		{Name: "not JSON", Body: `{"api_id": "x",`, BodyMatch: "line 1"},
		{Name: "no listen path", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "" }), BodyMatch: "listen_path"},
		{Name: "relative listen path", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "new" }), BodyMatch: "listen_path"},
		{Name: "dot segment", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "/a/../b" }), BodyMatch: "listen_path"},
		{Name: "regex junk", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "/{id:[0-9}" }), BodyMatch: "listen_path"},
		{Name: "huge listen path", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "/" + strings.Repeat("a", 10000) }), BodyMatch: "longer"},
		{Name: "bad target", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.TargetURL = "ftp://x" }), BodyMatch: "target_url"},
		{Name: "id with a slash", Body: mk(func(d *apidef.APIDefinition) { d.APIID = "../etc" }), BodyMatch: "api_id"},
		{Name: "unsupported OpenID", Body: mk(func(d *apidef.APIDefinition) { d.UseKeylessAccess = false; d.UseOpenID = true }), BodyMatch: "OpenID"},
		{Name: "bad black list pattern", Body: mk(func(d *apidef.APIDefinition) {
			d.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
				ExtendedPaths: apidef.ExtendedPathsSet{BlackList: []apidef.EndPointMeta{{Path: "/a(["}}}}
		}), BodyMatch: "not a valid pattern"},
		{Name: "listen path taken", Body: mk(func(d *apidef.APIDefinition) { d.Proxy.ListenPath = "/taken" }), BodyMatch: "already used by API \\\\\"taken\\\\\""},
	}
	for _, c := range cases {
		c.Admin, c.Method, c.Path, c.Code = true, "POST", "/tyk/apis", 400
		g.Run(t, c)
	}
	entries, _ := os.ReadDir(g.AppPath)
	if len(entries) != 1 {
		t.Errorf("app_path holds %d files, want only the original one", len(entries))
	}
	// The gateway is still serving.
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/taken/x"}))
}

func TestGatewayAPIKeys(t *testing.T) { gt.EachStore(t, testGatewayAPIKeys) }

func testGatewayAPIKeys(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, store)
	body := `{"alias": "bob", "rate": 100, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"]}}}`
	g.Run(t,
		gt.Case{Name: "custom key", Admin: true, Method: "POST", Path: "/tyk/keys/my-key-1", Body: body, Code: 200,
			BodyMatch: `"key": "my-key-1"(?s:.*)"action": "added"`},
		gt.Case{Name: "use it", Path: "/a/x", Headers: map[string]string{"Authorization": "my-key-1"}, Code: 200},
		gt.Case{Name: "get it", Admin: true, Path: "/tyk/keys/my-key-1", Code: 200, BodyMatch: `"alias": "bob"`},
		gt.Case{Name: "update it", Admin: true, Method: "PUT", Path: "/tyk/keys/my-key-1",
			Body: strings.Replace(body, `"bob"`, `"robert"`, 1), Code: 200, BodyMatch: `"action": "modified"`},
		gt.Case{Name: "updated", Admin: true, Path: "/tyk/keys/my-key-1", Code: 200, BodyMatch: `"alias": "robert"`},
		gt.Case{Name: "update missing", Admin: true, Method: "PUT", Path: "/tyk/keys/nope", Body: body, Code: 404},
		gt.Case{Name: "bad JSON", Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: `{"rate": "x"`, Code: 400},
		gt.Case{Name: "list", Admin: true, Path: "/tyk/keys", Code: 200, BodyMatch: `"keys": \[`},
		gt.Case{Name: "delete", Admin: true, Method: "DELETE", Path: "/tyk/keys/my-key-1", Code: 200, BodyMatch: `"action": "deleted"`},
		gt.Case{Name: "gone", Path: "/a/x", Headers: map[string]string{"Authorization": "my-key-1"}, Code: 403},
		gt.Case{Name: "delete missing", Admin: true, Method: "DELETE", Path: "/tyk/keys/my-key-1", Code: 404},
		gt.Case{Name: "unknown endpoint", Admin: true, Path: "/tyk/nothing", Code: 404},
	)
}

// TestGatewayAPISaveLoadsNoPlugins checks that saving a definition through the Gateway API does
// not load its plugins: a plugin opened can never be unloaded, and one named by its source
// folder would be built. It loads at the next reload.
func TestGatewayAPISaveLoadsNoPlugins(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		dir := filepath.Join(c.MiddlewarePath, "srcplugin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}})
	def := gt.API("src", "/src/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("srcplugin", "Hook")}
	body, _ := json.Marshal(def)
	const building = "building plugin from source"
	g.Run(t, gt.Case{Name: "save", Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(body), Code: 200})
	if strings.Contains(g.Logs(), building) {
		t.Error("saving the definition built its source plugin")
	}
	g.ReloadAndWait()
	if !strings.Contains(g.Logs(), building) {
		t.Error("the reload did not build the source plugin (so the check above proves nothing)")
	}
	gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/src/x"}))
}

// TestGatewayAPIWriteSeesFilesOnDisk: the Gateway API's writes read app_path through the
// reloads' memo of decoded files, and still see each file as it is on disk now: a definition
// edited or removed after the last reload counts in the checks of the next write.
func TestGatewayAPIWriteSeesFilesOnDisk(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL), gt.API("b", "/b/", up.URL)}})
	post := func(id, path string) gt.Response {
		body, _ := json.Marshal(gt.API(id, path, up.URL))
		return g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(body)})
	}
	// Twice the same write (the second one reads through the memo) and a reload in between.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `already used by API \\"a\\"`}, post("c", "/a/"))
	g.Run(t, gt.Case{Admin: true, Path: "/tyk/reload?block=true", Code: 200})
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `already used by API \\"a\\"`}, post("c", "/a/"))
	// a moves to /moved/ on disk, with no reload: /a/ is free, /moved/ taken.
	moved := gt.API("a", "/moved/", up.URL)
	raw, _ := json.Marshal(moved)
	if err := os.WriteFile(filepath.Join(g.AppPath, "a.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `listen path \\"/moved/\\" is already used by API \\"a\\"`}, post("d", "/moved/"))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`}, post("c", "/a/"))
	// b's file goes, with no reload: an update of b is refused, its delete finds nothing.
	if err := os.Remove(filepath.Join(g.AppPath, "b.json")); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(gt.API("b", "/b/", up.URL))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/b", Body: string(body)}))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/b"}))
	if _, err := os.Stat(filepath.Join(g.AppPath, "b.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("b.json after the refused update: %v, want none", err)
	}
}
