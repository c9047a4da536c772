package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// exporter POSTs spans to an OTLP/HTTP collector as protobuf. It is Gatehouse's own rather
// than otlptracehttp, which links gRPC (through the collector service package) and would make
// every plugin match gRPC's version: the request it sends is the same
// ExportTraceServiceRequest, encoded by encode.go. It is used by the queue's goroutine alone.
type exporter struct {
	url      string
	headers  map[string]string
	agent    string
	client   *http.Client
	resource []attribute.KeyValue
	// sizeHint is the size of the last request, to allocate the next one's buffer once.
	sizeHint int
}

func newExporter(url string, headers map[string]string, timeout time.Duration, agent string, resource []attribute.KeyValue) *exporter {
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
			// target. The 3xx is an export failure like any other answer but 2xx.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		resource: resource,
	}
}

// maxResponseHeaderBytes bounds the status line and header fields of a collector's answer.
const maxResponseHeaderBytes = 64 << 10

// maxErrorBody is as much of a collector's error answer as is quoted in the error.
const maxErrorBody = 256

// export sends one batch. It returns an error when the collector could not be reached or did
// not take the spans (any status but 2xx: a 2xx with a partial_success is taken as sent).
func (e *exporter) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	// A fresh buffer each time: the transport may still read a request's body after Do
	// returns (a collector that answered early).
	body := encodeRequest(make([]byte, 0, e.sizeHint+e.sizeHint/4), e.resource, spans)
	e.sizeHint = len(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
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
