package redis

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// node is a store standing for one gateway, counting its limit round trips.
type node struct {
	*Store
	trips atomic.Int64
}

func openNodes(t *testing.T, addr string, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nd := &node{}
		nd.Store = open(t, Options{Addrs: []string{addr}, OnRoundTrip: func(op string, _ time.Duration, _ error) {
			if op == "limit" {
				nd.trips.Add(1)
			}
		}})
		nodes[i] = nd
	}
	return nodes
}

// held returns what a node's lease on the pair holds.
func (s *Store) held(rate, quota storage.Spec) (left int64, until time.Time) {
	s.leases.mu.RLock()
	l := s.leases.m[leaseKey{rate.Key, quota.Key}]
	s.leases.mu.RUnlock()
	if l == nil {
		return 0, time.Time{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.left, l.until
}

// race has workers goroutines on each node call Limit until each is refused once (or stop is
// closed), and returns how many calls were allowed on each node.
func race(t *testing.T, nodes []*node, workers int, rate, quota storage.Spec, stop <-chan struct{}) []int64 {
	t.Helper()
	allowed := make([]int64, len(nodes))
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*workers)
	for i, nd := range nodes {
		for range workers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := nd.Limit(t.Context(), rate, quota)
					if err != nil {
						errs <- err
						return
					}
					if !r.Allowed() {
						return
					}
					atomic.AddInt64(&allowed[i], 1)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return allowed
}

func sum(v []int64) (n int64) {
	for _, x := range v {
		n += x
	}
	return n
}

// TestLeaseQuotaNeverOverGrants races three nodes of eight clients each against one quota large
// enough to lease: never more than the quota passes, and what leases strand stays within their
// bound. How many round trips the leases save is TestLeaseSavesRoundTrips': in a race that lasts
// about two meter periods it depends on how the scheduler spreads the requests over the first
// one, when no node knows its demand yet and every request is a round trip of its own.
func TestLeaseQuotaNeverOverGrants(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 3)
	const limit = 3000
	quota := storage.Spec{Key: "quota-{race}", Limit: limit, Window: time.Hour}
	allowed := race(t, nodes, 8, storage.Spec{}, quota, nil)
	got := sum(allowed)
	if got > limit {
		t.Fatalf("%d requests passed a quota of %d (per node %v)", got, limit, allowed)
	}
	// A lease is at most 1 % of the quota; each node can strand at most the one it held when
	// its last client was refused (one whose life ended unused).
	if strandable := int64(len(nodes)) * limit / leaseShare; got < limit-strandable {
		t.Errorf("%d requests passed a quota of %d, want at least %d (per node %v)", got, limit, limit-strandable, allowed)
	}
	u, err := nodes[0].Peek(t.Context(), quota.Key)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used != limit && u.Used != got {
		t.Errorf("the counter holds %d, want %d (the quota, or what passed)", u.Used, limit)
	}
	var trips int64
	for _, nd := range nodes {
		trips += nd.trips.Load()
	}
	t.Logf("%d of %d passed (per node %v) in %d round trips", got, limit, allowed, trips)
}

// TestLeaseSavesRoundTrips: once a node knows a key's demand, leases serve most of its requests
// with no round trip. One goroutine sends requests to three nodes in turn, a schedule the machine's
// load cannot reorder. Each node first makes ten calls, then, a meter period later, its demand
// is known (before that every call is a round trip: how many that would be depends only on the
// machine's speed); then 800 calls each, all allowed, which leases of at most a hundredth of
// the quota serve in about 800/30 round trips per node.
func TestLeaseSavesRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 3)
	const limit, perNode = 3000, 800
	quota := storage.Spec{Key: "quota-{trips}", Limit: limit, Window: time.Hour}
	call := func(nd *node) {
		t.Helper()
		r, err := nd.Limit(t.Context(), storage.Spec{}, quota)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed() {
			t.Fatalf("a call was refused with %d of a quota of %d used", r.Quota.Used, limit)
		}
	}
	for _, nd := range nodes {
		for range 10 {
			call(nd)
		}
	}
	// The meter needs half a period between a node's first and last call to tell its demand. A
	// longer sleep (a loaded machine) makes the first lease smaller and the next ones catch up;
	// only one of ten seconds would make it a single hit, which turns leasing off for a while.
	time.Sleep(meterPeriod)
	var before int64
	for _, nd := range nodes {
		before += nd.trips.Load()
	}
	for range perNode {
		for _, nd := range nodes {
			call(nd)
		}
	}
	var trips int64
	for _, nd := range nodes {
		trips += nd.trips.Load()
	}
	trips -= before
	// At best every lease holds the cap (30) and a node makes perNode/30 round trips. A lease
	// sized by a demand still growing holds less (a few round trips per node), and one that
	// lapses while the goroutine is held for longer than a lease's life costs one more; together
	// they do not double the count. Without leases it would be thirty times the best.
	calls := int64(len(nodes) * perNode)
	ideal := calls / leaseCap(storage.Spec{}, quota)
	if trips > 2*ideal {
		t.Errorf("%d calls after the nodes knew their demand made %d limit round trips, want at most %d (at best %d)", calls, trips, 2*ideal, ideal)
	}
	t.Logf("%d calls made %d round trips (at best %d)", calls, trips, ideal)
}

