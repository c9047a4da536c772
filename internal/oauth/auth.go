package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Tyk's answers of the bearer token check (oauth.auth_field_missing, oauth.auth_field_malformed,
// oauth.key_not_found and oauth.client_deleted, which override_messages changes).
var (
	DefaultMissing       = chain.Reply{Status: http.StatusBadRequest, Message: "Authorization field missing", Flag: "AMF"}
	DefaultMalformed     = chain.Reply{Status: http.StatusBadRequest, Message: "Bearer token malformed", Flag: "IHD"}
	DefaultNotFound      = chain.Reply{Status: http.StatusForbidden, Message: "Key not authorised", Flag: "AKI"}
	DefaultClientDeleted = chain.Reply{Status: http.StatusForbidden, Message: "Key not authorised. OAuth client access was revoked", Flag: "EAD"}
)

// clientCheckEvery is how long a client found is taken as still there: a client deleted on
// any gateway stops its tokens on every gateway within it (Tyk's is the same second).
const clientCheckEvery = time.Second

// maxClientsSeen bounds the clients whose check is remembered.
const maxClientsSeen = 10000

// Auth is the bearer token check of an API with use_oauth2: the token, sent as
// "Bearer <token>" where auth_configs.oauth says (the Authorization header by default), must be
// a key issued to one of the API's clients, and the client must still be there.
type Auth struct {
	APIID    string
	Tokens   auth.TokenSource
	Sessions *session.Manager
	Policies policy.Set
	Store    Store
	Strip    bool
	// The refusals; zero values are Tyk's defaults.
	Missing, Malformed, NotFound, ClientDeleted chain.Reply
	Now                                         func() time.Time

	clients *clientsSeen
}

// clientsSeen remembers when each client was last found.
type clientsSeen struct {
	mu   sync.Mutex
	seen map[string]time.Time // client id → when it was last found
}

// NewAuth compiles the check for def.
func NewAuth(def *apidef.APIDefinition, a Auth) *Auth {
	a.APIID = def.APIID
	a.Tokens = auth.NewTokenSource(def.OAuthTokenConfig())
	a.Strip = def.StripAuthData
	for _, p := range []struct {
		r   *chain.Reply
		def chain.Reply
	}{{&a.Missing, DefaultMissing}, {&a.Malformed, DefaultMalformed}, {&a.NotFound, DefaultNotFound}, {&a.ClientDeleted, DefaultClientDeleted}} {
		if p.r.Status == 0 {
			*p.r = p.def
		}
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	a.clients = &clientsSeen{}
	return &a
}

// Step returns the chain step.
func (a *Auth) Step() chain.Step {
	return chain.Step{Name: "auth_oauth", Run: a.run}
}

func (a *Auth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	// Tyk's reading: space-separated parts, the first "Bearer" in any case, the second the
	// token (read without splitting the whole value: no allocation per request).
	scheme, rest, ok := strings.Cut(a.Tokens.Raw(r), " ")
	if !ok {
		return a.Missing.Err(fmt.Errorf("%w: no bearer token in the request", chain.ErrNoCredentials))
	}
	if !strings.EqualFold(scheme, "bearer") {
		return a.Malformed.Err(fmt.Errorf("%w: the credential is not a bearer token", chain.ErrNoCredentials))
	}
	token, _, _ := strings.Cut(rest, " ")
	if token == "" {
		return a.Missing.Err(errors.New("an empty bearer token")) // Tyk looks it up, and fires AuthFailure
	}
	shared, names, err := a.Sessions.LookupNames(r.Context(), token)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return a.NotFound.Err(errors.New("token not found"))
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	// Only a key issued to a client is a bearer token: a basic auth user's, a JWT key's or an
	// ordinary key is not.
	if shared.OauthClientID == "" || shared.BasicAuthData.Password != "" || shared.JWTData.Secret != "" || shared.Certificate != "" {
		return a.NotFound.Err(errors.New("the key was not issued by an OAuth client"))
	}
	if err := a.clientThere(r, shared.OauthClientID); err != nil {
		return err
	}
	c.SessionFromPlugin = false
	if _, err := auth.AdoptStored(c, a.Sessions, a.Policies, shared, token, names.Hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err)
	}
	c.KeyNames = names
	if a.Strip {
		a.Tokens.Strip(r)
	}
	return nil
}

// clientThere checks that the client a token was issued to is still one of the API's: found
// within clientCheckEvery, or in the store now.
func (a *Auth) clientThere(r *http.Request, id string) error {
	now, cs := a.Now(), a.clients
	cs.mu.Lock()
	at, ok := cs.seen[id]
	cs.mu.Unlock()
	if ok && now.Sub(at) < clientCheckEvery && !now.Before(at) {
		return nil
	}
	_, err := a.Store.Client(r.Context(), a.APIID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		cs.mu.Lock()
		delete(cs.seen, id)
		cs.mu.Unlock()
		return a.ClientDeleted.Err(errors.New("the token's client is not one of the API's"))
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	cs.mu.Lock()
	if cs.seen == nil || len(cs.seen) >= maxClientsSeen {
		cs.seen = make(map[string]time.Time)
	}
	cs.seen[id] = now
	cs.mu.Unlock()
	return nil
}
