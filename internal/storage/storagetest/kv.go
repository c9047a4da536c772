package storagetest

import (
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

var kvCases = []testCase{
	{"GetMissing", kvGetMissing},
	{"SetGet", kvSetGet},
	{"SetCopiesValue", kvSetCopiesValue},
	{"GetReturnsCopy", kvGetReturnsCopy},
	{"Overwrite", kvOverwrite},
	{"Delete", kvDelete},
	{"Keys", kvKeys},
	{"TTL", kvTTL},
	{"TTLReplaced", kvTTLReplaced},
	{"Create", kvCreate},
	{"CreateRace", kvCreateRace},
	{"Replace", kvReplace},
	{"ReplaceRace", kvReplaceRace},
	{"GetCachedFollowsChanges", kvGetCached},
}

func kvGetMissing(e *env) {
	v, err := e.s.Get(e.t.Context(), e.key("missing"))
	if !isNotFound(err) {
		e.t.Errorf("Get of a missing key = %q, %v; want an error matching storage.ErrNotFound", v, err)
	}
}

func kvSetGet(e *env) {
	e.set(e.key("a"), "alpha", 0)
	e.wantValue(e.key("a"), "alpha")

	// Values are opaque bytes: NULs and invalid UTF-8 must survive.
	bin := "\x00\xff\x01bin\x00"
	e.set(e.key("bin"), bin, 0)
	e.wantValue(e.key("bin"), bin)

	// An empty value is a value, not a missing key.
	e.set(e.key("empty"), "", 0)
	v, err := e.get(e.key("empty"))
	if err != nil || len(v) != 0 {
		e.t.Errorf("Get of an empty value = %q, %v; want an empty value and no error", v, err)
	}
}

func kvSetCopiesValue(e *env) {
	buf := []byte("original")
	if err := e.s.Set(e.t.Context(), e.key("k"), buf, 0); err != nil {
		e.t.Fatalf("Set: %v", err)
	}
	copy(buf, "CLOBBER!")
	e.wantValue(e.key("k"), "original")
}

func kvGetReturnsCopy(e *env) {
	e.set(e.key("k"), "original", 0)
	v, err := e.get(e.key("k"))
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	copy(v, "CLOBBER!")
	// Appending may write into spare capacity shared with the store's copy.
	_ = append(v[:2], "XX"...)
	e.wantValue(e.key("k"), "original")
}

func kvOverwrite(e *env) {
	e.set(e.key("k"), "first", 0)
	e.set(e.key("k"), "second, longer", 0)
	e.wantValue(e.key("k"), "second, longer")
	e.set(e.key("k"), "3", 0)
	e.wantValue(e.key("k"), "3")
}

func kvDelete(e *env) {
	e.set(e.key("k"), "v", 0)
	e.set(e.key("other"), "v", 0)
	if !e.del(e.key("k")) {
		e.t.Error("Delete of an existing key reported existed=false")
	}
	e.wantMissing(e.key("k"))
	if e.del(e.key("k")) {
		e.t.Error("second Delete of the same key reported existed=true")
	}
	if e.del(e.key("never")) {
		e.t.Error("Delete of a key never set reported existed=true")
	}
	e.wantValue(e.key("other"), "v")
}

func kvKeys(e *env) {
	for _, k := range []string{"a", "a:1", "a:2", "ab", "b:1", "x*", "x?", "x[a]", "xa", "x\\"} {
		e.set(e.key(k), "v", 0)
	}
	want := func(prefix string, names ...string) {
		e.t.Helper()
		keys := make([]string, len(names))
		for i, n := range names {
			keys[i] = e.key(n)
		}
		wantKeySet(e, e.key(prefix), keys...)
	}
	want("a", "a", "a:1", "a:2", "ab")
	want("a:", "a:1", "a:2")
	want("b", "b:1")
	want("c")
	// The prefix is literal, not a pattern: backends that match with globs must escape it.
	want("x*", "x*")
	want("x?", "x?")
	want("x[a]", "x[a]")
	want("x\\", "x\\")
	want("", "a", "a:1", "a:2", "ab", "b:1", "x*", "x?", "x[a]", "xa", "x\\")

	e.del(e.key("a:1"))
	want("a:", "a:2")
}

func kvTTL(e *env) {
	const ttl = 300 * time.Millisecond
	short, forever, cleared := e.key("short"), e.key("forever"), e.key("cleared")
	setShort := e.timed(func() { e.set(short, "s", ttl) })
	e.set(forever, "f", 0)
	e.set(cleared, "c1", ttl)
	// A Set without a TTL makes the key permanent again.
	permanent := e.timed(func() { e.set(cleared, "c2", 0) })
	e.within("the Set without a TTL", permanent, setShort, ttl)
	start := e.clock.Now()

	var keys []string
	got := e.timed(func() {
		e.wantValue(short, "s")
		keys = e.keys(e.prefix)
	})
	e.within("reading the key with a TTL", got, setShort, ttl)
	wantKeys(e, e.prefix, keys, short, forever, cleared)
	e.wantValue(forever, "f")
	e.wantValue(cleared, "c2")

	if e.exact {
		e.clock.Advance(ttl - time.Nanosecond)
		e.wantValue(short, "s")
		e.clock.Advance(time.Nanosecond)
	} else {
		e.advanceTo(start.Add(ttl + 50*time.Millisecond))
	}
	e.wantMissing(short)
	e.wantValue(forever, "f")
	e.wantValue(cleared, "c2")
	wantKeySet(e, e.prefix, forever, cleared)
	if e.del(short) {
		e.t.Error("Delete of an expired key reported existed=true")
	}

	// An expired key can be set again.
	e.set(short, "again", 0)
	e.wantValue(short, "again")
}

func kvTTLReplaced(e *env) {
	const ttl = 200 * time.Millisecond
	longer, shorter := e.key("longer"), e.key("shorter")
	first := e.timed(func() { e.set(longer, "1", ttl) })
	e.set(shorter, "1", time.Minute)
	// Each Set replaces the TTL as well as the value.
	again := e.timed(func() { e.set(longer, "2", time.Minute) })
	// Had the first TTL run out, the Set would have made a new key: it would prove nothing.
	e.within("the Set that makes the key permanent", again, first, ttl)
	e.set(shorter, "2", ttl)
	// The shorter TTL runs from its Set.
	e.advanceTo(e.clock.Now().Add(ttl + 50*time.Millisecond))
	e.wantValue(longer, "2")
	e.wantMissing(shorter)
}

// wantKeySet fails unless Keys(prefix) returns exactly keys.
func wantKeySet(e *env, prefix string, keys ...string) {
	e.t.Helper()
	wantKeys(e, prefix, e.keys(prefix), keys...)
}

// wantKeys fails unless got, what Keys(prefix) returned, is exactly keys.
func wantKeys(e *env, prefix string, got []string, keys ...string) {
	e.t.Helper()
	got = slices.Sorted(slices.Values(got))
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		e.t.Errorf("Keys(%q) = %q, want %q", prefix, got, want)
	}
}

