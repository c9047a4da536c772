package oauth

import (
	"context"
	"errors"
	"testing"

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
