//go:build gatehouse_compat

package oas

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// T is the OpenAPI document, with the Go names of kin-openapi's openapi3.T. Its Info, Server
// and Operation objects are OpenAPIInfo, OpenAPIServer and OpenAPIOperation here, because Tyk's
// package gives the names Info, Server and Operation to parts of the x-tyk-api-gateway object.
type T struct {
	// Extensions are the document's top-level x- fields. The x-tyk-api-gateway object is held
	// as *XTykAPIGateway; the others as decoded JSON (map[string]any, []any, string, float64,
	// bool).
	Extensions map[string]any `json:"-"`

	OpenAPI           string               `json:"openapi"`
	Components        *Components          `json:"components,omitempty"`
	Info              *OpenAPIInfo         `json:"info"`
	Paths             *Paths               `json:"paths"`
	Security          SecurityRequirements `json:"security,omitempty"`
	Servers           Servers              `json:"servers,omitempty"`
	Tags              Tags                 `json:"tags,omitempty"`
	ExternalDocs      *ExternalDocs        `json:"externalDocs,omitempty"`
	JSONSchemaDialect string               `json:"jsonSchemaDialect,omitempty"`
}

// MarshalJSON writes the document with its extensions.
func (doc T) MarshalJSON() ([]byte, error) {
	type plain T
	return withExtensions(plain(doc), doc.Extensions)
}

// UnmarshalJSON reads a document: x-tyk-api-gateway into *XTykAPIGateway (as decoded JSON when
// it does not fit those types), local $refs to components' parameters and security schemes
// resolved into Value.
func (doc *T) UnmarshalJSON(data []byte) error {
	type plain T
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	ext, err := extensionsOf(data, func(k string, raw json.RawMessage) (any, bool) {
		if k != ExtensionTykAPIGateway {
			return nil, false
		}
		var x XTykAPIGateway
		if json.Unmarshal(raw, &x) != nil {
			return nil, false
		}
		return &x, true
	})
	if err != nil {
		return err
	}
	p.Extensions = ext
	*doc = T(p)
	doc.resolveRefs()
	return nil
}

// resolveRefs points parameter and security scheme references at the components they name, as
// kin-openapi's loader does for local references.
func (doc *T) resolveRefs() {
	var params map[string]*ParameterRef
	if doc.Components != nil {
		params = doc.Components.Parameters
		for _, s := range doc.Components.SecuritySchemes {
			if s != nil && s.Value == nil {
				if name, ok := strings.CutPrefix(s.Ref, "#/components/securitySchemes/"); ok {
					if t := doc.Components.SecuritySchemes[name]; t != nil {
						s.Value = t.Value
					}
				}
			}
		}
	}
	resolve := func(ps Parameters) {
		for _, p := range ps {
			if p == nil || p.Value != nil {
				continue
			}
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				if t := params[name]; t != nil {
					p.Value = t.Value
				}
			}
		}
	}
	for _, p := range params {
		resolve(Parameters{p})
	}
	for _, item := range doc.Paths.Map() {
		if item == nil {
			continue
		}
		resolve(item.Parameters)
		for _, op := range item.Operations() {
			resolve(op.Parameters)
		}
	}
}

// OpenAPIInfo is the document's info object (kin-openapi's openapi3.Info).
type OpenAPIInfo struct {
	Title          string   `json:"title"`
	Summary        string   `json:"summary,omitempty"`
	Description    string   `json:"description,omitempty"`
	TermsOfService string   `json:"termsOfService,omitempty"`
	Contact        *Contact `json:"contact,omitempty"`
	License        *License `json:"license,omitempty"`
	Version        string   `json:"version"`
}

// Contact is the API's contact.
type Contact struct {
	Name  string `json:"name,omitempty"`
	URL   string `json:"url,omitempty"`
	Email string `json:"email,omitempty"`
}

