package gateway

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/httpsig"
	"github.com/gatehouse/gatehouse/internal/middleware/keylimit"
	"github.com/gatehouse/gatehouse/internal/middleware/orglimit"
	"github.com/gatehouse/gatehouse/internal/middleware/ratelimit"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
)

// handler is what a version forwards to.
type handler = http.Handler

// steps compiles the chain of an API, in the order of DESIGN.md's request path. This is the one
// table of built-in steps: a step is added here or nowhere.
func (g *Gateway) steps(rt *apiRuntime, def, authDef *apidef.APIDefinition, pols policy.Set) ([]chain.Step, error) {
	hooks := rt.hooks
	// A short chain lives in the compiled API's own allocation.
	steps := append(rt.stepsBuf[:0], chain.Step{Name: "version", Run: rt.selectVersion(g, def)})
	// IP lists come before CORS and the pre hooks (Tyk runs them after the pre hooks): a
	// refused address reaches no plugin, and an OPTIONS request CORS passes straight through
	// is still checked.
	if rt.traffic.ip != nil {
		steps = append(steps, rt.traffic.ip.Step())
	}
	// Client certificates next, as in Tyk (before auth, on keyless APIs too): a request
	// without an allowed one reaches nothing of the API.
	if c := rt.mutualTLS(); c != nil {
		steps = append(steps, c.Step())
	}
	// The OAuth 2.0 server's own endpoints ({listen_path}/oauth/token, ...) are answered
	// before everything but the version and the IP lists, as Tyk routes them apart from the
	// chain: a token request carries no token, and no plugin sees client secrets.
	if rt.authn != nil && rt.authn.oauth != nil {
		steps = append(steps, rt.authn.oauth.server.Step())
	}
	// Classic mock replies are answered where Tyk answers them (its VersionCheck): before CORS,
	// the pre hooks and auth; here after the IP lists too, which guard every answer.
	if rt.hasReplies() {
		steps = append(steps, rt.mockReplyStep())
	}
	limit := g.limitAnyBody
	if rt.traffic.sizes != nil {
		limit = g.limitBody(rt.traffic.sizes)
	}
	steps = append(steps, chain.Step{Name: "request_size", Run: limit})
	if rt.traffic.cors != nil {
		steps = append(steps, rt.traffic.cors.Step())
	}
	steps = append(steps, hooks.pre...)
	// The org's limits (enforce_org_quotas) where Tyk's OrganizationMonitor runs: after the pre
	// hooks, before auth, on keyless APIs too.
	if g.cfg.EnforceOrgQuotas && def.OrgID != "" {
		if read, err := g.sessions.OrgReader(def.OrgID); err != nil {
			// No org session can have that name (the Gateway API refuses it): nothing limits it.
			g.log.Warn("enforce_org_quotas: the API's org_id cannot name an org session, so no org limit applies to it", "api_id", def.APIID, "error", err)
		} else {
			steps = append(steps, limitUnlessLooped((&orglimit.Org{OrgID: def.OrgID, Session: read, Limits: g.store, Local: g.fallbackLimits, Monitor: g.quotaMonitor("org")}).Step()))
		}
	}
	// The org's say in detailed recording (enforce_org_data_detailed_logging), where its
	// limits are checked: a request auth refuses follows it too.
	if s, ok := rt.track.orgDetailStep(); ok {
		steps = append(steps, s)
	}
	// Context variables are taken after the pre hooks and before auth, as in Tyk.
	if s, ok := rt.traffic.headers.VarsStep(); ok {
		steps = append(steps, s)
	}
	keyed := !def.UseKeylessAccess
	if keyed {
		checks := []chain.Step{
			(&auth.SessionCheck{Now: g.now}).Step(),
			(&auth.AccessCheck{APIID: def.APIID, Versioned: !def.VersionData.NotVersioned, AllowMasterKeys: g.cfg.AllowMasterKeys, Patterns: g.patterns, Now: g.now}).Step(),
		}
		// Where Tyk runs auth: after the pre hooks (and the context variables). Basic auth,
		// HMAC signatures, JWT and a custom auth plugin each replace the key check, or run
		// with it and with each other in Tyk's order.
		a, err := g.authStep(rt, def, authDef, pols, checks)
		if err != nil {
			return nil, err
		}
		steps = append(steps, a)
		if len(hooks.postKeyAuth) > 0 {
			// A key's certificate bindings are checked before the hooks act for it (without
			// hooks, AccessCheck, which comes next, checks them).
			steps = append(steps, (&auth.BindingCheck{Now: g.now}).Step())
		}
		steps = append(steps, hooks.postKeyAuth...)
		steps = append(steps, checks...)
	}
	// Whether the analytics record is detailed, once the key is known, before the body is
	// forwarded.
	if s, ok := rt.track.keyDetailStep(); ok {
		steps = append(steps, s)
	}
	// The API-wide limit comes before the key's limits, so a request it refuses uses up none
	// of the key's quota; and after auth, so requests without a key cannot use it up.
	// A per-endpoint limit (extended_paths.rate_limit) replaces it for the requests it matches.
	endpointLimits, err := ratelimit.Compile(def.APIID, def.VersionData.Versions)
	if err != nil {
		return nil, err
	}
	apiLimit := &ratelimit.API{APIID: def.APIID, Endpoints: endpointLimits, Windows: g.store, Local: g.localWindows(), Now: g.now}
	if rl := def.GlobalRateLimit; !rl.Disabled {
		apiLimit.Limit, apiLimit.Window, _ = ratelimit.Window(rl.Rate, rl.Per)
	}
	if apiLimit.Limit > 0 || endpointLimits != nil {
		steps = append(steps, limitUnlessLooped(apiLimit.Step()))
	}
	if keyed {
		steps = append(steps, limitUnlessLooped((&keylimit.Key{APIID: def.APIID, Limits: g.store, Local: g.fallbackLimits, NoRateLimit: def.DisableRateLimit, NoQuota: def.DisableQuota, Patterns: g.patterns, Now: g.now,
			RateHeaders: g.cfg.RateHeaders(), Smoothing: g.cfg.EnableRateLimitSmoothing, Smoothed: g.smoothingEvents(rt.events, def.APIID, def.OrgID),
			Throttled: &g.throttled, Monitor: g.quotaMonitor("key")}).Step()))
	}
	// Classic validate_json, then Tyk OAS request validation and mock responses: after auth
	// and limits, as in Tyk.
	if rt.traffic.json != nil {
		steps = append(steps, rt.traffic.json.Step())
	}
	steps = append(steps, rt.oasOps.steps()...)
	// Body transforms, then header transforms and URL rewrites, as in Tyk.
	if s, ok := rt.traffic.bodies.Step(); ok {
		steps = append(steps, s)
	}
	if s, ok := rt.traffic.headers.Step(); ok {
		steps = append(steps, s)
	}
	if rt.traffic.rewrites != nil {
		steps = append(steps, rt.traffic.rewrites.Step())
	}
	if rt.traffic.methods != nil {
		steps = append(steps, rt.traffic.methods.Step())
	}
	// The response cache where Tyk has it: after the transforms, before the per-endpoint
	// plugins and the post hooks (a cached answer runs neither).
	if rt.cache != nil {
		steps = append(steps, rt.cache.Step())
	}
	if hooks.endpoints != nil {
		steps = append(steps, hooks.endpoints.Step())
	}
	steps = append(steps, hooks.post...)
	return append(steps, hooks.responseFailed...), nil
}

