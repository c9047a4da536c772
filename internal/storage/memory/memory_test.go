package memory

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// epoch is where manual clocks start: a whole second, as a backend bucketing time would align.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) (storage.Store, storagetest.Clock) {
		clock := storagetest.NewManualClock(epoch)
		return newStore(t, WithClock(clock.Now)), clock
	})
}

// TestConformanceRealClock runs the suite the way a Redis backend will, sleeping through real
// time, to keep the suite honest about the slack it allows.
func TestConformanceRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps for several seconds")
	}
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) (storage.Store, storagetest.Clock) {
		return newStore(t), storagetest.RealClock{}
	})
}

func newStore(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s := New(opts...)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// manual returns a store with the sweep disabled, reading a manual clock.
func manual(t *testing.T) (*Store, *storagetest.ManualClock) {
	t.Helper()
	clock := storagetest.NewManualClock(epoch)
	return newStore(t, WithClock(clock.Now), WithSweepInterval(0)), clock
}

type sizes struct{ kv, counters, windows int }

func (s *Store) sizes() sizes {
	var n sizes
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n.kv += len(sh.kv)
		n.counters += len(sh.counters)
		n.windows += len(sh.windows)
		sh.mu.Unlock()
	}
	return n
}

func TestSweepFreesExpired(t *testing.T) {
	s, clock := manual(t)
	ctx := t.Context()
	must(t, s.Set(ctx, "kv:short", []byte("v"), time.Second))
	must(t, s.Set(ctx, "kv:long", []byte("v"), time.Hour))
	must(t, s.Set(ctx, "kv:forever", []byte("v"), 0))
	mustUsage(t)(s.Take(ctx, "c:short", 5, time.Second))
	mustUsage(t)(s.Take(ctx, "c:long", 5, time.Hour))
	mustUsage(t)(s.Hit(ctx, "w:short", 5, time.Second))
	mustUsage(t)(s.Hit(ctx, "w:long", 5, time.Hour))
	// This window's first hit will have left it by the sweep, its second not: it must stay.
	mustUsage(t)(s.Hit(ctx, "w:partly", 5, 2*time.Second))
	clock.Advance(1500 * time.Millisecond)
	mustUsage(t)(s.Hit(ctx, "w:partly", 5, 2*time.Second))

	if got, want := s.sizes(), (sizes{kv: 3, counters: 2, windows: 3}); got != want {
		t.Fatalf("before the sweep: %+v entries, want %+v", got, want)
	}
	clock.Advance(time.Second)
	s.sweep()
	if got, want := s.sizes(), (sizes{kv: 2, counters: 1, windows: 2}); got != want {
		t.Errorf("after the sweep: %+v entries, want %+v", got, want)
	}
	for _, k := range []string{"kv:long", "kv:forever"} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("Get(%q) after the sweep: %v", k, err)
		}
	}
	if u := mustUsage(t)(s.Hit(ctx, "w:partly", 5, 2*time.Second)); u.Used != 2 {
		t.Errorf("Hit on the partly expired window after the sweep: Used = %d, want 2", u.Used)
	}
}

// TestBackgroundSweep runs in a synctest bubble, where time.Now is fake and sleeping takes no
// time, and the bubble fails the test if the sweeper is still running when it ends.
func TestBackgroundSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(WithSweepInterval(time.Minute))
		ctx := t.Context()
		must(t, s.Set(ctx, "short", []byte("v"), time.Second))
		must(t, s.Set(ctx, "forever", []byte("v"), 0))

		time.Sleep(59 * time.Second)
		synctest.Wait()
		if got := s.sizes().kv; got != 2 {
			t.Errorf("before the first sweep: %d values, want 2", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := s.sizes().kv; got != 1 {
			t.Errorf("after the first sweep: %d values, want 1", got)
		}
		must(t, s.Close())
	})
}

func TestClose(t *testing.T) {
	s := New(WithSweepInterval(time.Millisecond))
	must(t, s.Close())
	select {
	case <-s.done:
	default:
		t.Fatal("Close returned before the sweeper stopped")
	}
	must(t, s.Close()) // idempotent

	ctx := t.Context()
	_, err := s.Get(ctx, "k")
	wantClosed(t, "Get", err)
	wantClosed(t, "Set", s.Set(ctx, "k", nil, 0))
	_, err = s.Delete(ctx, "k")
	wantClosed(t, "Delete", err)
	_, err = s.Keys(ctx, "")
	wantClosed(t, "Keys", err)
	_, err = s.Take(ctx, "k", 1, time.Second)
	wantClosed(t, "Take", err)
	_, err = s.Peek(ctx, "k")
	wantClosed(t, "Peek", err)
	wantClosed(t, "Reset", s.Reset(ctx, "k"))
	_, err = s.Hit(ctx, "k", 1, time.Second)
	wantClosed(t, "Hit", err)
	_, err = s.Limit(ctx, storage.Spec{}, storage.Spec{})
	wantClosed(t, "Limit", err)
	_, _, err = s.GetCached(ctx, "k")
	wantClosed(t, "GetCached", err)
	_, err = s.Documents(ctx, "set")
	wantClosed(t, "Documents", err)
	wantClosed(t, "PutDocument", s.PutDocument(ctx, "set", "id", nil, storage.Upsert))
	_, err = s.DeleteDocument(ctx, "set", "id")
	wantClosed(t, "DeleteDocument", err)
	wantClosed(t, "Publish", s.Publish(ctx, "ch", nil))
	wantClosed(t, "Subscribe", s.Subscribe(ctx, "ch", func([]byte) {}, nil))
}

