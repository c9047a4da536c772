// Package certstore is Tyk's certificate store: certificates (with or without their private
// key) and public keys kept in the gateway's store under ids, for the Gateway API's /tyk/certs
// and for the definitions and tyk.conf settings that name certificates by id.
//
// Entries are kept as Tyk keeps them, so that gateways sharing a Redis with Tyk's read each
// other's: under "cert-raw-" and the id, which is the organisation id followed by the SHA-256 of
// the certificate's DER (the first one, whose key it is) or of the public key's DER; the value
// is the certificates in PEM, then the private key, encrypted in a legacy PEM block (AES-256,
// RFC 1423) under security.private_certificate_encoding_secret or, without one, secret.
package certstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// Prefix is what entries' names start with in the store, as in Tyk.
const Prefix = "cert-raw-"

// MaxEntry bounds what one entry may hold: a chain of a dozen certificates and a key is a few
// tens of kilobytes.
const MaxEntry = 1 << 20

// MaxOrgID bounds an organisation id, the part of an id before the fingerprint.
const MaxOrgID = apidef.MaxCertificateStoreOrgID

var (
	// ErrNotFound is returned for an id the store does not hold.
	ErrNotFound = errors.New("the certificate store holds no such certificate")
	// ErrUnknownID wraps ErrNotFound when the fingerprint an id ends with may stand for it (see
	// Read): the store is this gateway's own memory, which starts empty, and the id was not
	// removed through it.
	ErrUnknownID = fmt.Errorf("%w (its fingerprint stands for it)", ErrNotFound)
	// ErrExists is returned by Add for a certificate the store holds already.
	ErrExists = errors.New("the certificate store holds this certificate already")
	// ErrInvalid wraps what makes an upload unusable.
	ErrInvalid = errors.New("invalid certificate")
)

// Store keeps certificates in a storage.KV.
type Store struct {
	kv     storage.KV
	secret []byte
	now    func() time.Time
	// shared is set for a store other gateways (and Tyk) share: what it does not hold, nobody
	// added or it was removed.
	shared bool

	// removed are the ids removed through this store, in order, while it is not shared: they
	// no longer fall back to their fingerprints.
	removedMu sync.Mutex
	removed   map[string]bool
	order     []string

	// keys are the public keys PublicKey parsed, by id, with the value they were parsed from.
	mu   sync.Mutex
	keys map[string]parsedKey
}

type parsedKey struct {
	raw []byte
	key crypto.PublicKey
}

// maxParsedKeys bounds the public keys kept parsed: past it, they are all parsed again.
const maxParsedKeys = 4096

// maxRemoved bounds the removals a store that is not shared remembers.
const maxRemoved = 10000

// New returns a store keeping its entries in kv, private keys encrypted under secret. shared
// says whether other gateways share kv (Redis): then the store's answer on an id is final.
func New(kv storage.KV, secret string, now func() time.Time, shared bool) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: kv, secret: []byte(secret), now: now, shared: shared, removed: map[string]bool{}}
}

// fallback reports whether the fingerprint id ends with may stand for an id the store does not
// hold: only in a store of this gateway's own, for an id not removed through it.
func (s *Store) fallback(id string) bool {
	if s.shared {
		return false
	}
	s.removedMu.Lock()
	defer s.removedMu.Unlock()
	return !s.removed[id]
}

// noteRemoved remembers that id was removed (gone is false when it is added again).
func (s *Store) noteRemoved(id string, gone bool) {
	if s.shared {
		return
	}
	s.removedMu.Lock()
	defer s.removedMu.Unlock()
	switch {
	case !gone:
		delete(s.removed, id)
	case !s.removed[id]:
		if len(s.order) >= maxRemoved {
			// The oldest removal is forgotten: its id falls back to its fingerprint again.
			delete(s.removed, s.order[0])
			s.order = s.order[1:]
		}
		s.removed[id] = true
		s.order = append(s.order, id)
	}
}

