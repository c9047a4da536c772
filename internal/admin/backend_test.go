package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// testSecret is the Gateway API secret of the servers these tests build.
const testSecret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// Document sets of memBackend in its memory store.
const (
	apisSet     = "test-apis"
	policiesSet = "test-policies"
)

// memBackend is an admin.Backend over a memory store, shaped like the gateway on a shared store:
// definitions and policies are documents, checked as the gateway checks them (Validate, then
// Unsupported) before they are stored. It records what it was asked to store, so that tests can
// compare what was checked with what was stored.
//
// Methods the Gateway API calls that these tests do not reach are those of the nil embedded
// interface, and panic.
type memBackend struct {
	admin.Backend

	store *memory.Store
	apis  *apistore.Shared
	// loaded are the policies PolicyExists reports (the snapshot's).
	loaded map[string]bool
	// notReady is what Ready says ("": ready).
	notReady string

	mu sync.Mutex
	// checkedAPIs and checkedPolicies hold, by id, the value last given to SaveAPI and
	// SavePolicy that was stored, encoded.
	checkedAPIs     map[string][]byte
	checkedPolicies map[string][]byte
	keysChanged     [][]string
	keyEvents       []string
}

func newMemBackend(store *memory.Store) *memBackend {
	return &memBackend{
		store:           store,
		apis:            &apistore.Shared{Docs: store, Set: apisSet},
		loaded:          map[string]bool{"gold-partners": true, "bronze-legacy": true},
		checkedAPIs:     map[string][]byte{},
		checkedPolicies: map[string][]byte{},
	}
}

func (b *memBackend) Reload(context.Context, bool) error              { return nil }
func (b *memBackend) GroupReload(context.Context) error               { return nil }
func (b *memBackend) FlushCache(context.Context, string) (int, error) { return 0, nil }
func (b *memBackend) Health(context.Context) admin.Health {
	return admin.Health{Status: admin.StatusPass, Details: map[string]admin.Detail{}}
}
func (b *memBackend) Ready(ctx context.Context) (admin.Health, string) {
	return b.Health(ctx), b.notReady
}

func (b *memBackend) APIs(ctx context.Context) ([]json.RawMessage, error) {
	entries, err := b.apis.Load(ctx)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range entries {
		if e.Def() != nil {
			out = append(out, e.Raw)
		}
	}
	return out, nil
}

func (b *memBackend) API(ctx context.Context, id string) (json.RawMessage, error) {
	entries, err := b.apis.Load(ctx)
	if err != nil {
		return nil, err
	}
	if e, ok := apistore.Find(entries, id); ok {
		return e.Raw, nil
	}
	return nil, apistore.ErrNotFound
}

func (b *memBackend) SaveAPI(ctx context.Context, def *apidef.APIDefinition, raw []byte, create bool) error {
	if err := def.Validate(); err != nil {
		return fmt.Errorf("%w: %v", admin.ErrInvalid, err)
	}
	if u := def.Unsupported(); len(u) > 0 {
		return fmt.Errorf("%w: unsupported: %q", admin.ErrInvalid, u)
	}
	entries, err := b.apis.Load(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Def() != nil && e.Def().APIID != def.APIID && e.Def().Active &&
			e.Def().Domain == def.Domain && e.Def().Proxy.ListenPath == def.Proxy.ListenPath {
			return fmt.Errorf("%w: listen path %q is already used by API %q", admin.ErrConflict, def.Proxy.ListenPath, e.Def().APIID)
		}
	}
	err = b.apis.Save(ctx, def.APIID, raw, create)
	if errors.Is(err, apistore.ErrExists) {
		return fmt.Errorf("%w: an API with api_id %q exists", admin.ErrConflict, def.APIID)
	}
	if err != nil {
		return err
	}
	enc, err := json.Marshal(def)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.checkedAPIs[def.APIID] = enc
	b.mu.Unlock()
	return nil
}

func (b *memBackend) DeleteAPI(ctx context.Context, id string) error {
	return b.apis.Delete(ctx, id)
}

func (b *memBackend) Policies(ctx context.Context) ([]json.RawMessage, error) {
	docs, err := b.store.Documents(ctx, policiesSet)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		out = append(out, docs[id])
	}
	return out, nil
}

