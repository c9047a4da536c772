package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/trace"
)

// exporter POSTs spans to an OTLP/HTTP collector as protobuf. It is Gatehouse's own rather
// than otlptracehttp, which links gRPC (through the collector service package) and would make
// every plugin match gRPC's version: the request it sends is the same
// ExportTraceServiceRequest, encoded by encode.go. It is used by the queue's goroutine alone.
type exporter struct {
	url     string
	headers map[string]string
	agent   string
	client  *http.Client
	// resource and scope are the request's fields around the spans, encoded once.
	resource, scope []byte
	// buf is the last request's body, encoded again into when the transport is done with it.
	buf *sharedBody
}

func newExporter(url string, headers map[string]string, timeout time.Duration, agent string, resource []attribute.KeyValue, scope instrumentation.Scope) *exporter {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// A collector's answer is a status and a small body: 64 KiB of header is plenty, where
		// Go's default would buffer up to 10 MiB from a broken or hostile one per export.
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
	return &exporter{
		url:     url,
		headers: headers,
		agent:   agent,
		client: &http.Client{Transport: tr, Timeout: timeout,
			// A redirect is not followed: the custom headers (API keys) would be sent to its
			// target. The 3xx is an export failure like any other answer but 2xx. The client
			// has already made the redirect's body (GetBody), which nothing else closes.
			CheckRedirect: func(r *http.Request, _ []*http.Request) error {
				if r.Body != nil {
					r.Body.Close()
				}
				return http.ErrUseLastResponse
			}},
		resource: encodeResource(resource),
		scope:    encodeScope(scope),
	}
}

// maxResponseHeaderBytes bounds the status line and header fields of a collector's answer.
const maxResponseHeaderBytes = 64 << 10

// maxErrorBody is as much of a collector's error answer as is quoted in the error.
const maxErrorBody = 256

// export sends one batch, spans encoded by appendSpan. It returns an error when the collector
// could not be reached or did not take the spans (any status but 2xx: a 2xx with a
// partial_success is taken as sent).
func (e *exporter) export(ctx context.Context, spans []byte) error {
	body := e.body()
	body.data = encodeRequest(body.data[:0], e.resource, e.scope, spans)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, nil)
	if err != nil {
		return err
	}
	req.Body = body.reader()
	req.ContentLength = int64(len(body.data))
	req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", e.agent)
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	return fmt.Errorf("collector answered %s: %q", res.Status, msg)
}

func (e *exporter) close() { e.client.CloseIdleConnections() }

// body returns the buffer to encode the next request into: the last one's when the transport
// has closed every reader it was given over it, a new one when it still may read it (it can,
// after Do returns, when the collector answered before reading the whole body) or has not
// closed one (an HTTP/2 retry given up while waiting): of the last one's size, or growing from
// nothing when that one had grown past maxKeptBuffer (a plugin's span with a huge attribute).
func (e *exporter) body() *sharedBody {
	if e.buf == nil || !e.buf.free() || cap(e.buf.data) > maxKeptBuffer {
		size := 0
		if e.buf != nil && cap(e.buf.data) <= maxKeptBuffer {
			size = cap(e.buf.data)
		}
		e.buf = &sharedBody{data: make([]byte, 0, size)}
	}
	return e.buf
}

// sharedBody is a request body the exporter encodes into again once the transport is done
// with it. Each reader the transport gets over it (the first, and one for each retry through
// GetBody) holds it until the reader is closed and no read from it is under way: the
// transport may close a body from another goroutine than the one reading it, and Close must
// not wait. (The transport reads a body through a LimitReader, so a WriteTo would not be
// used: it copies through a buffer of its own either way.)
type sharedBody struct {
	data []byte
	open atomic.Int32
}

func (b *sharedBody) free() bool { return b.open.Load() == 0 }

func (b *sharedBody) reader() io.ReadCloser {
	b.open.Add(1)
	return &bodyReader{body: b}
}

type bodyReader struct {
	body *sharedBody
	off  int // touched by the one goroutine reading, between begin and end

	mu       sync.Mutex
	busy     int // reads under way
	closed   bool
	released bool
}

// begin starts a read from the data; false when the reader is closed.
func (r *bodyReader) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.busy++
	return true
}

func (r *bodyReader) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy--
	r.release()
}

// release gives the data back when the reader is closed and idle; r.mu is held.
func (r *bodyReader) release() {
	if r.closed && r.busy == 0 && !r.released {
		r.released = true
		r.body.open.Add(-1)
	}
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if !r.begin() {
		return 0, errBodyClosed
	}
	defer r.end()
	if r.off >= len(r.body.data) {
		return 0, io.EOF
	}
	n := copy(p, r.body.data[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.release()
	return nil
}

var errBodyClosed = errors.New("tracing: export body read after close")

// flags are the span's W3C trace flags, with OTLP's bits saying whether its parent is remote.
func flags(sc trace.SpanContext, parent trace.SpanContext) uint32 {
	const hasIsRemote, isRemote = 0x100, 0x200
	f := uint32(sc.TraceFlags()) | hasIsRemote
	if parent.IsRemote() {
		f |= isRemote
	}
	return f
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

// valid returns s with invalid UTF-8 (a client's raw bytes in a path or header) replaced, as
// protobuf strings must be UTF-8.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
