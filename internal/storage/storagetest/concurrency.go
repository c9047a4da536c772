package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var concurrencyCases = []testCase{
	{"Take", concurrentTake},
	{"Hit", concurrentHit},
	{"Limit", concurrentLimit},
	{"KV", concurrentKV},
}

const (
	racers     = 200
	raceLimit  = 50
	raceWindow = time.Minute
)

func concurrentTake(e *env) {
	k := e.key("c")
	race(e, "Take", func(ctx context.Context) (storage.Usage, error) {
		return e.s.Take(ctx, k, raceLimit, raceWindow)
	})
	if u := e.peek(k); u.Used != raceLimit {
		e.t.Errorf("Peek after the race: Used = %d, want %d", u.Used, raceLimit)
	}
}

func concurrentHit(e *env) {
	k := e.key("w")
	race(e, "Hit", func(ctx context.Context) (storage.Usage, error) {
		return e.s.Hit(ctx, k, raceLimit, raceWindow)
	})
	e.wantUsage("Hit after the race", e.hit(k, raceLimit, raceWindow).Usage, false, raceLimit)
}

// concurrentLimit races Limit calls that the quota decides: exactly raceLimit are counted, by
// the quota and the rate window alike.
func concurrentLimit(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 10 * racers, Window: raceWindow}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: raceLimit, Window: raceWindow}
	var mu sync.Mutex
	var rateUsed []int64
	race(e, "Limit", func(ctx context.Context) (storage.Usage, error) {
		r, err := e.s.Limit(ctx, rate, quota)
		if err == nil && r.Allowed() {
			mu.Lock()
			rateUsed = append(rateUsed, r.Rate.Used)
			mu.Unlock()
		}
		return r.Quota, err
	})
	slices.Sort(rateUsed)
	for i, u := range rateUsed {
		if u != int64(i+1) {
			e.t.Errorf("allowed Limit calls saw rate counts %v, want 1 to %d once each", rateUsed, raceLimit)
			break
		}
	}
	e.wantUsage("Hit on the rate window after the race", e.hit(rate.Key, rate.Limit, raceWindow).Usage, true, raceLimit+1)
}

// race makes racers calls to call at once, all counting against raceLimit on one key, and
// checks that exactly raceLimit were allowed, each seeing a different count.
func race(e *env, name string, call func(context.Context) (storage.Usage, error)) {
	e.t.Helper()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]storage.Usage, racers)
		errs    = make([]error, racers)
		ctx     = e.t.Context()
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = call(ctx)
		})
	}
	close(start)
	wg.Wait()

	var used []int64
	for i, u := range results {
		if errs[i] != nil {
			e.t.Fatalf("%s: %v", name, errs[i])
		}
		if u.Allowed {
			used = append(used, u.Used)
		} else if u.Used != raceLimit {
			e.t.Errorf("refused %s: Used = %d, want %d", name, u.Used, raceLimit)
		}
	}
	if len(used) != raceLimit {
		e.t.Errorf("%d concurrent %s calls with limit %d: %d allowed, want %d", racers, name, raceLimit, len(used), raceLimit)
	}
	// Each allowed call was counted on its own, so together they saw every count once.
	slices.Sort(used)
	for i, u := range used {
		if u != int64(i+1) {
			e.t.Errorf("allowed %s calls saw counts %v, want 1 to %d once each", name, used, raceLimit)
			break
		}
	}
}

func concurrentKV(e *env) {
	const workers, rounds = 8, 50
	shared := e.key("shared")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := e.t.Context()
			own := e.key("own:" + strconv.Itoa(w))
			for r := range rounds {
				want := fmt.Sprintf("%d/%d", w, r)
				if err := e.s.Set(ctx, own, []byte(want), 0); err != nil {
					errs <- err
					return
				}
				if err := e.s.Set(ctx, shared, []byte(want), 0); err != nil {
					errs <- err
					return
				}
				got, err := e.s.Get(ctx, own)
				if err != nil {
					errs <- err
					return
				}
				if string(got) != want {
					errs <- fmt.Errorf("worker %d read back %q, want %q", w, got, want)
					return
				}
				if _, err := e.s.Keys(ctx, e.key("own:")); err != nil {
					errs <- err
					return
				}
			}
			if existed, err := e.s.Delete(ctx, own); err != nil || !existed {
				errs <- fmt.Errorf("worker %d: Delete = %t, %v; want true, nil", w, existed, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Error(err)
	}
	wantKeySet(e, e.key("own:"))
	v, err := e.get(shared)
	if err != nil {
		e.t.Fatalf("Get of the shared key: %v", err)
	}
	last := fmt.Sprintf("/%d", rounds-1)
	if len(v) < len(last) || string(v[len(v)-len(last):]) != last {
		e.t.Errorf("shared key = %q, want some worker's last value, ending %q", v, last)
	}
}
