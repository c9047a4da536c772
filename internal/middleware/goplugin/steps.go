package goplugin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/headers"
	"github.com/gatehouse/gatehouse/internal/middleware/transform"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Env is what hooks need from the gateway.
type Env struct {
	Sessions *session.Manager
	Policies policy.Set
	// Lifetime is how long a session a plugin stores is kept (the API's session_lifetime).
	Lifetime time.Duration
	// BodyLimit bounds a request body a plugin swaps in.
	BodyLimit int64
	Log       *slog.Logger
	// Forbidden, when set, is told of each request a request hook answered 403 (the API
	// fires AuthFailure then, as Tyk does).
	Forbidden func(r *http.Request, c *chain.Context)

	// StaleWrites lets through the log line of a plugin's session write dropped because the key
	// changed while its hook ran (the gateway's: once a minute); nil logs each.
	StaleWrites *logevery.Gate
}

// Request is an API-level request hook: pre, post_key_auth or post.
type Request struct {
	Hook Hook
	Fn   plugin.RequestFunc
	Env  *Env
}

// Step returns the chain step.
func (q *Request) Step() chain.Step {
	return chain.Step{Name: q.Hook.Phase + ":" + q.Hook.Symbol, Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		_, err := q.Env.run(q.Hook, q.Fn, w, r, c)
		return err
	}}
}

// Auth is an auth_check hook: it replaces the built-in key check. It must either answer the
// request itself (refusing it) or call sdk.SetSession; doing neither never lets a request in.
type Auth struct {
	Hook Hook
	Fn   plugin.RequestFunc
	Env  *Env
}

// Step returns the chain step.
func (a *Auth) Step() chain.Step {
	return chain.Step{Name: "auth_check:" + a.Hook.Symbol, Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.Ignored {
			return nil
		}
		set, err := a.Env.run(a.Hook, a.Fn, w, r, c)
		if err != nil {
			return err
		}
		if !set {
			a.Env.Log.Error("auth_check plugin neither answered the request nor called sdk.SetSession; the request is refused", a.Hook.attrs()...)
			return chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New("the auth_check plugin set no session"))
		}
		// Only a session an auth_check hook vouched for may go without access rights: one a
		// pre or post_key_auth hook set does not stand for the key check.
		c.SessionFromPlugin = true
		return nil
	}}
}

// EndpointHook is one per-endpoint plugin (`extended_paths.go_plugin`).
type EndpointHook struct {
	Pattern endpoint.Pattern
	Hook    Hook
	Fn      plugin.RequestFunc
	// LoadErr is set when the plugin could not be loaded: matching requests get 500.
	LoadErr error
}

// Endpoints runs the per-endpoint plugins of the request's version: every entry whose method
// and path match runs, in the order the definition lists them, until one answers the request.
type Endpoints struct {
	ByVersion map[string][]EndpointHook
	Env       *Env
}

// Step returns the chain step.
func (e *Endpoints) Step() chain.Step {
	return chain.Step{Name: "go_plugin", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		hooks := e.ByVersion[c.Version]
		if len(hooks) == 0 {
			return nil
		}
		for i := range hooks {
			h := &hooks[i]
			// A per-endpoint plugin may be a check: it runs when any reading of the path
			// matches, so no spelling skips it.
			if !h.Pattern.MatchAny(r.Method, c.Readings) {
				continue
			}
			if h.LoadErr != nil {
				return chain.Errorf(http.StatusInternalServerError, MsgPluginUnavailable, fmt.Errorf("endpoint plugin %s from %s was not loaded: %w", h.Hook.Symbol, h.Hook.File, h.LoadErr))
			}
			if _, err := e.Env.run(h.Hook, h.Fn, w, r, c); err != nil {
				return err
			}
		}
		return nil
	}}
}

// run calls a request hook with Tyk's semantics. It reports whether the hook set a session.
func (env *Env) run(h Hook, fn plugin.RequestFunc, w http.ResponseWriter, r *http.Request, c *chain.Context) (sessionSet bool, err error) {
	st := c.State
	st.SessionSet, st.ScheduleUpdate, st.Err = false, false, nil
	token := st.Token
	hw := c.NewHookWriter(w)
	restore := withReplayableBody(r, env.BodyLimit)
	var start time.Time
	if h.Obs != nil {
		start = time.Now()
	}
	hs := h.StartSpan(st)
	if h.Phase != "pre" {
		contextData(r, c)
	}
	kept := keepRequest(r)
	perr := call(env.Log, h, func() { fn(hw, r) })
	if hs != nil {
		h.EndSpan(st, hs, hw.Status, perr)
	}
	if h.Obs != nil {
		h.Obs.Call(time.Since(start), hw.Status, perr != nil)
	}
	broken := kept.check(r)
	berr := restore()
	if perr != nil {
		return false, panicked(env.Log, h, hw, r, perr)
	}
	if broken != nil {
		env.Log.Error("plugin left the request unusable; the request gets 500", append(h.attrs(), "error", broken)...)
		if hw.Status == 0 {
			return false, chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError, fmt.Errorf("%s hook %s: %w", h.Phase, h.Symbol, broken))
		}
		return false, chain.ErrHandled
	}
	if st.Err != nil {
		env.Log.Error("plugin misused the sdk", append(h.attrs(), "error", st.Err)...)
		if hw.Status == 0 {
			return false, chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError, st.Err)
		}
		return false, chain.ErrHandled
	}
	if hw.Status != 0 {
		if hw.Status == http.StatusForbidden && env.Forbidden != nil {
			env.Forbidden(r, c)
		}
		// The plugin answered: below 400 a final answer, from 400 an error exactly as written.
		return false, chain.ErrHandled
	}
	if berr != nil {
		return false, berr
	}
	if !st.SessionSet {
		return false, nil
	}
	return true, env.adopt(r, c, h, token)
}

