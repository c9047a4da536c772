package memory

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchKeys is how many keys the benchmarks spread their calls over, as a gateway spreads
// requests over API keys.
const benchKeys = 1024

func keys(prefix string) []string {
	k := make([]string, benchKeys)
	for i := range k {
		k[i] = prefix + strconv.Itoa(i)
	}
	return k
}

func BenchmarkGet(b *testing.B) {
	s, ks := benchGetStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, ks[i%benchKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s, ks := benchGetStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			if _, err := s.Get(ctx, ks[i%benchKeys]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func benchGetStore(b *testing.B) (*Store, []string) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ks := keys("session:")
	value := make([]byte, 256)
	for _, k := range ks {
		if err := s.Set(b.Context(), k, value, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s, ks
}

// The Take benchmarks count against a limit never reached, so every call is allowed.
func BenchmarkTake(b *testing.B) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ks := keys("quota:")
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Take(ctx, ks[i%benchKeys], 1<<62, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkTakeParallel(b *testing.B) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ks := keys("quota:")
	ctx := b.Context()
	b.ReportAllocs()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			if _, err := s.Take(ctx, ks[i%benchKeys], 1<<62, time.Hour); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// The Hit benchmarks use a window of a millisecond and a limit never reached, so every call is
// allowed and, once warm, each key's ring holds the hits of the last millisecond: every call
// adds a time and drops the ones that left, which is the steady state of a busy key.
const (
	hitLimit  = 1 << 20
	hitWindow = time.Millisecond
)

func BenchmarkHit(b *testing.B) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ks := keys("rate:")
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Hit(ctx, ks[i%benchKeys], hitLimit, hitWindow); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkHitParallel(b *testing.B) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ks := keys("rate:")
	ctx := b.Context()
	b.ReportAllocs()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			if _, err := s.Hit(ctx, ks[i%benchKeys], hitLimit, hitWindow); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkHitOneKeyParallel is the worst case for sharding: every goroutine hits the same key,
// so all contend for one lock. Most hits are refused, as when one client floods the gateway.
func BenchmarkHitOneKeyParallel(b *testing.B) {
	s := New(WithSweepInterval(0))
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Hit(ctx, "rate:flood", 100, time.Second); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
