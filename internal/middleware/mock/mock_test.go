package mock

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const doc = `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/p": {"get": {"responses": {
  "200": {"description": "ok", "content": {
    "application/json": {"schema": {"type": "object", "properties": {
      "id": {"type": "integer"}, "name": {"type": "string", "example": "Rex"}, "kind": {"enum": ["dog", "cat"]},
      "tags": {"type": "array", "items": {"type": "string"}}}}},
    "text/plain": {"examples": {"b": {"value": "second"}, "a": {"value": "first"}}}}},
  "201": {"description": "created"}}}}}}`

func op(t *testing.T) *openapi3.Operation {
	t.Helper()
	d, err := openapi3.NewLoader().LoadFromData([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d.Paths.Value("/p").Get
}

func TestExamples(t *testing.T) {
	e := &Examples{Op: op(t)}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		code    int
		body    string
		status  int // of an Error
	}{
		{name: "from the schema", code: 200, body: `{"id":0,"kind":"dog","name":"Rex","tags":["string"]}`},
		{name: "first example by name", headers: map[string]string{"Accept": "text/plain"}, code: 200, body: "first"},
		{name: "named", headers: map[string]string{"Accept": "text/plain", HeaderExampleName: "b"}, code: 200, body: "second"},
		{name: "a code with no content", headers: map[string]string{HeaderExampleCode: "201"}, status: 404},
		{name: "an undeclared code", headers: map[string]string{HeaderExampleCode: "500"}, status: 404},
		{name: "not a code", headers: map[string]string{HeaderExampleCode: "x"}, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/p", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			a, err := e.Answer(r)
			if tc.status != 0 {
				var me *Error
				if !errors.As(err, &me) || me.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Code != tc.code || string(a.Body) != tc.body {
				t.Errorf("answer %d %s, want %d %s", a.Code, a.Body, tc.code, tc.body)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	a := (&Static{Body: "hi", Headers: []Header{{"X-A", "1"}, {"X-A", "2"}}}).Answer()
	if a.Code != 200 || string(a.Body) != "hi" || len(a.Header.Values("X-A")) != 2 {
		t.Errorf("answer %d %s %v", a.Code, a.Body, a.Header)
	}
}

// TestExampleFromRecursiveSchema: a schema that refers to itself (a tree node with two
// children and a list of them) gives an example that stops where the schema recurs, at once,
// rather than one that grows exponentially with the depth on every request.
func TestExampleFromRecursiveSchema(t *testing.T) {
	const tree = `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
	  "components": {"schemas": {"Node": {"type": "object", "properties": {
	    "name": {"type": "string"}, "left": {"$ref": "#/components/schemas/Node"},
	    "right": {"$ref": "#/components/schemas/Node"},
	    "kids": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}},
	  "paths": {"/t": {"get": {"responses": {"200": {"description": "ok",
	    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}}}`
	d, err := openapi3.NewLoader().LoadFromData([]byte(tree))
	if err != nil {
		t.Fatal(err)
	}
	schema := d.Paths.Value("/t").Get.Responses.Value("200").Value.Content["application/json"].Schema
	got, err := json.Marshal(fromSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"kids":[null],"left":null,"name":"string","right":null}`; string(got) != want {
		t.Errorf("example = %s, want %s", got, want)
	}

	// A wide schema nested deep without recursion is bounded by the node budget.
	wide := &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}}}
	for range 12 {
		props := openapi3.Schemas{}
		for _, n := range []string{"a", "b", "c", "d"} {
			props[n] = wide
		}
		wide = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: props}}
	}
	b := exampleBuilder{onPath: map[*openapi3.Schema]bool{}, budget: maxExampleNodes}
	b.build(wide)
	if b.budget != 0 {
		t.Errorf("a 4^12-node schema used %d of the %d-node budget; want it all, then stop", maxExampleNodes-b.budget, maxExampleNodes)
	}
}
