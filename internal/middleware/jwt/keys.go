package jwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"
)

// errUnknownKey is returned when no key verifies the token: an unknown kid, or a JWKS that
// cannot be fetched. Either way the token is refused.
var errUnknownKey = errors.New("no key for the token")

// keySource finds the verification key of a token by its kid.
type keySource interface {
	key(ctx context.Context, kid string) (any, error)
	// generation numbers the keys in use at now; false when there are none fresh to cache
	// results against.
	generation(now time.Time) (uint64, bool)
}

// staticKey is the key jwt_source holds itself.
type staticKey struct{ k any }

func (s staticKey) key(context.Context, string) (any, error) { return s.k, nil }

// The static key changes only with the definition, which compiles a new auth.
func (s staticKey) generation(time.Time) (uint64, bool) { return 0, true }

// parseStatic reads jwt_source key material for a signing method: the HMAC secret as is, or a
// PEM public key (PKIX or PKCS #1) or certificate whose key must be of the method's type.
func parseStatic(method string, raw []byte) (any, error) {
	return parseKey("jwt_source", method, raw)
}

// parseKey reads the key material field holds (jwt_source, or a key's jwt_data.secret) for a
// signing method, as parseStatic does; errors name field.
func parseKey(field, method string, raw []byte) (any, error) {
	if method == hmacMethod {
		if err := checkHMACSecret(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return raw, nil
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s: jwt_signing_method %q needs a PEM public key or certificate", field, method)
	}
	var pub any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", field, block.Type, err)
	}
	if !keyFits(method, pub) {
		return nil, fmt.Errorf("%s: a %T does not fit jwt_signing_method %q", field, pub, method)
	}
	return pub, nil
}

// checkHMACSecret refuses an HMAC secret that is empty, or that is PEM or DER public key
// material: the classic algorithm-confusion setup, where a key published for RSA or ECDSA
// verification becomes an HMAC secret and anyone holding it can sign HS256 tokens.
func checkHMACSecret(raw []byte) error {
	if len(raw) == 0 {
		return errors.New("the HMAC secret is empty")
	}
	if block, _ := pem.Decode(raw); block != nil || bytes.Contains(raw, []byte("-----BEGIN")) {
		return errors.New("the HMAC secret is a PEM block (a public key or certificate): refused, anyone holding it could sign HMAC tokens")
	}
	_, errPKIX := x509.ParsePKIXPublicKey(raw)
	_, errPKCS1 := x509.ParsePKCS1PublicKey(raw)
	_, errCert := x509.ParseCertificate(raw)
	if errPKIX == nil || errPKCS1 == nil || errCert == nil {
		return errors.New("the HMAC secret is a DER public key or certificate: refused, anyone holding it could sign HMAC tokens")
	}
	return nil
}

// keyFits reports whether k is a key of the signing method's family.
func keyFits(method string, k any) bool {
	switch k.(type) {
	case []byte:
		return method == hmacMethod
	case *rsa.PublicKey:
		return method == rsaMethod
	case *ecdsa.PublicKey:
		return method == ecdsaMethod
	}
	return false
}

// JWKS fetching bounds.
const (
	// DefaultJWKSCacheTTL is how long fetched keys are used before they are fetched again:
	// Tyk's jwks.cache.timeout default.
	DefaultJWKSCacheTTL = 240 * time.Second
	// DefaultJWKSRefetch is the least time between two fetches, whatever kids tokens name.
	DefaultJWKSRefetch = 10 * time.Second
	// DefaultJWKSTimeout bounds one fetch.
	DefaultJWKSTimeout = 5 * time.Second
	// maxJWKSCacheTTL bounds a jwt_jwks_uris entry's cache_timeout: keys a server revoked are
	// dropped within a day whatever it says.
	maxJWKSCacheTTL = 24 * time.Hour
	maxJWKSBytes    = 1 << 20
	maxJWKSKeys     = 100
)

// jwks is a JWKS URL's keys, fetched on first use and cached: again after the TTL, and when a
// token names an unknown kid, but never twice within the refetch interval, so tokens naming
// random kids cannot make the gateway hammer the key server. Concurrent requests share one
// fetch. When the keys cannot be fetched once the TTL has passed, they are dropped: tokens are
// refused, never verified against keys the server may have revoked.
type jwks struct {
	url     string
	client  *http.Client
	ttl     time.Duration
	refetch time.Duration
	timeout time.Duration
	now     func() time.Time
	method  string

	mu       sync.Mutex
	keys     map[string]any
	version  uint64        // counts successful fetches
	fetched  time.Time     // last successful fetch
	tried    time.Time     // last fetch started
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
	// epoch counts flushes: a fetch started before one does not store what it read.
	epoch uint64
}

