// Package sdktest runs a plugin function in a plain `go test`, with no .so and no gateway: it
// builds the request the gateway would hand the plugin (API definition, session, auth token),
// calls the function, and reports what the gateway would do next.
//
//	func TestAddFooBarHeader(t *testing.T) {
//		r := sdktest.NewRequest("GET", "/my_api/get", nil, sdktest.WithConfigData(map[string]any{"k": "v"}))
//		res := sdktest.Run(AddFooBarHeader, r)
//		if !res.Continue || res.Request.Header.Get("Foo") != "Bar" {
//			t.Fatal("...")
//		}
//	}
package sdktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Option sets up the request a plugin gets.
type Option func(*reqctx.State)

// WithDefinition makes def the API the request came through (sdk.GetDefinition returns a copy).
// The request gets def as the gateway would hold it, read from its JSON: config_data's numbers
// are float64, as on the gateway, whatever type the test wrote them with.
func WithDefinition(def *apidef.APIDefinition) Option {
	return func(st *reqctx.State) {
		st.API = def
		var read apidef.APIDefinition
		if data, err := json.Marshal(def); err == nil && json.Unmarshal(data, &read) == nil {
			st.API = &read
		}
	}
}

// WithConfigData gives the request's API the config_data (and a default definition otherwise).
func WithConfigData(data map[string]any) Option {
	return func(st *reqctx.State) {
		def := &apidef.APIDefinition{APIID: "test", Name: "test", Active: true, ConfigData: data}
		if st.API != nil {
			c := *st.API
			c.ConfigData = data
			def = &c
		}
		WithDefinition(def)(st)
	}
}

// WithOASDefinition makes the request's API a Tyk OAS API with the document doc (OpenAPI 3 JSON
// with x-tyk-api-gateway): sdk.GetOASDefinition returns a copy of it. The Classic definition
// sdk.GetDefinition returns is set apart, with WithDefinition or WithConfigData, and gets
// IsOAS.
func WithOASDefinition(doc []byte) Option {
	return func(st *reqctx.State) {
		st.OAS = append([]byte(nil), doc...)
		if st.API != nil && !st.API.IsOAS {
			c := *st.API
			c.IsOAS = true
			WithDefinition(&c)(st)
		}
	}
}

// WithSession gives the request a session, as after auth (sdk.GetSession returns it).
func WithSession(s *apidef.SessionState) Option {
	return func(st *reqctx.State) {
		st.Session = s
		if s != nil && s.KeyID != "" {
			st.Token = s.KeyID
		}
	}
}

// WithToken sets the request's auth token (sdk.GetAuthToken returns it).
func WithToken(token string) Option {
	return func(st *reqctx.State) { st.Token = token }
}

// NewRequest returns a request as the gateway hands it to a plugin: like httptest.NewRequest,
// carrying the gateway's per-request state. Without WithDefinition it comes through an API with
// api_id "test".
func NewRequest(method, target string, body io.Reader, opts ...Option) *http.Request {
	st := &reqctx.State{}
	WithDefinition(&apidef.APIDefinition{APIID: "test", Name: "test", Active: true})(st)
	for _, o := range opts {
		o(st)
	}
	return reqctx.With(httptest.NewRequest(method, target, body), st)
}

// Result is what a request hook did, and what the gateway would do next.
type Result struct {
	// Response is what the hook wrote, if anything.
	Response *httptest.ResponseRecorder
	// Wrote is set when the hook answered the request: below 400 a final answer (the upstream
	// is not called), from 400 an error passed to the client exactly as written.
	Wrote bool
	// Continue is set when the gateway would go on to the next step.
	Continue bool
	// Request is the request as the hook left it (what the upstream would receive).
	Request *http.Request
	// Session is the request's session after the hook; SessionSet and Stored say whether the
	// hook called sdk.SetSession, and asked for the session to be stored.
	Session    *apidef.SessionState
	SessionSet bool
	Stored     bool
	// Err is a misuse of the sdk (sdk.SetSession with a nil session): the gateway answers 500.
	Err error
	// Panic is what the hook panicked with, if it did: the gateway answers 500.
	Panic any
}

// Run calls a request hook (pre, auth_check, post_key_auth, post or per-endpoint) on r.
func Run(hook func(http.ResponseWriter, *http.Request), r *http.Request) (res Result) {
	st := reqctx.From(r)
	if st == nil {
		st = &reqctx.State{}
		r = reqctx.With(r, st)
	}
	rec := httptest.NewRecorder()
	w := &reqctx.Writer{ResponseWriter: rec}
	res = Result{Response: rec, Request: r}
	defer func() {
		if p := recover(); p != nil {
			res.Panic = p
		}
		res.Wrote = w.Status != 0
		res.Session, res.SessionSet, res.Stored, res.Err = st.Session, st.SessionSet, st.ScheduleUpdate, st.Err
		res.Continue = !res.Wrote && res.Err == nil && res.Panic == nil
	}()
	hook(w, r)
	return res
}

// RunResponse calls a response hook on res, the upstream's response to r, and reports whether
// it answered the client itself (the gateway then drops res) through the recorder.
func RunResponse(hook func(http.ResponseWriter, *http.Response, *http.Request), res *http.Response, r *http.Request) (rec *httptest.ResponseRecorder, wrote bool, panicked any) {
	rec = httptest.NewRecorder()
	w := &reqctx.Writer{ResponseWriter: rec}
	defer func() {
		panicked = recover()
		wrote = w.Status != 0
	}()
	hook(w, res, r)
	return rec, w.Status != 0, nil
}
