// Package mock answers requests for Tyk OAS operations that enable `mockResponse`, instead of the
// upstream: with the code, body and headers the definition gives, or (`fromOASExamples`) with an
// example of the operation's responses in the OpenAPI document, chosen as Tyk chooses it. An
// answer is built once per request from what was compiled with the API; the response hooks run
// on it as on an upstream's.
package mock

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Headers Tyk reads to choose an example.
const (
	HeaderExampleName = "X-Tyk-Accept-Example-Name"
	HeaderExampleCode = "X-Tyk-Accept-Example-Code"
)

// Header is a response header of a static mock.
type Header struct {
	Name, Value string
}

// Static is a mock with a fixed answer.
type Static struct {
	Code    int
	Body    string
	Headers []Header
}

// Examples answers with an example from the operation's responses.
type Examples struct {
	// Op is the operation; it must not change.
	Op *openapi3.Operation
	// Code, ContentType and Name are the defaults of fromOASExamples (200, application/json,
	// the first example by name).
	Code        int
	ContentType string
	Name        string
}

// Answer is a mock response.
type Answer struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Error is a request the mock cannot answer: the status and Tyk's message.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Answer returns the static answer.
func (s *Static) Answer() *Answer {
	code := s.Code
	if code == 0 {
		code = http.StatusOK
	}
	h := http.Header{}
	for _, x := range s.Headers {
		h.Add(x.Name, x.Value)
	}
	return &Answer{Code: code, Header: h, Body: []byte(s.Body)}
}

// Answer picks the example for r, as Tyk does: the code from X-Tyk-Accept-Example-Code (else
// the configured one, else 200), the media type from Accept (else the configured one, else
// application/json), the example named by X-Tyk-Accept-Example-Name (else the configured one,
// else the media type's `example`, else the first of its `examples` by name, else one built
// from its schema). Unlike Tyk, which looks the whole Accept value up as one media type, Accept
// is read as the list it is: the first media range the operation has content for is used, and
// */* means the default.
func (e *Examples) Answer(r *http.Request) (*Answer, error) {
	code := e.Code
	if code == 0 {
		code = http.StatusOK
	}
	if v := r.Header.Get(HeaderExampleCode); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &Error{http.StatusBadRequest, fmt.Sprintf("given code %s is not a valid integer value", v)}
		}
		code = n
	}
	name := e.Name
	if v := r.Header.Get(HeaderExampleName); v != "" {
		name = v
	}
	var resp *openapi3.Response
	if e.Op.Responses != nil {
		if ref := e.Op.Responses.Status(code); ref != nil {
			resp = ref.Value
		}
	}
	if resp == nil {
		return nil, &Error{http.StatusNotFound, fmt.Sprintf("there is no example response for the code: %d", code)}
	}
	ctype := e.ContentType
	if ctype == "" {
		ctype = "application/json"
	}
	media, ctype := pick(resp.Content, r.Header.Values("Accept"), ctype)
	if media == nil {
		return nil, &Error{http.StatusNotFound, "there is no example response for the content type: " + ctype}
	}
	var example any
	switch {
	case name != "" && len(media.Examples) > 0:
		ex := media.Examples[name]
		if ex == nil || ex.Value == nil {
			return nil, &Error{http.StatusNotFound, "there is no example response for the example name: " + name}
		}
		example = ex.Value.Value
	case media.Example != nil:
		example = media.Example
	case len(media.Examples) > 0:
		names := make([]string, 0, len(media.Examples))
		for n := range media.Examples {
			names = append(names, n)
		}
		sort.Strings(names)
		if ex := media.Examples[names[0]]; ex != nil && ex.Value != nil {
			example = ex.Value.Value
		}
	default:
		example = fromSchema(media.Schema)
	}
	body, err := encode(example, ctype)
	if err != nil {
		return nil, &Error{http.StatusInternalServerError, "the example cannot be encoded: " + err.Error()}
	}
	h := http.Header{}
	names := make([]string, 0, len(resp.Headers))
	for n := range resp.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ref := resp.Headers[n]
		if ref == nil || ref.Value == nil {
			continue
		}
		v := ref.Value.Example
		if v == nil {
			v = fromSchema(ref.Value.Schema)
		}
		h.Set(n, fmt.Sprint(v))
	}
	h.Set("Content-Type", ctype)
	return &Answer{Code: code, Header: h, Body: body}, nil
}

// pick chooses the media type of content for the Accept values, or def when they name none.
func pick(content openapi3.Content, accept []string, def string) (*openapi3.MediaType, string) {
	var ranges []string
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt != "*/*" {
				ranges = append(ranges, mt)
			}
		}
	}
	if len(ranges) == 0 {
		return content.Get(def), def
	}
	for _, mt := range ranges {
		if m := content.Get(mt); m != nil {
			return m, mt
		}
		// A range such as text/* takes the first content of that type.
		if typ, ok := strings.CutSuffix(mt, "/*"); ok {
			for _, k := range sortedKeys(content) {
				if strings.HasPrefix(k, typ+"/") {
					return content[k], k
				}
			}
		}
	}
	return nil, strings.Join(ranges, ", ")
}

func sortedKeys(content openapi3.Content) []string {
	keys := make([]string, 0, len(content))
	for k := range content {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encode writes an example: a string as it is for a non-JSON media type, anything else as JSON.
func encode(example any, ctype string) ([]byte, error) {
	if s, ok := example.(string); ok && !strings.Contains(ctype, "json") {
		return []byte(s), nil
	}
	return json.Marshal(example)
}

// maxExampleNodes bounds the values one example built from a schema may hold: a wide schema
// nested deep would otherwise cost exponential work on every request.
const maxExampleNodes = 1000

// fromSchema builds an example from a schema, as Tyk's ExampleExtractor does: the schema's
// example, else its default, else one built from its properties or items, else a value of its
// type. A schema that refers to itself (a tree's node) stops where it recurs, and the example
// holds at most maxExampleNodes values.
func fromSchema(ref *openapi3.SchemaRef) any {
	b := exampleBuilder{onPath: map[*openapi3.Schema]bool{}, budget: maxExampleNodes}
	return b.build(ref)
}

type exampleBuilder struct {
	onPath map[*openapi3.Schema]bool // the schemas being built, from the root down
	budget int
}

func (b *exampleBuilder) build(ref *openapi3.SchemaRef) any {
	if ref == nil || ref.Value == nil || b.onPath[ref.Value] || b.budget <= 0 {
		return nil
	}
	b.budget--
	s := ref.Value
	switch {
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	b.onPath[s] = true
	defer delete(b.onPath, s)
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		out := map[string]any{}
		for name, p := range s.Properties {
			out[name] = b.build(p)
		}
		return out
	case s.Type.Is("array"):
		return []any{b.build(s.Items)}
	case s.Type.Is("string"):
		return "string"
	case s.Type.Is("integer"), s.Type.Is("number"):
		return 0
	case s.Type.Is("boolean"):
		return true
	}
	return nil
}
