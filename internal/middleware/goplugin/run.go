// Package goplugin runs native Go plugin hooks in an API's chain with Tyk's semantics, and
// defines what happens when they misbehave:
//
//   - A request hook that writes nothing lets the chain go on. One that writes a status below
//     400 has given the final answer: the upstream is not called. One that writes 400 or more
//     is passed to the client exactly as written, with nothing appended.
//   - Headers a hook sets on the ResponseWriter without writing reach the client on the final
//     response. Changes to the request (headers, URL, body) reach the upstream. A hook may read
//     the body: what it read is replayed to the upstream.
//   - A hook that panics gives the client a clean 500 (if it had not written yet), logs the API,
//     hook, symbol, file and stack, and the gateway keeps serving. So does a hook that leaves
//     the request without its URL or header map, or the response without its header map (a
//     response left without a body gets an empty one).
//   - A hook that could not be loaded fails closed: every request that would run it gets 500.
//   - After a hook that called sdk.SetSession, the session's policies apply and, when the hook
//     asked for it, the session is stored.
package goplugin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/observe"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Hook identifies a hook in logs and errors.
type Hook struct {
	APIID  string
	Phase  string // pre, auth_check, post_key_auth, post, endpoint, response, analytics
	Symbol string
	File   string
	// Obs receives the hook's calls; nil when nothing observes them.
	Obs observe.Plugin
}

// StartSpan starts the hook's span below the request's current one and makes it current, so
// that what the plugin does through the sdk lands in it; nil when the request is not traced.
func (h *Hook) StartSpan(st *reqctx.State) *tracing.Span {
	parent, ok := st.Span.(*tracing.Span)
	if !ok {
		return nil
	}
	hs := parent.Hook(h.Phase, h.Symbol)
	st.Span = hs
	return hs
}

// EndSpan ends the hook's span and gives the request its previous current span back.
func (h *Hook) EndSpan(st *reqctx.State, hs *tracing.Span, status int, panicked error) {
	hs.EndHook(status, panicked)
	st.Span = hs.Parent()
}

func (h Hook) attrs() []any {
	return []any{"api_id", h.APIID, "hook", h.Phase, "symbol", h.Symbol, "file", h.File}
}

// MsgPluginUnavailable is what clients get when a hook of the API could not be loaded.
const MsgPluginUnavailable = "This API is unavailable: a plugin it needs could not be loaded"

// Failed returns the step that stands in for a hook that could not be loaded: the API fails
// closed rather than running without it.
func Failed(h Hook, loadErr error) chain.Step {
	return chain.Step{Name: h.Phase + ":" + h.Symbol, Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		return chain.Errorf(http.StatusInternalServerError, MsgPluginUnavailable, fmt.Errorf("%s hook %s from %s was not loaded: %w", h.Phase, h.Symbol, h.File, loadErr))
	}}
}

// writer tracks whether a hook wrote a response, and with what status (Status, 0 until it
// did). It is reqctx.Writer, which sdktest uses too, so plugin unit tests see the same rules.
type writer = reqctx.Writer

// call runs fn, h's function, turning a panic into an error carrying the stack. A panic with
// http.ErrAbortHandler aborts the response on purpose (the client's connection is cut): it is
// passed on for net/http, which logs nothing of it, and so logged here at debug level.
func call(log *slog.Logger, h Hook, fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				log.Debug("plugin aborted the response (panic(http.ErrAbortHandler)): the client's connection is cut", h.attrs()...)
				panic(r)
			}
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// PanicError is a recovered plugin panic.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("plugin panicked: %v", e.Value) }

// panicked logs a hook's panic and answers 500 if the hook had not written yet.
func panicked(log *slog.Logger, h Hook, w *writer, r *http.Request, err error) error {
	var pe *PanicError
	stack := ""
	if errors.As(err, &pe) {
		stack = string(pe.Stack)
	}
	log.Error("plugin panicked; the request gets 500 and the gateway keeps serving", append(h.attrs(), "panic", fmt.Sprint(errValue(err)), "stack", stack)...)
	if w.Status == 0 {
		chain.WriteErrorFor(w.ResponseWriter, r, http.StatusInternalServerError, chain.MsgInternalServerError)
	}
	return chain.ErrHandled
}

func errValue(err error) any {
	var pe *PanicError
	if errors.As(err, &pe) {
		return pe.Value
	}
	return err
}

// keptRequest is what of a request the gateway cannot go on without, as it was before a hook.
type keptRequest struct {
	url    *url.URL
	header http.Header
}

func keepRequest(r *http.Request) keptRequest { return keptRequest{r.URL, r.Header} }

// check returns what a hook left nil of r (its URL, its header map) that the gateway needs
// after the hook, and puts back what it had, so that what runs after (the error answer, logs,
// analytics) never meets a nil; nil when the hook left both.
func (k keptRequest) check(r *http.Request) error {
	var missing []string
	if r.URL == nil {
		r.URL = k.url
		missing = append(missing, "a URL (r.URL)")
	}
	if r.Header == nil {
		r.Header = k.header
		missing = append(missing, "a header map (r.Header)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the hook left the request without %s", strings.Join(missing, " and "))
}

// replayBody records what a hook reads of the request body so it can be replayed upstream.
type replayBody struct {
	rc  io.ReadCloser
	buf bytes.Buffer
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.buf.Write(p[:n])
	return n, err
}

func (b *replayBody) Close() error { return nil }

// withReplayableBody prepares r's body for a hook and returns the function that restores it
// after: what the hook read is put back in front of what it did not. A body the hook replaced
// is read in full (within limit) so the upstream gets a correct Content-Length.
func withReplayableBody(r *http.Request, limit int64) (after func() error) {
	orig := r.Body
	if orig == nil || orig == http.NoBody {
		return func() error { return replaced(r, orig, limit) }
	}
	rb := &replayBody{rc: orig}
	r.Body = rb
	return func() error {
		if r.Body == rb {
			if rb.buf.Len() == 0 {
				r.Body = orig
			} else {
				r.Body = readCloser{io.MultiReader(bytes.NewReader(rb.buf.Bytes()), orig), orig}
			}
			return nil
		}
		return replaced(r, orig, limit)
	}
}

// replaced handles a body a hook swapped in: it is read in full so its length is known.
func replaced(r *http.Request, orig io.ReadCloser, limit int64) error {
	if r.Body == orig {
		return nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		r.ContentLength = 0
		return nil
	}
	if limit <= 0 {
		limit = 1 << 30
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	if err != nil {
		return fmt.Errorf("reading the body the plugin set: %w", err)
	}
	if int64(len(data)) > limit {
		return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, proxy.ErrBodyTooLarge)
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.TransferEncoding = nil
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
