// Package storagetest is the conformance suite that every storage backend passes.
//
// A backend's tests call Run with a factory that builds a fresh store and the clock that store
// reads. The in-memory backend passes a ManualClock, so the suite runs in no time and can check
// instants to the nanosecond; a backend whose time cannot be faked (such as a real Redis server)
// passes RealClock, and the suite then sleeps instead and allows a little slack in every
// assertion about time. Either way the suite keeps windows short, so it finishes in seconds.
//
// With a real clock, what a store answers depends on when it handled a call, and a loaded machine
// may let far more time pass than a case planned (a sleep that oversleeps, a call that waits
// for the CPU). So every assertion that depends on a call having been handled in time is
// preceded by a check, from the times measured around the calls, that it was; when it was not,
// the attempt proves nothing either way and the case runs again from the start with a fresh
// store, up to maxAttempts times. The assertions themselves are those of the manual clock,
// widened only by the slack; nothing is skipped for being late.
package storagetest

import (
	"crypto/rand"
	"fmt"
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

// realClockGrain is the coarsest unit a store may keep time in (a Redis server expires keys to
// the millisecond): added to the length of time between two calls that a check relies on.
const realClockGrain = time.Millisecond

// maxAttempts bounds how many times a case runs with a real clock when the machine was too
// slow for its timing (see the package documentation).
const maxAttempts = 10

// Run runs the conformance suite as subtests of t. For each subtest it calls newStore, which
// must return a fresh, empty store and the clock that store reads, and must register with t
// whatever cleanup the store needs. The suite waits only by calling the clock's Advance. A case
// may call newStore more than once with a real clock (see the package documentation).
func Run(t *testing.T, newStore func(t *testing.T) (storage.Store, Clock)) {
	t.Helper()
	for _, g := range suite {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					runCase(t, c, newStore)
				})
			}
		})
	}
}

// runCase runs one case, again while an attempt reports that it was late.
func runCase(t *testing.T, c testCase, newStore func(t *testing.T) (storage.Store, Clock)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, clock := newStore(t)
		late := attemptCase(c, newEnv(t, s, clock))
		if late == nil {
			return
		}
		if attempt == maxAttempts {
			t.Fatalf("%v, in each of %d attempts: the machine is too slow to check this with a real clock", late, maxAttempts)
		}
		t.Logf("attempt %d proves nothing: %v; running the case again", attempt, late)
	}
}

// tooLate is what a case panics with when a call was not handled in time for the assertions
// that follow it: the attempt is abandoned.
type tooLate struct{ msg string }

func (l *tooLate) Error() string { return l.msg }

// attemptCase runs the case and returns why it was abandoned, nil when it ran to its end (or
// failed: a failure is never turned into a retry).
func attemptCase(c testCase, e *env) (late *tooLate) {
	defer func() {
		if r := recover(); r != nil {
			l, ok := r.(*tooLate)
			if !ok {
				panic(r)
			}
			late = l
		}
	}()
	c.run(e)
	return nil
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

// timed runs fn, a call to the store, and returns the interval of time around it.
func (e *env) timed(fn func()) stamped {
	before := e.clock.Now()
	fn()
	return stamped{before: before, after: e.clock.Now()}
}

// late abandons the attempt (see the package documentation).
func (e *env) late(format string, args ...any) {
	e.t.Helper()
	panic(&tooLate{msg: fmt.Sprintf(format, args...)})
}

// The checks below abandon the attempt unless a call was surely handled in time for what
// follows. With a manual clock nothing moves between the suite's steps: they pass. A store's
// clock may differ from the suite's by the slack, but not from one call to the next, so a check
// of the time between two calls needs no slack, only the grain.

// before checks that the store handled s before the instant t, a time the store reported or
// computed from one.
func (e *env) before(what string, s stamped, t time.Time) {
	e.t.Helper()
	if !e.exact && !s.after.Add(e.slack).Before(t) {
		e.late("%s may have been handled at %s, not before %s", what, s.after.Add(e.slack).Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
	}
}

// notBefore checks that the store handled s at the instant t or later.
func (e *env) notBefore(what string, s stamped, t time.Time) {
	e.t.Helper()
	if !e.exact && s.before.Add(-e.slack).Before(t) {
		e.late("%s may have been handled at %s, before %s", what, s.before.Add(-e.slack).Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
	}
}

// within checks that the store handled s less than d after it handled ref.
func (e *env) within(what string, s, ref stamped, d time.Duration) {
	e.t.Helper()
	if !e.exact && s.after.Sub(ref.before) >= d-realClockGrain {
		e.late("%s may have been handled %v after the call it depends on, not within %v", what, s.after.Sub(ref.before), d)
	}
}

// atLeast checks that the store handled s at least d after it handled ref.
func (e *env) atLeast(what string, s, ref stamped, d time.Duration) {
	e.t.Helper()
	if !e.exact && s.before.Sub(ref.after) < d+realClockGrain {
		e.late("%s may have been handled %v after the call it depends on, not %v or more", what, s.before.Sub(ref.after), d)
	}
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
