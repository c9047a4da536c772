package uptime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
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
	check := Check{APIID: "x", URL: h.URL + "/health"}
	// a is the gateway the check belongs to (see preferred), so that b, once counted, does not
	// take it from a.
	holders := map[string]string{"a": preferredName(sidOf(check), "b"), "b": "b"}
	checker := func(name string) *Checker {
		c := New(Options{Threshold: 2, Claims: st, Space: "uptime:test", Holder: holders[name], OnHost: func(host string, down bool, at int64) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, told{name + map[bool]string{true: " down", false: " up"}[down], at})
		}})
		c.Set([]Check{check})
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
	check := Check{APIID: "x", URL: h.URL + "/health"}
	mk := func(space, holder string, interval time.Duration) *Checker {
		c := New(Options{Interval: interval, Threshold: 1, Claims: st, Space: space, Holder: holder, OnHost: func(string, bool, int64) {
			mu.Lock()
			told++
			mu.Unlock()
		}})
		c.Set([]Check{check})
		return c
	}
	// b is the gateway the check belongs to (see preferred).
	a, b := mk("uptime:lost", "a", time.Hour), mk("uptime:lost", preferredName(sidOf(check), "a"), time.Hour)
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

	// b's reload drops the check (its last): its claim goes at b's next round, where b, with
	// no check left, stops being counted; a takes the check at its next round.
	b.Set(nil)
	b.round(false)
	a.sync()
	if sh, _ := a.Stats(); sh.Here != 1 || sh.Gateways != 1 {
		t.Fatalf("a after b dropped the check: %+v", sh)
	}

	// c holds a check and stops renewing (it died): after three of its intervals, d takes it.
	c, d := mk("uptime:died", "c", 100*time.Millisecond), mk("uptime:died", "d", 100*time.Millisecond)
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

// sidOf is the name a check has in the claims.
func sidOf(ch Check) string {
	sum := sha256.Sum256([]byte(ch.identity()))
	return hex.EncodeToString(sum[:16])
}

// preferredName returns a name the check sid belongs to (see preferred) among it and others.
func preferredName(sid string, others ...string) string {
	for i := 0; ; i++ {
		name := fmt.Sprint("gw-", i)
		if preferred(sid, others, name) == name {
			return name
		}
	}
}

// manyChecks returns n checks of one health server, apart by their paths.
func manyChecks(t *testing.T, n int) []Check {
	h := newHealth(t)
	var checks []Check
	for i := range n {
		checks = append(checks, Check{APIID: "x", URL: fmt.Sprint(h.URL, "/c", i)})
	}
	return checks
}

// runners maps each check the checkers run to the one running it, failing the test when two
// run one.
func runners(t *testing.T, gs ...*Checker) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range gs {
		for u := range runsHere(c) {
			if other, dup := out[u]; dup {
				t.Fatalf("%s run by %s and %s", u, other, c.holder)
			}
			out[u] = c.holder
		}
	}
	return out
}

// runsHere returns the URLs of the checks c runs.
func runsHere(c *Checker) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, s := range c.checks {
		if s.mine {
			out[s.check.URL] = true
		}
	}
	return out
}

