// Package tracing is the gateway's OpenTelemetry tracing: one server span per request an API
// takes, a child span per plugin hook (named after the plugin's function) and one for the
// upstream call, W3C trace context (or B3) continued from the client and passed to the
// upstream. Spans are exported over OTLP/HTTP by a bounded queue beside the requests.
//
// The gateway holds a nil *Tracer when tracing is off and pays one branch per boundary.
// Plugins reach the spans through the sdk package (reqctx.Span), without importing
// OpenTelemetry.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// ScopeName is the instrumentation scope of the gateway's spans.
const ScopeName = "github.com/gatehouse/gatehouse"

// TraceIDHeader is the response header that carries the request's trace id, as in Tyk.
const TraceIDHeader = "X-Tyk-Trace-Id"

// Tracer starts the gateway's spans and exports them.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	// fields are the canonical names of the headers prop reads and writes, removed from what
	// the upstream gets before the gateway's context is written there.
	fields []string
	queue  *queue
}

// Option adds to what New is given.
type Option func(*[]attribute.KeyValue)

// WithNodeTags names a segmented gateway's tags (db_app_conf_options) in the resource, as
// Tyk's tyk.gw.tags; nothing for nil.
func WithNodeTags(tags []string) Option {
	return func(res *[]attribute.KeyValue) {
		if len(tags) > 0 {
			*res = append(*res, attribute.StringSlice("tyk.gw.tags", tags))
		}
	}
}

// New starts tracing as cfg says (cfg has been validated). version is the gateway's, for
// service.version and the exporter's User-Agent.
func New(cfg config.OpenTelemetryConfig, version string, log *slog.Logger, opts ...Option) (*Tracer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if version == "" {
		version = "dev"
	}
	res := []attribute.KeyValue{
		attribute.String("service.name", cfg.ResourceName),
		attribute.String("service.version", version),
	}
	if host, err := os.Hostname(); err == nil {
		res = append(res, attribute.String("host.name", host))
	}
	for _, o := range opts {
		o(&res)
	}
	timeout := time.Duration(cfg.ConnectionTimeout) * time.Second
	scope := instrumentation.Scope{Name: ScopeName, Version: version}
	exp := newExporter(cfg.TracesURL(), cfg.Headers, timeout, "gatehouse/"+version, res, scope)
	batch := cfg.SpanBatchConfig.MaxExportBatchSize
	if cfg.SpanProcessorType == "simple" {
		batch = 1
	}
	q := newQueue(exp, cfg.SpanBatchConfig.MaxQueueSize, batch, time.Duration(cfg.SpanBatchConfig.BatchTimeout)*time.Second, timeout, log)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler(cfg.Sampling)),
		sdktrace.WithSpanProcessor(q),
		sdktrace.WithResource(resource.Empty()),
	)
	var prop propagation.TextMapPropagator = propagation.TraceContext{}
	if cfg.ContextPropagation == "b3" {
		prop = b3{}
	}
	var fields []string
	for _, f := range prop.Fields() {
		fields = append(fields, http.CanonicalHeaderKey(f))
	}
	return &Tracer{
		fields:   fields,
		provider: tp,
		tracer:   tp.Tracer(scope.Name, trace.WithInstrumentationVersion(scope.Version)),
		prop:     prop,
		queue:    q,
	}, nil
}

func sampler(s config.SamplingConfig) sdktrace.Sampler {
	var root sdktrace.Sampler
	switch s.Type {
	case config.SamplerAlwaysOff:
		root = sdktrace.NeverSample()
	case config.SamplerRatioBased:
		root = sdktrace.TraceIDRatioBased(s.SamplingRate())
	default:
		root = sdktrace.AlwaysSample()
	}
	if s.ParentBased {
		return sdktrace.ParentBased(root)
	}
	return root
}

// Shutdown ends tracing: the spans queued are exported, within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error {
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports the spans queued now.
func (t *Tracer) ForceFlush(ctx context.Context) error {
	return t.provider.ForceFlush(ctx)
}

// Dropped is how many sampled spans were not exported: the queue was full, or the collector
// could not be reached or refused them.
func (t *Tracer) Dropped() uint64 { return t.queue.dropped.Load() }

// Exported is how many spans the collector took.
func (t *Tracer) Exported() uint64 { return t.queue.exported.Load() }

// API is the tracing of one API: the attributes every one of its server spans carries, worked
// out once per snapshot.
type API struct {
	t     *Tracer
	attrs []attribute.KeyValue
}

// API returns the handle of def's requests, served under listenPath.
func (t *Tracer) API(def *apidef.APIDefinition, listenPath string) *API {
	attrs := []attribute.KeyValue{
		attribute.String("tyk.api.id", def.APIID),
		attribute.String("tyk.api.name", def.Name),
		attribute.String("tyk.api.orgid", def.OrgID),
		attribute.String("tyk.api.path", listenPath),
	}
	if len(def.Tags) > 0 && !def.TagsDisabled { // as in Tyk: none with tags_disabled
		attrs = append(attrs, attribute.StringSlice("tyk.api.tags", def.Tags))
	}
	return &API{t: t, attrs: attrs}
}

