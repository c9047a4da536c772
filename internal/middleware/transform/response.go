package transform

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// ResponseError is a response the transform could not make: the client gets Status and Message
// (Tyk's body), the cause is logged.
type ResponseError struct {
	Status  int
	Message string
	Cause   error
}

func (e *ResponseError) Error() string { return e.Message + ": " + e.Cause.Error() }

func (e *ResponseError) Unwrap() error { return e.Cause }

// Response transforms an upstream response (Tyk's ResponseTransformMiddleware, before the
// response header transforms and the response plugins) when its request matches an entry. req
// is the client's request as forwarded, c its gateway context; the entry is matched with the
// client's method, not the one a method transform forwarded (c.ResponseMethod). A gzip or
// deflate body is decoded first and the result sent uncompressed; another encoding, a body over
// MaxBody, a body that does not decode or a template that fails gives a *ResponseError, and the
// upstream's body is not sent.
func (t *Transforms) Response(res *http.Response, req *http.Request, c *chain.Context) error {
	en, ok := t.response.Lookup(c.Version, c.ResponseMethod(req), c.Readings)
	if !ok || !bodyAllowed(req.Method, res.StatusCode) {
		return nil
	}
	fail := func(status int, msg string, cause error) error {
		return &ResponseError{Status: status, Message: msg, Cause: cause}
	}
	var rd io.Reader = res.Body
	enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			return fail(http.StatusInternalServerError, MsgResponseFailed, fmt.Errorf("the upstream's gzip body: %w", err))
		}
		rd = zr
	case "deflate":
		rd = flate.NewReader(res.Body)
	default:
		return fail(http.StatusInternalServerError, MsgResponseFailed, fmt.Errorf("the upstream's Content-Encoding %q cannot be decoded for the transform", enc))
	}
	body, err := io.ReadAll(io.LimitReader(rd, MaxBody+1))
	res.Body.Close()
	if err != nil {
		return fail(http.StatusBadGateway, chain.MsgUpstreamError, fmt.Errorf("reading the upstream's body: %w", err))
	}
	if len(body) > MaxBody {
		return fail(http.StatusInternalServerError, MsgResponseTooLong, fmt.Errorf("the upstream's body is over %d bytes", MaxBody))
	}
	data, err := decode(body, en.xml)
	if err != nil {
		return fail(http.StatusInternalServerError, MsgResponseFailed, fmt.Errorf("the upstream's body does not decode: %w", err))
	}
	out, err := t.execute(en, data, req, c)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, errOutputTooLarge) {
			return fail(status, MsgResponseTooLong, err)
		}
		return fail(status, MsgResponseFailed, err)
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.TransferEncoding = nil
	res.Uncompressed = enc != "" && enc != "identity"
	res.Header.Del("Content-Encoding")
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// bodyAllowed reports whether a response may carry a body: not to HEAD, nor with a 1xx, 204 or
// 304 status. Such a response is left as it is.
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && proxy.StatusHasBody(status)
}
