package validate

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func TestSchemaDraft4(t *testing.T) {
	person := `{"type": "object", "required": ["name"],
		"properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
			"tags": {"type": "array", "items": {"type": "string"}}, "kind": {"enum": ["a", "b"]}},
		"additionalProperties": false}`
	tests := []struct {
		name, schema, doc string
		want              string // "" valid; else the Failures' text
	}{
		{name: "valid", schema: person, doc: `{"name": "x", "age": 3, "tags": ["a"], "kind": "a"}`},
		{name: "required, as Tyk words it", schema: person, doc: `{}`, want: "(root): name is required"},
		{name: "type, as Tyk words it", schema: person, doc: `{"name": "x", "age": "3"}`, want: "age: Invalid type. Expected: integer, given: string"},
		{name: "nested array item", schema: person, doc: `{"name": "x", "tags": ["a", 2]}`, want: "tags.1: Invalid type. Expected: string, given: number"},
		{name: "several, joined by ;", schema: person, doc: `{"age": 1.5}`, want: "; "},
		{name: "additional property", schema: person, doc: `{"name": "x", "extra": 1}`, want: "(root): Additional property extra is not allowed"},
		{name: "enum", schema: person, doc: `{"name": "x", "kind": "c"}`, want: `kind: kind must be one of the following: "a", "b"`},
		{name: "other keywords in the validator's words", schema: person, doc: `{"name": "x", "age": -1}`, want: "age: "},
		{name: "draft-04 exclusiveMaximum is a boolean", schema: `{"maximum": 5, "exclusiveMaximum": true}`, doc: `5`, want: "(root): "},
		{name: "a schema without type accepts null", schema: `{"properties": {"a": {}}}`, doc: `null`},
		{name: "references inside the schema", schema: `{"properties": {"a": {"$ref": "#/definitions/s"}}, "definitions": {"s": {"type": "string"}}}`,
			doc: `{"a": 1}`, want: "a: Invalid type. Expected: string"},
		{name: "tuple items", schema: `{"items": [{"type": "string"}], "additionalItems": false}`, doc: `["a", "b"]`, want: "(root): "},
		{name: "dependencies", schema: `{"dependencies": {"a": ["b"]}}`, doc: `{"a": 1}`, want: "(root): "},
		{name: "formats are asserted", schema: `{"format": "email"}`, doc: `"nope"`, want: "(root): "},
		{name: "big numbers are exact", schema: `{"type": "integer"}`, doc: `12345678901234567890`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := CompileSchema([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			err = s.ValidateJSON([]byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Errorf("ValidateJSON = %v, want valid", err)
				}
				return
			}
			var f Failures
			if !errors.As(err, &f) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateJSON = %v (%T), want Failures containing %q", err, err, tc.want)
			}
		})
	}
}

func TestSchemaNotJSON(t *testing.T) {
	s, err := CompileSchema([]byte(`{"type": "object"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{``, `{`, `nope`, `{}{}`, "{}\n{}", `{} x`, `1 2`, `"a""b"`} {
		var se *SyntaxError
		if err := s.ValidateJSON([]byte(doc)); !errors.As(err, &se) {
			t.Errorf("ValidateJSON(%q) = %v, want a *SyntaxError", doc, err)
		}
	}
	for _, doc := range []string{`{}`, " {} \r\n\t", "{}\n"} {
		if err := s.ValidateJSON([]byte(doc)); err != nil {
			t.Errorf("ValidateJSON(%q) = %v, want nil", doc, err)
		}
	}
}

// TestJSONBodyOneValue: every media type kin-openapi decodes as JSON (the +json fallback and
// parameters included) refuses a body of more than one value.
func TestJSONBodyOneValue(t *testing.T) {
	for _, ct := range append(JSONMediaTypes, "application/vnd.example+json", "Application/JSON; charset=utf-8") {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"role":"user"}{"role":"admin"}`))
		r.Header.Set("Content-Type", ct)
		mt := strings.ToLower(strings.Split(ct, ";")[0])
		rb := &openapi3.RequestBody{Content: openapi3.NewContentWithSchema(openapi3.NewObjectSchema(), []string{mt})}
		err := openapi3filter.ValidateRequestBody(context.Background(), &openapi3filter.RequestValidationInput{Request: r}, rb)
		if err == nil || !strings.Contains(err.Error(), "invalid character '{' after top-level value") {
			t.Errorf("%s: %v, want a body of two values refused", ct, err)
		}
	}
}

func TestCompileSchemaRefusals(t *testing.T) {
	for name, schema := range map[string]string{
		"not JSON":          `{"type":`,
		"external ref":      `{"$ref": "https://example.com/s.json"}`,
		"file ref":          `{"$ref": "file:///etc/passwd"}`,
		"relative file ref": `{"$ref": "other.json#/x"}`,
		"bad pattern":       `{"pattern": "("}`,
		"bad type":          `{"type": "integr"}`,
		"dangling ref":      `{"$ref": "#/definitions/none"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := CompileSchema([]byte(schema)); err == nil {
				t.Errorf("CompileSchema(%s) compiled", schema)
			}
		})
	}
}
