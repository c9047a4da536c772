// Package proxy forwards requests to an API's upstream on httputil.ReverseProxy, using Rewrite
// (never Director, which lets clients strip headers the gateway adds and spoof
// X-Forwarded-For). The gateway sets X-Forwarded-For, -Host and -Proto itself; hop-by-hop
// headers never reach the upstream; bodies stream both ways; an upstream that is down gives 502
// and one that does not answer in time 504, both with Tyk's JSON error body.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/hdrname"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// Upstream forwards an API's requests to its targets, round robin when there are several.
//
// A gateway holds one per API (and per version with its own target): an Upstream with one
// target is a single allocation besides its two callbacks, so that many APIs loaded add little
// for the collector to mark.
type Upstream struct {
	targets []target
	// one holds the target of an Upstream that has only one.
	one          [1]target
	next         atomic.Uint64
	preserveHost bool
	log          *slog.Logger
	apiID        string
	via          string
	keepSlash    bool
	// auth is what the upstream is shown of the gateway (Options.Credentials and Sign); nil
	// without either, so that an API without them keeps its Upstream small.
	auth *outgoingAuth
	// down, when set, reports the targets' hosts that are down (Options.Down).
	down func(host string) bool
}

// outgoingAuth is what an Upstream adds to every request to tell the upstream who sends it.
type outgoingAuth struct {
	// credHeader (canonical) and credValue are the upstream credentials (Options.Credentials);
	// credHeader is "" without.
	credHeader, credValue string
	// sign is Options.Sign.
	sign func(*http.Request) error
}

// target is one upstream URL and the reverse proxy that forwards to it, on its transport.
type target struct {
	url url.URL
	rp  httputil.ReverseProxy
	// host is the target's host as Options.Down takes it (uptime.HostOf); "" without Down.
	host string
}

// Options configure an Upstream.
type Options struct {
	APIID        string
	Targets      []string
	PreserveHost bool
	// DisableStripSlash is the definition's proxy.disable_strip_slash: see JoinPath.
	DisableStripSlash bool
	// Via, when set, is the value added to the Via header of every request forwarded: the
	// protocol and the gateway's name ("1.1 name", RFC 9110 7.6.3). The gateway refuses a
	// request that comes back with it: a loop.
	Via string
	// Credentials, when its Header is set, is a header set on every upstream request,
	// replacing what the client sent in it: the API's upstream authentication.
	Credentials Header
	// Sign, when set, signs every upstream request as it leaves, once its URL and headers are
	// final (request_signing). It must not fail but on a fault of the gateway's own: a request
	// it fails is cut off, never sent unsigned.
	Sign func(*http.Request) error
	// Transport forwards to every target, unless TransportFor is set.
	Transport http.RoundTripper
	// TransportFor, when set, returns the transport of a target (its URL as written, an
	// h2c:// one included); it is called once per target, by New.
	TransportFor func(target *url.URL) (http.RoundTripper, error)
	Logger       *slog.Logger
	// ErrorLog, when set, is where the reverse proxies log what they cannot report otherwise;
	// else a logger writing to Logger at warn level is made. A gateway passes one for all its
	// upstreams.
	ErrorLog *log.Logger
	// ModifyResponse, when set, runs on every upstream response before it is written.
	ModifyResponse func(*http.Response) error
	// Down, when set, reports whether a target's host (uptime.HostOf its URL) is down: round
	// robin passes over such targets, and with every target down a request gets 503 (Tyk's
	// check_host_against_uptime_tests).
	Down func(host string) bool
}

// Header is one header field.
type Header struct{ Name, Value string }

