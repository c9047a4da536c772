// Package validate checks requests against an OpenAPI 3.0 or 3.1 document: the parameters
// (path, query, header, cookie) and the request body of the operation a request is for, with
// github.com/getkin/kin-openapi, the library Tyk itself uses. It serves Tyk OAS `validateRequest`,
// and checks JSON values against a JSON Schema (Schema, schema.go) for the Classic
// `validate_json`.
//
// A document is loaded and its operations compiled once, when an API is built for a snapshot;
// checking a request builds nothing but the error it may return. Everything here is safe for
// concurrent use once built.
package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// JSONMediaTypes are the media types kin-openapi decodes as JSON (besides any other "+json"
// type, which it decodes as application/json).
var JSONMediaTypes = []string{
	"application/json",
	"application/json-patch+json",
	"application/merge-patch+json",
	"application/ld+json",
	"application/hal+json",
	"application/vnd.api+json",
	"application/problem+json",
}

// kin-openapi's JSON body decoder reads a body's first value and ignores what follows it (as
// encoding/json's Decoder does), so `{"role":"user"}{"role":"admin"}` would pass validateRequest
// and reach an upstream that reads concatenated or newline-delimited JSON with its second value
// never validated. Its decoders are global: the JSON ones are replaced here with one that
// decodes with DecodeJSON (one value, numbers exact, as kin-openapi's), in every program that
// links this package, which is the gateway's only use of openapi3filter.
func init() {
	for _, ct := range JSONMediaTypes {
		openapi3filter.RegisterBodyDecoder(ct, jsonBody)
	}
}

func jsonBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	v, err := DecodeJSON(data)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			err = se.Err
		}
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	return v, nil
}

// Spec is an OpenAPI document loaded for checking requests.
type Spec struct {
	t *openapi3.T
}

// Load reads an OpenAPI document. Only references inside the document are followed: a
// definition cannot make the gateway read files or fetch URLs.
func Load(raw []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	t, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI document: %w", err)
	}
	return &Spec{t: t}, nil
}

// Check reports what kin-openapi's own validation finds wrong with the document, the last check
// Tyk's Gateway API makes before writing a Tyk OAS definition. Extensions (x-...) are allowed.
func (s *Spec) Check(ctx context.Context) error {
	return s.t.Validate(ctx, openapi3.EnableExamplesValidation(), openapi3.AllowExtraSiblingFields("x-tyk-api-gateway"))
}

// CheckRefs is Check without the examples: what a document must pass to be validated against
// and mocked from at all (every $ref resolved, every schema well formed). A document that loads
// but fails it would make kin-openapi dereference a nil schema on a request.
func (s *Spec) CheckRefs(ctx context.Context) error {
	return s.t.Validate(ctx, openapi3.DisableExamplesValidation(), openapi3.AllowExtraSiblingFields("x-tyk-api-gateway"))
}

// T returns the loaded document. Callers must not change it.
func (s *Spec) T() *openapi3.T { return s.t }

// Operation is one operation of a document (a method of a path), compiled for matching request
// paths and checking requests.
type Operation struct {
	route routers.Route
	tmpl  template
	opts  *openapi3filter.Options
	// paramOpts are opts without the body: a HEAD read as this GET has none.
	paramOpts *openapi3filter.Options
}

// Operation compiles the operation of method (any case) on the OpenAPI path (such as
// /users/{id}).
func (s *Spec) Operation(method, path string) (*Operation, error) {
	item := s.t.Paths.Value(path)
	if item == nil {
		return nil, fmt.Errorf("paths: no %s", path)
	}
	op := item.GetOperation(strings.ToUpper(method))
	if op == nil {
		return nil, fmt.Errorf("paths[%q]: no %s operation", path, strings.ToLower(method))
	}
	tmpl, err := parseTemplate(path)
	if err != nil {
		return nil, fmt.Errorf("paths[%q]: %w", path, err)
	}
	opts := &openapi3filter.Options{
		// Who may call is the gateway's auth's business, not the validator's.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	}
	if !s.t.IsOpenAPI31OrLater() {
		// The reason alone: the schema and the value do not belong in a client's error.
		opts.SchemaValidationOptions = []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}
	}
	paramOpts := *opts
	paramOpts.ExcludeRequestBody = true
	return &Operation{
		route:     routers.Route{Spec: s.t, Path: path, PathItem: item, Method: strings.ToUpper(method), Operation: op},
		tmpl:      tmpl,
		opts:      opts,
		paramOpts: &paramOpts,
	}, nil
}

// Router finds the operation a request is for among all the operations of a document:
// concrete paths before templated ones, as kin-openapi's routers order them.
type Router struct {
	ops []*Operation
}

// Router compiles every operation of the document. With ignoreCase (Classic
// ignore_endpoint_case, OAS ignoreCase) the literal text of the paths matches in any case, as
// the Classic endpoint matcher's does; parameters keep the case they were sent in.
func (s *Spec) Router(ignoreCase bool) (*Router, error) {
	rt := &Router{}
	if s.t.Paths == nil {
		return rt, nil
	}
	for _, path := range s.t.Paths.InMatchingOrder() {
		item := s.t.Paths.Value(path)
		for _, m := range sortedMethods(item.Operations()) {
			op, err := s.Operation(m, path)
			if err != nil {
				return nil, err
			}
			op.tmpl.fold = ignoreCase
			rt.ops = append(rt.ops, op)
		}
	}
	return rt, nil
}

