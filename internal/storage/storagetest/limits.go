package storagetest

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var limitCases = []testCase{
	{"BothCounted", limitBothCounted},
	{"RateRefusesCountsNothing", limitRateRefuses},
	{"QuotaRefusesCountsNothing", limitQuotaRefuses},
	{"OneSpecOnly", limitOneSpec},
	{"SameStateAsHitAndTake", limitSharesState},
	{"InvalidWindow", limitInvalidWindow},
	{"Smoothing", limitSmoothing},
	{"SmoothingOverTheLimit", limitSmoothingOverLimit},
}

func (e *env) limit(rate, quota storage.Spec) storage.LimitResult {
	e.t.Helper()
	r, err := e.s.Limit(e.t.Context(), rate, quota)
	if err != nil {
		e.t.Fatalf("Limit(%+v, %+v): %v", rate, quota, err)
	}
	return r
}

func limitBothCounted(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 3, Window: time.Minute}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: 5, Window: time.Hour}
	for i := int64(1); i <= 3; i++ {
		before := e.clock.Now()
		r := e.limit(rate, quota)
		after := e.clock.Now()
		if !r.Allowed() {
			e.t.Fatalf("request %d refused: %+v", i, r)
		}
		e.wantUsage("rate", r.Rate, true, i)
		e.wantUsage("quota", r.Quota, true, i)
		if i == 1 {
			e.wantNear("quota Reset", r.Quota.Reset, before.Add(time.Hour), after.Add(time.Hour))
			e.wantLeaves("rate Reset", r.Rate.Reset, stamped{before: before, after: after}, time.Minute)
		}
	}
}

func limitRateRefuses(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 2, Window: time.Minute}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: 10, Window: time.Hour}
	e.limit(rate, quota)
	second := e.limit(rate, quota)
	for range 3 {
		r := e.limit(rate, quota)
		if r.Allowed() || r.Rate.Allowed {
			e.t.Fatalf("request over the rate limit: %+v, want the rate limit to refuse", r)
		}
		e.wantUsage("rate when refused", r.Rate, false, 2)
		// The quota is not counted, and reports what Peek would.
		e.wantExactUsage("quota when the rate limit refuses", r.Quota, storage.Usage{Allowed: true, Used: 2, Reset: second.Quota.Reset})
	}
	if u := e.peek(quota.Key); u.Used != 2 {
		e.t.Errorf("quota after refusals by the rate limit: Used = %d, want 2", u.Used)
	}
}

func limitQuotaRefuses(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 10, Window: time.Minute}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: 2, Window: time.Hour}
	e.limit(rate, quota)
	e.limit(rate, quota)
	for range 3 {
		r := e.limit(rate, quota)
		if r.Allowed() || r.Quota.Allowed || !r.Rate.Allowed {
			e.t.Fatalf("request over the quota: %+v, want the quota to refuse and the rate limit to allow", r)
		}
		e.wantUsage("quota when refused", r.Quota, false, 2)
		// The rate limit allowed it but did not count it.
		e.wantUsage("rate when the quota refuses", r.Rate, true, 2)
	}
	// A hit on the window shows that the refused requests were not counted there.
	e.wantUsage("Hit on the rate window afterwards", e.hit(rate.Key, 10, time.Minute).Usage, true, 3)
}

func limitOneSpec(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 1, Window: time.Minute}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: 1, Window: time.Minute}
	none := storage.Usage{Allowed: true}

	r := e.limit(rate, storage.Spec{})
	e.wantUsage("rate alone", r.Rate, true, 1)
	e.wantExactUsage("the quota not asked for", r.Quota, none)
	if r = e.limit(rate, storage.Spec{}); r.Allowed() {
		e.t.Errorf("rate alone over its limit: %+v, want refused", r)
	}

	r = e.limit(storage.Spec{}, quota)
	e.wantUsage("quota alone", r.Quota, true, 1)
	e.wantExactUsage("the rate not asked for", r.Rate, none)
	if r = e.limit(storage.Spec{}, quota); r.Allowed() {
		e.t.Errorf("quota alone over its limit: %+v, want refused", r)
	}

	r = e.limit(storage.Spec{}, storage.Spec{})
	if !r.Allowed() || r.Rate != none || r.Quota != none {
		e.t.Errorf("Limit with neither = %+v, want both zero and allowed", r)
	}
}

