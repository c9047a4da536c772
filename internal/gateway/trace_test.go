package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/observe/tracing/tracingtest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00f067aa0ba902b7"
)

// tracingTo turns tracing on, to endpoint, with batches sent only when the test flushes (or
// the gateway stops).
func tracingTo(endpoint string) func(*config.Config) {
	return func(c *config.Config) {
		c.OpenTelemetry.Enabled = true
		c.OpenTelemetry.Endpoint = endpoint
		c.OpenTelemetry.SpanBatchConfig.BatchTimeout = 3600
	}
}

func flushSpans(t *testing.T, g *gt.Gateway) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.GW.Tracer().ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

func oneSpan(t *testing.T, col *tracingtest.Collector, name string) tracingtest.Span {
	t.Helper()
	got := col.Named(name)
	if len(got) != 1 {
		var names []string
		for _, s := range col.Spans() {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans named %q, want 1; the collector has %q", len(got), name, names)
	}
	return got[0]
}

// TestTracingPluginAndUpstream: a request carrying the client's traceparent gives, in the
// collector, a server span continuing the client's trace, a span for the plugin hook named
// after its function with what the plugin added through the sdk below it, and the upstream
// call's span; the upstream (a real server) gets a traceparent of the client's trace whose
// parent is that upstream span.
func TestTracingPluginAndUpstream(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	api := gt.API("traced", "/traced/", up.URL)
	api.Name = "Traced API"
	api.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Traced"), Response: hooks(so, "OrderResponseA")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: tracingTo(col.Endpoint())})

	res := g.Do(gt.Case{Path: "/traced/orders?key=secret", Headers: map[string]string{"traceparent": "00-" + clientTrace + "-" + clientParent + "-01"}})
	if res.Code != 200 {
		t.Fatalf("status %d: %s", res.Code, res.Body)
	}
	if got := res.Header.Get("X-Tyk-Trace-Id"); got != clientTrace {
		t.Errorf("X-Tyk-Trace-Id = %q, want the client's trace %s", got, clientTrace)
	}
	flushSpans(t, g)

	server := oneSpan(t, col, "GET /traced/orders")
	if server.TraceID != clientTrace || server.ParentSpanID != clientParent || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span: trace %s, parent %s, kind %v", server.TraceID, server.ParentSpanID, server.Kind)
	}
	for k, want := range map[string]any{"tyk.api.id": "traced", "tyk.api.name": "Traced API", "tyk.api.path": "/traced/",
		"http.response.status_code": int64(200), "url.path": "/traced/orders"} {
		if server.Attrs[k] != want {
			t.Errorf("server span %s = %#v, want %#v", k, server.Attrs[k], want)
		}
	}
	hook := oneSpan(t, col, "Traced")
	if hook.ParentSpanID != server.SpanID || hook.Attrs["gatehouse.plugin.hook"] != "pre" ||
		hook.Attrs["tenant"] != "t1" || hook.Attrs["rows"] != int64(3) {
		t.Errorf("the plugin's span: %+v (server span %s)", hook, server.SpanID)
	}
	lookup := oneSpan(t, col, "lookup-tenant")
	if lookup.ParentSpanID != hook.SpanID || lookup.Attrs["cached"] != false || len(lookup.Events) != 1 {
		t.Errorf("the plugin's child span: %+v (hook span %s)", lookup, hook.SpanID)
	}
	if q := oneSpan(t, col, "query"); q.ParentSpanID != lookup.SpanID {
		t.Errorf("the plugin's grandchild span has parent %s, want %s", q.ParentSpanID, lookup.SpanID)
	}
	resp := oneSpan(t, col, "OrderResponseA")
	if resp.ParentSpanID != server.SpanID || resp.Attrs["gatehouse.plugin.hook"] != "response" {
		t.Errorf("the response hook's span: %+v", resp)
	}
	upSpan := oneSpan(t, col, "HTTP GET")
	if upSpan.ParentSpanID != server.SpanID || upSpan.Kind != tracepb.Span_SPAN_KIND_CLIENT ||
		upSpan.Attrs["http.response.status_code"] != int64(200) || !strings.HasSuffix(upSpan.Attrs["url.full"].(string), "/orders") {
		t.Errorf("upstream span: %+v", upSpan)
	}
	seen, ok := up.Last()
	if !ok {
		t.Fatal("the upstream got nothing")
	}
	if got, want := seen.Headers["Traceparent"], "00-"+clientTrace+"-"+upSpan.SpanID+"-01"; got != want {
		t.Errorf("the upstream got traceparent %q, want %q (the client's trace, the upstream span as parent)", got, want)
	}
	if seen.Headers["X-Plugin-Trace-Id"] != clientTrace || seen.Headers["X-Plugin-Span-Id"] != hook.SpanID {
		t.Errorf("the plugin saw trace %q span %q, want %s and its hook span %s",
			seen.Headers["X-Plugin-Trace-Id"], seen.Headers["X-Plugin-Span-Id"], clientTrace, hook.SpanID)
	}
	for _, s := range col.Spans() {
		if s.TraceID != clientTrace {
			t.Errorf("span %s is in trace %s, not the client's", s.Name, s.TraceID)
		}
		for k, v := range s.Attrs {
			if str, ok := v.(string); ok && strings.Contains(str, "secret") {
				t.Errorf("span %s attribute %s carries the query: %q", s.Name, k, str)
			}
		}
	}
}

