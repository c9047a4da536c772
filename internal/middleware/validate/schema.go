package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// MaxBody is the largest request body validate_json and OAS validateRequest read: decoding JSON
// takes several times the body's size in memory, so a larger body is refused (413) rather than
// validated, whatever the size limits let through (max_request_body_size is 100 MiB by default).
const MaxBody = 10 << 20

// Draft4 is the $schema of JSON Schema draft-04, the only draft Tyk's validate_json accepts.
const Draft4 = "http://json-schema.org/draft-04/schema#"

// Schema is a compiled JSON Schema for checking a JSON value, such as a Classic `validate_json`
// entry's. It is read as draft-04 (what Tyk's gojsonschema reads a schema without $schema as),
// with formats asserted, by github.com/santhosh-tekuri/jsonschema/v6, the JSON Schema validator
// kin-openapi itself uses (so no module is added for it). References are followed only inside
// the schema: a definition cannot make the gateway read files or fetch URLs.
type Schema struct {
	s *jsonschema.Schema
}

// schemaURL names the schema being compiled; nothing is ever loaded from it.
const schemaURL = "urn:gatehouse:validate_json"

// CompileSchema reads and compiles a JSON Schema.
func CompileSchema(raw []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("reading the schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), schemaURL, "schema")
		return nil, fmt.Errorf("compiling the schema: %s", strings.Join(strings.Fields(msg), " "))
	}
	return &Schema{s: s}, nil
}

// noLoader refuses every reference outside the schema.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: only references inside the schema are followed", url)
}

// ValidateJSON checks a JSON document against the schema. A document that is not JSON gives a
// *SyntaxError, one that does not match a Failures.
func (s *Schema) ValidateJSON(doc []byte) error {
	v, err := DecodeJSON(doc)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// SyntaxError is a document that is not JSON.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// DecodeJSON decodes a JSON document for Validate (numbers kept exact). The document must be one
// JSON value: anything but whitespace after it is a *SyntaxError (encoding/json's "invalid
// character 'x' after top-level value"). gojsonschema, Tyk's validator, reads the first value
// and ignores the rest, which would let `{"role":"user"}{"role":"admin"}` reach an upstream that
// reads concatenated or newline-delimited JSON with its second value never validated.
func DecodeJSON(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &SyntaxError{Err: err}
	}
	if rest := doc[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		// Only on this path: json.Unmarshal words the error as it words every other
		// syntax error of a document.
		var raw json.RawMessage
		err := json.Unmarshal(doc, &raw)
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return nil, &SyntaxError{Err: err}
	}
	return v, nil
}

// Validate checks a decoded value (numbers as json.Number; see DecodeJSON). A value that does
// not match gives Failures.
func (s *Schema) Validate(v any) error {
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var out Failures
	collect(ve, &out)
	if len(out) == 0 {
		out = append(out, Failure{Field: field(ve.InstanceLocation), Message: ve.ErrorKind.LocalizedString(english)})
	}
	return out
}

// Failure is one reason a value does not match: where (Field, in gojsonschema's notation:
// "(root)", "age", "items.0.name") and what.
type Failure struct {
	Field   string
	Message string
}

// Failures are the reasons a value does not match a schema. Error joins them as Tyk does:
// "field: message; field: message".
type Failures []Failure

func (f Failures) Error() string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.Field)
		b.WriteString(": ")
		b.WriteString(x.Message)
	}
	return b.String()
}

var english = message.NewPrinter(language.English)

// collect appends the leaf failures of e. The commonest are worded as gojsonschema (Tyk's
// library) words them; the others in the validator's words. A failed anyOf, oneOf or not is
// reported as itself, not by the branches that failed.
func collect(e *jsonschema.ValidationError, out *Failures) {
	at := field(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, p := range k.Missing {
			*out = append(*out, Failure{Field: at, Message: p + " is required"})
		}
		return
	case *kind.Type:
		*out = append(*out, Failure{Field: at, Message: "Invalid type. Expected: " + strings.Join(k.Want, "/") + ", given: " + k.Got})
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, Failure{Field: at, Message: "Additional property " + p + " is not allowed"})
		}
		return
	case *kind.Enum:
		allowed := make([]string, len(k.Want))
		for i, w := range k.Want {
			b, _ := json.Marshal(w)
			allowed[i] = string(b)
		}
		name := at
		if n := len(e.InstanceLocation); n > 0 {
			name = e.InstanceLocation[n-1]
		}
		*out = append(*out, Failure{Field: at, Message: name + " must be one of the following: " + strings.Join(allowed, ", ")})
		return
	case *kind.AnyOf, *kind.OneOf, *kind.Not:
		*out = append(*out, Failure{Field: at, Message: e.ErrorKind.LocalizedString(english)})
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, Failure{Field: at, Message: e.ErrorKind.LocalizedString(english)})
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

// field writes an instance location as gojsonschema does: "(root)" for the document, else its
// tokens joined by dots.
func field(loc []string) string {
	if len(loc) == 0 {
		return "(root)"
	}
	return strings.Join(loc, ".")
}
