package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// catalogueDoc is a Tyk OAS document without info.id (the Gateway API makes one), keyless, with
// request validation and a mock; LISTEN and UPSTREAM are replaced.
const catalogueDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Catalogue", "version": "1"},
  "paths": {
    "/items": {"post": {"operationId": "addItem",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sku"]}}}},
      "responses": {"201": {"description": "added"}}}},
    "/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}}
  },
  "x-tyk-api-gateway": {
    "info": {"name": "Catalogue", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "LISTEN", "strip": true}},
    "middleware": {"operations": {
      "addItem": {"validateRequest": {"enabled": true}},
      "ping": {"mockResponse": {"enabled": true, "code": 200, "body": "pong"}}
    }}
  }
}`

// plainDoc is an OpenAPI document without the extension, for import; its server has a variable.
const plainDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Imported", "version": "1"},
  "servers": [{"url": "UPSTREAM/{base}", "variables": {"base": {"default": "v1"}}}],
  "paths": {
    "/hello": {"get": {"responses": {"200": {"description": "hi",
      "content": {"application/json": {"example": {"hello": "world"}}}}}}},
    "/echo": {"get": {"parameters": [{"name": "n", "in": "query", "required": true, "schema": {"type": "integer"}}],
      "responses": {"200": {"description": "ok"}}}}
  }
}`

