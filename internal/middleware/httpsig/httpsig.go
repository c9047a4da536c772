// Package httpsig is Tyk's HMAC request signatures (enable_signature_checking,
// mw_http_signature_validation.go): the client signs the request line and the headers it names
// with its key's hmac_string, and sends
//
//	Authorization: Signature keyId="<key>",algorithm="hmac-sha256",headers="(request-target) date",signature="<sig>"
//
// The gateway rebuilds the signing string, computes the HMAC with the key's secret, compares it
// in constant time, checks the request's Date (or X-Aux-Date) against hmac_allowed_clock_skew,
// and the key's session then goes through the key steps after it (expiry, access rights, rate
// limit, quota) like any key's. Every failure is Tyk's 400.
package httpsig

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// MsgInvalid is Tyk's answer to every failed signature check, with status 400.
const MsgInvalid = "Authorization field missing, malformed or invalid"

// Options are what the step needs besides the definition.
type Options struct {
	Sessions *session.Manager
	Policies policy.Set
	Now      func() time.Time
	// PublicKey returns the public key a key's rsa_certificate_id names in the certificate
	// store (certstore.Store.PublicKey); nil refuses rsa-sha256 signatures as "Certificate not
	// found".
	PublicKey func(ctx context.Context, id string) (crypto.PublicKey, error)
}

// Tyk's answers, 500, when a key's rsa_certificate_id cannot be used.
const (
	MsgCertNotFound = "Certificate not found"
	MsgCertNotRSA   = "Certificate doesn't contain RSA Public key"
)

// Auth is the compiled HMAC signature check of an API.
type Auth struct {
	tokens    auth.TokenSource
	strip     bool
	allowed   []string      // empty: any algorithm Gatehouse verifies
	skew      time.Duration // 0: the date is not compared with the clock
	sessions  *session.Manager
	policies  policy.Set
	now       func() time.Time
	publicKey func(ctx context.Context, id string) (crypto.PublicKey, error)
}

// New compiles the request signature settings of def.
func New(def *apidef.APIDefinition, o Options) (*Auth, error) {
	a := &Auth{
		tokens:    auth.NewTokenSource(def.HMACTokenConfig()),
		strip:     def.StripAuthData,
		sessions:  o.Sessions,
		policies:  o.Policies,
		now:       o.Now,
		publicKey: o.PublicKey,
	}
	if a.now == nil {
		a.now = time.Now
	}
	for _, alg := range def.HmacAllowedAlgorithms {
		if !slices.Contains(apidef.HMACAlgorithms, alg) {
			return nil, fmt.Errorf("hmac_allowed_algorithms: %q is not supported", alg)
		}
		a.allowed = append(a.allowed, alg)
	}
	switch s := def.HmacAllowedClockSkew; {
	case math.IsNaN(s) || math.IsInf(s, 0):
		return nil, fmt.Errorf("hmac_allowed_clock_skew: %v is not a number", s)
	case s > 0:
		// Whole milliseconds, rounded up: a fraction of one (0.5) is the strictest skew, not
		// none (truncated to 0 it turned the date check, and so replay protection, off).
		a.skew = time.Duration(min(math.Ceil(s), float64(math.MaxInt64/int64(time.Millisecond)))) * time.Millisecond
	}
	return a, nil
}

// Step returns the chain step.
func (a *Auth) Step() chain.Step {
	return chain.Step{Name: "auth_hmac", Run: a.run}
}

// invalid is Tyk's one answer to a failed check; cause says why, for the log only.
func invalid(cause error) error {
	return chain.Errorf(http.StatusBadRequest, MsgInvalid, cause).Flagged("AKI")
}

func (a *Auth) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if c.Ignored {
		return nil
	}
	token := a.tokens.Token(r)
	if token == "" {
		return chain.Errorf(http.StatusBadRequest, MsgInvalid, errors.New("no signature header")).Flagged("AMF")
	}
	p, err := Parse(token)
	if err != nil {
		return invalid(err)
	}
	if len(a.allowed) > 0 && !slices.Contains(a.allowed, p.Algorithm) {
		return invalid(fmt.Errorf("algorithm %.32q is not in hmac_allowed_algorithms", p.Algorithm))
	}
	rsaSig := p.Algorithm == apidef.RSASHA256
	if strings.HasPrefix(p.Algorithm, "rsa") && !rsaSig {
		return invalid(fmt.Errorf("algorithm %.32q: of RSA signatures only rsa-sha256 is supported", p.Algorithm))
	}
	if p.KeyID == "" {
		return invalid(errors.New("no keyId"))
	}
	// The key id is the key itself: it reaches no log.
	s, hash, err := a.sessions.Lookup(r.Context(), p.KeyID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return invalid(errors.New("no key by that keyId"))
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	if rsaSig {
		if err := a.verifyRSA(r, s, p); err != nil {
			return err
		}
	} else {
		if !s.HMACEnabled || s.HmacSecret == "" {
			return invalid(errors.New("the key has no HMAC secret or does not enable HMAC"))
		}
		if !Verify(s.HmacSecret, p.Algorithm, SigningString(r, p.Headers), p.Signature) {
			return invalid(errors.New("the signature does not match"))
		}
	}
	if err := a.checkDate(r, p.Headers); err != nil {
		return invalid(err)
	}
	c.SessionFromPlugin = false
	if _, err := auth.AdoptStored(c, a.sessions, a.policies, s, p.KeyID, hash); err != nil {
		return chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, err)
	}
	if a.strip {
		a.tokens.Strip(r)
	}
	return nil
}