// License is the API's license.
type License struct {
	Name       string `json:"name"`
	URL        string `json:"url,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// Servers are the document's servers.
type Servers []*OpenAPIServer

// OpenAPIServer is a server of the document (kin-openapi's openapi3.Server).
type OpenAPIServer struct {
	URL         string                     `json:"url"`
	Description string                     `json:"description,omitempty"`
	Variables   map[string]*ServerVariable `json:"variables,omitempty"`
}

// ServerVariable is a variable of a server's URL.
type ServerVariable struct {
	Enum        []string `json:"enum,omitempty"`
	Default     string   `json:"default,omitempty"`
	Description string   `json:"description,omitempty"`
}

// SecurityRequirements are alternatives: one of them must be met.
type SecurityRequirements []SecurityRequirement

// SecurityRequirement maps security scheme names to scopes; all must be met.
type SecurityRequirement map[string][]string

// Tags are the document's tags.
type Tags []*Tag

// Tag describes a tag operations carry.
type Tag struct {
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	ExternalDocs *ExternalDocs `json:"externalDocs,omitempty"`
}

// ExternalDocs points at documentation elsewhere.
type ExternalDocs struct {
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
}

// Components holds the document's reusable parameters and security schemes. Other components
// (schemas, responses, request bodies, ...) are not modelled.
type Components struct {
	Parameters      map[string]*ParameterRef      `json:"parameters,omitempty"`
	SecuritySchemes map[string]*SecuritySchemeRef `json:"securitySchemes,omitempty"`
}

// Parameters are an operation's or a path's parameters.
type Parameters []*ParameterRef

// ParameterRef is a parameter or a reference to one; Value is set for local references.
type ParameterRef struct {
	Ref   string
	Value *Parameter
}

// MarshalJSON writes the reference, or the parameter.
func (r ParameterRef) MarshalJSON() ([]byte, error) { return marshalRef(r.Ref, r.Value) }

// UnmarshalJSON reads a reference or a parameter.
func (r *ParameterRef) UnmarshalJSON(data []byte) error { return unmarshalRef(data, &r.Ref, &r.Value) }

// Parameter is an operation's parameter. Its schema, examples and content are not modelled.
type Parameter struct {
	Name            string `json:"name"`
	In              string `json:"in"`
	Description     string `json:"description,omitempty"`
	Style           string `json:"style,omitempty"`
	Explode         *bool  `json:"explode,omitempty"`
	AllowEmptyValue bool   `json:"allowEmptyValue,omitempty"`
	AllowReserved   bool   `json:"allowReserved,omitempty"`
	Deprecated      bool   `json:"deprecated,omitempty"`
	Required        bool   `json:"required,omitempty"`
}

// SecuritySchemeRef is a security scheme or a reference to one.
type SecuritySchemeRef struct {
	Ref   string
	Value *SecurityScheme
}

// MarshalJSON writes the reference, or the scheme.
func (r SecuritySchemeRef) MarshalJSON() ([]byte, error) { return marshalRef(r.Ref, r.Value) }

// UnmarshalJSON reads a reference or a scheme.
func (r *SecuritySchemeRef) UnmarshalJSON(data []byte) error {
	return unmarshalRef(data, &r.Ref, &r.Value)
}

// SecurityScheme is a security scheme; its OAuth flows are not modelled.
type SecurityScheme struct {
	Type             string `json:"type"`
	Description      string `json:"description,omitempty"`
	Name             string `json:"name,omitempty"`
	In               string `json:"in,omitempty"`
	Scheme           string `json:"scheme,omitempty"`
	BearerFormat     string `json:"bearerFormat,omitempty"`
	OpenIdConnectUrl string `json:"openIdConnectUrl,omitempty"`
}

// Paths are the document's paths, with kin-openapi's methods: Value, Find, Map, Len, Set,
// Delete, Keys, InMatchingOrder.
type Paths struct {
	// Extensions are the paths object's x- fields.
	Extensions map[string]any

	m map[string]*PathItem
}

// NewPaths returns paths holding the given items.
func NewPaths(items map[string]*PathItem) *Paths {
	p := &Paths{m: make(map[string]*PathItem, len(items))}
	for k, v := range items {
		p.m[k] = v
	}
	return p
}

// Value returns the item of exactly that path, or nil.
func (p *Paths) Value(path string) *PathItem {
	if p == nil {
		return nil
	}
	return p.m[path]
}

// Set sets the item of a path.
func (p *Paths) Set(path string, item *PathItem) {
	if p.m == nil {
		p.m = map[string]*PathItem{}
	}
	p.m[path] = item
}

// Delete removes a path.
func (p *Paths) Delete(path string) {
	if p != nil {
		delete(p.m, path)
	}
}

// Len returns the number of paths.
func (p *Paths) Len() int {
	if p == nil {
		return 0
	}
	return len(p.m)
}

// Map returns the paths as a map (the document's own: changing it changes the paths).
func (p *Paths) Map() map[string]*PathItem {
	if p == nil {
		return nil
	}
	return p.m
}

// Keys returns the paths, sorted.
func (p *Paths) Keys() []string {
	keys := make([]string, 0, p.Len())
	for k := range p.Map() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Find returns the item of a path, ignoring the names of template variables as kin-openapi's
// Find does: Find("/pets/{name}") finds "/pets/{id}".
func (p *Paths) Find(path string) *PathItem {
	if item := p.Value(path); item != nil {
		return item
	}
	want := normalizeTemplate(path)
	for _, k := range p.Keys() {
		if normalizeTemplate(k) == want {
			return p.m[k]
		}
	}
	return nil
}

// InMatchingOrder returns the paths in the order they are matched against URLs: fewer template
// variables first, then in descending lexical order.
func (p *Paths) InMatchingOrder() []string {
	if p.Len() == 0 {
		return nil
	}
	keys := p.Keys()
	sort.SliceStable(keys, func(i, j int) bool {
		ci, cj := strings.Count(keys[i], "}"), strings.Count(keys[j], "}")
		if ci != cj {
			return ci < cj
		}
		return keys[i] > keys[j]
	})
	return keys
}

// normalizeTemplate writes each template variable of a path as {} ({*} for a variable ending
// in *).
func normalizeTemplate(path string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			b.WriteString(path)
			return b.String()
		}
		b.WriteString(path[:i])
		if strings.HasSuffix(path[i:i+j], "*") {
			b.WriteString("{*}")
		} else {
			b.WriteString("{}")
		}
		path = path[i+j+1:]
	}
}

// MarshalJSON writes the paths with their extensions.
func (p *Paths) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	m := p.m
	if m == nil {
		m = map[string]*PathItem{}
	}
	return withExtensions(m, p.Extensions)
}

// UnmarshalJSON reads the paths; x- fields go to Extensions.
func (p *Paths) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	p.m = make(map[string]*PathItem, len(raw))
	p.Extensions = nil
	for k, v := range raw {
		if strings.HasPrefix(k, "x-") {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			if p.Extensions == nil {
				p.Extensions = map[string]any{}
			}
			p.Extensions[k] = x
			continue
		}
		var item *PathItem
		if err := json.Unmarshal(v, &item); err != nil {
			return err
		}
		p.m[k] = item
	}
	return nil
}

// PathItem is a path's operations, one field per method (kin-openapi's openapi3.PathItem).
type PathItem struct {
	// Extensions are the path item's x- fields.
	Extensions map[string]any `json:"-"`

	Ref         string            `json:"$ref,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	Description string            `json:"description,omitempty"`
	Connect     *OpenAPIOperation `json:"connect,omitempty"`
	Delete      *OpenAPIOperation `json:"delete,omitempty"`
	Get         *OpenAPIOperation `json:"get,omitempty"`
	Head        *OpenAPIOperation `json:"head,omitempty"`
	Options     *OpenAPIOperation `json:"options,omitempty"`
	Patch       *OpenAPIOperation `json:"patch,omitempty"`
	Post        *OpenAPIOperation `json:"post,omitempty"`
	Put         *OpenAPIOperation `json:"put,omitempty"`
	Trace       *OpenAPIOperation `json:"trace,omitempty"`
	Servers     Servers           `json:"servers,omitempty"`
	Parameters  Parameters        `json:"parameters,omitempty"`
}

