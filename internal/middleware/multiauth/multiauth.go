// Package multiauth runs several auth methods on one API, as Tyk does when a definition enables
// more than one (basic auth, HMAC signatures, JWT, the key check): each runs in Tyk's order and
// each must pass; the session of the base identity provider (base_identity_provided_by) is the
// one the request carries on, for the key checks, rate limits, quotas and plugins after auth.
// With security_requirements (Tyk OAS's compliant security processing), a request passes with
// any one of several sets of methods instead, every method of the set passing.
//
// Unlike Tyk, which checks only the base identity's key, every method's key must also be active,
// unexpired and allowed to call the API: a key that would be refused on its own does not help
// another one in.
package multiauth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Method is one auth method of an API.
type Method struct {
	// Name is Tyk's name for it (apidef.AuthToken, apidef.AuthHMACKey, ...).
	Name string
	// Step checks the request's credentials for the method and makes its key the request's
	// session. It must not strip the credentials: All does, once every method has passed.
	Step chain.Step
	// Tokens is where the method reads its credentials.
	Tokens auth.TokenSource
}

// All is the compiled auth of an API with several methods.
type All struct {
	// Methods are the API's methods, in Tyk's order.
	Methods []Method
	// sets are the sets of methods a request may pass with, each in Tyk's order, with the
	// method whose session the request keeps when it passes with that set.
	sets []set
	// Checks are what the key of every other method must pass (inactive, expired, access
	// rights); the base identity's key passes them later in the chain, after the post_key_auth
	// hooks.
	Checks []chain.Step
	// StripAuthData removes every method's credentials once a set has passed.
	StripAuthData bool
}

type set struct {
	methods []Method
	idx     []int // each method's position in All.Methods
	base    string
}

// New compiles the auth of methods, in Tyk's order. With alternatives (names of methods, as
// apidef.APIDefinition.AuthAlternatives gives them), a request passes with any one of them,
// tried in order; without, every method must pass. base names the method whose session the
// request keeps; in a set without it, the set's last method's.
func New(methods []Method, alternatives [][]string, base string, checks []chain.Step, strip bool) (*All, error) {
	byName := map[string]int{}
	for i, m := range methods {
		byName[m.Name] = i
	}
	if _, ok := byName[base]; !ok {
		return nil, errors.New("base_identity_provided_by names no auth method of the API")
	}
	a := &All{Methods: methods, Checks: checks, StripAuthData: strip}
	if alternatives == nil {
		a.sets = []set{{methods: methods, base: base}}
		for i := range methods {
			a.sets[0].idx = append(a.sets[0].idx, i)
		}
		return a, nil
	}
	for i, names := range alternatives {
		if len(names) == 0 {
			return nil, fmt.Errorf("security_requirements[%d] is empty", i)
		}
		var s set
		for _, n := range names {
			j, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("security_requirements[%d] names %q, which the API does not run", i, n)
			}
			s.methods, s.idx = append(s.methods, methods[j]), append(s.idx, j)
		}
		s.base = names[len(names)-1]
		if slices.Contains(names, base) {
			s.base = base
		}
		a.sets = append(a.sets, s)
	}
	return a, nil
}

// Step returns the chain step.
func (a *All) Step() chain.Step {
	return chain.Step{Name: "auth_all", Run: a.run}
}

// identity is what an auth step sets on the request: the session and how it is named.
type identity struct {
	session    *apidef.SessionState
	shared     bool
	token      string
	keyHash    string
	stored     session.Read
	fromPlugin bool
}

func save(c *chain.Context) identity {
	return identity{c.State.Session, c.State.SessionShared, c.State.Token, c.KeyHash, c.Stored, c.SessionFromPlugin}
}

func (id identity) restore(c *chain.Context) {
	c.State.Session, c.State.SessionShared, c.State.Token, c.KeyHash, c.Stored, c.SessionFromPlugin = id.session, id.shared, id.token, id.keyHash, id.stored, id.fromPlugin
}

func (a *All) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	// With several sets, the answer when none passes is the first set's refusal of credentials
	// the request did present: a client that sent a bad token learns that, not that another
	// set's credentials are missing.
	var first, presented error
	// What a set that fails leaves besides the identity (a verified JWT's claims, the key's
	// counter names) goes with it.
	jwt0, names0 := c.JWT, c.KeyNames
	// A method that failed fails the later sets naming it without running again: its refusal
	// is counted once (basic auth counts a user's failures).
	// By the method's position, on the stack: no allocation per request.
	var failedAt [8]error
	var failed []error
	if len(a.sets) > 1 {
		failed = failedAt[:]
		if len(a.Methods) > len(failedAt) {
			failed = make([]error, len(a.Methods))
		}
	}
	for _, s := range a.sets {
		by, err := a.runSet(w, r, c, s, failed)
		if err == nil {
			if a.StripAuthData {
				for _, m := range a.Methods {
					m.Tokens.Strip(r)
				}
			}
			return nil
		}
		identity{}.restore(c)
		c.JWT, c.KeyNames = jwt0, names0
		if first == nil {
			first = err
		}
		if presented == nil && !errors.Is(err, chain.ErrNoCredentials) && (by.Tokens == (auth.TokenSource{}) || by.Tokens.Token(r) != "" || errors.Is(err, chain.ErrPresented)) {
			presented = err
		}
	}
	if presented != nil {
		return presented
	}
	return first
}

// runSet runs every method of s, in order; the request keeps the session of s's base. When one
// refuses the request, it returns the refusal and the method. failed, when not nil, holds the
// refusals of methods that failed in earlier sets, by position, and gets this set's.
func (a *All) runSet(w http.ResponseWriter, r *http.Request, c *chain.Context, s set, failed []error) (Method, error) {
	var base identity
	found := false
	for i, m := range s.methods {
		if failed != nil && failed[s.idx[i]] != nil {
			return m, failed[s.idx[i]]
		}
		err := a.runMethod(w, r, c, m, s.base, failed != nil)
		if err != nil {
			if failed != nil {
				failed[s.idx[i]] = err
			}
			return m, err
		}
		if m.Name == s.base {
			base, found = save(c), true
		}
	}
	if !found {
		return Method{}, chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New("the base identity provider did not run"))
	}
	base.restore(c)
	return Method{}, nil
}

// runMethod runs m, which must set a session, and the key checks on it: for every method but the
// set's base, whose key the chain checks later (after the post_key_auth hooks); with several
// sets the base's too (checkBase), so that a set whose base's key is refused lets a later set
// try, rather than the request being refused after the choice.
func (a *All) runMethod(w http.ResponseWriter, r *http.Request, c *chain.Context, m Method, base string, checkBase bool) error {
	// Each method must set the session itself: none is left from the method before, or from
	// a pre hook.
	identity{}.restore(c)
	if err := m.Step.Run(w, r, c); err != nil {
		return err
	}
	if c.State.Session == nil {
		// Never let a method that set no session count as passed.
		return chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New(m.Name+" set no session"))
	}
	if m.Name == base && !checkBase {
		return nil
	}
	for _, ck := range a.Checks {
		if err := ck.Run(w, r, c); err != nil {
			return chain.InStep(ck.Name, err)
		}
	}
	return nil
}
