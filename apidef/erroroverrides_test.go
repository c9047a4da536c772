package apidef_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestErrorOverridesValidate: rules that could not work as written are refused, each saying
// where and why; good ones pass.
func TestErrorOverridesValidate(t *testing.T) {
	rule := func(m *apidef.ErrorMatch, r apidef.ErrorResponse) []apidef.ErrorOverride {
		return []apidef.ErrorOverride{{Match: m, Response: r}}
	}
	tests := []struct {
		name string
		o    apidef.ErrorOverrides
		want string
	}{
		{name: "good", o: apidef.ErrorOverrides{
			"403": rule(&apidef.ErrorMatch{Flag: "AKI"}, apidef.ErrorResponse{StatusCode: 401, Body: `{"s": {{.StatusCode}}}`, Headers: map[string]string{"WWW-Authenticate": "Bearer", "X-Gone": ""}}),
			"5xx": rule(&apidef.ErrorMatch{Flag: "URS", BodyField: `error.items.0.co\.de`, BodyValue: "X", MessagePattern: "(?i)stock"}, apidef.ErrorResponse{Template: "problem"}),
			"4XX": rule(nil, apidef.ErrorResponse{StatusCode: 200}),
			"499": rule(nil, apidef.ErrorResponse{}),
		}},
		{name: "a key that is no error code", o: apidef.ErrorOverrides{"302": rule(nil, apidef.ErrorResponse{})}, want: `error_overrides["302"]: the key "302" is neither`},
		{name: "a class that is no error class", o: apidef.ErrorOverrides{"2xx": rule(nil, apidef.ErrorResponse{})}, want: `the key "2xx"`},
		{name: "an unknown flag", o: apidef.ErrorOverrides{"403": rule(&apidef.ErrorMatch{Flag: "aki"}, apidef.ErrorResponse{})}, want: `error_overrides["403"][0].match.flag: "aki" is not one of`},
		{name: "a bad pattern", o: apidef.ErrorOverrides{"403": rule(&apidef.ErrorMatch{MessagePattern: "(unclosed"}, apidef.ErrorResponse{})}, want: "match.message_pattern: error parsing regexp"},
		{name: "a field without a value", o: apidef.ErrorOverrides{"500": rule(&apidef.ErrorMatch{BodyField: "error"}, apidef.ErrorResponse{})}, want: "body_field and body_value go together"},
		{name: "a gjson query", o: apidef.ErrorOverrides{"500": rule(&apidef.ErrorMatch{BodyField: "errors.#.code", BodyValue: "x"}, apidef.ErrorResponse{})}, want: "only plain paths"},
		{name: "an informational status", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{StatusCode: 101})}, want: "101 is not a final status"},
		{name: "a body that is no template", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{Body: "{{.Message"})}, want: "response.body: not a Go template"},
		{name: "a template outside template_path", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{Template: "../secrets"})}, want: "is not the base name"},
		{name: "a framing header", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{Headers: map[string]string{"Content-Length": "1"}})}, want: "hop-by-hop or framing"},
		{name: "204 with a body", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{StatusCode: 204, Body: "{}"})}, want: "204 answers no body"},
		{name: "a header with CR LF", o: apidef.ErrorOverrides{"500": rule(nil, apidef.ErrorResponse{Headers: map[string]string{"X-A": "1\r\nX-B: 2"}})}, want: "holds CR, LF or NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.o.Validate("error_overrides")
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), tc.want) }) {
				t.Fatalf("errors %v, want one with %q", errs, tc.want)
			}
		})
	}
}

// TestErrorOverridesStrictFields: a field a rule does not have is refused, naming the fields it
// has (Tyk OAS's camelCase names in a Classic definition among them), rather than dropped, which
// would turn a narrow rule into one for every error of its code.
func TestErrorOverridesStrictFields(t *testing.T) {
	for _, body := range []string{
		`{"403": [{"match": {"messagePattern": "x"}, "response": {}}]}`,
		`{"403": [{"match": {"flag": "AKI"}, "response": {"statusCode": 401}}]}`,
		`{"403": [{"matches": {"flag": "AKI"}, "response": {}}]}`,
	} {
		var o apidef.ErrorOverrides
		err := json.Unmarshal([]byte(body), &o)
		if err == nil || !strings.Contains(err.Error(), "unknown field") || !strings.Contains(err.Error(), "the fields are") {
			t.Errorf("%s: decoded (%v), want an unknown field refused", body, err)
		}
	}
}

// TestErrorOverridesTykCorpus: Tyk's own test definitions for error overrides decode and pass.
func TestErrorOverridesTykCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "tyk", "apps", "ci__tests__error-overrides__*.json"))
	if len(files) == 0 {
		t.Skip("Tyk's corpus is not beside the project (../shared/corpus)")
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var a apidef.APIDefinition
		if err := json.Unmarshal(data, &a); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if errs := a.ErrorOverrides.Validate("error_overrides"); len(errs) > 0 {
			t.Errorf("%s: %v", filepath.Base(f), errs)
		}
		n += len(a.ErrorOverrides)
	}
	if n == 0 {
		t.Error("no definition of the corpus has error overrides")
	}
}