// MarshalJSON writes the path item with its extensions.
func (item PathItem) MarshalJSON() ([]byte, error) {
	type plain PathItem
	return withExtensions(plain(item), item.Extensions)
}

// UnmarshalJSON reads a path item; x- fields go to Extensions.
func (item *PathItem) UnmarshalJSON(data []byte) error {
	type plain PathItem
	var p plain
	if err := unmarshalWithExtensions(data, &p, &p.Extensions); err != nil {
		return err
	}
	*item = PathItem(p)
	return nil
}

// methodField returns the field of a method (upper case), or nil for another method.
func (item *PathItem) methodField(method string) **OpenAPIOperation {
	switch method {
	case http.MethodConnect:
		return &item.Connect
	case http.MethodDelete:
		return &item.Delete
	case http.MethodGet:
		return &item.Get
	case http.MethodHead:
		return &item.Head
	case http.MethodOptions:
		return &item.Options
	case http.MethodPatch:
		return &item.Patch
	case http.MethodPost:
		return &item.Post
	case http.MethodPut:
		return &item.Put
	case http.MethodTrace:
		return &item.Trace
	}
	return nil
}

// Operations returns the path's operations by method (upper case).
func (item *PathItem) Operations() map[string]*OpenAPIOperation {
	ops := map[string]*OpenAPIOperation{}
	if item == nil {
		return ops
	}
	for _, m := range []string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
		http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodTrace} {
		if op := *item.methodField(m); op != nil {
			ops[m] = op
		}
	}
	return ops
}