// TestSharedBalanced: the gateways of a poller group split the checks, each check run by the
// gateway it belongs to (preferred) once every gateway is counted; when one leaves, only its
// checks move; a check the gateway it belongs to does not have (a segmented fleet) is run by
// one that has it, and stays there.
func TestSharedBalanced(t *testing.T) {
	t.Parallel()
	st := sharedStore(t)
	checks := manyChecks(t, 30)
	names := []string{"g1", "g2", "g3"}
	var gs []*Checker
	for _, n := range names {
		c := New(Options{Interval: time.Hour, Claims: st, Space: "uptime:balance", Holder: n})
		c.Set(checks)
		t.Cleanup(c.Close)
		gs = append(gs, c)
	}
	// want is who runs each check, by preferred among members.
	want := func(members []string) map[string]string {
		out := map[string]string{}
		for _, ch := range checks {
			out[ch.URL] = preferred(sidOf(ch), members, members[0])
		}
		return out
	}
	agree := func(what string, gs []*Checker, members []string) map[string]string {
		t.Helper()
		for _, c := range gs {
			if sh, _ := c.Stats(); sh.Gateways != len(members) || sh.Alone {
				t.Fatalf("%s: %s's stats %+v", what, c.holder, sh)
			}
		}
		got := runners(t, gs...)
		if w := want(members); !maps.Equal(got, w) {
			t.Fatalf("%s: checks run by\n%v\nwant\n%v", what, got, w)
		}
		return got
	}
	// The first gateway takes every check; once all are counted, each hands back those that
	// are another's, which that one takes at its next round.
	for range 3 {
		for _, c := range gs {
			c.sync()
		}
	}
	before := agree("three gateways", gs, names)
	// g3 leaves: g1 and g2 take its checks at their next round, and keep their own.
	gs[2].Close()
	for _, c := range gs[:2] {
		c.sync()
	}
	after := agree("g3 left", gs[:2], names[:2])
	for u, who := range before {
		if who != "g3" && after[u] != who {
			t.Errorf("%s moved from %s to %s when g3 left", u, who, after[u])
		}
	}

	// Segments: x has ten checks, y those and ten more. The ten only y has are run by y,
	// whoever they belong to, and nothing moves afterwards.
	x := New(Options{Interval: time.Hour, Claims: st, Space: "uptime:segments", Holder: "x"})
	y := New(Options{Interval: time.Hour, Claims: st, Space: "uptime:segments", Holder: "y"})
	t.Cleanup(x.Close)
	t.Cleanup(y.Close)
	clock := newClock()
	x.now, y.now = clock.Now, clock.Now
	x.Set(checks[:10])
	y.Set(checks[:20])
	for range 4 {
		x.sync()
		y.sync()
		clock.Add(time.Hour)
	}
	held := func() map[string]string { return runners(t, x, y) }
	first := held()
	if len(first) != 20 {
		t.Fatalf("segments: %d of the 20 checks run: %v", len(first), first)
	}
	for _, ch := range checks[10:20] {
		if first[ch.URL] != "y" {
			t.Fatalf("segments: %s, which only y has, run by %q", ch.URL, first[ch.URL])
		}
	}
	for _, ch := range checks[:10] {
		if w := preferred(sidOf(ch), []string{"x", "y"}, "x"); first[ch.URL] != w {
			t.Errorf("segments: %s run by %s, want %s", ch.URL, first[ch.URL], w)
		}
	}
	for range 3 {
		x.sync()
		y.sync()
		clock.Add(time.Hour)
	}
	if later := held(); !maps.Equal(later, first) {
		t.Errorf("segments: checks moved without a change:\n%v\nthen\n%v", first, later)
	}
}

// TestPreferredSpreads: rendezvous hashing gives each of three gateways about a third of many
// checks, and a fourth joining takes about a quarter, from each of the others alike.
func TestPreferredSpreads(t *testing.T) {
	three, four := []string{"gw-a", "gw-b", "gw-c"}, []string{"gw-a", "gw-b", "gw-c", "gw-d"}
	count3, count4, moved := map[string]int{}, map[string]int{}, 0
	const n = 3000
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprint("check ", i)))
		sid := hex.EncodeToString(sum[:16])
		p3, p4 := preferred(sid, three, "gw-a"), preferred(sid, four, "gw-a")
		count3[p3]++
		count4[p4]++
		if p3 != p4 {
			moved++
			if p4 != "gw-d" {
				t.Fatalf("check %d moved from %s to %s, not to the gateway that joined", i, p3, p4)
			}
		}
	}
	for _, g := range three {
		if c := count3[g]; c < n/3-150 || c > n/3+150 {
			t.Errorf("%s has %d of %d checks among three", g, c, n)
		}
	}
	if c := count4["gw-d"]; c < n/4-150 || c > n/4+150 || c != moved {
		t.Errorf("the fourth gateway has %d of %d checks (%d moved)", c, n, moved)
	}
}