// Entry is an entry of the store, as read.
type Entry struct {
	ID string
	// Chain are the certificates, the first being the one the id names; none for a public key.
	Chain []*x509.Certificate
	// PublicKey is the DER SubjectPublicKeyInfo of a public key entry.
	PublicKey []byte
	// HasPrivateKey reports whether the entry holds the first certificate's private key.
	HasPrivateKey bool
	// PEM is the entry as PEM with its private key decrypted: what a PEM file of it would hold.
	PEM []byte
}

// Fingerprint returns the hex SHA-256 the id ends with: of the first certificate's DER, or of
// the public key's.
func (e *Entry) Fingerprint() string { return e.ID[len(e.ID)-2*sha256.Size:] }

// ValidOrgID reports why org cannot be an organisation id of the store ("" when it can): ids
// are names in the store, listed by prefix, and named in comma-separated lists.
func ValidOrgID(org string) string {
	switch {
	case len(org) > MaxOrgID:
		return fmt.Sprintf("an org_id is at most %d bytes", MaxOrgID)
	case !apidef.CertificateStoreOrgID(org):
		return "an org_id holds no spaces, control characters, commas, slashes or *?[]"
	}
	return ""
}

// IsID reports whether ref has the form of an id of the store: an organisation id followed by
// 64 lowercase hex digits (apidef.IsCertificateStoreID).
func IsID(ref string) bool { return apidef.IsCertificateStoreID(ref) }

// InStore reports whether ref names an entry of the store rather than a file: it has the form of
// an id, and no file of that name exists (a file wins, as Read reads it).
func InStore(ref string) bool {
	if !IsID(ref) {
		return false
	}
	_, err := os.Stat(ref)
	return err != nil
}

// Add stores the certificates, the private key or the public key of PEM data under orgID, as
// Tyk's POST /tyk/certs does, and returns the entry's id. Only one thing is stored per call: a
// chain (the first certificate being the one the id names, with its private key when given),
// or one public key. Expired certificates, keys that do not match the first certificate and
// data holding both certificates and a public key are refused (ErrInvalid); a certificate the
// store holds already under orgID is ErrExists.
func (s *Store) Add(ctx context.Context, data []byte, orgID string) (string, error) {
	if why := ValidOrgID(orgID); why != "" {
		return "", fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	fp, value, err := s.prepare(data)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	id := orgID + fp
	if _, err := s.kv.Get(ctx, Prefix+id); err == nil {
		return "", fmt.Errorf("%w: %s", ErrExists, id)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	if err := s.kv.Set(ctx, Prefix+id, value, 0); err != nil {
		return "", err
	}
	s.noteRemoved(id, false)
	return id, nil
}

// prepare returns the fingerprint of an upload and what is stored for it.
func (s *Store) prepare(data []byte) (string, []byte, error) {
	if len(data) > MaxEntry {
		return "", nil, fmt.Errorf("larger than %d KiB, which no certificate chain is", MaxEntry>>10)
	}
	var certs [][]byte
	var key, pub *pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return "", nil, fmt.Errorf("certificate %d does not parse: %w", len(certs)+1, err)
			}
			if now := s.now(); now.After(c.NotAfter) {
				return "", nil, fmt.Errorf("certificate %d (%s) expired on %s", len(certs)+1, c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
			}
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes}))
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				return "", nil, errors.New("it holds several private keys; add each certificate with its own key")
			}
			// Encrypted the old way (Proc-Type headers) or as PKCS #8 (openssl pkcs8 -topk8).
			if x509.IsEncryptedPEMBlock(b) || b.Type == "ENCRYPTED PRIVATE KEY" { //nolint:staticcheck // telling the user is all this does
				return "", nil, errors.New("its private key is encrypted; add it unencrypted (the store encrypts it)")
			}
			key = b
		case b.Type == "PUBLIC KEY":
			if pub != nil {
				return "", nil, errors.New("it holds several public keys; add each on its own")
			}
			if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
				return "", nil, fmt.Errorf("its public key does not parse: %w", err)
			}
			pub = b
		}
	}
	switch {
	case len(certs) == 0 && pub == nil:
		return "", nil, errors.New("it holds no PEM certificate or public key")
	case len(certs) > 0 && pub != nil:
		return "", nil, errors.New("public keys cannot be added with certificates; add each on its own")
	case pub != nil && key != nil:
		return "", nil, errors.New("a private key is added with its certificate, not with a public key")
	case pub != nil:
		sum := sha256.Sum256(pub.Bytes)
		return hex.EncodeToString(sum[:]), pem.EncodeToMemory(&pem.Block{Type: pub.Type, Bytes: pub.Bytes}), nil
	}
	chain := bytes.Join(certs, []byte("\n"))
	first, _ := pem.Decode(chain)
	sum := sha256.Sum256(first.Bytes)
	if key == nil {
		return hex.EncodeToString(sum[:]), chain, nil
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: key.Type, Bytes: key.Bytes})
	if _, err := tls.X509KeyPair(chain, keyPEM); err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return "", nil, errors.New("its private key does not match its first certificate")
		}
		return "", nil, errors.New("its private key does not parse")
	}
	enc, err := x509.EncryptPEMBlock(rand.Reader, "ENCRYPTED PRIVATE KEY", key.Bytes, s.secret, x509.PEMCipherAES256) //nolint:staticcheck // Tyk's format
	if err != nil {
		return "", nil, fmt.Errorf("encrypting its private key: %w", err)
	}
	value := append(append(chain, '\n'), pem.EncodeToMemory(enc)...)
	return hex.EncodeToString(sum[:]), value, nil
}