// adopt makes the session a plugin set the request's (see auth.Adopt), and stores it when the
// plugin asked. prevToken is the request's token before the hook ran: while the session keeps
// it, the key hash the request has is still the right one.
func (env *Env) adopt(r *http.Request, c *chain.Context, h Hook, prevToken string) error {
	st := c.State
	st.SessionSet = false
	hash := ""
	if st.Token == prevToken {
		hash = c.KeyHash
	}
	// A session the Gateway API would refuse is not served either: its limits could not be
	// enforced as written (a per of 0, a pattern that does not compile, certificate bindings).
	err := st.Session.Validate()
	if err == nil {
		err = endpoint.CheckPatterns(st.Session.AccessRights)
	}
	if err != nil {
		return chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError,
			fmt.Errorf("the session set by %s hook %s cannot be served: %s", h.Phase, h.Symbol, strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	applied, err := auth.Adopt(c, env.Policies, st.Session, false, st.Token, hash)
	if err != nil {
		// Tyk answers a plugin's session whose policies cannot be applied with 500.
		return chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError, fmt.Errorf("the session set by %s hook %s: %w", h.Phase, h.Symbol, err))
	}
	if !st.ScheduleUpdate {
		return nil
	}
	st.ScheduleUpdate = false
	if st.Token == "" {
		env.Log.Warn("plugin asked to store a session without a KeyID or auth token; it is not stored", h.attrs()...)
		return nil
	}
	id := session.ID{Key: st.Token}
	if !c.Stored.FromStore(st.Token) {
		// A session of the plugin's own making (an auth_check hook's, or one under another
		// KeyID): stored as it is, and what later hooks of the request store is checked
		// against it.
		read, err := env.Sessions.PutRead(r.Context(), id, applied, env.Lifetime)
		if err != nil {
			return storeFailed(h, err)
		}
		c.Stored = read
		return nil
	}
	// The key the request read from the store: written back only while the store still holds
	// what was read, so that a key deleted, or changed, through the Gateway API while the hook
	// ran stays as the Gateway API left it.
	read, written, err := env.Sessions.Update(r.Context(), id, c.Stored, applied, env.Lifetime)
	if err != nil {
		return storeFailed(h, err)
	}
	if !written {
		var held int64
		ok := true
		if env.StaleWrites != nil {
			held, ok = env.StaleWrites.Allow(time.Now())
		}
		if ok {
			env.Log.Warn("plugin's SetSession(r, s, true) not stored: the key was deleted or changed since this request read it (through the Gateway API, by another gateway, or by another request of the same key whose hook stored it first), and storing the copy the hook read would undo that; this request goes on with the hook's session. To store the plugin's change, let a later request set it again: it reads the key as it is now",
				append(h.attrs(), "key_hash", c.KeyHash, "dropped_since_last_line", held)...)
		}
		return nil
	}
	c.Stored = read
	return nil
}

// storeFailed is the error of a request whose plugin's session could not be stored.
func storeFailed(h Hook, err error) error {
	return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("storing the session set by %s hook %s: %w", h.Phase, h.Symbol, err))
}

// contextData makes, or brings up to date, what a hook reading Tyk's ctx.ContextData gets
// (reqctx.State.ContextData), on an API with enable_context_vars: the request's context
// variables (transform.ContextData), then the key and the JWT's claims once auth set them, as
// Tyk's auth middleware adds them. It runs on the request's goroutine, before a hook.
func contextData(r *http.Request, c *chain.Context) {
	st := c.State
	if st.API == nil || !st.API.EnableContextVars {
		return
	}
	if st.ContextData == nil {
		st.ContextData = transform.ContextData(r, c) // the claims of a JWT verified by now included
		st.ContextDataJWT = c.JWT != ""
	}
	if st.Token != "" {
		st.ContextData["token"] = st.Token
	}
	if c.JWT != "" && !st.ContextDataJWT {
		st.ContextDataJWT = true
		for k, v := range c.JWTClaims() {
			st.ContextData[headers.JWTClaimsPrefix+k] = v
		}
	}
}