// reuseLoopedKey replaces the key lookup s, for a request another API looped here with its
// session and without check_limits (chain.Loop.Carried), by that session, as Tyk's AuthKey
// does; while it is the session in force this API's limits do not count the request
// (limitUnlessLooped). Several auth methods clear the session before each: it is taken
// again here.
func reuseLoopedKey(s chain.Step) chain.Step {
	run := s.Run
	s.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if l := c.Loop; l != nil && l.Carried != nil {
			l.Carried.Take(c)
			return nil
		}
		return run(w, r, c)
	}
	return s
}

// limitUnlessLooped skips the limit s while the looping API's key is the session in force
// (chain.Context.SkipsLimits): a request this API authenticated itself is limited as any.
func limitUnlessLooped(s chain.Step) chain.Step {
	run := s.Run
	s.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.SkipsLimits() {
			return nil
		}
		return run(w, r, c)
	}
	return s
}

// keyAuth is the built-in key check.
func (g *Gateway) keyAuth(def *apidef.APIDefinition, pols policy.Set) chain.Step {
	return (&auth.KeyAuth{
		Tokens:        auth.NewTokenSource(def.AuthTokenConfig()),
		Sessions:      g.sessions,
		Policies:      pols,
		StripAuthData: def.StripAuthData,
		Missing:       g.authReplies.missing,
		NotFound:      g.authReplies.notFound,
	}).Step()
}