func sortedMethods(ops map[string]*openapi3.Operation) []string {
	out := make([]string, 0, len(ops))
	for m := range ops {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Operations returns the operations in matching order. Callers must not change the slice.
func (rt *Router) Operations() []*Operation { return rt.ops }

// Find returns the operation of method on path (relative to the listen path, decoded) and its
// path parameters, or nil. The method compares without case, as the Classic endpoint matcher
// compares it (upstreams read `post` as POST).
func (rt *Router) Find(method, path string) (*Operation, map[string]string) {
	method = strings.ToUpper(method)
	for _, op := range rt.ops {
		if op.route.Method != method {
			continue
		}
		if params, ok := op.Match(path); ok {
			return op, params
		}
	}
	return nil, nil
}

// ID returns the operation's operationId, "" when it has none.
func (o *Operation) ID() string { return o.route.Operation.OperationID }

// Path returns the operation's OpenAPI path.
func (o *Operation) Path() string { return o.route.Path }

// Method returns the operation's upper-case method.
func (o *Operation) Method() string { return o.route.Method }

// Kin returns the kin-openapi operation, for reading its responses and examples. Callers must
// not change it.
func (o *Operation) Kin() *openapi3.Operation { return o.route.Operation }

// HasBody reports whether the operation declares a request body, so a caller knows whether
// Validate will read it.
func (o *Operation) HasBody() bool { return o.route.Operation.RequestBody != nil }

// Match reports whether path (relative to the API's listen path, decoded) is the operation's
// path, and returns the path parameters.
func (o *Operation) Match(path string) (map[string]string, bool) { return o.tmpl.match(path, false) }

// MatchPrefix reports whether path starts, on a segment boundary, with the operation's path:
// what a Classic endpoint entry for the path would match.
func (o *Operation) MatchPrefix(path string) bool {
	_, ok := o.tmpl.match(path, true)
	return ok
}

// Validate checks r (its parameters and, when the operation declares one, its body) against
// the operation, with the path parameters Match returned. The body, when read, is put back
// for what comes next. The error says what failed, in kin-openapi's words.
func (o *Operation) Validate(ctx context.Context, r *http.Request, params map[string]string) error {
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: &o.route, Options: o.opts}
	return openapi3filter.ValidateRequest(ctx, in)
}

// ValidateParameters is Validate without the body: for a HEAD read as this (GET) operation,
// which has no body to check.
func (o *Operation) ValidateParameters(ctx context.Context, r *http.Request, params map[string]string) error {
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: &o.route, Options: o.paramOpts}
	return openapi3filter.ValidateRequest(ctx, in)
}

// template is an OpenAPI path compiled for matching: one entry per segment, each a literal or a
// parameter with the literal text around it (`{id}`, `{id}.json`); fold matches the literal
// text in any case.
type template struct {
	segs []segment
	fold bool
}

type segment struct {
	literal        string // the whole segment, when it has no parameter
	param          string // the parameter's name
	prefix, suffix string // the literal text around the parameter
}

func parseTemplate(path string) (template, error) {
	if !strings.HasPrefix(path, "/") {
		return template{}, errors.New("a path starts with /")
	}
	var t template
	for _, s := range strings.Split(path[1:], "/") {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			if strings.IndexByte(s, '}') >= 0 {
				return template{}, fmt.Errorf("segment %q: unbalanced braces", s)
			}
			t.segs = append(t.segs, segment{literal: s})
			continue
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 || strings.IndexByte(s[open+end+1:], '{') >= 0 {
			return template{}, fmt.Errorf("segment %q: one {parameter} per segment", s)
		}
		name := s[open+1 : open+end]
		if name == "" {
			return template{}, fmt.Errorf("segment %q: a parameter needs a name", s)
		}
		t.segs = append(t.segs, segment{param: name, prefix: s[:open], suffix: s[open+end+1:]})
	}
	return t, nil
}

// match matches path against the template, all of it or (prefix) its leading segments.
func (t template) match(path string, prefix bool) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	var params map[string]string
	for i, s := range t.segs {
		seg, more, found := strings.Cut(rest, "/")
		last := i == len(t.segs)-1
		if !last && !found {
			return nil, false
		}
		if s.param == "" {
			if !t.equal(seg, s.literal) {
				return nil, false
			}
		} else {
			// The value is what lies between the literal text around the parameter.
			n := len(seg) - len(s.suffix)
			if n <= len(s.prefix) || !t.equal(seg[:len(s.prefix)], s.prefix) || !t.equal(seg[n:], s.suffix) {
				return nil, false
			}
			v := seg[len(s.prefix):n] // not empty: a parameter matches something
			if params == nil {
				params = make(map[string]string, len(t.segs))
			}
			params[s.param] = v
		}
		if last {
			return params, !found || prefix
		}
		rest = more
	}
	return params, true
}

// equal compares a path's text with the template's, in any case when the template folds.
func (t template) equal(got, want string) bool {
	if t.fold {
		return strings.EqualFold(got, want)
	}
	return got == want
}