// cachedWait bounds how long GetCached may answer with a value that was changed: the store keeps
// cached copies coherent itself, promptly.
const cachedWait = 100 * time.Millisecond

// wantCached fails unless GetCached(key) gives want ("" with missing for ErrNotFound) within
// cachedWait, polling. With a real clock, an answer that comes later but within busWait (the
// bound on a notification's delivery, by which a cache learns of changes) is put down to the
// machine: the attempt is abandoned and run again (see the package documentation). It returns
// the interval of time in which the wanted answer was read.
func (e *env) wantCached(key, want string, missing bool) stamped {
	e.t.Helper()
	return e.wantCachedWhile(key, want, missing, nil)
}

// wantCachedWhile is wantCached for a value that stops being wanted at some point (it expires):
// stillWanted is called with each read that did not give it, and abandons the attempt when the
// read came too late.
func (e *env) wantCachedWhile(key, want string, missing bool, stillWanted func(read stamped)) stamped {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(cachedWait)
	if !e.exact {
		deadline = start.Add(busWait)
	}
	for {
		var v []byte
		var err error
		s := e.timed(func() { v, _, err = e.s.GetCached(e.t.Context(), key) })
		if err != nil && !isNotFound(err) {
			e.t.Fatalf("GetCached(%q): %v", key, err)
		}
		if missing && isNotFound(err) || !missing && err == nil && string(v) == want {
			if took := time.Since(start); !e.exact && took > cachedWait {
				e.late("GetCached(%q) gave %q (missing %t) only %v after the change", key, want, missing, took.Round(time.Millisecond))
			}
			return s
		}
		if stillWanted != nil {
			stillWanted(s)
		}
		if time.Now().After(deadline) {
			e.t.Errorf("GetCached(%q) = %q, %v %v after the change; want %q (missing %t)", key, v, err, time.Since(start).Round(time.Millisecond), want, missing)
			return s
		}
		time.Sleep(time.Millisecond)
	}
}

