package tracing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/observe/tracing/tracingtest"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// otelConfig is tracing on, to endpoint, with long batches so that tests decide when spans go.
func otelConfig(endpoint string) config.OpenTelemetryConfig {
	o := config.Default().OpenTelemetry
	o.Enabled = true
	o.Endpoint = endpoint
	o.SpanBatchConfig.BatchTimeout = 3600
	return o
}

func newTracer(t testing.TB, cfg config.OpenTelemetryConfig) *tracing.Tracer {
	t.Helper()
	cfg.Enabled = true
	full := config.Default()
	full.OpenTelemetry = cfg
	if err := full.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	tr, err := tracing.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return tr
}

func flush(t *testing.T, tr *tracing.Tracer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

var def = &apidef.APIDefinition{APIID: "orders", Name: "Orders", OrgID: "acme", Tags: []string{"edge"}}

const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00f067aa0ba902b7"
)

// TestRequestSpans: the server span continues the client's trace, a hook's span and the
// upstream span are its children, the upstream gets a traceparent whose parent is the upstream
// span, and the collector gets all three with Tyk's names and attributes.
func TestRequestSpans(t *testing.T) {
	col := tracingtest.New(t)
	cfg := otelConfig(col.Endpoint())
	cfg.Headers = map[string]string{"x-api-key": "collector-key"}
	cfg.ResourceName = "edge-gw"
	tr := newTracer(t, cfg)

	r := httptest.NewRequest("GET", "/orders/42?key=secret", nil)
	r.Header.Set("traceparent", "00-"+clientTrace+"-"+clientParent+"-01")
	r.Header.Set("User-Agent", "curl/8")
	srv := tr.API(def, "/orders/").Start(r, "/orders/42")
	hook := srv.Hook("pre", "AddHeader")
	hook.SetAttributes(slog.String("tenant", "t1"), slog.Group("db", slog.Int("rows", 3)))
	child := hook.StartChild("lookup")
	child.RecordError(errors.New("cache miss"))
	child.End()
	hook.EndHook(0, nil)
	out := http.Header{}
	up := srv.Upstream("GET", out)
	target, _ := url.Parse("http://127.0.0.1:9/v1/orders/42?key=secret")
	up.EndUpstream(target, 200)
	srv.EndRequest(200)
	flush(t, tr)

	if bad := col.Bad(); len(bad) > 0 {
		t.Fatalf("the collector refused exports: %q", bad)
	}
	server := one(t, col, "GET /orders/42")
	if server.TraceID != clientTrace || server.ParentSpanID != clientParent || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span: trace %s parent %s kind %v, want the client's trace %s and parent %s, kind server",
			server.TraceID, server.ParentSpanID, server.Kind, clientTrace, clientParent)
	}
	for k, want := range map[string]any{
		"tyk.api.id": "orders", "tyk.api.name": "Orders", "tyk.api.orgid": "acme", "tyk.api.path": "/orders/",
		"http.request.method": "GET", "url.path": "/orders/42", "http.response.status_code": int64(200),
		"user_agent.original": "curl/8",
	} {
		if server.Attrs[k] != want {
			t.Errorf("server span %s = %#v, want %#v", k, server.Attrs[k], want)
		}
	}
	if tags, _ := server.Attrs["tyk.api.tags"].([]any); !slices.Equal(tags, []any{"edge"}) {
		t.Errorf("tyk.api.tags = %#v", server.Attrs["tyk.api.tags"])
	}
	if server.Resource["service.name"] != "edge-gw" || server.Resource["service.version"] != "test" || server.Scope != tracing.ScopeName {
		t.Errorf("resource %v scope %q", server.Resource, server.Scope)
	}
	h := one(t, col, "AddHeader")
	if h.ParentSpanID != server.SpanID || h.TraceID != clientTrace || h.Attrs["gatehouse.plugin.hook"] != "pre" ||
		h.Attrs["tenant"] != "t1" || h.Attrs["db.rows"] != int64(3) {
		t.Errorf("hook span: %+v (server span %s)", h, server.SpanID)
	}
	l := one(t, col, "lookup")
	if l.ParentSpanID != h.SpanID || l.StatusCode != tracepb.Status_STATUS_CODE_ERROR || l.StatusMessage != "cache miss" || !slices.Contains(l.Events, "exception") {
		t.Errorf("plugin's child span: %+v (hook span %s)", l, h.SpanID)
	}
	u := one(t, col, "HTTP GET")
	if u.ParentSpanID != server.SpanID || u.Kind != tracepb.Span_SPAN_KIND_CLIENT || u.Attrs["url.full"] != "http://127.0.0.1:9/v1/orders/42" ||
		u.Attrs["http.request.method"] != "GET" || u.Attrs["server.address"] != "127.0.0.1" || u.Attrs["http.response.status_code"] != int64(200) {
		t.Errorf("upstream span: %+v", u)
	}
	if got, want := out.Get("traceparent"), "00-"+clientTrace+"-"+u.SpanID+"-01"; got != want {
		t.Errorf("traceparent sent upstream = %q, want %q (a child of the upstream span)", got, want)
	}
	for _, s := range col.Spans() {
		for k, v := range s.Attrs {
			if str, ok := v.(string); ok && strings.Contains(str, "secret") {
				t.Errorf("span %s attribute %s carries the query: %q", s.Name, k, str)
			}
		}
	}
	reqs := col.Requests()
	if len(reqs) == 0 || reqs[0].Get("x-api-key") != "collector-key" || !strings.HasPrefix(reqs[0].Get("User-Agent"), "gatehouse/") {
		t.Errorf("export headers: %v", reqs)
	}
}

