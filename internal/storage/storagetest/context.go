package storagetest

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var contextCases = []testCase{
	{"Canceled", contextCanceled},
}

// contextCanceled calls every method with a canceled context. A backend may ignore the
// context or give up with its error, but what it reports must match what it did, and the
// store must work afterwards.
func contextCanceled(e *env) {
	const limit, window = 10, time.Minute
	kv, del, c, w := e.key("kv"), e.key("del"), e.key("c"), e.key("w")
	e.set(kv, "old", 0)
	e.set(del, "v", 0)
	e.take(c, limit, window)
	e.hit(w, limit, window)

	ctx, cancel := context.WithCancel(e.t.Context())
	cancel()
	check := func(method string, err error) bool {
		e.t.Helper()
		if err != nil && !errors.Is(err, context.Canceled) {
			e.t.Errorf("%s with a canceled context: error %v, want nil or one matching context.Canceled", method, err)
		}
		return err == nil
	}

	if check("Set", e.s.Set(ctx, kv, []byte("new"), 0)) {
		e.wantValue(kv, "new")
	} else if v, err := e.get(kv); err != nil || (string(v) != "old" && string(v) != "new") {
		e.t.Errorf("after a failed Set: Get = %q, %v; want the old or the new value", v, err)
	}
	if v, err := e.s.Get(ctx, kv); check("Get", err) && string(v) != "old" && string(v) != "new" {
		e.t.Errorf("Get with a canceled context = %q, want the old or the new value", v)
	}
	if existed, err := e.s.Delete(ctx, del); check("Delete", err) {
		if !existed {
			e.t.Error("Delete with a canceled context reported existed=false for an existing key")
		}
		e.wantMissing(del)
	}
	if keys, err := e.s.Keys(ctx, e.prefix); check("Keys", err) && !slices.Contains(keys, kv) {
		e.t.Errorf("Keys with a canceled context = %q, want it to include %q", keys, kv)
	}

	u, err := e.s.Take(ctx, c, limit, window)
	tookCanceled := check("Take", err)
	if tookCanceled {
		e.wantUsage("Take with a canceled context", u, true, 2)
	}
	if u, err := e.s.Peek(ctx, c); check("Peek", err) && u.Used != 1 && u.Used != 2 {
		e.t.Errorf("Peek with a canceled context: Used = %d, want 1 or 2", u.Used)
	}
	after := e.take(c, limit, window)
	if tookCanceled && after.Used != 3 || !tookCanceled && after.Used != 2 && after.Used != 3 {
		e.t.Errorf("Take after a Take with a canceled context (which returned %v): Used = %d", err, after.Used)
	}

	u, err = e.s.Hit(ctx, w, limit, window)
	hitCanceled := check("Hit", err)
	if hitCanceled {
		e.wantUsage("Hit with a canceled context", u, true, 2)
	}
	afterHit := e.hit(w, limit, window)
	if hitCanceled && afterHit.Used != 3 || !hitCanceled && afterHit.Used != 2 && afterHit.Used != 3 {
		e.t.Errorf("Hit after a Hit with a canceled context (which returned %v): Used = %d", err, afterHit.Used)
	}

	if check("Reset", e.s.Reset(ctx, c)) {
		e.wantExactUsage("Peek after Reset with a canceled context", e.peek(c), storage.Usage{Allowed: true})
	}

	// The store still works.
	e.set(e.key("fresh"), "v", 0)
	e.wantValue(e.key("fresh"), "v")
	e.reset(c)
	e.wantUsage("Take after all that", e.take(c, limit, window).Usage, true, 1)
}
