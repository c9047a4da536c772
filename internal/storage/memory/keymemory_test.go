package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// The memory a stored key costs is measured the way the Gateway API stores keys: a
// session.Manager with hash_keys on (the keyed scenarios' setting) over the memory store, Put with
// the keyed benchmark scenarios' session. What the store keeps beyond the session's JSON (the
// storage key, the map's slots, the allocator's rounding) is the figure issue 15 bounds.

// maxKeyOverhead is issue 15's goal: bytes a stored key costs beyond its session's JSON.
const maxKeyOverhead = 300

// keyName returns the i-th raw key: 32 hex digits after the org id, the shape of a generated key.
func keyName(i int) string { return fmt.Sprintf("default%032x", i) }

// storeKeys puts n keys into a new store through a session manager and returns both and the
// bytes of session JSON stored.
func storeKeys(tb testing.TB, n int) (*memory.Store, *session.Manager, int) {
	tb.Helper()
	st := memory.New(memory.WithSweepInterval(0))
	tb.Cleanup(func() { _ = st.Close() })
	m := session.NewManager(st, true)
	sess := benchkit.Session("bench-api")
	data, err := json.Marshal(sess)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		if err := m.Put(ctx, session.ID{Key: keyName(i)}, sess, 0); err != nil {
			tb.Fatal(err)
		}
	}
	return st, m, n * len(data)
}

// keyOverhead stores n keys and returns what each costs in the heap beyond its session JSON,
// and the JSON's size.
func keyOverhead(tb testing.TB, n int) (overhead, jsonSize float64) {
	before := benchkit.LiveHeap()
	st, m, jsonBytes := storeKeys(tb, n)
	after := benchkit.LiveHeap()
	runtime.KeepAlive(st)
	runtime.KeepAlive(m)
	return (float64(after) - float64(before) - float64(jsonBytes)) / float64(n), float64(jsonBytes) / float64(n)
}

// TestKeyMemory guards the memory per stored key: 100,000 keys must cost at most
// maxKeyOverhead bytes each beyond their JSON.
func TestKeyMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 100,000 keys")
	}
	overhead, size := keyOverhead(t, 100000)
	t.Logf("per key: %.0f bytes beyond %.0f bytes of session JSON", overhead, size)
	if overhead > maxKeyOverhead {
		t.Errorf("a stored key costs %.0f bytes beyond its session JSON, want at most %d", overhead, maxKeyOverhead)
	}
	if overhead < 0 {
		t.Errorf("a stored key costs %.0f bytes beyond its session JSON: the measurement is broken", overhead)
	}
}

// BenchmarkKeyMemory stores b.N keys, one per operation: ns/op is the time to store a key
// through the session manager (JSON encoding, hashing and the store), and the reported metrics
// are the heap each key costs beyond its JSON (overhead-B/key) and that JSON (json-B/key). Run
// it at a million keys with -benchtime 1000000x.
func BenchmarkKeyMemory(b *testing.B) {
	before := benchkit.LiveHeap()
	b.ResetTimer()
	st, m, jsonBytes := storeKeys(b, b.N)
	b.StopTimer()
	after := benchkit.LiveHeap()
	runtime.KeepAlive(st)
	runtime.KeepAlive(m)
	b.ReportMetric((float64(after)-float64(before)-float64(jsonBytes))/float64(b.N), "overhead-B/key")
	b.ReportMetric(float64(jsonBytes)/float64(b.N), "json-B/key")
}

// million is the store of BenchmarkLookup1M, filled once per test binary: a benchmark function
// runs several times with growing b.N.
var million = sync.OnceValues(func() (*session.Manager, error) {
	st := memory.New(memory.WithSweepInterval(0))
	m := session.NewManager(st, true)
	sess := benchkit.Session("bench-api")
	ctx := context.Background()
	for i := range 1000000 {
		if err := m.Put(ctx, session.ID{Key: keyName(i)}, sess, 0); err != nil {
			return nil, err
		}
	}
	return m, nil
})