// limitSharesState checks that Limit counts in the same windows and counters as Hit and Take.
func limitSharesState(e *env) {
	rate := storage.Spec{Key: e.key("{pair}rate"), Limit: 5, Window: time.Minute}
	quota := storage.Spec{Key: e.key("{pair}quota"), Limit: 5, Window: time.Hour}
	e.hit(rate.Key, 5, time.Minute)
	e.take(quota.Key, 5, time.Hour)
	r := e.limit(rate, quota)
	e.wantUsage("rate after a Hit", r.Rate, true, 2)
	e.wantUsage("quota after a Take", r.Quota, true, 2)
	e.wantUsage("Hit after Limit", e.hit(rate.Key, 5, time.Minute).Usage, true, 3)
	e.wantUsage("Take after Limit", e.take(quota.Key, 5, time.Hour).Usage, true, 3)
	e.reset(quota.Key)
	e.wantUsage("quota after Reset", e.limit(rate, quota).Quota, true, 1)
}

func limitInvalidWindow(e *env) {
	ok := storage.Spec{Key: e.key("ok"), Limit: 5, Window: time.Minute}
	// Large limits too: a store may serve them by another path (the Redis store's leases).
	large := storage.Spec{Key: e.key("large"), Limit: 1e9, Window: time.Hour}
	for _, bad := range []storage.Spec{
		{Key: e.key("bad"), Limit: 5, Window: 0},
		{Key: e.key("bad"), Limit: 5, Window: -time.Second},
		{Key: e.key("bad"), Limit: 1e9, Window: 0},
	} {
		for _, good := range []storage.Spec{ok, large} {
			if _, err := e.s.Limit(e.t.Context(), bad, good); err == nil {
				e.t.Errorf("Limit of %d with a rate window of %v: no error", bad.Limit, bad.Window)
			}
			if _, err := e.s.Limit(e.t.Context(), good, bad); err == nil {
				e.t.Errorf("Limit of %d with a quota window of %v: no error", bad.Limit, bad.Window)
			}
		}
		if _, err := e.s.Hit(e.t.Context(), bad.Key, bad.Limit, bad.Window); err == nil {
			e.t.Errorf("Hit with a window of %v: no error", bad.Window)
		}
		if _, err := e.s.Take(e.t.Context(), bad.Key, bad.Limit, bad.Window); err == nil {
			e.t.Errorf("Take with a window of %v: no error", bad.Window)
		}
	}
	// Nothing was counted by the refused calls.
	r := e.limit(ok, storage.Spec{})
	e.wantUsage("Limit after invalid calls", r.Rate, true, 1)
}

