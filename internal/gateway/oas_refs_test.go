package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestOASUnresolvedRefRefused: a Tyk OAS document in app_path whose request body schema is a
// $ref that never resolves (A refers to itself) loads in kin-openapi, but validating a request
// against it dereferenced a nil schema: every request to the operation panicked and its
// connection dropped. Such a document is refused with kin-openapi's reason, as docs/oas.md says
// of a broken schema, and the others serve.
func TestOASUnresolvedRefRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("plain", "/plain/", up.URL)}})
	g.WriteFile("selfref.json", []byte(`{
  "openapi": "3.0.3",
  "info": {"title": "selfref", "version": "1"},
  "paths": {"/p": {"post": {"operationId": "createP",
    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
    "responses": {"200": {"description": "ok"}}}}},
  "components": {"schemas": {"A": {"$ref": "#/components/schemas/A"}}},
  "x-tyk-api-gateway": {
    "info": {"id": "selfref", "name": "selfref", "state": {"active": true}},
    "upstream": {"url": "`+up.URL+`"},
    "server": {"listenPath": {"value": "/selfref/", "strip": true}},
    "middleware": {"operations": {"createP": {"validateRequest": {"enabled": true}}}}
  }
}`))
	g.Reload()
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/selfref/p", strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := g.Client.Do(req)
	if err != nil {
		t.Fatalf("POST /selfref/p: no answer (%v); want the API refused", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /selfref/p = %d, want 404 (the API refused)", res.StatusCode)
	}
	g.Run(t,
		gt.Case{Name: "/hello names the API and the reason", Admin: true, Path: "/hello", Code: 200, BodyMatch: `selfref.*unresolved ref`},
		gt.Case{Name: "the other API serves", Path: "/plain/x", Code: 200},
	)
}
