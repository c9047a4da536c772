//go:build gatehouse_compat

package oas

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const doc = `{
  "openapi": "3.0.3",
  "info": {"title": "Pets", "description": "pets", "version": "1.0.0", "contact": {"name": "team"}},
  "servers": [{"url": "https://pets.example/v1"}],
  "tags": [{"name": "pets"}],
  "security": [{"tok": []}],
  "paths": {
    "x-paths-ext": true,
    "/pets": {"get": {"operationId": "listPets", "tags": ["pets"], "summary": "list",
      "responses": {"200": {"description": "pets"}}},
      "post": {"operationId": "addPet", "x-rate": 3, "responses": {"201": {"description": "added"}}}},
    "/pets/{id}": {"parameters": [{"$ref": "#/components/parameters/id"}],
      "get": {"operationId": "getPet", "parameters": [{"name": "verbose", "in": "query"}]}}
  },
  "components": {"parameters": {"id": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}},
    "securitySchemes": {"tok": {"type": "apiKey", "in": "header", "name": "Authorization"}}},
  "x-other": {"a": [1, "b"]},
  "x-tyk-api-gateway": {
    "info": {"id": "pets", "name": "pets-api", "state": {"active": true}},
    "upstream": {"url": "http://pets.internal", "rateLimit": {"enabled": true, "rate": 5, "per": "1m"}},
    "server": {"listenPath": {"value": "/pets/", "strip": true}},
    "middleware": {"global": {"pluginConfig": {"driver": "goplugin", "data": {"enabled": true, "value": {"team": "pets"}}},
      "prePlugins": [{"enabled": true, "functionName": "Pre", "path": "p.so"}]},
      "operations": {"getPet": {"allow": {"enabled": true}, "postPlugins": [{"enabled": true, "functionName": "Op", "path": "p.so"}]}}}
  }
}`

func decode(t *testing.T, s string) *OAS {
	t.Helper()
	var o OAS
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatal(err)
	}
	return &o
}

