package basicauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
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

// TestLimiterFlood: 100,000 random usernames failing, each from an address of its own, keep
// the limiter within its bound, in entries, addresses and memory, and do not free a username
// it has locked. The first 2,000 go through the step (each costs its password check: there is
// nothing to lock); the rest straight to the limiter, as the step calls it, to keep the test
// fast under the race detector.
func TestLimiterFlood(t *testing.T) {
	lim := NewLimiter(0)
	now := time.Unix(1_700_000_000, 0)
	var compares int
	a, err := New(def(), Options{Sessions: newSessions(t), Policies: policy.Set{}, Limiter: lim,
		Now:     func() time.Time { return now },
		Compare: func(hash, pw []byte) error { compares++; return errWrong }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{a: a}
	for range MaxFailures {
		f.do(basic("victim", "guess"))
	}
	victim := lim.keys("acme", "victim", peer)
	if !lim.locked(victim.pair, now) {
		t.Fatal("victim not locked")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var b [12]byte
	const viaStep, total = 2_000, 100_000
	for i := range total {
		rand.Read(b[:])
		name := hex.EncodeToString(b[:8])
		client := netip.AddrFrom4([4]byte(b[8:]))
		if i < viaStep {
			if err := f.from(client, basic(name, "pw")); err == nil {
				t.Fatal("a random username passed")
			}
			continue
		}
		if k := lim.keys("acme", name, client); lim.reserve(k, now) {
			lim.done(k, false, now)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := lim.Len(); n > DefaultMaxTracked || n < DefaultMaxTracked/2 {
		t.Errorf("the limiter follows %d usernames, want up to its bound %d (and most of it)", n, DefaultMaxTracked)
	}
	if n := lim.addrs.len(); n > DefaultMaxTracked {
		t.Errorf("the limiter follows %d addresses, want at most %d", n, DefaultMaxTracked)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 12<<20 {
		t.Errorf("the heap grew by %d bytes over %d random usernames, want under 12 MiB", grew, total)
	}
	if !lim.locked(victim.pair, now) {
		t.Error("the flood freed the locked username")
	}
	if compares != MaxFailures+viaStep {
		t.Errorf("%d password checks, want one per unlocked attempt (%d)", compares, MaxFailures+viaStep)
	}
}

// from runs the step on a request with header as its Authorization, from client.
func (f *fixture) from(client netip.Addr, header string) error {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", header)
	c := &chain.Context{State: &reqctx.State{}, ClientIP: client}
	c.State.Gateway = c
	return f.a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c)
}

// len is how many addresses the book follows.
func (b *addrBook) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// TestAddressFlood: one address locking pair after pair (5 failures each) cannot fill the
// limiter: past MaxPerAddress live usernames its own new names are refused without a check,
// while new usernames from other addresses are still checked; its lockouts hold all along
// (flooding does not drop them), and it gets checks again once its entries expire.
func TestAddressFlood(t *testing.T) {
	lim := NewLimiter(limiterShards * MaxPerAddress) // small, so a flood could fill it
	now := time.Unix(1_700_000_000, 0)
	attacker, other := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.51.100.7")
	victim := lim.keys("acme", "victim", attacker)
	for range MaxFailures {
		if !lim.reserve(victim, now) {
			t.Fatal("the victim's failure was refused before the lockout")
		}
		lim.done(victim, false, now)
	}
	var b [12]byte
	random := func(client netip.Addr) attempt {
		rand.Read(b[:])
		return lim.keys("acme", hex.EncodeToString(b[:]), client)
	}
	checked := 0
	for range 4 * limiterShards * MaxPerAddress {
		k := random(attacker)
		for range MaxFailures {
			if !lim.reserve(k, now) {
				break
			}
			checked++
			lim.done(k, false, now)
		}
		if lim.reserve(victim, now) || !lim.locked(victim.pair, now) {
			t.Fatal("the flood freed the attacker's lockout of the victim")
		}
	}
	if want := (MaxPerAddress - 1) * MaxFailures; checked != want {
		t.Errorf("the flooding address ran %d checks, want %d (its bound of live usernames)", checked, want)
	}
	for i := range 4 * limiterShards * MaxPerAddress {
		k := random(other)
		if !lim.reserve(k, now) {
			t.Fatalf("a new username from another address was refused after %d others", i)
		}
		lim.done(k, true, now)
	}
	if k := random(attacker); lim.reserve(k, now) {
		t.Error("a new username from the flooding address was checked while its entries are live")
	}
	now = now.Add(Lockout)
	if !lim.reserve(victim, now) {
		t.Error("the victim's lockout did not end")
	} else {
		lim.done(victim, false, now)
	}
	now = now.Add(FailureWindow)
	if k := random(attacker); !lim.reserve(k, now) {
		t.Error("a new username from the flooding address was refused after its entries expired")
	}
}

var errWrong = errors.New("wrong password")

// peer is the client address of httptest's requests.
var peer = netip.MustParseAddr("192.0.2.1")

// locked reports whether the entry k is locked at now.
func (l *Limiter) locked(k [16]byte, now time.Time) bool {
	s := l.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.m[k]
	return ok && now.Before(f.locked)
}

// TestConcurrentGuesses: concurrent wrong guesses of one username, from one address, run at
// most MaxFailures password checks: each reserves its attempt before its check. The checks
// are held until every guess is either in its check or answered, so they all overlap.
func TestConcurrentGuesses(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("known user %v", known), func(t *testing.T) {
			sessions := aliceSessions(t, known)
			const guesses = 200
			var inCheck, answered atomic.Int64
			release := make(chan struct{})
			d := def()
			d.BasicAuth.DisableCaching = true
			a, err := New(d, Options{Sessions: sessions, Policies: policy.Set{},
				Compare: func(hash, pw []byte) error { inCheck.Add(1); <-release; return errWrong }})
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{a: a}
			var wg sync.WaitGroup
			refused := atomic.Int64{}
			for range guesses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer answered.Add(1)
					if _, err := f.do(basic("alice", "guess")); err != nil {
						if st, msg, _ := answer(err); st == 401 && msg == MsgNotAuthorised {
							refused.Add(1)
						}
					}
				}()
			}
			for inCheck.Load()+answered.Load() < guesses {
				runtime.Gosched()
			}
			close(release)
			wg.Wait()
			if n := inCheck.Load(); n > MaxFailures {
				t.Errorf("%d concurrent wrong guesses ran %d password checks, want at most %d", guesses, n, MaxFailures)
			}
			if n := refused.Load(); n != guesses {
				t.Errorf("%d of %d guesses answered 401 %q", n, guesses, MsgNotAuthorised)
			}
		})
	}
}

// TestLockoutPerAddress: failures from one address lock the username for that address only
// (for IPv6, its /64); failures of one username from many addresses lock it for all of them
// at MaxUserFailures.
func TestLockoutPerAddress(t *testing.T) {
	d := def()
	d.BasicAuth.DisableCaching = true
	f := newFixture(t, d, 0)
	f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, "s3cret"), HashType: "bcrypt"})
	from := func(addr, pw string) error {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", basic("alice", pw))
		c := &chain.Context{State: &reqctx.State{}, ClientIP: netip.MustParseAddr(addr)}
		c.State.Gateway = c
		return f.a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c)
	}
	for _, attacker := range []string{"203.0.113.9", "2001:db8:1:2::9"} {
		for range MaxFailures {
			if from(attacker, "guess") == nil {
				t.Fatal("a wrong password passed")
			}
		}
		if from(attacker, "s3cret") == nil {
			t.Errorf("%s: the right password passed from the locked address", attacker)
		}
	}
	if from("2001:db8:1:2:ffff::1", "s3cret") == nil {
		t.Error("the right password passed from the same /64 as the locked IPv6 address")
	}
	for _, other := range []string{"198.51.100.7", "2001:db8:1:3::9"} {
		if err := from(other, "s3cret"); err != nil {
			t.Errorf("%s: the right password was refused from another address: %v", other, err)
		}
	}
	// Spread over many addresses, MaxUserFailures failures lock the username everywhere. So
	// far: 2*MaxFailures failures and 2 successes, each one check.
	for i := 0; f.compares.Load() < 2+MaxUserFailures; i++ {
		if i > 10*MaxUserFailures {
			t.Fatal("the guesses stopped being checked")
		}
		if from(fmt.Sprintf("10.0.%d.%d", i/200, i%200), "guess") == nil {
			t.Fatal("a wrong password passed")
		}
	}
	before := f.compares.Load()
	if from("198.51.100.8", "s3cret") == nil {
		t.Error("the right password passed after the username's ceiling of failures")
	}
	if from("10.9.9.9", "guess") == nil || f.compares.Load() != before {
		t.Error("a guess from a new address was checked after the username's ceiling")
	}
	f.now = f.now.Add(Lockout)
	if err := from("198.51.100.8", "s3cret"); err != nil {
		t.Errorf("the right password was refused after the lockout: %v", err)
	}
}

