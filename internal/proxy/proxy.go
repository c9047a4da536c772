// Package proxy forwards requests to an API's upstream on httputil.ReverseProxy, using Rewrite
// (never Director, which lets clients strip headers the gateway adds and spoof
// X-Forwarded-For). The gateway sets X-Forwarded-For, -Host and -Proto itself; hop-by-hop
// headers never reach the upstream; bodies stream both ways; an upstream that is down gives 502
// and one that does not answer in time 504, both with Tyk's JSON error body.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// TransportOptions tune the transport shared by every upstream.
type TransportOptions struct {
	// ResponseHeaderTimeout bounds the wait for an upstream's response headers; past it the
	// client gets 504.
	ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost bounds the idle connections kept to each upstream host.
	MaxIdleConnsPerHost int
}

// NewTransport returns the upstream transport. It ignores proxy environment variables, so an
// upstream is reached the way its definition says and no other.
func NewTransport(o TransportOptions) *http.Transport {
	perHost := o.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = 100
	}
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10 * perHost,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		// Bodies pass through as the upstream encoded them.
		DisableCompression: true,
	}
}

// Upstream forwards an API's requests to its targets, round robin when there are several.
type Upstream struct {
	targets      []*url.URL
	next         atomic.Uint64
	preserveHost bool
	rp           *httputil.ReverseProxy
	log          *slog.Logger
	apiID        string
	via          string
	keepSlash    bool
}

// Options configure an Upstream.
type Options struct {
	APIID        string
	Targets      []string
	PreserveHost bool
	// DisableStripSlash is the definition's proxy.disable_strip_slash: see JoinPath.
	DisableStripSlash bool
	// Via, when set, is added to the Via header of every request forwarded, naming the gateway
	// (RFC 9110 7.6.3), which refuses a request that comes back with it: a loop.
	Via       string
	Transport http.RoundTripper
	Logger    *slog.Logger
	// ModifyResponse, when set, runs on every upstream response before it is written.
	ModifyResponse func(*http.Response) error
}

// New returns an Upstream for the given targets (validated URLs).
func New(o Options) (*Upstream, error) {
	if len(o.Targets) == 0 {
		return nil, errors.New("no upstream target")
	}
	u := &Upstream{preserveHost: o.PreserveHost, log: o.Logger, apiID: o.APIID, keepSlash: o.DisableStripSlash}
	if o.Via != "" {
		u.via = "1.1 " + o.Via
	}
	for _, t := range o.Targets {
		pu, err := url.Parse(t)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t, err)
		}
		u.targets = append(u.targets, pu)
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      o.Transport,
		BufferPool:     BufferPool,
		ErrorHandler:   u.handleError,
		ModifyResponse: o.ModifyResponse,
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	return u, nil
}

func (u *Upstream) pick() *url.URL {
	if len(u.targets) == 1 {
		return u.targets[0]
	}
	n := u.next.Add(1) - 1
	return u.targets[n%uint64(len(u.targets))]
}

func (u *Upstream) rewrite(pr *httputil.ProxyRequest) {
	if c := chain.FromRequest(pr.In); c != nil {
		pr.Out.URL.Path, pr.Out.URL.RawPath = c.ForwardPath, ""
	}
	target := u.pick()
	sub := pr.Out.URL.Path
	pr.SetURL(target) // scheme, host, and the target's query before the request's
	pr.Out.URL.Path, pr.Out.URL.RawPath = JoinPath(target.Path, sub, u.keepSlash), ""
	if u.preserveHost {
		pr.Out.Host = pr.In.Host
	}
	pr.SetXForwarded()
	if u.via != "" {
		pr.Out.Header["Via"] = append(pr.Out.Header["Via"], u.via)
	}
}

// JoinPath joins a target's path and the path a request forwards, as Tyk does: the target loses
// its trailing slash and the forwarded path its leading one, joined by one slash, so a request
// for exactly the (stripped) listen path goes to the target path without a trailing slash. With
// disable_strip_slash (keepSlash), such a request goes to the target path as written instead.
// A trailing slash of the request's own is always kept.
func JoinPath(target, sub string, keepSlash bool) string {
	if keepSlash && (sub == "" || sub == "/") {
		return target
	}
	target = strings.TrimRight(target, "/")
	sub = strings.TrimLeft(sub, "/")
	if sub == "" {
		return target
	}
	return target + "/" + sub
}

// ServeHTTP forwards r to the next target. The path sent is the chain context's ForwardPath
// (canonical, below the target's own path), or r's path when r carries no context.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.rp.ServeHTTP(w, r)
}

func (u *Upstream) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, chain.ErrHandled) {
		return // a response hook answered; nothing more is written
	}
	if errors.Is(err, ErrBodyTooLarge) {
		chain.WriteError(w, http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge)
		return
	}
	if c := chain.FromRequest(r); c != nil && c.Body != nil && c.Body.ClientError() != nil {
		// The client's body was malformed, or the client went away sending it: its fault,
		// not the upstream's.
		u.log.Debug("the client's request body could not be read", "api_id", u.apiID, "error", c.Body.ClientError())
		w.Header().Set("Connection", "close")
		chain.WriteError(w, http.StatusBadRequest, chain.MsgBadRequest)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		u.log.Debug("client closed the request before the upstream answered", "api_id", u.apiID)
		return
	}
	status, msg := http.StatusBadGateway, chain.MsgUpstreamError
	if isTimeout(err) {
		status, msg = http.StatusGatewayTimeout, chain.MsgUpstreamTimeout
	}
	u.log.Warn("upstream request failed", "api_id", u.apiID, "status", status, "error", err)
	chain.WriteError(w, status, msg)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
