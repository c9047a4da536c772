package redis

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// BenchmarkLimitLeased measures Limit under parallel callers on one key with the benchmark's
// limits (a rate of 10⁶ per second and a quota of 10¹², never reached), reporting the round
// trips per call.
func BenchmarkLimitLeased(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, leased := range []bool{false, true} {
		name := "per-request"
		if leased {
			name = "leased"
		}
		b.Run(name, func(b *testing.B) {
			nd := &node{}
			s, err := New(Options{Addrs: []string{srv.Addr}, NoLeases: !leased, OnRoundTrip: func(op string, _ time.Duration, _ error) {
				if op == "limit" {
					nd.trips.Add(1)
				}
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			nd.Store = s
			if err := s.WaitConnected(b.Context()); err != nil {
				b.Fatal(err)
			}
			rate := storage.Spec{Key: "rate-limit-{bench" + name + "}", Limit: 1e6, Window: time.Second}
			quota := storage.Spec{Key: "quota-{bench" + name + "}", Limit: 1e12, Window: time.Hour}
			b.SetParallelism(16)
			var once sync.Once
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Limit(b.Context(), rate, quota); err != nil {
						once.Do(func() { b.Error(err) })
						return
					}
				}
			})
			b.ReportMetric(float64(nd.trips.Load())/float64(b.N), "trips/op")
		})
	}
}

// BenchmarkDropLeases measures DropLeases of one key's tag while this node holds lease state for
// 10,000 keys (a rate window and a quota counter each): what a key change costs the node.
func BenchmarkDropLeases(b *testing.B) {
	s := &Store{}
	for i := range 10_000 {
		h := "h" + strconv.Itoa(i)
		s.leases.get("rate-limit-{"+h+"}", "quota-{"+h+"}")
	}
	tags := []string{"h5000"}
	for b.Loop() {
		s.DropLeases(tags)
	}
}
