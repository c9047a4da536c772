package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestSharedAcrossGateways: two Shared caches over one store are two gateways of a fleet: what
// one keeps the other reads, per API, definition and key; a flush on either holds for both, and
// a response whose request began before it is not kept.
func TestSharedAcrossGateways(t *testing.T) {
	kv := memory.New()
	defer kv.Close()
	a, b := NewShared(kv, time.Second, nil, nil), NewShared(kv, time.Second, nil, nil)
	ctx := t.Context()
	res := &Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}, "X-Two": {"1", "2"}}, Body: []byte("hello")}

	got, m := a.Lookup(ctx, "api", "def1", "k")
	if got != nil {
		t.Fatal("a hit on an empty cache")
	}
	a.Keep(m, "api", "def1", "k", res, time.Minute)
	a.Wait()
	if got, _ := b.Lookup(ctx, "api", "def1", "k"); got == nil || !reflect.DeepEqual(got, res) {
		t.Fatalf("the other gateway read %+v, want %+v", got, res)
	}
	for _, miss := range [][3]string{{"other", "def1", "k"}, {"api", "def2", "k"}, {"api", "def1", "k2"}} {
		if got, _ := b.Lookup(ctx, miss[0], miss[1], miss[2]); got != nil {
			t.Errorf("Lookup%q read another entry's response", miss)
		}
	}

	_, before := a.Lookup(ctx, "api", "def1", "slow") // a request under way when the flush comes
	if _, err := b.Flush(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Lookup(ctx, "api", "def1", "k"); got != nil {
		t.Error("a response survived the flush")
	}
	a.Keep(before, "api", "def1", "slow", res, time.Minute)
	a.Wait()
	if got, _ := b.Lookup(ctx, "api", "def1", "slow"); got != nil {
		t.Error("a response whose request began before the flush was kept after it")
	}
	_, after := a.Lookup(ctx, "api", "def1", "k")
	a.Keep(after, "api", "def1", "k", res, time.Minute)
	a.Wait()
	if got, _ := b.Lookup(ctx, "api", "def1", "k"); got == nil {
		t.Error("nothing kept after the flush")
	}
}

// failingKV is a store that never answers, or whose Set blocks until release.
type failingKV struct {
	storage.KV
	sets    atomic.Int64
	release chan struct{}
}

var errDown = fmt.Errorf("%w: test", storage.ErrUnavailable)

func (f *failingKV) GetCached(context.Context, string) ([]byte, time.Time, error) {
	if f.release != nil {
		return nil, time.Time{}, storage.ErrNotFound
	}
	return nil, time.Time{}, errDown
}

func (f *failingKV) Create(context.Context, string, []byte, time.Duration) error {
	if f.release != nil {
		return nil
	}
	return errDown
}

func (f *failingKV) Get(context.Context, string) ([]byte, error) {
	if f.release != nil {
		return nil, storage.ErrNotFound
	}
	return nil, errDown
}

func (f *failingKV) Set(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	f.sets.Add(1)
	if f.release != nil {
		<-f.release
	}
	return errDown
}

// TestSharedStoreDown: a store that does not answer is a miss, nothing is kept, and the outage
// is logged once however many requests meet it.
func TestSharedStoreDown(t *testing.T) {
	var log testkit.SyncBuffer
	kv := &failingKV{}
	s := NewShared(kv, time.Second, slog.New(slog.NewTextHandler(&log, nil)), nil)
	for range 10 {
		got, m := s.Lookup(t.Context(), "api", "d", "k")
		if got != nil || !m.skip {
			t.Fatalf("Lookup on a dead store = %v, %+v; want a miss that keeps nothing", got, m)
		}
		s.Keep(m, "api", "d", "k", &Response{Status: 200}, time.Minute)
	}
	s.Wait()
	if n := kv.sets.Load(); n != 0 {
		t.Errorf("%d writes to a store that did not answer the lookup", n)
	}
	if n := strings.Count(log.String(), "the shared store did not answer"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, log.String())
	}
}