// TestOASGatewayAPI runs Tyk's OAS Gateway API end to end: create, files written as Tyk writes
// them, nothing served before a reload, then served with validation and the mock; get, list,
// export (public), versions, update, patch, import with Tyk's query parameters, the errors in
// Tyk's order and words, the cross-format refusals both ways, and delete removing both files.
func TestOASGatewayAPI(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("classic", "/classic/", up.URL)}})
	doc := func(listen string) string {
		return strings.NewReplacer("UPSTREAM", up.URL, "LISTEN", listen).Replace(catalogueDoc)
	}

	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: doc("/catalogue/")})
	var added struct{ Key, Status, Action string }
	if r.Code != 200 || json.Unmarshal([]byte(r.Body), &added) != nil || added.Key == "" || added.Status != "ok" || added.Action != "added" {
		t.Fatalf("POST /tyk/apis/oas = %d %s", r.Code, r.Body)
	}
	id := added.Key

	// The pair of files Tyk writes: the Classic form with is_oas, and the document with its id.
	var classic apidef.APIDefinition
	readJSON(t, filepath.Join(g.AppPath, id+".json"), &classic)
	if !classic.IsOAS || classic.APIID != id || classic.Proxy.ListenPath != "/catalogue/" || !classic.UseKeylessAccess {
		t.Errorf("%s.json: is_oas %v, api_id %q, listen_path %q, keyless %v", id, classic.IsOAS, classic.APIID, classic.Proxy.ListenPath, classic.UseKeylessAccess)
	}
	var written struct {
		Ext struct {
			Info struct{ ID string } `json:"info"`
		} `json:"x-tyk-api-gateway"`
		Paths map[string]any `json:"paths"`
	}
	readJSON(t, filepath.Join(g.AppPath, id+"-oas.json"), &written)
	if written.Ext.Info.ID != id || written.Paths["/items"] == nil {
		t.Errorf("%s-oas.json: info.id %q, paths %v", id, written.Ext.Info.ID, written.Paths)
	}

	g.Run(t, gt.Case{Name: "nothing serves before a reload, as in Tyk", Path: "/catalogue/ping", Code: 404})
	g.Reload()
	g.Run(t,
		gt.Case{Name: "mock", Path: "/catalogue/ping", Code: 200, BodyEquals: "pong"},
		gt.Case{Name: "validation passes", Method: "POST", Path: "/catalogue/items", Body: `{"sku": "a1"}`,
			Headers: map[string]string{"Content-Type": "application/json"}, Code: 200},
		gt.Case{Name: "validation fails", Method: "POST", Path: "/catalogue/items", Body: `{}`,
			Headers: map[string]string{"Content-Type": "application/json"}, Code: 422, BodyMatch: `request validation error: .*property \\"sku\\" is missing`},
		gt.Case{Name: "the Classic API still serves", Path: "/classic/x", Code: 200},

		gt.Case{Name: "get", Admin: true, Path: "/tyk/apis/oas/" + id, Code: 200, BodyMatch: `"id": "` + id + `"`},
		gt.Case{Name: "the Classic view lists it with is_oas", Admin: true, Path: "/tyk/apis/" + id, Code: 200, BodyMatch: `"is_oas": true`},
		gt.Case{Name: "list: OAS APIs only", Admin: true, Path: "/tyk/apis/oas", Code: 200, BodyMatch: `"title": "Catalogue"`, BodyNotMatch: `"api_id": "classic"`},
		gt.Case{Name: "export", Admin: true, Path: "/tyk/apis/oas/" + id + "/export", Code: 200, BodyMatch: `x-tyk-api-gateway`,
			HeadersMatch: map[string]string{"Content-Disposition": `attachment; filename="` + id + `.json"`}},
		gt.Case{Name: "export public", Admin: true, Path: "/tyk/apis/oas/" + id + "/export?mode=public", Code: 200, BodyMatch: `"title": "Catalogue"`, BodyNotMatch: `x-tyk-api-gateway`},
		gt.Case{Name: "export all public", Admin: true, Path: "/tyk/apis/oas/export?mode=public", Code: 200, BodyMatch: `"title": "Catalogue"`, BodyNotMatch: `x-tyk-api-gateway`},
		gt.Case{Name: "versions", Admin: true, Path: "/tyk/apis/oas/" + id + "/versions", Code: 200,
			BodyMatch: `(?s)"status": "success".*"id": "` + id + `".*"isDefaultVersion": true`},
		gt.Case{Name: "versions filtered out", Admin: true, Path: "/tyk/apis/oas/" + id + "/versions?accessType=internal", Code: 200, BodyMatch: `"apis": \[\]`},

		// Errors, in Tyk's order and words.
		gt.Case{Name: "not JSON", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: `{"openapi":`, Code: 400,
			BodyMatch: `"message": "request malformed"`},
		gt.Case{Name: "no extension", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: plainDoc, Code: 400,
			BodyMatch: `"message": "the payload should contain x-tyk-api-gateway"`},
		gt.Case{Name: "kin-openapi's validation", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: strings.Replace(doc("/other/"), `"version": "1"`, `"version": ""`, 1), Code: 400, BodyMatch: `value of version must be a non-empty string`},
		gt.Case{Name: "a clash of listen paths", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: doc("/classic/"), Code: 400,
			BodyMatch: `already used by API`},
		gt.Case{Name: "update with another id", Admin: true, Method: "PUT", Path: "/tyk/apis/oas/" + id,
			Body: strings.Replace(doc("/x/"), `"name": "Catalogue"`, `"id": "other", "name": "Catalogue"`, 1), Code: 400,
			BodyMatch: `Request APIID does not match that in Definition! For Update operations these must match.`},
		gt.Case{Name: "update unknown", Admin: true, Method: "PUT", Path: "/tyk/apis/oas/nope", Body: doc("/x/"), Code: 404, BodyMatch: `"message": "API not found"`},

		// The two formats, each refused on the other's endpoints.
		gt.Case{Name: "OAS get of a Classic API", Admin: true, Path: "/tyk/apis/oas/classic", Code: 400,
			BodyMatch: `"message": "the requested API definition is in Tyk classic format, please use old api endpoint"`},
		gt.Case{Name: "OAS update of a Classic API", Admin: true, Method: "PUT", Path: "/tyk/apis/oas/classic", Body: doc("/classic/"), Code: 400,
			BodyMatch: `please use old api endpoint`},
		gt.Case{Name: "OAS creation with a Classic API's id", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: strings.Replace(doc("/new-classic/"), `"name": "Catalogue"`, `"id": "classic", "name": "Catalogue"`, 1), Code: 400,
			BodyMatch: `an API with api_id \\"classic\\" exists, a Tyk Classic one \(change it with PUT /tyk/apis/classic`},
		gt.Case{Name: "OAS body to the Classic endpoint", Admin: true, Method: "POST", Path: "/tyk/apis", Body: doc("/other/"), Code: 400,
			BodyMatch: `"message": "the supplied API definition is in OAS format, please use the Tyk classic format for this API"`},
		gt.Case{Name: "Classic update of an OAS API", Admin: true, Method: "PUT", Path: "/tyk/apis/" + id,
			Body: string(mustJSON(t, gt.API(id, "/x/", up.URL))), Code: 400,
			BodyMatch: `"message": "this API endpoint only supports Tyk Classic APIs; please use the appropriate Tyk OAS API endpoint"`},
	)

	// Update: moved; served there after a reload.
	g.Run(t, gt.Case{Name: "update", Admin: true, Method: "PUT", Path: "/tyk/apis/oas/" + id, Body: doc("/moved/"), Code: 200, BodyMatch: `"action": "modified"`})
	readJSON(t, filepath.Join(g.AppPath, id+".json"), &classic)
	if classic.Proxy.ListenPath != "/moved/" {
		t.Errorf("after PUT, %s.json listens on %q", id, classic.Proxy.ListenPath)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "moved", Path: "/moved/ping", Code: 200, BodyEquals: "pong"},
		gt.Case{Name: "not at the old path", Path: "/catalogue/ping", Code: 404},
	)

	// Patch: the document's paths replaced, the extension kept, the listen path from the query.
	// Paths that drop an operation the kept extension validates are refused: its validation
	// would silently stop.
	dropping := `{"openapi": "3.0.3", "info": {"title": "Catalogue", "version": "2"},
		"paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}}}}`
	g.Run(t, gt.Case{Name: "patch dropping a validated operation", Admin: true, Method: "PATCH", Path: "/tyk/apis/oas/" + id + "?listenPath=/patched/", Body: dropping,
		Code: 400, BodyMatch: `middleware.operations.addItem.validateRequest is enabled, but no operation in paths has operationId \\"addItem\\"`})
	patch := `{"openapi": "3.0.3", "info": {"title": "Catalogue", "version": "2"},
		"paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}},
		  "/items": {"post": {"operationId": "addItem", "responses": {"201": {"description": "added"}}}}}}`
	g.Run(t, gt.Case{Name: "patch", Admin: true, Method: "PATCH", Path: "/tyk/apis/oas/" + id + "?listenPath=/patched/", Body: patch, Code: 200, BodyMatch: `"action": "modified"`})
	g.Reload()
	g.Run(t,
		gt.Case{Name: "patched: the extension's mock kept", Path: "/patched/ping", Code: 200, BodyEquals: "pong"},
		gt.Case{Name: "patched: the document's new version", Admin: true, Path: "/tyk/apis/oas/" + id, Code: 200, BodyMatch: `"version": "2"`},
	)

	// Import: Tyk's default extension from the query parameters.
	plain := strings.ReplaceAll(plainDoc, "UPSTREAM", up.URL)
	g.Run(t,
		gt.Case{Name: "import with the extension", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import", Body: doc("/x/"), Code: 400,
			BodyMatch: `"message": "the import payload should not contain x-tyk-api-gateway"`},
		gt.Case{Name: "import without servers", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import",
			Body: `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}`, Code: 400, BodyMatch: `The ‘servers’ object is empty in your OAS.`},
		// A switch that does not parse is refused: authentication=yes read as absent would
		// make a keyless API of a document that asks for auth.
		gt.Case{Name: "import with authentication=yes", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=yes&listenPath=/yes/&authentication=yes",
			Body: plain, Code: 400, BodyMatch: `authentication=\\"yes\\": want true or false`},
		gt.Case{Name: "import with authentication given twice", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=yes&listenPath=/yes/&authentication=false&authentication=true",
			Body: plain, Code: 400, BodyMatch: `authentication is given 2 times`},
		gt.Case{Name: "import with an empty authentication", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=yes&listenPath=/yes/&authentication=",
			Body: plain, Code: 400, BodyMatch: `authentication=\\"\\": want true or false`},
		gt.Case{Name: "import with allowList=on", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=yes&listenPath=/yes/&allowList=on",
			Body: plain, Code: 400, BodyMatch: `allowList=\\"on\\": want true or false`},
		gt.Case{Name: "import with an unknown processing mode", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=yes&listenPath=/yes/&securityProcessingMode=weird",
			Body: plain, Code: 400, BodyMatch: `securityProcessingMode=\\"weird\\": want legacy or compliant`},
		gt.Case{Name: "import", Admin: true, Method: "POST", Path: "/tyk/apis/oas/import?apiID=imported&listenPath=/imported/&mockResponse=true&validateRequest=true",
			Body: plain, Code: 200, BodyMatch: `"key": "imported"`},
	)
	var imported struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
		Ext struct {
			Info     struct{ Name string } `json:"info"`
			Upstream struct{ URL string }  `json:"upstream"`
		} `json:"x-tyk-api-gateway"`
	}
	readJSON(t, filepath.Join(g.AppPath, "imported-oas.json"), &imported)
	if imported.Paths["/hello"]["get"].OperationID != "helloget" || imported.Ext.Info.Name != "Imported" || imported.Ext.Upstream.URL != up.URL+"/v1" {
		t.Errorf("imported-oas.json: operationId %q, name %q, upstream %q", imported.Paths["/hello"]["get"].OperationID, imported.Ext.Info.Name, imported.Ext.Upstream.URL)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "imported: mock from the example", Path: "/imported/hello", Code: 200, BodyEquals: `{"hello":"world"}`},
		gt.Case{Name: "imported: validated", Path: "/imported/echo?n=x", Code: 422, BodyMatch: `parameter \\"n\\" in query has an error`},
		gt.Case{Name: "imported: valid", Path: "/imported/echo?n=3", Code: 200},
	)
	if seen, _ := up.Last(); seen.Path != "/v1/echo" {
		t.Errorf("the imported API's upstream saw %q, want /v1/echo", seen.Path)
	}

	// Delete: both files go.
	g.Run(t,
		gt.Case{Name: "delete a Classic API on the OAS endpoint", Admin: true, Method: "DELETE", Path: "/tyk/apis/oas/classic", Code: 400},
		gt.Case{Name: "delete", Admin: true, Method: "DELETE", Path: "/tyk/apis/oas/" + id, Code: 200, BodyMatch: `"action": "deleted"`},
		gt.Case{Name: "delete again", Admin: true, Method: "DELETE", Path: "/tyk/apis/oas/" + id, Code: 404},
	)
	for _, f := range []string{id + ".json", id + "-oas.json"} {
		if _, err := os.Stat(filepath.Join(g.AppPath, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still in app_path after DELETE (%v)", f, err)
		}
	}
	g.Reload()
	g.Run(t, gt.Case{Name: "deleted", Path: "/patched/ping", Code: 404})
}

