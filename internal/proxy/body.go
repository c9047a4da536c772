package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// ErrBodyTooLarge is what reading a limited body returns past its limit.
var ErrBodyTooLarge = errors.New("request body too large")

// LimitedBody is a request body cut at a limit while streaming: reads past the limit fail with
// ErrBodyTooLarge, which the transport hands back, so the proxy answers 413 rather than 502.
// It also remembers a body the client got wrong (malformed chunked framing, a connection
// closed mid-body), so that the proxy answers 400 and blames the client, not the upstream.
//
// Once the body has ended, it stays ended: later reads give io.EOF without touching the
// server's body. The transport reads a body with a Content-Length once more after the declared
// bytes, to check there are no more, and by then Go's HTTP/1 server may have closed its body:
// it does when the proxy writes the response headers (golang/go#40747). That read would fail,
// and the transport would drop the upstream connection with the response still streaming from
// it, cutting the client's response short.
type LimitedBody struct {
	rc        io.ReadCloser
	left      int64
	exceeded  bool
	ended     bool // the body gave io.EOF
	clientErr error
}

// LimitBody returns r's body limited to limit bytes.
func LimitBody(r *http.Request, limit int64) *LimitedBody {
	return &LimitedBody{rc: r.Body, left: limit}
}

// WatchBody returns r's body without a limit, remembering a client error (see ClientError).
func WatchBody(r *http.Request) *LimitedBody {
	return &LimitedBody{rc: r.Body, left: math.MaxInt64 - 1}
}

// Read reads from the body, failing once more than the limit was read.
func (b *LimitedBody) Read(p []byte) (int, error) {
	if b.exceeded {
		return 0, ErrBodyTooLarge
	}
	if b.ended {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.exceeded = true
		return int(b.left), ErrBodyTooLarge
	}
	b.left -= int64(n)
	switch {
	case err == io.EOF:
		b.ended = true
	case err != nil:
		b.clientErr = err
	}
	return n, err
}

// ClientError returns the error reading the client's body gave, other than its end and the
// limit: the client sent a malformed body or went away while sending it.
func (b *LimitedBody) ClientError() error { return b.clientErr }

// Close closes the body.
func (b *LimitedBody) Close() error { return b.rc.Close() }

// LimitExceeded reports whether a read went past the limit.
func (b *LimitedBody) LimitExceeded() bool { return b.exceeded }

// ReadBody reads up to max bytes of r's body for a step that needs them (a transform, a rewrite
// trigger on the payload) and puts the body back whole for the steps after it and the upstream:
// the bytes read, then whatever the client has not sent yet. full reports whether data is the
// whole body. A body over the request's limit (the request_size step's LimitedBody, watched)
// gives ErrBodyTooLarge, one the client cut short its own error; nothing is lost either way.
func ReadBody(r *http.Request, max int64) (data []byte, full bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	orig := r.Body
	data, err = io.ReadAll(io.LimitReader(orig, max+1))
	if err != nil {
		return nil, false, err
	}
	full = int64(len(data)) <= max
	if full {
		r.Body = readCloser{bytes.NewReader(data), orig}
		return data, true, nil
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(data), orig), orig}
	return data[:max], false, nil
}

// ReadBodyError is what a step answers when ReadBody fails: 413 for a body over the request's
// limit (the request_size step's LimitedBody, in c.Body), else 400, the client having sent a
// broken body. What was read is gone, so the request cannot go on.
func ReadBodyError(c *chain.Context, err error) error {
	if b, ok := c.Body.(*LimitedBody); ok && b.LimitExceeded() || errors.Is(err, ErrBodyTooLarge) {
		return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, err)
	}
	return chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("reading the request body: %w", err))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// StatusHasBody reports whether a response with status code may carry a body: not a 1xx, 204
// or 304 (RFC 9110 6.4.1). A response step that sets a body on one of those would make the
// proxy abort the connection when it copies it.
func StatusHasBody(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}
