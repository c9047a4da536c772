package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/middleware/breaker"
	"github.com/gatehouse/gatehouse/internal/middleware/cors"
	"github.com/gatehouse/gatehouse/internal/middleware/headers"
	"github.com/gatehouse/gatehouse/internal/middleware/iplist"
	"github.com/gatehouse/gatehouse/internal/middleware/methodtransform"
	"github.com/gatehouse/gatehouse/internal/middleware/rewrite"
	"github.com/gatehouse/gatehouse/internal/middleware/sizelimit"
	"github.com/gatehouse/gatehouse/internal/middleware/timeout"
	"github.com/gatehouse/gatehouse/internal/middleware/transform"
	"github.com/gatehouse/gatehouse/internal/middleware/validatejson"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

// traffic holds an API's compiled traffic middleware (docs/middleware.md); each is nil when the
// definition does not use it, so that an API without it pays nothing.
type traffic struct {
	ip       *iplist.Check
	cors     *cors.Policy
	sizes    *sizelimit.Limits
	timeouts *timeout.Timeouts
	breakers *breaker.Set
	methods  *methodtransform.Transforms
	// json are the validate_json schemas (docs/middleware.md).
	json *validatejson.Checks
	// headers are the header transforms and the context variables they use.
	headers *headers.Transforms
	// rewrites are the URL rewrites (url_rewrites).
	rewrites *rewrite.Rewrites
	// bodies are the body transforms (transform, transform_response).
	bodies *transform.Transforms
}

// compileTraffic compiles the traffic middleware of a definition.
func (g *Gateway) compileTraffic(def *apidef.APIDefinition, evs events.Handlers) (traffic, error) {
	var t traffic
	var err error
	if t.ip, err = iplist.Compile(def); err != nil {
		return t, err
	}
	if def.CORS.On() {
		t.cors = cors.New(def.CORS, def.APIID, g.log)
	}
	versions := def.VersionData.Versions
	if t.sizes, err = sizelimit.Compile(versions); err != nil {
		return t, err
	}
	if t.timeouts, err = timeout.Compile(versions); err != nil {
		return t, err
	}
	onChange := g.breakerEvents(def, evs)
	if def.Proxy.ServiceDiscovery.UseDiscoveryService {
		onChange = g.rereadOnTrip(def.APIID, onChange)
	}
	if t.breakers, err = breaker.Compile(def, g.now, g.log, onChange); err != nil {
		return t, err
	}
	if t.methods, err = methodtransform.Compile(versions); err != nil {
		return t, err
	}
	if t.json, err = validatejson.Compile(versions); err != nil {
		return t, err
	}
	if t.headers, err = headers.Compile(def, g.secrets); err != nil {
		return t, err
	}
	if t.rewrites, err = rewrite.Compile(def, g.secrets); err != nil {
		return t, err
	}
	if t.bodies, err = transform.Compile(def, g.cfg.AppPath); err != nil {
		return t, err
	}
	return t, nil
}

// logTrafficNotes notes, once per new or changed definition, what its traffic settings do that
// its author may not expect.
func (g *Gateway) logTrafficNotes(prev *snapshot, rt *apiRuntime, def *apidef.APIDefinition) {
	if old, ok := prevAPI(prev, rt.id); ok && old.rawSum == rt.rawSum {
		return
	}
	if def.IPAllowListActive() && !def.EnableIPWhiteListing {
		g.log.Warn("allowed_ips is enforced although enable_ip_whitelisting is false, as in Tyk 5.14; set ip_access_control_disabled to switch it off", "api_id", def.APIID)
	}
	if def.IPBlockListActive() && !def.EnableIPBlacklisting {
		g.log.Warn("blacklisted_ips is enforced although enable_ip_blacklisting is false, as in Tyk 5.14; set ip_access_control_disabled to switch it off", "api_id", def.APIID)
	}
	if rt.traffic.cors != nil && rt.traffic.cors.UnsafeAnyOrigin() {
		g.log.Warn("CORS allows every origin with credentials: any web site can make credentialed requests to this API", "api_id", def.APIID)
	}
	for _, v := range append(rt.traffic.headers.MissingSecrets(), rt.traffic.rewrites.MissingSecrets()...) {
		g.log.Warn("a secret variable has no value and is substituted with the empty string, as in Tyk: set it", "api_id", def.APIID, "variable", secrets.Describe(v))
	}
	if def.CORS.On() && def.CORS.OptionsPassthrough {
		g.log.Info("CORS options_passthrough: OPTIONS requests go to the upstream without auth, limits or plugins, as in Tyk", "api_id", def.APIID)
	}
}