// TestOASGatewayAPIMovesToTyk: the files the Gateway API writes are what Tyk's loader reads
// (the Classic file drives the middleware, the document beside it): a fresh gateway given only
// those files serves the API the same way.
func TestOASGatewayAPIMovesToTyk(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	body := strings.NewReplacer("UPSTREAM", up.URL, "LISTEN", "/catalogue/").Replace(catalogueDoc)
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: body}))
	files, _ := filepath.Glob(filepath.Join(g.AppPath, "*.json"))
	if len(files) != 2 {
		t.Fatalf("app_path holds %v, want the pair", files)
	}
	h := gt.Start(t, gt.Options{})
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.WriteFile(filepath.Base(f), data)
	}
	h.Reload()
	h.Run(t,
		gt.Case{Name: "mock", Path: "/catalogue/ping", Code: 200, BodyEquals: "pong"},
		gt.Case{Name: "validation", Method: "POST", Path: "/catalogue/items", Body: `[]`, Headers: map[string]string{"Content-Type": "application/json"}, Code: 422},
	)
}

// TestFleetSharesOASDefinitions: with Redis, an OAS API created through one node is stored as
// its document and serves on every node after a group reload; changed and deleted through
// another.
func TestFleetSharesOASDefinitions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 2)
	a, b := nodes[0], nodes[1]
	doc := func(listen string) string {
		return strings.NewReplacer("UPSTREAM", up.URL, "LISTEN", listen).Replace(
			strings.Replace(catalogueDoc, `"name": "Catalogue"`, `"id": "cat", "name": "Catalogue"`, 1))
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"key": "cat"`}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: doc("/cat/")}))
	if files, _ := filepath.Glob(filepath.Join(a.AppPath, "*.json")); len(files) != 0 {
		t.Errorf("with Redis, the definition went to app_path: %v", files)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"title": "Catalogue"`}, b.Do(gt.Case{Admin: true, Path: "/tyk/apis/oas/cat"}))
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d after a group reload", i), wantStatus(g, "/cat/ping", "", http.StatusOK))
	}
	gt.Check(t, gt.Case{Code: 422}, b.Do(gt.Case{Method: "POST", Path: "/cat/items", Body: `{}`, Headers: map[string]string{"Content-Type": "application/json"}}))

	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "modified"`}, b.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/oas/cat", Body: doc("/cat2/")}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d after the move", i), wantStatus(g, "/cat2/ping", "", http.StatusOK))
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/oas/cat"}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d after the delete", i), wantStatus(g, "/cat2/ping", "", http.StatusNotFound))
	}
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestOASNullExtension: a JSON null where the extension or its info would be is read as their
// absence, as Tyk reads it: a create or update whose info is null is refused with what is
// missing, and a PATCH whose extension is null keeps the stored one. Both once made the
// handler panic on a nil map and drop the connection.
func TestOASNullExtension(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	doc := strings.NewReplacer("UPSTREAM", up.URL, "LISTEN", "/cat/").Replace(catalogueDoc)
	withID := strings.Replace(doc, `"info": {"name": "Catalogue"`, `"info": {"id": "cat", "name": "Catalogue"`, 1)
	infoNull := strings.Replace(doc, `"info": {"name": "Catalogue", "state": {"active": true}},`, `"info": null,`, 1)
	extNull := strings.Replace(doc, `"x-tyk-api-gateway": {`, `"x-tyk-api-gateway": null, "x-other": {`, 1)
	if infoNull == doc || extNull == doc {
		t.Fatal("the test's replacements no longer match catalogueDoc")
	}
	g.Run(t,
		gt.Case{Name: "create", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: withID, Code: 200, BodyMatch: `"key": "cat"`},
		gt.Case{Name: "create, info null", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: infoNull, Code: 400,
			BodyMatch: `x-tyk-api-gateway.info.name: missing`},
		gt.Case{Name: "update, info null", Admin: true, Method: "PUT", Path: "/tyk/apis/oas/cat", Body: infoNull, Code: 400,
			BodyMatch: `x-tyk-api-gateway.info.name: missing`},
		gt.Case{Name: "create, extension null", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: extNull, Code: 400,
			BodyMatch: `the payload should contain x-tyk-api-gateway`},
		gt.Case{Name: "patch, extension null: the stored one is kept", Admin: true, Method: "PATCH", Path: "/tyk/apis/oas/cat", Body: extNull, Code: 200,
			BodyMatch: `"action": "modified"`},
	)
	g.Reload()
	g.Run(t, gt.Case{Name: "the patched API serves with its extension", Path: "/cat/ping", Code: 200, BodyEquals: "pong"})
	if logs := g.Logs(); strings.Contains(logs, "panic") {
		t.Errorf("a handler panicked:\n%s", logs)
	}
}