func (j *jwks) key(ctx context.Context, kid string) (any, error) {
	if kid == "" {
		return nil, errUnknownKey // a token without a kid names no key of a set, as in Tyk
	}
	for {
		j.mu.Lock()
		now := j.now()
		k, known := j.keys[kid]
		fresh := !j.fetched.IsZero() && now.Sub(j.fetched) < j.ttl
		if known && fresh {
			j.mu.Unlock()
			return k, nil
		}
		if wait := j.inflight; wait != nil {
			j.mu.Unlock()
			select {
			case <-wait:
				// The fetch this request waited for decides: look once more, without
				// starting another.
				j.mu.Lock()
				k, known = j.keys[kid]
				j.mu.Unlock()
				if known {
					return k, nil
				}
				return nil, errUnknownKey
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if !j.tried.IsZero() && now.Sub(j.tried) < j.refetch {
			j.mu.Unlock()
			if known {
				return k, nil
			}
			return nil, errUnknownKey
		}
		j.tried = now
		done := make(chan struct{})
		j.inflight = done
		epoch := j.epoch
		j.mu.Unlock()
		// The fetch runs on its own context: a client that goes away does not cancel the
		// fetch other requests wait for. Its timeout bounds it.
		go j.fetch(done, epoch)
	}
}

// refresh starts a fetch of the set's keys in the background, unless one runs or the refetch
// budget is spent.
func (j *jwks) refresh() {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	if j.inflight != nil || !j.tried.IsZero() && now.Sub(j.tried) < j.refetch {
		return
	}
	j.tried = now
	j.inflight = make(chan struct{})
	go j.fetch(j.inflight, j.epoch)
}

// cached returns the key of kid when the set holds it and is fresh, without fetching.
func (j *jwks) cached(kid string) (any, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k, ok := j.keys[kid]
	return k, ok && !j.fetched.IsZero() && j.now().Sub(j.fetched) < j.ttl
}

// jwksList is several JWKS (jwt_jwks_uris): a kid is looked up in each, in order. The keys they
// hold fresh are looked at first, so that a kid found in a later set never makes an earlier one
// fetch again; only a kid none holds makes each fetch (each within its own refetch budget).
type jwksList []*jwks

func (l jwksList) key(ctx context.Context, kid string) (any, error) {
	for _, j := range l {
		if k, ok := j.cached(kid); ok {
			return k, nil
		}
	}
	for _, j := range l {
		k, err := j.key(ctx, kid)
		switch {
		case err == nil:
			return k, nil
		case !errors.Is(err, errUnknownKey):
			return nil, err
		}
	}
	return nil, errUnknownKey
}

// generation numbers the sets' keys together (each set's count of changes only grows, so their
// sum changes whenever one does); fresh while every set fetched so far is, and one is.
func (l jwksList) generation(now time.Time) (uint64, bool) {
	var sum uint64
	some, ok := false, true
	for _, j := range l {
		v, fresh := j.generation(now)
		sum += v
		j.mu.Lock()
		holds := j.keys != nil
		j.mu.Unlock()
		if holds && !fresh {
			// Keys past their time may have verified a cached token: nothing is cached until
			// the set is fetched again, which starts now rather than when a token misses.
			ok = false
			j.refresh()
		}
		some = some || fresh
	}
	return sum, ok && some
}

func (j *jwks) generation(now time.Time) (uint64, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	// Stale keys are refetched by the next verification; until then nothing is cached, and a
	// cached token is not served past the keys' TTL.
	return j.version, j.keys != nil && !j.fetched.IsZero() && now.Sub(j.fetched) < j.ttl
}

// JWKSSets holds a gateway's JWKS by URL and signing method, so that a reload, which compiles
// every API's auth again, keeps the keys already fetched and the refetch budget spent: reloads
// never make the gateway fetch a JWKS again before its TTL.
type JWKSSets struct {
	mu   sync.Mutex
	sets map[string]*jwks
}

// NewJWKSSets returns an empty holder.
func NewJWKSSets() *JWKSSets { return &JWKSSets{sets: map[string]*jwks{}} }

func (s *JWKSSets) get(k string, mk func() *jwks) *jwks {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.sets[k]
	if !ok {
		j = mk()
		s.sets[k] = j
	}
	return j
}

// Flush drops the keys of the sets named in keys (JWKSKeys of auths), or of every set with all:
// the next token fetches them afresh, the refetch budget given back (Tyk's
// DELETE /tyk/cache/jwks). A fetch under way is disowned: what it read is not stored. It
// returns how many sets it flushed.
func (s *JWKSSets) Flush(keys []string, all bool) int {
	s.mu.Lock()
	var sets []*jwks
	for k, j := range s.sets {
		if all || slices.Contains(keys, k) {
			sets = append(sets, j)
		}
	}
	s.mu.Unlock()
	for _, j := range sets {
		j.mu.Lock()
		j.keys, j.fetched, j.tried, j.inflight = nil, time.Time{}, time.Time{}, nil
		j.epoch++
		// A new version: the tokens verified with these keys are no longer served from the
		// cache, by this API or any other whose list shares the set.
		j.version++
		j.mu.Unlock()
	}
	return len(sets)
}

// Retain drops the sets no auth in used names (JWKSKey of each); used is read only.
func (s *JWKSSets) Retain(used map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.sets {
		if !used[k] {
			delete(s.sets, k)
		}
	}
}

// Len is how many sets are held.
func (s *JWKSSets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sets)
}

// fetch fetches the keys and stores them, or, when that fails and the TTL has passed, drops
// the old ones.
func (j *jwks) fetch(done chan struct{}, epoch uint64) {
	keys, err := j.get()
	j.mu.Lock()
	defer j.mu.Unlock()
	defer close(done)
	if j.epoch != epoch {
		return // flushed meanwhile: what was read may be what the flush was for
	}
	switch {
	case err == nil:
		j.keys, j.fetched = keys, j.now()
		j.version++
	case j.fetched.IsZero() || j.now().Sub(j.fetched) >= j.ttl:
		j.keys = nil
		j.version++
	}
	j.inflight = nil
}

func (j *jwks) get() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, errors.New("jwks: larger than 1 MiB")
	}
	return parseJWKS(data, j.method)
}

