package session_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
)

// redisStore starts a Redis server and returns it with a store connected to it, closed when
// the test ends.
func redisStore(t *testing.T) (*redistest.Server, *redis.Store) {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	store, err := redis.New(redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return srv, store
}

// TestReadYourWritesOnRedis changes and deletes keys through a manager on Redis right after
// reading them, so that Redis's client-side cache holds them: the manager's next lookup must
// see the change, never the copy whose invalidation is still on its way.
func TestReadYourWritesOnRedis(t *testing.T) {
	_, store := redisStore(t)
	ctx := context.Background()
	m := session.NewManager(store, true)
	const n = 100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
		if err := m.Put(ctx, session.ID{Key: keys[i]}, &apidef.SessionState{Alias: "one"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Past the window in which the manager reads keys it wrote from Redis itself: from now on
	// lookups go through the client-side cache, which the next two fill.
	time.Sleep(1100 * time.Millisecond)
	for _, key := range keys {
		for range 2 {
			if s, _, err := m.Lookup(ctx, key); err != nil || s.Alias != "one" {
				t.Fatalf("lookup of %s: %+v, %v", key, s, err)
			}
		}
	}
	for i, key := range keys {
		id := session.ID{Key: key}
		if err := m.Put(ctx, id, &apidef.SessionState{Alias: "two"}, 0); err != nil {
			t.Fatal(err)
		}
		if s, _, err := m.Lookup(ctx, key); err != nil || s.Alias != "two" {
			t.Fatalf("lookup %d right after an update: alias %q, %v; want the update", i, s.Alias, err)
		}
		if _, err := m.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if s, _, err := m.Lookup(ctx, key); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("lookup %d right after a delete: %+v, %v; want ErrNotFound", i, s, err)
		}
	}
}

// TestMadeUpKeysNotTrackedOnRedis: lookups of keys that do not exist are plain reads, never
// tracked by Redis for the client-side cache: each tracked key costs Redis about 190 bytes,
// kept after the gateway goes, and a client sending made-up keys filled Redis's memory with
// them (under maxmemory and noeviction every key's reads then failed). A key that exists is
// tracked once found.
func TestMadeUpKeysNotTrackedOnRedis(t *testing.T) {
	srv, store := redisStore(t)
	ctx := context.Background()
	m := session.NewManager(store, true)
	tracked := func() string {
		for _, line := range strings.Split(redistest.CLI(t, srv.Addr, "info", "stats"), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tracking_total_keys:"); ok {
				return v
			}
		}
		t.Fatal("INFO stats has no tracking_total_keys")
		return ""
	}
	for i := range 500 {
		if _, _, err := m.Lookup(ctx, fmt.Sprintf("made-up-%d", i)); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("a made-up key: %v", err)
		}
	}
	if n := tracked(); n != "0" {
		t.Errorf("after 500 made-up keys Redis tracks %s keys, want 0", n)
	}
	// An org without a session (the usual case) is named by the API, not by clients: its
	// absence is answered from the client-side cache after the first read.
	org, err := m.OrgReader("acme")
	if err != nil {
		t.Fatal(err)
	}
	gets := func() string {
		for _, line := range strings.Split(redistest.CLI(t, srv.Addr, "info", "commandstats"), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_get:calls="); ok {
				return strings.Split(v, ",")[0]
			}
		}
		return "0"
	}
	before := gets()
	for range 100 {
		if _, err := org(ctx); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("an org without a session: %v", err)
		}
	}
	if b, a := atoi(t, before), atoi(t, gets()); a-b != 1 {
		t.Errorf("100 reads of an org without a session made %d GETs, want 1 (the rest from the client-side cache)", a-b)
	}
	if n := tracked(); n != "1" {
		t.Errorf("the org's absence is not tracked: Redis tracks %s keys, want 1", n)
	}
	// Stored by another gateway: this manager has written nothing.
	other := session.NewManager(store, true)
	if err := other.Put(ctx, session.ID{Key: "real"}, &apidef.SessionState{Alias: "real"}, 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if s, _, err := m.Lookup(ctx, "real"); err != nil || s.Alias != "real" {
			t.Fatalf("the real key: %+v, %v", s, err)
		}
	}
	if n := tracked(); n != "2" {
		t.Errorf("after three lookups of a real key Redis tracks %s keys, want 2 (the key and the org)", n)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
