package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
)

// Batch requests (Tyk's enable_batch_request_support; Tyk OAS server.batchProcessing): a POST to
// <listen path>/tyk/batch carries several requests to the API, which the gateway serves each as
// if it had arrived on its own (its route, auth, limits, plugins, upstream, analytics) and
// answers together. As in Tyk, the batch itself needs no credentials: each request carries its
// own. Unlike Tyk, which sends them to localhost over HTTP (where a domain-bound API is not
// found, and a relative_url may climb into another API), they are served in process on the
// batch's own host, client address and TLS connection, and one whose path leaves the API is
// answered 400. Bounds Tyk does not have keep a batch from holding the gateway: at most
// maxBatchRequests requests, a description of at most maxBatchBody bytes, at most
// maxBatchParallel served at once, and each answer's body at most maxBatchReplyBody bytes.
const (
	maxBatchRequests  = 50
	maxBatchBody      = 4 << 20
	maxBatchParallel  = 8
	maxBatchReplyBody = 2 << 20
	// maxBatchReplies bounds the bodies of one batch's answers together: an answer that does
	// not fit in what is left is 502 (each answer's body goes into the batch's JSON, escaped).
	maxBatchReplies = 4 << 20
	// maxBatches bounds the batches a gateway serves at once: one more is answered 503.
	maxBatches = 16
)

// batchTimeout bounds a whole batch: twice proxy_default_timeout, at least a second. A request
// of the batch still running then is cut off (as a client that leaves cuts its own), and one
// not started is answered 504 in its place, so that a batch of slow requests cannot hold one of
// the gateway's maxBatches for as long as its requests take one after the other.
func (g *Gateway) batchTimeout() time.Duration {
	return max(2*g.cfg.ProxyTimeout(), time.Second)
}

// Tyk's answers to a batch it cannot read.
const (
	msgBatchMalformed = "Batch request malformed"
	msgBatchCreation  = "Batch request creation failed , request structure malformed"
	// The answers to the requests of a batch that ran out of time (a Gatehouse bound): one not
	// started, and one cut off.
	msgBatchNotStarted = "Batch request timed out: the batch ran out of time before this request started"
	msgBatchCut        = "Batch request timed out: the batch ran out of time while this request ran"
)

// batchRequest is one request of a batch, as Tyk's RequestDefinition.
type batchRequest struct {
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	Body        string            `json:"body"`
	RelativeURL string            `json:"relative_url"`
}

// batchReply is the answer to one request of a batch, as Tyk's BatchReplyUnit.
type batchReply struct {
	RelativeURL string      `json:"relative_url"`
	Code        int         `json:"code"`
	Headers     http.Header `json:"headers"`
	Body        string      `json:"body"`
}

// isBatchPath reports whether canon, routed by listenPath, is the API's batch endpoint.
func isBatchPath(canon, listenPath string) bool {
	rest := strings.TrimPrefix(relative(canon, listenPath), "/")
	return rest == "tyk/batch" || rest == "tyk/batch/"
}

