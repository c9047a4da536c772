package gateway_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

const oasPluginPkg = "internal/plugintest/testdata/oas"

// oasFixture reads a document of internal/oas/testdata with its plugin path and upstream
// replaced.
func oasFixture(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "oas", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(raw)))
}

// TestOASAndClassicSideBySide serves the orders OAS document (a lone file in app_path) beside a
// Classic API, through the same chain: token auth with a key created through the Gateway API,
// plugins at every hook and per operation reading GetOASDefinition and GetDefinition (in the
// response hook too), ignoreAuthentication, block, strip of the auth header, custom domain.
func TestOASAndClassicSideBySide(t *testing.T) {
	so := plugintest.Build(t, oasPluginPkg)
	up := gt.NewUpstream(t)
	classic := gt.Keyed(gt.API("classic", "/classic/", up.URL))
	classic.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Pre"), Response: hooks(so, "Response")}
	classic.ConfigData = map[string]interface{}{"team": "classic"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{classic}})
	g.WriteFile("orders.json", oasFixture(t, "orders.json", "PLUGIN_SO", so, "http://orders.internal.test:8080", up.URL))
	g.Reload()

	key := g.CreateKey(&apidef.SessionState{Alias: "alice", AccessRights: map[string]apidef.AccessDefinition{
		"orders":  {APIID: "orders", Versions: []string{"Default"}},
		"classic": {APIID: "classic", Versions: []string{"Default"}},
	}})
	host := "api.acme.test"
	withKey := map[string]string{"X-Order-Key": key}
	g.Run(t,
		gt.Case{Name: "no key", Host: host, Path: "/orders-api/orders", Code: 401},
		gt.Case{Name: "key in the wrong header", Host: host, Path: "/orders-api/orders", Headers: map[string]string{"Authorization": key}, Code: 401},
		gt.Case{Name: "other host", Path: "/orders-api/orders", Headers: withKey, Code: 404},
		gt.Case{Name: "every global hook", Host: host, Path: "/orders-api/orders", Headers: withKey, Code: 200,
			HeadersMatch: map[string]string{
				"X-Pre-Title": "Orders", "X-Pre-Team": "orders (oas)",
				"X-Response-Title": "Orders", "X-Response-Team": "orders (oas)",
			}},
	)
	seen, _ := up.Last()
	if seen.Path != "/orders" || seen.Headers["X-Pre"] != "1" || seen.Headers["X-Post-Auth"] != "alice" ||
		seen.Headers["X-Post"] != "Orders" || seen.Headers["X-Per-Operation"] != "" {
		t.Errorf("upstream saw %s %v", seen.Path, seen.Headers)
	}
	if _, ok := seen.Headers["X-Order-Key"]; ok {
		t.Errorf("stripAuthorizationData: the upstream received the key")
	}

	g.Run(t,
		gt.Case{Name: "per-operation plugin, first entry only", Host: host, Path: "/orders-api/orders/42", Headers: withKey, Code: 200},
	)
	if seen, _ := up.Last(); seen.Path != "/orders/42" || seen.Headers["X-Per-Operation"] != "1" {
		t.Errorf("getOrder: upstream saw %s %v", seen.Path, seen.Headers)
	}
	g.Run(t,
		gt.Case{Name: "the operation's plugin is for its method only", Method: "DELETE", Host: host, Path: "/orders-api/orders/42", Headers: withKey, Code: 200},
	)
	if seen, _ := up.Last(); seen.Method != "DELETE" || seen.Headers["X-Per-Operation"] != "" {
		t.Errorf("deleteOrder: upstream saw %s %v", seen.Method, seen.Headers)
	}
	g.Run(t,
		gt.Case{Name: "ignoreAuthentication", Host: host, Path: "/orders-api/health", Code: 200,
			HeadersMatch: map[string]string{"X-Pre-Title": "Orders"}},
		gt.Case{Name: "ignoreAuthentication covers its operation's path, not the paths below it", Host: host, Path: "/orders-api/health/admin", Code: 401},
		gt.Case{Name: "block", Host: host, Path: "/orders-api/admin/stats", Headers: withKey, Code: 403, BodyMatch: "Requested endpoint is forbidden"},
		gt.Case{Name: "the Classic API, same key", Path: "/classic/get", Headers: map[string]string{"Authorization": key}, Code: 200,
			HeadersMatch: map[string]string{"X-Pre-Title": "none", "X-Pre-Team": "classic", "X-Response-Title": "none"}},
		gt.Case{Name: "nothing refused", Admin: true, Path: "/hello", Code: 200, BodyMatch: `"status": "pass"`},
	)
	// The Gateway API lists the OAS API in its Classic form, and refuses a Classic definition
	// over it, as Tyk does.
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/orders"})
	var listed apidef.APIDefinition
	if r.Code != 200 || json.Unmarshal([]byte(r.Body), &listed) != nil || !listed.IsOAS || listed.Proxy.ListenPath != "/orders-api/" {
		t.Errorf("GET /tyk/apis/orders = %d %s", r.Code, r.Body)
	}
	g.Run(t, gt.Case{Name: "Classic PUT over an OAS API", Admin: true, Method: "PUT", Path: "/tyk/apis/orders",
		Body: `{"api_id": "orders", "use_keyless": true, "proxy": {"listen_path": "/orders-api/", "target_url": "` + up.URL + `"}}`,
		Code: 400, BodyMatch: "this API endpoint only supports Tyk Classic APIs; please use the appropriate Tyk OAS API endpoint"})
}

