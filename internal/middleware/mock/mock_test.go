package mock

import (
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
