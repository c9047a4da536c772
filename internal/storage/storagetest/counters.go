package storagetest

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var counterCases = []testCase{
	{"TakeUpToLimit", counterTakeUpToLimit},
	{"WindowEnds", counterWindowEnds},
	{"Peek", counterPeek},
	{"Reset", counterReset},
	{"KeysIndependent", counterKeysIndependent},
	{"LimitZero", counterLimitZero},
}

func counterTakeUpToLimit(e *env) {
	const limit, window = 3, time.Minute
	k := e.key("c")
	first := e.take(k, limit, window)
	e.wantUsage("take 1", first.Usage, true, 1)
	// The window starts with its first hit.
	e.wantNear("take 1: Reset", first.Reset, first.before.Add(window), first.after.Add(window))
	for i := int64(2); i <= limit; i++ {
		u := e.take(k, limit, window)
		e.wantUsage("take", u.Usage, true, i)
		e.wantSame("Reset of a later take in the same window", u.Reset, first.Reset)
	}
	for range 3 {
		u := e.take(k, limit, window)
		// Refused hits are not counted, so Used stays at the limit.
		e.wantUsage("take over the limit", u.Usage, false, limit)
		e.wantSame("Reset of a refused take", u.Reset, first.Reset)
	}
}

func counterWindowEnds(e *env) {
	const limit, window = 2, 300 * time.Millisecond
	k := e.key("c")
	first := e.take(k, limit, window)
	e.take(k, limit, window)
	over := e.take(k, limit, window)
	e.within("the take over the limit", over, first, window)
	e.wantUsage("take over the limit", over.Usage, false, limit)

	if e.exact {
		e.advanceTo(first.Reset.Add(-time.Nanosecond))
		e.wantUsage("take 1ns before the window ends", e.take(k, limit, window).Usage, false, limit)
		e.clock.Advance(time.Nanosecond)
	} else {
		e.advanceTo(first.Reset.Add(50 * time.Millisecond))
	}
	// With the window over, none is running.
	var peeked storage.Usage
	p := e.timed(func() { peeked = e.peek(k) })
	e.notBefore("the Peek after the window ended", p, first.Reset)
	e.wantExactUsage("Peek after the window ended", peeked, storage.Usage{Allowed: true})

	next := e.take(k, limit, window)
	e.wantUsage("first take of the next window", next.Usage, true, 1)
	e.wantNear("first take of the next window: Reset", next.Reset, next.before.Add(window), next.after.Add(window))
	second := e.take(k, limit, window)
	e.within("the second take of the next window", second, next, window)
	e.wantUsage("second take of the next window", second.Usage, true, 2)
}

func counterPeek(e *env) {
	const limit, window = 5, time.Minute
	k := e.key("c")
	e.wantExactUsage("Peek of a key never taken", e.peek(k), storage.Usage{Allowed: true})
	e.take(k, limit, window)
	second := e.take(k, limit, window)
	for range 2 {
		u := e.peek(k)
		if u.Used != 2 {
			e.t.Errorf("Peek after two takes: Used = %d, want 2", u.Used)
		}
		e.wantSame("Peek: Reset", u.Reset, second.Reset)
	}
	e.wantUsage("take after peeking", e.take(k, limit, window).Usage, true, 3)
}

func counterReset(e *env) {
	const limit, window = 3, time.Minute
	k, other := e.key("c"), e.key("other")
	e.take(other, limit, window)
	for range limit {
		e.take(k, limit, window)
	}
	e.wantUsage("take over the limit", e.take(k, limit, window).Usage, false, limit)

	e.reset(k)
	e.wantExactUsage("Peek after Reset", e.peek(k), storage.Usage{Allowed: true})
	u := e.take(k, limit, window)
	e.wantUsage("take after Reset", u.Usage, true, 1)
	e.wantNear("take after Reset: Reset", u.Reset, u.before.Add(window), u.after.Add(window))

	if got := e.peek(other); got.Used != 1 {
		e.t.Errorf("Reset of one key changed another: Used = %d, want 1", got.Used)
	}
	// Resetting a key with no window running is not an error.
	e.reset(e.key("never"))
}

func counterKeysIndependent(e *env) {
	const window = time.Minute
	a, b := e.key("a"), e.key("b")
	e.wantUsage("take a", e.take(a, 1, window).Usage, true, 1)
	e.wantUsage("take a again", e.take(a, 1, window).Usage, false, 1)
	e.wantUsage("take b", e.take(b, 1, window).Usage, true, 1)
	e.wantUsage("take b again", e.take(b, 1, window).Usage, false, 1)
}

func counterLimitZero(e *env) {
	k := e.key("c")
	for range 2 {
		u := e.take(k, 0, time.Minute)
		e.wantUsage("take with limit 0", u.Usage, false, 0)
		e.wantZero("take with limit 0: Reset", u.Reset)
	}
	e.wantExactUsage("Peek after takes with limit 0", e.peek(k), storage.Usage{Allowed: true})
}

// wantExactUsage fails unless got equals want, comparing Reset as an instant.
func (e *env) wantExactUsage(what string, got, want storage.Usage) {
	e.t.Helper()
	if got.Allowed != want.Allowed || got.Used != want.Used || !got.Reset.Equal(want.Reset) {
		e.t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}
