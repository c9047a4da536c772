// Package tlsconf builds the TLS configuration of the gateway's listeners (the proxy, the
// Gateway API and, later, metrics) from tyk.conf's terms: certificates chosen by server name,
// Tyk's numeric TLS versions and Go cipher-suite names. Certificates are held behind an atomic
// pointer and read by every handshake, so that Reload can replace them without touching a
// connection: handshakes that start after it get the new certificates, connections already
// open keep theirs.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/regfile"
)

// Pair names one certificate to serve: a PEM certificate file (the chain, leaf first) and its
// PEM key file, or, with KeyFile empty, one PEM file holding both.
type Pair struct {
	// Domain, when set, is a server name the certificate is chosen for, besides the names the
	// certificate itself carries (tyk.conf's certificates[].domain_name).
	Domain string
	// Source says where the pair was configured, for messages (e.g. "certificates[0]").
	Source   string
	CertFile string
	KeyFile  string
	// Read reads CertFile and KeyFile (nil: os.ReadFile); the gateway's also reads ids of its
	// certificate store.
	Read func(string) ([]byte, error)
}

// Certs is a set of certificates chosen by the server name a client asks for (SNI). It is safe
// for concurrent use; Reload swaps the whole set at once.
type Certs struct {
	pairs []Pair
	set   atomic.Pointer[certSet]
	// extra are certificates added besides the pairs (SetExtra), indexed by their names alone;
	// nil when there are none.
	extra atomic.Pointer[certSet]
}

// SetExtra serves certs besides the configured pairs, from the next handshake on, for the names
// they carry: a configured certificate wins for the same name (exact or wildcard), an added one
// with the exact name wins over a configured wildcard; never as the default.
// Each certificate's Leaf must be set, or is parsed here; one that does not parse is skipped.
func (c *Certs) SetExtra(certs []*tls.Certificate) {
	if len(certs) == 0 {
		c.extra.Store(nil)
		return
	}
	set := &certSet{byName: map[string][]*tls.Certificate{}, wildcard: map[string][]*tls.Certificate{}}
	for _, cert := range certs {
		if cert.Leaf == nil {
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				continue
			}
			cert.Leaf = leaf
		}
		set.all = append(set.all, cert)
		for _, n := range names(cert.Leaf) {
			addName(set, strings.ToLower(n), cert)
		}
	}
	c.extra.Store(set)
}

// certSet is one loaded generation of certificates. It is never modified once built.
type certSet struct {
	// byName maps a lower-case server name to the certificates for it, those given by a
	// domain_name first, then those whose own names match, in configuration order.
	byName map[string][]*tls.Certificate
	// wildcard maps the parent of a "*.example.com" name ("example.com") to its certificates.
	wildcard map[string][]*tls.Certificate
	// all lists every certificate in configuration order; the first is the default.
	all []*tls.Certificate
	// expiry lists certificates that are expired or not yet valid, no longer served, or served
	// for a domain they do not cover, as sentences.
	expiry []string
}

// Absent wraps the error of reading a certificate known to be gone (removed from the
// certificate store), as a Pair's Read returns it: a reload stops serving that pair, rather
// than keeping every certificate read before as it does for a file that cannot be read.
type Absent struct{ Err error }

func (a Absent) Error() string { return a.Err.Error() }
func (a Absent) Unwrap() error { return a.Err }

// Load reads every pair. It fails, naming each file that cannot be used, when any cannot: a
// listener must not start with fewer certificates than it was configured with.
func Load(pairs []Pair) (*Certs, error) {
	if len(pairs) == 0 {
		return nil, errors.New("no certificate is configured: set http_server_options.certificates or ssl_certificates")
	}
	c := &Certs{pairs: slices.Clone(pairs)}
	set, err := load(c.pairs, time.Now(), false)
	if err != nil {
		return nil, err
	}
	c.set.Store(set)
	return c, nil
}

// Reload reads every pair again and, when all can be used, serves them from the next handshake
// on. When any cannot, it returns why and the certificates loaded before keep serving: a
// half-written file during a rotation must not take a listener down.
func (c *Certs) Reload() error {
	set, err := load(c.pairs, time.Now(), true)
	if err != nil {
		return err
	}
	c.set.Store(set)
	return nil
}

// Expiry returns a sentence for every served certificate that is expired or not yet valid, as
// of when it was loaded.
func (c *Certs) Expiry() []string { return c.set.Load().expiry }

// GetCertificate picks the certificate for a handshake, as tls.Config.GetCertificate: the one
// configured for the server name (domain_name), else one whose names match it exactly, else
// one whose wildcard name matches, else the first configured. Among several for the same name,
// the first the client supports (by key type and signature algorithms) wins.
func (c *Certs) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := c.set.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		// The most specific name wins (exact over wildcard); between equals, the configured
		// certificates win over those added.
		extra := c.extra.Load()
		if cert := pick(hello, set.byName[name]); cert != nil {
			return cert, nil
		}
		if extra != nil {
			if cert := pick(hello, extra.byName[name]); cert != nil {
				return cert, nil
			}
		}
		if _, parent, ok := strings.Cut(name, "."); ok {
			if cert := pick(hello, set.wildcard[parent]); cert != nil {
				return cert, nil
			}
			if extra != nil {
				if cert := pick(hello, extra.wildcard[parent]); cert != nil {
					return cert, nil
				}
			}
		}
	}
	if cert := pick(hello, set.all); cert != nil {
		return cert, nil
	}
	return set.all[0], nil
}

