package reqctx

import (
	"errors"
	"net/http"
	"sync"
)

// ErrRequestEnded is what a plugin's writes to a Writer return once the request it was handed
// for has been answered: the connection's buffers then serve other requests.
var ErrRequestEnded = errors.New("the request this writer answered has ended: a plugin cannot write to it after the gateway answered")

// Writer is the ResponseWriter a plugin hook is handed. It records whether the hook answered
// the request, and with what status. The gateway and sdktest both wrap hooks in it, so that a
// plugin's unit test reports exactly what the gateway would do. Once the gateway has answered
// (End), writes, flushes and Unwrap reach nothing: a plugin that kept the writer (in a goroutine
// of its own) would otherwise write into whatever response net/http serves next with the
// buffers it hands on, another client's.
type Writer struct {
	http.ResponseWriter
	// Status is 0 until the hook answers: a WriteHeader of 200 or more sets it, and a Write or
	// Flush before any sets it to 200, as net/http does. Informational (1xx) statuses leave it.
	Status int

	mu    sync.Mutex
	ended bool
}

// End makes the writer refuse every write from now on; it returns once a write under way has
// ended. The gateway calls it before its handler returns.
func (w *Writer) End() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}

// WriteHeader records the first final status and passes the call on.
func (w *Writer) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implied 200 and passes the bytes on.
func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return 0, ErrRequestEnded
	}
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far (a hook streaming its answer); it implies 200 too.
func (w *Writer) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush, with the error http.ResponseController reports.
func (w *Writer) FlushError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return ErrRequestEnded
	}
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines, hijacking); nil
// once the request has ended.
func (w *Writer) Unwrap() http.ResponseWriter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return nil
	}
	return w.ResponseWriter
}
