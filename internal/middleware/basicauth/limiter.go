package basicauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// Failure limiter settings.
const (
	// MaxFailures is how many failed checks of one username from one client address, within
	// FailureWindow, lock that username for that address.
	MaxFailures = 5
	// MaxUserFailures is how many failed checks of one username from all addresses together,
	// within FailureWindow, lock the username for every address: the bound on guessing spread
	// over many addresses.
	MaxUserFailures = 100
	// FailureWindow is how long failures count: an entry whose first counted failure is
	// older starts counting again.
	FailureWindow = time.Minute
	// Lockout is how long a locked entry is refused without a password check.
	Lockout = 30 * time.Second
	// DefaultMaxTracked bounds how many entries the limiter follows (username and address
	// pairs and usernames together), and how many client addresses it follows.
	DefaultMaxTracked = 16384
	// MaxPerAddress is how many usernames one client address may have live entries for at
	// once (failures still counting, locked, or a check in flight): past it, a new username
	// from that address is refused without a password check until one of its entries
	// expires. It keeps one address from filling the limiter with locked entries, which would
	// refuse other clients' new usernames; only the address itself is refused.
	MaxPerAddress = 64
	limiterShards = 16
)

// Limiter counts failed basic auth checks per username and client address, and per username
// across all addresses. A check first reserves an attempt on both (reserve): it is refused,
// without running bcrypt, when the entry is locked or when its failures plus the attempts in
// flight reach the limit, so concurrent guesses cannot run more checks than the limit allows.
// MaxFailures failures of a username from one address lock that pair for Lockout: an attacker
// locks out only their own address. MaxUserFailures failures of a username from any addresses
// lock the username everywhere. Entries are keyed by HMAC-SHA256 under a random secret of the
// process, so their shards and keys cannot be computed offline; the number followed is
// bounded, and an entry that is locked or has attempts in flight is never dropped to make
// room: when a shard holds nothing else, a new name is refused without a password check.
// So that one address cannot fill shards with locked entries, an address holds at most
// MaxPerAddress live pairs (addrBook); past that its own new names are refused, and its live
// entries are never dropped for it, so flooding does not reset its lockouts either.
type Limiter struct {
	secret   [32]byte
	macs     sync.Pool // of HMAC-SHA256 under secret
	shards   [limiterShards]limiterShard
	perShard int
	addrs    addrBook
}

type limiterShard struct {
	mu sync.Mutex
	m  map[[16]byte]*failures
}

type failures struct {
	count    int
	inFlight int
	first    time.Time // first failure counted
	locked   time.Time // locked until then (zero: not locked)
}