// TestLockedNeverEvicted: a full shard drops only entries that are neither locked nor in
// flight; when all are locked, a new name landing there is refused without a check, and the
// locked entries stay locked.
func TestLockedNeverEvicted(t *testing.T) {
	lim := NewLimiter(limiterShards) // one entry per shard
	now := time.Unix(1_700_000_000, 0)
	// A victim whose two entries are in different shards: with one entry a shard, a name
	// whose entries share one cannot be checked at all.
	var b [12]byte
	victim := lim.keys("acme", "victim", peer)
	for lim.shard(&victim.user) == lim.shard(&victim.pair) {
		rand.Read(b[:])
		victim = lim.keys("acme", hex.EncodeToString(b[:]), peer)
	}
	for range MaxFailures {
		if !lim.reserve(victim, now) {
			t.Fatal("the victim's failure was refused before the lockout")
		}
		lim.done(victim, false, now)
	}
	if !lim.locked(victim.pair, now) {
		t.Fatal("victim not locked")
	}
	full := lim.shard(&victim.pair)
	var refusedThere, checkedThere int
	for range 20_000 {
		rand.Read(b[:])
		k := lim.keys("acme", hex.EncodeToString(b[:8]), netip.AddrFrom4([4]byte(b[8:])))
		ok := lim.reserve(k, now)
		if ok {
			lim.done(k, false, now)
		}
		if lim.shard(&k.pair) == full || lim.shard(&k.user) == full {
			if ok {
				checkedThere++
			} else {
				refusedThere++
			}
		}
		if !lim.locked(victim.pair, now) {
			t.Fatal("a new name dropped the locked entry")
		}
	}
	if checkedThere != 0 || refusedThere == 0 {
		t.Errorf("names landing in the shard full of a locked entry: %d checked, %d refused; want none checked", checkedThere, refusedThere)
	}
	if n := lim.Len(); n > limiterShards {
		t.Errorf("the limiter follows %d entries, want at most %d", n, limiterShards)
	}
	// After the lockout, the entry may be dropped and names land there again.
	now = now.Add(Lockout)
	k := lim.keys("acme", "late", peer)
	for lim.shard(&k.pair) != full || lim.shard(&k.user) == full {
		rand.Read(b[:])
		k = lim.keys("acme", hex.EncodeToString(b[:]), peer)
	}
	if !lim.reserve(k, now) {
		t.Error("a name was refused after the lockout ended")
	}
}

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

