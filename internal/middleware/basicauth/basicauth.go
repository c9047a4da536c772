// Package basicauth is Tyk's basic auth (use_basic_auth): the Authorization header carries
// "Basic base64(username:password)"; the username names a key whose basic_auth_data holds the
// password's hash; a successful check is remembered for basic_auth.cache_ttl seconds in a
// bounded cache, so bcrypt does not run on every request; and the key's session then goes
// through the key steps after it (expiry, access rights, rate limit, quota) like any key's.
package basicauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/iplist"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Tyk's answers (tyk:gateway/mw_basic_auth.go).
const (
	MsgMalformedHeader   = "Attempted access with malformed header, header not in basic auth format"
	MsgMalformedEncoding = "Attempted access with malformed header, auth data not encoded correctly"
	MsgMalformedValues   = "Attempted access with malformed header, values not in basic auth format"
	MsgNotAuthorised     = "User not authorised"
	MsgNoBodyUser        = "Body do not contain username"
	MsgNoBodyPassword    = "Body do not contain password"
)

// MaxCredentialsBody is how much of a body the credentials are looked for in (basic_auth.
// extract_from_body): they must be within its first MiB. The body reaches the upstream whole.
const MaxCredentialsBody = 1 << 20

// DefaultCacheTTL is how long a successful check is remembered when basic_auth.cache_ttl is
// not set (Tyk's default).
const DefaultCacheTTL = 60 * time.Second

// DefaultMaxCached bounds the cache of successful checks of one API.
const DefaultMaxCached = 10000

// BcryptCost is the cost passwords are hashed with (Tyk's: bcrypt's default).
const BcryptCost = bcrypt.DefaultCost

// Options are what the step needs besides the definition.
type Options struct {
	Sessions *session.Manager
	Policies policy.Set
	Now      func() time.Time
	// Compare checks a password against its bcrypt hash; nil uses bcrypt. Tests count calls.
	Compare func(hash, password []byte) error
	// MaxCached bounds the cache of successful checks; 0 uses DefaultMaxCached.
	MaxCached int
	// Limiter counts failed checks per username; nil gives the API a limiter of its own. A
	// gateway shares one between its APIs (and reloads).
	Limiter *Limiter
}

// Auth is the compiled basic auth of an API.
type Auth struct {
	orgID    string
	realm    string
	tokens   auth.TokenSource
	strip    bool
	sessions *session.Manager
	policies policy.Set
	now      func() time.Time
	compare  func(hash, password []byte) error
	cache    *cache // nil with basic_auth.disable_caching
	limiter  *Limiter
	// bodyUser and bodyPassword read the credentials from the body when the header does not
	// hold them (basic_auth.extract_from_body); nil otherwise.
	bodyUser, bodyPassword *regexp.Regexp
}

// New compiles the basic auth settings of def.
func New(def *apidef.APIDefinition, o Options) (*Auth, error) {
	a := &Auth{
		orgID:    def.OrgID,
		realm:    `Basic realm="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(def.Name) + `"`,
		tokens:   auth.NewTokenSource(def.BasicAuthTokenConfig()),
		strip:    def.StripAuthData,
		sessions: o.Sessions,
		policies: o.Policies,
		now:      o.Now,
		compare:  o.Compare,
		limiter:  o.Limiter,
	}
	if a.limiter == nil {
		a.limiter = NewLimiter(0)
	}
	// Only basic auth's own requests read the body: the OAuth password grant, which checks
	// users through this too, has its credentials in its form.
	if b := def.BasicAuth; b.ExtractFromBody && def.UseBasicAuth {
		var err error
		if a.bodyUser, err = apidef.BodyCapture("body_user_regexp", b.BodyUserRegexp); err != nil {
			return nil, err
		}
		if a.bodyPassword, err = apidef.BodyCapture("body_password_regexp", b.BodyPasswordRegexp); err != nil {
			return nil, err
		}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.compare == nil {
		a.compare = bcrypt.CompareHashAndPassword
	}
	if !def.BasicAuth.DisableCaching {
		ttl := DefaultCacheTTL
		if def.BasicAuth.CacheTTL > 0 {
			ttl = time.Duration(min(def.BasicAuth.CacheTTL, 1<<31)) * time.Second
		}
		n := o.MaxCached
		if n <= 0 {
			n = DefaultMaxCached
		}
		a.cache = newCache(ttl, n)
	}
	return a, nil
}

// Step returns the chain step.
func (a *Auth) Step() chain.Step {
	return chain.Step{Name: "auth_basic", Run: a.run}
}

// unauthorised is a 401 asking for basic auth, as Tyk sends it.
func (a *Auth) unauthorised(msg string, cause error) error {
	e := chain.Errorf(http.StatusUnauthorized, msg, cause).Flagged("AKI")
	if msg == chain.MsgAuthFieldMissing {
		e.Flag = "AMF"
	}
	e.Header = http.Header{"Www-Authenticate": {a.realm}}
	return e
}

func (a *Auth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	username, password, err := a.credentials(r)
	fromBody := false
	if err != nil && a.bodyUser != nil {
		// As Tyk does: whatever was wrong with the header, the body is read.
		username, password, err = a.bodyCredentials(r, c)
		fromBody = true
	}
	if err != nil {
		return err
	}
	// Neither the username (it names a key) nor the password reaches a log.
	client := c.ClientIP
	if !client.IsValid() {
		client = iplist.ClientAddr(r.RemoteAddr, nil, nil) // the TCP peer
	}
	s, name, hash, err := a.verify(r.Context(), client, username, password)
	if err != nil {
		var ce *chain.Error
		if fromBody && errors.As(err, &ce) {
			ce.Cause = fmt.Errorf("%w (from the body): %w", chain.ErrPresented, ce.Cause)
		}
		return err
	}
	c.SessionFromPlugin = false
	if _, err := auth.AdoptStored(c, a.sessions, a.policies, s, name, hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err).Flagged("AKI")
	}
	if a.strip {
		a.tokens.Strip(r)
	}
	return nil
}