// certAuth is certificate auth (auth_configs.authToken.use_certificate): the key of the client
// certificate the request presented.
func (g *Gateway) certAuth(def *apidef.APIDefinition, pols policy.Set) chain.Step {
	return (&auth.CertAuth{
		OrgID:    def.OrgID,
		Sessions: g.sessions,
		Policies: pols,
		Stored:   g.certStore.Holds,
		Now:      g.now,
		Asked:    g.askedClientCert,
	}).Step()
}

// authReplies are the key check's refusals, as override_messages sets them.
type authReplies struct{ missing, notFound chain.Reply }

func newAuthReplies(cfg *config.Config) authReplies {
	return authReplies{
		missing:  overrideReply(cfg, config.ErrAuthFieldMissing, auth.DefaultMissing),
		notFound: overrideReply(cfg, config.ErrAuthKeyNotFound, auth.DefaultNotFound),
	}
}

// overrideReply is the refusal Tyk names id: def, as override_messages changes it.
func overrideReply(cfg *config.Config, id string, def chain.Reply) chain.Reply {
	status, msg := cfg.Reply(id, def.Status, def.Message)
	return chain.Reply{Status: status, Message: msg, Flag: def.Flag}
}

// selectVersion picks the request's API version, refuses expired versions and applies the
// version's endpoint lists.
func (rt *apiRuntime) selectVersion(g *Gateway, def *apidef.APIDefinition) func(http.ResponseWriter, *http.Request, *chain.Context) error {
	vd, defaultVersion := def.VersionDefinition, def.VersionData.DefaultVersion
	key := vd.Key
	if key == "" {
		key = versionKey(vd.Location)
	}
	return func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.Refusal != nil {
			return c.Refusal
		}
		expiresHeader := ""
		if rt.expires != nil {
			if !g.now().Before(rt.expires.at) {
				return chain.Errorf(http.StatusForbidden, chain.MsgAPIExpired, fmt.Errorf("the API expired at %s", rt.expires.at.Format(apidef.ExpiresLayout)))
			}
			expiresHeader = rt.expires.header
		}
		v := rt.single
		if v == nil {
			name := ""
			switch vd.Location {
			case "header":
				name = r.Header.Get(key)
			case "url-param":
				name = r.URL.Query().Get(key)
			case "url":
				// A first segment that names no version is an ordinary path under the
				// default version. One that does is not part of the endpoint: lists match
				// what follows it, whether or not it is stripped before proxying.
				if seg, rest, _ := strings.Cut(strings.TrimPrefix(c.Path, "/"), "/"); rt.version(seg) != nil {
					name, c.VersionSegment, c.Path = seg, seg, "/"+rest
				}
			}
			if name == "" {
				name = defaultVersion
			}
			if name == "" {
				return chain.Errorf(http.StatusForbidden, msgVersionInfoNotFound, errors.New("the request names no version and the API has no default_version"))
			}
			if v = rt.version(name); v == nil {
				return chain.Errorf(http.StatusForbidden, chain.MsgVersionNotFound, fmt.Errorf("unknown version %q", name))
			}
		}
		if !v.expires.IsZero() && !g.now().Before(v.expires) {
			return chain.Errorf(http.StatusForbidden, chain.MsgVersionExpired, fmt.Errorf("version %q expired at %s", v.name, v.expires.Format(apidef.ExpiresLayout)))
		}
		if expiresHeader == "" {
			expiresHeader = v.expiresHeader
		}
		c.Version, c.VersionSizeLimit, c.Upstream = v.name, v.sizeLimit, v.upstream
		// c.Path is final now: what follows matches against its readings.
		c.Readings = endpoint.AppendReadings(c.ReadingsBuffer(), c.Path)
		ignored, reply, err := v.lists.Check(r.Method, c.Readings, c.Loop != nil)
		c.Ignored, c.MockReply = ignored, reply+1
		if err == nil && reply < 0 && expiresHeader != "" {
			// Tyk tells clients when the API or version they call expires, once the endpoint
			// lists let the request on (not on their refusals nor on mock replies). A slice of
			// the request's own: a plugin may write into the header's values.
			w.Header()["X-Tyk-Api-Expires"] = []string{expiresHeader}
		}
		return err
	}
}

