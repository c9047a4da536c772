package mtls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestStoreIDs: an id of the certificate store lets in the certificate it names, not the CAs of
// the chain stored with it; a CA's id lets in what the CA issued; an id the gateway's own store
// does not hold stands for its fingerprint until it is removed through the store, and in a
// shared store (Redis) lets nothing in, as in Tyk; a removal is seen by FilesChanged.
func TestStoreIDs(t *testing.T) {
	ctx := context.Background()
	ca := certtest.NewCA(t, "partner CA")
	alice := ca.Issue(t, certtest.Leaf{CommonName: "alice", Client: true})
	mallory := ca.Issue(t, certtest.Leaf{CommonName: "mallory", Client: true})
	check := func(c *Check, p *certtest.Pair) int {
		r := httptest.NewRequest(http.MethodGet, "https://secure.test/x", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.TLS.Leaf}}
		var ce *chain.Error
		if err := c.Step().Run(httptest.NewRecorder(), r, &chain.Context{}); errors.As(err, &ce) {
			return ce.Status
		}
		return 200
	}
	read := func(s *certstore.Store) func(string) ([]byte, error) {
		return func(ref string) ([]byte, error) { return s.Read(ctx, ref) }
	}

	own := certstore.New(memory.New(), "s", nil, false)
	aliceID, err := own.Add(ctx, append(append([]byte{}, alice.CertPEM...), ca.PEM...), "acme")
	if err != nil {
		t.Fatal(err)
	}
	caID, err := own.Add(ctx, ca.PEM, "acme")
	if err != nil {
		t.Fatal(err)
	}
	byLeaf, err := New([]string{aliceID}, nil, nil, read(own))
	if err != nil {
		t.Fatal(err)
	}
	if got := check(byLeaf, alice); got != 200 {
		t.Errorf("the certificate the id names: %d", got)
	}
	if got := check(byLeaf, mallory); got != 403 {
		t.Errorf("another certificate of the CA stored in the chain: %d, want 403", got)
	}
	byCA, err := New([]string{caID}, nil, nil, read(own))
	if err != nil {
		t.Fatal(err)
	}
	if check(byCA, mallory) != 200 || byCA.FilesChanged() {
		t.Error("a CA's id does not let in what it issued, or sees a change")
	}

	// Removed through the store: the check is compiled again, and lets nothing in by it.
	if _, err := own.Delete(ctx, aliceID); err != nil {
		t.Fatal(err)
	}
	if !byLeaf.FilesChanged() {
		t.Error("the removal is not seen")
	}
	if _, err := New([]string{aliceID}, nil, nil, read(own)); err == nil || !strings.Contains(err.Error(), "allows no certificate") {
		t.Errorf("a removed id: %v", err)
	}

	// Never added to the gateway's own store: the fingerprint it ends with, watched.
	malloryID := certID("acme", mallory)
	byFingerprint, err := New([]string{malloryID}, nil, nil, read(own))
	if err != nil {
		t.Fatal(err)
	}
	if check(byFingerprint, mallory) != 200 || byFingerprint.FilesChanged() {
		t.Error("an id never added does not stand for its fingerprint, or sees a change")
	}
	if _, err := own.Add(ctx, mallory.CertPEM, "acme"); err != nil {
		t.Fatal(err)
	}
	if !byFingerprint.FilesChanged() {
		t.Error("the id added to the store is not seen")
	}

	// A shared store's answer is final.
	shared := certstore.New(memory.New(), "s", nil, true)
	if _, err := New([]string{malloryID}, nil, nil, read(shared)); err == nil {
		t.Error("an id a shared store does not hold lets its fingerprint in")
	}
}

func certID(org string, p *certtest.Pair) string {
	return org + fingerprintOf(p.TLS.Leaf.Raw)
}

func fingerprintOf(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