// TestTracingFailures: a panicking plugin's span and a refused request's server span are
// marked failed, with the reason.
func TestTracingFailures(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	panics := gt.API("panics", "/panics/", up.URL)
	panics.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Panic")}
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{panics, keyed}, Config: tracingTo(col.Endpoint())})
	g.Run(t,
		gt.Case{Name: "panic", Path: "/panics/x", Code: 500},
		gt.Case{Name: "no key", Path: "/keyed/x", Code: 401},
	)
	flushSpans(t, g)
	p := oneSpan(t, col, "Panic")
	if p.StatusCode != tracepb.Status_STATUS_CODE_ERROR || !strings.Contains(p.StatusMessage, "request hook failure") {
		t.Errorf("the panicking hook's span: status %v %q", p.StatusCode, p.StatusMessage)
	}
	if s := oneSpan(t, col, "GET /panics/x"); s.StatusCode != tracepb.Status_STATUS_CODE_ERROR || s.Attrs["http.response.status_code"] != int64(500) {
		t.Errorf("server span of the panic: %+v", s)
	}
	k := oneSpan(t, col, "GET /keyed/x")
	if k.StatusCode != tracepb.Status_STATUS_CODE_ERROR || k.StatusMessage == "" || k.Attrs["http.response.status_code"] != int64(401) {
		t.Errorf("server span of the refused request: %+v", k)
	}
	if len(col.Named("HTTP GET")) != 0 {
		t.Error("an upstream span for requests that never reached the upstream")
	}
}

// TestTracingOff: with tracing off, the sdk's spans do nothing, the client's traceparent
// reaches the upstream as sent and no trace id header is added.
func TestTracingOff(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := gt.API("plain", "/plain/", up.URL)
	api.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Traced")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}})
	if g.GW.Tracer() != nil {
		t.Fatal("tracing is on by default")
	}
	tp := "00-" + clientTrace + "-" + clientParent + "-01"
	g.Run(t, gt.Case{Path: "/plain/x", Headers: map[string]string{"traceparent": tp}, Code: 200, HeadersNotPresent: []string{"X-Tyk-Trace-Id"}})
	seen, _ := up.Last()
	if seen.Headers["Traceparent"] != tp || seen.Headers["X-Plugin-Trace-Id"] != "" || seen.Headers["X-Plugin-Span-Id"] != "" {
		t.Errorf("the upstream got %v", seen.Headers)
	}
}

// TestTracingUnreachableCollector: with nothing listening at the collector's address, every
// request is still answered; the spans are dropped and counted.
func TestTracingUnreachableCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: func(c *config.Config) {
		tracingTo(addr)(c)
		c.OpenTelemetry.SpanBatchConfig.MaxQueueSize, c.OpenTelemetry.SpanBatchConfig.MaxExportBatchSize = 16, 8
	}})
	const n = 40
	for i := range n {
		if r := g.Do(gt.Case{Path: "/a/x"}); r.Code != 200 {
			t.Fatalf("request %d: %d", i, r.Code)
		}
	}
	flushSpans(t, g)
	tr := g.GW.Tracer()
	// Two spans a request: the server's and the upstream call's.
	if tr.Exported() != 0 || tr.Dropped() != 2*n {
		t.Errorf("exported %d, dropped %d; want 0 and %d", tr.Exported(), tr.Dropped(), 2*n)
	}
}

