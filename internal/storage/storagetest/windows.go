package storagetest

import "time"

var windowCases = []testCase{
	{"HitUpToLimit", windowHitUpToLimit},
	{"NoDoubleBurst", windowNoDoubleBurst},
	{"RefusedNotCounted", windowRefusedNotCounted},
	{"ResetIsOldestLeaving", windowResetIsOldestLeaving},
	{"KeysIndependent", windowKeysIndependent},
	{"LimitZero", windowLimitZero},
}

func windowHitUpToLimit(e *env) {
	const limit, window = 3, time.Minute
	k := e.key("w")
	first := e.hit(k, limit, window)
	e.wantUsage("hit 1", first.Usage, true, 1)
	e.wantNear("hit 1: Reset", first.Reset, first.before.Add(window), first.after.Add(window))
	for i := int64(2); i <= limit; i++ {
		u := e.hit(k, limit, window)
		e.wantUsage("hit", u.Usage, true, i)
		// The first hit is still the oldest in the window.
		e.wantSame("Reset of a later hit", u.Reset, first.Reset)
	}
	for range 3 {
		u := e.hit(k, limit, window)
		e.wantUsage("hit over the limit", u.Usage, false, limit)
		e.wantSame("Reset of a refused hit", u.Reset, first.Reset)
	}
}

// windowNoDoubleBurst is the reason sliding windows exist: with fixed windows a client can make
// limit hits just before a window's edge and limit more just after it. The case starts on a
// multiple of the window since the Unix epoch, where a backend that buckets time would put an
// edge, and makes its first hit there, where a backend that starts a window with its first hit
// would put one; at 1.1 windows in, either would allow a second burst.
func windowNoDoubleBurst(e *env) {
	const limit, window = 5, time.Second
	k := e.key("w")
	now := e.clock.Now()
	e.clock.Advance(window - time.Duration(now.UnixNano()%int64(window)))
	start := e.clock.Now()
	at := func(d time.Duration) { e.advanceTo(start.Add(d)) }

	e.wantUsage("hit at 0s", e.hit(k, limit, window).Usage, true, 1)
	at(900 * time.Millisecond)
	for i := int64(2); i <= limit; i++ {
		e.wantUsage("hit at 0.9s", e.hit(k, limit, window).Usage, true, i)
	}
	e.wantUsage("hit at 0.9s over the limit", e.hit(k, limit, window).Usage, false, limit)

	// Only the hit made at 0s has left the window, so one hit is allowed and no more.
	at(1100 * time.Millisecond)
	e.wantUsage("hit at 1.1s", e.hit(k, limit, window).Usage, true, limit)
	for range 3 {
		e.wantUsage("hit at 1.1s over the limit", e.hit(k, limit, window).Usage, false, limit)
	}

	// The four hits made at 0.9s have left at 1.9s, freeing four places; the one made at 1.1s
	// has not.
	if e.exact {
		at(1900*time.Millisecond - time.Nanosecond)
		e.wantUsage("hit 1ns before 1.9s", e.hit(k, limit, window).Usage, false, limit)
	}
	at(1950 * time.Millisecond)
	for i := int64(2); i <= limit; i++ {
		e.wantUsage("hit at 1.95s", e.hit(k, limit, window).Usage, true, i)
	}
	e.wantUsage("hit at 1.95s over the limit", e.hit(k, limit, window).Usage, false, limit)
}

// windowRefusedNotCounted checks that a client hammering while limited recovers as soon as its
// oldest allowed hit leaves the window, which it would not if refused hits were recorded.
func windowRefusedNotCounted(e *env) {
	const limit, window = 2, 500 * time.Millisecond
	k := e.key("w")
	first := e.hit(k, limit, window)
	e.hit(k, limit, window)
	for range 4 {
		e.clock.Advance(100 * time.Millisecond)
		for range 3 {
			u := e.hit(k, limit, window)
			e.wantUsage("hammering hit", u.Usage, false, limit)
			e.wantSame("Reset of a hammering hit", u.Reset, first.Reset)
		}
	}
	if e.exact {
		e.advanceTo(first.Reset)
	} else {
		e.advanceTo(first.Reset.Add(50 * time.Millisecond))
	}
	e.wantUsage("hit once the allowed hits left", e.hit(k, limit, window).Usage, true, 1)
	e.wantUsage("next hit", e.hit(k, limit, window).Usage, true, 2)
	e.wantUsage("hit over the limit", e.hit(k, limit, window).Usage, false, limit)
}

func windowResetIsOldestLeaving(e *env) {
	const limit, window = 2, 500 * time.Millisecond
	k := e.key("w")
	first := e.hit(k, limit, window)
	e.clock.Advance(200 * time.Millisecond)
	second := e.hit(k, limit, window)
	e.wantUsage("hit 2", second.Usage, true, 2)
	e.wantSame("hit 2: Reset", second.Reset, first.Reset)

	if e.exact {
		e.advanceTo(first.Reset.Add(-time.Nanosecond))
		u := e.hit(k, limit, window)
		e.wantUsage("hit 1ns before the first hit leaves", u.Usage, false, limit)
		e.wantSame("Reset of that hit", u.Reset, first.Reset)
		e.clock.Advance(time.Nanosecond)
	} else {
		e.advanceTo(first.Reset.Add(50 * time.Millisecond))
	}
	// Now the second hit is the oldest, and Reset is when it leaves.
	third := e.hit(k, limit, window)
	e.wantUsage("hit after the first left", third.Usage, true, 2)
	e.wantNear("hit after the first left: Reset", third.Reset, second.before.Add(window), second.after.Add(window))
}

func windowKeysIndependent(e *env) {
	const window = time.Minute
	a, b := e.key("a"), e.key("b")
	e.wantUsage("hit a", e.hit(a, 1, window).Usage, true, 1)
	e.wantUsage("hit a again", e.hit(a, 1, window).Usage, false, 1)
	e.wantUsage("hit b", e.hit(b, 1, window).Usage, true, 1)
	e.wantUsage("hit b again", e.hit(b, 1, window).Usage, false, 1)
}

func windowLimitZero(e *env) {
	k := e.key("w")
	for range 2 {
		u := e.hit(k, 0, time.Minute)
		e.wantUsage("hit with limit 0", u.Usage, false, 0)
		e.wantZero("hit with limit 0: Reset", u.Reset)
	}
	// Nothing was counted, so a real limit starts from zero.
	e.wantUsage("hit with limit 1", e.hit(k, 1, time.Minute).Usage, true, 1)
}
