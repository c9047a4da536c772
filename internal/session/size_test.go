package session

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// largeSession is a key with much meta data and many access rights: its decoding is several
// times its JSON.
func largeSession(i int) *apidef.SessionState {
	s := &apidef.SessionState{OrgID: "org", Rate: 10, Per: 1, Alias: fmt.Sprintf("user-%d", i),
		AccessRights: map[string]apidef.AccessDefinition{}, MetaData: map[string]any{}, Tags: []string{"a", "b"}}
	for j := range 20 {
		id := fmt.Sprintf("api-%d", j)
		s.AccessRights[id] = apidef.AccessDefinition{APIID: id, APIName: "API " + id, Versions: []string{"Default", "v2"},
			AllowedURLs: []apidef.AccessSpec{{URL: "/users/{id}", Methods: []string{"GET", "PUT"}}}, Limit: &apidef.APILimit{Rate: 5, Per: 1}}
	}
	for j := range 200 {
		switch j % 4 {
		case 0:
			s.MetaData[fmt.Sprintf("k%d", j)] = fmt.Sprintf("value %d", j)
		case 1:
			s.MetaData[fmt.Sprintf("k%d", j)] = float64(j)
		case 2:
			s.MetaData[fmt.Sprintf("k%d", j)] = map[string]any{"a": "x", "b": true, "c": []any{1.0, "two"}}
		default:
			s.MetaData[fmt.Sprintf("k%d", j)] = []any{"x", 2.0, nil}
		}
	}
	return s
}