// TestTracingShutdownFlushes: spans waiting for their batch reach the collector when the
// gateway stops.
func TestTracingShutdownFlushes(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: tracingTo(col.Endpoint())})
	g.Run(t, gt.Case{Path: "/a/x", Code: 200}, gt.Case{Path: "/a/y", Code: 200})
	if n := len(col.Spans()); n != 0 {
		t.Fatalf("%d spans exported before the batch timeout", n)
	}
	g.Stop()
	if len(col.Named("GET /a/x")) != 1 || len(col.Named("GET /a/y")) != 1 || len(col.Named("HTTP GET")) != 2 {
		t.Errorf("after stopping, the collector has %d spans", len(col.Spans()))
	}
}

// TestTracingFromTracesBlock: Tyk 5.13's opentelemetry.traces turns tracing on by itself.
func TestTracingFromTracesBlock(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: func(c *config.Config) {
		c.OpenTelemetry.Traces = config.TracesConfig{Enabled: true, Endpoint: col.Endpoint(), SpanBatchConfig: config.SpanBatchConfig{BatchTimeout: 3600}}
	}})
	g.Run(t, gt.Case{Path: "/a/x", Code: 200})
	flushSpans(t, g)
	oneSpan(t, col, "GET /a/x")
}

// TestTracingUpstreamTraceID: an upstream that sends its own X-Tyk-Trace-Id (another gateway,
// say) does not give the client two: with tracing on the client gets the gateway's alone, with
// tracing off the upstream's as sent.
func TestTracingUpstreamTraceID(t *testing.T) {
	const upstreamTrace = "0af7651916cd43dd8448eb211c80319c"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Tyk-Trace-Id", upstreamTrace)
		w.Header().Set("X-Upstream", "kept")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	col := tracingtest.New(t)
	traced := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("traced", "/traced/", up.URL)}, Config: tracingTo(col.Endpoint())})
	plain := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("plain", "/plain/", up.URL)}})

	for _, tc := range []struct {
		name    string
		g       *gt.Gateway
		path    string
		headers map[string]string
		want    string // "" for any trace id but the upstream's
	}{
		{"client's trace", traced, "/traced/x", map[string]string{"traceparent": "00-" + clientTrace + "-" + clientParent + "-01"}, clientTrace},
		{"new trace", traced, "/traced/x", nil, ""},
		{"tracing off", plain, "/plain/x", nil, upstreamTrace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.g.Do(gt.Case{Path: tc.path, Headers: tc.headers})
			if res.Code != 200 || res.Body != "ok" || res.Header.Get("X-Upstream") != "kept" {
				t.Fatalf("status %d, body %q, headers %v", res.Code, res.Body, res.Header)
			}
			got := res.Header.Values("X-Tyk-Trace-Id")
			if len(got) != 1 {
				t.Fatalf("X-Tyk-Trace-Id = %q, want one value", got)
			}
			switch {
			case tc.want != "" && got[0] != tc.want:
				t.Errorf("X-Tyk-Trace-Id = %q, want %q", got[0], tc.want)
			case tc.want == "" && (got[0] == upstreamTrace || len(got[0]) != 32):
				t.Errorf("X-Tyk-Trace-Id = %q, want the gateway's new trace id", got[0])
			}
		})
	}
}

// TestB3ClientHeadersReplaced: with context_propagation b3, the trace context the
// upstream gets is the gateway's upstream span's alone. A client's single "b3" header (which
// B3 readers, OpenTelemetry's among them, prefer to X-B3-*), its X-B3-ParentSpanId and its
// X-B3-Flags (debug: "sample this") must not reach the upstream beside the gateway's
// X-B3-* headers: the upstream would parent its spans on the client's span, skipping the
// gateway, or sample what the gateway decided not to.
func TestB3ClientHeadersReplaced(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: func(c *config.Config) {
		tracingTo(col.Endpoint())(c)
		c.OpenTelemetry.ContextPropagation = "b3"
	}})
	const clientSpan = "00f067aa0ba902b8"
	res := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{
		"b3":                clientTrace + "-" + clientParent + "-1-" + clientSpan,
		"X-B3-ParentSpanId": clientSpan,
		"X-B3-Flags":        "1",
	}})
	if res.Code != 200 {
		t.Fatalf("status %d", res.Code)
	}
	flushSpans(t, g)
	u := oneSpan(t, col, "HTTP GET")
	seen, _ := up.Last()
	if seen.Headers["X-B3-Spanid"] != u.SpanID {
		t.Fatalf("X-B3-SpanId upstream = %q, want the upstream span %s", seen.Headers["X-B3-Spanid"], u.SpanID)
	}
	for _, h := range []string{"B3", "X-B3-Parentspanid", "X-B3-Flags"} {
		if v := seen.Headers[h]; v != "" {
			t.Errorf("the upstream got the client's %s: %q beside the gateway's X-B3-SpanId %s", h, v, u.SpanID)
		}
	}
}

