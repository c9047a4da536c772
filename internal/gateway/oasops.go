package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/mock"
	"github.com/gatehouse/gatehouse/internal/middleware/validate"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// oasOps is what a Tyk OAS document switches on per operation that only the document can
// express: request validation (validateRequest) and mock responses (mockResponse). It is
// compiled once per snapshot; requests only look operations up.
type oasOps struct {
	router *validate.Router
	// validating are the operations that validate requests, with their refusal code.
	validating map[*validate.Operation]int
	// validatingOrder lists the keys of validating in matching order.
	validatingOrder []*validate.Operation
	mocks           map[*validate.Operation]mocker
	modify          func(*http.Response) error
}

// mocker gives the mock answer of an operation for a request.
type mocker interface {
	answer(r *http.Request) (*mock.Answer, error)
}

type staticMock struct{ a *mock.Static }

func (m staticMock) answer(*http.Request) (*mock.Answer, error) { return m.a.Answer(), nil }

type exampleMock struct{ e *mock.Examples }

func (m exampleMock) answer(r *http.Request) (*mock.Answer, error) { return m.e.Answer(r) }

// defaultValidationCode is Tyk's status for a request that fails validation.
const defaultValidationCode = http.StatusUnprocessableEntity

// compileOASOps builds the validation and mock steps of an OAS API, or nil when its document
// switches neither on (or it is a Classic API). ignoreCase is the API's ignore_endpoint_case:
// the document's paths then match in any case, as the Classic endpoint entries do.
func compileOASOps(doc *oas.Document, hooks *apiHooks, ignoreCase bool) (*oasOps, error) {
	if doc == nil || doc.Ext.Middleware == nil || !usesOASOps(doc) {
		return nil, nil
	}
	spec, err := validate.Load(doc.Raw)
	if err != nil {
		return nil, err
	}
	if err := spec.CheckRefs(context.Background()); err != nil {
		return nil, err
	}
	router, err := spec.Router(ignoreCase)
	if err != nil {
		return nil, err
	}
	o := &oasOps{router: router, validating: map[*validate.Operation]int{}, mocks: map[*validate.Operation]mocker{}}
	if hooks != nil && hooks.response != nil {
		o.modify = hooks.response.Modify
	}
	for _, op := range router.Operations() {
		mw := doc.OperationMiddleware(op.ID())
		if op.ID() == "" || mw == nil {
			continue
		}
		if v := mw.ValidateRequest; v != nil && v.Enabled {
			code := v.ErrorResponseCode
			if code == 0 {
				code = defaultValidationCode
			}
			if code < 400 || code > 599 {
				return nil, fmt.Errorf("middleware.operations.%s.validateRequest.errorResponseCode: %d is not an error status (400 to 599)", op.ID(), code)
			}
			o.validating[op] = code
			o.validatingOrder = append(o.validatingOrder, op)
		}
		if m := mw.MockResponse; m != nil && m.Enabled {
			if ex := m.FromOASExamples; ex != nil && ex.Enabled {
				o.mocks[op] = exampleMock{&mock.Examples{Op: op.Kin(), Code: ex.Code, ContentType: ex.ContentType, Name: ex.ExampleName}}
				continue
			}
			if m.Code != 0 && (m.Code < 100 || m.Code > 599) {
				return nil, fmt.Errorf("middleware.operations.%s.mockResponse.code: %d is not an HTTP status", op.ID(), m.Code)
			}
			s := &mock.Static{Code: m.Code, Body: m.Body}
			for _, h := range m.Headers {
				s.Headers = append(s.Headers, mock.Header{Name: h.Name, Value: h.Value})
			}
			o.mocks[op] = staticMock{s}
		}
	}
	return o, nil
}

// usesOASOps reports whether an operation the document's paths declare switches on request
// validation or a mock response.
func usesOASOps(doc *oas.Document) bool {
	for _, op := range doc.Operations() {
		if mw := doc.OperationMiddleware(op.ID); mw != nil &&
			((mw.ValidateRequest != nil && mw.ValidateRequest.Enabled) || (mw.MockResponse != nil && mw.MockResponse.Enabled)) {
			return true
		}
	}
	return false
}

// steps returns the chain steps: validation, then the mock. Both run after auth and limits, as
// in Tyk: a request without a valid key learns nothing of the schema, and a mock answer counts
// against the key's rate limit and quota.
func (o *oasOps) steps() []chain.Step {
	if o == nil {
		return nil
	}
	var out []chain.Step
	if len(o.validating) > 0 {
		out = append(out, chain.Step{Name: "validate_request", Run: o.validate})
	}
	if len(o.mocks) > 0 {
		out = append(out, chain.Step{Name: "mock_response", Run: o.mock})
	}
	return out
}