// Verify checks a username and password as a request's basic auth header is checked (the same
// lookup, hashes, cache and lockouts; client is the address failures are counted for) and
// returns the user's key and the name it is stored under: the OAuth 2.0 password grant's check.
// Its error is a chain error, 401 for an unknown user or a wrong password. The key is the
// store's shared decoding: it must not be changed.
func (a *Auth) Verify(ctx context.Context, client netip.Addr, username, password string) (*apidef.SessionState, string, error) {
	s, name, _, err := a.verify(ctx, client, username, password)
	return s, name, err
}

// verify finds the user's key (lookup) and checks the password against it (check), an unknown
// user costing what a wrong password costs (unknownUser): the one check of a username and
// password, for requests and the password grant alike. It returns the key, the name it is
// stored under and that name's hash.
func (a *Auth) verify(ctx context.Context, client netip.Addr, username, password string) (*apidef.SessionState, string, string, error) {
	s, name, hash, err := a.lookup(ctx, username)
	switch {
	case errors.Is(err, errNoUser):
		return nil, "", "", a.unknownUser(client, username, password, err)
	case err != nil:
		return nil, "", "", err
	}
	if err := a.check(s.BasicAuthData, client, username, password); err != nil {
		return nil, "", "", err
	}
	return s, name, hash, nil
}

// unknownUser answers a username no key has. It costs what a known one with a wrong password
// costs, so the time of the answer does not tell which usernames exist; and counts as a failure
// alike.
func (a *Auth) unknownUser(client netip.Addr, username, password string, err error) error {
	if lk := a.limiter.keys(a.orgID, username, client); a.limiter.reserve(lk, a.now()) {
		func() {
			defer func() { a.limiter.done(lk, false, a.now()) }() // even if compare panics
			_ = a.compare(dummyHash(), []byte(password))
		}()
	}
	return a.unauthorised(MsgNotAuthorised, err)
}

// credentials reads the username and password from the Authorization header, Tyk's way: two
// space-separated parts, the second base64 of exactly two colon-separated values.
func (a *Auth) credentials(r *http.Request) (username, password string, err error) {
	token := a.tokens.Token(r)
	if token == "" {
		return "", "", a.unauthorised(chain.MsgAuthFieldMissing, fmt.Errorf("%w: no basic auth header", chain.ErrNoCredentials))
	}
	bits := strings.Split(token, " ")
	if len(bits) != 2 {
		return "", "", chain.Errorf(http.StatusBadRequest, MsgMalformedHeader, fmt.Errorf("%w: the header is not two space-separated parts", chain.ErrNoCredentials)).Flagged("IHD")
	}
	raw, err := base64.StdEncoding.DecodeString(bits[1])
	if err != nil {
		return "", "", chain.Errorf(http.StatusBadRequest, MsgMalformedEncoding, fmt.Errorf("%w: the credentials are not base64", chain.ErrNoCredentials)).Flagged("IHD")
	}
	values := strings.Split(string(raw), ":")
	if len(values) != 2 {
		return "", "", chain.Errorf(http.StatusBadRequest, MsgMalformedValues, fmt.Errorf("%w: the credentials are not two colon-separated values", chain.ErrNoCredentials)).Flagged("IHD")
	}
	return values[0], values[1], nil
}

// bodyCredentials reads the username and password from the body, each the first submatch of
// its expression within the body's first MaxCredentialsBody bytes; the body is put back whole.
// A detailed analytics record of the request then holds neither its request nor its answer
// (c.Secret): the password is in the body.
func (a *Auth) bodyCredentials(r *http.Request, c *chain.Context) (username, password string, err error) {
	// Before the body is read: what a detailed record tees as it passes holds the password,
	// even when the read then fails (too large, cut short).
	c.Secret = true
	data, _, err := proxy.ReadBody(r, MaxCredentialsBody)
	if err != nil {
		return "", "", proxy.ReadBodyError(c, err)
	}
	u := a.bodyUser.FindSubmatch(data)
	if u == nil {
		return "", "", chain.Errorf(http.StatusBadRequest, MsgNoBodyUser, fmt.Errorf("%w: body_user_regexp matches nothing in the body", chain.ErrNoCredentials)).Flagged("AMF")
	}
	p := a.bodyPassword.FindSubmatch(data)
	if p == nil {
		return "", "", chain.Errorf(http.StatusBadRequest, MsgNoBodyPassword, fmt.Errorf("%w: body_password_regexp matches nothing in the body", chain.ErrNoCredentials)).Flagged("AMF")
	}
	return string(u[1]), string(p[1]), nil
}

