package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// B3 header names (Zipkin's B3 propagation).
const (
	b3Single  = "b3"
	b3TraceID = "X-B3-TraceId"
	b3SpanID  = "X-B3-SpanId"
	b3Sampled = "X-B3-Sampled"
	b3Flags   = "X-B3-Flags"
	b3Parent  = "X-B3-ParentSpanId"
)

// b3 reads B3 trace context, from the single b3 header or the X-B3-* headers, and writes the
// X-B3-* headers (what OpenTelemetry's B3 propagator writes by default, and so Tyk). It is
// written here rather than taken from the contrib module, whose versions move with OTel's and
// which would be one more module for plugins to match.
type b3 struct{}

var _ propagation.TextMapPropagator = b3{}

func (b3) Fields() []string {
	return []string{b3Single, b3TraceID, b3SpanID, b3Sampled, b3Flags, b3Parent}
}

func (b3) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	carrier.Set(b3TraceID, sc.TraceID().String())
	carrier.Set(b3SpanID, sc.SpanID().String())
	if sc.IsSampled() {
		carrier.Set(b3Sampled, "1")
	} else {
		carrier.Set(b3Sampled, "0")
	}
}

func (b3) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	var sc trace.SpanContext
	var ok bool
	if v := carrier.Get(b3Single); v != "" {
		sc, ok = parseB3Single(v)
	} else {
		sc, ok = parseB3(carrier.Get(b3TraceID), carrier.Get(b3SpanID), carrier.Get(b3Sampled), carrier.Get(b3Flags))
	}
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// parseB3Single reads "traceid-spanid[-sampled[-parentspanid]]"; a lone sampling decision
// carries no context to continue.
func parseB3Single(v string) (trace.SpanContext, bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 2 || len(parts) > 4 {
		return trace.SpanContext{}, false
	}
	sampled := ""
	if len(parts) >= 3 {
		sampled = parts[2]
	}
	return parseB3(parts[0], parts[1], sampled, "")
}

func parseB3(traceID, spanID, sampled, flags string) (trace.SpanContext, bool) {
	if len(traceID) == 16 {
		traceID = "0000000000000000" + traceID
	}
	tid, err := trace.TraceIDFromHex(strings.ToLower(traceID))
	if err != nil {
		return trace.SpanContext{}, false
	}
	sid, err := trace.SpanIDFromHex(strings.ToLower(spanID))
	if err != nil {
		return trace.SpanContext{}, false
	}
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, Remote: true}
	switch strings.ToLower(sampled) {
	case "1", "d", "true":
		cfg.TraceFlags = trace.FlagsSampled
	}
	if flags == "1" {
		cfg.TraceFlags = trace.FlagsSampled // debug implies sampled
	}
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}
