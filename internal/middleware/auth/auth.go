package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/mtls"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// KeyAuth is the standard key check: the token must name a stored key.
type KeyAuth struct {
	Tokens   TokenSource
	Sessions *session.Manager
	Policies policy.Set
	// StripAuthData removes the token from the request once the key is found.
	StripAuthData bool
	// Missing and NotFound answer a request without a token and one whose token is not a
	// key's (Tyk's auth.auth_field_missing and auth.key_not_found, which override_messages
	// changes); zero values answer Tyk's defaults.
	Missing, NotFound chain.Reply
}

// Tyk's answers for a request without a token and for a token that is not a key's.
var (
	DefaultMissing  = chain.Reply{Status: http.StatusUnauthorized, Message: chain.MsgAuthFieldMissing, Flag: "AMF"}
	DefaultNotFound = chain.Reply{Status: http.StatusForbidden, Message: chain.MsgAccessDisallowed, Flag: "AKI"}
)

func orDefault(r, def chain.Reply) chain.Reply {
	if r.Status == 0 {
		return def
	}
	return r
}

// Step returns the chain step.
func (a *KeyAuth) Step() chain.Step {
	return chain.Step{Name: "auth_key", Run: a.run}
}

func (a *KeyAuth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	token := a.Tokens.Token(r)
	if token == "" {
		return orDefault(a.Missing, DefaultMissing).Err(fmt.Errorf("%w: no auth token in the request", chain.ErrNoCredentials))
	}
	// Every token that names no key usable as a token gets the same answer, a basic auth
	// user's name or a JWT key's too: which of those exist is no client's business.
	notFound := orDefault(a.NotFound, DefaultNotFound)
	shared, names, err := a.Sessions.LookupNames(r.Context(), token)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return notFound.Err(errors.New("key not found"))
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	// A basic auth user's key is named by its username, which is no secret: it is not a token.
	if shared.BasicAuthData.Password != "" {
		return notFound.Err(errors.New("the key is a basic auth user's"))
	}
	// Nor is a one-to-one JWT key's, named by the kid of its tokens.
	if shared.JWTData.Secret != "" {
		return notFound.Err(errors.New("the key is a JWT key (jwt_data)"))
	}
	// Nor is a JWT session's, named from the token's org and identity.
	if _, ok := shared.MetaData[session.JWTSessionIDMeta]; ok {
		return notFound.Err(errors.New("the key is a JWT session"))
	}
	// Nor is a certificate's, named from its fingerprint: it takes the certificate itself.
	if shared.Certificate != "" {
		return notFound.Err(errors.New("the key is a client certificate's (certificate auth)"))
	}
	// Nor is an HMAC key's, whose name every signed request sends in the clear (keyId): it takes
	// a signature made with its secret.
	if shared.HMACEnabled {
		return notFound.Err(errors.New("the key signs requests (hmac_enabled): its name is sent in the clear as their keyId"))
	}
	// The session now comes from the key store, whatever a pre hook set before.
	c.SessionFromPlugin = false
	if _, err := AdoptStored(c, a.Sessions, a.Policies, shared, token, names.Hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err)
	}
	c.KeyNames = names
	if a.StripAuthData {
		a.Tokens.Strip(r)
	}
	return nil
}

// Adopt makes s, found by token, the request's session, whether the key store or a plugin
// provided it: the session's policies apply, counters and logs name it by hash (the token's
// SHA-256; "" computes it) and its KeyID is the token (unless shared, below). It returns the
// session the request now has.
//
// shared says s is the key store's decoding, which every request with the key shares: the
// request then reads it in place (reqctx.State.SessionShared; its KeyID stays unset, the
// request's Token is the key), and it is copied only if the session is handed to a plugin
// (sdk.GetSession, reqctx.State.MutableSession). A key's meta data can be large, and most
// requests only read the session: a keyed request copies nothing. A session a plugin built is
// the request's already.
//
// A session whose policies cannot be applied (a policy that does not exist, or of another org)
// is an error the caller answers: Tyk refuses a stored key with 403 and answers a session a
// plugin set with 500.
func Adopt(c *chain.Context, pols policy.Set, s *apidef.SessionState, shared bool, token, hash string) (*apidef.SessionState, error) {
	if hash == "" {
		hash = session.HashKey(token)
	}
	c.KeyHash = hash
	eff, err := pols.Effective(s)
	if err != nil {
		return nil, fmt.Errorf("applying the session's policies: %w", err)
	}
	if eff == s && shared {
		// Read in place: the shared decoding is never changed, not even its KeyID.
		c.State.Session, c.State.Token, c.State.SessionShared = s, token, true
		return s, nil
	}
	eff.KeyID = token
	c.State.Session, c.State.Token, c.State.SessionShared = eff, token, shared
	return eff, nil
}

