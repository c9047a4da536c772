package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	redisstore "github.com/gatehouse/gatehouse/internal/storage/redis"
)

// announceStore is a store NodesSet lives in, for the node's bus and its announcements.
type announceStore interface {
	storage.Bus
	storage.Documents
}

// eachStore runs f against the memory store and against a real redis-server.
func eachStore(t *testing.T, f func(t *testing.T, store announceStore)) {
	t.Run("memory", func(t *testing.T) {
		store := memory.New()
		t.Cleanup(func() { store.Close() })
		f(t, store)
	})
	t.Run("redis", func(t *testing.T) {
		f(t, redisStore(t))
	})
}

// redisStore returns a store on a redis-server of the test's own, closed when the test ends.
func redisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	store, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := store.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// signed is the announcement n would write at its time (its clock), as Announce signs it,
// without what Announce does besides.
func signed(t *testing.T, n *Node, a Announcement) []byte {
	t.Helper()
	a.Node, a.Time = n.id, n.o.Now().UnixMilli()
	a.Signature = a.sign(n.key)
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func put(t *testing.T, store storage.Documents, id string, doc []byte) {
	t.Helper()
	if err := store.PutDocument(t.Context(), NodesSet, id, doc, storage.Upsert); err != nil {
		t.Fatal(err)
	}
}

func unsigned(t *testing.T, id string, at time.Time) []byte {
	t.Helper()
	data, err := json.Marshal(Announcement{Node: id, Version: "v1", Time: at.UnixMilli(), Signature: "00"})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func entries(t *testing.T, store storage.Documents) map[string][]byte {
	t.Helper()
	all, err := store.Documents(t.Context(), NodesSet)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestAnnouncements: nodes list each other from their signed announcements; one signed with
// another secret, or forged, is not listed but counted; one not renewed for ForgetAfter is
// removed by the next announcement, whoever signed it.
func TestAnnouncements(t *testing.T) {
	eachStore(t, func(t *testing.T, store announceStore) {
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
		put(t, store, stranger.ID(), signed(t, stranger, Announcement{Version: "v1", Hostname: "evil"}))
		// One written by a client of Redis without the secret: no valid signature.
		put(t, store, "forged", unsigned(t, "forged", now))

		nodes, bad, unread, err := a.Nodes(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 2 || nodes[0].Node != b.ID() || nodes[1].Node != a.ID() || bad != 2 || unread != 0 {
			t.Fatalf("nodes %+v, %d unverified, %d unread; want b then a, 2 unverified, 0 unread", nodes, bad, unread)
		}
		if n := nodes[1]; n.Version != "v1" || n.Hostname != "host-a" || n.APIs != 3 || n.Started != now.Add(-time.Second).UnixMilli() {
			t.Errorf("a's announcement read back: %+v", n)
		}

		// b goes quiet; after ForgetAfter, a's next announcement removes it (and the others,
		// as old).
		now = now.Add(ForgetAfter + time.Minute)
		if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		nodes, bad, _, err = a.Nodes(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || nodes[0].Node != a.ID() || bad != 0 {
			t.Errorf("after b went quiet: %+v, %d unverified; want a alone", nodes, bad)
		}
	})
}

// TestAnnouncementsPruned: of the entries an announcement reads back, those dated beyond
// FutureSkew or more than ForgetAfter ago go, signed or not, as do those with no time; a current
// one that does not verify is counted, never listed, and stays; one within the skew stays.
func TestAnnouncementsPruned(t *testing.T) {
	eachStore(t, func(t *testing.T, store announceStore) {
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
		// The node whose clock is a day ahead, signed under the fleet's secret.
		put(t, store, ahead.ID(), signed(t, ahead, Announcement{Version: "v1"}))
		// Written by a client of Redis without the secret: far in the future, long ago, with no
		// time, not JSON, and current.
		put(t, store, "future", unsigned(t, "future", now.Add(100*365*24*time.Hour)))
		put(t, store, "old", unsigned(t, "old", now.Add(-ForgetAfter-time.Second)))
		put(t, store, "timeless", []byte(`{"node":"timeless"}`))
		put(t, store, "garbage", []byte("\x00not json"))
		put(t, store, "unsigned", unsigned(t, "unsigned", now))

		nodes, bad, _, err := a.Nodes(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || nodes[0].Node != skewed.ID() || bad != 6 {
			t.Fatalf("nodes %+v, %d unverified; want the skewed node alone and 6 unverified", nodes, bad)
		}
		if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		all := entries(t, store)
		if len(all) != 3 || all[a.ID()] == nil || all[skewed.ID()] == nil || all["unsigned"] == nil {
			t.Errorf("after a's announcement NodesSet holds %d entries, want a's, the skewed node's and the current unsigned one", len(all))
		}
		if _, bad, _, _ := a.Nodes(ctx, store); bad != 1 {
			t.Errorf("%d unverified left after the pruning, want 1 (the current unsigned one)", bad)
		}
	})
}

// TestAnnouncementsRotation: during a node_secret rotation, nodes under the old secret and
// under the new one share NodesSet; round after round, each keeps the other's entry, lists
// itself and counts the other as unverified.
func TestAnnouncementsRotation(t *testing.T) {
	store := redisStore(t)
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	node := func(secret string) *Node {
		n, err := New(Options{Bus: store, Secret: secret, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	old, rotated := node("the old secret"), node("the new secret")
	for round := range 3 {
		for _, n := range []*Node{old, rotated, old} {
			if err := n.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
				t.Fatal(err)
			}
		}
		if all := entries(t, store); len(all) != 2 || all[old.ID()] == nil || all[rotated.ID()] == nil {
			t.Fatalf("round %d: NodesSet holds %d entries, want both nodes'", round, len(all))
		}
		for _, n := range []*Node{old, rotated} {
			nodes, bad, _, err := n.Nodes(ctx, store)
			if err != nil || len(nodes) != 1 || nodes[0].Node != n.ID() || bad != 1 {
				t.Fatalf("round %d: node %s lists %+v, %d unverified (%v); want itself and 1 unverified", round, n.ID(), nodes, bad, err)
			}
		}
		now = now.Add(AnnounceEvery)
	}
}

// TestAnnouncementsReadAtMost: a client of Redis that fills NodesSet past ReadAtMost does not
// make a node read it all: a listing reads ReadAtMost and says how many it left unread, and an
// announcement removes at most ReadAtMost old entries a round, all of them over the rounds.
func TestAnnouncementsReadAtMost(t *testing.T) {
	store := redisStore(t)
	ctx := t.Context()
	now := time.Unix(1_700_000_000, 0)
	a, err := New(Options{Bus: store, Secret: "shared", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	const junk = ReadAtMost * 3 / 2
	for i := range junk {
		put(t, store, fmt.Sprintf("junk-%d", i), unsigned(t, fmt.Sprintf("junk-%d", i), now))
	}
	put(t, store, a.ID(), signed(t, a, Announcement{Version: "v1"}))

	nodes, bad, unread, err := a.Nodes(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes)+bad != ReadAtMost || unread != junk+1-ReadAtMost {
		t.Fatalf("listing read %d (%d listed) and left %d unread; want %d read, %d unread",
			len(nodes)+bad, len(nodes), unread, ReadAtMost, junk+1-ReadAtMost)
	}

	// The junk ages: one announcement removes no more than it read.
	now = now.Add(ForgetAfter + time.Second)
	if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	left := len(entries(t, store))
	if left < junk+1-ReadAtMost {
		t.Fatalf("one announcement left %d entries: it removed more than the %d it may read", left, ReadAtMost)
	}
	for round := 0; left > 1; round++ {
		if round == 50 {
			t.Fatalf("50 announcements left %d entries, want a's alone", left)
		}
		if err := a.Announce(ctx, store, Announcement{Version: "v1"}); err != nil {
			t.Fatal(err)
		}
		left = len(entries(t, store))
	}
	if all := entries(t, store); all[a.ID()] == nil {
		t.Error("a's own entry was removed")
	}
}

// TestAnnouncementTagsSigned: a segmented node's tags are signed, so that a client of Redis
// without the secret cannot change which definitions the fleet believes a node serves; apart
// from the signature nodes from before segments check, which stays what it was, so that they
// still list a segmented node.
func TestAnnouncementTagsSigned(t *testing.T) {
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	now := time.Unix(1_700_000_000, 0)
	n, err := New(Options{Bus: store, Secret: "s", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Announce(t.Context(), store, Announcement{Version: "v", Hostname: "h", APIs: 2, Tags: []string{"eu", "edge"}}); err != nil {
		t.Fatal(err)
	}
	doc := entries(t, store)[n.ID()]
	var a Announcement
	if err := json.Unmarshal(doc, &a); err != nil {
		t.Fatal(err)
	}
	// What a node from before segments checks: the fields it knows, signed as before.
	old := Announcement{Node: a.Node, Version: a.Version, Hostname: a.Hostname, Started: a.Started, Time: a.Time, APIs: a.APIs}
	if a.Signature != old.sign(n.key) {
		t.Error("the base signature covers the tags: nodes from before segments would not list this node")
	}
	if got, ok := n.verify(n.ID(), doc, now); !ok || !slices.Equal(got.Tags, []string{"eu", "edge"}) {
		t.Fatalf("the node's own announcement: %+v, %v", got, ok)
	}
	for _, tags := range [][]string{{"eu"}, {"eu,edge"}, {"edge", "eu"}, {"eu", "edge", ""}, nil} {
		b := a
		b.Tags = tags
		forged, _ := json.Marshal(b)
		if _, ok := n.verify(n.ID(), forged, now); ok {
			t.Errorf("tags changed to %q still verify", tags)
		}
	}
}

// TestAnnouncementsReadBoundedInSize: a client of Redis that writes entries of many MiB into
// NodesSet does not make a node read them: a listing counts them as unverified without reading
// them, an announcement removes them unread, and what Redis sends the node meanwhile is a small
// fraction of one of them.
func TestAnnouncementsReadBoundedInSize(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	store, err := redisstore.New(redisstore.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := store.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, err := New(Options{Bus: store, Secret: "shared", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	put(t, store, a.ID(), signed(t, a, Announcement{Version: "v1"}))
	const junk, size = 20, 5 << 20
	redistest.CLI(t, srv.Addr, "eval", "for i = 1, tonumber(ARGV[1]) do redis.call('hset', KEYS[1], 'junk-'..i, string.rep('x', tonumber(ARGV[2]))) end return 1",
		"1", NodesSet, strconv.Itoa(junk), strconv.Itoa(size))
	// A junk id of many MiB too.
	redistest.CLI(t, srv.Addr, "eval", "redis.call('hset', KEYS[1], string.rep('i', tonumber(ARGV[1])), 'x') return 1", "1", NodesSet, strconv.Itoa(size))
	sent := func() int64 {
		t.Helper()
		for line := range strings.Lines(redistest.CLI(t, srv.Addr, "info", "stats")) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_net_output_bytes:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no total_net_output_bytes in INFO stats")
		return 0
	}
	before := sent()

	nodes, bad, unread, err := a.Nodes(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != a.ID() || bad != junk+1 || unread != 0 {
		t.Errorf("listing: %d nodes, %d unverified, %d unread; want a alone, %d unverified, none unread", len(nodes), bad, unread, junk+1)
	}
	if err := a.Announce(t.Context(), store, Announcement{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if d := sent() - before; d > size/4 {
		t.Errorf("Redis sent %d bytes for a listing and an announcement, more than a quarter of one junk entry (%d)", d, size)
	}
	if n := strings.TrimSpace(redistest.CLI(t, srv.Addr, "hlen", NodesSet)); n != "1" {
		t.Errorf("after an announcement NodesSet holds %s entries, want a's alone", n)
	}
	// Its own announcement is never over the bound: one that would be is refused, not written.
	tags := make([]string, 1000)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%04d", i)
	}
	if err := a.Announce(t.Context(), store, Announcement{Version: "v1", Tags: tags}); !errors.Is(err, ErrAnnouncementTooLarge) {
		t.Errorf("an announcement with 1000 tags: %v, want ErrAnnouncementTooLarge", err)
	}
}