// TestDocument: the OpenAPI part reads with kin-openapi's names and methods.
func TestDocument(t *testing.T) {
	o := decode(t, doc)
	tests := []struct {
		name      string
		got, want any
	}{
		{"openapi", o.OpenAPI, "3.0.3"},
		{"title", o.Info.Title, "Pets"},
		{"title through T", o.T.Info.Title, "Pets"},
		{"description", o.Info.Description, "pets"},
		{"contact", o.Info.Contact.Name, "team"},
		{"server", o.Servers[0].URL, "https://pets.example/v1"},
		{"tag", o.Tags[0].Name, "pets"},
		{"security", len(o.Security[0]["tok"]), 0},
		{"paths", o.Paths.Len(), 2},
		{"map", len(o.Paths.Map()), 2},
		{"paths extension", o.Paths.Extensions["x-paths-ext"], true},
		{"value", o.Paths.Value("/pets").Get.OperationID, "listPets"},
		{"value of a template", o.Paths.Value("/pets/{name}") == nil, true},
		{"find", o.Paths.Find("/pets/{name}").Get.OperationID, "getPet"},
		{"find missing", o.Paths.Find("/dogs") == nil, true},
		{"summary", o.Paths.Value("/pets").Get.Summary, "list"},
		{"op tags", o.Paths.Value("/pets").Get.Tags[0], "pets"},
		{"op extension", o.Paths.Value("/pets").Post.Extensions["x-rate"], 3.0},
		{"operations", len(o.Paths.Value("/pets").Operations()), 2},
		{"get operation", o.Paths.Value("/pets").GetOperation(http.MethodPost).OperationID, "addPet"},
		{"path parameter resolved", o.Paths.Value("/pets/{id}").Parameters[0].Value.Name, "id"},
		{"path parameter ref", o.Paths.Value("/pets/{id}").Parameters[0].Ref, "#/components/parameters/id"},
		{"operation parameter", o.Paths.Value("/pets/{id}").Get.Parameters[0].Value.In, "query"},
		{"security scheme", o.Components.SecuritySchemes["tok"].Value.Name, "Authorization"},
		{"extension", o.Extensions["x-other"].(map[string]any)["a"].([]any)[1], "b"},
		{"matching order", strings.Join(o.Paths.InMatchingOrder(), " "), "/pets /pets/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// TestTykExtension: the x-tyk-api-gateway object as Go types, and the accessors' nil cases.
func TestTykExtension(t *testing.T) {
	o := decode(t, doc)
	x := o.GetTykExtension()
	if x == nil || x.Info.Name != "pets-api" || x.Upstream.URL != "http://pets.internal" || x.Server.ListenPath.Value != "/pets/" ||
		time.Duration(x.Upstream.RateLimit.Per) != time.Minute {
		t.Fatalf("extension %+v", x)
	}
	if o.GetTykExtension() != x || o.GetTykMiddleware() != x.Middleware {
		t.Error("not the same value twice")
	}
	g := x.Middleware.Global
	if g.PluginConfig.Data.Value["team"] != "pets" || g.PluginConfig.Driver != "goplugin" || g.PrePlugins[0].FunctionName != "Pre" {
		t.Errorf("global %+v", g)
	}
	if op := x.Middleware.Operations["getPet"]; op == nil || !op.Allow.Enabled || op.PostPlugins[0].FunctionName != "Op" {
		t.Errorf("operation %+v", op)
	}

	// An extension set as decoded JSON is decoded on first use.
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"info": {"name": "raw"}, "upstream": {"url": "u"}, "server": {"listenPath": {"value": "/r/"}}}`), &m); err != nil {
		t.Fatal(err)
	}
	r := &OAS{T: T{Extensions: map[string]any{ExtensionTykAPIGateway: m}}}
	if x := r.GetTykExtension(); x == nil || x.Info.Name != "raw" || r.GetTykMiddleware() != nil {
		t.Errorf("raw extension: %+v", x)
	}
	r.SetTykExtension(&XTykAPIGateway{Info: Info{Name: "set"}})
	if r.GetTykExtension().Info.Name != "set" {
		t.Error("SetTykExtension")
	}
	r.RemoveTykExtension()
	if r.GetTykExtension() != nil {
		t.Error("RemoveTykExtension")
	}

	var nilDoc *OAS
	bare := decode(t, `{"openapi": "3.0.3", "info": {"title": "b", "version": "1"}, "paths": {}}`)
	for name, d := range map[string]*OAS{"nil": nilDoc, "bare": bare} {
		if d.GetTykExtension() != nil || d.GetTykMiddleware() != nil {
			t.Errorf("%s: accessors not nil", name)
		}
	}
	nilDoc.RemoveTykExtension()
	if bare.Paths.Len() != 0 || bare.Paths.Find("/x") != nil {
		t.Error("empty paths")
	}
}

// TestClone: a deep copy, through JSON, with the extensions; changes are its own.
func TestClone(t *testing.T) {
	o := decode(t, doc)
	c, err := o.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.Info.Title = "changed"
	c.Paths.Value("/pets").Get.OperationID = "changed"
	c.GetTykExtension().Middleware.Global.PluginConfig.Data.Value["team"] = "changed"
	if o.Info.Title != "Pets" || o.Paths.Value("/pets").Get.OperationID != "listPets" ||
		o.GetTykExtension().Middleware.Global.PluginConfig.Data.Value["team"] != "pets" {
		t.Error("a change to the clone was seen by the original")
	}
	if c.GetTykExtension().Info.Name != "pets-api" || c.Extensions["x-other"] == nil || c.Paths.Extensions["x-paths-ext"] != true ||
		c.Paths.Value("/pets").Post.Extensions["x-rate"] != 3.0 || c.Paths.Value("/pets/{id}").Parameters[0].Value.Name != "id" {
		t.Errorf("clone lost parts: %+v", c)
	}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"x-tyk-api-gateway":{`, `"$ref":"#/components/parameters/id"`, `"x-paths-ext":true`, `"openapi":"3.0.3"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s: %s", want, data)
		}
	}
	if c, err := (*OAS)(nil).Clone(); c != nil || err != nil {
		t.Error("Clone of nil")
	}
}