// TestSharedWritesBounded: a store that takes writes slowly holds at most maxWrites of them;
// responses past that are served and not kept, and Keep never waits.
func TestSharedWritesBounded(t *testing.T) {
	kv := &failingKV{release: make(chan struct{})}
	s := NewShared(kv, time.Second, nil, nil)
	_, m := s.Lookup(t.Context(), "api", "d", "k")
	start := time.Now()
	for i := range 3 * maxWrites {
		s.Keep(m, "api", "d", fmt.Sprint(i), &Response{Status: 200}, time.Minute)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Keep waited %v for a slow store", d)
	}
	for deadline := time.Now().Add(5 * time.Second); kv.sets.Load() < maxWrites && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(kv.release)
	s.Wait()
	if n := kv.sets.Load(); n != maxWrites {
		t.Errorf("%d writes under way at once, want the bound %d", n, maxWrites)
	}
}

// TestSharedRefusesForeignEntries: what another client wrote under a cache key is not served.
func TestSharedRefusesForeignEntries(t *testing.T) {
	kv := memory.New()
	defer kv.Close()
	s := NewShared(kv, time.Second, nil, nil)
	for _, v := range []string{"", "HTTP/1.1 200 OK\r\n\r\nhi", "\x02rest", string([]byte{1, 0xff})} {
		if err := kv.Set(t.Context(), entryKey("api", "d", epochOf(t, kv, s, "api"), "k"), []byte(v), 0); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Lookup(t.Context(), "api", "d", "k"); got != nil {
			t.Errorf("the entry %q was served as %+v", v, got)
		}
	}
}

// TestResponseEncoding: a response reads back as written; a header the client could be made to
// receive with a line break, a name that is no token, or lengths that overrun are refused.
func TestResponseEncoding(t *testing.T) {
	res := &Response{Status: 404, Header: http.Header{"A": {""}, "Set": {"x", "y"}, "Empty": {}, "Content-Length": {"3000"}}, Body: bytes.Repeat([]byte{0, 1, 2}, 1000)}
	got, err := decodeResponse(encodeResponse(res))
	if err != nil || !reflect.DeepEqual(got, res) {
		t.Fatalf("decode(encode) = %+v, %v", got, err)
	}
	head := &Response{Status: 200, Header: http.Header{"Content-Length": {"3000"}}, Body: []byte{}}
	if got, err := decodeResponse(encodeResponse(head)); err != nil || got.Header.Get("Content-Length") != "3000" {
		t.Errorf("a HEAD's entry (its GET's length, no body) = %+v, %v", got, err)
	}
	for name, r := range map[string]*Response{
		"line break":  {Status: 200, Header: http.Header{"X": {"a\r\nSet-Cookie: s=1"}}},
		"NUL":         {Status: 200, Header: http.Header{"X": {"a\x00"}}},
		"bad name":    {Status: 200, Header: http.Header{"X Y": {"a"}}},
		"empty name":  {Status: 200, Header: http.Header{"": {"a"}}},
		"status 101":  {Status: 101},
		"Set-Cookie":  {Status: 200, Header: http.Header{"Set-Cookie": {"s=1"}}},
		"framing":     {Status: 200, Header: http.Header{"transfer-encoding": {"chunked"}}},
		"connection":  {Status: 200, Header: http.Header{"Connection": {"keep-alive"}}},
		"length":      {Status: 200, Header: http.Header{"content-length": {"0"}}, Body: []byte("SMUGGLED")},
		"two lengths": {Status: 200, Header: http.Header{"Content-Length": {"8", "8"}}, Body: []byte("SMUGGLED")},
		"bad length":  {Status: 200, Header: http.Header{"Content-Length": {"+8"}}, Body: []byte("SMUGGLED")},
		"status 99":   {Status: 99},
		"status 1000": {Status: 1000},
		"big body":    {Status: 200, Body: make([]byte, MaxEntryBytes+1)},
	} {
		if _, err := decodeResponse(encodeResponse(r)); !errors.Is(err, errBadEntry) {
			t.Errorf("%s: decoded without error", name)
		}
	}
	many := &Response{Status: 200, Header: http.Header{"X": make([]string, maxHeaderBytes/valueCost+1)}}
	if _, err := decodeResponse(encodeResponse(many)); !errors.Is(err, errBadEntry) {
		t.Error("an entry of many empty header values decoded")
	}
	enc := encodeResponse(&Response{Status: 200, Header: http.Header{"Abc": {"defgh"}}, Body: []byte("body")})
	for i := range len(enc) - 4 { // every cut inside the head
		if r, err := decodeResponse(enc[:i]); err == nil {
			t.Errorf("a cut at %d decoded as %+v", i, r)
		}
	}
}

