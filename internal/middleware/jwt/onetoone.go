package jwt

import (
	"errors"
	"net/http"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/session"
)

// runOneToOne is Tyk's one-to-one mode (no jwt_source): the token names a key, by its kid
// header (unless jwt_skip_kid) or else its identity claim; the key must exist and its
// jwt_data.secret verifies the token (an HMAC secret, or a PEM public key or certificate of the
// API's method). The key's own session then goes through the key steps, its policies applied
// as for any key; nothing is created. Tokens are verified on every request (not cached): the
// key and its secret change through the Gateway API without a reload. What a secret parses to
// is cached by the secret itself (secretCache), so a changed secret is used at once.
func (a *Auth) runOneToOne(r *http.Request, c *chain.Context, raw string) error {
	ctx := r.Context()
	var (
		found      *apidef.SessionState
		name, hash string
		storeErr   error
	)
	claims := jwtlib.MapClaims{}
	tok, err := a.parser.ParseWithClaims(raw, claims, func(t *jwtlib.Token) (any, error) {
		id, err := a.keyName(t, claims)
		if err != nil {
			return nil, err
		}
		s, h, err := a.sessions.Lookup(ctx, id)
		switch {
		case errors.Is(err, session.ErrNotFound):
			return nil, errors.New("no key by the token's id")
		case err != nil:
			storeErr = err
			return nil, err
		}
		k, err := a.secrets.parse("the key's jwt_data.secret", a.method, s.JWTData.Secret)
		if err != nil {
			return nil, err
		}
		found, name, hash = s, id, h
		return k, nil
	})
	if storeErr != nil {
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), storeErr)
	}
	if err != nil {
		return a.parseError(tok, err)
	}
	now := a.now()
	if _, err := a.checkTimes(claims, now); err != nil {
		return err
	}
	if err := a.claims.check(claims, now); err != nil {
		return err
	}
	c.SessionFromPlugin = false
	if _, err := auth.AdoptStored(c, a.sessions, a.policies, found, name, hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err).Flagged("AKI")
	}
	if a.contextVars {
		c.JWT = raw
	}
	if a.strip {
		a.tokens.Strip(r)
	}
	return nil
}

// keyName is the key a one-to-one token names: its kid, unless jwt_skip_kid or empty, else its
// identity claim (jwt_identity_base_field, else sub).
func (a *Auth) keyName(t *jwtlib.Token, claims jwtlib.MapClaims) (string, error) {
	if !a.skipKid {
		if kid, _ := t.Header["kid"].(string); kid != "" {
			return kid, nil
		}
	}
	return a.identity(claims)
}
