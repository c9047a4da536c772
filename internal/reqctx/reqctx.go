// Package reqctx holds the per-request state the gateway shares with plugins through the request
// context. It is internal so that only the gateway and the public sdk package touch it, and, like
// them, it depends on the standard library and apidef alone: plugins link against it.
package reqctx

import (
	"context"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/apidef"
)

type key struct{}

// State is what the gateway knows about one request while its chain runs. The chain runs one
// step at a time on the request's goroutine, so State needs no lock; a plugin that hands the
// request to other goroutines must not touch it from them.
type State struct {
	// API is the definition of the API serving the request. It is shared by every request of a
	// snapshot and must never be modified; sdk.GetDefinition hands plugins a copy.
	API *apidef.APIDefinition
	// OAS is the Tyk OAS document of an OAS API, as read (nil for a Classic API). It is shared
	// and must never be modified; sdk.GetOASDefinition hands plugins a copy.
	OAS []byte

	// Session is the key's session once auth has run (or a plugin set one).
	Session *apidef.SessionState
	// SessionShared says Session is not this request's to change: it is the key store's
	// decoding, which every request with the key shares (its KeyID unset: Token is the key),
	// or a struct of this request's whose maps and slices are that decoding's (policies
	// applied). Reading is free; MutableSession copies it for code that may change it.
	SessionShared bool
	// Token is the auth token the session was found by.
	Token string

	// ClientIP is the client's address as the gateway decided it for the API's IP lists
	// (trusted_proxies: the TCP peer, or what X-Forwarded-For says when the peer is a trusted
	// proxy), set on requests of APIs with plugins; invalid when the peer's address is not one.
	ClientIP netip.Addr

	// SessionSet is set when a plugin calls sdk.SetSession; ScheduleUpdate when it asked for
	// the session to be stored. The gateway clears both once it has acted on them.
	SessionSet     bool
	ScheduleUpdate bool

	// Err records a misuse of the sdk by a plugin (SetSession with a nil session), reported by
	// the gateway as a plugin error once the hook returns.
	Err error

	// Gateway is the gateway's own per-request state, opaque to plugins.
	Gateway any

	// Span is the request's current span when tracing is on: the server span, or the span of
	// the plugin hook running. nil when tracing is off.
	Span Span

	// ContextData is what a Tyk plugin reading ctx.ContextData gets: the request's context
	// variables, with enable_context_vars, from the first hook after the pre hooks (before,
	// nil, as in Tyk). The map is the request's (never reused), made on the request's
	// goroutine before a hook runs; hooks share it, as in Tyk.
	ContextData map[string]any
	// ContextDataJWT is set once the JWT's claims are in ContextData.
	ContextDataJWT bool
}

// MutableSession returns the request's session for code that may change it (a plugin, through
// sdk.GetSession): copied the first time when it is shared (SessionShared), with its KeyID set
// to Token, so that a request that never hands its session out never pays for copying it (its
// meta data may be large).
func (st *State) MutableSession() *apidef.SessionState {
	if st.SessionShared && st.Session != nil {
		st.Session = st.Session.Clone()
		st.Session.KeyID = st.Token
	}
	st.SessionShared = false
	return st.Session
}

// Holder is a request context carrying the request's State: the context and the State in one
// allocation, for the gateway to embed in what it allocates per request. Its Context is the
// context it was attached to; a Holder in use must not be copied or reused.
type Holder struct {
	context.Context
	State State
}

// Value returns the State for the package's key and asks the context below otherwise.
func (h *Holder) Value(k any) any {
	switch tk := k.(type) {
	case key:
		return &h.State
	case interface{ TykContextKey() uint }:
		// Tyk's ctx.ContextData, read by a plugin: the request's context variables.
		if tk.TykContextKey() == tykContextData && h.State.ContextData != nil {
			return h.State.ContextData
		}
	}
	return h.Context.Value(k)
}

// tykContextData is the number of Tyk's ctx.ContextData key.
const tykContextData = 8

// Attach returns r carrying h (and so h.State) as its context, above r's own.
func (h *Holder) Attach(r *http.Request) *http.Request {
	h.Context = r.Context()
	return r.WithContext(h)
}

// Conn is the context of one client connection (the server's ConnContext), under the context
// of every request on it. On an HTTP/1 connection, whose requests are served one at a time, it
// can carry the State of the request being served (Set), so that the gateway need not copy the
// request (Request.WithContext) to carry it: From and FromContext find it below the request's
// own context. That is only sound while nothing reads the request's State after its handler
// returned: the next request on the connection would answer instead. So a request a plugin may
// keep carries its State above its own context (Holder), and HTTP/2 requests, served side by
// side on one connection, never use Conn (ConnFor).
type Conn struct {
	context.Context
	// st is the State of the request being served; only that request's handler, on its
	// goroutine, sets and reads it. Every other value goes to Context, which never changes:
	// the transport's goroutines walk up through Conn after the handler returned, looking
	// for their own values.
	st *State
	// Streams counts the requests in flight on an HTTP/2 connection (the gateway's bound on
	// requests beyond the first of each connection).
	Streams atomic.Int32
}

type connKey struct{}

// NewConn returns a connection context above ctx, carrying no State.
func NewConn(ctx context.Context) *Conn { return &Conn{Context: ctx} }

// Value returns the State set for the package's key (asking the context below when none is),
// the Conn itself for ConnFor's key, and asks the context below for any other.
func (c *Conn) Value(k any) any {
	switch k.(type) {
	case key:
		if c.st != nil {
			return c.st
		}
	case connKey:
		return c
	}
	return c.Context.Value(k)
}

// Set makes st the State the connection's requests carry; Set(nil) ends it. The gateway sets
// it when a request's handler starts and ends it before the handler returns.
func (c *Conn) Set(st *State) { c.st = st }

// ConnFor returns the connection context under r's when r may carry its State there: r is an
// HTTP/1 request (its connection serves one request at a time) that came through a server whose
// ConnContext is NewConn. Otherwise nil.
func ConnFor(r *http.Request) *Conn {
	if r.ProtoMajor != 1 {
		return nil
	}
	return ConnOf(r)
}

// ConnOf returns the connection context of any request, an HTTP/2 stream's too, or nil when
// the server was not given one. Only what is safe for concurrent requests (Streams) may be used
// of an HTTP/2 connection's.
func ConnOf(r *http.Request) *Conn {
	c, _ := r.Context().Value(connKey{}).(*Conn)
	return c
}

// Detach returns ctx for requests served side by side under one connection's context (the
// requests of a batch): ConnFor finds no Conn under it, so that each carries its State itself.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, connKey{}, (*Conn)(nil))
}

// With returns r carrying st.
func With(r *http.Request, st *State) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), key{}, st))
}

// From returns the state r carries, or nil when r did not come through the gateway.
func From(r *http.Request) *State {
	if r == nil {
		return nil
	}
	st, _ := r.Context().Value(key{}).(*State)
	return st
}
