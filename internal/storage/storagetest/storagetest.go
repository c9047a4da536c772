// Package storagetest is the conformance suite that every storage backend passes.
//
// A backend's tests call Run with a factory that builds a fresh store and the clock that store
// reads. The in-memory backend passes a ManualClock, so the suite runs in no time and can check
// instants to the nanosecond; a backend whose time cannot be faked (such as a real Redis server)
// passes RealClock, and the suite then sleeps instead and allows a little slack in every
// assertion about time. Either way the suite keeps windows short, so it finishes in seconds.
package storagetest

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Clock is the time source the suite drives. The store under test must read the same time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Advance lets d pass.
	Advance(d time.Duration)
}

// ManualClock is a Clock that only moves when told to. It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock set to start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// RealClock is a Clock that reads the system clock and waits by sleeping.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Advance sleeps for d.
func (RealClock) Advance(d time.Duration) { time.Sleep(d) }

// realClockSlack is how far a time the store reports may stray outside the interval the suite
// measured around the call when the clock is real: the store may read its own clock (a Redis
// server's, say) and keep coarser timestamps than the suite's.
const realClockSlack = 25 * time.Millisecond

// Run runs the conformance suite as subtests of t. For each subtest it calls newStore, which
// must return a fresh, empty store and the clock that store reads, and must register with t
// whatever cleanup the store needs. The suite waits only by calling the clock's Advance.
func Run(t *testing.T, newStore func(t *testing.T) (storage.Store, Clock)) {
	t.Helper()
	for _, g := range suite {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					s, clock := newStore(t)
					c.run(newEnv(t, s, clock))
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(e *env)
}

type group struct {
	name  string
	cases []testCase
}

var suite = []group{
	{"KV", kvCases},
	{"Counters", counterCases},
	{"Windows", windowCases},
	{"Limits", limitCases},
	{"Documents", documentCases},
	{"Bus", busCases},
	{"Concurrency", concurrencyCases},
	{"Context", contextCases},
}

// env is what every case works with: the store, its clock and helpers that fail the test on
// unexpected errors.
type env struct {
	t     *testing.T
	s     storage.Store
	clock Clock
	// prefix starts every key a case uses, so that cases sharing a database cannot see each
	// other's keys.
	prefix string
	// exact reports whether the clock is manual, so that instants can be checked to the
	// nanosecond and edges probed one nanosecond either side.
	exact bool
	slack time.Duration
}

func newEnv(t *testing.T, s storage.Store, clock Clock) *env {
	e := &env{t: t, s: s, clock: clock, prefix: "storagetest:" + rand.Text() + ":"}
	if _, ok := clock.(*ManualClock); ok {
		e.exact = true
	} else {
		e.slack = realClockSlack
	}
	return e
}

func (e *env) key(name string) string { return e.prefix + name }

// stamped is a call's result with the interval of time around the call.
type stamped struct {
	storage.Usage
	before, after time.Time
}

func (e *env) get(key string) ([]byte, error) {
	e.t.Helper()
	v, err := e.s.Get(e.t.Context(), key)
	if err != nil && !isNotFound(err) {
		e.t.Fatalf("Get(%q): unexpected error %v", key, err)
	}
	return v, err
}

// wantValue fails unless key holds want.
func (e *env) wantValue(key, want string) {
	e.t.Helper()
	v, err := e.get(key)
	if err != nil {
		e.t.Errorf("Get(%q) = %v, want %q", key, err, want)
		return
	}
	if string(v) != want {
		e.t.Errorf("Get(%q) = %q, want %q", key, v, want)
	}
}

// wantMissing fails unless Get reports key as not found.
func (e *env) wantMissing(key string) {
	e.t.Helper()
	v, err := e.get(key)
	if err == nil {
		e.t.Errorf("Get(%q) = %q, want ErrNotFound", key, v)
	}
}

func (e *env) set(key, value string, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.Set(e.t.Context(), key, []byte(value), ttl); err != nil {
		e.t.Fatalf("Set(%q, %q, %v): %v", key, value, ttl, err)
	}
}

func (e *env) del(key string) bool {
	e.t.Helper()
	existed, err := e.s.Delete(e.t.Context(), key)
	if err != nil {
		e.t.Fatalf("Delete(%q): %v", key, err)
	}
	return existed
}

func (e *env) keys(prefix string) []string {
	e.t.Helper()
	keys, err := e.s.Keys(e.t.Context(), prefix)
	if err != nil {
		e.t.Fatalf("Keys(%q): %v", prefix, err)
	}
	return keys
}

func (e *env) take(key string, limit int64, window time.Duration) stamped {
	e.t.Helper()
	before := e.clock.Now()
	u, err := e.s.Take(e.t.Context(), key, limit, window)
	after := e.clock.Now()
	if err != nil {
		e.t.Fatalf("Take(%q, %d, %v): %v", key, limit, window, err)
	}
	return stamped{u, before, after}
}

func (e *env) peek(key string) storage.Usage {
	e.t.Helper()
	u, err := e.s.Peek(e.t.Context(), key)
	if err != nil {
		e.t.Fatalf("Peek(%q): %v", key, err)
	}
	return u
}

func (e *env) reset(key string) {
	e.t.Helper()
	if err := e.s.Reset(e.t.Context(), key); err != nil {
		e.t.Fatalf("Reset(%q): %v", key, err)
	}
}

func (e *env) hit(key string, limit int64, window time.Duration) stamped {
	e.t.Helper()
	before := e.clock.Now()
	u, err := e.s.Hit(e.t.Context(), key, limit, window)
	after := e.clock.Now()
	if err != nil {
		e.t.Fatalf("Hit(%q, %d, %v): %v", key, limit, window, err)
	}
	return stamped{u, before, after}
}

// wantUsage fails unless u reports allowed and used.
func (e *env) wantUsage(what string, u storage.Usage, allowed bool, used int64) {
	e.t.Helper()
	if u.Allowed != allowed || u.Used != used {
		e.t.Errorf("%s: Allowed=%t Used=%d, want Allowed=%t Used=%d", what, u.Allowed, u.Used, allowed, used)
	}
}

// wantNear fails unless got lies in [from, to], widened by the slack a real clock needs.
func (e *env) wantNear(what string, got, from, to time.Time) {
	e.t.Helper()
	if got.Before(from.Add(-e.slack)) || got.After(to.Add(e.slack)) {
		e.t.Errorf("%s = %s, want within [%s, %s] (slack %v)", what,
			got.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), e.slack)
	}
}

// wantSame fails unless got is the instant want.
func (e *env) wantSame(what string, got, want time.Time) {
	e.t.Helper()
	if !got.Equal(want) {
		e.t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

// wantZero fails unless t is the zero time, as Usage.Reset is when nothing is counted.
func (e *env) wantZero(what string, t time.Time) {
	e.t.Helper()
	if !t.IsZero() {
		e.t.Errorf("%s = %s, want the zero time", what, t.Format(time.RFC3339Nano))
	}
}

// advanceTo lets time pass until the clock reads at least t.
func (e *env) advanceTo(t time.Time) {
	if d := t.Sub(e.clock.Now()); d > 0 {
		e.clock.Advance(d)
	}
}
