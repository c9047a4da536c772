package gateway_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/observe/tracing/tracingtest"
)

// TestReviewB3ClientHeadersReplaced: with context_propagation b3, the trace context the
// upstream gets is the gateway's upstream span's alone. A client's single "b3" header (which
// B3 readers, OpenTelemetry's among them, prefer to X-B3-*), its X-B3-ParentSpanId and its
// X-B3-Flags (debug: "sample this") must not reach the upstream beside the gateway's
// X-B3-* headers: the upstream would parent its spans on the client's span, skipping the
// gateway, or sample what the gateway decided not to.
func TestReviewB3ClientHeadersReplaced(t *testing.T) {
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

// TestReviewTracestateWithoutParent: a client's tracestate with a traceparent the gateway
// does not continue (broken, or none) belongs to no trace the upstream gets; with tracing on
// the upstream gets the gateway's new traceparent, and the client's tracestate must not ride
// along as if it were that trace's.
func TestReviewTracestateWithoutParent(t *testing.T) {
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

// TestReviewSpanQueueBytes: with a collector that takes connections and never answers, the
// spans waiting for export are bounded by max_queue_size, a count; each request span holds the
// client's path (twice: its name and url.path) and User-Agent, so the queue holds what clients
// send, up to max_queue_size times max_header_bytes. Analytics bound what waits by bytes (64
// MiB, docs/observability.md) for this very reason; the traces' queue must not keep more.
func TestReviewSpanQueueBytes(t *testing.T) {
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
		c.OpenTelemetry.Enabled = os.Getenv("REVIEW_TRACING_OFF") == ""
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
	if tr := g.GW.Tracer(); tr != nil {
		t.Logf("live heap grew by %d MiB after %d requests (exported %d, dropped %d)", grown>>20, n, tr.Exported(), tr.Dropped())
	} else {
		t.Logf("tracing off: live heap grew by %d MiB after %d requests", grown>>20, n)
	}
	if grown > 64<<20 {
		t.Errorf("live heap grew by %d MiB holding spans for a collector that does not answer; want at most 64 MiB", grown>>20)
	}
}
