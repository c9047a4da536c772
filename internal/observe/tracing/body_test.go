package tracing

import (
	"bytes"
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

	// A write under way when the reader is closed.
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	second.data = append(second.data[:0], "second request"...)
	r = second.reader()
	done := make(chan error, 1)
	go func() { _, err := r.(io.WriterTo).WriteTo(w); done <- err }()
	<-w.entered
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the write")
	}
	if e.body() == second {
		t.Fatal("the buffer was reused while a write from it was under way")
	}
	third := e.buf
	close(w.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.buf.String() != "second request" {
		t.Errorf("wrote %q", w.buf.String())
	}
	if !second.free() {
		t.Error("the buffer is still held after the write returned")
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
	if next := e.body(); next == big || cap(next.data) > maxKeptBuffer {
		t.Errorf("a body of %d bytes was kept (next: %d bytes)", cap(big.data), cap(next.data))
	}
}

type blockingWriter struct {
	entered, release chan struct{}
	buf              bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	close(w.entered)
	<-w.release
	return w.buf.Write(p)
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
	q := newQueue(exp, scope, 16, 4, time.Hour, 5*time.Second, slog.New(slog.DiscardHandler))
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
	q.mu.Lock()
	kept := cap(q.pending.data) + cap(q.spare.data)
	q.mu.Unlock()
	if kept > maxKeptBuffer || cap(exp.body().data) > maxKeptBuffer {
		t.Errorf("after the export the queue keeps %d bytes of buffers and the exporter %d", kept, cap(exp.body().data))
	}
}
