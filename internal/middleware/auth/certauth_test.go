package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestCertAuthAnswers: certificate auth's answers the gateway tests cannot reach through the
// Gateway API: a key named for the certificate that is bound to another one (written around the
// API's checks) is refused; a certificate store that fails answers 503, never a pass; an API
// of another org does not find the org's key for the same certificate; the key passes only
// when all holds.
func TestCertAuthAnswers(t *testing.T) {
	ca := certtest.NewCA(t, "client CA")
	cert, err := x509.ParseCertificate(ca.Issue(t, certtest.Leaf{CommonName: "c", Client: true}).TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	id := "acme" + hex.EncodeToString(sum[:])
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	access := map[string]apidef.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}
	put := func(certificate string) {
		t.Helper()
		if err := m.Put(t.Context(), session.ID{Key: session.CertificateKey(id)}, &apidef.SessionState{Certificate: certificate, OrgID: "acme", AccessRights: access}, 0); err != nil {
			t.Fatal(err)
		}
	}
	held := func(context.Context, string) (bool, error) { return true, nil }
	failing := func(context.Context, string) (bool, error) {
		return false, errors.Join(storage.ErrUnavailable, errors.New("the store is down"))
	}
	run := func(org string, stored func(context.Context, string) (bool, error)) error {
		a := &auth.CertAuth{OrgID: org, Sessions: m, Stored: stored}
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		c := &chain.Context{State: &reqctx.State{}}
		c.State.Gateway = c
		r = reqctx.With(r, c.State)
		return a.Step().Run(httptest.NewRecorder(), r, c)
	}
	status := func(err error) int {
		var ce *chain.Error
		if err == nil {
			return 200
		}
		if errors.As(err, &ce) {
			return ce.Status
		}
		return -1
	}

	put("acme" + "0000000000000000000000000000000000000000000000000000000000000000")
	if err := run("acme", held); status(err) != http.StatusUnauthorized {
		t.Errorf("a key named for the certificate but bound to another: %v, want 401", err)
	}
	put(id)
	if err := run("acme", held); err != nil {
		t.Errorf("the certificate's key: %v, want a pass", err)
	}
	if err := run("acme", failing); status(err) != http.StatusServiceUnavailable {
		t.Errorf("the certificate store failing: %v, want 503", err)
	}
	if err := run("zeta", held); status(err) != http.StatusUnauthorized {
		t.Errorf("an API of another org: %v, want 401 (no key for zeta's id of the certificate)", err)
	}
}
