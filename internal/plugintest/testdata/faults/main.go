// Package main holds plugins that misbehave, or do the unusual, for the gateway's tests.
package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk"
)

// Panic panics in a request hook.
func Panic(rw http.ResponseWriter, r *http.Request) { panic("request hook failure") }

// Abort aborts the response as net/http allows: the client's connection is cut.
func Abort(rw http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }

// PanicAfterWrite panics after answering.
func PanicAfterWrite(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusAccepted)
	panic("late failure")
}

// PanicResponse panics in a response hook.
func PanicResponse(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	panic("response hook failure")
}

// PanicAnalytics panics in an analytics hook.
func PanicAnalytics(record *sdk.AnalyticsRecord) { panic("analytics hook failure") }

// SlowAnalytics takes two seconds over each record, as a plugin calling a slow service would.
func SlowAnalytics(record *sdk.AnalyticsRecord) { time.Sleep(2 * time.Second) }

// GatedAnalytics holds each record until the file GATEHOUSE_TEST_ANALYTICS_GATE names exists
// (at most a minute), so that a test decides how long its calls run.
func GatedAnalytics(record *sdk.AnalyticsRecord) {
	gate := os.Getenv("GATEHOUSE_TEST_ANALYTICS_GATE")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(gate); err == nil {
			return
		}
	}
}

// ReadBody reads the whole request body and reports its length.
func ReadBody(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Header.Set("X-Body-Seen", strconv.Itoa(len(b)))
}

// ReadSome reads the first 3 bytes of the body.
func ReadSome(rw http.ResponseWriter, r *http.Request) {
	b := make([]byte, 3)
	n, _ := io.ReadFull(r.Body, b)
	r.Header.Set("X-Body-Start", string(b[:n]))
}

// ReplaceBody sends the upstream another body.
func ReplaceBody(rw http.ResponseWriter, r *http.Request) {
	r.Body = io.NopCloser(bytes.NewBufferString("replaced by the plugin"))
}

// SetHeaderOnly sets a response header and lets the request go on.
func SetHeaderOnly(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Hook", "was-here")
}

// Redirect answers with a redirect: a final answer below 400.
func Redirect(rw http.ResponseWriter, r *http.Request) {
	http.Redirect(rw, r, "/elsewhere", http.StatusFound)
}

// NilSession misuses the sdk.
func NilSession(rw http.ResponseWriter, r *http.Request) { sdk.SetSession(r, nil, true) }

// AuthNoop is an auth_check hook that does nothing: it must never let a request in.
func AuthNoop(rw http.ResponseWriter, r *http.Request) {}

// AuthFromHeader lets in any request with X-User, as a session stored under that name, with a
// rate limit of 2 per minute and access to "limited" only.
func AuthFromHeader(rw http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-User")
	if user == "" {
		rw.WriteHeader(http.StatusUnauthorized)
		_, _ = rw.Write([]byte("who are you?"))
		return
	}
	sdk.SetSession(r, &apidef.SessionState{
		KeyID: user, Alias: user, Rate: 2, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"limited": {APIID: "limited"}},
	}, true)
}

// ExpiredSession sets a session that expired long ago.
func ExpiredSession(rw http.ResponseWriter, r *http.Request) {
	sdk.SetSession(r, &apidef.SessionState{KeyID: "old", Expires: 1}, false)
}

// AuthEndpointLimits sets a session with a per-endpoint rate limit of one GET a minute on /x.
func AuthEndpointLimits(rw http.ResponseWriter, r *http.Request) {
	sdk.SetSession(r, &apidef.SessionState{
		KeyID: "endpoints", Rate: 100, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"endpoints": {APIID: "endpoints",
			Endpoints: []apidef.EndpointLimit{{Path: "/x", Methods: []apidef.EndpointMethodLimit{{Name: "GET", Limit: apidef.RateLimit{Rate: 1, Per: 60}}}}}}},
	}, false)
}

// AuthBrokenEndpointLimit sets a session with a per-endpoint rate limit whose path is no
// pattern, which the Gateway API refuses.
func AuthBrokenEndpointLimit(rw http.ResponseWriter, r *http.Request) {
	sdk.SetSession(r, &apidef.SessionState{
		KeyID: "broken-endpoints", Rate: 1, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"broken-endpoints": {APIID: "broken-endpoints",
			Endpoints: []apidef.EndpointLimit{{Path: "/x/(", Methods: []apidef.EndpointMethodLimit{{Name: "GET", Limit: apidef.RateLimit{Rate: 1000, Per: 1}}}}}}},
	}, false)
}

// AuthZeroPer sets a session with a rate and a per of 0, which the Gateway API refuses.
func AuthZeroPer(rw http.ResponseWriter, r *http.Request) {
	sdk.SetSession(r, &apidef.SessionState{KeyID: "zero-per", Rate: 1},
		false)
}

