package analytics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

// fakeList is a Pusher that keeps what it was given, or fails while down, or blocks while
// held.
type fakeList struct {
	mu     sync.Mutex
	lists  map[string][][]byte
	ttls   map[string]time.Duration
	pushes int
	down   bool
	hold   chan struct{} // when not nil, PushList waits for it to close (or ctx)
}

func (f *fakeList) PushList(ctx context.Context, key string, values [][]byte, ttl time.Duration) error {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("redis: rpush: unavailable")
	}
	if f.lists == nil {
		f.lists, f.ttls = map[string][][]byte{}, map[string]time.Duration{}
	}
	for _, v := range values {
		f.lists[key] = append(f.lists[key], append([]byte(nil), v...))
	}
	f.ttls[key] = ttl
	f.pushes++
	return nil
}

func (f *fakeList) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.lists {
		n += len(l)
	}
	return n
}

func (f *fakeList) set(fn func(*fakeList)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPumpWritesInBatches(t *testing.T) {
	f := &fakeList{}
	pm := NewPump(f, PumpOptions{Workers: 2, BufferSize: 2000, TTL: time.Minute})
	for i := range 1500 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a", ResponseCode: i})
	}
	waitFor(t, "1500 records are written", func() bool { return f.total() == 1500 })
	if err := pm.Close(); err != nil {
		t.Fatal(err)
	}
	if pm.Written() != 1500 || pm.Dropped() != 0 {
		t.Errorf("written %d, dropped %d; want 1500, 0", pm.Written(), pm.Dropped())
	}
	if len(f.lists) != 1 || len(f.lists[ListKey]) != 1500 || f.ttls[ListKey] != time.Minute {
		t.Errorf("lists %d (want only %s), ttl %v", len(f.lists), ListKey, f.ttls[ListKey])
	}
	// Two workers of batches of up to 1000 records: at least two pushes, far fewer than one per record.
	if f.pushes < 2 || f.pushes > 100 {
		t.Errorf("%d pushes for 1500 records", f.pushes)
	}
}

func TestPumpMultipleKeys(t *testing.T) {
	f := &fakeList{}
	pm := NewPump(f, PumpOptions{MultipleKeys: true})
	for range 50 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a"})
		time.Sleep(time.Millisecond)
	}
	pm.Close()
	if f.total() != 50 {
		t.Fatalf("%d records written, want 50", f.total())
	}
	for k := range f.lists {
		if !strings.HasPrefix(k, ListKey+"_") || len(k) != len(ListKey)+2 || k[len(k)-1] < '0' || k[len(k)-1] > '9' {
			t.Errorf("records written to %q, want %s_0 to %s_9", k, ListKey, ListKey)
		}
	}
}

// TestPumpDropsWhileRedisFails checks that records are dropped and counted while writes fail,
// that writing resumes after, and that Record never waits.
func TestPumpDropsWhileRedisFails(t *testing.T) {
	f := &fakeList{down: true}
	pm := NewPump(f, PumpOptions{})
	defer pm.Close()
	for range 10 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a"})
	}
	waitFor(t, "10 records are dropped", func() bool { return pm.Dropped() == 10 })
	f.set(func(f *fakeList) { f.down = false })
	for range 5 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a"})
	}
	// Written is counted once the push returned, after the list holds the records.
	waitFor(t, "5 records are written", func() bool { return pm.Written() == 5 })
	if f.total() != 5 || pm.Dropped() != 10 {
		t.Errorf("%d records in the list, dropped %d; want 5, 10", f.total(), pm.Dropped())
	}
}

