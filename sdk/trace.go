package sdk

import (
	"context"
	"log/slog"

	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Span is a span of the request's OpenTelemetry trace, reached without importing OpenTelemetry:
// attributes are slog.Attr values (slog.String, slog.Int, slog.Bool, slog.Float64, ...). When
// the gateway does not trace (opentelemetry.enabled off, or this request not sampled) every
// method does nothing and the ids are "".
//
// A Span may be used from the plugin's own goroutines; End it once.
type Span interface {
	// SetAttributes sets attributes of the span.
	SetAttributes(attrs ...slog.Attr)
	// AddEvent records a named event, now, with attributes.
	AddEvent(name string, attrs ...slog.Attr)
	// RecordError records err as an event and marks the span failed.
	RecordError(err error)
	// End ends the span. The gateway ends the spans it started (a hook's own span); a plugin
	// ends those it started with StartSpan.
	End()
	// TraceID and SpanID are the span's ids in hex ("" when not traced), for a log line or a
	// header of the plugin's own.
	TraceID() string
	SpanID() string
}

// SpanFromContext returns the current span of ctx (the request's r.Context()): inside a hook,
// the span the gateway started for the hook, named after the plugin function; below a span a
// plugin started with StartSpan, that span. It is never nil: without tracing it is a Span that
// does nothing.
func SpanFromContext(ctx context.Context) Span {
	if s := reqctx.SpanFromContext(ctx); s != nil {
		return s
	}
	return nopSpan{}
}

// StartSpan starts a span named name below the current span of ctx, and returns a context
// carrying it (pass it to StartSpan again for a grandchild) with the span. The plugin must End
// it. Without tracing it returns ctx and a Span that does nothing.
//
//	ctx, span := sdk.StartSpan(r.Context(), "lookup-tenant", slog.String("tenant", id))
//	defer span.End()
func StartSpan(ctx context.Context, name string, attrs ...slog.Attr) (context.Context, Span) {
	parent := reqctx.SpanFromContext(ctx)
	if parent == nil {
		return ctx, nopSpan{}
	}
	s := parent.StartChild(name, attrs...)
	return reqctx.ContextWithSpan(ctx, s), s
}

type nopSpan struct{}

func (nopSpan) SetAttributes(...slog.Attr)    {}
func (nopSpan) AddEvent(string, ...slog.Attr) {}
func (nopSpan) RecordError(error)             {}
func (nopSpan) End()                          {}
func (nopSpan) TraceID() string               { return "" }
func (nopSpan) SpanID() string                { return "" }