// New returns an Upstream for the given targets (validated URLs). A target with the scheme
// h2c is reached over cleartext HTTP/2: its transport (from TransportFor) must speak it.
func New(o Options) (*Upstream, error) {
	if len(o.Targets) == 0 {
		return nil, errors.New("no upstream target")
	}
	u := &Upstream{preserveHost: o.PreserveHost, log: o.Logger, apiID: o.APIID, via: o.Via, keepSlash: o.DisableStripSlash, down: o.Down}
	if o.Credentials.Name != "" || o.Sign != nil {
		u.auth = &outgoingAuth{sign: o.Sign}
		if o.Credentials.Name != "" {
			u.auth.credHeader, u.auth.credValue = textproto.CanonicalMIMEHeaderKey(o.Credentials.Name), o.Credentials.Value
		}
	}
	errLog := o.ErrorLog
	if errLog == nil {
		errLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	}
	if len(o.Targets) == 1 {
		u.targets = u.one[:]
	} else {
		u.targets = make([]target, len(o.Targets))
	}
	// The targets share their callbacks but Rewrite, which must know its target's URL.
	errorHandler := u.handleError
	modify := moveHeaderAfter(o.ModifyResponse)
	for i, t := range o.Targets {
		pu, err := url.Parse(t)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t, err)
		}
		tr := o.Transport
		if o.TransportFor != nil {
			if tr, err = o.TransportFor(pu); err != nil {
				return nil, fmt.Errorf("target %q: %w", t, err)
			}
		}
		if strings.EqualFold(pu.Scheme, "h2c") {
			pu.Scheme = "http"
		}
		tg := &u.targets[i]
		if o.Down != nil {
			if tg.host, err = uptime.HostOf(t, ""); err != nil {
				return nil, fmt.Errorf("target %q: %w", t, err)
			}
		}
		tg.url = *pu
		tg.rp = httputil.ReverseProxy{
			Rewrite:        func(pr *httputil.ProxyRequest) { u.rewrite(pr, &tg.url) },
			Transport:      tr,
			BufferPool:     BufferPool,
			ErrorHandler:   errorHandler,
			ModifyResponse: modify,
			ErrorLog:       errLog,
		}
	}
	return u, nil
}

// Transports returns the transports the upstream forwards on, one per target.
func (u *Upstream) Transports() []http.RoundTripper {
	out := make([]http.RoundTripper, len(u.targets))
	for i, t := range u.targets {
		out[i] = t.rp.Transport
	}
	return out
}

// pick returns the next target round robin, passing over those whose host is down; nil when
// every one is.
func (u *Upstream) pick() *target {
	if len(u.targets) == 1 && u.down == nil {
		return &u.targets[0]
	}
	n := u.next.Add(1) - 1
	if u.down == nil {
		return &u.targets[n%uint64(len(u.targets))]
	}
	for i := range uint64(len(u.targets)) {
		t := &u.targets[(n+i)%uint64(len(u.targets))]
		if !u.down(t.host) {
			return t
		}
	}
	return nil
}