// TestTracestateWithoutParent: a client's tracestate with a traceparent the gateway
// does not continue (broken, or none) belongs to no trace the upstream gets; with tracing on
// the upstream gets the gateway's new traceparent, and the client's tracestate must not ride
// along as if it were that trace's.
func TestTracestateWithoutParent(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: tracingTo(col.Endpoint())})
	res := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{
		"traceparent": "00-" + clientTrace + "-0000000000000000-01", // a zero parent: invalid
		"tracestate":  "vendor=forged",
	}})
	if res.Code != 200 {
		t.Fatalf("status %d", res.Code)
	}
	flushSpans(t, g)
	u := oneSpan(t, col, "HTTP GET")
	seen, _ := up.Last()
	if tp := seen.Headers["Traceparent"]; len(tp) < 52 || tp[36:52] != u.SpanID {
		t.Fatalf("traceparent upstream = %q, want the upstream span %s", tp, u.SpanID)
	}
	if ts := seen.Headers["Tracestate"]; ts != "" {
		t.Errorf("the upstream got the client's tracestate %q with the gateway's new trace %q", ts, seen.Headers["Traceparent"])
	}
}

// TestSpanQueueBytes: with a collector that takes connections and never answers, the
// spans waiting for export are bounded by max_queue_size, a count; each request span holds the
// client's path (twice: its name and url.path) and User-Agent, so the queue holds what clients
// send, up to max_queue_size times max_header_bytes. Analytics bound what waits by bytes (64
// MiB, docs/observability.md) for this very reason; the traces' queue must not keep more.
func TestSpanQueueBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	// An upstream that keeps nothing (gt.NewUpstream records every request).
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}, Config: func(c *config.Config) {
		c.OpenTelemetry.Enabled = true
		c.OpenTelemetry.Endpoint = ln.Addr().String()
		c.OpenTelemetry.ConnectionTimeout = 60
	}})
	ua := strings.Repeat("u", 30<<10)
	long := "/a/" + strings.Repeat("p", 30<<10)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 2048
	for i := range n {
		if r := g.Do(gt.Case{Path: long, Headers: map[string]string{"User-Agent": ua}}); r.Code != 200 {
			t.Fatalf("request %d: %d", i, r.Code)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	tr := g.GW.Tracer()
	t.Logf("live heap grew by %d MiB after %d requests (exported %d, dropped %d)", grown>>20, n, tr.Exported(), tr.Dropped())
	if tr.Dropped() == 0 {
		t.Errorf("no span dropped: the collector answered, so this tested nothing")
	}
	if grown > 64<<20 {
		t.Errorf("live heap grew by %d MiB holding spans for a collector that does not answer; want at most 64 MiB", grown>>20)
	}
}

// TestTracingContextVar: with tracing on, the request's trace id, the one the client gets in
// X-Tyk-Trace-Id, is $tyk_context.tyk_trace_id, the access log's trace_id and the analytics
// tag trace-id-<id>, as in Tyk; with tracing off the variable is empty and neither is written.
func TestTracingContextVar(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	api := gt.API("tv", "/tv/", up.URL)
	api.EnableContextVars = true
	api.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", GlobalHeaders: map[string]string{"X-Trace": "<$tyk_context.tyk_trace_id>"}}}
	for _, on := range []bool{true, false} {
		file, analytics := analyticsFile(t)
		opts := gt.Options{APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) {
			analytics(c)
			c.AccessLogs = config.AccessLogsConfig{Enabled: true, Template: []string{"status", "trace_id"}}
			if on {
				tracingTo(col.Endpoint())(c)
			}
		}}
		g := gt.Start(t, opts)
		res := g.Do(gt.Case{Path: "/tv/x"})
		seen, _ := up.Last()
		id := res.Header.Get("X-Tyk-Trace-Id")
		if res.Code != 200 || (id == "") == on || seen.Headers["X-Trace"] != "<"+id+">" {
			t.Errorf("tracing %v: %d, X-Tyk-Trace-Id %q, the upstream's X-Trace %q", on, res.Code, id, seen.Headers["X-Trace"])
		}
		recs := readRecords(t, file, 1)
		tagged := len(recs) == 1 && slices.Contains(recs[0].Tags, "trace-id-"+id)
		logged := strings.Contains(g.Logs(), "msg=access status=200 trace_id="+id+"\n")
		if !on {
			tagged = len(recs) == 1 && len(recs[0].Tags) == 0
			logged = strings.Contains(g.Logs(), "msg=access status=200\n")
		}
		if !tagged || !logged {
			t.Errorf("tracing %v: records %+v (want the tag trace-id-%s: %v); access line with trace_id %v:\n%s", on, recs, id, tagged, logged, g.Logs())
		}
		g.Stop()
	}
}

