package admin_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// lateDelete is a store whose deletions find the key gone, as when another request deleted it
// between this one's read and its delete.
type lateDelete struct{ *memory.Store }

func (l lateDelete) Delete(ctx context.Context, key string) (bool, error) {
	_, _ = l.Store.Delete(ctx, key)
	return false, nil
}

// failingReset is counters whose quota resets fail.
type failingReset struct{ storage.Counters }

func (failingReset) Reset(context.Context, string) error {
	return errors.Join(storage.ErrUnavailable, errors.New("reset refused"))
}

// TestKeyEvents: the Gateway API tells of a key's write as soon as it is done, with Tyk's
// messages, even when the quota reset after it fails (503); a deletion another request made
// first is answered 404 and told of by that request only.
func TestKeyEvents(t *testing.T) {
	store := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	newServer := func(kv storage.KV, counters storage.Counters) (*testServer, *memBackend) {
		b := newMemBackend(store)
		sessions := session.NewManager(kv, true)
		h := admin.New(admin.Options{Secret: testSecret, Backend: b, Sessions: sessions, Counters: counters, Logger: slog.New(slog.DiscardHandler)})
		return &testServer{h: h, backend: b, sessions: sessions}, b
	}
	key := []byte(`{"org_id": "o1", "access_rights": {"api1": {"api_id": "api1", "versions": ["Default"]}}}`)

	s, b := newServer(store, store)
	s.mustDo(t, "POST", "/tyk/keys/create", key)
	s.mustDo(t, "POST", "/tyk/keys/my-key-0123456789", key)
	s.mustDo(t, "PUT", "/tyk/keys/my-key-0123456789", key)
	hash := session.HashKey("my-key-0123456789")
	got := b.events()
	if len(got) != 3 || !strings.HasPrefix(got[0], "TokenCreated Key generated. o1 ") ||
		got[1] != "TokenCreated Key modified. o1 "+hash || got[2] != "TokenUpdated Key modified. o1 "+hash {
		t.Errorf("events %q", got)
	}

	late, lb := newServer(lateDelete{store}, store)
	if code, body := late.do(t, "DELETE", "/tyk/keys/my-key-0123456789", nil); code != http.StatusNotFound {
		t.Errorf("a key another request deleted first: %d %s, want 404", code, body)
	}
	if ev := lb.events(); len(ev) != 0 {
		t.Errorf("events for a deletion this request did not make: %q", ev)
	}

	failing, fb := newServer(store, failingReset{store})
	if code, body := failing.do(t, "POST", "/tyk/keys/other-key-0123456789", key); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "the key is stored") {
		t.Errorf("a write whose quota reset failed: %d %s", code, body)
	}
	if code, _ := failing.do(t, "DELETE", "/tyk/keys/other-key-0123456789", nil); code != http.StatusServiceUnavailable {
		t.Errorf("a deletion whose quota reset failed: %d", code)
	}
	// A key just generated has no counters to reset: created, and answered with its name.
	if code, body := failing.do(t, "POST", "/tyk/keys/create", key); code != http.StatusOK || !strings.Contains(string(body), `"key"`) {
		t.Errorf("a generated key with the quota store failing: %d %s, want 200 and the key", code, body)
	}
	other := session.HashKey("other-key-0123456789")
	if ev := fb.events(); len(ev) != 3 || !slices.Equal(ev[:2], []string{"TokenCreated Key modified. o1 " + other, "TokenDeleted Key deleted. o1 " + other}) || !strings.HasPrefix(ev[2], "TokenCreated Key generated.") {
		t.Errorf("events of writes done whose quota reset failed: %q", ev)
	}
	if !slices.ContainsFunc(fb.keysChanged, func(h []string) bool { return slices.Equal(h, []string{other}) }) {
		t.Errorf("the fleet was not told of the deletion: %q", fb.keysChanged)
	}
}

// blindGet is a store whose reads find nothing, as when another request creates a key between
// this one's read and its write.
type blindGet struct{ *memory.Store }

func (b blindGet) Get(context.Context, string) ([]byte, error) { return nil, storage.ErrNotFound }

// TestCertificateKeyByNameRace: a certificate's key written by its name is created only if
// absent: a request whose read missed a key created meanwhile gets 409 rather than writing
// over it.
func TestCertificateKeyByNameRace(t *testing.T) {
	store := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	certs := certstore.New(store, "a secret of enough length for the store", time.Now, false)
	pair := certtest.NewCA(t, "ca").Issue(t, certtest.Leaf{CommonName: "client", Client: true})
	id, err := certs.Add(t.Context(), pair.CertPEM, "o1")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"org_id": "o1", "certificate": "` + id + `", "access_rights": {"api1": {"api_id": "api1", "versions": ["Default"]}}}`)
	h := admin.New(admin.Options{Secret: testSecret, Backend: newMemBackend(store), Sessions: session.NewManager(blindGet{store}, true),
		Counters: store, Certs: certs, Logger: slog.New(slog.DiscardHandler)})
	s := &testServer{h: h}
	s.mustDo(t, "POST", "/tyk/keys/certificate-"+id, body)
	if code, out := s.do(t, "POST", "/tyk/keys/certificate-"+id, body); code != http.StatusConflict || !strings.Contains(string(out), "Key with given certificate already found") {
		t.Errorf("a second creation of the certificate's key by its name: %d %s, want 409", code, out)
	}
}
