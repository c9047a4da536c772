package validate

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

const doc = `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
  "/files/{name}.json": {"get": {"operationId": "file", "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "maxLength": 3}}], "responses": {"200": {"description": "ok"}}}},
  "/users/{id}": {"get": {"operationId": "user", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {"200": {"description": "ok"}}}},
  "/users/me": {"get": {"operationId": "me", "responses": {"200": {"description": "ok"}}}}
}}`

func TestRouter(t *testing.T) {
	s, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := s.Router(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, id, param string
	}{
		{"concrete first", "GET", "/users/me", "me", ""},
		{"template", "GET", "/users/42", "user", "42"},
		{"text around the parameter", "GET", "/files/abc.json", "file", "abc"},
		{"no method", "POST", "/users/42", "", ""},
		{"deeper path", "GET", "/users/42/x", "", ""},
		{"shorter path", "GET", "/users", "", ""},
		{"empty parameter", "GET", "/users/", "", ""},
		{"method in any case", "get", "/users/42", "user", "42"},
		{"path case matters", "GET", "/USERS/42", "", ""},
		{"text around the parameter, another case", "GET", "/files/abc.JSON", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, params := rt.Find(tc.method, tc.path)
			switch {
			case tc.id == "" && op != nil:
				t.Fatalf("found %s", op.ID())
			case tc.id == "":
				return
			case op == nil || op.ID() != tc.id:
				t.Fatalf("found %v, want %s", op, tc.id)
			}
			if tc.param != "" && params["id"] != tc.param && params["name"] != tc.param {
				t.Errorf("params = %v, want %s", params, tc.param)
			}
		})
	}
	op, _ := rt.Find("GET", "/users/42")
	if !op.MatchPrefix("/users/42/x") || op.MatchPrefix("/users") {
		t.Error("MatchPrefix: want a segment prefix match only")
	}

	folding, err := s.Router(true)
	if err != nil {
		t.Fatal(err)
	}
	if op, params := folding.Find("get", "/USERS/Me"); op == nil || op.ID() != "me" || params != nil {
		t.Errorf("ignoring case: found %v %v, want me", op, params)
	}
	if op, params := folding.Find("GET", "/Files/AbC.JSON"); op == nil || op.ID() != "file" || params["name"] != "AbC" {
		t.Errorf("ignoring case: found %v %v, want file with the parameter as sent", op, params)
	}
	if op, _ := folding.Find("GET", "/files/.json"); op != nil {
		t.Errorf("ignoring case: an empty parameter found %s", op.ID())
	}

	file, params := rt.Find("GET", "/files/abcd.json")
	if err := file.Validate(context.Background(), httptest.NewRequest("GET", "/files/abcd.json", nil), params); err == nil ||
		!strings.Contains(err.Error(), "maximum string length is 3") || strings.Contains(err.Error(), "Schema:") {
		t.Errorf("Validate = %v, want the reason alone", err)
	}
}

func TestLoadRefusesExternalRefs(t *testing.T) {
	_, err := Load([]byte(`{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {
		"responses": {"200": {"$ref": "other.json#/x"}}}}}}`))
	if err == nil {
		t.Fatal("an external $ref loaded")
	}
}

func TestSchema(t *testing.T) {
	s, err := CompileSchema([]byte(`{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateJSON([]byte(`{"a": 1}`)); err != nil {
		t.Errorf("valid: %v", err)
	}
	if err := s.ValidateJSON([]byte(`{"a": "x"}`)); err == nil {
		t.Error("a string passed as an integer")
	}
	if err := s.ValidateJSON([]byte(`{`)); err == nil {
		t.Error("broken JSON passed")
	}
}
