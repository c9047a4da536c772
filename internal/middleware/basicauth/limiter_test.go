package basicauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestLockout: MaxFailures failed checks of a username lock it for Lockout: its requests are
// refused with Tyk's failed-auth answer without running bcrypt, a correct password included,
// unless that password is in the cache of successful checks.
func TestLockout(t *testing.T) {
	type step struct {
		user, pw string
		advance  time.Duration
		ok       bool
		compares int64 // bcrypt runs so far
	}
	wrong := func(user string, compares int64) step { return step{user: user, pw: "wrong", compares: compares} }
	tests := []struct {
		name    string
		caching bool
		steps   []step
	}{
		{name: "known user", steps: []step{
			wrong("alice", 1), wrong("alice", 2), wrong("alice", 3), wrong("alice", 4), wrong("alice", 5),
			{user: "alice", pw: "s3cret", compares: 5},          // locked: refused, no bcrypt
			wrong("alice", 5),                                   // nor for a wrong one
			{user: "bob", pw: "hunter2", ok: true, compares: 6}, // another user is not locked
			{user: "alice", pw: "s3cret", advance: Lockout - time.Second, compares: 6},
			{user: "alice", pw: "s3cret", advance: time.Second, ok: true, compares: 7},
			// A success forgets the failures: five more are needed to lock again.
			wrong("alice", 8), wrong("alice", 9), wrong("alice", 10), wrong("alice", 11),
			{user: "alice", pw: "s3cret", ok: true, compares: 12},
		}},
		{name: "unknown user", steps: []step{
			wrong("mallory", 1), wrong("mallory", 2), wrong("mallory", 3), wrong("mallory", 4), wrong("mallory", 5),
			wrong("mallory", 5), wrong("mallory", 5),
			{user: "mallory", pw: "x", advance: Lockout, compares: 6},
		}},
		{name: "failures older than the window do not count", steps: []step{
			wrong("alice", 1), wrong("alice", 2), wrong("alice", 3), wrong("alice", 4),
			{user: "alice", pw: "wrong", advance: FailureWindow, compares: 5},
			wrong("alice", 6), wrong("alice", 7), wrong("alice", 8),
			{user: "alice", pw: "s3cret", ok: true, compares: 9},
		}},
		{name: "a cached password passes while locked", caching: true, steps: []step{
			{user: "alice", pw: "s3cret", ok: true, compares: 1},
			wrong("alice", 2), wrong("alice", 3), wrong("alice", 4), wrong("alice", 5), wrong("alice", 6),
			{user: "alice", pw: "s3cret", ok: true, compares: 6},
			wrong("alice", 6),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := def()
			d.BasicAuth.DisableCaching = !tc.caching
			f := newFixture(t, d, 0)
			f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, "s3cret"), HashType: "bcrypt"})
			f.user(t, "bob", apidef.BasicAuthData{Password: bcryptOf(t, "hunter2"), HashType: "bcrypt"})
			for i, s := range tc.steps {
				f.now = f.now.Add(s.advance)
				_, err := f.do(basic(s.user, s.pw))
				if st, msg, realm := answer(err); s.ok != (err == nil) || (!s.ok && (st != 401 || msg != MsgNotAuthorised || !realm)) {
					t.Errorf("step %d (%s): got %d %q realm %v, want ok %v (else 401 %q with the realm)", i, s.user, st, msg, realm, s.ok, MsgNotAuthorised)
				}
				if got := f.compares.Load(); got != s.compares {
					t.Errorf("step %d (%s): bcrypt ran %d times in all, want %d", i, s.user, got, s.compares)
				}
			}
		})
	}
}

// TestLimiterFlood: 100,000 random usernames failing keep the limiter within its bound, in
// entries and in memory, and do not free a username it has locked. The first 2,000 go through
// the step (each costs its password check: there is nothing to lock); the rest straight to the
// limiter, as the step calls it, to keep the test fast under the race detector.
func TestLimiterFlood(t *testing.T) {
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	lim := NewLimiter(0)
	now := time.Unix(1_700_000_000, 0)
	var compares int
	a, err := New(def(), Options{Sessions: session.NewManager(store, true), Policies: policy.Set{}, Limiter: lim,
		Now:     func() time.Time { return now },
		Compare: func(hash, pw []byte) error { compares++; return errWrong }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{a: a}
	for range MaxFailures {
		f.do(basic("victim", "guess"))
	}
	if !lim.locked(limiterKey("acme", "victim"), now) {
		t.Fatal("victim not locked")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var b [12]byte
	const viaStep, total = 2_000, 100_000
	for i := range total {
		rand.Read(b[:])
		name := hex.EncodeToString(b[:])
		if i < viaStep {
			if _, err := f.do(basic(name, "pw")); err == nil {
				t.Fatal("a random username passed")
			}
			continue
		}
		lim.fail(limiterKey("acme", name), now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := lim.Len(); n > DefaultMaxTracked || n < DefaultMaxTracked/2 {
		t.Errorf("the limiter follows %d usernames, want up to its bound %d (and most of it)", n, DefaultMaxTracked)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("the heap grew by %d bytes over %d random usernames, want under 8 MiB", grew, total)
	}
	if !lim.locked(limiterKey("acme", "victim"), now) {
		t.Error("the flood freed the locked username")
	}
	if compares != MaxFailures+viaStep {
		t.Errorf("%d password checks, want one per unlocked attempt (%d)", compares, MaxFailures+viaStep)
	}
}

var errWrong = errors.New("wrong password")

// answer is the status, message and whether a WWW-Authenticate came with an error.
func answer(err error) (int, string, bool) {
	var ce *chain.Error
	if !errors.As(err, &ce) {
		return 0, "", false
	}
	return ce.Status, ce.Message, ce.Header.Get("WWW-Authenticate") != ""
}

// TestDummyHashCost: unknown usernames are checked at the cost Gatehouse writes passwords with.
func TestDummyHashCost(t *testing.T) {
	if c, err := bcrypt.Cost(dummyHash()); err != nil || c != BcryptCost {
		t.Errorf("dummy hash cost %d (%v), want %d", c, err, BcryptCost)
	}
}
