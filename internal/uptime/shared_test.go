package uptime

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
)

// TestShared: two checkers sharing a Redis store run a check once between them; the one that
// does not run it reads what the other found, and tells OnHost nothing; when the runner
// closes, the other takes the check over at its next round, from the failures already
// counted; a state that is not Gatehouse's is ignored.
func TestShared(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	st, err := redis.New(redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := st.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	h := newHealth(t)
	host := hostOf(t, h.URL)
	var mu sync.Mutex
	var events []string
	checker := func(name string) *Checker {
		c := New(Options{Threshold: 2, Claims: st, Space: "uptime:test", OnHost: func(host string, down bool) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, name+map[bool]string{true: " down", false: " up"}[down])
		}})
		c.Set([]Check{{APIID: "x", URL: h.URL + "/health"}})
		return c
	}
	a, b := checker("a"), checker("b")
	t.Cleanup(b.Close)
	here := func(c *Checker) int {
		sh, ok := c.Stats()
		if !ok || sh.Checks != 1 || sh.Alone {
			t.Fatalf("stats: %+v %v", sh, ok)
		}
		return sh.Here
	}
	a.settle(t)
	b.settle(t)
	if here(a) != 1 || here(b) != 0 {
		t.Fatalf("run here: a %d, b %d; want 1 and 0", here(a), here(b))
	}

	h.status.Store(500)
	a.settle(t)
	a.settle(t)
	if !a.Down(host) || b.Down(host) {
		t.Fatalf("after a's two failures: a down %v, b down %v (b has not read yet)", a.Down(host), b.Down(host))
	}
	b.settle(t)
	if !b.Down(host) {
		t.Fatal("b did not read that a found the host down")
	}

	// a closes: b takes the check over at once, still down, and counts its own passes.
	a.Close()
	h.status.Store(200)
	b.settle(t)
	if here(b) != 1 || !b.Down(host) {
		t.Fatalf("after a closed: b runs %d, down %v", here(b), b.Down(host))
	}
	b.settle(t)
	if b.Down(host) {
		t.Fatal("b's two passes did not take the host back")
	}
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	if want := []string{"a down", "b up"}; !slices.Equal(got, want) {
		t.Errorf("OnHost was told %q, want %q", got, want)
	}

	for _, bad := range []string{"", "1 2", "x 0 1", "1 0 2", "-1 0 1", "1 0 1 1", "99999999 0 1"} {
		if _, ok := decodeState([]byte(bad)); ok {
			t.Errorf("state %q was read", bad)
		}
	}
	if s, ok := decodeState((&state{fails: 3, passes: 1, isDown: true}).encode()); !ok || s != (sharedState{3, 1, true}) {
		t.Errorf("a state does not read back: %+v %v", s, ok)
	}
}