func one(t *testing.T, col *tracingtest.Collector, name string) tracingtest.Span {
	t.Helper()
	got := col.Named(name)
	if len(got) != 1 {
		var names []string
		for _, s := range col.Spans() {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans named %q, want 1; received %q", len(got), name, names)
	}
	return got[0]
}

// TestSpansKeepTheirAttributes: the slices a span's attributes are gathered in are reused by
// the next spans; what each span exports is still its own request's.
func TestSpansKeepTheirAttributes(t *testing.T) {
	col := tracingtest.New(t)
	tr := newTracer(t, otelConfig(col.Endpoint()))
	api := tr.API(def, "/orders/")
	const n = 20
	for i := range n {
		path := fmt.Sprintf("/orders/%d", i)
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("User-Agent", fmt.Sprintf("agent-%d", i))
		srv := api.Start(r, path)
		up := srv.Upstream("GET", http.Header{})
		target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:9/v1%s", path))
		up.EndUpstream(target, 200+i)
		srv.EndRequest(200 + i)
	}
	flush(t, tr)
	for i := range n {
		path := fmt.Sprintf("/orders/%d", i)
		server := one(t, col, "GET "+path)
		if server.Attrs["url.path"] != path || server.Attrs["user_agent.original"] != fmt.Sprintf("agent-%d", i) ||
			server.Attrs["http.response.status_code"] != int64(200+i) || server.Attrs["tyk.api.id"] != "orders" {
			t.Errorf("server span %d: %v", i, server.Attrs)
		}
	}
	for _, u := range col.Named("HTTP GET") {
		code, _ := u.Attrs["http.response.status_code"].(int64)
		if want := fmt.Sprintf("http://127.0.0.1:9/v1/orders/%d", code-200); u.Attrs["url.full"] != want {
			t.Errorf("upstream span: url.full %v with status %d, want %s", u.Attrs["url.full"], code, want)
		}
	}
	if got := len(col.Named("HTTP GET")); got != n {
		t.Errorf("%d upstream spans, want %d", got, n)
	}
}

// TestSampling: what is recorded, and what the upstream is told, for each sampler.
func TestSampling(t *testing.T) {
	// TraceIDRatioBased compares the trace id's last 8 bytes with rate * 2^63.
	const low, high = "000000000000000000000000000000ff", "00000000000000007fffffffffffffff"
	for _, c := range []struct {
		name     string
		sampling config.SamplingConfig
		parent   string // the client's traceparent, "" for none
		recorded bool
	}{
		{"always on", config.SamplingConfig{Type: config.SamplerAlwaysOn}, "", true},
		{"always off", config.SamplingConfig{Type: config.SamplerAlwaysOff}, "", false},
		{"ratio, trace id below", config.SamplingConfig{Type: config.SamplerRatioBased, Rate: 0.25}, "00-" + low + "-" + clientParent + "-00", true},
		{"ratio, trace id above", config.SamplingConfig{Type: config.SamplerRatioBased, Rate: 0.25}, "00-" + high + "-" + clientParent + "-01", false},
		{"rate 0 is Tyk's 0.5", config.SamplingConfig{Type: config.SamplerRatioBased}, "00-" + low + "-" + clientParent + "-00", true},
		{"always on ignores the client's decision", config.SamplingConfig{Type: config.SamplerAlwaysOn}, "00-" + clientTrace + "-" + clientParent + "-00", true},
		{"parent based follows it: no", config.SamplingConfig{Type: config.SamplerAlwaysOn, ParentBased: true}, "00-" + clientTrace + "-" + clientParent + "-00", false},
		{"parent based follows it: yes", config.SamplingConfig{Type: config.SamplerAlwaysOff, ParentBased: true}, "00-" + clientTrace + "-" + clientParent + "-01", true},
		{"parent based without a parent", config.SamplingConfig{Type: config.SamplerAlwaysOff, ParentBased: true}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := tracingtest.New(t)
			cfg := otelConfig(col.Endpoint())
			cfg.Sampling = c.sampling
			tr := newTracer(t, cfg)
			r := httptest.NewRequest("GET", "/orders/1", nil)
			if c.parent != "" {
				r.Header.Set("traceparent", c.parent)
			}
			srv := tr.API(def, "/orders/").Start(r, "/orders/1")
			out := http.Header{}
			up := srv.Upstream("GET", out)
			up.EndUpstream(nil, 200)
			srv.EndRequest(200)
			flush(t, tr)
			if got := len(col.Spans()) > 0; got != c.recorded {
				t.Errorf("recorded = %v (%d spans), want %v", got, len(col.Spans()), c.recorded)
			}
			// Recorded or not, the upstream is told, with the decision in the flags.
			tp := out.Get("traceparent")
			wantFlag := "-00"
			if c.recorded {
				wantFlag = "-01"
			}
			if !strings.HasPrefix(tp, "00-") || !strings.HasSuffix(tp, wantFlag) {
				t.Errorf("traceparent upstream = %q, want one ending %s", tp, wantFlag)
			}
			if c.parent != "" && !strings.Contains(tp, c.parent[3:35]) {
				t.Errorf("traceparent upstream = %q does not continue the client's trace %s", tp, c.parent[3:35])
			}
		})
	}
}

