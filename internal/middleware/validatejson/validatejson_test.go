package validatejson

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/validate"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

const person = `{"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}`

func entries(e ...apidef.ValidatePathMeta) map[string]apidef.VersionInfo {
	return map[string]apidef.VersionInfo{"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: e}}}
}

func TestStep(t *testing.T) {
	c, err := Compile(entries(
		apidef.ValidatePathMeta{Path: "/people", Method: "POST", Schema: json.RawMessage(person)},
		apidef.ValidatePathMeta{Path: "/people/{id}", Method: "PUT", Schema: json.RawMessage(person), ErrorResponseCode: 400, IgnoreCase: true},
		apidef.ValidatePathMeta{Path: "/off", Method: "POST", Schema: json.RawMessage(person), Disabled: true},
	))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		code                     int // 0: passes
		msg                      string
	}{
		{name: "valid", method: "POST", path: "/people", body: `{"name": "Ada", "age": 36}`},
		{name: "required, Tyk's default code and words", method: "POST", path: "/people", body: `{"age": 36}`, code: 422, msg: "(root): name is required"},
		{name: "two failures", method: "POST", path: "/people", body: `{"age": "x"}`, code: 422, msg: "(root): name is required; age: Invalid type. Expected: integer, given: string"},
		{name: "matched anywhere in the path, as in Tyk", method: "POST", path: "/v2/people/extra", body: `{}`, code: 422},
		{name: "custom code", method: "PUT", path: "/PEOPLE/7", body: `[]`, code: 400, msg: "(root): Invalid type. Expected: object, given: array"},
		{name: "not JSON", method: "POST", path: "/people", body: `{"name":`, code: 400, msg: "JSON parsing error: unexpected EOF"},
		{name: "empty body", method: "POST", path: "/people", body: ``, code: 400, msg: "JSON parsing error: EOF"},
		{name: "other method", method: "GET", path: "/people", body: `nope`},
		{name: "other path", method: "POST", path: "/pets", body: `nope`},
		{name: "disabled entry", method: "POST", path: "/off", body: `nope`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			cx := &chain.Context{Version: "v1", Readings: endpoint.Readings(tc.path)}
			err := c.Step().Run(httptest.NewRecorder(), r, cx)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				// The body is still there for the upstream.
				if b, _ := io.ReadAll(r.Body); string(b) != tc.body {
					t.Errorf("body after the step = %q, want %q", b, tc.body)
				}
				return
			}
			var ce *chain.Error
			if !errors.As(err, &ce) || ce.Status != tc.code || !strings.Contains(ce.Message, tc.msg) {
				t.Errorf("Run = %#v, want %d %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestStepBodyOverLimit(t *testing.T) {
	c, err := Compile(entries(apidef.ValidatePathMeta{Path: "/people", Method: "POST", Schema: json.RawMessage(person)}))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/people", strings.NewReader(`{"name": "a long name"}`))
	r.ContentLength = -1
	body := proxy.LimitBody(r, 5)
	r.Body = body
	cx := &chain.Context{Version: "v1", Readings: endpoint.Readings("/people"), Body: body}
	var ce *chain.Error
	if err := c.Step().Run(httptest.NewRecorder(), r, cx); !errors.As(err, &ce) || ce.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("Run = %v, want 413", err)
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		entries []apidef.ValidatePathMeta
		want    string // "" compiles
	}{
		{name: "none"},
		{name: "bad schema", entries: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"type": "integr"}`)}},
			want: `version "v1": extended_paths.validate_json[0]: compiling the schema`},
		{name: "remote reference", entries: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"$ref": "http://example.com/s.json"}`)}},
			want: "only references inside the schema are followed"},
		{name: "no schema", entries: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST"}}, want: "schema is missing"},
		{name: "bad code", entries: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{}`), ErrorResponseCode: 302}}, want: "error_response_code 302"},
		{name: "bad path", entries: []apidef.ValidatePathMeta{{Path: "/x(", Method: "POST", Schema: json.RawMessage(`{}`)}}, want: "validate_json[0]"},
		{name: "disabled not compiled", entries: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"type": 1}`), Disabled: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compile(entries(tc.entries...))
			if tc.want == "" {
				if err != nil || c != nil {
					t.Errorf("Compile = %v, %v; want nil, nil", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile = %v, want %q", err, tc.want)
			}
		})
	}
	// Without use_extended_paths the entries do not apply, as in Tyk.
	c, err := Compile(map[string]apidef.VersionInfo{"v1": {ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/x", Method: "POST", Schema: json.RawMessage(`{}`)}}}}})
	if c != nil || err != nil {
		t.Errorf("without use_extended_paths: %v, %v", c, err)
	}
}

// TestStepBodyOverMaxBody: whatever the size limits let through, validate_json reads at most
// validate.MaxBody bytes: a larger body gets 413, one of exactly that size is validated, and
// the body is whole again for the steps after it.
func TestStepBodyOverMaxBody(t *testing.T) {
	c, err := Compile(entries(apidef.ValidatePathMeta{Path: "/people", Method: "POST", Schema: json.RawMessage(person)}))
	if err != nil {
		t.Fatal(err)
	}
	// A valid object padded with spaces to n bytes.
	body := func(n int) string {
		const obj = `{"name": "Ada"}`
		return obj + strings.Repeat(" ", n-len(obj))
	}
	for _, tc := range []struct {
		name    string
		size    int
		unknown bool // streamed: no Content-Length
		code    int
	}{
		{name: "at the cap", size: validate.MaxBody},
		{name: "one byte over", size: validate.MaxBody + 1, code: 413},
		{name: "one byte over, streamed", size: validate.MaxBody + 1, unknown: true, code: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body(tc.size)
			r := httptest.NewRequest("POST", "/people", strings.NewReader(b))
			if tc.unknown {
				r.ContentLength = -1
			}
			watched := proxy.WatchBody(r)
			r.Body = watched
			cx := &chain.Context{Version: "v1", Readings: endpoint.Readings("/people"), Body: watched}
			err := c.Step().Run(httptest.NewRecorder(), r, cx)
			var ce *chain.Error
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != 0 && (!errors.As(err, &ce) || ce.Status != tc.code || ce.Message != chain.MsgRequestTooLarge):
				t.Fatalf("Run = %v, want %d %q", err, tc.code, chain.MsgRequestTooLarge)
			}
			if got, _ := io.ReadAll(r.Body); len(got) != tc.size {
				t.Errorf("the body after the step has %d bytes, want all %d", len(got), tc.size)
			}
		})
	}
}