// forward sends the request upstream: the path (as the chain left it) with the listen path
// stripped when the API says so, re-checked to be canonical so that nothing a step did can
// smuggle a dot segment or an encoded separator past the router.
func (rt *apiRuntime) forward(w http.ResponseWriter, r *http.Request, c *chain.Context) {
	if c.Cache == nil {
		rt.forwardTo(w, r, c)
		return
	}
	// The response cache keeps what is written, once written whole: a copy the proxy aborts
	// (it panics with http.ErrAbortHandler) never reaches Done.
	rt.forwardTo(c.Cache.Wrap(w), r, c)
	c.Cache.Done(c)
}

// markAnswered wraps an upstream's response hook: once the hooks let the response through, the
// response is the upstream's, which the response cache may keep.
func markAnswered(next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		if next != nil {
			if err := next(res); err != nil {
				return err
			}
		}
		if c := chain.FromRequest(res.Request); c != nil {
			c.UpstreamAnswered = true
		}
		return nil
	}
}

// forwardTo is forward without the response cache.
func (rt *apiRuntime) forwardTo(w http.ResponseWriter, r *http.Request, c *chain.Context) {
	path := r.URL.Path
	if path != c.FullPath {
		if got, err := router.Canonicalize(router.Escape(path)); err != nil || got != path {
			chain.WriteErrorFor(w, r, http.StatusBadRequest, chain.MsgBadRequest)
			return
		}
	}
	if rt.stripVersion && c.VersionSegment != "" && rt.stripsSegment(c.VersionSegment) {
		lp := strings.TrimSuffix(c.ListenPath, "/")
		if seg := lp + "/" + c.VersionSegment; hasSegmentPrefix(path, seg) {
			path = lp + path[len(seg):]
			if path == "" {
				path = "/"
			}
		}
	}
	if rt.stripListen && c.ListenPath != "/" && hasSegmentPrefix(path, c.ListenPath) {
		path = relative(path, c.ListenPath)
	}
	if vs := rt.ownVersionStrip(); vs != nil && vs.location != "url" && c.LoopTo == nil {
		// Not when a URL rewrite loops the request: the API it loops to reads it again.
		stripVersionData(r, vs.location, vs.key)
	}
	c.ForwardPath, c.Writer, c.Request = path, w, r
	if rt.track == nil && rt.obs == nil && rt.access == nil && rt.trace == nil {
		rt.serveUpstream(w, r, c)
		return
	}
	var up *tracing.Span
	if sp, ok := c.State.Span.(*tracing.Span); ok {
		method := r.Method
		if c.Method != "" {
			method = c.Method
		}
		// The upstream's spans are children of the upstream span: its context replaces
		// whatever trace context the client sent.
		up = sp.Upstream(method, r.Header)
	}
	start := time.Now()
	rt.serveUpstream(w, r, c)
	c.UpstreamTime = time.Since(start)
	if up != nil {
		up.EndUpstream(c.UpstreamURL, writtenStatus(w))
	}
	if rt.obs != nil {
		rt.obs.Upstream(c.UpstreamTime)
	}
}