// BenchmarkLimiterAttempt is the limiter's cost for one check: the two keys, the reservation
// and its end (a success, as most checks are).
func BenchmarkLimiterAttempt(b *testing.B) {
	lim := NewLimiter(0)
	now := time.Unix(1_700_000_000, 0)
	client := netip.MustParseAddr("2001:db8::1")
	b.ReportAllocs()
	for b.Loop() {
		k := lim.keys("acme", "alice", client)
		if lim.reserve(k, now) {
			lim.done(k, true, now)
		}
	}
}

// TestPanickingCheckReleased: a password check that panics still ends its reservation (as a
// failure), so the username and address get their MaxFailures checks again later, not fewer.
func TestPanickingCheckReleased(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("known user %v", known), func(t *testing.T) {
			sessions := aliceSessions(t, known)
			now := time.Unix(1_700_000_000, 0)
			compares, panicking := 0, true
			a, err := New(def(), Options{Sessions: sessions, Policies: policy.Set{}, Now: func() time.Time { return now },
				Compare: func(hash, pw []byte) error {
					compares++
					if panicking {
						panic("compare")
					}
					return errWrong
				}})
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{a: a}
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("the compare did not panic")
					}
				}()
				f.do(basic("alice", "guess"))
			}()
			panicking = false
			now = now.Add(FailureWindow + Lockout)
			compares = 0
			for range 2 * MaxFailures {
				f.do(basic("alice", "guess"))
			}
			if compares != MaxFailures {
				t.Errorf("after a panicking check, %d checks before the lockout, want %d", compares, MaxFailures)
			}
		})
	}
}

