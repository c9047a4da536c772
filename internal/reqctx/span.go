package reqctx

import (
	"context"
	"log/slog"
)

// Span is one span of a request's trace, as the gateway's tracing gives it to plugins through
// the sdk package (sdk.Span is its plugin-facing subset). A State's Span is nil when tracing is
// off, so the gateway pays one branch for it then.
type Span interface {
	// SetAttributes sets attributes of the span.
	SetAttributes(attrs ...slog.Attr)
	// AddEvent records a named event, now, with attributes.
	AddEvent(name string, attrs ...slog.Attr)
	// RecordError records err as an event and marks the span failed.
	RecordError(err error)
	// End ends the span; what is set after is ignored.
	End()
	// StartChild starts a span below this one.
	StartChild(name string, attrs ...slog.Attr) Span
	// TraceID and SpanID are the span's ids in hex, "" when it has none.
	TraceID() string
	SpanID() string
}

type spanKey struct{}

// ContextWithSpan returns ctx carrying s as its current span, for the spans a plugin starts.
func ContextWithSpan(ctx context.Context, s Span) context.Context {
	return context.WithValue(ctx, spanKey{}, s)
}

// SpanFromContext returns the current span of ctx: one a plugin started (ContextWithSpan), else
// the span of the hook the request is in (the State's), else nil.
func SpanFromContext(ctx context.Context) Span {
	if ctx == nil {
		return nil
	}
	if s, ok := ctx.Value(spanKey{}).(Span); ok {
		return s
	}
	if st := FromContext(ctx); st != nil {
		return st.Span
	}
	return nil
}
