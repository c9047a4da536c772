// Package multiauth runs several auth methods on one API, as Tyk does when a definition enables
// more than one (basic auth, HMAC signatures, JWT, the key check): each runs in Tyk's order and
// each must pass; the session of the base identity provider (base_identity_provided_by) is the
// one the request carries on, for the key checks, rate limits, quotas and plugins after auth.
//
// Unlike Tyk, which checks only the base identity's key, every method's key must also be active,
// unexpired and allowed to call the API: a key that would be refused on its own does not help
// another one in.
package multiauth

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
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
	// Methods run in this order.
	Methods []Method
	// Base names the method whose session the request keeps.
	Base string
	// Checks are what the key of every other method must pass (inactive, expired, access
	// rights); the base identity's key passes them later in the chain, after the post_key_auth
	// hooks.
	Checks []chain.Step
	// StripAuthData removes every method's credentials once all have passed.
	StripAuthData bool
}

// New checks that base names one of the methods.
func New(methods []Method, base string, checks []chain.Step, strip bool) (*All, error) {
	for _, m := range methods {
		if m.Name == base {
			return &All{Methods: methods, Base: base, Checks: checks, StripAuthData: strip}, nil
		}
	}
	return nil, errors.New("base_identity_provided_by names no auth method of the API")
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
	fromPlugin bool
}

func save(c *chain.Context) identity {
	return identity{c.State.Session, c.State.SessionShared, c.State.Token, c.KeyHash, c.SessionFromPlugin}
}

func (id identity) restore(c *chain.Context) {
	c.State.Session, c.State.SessionShared, c.State.Token, c.KeyHash, c.SessionFromPlugin = id.session, id.shared, id.token, id.keyHash, id.fromPlugin
}

func (a *All) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	var base identity
	found := false
	for _, m := range a.Methods {
		// Each method must set the session itself: none is left from the method before, or
		// from a pre hook.
		identity{}.restore(c)
		if err := m.Step.Run(w, r, c); err != nil {
			return err
		}
		if c.State.Session == nil {
			// Never let a method that set no session count as passed.
			return chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New(m.Name+" set no session"))
		}
		if m.Name == a.Base {
			base, found = save(c), true
			continue
		}
		for _, s := range a.Checks {
			if err := s.Run(w, r, c); err != nil {
				return chain.InStep(s.Name, err)
			}
		}
	}
	if !found {
		return chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New("the base identity provider did not run"))
	}
	base.restore(c)
	if a.StripAuthData {
		for _, m := range a.Methods {
			m.Tokens.Strip(r)
		}
	}
	return nil
}