// aliceSessions returns sessions on a fresh store holding the basic auth user alice (password
// s3cret) when known, and no user otherwise.
func aliceSessions(t *testing.T, known bool) *session.Manager {
	t.Helper()
	f := &fixture{sessions: newSessions(t)}
	if known {
		f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, "s3cret"), HashType: "bcrypt"})
	}
	return f.sessions
}

// TestSuccessForgetsPair: a passed check forgets the failures of its username and address (the
// next MaxFailures wrong guesses all run before the lockout) and drops that entry, while the
// username's own count, which other addresses share, stays.
func TestSuccessForgetsPair(t *testing.T) {
	lim := NewLimiter(0)
	now := time.Unix(1_700_000_000, 0)
	k := lim.keys("acme", "alice", peer)
	for range MaxFailures - 1 {
		if !lim.reserve(k, now) {
			t.Fatal("a check was refused before MaxFailures failures")
		}
		lim.done(k, false, now)
	}
	if !lim.reserve(k, now) {
		t.Fatal("the passing check was refused")
	}
	lim.done(k, true, now)
	if n := lim.Len(); n != 1 {
		t.Errorf("after a success the limiter follows %d entries, want 1 (the username's)", n)
	}
	for i := range MaxFailures {
		if !lim.reserve(k, now) {
			t.Fatalf("wrong guess %d after a success was refused, want %d to run", i+1, MaxFailures)
		}
		lim.done(k, false, now)
	}
	if lim.reserve(k, now) {
		t.Errorf("after MaxFailures failures the pair was not locked")
	}
}

// TestAddressesFailingOnceDoNotFillBook: many client addresses (an IPv6 range's /64s), each
// with one failed check, do not keep other clients' new addresses out of the limiter's address
// book: an address with no lockout and no check in flight makes room, as an entry that is only
// counting failures does in the shards. Only addresses with a lockout hold their place.
func TestAddressesFailingOnceDoNotFillBook(t *testing.T) {
	lim := NewLimiter(64)
	now := time.Unix(1_000_000, 0)
	for i := range 64 {
		// One failure each, under one username: nothing locked (MaxUserFailures is higher).
		client := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 1})
		k := lim.keys("acme", "guess", client)
		if !lim.reserve(k, now) {
			t.Fatalf("attacker address %d refused", i)
		}
		lim.done(k, false, now)
	}
	user := lim.keys("acme", "alice", netip.MustParseAddr("192.0.2.7"))
	if !lim.reserve(user, now.Add(time.Second)) {
		t.Fatal("a new client address is refused without a check: addresses that each failed once fill the address book")
	}
	lim.done(user, true, now.Add(time.Second))
}

// TestRefusedAddressLeavesNoEntries: the usernames an address is refused past MaxPerAddress
// leave nothing in the limiter's shards. Each would otherwise make room for itself by
// dropping an entry that is only counting failures, so one address could flood refused
// usernames until its own partial count against a victim was dropped, then guess again:
// MaxFailures would never lock it.
func TestRefusedAddressLeavesNoEntries(t *testing.T) {
	lim := NewLimiter(limiterShards * MaxPerAddress)
	now := time.Unix(1_700_000_000, 0)
	attacker := netip.MustParseAddr("203.0.113.9")
	victim := lim.keys("acme", "victim", attacker)
	for range MaxFailures - 1 {
		if !lim.reserve(victim, now) {
			t.Fatal("the victim's failure was refused before the lockout")
		}
		lim.done(victim, false, now)
	}
	var b [12]byte
	admitted := 0
	for range 20 * limiterShards * MaxPerAddress {
		rand.Read(b[:])
		k := lim.keys("acme", hex.EncodeToString(b[:]), attacker)
		if lim.reserve(k, now) {
			admitted++
			lim.done(k, false, now)
		}
	}
	if admitted != MaxPerAddress-1 {
		t.Errorf("the flooding address had %d new usernames checked, want %d", admitted, MaxPerAddress-1)
	}
	// Its admitted usernames and the victim: one username entry and one pair entry each.
	if n := lim.Len(); n > 2*MaxPerAddress {
		t.Errorf("after a flood of refused usernames the limiter follows %d entries, want at most %d", n, 2*MaxPerAddress)
	}
	if !lim.reserve(victim, now) {
		t.Fatal("the victim's last failure before the lockout was refused")
	}
	lim.done(victim, false, now)
	if lim.reserve(victim, now) {
		lim.done(victim, false, now)
		t.Errorf("%d failures did not lock the username for the address: the flood dropped its count", MaxFailures)
	}
}