// GetOperation returns the operation of a method (upper case), or nil.
func (item *PathItem) GetOperation(method string) *OpenAPIOperation {
	if item == nil {
		return nil
	}
	if f := item.methodField(method); f != nil {
		return *f
	}
	return nil
}

// SetOperation sets the operation of a method (upper case); other methods are ignored.
func (item *PathItem) SetOperation(method string, op *OpenAPIOperation) {
	if f := item.methodField(method); f != nil {
		*f = op
	}
}

// OpenAPIOperation is an operation of a path (kin-openapi's openapi3.Operation). Its request
// body, responses and callbacks are not modelled.
type OpenAPIOperation struct {
	// Extensions are the operation's x- fields.
	Extensions map[string]any `json:"-"`

	Tags         []string              `json:"tags,omitempty"`
	Summary      string                `json:"summary,omitempty"`
	Description  string                `json:"description,omitempty"`
	OperationID  string                `json:"operationId,omitempty"`
	Parameters   Parameters            `json:"parameters,omitempty"`
	Deprecated   bool                  `json:"deprecated,omitempty"`
	Security     *SecurityRequirements `json:"security,omitempty"`
	Servers      *Servers              `json:"servers,omitempty"`
	ExternalDocs *ExternalDocs         `json:"externalDocs,omitempty"`
}

// MarshalJSON writes the operation with its extensions.
func (op OpenAPIOperation) MarshalJSON() ([]byte, error) {
	type plain OpenAPIOperation
	return withExtensions(plain(op), op.Extensions)
}

// UnmarshalJSON reads an operation; x- fields go to Extensions.
func (op *OpenAPIOperation) UnmarshalJSON(data []byte) error {
	type plain OpenAPIOperation
	var p plain
	if err := unmarshalWithExtensions(data, &p, &p.Extensions); err != nil {
		return err
	}
	*op = OpenAPIOperation(p)
	return nil
}

// unmarshalWithExtensions decodes data into v and its x- fields into *ext.
func unmarshalWithExtensions(data []byte, v any, ext *map[string]any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	x, err := extensionsOf(data, nil)
	if err != nil {
		return err
	}
	*ext = x
	return nil
}

// extensionsOf returns the x- fields of a JSON object as decoded JSON, or nil when it has none;
// typed, when not nil, may decode a field into a Go type of its own.
func extensionsOf(data []byte, typed func(string, json.RawMessage) (any, bool)) (map[string]any, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	var ext map[string]any
	for k, v := range raw {
		if !strings.HasPrefix(k, "x-") {
			continue
		}
		if ext == nil {
			ext = map[string]any{}
		}
		if typed != nil {
			if x, ok := typed(k, v); ok {
				ext[k] = x
				continue
			}
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		ext[k] = x
	}
	return ext, nil
}

// withExtensions writes v, a value whose JSON form is an object, with the extensions added.
func withExtensions(v any, ext map[string]any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil || len(ext) == 0 {
		return data, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k, x := range ext {
		if m[k], err = json.Marshal(x); err != nil {
			return nil, err
		}
	}
	return json.Marshal(m)
}

// marshalRef writes {"$ref": ref}, or the value when ref is empty.
func marshalRef(ref string, value any) ([]byte, error) {
	if ref != "" {
		return json.Marshal(map[string]string{"$ref": ref})
	}
	return json.Marshal(value)
}

// unmarshalRef reads {"$ref": ...} into ref, or anything else into value.
func unmarshalRef[V any](data []byte, ref *string, value **V) error {
	var r struct {
		Ref string `json:"$ref"`
	}
	if err := json.Unmarshal(data, &r); err == nil && r.Ref != "" {
		*ref = r.Ref
		return nil
	}
	var v V
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*value = &v
	return nil
}
