// Package jwt is Tyk's JWT auth (enable_jwt) in its centralised mode: a token signed with the
// key jwt_source holds (an HMAC secret, a PEM public key or certificate) or with a key of the
// JWKS it names, verified with only the algorithms of jwt_signing_method; its time claims
// checked with Tyk's skews; and an internal session per identity, created from the token's
// policies and stored like any key, so that the key steps after it (expiry, access rights, rate
// limit, quota) apply per identity.
package jwt

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

const (
	hmacMethod  = apidef.JWTHMAC
	rsaMethod   = apidef.JWTRSA
	ecdsaMethod = apidef.JWTECDSA
)

// algorithms are the JWS algorithms each signing method accepts: Tyk's families (RSA includes
// RSA-PSS). Nothing else is ever verified, so "none", and an HMAC token checked against an RSA
// or EC public key used as its secret, are refused by construction.
var algorithms = map[string][]string{
	hmacMethod:  {"HS256", "HS384", "HS512"},
	rsaMethod:   {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	ecdsaMethod: {"ES256", "ES384", "ES512"},
}

// Tyk's answers (docs/middleware.md).
const (
	msgNotAuthorized    = "Key not authorized"
	msgUnexpectedMethod = "Key not authorized: Unexpected signing method"
	msgExpired          = "Key not authorized: token has expired"
	msgIssuedInFuture   = "Key not authorized: token used before issued"
	msgNotYetValid      = "Key not authorized: token is not valid yet"
	msgNoIdentity       = "no suitable claims for user ID were found"
	msgEmptySub         = "found an empty user ID in sub claim"
	msgEmptyBaseClaim   = "found an empty user ID in predefined base claim, claim: "
	msgNoPolicy         = "key not authorized: no matching policy"
	msgPolicyNotFound   = "key not authorized: no matching policy found"
	msgNoScopePolicy    = "key not authorized: no matching policy found in scope claim"
	msgNoScopeOrPolicy  = "key not authorized: no scope or policy in token"
	msgCreateKey        = "failed to create key: "
)

// SessionIDMeta is the meta data field of a JWT session that holds its id, as in Tyk.
const SessionIDMeta = session.JWTSessionIDMeta

// Options are what the step needs besides the definition.
type Options struct {
	Sessions *session.Manager
	Policies policy.Set
	Now      func() time.Time
	// Client fetches JWKS; nil uses a client of its own.
	Client *http.Client
	// JWKSCacheTTL, JWKSRefetch and JWKSTimeout bound JWKS fetching; zero uses the defaults.
	JWKSCacheTTL, JWKSRefetch, JWKSTimeout time.Duration
	// Cache, when set, remembers verified tokens (shared by the APIs of a gateway).
	Cache *Cache
	// JWKS, when set, holds the JWKS across compilations (reloads); JWKS fetch settings
	// are then those of the auth that first named the URL.
	JWKS *JWKSSets
	// Log receives the warnings of non-blocking claim checks; nil discards them.
	Log *slog.Logger
}

// generations numbers compiled JWT auths, so that no two share cache entries.
var generations atomic.Uint64

// Auth is the compiled JWT auth of an API.
type Auth struct {
	orgID   string
	tokens  auth.TokenSource
	strip   bool
	method  string
	allowed []string
	keys    keySource
	parser  *jwtlib.Parser
	// identityFields, policyFields and scopeClaims are the claims tried in order for the
	// identity, the base policy and the scopes (jwt_subject_claims or jwt_identity_base_field,
	// ...).
	identityFields []string
	policyFields   []string
	scopeClaims    []string
	clientField    string
	defaults       []string
	scopes         map[string]string
	expSkew        time.Duration
	iatSkew        time.Duration
	nbfSkew        time.Duration
	sessionTTL     time.Duration
	sessions       *session.Manager
	policies       policy.Set
	now            func() time.Time
	cache          *Cache
	secrets        *secretCache
	gen            uint64
	jwksKeys       []string
	oneToOne       bool // no jwt_source: keys hold their secrets (jwt_data)
	skipKid        bool
	// contextVars (enable_context_vars) gives the request its token (chain.Context.JWT), whose
	// header and claims are the jwt_claims_* context variables.
	contextVars bool
	// claims are jwt_claim_validation's checks, nil when there are none.
	claims *claimChecks
}

// New compiles the JWT settings of def. It does no I/O: a JWKS is fetched on first use.
func New(def *apidef.APIDefinition, o Options) (*Auth, error) {
	method := def.JWTSigningMethod
	if method == "" {
		method = hmacMethod
	}
	allowed, ok := algorithms[method]
	if !ok {
		return nil, fmt.Errorf("jwt_signing_method: %q is not one of hmac, rsa, ecdsa", def.JWTSigningMethod)
	}
	scopeClaim, scopes := def.JWTScopeSettings()
	a := &Auth{
		orgID:          def.OrgID,
		tokens:         auth.NewTokenSource(def.JWTTokenConfig()),
		strip:          def.StripAuthData,
		method:         method,
		allowed:        allowed,
		identityFields: claimList(def.JWTSubjectClaims, def.JWTIdentityBaseField),
		policyFields:   claimList(def.JWTBasePolicyClaims, def.JWTPolicyFieldName),
		scopeClaims:    claimList(def.JWTScopeClaims, scopeClaim),
		clientField:    def.JWTClientIDBaseField,
		defaults:       def.JWTDefaultPolicies,
		scopes:         scopes,
		expSkew:        time.Duration(min(def.JWTExpiresAtValidationSkew, 1<<32)) * time.Second,
		iatSkew:        time.Duration(min(def.JWTIssuedAtValidationSkew, 1<<32)) * time.Second,
		nbfSkew:        time.Duration(min(def.JWTNotBeforeValidationSkew, 1<<32)) * time.Second,
		sessionTTL:     time.Duration(max(def.SessionLifetime, 0)) * time.Second,
		sessions:       o.Sessions,
		policies:       o.Policies,
		now:            o.Now,
		cache:          o.Cache,
		gen:            generations.Add(1),
		contextVars:    def.EnableContextVars,
		claims:         newClaimChecks(def.JWTClaimValidation, o.Log),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if len(a.scopeClaims) == 0 || def.IsOAS && !slices.Contains(a.scopeClaims, "scope") {
		// Tyk OAS falls back to scope when the token holds none of the claims named.
		a.scopeClaims = append(slices.Clip(a.scopeClaims), "scope")
	}
	// Time claims are checked here, with Tyk's three skews; the library checks the signature
	// and only the algorithms of the method.
	a.parser = jwtlib.NewParser(jwtlib.WithValidMethods(allowed), jwtlib.WithoutClaimsValidation())
	if len(def.JWTJwksURIs) > 0 {
		// Several JWKS take the place of jwt_source, as Tyk's jwksURIs.
		if method == hmacMethod {
			return nil, errors.New("jwt_jwks_uris: JWKS keys need jwt_signing_method rsa or ecdsa")
		}
		var sets jwksList
		for _, u := range def.JWTJwksURIs {
			ttl := o.JWKSCacheTTL
			if u.CacheTimeout > 0 {
				ttl = time.Duration(min(u.CacheTimeout, int64(maxJWKSCacheTTL/time.Second))) * time.Second
			}
			sets = append(sets, a.jwksOf(strings.TrimSpace(u.URL), method, ttl, o))
		}
		a.keys = sets
		return a, nil
	}
	if def.JWTSource == "" {
		// Tyk's one-to-one mode: every token names a key holding its own secret.
		a.oneToOne, a.skipKid = true, def.JWTSkipKid
		if a.cache != nil {
			a.secrets = a.cache.secrets
		} else {
			a.secrets = newSecretCache(secretCacheEntries)
		}
		return a, nil
	}
	url, raw, err := def.JWTSourceKind()
	switch {
	case err != nil:
		return nil, err
	case url != "":
		if method == hmacMethod {
			return nil, errors.New("jwt_source: a JWKS URL needs jwt_signing_method rsa or ecdsa")
		}
		a.keys = a.jwksOf(url, method, o.JWKSCacheTTL, o)
	default:
		k, err := parseStatic(method, raw)
		if err != nil {
			return nil, err
		}
		a.keys = staticKey{k}
	}
	return a, nil
}

// claimList is a list of claims to try, else the single one ("": none).
func claimList(list []string, single string) []string {
	if len(list) > 0 {
		return list
	}
	if single != "" {
		return []string{single}
	}
	return nil
}

// jwksOf returns the keys of the JWKS at url, held in o.JWKS when set (so that reloads keep
// them), with ttl (0: the default) and o's fetch settings, and notes it among the auth's.
func (a *Auth) jwksOf(url, method string, ttl time.Duration, o Options) *jwks {
	mk := func() *jwks {
		j := &jwks{url: url, client: o.Client, ttl: ttl, refetch: o.JWKSRefetch, timeout: o.JWKSTimeout, now: a.now, method: method}
		if j.client == nil {
			j.client = &http.Client{}
		}
		if j.ttl <= 0 {
			j.ttl = DefaultJWKSCacheTTL
		}
		if j.refetch <= 0 {
			j.refetch = DefaultJWKSRefetch
		}
		if j.timeout <= 0 {
			j.timeout = DefaultJWKSTimeout
		}
		return j
	}
	j := mk()
	// Sets are shared by URL, method and time to live: an API, or a reload, that sets another
	// cache_timeout for a URL has a set of its own, never the time another chose.
	k := method + " " + j.ttl.String() + " " + url
	a.jwksKeys = append(a.jwksKeys, k)
	if o.JWKS != nil {
		return o.JWKS.get(k, func() *jwks { return j })
	}
	return j
}

// JWKSKeys name the JWKS the auth uses in its JWKSSets (none for a key of jwt_source's own).
func (a *Auth) JWKSKeys() []string { return a.jwksKeys }

// Step returns the chain step.
func (a *Auth) Step() chain.Step {
	return chain.Step{Name: "auth_jwt", Run: a.run}
}

func (a *Auth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	raw := a.tokens.Token(r)
	if raw == "" {
		return chain.Errorf(http.StatusBadRequest, chain.MsgAuthFieldMissing, errors.New("no JWT in the request")).Flagged("AMF")
	}
	if a.oneToOne {
		return a.runOneToOne(r, c, raw)
	}
	v, err := a.verified(r.Context(), raw)
	if err != nil {
		return err
	}
	id, pols := v.id, v.pols
	if v.client != nil {
		cp, err := a.clientPolicy(r.Context(), *v.client)
		if err != nil {
			return err
		}
		if pols, err = a.policyIDs(cp); err != nil {
			return err
		}
	}
	s, hash, err := a.session(r.Context(), v, pols)
	if err != nil {
		return err
	}
	c.SessionFromPlugin = false
	if _, err := auth.AdoptStored(c, a.sessions, a.policies, s, id, hash); err != nil {
		return chain.Errorf(http.StatusForbidden, "key not authorized: could not apply new policy", err).Flagged("AKI")
	}
	if a.contextVars {
		c.JWT = raw
	}
	if a.strip {
		a.tokens.Strip(r)
	}
	return nil
}

// verified returns what the token yields once verified: from the cache when it holds the token
// for this compiled auth, within the token's validity window and with the current keys;
// otherwise by verifying it, caching the result.
func (a *Auth) verified(ctx context.Context, raw string) (*verified, error) {
	now := a.now()
	var key [32]byte
	keys, cacheable := uint64(0), false
	if a.cache != nil {
		// The key generation is read before verifying: a token checked while the keys change
		// is stored under the older generation, and so never found, rather than under keys
		// that may no longer verify it.
		if keys, cacheable = a.keys.generation(now); cacheable {
			key = cacheKey(a.gen, raw)
			if v := a.cache.get(key, now, keys); v != nil {
				return v, nil
			}
		}
	}
	claims, win, err := a.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	identity, err := a.identity(claims)
	if err != nil {
		return nil, err
	}
	// Tyk's virtual session id: the org and the MD5 of the identity (legacy key form).
	sum := md5.Sum([]byte(identity))
	v := &verified{identity: identity, id: a.orgID + hex.EncodeToString(sum[:]),
		exp: win.exp, from: win.from, until: win.until, keys: keys}
	cp := a.readPolicies(claims)
	if cp.clientID != "" {
		// The client key decides per request; what the claims say is kept for it.
		v.client = &cp
	} else if v.pols, err = a.policyIDs(cp); err != nil {
		return nil, err
	}
	if cacheable {
		a.cache.put(key, v)
	}
	return v, nil
}

// verify checks the token's algorithm, signature and time claims and returns its claims.
func (a *Auth) verify(ctx context.Context, raw string, now time.Time) (jwtlib.MapClaims, window, error) {
	claims := jwtlib.MapClaims{}
	tok, err := a.parser.ParseWithClaims(raw, claims, func(t *jwtlib.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := a.keys.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		// The parser allowed only the method's algorithms; the key must be of the same kind,
		// whatever a JWKS holds.
		if !keyFits(a.method, k) {
			return nil, errUnknownKey
		}
		return k, nil
	})
	if err != nil {
		return nil, window{}, a.parseError(tok, err)
	}
	win, err := a.checkTimes(claims, now)
	if err != nil {
		return nil, window{}, err
	}
	if err := a.claims.check(claims, now); err != nil {
		return nil, window{}, err
	}
	return claims, win, nil
}

// parseError is the answer to a token that did not parse or verify: Tyk's for an algorithm
// outside the signing method, else 403 Key not authorized.
func (a *Auth) parseError(tok *jwtlib.Token, err error) error {
	if tok != nil {
		if alg, ok := tok.Header["alg"].(string); ok && !slices.Contains(a.allowed, alg) {
			return chain.Errorf(http.StatusForbidden, msgUnexpectedMethod, fmt.Errorf("token alg %q is not allowed by jwt_signing_method %q", alg, a.method)).Flagged("TKI")
		}
	}
	return chain.Errorf(http.StatusForbidden, msgNotAuthorized, err).Flagged("TKI")
}

// window is when a verified token stays valid: from (nbf and iat less their skews) until (exp
// plus its skew; zero without exp). exp is the claim itself, 0 without one.
type window struct {
	from, until time.Time
	exp         int64
}

// checkTimes checks exp, iat and nbf, each optional, each with its skew, in Tyk's order, and
// returns the window they leave the token. The claims are read clamped (readTimeClaim): a
// huge exp is the far future, not an overflow into the past.
func (a *Auth) checkTimes(claims jwtlib.MapClaims, now time.Time) (window, error) {
	var win window
	exp, err := readTimeClaim(claims, "exp")
	if err != nil {
		return win, chain.Errorf(http.StatusForbidden, msgNotAuthorized, err).Flagged("TKI")
	}
	if exp != nil {
		win.until, win.exp = exp.Add(a.expSkew), exp.Unix()
		if !now.Before(win.until) {
			return win, chain.Errorf(http.StatusUnauthorized, msgExpired, fmt.Errorf("exp %s", exp.raw)).Flagged("TKE")
		}
	}
	iat, err := readTimeClaim(claims, "iat")
	if err != nil {
		return win, chain.Errorf(http.StatusForbidden, msgNotAuthorized, err).Flagged("TKI")
	}
	if iat != nil {
		if now.Add(a.iatSkew).Before(iat.Time) {
			return win, chain.Errorf(http.StatusUnauthorized, msgIssuedInFuture, fmt.Errorf("iat %s", iat.raw)).Flagged("TCV")
		}
		win.from = iat.Add(-a.iatSkew)
	}
	nbf, err := readTimeClaim(claims, "nbf")
	if err != nil {
		return win, chain.Errorf(http.StatusForbidden, msgNotAuthorized, err).Flagged("TKI")
	}
	if nbf != nil {
		if now.Add(a.nbfSkew).Before(nbf.Time) {
			return win, chain.Errorf(http.StatusUnauthorized, msgNotYetValid, fmt.Errorf("nbf %s", nbf.raw)).Flagged("TCV")
		}
		if from := nbf.Add(-a.nbfSkew); from.After(win.from) {
			win.from = from
		}
	}
	return win, nil
}

// session returns the identity's session, created or updated to name pols, and its hash.
func (a *Auth) session(ctx context.Context, v *verified, pols []string) (*apidef.SessionState, string, error) {
	id := v.id
	shared, hash, err := a.sessions.Lookup(ctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		s := &apidef.SessionState{
			OrgID:         a.orgID,
			Alias:         v.identity,
			ApplyPolicies: slices.Clone(pols),
			MetaData:      map[string]interface{}{SessionIDMeta: id},
		}
		// The policies must apply before the session is stored, as in Tyk.
		if _, err := a.policies.Effective(s); err != nil {
			return nil, "", chain.Errorf(http.StatusInternalServerError, msgCreateKey+err.Error(), err)
		}
		// As in Tyk, a session created from a base policy with key_expires_in expires that
		// long after, or with the token when the token lives longer.
		s.Expires = a.policies.KeyExpiry(pols[:min(len(pols), 1)], a.now())
		if v.exp > s.Expires {
			s.Expires = v.exp
		}
		if err := a.sessions.Put(ctx, session.ID{Key: id}, s, a.sessionTTL); err != nil {
			return nil, "", chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
		}
		return s, hash, nil
	case err != nil:
		return nil, "", chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	samePolicies := slices.Equal(shared.ApplyPolicies, pols) && shared.ApplyPolicyID == ""
	if samePolicies && v.exp <= shared.Expires {
		return shared, hash, nil
	}
	// The token names other policies than the stored session, or lives longer than it: Tyk
	// applies the new policies, extends the expiry and stores the session again.
	s := shared.Clone()
	if !samePolicies {
		s.ApplyPolicyID, s.ApplyPolicies = "", slices.Clone(pols)
		if _, err := a.policies.Effective(s); err != nil {
			return nil, "", chain.Errorf(http.StatusForbidden, "key not authorized: could not apply new policy", err).Flagged("AKI")
		}
	}
	if v.exp > s.Expires {
		s.Expires = v.exp
	}
	if err := a.sessions.Put(ctx, session.ID{Key: id}, s, a.sessionTTL); err != nil {
		return nil, "", chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	return s, hash, nil
}
