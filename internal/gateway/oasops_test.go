package gateway_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// petsDoc is a Tyk OAS document with request validation and mock responses on its operations,
// token auth and a response plugin; UPSTREAM and PLUGIN_SO are replaced.
const petsDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Pets", "version": "1"},
  "paths": {
    "/pets": {
      "post": {
        "operationId": "createPet",
        "parameters": [{"name": "dryRun", "in": "query", "schema": {"type": "boolean"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
        "responses": {"201": {"description": "created"}}
      }
    },
    "/pets/{id}": {
      "get": {
        "operationId": "getPet",
        "parameters": [
          {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
          {"name": "X-Trace", "in": "header", "required": true, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "ok"}}
      }
    },
    "/pets/mine": {"get": {"operationId": "myPets", "responses": {"200": {"description": "ok"}}}},
    "/static": {"get": {"operationId": "static", "responses": {"200": {"description": "ok"}}}},
    "/examples": {
      "get": {
        "operationId": "examples",
        "responses": {
          "200": {
            "description": "ok",
            "headers": {"X-Rate": {"schema": {"type": "integer", "example": 7}}},
            "content": {
              "application/json": {"examples": {
                "first": {"value": {"name": "Rex"}},
                "second": {"value": {"name": "Tom"}}
              }},
              "text/plain": {"example": "a plain pet"}
            }
          },
          "404": {"description": "gone", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"error": {"type": "string", "example": "no such pet"}}}}}}
        }
      }
    }
  },
  "components": {
    "schemas": {"Pet": {"type": "object", "required": ["name"], "properties": {
      "name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0}}}},
    "securitySchemes": {"tok": {"type": "apiKey", "in": "header", "name": "X-Key"}}
  },
  "security": [{"tok": []}],
  "x-tyk-api-gateway": {
    "info": {"id": "pets", "name": "Pets", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "/pets-api/", "strip": true},
      "authentication": {"enabled": true, "securitySchemes": {"tok": {"enabled": true}}}},
    "middleware": {
      "global": {
        "pluginConfig": {"driver": "goplugin", "data": {"enabled": true, "value": {"team": "pets"}}},
        "responsePlugins": [{"enabled": true, "functionName": "Response", "path": "PLUGIN_SO"}]
      },
      "operations": {
        "createPet": {"validateRequest": {"enabled": true}},
        "getPet": {"validateRequest": {"enabled": true, "errorResponseCode": 400}},
        "static": {"mockResponse": {"enabled": true, "code": 201, "body": "{\"mocked\":true}",
          "headers": [{"name": "X-Mock", "value": "static"}]}},
        "examples": {"mockResponse": {"enabled": true, "fromOASExamples": {"enabled": true}}}
      }
    }
  }
}`

// TestOASValidateAndMock serves an OAS API with request validation (body, query, path and
// header parameters; Tyk's default 422 and a configured code) and mock responses (static and
// from the document's examples, chosen by Tyk's headers and Accept), after token auth, with the
// response plugin running on mock answers.
func TestOASValidateAndMock(t *testing.T) {
	so := plugintest.Build(t, oasPluginPkg)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	g.WriteFile("pets.json", []byte(strings.NewReplacer("UPSTREAM", up.URL, "PLUGIN_SO", so).Replace(petsDoc)))
	g.Reload()
	key := g.CreateKey(&apidef.SessionState{Alias: "alice", AccessRights: map[string]apidef.AccessDefinition{
		"pets": {APIID: "pets", Versions: []string{"Default"}},
	}})
	k := func(more ...string) map[string]string {
		h := map[string]string{"X-Key": key}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	const json = "Content-Type"
	g.Run(t,
		// Validation runs after auth: without a key nothing of the schema is told.
		gt.Case{Name: "no key", Method: "POST", Path: "/pets-api/pets", Body: `{}`, Headers: map[string]string{json: "application/json"}, Code: 401},
		gt.Case{Name: "valid body", Method: "POST", Path: "/pets-api/pets?dryRun=true", Body: `{"name": "Rex", "age": 3}`,
			Headers: k(json, "application/json"), Code: 200, BodyMatch: `"body": "\{\\"name\\": \\"Rex\\", \\"age\\": 3\}"`},
		gt.Case{Name: "missing property", Method: "POST", Path: "/pets-api/pets", Body: `{"age": 3}`, Headers: k(json, "application/json"),
			Code: 422, BodyMatch: `"error": "request validation error: request body has an error: doesn't match schema #/components/schemas/Pet: Error at \\"/name\\": property \\"name\\" is missing"`},
		gt.Case{Name: "wrong type", Method: "POST", Path: "/pets-api/pets", Body: `{"name": "Rex", "age": -1}`, Headers: k(json, "application/json"),
			Code: 422, BodyMatch: `request validation error: .*number must be at least 0`, BodyNotMatch: `Schema:`},
		gt.Case{Name: "no body", Method: "POST", Path: "/pets-api/pets", Headers: k(json, "application/json"),
			Code: 422, BodyMatch: `request validation error: request body has an error: value is required but missing`},
		gt.Case{Name: "not JSON", Method: "POST", Path: "/pets-api/pets", Body: `{"name":`, Headers: k(json, "application/json"),
			Code: 422, BodyMatch: `request validation error: request body has an error: failed to decode request body`},
		gt.Case{Name: "bad query parameter", Method: "POST", Path: "/pets-api/pets?dryRun=maybe", Body: `{"name": "Rex"}`, Headers: k(json, "application/json"),
			Code: 422, BodyMatch: `request validation error: parameter \\"dryRun\\" in query has an error`},
		gt.Case{Name: "path parameter and header", Path: "/pets-api/pets/12", Headers: k("X-Trace", "t1"), Code: 200},
		gt.Case{Name: "path parameter not an integer, configured code", Path: "/pets-api/pets/abc", Headers: k("X-Trace", "t1"),
			Code: 400, BodyMatch: `request validation error: parameter \\"id\\" in path has an error`},
		gt.Case{Name: "path parameter under its minimum", Path: "/pets-api/pets/0", Headers: k("X-Trace", "t1"), Code: 400},
		gt.Case{Name: "required header missing", Path: "/pets-api/pets/12", Headers: k(), Code: 400,
			BodyMatch: `parameter \\"X-Trace\\" in header has an error: value is required but missing`},
		gt.Case{Name: "a concrete path wins over the template: not validated", Path: "/pets-api/pets/mine", Headers: k(), Code: 200},
		gt.Case{Name: "a method with no operation is not validated", Method: "DELETE", Path: "/pets-api/pets/12", Headers: k(), Code: 200},
		gt.Case{Name: "below a validating operation, no operation", Method: "POST", Path: "/pets-api/pets/extra", Body: `{}`, Headers: k(), Code: 422,
			BodyEquals: "{\n    \"error\": \"request validation error: no matching operation was found for request: POST /pets-api/pets/extra\"\n}"},
	)
	before := len(up.Requests())
	g.Run(t,
		gt.Case{Name: "mock needs the key", Path: "/pets-api/static", Code: 401},
		gt.Case{Name: "static mock", Path: "/pets-api/static", Headers: k(), Code: 201, BodyEquals: `{"mocked":true}`,
			HeadersMatch: map[string]string{"X-Mock": "static", "X-Response-Title": "Pets", "X-Response-Team": "pets (oas)"}},
		gt.Case{Name: "first example by name", Path: "/pets-api/examples", Headers: k(), Code: 200, BodyEquals: `{"name":"Rex"}`,
			HeadersMatch: map[string]string{"Content-Type": "application/json", "X-Rate": "7", "X-Response-Title": "Pets"}},
		gt.Case{Name: "example by name", Path: "/pets-api/examples", Headers: k("X-Tyk-Accept-Example-Name", "second"), Code: 200, BodyEquals: `{"name":"Tom"}`},
		gt.Case{Name: "unknown example name", Path: "/pets-api/examples", Headers: k("X-Tyk-Accept-Example-Name", "third"), Code: 404,
			BodyMatch: `there is no example response for the example name: third`},
		gt.Case{Name: "by Accept", Path: "/pets-api/examples", Headers: k("Accept", "text/plain"), Code: 200, BodyEquals: `a plain pet`,
			HeadersMatch: map[string]string{"Content-Type": "text/plain"}},
		gt.Case{Name: "Accept as a list", Path: "/pets-api/examples", Headers: k("Accept", "application/xml, text/*;q=0.5"), Code: 200, BodyEquals: `a plain pet`},
		gt.Case{Name: "any type", Path: "/pets-api/examples", Headers: k("Accept", "*/*"), Code: 200, BodyEquals: `{"name":"Rex"}`},
		gt.Case{Name: "by code, from the schema", Path: "/pets-api/examples", Headers: k("X-Tyk-Accept-Example-Code", "404"), Code: 404,
			BodyEquals: `{"error":"no such pet"}`},
		gt.Case{Name: "no such code", Path: "/pets-api/examples", Headers: k("X-Tyk-Accept-Example-Code", "500"), Code: 404,
			BodyEquals: "{\n    \"error\": \"there is no example response for the code: 500\"\n}"},
		gt.Case{Name: "no such media type", Path: "/pets-api/examples", Headers: k("Accept", "application/xml"), Code: 404,
			BodyMatch: `there is no example response for the content type: application/xml`},
	)
	if n := len(up.Requests()); n != before {
		t.Errorf("mock answers reached the upstream: %d requests", n-before)
	}
}

// TestOASBundle serves a Tyk OAS API whose plugins come from a bundle
// (middleware.global.pluginConfig.bundle): downloaded and loaded like a Classic API's, the hook
// reading the document and the config data; request validation works beside it.
func TestOASBundle(t *testing.T) {
	so := plugintest.Build(t, oasPluginPkg)
	srv := newBundleServer(t)
	srv.put("oas-b.zip", ourBundle(t, "oas-b.zip", so, "Pre", nil))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	g.WriteFile("bundled.json", []byte(`{"openapi": "3.0.3", "info": {"title": "Bundled", "version": "1"},
	  "paths": {"/items": {"post": {"operationId": "add",
	    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sku"]}}}},
	    "responses": {"201": {"description": "added"}}}}},
	  "x-tyk-api-gateway": {"info": {"id": "bundled", "name": "Bundled", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"}, "server": {"listenPath": {"value": "/bundled/", "strip": true}},
	    "middleware": {
	      "global": {"pluginConfig": {"driver": "goplugin", "bundle": {"enabled": true, "path": "oas-b.zip"},
	        "data": {"enabled": true, "value": {"team": "bundlers"}}}},
	      "operations": {"add": {"validateRequest": {"enabled": true}}}}}}`))
	g.Reload()
	eventually(t, "the bundle's hook runs", func() bool {
		return g.Do(gt.Case{Path: "/bundled/x"}).Header.Get("X-Pre-Title") == "Bundled"
	})
	g.Run(t,
		gt.Case{Name: "the bundle's pre hook reads the document and config data", Path: "/bundled/x", Code: 200,
			HeadersMatch: map[string]string{"X-Pre-Title": "Bundled", "X-Pre-Team": "bundlers (oas)"}},
		gt.Case{Name: "validation beside the bundle", Method: "POST", Path: "/bundled/items", Body: `{}`,
			Headers: map[string]string{"Content-Type": "application/json"}, Code: 422, HeadersMatch: map[string]string{"X-Pre-Title": "Bundled"}},
	)
	if seen, _ := up.Last(); seen.Headers["X-Pre"] != "1" {
		t.Errorf("the upstream did not see the bundle's hook: %v", seen.Headers)
	}
	if srv.count("oas-b.zip") != 1 {
		t.Errorf("the bundle was downloaded %d times, want once", srv.count("oas-b.zip"))
	}
}
