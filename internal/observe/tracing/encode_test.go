package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestEncodeRequest: what encodeRequest writes, with spans appendSpan wrote, decodes with
// OTLP's own message types to the spans as the SDK recorded them: every attribute type, events,
// links, status, kinds, flags, the resource and the instrumentation scope.
func TestEncodeRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	a := tp.Tracer("scope-a", trace.WithInstrumentationVersion("1.0"))
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ctx, server := a.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "GET /x",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("why", "retry")}}))
	server.SetAttributes(
		attribute.String("s", "text"), attribute.Bool("yes", true), attribute.Bool("no", false),
		attribute.Int64("n", -42), attribute.Int64("zero", 0), attribute.Float64("f", 0.25),
		attribute.StringSlice("ss", []string{"a", ""}), attribute.Int64Slice("is", []int64{1, 300}),
		attribute.Float64Slice("fs", []float64{1.5}), attribute.BoolSlice("bs", []bool{true, false}),
		attribute.String("bad", "x\xffy"),
	)
	server.AddEvent("ev", trace.WithAttributes(attribute.Int("k", 7)))
	server.SetStatus(codes.Error, "broke")
	_, child := a.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient))
	child.RecordError(errors.New("boom"))
	child.SetStatus(codes.Ok, "")
	child.End()
	server.End()

	const schema = "https://opentelemetry.io/schemas/1.26.0"
	body := encodeRequest(nil, encodeResource([]attribute.KeyValue{attribute.String("service.name", "gw")}),
		encodeScope(instrumentation.Scope{Name: "scope-a", Version: "1.0", SchemaURL: schema}), encodeSpans(rec.Ended()))
	var got tracepb.TracesData
	if err := proto.Unmarshal(body, &got); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if len(got.ResourceSpans) != 1 {
		t.Fatalf("%d ResourceSpans", len(got.ResourceSpans))
	}
	rs := got.ResourceSpans[0]
	if kv := rs.GetResource().GetAttributes(); len(kv) != 1 || kv[0].Key != "service.name" || kv[0].Value.GetStringValue() != "gw" {
		t.Errorf("resource: %v", kv)
	}
	if len(rs.ScopeSpans) != 1 {
		t.Fatalf("%d ScopeSpans", len(rs.ScopeSpans))
	}
	ss := rs.ScopeSpans[0]
	if ss.GetScope().GetName() != "scope-a" || ss.GetScope().GetVersion() != "1.0" || ss.SchemaUrl != schema || len(ss.Spans) != 2 {
		t.Fatalf("scope spans: %v", ss)
	}
	c, s := ss.Spans[0], ss.Spans[1] // in the order they ended
	if hex.EncodeToString(s.TraceId) != remote.TraceID().String() || hex.EncodeToString(s.ParentSpanId) != remote.SpanID().String() ||
		s.Name != "GET /x" || s.Kind != tracepb.Span_SPAN_KIND_SERVER || s.Flags != 0x301 {
		t.Errorf("server span: %v", s)
	}
	if s.StartTimeUnixNano == 0 || s.EndTimeUnixNano < s.StartTimeUnixNano {
		t.Errorf("times %d %d", s.StartTimeUnixNano, s.EndTimeUnixNano)
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range s.Attributes {
		attrs[kv.Key] = kv.Value
	}
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("attribute %s = %v", name, attrs[name])
		}
	}
	check("s", attrs["s"].GetStringValue() == "text")
	_, isBool := attrs["no"].GetValue().(*commonpb.AnyValue_BoolValue)
	check("yes", attrs["yes"].GetBoolValue())
	check("no", isBool && !attrs["no"].GetBoolValue())
	_, isInt := attrs["zero"].GetValue().(*commonpb.AnyValue_IntValue)
	check("n", attrs["n"].GetIntValue() == -42)
	check("zero", isInt)
	check("f", attrs["f"].GetDoubleValue() == 0.25)
	strs := attrs["ss"].GetArrayValue().GetValues()
	check("ss", len(strs) == 2 && strs[0].GetStringValue() == "a" && strs[1].GetStringValue() == "")
	is := attrs["is"].GetArrayValue().GetValues()
	check("is", len(is) == 2 && is[1].GetIntValue() == 300)
	check("fs", len(attrs["fs"].GetArrayValue().GetValues()) == 1)
	bs := attrs["bs"].GetArrayValue().GetValues()
	check("bs", len(bs) == 2 && bs[0].GetBoolValue() && !bs[1].GetBoolValue())
	check("bad", attrs["bad"].GetStringValue() == "x\uFFFDy")
	if len(s.Events) != 1 || s.Events[0].Name != "ev" || s.Events[0].Attributes[0].Value.GetIntValue() != 7 || s.Events[0].TimeUnixNano == 0 {
		t.Errorf("events: %v", s.Events)
	}
	if len(s.Links) != 1 || hex.EncodeToString(s.Links[0].SpanId) != remote.SpanID().String() || s.Links[0].Attributes[0].Value.GetStringValue() != "retry" {
		t.Errorf("links: %v", s.Links)
	}
	if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s.Status.GetMessage() != "broke" {
		t.Errorf("status: %v", s.Status)
	}
	if hex.EncodeToString(c.ParentSpanId) != hex.EncodeToString(s.SpanId) || c.Kind != tracepb.Span_SPAN_KIND_CLIENT || c.Flags != 0x101 ||
		len(c.Events) != 1 || c.Events[0].Name != "exception" {
		t.Errorf("child span: %v", c)
	}
	if c.Status.GetCode() != tracepb.Status_STATUS_CODE_OK {
		// SetStatus(Ok) after an error event: Ok wins, as OTel's rules say.
		t.Errorf("child status: %v", c.Status)
	}
}