// pick returns the first certificate of certs the client supports, else the first one, else nil.
func pick(hello *tls.ClientHelloInfo, certs []*tls.Certificate) *tls.Certificate {
	if len(certs) == 0 {
		return nil
	}
	for _, cert := range certs {
		if hello.SupportsCertificate(cert) == nil {
			return cert
		}
	}
	return certs[0]
}

// load reads pairs into a new certificate set.
func load(pairs []Pair, now time.Time, dropAbsent bool) (*certSet, error) {
	set := &certSet{byName: map[string][]*tls.Certificate{}, wildcard: map[string][]*tls.Certificate{}}
	var errs []error
	certs := make([]*tls.Certificate, len(pairs))
	for i, p := range pairs {
		cert, err := readPair(p)
		var absent Absent
		if dropAbsent && errors.As(err, &absent) {
			set.expiry = append(set.expiry, fmt.Sprintf("%s (%s) is no longer served: %v", p.Source, p.CertFile, absent.Err))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		certs[i] = cert
		set.all = append(set.all, cert)
		leaf := cert.Leaf
		switch {
		case now.After(leaf.NotAfter):
			set.expiry = append(set.expiry, fmt.Sprintf("%s (%s): the certificate for %s expired on %s",
				p.Source, p.CertFile, certName(leaf), leaf.NotAfter.UTC().Format(time.RFC3339)))
		case now.Before(leaf.NotBefore):
			set.expiry = append(set.expiry, fmt.Sprintf("%s (%s): the certificate for %s is not valid before %s",
				p.Source, p.CertFile, certName(leaf), leaf.NotBefore.UTC().Format(time.RFC3339)))
		}
		if d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Domain), ".")); d != "" {
			probe := d
			if parent, ok := strings.CutPrefix(d, "*."); ok {
				probe = "name." + parent // any name the wildcard domain stands for
			}
			if leaf.VerifyHostname(probe) != nil {
				set.expiry = append(set.expiry, fmt.Sprintf("%s (%s): the certificate for %s does not cover the domain %s it is served for (domain_name): clients checking names refuse the handshake; give the certificate of that domain, or serve this one for a name it holds",
					p.Source, p.CertFile, certName(leaf), d))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(set.all) == 0 {
		return nil, errors.New("no certificate is left to serve: " + strings.Join(set.expiry, "; "))
	}
	// Explicit domain names first, so that they win over names read from certificates.
	for i, p := range pairs {
		if certs[i] == nil {
			continue
		}
		if d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Domain), ".")); d != "" {
			addName(set, d, certs[i])
		}
	}
	for _, cert := range set.all {
		for _, n := range names(cert.Leaf) {
			addName(set, strings.ToLower(n), cert)
		}
	}
	return set, nil
}

// addName indexes cert under name, a wildcard name under its parent.
func addName(set *certSet, name string, cert *tls.Certificate) {
	m := set.byName
	if parent, ok := strings.CutPrefix(name, "*."); ok {
		m, name = set.wildcard, parent
	}
	if !slices.Contains(m[name], cert) {
		m[name] = append(m[name], cert)
	}
}

// names returns a certificate's DNS names, or its common name when it has none (as old
// certificates do).
func names(leaf *x509.Certificate) []string {
	if len(leaf.DNSNames) > 0 {
		return leaf.DNSNames
	}
	if leaf.Subject.CommonName != "" {
		return []string{leaf.Subject.CommonName}
	}
	return nil
}

// certName names a certificate in a message.
func certName(leaf *x509.Certificate) string {
	if n := names(leaf); len(n) > 0 {
		return fmt.Sprintf("%q", strings.Join(n, ", "))
	}
	return fmt.Sprintf("serial %s", leaf.SerialNumber)
}

// readPair reads and checks one pair.
func readPair(p Pair) (*tls.Certificate, error) {
	where := p.Source
	if where == "" {
		where = "certificate"
	}
	read := p.Read
	if read == nil {
		read = os.ReadFile
	}
	certPEM, err := read(p.CertFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && p.KeyFile == "" {
			return nil, fmt.Errorf("%s: %w (give the path of a PEM file holding the certificate and its key, or the id of a certificate with its key in the certificate store)", where, err)
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	keyPEM := certPEM
	if p.KeyFile != "" {
		if keyPEM, err = read(p.KeyFile); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if p.KeyFile == "" {
			return nil, fmt.Errorf("%s: %s: %w (the file must hold the certificate and its private key, both PEM)", where, p.CertFile, err)
		}
		return nil, fmt.Errorf("%s: %s and %s: %w", where, p.CertFile, p.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, p.CertFile, err)
		}
	}
	return &cert, nil
}

// MaxPEMFile bounds a PEM file of certificates or keys read: a CA bundle of every public root is
// under 300 KiB.
const MaxPEMFile = 4 << 20

// ReadPEMFile reads a file of certificates or keys that a definition or the configuration
// names. It must be a regular file (not a device, FIFO or directory, which could block or never
// end), neither empty (as the kernel's pseudo-files under /proc and /sys say they are, which
// can block too) nor over MaxPEMFile bytes. It is opened without waiting: opening a FIFO
// would wait for a writer.
func ReadPEMFile(path string) ([]byte, error) {
	f, fi, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	if fi.Size() > MaxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d MiB, which no certificate or key file is", path, MaxPEMFile>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d MiB, which no certificate or key file is", path, MaxPEMFile>>20)
	}
	return data, nil
}