// serveBatch serves a batch of requests to api (routed by listenPath).
func (g *Gateway) serveBatch(w http.ResponseWriter, r *http.Request, api *apiRuntime, listenPath string, start time.Time) {
	// The batch is one request of the API, besides the requests it carries (metrics and the
	// access log; analytics record only those, as in Tyk).
	refuse := func(code int, msg string) {
		chain.WriteError(w, code, msg)
		g.batchDone(api, r, code, start)
	}
	select {
	case g.batchSlots <- struct{}{}:
		defer func() { <-g.batchSlots }()
	default:
		w.Header().Set("Retry-After", "1")
		refuse(http.StatusServiceUnavailable, "Too many batch requests in progress; retry shortly")
		return
	}
	var in struct {
		Requests                  []batchRequest `json:"requests"`
		SuppressParallelExecution bool           `json:"suppress_parallel_execution"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatchBody+1))
	switch {
	case err != nil:
		// What could not be read is the client's doing: named, as for any request.
		refuse(http.StatusBadRequest, err.Error())
		return
	case len(body) > maxBatchBody:
		refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: the batch is over %d MiB", msgBatchMalformed, maxBatchBody>>20))
		return
	}
	if err := json.Unmarshal(body, &in); err != nil {
		refuse(http.StatusBadRequest, msgBatchMalformed)
		return
	}
	if len(in.Requests) > maxBatchRequests {
		refuse(http.StatusBadRequest, fmt.Sprintf("%s: more than %d requests", msgBatchMalformed, maxBatchRequests))
		return
	}
	// The bound starts once the batch is read; running out of it is the batch's end, not the
	// upstream's failure (chain.ErrCallerGone): no breaker counts it.
	ctx, cancel := context.WithTimeoutCause(r.Context(), g.batchTimeout(), chain.ErrCallerGone)
	defer cancel()
	reqs := make([]*http.Request, len(in.Requests))
	replies := make([]batchReply, len(in.Requests))
	for i, d := range in.Requests {
		replies[i].RelativeURL = d.RelativeURL
		req, err := g.batchSubRequest(ctx, r, api, listenPath, d)
		switch {
		case errors.Is(err, errBatchCreation):
			refuse(http.StatusBadRequest, msgBatchCreation)
			return
		case err != nil:
			replies[i].Code, replies[i].Headers, replies[i].Body = http.StatusBadRequest, http.Header{}, err.Error()
			continue
		}
		reqs[i] = req
	}
	parallel := maxBatchParallel
	if in.SuppressParallelExecution {
		parallel = 1
	}
	sem := make(chan struct{}, parallel)
	budget := &batchBudget{left: maxBatchReplies}
	var wg sync.WaitGroup
	for i, req := range reqs {
		if req == nil {
			continue
		}
		started := false
		select {
		case sem <- struct{}{}:
			started = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// Out of time: this request and the rest are not started.
			if started {
				<-sem
			}
			replies[i].Code, replies[i].Headers, replies[i].Body = http.StatusGatewayTimeout, http.Header{}, msgBatchNotStarted
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			replies[i].Code, replies[i].Headers, replies[i].Body = g.serveBatched(req, budget)
		}()
	}
	wg.Wait()
	// One answer at a time: the batch's JSON is never held whole.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "[")
	for i := range replies {
		out, err := json.Marshal(&replies[i])
		if err != nil {
			out, _ = json.Marshal(batchReply{RelativeURL: replies[i].RelativeURL, Code: http.StatusInternalServerError})
		}
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(out)
		replies[i] = batchReply{}
	}
	_, _ = io.WriteString(w, "]")
	g.batchDone(api, r, http.StatusOK, start)
}

// batchDone counts and logs a batch as a request of api answered code.
func (g *Gateway) batchDone(api *apiRuntime, r *http.Request, code int, start time.Time) {
	g.answeredDone(api.obs, api.access, api.id, r, code, start)
}

// batchBudget is what the bodies of a batch's answers may still take together.
type batchBudget struct {
	mu   sync.Mutex
	left int
}

// give returns n bytes taken before.
func (b *batchBudget) give(n int) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// take reserves n bytes, and reports whether they were left.
func (b *batchBudget) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		return false
	}
	b.left -= n
	return true
}

// serveBatched serves one request of a batch and returns its answer. What net/http's server
// does for a handler that panics, it does here, on a goroutine of its own: a handler that
// aborts (http.ErrAbortHandler: the proxy stopping a body past maxBatchReplyBody, an upstream
// cut off) or panics ends that request alone, answered 502, never the gateway.
func (g *Gateway) serveBatched(req *http.Request, budget *batchBudget) (code int, header http.Header, body string) {
	rec := &batchRecorder{header: http.Header{}, budget: budget}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				g.log.Error("a batched request's handler panicked", "path", req.URL.Path, "panic", p)
			}
			code, header, body = http.StatusBadGateway, http.Header{}, http.StatusText(http.StatusBadGateway)
			if rec.over != nil {
				body = rec.over.Error()
			}
			if errors.Is(context.Cause(req.Context()), chain.ErrCallerGone) {
				code, body = http.StatusGatewayTimeout, msgBatchCut
			}
		}
	}()
	g.ServeHTTP(rec, req)
	if rec.code == 0 && rec.body.Len() == 0 && errors.Is(context.Cause(req.Context()), chain.ErrCallerGone) {
		// Cut off before anything was answered: the proxy answers nobody.
		return http.StatusGatewayTimeout, http.Header{}, msgBatchCut
	}
	return rec.reply()
}

// errBatchCreation is a request that cannot be made at all (a method that is no token): Tyk
// refuses the whole batch then.
var errBatchCreation = errors.New("batch request creation failed")

// batchSubRequest makes one request of a batch: on the batch's host, from its client, at the
// API's listen path followed by relative_url, with d's method, headers and body.
func (g *Gateway) batchSubRequest(ctx context.Context, r *http.Request, api *apiRuntime, listenPath string, d batchRequest) (*http.Request, error) {
	method := d.Method
	if method == "" {
		method = http.MethodGet
	}
	rel, query, _ := strings.Cut(d.RelativeURL, "?")
	// What a client's own request line could not carry (Go's server refuses it) is not
	// carried here either.
	if strings.IndexFunc(query, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0 {
		return nil, errors.New("relative_url's query holds spaces or control characters")
	}
	for k, v := range d.Headers {
		if !apidef.IsToken(k) || strings.IndexFunc(v, func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }) >= 0 {
			return nil, fmt.Errorf("header %q is not one a request may carry", k)
		}
		// The answer goes into the batch's JSON: a connection cannot be taken over.
		if strings.EqualFold(k, "Upgrade") {
			return nil, errors.New("a connection upgrade (WebSocket) cannot be batched")
		}
	}
	lp := strings.TrimSuffix(listenPath, "/")
	// Served side by side: each carries its own state, none on the batch's connection.
	req, err := http.NewRequestWithContext(reqctx.Detach(ctx), method, "http://batch.invalid/", strings.NewReader(d.Body))
	if err != nil {
		return nil, errBatchCreation
	}
	raw := lp + "/" + strings.TrimPrefix(rel, "/")
	canon, err := router.Canonicalize(raw)
	if err != nil {
		return nil, errors.New("relative_url is not a path the gateway serves: " + err.Error())
	}
	// Served by this API, and not as another batch.
	if routed, _, ok := g.snap.Load().router.Match(r.Host, canon); !ok || routed != api || isBatchPath(canon, listenPath) {
		return nil, errors.New("relative_url leads out of the API the batch was sent to")
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return nil, errors.New("relative_url is not a path the gateway serves: " + err.Error())
	}
	req.URL = &url.URL{Path: path, RawPath: raw, RawQuery: query}
	req.RequestURI = raw
	if query != "" {
		req.RequestURI += "?" + query
	}
	req.Host, req.RemoteAddr, req.TLS, req.Proto, req.ProtoMajor, req.ProtoMinor = r.Host, r.RemoteAddr, r.TLS, r.Proto, r.ProtoMajor, r.ProtoMinor
	req.ContentLength = int64(len(d.Body))
	for k, v := range d.Headers {
		req.Header.Set(k, v)
	}
	// Who the client is comes from the batch's connection, as the client's own requests'
	// does: a batch naming its requests' X-Forwarded-For would pass, through a trusted proxy,
	// as any address it likes. The batch's Via goes with them too, so that a batch the
	// gateway's own upstream sends back is seen as the loop it is (loop.go), not multiplied.
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "Via"} {
		req.Header.Del(h)
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = append([]string(nil), v...)
		}
	}
	if max := g.cfg.HTTPServerOptions.MaxHeaderBytes; max > 0 && headerSize(req) > max {
		return nil, errors.New(MsgHeaderTooLarge + " (http_server_options.max_header_bytes)")
	}
	return req, nil
}

// batchRecorder keeps the answer to one request of a batch, its body up to maxBatchReplyBody:
// past that, writing fails, which ends the answer (a proxied body stops being read).
type batchRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	budget *batchBudget
	over   error // why the body was not kept
}

func (b *batchRecorder) Header() http.Header { return b.header }

// WriteHeader keeps the final status: an interim 1xx answer (103 Early Hints) is not the
// answer.
func (b *batchRecorder) WriteHeader(code int) {
	if b.code == 0 && code >= 200 {
		b.code = code
	}
}

func (b *batchRecorder) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	switch {
	case b.over != nil:
		return 0, b.over
	case b.body.Len()+len(p) > maxBatchReplyBody:
		b.over = errBatchReplyTooLarge
	case !b.budget.take(len(p)):
		b.over = errBatchTooLarge
	default:
		return b.body.Write(p)
	}
	// The body is not kept: what it took goes back to the batch's other answers.
	b.budget.give(b.body.Len())
	b.body = bytes.Buffer{}
	return 0, b.over
}

var (
	errBatchReplyTooLarge = fmt.Errorf("the answer to a batched request is over %d MiB", maxBatchReplyBody>>20)
	errBatchTooLarge      = fmt.Errorf("the answers to the batch's requests are over %d MiB together", maxBatchReplies>>20)
)

// reply returns the recorded answer; one whose body was not kept is a 502 saying why.
func (b *batchRecorder) reply() (int, http.Header, string) {
	if b.over != nil {
		return http.StatusBadGateway, http.Header{}, b.over.Error()
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.code, b.header, b.body.String()
}