// TestUnreachableCollector: with the collector down, ending spans never waits; what cannot be
// queued or sent is dropped and counted, and shutdown still returns.
func TestUnreachableCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	cfg := otelConfig(addr)
	cfg.SpanBatchConfig.MaxQueueSize, cfg.SpanBatchConfig.MaxExportBatchSize = 8, 4
	tr := newTracer(t, cfg)
	const n = 500
	api := tr.API(def, "/orders/")
	for range n {
		srv := api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1")
		srv.EndRequest(200)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if tr.Exported() != 0 || tr.Dropped() != n {
		t.Errorf("exported %d, dropped %d; want 0 and %d", tr.Exported(), tr.Dropped(), n)
	}
}

// TestStalledCollector: a collector that takes the connection and never answers holds one
// export until connection_timeout; the spans ended meanwhile are queued or dropped, never
// waited for.
func TestStalledCollector(t *testing.T) {
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer stalled.Close()
	defer close(release)
	cfg := otelConfig(strings.TrimPrefix(stalled.URL, "http://"))
	cfg.SpanProcessorType = "simple"
	cfg.SpanBatchConfig.MaxQueueSize, cfg.SpanBatchConfig.MaxExportBatchSize = 4, 1
	cfg.ConnectionTimeout = 1
	tr := newTracer(t, cfg)
	api := tr.API(def, "/orders/")
	const n = 200
	for range n {
		api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(200)
	}
	// n spans ended while the first export is stuck: the queue holds 4, one is being sent,
	// the rest were dropped at once.
	if d := tr.Dropped(); d < n-4-1 {
		t.Errorf("dropped %d of %d spans ended while the collector stalled; want at least %d", d, n, n-5)
	}
}