// Get returns the entry id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Entry, error) {
	if !IsID(id) {
		return nil, fmt.Errorf("%w: %q is not an id of the store (an org id followed by 64 lowercase hex digits)", ErrNotFound, id)
	}
	raw, err := s.kv.Get(ctx, Prefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	e, err := s.parse(id, raw)
	if err != nil {
		return nil, fmt.Errorf("certificate %s in the store: %w", id, err)
	}
	return e, nil
}

// parse reads a stored value.
func (s *Store) parse(id string, raw []byte) (*Entry, error) {
	e := &Entry{ID: id}
	var out bytes.Buffer
	for rest := raw; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %d does not parse: %w", len(e.Chain)+1, err)
			}
			e.Chain = append(e.Chain, c)
		case b.Type == "PUBLIC KEY":
			if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("its public key does not parse: %w", err)
			}
			e.PublicKey = b.Bytes
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck // Tyk's format
				der, err := x509.DecryptPEMBlock(b, s.secret) //nolint:staticcheck // Tyk's format
				if err != nil {
					return nil, errors.New("its private key cannot be decrypted: security.private_certificate_encoding_secret (or, without it, secret) is not the one it was stored under")
				}
				b = &pem.Block{Type: strings.TrimPrefix(b.Type, "ENCRYPTED "), Bytes: der}
			}
			e.HasPrivateKey = true
		default:
			continue
		}
		pem.Encode(&out, &pem.Block{Type: b.Type, Bytes: b.Bytes})
	}
	switch {
	case len(e.Chain) == 0 && e.PublicKey == nil:
		return nil, errors.New("it holds no certificate or public key")
	case e.HasPrivateKey && len(e.Chain) == 0:
		return nil, errors.New("it holds a private key without its certificate")
	}
	if e.HasPrivateKey {
		if _, err := tls.X509KeyPair(out.Bytes(), out.Bytes()); err != nil {
			return nil, errors.New("its private key does not match its certificate: security.private_certificate_encoding_secret (or, without it, secret) may not be the one it was stored under")
		}
	}
	e.PEM = out.Bytes()
	return e, nil
}