func hasSegmentPrefix(path, prefix string) bool {
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// newUpstream builds the forwarder of an API, to override when set, else to its targets, with
// rt's response hooks and traffic middleware, adding via (viaVersion and the API's Via name) to
// the Via header of what it forwards.
func (g *Gateway) newUpstream(def *apidef.APIDefinition, override string, rt *apiRuntime, via string, sign *httpsig.Signer) (handler, error) {
	hooks, t := rt.hooks, &rt.traffic
	var modify func(*http.Response) error
	if hooks.response != nil {
		modify = hooks.response.Modify
	}
	detailed := def.DetailedTracing && g.tracer != nil
	if t.headers.HasResponse() {
		modify = transformResponseHeaders(t.headers, detailed, modify)
	}
	// The body transform runs before the header transforms and the response plugins, as Tyk's.
	if t.bodies.HasResponse() {
		modify = g.transformResponseBody(def.APIID, t.bodies, detailed, modify)
	}
	if !def.UseKeylessAccess {
		modify = replaceRateLimitHeaders(g.cfg.RateHeaders(), modify)
	}
	if def.CORS.On() || g.tracer != nil {
		modify = dropUpstreamAnswered(def.CORS.On(), modify)
	}
	if rt.cache != nil {
		modify = markAnswered(modify)
	}
	if e := rt.errs; e != nil {
		modify = overrideUpstream(e, modify)
	}
	targets := []string{def.Proxy.TargetURL}
	switch {
	case override != "":
		targets = []string{override}
	case def.Proxy.EnableLoadBalancing:
		targets = def.Proxy.Targets
	}
	if def.Proxy.ServiceDiscovery.UseDiscoveryService && override == "" {
		// The targets come from the discovery service; target_url stands in until it first
		// answers, as in Tyk (without one: 503).
		var fallback handler = allHostsDown{}
		if t := def.Proxy.TargetURL; t != "" {
			u, err := g.upstreamTo(def, []string{t}, modify, via, sign)
			if err != nil {
				return nil, err
			}
			fallback = u
		}
		lb := def.Proxy.EnableLoadBalancing
		return g.newDiscovered(def, fallback, func(ts []string) (handler, error) {
			if !lb {
				ts = ts[:1] // without load balancing the first, as Tyk's nextTarget
			}
			return g.upstreamTo(def, ts, modify, via, sign)
		}), nil
	}
	return g.upstreamTo(def, targets, modify, via, sign)
}

// allHostsDown answers an API with no target to send to: Tyk's 503.
type allHostsDown struct{}

func (allHostsDown) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	chain.WriteFlaggedError(w, r, http.StatusServiceUnavailable, chain.MsgAllHostsDown, "NHU")
}

// upstreamTo returns the proxy to targets of an API, its response hook modify.
func (g *Gateway) upstreamTo(def *apidef.APIDefinition, targets []string, modify func(*http.Response) error, via string, sign *httpsig.Signer) (*proxy.Upstream, error) {
	u, err := proxy.New(proxy.Options{
		APIID:             def.APIID,
		Targets:           targets,
		PreserveHost:      def.Proxy.PreserveHostHeader,
		DisableStripSlash: def.Proxy.DisableStripSlash,
		Via:               via,
		Credentials:       upstreamCredentials(def),
		Sign:              signFunc(sign),
		TransportFor: func(target *url.URL) (http.RoundTripper, error) {
			return g.transports.forTarget(def, target)
		},
		Logger:         g.log,
		ErrorLog:       g.upstreamLog,
		ModifyResponse: modify,
		Down:           g.uptimeDown(def),
	})
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	return u, nil
}