// TestLeaseRateNeverOverGrants does the same for a rate limit: within one window no more than
// the limit passes across the nodes, leased or not.
func TestLeaseRateNeverOverGrants(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 3)
	const limit = 2000
	rate := storage.Spec{Key: "rate-limit-{race}", Limit: limit, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{race}", Limit: 1e9, Window: time.Hour}
	start := time.Now()
	allowed := race(t, nodes, 8, rate, quota, nil)
	took := time.Since(start)
	got := sum(allowed)
	if took < time.Minute && got > limit {
		t.Fatalf("%d requests passed a rate limit of %d per minute within %v (per node %v)", got, limit, took, allowed)
	}
	// Every hit the window counted is one that passed, or one a node held and could not serve
	// before its slot ended: the window's own count says what was reserved.
	r, err := nodes[0].Hit(t.Context(), rate.Key, limit, rate.Window)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allowed || r.Used < got {
		t.Errorf("after the race the window counts %d (allowed %t), want it full and at least the %d that passed", r.Used, r.Allowed, got)
	}
	if strandable := int64(len(nodes)) * limit / leaseShare; took < storage.SlotLength(rate.Window) && got < limit-strandable {
		t.Errorf("%d requests passed a rate limit of %d, want at least %d", got, limit, limit-strandable)
	}
	t.Logf("%d of %d passed in %v (per node %v)", got, limit, took, allowed)
}

