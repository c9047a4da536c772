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
	// A stranger's announcement, signed under another secret (its own Announce would prune a's
	// and b's: written here as it would be, without that).
	elsewhere := memory.New()
	defer elsewhere.Close()
	if err := stranger.Announce(ctx, elsewhere, Announcement{Version: "v1", Hostname: "evil"}); err != nil {
		t.Fatal(err)
	}
	theirs, err := elsewhere.Documents(ctx, NodesSet)
	if err != nil || theirs[stranger.ID()] == nil {
		t.Fatalf("the stranger's announcement: %v", err)
	}
	if err := store.PutDocument(ctx, NodesSet, stranger.ID(), theirs[stranger.ID()], storage.Upsert); err != nil {
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

// TestAnnouncementsPruned: an announcement dated beyond FutureSkew (forged, or signed by a node
// whose clock is ahead) and one whose signature fails are counted, never listed, and removed by
// the next announcement; one within the skew stays.
func TestAnnouncementsPruned(t *testing.T) {
	store := memory.New()
	defer store.Close()
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	node := func(secret string, ahead time.Duration) *Node {
		n, err := New(Options{Bus: store, Secret: secret, Now: func() time.Time { return now.Add(ahead) }})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, skewed, ahead := node("shared", 0), node("shared", FutureSkew/2), node("shared", 24*time.Hour)
	if err := skewed.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	// The node whose clock is a day ahead, signed under the fleet's secret (announced apart:
	// its own pruning would drop the others as old).
	elsewhere := memory.New()
	defer elsewhere.Close()
	if err := ahead.Announce(ctx, elsewhere, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	theirs, err := elsewhere.Documents(ctx, NodesSet)
	if err != nil || theirs[ahead.ID()] == nil {
		t.Fatalf("the announcement from the future: %v", err)
	}
	if err := store.PutDocument(ctx, NodesSet, ahead.ID(), theirs[ahead.ID()], storage.Upsert); err != nil {
		t.Fatal(err)
	}
	put := func(id string, an Announcement) {
		data, _ := json.Marshal(an)
		if err := store.PutDocument(ctx, NodesSet, id, data, storage.Upsert); err != nil {
			t.Fatal(err)
		}
	}
	// Written by a client of Redis without the secret: far in the future, and current.
	put("future", Announcement{Node: "future", Time: now.Add(100 * 365 * 24 * time.Hour).UnixMilli(), Signature: "00"})
	put("unsigned", Announcement{Node: "unsigned", Time: now.UnixMilli(), Signature: "00"})

	nodes, bad, err := a.Nodes(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != skewed.ID() || bad != 3 {
		t.Fatalf("nodes %+v, %d unverified; want the skewed node alone and 3 unverified", nodes, bad)
	}
	if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	all, err := store.Documents(ctx, NodesSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all[a.ID()]; len(all) != 2 || !ok || all[skewed.ID()] == nil {
		t.Errorf("after a's announcement NodesSet holds %d entries, want a's and the skewed node's", len(all))
	}
	if _, bad, _ := a.Nodes(ctx, store); bad != 0 {
		t.Errorf("%d unverified left after the pruning", bad)
	}
}