// VarHook is an exported variable holding a request hook.
var VarHook = func(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Var-Hook", "yes") }

// WrongType is not a hook.
func WrongType(n int) int { return n }

// RewritePath changes the path the upstream gets.
func RewritePath(rw http.ResponseWriter, r *http.Request) { r.URL.Path = "/rewritten/by/plugin" }

// RewriteDotDot tries to send the upstream a path with a dot segment.
func RewriteDotDot(rw http.ResponseWriter, r *http.Request) { r.URL.Path = "/a/../../secret" }

// NilURL leaves the request without a URL.
func NilURL(rw http.ResponseWriter, r *http.Request) { r.URL = nil }

// NilHeader leaves the request without a header map.
func NilHeader(rw http.ResponseWriter, r *http.Request) { r.Header = nil }

// NilResponseHeader leaves the response without a header map, and its request without a URL.
func NilResponseHeader(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header = nil
	req.URL = nil
}

// NilResponseBody leaves the response without a body.
func NilResponseBody(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Body = nil
}

// ResponseRewrite changes the status and replaces the body with a longer one.
func ResponseRewrite(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.StatusCode = http.StatusCreated
	res.Header.Set("X-Rewritten", "1")
	res.Body = io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("x"), 5000)))
}

// ResponseRefuse answers 403 itself instead of the upstream's response.
func ResponseRefuse(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	rw.WriteHeader(http.StatusForbidden)
	_, _ = rw.Write([]byte("refused by response hook"))
}

var hits = new(atomic.Int64)

// Counter keeps state across requests (and reloads: plugins are never unloaded).
func Counter(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Count", strconv.FormatInt(hits.Add(1), 10))
}

// OrderA and OrderB add "a" and "b" to the X-Order header of the answer: hooks listed together
// show the order they ran in.
func OrderA(rw http.ResponseWriter, r *http.Request) { rw.Header().Add("X-Order", "a") }

// OrderB: see OrderA.
func OrderB(rw http.ResponseWriter, r *http.Request) { rw.Header().Add("X-Order", "b") }

// OrderResponseA and OrderResponseB are OrderA and OrderB as response hooks.
func OrderResponseA(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Add("X-Order", "a")
}

// OrderResponseB: see OrderResponseA.
func OrderResponseB(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Add("X-Order", "b")
}

// HeaderNames answers with the names of the request headers a hook sees, sorted, in
// X-Plugin-Saw.
func HeaderNames(rw http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	rw.Header().Set("X-Plugin-Saw", strings.Join(names, ","))
}

// Traced works in the request's trace through the sdk, without importing OpenTelemetry: it
// labels the span the gateway started for it, starts a child span with a grandchild, and tells
// the upstream which trace and span it was in.
func Traced(rw http.ResponseWriter, r *http.Request) {
	span := sdk.SpanFromContext(r.Context())
	span.SetAttributes(slog.String("tenant", "t1"), slog.Int("rows", 3))
	ctx, child := sdk.StartSpan(r.Context(), "lookup-tenant", slog.Bool("cached", false))
	_, grand := sdk.StartSpan(ctx, "query")
	grand.End()
	child.AddEvent("found")
	child.End()
	r.Header.Set("X-Plugin-Trace-Id", span.TraceID())
	r.Header.Set("X-Plugin-Span-Id", span.SpanID())
}

// kept is what Keep kept. It is on the heap, as every lock of these plugins: the race
// detector watches the heap and the gateway binary's data, not a plugin's globals, so a lock
// there would order nothing it can see.
var kept = new(struct {
	sync.Mutex
	r *http.Request
	w http.ResponseWriter
})

// Keep keeps the request and the writer it is handed after it returns, as a plugin that hands
// them to a goroutine of its own does.
func Keep(rw http.ResponseWriter, r *http.Request) {
	kept.Lock()
	kept.r, kept.w = r, rw
	kept.Unlock()
}

// Peek answers what the sdk says of the request Keep kept last, once that request is over: its
// auth token (X-Kept-Token) and its session's alias (X-Kept-Alias), and whether the writer Keep
// was handed is the one Peek is (X-Kept-Same-Writer).
func Peek(rw http.ResponseWriter, r *http.Request) {
	kept.Lock()
	kr, kw := kept.r, kept.w
	kept.Unlock()
	if kr == nil {
		return
	}
	h := rw.Header()
	h.Set("X-Kept-Token", sdk.GetAuthToken(kr))
	if s := sdk.GetSession(kr); s != nil {
		h.Set("X-Kept-Alias", s.Alias)
	}
	h.Set("X-Kept-Same-Writer", strconv.FormatBool(kw == rw))
}

func main() {}

// keptWriter is the writer KeepAndAnswer kept, for WriteKept to write to later.
var keptWriter = new(struct {
	sync.Mutex
	w http.ResponseWriter
})

// KeepAndAnswer answers the request itself, streamed (flushed, so chunked), and keeps the
// writer, as a plugin handing it to a goroutine of its own does.
func KeepAndAnswer(rw http.ResponseWriter, r *http.Request) {
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte("mine"))
	http.NewResponseController(rw).Flush()
	keptWriter.Lock()
	keptWriter.w = rw
	keptWriter.Unlock()
}

// WriteKept writes to the writer KeepAndAnswer kept, once that request is over (what the
// plugin's goroutine would do at some later time), reports what the write returned, and lets
// its own request go on.
func WriteKept(rw http.ResponseWriter, r *http.Request) {
	keptWriter.Lock()
	w := keptWriter.w
	keptWriter.Unlock()
	if w != nil {
		_, err := w.Write([]byte("LEAKED-FROM-AN-EARLIER-REQUEST"))
		r.Header.Set("X-Late-Write", strconv.FormatBool(err == nil))
		flushErr := http.NewResponseController(w).Flush()
		r.Header.Set("X-Late-Flush", strconv.FormatBool(flushErr == nil))
	}
}

// WrapBody wraps the upstream's body in a JSON envelope, whatever the status.
func WrapBody(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(append(append([]byte(`{"data":`), b...), '}')))
}