// limitBody returns the request body step: the tightest of max_request_body_size, the version's
// global_size_limit and the endpoint's size_limits entry. A declared length over it is refused
// at once; a streamed body is cut when it passes it, and the client gets 413.
func (g *Gateway) limitBody(sizes *sizelimit.Limits) func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	return func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		limit := g.cfg.HTTPServerOptions.MaxRequestBodySize
		if limit <= 0 {
			limit = -1 // none
		}
		if v := c.VersionSizeLimit; v > 0 {
			limit = tighter(limit, v)
		}
		if sizes != nil {
			if v, ok := sizes.Lookup(c.Version, r.Method, c.Readings); ok {
				limit = tighter(limit, v)
			}
		}
		if limit >= 0 && r.ContentLength > limit {
			return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, fmt.Errorf("declared body of %d bytes is over the limit of %d", r.ContentLength, limit))
		}
		// Wrapped even without a limit: it tells a malformed body (400) from an upstream failure.
		var body *proxy.LimitedBody
		switch {
		case r.Body == nil || r.Body == http.NoBody:
			return nil
		case limit >= 0:
			body = proxy.LimitBody(r, limit)
		default:
			body = proxy.WatchBody(r)
		}
		r.Body, c.Body = body, body
		return nil
	}
}

// tighter returns the smaller limit, limit < 0 meaning none.
func tighter(limit, v int64) int64 {
	if limit < 0 || v < limit {
		return v
	}
	return limit
}

// serveUpstream sends the request to the upstream with what the traffic middleware decided: the
// transformed method, the endpoint's timeout, and through its circuit breaker.
func (rt *apiRuntime) serveUpstream(w http.ResponseWriter, r *http.Request, c *chain.Context) {
	t := &rt.traffic
	if c.Method != "" {
		r.Method = c.Method
	}
	if t.timeouts != nil {
		if d := t.timeouts.For(c.Version, r.Method, c.Readings); d > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			r = r.WithContext(ctx)
			c.Request = r
		}
	}
	up := c.Upstream
	if c.LoopTo != nil {
		// A URL rewrite looped the request (looping.go), unless an OAS mock answers it: Tyk
		// runs the rewrite before the mock, which then replies.
		if _, mocked := up.(*mockReply); !mocked {
			up = &rt.loops
		}
	}
	if t.breakers != nil {
		if b := t.breakers.For(c.Version, r.Method, c.Readings); b != nil {
			b.Serve(w, r, func(w http.ResponseWriter) { up.ServeHTTP(w, r) })
			return
		}
	}
	up.ServeHTTP(w, r)
}

// dropUpstreamAnswered wraps an upstream's response hook: what the gateway answers itself is
// dropped from the upstream's response, so that the client gets one answer. When the API's
// CORS is on (cors), the gateway is its CORS authority: the upstream's own Access-Control-*
// headers go from every response, whether or not the gateway allowed the request's origin (an
// upstream reflecting any Origin with credentials must not answer for an origin the gateway
// refused; when the gateway allowed it, two Access-Control-Allow-Origin values would fail the
// browser's check). Tyk drops only the names it set itself, so that a refused origin gets the
// upstream's. The exception is an OPTIONS request options_passthrough sent on: the upstream
// answers its preflight, as in Tyk. When the gateway put the request's trace id in the
// response, the upstream's own X-Tyk-Trace-Id goes (an upstream behind another gateway sends
// its own).
func dropUpstreamAnswered(cors bool, next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		c := chain.FromRequest(res.Request)
		if cors && (c == nil || !c.CORSPassthrough) {
			dropCORSHeaders(res.Header)
		}
		if c != nil && c.TraceID != "" {
			delete(res.Header, tracing.TraceIDHeader)
		}
		if next != nil {
			return next(res)
		}
		return nil
	}
}

// dropCORSHeaders removes the Access-Control-* headers, in any spelling, from h.
func dropCORSHeaders(h http.Header) {
	for k := range h {
		if cors.IsCORSHeader(k) {
			delete(h, k)
		}
	}
}

// transformResponseHeaders wraps an upstream's response hook: the API's response header
// transforms run first, so that response plugins see the headers as Tyk's do.
func transformResponseHeaders(h *headers.Transforms, detailed bool, next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		if c := chain.FromRequest(res.Request); c != nil {
			sp := stepSpan(c, detailed, "ResponseHeaderInjector")
			h.Response(res, res.Request, c)
			endStepSpan(sp, nil)
		}
		if next != nil {
			return next(res)
		}
		return nil
	}
}

// transformResponseBody wraps an upstream's response hook: the API's response body transform
// runs first. When it cannot transform the body, the client gets its status and message (the
// cause is logged) instead of the upstream's body.
func (g *Gateway) transformResponseBody(apiID string, t *transform.Transforms, detailed bool, next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		if c := chain.FromRequest(res.Request); c != nil {
			sp := stepSpan(c, detailed, "ResponseTransformMiddleware")
			// The template's request is the client's, as in Tyk: the one sent upstream carries
			// what the proxy added (upstream credentials) that the client must never see.
			req := c.Request
			if req == nil {
				req = res.Request
			}
			err := t.Response(res, req, c)
			endStepSpan(sp, err)
			if err != nil {
				var re *transform.ResponseError
				if !errors.As(err, &re) || c.Writer == nil {
					return err
				}
				g.log.Warn("response body transform failed", "api_id", apiID, "status", re.Status, "error", re.Cause)
				chain.WriteErrorFor(c.Writer, req, re.Status, re.Message)
				return chain.ErrHandled
			}
		}
		if next != nil {
			return next(res)
		}
		return nil
	}
}