// verifyRSA checks an rsa-sha256 signature with the public key the key's rsa_certificate_id
// names in the certificate store, as Tyk does: a key without enable_http_signature_validation
// or an id gets the 400; an id the store does not hold, or whose key is not RSA, Tyk's 500.
func (a *Auth) verifyRSA(r *http.Request, s *apidef.SessionState, p Params) error {
	if !s.EnableHTTPSignatureValidation || s.RSACertificateID == "" {
		return invalid(errors.New("the key does not enable rsa-sha256 signatures (enable_http_signature_validation, rsa_certificate_id)"))
	}
	if a.publicKey == nil {
		return chain.Errorf(http.StatusInternalServerError, MsgCertNotFound, errors.New("no certificate store"))
	}
	key, err := a.publicKey(r.Context(), s.RSACertificateID)
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	case err != nil:
		return chain.Errorf(http.StatusInternalServerError, MsgCertNotFound, fmt.Errorf("the key's rsa_certificate_id: %w", err))
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return chain.Errorf(http.StatusInternalServerError, MsgCertNotRSA, errors.New("the key's rsa_certificate_id names a key that is not RSA"))
	}
	if !VerifyRSA(pub, SigningString(r, p.Headers), p.Signature) {
		return invalid(errors.New("the signature does not match"))
	}
	return nil
}

// SignRSA returns the rsa-sha256 signature of a signing string as a client sends it: PKCS #1
// v1.5 over SHA-256, standard base64.
func SignRSA(key *rsa.PrivateKey, signingString string) (string, error) {
	sum := sha256.Sum256([]byte(signingString))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSA reports whether sig, standard base64 (URL-query-escaped or not), is the rsa-sha256
// signature of signingString under key.
func VerifyRSA(key *rsa.PublicKey, signingString, sig string) bool {
	if strings.Contains(sig, "%") {
		unescaped, err := url.QueryUnescape(sig)
		if err != nil {
			return false
		}
		sig = unescaped
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 {
		return false
	}
	sum := sha256.Sum256([]byte(signingString))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], raw) == nil
}

// checkDate requires a date in the request, as Tyk does, and, with a clock skew set, one within
// it of the gateway's clock that the client signed: an old signed request cannot be replayed
// once the skew has passed. Tyk does not ask for the date to be signed, so a request signed
// without it could be replayed forever with a fresh Date; Gatehouse refuses such a signature
// when the skew is set (without a skew nothing limits replays, signed date or not).
func (a *Auth) checkDate(r *http.Request, signed []string) error {
	name, v := DateHeader(r)
	t, err := ParseDate(v)
	if err != nil {
		return err
	}
	if a.skew <= 0 {
		return nil
	}
	if !dateSigned(name, signed) {
		return errors.New("hmac_allowed_clock_skew is set but the signature does not cover date or x-aux-date")
	}
	// Whole milliseconds, as Tyk counts them.
	diff := a.now().Sub(t).Truncate(time.Millisecond)
	if diff > a.skew || -diff > a.skew {
		return fmt.Errorf("the request's date is %s from the gateway's clock, more than hmac_allowed_clock_skew", diff)
	}
	return nil
}

// dateSigned reports whether the date header the gateway checks, name as DateHeader returns it,
// is among the signed headers: "date" signs whichever of X-Aux-Date and Date the request's date
// comes from; "x-aux-date" signs only X-Aux-Date.
func dateSigned(name string, signed []string) bool {
	for _, h := range signed {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "date":
			return true
		case "x-aux-date":
			if name == "x-aux-date" {
				return true
			}
		}
	}
	return false
}

// Params are the parameters of a signature header.
type Params struct {
	KeyID     string
	Algorithm string
	// Headers are the signed headers in order; "(request-target)" is the request line.
	Headers   []string
	Signature string
}

