package tracing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestExportBodyReuse: the exporter encodes into the last request's buffer only when every
// reader the transport got over it is closed and idle; a reader closed while a write from it
// is under way (the transport closing the body from another goroutine) keeps the buffer until
// the write returns, and Close does not wait for it.
func TestExportBodyReuse(t *testing.T) {
	e := &exporter{}
	first := e.body()
	first.data = append(first.data[:0], "first request"...)
	r := first.reader()
	retry := first.reader() // a retry through GetBody
	if got, err := io.ReadAll(r); err != nil || string(got) != "first request" {
		t.Fatalf("read %q, %v", got, err)
	}
	r.Close()
	if e.body() == first {
		t.Fatal("the buffer was reused while a retry's reader was open")
	}
	second := e.buf
	retry.Close()
	if e.body() != second {
		t.Fatal("a buffer nobody holds was not reused")
	}

	// A read under way when the reader is closed (from another goroutine, as the HTTP/2
	// transport does): Close does not wait, and the buffer is held until the read ends.
	second.data = append(second.data[:0], "second request"...)
	r = second.reader()
	br := r.(*bodyReader)
	if !br.begin() {
		t.Fatal("a new reader refused a read")
	}
	r.Close()
	if e.body() == second {
		t.Fatal("the buffer was reused while a read from it was under way")
	}
	third := e.buf
	br.end()
	if !second.free() {
		t.Error("the buffer is still held after the read ended")
	}
	if _, err := r.Read(make([]byte, 4)); !errors.Is(err, errBodyClosed) {
		t.Errorf("a read after Close: %v, want errBodyClosed", err)
	}
	if e.body() != third {
		t.Error("the newest buffer was not reused")
	}
}

// TestExportBodyBounded: a request body that grew past maxKeptBuffer (a span with a huge
// attribute) is not kept for the next export.
func TestExportBodyBounded(t *testing.T) {
	e := &exporter{}
	big := e.body()
	big.data = make([]byte, 0, maxKeptBuffer+1)
	if next := e.body(); next == big || cap(next.data) != 0 {
		t.Errorf("a body of %d bytes was kept (next: %d bytes)", cap(big.data), cap(next.data))
	}
}

// TestHugeSpanNotKept: a span with an attribute of several megabytes (a plugin's) is exported,
// and neither the queue's buffers nor the request body keep its size afterwards.
func TestHugeSpanNotKept(t *testing.T) {
	var got atomic.Int64
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Add(n)
	}))
	defer col.Close()
	scope := instrumentation.Scope{Name: ScopeName, Version: "test"}
	exp := newExporter(col.URL, nil, 5*time.Second, "test", nil, scope)
	q := newQueue(exp, 16, 4, time.Hour, 5*time.Second, slog.New(slog.DiscardHandler))
	defer q.Shutdown(context.Background())
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(q))
	_, s := tp.Tracer(scope.Name, trace.WithInstrumentationVersion(scope.Version)).Start(context.Background(), "huge")
	s.SetAttributes(attribute.String("blob", strings.Repeat("x", 2*maxKeptBuffer)))
	s.End()
	if err := q.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q.exported.Load() != 1 || got.Load() < 2*maxKeptBuffer {
		t.Fatalf("exported %d spans, the collector read %d bytes", q.exported.Load(), got.Load())
	}
	// A span of the usual size after it.
	_, s = tp.Tracer(scope.Name, trace.WithInstrumentationVersion(scope.Version)).Start(context.Background(), "small")
	s.End()
	if err := q.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	kept := cap(q.pending.data) + cap(q.spare.data)
	q.mu.Unlock()
	if exported := q.exported.Load(); exported != 2 {
		t.Fatalf("exported %d spans, want 2", exported)
	}
	if kept > 64<<10 || cap(exp.buf.data) > 64<<10 {
		t.Errorf("after the huge span and a small one, the queue keeps %d bytes of buffers and the exporter %d", kept, cap(exp.buf.data))
	}
}

// TestRedirectReleasesBody: a collector answering 307 (not followed) leaves no reader of the
// request's buffer open, so the next export reuses it.
func TestRedirectReleasesBody(t *testing.T) {
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer col.Close()
	e := newExporter(col.URL, nil, 5*time.Second, "test", nil, instrumentation.Scope{Name: "t"})
	defer e.close()
	if err := e.export(context.Background(), []byte{}); err == nil {
		t.Fatal("a 307 was taken as an export")
	}
	if !e.buf.free() {
		t.Error("a reader of the request's buffer is still open after the redirect")
	}
}

// TestTakeKeepsTheRest: take hands over the full batches and leaves the spans after them
// waiting, whole, in the spare buffers, also when those held an earlier batch.
func TestTakeKeepsTheRest(t *testing.T) {
	q := &queue{batch: 3, size: 100, full: make(chan struct{}, 1)}
	add := func(names ...string) {
		for _, n := range names {
			q.pending.data = append(q.pending.data, n...)
			q.pending.ends = append(q.pending.ends, len(q.pending.data))
		}
	}
	add("a", "bb", "ccc", "dddd", "e")
	out := q.take(false)
	if got := string(out.spans(0, out.count())); out.count() != 3 || got != "abbccc" {
		t.Fatalf("took %d spans %q, want the batch abbccc", out.count(), got)
	}
	if got := string(q.pending.spans(0, q.pending.count())); q.pending.count() != 2 || got != "dddde" || string(q.pending.spans(1, 2)) != "e" {
		t.Fatalf("left %d spans %q, want dddd and e", q.pending.count(), got)
	}
	// The batch's buffers become the spare (as send leaves them), then take the rest of the
	// next take.
	out.reset()
	q.spare = out
	add("ff", "g", "hhh")
	out = q.take(false)
	if got := string(out.spans(0, out.count())); out.count() != 3 || got != "ddddeff" {
		t.Fatalf("took %d spans %q, want ddddeff", out.count(), got)
	}
	if got := string(q.pending.spans(0, q.pending.count())); q.pending.count() != 2 || got != "ghhh" || string(q.pending.spans(0, 1)) != "g" {
		t.Fatalf("left %d spans %q, want g and hhh", q.pending.count(), got)
	}
	if q.taken != 6 {
		t.Errorf("taken = %d, want 6", q.taken)
	}
	if all := q.take(true); all.count() != 2 || q.pending.count() != 0 {
		t.Errorf("take(true) took %d and left %d", all.count(), q.pending.count())
	}
}
