package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

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
)

// Tyk's answers to a batch it cannot read.
const (
	msgBatchMalformed = "Batch request malformed"
	msgBatchCreation  = "Batch request creation failed , request structure malformed"
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
	var in struct {
		Requests                  []batchRequest `json:"requests"`
		SuppressParallelExecution bool           `json:"suppress_parallel_execution"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatchBody+1))
	switch {
	case err != nil:
		g.badRequest(w, r, err, start)
		return
	case len(body) > maxBatchBody:
		chain.WriteError(w, http.StatusRequestEntityTooLarge, msgBatchMalformed+": the batch is over 4 MiB")
		g.unroutedDone(r, http.StatusRequestEntityTooLarge, start)
		return
	}
	if err := json.Unmarshal(body, &in); err != nil {
		chain.WriteError(w, http.StatusBadRequest, msgBatchMalformed)
		g.unroutedDone(r, http.StatusBadRequest, start)
		return
	}
	if len(in.Requests) > maxBatchRequests {
		chain.WriteError(w, http.StatusBadRequest, msgBatchMalformed+": more than 50 requests")
		g.unroutedDone(r, http.StatusBadRequest, start)
		return
	}
	reqs := make([]*http.Request, len(in.Requests))
	replies := make([]batchReply, len(in.Requests))
	for i, d := range in.Requests {
		replies[i].RelativeURL = d.RelativeURL
		req, err := g.batchSubRequest(r, api, listenPath, d)
		switch {
		case errors.Is(err, errBatchCreation):
			chain.WriteError(w, http.StatusBadRequest, msgBatchCreation)
			g.unroutedDone(r, http.StatusBadRequest, start)
			return
		case err != nil:
			replies[i].Code, replies[i].Body = http.StatusBadRequest, err.Error()
			continue
		}
		reqs[i] = req
	}
	parallel := maxBatchParallel
	if in.SuppressParallelExecution {
		parallel = 1
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, req := range reqs {
		if req == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			replies[i].Code, replies[i].Headers, replies[i].Body = g.serveBatched(req)
		}()
	}
	wg.Wait()
	out, err := json.Marshal(replies)
	if err != nil {
		chain.WriteError(w, http.StatusInternalServerError, chain.MsgInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// serveBatched serves one request of a batch and returns its answer. What net/http's server
// does for a handler that panics, it does here, on a goroutine of its own: a handler that
// aborts (http.ErrAbortHandler: the proxy stopping a body past maxBatchReplyBody, an upstream
// cut off) or panics ends that request alone, answered 502, never the gateway.
func (g *Gateway) serveBatched(req *http.Request) (code int, header http.Header, body string) {
	rec := &batchRecorder{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				g.log.Error("a batched request's handler panicked", "path", req.URL.Path, "panic", p)
			}
			code, header, body = http.StatusBadGateway, http.Header{}, http.StatusText(http.StatusBadGateway)
			if rec.over {
				body = errBatchReplyTooLarge.Error()
			}
		}
	}()
	g.ServeHTTP(rec, req)
	return rec.reply()
}

// errBatchCreation is a request that cannot be made at all (a method that is no token): Tyk
// refuses the whole batch then.
var errBatchCreation = errors.New("batch request creation failed")

// batchSubRequest makes one request of a batch: on the batch's host, from its client, at the
// API's listen path followed by relative_url, with d's method, headers and body.
func (g *Gateway) batchSubRequest(r *http.Request, api *apiRuntime, listenPath string, d batchRequest) (*http.Request, error) {
	method := d.Method
	if method == "" {
		method = http.MethodGet
	}
	rel, query, _ := strings.Cut(d.RelativeURL, "?")
	lp := strings.TrimSuffix(listenPath, "/")
	// Served side by side: each carries its own state, none on the batch's connection.
	req, err := http.NewRequestWithContext(reqctx.Detach(r.Context()), method, "http://batch.invalid/", strings.NewReader(d.Body))
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
	return req, nil
}

// batchRecorder keeps the answer to one request of a batch, its body up to maxBatchReplyBody:
// past that, writing fails, which ends the answer (a proxied body stops being read).
type batchRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	over   bool
}

func (b *batchRecorder) Header() http.Header { return b.header }

func (b *batchRecorder) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *batchRecorder) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.body.Len()+len(p) > maxBatchReplyBody {
		b.over = true
		return 0, errBatchReplyTooLarge
	}
	return b.body.Write(p)
}

var errBatchReplyTooLarge = errors.New("the answer to a batched request is over 2 MiB")

// reply returns the recorded answer; one whose body was too large is a 502 saying so.
func (b *batchRecorder) reply() (int, http.Header, string) {
	if b.over {
		return http.StatusBadGateway, http.Header{}, errBatchReplyTooLarge.Error()
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.code, b.header, b.body.String()
}
