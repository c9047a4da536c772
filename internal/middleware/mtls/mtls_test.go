package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// TestNewRefuses: what cannot name a certificate stops the API with the entry named; an empty
// list too (nothing would be let in).
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	keyOnly := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyOnly, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		entries []string
		want    string
	}{
		"none":               {nil, "allows no certificate"},
		"empty entry":        {[]string{" "}, "client_certificates[0]: empty"},
		"a store id":         {[]string{"globex-5f1e"}, "neither a PEM file"},
		"a missing file":     {[]string{filepath.Join(dir, "missing.pem")}, "neither a PEM file"},
		"a file, no cert":    {[]string{keyOnly}, "holds no PEM certificate"},
		"bad PEM text":       {[]string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "certificate 1"},
		"63 hex digits":      {[]string{strings.Repeat("a", 63)}, "neither a PEM file"},
		"not hex at the end": {[]string{strings.Repeat("a", 63) + "g"}, "neither a PEM file"},
		"a directory":        {[]string{dir}, "is not a regular file"},
		"a device":           {[]string{os.DevNull}, "is not a regular file"},
	} {
		where := make([]string, len(c.entries))
		for i := range where {
			where[i] = "client_certificates[" + string(rune('0'+i)) + "]"
		}
		_, err := New(c.entries, where, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	if _, err := New([]string{"acme" + strings.Repeat("AB", 32)}, nil, nil, nil); err != nil {
		t.Errorf("an id ending with an upper-case fingerprint: %v", err)
	}
}

// newCert makes a certificate signed by parent (self-signed when parent is nil).
func newCert(t *testing.T, cn string, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestChainBounds: a client certificate a listed CA issued through an intermediate is let in
// when the client sends the intermediate among the first few certificates of its chain, and
// refused past them: what a client sends costs signature checks, so only so much of it is read.
func TestChainBounds(t *testing.T) {
	root, rootKey := newCert(t, "root", true, nil, nil)
	inter, interKey := newCert(t, "intermediate", true, root, rootKey)
	leaf, _ := newCert(t, "client", false, inter, interKey)
	c, err := New([]string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var junk []*x509.Certificate
	for i := range maxIntermediates + 1 {
		j, _ := newCert(t, "junk "+string(rune('a'+i)), true, nil, nil)
		junk = append(junk, j)
	}
	check := func(certs ...*x509.Certificate) int {
		r := httptest.NewRequest(http.MethodGet, "https://secure.test/x", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: certs}
		err := c.Step().Run(httptest.NewRecorder(), r, &chain.Context{})
		var ce *chain.Error
		if errors.As(err, &ce) {
			return ce.Status
		}
		return 200
	}
	if got := check(leaf, inter); got != 200 {
		t.Errorf("leaf and intermediate: %d, want 200", got)
	}
	if got := check(append(append([]*x509.Certificate{leaf}, junk[:maxIntermediates-1]...), inter)...); got != 200 {
		t.Errorf("the intermediate within the first %d: %d, want 200", maxIntermediates, got)
	}
	if got := check(append(append([]*x509.Certificate{leaf}, junk...), inter)...); got != 403 {
		t.Errorf("the intermediate past the first %d: %d, want 403", maxIntermediates, got)
	}
	if got := check(leaf); got != 403 {
		t.Errorf("the leaf alone: %d, want 403", got)
	}
}

// TestVerifiedChainsRemembered: a chain verified against the listed CAs is not verified again
// for a minute (a client sends it on every request of its connection); after that it is.
func TestVerifiedChainsRemembered(t *testing.T) {
	root, rootKey := newCert(t, "root", true, nil, nil)
	leaf, _ := newCert(t, "client", false, root, rootKey)
	now := time.Now()
	c, err := New([]string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))}, nil, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.Raw)
	if !c.issued([]*x509.Certificate{leaf}, sum, now) {
		t.Fatal("a certificate the listed CA issued was not let in")
	}
	// With the CA gone from the pool, only the remembered verification lets it in.
	c.cas = x509.NewCertPool()
	if !c.issued([]*x509.Certificate{leaf}, sum, now.Add(verifyFor-time.Second)) {
		t.Error("the verification was not remembered")
	}
	if c.issued([]*x509.Certificate{leaf}, sum, now.Add(verifyFor)) {
		t.Error("the verification was remembered past verifyFor")
	}
}