// TestLeaseOverGrantsNothingAcrossWindows runs the race for longer than several slots of a
// short window: at no point does the sliding window let more than its limit through in any
// span of its length, counting what each node served by the time it served it.
func TestLeaseOverGrantsNothingAcrossWindows(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 3)
	const limit = 1000
	window := 500 * time.Millisecond
	rate := storage.Spec{Key: "rate-limit-{slide}", Limit: limit, Window: window}
	var mu sync.Mutex
	var served []time.Time // when the call that served each hit began, for calls that took little time
	total := 0
	// A goroutine the scheduler holds between a call and reading the clock would stamp its hit
	// late (or early); on a loaded machine that happens for tens of milliseconds. Only hits
	// whose whole call took less than quick are timed, stamped with the call's start.
	const quick = 5 * time.Millisecond
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * window)
	for _, nd := range nodes {
		for range 6 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					began := time.Now()
					r, err := nd.Limit(t.Context(), rate, storage.Spec{})
					if err != nil {
						t.Error(err)
						return
					}
					took := time.Since(began)
					if r.Allowed() {
						mu.Lock()
						total++
						if took < quick {
							served = append(served, began)
						}
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(served, func(a, b time.Time) int { return a.Compare(b) })
	// A hit is served only while the slot it was counted in lasts, and it is counted in the
	// slot of its call or, late in a slot, the next one: so a timed hit was counted within a slot
	// and the call's duration of its stamp. In any span of the window less two slots and quick,
	// the timed hits were all counted within one window, which holds at most the limit.
	span := window - 2*storage.SlotLength(window) - quick
	most := 0
	for i, j := 0, 0; j < len(served); j++ {
		for served[j].Sub(served[i]) > span {
			i++
		}
		most = max(most, j-i+1)
	}
	if most > limit {
		t.Errorf("%d hits served within %v, more than the limit of %d per %v", most, span, limit, window)
	}
	if total < limit {
		t.Errorf("only %d hits served in %v, want at least the limit of %d", total, 3*window, limit)
	}
	if len(served) < total/2 {
		t.Logf("only %d of %d hits were timed (calls under %v): a loaded machine", len(served), total, quick)
	}
	t.Logf("%d served in %v (%d timed), at most %d within %v", total, 3*window, len(served), most, span)
}

// takeLease has a node take a lease on the pair, returning once it holds one.
func takeLease(t *testing.T, s *Store, rate, quota storage.Spec) {
	t.Helper()
	// A lease follows the demand metered over at least half a meter period: calls that come
	// too fast (or, on a busy machine, too slow) for 1000 of them to show it go on a while.
	start := time.Now()
	for n := 0; n < 1000 || time.Since(start) < 5*time.Second; n++ {
		if _, err := s.Limit(t.Context(), rate, quota); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.held(rate, quota); left > 0 {
			return
		}
	}
	t.Fatal("no lease after 5 s of calls")
}

// waitDropped waits, up to a second, until a node no longer holds a lease on the pair.
func waitDropped(t *testing.T, s *Store, rate, quota storage.Spec, why string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < time.Second {
		if left, _ := s.held(rate, quota); left == 0 {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the node still holds its lease a second after %s", why)
	return 0
}

// TestLeaseDroppedOnReset checks that a quota reset through another node ends this node's
// lease, so no hit leased from the old window is served in the new one.
func TestLeaseDroppedOnReset(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 2)
	a, b := nodes[0], nodes[1]
	quota := storage.Spec{Key: "quota-{reset}", Limit: 100000, Window: time.Hour}
	takeLease(t, a.Store, storage.Spec{}, quota)
	if err := b.Reset(t.Context(), quota.Key); err != nil {
		t.Fatal(err)
	}
	d := waitDropped(t, a.Store, storage.Spec{}, quota, "another node reset the quota")
	if d > 100*time.Millisecond {
		t.Errorf("the lease was dropped %v after the reset, want within 100ms", d)
	}
	// Whatever this node serves now is counted in the new window.
	const after = 50
	for range after {
		if r, err := a.Limit(t.Context(), storage.Spec{}, quota); err != nil || !r.Allowed() {
			t.Fatalf("Limit = %+v, %v", r, err)
		}
	}
	u, err := b.Peek(t.Context(), quota.Key)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used < after {
		t.Errorf("after the reset the counter holds %d, but the node served %d", u.Used, after)
	}
	// A reset through the node itself drops its lease before it answers.
	takeLease(t, a.Store, storage.Spec{}, quota)
	if err := a.Reset(t.Context(), quota.Key); err != nil {
		t.Fatal(err)
	}
	if left, _ := a.held(storage.Spec{}, quota); left != 0 {
		t.Errorf("the node holds %d leased hits after resetting the quota itself", left)
	}
	// The mark outlives the leases it ends, not by a day: every key reset leaves one.
	if ms, err := strconv.Atoi(strings.TrimSpace(redistest.CLI(t, srv.Addr, "PTTL", leaseMarkPrefix+quota.Key))); err != nil || ms <= 0 || ms > 10_000 {
		t.Errorf("the reset mark lives %d ms (%v), want between a lease's life and 10 s", ms, err)
	}
}

// TestLeaseDroppedByTag checks DropLeases, which the gateway calls when a key changes.
func TestLeaseDroppedByTag(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	rate := storage.Spec{Key: "rate-limit-{h1}", Limit: 1e6, Window: time.Second}
	quota := storage.Spec{Key: "quota-{h1}", Limit: 1e9, Window: time.Hour}
	other := storage.Spec{Key: "quota-{h2}", Limit: 1e9, Window: time.Hour}
	takeLease(t, s.Store, rate, quota)
	takeLease(t, s.Store, storage.Spec{}, other)
	s.DropLeases([]string{"h1"})
	if left, _ := s.held(rate, quota); left != 0 {
		t.Errorf("the key's lease holds %d hits after DropLeases", left)
	}
	if left, _ := s.held(storage.Spec{}, other); left == 0 {
		t.Errorf("another key's lease was dropped too")
	}
	// Other limits for the same names (the key's limits changed) drop the lease too.
	takeLease(t, s.Store, rate, quota)
	smaller := quota
	smaller.Limit = 1e8
	if _, err := s.Limit(t.Context(), rate, smaller); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.held(rate, quota); left != 0 {
		t.Errorf("a call with other limits left %d hits of the old limits' lease", left)
	}
}

// TestLeaseEndsWithItsWindow checks a lease's life: it ends with the rate window's slot it was
// counted in and with the quota's window, whichever is first.
func TestLeaseEndsWithItsWindow(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	rate := storage.Spec{Key: "rate-limit-{life}", Limit: 1e6, Window: 10 * time.Second}
	quota := storage.Spec{Key: "quota-{life}", Limit: 1e9, Window: 150 * time.Millisecond}
	slot := storage.SlotLength(rate.Window)
	for range 3 {
		takeLease(t, s.Store, rate, quota)
		r, err := s.Limit(t.Context(), rate, quota)
		if err != nil {
			t.Fatal(err)
		}
		_, until := s.held(rate, quota)
		s.leases.mu.RLock()
		l := s.leases.m[leaseKey{rate.Key, quota.Key}]
		s.leases.mu.RUnlock()
		l.mu.Lock()
		counted := l.slot
		l.mu.Unlock()
		// The slot the hits were counted in is the current one, or the next late in a slot.
		now := time.Now().UnixMicro() / slot.Microseconds()
		if counted < now-1 || counted > now+1 {
			t.Errorf("the lease was counted in slot %d, the clock is in slot %d", counted, now)
		}
		// Same machine, so the server's clock is this one's, within a few milliseconds.
		slotEnd := time.UnixMicro((counted + 1) * slot.Microseconds())
		if until.After(slotEnd.Add(5 * time.Millisecond)) {
			t.Errorf("the lease lasts until %v, after the slot it was counted in ends at %v", until, slotEnd)
		}
		if until.After(r.Quota.Reset.Add(5 * time.Millisecond)) {
			t.Errorf("the lease lasts until %v, after the quota's window ends at %v", until, r.Quota.Reset)
		}
		if until.After(time.Now().Add(maxLeaseLife)) {
			t.Errorf("the lease lasts until %v, longer than %v", until, maxLeaseLife)
		}
	}
	// Once its window ended, the quota starts afresh: no hit of the old lease is served in it.
	time.Sleep(200 * time.Millisecond)
	r, err := s.Limit(t.Context(), rate, quota)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Peek(t.Context(), quota.Key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Quota.Used > u.Used {
		t.Errorf("the node reports %d used in the new window, the counter %d", r.Quota.Used, u.Used)
	}
}

// TestSmallLimitsNeverLeased checks that limits too small to lease are counted one request per
// round trip, as without leases.
func TestSmallLimitsNeverLeased(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	rate := storage.Spec{Key: "rate-limit-{small}", Limit: 199, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{small}", Limit: 1e9, Window: time.Hour}
	for i := range 100 {
		r, err := s.Limit(context.Background(), rate, quota)
		if err != nil || !r.Allowed() || r.Rate.Used != int64(i+1) {
			t.Fatalf("call %d: %+v, %v", i, r, err)
		}
	}
	if n := s.trips.Load(); n != 100 {
		t.Errorf("100 calls made %d round trips, want one each", n)
	}
}

// TestLeaseGivesBackWhatItDidNotServe checks that hits a lease held when its slot ended are
// given back with the next call, so a quota counts what was served and what is held, nothing
// stranded.
func TestLeaseGivesBackWhatItDidNotServe(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	rate := storage.Spec{Key: "rate-limit-{back}", Limit: 1e6, Window: time.Second}
	quota := storage.Spec{Key: "quota-{back}", Limit: 1e9, Window: time.Hour}
	served := int64(0)
	for range 5 {
		for {
			r, err := s.Limit(t.Context(), rate, quota)
			if err != nil || !r.Allowed() {
				t.Fatalf("Limit = %+v, %v", r, err)
			}
			served++
			if left, _ := s.held(rate, quota); left > 0 {
				break
			}
		}
		// Let the lease's slot end with hits unserved.
		_, until := s.held(rate, quota)
		time.Sleep(time.Until(until) + time.Millisecond)
	}
	r, err := s.Limit(t.Context(), rate, quota)
	if err != nil || !r.Allowed() {
		t.Fatalf("Limit = %+v, %v", r, err)
	}
	served++
	left, _ := s.held(rate, quota)
	u, err := s.Peek(t.Context(), quota.Key)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used != served+left {
		t.Errorf("the counter holds %d, want the %d served and the %d held", u.Used, served, left)
	}
	if r.Quota.Used != served {
		t.Errorf("the last call reports %d used, want the %d served", r.Quota.Used, served)
	}
}

// TestLeaseGivenBackWhenIdleOrClosed checks that what a lease holds goes back to Redis when its
// key goes idle on the node (the sweep) and when the node closes: only a node that dies strands
// a lease.
func TestLeaseGivenBackWhenIdleOrClosed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	nodes := openNodes(t, srv.Addr, 2)
	a, b := nodes[0], nodes[1]
	rate := storage.Spec{Key: "rate-limit-{idle}", Limit: 1e6, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{idle}", Limit: 1e9, Window: time.Hour}
	served := func(s *Store) int64 {
		n := int64(0)
		for {
			r, err := s.Limit(t.Context(), rate, quota)
			if err != nil || !r.Allowed() {
				t.Fatalf("Limit = %+v, %v", r, err)
			}
			n++
			if left, _ := s.held(rate, quota); left > 0 {
				return n
			}
		}
	}
	counted := func() (window, counter int64) {
		t.Helper()
		u, err := b.Peek(t.Context(), quota.Key)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := windowName(rate)
		c, _, cancel, err := b.conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		total, err := c.Do(t.Context(), c.B().Hget().Key(name).Field("total").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return total, u.Used
	}

	n := served(a.Store)
	// Every request of the key is older than the sweep's cut: it gives back what the lease holds.
	a.giveBack(a.leases.sweep(time.Now().Add(time.Second), a.CacheEpoch()))
	if w, c := counted(); w != n || c != n {
		t.Errorf("after the sweep the window counts %d and the counter %d, want the %d served", w, c, n)
	}
	n += served(a.Store)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if w, c := counted(); w != n || c != n {
		t.Errorf("after Close the window counts %d and the counter %d, want the %d served", w, c, n)
	}
	if _, err := a.Limit(t.Context(), rate, quota); err == nil {
		t.Error("Limit on a closed store: no error")
	}
}

// TestLeaseIndex checks the index DropLeases and quota resets find leases by: a key's tag finds
// every pair whose names carry it as their hash tag (per-API ones, and a pair of two tags by
// either), never a pair whose name merely equals it; a quota counter finds its pairs; and the
// sweep leaves nothing of a forgotten pair in the index.
func TestLeaseIndex(t *testing.T) {
	s := &Store{}
	pairs := []leaseKey{
		{"rate-limit-{h1}", "quota-{h1}"},
		{"rate-limit-{h1}-api2", "quota-{h1}-api2"},
		{"", "quota-{h2}"},
		{"rate-{a}", "quota-{b}"},
		{"", "h1"},
		{"h2", ""},
	}
	fill := func() {
		for _, k := range pairs {
			l := s.leases.get(k.rate, k.quota)
			l.mu.Lock()
			l.left, l.last = 5, time.Now()
			l.mu.Unlock()
		}
	}
	want := func(step string, held ...leaseKey) {
		t.Helper()
		for _, k := range pairs {
			s.leases.mu.RLock()
			l := s.leases.m[k]
			s.leases.mu.RUnlock()
			var left int64
			if l != nil { // swept
				l.mu.Lock()
				left = l.left
				l.mu.Unlock()
			}
			if w := slices.Contains(held, k); w != (left > 0) {
				t.Errorf("%s: pair %v holds %d, want held %t", step, k, left, w)
			}
		}
	}
	fill()
	s.DropLeases([]string{"h1", ""})
	want("DropLeases h1", pairs[2], pairs[3], pairs[4], pairs[5])
	s.DropLeases([]string{"b", "h2"})
	want("DropLeases b and h2", pairs[4], pairs[5])
	s.dropQuotaLeases("h1")
	want("quota h1 reset", pairs[5])
	fill()
	s.dropQuotaLeases("quota-{h1}")
	want("quota-{h1} reset", pairs[1], pairs[2], pairs[3], pairs[4], pairs[5])

	// Sweep the h1 pairs: the index keeps the others alone, and still finds them.
	s.leases.mu.Lock()
	for _, k := range pairs[:2] {
		s.leases.m[k].last = time.Time{}
	}
	s.leases.mu.Unlock()
	s.leases.sweep(time.Now().Add(-time.Hour), s.CacheEpoch())
	s.leases.mu.RLock()
	if n := len(s.leases.m); n != len(pairs)-2 {
		t.Errorf("%d pairs after the sweep, want %d", n, len(pairs)-2)
	}
	for sk, list := range s.leases.by {
		for _, l := range list {
			if s.leases.m[l.key] != l {
				t.Errorf("index %q holds pair %v, swept", sk, l.key)
			}
		}
	}
	if len(s.leases.by["h1"]) != 1 || len(s.leases.by["a"]) != 1 || len(s.leases.by["b"]) != 1 {
		t.Errorf("index after the sweep: %v", s.leases.by)
	}
	s.leases.mu.RUnlock()
	s.DropLeases([]string{"a"})
	want("DropLeases a after the sweep", pairs[2], pairs[4], pairs[5])

	s.leases.sweep(time.Time{}, s.CacheEpoch())
	if s.leases.m != nil || s.leases.by != nil {
		t.Errorf("after sweeping all: %d pairs, index %v", len(s.leases.m), s.leases.by)
	}
}

// counts returns what Redis counts of rate's window and quota's counter.
func counts(t *testing.T, s *Store, rate, quota storage.Spec) (window, counter int64) {
	t.Helper()
	u, err := s.Peek(t.Context(), quota.Key)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := windowName(rate)
	c, _, cancel, err := s.conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	total, err := c.Do(t.Context(), c.B().Hget().Key(name).Field("total").Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return total, u.Used
}

// waitCounted waits until Redis counts want in the window and the counter: what a dropped lease
// held is given back by the store's give-back loop, after the drop returns. It fails after 10 s
// (a bound on correctness, not on speed: without the give-back the counts never get there).
func waitCounted(t *testing.T, s *Store, rate, quota storage.Spec, want int64, after string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, c := counts(t, s, rate, quota)
		if w == want && c == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the window counts %d and the counter %d, want the %d served", after, w, c, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLeaseDroppedGivesBack checks that a lease dropped before it ended gives back what it held
// and did not serve: dropped by DropLeases (a key's change), by other limits for the same names,
// and while the call asking for it was in flight. Redis then counts only the hits served.
func TestLeaseDroppedGivesBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	// A window of a minute: its slots outlast the test's lease, so what is given back to the
	// window is not lost to a slot ending meanwhile.
	rate := storage.Spec{Key: "rate-limit-{drop}", Limit: 1e6, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{drop}", Limit: 1e9, Window: time.Hour}
	served := int64(0)
	lease := func(rate, quota storage.Spec) {
		t.Helper()
		start := time.Now()
		for n := 0; n < 1000 || time.Since(start) < 5*time.Second; n++ {
			r, err := s.Limit(t.Context(), rate, quota)
			if err != nil || !r.Allowed() {
				t.Fatalf("Limit = %+v, %v", r, err)
			}
			served++
			if left, _ := s.held(rate, quota); left > 0 {
				return
			}
		}
		t.Fatal("no lease after 5 s of calls")
	}

	lease(rate, quota)
	s.DropLeases([]string{"drop"})
	if left, _ := s.held(rate, quota); left != 0 {
		t.Fatalf("the lease holds %d hits after DropLeases", left)
	}
	waitCounted(t, s.Store, rate, quota, served, "DropLeases")

	// Other limits for the same names drop the lease; the call that carries them is counted.
	lease(rate, quota)
	other := quota
	other.Limit = 1e8
	if r, err := s.Limit(t.Context(), rate, other); err != nil || !r.Allowed() {
		t.Fatalf("Limit = %+v, %v", r, err)
	}
	served++
	waitCounted(t, s.Store, rate, quota, served, "a change of limits")

	// Dropped while the call asking for it was in flight: the hits granted beyond that call's
	// go back.
	var fired atomic.Bool
	var granted int64
	s.afterGrant = func(g grant) {
		if g.hits > 1 && fired.CompareAndSwap(false, true) {
			granted = g.hits
			s.DropLeases([]string{"drop"})
		}
	}
	for !fired.Load() {
		r, err := s.Limit(t.Context(), rate, other)
		if err != nil || !r.Allowed() {
			t.Fatalf("Limit = %+v, %v", r, err)
		}
		served++
	}
	if left, _ := s.held(rate, other); left != 0 {
		t.Fatalf("a lease dropped while asked for holds %d hits", left)
	}
	waitCounted(t, s.Store, rate, quota, served, "a drop during the call granting "+strconv.FormatInt(granted, 10)+" hits")
}

// TestLeaseWaitersShareTheRenewalsError: the requests of a pair waiting for the call asking
// for a lease fail with its error rather than each make a call of their own afterwards (while
// Redis hangs, they would wait out the call's timeout, then one of their own).
func TestLeaseWaitersShareTheRenewalsError(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := openNodes(t, srv.Addr, 1)[0]
	rate := storage.Spec{Key: "rate-limit-{wait}", Limit: 1e6, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{wait}", Limit: 1e9, Window: time.Hour}
	takeLease(t, s.Store, rate, quota)
	s.leases.mu.RLock()
	l := s.leases.m[leaseKey{rate.Key, quota.Key}]
	s.leases.mu.RUnlock()

	// The next request renews the lease (the one it holds has ended), and is held before its
	// call until the others wait for it.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.beforeRenew = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	l.mu.Lock()
	l.until = time.Time{}
	l.mu.Unlock()
	const waiters = 5
	errs := make(chan error, waiters+1)
	go func() {
		_, err := s.Limit(t.Context(), rate, quota)
		errs <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not renew the lease")
	}
	for range waiters {
		go func() {
			_, err := s.Limit(t.Context(), rate, quota)
			errs <- err
		}()
	}
	for l.waiting.Load() < waiters {
		time.Sleep(time.Millisecond)
	}
	// The call fails: the window's key holds something else than a window.
	name, _ := windowName(rate)
	redistest.CLI(t, srv.Addr, "set", name, "not a window")
	before := s.trips.Load()
	close(release)
	for range waiters + 1 {
		if err := <-errs; err == nil {
			t.Error("a request succeeded although the window cannot be counted")
		}
	}
	if n := s.trips.Load() - before; n != 1 {
		t.Errorf("the renewal and the %d requests waiting for it made %d limit calls, want the renewal's alone", waiters, n)
	}
}
