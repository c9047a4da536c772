// Package chain is the request-step abstraction every API's chain is compiled into: a Step runs
// against the request and either lets it go on, answers it itself, or fails with an Error that
// carries the status the client gets. The chain stops at the first step that does not let the
// request go on, and one renderer writes Tyk's JSON error body and logs the failure once.
package chain

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
)

// ErrHandled is returned by a step that has written the response itself (a plugin's final
// answer): the chain stops and nothing more is written.
var ErrHandled = errors.New("chain: response written by step")

// ErrForward is returned by a step that sends the request to the upstream at once, skipping the
// steps after it (CORS options_passthrough, as in Tyk).
var ErrForward = errors.New("chain: forwarded by step")

// Context is what the gateway knows about a request beyond what plugins see.
type Context struct {
	// State is shared with plugins through the request context.
	State *reqctx.State

	// Path is the canonical (decoded) request path with the listen path (and a URL version
	// segment) stripped, always starting with '/': what endpoint lists and allowed URLs are
	// matched against, as in Tyk.
	Path string
	// Readings are the ways an upstream may read Path (endpoint.Readings), set once Path is
	// final (when the version is chosen): endpoint lists, allowed URLs and per-endpoint plugins
	// match against them.
	Readings    []string
	readingsBuf [2]string
	// FullPath is the canonical request path, listen path included.
	FullPath string
	// ListenPath is the normalised listen path the request was routed by.
	ListenPath string

	// Version is the name of the API version serving the request and VersionSizeLimit its
	// global_size_limit in bytes (0 when it has none, or it is disabled).
	Version          string
	VersionSizeLimit int64
	// Refusal, when set, is the request's refusal decided before the chain ran (a base API
	// found no version to serve it): the version step returns it.
	Refusal error
	// VersionSegment is set when the version came from the first path segment (location
	// "url"); Path then no longer holds it.
	VersionSegment string

	// Upstream is where the chain's final step forwards the request: the version's target.
	Upstream http.Handler

	// Ignored is set when the endpoint is in the version's ignored list: auth and limits are
	// skipped.
	Ignored bool
	// MockReply is 1 + the index of the version's Classic mock reply that answers the request
	// (endpoint.Lists.Reply), 0 when none does.
	MockReply int

	// ClientIP is the client's address: the TCP peer, or what X-Forwarded-For says when the peer
	// is a trusted proxy. It is set only for APIs with IP allow or block lists.
	ClientIP netip.Addr
	// CORSPassthrough is set when CORS options_passthrough sent an OPTIONS request on to the
	// upstream: the upstream answers CORS for it, so its own Access-Control-* response headers
	// reach the client. For every other request of an API with CORS on, they are dropped: the
	// gateway is the API's CORS authority, whether or not it allowed the request's origin.
	CORSPassthrough bool
	// TraceID is the request's trace id when the gateway put it in the response
	// (X-Tyk-Trace-Id; the upstream's own is then dropped), and $tyk_context.tyk_trace_id.
	TraceID string
	// Method, when set, is the method the request is forwarded with (method_transforms); steps
	// and plugins see the client's.
	Method string
	// ClientMethod, set with Method, is the method the client sent: the forwarded request (the
	// upstream response's Request) carries Method, so the response steps read this one through
	// ResponseMethod.
	ClientMethod string

	// ContextVars are the request's context variables that the API's header transforms use
	// (`$tyk_context.*`), taken where Tyk takes them, before auth (internal/middleware/headers).
	ContextVars []string
	// RequestID is the request's $tyk_context.request_id, made when first asked for, so that
	// the header transforms, URL rewrites and body transforms all see the same one.
	RequestID string
	// JWT, set by JWT auth on an API with enable_context_vars, is the verified token: its
	// header parameters and claims are Tyk's jwt_claims_<name> context variables, decoded when
	// first read (JWTClaims), so that a request whose API reads none pays nothing and no cache
	// holds them.
	JWT        string
	jwtClaims  map[string]any
	jwtDecoded bool

	// KeyHash identifies the key (SHA-256 of the token) for counters and logs, once auth ran.
	KeyHash string
	// KeyNames, when the key check found the key in the store, are its names, kept by the
	// session manager, so that the limit steps format no counter name. They name the key
	// only while their Hash is KeyHash (another auth step may have changed the key since).
	KeyNames *session.Names
	// Stored is what auth read of the key from the store (the zero Read when the session did
	// not come from it): a plugin's SetSession(r, s, true) writes the key back only while the
	// store still holds that (session.Manager.Update), so that it never brings back a key deleted,
	// or undoes a change made, through the Gateway API while its hook ran.
	Stored session.Read
	// Body, when set, is the client's request body as the gateway wrapped it: its ClientError
	// says whether the client sent a malformed body, so that a failure forwarding it is
	// answered as the client's fault (400), not the upstream's.
	Body interface{ ClientError() error }
	// SessionFromPlugin is set when an auth_check hook set the session (rather than the key store
	// providing it): AccessCheck then lets it in without access rights.
	SessionFromPlugin bool

	// Writer and Request are the client's, kept for the response hooks that run inside the
	// proxy, and ForwardPath the path sent upstream (below the target's own path).
	Writer      http.ResponseWriter
	Request     *http.Request
	ForwardPath string
	// Cache, when set, captures the response on its way to the client (the response cache
	// asked for it: the request was not answered from the cache), and UpstreamAnswered is set
	// once the upstream's response passed the response steps, so that the gateway's own
	// answers are never kept.
	Cache            Capture
	UpstreamAnswered bool
	// CachedResponse is set when the response cache answered the request (analytics tag
	// cached-response, as in Tyk).
	CachedResponse bool
	// Secret is set when the request or its answer carries credentials no record may keep (an
	// OAuth endpoint's: client secrets, passwords, tokens): a detailed analytics record holds
	// neither.
	Secret bool
	// UpstreamTime is how long the upstream took, measured only when the API is tracked for
	// analytics.
	UpstreamTime time.Duration
	// UpstreamURL is the URL of the request sent to the upstream (target, path and query),
	// set by the proxy once it rewrote the request; nil when the upstream was not called.
	UpstreamURL *url.URL
	// Loop is set on a request an API looped to this one (tyk://): how deep it is, and
	// whether this API's auth and limits run again. LoopTo is set by a URL rewrite to a
	// tyk:// target: the request is then looped there rather than forwarded.
	Loop   *Loop
	LoopTo *LoopTarget
	// OrgCounted is the org whose limits counted the request on this API ("" for none), for
	// the APIs it may loop to (Loop.Orgs).
	OrgCounted string
	// Errors writes the request's error answers (the API's and the gateway's error overrides,
	// then the error templates); nil writes Tyk's default body.
	Errors ErrorWriter
	// ErrorFlag is the classification of the error being answered (WriteFlaggedError).
	ErrorFlag string
	// OverriddenStatus is the status an error override replaced (the upstream's, or the
	// gateway's own error's), 0 when none did: the circuit breaker counts it.
	OverriddenStatus int
	// Proxy is the writer the proxy answers the client through, set by the proxy as it starts
	// (ProxyWriter.Forward): the upstream's response headers are moved into its header map.
	Proxy ProxyWriter
	// HookWriter, on an API with plugins, is the request's own writer for plugin hooks, set
	// afresh for each hook (so a hook's call allocates none): it is never reused by another
	// request, since a plugin may keep it. nil elsewhere.
	HookWriter *reqctx.Writer
}