// limitSmoothing: a smoothed rate limit allows its threshold first, then moves its allowance by
// a step at most once per delay: up while the window holds nearly all of it, never above the
// limit; down once the window holds much less, never below the threshold; and it starts again
// at the threshold once the window holds nothing.
func limitSmoothing(e *env) {
	const delay, window = time.Second, 3 * time.Second
	sm := storage.Smoothing{Threshold: 3, Step: 2, Trigger: 0.5, Delay: delay}
	rate := storage.Spec{Key: e.key("{s}rate"), Limit: 6, Window: window, Smooth: sm}
	do := func() (storage.Usage, stamped) {
		var r storage.LimitResult
		s := e.timed(func() { r = e.limit(rate, storage.Spec{}) })
		return r.Rate, s
	}
	want := func(what string, u storage.Usage, allowed bool, used, allowance int64, moved int) {
		e.t.Helper()
		if u.Allowed != allowed || u.Used != used || u.Allowance != allowance || u.Smoothed != moved {
			e.t.Fatalf("%s: %+v, want allowed %v, used %d, allowance %d, moved %d", what, u, allowed, used, allowance, moved)
		}
	}
	// The threshold: three hits, the fourth refused.
	u, a := do()
	want("the first hit", u, true, 1, 3, 0)
	for i := int64(2); i <= 4; i++ {
		u, s := do()
		e.within("a hit within the delay", s, a, delay)
		want("a hit within the delay", u, i <= 3, min(i, 3), 3, 0)
	}
	// After the delay, the window holds the whole allowance: a step up.
	e.clock.Advance(delay + 10*time.Millisecond)
	u, b := do()
	e.atLeast("the hit after the delay", b, a, delay+time.Millisecond)
	e.within("the hit after the delay", b, a, window)
	want("the hit after the delay", u, true, 4, 5, 1)
	u, c := do()
	e.within("the next hit", c, b, delay)
	want("the next hit", u, true, 5, 5, 0)
	u, s := do()
	e.within("a hit over the new allowance", s, b, delay)
	want("a hit over the new allowance", u, false, 5, 5, 0)
	// Another step up would pass the limit: the allowance is the limit.
	e.clock.Advance(delay + 10*time.Millisecond)
	u, d := do()
	e.atLeast("the hit after the second delay", d, b, delay+time.Millisecond)
	e.within("the hit after the second delay", d, a, window)
	want("the hit after the second delay", u, true, 6, 6, 1)
	// The first three hits leave the window; the three since hold far less than the
	// allowance: a step down.
	e.clock.Advance(1200 * time.Millisecond)
	u, f := do()
	e.atLeast("the hit once the first ones left", f, a, window+storage.SlotLength(window))
	e.atLeast("the hit once the first ones left", f, d, delay+time.Millisecond)
	e.within("the hit once the first ones left", f, b, window)
	want("the hit once the first ones left", u, true, 4, 4, -1)
	// An empty window starts again at the threshold.
	e.clock.Advance(window + 200*time.Millisecond)
	u, g := do()
	e.atLeast("the hit in an empty window", g, f, window+storage.SlotLength(window))
	want("the hit in an empty window", u, true, 1, 3, 0)
	// Without smoothing the same window applies the limit, and reports no allowance.
	rate.Smooth = storage.Smoothing{}
	u, _ = do()
	want("the hit without smoothing", u, true, 2, 0, 0)
}

// limitSmoothingOverLimit: a threshold above the limit applies the limit, and the allowance
// brought down to it is no move of what applied: nothing to tell.
func limitSmoothingOverLimit(e *env) {
	const delay = 200 * time.Millisecond
	rate := storage.Spec{Key: e.key("{o}rate"), Limit: 3, Window: time.Minute,
		Smooth: storage.Smoothing{Threshold: 10, Step: 1, Trigger: 100, Delay: delay}}
	var first stamped
	for i := int64(1); i <= 4; i++ {
		var r storage.LimitResult
		s := e.timed(func() { r = e.limit(rate, storage.Spec{}) })
		if i == 1 {
			first = s
		}
		e.within("a hit within the delay", s, first, delay)
		if r.Rate.Allowed != (i <= 3) || r.Rate.Allowance != 3 || r.Rate.Smoothed != 0 {
			e.t.Fatalf("hit %d: %+v, want allowed %v, allowance 3 (the limit), no move", i, r.Rate, i <= 3)
		}
	}
	e.clock.Advance(delay + 10*time.Millisecond)
	var r storage.LimitResult
	s := e.timed(func() { r = e.limit(rate, storage.Spec{}) })
	e.atLeast("the hit after the delay", s, first, delay+time.Millisecond)
	if r.Rate.Allowed || r.Rate.Allowance != 3 || r.Rate.Smoothed != 0 {
		e.t.Fatalf("after the delay: %+v, want refused, allowance 3, no move", r.Rate)
	}
}
