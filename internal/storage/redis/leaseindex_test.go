package redis

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestLeaseIndexPositions: after any sequence of pairs created and swept, ls.by holds exactly the
// live pairs under each of their slot keys, and each lease's recorded positions are where it
// is (unindex moves the last lease of a list into the gap).
func TestLeaseIndexPositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ls leases
	live := map[leaseKey]bool{}
	tags := []string{"h1", "h2", "h3"}
	name := func() string {
		switch rng.IntN(3) {
		case 0:
			return "" // a pair with one limit
		case 1:
			return fmt.Sprintf("plain-%d", rng.IntN(4)) // no hash tag: the name is its slot key
		}
		return fmt.Sprintf("rate-%d-{%s}", rng.IntN(20), tags[rng.IntN(len(tags))])
	}
	for i := range 5000 {
		if rng.IntN(3) > 0 || len(live) == 0 {
			rate, quota := name(), name()
			if rate == "" && quota == "" {
				continue
			}
			ls.get(rate, quota)
			live[leaseKey{rate, quota}] = true
		} else {
			for k := range live { // map order: a random live pair
				ls.mu.Lock()
				ls.unindex(ls.m[k])
				delete(ls.m, k)
				ls.mu.Unlock()
				delete(live, k)
				break
			}
		}
		if i%50 == 0 || i == 4999 {
			checkLeaseIndex(t, &ls, live)
		}
	}
}

func checkLeaseIndex(t *testing.T, ls *leases, live map[leaseKey]bool) {
	t.Helper()
	want := map[string]int{}
	for k := range live {
		a, b := k.slotKeys()
		for _, sk := range [2]string{a, b} {
			if sk != "" {
				want[sk]++
			}
		}
	}
	if len(ls.by) != len(want) {
		t.Fatalf("the index has %d slot keys, want %d", len(ls.by), len(want))
	}
	for sk, list := range ls.by {
		if len(list) != want[sk] {
			t.Fatalf("slot key %q indexes %d pairs, want %d", sk, len(list), want[sk])
		}
		for i, l := range list {
			if !live[l.key] || ls.m[l.key] != l {
				t.Fatalf("slot key %q indexes pair %v, not live", sk, l.key)
			}
			a, _ := l.key.slotKeys()
			j := 1
			if a == sk {
				j = 0
			}
			if l.at[j] != i {
				t.Fatalf("pair %v is at %d under %q, records %d", l.key, i, sk, l.at[j])
			}
		}
	}
}

// BenchmarkLeaseUnindex: forgetting (unindex) one of n pairs that share a slot key, as the
// sweep does for a gateway key with n APIs of their own limits; ns/op is per pair forgotten.
func BenchmarkLeaseUnindex(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			keys := make([]leaseKey, n)
			for i := range keys {
				keys[i] = leaseKey{rate: fmt.Sprintf("rate-limit-api%d-{h}", i), quota: fmt.Sprintf("quota-api%d-{h}", i)}
			}
			var order []*lease
			b.ReportAllocs()
			done := 0
			for b.Loop() {
				if done%n == 0 {
					b.StopTimer()
					benchLeases = &leases{}
					for _, k := range keys {
						benchLeases.get(k.rate, k.quota)
					}
					rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
					order = order[:0]
					for _, k := range keys {
						order = append(order, benchLeases.m[k])
					}
					b.StartTimer()
				}
				benchLeases.unindex(order[done%n])
				done++
			}
		})
	}
}

var benchLeases *leases
