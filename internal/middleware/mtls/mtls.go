// Package mtls is Tyk's static mutual TLS for an API (use_mutual_tls_auth): a request is let in
// only with a client certificate the API allows (client_certificates, and the gateway's
// security.certificates.apis), checked before anything else of the API runs, keyless APIs
// included. The listener asks for client certificates in the handshake (Gateway's
// GetConfigForClient) without verifying them there, so a refused request gets a clear answer.
package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// Tyk's refusals, all 403.
const (
	MsgNoTLS    = "TLS not enabled"
	MsgRequired = "Client TLS certificate is required"
	MsgExpired  = "Certificate has expired"
	// MsgMisdirected answers a request without a certificate on a connection whose handshake
	// did not ask for one (made for another server name and reused, as browsers do with HTTP/2).
	MsgMisdirected = "Misdirected Request: this connection was not asked for a client certificate; open a new one for this host"
)

// Check is the compiled client certificate check of an API.
type Check struct {
	// sums are the SHA-256 of the DER of the certificates allowed themselves.
	sums map[[sha256.Size]byte]bool
	// cas are the CA certificates listed: a client certificate they issued is allowed.
	cas *x509.CertPool
	now func() time.Time
	// read reads files and certificate-store ids.
	read func(string) ([]byte, error)
	// files are the PEM files and certificate-store ids read, by the SHA-256 of their content
	// (FilesChanged); an id the store did not hold (taken as a fingerprint), by zero.
	files map[string][sha256.Size]byte
	// verified remembers chain verifications (issued), which cost signature checks: a client
	// sends its chain once per connection, and may send many requests on it.
	verified verifyCache
	// Asked, when set, reports whether the handshake for a TLS server name asked for a client
	// certificate: a request without one on a connection that was not asked gets 421, so that
	// a client that reused a connection made for another name opens one for this name.
	Asked func(serverName string) bool
}

// maxIntermediates bounds the certificates of a client's chain used to verify it against the
// CAs listed: each may cost a signature check, and the chain is the client's to make up.
const maxIntermediates = 4

// verifyCache holds recent chain verifications, by the SHA-256 of the chain; bounded, and
// each result kept for verifyFor (a certificate's validity is checked apart, at every request).
type verifyCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifyResult
}

type verifyResult struct {
	ok    bool
	until time.Time
}

const (
	maxVerified = 4096
	verifyFor   = time.Minute
)