// AdoptStored is Adopt for s, the key store's shared decoding of the key found by token, read
// through m: the session with its policies applied is kept with that decoding (Manager.Derived)
// with the policies it was computed from (policy.Uses: the loaded objects the key names, not
// the whole set), so that the next requests with the key do not apply them again. A key that
// changes is decoded anew, and a reload that finds a policy's bytes changed (the policies
// file's, or a stored policy's) loads new objects: either way the policies are applied again. The session kept is shared by the requests that find it, as a key without
// policies is (reqctx.State.SessionShared). It records the read (chain.Context.Stored), so
// that a plugin's write of the key is checked against it.
func AdoptStored(c *chain.Context, m *session.Manager, pols policy.Set, s *apidef.SessionState, token, hash string) (*apidef.SessionState, error) {
	c.Stored = session.Read{Token: token, Shared: s}
	if m == nil || len(s.PolicyIDs()) == 0 {
		return Adopt(c, pols, s, true, token, hash)
	}
	if hash == "" {
		hash = session.HashKey(token)
	}
	d := m.Derived(token, hash, s)
	if d == nil || !heldBy(d.Tag, pols) {
		eff, err := pols.Effective(s)
		d = &session.Derived{Tag: pols.Uses(s), Session: eff, Err: err}
		m.SetDerived(token, hash, s, d)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("applying the session's policies: %w", d.Err)
	}
	c.KeyHash = hash
	c.State.Session, c.State.Token, c.State.SessionShared = d.Session, token, true
	return d.Session, nil
}

// heldBy reports whether tag is the policies a derived session was computed from, and pols
// holds them still.
func heldBy(tag any, pols policy.Set) bool {
	u, ok := tag.(policy.Uses)
	return ok && u.HeldBy(pols)
}

// SessionCheck refuses inactive and expired keys. It runs on every session, whether the key
// store or an auth plugin provided it.
type SessionCheck struct {
	Now func() time.Time
}

// Step returns the chain step.
func (sc *SessionCheck) Step() chain.Step {
	return chain.Step{Name: "key_expired", Run: sc.run}
}

func (sc *SessionCheck) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	s := c.State.Session
	if s == nil {
		return chain.Errorf(http.StatusBadRequest, chain.MsgSessionMissing, errors.New("no session after auth"))
	}
	if s.IsInactive {
		return chain.Errorf(http.StatusForbidden, chain.MsgKeyInactive, errors.New("key is inactive")).Flagged("TKI")
	}
	if s.Expires > 0 && sc.Now().Unix() >= s.Expires {
		return chain.Errorf(http.StatusUnauthorized, chain.MsgKeyExpired, fmt.Errorf("key expired at %d", s.Expires)).Flagged("TKE")
	}
	return nil
}

// AccessCheck checks that the session may call this API, version and endpoint.
type AccessCheck struct {
	APIID string
	// Versioned is set for APIs that are not not_versioned: an access right must then name the
	// request's version, as in Tyk (on a not-versioned API the versions listed do not matter).
	Versioned bool
	// AllowMasterKeys lets keys with no access rights call every API. Sessions set by an auth
	// plugin with no access rights are always let through: the plugin vouched for them.
	AllowMasterKeys bool
	Patterns        *endpoint.PatternCache
	// Now is the clock a bound client certificate's expiry is checked with; nil is time.Now.
	Now func() time.Time
}

// BindingCheck checks a key's certificate bindings right after auth: the post_key_auth hooks
// that come next must never act for a client without the key's certificate. AccessCheck checks
// them again, for a session a hook set.
type BindingCheck struct {
	Now func() time.Time
}

// Step returns the chain step.
func (bc *BindingCheck) Step() chain.Step {
	return chain.Step{Name: "certificate_binding", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.Ignored || c.State.Session == nil || len(c.State.Session.MtlsStaticCertificateBindings) == 0 {
			return nil
		}
		return checkBinding(r, c.State.Session.MtlsStaticCertificateBindings, bc.Now)
	}}
}

// checkBinding lets a request using a key bound to client certificates
// (mtls_static_certificate_bindings) through only when its TLS handshake presented one of them,
// unexpired: Tyk's static certificate binding, refused with Tyk's 403. The handshake proved the
// client holds the certificate's private key; the fingerprint names the certificate.
func checkBinding(r *http.Request, bindings []string, now func() time.Time) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed,
			errors.New("the key is bound to client certificates and the request presented none (is the API's domain asked for certificates: use_mutual_tls_auth?)")).Flagged("CRQ")
	}
	leaf := r.TLS.PeerCertificates[0]
	if err := checkValidity(leaf, now, "presented for a key bound to certificates "); err != nil {
		return err
	}
	fp := fingerprint(leaf)
	for _, b := range bindings {
		if got, ok := apidef.CertificateFingerprint(b); ok && got == fp {
			return nil
		}
	}
	return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, fmt.Errorf("the client certificate (SHA-256 %s) is not one the key is bound to", fp)).Flagged("CMM")
}

// Step returns the chain step.
func (ac *AccessCheck) Step() chain.Step {
	return chain.Step{Name: "access_rights", Run: ac.run}
}