// TestPumpQueueBounded holds the writer: the queue fills, and records beyond it are dropped
// at once.
func TestPumpQueueBounded(t *testing.T) {
	hold := make(chan struct{})
	f := &fakeList{hold: hold}
	pm := NewPump(f, PumpOptions{Workers: 1, BufferSize: 1000})
	start := time.Now()
	for range 5000 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a"})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("5000 calls of Record took %v while the writer was held", d)
	}
	// The worker holds at most one batch (1000) and the queue 1000 more.
	if d := pm.Dropped(); d < 3000 {
		t.Errorf("dropped %d of 5000 records with room for at most 2000", d)
	}
	close(hold)
	pm.Close()
	if got := int64(f.total()); got+pm.Dropped() != 5000 {
		t.Errorf("written %d + dropped %d != 5000", got, pm.Dropped())
	}
}

// TestPumpBytesBounded checks that records with large raw requests are dropped past the byte
// budget, however much room the queue has.
func TestPumpBytesBounded(t *testing.T) {
	checkBytesBounded(t, sdk.AnalyticsRecord{APIID: "a", RawRequest: strings.Repeat("A", 1<<20)})
}

// TestPumpBytesBoundedAllFields: while Redis takes nothing, records whose raw request is empty
// but whose User-Agent (or tags) are large are bounded by the same byte budget.
func TestPumpBytesBoundedAllFields(t *testing.T) {
	big := strings.Repeat("U", 1<<20)
	for name, rec := range map[string]sdk.AnalyticsRecord{
		"user agent": {APIID: "a", UserAgent: big},
		"host":       {APIID: "a", Host: big},
		"tags":       {APIID: "a", Tags: []string{"x-team-" + big[:1<<19], "x-team-" + big[:1<<19]}},
	} {
		t.Run(name, func(t *testing.T) { checkBytesBounded(t, rec) })
	}
}

// checkBytesBounded records 200 copies of rec (about 1 MiB each) while Redis takes nothing, and
// checks that the queued bytes stay within maxQueuedBytes, the rest being dropped, and that
// nothing is counted as queued once everything was written.
func checkBytesBounded(t *testing.T, rec sdk.AnalyticsRecord) {
	t.Helper()
	hold := make(chan struct{})
	f := &fakeList{hold: hold}
	pm := NewPump(f, PumpOptions{Workers: 1, BufferSize: 100000})
	for range 200 {
		r := rec
		pm.Record(&r)
	}
	if q := pm.queued.Load(); q > maxQueuedBytes {
		t.Errorf("%d bytes queued, over the bound of %d", q, maxQueuedBytes)
	}
	if d := pm.Dropped(); d < 200-maxQueuedBytes>>20 {
		t.Errorf("dropped %d of 200 records of 1 MiB with a budget of %d MiB", d, maxQueuedBytes>>20)
	}
	close(hold)
	pm.Close()
	if pm.queued.Load() != 0 {
		t.Errorf("%d bytes still counted as queued after everything was written", pm.queued.Load())
	}
}

func TestPumpCloseWritesQueued(t *testing.T) {
	f := &fakeList{}
	pm := NewPump(f, PumpOptions{})
	for range 10 {
		pm.Record(&sdk.AnalyticsRecord{APIID: "a"})
	}
	pm.Close()
	if f.total() != 10 {
		t.Errorf("%d of 10 queued records written at Close", f.total())
	}
	pm.Record(&sdk.AnalyticsRecord{APIID: "a"}) // after Close: dropped, not a panic
	if pm.Dropped() != 1 {
		t.Errorf("a record after Close: dropped %d, want 1", pm.Dropped())
	}
}

type discard struct{}

func (discard) PushList(context.Context, string, [][]byte, time.Duration) error { return nil }

// BenchmarkPumpRecord is what a request pays to hand its record over (the writers encode and
// push beside it; records they cannot keep up with are dropped, and reported).
func BenchmarkPumpRecord(b *testing.B) {
	pm := NewPump(discard{}, PumpOptions{Workers: 2, BufferSize: 100000})
	r := &sdk.AnalyticsRecord{APIID: "a", Path: "/a"}
	b.ReportAllocs()
	for b.Loop() {
		pm.Record(r)
	}
	b.StopTimer()
	pm.Close()
	b.ReportMetric(float64(pm.Dropped())/float64(b.N), "dropped/op")
}