// New compiles the allowed certificates: each entry a PEM file, PEM text, the id of a
// certificate in the certificate store (its first certificate, not the chain stored with it),
// or a certificate's SHA-256 fingerprint (64 hex digits, which a Tyk certificate-store id ends
// with: the org id followed by the fingerprint; an id the store does not hold is taken so when
// read says it may be, certstore.ErrUnknownID, and otherwise allows nothing). A CA certificate
// allows the certificates it issued; any other allows itself. where names the entries in errors (client_certificates,
// security.certificates.apis); now is the clock (nil: time.Now); read reads files and store
// ids (nil: files only, tlsconf.ReadPEMFile).
func New(entries []string, where []string, now func() time.Time, read func(string) ([]byte, error)) (*Check, error) {
	c := &Check{sums: map[[sha256.Size]byte]bool{}, now: now, read: read, files: map[string][sha256.Size]byte{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.read == nil {
		c.read = tlsconf.ReadPEMFile
	}
	for i, e := range entries {
		name := fmt.Sprintf("client certificate %d", i)
		if i < len(where) {
			name = where[i]
		}
		if err := c.add(e); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(c.sums) == 0 && c.cas == nil {
		return nil, errors.New("use_mutual_tls_auth allows no certificate: list them in client_certificates (PEM files, PEM text, certificate-store ids or SHA-256 fingerprints) or security.certificates.apis; ids the certificate store does not hold allow nothing")
	}
	return c, nil
}

func (c *Check) add(e string) error {
	e = strings.TrimSpace(e)
	switch {
	case e == "":
		return errors.New("empty")
	case strings.Contains(e, "-----BEGIN"):
		return c.addPEM([]byte(e), false)
	}
	fi, statErr := os.Stat(e)
	file := statErr == nil && fi.Mode().IsRegular()
	if file || certstore.IsID(e) {
		data, err := c.read(e)
		switch {
		case err == nil:
			c.files[e] = sha256.Sum256(data)
			// A store entry names its first certificate: the CAs of the chain stored with it
			// are not listed.
			if err := c.addPEM(data, !file); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
			return nil
		case file:
			return err
		case errors.Is(err, certstore.ErrUnknownID):
			// The fingerprint it ends with, watched for the store's entry (FilesChanged).
			c.files[e] = fallbackSum
		case errors.Is(err, certstore.ErrNotFound):
			// Removed, or never added to a store the fleet shares: nothing is let in by it,
			// as in Tyk; watched for its return.
			c.files[e] = absentSum
			return nil
		default:
			return err
		}
	}
	if fp, ok := apidef.CertificateFingerprint(e); ok {
		sum, _ := hex.DecodeString(fp) // 64 hex digits
		c.sums[[sha256.Size]byte(sum)] = true
		return nil
	}
	if statErr == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: give a PEM file, PEM text, the id of a certificate in the certificate store, or a SHA-256 fingerprint (64 hex digits)", e)
	}
	return fmt.Errorf("%q is neither a PEM file, PEM text, the id of a certificate in the certificate store, nor a SHA-256 fingerprint (64 hex digits)", e)
}

// The sums FilesChanged compares a store id that was not held with: read as its fingerprint,
// or letting nothing in.
var (
	fallbackSum = [sha256.Size]byte{}
	absentSum   = [sha256.Size]byte{0xff, 0xff, 0xff, 0xff}
)

// addPEM allows the certificates of PEM data, or its first one alone.
func (c *Check) addPEM(data []byte, firstOnly bool) error {
	certs, err := PEMCertificates(data)
	if err != nil {
		return err
	}
	if firstOnly {
		certs = certs[:1]
	}
	for _, cert := range certs {
		if cert.IsCA && cert.BasicConstraintsValid {
			if c.cas == nil {
				c.cas = x509.NewCertPool()
			}
			c.cas.AddCert(cert)
			continue
		}
		c.sums[sha256.Sum256(cert.Raw)] = true
	}
	return nil
}

// PEMCertificates returns the certificates of PEM data, in order; other blocks (a key kept
// beside them) are skipped. Data without a certificate, or with one that does not parse, is an
// error naming it by its place.
func PEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return out, nil
}

// FilesChanged reports whether a PEM file or store entry the check was compiled from now holds
// other content, or cannot be read: a reload then compiles the API again, so that a
// certificate taken out of a file or the store stops being let in. A store that cannot be
// reached changes nothing: what was read stays.
func (c *Check) FilesChanged() bool {
	if c == nil {
		return false
	}
	for f, sum := range c.files {
		data, err := c.read(f)
		switch {
		case err == nil:
			if sha256.Sum256(data) != sum {
				return true
			}
		case errors.Is(err, storage.ErrUnavailable):
		case errors.Is(err, certstore.ErrUnknownID):
			if sum != fallbackSum {
				return true
			}
		case errors.Is(err, certstore.ErrNotFound):
			if sum != absentSum {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// Step returns the chain step.
func (c *Check) Step() chain.Step {
	return chain.Step{Name: "mutual_tls", Run: c.run}
}

func (c *Check) run(w http.ResponseWriter, r *http.Request, _ *chain.Context) error {
	if r.TLS == nil {
		return chain.Errorf(http.StatusForbidden, MsgNoTLS, errors.New("the request did not come over TLS")).Flagged("CRQ")
	}
	if len(r.TLS.PeerCertificates) == 0 {
		if c.Asked != nil && !c.Asked(r.TLS.ServerName) {
			return chain.Errorf(http.StatusMisdirectedRequest, MsgMisdirected, errors.New("the connection was made for a server name that is not asked for a client certificate"))
		}
		return chain.Errorf(http.StatusForbidden, MsgRequired, errors.New("no client certificate")).Flagged("CRQ")
	}
	leaf := r.TLS.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	now := c.now()
	if !c.sums[sum] && !c.issued(r.TLS.PeerCertificates, sum, now) {
		return chain.Errorf(http.StatusForbidden, "Certificate with SHA256 "+hex.EncodeToString(sum[:])+" not allowed", errors.New("a certificate the API does not allow")).Flagged("CMM")
	}
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return chain.Errorf(http.StatusForbidden, MsgExpired, errors.New("the client certificate is out of its validity period")).Flagged("TKE")
	}
	return nil
}

// issued reports whether the client's chain verifies to one of the CA certificates listed, for
// client authentication, at now; a certificate out of its own validity period is verified at
// the edge of that period instead, so that an expired certificate a listed CA issued gets
// Tyk's "expired" answer (run checks its dates) rather than "not allowed".
// leafSum is the SHA-256 of the leaf (chainCerts[0]).
func (c *Check) issued(chainCerts []*x509.Certificate, leafSum [sha256.Size]byte, now time.Time) bool {
	if c.cas == nil {
		return false
	}
	leaf := chainCerts[0]
	at := now
	switch {
	case now.After(leaf.NotAfter):
		at = leaf.NotAfter
	case now.Before(leaf.NotBefore):
		at = leaf.NotBefore
	}
	if len(chainCerts) > 1+maxIntermediates {
		chainCerts = chainCerts[:1+maxIntermediates]
	}
	// The chain's key: the leaf's sum, and with intermediates the sum of all their sums.
	key := leafSum
	if len(chainCerts) > 1 {
		sums := make([]byte, 0, len(chainCerts)*sha256.Size)
		sums = append(sums, leafSum[:]...)
		for _, ic := range chainCerts[1:] {
			s := sha256.Sum256(ic.Raw)
			sums = append(sums, s[:]...)
		}
		key = sha256.Sum256(sums)
	}
	vc := &c.verified
	vc.mu.Lock()
	r, hit := vc.m[key]
	vc.mu.Unlock()
	if hit && now.Before(r.until) {
		return r.ok
	}
	opts := x509.VerifyOptions{Roots: c.cas, Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: at}
	for _, ic := range chainCerts[1:] {
		opts.Intermediates.AddCert(ic)
	}
	_, err := leaf.Verify(opts)
	vc.mu.Lock()
	if vc.m == nil || len(vc.m) >= maxVerified {
		vc.m = make(map[[sha256.Size]byte]verifyResult)
	}
	vc.m[key] = verifyResult{ok: err == nil, until: now.Add(verifyFor)}
	vc.mu.Unlock()
	return err == nil
}