// TestBatches: a full batch is sent as soon as it fills, without waiting for batch_timeout (an
// hour here); spans short of a batch wait for it, or for a flush; an export carries at most
// max_export_batch_size spans.
func TestBatches(t *testing.T) {
	col := tracingtest.New(t)
	cfg := otelConfig(col.Endpoint())
	cfg.SpanBatchConfig.MaxExportBatchSize = 3
	tr := newTracer(t, cfg)
	api := tr.API(def, "/orders/")
	for i := range 7 {
		path := fmt.Sprintf("/orders/%d", i)
		api.Start(httptest.NewRequest("GET", path, nil), path).EndRequest(200)
	}
	for deadline := time.Now().Add(10 * time.Second); len(col.Spans()) < 6 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got, reqs := len(col.Spans()), len(col.Requests()); got != 6 || reqs != 2 {
		t.Fatalf("the collector got %d spans in %d exports; want the two full batches of 3, sent without a flush", got, reqs)
	}
	flush(t, tr)
	if got, reqs := len(col.Spans()), len(col.Requests()); got != 7 || reqs != 3 {
		t.Errorf("after a flush: %d spans in %d exports, want 7 in 3", got, reqs)
	}
	if tr.Exported() != 7 || tr.Dropped() != 0 {
		t.Errorf("exported %d, dropped %d; want 7 and 0", tr.Exported(), tr.Dropped())
	}
	// The span left over from the full batches was moved to another buffer to wait: it, and
	// every other, arrives whole and once.
	if bad := col.Bad(); len(bad) > 0 {
		t.Fatalf("the collector refused exports: %q", bad)
	}
	for i := range 7 {
		one(t, col, fmt.Sprintf("GET /orders/%d", i))
	}
}

// TestQueueRoomDuringExport: while a batch is being sent, max_queue_size spans can still
// wait; the batch in flight does not count against it.
func TestQueueRoomDuringExport(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer slow.Close()
	cfg := otelConfig(strings.TrimPrefix(slow.URL, "http://"))
	cfg.SpanBatchConfig.MaxQueueSize, cfg.SpanBatchConfig.MaxExportBatchSize = 4, 4
	tr := newTracer(t, cfg)
	api := tr.API(def, "/orders/")
	end := func(n int) {
		for range n {
			api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(200)
		}
	}
	end(4) // a full batch: its export starts, and waits
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the full batch was not sent")
	}
	end(4)
	if d := tr.Dropped(); d != 0 {
		t.Errorf("%d spans dropped while a batch was in flight and the queue was empty", d)
	}
	close(release)
	flush(t, tr)
	if got := tr.Exported(); got != 8 {
		t.Errorf("exported %d spans, want 8", got)
	}
}