// TestEncodeLongBody: message bodies whose lengths take three bytes, not the five kept for
// them, are moved down into place, and attributes long enough that their lengths take more
// than a byte are written whole.
func TestEncodeLongBody(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	long := make([]byte, 70000)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	_, s := tp.Tracer("t").Start(context.Background(), string(long))
	// Attributes whose lengths take two and three bytes, a key that is not UTF-8, an empty
	// value: the lengths worked out before writing must match what is written.
	key := string(long[:200])
	s.SetAttributes(attribute.String(key, string(long)), attribute.String("k\xff", "v"), attribute.String("empty", ""),
		attribute.Int64("big", 1<<62))
	s.End()
	var got tracepb.TracesData
	if err := proto.Unmarshal(encodeRequest(nil, nil, encodeScope(instrumentation.Scope{Name: "t"}), encodeSpans(rec.Ended())), &got); err != nil {
		t.Fatal(err)
	}
	span := got.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if n := span.Name; n != string(long) {
		t.Errorf("name of %d bytes came back as %d bytes", len(long), len(n))
	}
	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range span.Attributes {
		attrs[kv.Key] = kv.Value
	}
	if v := attrs[key].GetStringValue(); v != string(long) {
		t.Errorf("a value of %d bytes came back as %d bytes", len(long), len(v))
	}
	if v := attrs["k\uFFFD"].GetStringValue(); v != "v" {
		t.Errorf("the key that is not UTF-8: %v", span.Attributes)
	}
	if _, ok := attrs["empty"].GetValue().(*commonpb.AnyValue_StringValue); !ok {
		t.Errorf("empty string value: %v", attrs["empty"])
	}
	if v := attrs["big"].GetIntValue(); v != 1<<62 {
		t.Errorf("big = %d", v)
	}
}

// encodeSpans is spans as the queue keeps them.
func encodeSpans(spans []sdktrace.ReadOnlySpan) []byte {
	var b []byte
	for _, s := range spans {
		b = appendSpan(b, s)
	}
	return b
}