// jwk is one entry of a JWK set (RFC 7517), the fields Gatehouse reads.
type jwk struct {
	Kty string   `json:"kty"`
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	Crv string   `json:"crv"`
	X   string   `json:"x"`
	Y   string   `json:"y"`
	X5c []string `json:"x5c"`
}

// parseJWKS reads the keys of a JWK set that fit the signing method, by kid. Entries it cannot
// read, of another type, or for encryption are skipped.
func parseJWKS(data []byte, method string) (map[string]any, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]any{}
	for _, e := range set.Keys {
		if len(keys) == maxJWKSKeys {
			break
		}
		if e.Use != "" && e.Use != "sig" || e.Kid == "" {
			continue // a key without a kid is found by no token, as in Tyk
		}
		k, err := e.publicKey()
		if err != nil || !keyFits(method, k) {
			continue
		}
		keys[e.Kid] = k
	}
	return keys, nil
}

// publicKey builds the entry's key: from x5c's first certificate when present, else from the
// RSA (n, e) or EC (crv, x, y) parameters.
func (e jwk) publicKey() (any, error) {
	if len(e.X5c) > 0 {
		der, err := base64.StdEncoding.DecodeString(e.X5c[0])
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	switch e.Kty {
	case "RSA":
		n, err := b64int(e.N)
		if err != nil {
			return nil, err
		}
		ev, err := b64int(e.E)
		if err != nil {
			return nil, err
		}
		if n.BitLen() < 1024 || !ev.IsInt64() || ev.Int64() < 3 || ev.Int64() > 1<<31-1 || ev.Bit(0) == 0 {
			return nil, errors.New("jwk: unusable RSA parameters")
		}
		return &rsa.PublicKey{N: n, E: int(ev.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch e.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("jwk: curve %q", e.Crv)
		}
		x, err := b64bytes(e.X)
		if err != nil {
			return nil, err
		}
		y, err := b64bytes(e.Y)
		if err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("jwk: EC coordinates of the wrong size")
		}
		// The uncompressed point encoding lets crypto/ecdsa check the point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	}
	return nil, fmt.Errorf("jwk: key type %q", e.Kty)
}

func b64bytes(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

func b64int(s string) (*big.Int, error) {
	b, err := b64bytes(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("jwk: bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}
