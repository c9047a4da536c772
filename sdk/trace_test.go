package sdk_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/sdk"
)

// fakeSpan records what is done to it.
type fakeSpan struct {
	name     string
	attrs    []slog.Attr
	ended    bool
	children []*fakeSpan
}

func (s *fakeSpan) SetAttributes(a ...slog.Attr)  { s.attrs = append(s.attrs, a...) }
func (s *fakeSpan) AddEvent(string, ...slog.Attr) {}
func (s *fakeSpan) RecordError(error)             {}
func (s *fakeSpan) End()                          { s.ended = true }
func (s *fakeSpan) TraceID() string               { return "trace-" + s.name }
func (s *fakeSpan) SpanID() string                { return "span-" + s.name }
func (s *fakeSpan) StartChild(name string, a ...slog.Attr) reqctx.Span {
	c := &fakeSpan{name: name, attrs: a}
	s.children = append(s.children, c)
	return c
}

// TestSpansWithoutTracing: with no span in the request, the sdk's spans do nothing and never
// panic.
func TestSpansWithoutTracing(t *testing.T) {
	for name, ctx := range map[string]context.Context{
		"no state":   context.Background(),
		"no tracing": withState(&reqctx.State{}).Context(),
	} {
		t.Run(name, func(t *testing.T) {
			s := sdk.SpanFromContext(ctx)
			s.SetAttributes(slog.String("a", "b"))
			s.AddEvent("e")
			s.RecordError(errors.New("x"))
			s.End()
			if s.TraceID() != "" || s.SpanID() != "" {
				t.Errorf("ids %q %q, want none", s.TraceID(), s.SpanID())
			}
			got, child := sdk.StartSpan(ctx, "child")
			if got != ctx || child.TraceID() != "" {
				t.Error("StartSpan without tracing changed the context or gave a real span")
			}
		})
	}
}

// TestSpansWithTracing: the current span is the hook's (the State's); StartSpan starts a child
// below the current span and makes it current in the context it returns.
func TestSpansWithTracing(t *testing.T) {
	hook := &fakeSpan{name: "hook"}
	ctx := withState(&reqctx.State{Span: hook}).Context()
	sdk.SpanFromContext(ctx).SetAttributes(slog.Int("n", 1))
	if len(hook.attrs) != 1 || hook.attrs[0].Key != "n" {
		t.Errorf("the hook span's attributes: %v", hook.attrs)
	}
	ctx2, child := sdk.StartSpan(ctx, "lookup", slog.Bool("cached", true))
	_, grand := sdk.StartSpan(ctx2, "query")
	grand.End()
	child.End()
	if len(hook.children) != 1 || hook.children[0].name != "lookup" || !hook.children[0].ended {
		t.Fatalf("children of the hook span: %+v", hook.children)
	}
	if g := hook.children[0].children; len(g) != 1 || g[0].name != "query" || !g[0].ended {
		t.Errorf("children of the plugin's span: %+v", g)
	}
	if sdk.SpanFromContext(ctx2).SpanID() != "span-lookup" || sdk.SpanFromContext(ctx).SpanID() != "span-hook" {
		t.Error("the current span of the contexts is wrong")
	}
}
