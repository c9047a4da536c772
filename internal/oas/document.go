// Package oas reads Tyk OAS API definitions, OpenAPI 3.0 and 3.1 documents with Tyk's
// x-tyk-api-gateway extension, and maps the subset Gatehouse implements onto the Classic model
// (apidef.APIDefinition), as Tyk's ExtractTo does: an OAS API then runs exactly the Classic
// middleware. What the extension enables that Gatehouse does not implement is reported by
// Document.Unsupported, so the API is refused rather than served without it.
//
// The package uses the standard library only.
package oas

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/jsonerr"
)

// ExtensionKey is the name of Tyk's extension in an OpenAPI document.
const ExtensionKey = "x-tyk-api-gateway"

// Document is a parsed Tyk OAS document. It is immutable once parsed.
type Document struct {
	// Raw is the document as read.
	Raw []byte
	// OpenAPI is the document's `openapi` version, 3.0.x or 3.1.x.
	OpenAPI string
	// Ext is the x-tyk-api-gateway extension.
	Ext Extension
	// ExtRaw is the extension as read, for reporting the fields Gatehouse ignores.
	ExtRaw json.RawMessage

	// SecuritySchemes are the document's components.securitySchemes, by name.
	SecuritySchemes map[string]SecurityScheme
	// Security is the document's top-level `security`: requirements, each a set of scheme
	// names (an OR of ANDs).
	Security []map[string][]string

	operations []Operation
	opSecurity []string // operationIds that declare a security of their own
}

// SecurityScheme is an OpenAPI security scheme, as far as it picks the Tyk auth method.
type SecurityScheme struct {
	Type         string `json:"type"`
	In           string `json:"in"`
	Name         string `json:"name"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat"`
	// Flows are an `oauth2` scheme's grants.
	Flows OAuthFlows `json:"flows"`
}

// Operation is an OpenAPI operation the document's `paths` declare.
type Operation struct {
	// ID is the operationId; operations without one are not listed.
	ID string
	// Method is the upper-case HTTP method.
	Method string
	// Path is the OpenAPI path, such as /users/{id}, relative to the listen path.
	Path string
}

// Pattern is the operation's path as a Classic endpoint entry matches it: exactly, as OpenAPI
// means it. The Classic lists match a grant's path as a prefix (`/users` covers `/users/1`) and
// read it as a regular expression; an OpenAPI path is a literal template, so `/users/{id}` is
// written `^/users/{id}$` and `/status.json` `^/status\.json$`: an operation's `allow` or
// `ignoreAuthentication` covers neither the paths below it, which other operations may declare
// with authentication, nor paths its literal characters would match as an expression. Each
// `{parameter}` matches one segment.
func (op Operation) Pattern() string {
	var b strings.Builder
	b.WriteString("^")
	p := op.Path
	for p != "" {
		open := strings.IndexByte(p, '{')
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(p))
			break
		}
		end := strings.IndexByte(p[open:], '}')
		if end < 0 {
			b.WriteString(regexp.QuoteMeta(p))
			break
		}
		b.WriteString(regexp.QuoteMeta(p[:open]))
		// The name is kept for the reader; a ':' would make it a regular expression.
		b.WriteString("{" + paramName.Replace(p[open+1:open+end]) + "}")
		p = p[open+end+1:]
	}
	b.WriteString("$")
	return b.String()
}

// paramName keeps a path parameter's name from reading as anything but a name in a Classic
// entry: `{id:[0-9]+}` would be a regular expression, and a brace would nest.
var paramName = strings.NewReplacer(":", "_", "{", "_")

// methods are the operation keys of an OpenAPI path item, in the order operations are listed.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// IsDocument reports whether raw holds an OpenAPI document (a top-level `openapi` or
// x-tyk-api-gateway field) rather than a Tyk Classic definition. A Classic definition has
// neither. It does not check that the document is valid: JSON that does not parse is a document
// when it names either field.
func IsDocument(raw []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		// A document with a syntax error is still told apart, so its error speaks of OAS.
		return bytes.Contains(raw, []byte(`"openapi"`)) || bytes.Contains(raw, []byte(`"`+ExtensionKey+`"`))
	}
	_, oa := top["openapi"]
	_, ext := top[ExtensionKey]
	return oa || ext
}

