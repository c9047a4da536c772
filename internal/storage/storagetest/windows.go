package storagetest

import (
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var windowCases = []testCase{
	{"HitUpToLimit", windowHitUpToLimit},
	{"NoDoubleBurst", windowNoDoubleBurst},
	{"RefusedNotCounted", windowRefusedNotCounted},
	{"ResetIsOldestLeaving", windowResetIsOldestLeaving},
	{"HitCountsForWindowToSlotMore", windowHitLifetime},
	{"Sustained", windowSustained},
	{"LimitChange", windowLimitChange},
	{"LengthChangeRestarts", windowLengthChange},
	{"KeysIndependent", windowKeysIndependent},
	{"LimitZero", windowLimitZero},
}

// leaves returns when a hit made at t leaves a window of the given length: when the slot it
// falls in has wholly left, as storage.Windows documents.
func leaves(t time.Time, window time.Duration) time.Time {
	slot := int64(storage.SlotLength(window))
	index := t.UnixNano() / slot
	return time.Unix(0, (index+storage.WindowSlots+1)*slot)
}

// wantLeaves fails unless reset is when a hit made during s (or, with a real clock, near it)
// leaves a window of the given length.
func (e *env) wantLeaves(what string, reset time.Time, s stamped, window time.Duration) {
	e.t.Helper()
	e.wantNear(what, reset, leaves(s.before, window), leaves(s.after, window))
}

func windowHitUpToLimit(e *env) {
	const limit, window = 3, time.Minute
	k := e.key("w")
	first := e.hit(k, limit, window)
	e.wantUsage("hit 1", first.Usage, true, 1)
	e.wantLeaves("hit 1: Reset", first.Reset, first, window)
	// That is at least a window and at most a window and a slot after the hit.
	e.wantNear("hit 1: Reset", first.Reset, first.before.Add(window), first.after.Add(window+storage.SlotLength(window)))
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

	slot := storage.SlotLength(window)
	h0 := e.hit(k, limit, window)
	e.wantUsage("hit at 0s", h0.Usage, true, 1)
	at(900 * time.Millisecond)
	var early, late stamped
	for i := int64(2); i <= limit; i++ {
		late = e.hit(k, limit, window)
		if i == 2 {
			early = late
		}
		e.within("a hit at 0.9s", late, h0, window)
		e.wantUsage("hit at 0.9s", late.Usage, true, i)
	}
	u := e.hit(k, limit, window)
	e.within("the hit at 0.9s over the limit", u, h0, window)
	e.wantUsage("hit at 0.9s over the limit", u.Usage, false, limit)

	// Only the hit made at 0s has left the window, so one hit is allowed and no more.
	at(1100 * time.Millisecond)
	h11 := e.hit(k, limit, window)
	e.atLeast("the hit at 1.1s", h11, h0, window+slot)
	e.within("the hit at 1.1s", h11, early, window)
	e.wantUsage("hit at 1.1s", h11.Usage, true, limit)
	for range 3 {
		u := e.hit(k, limit, window)
		e.within("a hit at 1.1s over the limit", u, early, window)
		e.wantUsage("hit at 1.1s over the limit", u.Usage, false, limit)
	}

	// The four hits made at 0.9s leave with their slot; the one made at 1.1s has not left.
	gone := leaves(late.after, window)
	if e.exact {
		e.advanceTo(gone.Add(-time.Nanosecond))
		e.wantUsage("hit 1ns before the 0.9s hits leave", e.hit(k, limit, window).Usage, false, limit)
	}
	e.advanceTo(gone.Add(e.slack))
	for i := int64(2); i <= limit; i++ {
		u := e.hit(k, limit, window)
		e.atLeast("a hit once the 0.9s hits left", u, late, window+slot)
		e.within("a hit once the 0.9s hits left", u, h11, window)
		e.wantUsage("hit once the 0.9s hits left", u.Usage, true, i)
	}
	u = e.hit(k, limit, window)
	e.within("the hit after that over the limit", u, h11, window)
	e.wantUsage("hit after that over the limit", u.Usage, false, limit)
}

// windowRefusedNotCounted checks that a client hammering while limited recovers as soon as its
// oldest allowed hit leaves the window, which it would not if refused hits were recorded.
func windowRefusedNotCounted(e *env) {
	const limit, window = 2, 500 * time.Millisecond
	k := e.key("w")
	slot := storage.SlotLength(window)
	first := e.hit(k, limit, window)
	second := e.hit(k, limit, window)
	for i := range 4 {
		// Each step from the first hit, so that a late wake-up does not delay the next ones.
		e.advanceTo(first.after.Add(time.Duration(i+1) * 100 * time.Millisecond))
		for range 3 {
			u := e.hit(k, limit, window)
			e.within("a hammering hit", u, first, window)
			e.wantUsage("hammering hit", u.Usage, false, limit)
			e.wantSame("Reset of a hammering hit", u.Reset, first.Reset)
		}
	}
	e.advanceTo(leaves(second.after, window).Add(e.slack))
	h1 := e.hit(k, limit, window)
	e.atLeast("the hit once the allowed hits left", h1, second, window+slot)
	e.wantUsage("hit once the allowed hits left", h1.Usage, true, 1)
	for _, c := range []struct {
		what    string
		allowed bool
		used    int64
	}{{"next hit", true, 2}, {"hit over the limit", false, limit}} {
		u := e.hit(k, limit, window)
		e.within("the "+c.what, u, h1, window)
		e.wantUsage(c.what, u.Usage, c.allowed, c.used)
	}
}

func windowResetIsOldestLeaving(e *env) {
	const limit, window = 2, 500 * time.Millisecond
	k := e.key("w")
	first := e.hit(k, limit, window)
	e.clock.Advance(200 * time.Millisecond)
	second := e.hit(k, limit, window)
	e.within("hit 2", second, first, window)
	e.wantUsage("hit 2", second.Usage, true, 2)
	e.wantSame("hit 2: Reset", second.Reset, first.Reset)

	if e.exact {
		e.advanceTo(first.Reset.Add(-time.Nanosecond))
		u := e.hit(k, limit, window)
		e.wantUsage("hit 1ns before the first hit leaves", u.Usage, false, limit)
		e.wantSame("Reset of that hit", u.Reset, first.Reset)
	}
	e.advanceTo(first.Reset.Add(e.slack))
	// Now the second hit is the oldest, and Reset is when it leaves.
	third := e.hit(k, limit, window)
	e.notBefore("the hit after the first left", third, first.Reset)
	e.within("the hit after the first left", third, second, window)
	e.wantUsage("hit after the first left", third.Usage, true, 2)
	e.wantLeaves("hit after the first left: Reset", third.Reset, second, window)
}

// windowHitLifetime checks the documented accuracy: a hit counts for at least the window's
// length, and no more than one slot longer.
func windowHitLifetime(e *env) {
	const window = 400 * time.Millisecond
	slot := storage.SlotLength(window)
	k := e.key("w")
	// Start a third of a slot in, so that the hit is not on a slot's edge.
	now := e.clock.Now()
	e.clock.Advance(slot - time.Duration(now.UnixNano()%int64(slot)) + slot/3)
	first := e.hit(k, 1, window)
	e.wantUsage("hit", first.Usage, true, 1)

	e.advanceTo(first.after.Add(window - time.Nanosecond - e.slack))
	u := e.hit(k, 1, window)
	e.within("the hit just before a window has passed", u, first, window)
	e.wantUsage("hit just before a window has passed", u.Usage, false, 1)
	e.advanceTo(first.before.Add(window + slot + e.slack))
	u = e.hit(k, 1, window)
	e.atLeast("the hit a window and a slot later", u, first, window+slot)
	e.wantUsage("hit a window and a slot later", u.Usage, true, 1)
}

// windowSustained hammers a window for several lengths of it and checks what a client gets: no
// more than the limit in any span of the window's length (checked to the nanosecond with a manual
// clock), and at least WindowSlots/(WindowSlots+1) of it per window.
func windowSustained(e *env) {
	limit, window, step := int64(10), time.Second, time.Millisecond
	if !e.exact {
		// Each step is a call to the store and a sleep: keep it short.
		limit, window, step = 6, 300*time.Millisecond, 3*time.Millisecond
	}
	const windows = 5
	k := e.key("w")
	start := e.clock.Now()
	var hits []stamped // every hit, allowed or not
	var allowed []time.Time
	for e.clock.Now().Sub(start) < windows*window {
		for range 2 {
			u := e.hit(k, limit, window)
			hits = append(hits, u)
			if u.Allowed {
				allowed = append(allowed, u.before)
			}
		}
		e.clock.Advance(step)
	}
	n := int64(len(allowed))
	// in counts the allowed hits that no more than the windows can hold: all of them with a
	// manual clock, where the loop stops on time.
	in := n
	most := windows * limit
	least := windows * limit * storage.WindowSlots / (storage.WindowSlots + 1)
	if !e.exact {
		least -= limit // sleeping overshoots; the last window may be short of its allowance
		// A loaded machine may hammer in fits and starts, and a client that pauses gets less:
		// the attempt proves nothing unless the timing guarantees least (see guaranteed).
		if g := guaranteed(hits, limit, window); g < least {
			e.late("the hits came too unevenly to be sure of %d allowed (only of %d)", least, g)
		}
		// The loop may end late: the upper bound holds for the hits surely made within the
		// windows that start with the first allowed one.
		in = 0
		for _, h := range hits {
			if h.Allowed && h.after.Sub(allowed[0]) < windows*window {
				in++
			}
		}
	}
	if n < least || in > most {
		e.t.Errorf("hammering %d windows with a limit of %d: %d allowed (%d within %d windows of the first), want between %d and %d",
			windows, limit, n, in, windows, least, most)
	}
	if !e.exact {
		return
	}
	for i := range allowed {
		in := 0
		for j := i; j < len(allowed) && allowed[j].Sub(allowed[i]) < window; j++ {
			in++
		}
		if int64(in) > limit {
			e.t.Fatalf("%d hits allowed within %v of %s, over the limit of %d", in, window, allowed[i].Format(time.RFC3339Nano), limit)
		}
	}
}

func windowLimitChange(e *env) {
	const window = time.Minute
	k := e.key("w")
	for i := int64(1); i <= 3; i++ {
		e.wantUsage("hit with limit 5", e.hit(k, 5, window).Usage, true, i)
	}
	// The hits counted count against a lower limit at once, and a higher one allows more.
	e.wantUsage("hit with the limit lowered to 2", e.hit(k, 2, window).Usage, false, 3)
	e.wantUsage("hit with the limit raised to 10", e.hit(k, 10, window).Usage, true, 4)
}

func windowLengthChange(e *env) {
	k := e.key("w")
	e.hit(k, 2, time.Minute)
	e.hit(k, 2, time.Minute)
	e.wantUsage("hit over the limit", e.hit(k, 2, time.Minute).Usage, false, 2)
	e.wantUsage("hit with another window length", e.hit(k, 2, 2*time.Minute).Usage, true, 1)
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
	e.hit(k, 5, time.Minute)
	for range 2 {
		u := e.hit(k, 0, time.Minute)
		e.wantUsage("hit with limit 0", u.Usage, false, 0)
		e.wantZero("hit with limit 0: Reset", u.Reset)
	}
	// The window was forgotten, so a real limit starts from zero.
	e.wantUsage("hit with limit 1", e.hit(k, 1, time.Minute).Usage, true, 1)
}

// guaranteed returns how many of the hits a window must have allowed, given only when the hits
// were made. Whenever fewer than limit hits were allowed in a span from a to b, every hit made
// in it a window and a slot after a was allowed (a hit counts for no more than a window and a
// slot, and the hits that could count against it fell in the span): so a span in which limit
// hits were surely made a window and a slot after its start holds at least limit allowed hits.
// The first span needs no wait: no hit came before it. guaranteed counts such spans, one after
// another, from the first hit.
func guaranteed(hits []stamped, limit int64, window time.Duration) int64 {
	if len(hits) == 0 {
		return 0
	}
	var n int64
	a, wait := hits[0].before, time.Duration(0)
	for i := 0; i < len(hits); {
		// The limit-th hit made surely after a+wait ends the span.
		var seen int64
		for ; i < len(hits) && seen < limit; i++ {
			if !hits[i].before.Before(a.Add(wait)) {
				seen++
			}
		}
		if seen < limit {
			break
		}
		n += limit
		a, wait = hits[i-1].after.Add(time.Nanosecond), window+storage.SlotLength(window)+realClockGrain
	}
	return n
}