// lookup finds the user's key: under org_id+username (Tyk's generated name for a key created
// by username), else under the username itself, and returns the session, the name it was
// found under and that name's hash.
func (a *Auth) lookup(ctx context.Context, username string) (*apidef.SessionState, string, string, error) {
	names := [2]string{a.orgID + username, username}
	n := 2
	if a.orgID == "" {
		n = 1
	}
	for _, name := range names[2-n:] {
		if name == "" {
			continue
		}
		s, hash, err := a.sessions.Lookup(ctx, name)
		switch {
		case errors.Is(err, session.ErrNotFound):
			continue
		case err != nil:
			return nil, "", "", chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
		}
		return s, name, hash, nil
	}
	return nil, "", "", errNoUser
}

// errNoUser is lookup's answer for a username no key has.
var errNoUser = errors.New("no basic auth user by that name")

// dummyHash is a bcrypt hash at the cost Gatehouse writes passwords with, of a random
// password, that unknown usernames are checked against.
var dummyHash = sync.OnceValue(func() []byte {
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(pw[:])), BcryptCost)
	if err != nil {
		panic("basicauth: bcrypt of a 32-byte password: " + err.Error()) // cannot happen: within bcrypt's 72 bytes
	}
	return h
})

// check compares the password with the user's stored one by its hash type, as Tyk does:
// "" plain text, sha256 its hex digest, bcrypt (and anything else) bcrypt. A successful bcrypt
// check is remembered, keyed by a hash of the stored hash, the username and the password, so a
// changed password is never matched against an old entry. A password in that cache passes even
// while the username is locked (nobody can hit the cache without the password, and it costs no
// bcrypt); any other check reserves an attempt with the limiter first and fails without running
// when the limiter refuses it (locked, or failures and checks in flight at the limit).
func (a *Auth) check(d apidef.BasicAuthData, client netip.Addr, username, password string) error {
	var key [32]byte
	bcryptType := d.HashType != apidef.HashPlainText && d.HashType != apidef.HashSHA256
	if a.cache != nil && bcryptType && d.Password != "" {
		key = cacheKey(d.Password, username, password)
		if a.cache.hit(key, a.now()) {
			return nil
		}
	}
	// An attempt is reserved before the check, so concurrent guesses cannot run more checks
	// than the limits allow.
	lk := a.limiter.keys(a.orgID, username, client)
	if !a.limiter.reserve(lk, a.now()) {
		return a.unauthorised(MsgNotAuthorised, errors.New("too many failed checks of this username; locked"))
	}
	ok := false
	// Released however the check ends (a panicking compare counts as a failure), so no
	// reservation is left in flight for ever.
	defer func() { a.limiter.done(lk, ok, a.now()) }()
	switch {
	case d.Password == "":
		// A key without a password is not a basic auth user, and an empty password in the
		// header must not match it; it costs what a wrong password costs.
		_ = a.compare(dummyHash(), []byte(password))
	case d.HashType == apidef.HashPlainText:
		ok = subtle.ConstantTimeCompare([]byte(d.Password), []byte(password)) == 1
	case d.HashType == apidef.HashSHA256:
		sum := sha256.Sum256([]byte(password))
		ok = subtle.ConstantTimeCompare([]byte(strings.ToLower(d.Password)), []byte(hex.EncodeToString(sum[:]))) == 1
	default:
		if ok = a.compare([]byte(d.Password), []byte(password)) == nil; ok && a.cache != nil {
			a.cache.add(key, a.now())
		}
	}
	if !ok {
		return a.unauthorised(MsgNotAuthorised, errors.New("wrong password"))
	}
	return nil
}

// cacheKey is the SHA-256 of the stored hash, the username and the password, each prefixed
// with its length so that no two different triples give the same input.
func cacheKey(stored, username, password string) [32]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range [3]string{stored, username, password} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// HashPassword makes a basic auth user's password, as a key is written through the Gateway
// API, a bcrypt hash, as Tyk does: the password given is plain text, unless it is already a
// bcrypt hash with hash_type bcrypt (what reading the key returns, so a key read and written
// back keeps its password).
func HashPassword(d *apidef.BasicAuthData) error {
	if d.Password == "" {
		return nil
	}
	if d.HashType == apidef.HashBCrypt {
		if _, err := bcrypt.Cost([]byte(d.Password)); err == nil {
			return nil
		}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(d.Password), BcryptCost)
	if err != nil {
		// bcrypt's errors name no part of the password.
		return fmt.Errorf("basic_auth_data.password: %w", err)
	}
	d.Password, d.HashType = string(h), apidef.HashBCrypt
	return nil
}