func (b *memBackend) SavePolicy(ctx context.Context, p *apidef.Policy, raw []byte, create bool) error {
	mode := storage.Update
	if create {
		mode = storage.Create
	}
	err := b.store.PutDocument(ctx, policiesSet, p.ID, raw, mode)
	switch {
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("%w: a policy with id %q exists", admin.ErrConflict, p.ID)
	case errors.Is(err, storage.ErrNotFound):
		return apistore.ErrNotFound
	case err != nil:
		return err
	}
	enc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.checkedPolicies[p.ID] = enc
	b.mu.Unlock()
	return nil
}

func (b *memBackend) DeletePolicy(ctx context.Context, id string) error {
	ok, err := b.store.DeleteDocument(ctx, policiesSet, id)
	if err != nil {
		return err
	}
	if !ok {
		return apistore.ErrNotFound
	}
	return nil
}

func (b *memBackend) PolicyExists(id string) bool { return b.loaded[id] }

func (b *memBackend) PolicyAPIs([]string) []string { return nil }
func (b *memBackend) ApplyPolicies(s *apidef.SessionState) (*apidef.SessionState, error) {
	return s, nil
}

func (b *memBackend) KeysChanged(_ context.Context, hashes []string) {
	b.mu.Lock()
	b.keysChanged = append(b.keysChanged, hashes)
	b.mu.Unlock()
}

func (b *memBackend) FlushJWKS(context.Context, string) (int, error) { return 0, nil }

func (b *memBackend) KeyEvent(event, message, orgID, keyHash string) {
	b.mu.Lock()
	b.keyEvents = append(b.keyEvents, event+" "+message+" "+orgID+" "+keyHash)
	b.mu.Unlock()
}

func (b *memBackend) events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.keyEvents)
}

func (b *memBackend) SessionLifetime([]string) time.Duration { return 0 }
func (b *memBackend) KeyExpiry([]string, time.Time) int64    { return 0 }

// testServer is a Gateway API over a memBackend.
type testServer struct {
	h        http.Handler
	backend  *memBackend
	sessions *session.Manager
}

// newTestServer builds a Gateway API over a fresh memory store, closed when the test ends.
func newTestServer(tb testing.TB, hashKeys bool) *testServer {
	tb.Helper()
	store := memory.New(memory.WithSweepInterval(0))
	tb.Cleanup(func() { store.Close() })
	b := newMemBackend(store)
	sessions := session.NewManager(store, hashKeys)
	h := admin.New(admin.Options{
		Secret:   testSecret,
		Backend:  b,
		Sessions: sessions,
		Counters: store,
		Logger:   slog.New(slog.DiscardHandler),
	})
	return &testServer{h: h, backend: b, sessions: sessions}
}

// do sends a Gateway API request with the secret and returns the status and body.
func (s *testServer) do(tb testing.TB, method, target string, body []byte) (int, []byte) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.Header.Set("X-Tyk-Authorization", testSecret)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("%s %s: Content-Type %q, want application/json", method, target, ct)
	}
	return w.Code, w.Body.Bytes()
}

// mustDo is do for a request that must succeed.
func (s *testServer) mustDo(tb testing.TB, method, target string, body []byte) []byte {
	tb.Helper()
	code, out := s.do(tb, method, target, body)
	if code != http.StatusOK {
		tb.Fatalf("%s %s: %d %s", method, target, code, out)
	}
	return out
}

// writeReply is Tyk's answer to a successful write.
type writeReply struct {
	Key     string `json:"key"`
	Status  string `json:"status"`
	Action  string `json:"action"`
	KeyHash string `json:"key_hash"`
}

// checkErrorBody fails unless body is exactly Tyk's error object with a message.
func checkErrorBody(tb testing.TB, code int, body []byte) {
	tb.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		tb.Fatalf("%d reply is not a JSON object: %v\n%s", code, err, body)
	}
	var e struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(fields) != 2 || e.Status != "error" || e.Message == "" {
		tb.Fatalf(`%d reply is not {"status": "error", "message": ...}: %s`, code, body)
	}
}

// checkWriteReply decodes a 200 reply to a write and checks its status and action.
func checkWriteReply(tb testing.TB, body []byte, action string) writeReply {
	tb.Helper()
	var r writeReply
	if err := json.Unmarshal(body, &r); err != nil {
		tb.Fatalf("200 reply does not decode: %v\n%s", err, body)
	}
	if r.Status != "ok" || r.Action != action || r.Key == "" {
		tb.Fatalf(`200 reply is not {"key": ..., "status": "ok", "action": %q}: %s`, action, body)
	}
	return r
}
