// Package tracingtest is an OTLP/HTTP collector for tests: a real HTTP server on 127.0.0.1 that
// decodes what exporters POST (protobuf, with go.opentelemetry.io/proto/otlp) and keeps the
// spans.
package tracingtest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Collector receives spans at /v1/traces.
type Collector struct {
	srv *httptest.Server

	mu       sync.Mutex
	spans    []Span
	requests []http.Header
	bad      []string
}

// Span is a received span, its ids in hex and its attributes as plain values.
type Span struct {
	Name          string
	TraceID       string
	SpanID        string
	ParentSpanID  string
	Kind          tracepb.Span_SpanKind
	Attrs         map[string]any
	StatusCode    tracepb.Status_StatusCode
	StatusMessage string
	Events        []string
	Resource      map[string]any
	Scope         string
}

// New starts a collector, closed when the test ends.
func New(t testing.TB) *Collector {
	c := &Collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

// Endpoint is the collector's host:port, as opentelemetry.endpoint takes it.
func (c *Collector) Endpoint() string { return strings.TrimPrefix(c.srv.URL, "http://") }

func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	fail := func(why string) {
		c.mu.Lock()
		c.bad = append(c.bad, why)
		c.mu.Unlock()
		http.Error(w, why, http.StatusBadRequest)
	}
	switch {
	case err != nil:
		fail("reading: " + err.Error())
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/traces":
		fail("unexpected " + r.Method + " " + r.URL.Path)
		return
	case r.Header.Get("Content-Type") != "application/x-protobuf":
		fail("content type " + r.Header.Get("Content-Type"))
		return
	}
	// TracesData is ExportTraceServiceRequest on the wire (both are field 1, repeated
	// ResourceSpans); the collector service package would link gRPC into the tests.
	var req tracepb.TracesData
	if err := proto.Unmarshal(body, &req); err != nil {
		fail("decoding: " + err.Error())
		return
	}
	var got []Span
	for _, rs := range req.ResourceSpans {
		res := values(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{
					Name: s.Name, TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
					ParentSpanID: hex.EncodeToString(s.ParentSpanId), Kind: s.Kind, Attrs: values(s.Attributes),
					StatusCode: s.GetStatus().GetCode(), StatusMessage: s.GetStatus().GetMessage(),
					Resource: res, Scope: ss.GetScope().GetName(),
				}
				for _, e := range s.Events {
					sp.Events = append(sp.Events, e.Name)
				}
				got = append(got, sp)
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	c.requests = append(c.requests, r.Header.Clone())
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Requests returns the headers of the exports received so far.
func (c *Collector) Requests() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]http.Header(nil), c.requests...)
}

// Bad returns why the exports the collector refused were refused.
func (c *Collector) Bad() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// Named returns the received spans named name.
func (c *Collector) Named(name string) []Span {
	var out []Span
	for _, s := range c.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func values(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = value(kv.Value)
	}
	return m
}

func value(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_ArrayValue:
		var out []any
		for _, e := range x.ArrayValue.Values {
			out = append(out, value(e))
		}
		return out
	}
	return nil
}