// clock is a clock tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSharedBalanceOverTime: a gateway syncing twice in a row (a reload) takes none of the
// checks just handed to a newcomer; checks kept for a gateway that did not take them go back
// when the gateways counted change; a gateway without checks is not counted.
func TestSharedBalanceOverTime(t *testing.T) {
	t.Parallel()
	st := sharedStore(t)
	checks := manyChecks(t, 60)
	clock := newClock()
	mk := func(space, name string, cs []Check) *Checker {
		c := New(Options{Interval: time.Hour, Claims: st, Space: space, Holder: name})
		c.now = clock.Now
		c.Set(cs)
		t.Cleanup(c.Close)
		return c
	}
	runs := func(gs ...*Checker) map[string]string { return runners(t, gs...) }
	want := func(members ...string) map[string]string {
		out := map[string]string{}
		for _, ch := range checks {
			out[ch.URL] = preferred(sidOf(ch), members, members[0])
		}
		return out
	}
	round := func(gs ...*Checker) {
		for _, c := range gs {
			c.sync()
		}
		clock.Add(time.Hour)
	}

	g1, g2 := mk("uptime:time", "g1", checks), mk("uptime:time", "g2", checks)
	round(g1, g2)
	round(g1, g2)
	if got := runs(g1, g2); !maps.Equal(got, want("g1", "g2")) {
		t.Fatalf("two gateways: %v", got)
	}
	// n joins; at g1's next round it hands n's checks back, and syncs again at once (a
	// reload): it must not take them back, free for no time at all.
	n := mk("uptime:time", "n", checks)
	n.sync()
	g1.sync()
	g1.sync()
	g2.sync()
	clock.Add(time.Hour)
	round(n, g1, g2)
	round(n, g1, g2)
	if got := runs(g1, g2, n); !maps.Equal(got, want("g1", "g2", "n")) {
		t.Fatalf("after n joined: %v\nwant %v", got, want("g1", "g2", "n"))
	}

	// Segments: s has the checks, e (counted) has none of them: e is not counted, so s runs
	// them all at once.
	s1 := mk("uptime:seg", "s1", checks[:20])
	e := mk("uptime:seg", "e", nil)
	round(e, s1)
	if sh, _ := e.Stats(); sh.Gateways != 0 {
		t.Errorf("a gateway without checks counts %d gateways", sh.Gateways)
	}
	if got := len(runsHere(s1)); got != 20 {
		t.Fatalf("s1 runs %d of its 20 checks while the other gateway has none", got)
	}
	// o has half of them, under another name; the half only s1 has belongs to o for some:
	// s1 keeps those once o left them free. Then o is replaced by o2 with all twenty: what s1
	// kept goes to o2 where it belongs.
	o := mk("uptime:seg", "o", checks[:10])
	for range 4 {
		round(o, s1)
	}
	if got := runs(s1, o); len(got) != 20 {
		t.Fatalf("segments: %d of 20 checks run: %v", len(got), got)
	}
	o.Close()
	o2 := mk("uptime:seg", "o2", checks[:20])
	for range 3 {
		round(o2, s1)
	}
	got, w := runs(s1, o2), map[string]string{}
	for _, ch := range checks[:20] {
		w[ch.URL] = preferred(sidOf(ch), []string{"o2", "s1"}, "s1")
	}
	if !maps.Equal(got, w) {
		t.Fatalf("after o2 replaced o: %v\nwant %v", got, w)
	}
}

// TestPreferredSpreadsRandomNames: with the gateways' random names, each of ten gets a fair
// share of many checks (within a third of it), in every one of many fleets.
func TestPreferredSpreadsRandomNames(t *testing.T) {
	const fleets, gateways, n = 50, 10, 3000
	for f := range fleets {
		var names []string
		for i := range gateways {
			sum := sha256.Sum256([]byte(fmt.Sprint("fleet ", f, " gateway ", i)))
			names = append(names, "uptime-"+hex.EncodeToString(sum[:16]))
		}
		count := map[string]int{}
		for i := range n {
			sum := sha256.Sum256([]byte(fmt.Sprint("check ", i)))
			count[preferred(hex.EncodeToString(sum[:16]), names, names[0])]++
		}
		for _, g := range names {
			if c := count[g]; c < n/gateways*2/3 || c > n/gateways*4/3 {
				t.Fatalf("fleet %d: %s has %d of %d checks among %d gateways", f, g, c, n, gateways)
			}
		}
	}
}
