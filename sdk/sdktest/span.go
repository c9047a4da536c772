package sdktest

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Span records what a plugin does to its span through sdk.SpanFromContext and sdk.StartSpan,
// as the gateway's tracing would receive it: attributes, events, errors, and the spans started
// below it. Give one to a request with WithSpan.
//
//	span := &sdktest.Span{Name: "Enrich"}
//	sdktest.Run(Enrich, sdktest.NewRequest("GET", "/api/x", nil, sdktest.WithSpan(span)))
//	if span.Attr("tenant").String() != "t1" || span.Child("lookup-tenant") == nil { ... }
type Span struct {
	Name string

	mu       sync.Mutex
	attrs    []slog.Attr
	events   []string
	errs     []error
	ended    bool
	children []*Span
	id       uint64
}

// WithSpan makes s the span of the hook the request is in, as the gateway does when it traces.
func WithSpan(s *Span) Option {
	return func(st *reqctx.State) { st.Span = s }
}

// Attr returns the last value set for key, and the zero Value when none was.
func (s *Span) Attr(key string) slog.Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.attrs) - 1; i >= 0; i-- {
		if s.attrs[i].Key == key {
			return s.attrs[i].Value
		}
	}
	return slog.Value{}
}

// Attrs returns the attributes set, in order.
func (s *Span) Attrs() []slog.Attr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slog.Attr(nil), s.attrs...)
}

// Events returns the names of the events added, in order.
func (s *Span) Events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// Errors returns the errors recorded.
func (s *Span) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Ended reports whether the span was ended. A hook's own span is ended by the gateway, not the
// plugin; the spans a plugin starts must be ended by it.
func (s *Span) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// Children returns the spans started below s, in order.
func (s *Span) Children() []*Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Span(nil), s.children...)
}

// Child returns the first span named name started below s, or nil.
func (s *Span) Child(name string) *Span {
	for _, c := range s.Children() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SetAttributes implements sdk.Span.
func (s *Span) SetAttributes(attrs ...slog.Attr) {
	s.mu.Lock()
	s.attrs = append(s.attrs, attrs...)
	s.mu.Unlock()
}

// AddEvent implements sdk.Span.
func (s *Span) AddEvent(name string, attrs ...slog.Attr) {
	s.mu.Lock()
	s.events = append(s.events, name)
	s.mu.Unlock()
}

// RecordError implements sdk.Span.
func (s *Span) RecordError(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// End implements sdk.Span.
func (s *Span) End() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
}

// TraceID implements sdk.Span: a fixed id, as a test has no trace.
func (s *Span) TraceID() string { return "0af7651916cd43dd8448eb211c80319c" }

// SpanID implements sdk.Span: an id distinct per span.
func (s *Span) SpanID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == 0 {
		s.id = spanIDs.Add(1)
	}
	return fmt.Sprintf("%016x", s.id)
}

var spanIDs atomic.Uint64

// StartChild is what sdk.StartSpan calls: it records a span below s.
func (s *Span) StartChild(name string, attrs ...slog.Attr) reqctx.Span {
	c := &Span{Name: name, attrs: attrs}
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
	return c
}
