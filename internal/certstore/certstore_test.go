package certstore_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func der(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

func TestAddGetDelete(t *testing.T) {
	ctx := context.Background()
	kv := memory.New()
	s := certstore.New(kv, "the-secret", nil, false)
	ca := certtest.NewCA(t, "store CA")
	pair := ca.Localhost(t)
	pubDER, err := x509.MarshalPKIXPublicKey(pair.TLS.Leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	// A certificate with its key: the id is the org and the certificate's DER sum; the key is
	// stored encrypted, and comes back decrypted.
	id, err := s.Add(ctx, append(append(append([]byte{}, pair.CertPEM...), ca.PEM...), pair.KeyPEM...), "org1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "org1" + hexSum(der(t, pair.CertPEM)); id != want {
		t.Fatalf("id %s, want %s", id, want)
	}
	raw, err := kv.Get(ctx, "cert-raw-"+id)
	if err != nil {
		t.Fatalf("not under Tyk's name: %v", err)
	}
	if bytes.Contains(raw, der(t, pair.KeyPEM)) || bytes.Contains(raw, pair.KeyPEM) || !bytes.Contains(raw, []byte("ENCRYPTED PRIVATE KEY")) || !bytes.Contains(raw, []byte("DEK-Info: AES-256-CBC")) {
		t.Fatalf("the private key is not stored encrypted as Tyk stores it:\n%s", raw)
	}
	e, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !e.HasPrivateKey || len(e.Chain) != 2 || e.Fingerprint() != hexSum(der(t, pair.CertPEM)) {
		t.Fatalf("entry %+v", e)
	}
	kp, err := tls.X509KeyPair(e.PEM, e.PEM)
	if err != nil {
		t.Fatalf("the entry's PEM is no key pair: %v", err)
	}
	if len(kp.Certificate) != 2 {
		t.Fatalf("chain of %d", len(kp.Certificate))
	}

	// Twice: refused.
	if _, err := s.Add(ctx, pair.Bundle(), "org1"); !errors.Is(err, certstore.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	// Another org: its own entry.
	id2, err := s.Add(ctx, pair.CertPEM, "org2")
	if err != nil {
		t.Fatal(err)
	}
	// A public key: its id is the key's DER sum.
	id3, err := s.Add(ctx, pubPEM, "org2")
	if err != nil {
		t.Fatal(err)
	}
	if id3 != "org2"+hexSum(pubDER) {
		t.Fatalf("public key id %s", id3)
	}
	e3, err := s.Get(ctx, id3)
	if err != nil || !bytes.Equal(e3.PublicKey, pubDER) || e3.HasPrivateKey || len(e3.Chain) != 0 {
		t.Fatalf("public key entry %+v, %v", e3, err)
	}

	all, err := s.IDs(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("all ids %v, %v", all, err)
	}
	org2, err := s.IDs(ctx, "org2")
	if err != nil || len(org2) != 2 || !strings.HasPrefix(org2[0], "org2") || !strings.HasPrefix(org2[1], "org2") {
		t.Fatalf("org2 ids %v, %v", org2, err)
	}

	if ok, err := s.Delete(ctx, id2); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, err := s.Get(ctx, id2); !errors.Is(err, certstore.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if ok, _ := s.Delete(ctx, id2); ok {
		t.Fatal("deleted twice")
	}

	// Another secret cannot read the key, and says why.
	other := certstore.New(kv, "another-secret", nil, false)
	if _, err := other.Get(ctx, id); err == nil || !strings.Contains(err.Error(), "private_certificate_encoding_secret") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestAddRefused(t *testing.T) {
	ctx := context.Background()
	s := certstore.New(memory.New(), "s", nil, false)
	ca := certtest.NewCA(t, "CA")
	a, b := ca.Localhost(t), ca.Localhost(t)
	pubDER, _ := x509.MarshalPKIXPublicKey(a.TLS.Leaf.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	later := certstore.New(memory.New(), "s", func() time.Time { return time.Now().Add(48 * time.Hour) }, false)
	cases := []struct {
		name string
		s    *certstore.Store
		data []byte
		org  string
		want string
	}{
		{"not PEM", s, []byte("hello"), "", "no PEM certificate"},
		{"a key alone", s, a.KeyPEM, "", "no PEM certificate"},
		{"the wrong key", s, append(append([]byte{}, a.CertPEM...), b.KeyPEM...), "", "does not match"},
		{"two keys", s, append(a.Bundle(), b.KeyPEM...), "", "several private keys"},
		{"a certificate and a public key", s, append(append([]byte{}, a.CertPEM...), pubPEM...), "", "public keys cannot"},
		{"two public keys", s, append(append([]byte{}, pubPEM...), pubPEM...), "", "several public keys"},
		{"a broken certificate", s, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), "", "does not parse"},
		{"a broken public key", s, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), "", "does not parse"},
		{"an expired certificate", later, a.CertPEM, "", "expired on"},
		{"an org id with a glob", s, a.CertPEM, "org*", "org_id"},
		{"an org id with a comma", s, a.CertPEM, "a,b", "org_id"},
		{"too large", s, bytes.Repeat([]byte("x"), certstore.MaxEntry+1), "", "larger than"},
		// openssl pkcs8 -topk8 with a passphrase: the key's DER is encrypted, the PEM has no headers.
		{"a PKCS #8 encrypted key", s, append(append([]byte{}, a.CertPEM...), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("0\x82")})...), "", "is encrypted; add it unencrypted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := c.s.Add(ctx, c.data, c.org)
			if !errors.Is(err, certstore.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Add = %q, %v; want ErrInvalid with %q", id, err, c.want)
			}
		})
	}
}

func TestIsID(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for ref, want := range map[string]bool{
		fp:                              true,
		"5e9d9544a1dcd60001d0ed20" + fp: true,
		strings.ToUpper(fp):             false,
		fp[1:]:                          false,
		"dir/" + fp:                     false,
		"org " + fp:                     false,
		"":                              false,
	} {
		if got := certstore.IsID(ref); got != want {
			t.Errorf("IsID(%q) = %v", ref, got)
		}
	}
}

// unavailable is a KV whose every call fails as a store that cannot be reached.
type unavailable struct{ storage.KV }

func (unavailable) Get(context.Context, string) ([]byte, error) { return nil, storage.ErrUnavailable }

func TestRead(t *testing.T) {
	ctx := context.Background()
	s := certstore.New(memory.New(), "s", nil, false)
	ca := certtest.NewCA(t, "CA")
	pair := ca.Localhost(t)
	id, err := s.Add(ctx, pair.Bundle(), "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := certtest.WriteFile(t, dir, "ca.pem", ca.PEM)

	// A file wins: its content.
	if got, err := s.Read(ctx, file); err != nil || !bytes.Equal(got, ca.PEM) {
		t.Fatalf("file: %v", err)
	}
	// An id: the entry, with its key.
	got, err := s.Read(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(got, got); err != nil {
		t.Fatalf("the entry read is no key pair: %v", err)
	}
	// A file named like an id, in the working directory: the file.
	if err := os.WriteFile(filepath.Join(dir, id), ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got, err := s.Read(ctx, id); err != nil || !bytes.Equal(got, ca.PEM) {
		t.Fatalf("a file named like the id: %v", err)
	}
	// Unknown ids, missing files, no store, a store that cannot be reached.
	missing := strings.Repeat("0", 64)
	if _, err := s.Read(ctx, missing); !errors.Is(err, certstore.ErrNotFound) || !strings.Contains(err.Error(), "POST /tyk/certs") {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := s.Read(ctx, "nofile.pem"); errors.Is(err, certstore.ErrNotFound) || err == nil {
		t.Fatalf("missing file: %v", err)
	}
	var none *certstore.Store
	if _, err := none.Read(ctx, strings.Repeat("1", 64)); err == nil || errors.Is(err, certstore.ErrNotFound) {
		t.Fatalf("no store: %v", err)
	}
	down := certstore.New(unavailable{memory.New()}, "s", nil, false)
	if _, err := down.Read(ctx, strings.Repeat("2", 64)); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("store down: %v", err)
	}
}

func TestPublicKey(t *testing.T) {
	ctx := context.Background()
	kv := memory.New()
	s := certstore.New(kv, "s", nil, false)
	ca := certtest.NewCA(t, "CA")
	pair := ca.Localhost(t)
	certID, err := s.Add(ctx, pair.Bundle(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(ca.Cert.PublicKey)
	keyID, err := s.Add(ctx, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), "acme")
	if err != nil {
		t.Fatal(err)
	}
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	for id, want := range map[string]crypto.PublicKey{certID: pair.TLS.Leaf.PublicKey, keyID: ca.Cert.PublicKey} {
		for range 2 { // parsed, then remembered
			got, err := s.PublicKey(ctx, id)
			if err != nil || !got.(equaler).Equal(want) {
				t.Fatalf("PublicKey(%s) = %v, %v", id, got, err)
			}
		}
	}
	// Another content under the same name (as another gateway could write): the new key.
	other := ca.Localhost(t)
	if err := kv.Set(ctx, certstore.Prefix+certID, other.CertPEM, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PublicKey(ctx, certID); err != nil || !got.(equaler).Equal(other.TLS.Leaf.PublicKey) {
		t.Fatalf("after a change: %v, %v", got, err)
	}
	if _, err := s.Delete(ctx, certID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublicKey(ctx, certID); !errors.Is(err, certstore.ErrNotFound) {
		t.Fatalf("after removal: %v", err)
	}
	if _, err := s.PublicKey(ctx, "/etc/passwd"); !errors.Is(err, certstore.ErrNotFound) {
		t.Fatalf("a path: %v", err)
	}
}

// TestReadFallback: an id a store of the gateway's own does not hold may stand for its
// fingerprint (ErrUnknownID) until it is removed through the store; a shared store's answer is
// final; listing by org is by the whole org id.
func TestReadFallback(t *testing.T) {
	ctx := context.Background()
	ca := certtest.NewCA(t, "CA")
	own := certstore.New(memory.New(), "s", nil, false)
	never := "org1" + strings.Repeat("a", 64)
	if _, err := own.Read(ctx, never); !errors.Is(err, certstore.ErrUnknownID) {
		t.Fatalf("never added: %v", err)
	}
	id, err := own.Add(ctx, ca.PEM, "org1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Read(ctx, id); !errors.Is(err, certstore.ErrNotFound) || errors.Is(err, certstore.ErrUnknownID) {
		t.Fatalf("removed: %v", err)
	}
	if _, err := own.Add(ctx, ca.PEM, "org1"); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Read(ctx, id); err != nil {
		t.Fatalf("added again: %v", err)
	}
	shared := certstore.New(memory.New(), "s", nil, true)
	if _, err := shared.Read(ctx, never); !errors.Is(err, certstore.ErrNotFound) || errors.Is(err, certstore.ErrUnknownID) {
		t.Fatalf("shared, never added: %v", err)
	}

	if _, err := own.Add(ctx, ca.PEM, "org10"); err != nil {
		t.Fatal(err)
	}
	ids, err := own.IDs(ctx, "org1")
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("org1 lists %v, %v", ids, err)
	}
}
