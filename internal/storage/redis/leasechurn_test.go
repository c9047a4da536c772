package redis

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// TestLeaseIndexUnderChurn runs two gateways on one Redis, each with requests on many pairs of
// limits that share a key's hash tag (per-API limits), while their leases are swept as soon as
// they go idle, dropped by tag, expire and are renewed, in whatever order the scheduler gives,
// and Redis is killed and restarted midway. Afterwards each node's index holds exactly the pairs
// it knows, at the positions they record, and once everything is swept nothing is left of them.
func TestLeaseIndexUnderChurn(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	var calls, trips atomic.Int64
	o := Options{Addrs: []string{srv.Addr}, Timeout: testTimeout, OnRoundTrip: func(op string, _ time.Duration, _ error) {
		if op == "limit" {
			trips.Add(1)
		}
	}}
	nodes := []*Store{open(t, o), open(t, o)}
	type pair struct{ rate, quota storage.Spec }
	var pairs []pair
	tags := []string{"h0", "h1", "h2"}
	for _, tag := range tags {
		pairs = append(pairs, pair{
			storage.Spec{Key: "rate-limit-{" + tag + "}", Limit: 1e6, Window: time.Second},
			storage.Spec{Key: "quota-{" + tag + "}", Limit: 1e9, Window: time.Hour}})
		for api := range 6 {
			pairs = append(pairs, pair{
				storage.Spec{Key: fmt.Sprintf("rate-limit-api%d-{%s}", api, tag), Limit: 1e6, Window: time.Second},
				storage.Spec{Key: fmt.Sprintf("quota-api%d-{%s}", api, tag), Limit: 1e9, Window: time.Hour}})
		}
		pairs = append(pairs, pair{quota: storage.Spec{Key: "quota-only-{" + tag + "}", Limit: 1e9, Window: time.Hour}})
	}

	// Requests stop after the sweeps and drops, so that pairs are left to check.
	stop, stopChurn := make(chan struct{}), make(chan struct{})
	var wg, churn sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 5 {
			failures = append(failures, err)
		}
	}
	for i, s := range nodes {
		for w := range 3 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					p := pairs[rng.IntN(len(pairs))]
					calls.Add(1)
					if _, err := s.Limit(t.Context(), p.rate, p.quota); err != nil && !errors.Is(err, storage.ErrUnavailable) {
						fail(err)
					}
				}
			})
		}
		churn.Go(func() { // keys change
			rng := rand.New(rand.NewPCG(uint64(i), 100))
			for {
				select {
				case <-stopChurn:
					return
				case <-time.After(time.Millisecond):
				}
				s.DropLeases([]string{tags[rng.IntN(len(tags))]})
			}
		})
		churn.Go(func() { // pairs forgotten as soon as they are idle for a little while
			rng := rand.New(rand.NewPCG(uint64(i), 200))
			for {
				select {
				case <-stopChurn:
					return
				case <-time.After(time.Millisecond):
				}
				s.giveBack(s.leases.sweep(time.Now().Add(-time.Duration(rng.IntN(5))*time.Millisecond), s.CacheEpoch()))
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	srv.Kill()
	time.Sleep(200 * time.Millisecond)
	srv.Restart()
	for _, s := range nodes {
		waitWorks(t, s)
	}
	time.Sleep(500 * time.Millisecond)
	close(stopChurn)
	churn.Wait()
	for i, s := range nodes { // requests go on until each node knows a few pairs again
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			s.leases.mu.RLock()
			n := len(s.leases.m)
			s.leases.mu.RUnlock()
			if n >= 3 {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("node %d knows %d pairs 10s after the sweeps stopped", i, n)
			}
		}
	}
	close(stop)
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	// How many calls leases served depends on how fast the machine runs the churn beside them
	// (on a loaded one, sweeps forget every pair before it is asked again): reported, not
	// judged. What is judged is below: the index matches what each store knows.
	t.Logf("%d calls made %d limit round trips", calls.Load(), trips.Load())

	for i, s := range nodes {
		ls := &s.leases
		// The store's own sweep may run meanwhile: the index is read under its lock.
		func() {
			ls.mu.Lock()
			defer ls.mu.Unlock()
			live := map[leaseKey]bool{}
			for k := range ls.m {
				live[k] = true
			}
			checkLeaseIndex(t, ls, live)
		}()
		s.giveBack(ls.sweep(time.Time{}, s.CacheEpoch()))
		ls.mu.RLock()
		if ls.m != nil || ls.by != nil {
			t.Errorf("node %d: after sweeping every pair, %d pairs and %d slot keys are left", i, len(ls.m), len(ls.by))
		}
		ls.mu.RUnlock()
	}
}