// Parse reads a Tyk OAS document. It fails when raw is not JSON, not an OpenAPI 3.0 or 3.1
// document, or has no x-tyk-api-gateway object; the error says where and what.
func Parse(raw []byte) (*Document, error) {
	var top struct {
		OpenAPI    string                     `json:"openapi"`
		Paths      map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]SecurityScheme `json:"securitySchemes"`
		} `json:"components"`
		Security []map[string][]string `json:"security"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, jsonerr.Describe(raw, err)
	}
	// The extension is looked up by its exact name: encoding/json would also match a field
	// differing in case, which Tyk would not read.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, errors.New("an OpenAPI document is a JSON object")
	}
	if !strings.HasPrefix(top.OpenAPI, "3.0.") && !strings.HasPrefix(top.OpenAPI, "3.1.") {
		if top.OpenAPI == "" {
			return nil, errors.New("openapi: missing; a Tyk OAS definition is an OpenAPI 3.0 or 3.1 document")
		}
		return nil, fmt.Errorf("openapi: %q is not 3.0.x or 3.1.x", top.OpenAPI)
	}
	ext, ok := fields[ExtensionKey]
	if !ok || bytes.Equal(bytes.TrimSpace(ext), []byte("null")) {
		return nil, errors.New(ExtensionKey + ": missing; an OpenAPI document without it is not an API definition (Tyk imports such documents through POST /tyk/apis/oas/import)")
	}
	d := &Document{
		Raw:             raw,
		OpenAPI:         top.OpenAPI,
		ExtRaw:          ext,
		SecuritySchemes: top.Components.SecuritySchemes,
		Security:        top.Security,
	}
	if err := json.Unmarshal(ext, &d.Ext); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("%s.%s: want %s, got JSON %s", ExtensionKey, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("%s: %w", ExtensionKey, jsonerr.Describe(ext, err))
	}
	if err := d.resolve(top.Paths); err != nil {
		return nil, err
	}
	return d, nil
}

// resolve lists the operations of paths that have an operationId, longest path first (as
// Tyk's oasutil.SortByPathLength), then by path and method.
func (d *Document) resolve(paths map[string]json.RawMessage) error {
	for path, raw := range paths {
		var item map[string]json.RawMessage
		if err := json.Unmarshal(raw, &item); err != nil {
			return fmt.Errorf("paths[%q]: not an object", path)
		}
		for _, m := range methods {
			opRaw, ok := item[m]
			if !ok {
				continue
			}
			var op struct {
				OperationID string          `json:"operationId"`
				Security    json.RawMessage `json:"security"`
			}
			if err := json.Unmarshal(opRaw, &op); err != nil {
				return fmt.Errorf("paths[%q].%s: %v", path, m, err)
			}
			if op.OperationID == "" {
				continue
			}
			d.operations = append(d.operations, Operation{ID: op.OperationID, Method: strings.ToUpper(m), Path: path})
			if len(op.Security) > 0 {
				d.opSecurity = append(d.opSecurity, op.OperationID)
			}
		}
	}
	sort.Slice(d.operations, func(i, j int) bool {
		a, b := d.operations[i], d.operations[j]
		if len(a.Path) != len(b.Path) {
			return len(a.Path) > len(b.Path)
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return methodIndex(a.Method) < methodIndex(b.Method)
	})
	sort.Strings(d.opSecurity)
	return nil
}

func methodIndex(m string) int {
	for i, x := range methods {
		if strings.EqualFold(x, m) {
			return i
		}
	}
	return len(methods)
}

// Operations returns the operations with an operationId, longest path first. The slice is the
// document's own: callers must not change it.
func (d *Document) Operations() []Operation { return d.operations }

// OperationsByID returns the operations with the given operationId (an id should be unique in
// a document, but a document may repeat one), longest path first.
func (d *Document) OperationsByID(id string) []Operation {
	var out []Operation
	for _, op := range d.operations {
		if op.ID == id {
			out = append(out, op)
		}
	}
	return out
}

// OperationMiddleware returns the extension's middleware for the operationId, or nil.
func (d *Document) OperationMiddleware(id string) *OperationMiddleware {
	if d.Ext.Middleware == nil {
		return nil
	}
	return d.Ext.Middleware.Operations[id]
}

// operationIDs returns the ids of middleware.operations, sorted.
func (d *Document) operationIDs() []string {
	if d.Ext.Middleware == nil {
		return nil
	}
	ids := make([]string, 0, len(d.Ext.Middleware.Operations))
	for id := range d.Ext.Middleware.Operations {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// pluginKeys are the keys of the extension's middleware.global that name plugins: what a
// document's SansPlugins leaves out.
var pluginKeys = []string{"pluginConfig", "prePlugins", "prePlugin", "postAuthenticationPlugins",
	"postAuthenticationPlugin", "postPlugins", "postPlugin", "responsePlugins", "responsePlugin"}

// SansPlugins is a digest of the document as read, its global plugins and plugin bundle
// (middleware.global's plugin sections) aside: two versions of an API's document with one
// digest differ in those alone. A document that does not decode as an object has a digest of
// its bytes.
func (d *Document) SansPlugins() [32]byte {
	dec := json.NewDecoder(bytes.NewReader(d.Raw))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return sha256.Sum256(d.Raw)
	}
	if ext, ok := top[ExtensionKey].(map[string]any); ok {
		if mw, ok := ext["middleware"].(map[string]any); ok {
			if global, ok := mw["global"].(map[string]any); ok {
				for _, k := range pluginKeys {
					delete(global, k)
				}
			}
		}
	}
	data, err := json.Marshal(top)
	if err != nil {
		return sha256.Sum256(d.Raw)
	}
	return sha256.Sum256(data)
}