func kvGetCached(e *env) {
	k := e.key("k")
	e.wantCached(k, "", true)
	e.set(k, "one", 0)
	// Read it twice, so that a caching store has it cached for the changes that follow.
	e.wantCached(k, "one", false)
	e.wantCached(k, "one", false)
	e.set(k, "two", 0)
	e.wantCached(k, "two", false)
	e.del(k)
	e.wantCached(k, "", true)
	e.set(k, "three", 0)
	e.wantCached(k, "three", false)

	// A value without a TTL has no end, or (a node-local copy) one far off.
	if _, until, err := e.s.GetCached(e.t.Context(), k); err != nil || !until.IsZero() && until.Before(e.clock.Now().Add(time.Minute)) {
		e.t.Errorf("GetCached of a value without a TTL: until %v, %v; want zero or more than a minute away", until, err)
	}

	const ttl = 300 * time.Millisecond
	short := e.key("short")
	set := e.timed(func() { e.set(short, "s", ttl) })
	before, start := set.before, set.after
	valid := func(read stamped) { e.within("reading the value with a TTL", read, set, ttl) }
	valid(e.wantCachedWhile(short, "s", false, valid))
	// Its copy is valid until the value expires.
	var until time.Time
	var err error
	got := e.timed(func() { _, until, err = e.s.GetCached(e.t.Context(), short) })
	e.within("reading the value with a TTL", got, set, ttl)
	if err != nil {
		e.t.Errorf("GetCached of a value with a TTL: %v", err)
	} else {
		e.wantNear("GetCached of a value with a TTL: until", until, before.Add(ttl), start.Add(ttl))
	}
	if e.exact {
		e.clock.Advance(ttl)
	} else {
		e.advanceTo(start.Add(ttl + 50*time.Millisecond))
	}
	e.wantCached(short, "", true)
}

func (e *env) create(key, value string, ttl time.Duration) error {
	e.t.Helper()
	return e.s.Create(e.t.Context(), key, []byte(value), ttl)
}

func kvCreate(e *env) {
	k := e.key("c")
	if err := e.create(k, "first", 0); err != nil {
		e.t.Fatalf("Create of a missing key: %v", err)
	}
	e.wantValue(k, "first")
	if err := e.create(k, "second", 0); !errors.Is(err, storage.ErrExists) {
		e.t.Errorf("Create of a key holding a value: %v, want an error matching storage.ErrExists", err)
	}
	e.wantValue(k, "first")

	// An empty value is a value.
	empty := e.key("empty")
	e.set(empty, "", 0)
	if err := e.create(empty, "x", 0); !errors.Is(err, storage.ErrExists) {
		e.t.Errorf("Create over an empty value: %v, want ErrExists", err)
	}

	// A deleted key can be created again, and Create sets the TTL.
	e.del(k)
	const ttl = 300 * time.Millisecond
	created := e.timed(func() {
		if err := e.create(k, "third", ttl); err != nil {
			e.t.Fatalf("Create after Delete: %v", err)
		}
	})
	start := e.clock.Now()
	got := e.timed(func() { e.wantValue(k, "third") })
	e.within("reading the created key", got, created, ttl)
	if e.exact {
		e.clock.Advance(ttl)
	} else {
		e.advanceTo(start.Add(ttl + 50*time.Millisecond))
	}
	// An expired key counts as none.
	if err := e.create(k, "fourth", 0); err != nil {
		e.t.Errorf("Create over an expired key: %v", err)
	}
	e.wantValue(k, "fourth")

	if err := e.create(e.key("neg"), "x", -time.Second); err == nil {
		e.t.Error("Create with a negative TTL: no error")
	}
}