// tykStepNames are the names of Tyk's middleware for the built-in steps that are one of them:
// with detailed_tracing their spans are named as Tyk names them, so that queries written for
// Tyk's traces find them. Gatehouse's own steps keep their names.
var tykStepNames = map[string]string{
	"version":           "VersionCheck",
	"request_size":      "RequestSizeLimitMiddleware",
	"cors":              "CORSMiddleware",
	"context_vars":      "MiddlewareContextVars",
	"auth_key":          "AuthKey",
	"auth_jwt":          "JWTMiddleware",
	"auth_basic":        "BasicAuthKeyIsValid",
	"auth_hmac":         "HTTPSignatureValidationMiddleware",
	"key_expired":       "KeyExpired",
	"access_rights":     "AccessRightsCheck",
	"api_rate_limit":    "RateLimitForAPI",
	"rate_limit_quota":  "RateLimitAndQuotaCheck",
	"org_limits":        "OrganizationMonitor",
	"validate_json":     "ValidateJSON",
	"validate_request":  "ValidateRequest",
	"mock_response":     "MockResponseMiddleware",
	"transform_body":    "TransformMiddleware",
	"transform_headers": "RequestHeaderInjector",
	"url_rewrite":       "URLRewriteMiddleware",
	"method_transform":  "TransformMethod",
	"cache":             "RedisCacheMiddleware",
}

// tracedSteps gives each built-in step a span below the request's (Tyk's detailed_tracing),
// named as Tyk names its middleware where the step is one of them. Plugin hooks have spans of
// their own already. A step that fails the request marks its span failed.
func tracedSteps(steps []chain.Step) []chain.Step {
	out := make([]chain.Step, len(steps))
	for i, s := range steps {
		out[i] = s
		if strings.Contains(s.Name, ":") || s.Name == "go_plugin" {
			continue
		}
		name, run := s.Name, s.Run
		if tyk, ok := tykStepNames[name]; ok {
			name = tyk
		}
		out[i].Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
			sp := stepSpan(c, true, name)
			err := run(w, r, c)
			endStepSpan(sp, err)
			return err
		}
	}
	return out
}

// stepSpan starts the span of a built-in step below the request's, with detailed tracing on
// (on); nil otherwise, or when the request is not traced.
func stepSpan(c *chain.Context, on bool, name string) reqctx.Span {
	if !on || c.State == nil || c.State.Span == nil {
		return nil
	}
	return c.State.Span.StartChild(name)
}

// endStepSpan ends a step's span (nil: none), failed when the step failed the request.
func endStepSpan(sp reqctx.Span, err error) {
	if sp == nil {
		return
	}
	if err != nil && !errors.Is(err, chain.ErrHandled) && !errors.Is(err, chain.ErrForward) {
		sp.RecordError(err)
	}
	sp.End()
}

// upstreamCredentials returns the header upstream basic auth sets on every upstream request
// (upstream_auth), or none.
func upstreamCredentials(def *apidef.APIDefinition) proxy.Header {
	if !def.UpstreamAuth.BasicAuthOn() {
		return proxy.Header{}
	}
	b := def.UpstreamAuth.BasicAuth
	return proxy.Header{Name: b.HeaderFor(), Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(b.Username+":"+b.Password))}
}

// replaceRateLimitHeaders wraps a keyed API's response hook: the upstream's own X-RateLimit-*
// headers do not reach the client beside the gateway's (which describe the key's quota or rate
// limit), as in Tyk; with rateHeaders (rate_limit_response_headers "rate_limits") they never
// do, as Tyk clears them then whether or not it sets its own.
func replaceRateLimitHeaders(rateHeaders bool, next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		drop := rateHeaders
		if !drop {
			if c := chain.FromRequest(res.Request); c != nil && c.Writer != nil {
				_, drop = c.Writer.Header()[keylimit.HeaderLimit]
			}
		}
		if drop {
			h := res.Header
			delete(h, keylimit.HeaderLimit)
			delete(h, keylimit.HeaderRemaining)
			delete(h, keylimit.HeaderReset)
			// Go's spelling, for an upstream header that came through canonicalisation.
			delete(h, "X-Ratelimit-Limit")
			delete(h, "X-Ratelimit-Remaining")
			delete(h, "X-Ratelimit-Reset")
		}
		if next != nil {
			return next(res)
		}
		return nil
	}
}
