package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestValidateJSON serves Classic validate_json: a body that matches reaches the upstream
// unchanged; one that does not gets Tyk's 422 (or the entry's code) and Tyk's message, after
// auth, and never reaches the upstream.
func TestValidateJSON(t *testing.T) {
	up := gt.NewUpstream(t)
	person := json.RawMessage(`{"type": "object", "required": ["name"],
		"properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}`)
	ep := apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/people", Method: "POST", Schema: person},
		{Path: "/people/{id}", Method: "PUT", Schema: person, ErrorResponseCode: 400},
	}}
	open := withExtended(gt.API("vj", "/vj/", up.URL), ep)
	keyed := withExtended(gt.Keyed(gt.API("vj-keyed", "/vj-keyed/", up.URL)), ep)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{open, keyed}})

	tyk := func(msg string) string { return "{\n    \"error\": \"" + msg + "\"\n}" }
	g.Run(t,
		gt.Case{Name: "invalid: Tyk's 422 and message", Method: "POST", Path: "/vj/people", Body: `{"age": "x"}`,
			Code: 422, BodyEquals: tyk(`(root): name is required; age: Invalid type. Expected: integer, given: string`)},
		gt.Case{Name: "custom error_response_code", Method: "PUT", Path: "/vj/people/7", Body: `{"name": 7}`,
			Code: 400, BodyEquals: tyk(`name: Invalid type. Expected: string, given: number`)},
		gt.Case{Name: "not JSON", Method: "POST", Path: "/vj/people", Body: `name=Ada`,
			Code: 400, BodyEquals: tyk(`JSON parsing error: invalid character 'a' in literal null (expecting 'u')`)},
		gt.Case{Name: "after auth: no key, no schema details", Method: "POST", Path: "/vj-keyed/people", Body: `{}`, Code: 401},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream saw %d requests; refused bodies must not reach it", n)
	}

	body := `{"name": "Ada", "age": 36}`
	g.Run(t,
		gt.Case{Name: "valid", Method: "POST", Path: "/vj/people", Body: body, Code: 200},
	)
	if seen, _ := up.Last(); seen.Method != "POST" || seen.Path != "/people" || seen.Body != body {
		t.Errorf("upstream saw %s %s %q, want POST /people %q", seen.Method, seen.Path, seen.Body, body)
	}
	g.Run(t,
		gt.Case{Name: "other method not checked", Method: "PATCH", Path: "/vj/people", Body: `nope`, Code: 200},
	)
	if n := len(up.Requests()); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2", n)
	}
}

// TestValidateJSONRefused: a schema that cannot be applied as written refuses the API, with
// the entry named; the other APIs serve.
func TestValidateJSONRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	bad := withExtended(gt.API("vj-bad", "/vj-bad/", up.URL), apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"properties": {"a": {"$ref": "https://schemas.example/a.json"}}}`)}}})
	draft7 := withExtended(gt.API("vj-draft7", "/vj-draft7/", up.URL), apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"$schema": "http://json-schema.org/draft-07/schema#"}`)}}})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{bad, draft7, gt.API("ok", "/ok/", up.URL)}})
	g.Run(t,
		gt.Case{Name: "external reference: not served", Method: "POST", Path: "/vj-bad/x", Body: `{}`, Code: 404},
		gt.Case{Name: "other draft: not served", Method: "POST", Path: "/vj-draft7/x", Body: `{}`, Code: 404},
		gt.Case{Name: "the rest serve", Path: "/ok/x", Code: 200},
	)
	logs := g.Logs()
	for _, want := range []string{"extended_paths.validate_json[0]: compiling the schema", "only references inside the schema are followed", "Tyk accepts only"} {
		if !contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// oneValueDoc is a Tyk OAS document validating a JSON body like the Classic API of
// TestValidateJSONOneValue; UPSTREAM is replaced.
const oneValueDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Roles", "version": "1"},
  "paths": {"/users": {"post": {"operationId": "createUser",
    "requestBody": {"required": true, "content": {"application/json": {"schema": {
      "type": "object", "additionalProperties": false, "properties": {"role": {"type": "string", "enum": ["user"]}}}}}},
    "responses": {"201": {"description": "created"}}}}},
  "x-tyk-api-gateway": {
    "info": {"id": "roles-oas", "name": "Roles", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "/roles-oas/", "strip": true}},
    "middleware": {"operations": {"createUser": {"validateRequest": {"enabled": true}}}}
  }
}`

// TestValidateJSONOneValue: a body validated by validate_json or OAS validateRequest must be one
// JSON value. A second value, or anything but whitespace after the first, gets 400 (Classic,
// Tyk's "JSON parsing error") or the operation's code (OAS) and never reaches the upstream: an
// upstream reading concatenated or newline-delimited JSON would otherwise act on a value nobody
// validated.
func TestValidateJSONOneValue(t *testing.T) {
	up := gt.NewUpstream(t)
	role := json.RawMessage(`{"type": "object", "additionalProperties": false,
		"properties": {"role": {"type": "string", "enum": ["user"]}}}`)
	classic := withExtended(gt.API("roles", "/roles/", up.URL), apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/users", Method: "POST", Schema: role}}})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{classic}})
	g.WriteFile("rolesdoc.json", []byte(strings.ReplaceAll(oneValueDoc, "UPSTREAM", up.URL)))
	g.Reload()

	tyk := func(msg string) string { return "{\n    \"error\": \"" + msg + "\"\n}" }
	ct := map[string]string{"Content-Type": "application/json"}
	g.Run(t,
		gt.Case{Name: "classic: two values", Method: "POST", Path: "/roles/users", Body: `{"role":"user"}{"role":"admin"}`,
			Code: 400, BodyEquals: tyk(`JSON parsing error: invalid character '{' after top-level value`)},
		gt.Case{Name: "classic: newline-delimited", Method: "POST", Path: "/roles/users", Body: "{\"role\":\"user\"}\n{\"role\":\"admin\"}\n",
			Code: 400, BodyEquals: tyk(`JSON parsing error: invalid character '{' after top-level value`)},
		gt.Case{Name: "classic: garbage after the value", Method: "POST", Path: "/roles/users", Body: `{"role":"user"} garbage`,
			Code: 400, BodyEquals: tyk(`JSON parsing error: invalid character 'g' after top-level value`)},
		gt.Case{Name: "oas: two values", Method: "POST", Path: "/roles-oas/users", Headers: ct, Body: `{"role":"user"}{"role":"admin"}`,
			Code: 422, BodyMatch: `request validation error: request body has an error: failed to decode request body: invalid character '\{' after top-level value`},
		gt.Case{Name: "oas: garbage after the value", Method: "POST", Path: "/roles-oas/users", Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			Body: `{"role":"user"} garbage`, Code: 422, BodyMatch: `invalid character 'g' after top-level value`},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream saw %d requests; bodies that are not one JSON value must not reach it", n)
	}
	g.Run(t,
		gt.Case{Name: "classic: whitespace after the value is fine", Method: "POST", Path: "/roles/users", Body: "{\"role\":\"user\"}\r\n\t ", Code: 200},
		gt.Case{Name: "oas: whitespace after the value is fine", Method: "POST", Path: "/roles-oas/users", Headers: ct, Body: "{\"role\":\"user\"}\n", Code: 200},
	)
	if n := len(up.Requests()); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2", n)
	}
}
