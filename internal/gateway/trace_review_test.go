package gateway_test

import (
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