// validate checks the request against its operation when the operation validates requests.
//
// The operation is found as the Classic endpoint matcher (black lists, the per-endpoint
// middleware) finds an endpoint, so that nothing it reads as a validating operation goes
// unchecked: the method in any case, a HEAD as the GET (upstreams answer it with their GET
// handler; its parameters are checked, it has no body), the path in each of its readings
// (c.Readings: as sent and without matrix parameters, which servlet containers strip) and, with
// ignore_endpoint_case, in any case. Every reading whose operation validates must pass.
//
// A reading a validating operation's path matches only as a prefix (as a Classic endpoint
// entry would) has no operation: it is refused as Tyk refuses it, rather than let through
// unchecked.
func (o *oasOps) validate(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	method := strings.ToUpper(r.Method)
	head := method == http.MethodHead
	bodyRead := false
	for _, path := range readings(c) {
		op, params := o.router.Find(method, path)
		asGet := false
		if op == nil && head {
			op, params = o.router.Find(http.MethodGet, path)
			asGet = op != nil
		}
		if op == nil {
			for _, v := range o.validatingOrder {
				if (v.Method() == method || head && v.Method() == http.MethodGet) && v.MatchPrefix(path) {
					return chain.Errorf(o.validating[v], "request validation error: no matching operation was found for request: "+method+" "+r.URL.Path, nil).Flagged("BIV")
				}
			}
			continue
		}
		code, ok := o.validating[op]
		if !ok {
			continue
		}
		if asGet {
			if err := op.ValidateParameters(r.Context(), r, params); err != nil {
				return chain.Errorf(code, "request validation error: "+err.Error(), nil).Flagged("BIV")
			}
			continue
		}
		if !bodyRead && op.HasBody() && r.Body != nil && r.Body != http.NoBody {
			// Read here, so that a body over the size limit or cut short is answered as such,
			// not as a validation failure.
			_, full, err := proxy.ReadBody(r, validate.MaxBody)
			if err != nil {
				return proxy.ReadBodyError(c, err)
			}
			if !full {
				return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, fmt.Errorf("validateRequest: the body is over %d bytes", validate.MaxBody)).Flagged("BTL")
			}
			bodyRead = true
		}
		if err := op.Validate(r.Context(), r, params); err != nil {
			return chain.Errorf(code, "request validation error: "+err.Error(), nil).Flagged("BIV")
		}
	}
	return nil
}

// readings are the readings of the request's path the version step set (c.Readings), made
// here should a chain have none, so that no request is left without one.
func readings(c *chain.Context) []string {
	if len(c.Readings) > 0 {
		return c.Readings
	}
	return endpoint.Readings(c.Path)
}

// mock answers the request with its operation's mock, in place of the upstream: the steps after
// this one (per-endpoint and post plugins) still run, then the response hooks on the answer.
//
// The operation is found as a Classic mock reply's entry is: the method in any case, the first
// reading of the path (c.Readings) that finds an operation with a mock.
func (o *oasOps) mock(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	var m mocker
	for _, path := range readings(c) {
		if op, _ := o.router.Find(r.Method, path); op != nil {
			if m = o.mocks[op]; m != nil {
				break
			}
		}
	}
	if m == nil {
		return nil
	}
	a, err := m.answer(r)
	if err != nil {
		var me *mock.Error
		if errors.As(err, &me) {
			return chain.Errorf(me.Status, me.Message, nil)
		}
		return err
	}
	c.Upstream = &mockReply{a: a, modify: o.modify}
	return nil
}

// mockReply writes a mock answer as an upstream would, through the response hooks.
type mockReply struct {
	a      *mock.Answer
	modify func(*http.Response) error
}

func (m *mockReply) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res := &http.Response{
		StatusCode:    m.a.Code,
		Status:        strconv.Itoa(m.a.Code) + " " + http.StatusText(m.a.Code),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        m.a.Header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(m.a.Body)),
		ContentLength: int64(len(m.a.Body)),
		Request:       r,
	}
	res.Header.Set("Content-Length", strconv.Itoa(len(m.a.Body)))
	if m.modify != nil {
		if err := m.modify(res); err != nil {
			if !errors.Is(err, chain.ErrHandled) {
				chain.WriteErrorFor(w, r, http.StatusInternalServerError, chain.MsgInternalServerError)
			}
			return
		}
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
	_ = res.Body.Close()
}

// ignoresEndpointCase reports whether an OAS API's endpoints match in any case: a version's
// ignore_endpoint_case (for a pair, the Classic file's) or the document's
// middleware.global.ignoreCase. Either is enough: the document's operations are then found
// wherever the Classic entries would find them, or more widely, never less.
func ignoresEndpointCase(def *apidef.APIDefinition, doc *oas.Document) bool {
	for _, v := range def.VersionData.Versions {
		if v.IgnoreEndpointCase {
			return true
		}
	}
	if doc == nil || doc.Ext.Middleware == nil || doc.Ext.Middleware.Global == nil {
		return false
	}
	ic := doc.Ext.Middleware.Global.IgnoreCase
	return ic != nil && ic.Enabled
}