// BenchmarkLookup1M looks keys up as the key check of a request does (session.Manager.Lookup:
// hash the token, read the store, reuse or decode the session) with a million keys stored.
// "one" asks for the same key every time; "spread" for 4,096 keys drawn from the million, so
// that the store's map is read where the processor's caches do not hold it. Both reuse the
// cached decoding of the session, as requests with a key seen before do.
func BenchmarkLookup1M(b *testing.B) {
	m, err := million()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		token := keyName(500000)
		for b.Loop() {
			if _, _, err := m.Lookup(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("spread", func(b *testing.B) {
		tokens := make([]string, 4096)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range tokens {
			tokens[i] = keyName(r.IntN(1000000))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := m.Lookup(ctx, tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// TestSetAgainFreesTheOldValue checks that a value set again is freed: key and value share one
// allocation, and the map must let go of the old key with the old value.
func TestSetAgainFreesTheOldValue(t *testing.T) {
	st := memory.New(memory.WithSweepInterval(0))
	defer st.Close()
	ctx := context.Background()
	const big = 8 << 20
	before := benchkit.LiveHeap()
	if err := st.Set(ctx, "apikey-one", make([]byte, big), 0); err != nil {
		t.Fatal(err)
	}
	if grown := benchkit.LiveHeap() - before; grown < big {
		t.Fatalf("storing %d bytes grew the heap by %d: the measurement is broken", big, grown)
	}
	if err := st.Set(ctx, "apikey-one", []byte("small"), 0); err != nil {
		t.Fatal(err)
	}
	if after := benchkit.LiveHeap(); after > before+big/2 {
		t.Errorf("after the value was replaced the heap is %d bytes above where it started, want the old %d freed", after-before, big)
	}
	got, _, err := st.GetCached(ctx, "apikey-one")
	if err != nil || string(got) != "small" {
		t.Fatalf("GetCached = %q, %v", got, err)
	}
	runtime.KeepAlive(st)
}

// TestGetCachedCannotBeAppendedInto checks that appending to a value GetCached returned copies
// it rather than writing into what the store holds beside it.
func TestGetCachedCannotBeAppendedInto(t *testing.T) {
	st := memory.New(memory.WithSweepInterval(0))
	defer st.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if err := st.Set(ctx, k, []byte("value-"+k), 0); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := st.GetCached(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if cap(got) != len(got) {
		t.Errorf("cap = %d, len = %d: an append would write into the store", cap(got), len(got))
	}
	_ = append(got, "XXXXXXXX"...)
	for _, k := range []string{"a", "b"} {
		if v, _, _ := st.GetCached(ctx, k); string(v) != "value-"+k {
			t.Errorf("%s = %q after an append to a returned value, want %q", k, v, "value-"+k)
		}
	}
	empty := []byte{}
	if err := st.Set(ctx, "", empty, 0); err != nil {
		t.Fatal(err)
	}
	if v, _, err := st.GetCached(ctx, ""); err != nil || v == nil || len(v) != 0 {
		t.Errorf(`GetCached("") = %#v, %v, want an empty value`, v, err)
	}
}

// TestKeysDoNotPinValues checks that a key Keys listed does not keep its value in memory after
// the key is deleted: the map's key and the value share one allocation.
func TestKeysDoNotPinValues(t *testing.T) {
	st := memory.New(memory.WithSweepInterval(0))
	defer st.Close()
	ctx := context.Background()
	const big = 8 << 20
	before := benchkit.LiveHeap()
	if err := st.Set(ctx, "apikey-big", make([]byte, big), 0); err != nil {
		t.Fatal(err)
	}
	keys, err := st.Keys(ctx, "apikey-")
	if err != nil || len(keys) != 1 || keys[0] != "apikey-big" {
		t.Fatalf("Keys = %q, %v, want [apikey-big]", keys, err)
	}
	if grown := benchkit.LiveHeap() - before; grown < big {
		t.Fatalf("storing %d bytes grew the heap by %d: the measurement is broken", big, grown)
	}
	if ok, err := st.Delete(ctx, "apikey-big"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if after := benchkit.LiveHeap(); after > before+big/2 {
		t.Errorf("with the listed key kept, the deleted value's %d bytes are still in the heap (%d above the start)", big, after-before)
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(st)
}