// NewHookWriter returns the writer a plugin hook answers through, writing to w: the request's
// HookWriter, or a new one when it has none.
func (c *Context) NewHookWriter(w http.ResponseWriter) *reqctx.Writer {
	hw := c.HookWriter
	if hw == nil {
		hw = new(reqctx.Writer)
	}
	*hw = reqctx.Writer{ResponseWriter: w}
	return hw
}

// ResponseMethod returns the method the response steps match their endpoints with, for req, the
// request as forwarded: the client's, which a method transform may have replaced in req (Tyk's
// response transforms and response header transforms look up ctxGetRequestMethod).
func (c *Context) ResponseMethod(req *http.Request) string {
	if c.ClientMethod != "" {
		return c.ClientMethod
	}
	return req.Method
}

// ReadingsBuffer returns room for Readings inside the context, so that setting them allocates
// nothing: c.Readings = endpoint.AppendReadings(c.ReadingsBuffer(), c.Path).
func (c *Context) ReadingsBuffer() []string { return c.readingsBuf[:0] }

// FromRequest returns the gateway context a request (inbound, or outbound to the upstream)
// carries, or nil.
func FromRequest(r *http.Request) *Context {
	st := reqctx.From(r)
	if st == nil {
		return nil
	}
	c, _ := st.Gateway.(*Context)
	return c
}

// Capture records a response on its way to the client: Wrap gives the writer the response is
// written through, and Done, called once the response was written whole, keeps it.
type Capture interface {
	Wrap(w http.ResponseWriter) http.ResponseWriter
	Done(c *Context)
}

// Step is one stage of an API's chain.
type Step struct {
	// Name identifies the step in logs.
	Name string
	// Run lets the request go on by returning nil, stops it with ErrHandled after writing the
	// response itself, or fails it with an error (an *Error for a client-facing status; any
	// other error is a 500).
	Run func(w http.ResponseWriter, r *http.Request, c *Context) error
}

// Renderer writes the response for a failed step.
type Renderer func(w http.ResponseWriter, r *http.Request, c *Context, step string, err error)