// IDs returns the ids of the entries of orgID (every entry when orgID is empty), sorted.
func (s *Store) IDs(ctx context.Context, orgID string) ([]string, error) {
	keys, err := s.kv.Keys(ctx, Prefix+orgID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		// By prefix, org1 lists org10's too: the org id must be all of what precedes the
		// fingerprint.
		if id := strings.TrimPrefix(k, Prefix); IsID(id) && (orgID == "" || len(id) == len(orgID)+2*sha256.Size) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Delete removes the entry id and reports whether there was one. From then on its fingerprint
// no longer stands for it (Read).
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if !IsID(id) {
		return false, nil
	}
	found, err := s.kv.Delete(ctx, Prefix+id)
	if err == nil {
		s.noteRemoved(id, true)
	}
	return found, err
}

// Read returns the PEM content ref names, for the settings that name certificates and keys:
// the regular file at ref when there is one (tlsconf.ReadPEMFile), else the store's entry when
// ref is an id of the store, with its private key decrypted. An id the store does not hold is
// an error wrapping ErrNotFound, and ErrUnknownID too when the fingerprint it ends with may
// stand for it (for client certificates and pins, as Gatehouse read Tyk's ids before it had a
// store): never in a shared store, whose answer is final as in Tyk, nor for an id removed
// through this one. A store that cannot be reached is storage.ErrUnavailable. s may be nil:
// files only.
func (s *Store) Read(ctx context.Context, ref string) ([]byte, error) {
	data, err := tlsconf.ReadPEMFile(ref)
	if err == nil || s == nil || !errors.Is(err, fs.ErrNotExist) || !IsID(ref) {
		return data, err
	}
	e, err := s.Get(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		base := ErrNotFound
		if s.fallback(ref) {
			base = ErrUnknownID
		}
		return nil, fmt.Errorf("%w: %q is neither a file nor an id of a certificate in the store (add it with POST /tyk/certs)", base, ref)
	}
	if err != nil {
		return nil, err
	}
	return e.PEM, nil
}

// Holds reports whether the store holds entry id, for checks made on requests (certificate
// auth): it reads the store's node-local copy (KV.GetCached, which the store keeps coherent).
func (s *Store) Holds(ctx context.Context, id string) (bool, error) {
	_, err := s.cached(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// cached reads entry id from the store's node-local copy (KV.GetCached); an id the store does
// not hold, or that is no id, is ErrNotFound.
func (s *Store) cached(ctx context.Context, id string) ([]byte, error) {
	if !IsID(id) {
		return nil, fmt.Errorf("%w: %q is not an id of the store", ErrNotFound, id)
	}
	raw, _, err := s.kv.GetCached(ctx, Prefix+id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return raw, err
}

// PublicKey returns the public key of entry id, for checks made on requests: a public key
// entry's, or its first certificate's. It reads the store's node-local copy (KV.GetCached,
// which the store keeps coherent), and parses each content once; the private key, if any, is
// not read. An id the store does not hold is ErrNotFound.
func (s *Store) PublicKey(ctx context.Context, id string) (crypto.PublicKey, error) {
	raw, err := s.cached(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	k, ok := s.keys[id]
	s.mu.Unlock()
	if ok && bytes.Equal(k.raw, raw) {
		return k.key, nil
	}
	var key crypto.PublicKey
	for rest := raw; key == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, fmt.Errorf("certificate %s in the store holds no certificate or public key", id)
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate %s in the store: %w", id, err)
			}
			key = c.PublicKey
		case "PUBLIC KEY":
			if key, err = x509.ParsePKIXPublicKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("public key %s in the store: %w", id, err)
			}
		}
	}
	s.mu.Lock()
	if s.keys == nil || len(s.keys) >= maxParsedKeys {
		s.keys = map[string]parsedKey{}
	}
	s.keys[id] = parsedKey{raw: bytes.Clone(raw), key: key}
	s.mu.Unlock()
	return key, nil
}
