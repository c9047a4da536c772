package oauth

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestUpdateClientOverWhatWasRead: a client is written back only over what was read of it: a
// rotation made meanwhile is not undone (ErrChanged), a client deleted meanwhile is not brought
// back (ErrNotFound), and a client not read from the store is refused.
func TestUpdateClientOverWhatWasRead(t *testing.T) {
	ctx := context.Background()
	store := Store{KV: memory.New()}
	if err := store.PutClient(ctx, &Client{ClientID: "c1", APIID: "oa", Secret: "first"}); err != nil {
		t.Fatal(err)
	}
	read := func() *Client {
		t.Helper()
		c, err := store.Client(ctx, "oa", "c1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rotation, update := read(), read()
	rotation.Secret = "rotated"
	if err := store.UpdateClient(ctx, rotation); err != nil {
		t.Fatalf("the first write: %v", err)
	}
	update.Description = "changed from a stale read"
	if err := store.UpdateClient(ctx, update); !errors.Is(err, ErrChanged) {
		t.Errorf("a write over a stale read: %v, want ErrChanged", err)
	}
	if c := read(); c.Secret != "rotated" || c.Description != "" {
		t.Errorf("stored %+v: the rotation was undone", c)
	}
	// A second change over what the first wrote goes through.
	rotation.Description = "after the rotation"
	if err := store.UpdateClient(ctx, rotation); err != nil {
		t.Errorf("a write over what this client wrote: %v", err)
	}
	stale := read()
	if _, err := store.DeleteClient(ctx, "oa", "c1"); err != nil {
		t.Fatal(err)
	}
	stale.Secret = "resurrected"
	if err := store.UpdateClient(ctx, stale); !errors.Is(err, ErrNotFound) {
		t.Errorf("a write over a deleted client: %v, want ErrNotFound", err)
	}
	if _, err := store.Client(ctx, "oa", "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the deleted client came back: %v", err)
	}
	if err := store.UpdateClient(ctx, &Client{ClientID: "c1", APIID: "oa"}); err == nil {
		t.Error("a client not read from the store was written")
	}
}

// failingGet is a KV whose Get fails once failGet is set.
type failingGet struct {
	storage.KV
	failGet bool
}

func (f *failingGet) Get(ctx context.Context, key string) ([]byte, error) {
	if f.failGet {
		return nil, storage.ErrUnavailable
	}
	return f.KV.Get(ctx, key)
}

// TestUpdateClientStoreError: when a lost compare-and-set cannot be told apart (the store fails
// the read after it), the store's error is returned, not "changed" (which says to retry at once).
func TestUpdateClientStoreError(t *testing.T) {
	ctx := context.Background()
	kv := &failingGet{KV: memory.New()}
	store := Store{KV: kv}
	if err := store.PutClient(ctx, &Client{ClientID: "c1", APIID: "oa", Secret: "first"}); err != nil {
		t.Fatal(err)
	}
	a, _ := store.Client(ctx, "oa", "c1")
	b, _ := store.Client(ctx, "oa", "c1")
	a.Secret = "rotated"
	if err := store.UpdateClient(ctx, a); err != nil {
		t.Fatal(err)
	}
	kv.failGet = true
	b.Description = "stale"
	if err := store.UpdateClient(ctx, b); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("a lost write whose check fails: %v, want the store's error", err)
	}
}
