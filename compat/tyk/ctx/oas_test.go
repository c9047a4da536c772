//go:build gatehouse_compat

package ctx

import (
	"net/http"
	"testing"
	"time"

	gh "github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk/sdktest"
)

const petsDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Pets", "version": "1.0.0"},
  "paths": {"/pets/{id}": {"get": {"operationId": "getPet",
    "parameters": [{"$ref": "#/components/parameters/id"}],
    "responses": {"200": {"description": "a pet"}}}}},
  "components": {"parameters": {"id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}}},
  "x-tyk-api-gateway": {
    "info": {"id": "pets", "name": "pets", "state": {"active": true}},
    "upstream": {"url": "http://pets.internal", "rateLimit": {"enabled": true, "rate": 5, "per": "1m"}},
    "server": {"listenPath": {"value": "/pets/", "strip": true}},
    "middleware": {"global": {"pluginConfig": {"driver": "goplugin",
      "data": {"enabled": true, "value": {"team": "pets", "limits": {"max": 3}}}}},
      "operations": {"getPet": {"allow": {"enabled": true}}}}
  }
}`

// TestGetOASDefinition: a Tyk OAS API's document reads as in Tyk (kin-openapi's T with the
// extension in Go types), is a copy each time, and is nil for a Classic API.
func TestGetOASDefinition(t *testing.T) {
	r := sdktest.NewRequest(http.MethodGet, "/pets/1", nil,
		sdktest.WithDefinition(&gh.APIDefinition{APIID: "pets", Name: "pets", ConfigData: map[string]interface{}{"team": "pets"}}),
		sdktest.WithOASDefinition([]byte(petsDoc)))
	o := GetOASDefinition(r)
	if o == nil {
		t.Fatal("nil for an OAS API")
	}
	if o.Info.Title != "Pets" || o.Paths.Value("/pets/{id}") == nil || o.Paths.Find("/pets/{id}").Get.OperationID != "getPet" {
		t.Errorf("document: title %q, paths %v", o.Info.Title, o.Paths.Map())
	}
	if p := o.Paths.Value("/pets/{id}").Get.Parameters[0]; p.Value == nil || p.Value.Name != "id" {
		t.Errorf("the parameter's $ref was not resolved: %+v", p)
	}
	x := o.GetTykExtension()
	if x == nil || x.Info.Name != "pets" || x.Upstream.URL != "http://pets.internal" || x.Server.ListenPath.Value != "/pets/" ||
		!x.Server.ListenPath.Strip || x.Upstream.RateLimit == nil || time.Duration(x.Upstream.RateLimit.Per) != time.Minute {
		t.Fatalf("extension %+v", x)
	}
	if x.Middleware == nil || x.Middleware.Global == nil || x.Middleware.Global.PluginConfig == nil ||
		x.Middleware.Global.PluginConfig.Data == nil || x.Middleware.Global.PluginConfig.Data.Value["team"] != "pets" {
		t.Fatalf("config data missing: %+v", x.Middleware)
	}
	if op := x.Middleware.Operations["getPet"]; op == nil || op.Allow == nil || !op.Allow.Enabled {
		t.Errorf("operation getPet: %+v", op)
	}
	if o.GetTykExtension() != x || o.GetTykMiddleware() != x.Middleware {
		t.Error("GetTykExtension does not return the same value twice")
	}
	// Changes to the copy are the plugin's own.
	o.Info.Title = "changed"
	x.Middleware.Global.PluginConfig.Data.Value["team"] = "changed"
	again := GetOASDefinition(r)
	if again.Info.Title != "Pets" || again.GetTykExtension().Middleware.Global.PluginConfig.Data.Value["team"] != "pets" {
		t.Error("a change to one copy was seen by the next")
	}
	c, err := o.Clone()
	if err != nil || c.Info.Title != "changed" || c.GetTykExtension().Info.Name != "pets" {
		t.Errorf("Clone: %v %+v", err, c)
	}
	c.RemoveTykExtension()
	if c.GetTykExtension() != nil || o.GetTykExtension() == nil {
		t.Error("RemoveTykExtension")
	}
	// GetDefinition is not nil for an OAS API (Tyk's is).
	if def := GetDefinition(r); def == nil || def.ConfigData["team"] != "pets" {
		t.Errorf("GetDefinition on an OAS API: %+v", def)
	}

	classic := sdktest.NewRequest(http.MethodGet, "/x", nil, sdktest.WithDefinition(&gh.APIDefinition{APIID: "c"}))
	if GetOASDefinition(classic) != nil {
		t.Error("not nil for a Classic API")
	}
	if GetOASDefinition(&http.Request{}) != nil {
		t.Error("not nil outside the gateway")
	}
}

// TestTykExtensionNilSafe: a document without the extension, and a nil document, give nil.
func TestTykExtensionNilSafe(t *testing.T) {
	r := sdktest.NewRequest(http.MethodGet, "/x", nil, sdktest.WithDefinition(&gh.APIDefinition{APIID: "bare"}),
		sdktest.WithOASDefinition([]byte(`{"openapi": "3.0.3", "info": {"title": "Bare", "version": "1"}, "paths": {}}`)))
	o := GetOASDefinition(r)
	if o == nil || o.GetTykExtension() != nil || o.GetTykMiddleware() != nil {
		t.Errorf("a document without the extension: %+v", o)
	}
	classic := sdktest.NewRequest(http.MethodGet, "/x", nil, sdktest.WithDefinition(&gh.APIDefinition{APIID: "c"}))
	if GetOASDefinition(classic).GetTykExtension() != nil || GetOASDefinition(classic).GetTykMiddleware() != nil {
		t.Error("the accessors of a nil document are not nil")
	}
}