// Parse reads a signature header, Tyk's way: a "Signature" prefix, then comma-separated
// name="value" pairs; only keyId, algorithm, headers and signature (any case) are allowed;
// headers is space-separated and defaults to date. Unlike Tyk, an empty header name in the list
// (headers="", or two spaces in a row) is refused: it would sign a constant line.
func Parse(v string) (Params, error) {
	v = strings.TrimSpace(v)
	for _, prefix := range []string{"Signature", "signature"} {
		v = strings.TrimPrefix(v, prefix)
	}
	var p Params
	for _, field := range strings.Split(strings.TrimSpace(v), ",") {
		name, value, ok := strings.Cut(field, "=")
		if !ok {
			return Params{}, errors.New("a signature parameter is not name=value")
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "keyid":
			p.KeyID = value
		case "algorithm":
			p.Algorithm = value
		case "headers":
			p.Headers = strings.Split(value, " ")
			if slices.Contains(p.Headers, "") {
				return Params{}, errors.New("the signature's headers list has an empty header name")
			}
		case "signature":
			p.Signature = value
		default:
			return Params{}, fmt.Errorf("signature parameter %.32q is not one of keyId, algorithm, headers, signature", name)
		}
	}
	if len(p.Headers) == 0 {
		p.Headers = []string{"date"}
	}
	return p, nil
}

// SigningString is what the client signs: one line per header named, joined by newlines.
// "(request-target)" is the lowercase method and the path (no query, listen path included);
// other headers are "<lowercase name>: <trimmed value>", a missing one with an empty value;
// date is X-Aux-Date when the request has one, the line then labelled x-aux-date.
func SigningString(r *http.Request, headers []string) string {
	return signingString(r, r.URL.Path, headers)
}

// signingString is SigningString with the request line's target given: the path as Tyk's
// signature check reads it, or what an upstream request is sent with (Signer).
func signingString(r *http.Request, target string, headers []string) string {
	var b strings.Builder
	for i, h := range headers {
		if i > 0 {
			b.WriteByte('\n')
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "(request-target)" {
			b.WriteString("(request-target): ")
			b.WriteString(strings.ToLower(r.Method))
			b.WriteByte(' ')
			b.WriteString(target)
			continue
		}
		value := r.Header.Get(h)
		if name == "date" {
			name, value = DateHeader(r)
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(value))
	}
	return b.String()
}

// DateHeader returns the request's date and the name of the header it came from: X-Aux-Date
// when set (for clients that cannot set Date), else Date, else nothing.
func DateHeader(r *http.Request) (name, value string) {
	if v := r.Header.Get("X-Aux-Date"); v != "" {
		return "x-aux-date", v
	}
	if v := r.Header.Get("Date"); v != "" {
		return "date", v
	}
	return "", ""
}

// dateLayouts are the forms of date accepted: Tyk's, with a zone name (GMT, as HTTP dates
// have; as in Tyk, a name Go does not know is read with a zero offset) or a numeric zone.
var dateLayouts = []string{"Mon, 02 Jan 2006 15:04:05 MST", "Mon, 02 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04:05 -07"}

// ParseDate reads a request's date in one of Tyk's forms.
func ParseDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("no Date or X-Aux-Date header")
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("the Date or X-Aux-Date header is not a date like \"Mon, 02 Jan 2006 15:04:05 GMT\"")
}

// hashFor returns the hash of a signature algorithm: SHA-1 for hmac-sha1 and, as in Tyk, for any
// name it does not know (hmac_allowed_algorithms restricts the names).
func hashFor(algorithm string) func() hash.Hash {
	switch algorithm {
	case apidef.HMACSHA256:
		return sha256.New
	case apidef.HMACSHA384:
		return sha512.New384
	case apidef.HMACSHA512:
		return sha512.New
	}
	return sha1.New
}

// Sign returns the signature of a signing string as a client sends it: the HMAC, standard
// base64, URL-query-escaped.
func Sign(secret, algorithm, signingString string) string {
	m := hmac.New(hashFor(algorithm), []byte(secret))
	m.Write([]byte(signingString))
	return url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// Verify reports whether sig is the signature of signingString, compared in constant time.
// Percent-escapes in sig may be lowercase, as Tyk allows.
func Verify(secret, algorithm, signingString, sig string) bool {
	if secret == "" || sig == "" {
		return false
	}
	want := Sign(secret, algorithm, signingString)
	return subtle.ConstantTimeCompare([]byte(want), []byte(upperEscapes(sig))) == 1
}

// upperEscapes returns s with the hex digits of its percent-escapes in upper case.
func upperEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' && isHex(b[i+1]) && isHex(b[i+2]) {
			b[i+1], b[i+2] = upperHex(b[i+1]), upperHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// GenerateSecret makes a key's hmac_string as Tyk does: base64 of 32 random hex digits. The
// base64 text itself, not what it decodes to, is the HMAC key.
func GenerateSecret() (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generating an HMAC secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(raw[:]))), nil
}
