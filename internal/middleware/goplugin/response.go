package goplugin

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// ResponseHook is one response hook.
type ResponseHook struct {
	Hook Hook
	Fn   plugin.ResponseFunc
}

// Response runs an API's response hooks, in declared order, on the upstream's response before
// anything of it is written. A hook may change the status, headers and body; when the body
// changed, the gateway sets Content-Length to the new body's length (Tyk leaves the upstream's,
// which truncates or breaks the response). A hook that writes to the ResponseWriter has given the
// final answer and the upstream response is dropped; a hook that panics, or leaves the response
// without a header map (or its request without a URL or header map), gives a clean 500, never
// the upstream body. A hook that leaves the response without a body sends an empty one.
type Response struct {
	Hooks []ResponseHook
	Log   *slog.Logger
}

// maxBufferedBody is the largest replaced response body measured for Content-Length; a larger
// one is streamed without it.
const maxBufferedBody = 8 << 20

// Modify is the ReverseProxy's ModifyResponse. It returns chain.ErrHandled when a hook answered
// (or panicked, and 500 was written): the proxy must then write nothing more.
func (rs *Response) Modify(res *http.Response) error {
	c := chain.FromRequest(res.Request)
	if c == nil || c.Writer == nil {
		return errors.New("response hooks: the request carries no gateway context")
	}
	orig := res.Body
	for _, h := range rs.Hooks {
		hw := c.NewHookWriter(c.Writer)
		var start time.Time
		if h.Hook.Obs != nil {
			start = time.Now()
		}
		hs := h.Hook.StartSpan(c.State)
		contextData(c.Request, c)
		kept := keepRequest(c.Request)
		err := call(rs.Log, h.Hook, func() { h.Fn(hw, res, c.Request) })
		broken := kept.check(c.Request)
		if hs != nil {
			h.Hook.EndSpan(c.State, hs, hw.Status, err)
		}
		if h.Hook.Obs != nil {
			h.Hook.Obs.Call(time.Since(start), hw.Status, err != nil)
		}
		if err != nil {
			return panicked(rs.Log, h.Hook, hw, c.Request, err)
		}
		if hw.Status != 0 {
			return chain.ErrHandled
		}
		if res.Header == nil {
			broken = errors.Join(broken, errors.New("the hook left the response without a header map (res.Header)"))
		}
		if broken != nil {
			// Never the upstream's response, whose headers the hook meant to change: a clean 500.
			return failed(rs.Log, h.Hook, hw, c.Request, broken)
		}
		if res.Body == nil {
			res.Body = http.NoBody // an empty body, as fixLength makes it
		}
	}
	return fixLength(res, orig)
}

// failed logs a hook that left the request or response unusable and answers 500 if the hook
// had not written yet.
func failed(log *slog.Logger, h Hook, w *writer, r *http.Request, err error) error {
	log.Error("plugin left the response or its request unusable; the request gets 500 and the gateway keeps serving", append(h.attrs(), "error", err)...)
	if w.Status == 0 {
		chain.WriteErrorFor(w.ResponseWriter, r, http.StatusInternalServerError, chain.MsgInternalServerError)
	}
	return chain.ErrHandled
}

// fixLength makes the response's framing match a body a hook replaced. A status that carries no
// body (1xx, 204, 304) keeps none, whatever the hook set, and its headers as they were: sent
// with a body, or a Content-Length for it, it would make the proxy abort the connection.
func fixLength(res *http.Response, orig io.ReadCloser) error {
	if res.Body == orig {
		return nil
	}
	if !proxy.StatusHasBody(res.StatusCode) {
		if res.Body != nil {
			res.Body.Close()
		}
		orig.Close()
		res.Body = http.NoBody
		return nil
	}
	if res.Body == nil || res.Body == http.NoBody {
		orig.Close()
		res.Body = http.NoBody
		setLength(res, 0)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBufferedBody+1))
	if err != nil {
		return err
	}
	if len(data) <= maxBufferedBody {
		res.Body.Close()
		orig.Close()
		res.Body = io.NopCloser(bytes.NewReader(data))
		setLength(res, int64(len(data)))
		return nil
	}
	res.Body = readCloser{io.MultiReader(bytes.NewReader(data), res.Body), closeBoth{res.Body, orig}}
	res.ContentLength = -1
	res.Header.Del("Content-Length")
	return nil
}

func setLength(res *http.Response, n int64) {
	res.ContentLength = n
	res.TransferEncoding = nil
	res.Header.Set("Content-Length", strconv.FormatInt(n, 10))
}

type closeBoth [2]io.Closer

func (c closeBoth) Close() error {
	return errors.Join(c[0].Close(), c[1].Close())
}