func (ac *AccessCheck) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	s := c.State.Session
	if len(s.MtlsStaticCertificateBindings) > 0 {
		if err := checkBinding(r, s.MtlsStaticCertificateBindings, ac.Now); err != nil {
			return err
		}
	}
	if len(s.AccessRights) == 0 {
		if ac.AllowMasterKeys || c.SessionFromPlugin {
			return nil
		}
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, errors.New("key has no access rights (a master key) and allow_master_keys is off"))
	}
	ar, ok := s.AccessRights[ac.APIID]
	if !ok {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, fmt.Errorf("key has no access right to API %q", ac.APIID))
	}
	if ac.Versioned && !slices.Contains(ar.Versions, c.Version) {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, fmt.Errorf("key has no access right to version %q", c.Version))
	}
	if len(ar.AllowedURLs) == 0 {
		return nil
	}
	// Room on the stack for the usual few entries.
	var buf [8]endpoint.Pattern
	patterns := buf[:0]
	for _, spec := range ar.AllowedURLs {
		// A broken pattern in a key grants nothing.
		if p, err := ac.Patterns.Get(spec); err == nil {
			patterns = append(patterns, p)
		}
	}
	if endpoint.AllMatch(patterns, r.Method, c.Readings) {
		return nil
	}
	return chain.Errorf(http.StatusForbidden, chain.MsgResourceDisallowed, errors.New("no allowed_urls entry matches the request"))
}

// CertAuth is Tyk's certificate auth (auth_configs.authToken.use_certificate, Tyk OAS
// certificateAuth): the key is the one created for the client certificate the request's TLS
// handshake presented (apidef.SessionState.Certificate), and the certificate must be in the
// certificate store. A token in the request is not read: Tyk 5.12's behaviour, where its older
// dynamic mTLS let the key's name, computable from the public certificate, stand in for it.
type CertAuth struct {
	// OrgID is the API's org id, which begins the certificate's id (as in Tyk).
	OrgID    string
	Sessions *session.Manager
	Policies policy.Set
	// Stored reports whether the certificate store holds id; an error is the store's failure.
	Stored func(ctx context.Context, id string) (bool, error)
	Now    func() time.Time
	// Asked, when set, reports whether the handshake for a TLS server name asked for a client
	// certificate: a request without one on a connection that was not asked gets 421, as with
	// mutual TLS, so that a client that reused a connection made for another name opens one
	// for this name.
	Asked func(serverName string) bool
}

// Tyk's answers for certificate auth.
const (
	MsgCertRequired = "Client certificate required"
)

// Step returns the chain step: the key check's name, as Tyk's AuthKey runs it.
func (a *CertAuth) Step() chain.Step {
	return chain.Step{Name: "auth_key", Run: a.run}
}

func (a *CertAuth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) == 0 && a.Asked != nil && !a.Asked(r.TLS.ServerName) {
		return chain.Errorf(http.StatusMisdirectedRequest, mtls.MsgMisdirected,
			fmt.Errorf("%w: the connection was made for a server name that is not asked for a client certificate", chain.ErrNoCredentials))
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return chain.Errorf(http.StatusUnauthorized, MsgCertRequired,
			fmt.Errorf("%w: the request presented no client certificate (certificate auth)", chain.ErrNoCredentials)).Flagged("CRQ")
	}
	leaf := r.TLS.PeerCertificates[0]
	if err := checkValidity(leaf, a.Now, ""); err != nil {
		return err
	}
	id := a.OrgID + fingerprint(leaf)
	name := session.CertificateKey(id)
	shared, names, err := a.Sessions.LookupNames(r.Context(), name)
	switch {
	case errors.Is(err, session.ErrNotFound):
		// Tyk's answer: 401, the key's usual words.
		return chain.Errorf(http.StatusUnauthorized, chain.MsgAccessDisallowed, fmt.Errorf("no key for the client certificate %s", id)).Flagged("CMM")
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	if shared.Certificate != id {
		// A key given the name by other means is not the certificate's.
		return chain.Errorf(http.StatusUnauthorized, chain.MsgAccessDisallowed, fmt.Errorf("the key named for the client certificate %s is not bound to it", id)).Flagged("CMM")
	}
	ok, err := a.Stored(r.Context(), id)
	switch {
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	case !ok:
		// Removing the certificate from the store takes it off the allow list.
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, fmt.Errorf("the client certificate %s is not in the certificate store", id)).Flagged("CMM")
	}
	c.SessionFromPlugin = false
	if _, err := AdoptStored(c, a.Sessions, a.Policies, shared, name, names.Hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err)
	}
	c.KeyNames = names
	return nil
}

// checkValidity refuses a client certificate out of its validity period by now (nil:
// time.Now), with Tyk's 403s; what names the certificate in the log ("" or "presented for ...").
func checkValidity(leaf *x509.Certificate, now func() time.Time, what string) error {
	if now == nil {
		now = time.Now
	}
	if t := now(); t.After(leaf.NotAfter) {
		return chain.Errorf(http.StatusForbidden, mtls.MsgExpired, errors.New("the client certificate "+what+"has expired")).Flagged("TKE")
	} else if t.Before(leaf.NotBefore) {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, errors.New("the client certificate "+what+"is not valid yet")).Flagged("CMM")
	}
	return nil
}

// fingerprint is a certificate's SHA-256 in lower-case hex, as certificate ids end with.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