// TestShutdownFlushes: spans still waiting for their batch are sent at shutdown.
func TestShutdownFlushes(t *testing.T) {
	col := tracingtest.New(t)
	tr, err := tracing.New(otelConfig(col.Endpoint()), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	api := tr.API(def, "/orders/")
	for range 3 {
		api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(204)
	}
	if got := len(col.Spans()); got != 0 {
		t.Fatalf("%d spans exported before the batch timeout or shutdown", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(col.Named("GET /orders/1")); got != 3 || tr.Exported() != 3 {
		t.Errorf("after shutdown the collector has %d spans (exported %d), want 3", got, tr.Exported())
	}
}

// TestHostileRequest: a broken traceparent starts a new trace; bytes that are not UTF-8 in the
// path or user agent still export (protobuf strings must be UTF-8).
func TestHostileRequest(t *testing.T) {
	col := tracingtest.New(t)
	tr := newTracer(t, otelConfig(col.Endpoint()))
	r := httptest.NewRequest("GET", "/orders/x", nil)
	r.Header.Set("traceparent", "00-zzzz-"+clientParent+"-01")
	r.Header.Set("User-Agent", "bad\xff\xfe")
	srv := tr.API(def, "/orders/").Start(r, "/orders/\xff")
	srv.EndRequest(400)
	flush(t, tr)
	if bad := col.Bad(); len(bad) > 0 {
		t.Fatalf("the collector refused the export: %q", bad)
	}
	s := one(t, col, "GET /orders/\uFFFD")
	if s.ParentSpanID != "" || s.TraceID == "" || s.Attrs["user_agent.original"] != "bad\uFFFD" {
		t.Errorf("span from a hostile request: %+v", s)
	}
}

// TestB3: with context_propagation b3, the client's B3 headers (single or multiple) are
// continued, and the upstream gets X-B3-* headers.
func TestB3(t *testing.T) {
	for name, hdr := range map[string]http.Header{
		"single":   {"B3": {clientTrace + "-" + clientParent + "-1"}},
		"multiple": {"X-B3-Traceid": {clientTrace}, "X-B3-Spanid": {clientParent}, "X-B3-Sampled": {"1"}},
	} {
		t.Run(name, func(t *testing.T) {
			col := tracingtest.New(t)
			cfg := otelConfig(col.Endpoint())
			cfg.ContextPropagation = "b3"
			tr := newTracer(t, cfg)
			r := httptest.NewRequest("GET", "/orders/1", nil)
			r.Header = hdr
			srv := tr.API(def, "/orders/").Start(r, "/orders/1")
			out := http.Header{}
			up := srv.Upstream("PURGE", out)
			up.EndUpstream(nil, 200)
			srv.EndRequest(200)
			flush(t, tr)
			s := one(t, col, "GET /orders/1")
			u := one(t, col, "HTTP PURGE")
			if u.Attrs["http.request.method"] != "PURGE" || u.Attrs["url.full"] != nil {
				t.Errorf("upstream span of a request not sent: %+v", u)
			}
			if s.TraceID != clientTrace || s.ParentSpanID != clientParent {
				t.Errorf("server span trace %s parent %s", s.TraceID, s.ParentSpanID)
			}
			if out.Get("X-B3-TraceId") != clientTrace || out.Get("X-B3-SpanId") != u.SpanID || out.Get("X-B3-Sampled") != "1" || out.Get("traceparent") != "" {
				t.Errorf("headers upstream: %v (upstream span %s)", out, u.SpanID)
			}
		})
	}
}

// TestCollectorRedirect: a collector answering with a redirect is an export failure, counted
// and logged: the export is not re-sent, so the custom headers (API keys) never reach the
// redirect's target.
// TestCollectorHugeHeaders: a collector whose answer carries a megabyte of header fails the
// export (its spans are dropped, not buffered in full); one with a normal answer takes them.
func TestCollectorHugeHeaders(t *testing.T) {
	for _, c := range []struct {
		name     string
		padding  int
		exported uint64
	}{
		{"normal", 100, 2},
		{"a megabyte of header", 1 << 20, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Padding", strings.Repeat("p", c.padding))
				w.WriteHeader(http.StatusOK)
			}))
			defer col.Close()
			var logs testkit.SyncBuffer
			tr, err := tracing.New(otelConfig(strings.TrimPrefix(col.URL, "http://")), "test", slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			api := tr.API(def, "/orders/")
			for range 2 {
				api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(200)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = tr.Shutdown(ctx)
			if tr.Exported() != c.exported || tr.Exported()+tr.Dropped() != 2 {
				t.Errorf("exported %d, dropped %d; want %d exported of 2\n%s", tr.Exported(), tr.Dropped(), c.exported, logs.String())
			}
			if c.exported == 0 && !strings.Contains(logs.String(), "headers exceeded") {
				t.Errorf("the refused answer was not logged with its reason:\n%s", logs.String())
			}
		})
	}
}

func TestCollectorRedirect(t *testing.T) {
	var leaked atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-api-key") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer target.Close()
	var asked atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer collector.Close()
	cfg := otelConfig(strings.TrimPrefix(collector.URL, "http://"))
	cfg.Headers = map[string]string{"x-api-key": "collector-key"}
	var logs testkit.SyncBuffer
	tr, err := tracing.New(cfg, "test", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	api := tr.API(def, "/orders/")
	for range 3 {
		api.Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(200)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = tr.ForceFlush(ctx)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if asked.Load() == 0 {
		t.Fatal("the collector was never asked")
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the redirect target received the collector's x-api-key %d times", n)
	}
	if tr.Exported() != 0 || tr.Dropped() != 3 {
		t.Errorf("exported %d, dropped %d; want 0 and 3", tr.Exported(), tr.Dropped())
	}
	if got := strings.Count(logs.String(), "307"); got != 1 {
		t.Errorf("the redirect was logged %d times, want once:\n%s", got, logs.String())
	}
}

// TestNodeTagsInResource: a segmented gateway's tags are the resource's tyk.gw.tags, as in Tyk;
// a gateway that is not segmented has none.
func TestNodeTagsInResource(t *testing.T) {
	for _, tags := range [][]string{{"eu", "edge"}, nil} {
		col := tracingtest.New(t)
		tr, err := tracing.New(otelConfig(col.Endpoint()), "test", nil, tracing.WithNodeTags(tags))
		if err != nil {
			t.Fatal(err)
		}
		tr.API(def, "/orders/").Start(httptest.NewRequest("GET", "/orders/1", nil), "/orders/1").EndRequest(204)
		flush(t, tr)
		got, present := one(t, col, "GET /orders/1").Resource["tyk.gw.tags"]
		switch {
		case tags == nil && present:
			t.Errorf("not segmented: tyk.gw.tags = %#v, want none", got)
		case tags != nil && !slices.Equal(asStrings(got), tags):
			t.Errorf("tyk.gw.tags = %#v, want %q", got, tags)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = tr.Shutdown(ctx)
		cancel()
	}
}

func asStrings(v any) []string {
	items, _ := v.([]any)
	out := []string{}
	for _, it := range items {
		s, _ := it.(string)
		out = append(out, s)
	}
	return out
}

// TestAPITagsDisabled: an API with tags_disabled has no tyk.api.tags, as in Tyk.
func TestAPITagsDisabled(t *testing.T) {
	col := tracingtest.New(t)
	tr := newTracer(t, otelConfig(col.Endpoint()))
	d := &apidef.APIDefinition{APIID: "x", Name: "x", Tags: []string{"eu"}, TagsDisabled: true}
	tr.API(d, "/x/").Start(httptest.NewRequest("GET", "/x/1", nil), "/x/1").EndRequest(200)
	flush(t, tr)
	if v, ok := one(t, col, "GET /x/1").Attrs["tyk.api.tags"]; ok {
		t.Errorf("tags_disabled: tyk.api.tags = %#v, want none", v)
	}
}