// kvCreateRace: of many Creates of one key at once, exactly one succeeds, and its value stays.
func kvCreateRace(e *env) {
	k := e.key("race")
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- e.s.Create(e.t.Context(), k, []byte{byte('a' + i)}, 0) }()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrExists):
			e.t.Errorf("Create: %v", err)
		}
	}
	if won != 1 {
		e.t.Errorf("%d Creates of one key succeeded, want 1", won)
	}
}

func (e *env) replace(key, old, value string, ttl time.Duration) bool {
	e.t.Helper()
	ok, err := e.s.Replace(e.t.Context(), key, []byte(old), []byte(value), ttl)
	if err != nil {
		e.t.Fatalf("Replace(%q, %q, %q): %v", key, old, value, err)
	}
	return ok
}

// kvReplace: Replace writes only over the value it is given, never over another, and never
// brings back a key that was deleted or expired.
func kvReplace(e *env) {
	k := e.key("r")
	if e.replace(k, "", "x", 0) {
		e.t.Error("Replace of a missing key wrote")
	}
	e.wantMissing(k)

	e.set(k, "one", 0)
	if e.replace(k, "other", "two", 0) {
		e.t.Error("Replace with an old value the key does not hold wrote")
	}
	e.wantValue(k, "one")
	if e.replace(k, "on", "two", 0) || e.replace(k, "one!", "two", 0) {
		e.t.Error("Replace with a prefix or an extension of the value held wrote")
	}
	if !e.replace(k, "one", "two", 0) {
		e.t.Error("Replace with the value held did not write")
	}
	e.wantValue(k, "two")
	// Values are opaque bytes, an empty one included.
	bin := "\x00\xff\x01bin\x00"
	if !e.replace(k, "two", bin, 0) || !e.replace(k, bin, "", 0) || !e.replace(k, "", "three", 0) {
		e.t.Error("Replace through a binary and an empty value did not write")
	}
	e.wantValue(k, "three")

	// A deleted key stays deleted.
	e.del(k)
	if e.replace(k, "three", "four", 0) {
		e.t.Error("Replace of a deleted key wrote")
	}
	e.wantMissing(k)

	// Replace sets the TTL as Set does; an expired key counts as none.
	const ttl = 300 * time.Millisecond
	e.set(k, "a", 0)
	var ok bool
	replaced := e.timed(func() { ok = e.replace(k, "a", "b", ttl) })
	if !ok {
		e.t.Fatal("Replace with a TTL did not write")
	}
	start := e.clock.Now()
	got := e.timed(func() { e.wantValue(k, "b") })
	e.within("reading the replaced key", got, replaced, ttl)
	if e.exact {
		e.clock.Advance(ttl)
	} else {
		e.advanceTo(start.Add(ttl + 50*time.Millisecond))
	}
	if e.replace(k, "b", "c", 0) {
		e.t.Error("Replace of an expired key wrote")
	}
	e.wantMissing(k)

	// A Replace without a TTL makes the key permanent.
	e.set(k, "p", ttl)
	if !e.replace(k, "p", "q", 0) {
		e.t.Fatal("Replace without a TTL did not write")
	}
	if e.exact {
		e.clock.Advance(2 * ttl)
	} else {
		e.advanceTo(e.clock.Now().Add(ttl + 50*time.Millisecond))
	}
	e.wantValue(k, "q")

	if _, err := e.s.Replace(e.t.Context(), k, []byte("q"), []byte("x"), -time.Second); err == nil {
		e.t.Error("Replace with a negative TTL: no error")
	}
	e.wantValue(k, "q")
}

// kvReplaceRace: of many Replaces of one value at once, exactly one writes, and its value stays.
func kvReplaceRace(e *env) {
	k := e.key("race")
	e.set(k, "start", 0)
	const n = 16
	type result struct {
		i  int
		ok bool
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			ok, err := e.s.Replace(e.t.Context(), k, []byte("start"), []byte{byte('a' + i)}, 0)
			if err != nil {
				e.t.Errorf("Replace: %v", err)
			}
			results <- result{i, ok}
		}()
	}
	winner := -1
	for range n {
		if r := <-results; r.ok {
			if winner >= 0 {
				e.t.Errorf("Replaces %d and %d of one value both wrote", winner, r.i)
			}
			winner = r.i
		}
	}
	if winner < 0 {
		e.t.Fatal("no Replace of the value held wrote")
	}
	e.wantValue(k, string([]byte{byte('a' + winner)}))
}
