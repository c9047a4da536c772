package uptime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
)

// sharedStore is a Redis store on a server of the test's own.
func sharedStore(t *testing.T) *redis.Store {
	t.Helper()
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
	return st
}

// TestShared: two checkers sharing a Redis store run a check once between them; the one that
// does not run it reads what the other found, and tells OnHost nothing; when the runner
// closes, the other takes the check over at its next round, from the failures already
// counted; a state that is not Gatehouse's is ignored.
func TestShared(t *testing.T) {
	t.Parallel()
	st := sharedStore(t)
	h := newHealth(t)
	host := hostOf(t, h.URL)
	type told struct {
		what string
		at   int64
	}
	var mu sync.Mutex
	var events []told
	checker := func(name string) *Checker {
		c := New(Options{Threshold: 2, Claims: st, Space: "uptime:test", OnHost: func(host string, down bool, at int64) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, told{name + map[bool]string{true: " down", false: " up"}[down], at})
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
	// Each gateway is told of each change, with the time its runner found it: the same on
	// both for one change (the gateways' events dedupe on it).
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	var whats []string
	for _, e := range got {
		whats = append(whats, e.what)
	}
	if want := []string{"a down", "b down", "b up"}; !slices.Equal(whats, want) {
		t.Fatalf("OnHost was told %q, want %q", whats, want)
	}
	if got[0].at == 0 || got[0].at != got[1].at || got[2].at <= got[0].at {
		t.Errorf("the changes' times: %+v", got)
	}

	for _, bad := range []string{"", "1 2", "x 0 1", "1 0 2", "-1 0 1", "1 0 1 -5", "1 0 1 x", "99999999 0 1", "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"} {
		if _, ok := decodeState([]byte(bad)); ok {
			t.Errorf("state %q was read", bad)
		}
	}
	if s, ok := decodeState([]byte("1 0 1 5 later-fields")); !ok || s != (sharedState{1, 0, true, 5}) {
		t.Errorf("a state with fields of a later version: %+v %v", s, ok)
	}
	if s, ok := decodeState((&state{fails: 3, passes: 1, isDown: true, flipAt: 1733500000000}).encode()); !ok || s != (sharedState{3, 1, true, 1733500000000}) {
		t.Errorf("a state does not read back: %+v %v", s, ok)
	}
}

// TestSharedClaimsLostAndLeft: a run whose claim another gateway took meanwhile counts for
// nothing (no state, no OnHost); checks a reload drops, and those of a gateway that stops
// without giving them up, are taken over (at once, and after three intervals).
func TestSharedClaimsLostAndLeft(t *testing.T) {
	t.Parallel()
	st := sharedStore(t)
	h := newHealth(t)
	var mu sync.Mutex
	told := 0
	mk := func(interval time.Duration) *Checker {
		c := New(Options{Interval: interval, Threshold: 1, Claims: st, Space: "uptime:lost", OnHost: func(string, bool, int64) {
			mu.Lock()
			told++
			mu.Unlock()
		}})
		c.Set([]Check{{APIID: "x", URL: h.URL + "/health"}})
		return c
	}
	a, b := mk(time.Hour), mk(time.Hour)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	a.settle(t)
	var s *state
	for _, x := range a.checks {
		s = x
	}
	// b takes the check (a's claim given up behind a's back), and a learns it at its sync.
	if err := st.Unclaim(t.Context(), "uptime:lost", a.holder, []string{s.sid}); err != nil {
		t.Fatal(err)
	}
	b.settle(t)
	a.sync()
	if found, current := a.report(s, errors.New("failed")); found != nil || current || s.isDown || s.fails != 0 {
		t.Fatalf("a run after the claim was lost counted: %q %v, down %v, fails %d", found, current, s.isDown, s.fails)
	}
	mu.Lock()
	if told != 0 {
		t.Errorf("OnHost was told %d times by a run that did not count", told)
	}
	mu.Unlock()

	// b's reload drops the check; its claim goes at b's next round, and a takes it.
	b.Set(nil)
	b.round(false)
	a.sync()
	if sh, _ := a.Stats(); sh.Here != 1 {
		t.Fatalf("a after b dropped the check: %+v", sh)
	}

	// c holds a check and stops renewing (it died): after three of its intervals, d takes it.
	c, d := mk(100*time.Millisecond), mk(100*time.Millisecond)
	t.Cleanup(d.Close)
	c.Set([]Check{{APIID: "y", URL: h.URL + "/other"}})
	d.Set([]Check{{APIID: "y", URL: h.URL + "/other"}})
	c.sync()
	d.sync()
	if sh, _ := d.Stats(); sh.Here != 0 {
		t.Fatalf("d while c holds the check: %+v", sh)
	}
	time.Sleep(400 * time.Millisecond)
	d.sync()
	if sh, _ := d.Stats(); sh.Here != 1 {
		t.Fatalf("d three intervals after c stopped renewing: %+v", sh)
	}
}

// TestSharedHangingChecksKeepClaims: checks that hang, more than the pool runs at once, do not
// hold back the rounds that renew this gateway's claims: another gateway does not take them.
func TestSharedHangingChecksKeepClaims(t *testing.T) {
	t.Parallel()
	st := sharedStore(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	var checks []Check
	for _, p := range []string{"/a", "/b", "/c"} {
		checks = append(checks, Check{APIID: "x", URL: hang.URL + p, Timeout: 2 * time.Second})
	}
	a := New(Options{Interval: 200 * time.Millisecond, Pool: 1, Claims: st, Space: "uptime:hang"})
	b := New(Options{Interval: 200 * time.Millisecond, Claims: st, Space: "uptime:hang"})
	t.Cleanup(b.Close)
	t.Cleanup(a.Close)
	a.Set(checks)
	b.Set(checks)
	a.Start()
	time.Sleep(2 * time.Second) // ten rounds of a; its first check is still running
	b.sync()
	if sh, _ := b.Stats(); sh.Here != 0 {
		t.Fatalf("b took %d of the checks a holds while they hang", sh.Here)
	}
}
