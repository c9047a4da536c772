package fleet

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestAnnouncements: nodes list each other from their signed announcements; one signed with
// another secret, or forged, is not listed but counted; one not renewed for ForgetAfter is
// removed by the next announcement.
func TestAnnouncements(t *testing.T) {
	store := memory.New()
	defer store.Close()
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	node := func(secret string) *Node {
		n, err := New(Options{Bus: store, Secret: secret, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b, stranger := node("shared"), node("shared"), node("another")

	if err := a.Announce(ctx, store, Announcement{Version: "v1", Hostname: "host-a", Started: now.UnixMilli(), APIs: 3}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if err := b.Announce(ctx, store, Announcement{Version: "v2", Hostname: "host-b", APIs: 4}); err != nil {
		t.Fatal(err)
	}
	if err := stranger.Announce(ctx, store, Announcement{Version: "v1", Hostname: "evil"}); err != nil {
		t.Fatal(err)
	}
	// One written by a client of Redis without the secret: no valid signature.
	forged := Announcement{Node: "forged", Version: "v1", Time: now.UnixMilli()}
	data, _ := json.Marshal(forged)
	if err := store.PutDocument(ctx, NodesSet, "forged", data, storage.Upsert); err != nil {
		t.Fatal(err)
	}

	nodes, bad, err := a.Nodes(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Node != b.ID() || nodes[1].Node != a.ID() || bad != 2 {
		t.Fatalf("nodes %+v, %d unverified; want b then a, and 2 unverified", nodes, bad)
	}
	if n := nodes[1]; n.Version != "v1" || n.Hostname != "host-a" || n.APIs != 3 || n.Started != now.Add(-time.Second).UnixMilli() {
		t.Errorf("a's announcement read back: %+v", n)
	}

	// b goes quiet; after ForgetAfter, a's next announcement removes it (and the others).
	now = now.Add(ForgetAfter + time.Minute)
	if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	nodes, bad, err = a.Nodes(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != a.ID() || bad != 0 {
		t.Errorf("after b went quiet: %+v, %d unverified; want a alone", nodes, bad)
	}
}
