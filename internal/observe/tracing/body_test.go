package tracing

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
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

type blockingWriter struct {
	entered, release chan struct{}
	buf              bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	close(w.entered)
	<-w.release
	return w.buf.Write(p)
}