// NewLimiter returns a limiter following at most n entries (DefaultMaxTracked when n is not
// positive).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = DefaultMaxTracked
	}
	l := &Limiter{perShard: max(n/limiterShards, 1)}
	if _, err := rand.Read(l.secret[:]); err != nil {
		panic("basicauth: no randomness for the limiter's secret: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	l.macs.New = func() any { return hmac.New(sha256.New, l.secret[:]) }
	for i := range l.shards {
		l.shards[i].m = make(map[[16]byte]*failures)
	}
	l.addrs.m = make(map[[16]byte]*addrEntries)
	l.addrs.max = n
	return l
}

// attempt is the limiter's keys for one check: the username's and the username and client
// address pair's.
type attempt struct {
	user, pair [16]byte
	addr       [16]byte // the client address (IPv6: its /64), as counted by addrBook
}

// keys returns the keys of a username of an org checked from client (for IPv6, its /64; an
// invalid address is one address of its own). Each key's HMAC input starts with its kind and
// holds the org and the username with their lengths, so no username's key is another pair's.
func (l *Limiter) keys(orgID, username string, client netip.Addr) attempt {
	if client.Is6() && !client.Is4In6() {
		p, _ := client.Prefix(64)
		client = p.Addr()
	}
	client = client.Unmap()
	addr := client.AsSlice()
	m := l.macs.Get().(hash.Hash)
	defer l.macs.Put(m)
	var buf [128]byte
	in := buf[:0]
	for _, s := range [2]string{orgID, username} {
		in = binary.AppendUvarint(in, uint64(len(s)))
		in = append(in, s...)
	}
	var sum [sha256.Size]byte
	var a attempt
	for i, k := range [2]*[16]byte{&a.user, &a.pair} {
		m.Reset()
		m.Write([]byte{byte(i)})
		m.Write(in)
		if i == 1 {
			m.Write(addr)
		}
		copy(k[:], m.Sum(sum[:0]))
	}
	a.addr = client.As16()
	return a
}

func (l *Limiter) shard(k *[16]byte) *limiterShard { return &l.shards[k[0]%limiterShards] }

// reserve reserves a check of a at now: false when the pair or the username is locked, or
// their failures and checks in flight reach their limits (or no room is left to follow them).
// After a true, the caller must call done exactly once.
//
// The address book is asked first: a username refused there must leave nothing in the
// shards, since a new entry makes room by dropping one that is only counting failures, and
// an address flooding refused usernames could otherwise drop its own count against a victim.
func (l *Limiter) reserve(a attempt, now time.Time) bool {
	if !l.addrs.admit(a.addr, a.pair, now) {
		return false
	}
	if !l.reserveOne(a.user, MaxUserFailures, now) {
		l.addrs.finish(a.addr, a.pair, time.Time{}, false, false, now)
		return false
	}
	if !l.reserveOne(a.pair, MaxFailures, now) {
		l.addrs.finish(a.addr, a.pair, time.Time{}, false, false, now)
		l.release(a.user, MaxUserFailures, false, false, now)
		return false
	}
	return true
}

// done ends a reserved check of a: a failure counts against the pair and the username; a
// success forgets the pair's failures (the username's stay: they may be other addresses').
func (l *Limiter) done(a attempt, ok bool, now time.Time) {
	until, locked := l.release(a.pair, MaxFailures, !ok, ok, now)
	l.addrs.finish(a.addr, a.pair, until, locked, ok, now)
	l.release(a.user, MaxUserFailures, !ok, false, now)
}

func (l *Limiter) reserveOne(k [16]byte, limit int, now time.Time) bool {
	s := l.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.m[k]
	if !ok {
		if len(s.m) >= l.perShard && !s.evict(now) {
			return false // the shard holds only locked or busy entries: refuse, never drop one
		}
		f = &failures{}
		s.m[k] = f
	}
	if now.Before(f.locked) {
		return false
	}
	if !f.locked.IsZero() || (f.count > 0 && now.Sub(f.first) >= FailureWindow) {
		f.count, f.locked = 0, time.Time{} // the lockout or the window is over
	}
	if f.count+f.inFlight >= limit {
		return false
	}
	f.inFlight++
	return true
}

// release ends a reserved check of k, counting a failure when failed; when forget, a check
// that did not fail drops k's entry, its failures with it, unless another check of k is in
// flight. After a failure it returns until when the entry stays live: the end of its lockout
// (locked), or of its window of failures; otherwise the zero time.
func (l *Limiter) release(k [16]byte, limit int, failed, forget bool, now time.Time) (until time.Time, locked bool) {
	s := l.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.m[k]
	if !ok {
		return time.Time{}, false // cannot happen: an entry with checks in flight is never dropped
	}
	f.inFlight--
	if !failed {
		if forget && f.inFlight == 0 {
			delete(s.m, k)
		}
		return time.Time{}, false
	}
	if now.Before(f.locked) {
		return f.locked, true // a lockout is not extended by a failure that was already in flight
	}
	if !f.locked.IsZero() || f.count == 0 || now.Sub(f.first) >= FailureWindow {
		f.count, f.first, f.locked = 0, now, time.Time{}
	}
	f.count++
	if f.count >= limit {
		f.locked = now.Add(Lockout)
		return f.locked, true
	}
	return f.first.Add(FailureWindow), false
}

// evict drops one entry that is neither locked at now nor has checks in flight (the first
// met; map order is random); false when there is none.
func (s *limiterShard) evict(now time.Time) bool {
	for k, f := range s.m {
		if f.inFlight == 0 && !now.Before(f.locked) {
			delete(s.m, k)
			return true
		}
	}
	return false
}

// Len is how many entries the limiter follows.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