// FuzzDecodeResponse: no input panics the decoder or yields a header that could split a
// response.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(encodeResponse(&Response{Status: 200, Header: http.Header{"A": {"b"}}, Body: []byte("c")}))
	f.Add([]byte{1, 200, 1, 1, 'A', 1, 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResponse(b)
		if err != nil {
			return
		}
		for k, vs := range r.Header {
			if !token(k) {
				t.Fatalf("header name %q", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("header value %q", v)
				}
			}
		}
	})
}

// epochOf returns the epoch s reads for api (making one if it has none).
func epochOf(t *testing.T, kv storage.KV, s *Shared, api string) string {
	t.Helper()
	e, err := s.epoch(t.Context(), api)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSharedEpochLost: an API whose epoch key is lost (evicted, deleted) gets a new one, never
// one it had: the responses flushed before are not served again.
func TestSharedEpochLost(t *testing.T) {
	kv := memory.New()
	defer kv.Close()
	s := NewShared(kv, time.Second, nil, nil)
	ctx := t.Context()
	keep := func(body string) {
		_, m := s.Lookup(ctx, "api", "d", "k")
		s.Keep(m, "api", "d", "k", &Response{Status: 200, Body: []byte(body)}, time.Hour)
		s.Wait()
	}
	keep("before the flush")
	if _, err := s.Flush(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	keep("after the flush")
	if _, err := kv.Delete(ctx, epochPrefix+"api"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup(ctx, "api", "d", "k"); got != nil {
		t.Errorf("with its epoch lost, the API served %q from an earlier epoch", got.Body)
	}
	other := NewShared(kv, time.Second, nil, nil)
	if a, b := epochOf(t, kv, s, "api"), epochOf(t, kv, other, "api"); a != b {
		t.Errorf("two gateways made different epochs for one API: %q, %q", a, b)
	}
}

// TestSharedEpochExpires: an API's epoch lives a week, from its creation or its last flush:
// then it is gone from the store (an API no gateway serves any more leaves nothing), and the
// next lookup starts a new one, which serves nothing kept before.
func TestSharedEpochExpires(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	kv := memory.New(memory.WithClock(clock))
	defer kv.Close()
	s := NewShared(kv, time.Second, nil, clock)
	ctx := t.Context()
	_, m := s.Lookup(ctx, "api", "d", "k")
	s.Keep(m, "api", "d", "k", &Response{Status: 200, Body: []byte("kept")}, 30*24*time.Hour)
	s.Wait()
	first := epochOf(t, kv, s, "api")
	now = now.Add(epochTTL - time.Minute)
	if got, _ := s.Lookup(ctx, "api", "d", "k"); got == nil {
		t.Fatal("a response kept under a live epoch is not served")
	}
	now = now.Add(2 * time.Minute)
	if _, err := kv.Get(ctx, epochPrefix+"api"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the epoch a week on: %v, want it gone", err)
	}
	if got, _ := s.Lookup(ctx, "api", "d", "k"); got != nil {
		t.Errorf("after its epoch expired, the API served %q", got.Body)
	}
	if e := epochOf(t, kv, s, "api"); e == first {
		t.Error("the new epoch is the expired one")
	}
	// A flush dates the epoch anew.
	if _, err := s.Flush(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(epochTTL - time.Minute)
	if _, err := kv.Get(ctx, epochPrefix+"api"); err != nil {
		t.Errorf("an epoch flushed a week less a minute ago: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := kv.Get(ctx, epochPrefix+"api"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an epoch flushed a week and a minute ago: %v, want it gone", err)
	}
}