// TestOASAllowList: with an allow entry, only allowed operations pass, by path and method. An
// operation's path is allowed exactly, as OpenAPI means it: not the paths below it, and its
// characters are literal, never a regular expression.
func TestOASAllowList(t *testing.T) {
	up := gt.NewUpstream(t)
	doc := `{"openapi": "3.1.0", "info": {"title": "Catalogue", "version": "2"},
	  "paths": {"/items": {"get": {"operationId": "listItems"}, "post": {"operationId": "addItem"}},
	            "/items/{sku}": {"get": {"operationId": "getItem"}},
	            "/status.json": {"get": {"operationId": "status"}},
	            "/a(b|c)": {"get": {"operationId": "literal"}}},
	  "x-tyk-api-gateway": {
	    "info": {"id": "catalogue", "name": "Catalogue", "state": {"active": true}},
	    "upstream": {"loadBalancing": {"enabled": true, "targets": [{"url": "` + up.URL + `", "weight": 2}]}},
	    "server": {"listenPath": {"value": "/catalogue/", "strip": true}},
	    "middleware": {"operations": {
	      "listItems": {"allow": {"enabled": true}},
	      "getItem": {"allow": {"enabled": true}},
	      "status": {"allow": {"enabled": true}},
	      "literal": {"allow": {"enabled": true}},
	      "addItem": {"allow": {"enabled": false}}}}}}`
	g := gt.Start(t, gt.Options{})
	g.WriteFile("catalogue.json", []byte(doc))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "allowed", Path: "/catalogue/items", Code: 200},
		gt.Case{Name: "allowed with a parameter", Path: "/catalogue/items/abc-1", Code: 200},
		gt.Case{Name: "method not allowed", Method: "POST", Path: "/catalogue/items", Code: 403, BodyMatch: "Requested endpoint is forbidden"},
		gt.Case{Name: "path not allowed", Path: "/catalogue/other", Code: 403},
		gt.Case{Name: "a path below an allowed one", Path: "/catalogue/items/abc-1/secret", Code: 403},
		gt.Case{Name: "a literal dot", Path: "/catalogue/status.json", Code: 200},
		gt.Case{Name: "a dot is no wildcard", Path: "/catalogue/statusXjson", Code: 403},
		gt.Case{Name: "a literal path with expression characters", Path: "/catalogue/a(b|c)", Code: 200},
		gt.Case{Name: "expression characters are no expression", Path: "/catalogue/ab", Code: 403},
	)
}

