package basicauth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Failure limiter settings.
const (
	// MaxFailures is how many failed checks of one username, within FailureWindow, lock it.
	MaxFailures = 5
	// FailureWindow is how long failures count: a username whose first counted failure is
	// older starts counting again.
	FailureWindow = time.Minute
	// Lockout is how long a locked username is refused without a password check.
	Lockout = 30 * time.Second
	// DefaultMaxTracked bounds how many usernames the limiter follows.
	DefaultMaxTracked = 16384
	limiterShards     = 16
	// evictProbe is how many entries a full shard looks at for one that is not locked.
	evictProbe = 8
)

// Limiter counts failed basic auth checks per username and locks a username for Lockout after
// MaxFailures within FailureWindow: while locked, its requests are refused with Tyk's answer
// for a failed check, without running bcrypt, so neither guessing passwords nor burning the
// gateway's CPU with bcrypt goes faster than MaxFailures checks per Lockout per username.
// Usernames are held as a truncated SHA-256 of the org and the name, never as given; the
// number followed is bounded (when full, a shard drops an entry, preferring one that is not
// locked), so a flood of random usernames costs a bounded amount of memory.
type Limiter struct {
	shards   [limiterShards]limiterShard
	perShard int
}

type limiterShard struct {
	mu sync.Mutex
	m  map[[16]byte]*failures
}

type failures struct {
	count  int
	first  time.Time // first failure counted
	locked time.Time // locked until then (zero: not locked)
}

// NewLimiter returns a limiter following at most max usernames (DefaultMaxTracked when max is
// not positive).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = DefaultMaxTracked
	}
	l := &Limiter{perShard: max(n/limiterShards, 1)}
	for i := range l.shards {
		l.shards[i].m = make(map[[16]byte]*failures)
	}
	return l
}

// limiterKey is the key of a username of an org.
func limiterKey(orgID, username string) [16]byte {
	h := sha256.New()
	h.Write([]byte(orgID))
	h.Write([]byte{0})
	h.Write([]byte(username))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var k [16]byte
	copy(k[:], sum[:])
	return k
}

func (l *Limiter) shard(k *[16]byte) *limiterShard { return &l.shards[k[0]%limiterShards] }

// locked reports whether k is locked at now.
func (l *Limiter) locked(k [16]byte, now time.Time) bool {
	s := l.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.m[k]
	return ok && now.Before(f.locked)
}

// fail counts a failure of k at now, locking it at the MaxFailures-th.
func (l *Limiter) fail(k [16]byte, now time.Time) {
	s := l.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.m[k]
	if !ok {
		if len(s.m) >= l.perShard {
			s.evict(now)
		}
		f = &failures{}
		s.m[k] = f
	}
	if now.Before(f.locked) {
		return // a lockout is not extended by the failures it refuses
	}
	if f.count == 0 || now.Sub(f.first) >= FailureWindow || !f.locked.IsZero() {
		f.count, f.first, f.locked = 0, now, time.Time{}
	}
	f.count++
	if f.count >= MaxFailures {
		f.locked = now.Add(Lockout)
	}
}

// succeed forgets k's failures.
func (l *Limiter) succeed(k [16]byte) {
	s := l.shard(&k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// evict drops one entry: among a few, the first not locked at now, else the last looked at.
func (s *limiterShard) evict(now time.Time) {
	n := 0
	var victim [16]byte
	for k, f := range s.m {
		victim = k
		if !now.Before(f.locked) {
			break
		}
		if n++; n == evictProbe {
			break
		}
	}
	delete(s.m, victim)
}

// Len is how many usernames the limiter follows.
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