// TestDetailedTracing: with detailed_tracing (Classic) or server.detailedTracing (Tyk OAS), each
// built-in step of a request, and the response header transform, gets a span below the
// request's, named as Tyk names its middleware; a step that refuses the request marks its span
// failed; without it, no such span.
func TestDetailedTracing(t *testing.T) {
	col := tracingtest.New(t)
	up := gt.NewUpstream(t)
	detailed := gt.Keyed(gt.API("detailed", "/detailed/", up.URL))
	detailed.DetailedTracing = true
	detailed.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", GlobalHeaders: map[string]string{"X-A": "1"},
		GlobalResponseHeaders: map[string]string{"X-B": "2"}}}
	plain := gt.Keyed(gt.API("plain", "/plain/", up.URL))
	oasDoc := `{"openapi": "3.0.3", "info": {"title": "oas", "version": "1"}, "paths": {},
		"x-tyk-api-gateway": {"info": {"id": "oasdt", "name": "oas", "state": {"active": true}},
		"upstream": {"url": "` + up.URL + `"}, "server": {"listenPath": {"value": "/oasdt/", "strip": true}, "detailedTracing": {"enabled": true}}}}`
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{detailed, plain}, Config: tracingTo(col.Endpoint())})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: oasDoc}))
	g.Reload()
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"detailed": {APIID: "detailed", Versions: []string{"Default"}}, "plain": {APIID: "plain", Versions: []string{"Default"}}}})
	g.Run(t,
		gt.Case{Name: "detailed", Path: "/detailed/x", Headers: map[string]string{"Authorization": key}, Code: 200},
		gt.Case{Name: "detailed, no key", Path: "/detailed/nokey", Code: 401},
		gt.Case{Name: "plain", Path: "/plain/x", Headers: map[string]string{"Authorization": key}, Code: 200},
		gt.Case{Name: "oas", Path: "/oasdt/x", Code: 200},
	)
	flushSpans(t, g)
	server := oneSpan(t, col, "GET /detailed/x")
	var names []string
	for _, s := range col.Spans() {
		if s.ParentSpanID == server.SpanID && s.Kind == tracepb.Span_SPAN_KIND_INTERNAL {
			names = append(names, s.Name)
		}
	}
	for _, want := range []string{"VersionCheck", "RequestSizeLimitMiddleware", "AuthKey", "KeyExpired", "AccessRightsCheck", "RateLimitAndQuotaCheck", "RequestHeaderInjector", "ResponseHeaderInjector"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s span below the request's: %q", want, names)
		}
	}
	refused := oneSpan(t, col, "GET /detailed/nokey")
	var authFailed bool
	for _, s := range col.Named("AuthKey") {
		if s.ParentSpanID == refused.SpanID {
			authFailed = s.StatusCode == tracepb.Status_STATUS_CODE_ERROR
		}
	}
	if !authFailed {
		t.Error("the AuthKey span of the request without a key is not marked failed")
	}
	oasServer := oneSpan(t, col, "GET /oasdt/x")
	var oasSteps int
	for _, s := range col.Named("VersionCheck") {
		if s.ParentSpanID == oasServer.SpanID {
			oasSteps++
		}
	}
	if oasSteps != 1 {
		t.Errorf("the OAS API with server.detailedTracing has %d VersionCheck spans, want 1", oasSteps)
	}
	plainServer := oneSpan(t, col, "GET /plain/x")
	for _, s := range col.Spans() {
		if s.ParentSpanID == plainServer.SpanID && s.Kind == tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("an API without detailed_tracing has a step span: %s", s.Name)
		}
	}
}
