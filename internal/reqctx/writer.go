package reqctx

import "net/http"

// Writer is the ResponseWriter a plugin hook is handed. It records whether the hook answered
// the request, and with what status. The gateway and sdktest both wrap hooks in it, so that a
// plugin's unit test reports exactly what the gateway would do.
type Writer struct {
	http.ResponseWriter
	// Status is 0 until the hook answers: a WriteHeader of 200 or more sets it, and a Write or
	// Flush before any sets it to 200, as net/http does. Informational (1xx) statuses leave it.
	Status int
}

// WriteHeader records the first final status and passes the call on.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implied 200 and passes the bytes on.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far (a hook streaming its answer); it implies 200 too.
func (w *Writer) Flush() {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines, hijacking).
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