func TestCloseWithoutSweeper(t *testing.T) {
	s := New(WithSweepInterval(0))
	if s.done != nil {
		t.Fatal("a store with the sweep disabled started a sweeper")
	}
	must(t, s.Close())
	_, err := s.Get(t.Context(), "k")
	wantClosed(t, "Get", err)
}

func wantClosed(t *testing.T, method string, err error) {
	t.Helper()
	if !errors.Is(err, errClosed) {
		t.Errorf("%s after Close: error %v, want %v", method, err, errClosed)
	}
}

func TestInvalidArguments(t *testing.T) {
	s, _ := manual(t)
	ctx := t.Context()
	for _, window := range []time.Duration{0, -time.Second} {
		if _, err := s.Take(ctx, "k", 1, window); err == nil {
			t.Errorf("Take with window %v: no error", window)
		}
		if _, err := s.Hit(ctx, "k", 1, window); err == nil {
			t.Errorf("Hit with window %v: no error", window)
		}
	}
	if err := s.Set(ctx, "k", []byte("v"), -time.Second); err == nil {
		t.Error("Set with a negative ttl: no error")
	}
	if got := s.sizes(); got != (sizes{}) {
		t.Errorf("invalid calls stored %+v entries", got)
	}
}

func TestHugeTTLAndWindowSaturate(t *testing.T) {
	s, clock := manual(t)
	ctx := t.Context()
	const huge = time.Duration(1<<63 - 1)
	must(t, s.Set(ctx, "k", []byte("v"), huge))
	clock.Advance(100 * 365 * 24 * time.Hour)
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Errorf("Get of a value with a huge TTL a century on: %v", err)
	}
	for _, call := range []struct {
		name string
		fn   func() (storage.Usage, error)
	}{
		{"Take", func() (storage.Usage, error) { return s.Take(ctx, "c", 1, huge) }},
		{"Hit", func() (storage.Usage, error) { return s.Hit(ctx, "w", 1, huge) }},
	} {
		u := mustUsage(t)(call.fn())
		if !u.Allowed || !u.Reset.After(clock.Now()) {
			t.Errorf("%s with a huge window = %+v, want allowed with Reset in the future", call.name, u)
		}
		if u := mustUsage(t)(call.fn()); u.Allowed {
			t.Errorf("second %s with a huge window and limit 1 was allowed", call.name)
		}
	}
}

func TestCounterLimitChange(t *testing.T) {
	s, clock := manual(t)
	ctx := t.Context()
	take := func(limit int64, window time.Duration) storage.Usage {
		t.Helper()
		return mustUsage(t)(s.Take(ctx, "c", limit, window))
	}
	first := take(5, time.Second)
	take(5, time.Second)
	take(5, time.Second)
	// The three hits counted count against a lower limit at once.
	if u := take(2, time.Second); u.Allowed || u.Used != 3 {
		t.Errorf("Take with the limit lowered below the count = %+v, want refused with Used 3", u)
	}
	if u := mustUsage(t)(s.Peek(ctx, "c")); !u.Allowed || u.Used != 3 {
		t.Errorf("Peek after the limit was lowered = %+v, want Allowed true (Peek knows no limit), Used 3", u)
	}
	// A higher limit allows more in the same window, which keeps the length it started with.
	u := take(10, time.Hour)
	if !u.Allowed || u.Used != 4 || !u.Reset.Equal(first.Reset) {
		t.Errorf("Take with the limit raised and a longer window = %+v, want allowed, Used 4, Reset %v", u, first.Reset)
	}
	clock.Advance(time.Second)
	if u := take(10, time.Hour); !u.Reset.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("first Take of the next window: Reset = %v, want it to use the new length", u.Reset)
	}
}

// TestWindowMemoryIsBounded checks that a window keeps at most WindowSlots+1 counts, whatever
// its limit and however many hits it counts, and only the slots that have hits.
func TestWindowMemoryIsBounded(t *testing.T) {
	s, clock := manual(t)
	ctx := t.Context()
	const window = time.Second
	for range 3 {
		mustUsage(t)(s.Hit(ctx, "few", 1_000_000, window))
	}
	if n := len(s.windowOf(t, "few").slots); n != 1 {
		t.Errorf("3 hits at one instant are kept in %d slots, want 1", n)
	}
	for range 10_000 {
		mustUsage(t)(s.Hit(ctx, "many", 1_000_000, window))
		clock.Advance(time.Millisecond)
	}
	if w := s.windowOf(t, "many"); len(w.slots) > storage.WindowSlots+1 || cap(w.slots) > 2*(storage.WindowSlots+1) {
		t.Errorf("after 10s of hits: %d slots kept (capacity %d), want at most %d", len(w.slots), cap(w.slots), storage.WindowSlots+1)
	}
}