// Start starts the server span of r, below the client's span when r carries trace context.
// path is the request's canonical path (never the query).
func (a *API) Start(r *http.Request, path string) *Span {
	ctx := a.t.prop.Extract(context.Background(), headerCarrier(r.Header))
	// The span is named, and its attributes set, only when it is sampled: a request the
	// sampler leaves out costs neither (the samplers gatehouse configures read neither).
	ctx, sp := a.t.tracer.Start(ctx, "", serverKind)
	if !sp.IsRecording() {
		return &Span{t: a.t, sp: sp, ctx: ctx}
	}
	sp.SetName(r.Method + " " + path)
	attrs := getScratch()
	*attrs = append(*attrs, a.attrs...)
	*attrs = append(*attrs,
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", path),
		attribute.String("url.scheme", scheme(r)),
		attribute.String("server.address", r.Host),
		attribute.String("network.protocol.version", protocolVersion(r)),
	)
	if ua := r.UserAgent(); ua != "" {
		*attrs = append(*attrs, attribute.String("user_agent.original", ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		*attrs = append(*attrs, attribute.String("client.address", host))
	}
	sp.SetAttributes(*attrs...)
	putScratch(attrs)
	return &Span{t: a.t, sp: sp, ctx: ctx}
}

// scratch holds the slices the attributes of a span are gathered in before they are set: the
// SDK copies what SetAttributes is given and keeps none of the caller's slice
// (TestSpansKeepTheirAttributes checks that a reused slice leaves no mark on an earlier span).
var scratch = sync.Pool{New: func() any {
	s := make([]attribute.KeyValue, 0, 16)
	return &s
}}

func getScratch() *[]attribute.KeyValue { return scratch.Get().(*[]attribute.KeyValue) }

func putScratch(s *[]attribute.KeyValue) {
	if cap(*s) > 64 { // an API with many tags: not kept
		return
	}
	clear(*s) // no request's strings held by the pool
	*s = (*s)[:0]
	scratch.Put(s)
}

// The kinds of span as start options, made once: an option built per span is an allocation.
var (
	serverKind   = trace.WithSpanKind(trace.SpanKindServer)
	clientKind   = trace.WithSpanKind(trace.SpanKindClient)
	internalKind = trace.WithSpanKind(trace.SpanKindInternal)
)

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return "1.1"
}

// Span is one of the gateway's spans. It is the reqctx.Span plugins reach through the sdk.
type Span struct {
	t  *Tracer
	sp trace.Span
	// ctx is the context the SDK returned with sp, which its children start from.
	ctx    context.Context
	parent *Span
	// method is the upstream span's request method, an attribute set when it ends.
	method string
}

// Parent is the span s was started below by the gateway (Hook, Upstream, StartChild); nil for
// a server span.
func (s *Span) Parent() reqctx.Span {
	if s.parent == nil {
		return nil
	}
	return s.parent
}

var _ reqctx.Span = (*Span)(nil)

// SetAttributes sets attributes of the span.
func (s *Span) SetAttributes(attrs ...slog.Attr) {
	if len(attrs) == 0 || !s.sp.IsRecording() {
		return
	}
	s.sp.SetAttributes(convert(attrs)...)
}

// AddEvent records a named event.
func (s *Span) AddEvent(name string, attrs ...slog.Attr) {
	if !s.sp.IsRecording() {
		return
	}
	s.sp.AddEvent(name, trace.WithAttributes(convert(attrs)...))
}

// RecordError records err and marks the span failed with its text.
func (s *Span) RecordError(err error) {
	if err == nil || !s.sp.IsRecording() {
		return
	}
	s.sp.RecordError(err)
	s.sp.SetStatus(codes.Error, err.Error())
}

// End ends the span.
func (s *Span) End() { s.sp.End() }

// StartChild starts an internal span below s.
func (s *Span) StartChild(name string, attrs ...slog.Attr) reqctx.Span {
	child, _ := s.child(name, internalKind, convert(attrs))
	return child
}

// child starts a span below s, and returns it with the context that carries it. The attributes
// are set after the start rather than passed as a start option, which the SDK would copy once
// more (the samplers gatehouse configures do not read them).
func (s *Span) child(name string, kind trace.SpanStartOption, attrs []attribute.KeyValue) (*Span, context.Context) {
	ctx, sp := s.t.tracer.Start(s.ctx, name, kind)
	sp.SetAttributes(attrs...)
	return &Span{t: s.t, sp: sp, ctx: ctx, parent: s}, ctx
}

// TraceID is the span's trace id in hex, "" when it has none.
func (s *Span) TraceID() string {
	if sc := s.sp.SpanContext(); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// SpanID is the span's id in hex, "" when it has none.
func (s *Span) SpanID() string {
	if sc := s.sp.SpanContext(); sc.IsValid() {
		return sc.SpanID().String()
	}
	return ""
}

// Hook starts the span of a plugin hook, named after the plugin's function.
func (s *Span) Hook(phase, symbol string) *Span {
	attrs := getScratch()
	*attrs = append(*attrs, attribute.String("gatehouse.plugin.hook", phase), attribute.String("gatehouse.plugin.function", symbol))
	child, _ := s.child(symbol, internalKind, *attrs)
	putScratch(attrs)
	return child
}

// EndHook ends a hook's span: code is the status the hook wrote (0: none), panicked whether
// it panicked.
func (s *Span) EndHook(code int, panicked error) {
	if s.sp.IsRecording() {
		if code != 0 {
			s.sp.SetAttributes(attribute.Int("http.response.status_code", code))
		}
		switch {
		case panicked != nil:
			s.sp.SetStatus(codes.Error, panicked.Error())
		case code >= 400:
			s.sp.SetStatus(codes.Error, fmt.Sprintf("the plugin answered %d", code))
		}
	}
	s.sp.End()
}

// Upstream starts the client span of the call to the upstream and writes its context into
// out (the headers the upstream gets), so the upstream's spans are its children. method is
// the method sent.
func (s *Span) Upstream(method string, out http.Header) *Span {
	// Its attributes are all set when it ends, in one call (EndUpstream).
	u, ctx := s.child(upstreamSpanName(method), clientKind, nil)
	u.method = method
	// The client's context (its single b3 header, its X-B3-Flags, a tracestate with no
	// traceparent continued) must not reach the upstream beside the gateway's: Inject writes
	// only the headers it has values for.
	for _, f := range s.t.fields {
		delete(out, f)
	}
	s.t.prop.Inject(ctx, headerCarrier(out))
	return u
}

// upstreamSpanName is "HTTP " and the method, without a concatenation for the usual methods.
func upstreamSpanName(method string) string {
	switch method {
	case http.MethodGet:
		return "HTTP GET"
	case http.MethodPost:
		return "HTTP POST"
	case http.MethodPut:
		return "HTTP PUT"
	case http.MethodPatch:
		return "HTTP PATCH"
	case http.MethodDelete:
		return "HTTP DELETE"
	case http.MethodHead:
		return "HTTP HEAD"
	case http.MethodOptions:
		return "HTTP OPTIONS"
	}
	return "HTTP " + method
}

// headerCarrier is the carrier the context propagators read the client's headers from and
// write the upstream's into: propagation.HeaderCarrier, but the W3C and B3 header names are
// looked up in their canonical form directly, without canonicalising the propagators' names
// (W3C's lower case, B3's mixed) on every request.
type headerCarrier http.Header

func (h headerCarrier) Get(key string) string {
	if name, ok := canonicalTrace[key]; ok {
		if v := h[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return http.Header(h).Get(key)
}

func (h headerCarrier) Set(key, value string) {
	if name, ok := canonicalTrace[key]; ok {
		h[name] = []string{value}
		return
	}
	http.Header(h).Set(key, value)
}

func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// canonicalTrace maps each header name the propagators read and write (W3C's and B3's) to its
// canonical form.
var canonicalTrace = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"traceparent", "tracestate", b3Single, b3TraceID, b3SpanID, b3Sampled, b3Flags, b3Parent} {
		m[k] = http.CanonicalHeaderKey(k)
	}
	return m
}()

// EndUpstream ends the upstream span: target is the URL the request went to (nil when it was
// not sent), code the status the client got from it (0: none).
func (s *Span) EndUpstream(target *url.URL, code int) {
	if s.sp.IsRecording() {
		attrs := getScratch()
		*attrs = append(*attrs, attribute.String("http.request.method", s.method))
		if target != nil {
			// Never the query: it may carry a key.
			full := url.URL{Scheme: target.Scheme, Host: target.Host, Path: target.Path}
			*attrs = append(*attrs, attribute.String("url.full", full.String()), attribute.String("server.address", target.Hostname()))
		}
		if code != 0 {
			*attrs = append(*attrs, attribute.Int("http.response.status_code", code))
		}
		s.sp.SetAttributes(*attrs...)
		putScratch(attrs)
		if code == 0 || code >= 500 {
			s.sp.SetStatus(codes.Error, upstreamFailure(code))
		}
	}
	s.sp.End()
}

func upstreamFailure(code int) string {
	if code == 0 {
		return "no response was written"
	}
	return fmt.Sprintf("the upstream answered %d", code)
}

// EndRequest ends the server span with the status written (0: none).
func (s *Span) EndRequest(code int) {
	if s.sp.IsRecording() {
		if code != 0 {
			s.sp.SetAttributes(attribute.Int("http.response.status_code", code))
		}
		if code >= 500 {
			s.sp.SetStatus(codes.Error, fmt.Sprintf("answered %d", code))
		}
	}
	s.sp.End()
}

// Failed marks the server span failed with the error a step of the chain failed with, as Tyk
// marks a middleware's error.
func (s *Span) Failed(err error) {
	if s.sp.IsRecording() {
		s.sp.SetStatus(codes.Error, err.Error())
	}
}