// TestDecodedCacheBound: however large the sessions looked up, the decoded-session cache's
// accounted size stays under its bound, and each entry is counted for its decoding (several
// times its JSON), not its JSON alone.
func TestDecodedCacheBound(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := NewManager(store, true)
	m.maxBytes = 4 << 20
	maxEntries := 0
	for i := range 600 {
		key := fmt.Sprintf("key-%d", i)
		if err := m.Put(ctx, ID{Key: key}, largeSession(i), 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Lookup(ctx, key); err != nil {
			t.Fatal(err)
		}
		m.mu.RLock()
		sum, raw := 0, 0
		for _, d := range m.cache {
			sum += d.size
			raw += len(d.raw)
		}
		bytes, n := m.bytes, len(m.cache)
		m.mu.RUnlock()
		maxEntries = max(maxEntries, n)
		if bytes > m.maxBytes || sum != bytes {
			t.Fatalf("after %d keys: accounted %d bytes (entries' sizes %d), bound %d", i+1, bytes, sum, m.maxBytes)
		}
		if n > 0 && sum < 3*raw {
			t.Fatalf("after %d keys: %d entries counted for %d bytes, their JSON is %d: decodings are counted as JSON", i+1, n, sum, raw)
		}
	}
	// The JSON alone would have let about four times as many in.
	data, _ := store.Get(ctx, KeyPrefix+HashKey("key-0"))
	if jsonFit := m.maxBytes / len(data); maxEntries*3 > jsonFit {
		t.Errorf("up to %d entries of %d bytes of JSON in %d bytes: the decodings are not counted", maxEntries, len(data), m.maxBytes)
	}
	t.Logf("at most %d large sessions (%d bytes of JSON each) under %d bytes", maxEntries, len(data), m.maxBytes)

	// A session larger than the whole bound is served, and not kept.
	m.maxBytes = len(data)
	if s, _, err := m.Lookup(ctx, "key-1"); err != nil || s.Alias != "user-1" {
		t.Fatalf("a session above the bound: %v, %v", s, err)
	}
	m.mu.RLock()
	n := len(m.cache)
	m.mu.RUnlock()
	if n > maxEntries {
		t.Errorf("%d entries", n)
	}
}

// TestDecodedSizeCoversHeap: decodedSize (with the manager's own entry) is about the heap
// decoded sessions take, for small keys and large ones, so the cache's bound is one of memory.
func TestDecodedSizeCoversHeap(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		s    func(i int) *apidef.SessionState
	}{
		{"large", largeSession},
		{"small", func(i int) *apidef.SessionState {
			return &apidef.SessionState{OrgID: "org", Rate: 10, Per: 1, ApplyPolicies: []string{"gold"},
				AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", APIName: "API", Versions: []string{"Default"}}},
				MetaData:     map[string]any{"user": fmt.Sprint(i)}}
		}},
		// Per-endpoint rate limits: a key limited on many paths.
		{"endpoint limits", func(i int) *apidef.SessionState {
			eps := make([]apidef.EndpointLimit, 40)
			for j := range eps {
				eps[j] = apidef.EndpointLimit{Path: fmt.Sprintf("/resource-%d/{id}/items", j), Methods: []apidef.EndpointMethodLimit{
					{Name: "GET", Limit: apidef.RateLimit{Rate: 10, Per: 1}}, {Name: "POST", Limit: apidef.RateLimit{Rate: 1, Per: 1}}}}
			}
			return &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Endpoints: eps}}}
		}},
		// Meta data of many small arrays: an interface holding a slice holds its header on
		// the heap, which is most of what such an array takes.
		{"small arrays", func(i int) *apidef.SessionState {
			m := map[string]any{}
			for j := range 500 {
				switch j % 3 {
				case 0:
					m[fmt.Sprint(j)] = []any{}
				case 1:
					m[fmt.Sprint(j)] = []any{[]any{}}
				default:
					m[fmt.Sprint(j)] = []any{true}
				}
			}
			return &apidef.SessionState{MetaData: m}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := memory.New()
			t.Cleanup(func() { store.Close() })
			m := NewManager(store, true)
			const n = 500 // all of them under the bound
			for i := range n {
				if err := m.Put(ctx, ID{Key: fmt.Sprintf("key-%d", i)}, tc.s(i), 0); err != nil {
					t.Fatal(err)
				}
			}
			before := liveHeap()
			for i := range n {
				if _, _, err := m.Lookup(ctx, fmt.Sprintf("key-%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			after := liveHeap()
			m.mu.RLock()
			accounted, raw := 0, 0
			for _, d := range m.cache {
				accounted += d.size - len(d.raw) - allocRound
				raw += len(d.raw)
			}
			m.mu.RUnlock()
			if len(m.cache) != n {
				t.Fatalf("%d of %d sessions cached", len(m.cache), n)
			}
			heap := int(after) - int(before)
			t.Logf("%d sessions (%d cached): %d bytes of JSON, heap grew %d bytes, decodedSize %d", n, len(m.cache), raw, heap, accounted)
			// Within 10 %: a -race build's allocations are larger than a plain build's, which
			// decodedSize overestimates by 5-10 %.
			if accounted < heap*9/10 {
				t.Errorf("decodedSize counts %d bytes for decodings that took %d", accounted, heap)
			}
			if accounted > 2*heap {
				t.Errorf("decodedSize counts %d bytes for decodings that took %d: the bound would hold far less than it may", accounted, heap)
			}
		})
	}
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestDerivedBound: what is kept with a decoding is counted in the cache's bound, goes with the
// decoding, and is not kept past the bound.
func TestDerivedBound(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := NewManager(store, true)
	if err := m.Put(ctx, ID{Key: "k"}, largeSession(1), 0); err != nil {
		t.Fatal(err)
	}
	s, hash, err := m.Lookup(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	before := m.bytes
	v := &Derived{Tag: 1, Session: largeSession(2)}
	m.SetDerived("k", hash, s, v)
	if got := m.Derived("k", hash, s); got != v {
		t.Fatalf("Derived = %v, want what was set", got)
	}
	if added := m.bytes - before; added < decodedSize(v.Session) {
		t.Errorf("the derived session is counted for %d bytes, its estimate is %d", added, decodedSize(v.Session))
	}
	// Another decoding of the key (it changed): nothing kept for it, and the old one's gone.
	if err := m.Put(ctx, ID{Key: "k"}, largeSession(3), 0); err != nil {
		t.Fatal(err)
	}
	s2, _, err := m.Lookup(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if m.Derived("k", hash, s2) != nil || m.Derived("k", hash, s) != nil {
		t.Error("what was derived from the old decoding outlived it")
	}
	m.SetDerived("k", hash, s, v) // the old decoding: not kept
	if m.Derived("k", hash, s2) != nil {
		t.Error("kept with the new decoding what was derived from the old")
	}
	// Past the bound: not kept.
	m.maxBytes = m.bytes + 100
	m.SetDerived("k", hash, s2, v)
	if m.Derived("k", hash, s2) != nil || m.bytes > m.maxBytes {
		t.Errorf("kept past the bound: %d bytes of %d", m.bytes, m.maxBytes)
	}
}
