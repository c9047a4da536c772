package session_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestUpdate: Manager.Update writes a key back only while the store holds the session that was
// read, however it is encoded, and never brings back a deleted key; the Read it returns lets a
// second write of the same request through.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	id := session.ID{Key: "k1"}
	put := func(s *apidef.SessionState) {
		t.Helper()
		if err := m.Put(ctx, id, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	read := func() session.Read {
		t.Helper()
		s, _, err := m.Lookup(ctx, id.Key)
		if err != nil {
			t.Fatal(err)
		}
		return session.Read{Token: id.Key, Shared: s}
	}
	update := func(r session.Read, plan string) (session.Read, bool) {
		t.Helper()
		next, ok, err := m.Update(ctx, id, r, &apidef.SessionState{Rate: 1, Per: 1, MetaData: map[string]any{"plan": plan}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return next, ok
	}
	plan := func() any {
		t.Helper()
		s, err := m.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s.MetaData["plan"]
	}

	put(&apidef.SessionState{Rate: 1, Per: 1})
	r := read()
	next, ok := update(r, "gold")
	if !ok || plan() != "gold" {
		t.Fatalf("Update of the session read: written %v, plan %v", ok, plan())
	}
	// The same request writes again over what it wrote.
	if _, ok := update(next, "platinum"); !ok || plan() != "platinum" {
		t.Errorf("a second Update with the Read returned: written %v, plan %v", ok, plan())
	}

	// Another encoding of the same session is no change.
	r = read()
	sk := session.KeyPrefix + session.HashKey(id.Key)
	if err := store.Set(ctx, sk, []byte(`{ "per": 1, "rate": 1, "meta_data": {"plan": "platinum"} }`), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := update(r, "silver"); !ok || plan() != "silver" {
		t.Errorf("Update over the same session, encoded otherwise: written %v, plan %v", ok, plan())
	}

	// A change made meanwhile stays.
	r = read()
	put(&apidef.SessionState{Rate: 5, Per: 1})
	if _, ok := update(r, "gold"); ok || plan() != nil {
		t.Errorf("Update over a key changed since it was read: written %v, plan %v", ok, plan())
	}

	// A key deleted meanwhile stays deleted.
	r = read()
	if _, err := m.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := update(r, "gold"); ok {
		t.Error("Update of a key deleted since it was read wrote")
	}
	if _, err := m.Get(ctx, id); err != session.ErrNotFound {
		t.Errorf("the deleted key: %v, want ErrNotFound", err)
	}
}