// TestWindowClockSteppingBack checks that a hit made while the clock reads earlier than the last
// call counts in the last call's slot, so the slots stay in order and the sweep, which looks at
// the newest slot only, does not drop a window that still counts hits.
func TestWindowClockSteppingBack(t *testing.T) {
	s, clock := manual(t)
	ctx := t.Context()
	const limit, window = 5, time.Second
	mustUsage(t)(s.Hit(ctx, "w", limit, window))
	clock.Advance(500 * time.Millisecond)
	mustUsage(t)(s.Hit(ctx, "w", limit, window))
	clock.Advance(-400 * time.Millisecond)
	if u := mustUsage(t)(s.Hit(ctx, "w", limit, window)); !u.Allowed || u.Used != 3 {
		t.Fatalf("Hit with the clock stepped back = %+v, want allowed, Used 3", u)
	}
	if n := len(s.windowOf(t, "w").slots); n != 2 {
		t.Errorf("%d slots kept, want 2 (the hit made with the clock stepped back counts at 0.5s)", n)
	}
	// 1.15s in, the hits counted at 0.5s are still in the window.
	clock.Advance(1050 * time.Millisecond)
	s.sweep()
	if u := mustUsage(t)(s.Hit(ctx, "w", limit, window)); u.Used != 3 {
		t.Errorf("Hit at 1.15s after a sweep: Used = %d, want 3", u.Used)
	}
}

// TestLimitLocksInOrder runs Limit calls on key pairs in both orders at once: locking their
// shards in argument order would deadlock.
func TestLimitLocksInOrder(t *testing.T) {
	s, _ := manual(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 8 {
		a, b := "k"+strconv.Itoa(i), "k"+strconv.Itoa(i+100)
		for _, pair := range [][2]string{{a, b}, {b, a}} {
			wg.Go(func() {
				for range 2000 {
					_, err := s.Limit(ctx, storage.Spec{Key: pair[0], Limit: 1 << 30, Window: time.Hour},
						storage.Spec{Key: pair[1], Limit: 1 << 30, Window: time.Hour})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
}

func TestAllocations(t *testing.T) {
	s, _ := manual(t)
	ctx := t.Context()
	must(t, s.Set(ctx, "k", make([]byte, 100), time.Hour))
	mustUsage(t)(s.Take(ctx, "c", 1<<62, time.Hour))
	mustUsage(t)(s.Hit(ctx, "w", 1, time.Hour))
	mustUsage(t)(s.Hit(ctx, "many", 1<<62, time.Hour))
	rate := storage.Spec{Key: "rate", Limit: 1 << 62, Window: time.Hour}
	quota := storage.Spec{Key: "quota", Limit: 1 << 62, Window: time.Hour}
	_, _ = s.Limit(ctx, rate, quota)
	for _, c := range []struct {
		name string
		want float64
		fn   func()
	}{
		{"Get", 1, func() { _, _ = s.Get(ctx, "k") }},
		{"Get missing", 0, func() { _, _ = s.Get(ctx, "missing") }},
		{"GetCached", 0, func() { _, _, _ = s.GetCached(ctx, "k") }},
		{"Take", 0, func() { _, _ = s.Take(ctx, "c", 1<<62, time.Hour) }},
		{"Peek", 0, func() { _, _ = s.Peek(ctx, "c") }},
		{"Hit refused", 0, func() { _, _ = s.Hit(ctx, "w", 1, time.Hour) }},
		{"Hit allowed", 0, func() { _, _ = s.Hit(ctx, "many", 1<<62, time.Hour) }},
		{"Limit", 0, func() { _, _ = s.Limit(ctx, rate, quota) }},
	} {
		if got := testing.AllocsPerRun(100, c.fn); got != c.want {
			t.Errorf("%s: %v allocations, want %v", c.name, got, c.want)
		}
	}
}

func TestShardsFillCacheLines(t *testing.T) {
	if size := unsafe.Sizeof(shard{}); size%128 != 0 {
		t.Errorf("a shard takes %d bytes, want a multiple of 128", size)
	}
}

// windowOf returns the window under key.
func (s *Store) windowOf(t *testing.T, key string) *sliding {
	t.Helper()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	w := sh.windows[key]
	if w == nil {
		t.Fatalf("no window under %q", key)
	}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustUsage(t *testing.T) func(storage.Usage, error) storage.Usage {
	t.Helper()
	return func(u storage.Usage, err error) storage.Usage {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
}