// rewrite runs inside the round trip (chain.ProxyWriter.Forward to Answered): it must not touch
// the client's writer, whose Header there is only ReverseProxy's 1xx handler's.
func (u *Upstream) rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	c := chain.FromRequest(pr.In)
	if c != nil {
		pr.Out.URL.Path, pr.Out.URL.RawPath = c.ForwardPath, ""
	}
	setURL(pr.Out, target, JoinPath(target.Path, pr.Out.URL.Path, u.keepSlash))
	if c != nil {
		c.UpstreamURL = pr.Out.URL
	}
	if u.preserveHost {
		pr.Out.Host = pr.In.Host
	}
	// The values of the headers the proxy adds share one allocation. It is the request's
	// own, never pooled memory: the transport may still be writing the request's header when
	// the upstream's answer has come and the handler returned.
	vals := new(headerValues)
	setXForwarded(pr, vals)
	h := pr.Out.Header
	if u.via != "" {
		if prior := h["Via"]; len(prior) > 0 {
			h["Via"] = append(prior, u.via)
		} else {
			vals[3] = u.via
			h["Via"] = vals[3:4:4]
		}
	}
	if a := u.auth; a != nil && a.credHeader != "" {
		vals[4] = a.credValue
		h[a.credHeader] = vals[4:5:5]
		// A client header spelling the name with '_' for '-' is read as the same by some
		// servers (CGI's HTTP_X_NAME): it must not stand beside the credentials.
		for k := range h {
			if k != a.credHeader && hdrname.Same(k, a.credHeader) {
				delete(h, k)
			}
		}
	}
	if _, ok := h["User-Agent"]; !ok {
		// Present and empty, so that neither ReverseProxy nor the transport adds Go's own
		// (what ReverseProxy does with a []string{""} of its own allocation).
		h["User-Agent"] = nil
	}
	if a := u.auth; a != nil && a.sign != nil {
		if err := a.sign(pr.Out); err != nil {
			// Rewrite cannot refuse a request: ending the handler this way cuts the client
			// off without a response, and nothing reaches the upstream unsigned.
			u.log.Error("request signing failed; the request is not sent", "api_id", u.apiID, "error", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// setURL is httputil.ProxyRequest.SetURL with the path given (Tyk's JoinPath) instead of
// httputil's join, which SetURL would compute, and allocate when the target has a path, only to
// be replaced: the target's scheme and host, the target's query before the request's, and the
// Host header left to follow the URL.
func setURL(out *http.Request, target *url.URL, path string) {
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	out.URL.Path, out.URL.RawPath = path, ""
	if q := target.RawQuery; q == "" || out.URL.RawQuery == "" {
		out.URL.RawQuery = q + out.URL.RawQuery
	} else {
		out.URL.RawQuery = q + "&" + out.URL.RawQuery
	}
	out.Host = ""
}

// headerValues is room for the values of the headers the proxy adds to an upstream request.
type headerValues [5]string

// setXForwarded is httputil.ProxyRequest.SetXForwarded with the values kept in vals (each a
// slice of one, capacity one, so that whoever appends to a header copies it first) instead of
// three allocations.
func setXForwarded(pr *httputil.ProxyRequest, vals *headerValues) {
	h := pr.Out.Header
	clientIP, _, err := net.SplitHostPort(pr.In.RemoteAddr)
	if err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	vals[1] = pr.In.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if pr.In.TLS != nil {
		vals[2] = "https"
	}
	h["X-Forwarded-Proto"] = vals[2:3:3]
}

// moveHeaderAfter wraps an upstream's response hook (nil for none): once it has run and let the
// response through, the response's header values are moved into the client's header map rather
// than copied value by value by ReverseProxy (one allocation per header). Content-Type stays
// where it is, for ReverseProxy to copy: it reads it afterwards to flush server-sent events as
// they come. A response hook that fails has moved nothing, so an error answer carries none of
// the upstream's headers, and a 101 (an upgrade) is left to ReverseProxy as it is. Before the
// hook, the round trip is over: the gateway's own headers are back (chain.ProxyWriter).
func moveHeaderAfter(next func(*http.Response) error) func(*http.Response) error {
	if next == nil {
		return moveHeaderOnly
	}
	return func(res *http.Response) error {
		c := answered(res)
		if err := next(res); err != nil {
			return err
		}
		moveInto(c, res)
		return nil
	}
}

// moveHeaderOnly is moveHeaderAfter with no hook: one function for every upstream without one.
func moveHeaderOnly(res *http.Response) error {
	moveInto(answered(res), res)
	return nil
}

// answered ends the round trip of res's request (chain.ProxyWriter.Answered) and returns its
// context, nil for none.
func answered(res *http.Response) *chain.Context {
	c := chain.FromRequest(res.Request)
	if c != nil {
		c.Proxy.Answered()
	}
	return c
}

// moveInto moves res's headers into the header map of c's writer (moveHeader), but a 101's.
func moveInto(c *chain.Context, res *http.Response) {
	if c == nil || c.Proxy.ResponseWriter == nil || res.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	moveHeader(c.Proxy.Header(), res.Header)
}

// moveHeader moves src's values into dst as ReverseProxy's copy would add them (canonical
// keys, after dst's own values), leaving Content-Type and empty entries in src.
func moveHeader(dst, src http.Header) {
	for k, vv := range src {
		if len(vv) == 0 {
			continue // Add would have added nothing: no key either
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if ck == "Content-Type" {
			continue
		}
		if prior, ok := dst[ck]; ok {
			dst[ck] = append(prior, vv...)
		} else {
			dst[ck] = vv
		}
		delete(src, k)
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
	rest := strings.TrimLeft(sub, "/")
	switch {
	case rest == "":
		return target
	case target == "" && len(sub) == len(rest)+1:
		return sub // already "/" + rest: no new string per request
	}
	return target + "/" + rest
}

// ServeHTTP forwards r to the next target. The path sent is the chain context's ForwardPath
// (canonical, below the target's own path), or r's path when r carries no context.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := u.pick()
	if t == nil {
		u.log.Debug("every upstream host is down (uptime tests)", "api_id", u.apiID)
		chain.WriteFlaggedError(w, r, http.StatusServiceUnavailable, chain.MsgAllHostsDown, "NHU")
		return
	}
	if c := chain.FromRequest(r); c != nil {
		c.Proxy.Forward(w)
		w = &c.Proxy
	}
	t.rp.ServeHTTP(w, r)
}

func (u *Upstream) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if p, ok := w.(*chain.ProxyWriter); ok {
		p.Answered() // an error answer carries the gateway's headers, as after a 1xx
	}
	if errors.Is(err, chain.ErrHandled) {
		return // a response hook answered; nothing more is written
	}
	if errors.Is(err, ErrBodyTooLarge) {
		chain.WriteFlaggedError(w, r, http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, "BTL")
		return
	}
	if c := chain.FromRequest(r); c != nil && c.Body != nil && c.Body.ClientError() != nil {
		// The client's body was malformed, or the client went away sending it: its fault,
		// not the upstream's.
		u.log.Debug("the client's request body could not be read", "api_id", u.apiID, "error", c.Body.ClientError())
		w.Header().Set("Connection", "close")
		chain.WriteErrorFor(w, r, http.StatusBadRequest, chain.MsgBadRequest)
		return
	}
	if chain.CallerGone(r) {
		// The client went away (or the batch it is part of ran out of time); there is nobody
		// to answer.
		u.log.Debug("client closed the request before the upstream answered", "api_id", u.apiID)
		return
	}
	status, msg := http.StatusBadGateway, chain.MsgUpstreamError
	if isTimeout(err) {
		status, msg = http.StatusGatewayTimeout, chain.MsgUpstreamTimeout
	}
	if hint := tlsHint(err); hint != "" {
		u.log.Warn("upstream request failed", "api_id", u.apiID, "status", status, "error", err, "hint", hint)
	} else {
		u.log.Warn("upstream request failed", "api_id", u.apiID, "status", status, "error", err)
	}
	chain.WriteFlaggedError(w, r, status, msg, errorFlag(err))
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsHint says what to change when err is an upstream's TLS failure, or "".
func tlsHint(err error) string {
	var verr *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrPinning):
		return "the upstream's certificate chain holds none of the public keys pinned for its host: " +
			"pin its current key (pinned_public_keys, security.pinned_public_keys), or check that it is the upstream meant"
	case errors.As(err, &verr):
		return "the upstream's certificate was not accepted: add its CA to proxy_ssl_ca_file, or fix the certificate " +
			"(proxy.transport.ssl_force_common_name_check checks the common name instead of the alternative names)"
	case strings.Contains(err.Error(), "remote error: tls:"):
		// An alert from the upstream; crypto/tls does not export its type.
		return "the upstream refused the TLS handshake: it may require a client certificate " +
			"(upstream_certificates, security.certificates.upstream), or a TLS version or cipher suite the gateway does not offer"
	case errors.As(err, &rec):
		return "the upstream does not speak TLS: use an http:// target"
	}
	return ""
}