// TestOASPair serves Tyk's pair of files: the Classic file drives, plugins read the companion
// document, and deleting the API through the Gateway API removes both files.
func TestOASPair(t *testing.T) {
	so := plugintest.Build(t, oasPluginPkg)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	classic := gt.API("pets", "/pets/", up.URL)
	classic.IsOAS = true
	classic.ConfigData = map[string]interface{}{"team": "pets"}
	classic.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Pre")}
	g.WriteAPI(classic)
	g.WriteFile("pets-oas.json", []byte(`{"openapi": "3.0.3", "info": {"title": "Pet Store", "version": "1"}, "paths": {},
	  "x-tyk-api-gateway": {"info": {"id": "pets", "name": "Pets", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"}, "server": {"listenPath": {"value": "/pets/", "strip": true}}}}`))
	g.Reload()
	g.Run(t, gt.Case{Name: "served", Path: "/pets/x", Code: 200,
		HeadersMatch: map[string]string{"X-Pre-Title": "Pet Store", "X-Pre-Team": "pets (oas)"}})
	g.Run(t, gt.Case{Name: "delete", Admin: true, Method: "DELETE", Path: "/tyk/apis/pets", Code: 200})
	for _, f := range []string{"pets.json", "pets-oas.json"} {
		if _, err := os.Stat(filepath.Join(g.AppPath, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still in app_path after DELETE (%v)", f, err)
		}
	}
}

// TestOASRefused: what Gatehouse does not implement refuses the definition, with the reason in
// /hello; broken documents, lone companions and pairs without their document are reported; the
// other APIs still serve.
func TestOASRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("ok", "/ok/", up.URL)}})
	doc := func(id, ext string) []byte {
		return []byte(`{"openapi": "3.0.3", "info": {"title": "` + id + `", "version": "1"},
		  "paths": {"/a": {"get": {"operationId": "getA"}}},
		  "components": {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
		    "tok": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
		  "security": [{"jwt": []}],
		  "x-tyk-api-gateway": {"info": {"id": "` + id + `", "name": "` + id + `", "state": {"active": true}},
		    "upstream": {"url": "` + up.URL + `"}, "server": {"listenPath": {"value": "/` + id + `/"}` + ext + `}}}`)
	}
	g.WriteFile("jwt.json", doc("jwt", `, "authentication": {"enabled": true, "protectedResourceMetadata": {"enabled": true}, "securitySchemes": {"jwt": {"enabled": true, "source": "c2VjcmV0", "subjectClaims": ["sub", "email"]}}}`))
	g.WriteFile("compliant.json", doc("compliant", `, "authentication": {"enabled": true, "securityProcessingMode": "compliant", "securitySchemes": {"tok": {"enabled": true}}}`))
	g.WriteFile("rewrite.json", doc("rewrite", `}, "middleware": {"operations": {"getA": {"virtualEndpoint": {"enabled": true}}}`))
	g.WriteFile("overrides.json", doc("overrides", `}, "errorOverrides": {"enabled": true, "value": {"403": [{"match": {"flag": "NOPE"}, "response": {}}]}`))
	g.WriteFile("ghost-oas.json", doc("ghost", ""))
	g.WriteFile("broken.json", []byte(`{"openapi": "3.0.3", "x-tyk-api-gateway": {`))
	nodoc := gt.API("nodoc", "/nodoc/", up.URL)
	nodoc.IsOAS = true
	g.WriteAPI(nodoc)
	g.Reload()

	r := g.Do(gt.Case{Admin: true, Path: "/hello"})
	var h struct {
		Status  string
		Details map[string]struct{ Output string }
	}
	if err := json.Unmarshal([]byte(r.Body), &h); err != nil {
		t.Fatalf("/hello: %v: %s", err, r.Body)
	}
	for key, want := range map[string]string{
		"api:jwt":             "server.authentication.protectedResourceMetadata",
		"file:compliant.json": `security requirement 0 names "jwt", which is not enabled`,
		"api:rewrite":         "middleware.operations.getA.virtualEndpoint",
		"api:overrides":       `match.flag: "NOPE" is not one of Tyk's flags`,
		"api:nodoc":           "it sets is_oas but its OAS document nodoc-oas.json is missing",
		"file:ghost-oas.json": "not loaded: as in Tyk, a file named *-oas.json is the document of the Classic file ghost.json",
		"file:broken.json":    "a Tyk OAS definition that cannot be read",
	} {
		if d, ok := h.Details[key]; !ok || !strings.Contains(d.Output, want) {
			t.Errorf("/hello %s = %q, want it to contain %q", key, d.Output, want)
		}
	}
	g.Run(t,
		gt.Case{Name: "refused is not served", Path: "/rewrite/a", Code: 404},
		gt.Case{Name: "the rest serve", Path: "/ok/x", Code: 200},
	)
}

// TestOASPairLooserWarned: in Tyk's pair of files the Classic file serves (as in Tyk); when it
// lets in what the document would keep out (a document edited by hand to ask for a key), the
// log says so and what to do. A pair whose files agree (written through the Gateway API) is
// not warned about.
func TestOASPairLooserWarned(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	doc := func(id string) string {
		return `{"openapi": "3.0.3", "info": {"title": "Shop", "version": "1"}, "paths": {},
	  "security": [{"shopKey": []}],
	  "components": {"securitySchemes": {"shopKey": {"type": "apiKey", "in": "header", "name": "X-Shop-Key"}}},
	  "x-tyk-api-gateway": {"info": {"id": "` + id + `", "name": "Shop", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"},
	    "server": {"listenPath": {"value": "/` + id + `/", "strip": true},
	      "authentication": {"enabled": true, "securitySchemes": {"shopKey": {"enabled": true}}}}}}`
	}
	classic := gt.API("loose", "/loose/", up.URL) // keyless
	classic.IsOAS = true
	g.WriteAPI(classic)
	g.WriteFile("loose-oas.json", []byte(doc("loose")))
	g.Run(t, gt.Case{Name: "written as a pair", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: doc("kept"), Code: 200})
	g.Reload()
	g.Run(t, gt.Case{Name: "the Classic file serves", Path: "/loose/x", Code: 200},
		gt.Case{Name: "the pair in step asks for a key", Path: "/kept/x", Code: 401})
	logs := g.Logs()
	if !strings.Contains(logs, "lets in what its document would keep out") || !strings.Contains(logs, "api_id=loose") ||
		!strings.Contains(logs, "the document asks for authentication, the Classic file is keyless") {
		t.Errorf("the looser Classic file was not warned about:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "lets in what its document") && strings.Contains(line, "api_id=kept") {
			t.Errorf("a pair in step was warned about: %s", line)
		}
	}
}