// Chain is an API's compiled sequence of steps followed by the final handler (the upstream).
// It is built once per snapshot and shared by every request.
type Chain struct {
	steps  []Step
	final  func(w http.ResponseWriter, r *http.Request, c *Context)
	render Renderer
}

// New returns a chain of steps ending in final, failing through render.
func New(steps []Step, final func(w http.ResponseWriter, r *http.Request, c *Context), render Renderer) *Chain {
	return &Chain{steps: steps, final: final, render: render}
}

// Steps returns the names of the chain's steps in order, for tests and diagnostics.
func (ch *Chain) Steps() []string {
	names := make([]string, len(ch.steps))
	for i, s := range ch.steps {
		names[i] = s.Name
	}
	return names
}

// Serve runs the request through the chain.
func (ch *Chain) Serve(w http.ResponseWriter, r *http.Request, c *Context) {
	for i := range ch.steps {
		s := &ch.steps[i]
		if err := s.Run(w, r, c); err != nil {
			if errors.Is(err, ErrHandled) {
				return
			}
			if errors.Is(err, ErrForward) {
				break
			}
			ch.render(w, r, c, s.Name, err)
			return
		}
	}
	ch.final(w, r, c)
}

// JWTClaims returns the header parameters and claims of the request's verified JWT (c.JWT),
// claims winning a name both have, as Tyk sets its jwt_claims_<name> context variables; nil
// without one. They are decoded once per request; the map is the request's own.
func (c *Context) JWTClaims() map[string]any {
	if c.jwtDecoded || c.JWT == "" {
		return c.jwtClaims
	}
	c.jwtDecoded = true
	header, rest, _ := strings.Cut(c.JWT, ".")
	payload, _, _ := strings.Cut(rest, ".")
	m := map[string]any{}
	for _, seg := range []string{header, payload} {
		// The token was verified, so both segments decode; a segment that does not (it never
		// happens) adds nothing.
		data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
		if err != nil {
			continue
		}
		var part map[string]any
		if json.Unmarshal(data, &part) == nil {
			maps.Copy(m, part)
		}
	}
	c.jwtClaims = m
	return m
}

// Loop is what a looped request carries from the API that looped it (Tyk's loop level and
// check_limits).
type Loop struct {
	// Level is how many loops brought the request here (1 for the first), and Limit how many
	// it may take.
	Level, Limit int
	// CheckLimits runs this API's key lookup and rate limits and quotas again (Tyk's
	// check_limits=true).
	CheckLimits bool
	// Carried is the looping API's identity when the request brought its session (it was
	// keyed) and does not check limits: this API's key lookup then takes it instead (the
	// key's expiry and access rights are still checked), and while it is the session in
	// force this API's limits do not count the request (SkipsLimits).
	Carried *Identity
	// Orgs are the orgs whose limits (enforce_org_quotas) counted the request in the APIs it
	// looped from: an API of one of them does not count it again (unless CheckLimits).
	Orgs []string
}

// Identity is who a request's key is: its session and what the limits and logs know it by.
type Identity struct {
	Session    *apidef.SessionState
	Token      string
	KeyHash    string
	KeyNames   *session.Names
	Stored     session.Read
	FromPlugin bool
}

// IdentityOf returns c's identity (its session is the state's).
func IdentityOf(c *Context) *Identity {
	return &Identity{Session: c.State.Session, Token: c.State.Token, KeyHash: c.KeyHash, KeyNames: c.KeyNames, Stored: c.Stored, FromPlugin: c.SessionFromPlugin}
}

// Take makes id the identity of c's request: a session no step of c's may change.
func (id *Identity) Take(c *Context) {
	c.State.Session, c.State.SessionShared, c.State.Token = id.Session, true, id.Token
	c.KeyHash, c.KeyNames, c.Stored, c.SessionFromPlugin = id.KeyHash, id.KeyNames, id.Stored, id.FromPlugin
}

// SkipsLimits reports whether c's limits skip the request: another API looped it here with
// its key, which is still the key in force (Tyk skips a looped request's limits unless
// check_limits=true; Gatehouse only while the key is the looping API's). The key is known by
// its token and hash: a plugin that reads the session works on a copy of it.
func (c *Context) SkipsLimits() bool {
	if c.Loop == nil || c.Loop.Carried == nil {
		return false
	}
	id := c.Loop.Carried
	if id.Token == "" && id.KeyHash == "" {
		return c.State.Session == id.Session
	}
	return c.State.Token == id.Token && c.KeyHash == id.KeyHash
}

// LoopTarget is where a URL rewrite loops a request: the API (id, looping name or "self",
// and Key, apidef.LoopKey of it), the path below its listen path, and Tyk's control
// parameters (method, loop_limit, check_limits), as apidef.ParseLoopControls read them.
type LoopTarget struct {
	API, Key, Path string
	apidef.LoopControls
}
