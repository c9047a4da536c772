// Package memory is the default, single-node storage backend. It keeps everything in the
// process's memory, in maps split into shards that each have their own lock, so that concurrent
// requests for different keys rarely wait for each other.
//
// Expired values, counters whose window has ended and sliding windows with no hit left in them
// are invisible at once and freed by a background sweep, which Close stops.
//
// Methods ignore their context: none of them blocks on anything but a shard's lock, which is
// held only for a few map operations.
package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gatehouse/gatehouse/internal/storage"
)

const (
	numShards            = 64
	defaultSweepInterval = time.Minute
)

var errClosed = errors.New("memory: store is closed")

// Store is an in-memory storage.Store. It is safe for concurrent use.
type Store struct {
	clock func() time.Time
	// base is the clock's time when the store was built. The store keeps instants as
	// nanoseconds since base: half the size of a time.Time, cheaper to compare, and, with a
	// clock that has a monotonic reading such as time.Now, immune to jumps of the wall clock.
	base time.Time
	// seed is random per store, so that clients choosing keys (API keys, addresses) cannot
	// steer them all into one shard.
	seed   maphash.Seed
	shards [numShards]shard

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	// done is closed when the sweeper has returned; nil when there is no sweeper.
	done chan struct{}
}

// Option configures a Store.
type Option func(*options)

type options struct {
	clock         func() time.Time
	sweepInterval time.Duration
}

// WithClock makes the store read the time from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithSweepInterval sets how often the background sweep frees expired entries; the default is
// every minute. A zero or negative interval disables the sweep: expired entries stay invisible,
// but only overwriting or deleting their keys frees them.
func WithSweepInterval(d time.Duration) Option {
	return func(o *options) { o.sweepInterval = d }
}

// New returns an empty Store. Unless the sweep is disabled, it starts a goroutine that runs
// until Close.
func New(opts ...Option) *Store {
	o := options{clock: time.Now, sweepInterval: defaultSweepInterval}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{clock: o.clock, seed: maphash.MakeSeed()}
	s.base = s.clock()
	for i := range s.shards {
		s.shards[i].kv = make(map[string]entry)
		s.shards[i].counters = make(map[string]*counter)
		s.shards[i].windows = make(map[string]*sliding)
	}
	if o.sweepInterval > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.sweepLoop(o.sweepInterval)
	}
	return s
}

// Close stops the background sweep and waits for it to return. Afterwards every method returns
// an error. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

// instant is a point in time as nanoseconds since Store.base.
type instant int64

// never is later than any instant the clock can reach.
const never instant = math.MaxInt64

func (s *Store) now() instant { return instant(s.clock().Sub(s.base)) }

func (s *Store) toTime(i instant) time.Time { return s.base.Add(time.Duration(i)) }

// add returns i+d, saturating, so that a huge TTL or window means "never" rather than
// wrapping into the past.
func add(i instant, d time.Duration) instant {
	if d > 0 && i > never-instant(d) {
		return never
	}
	if d < 0 && i < math.MinInt64-instant(d) {
		return math.MinInt64
	}
	return i + instant(d)
}

// shardState is what a shard holds; shard pads it to a multiple of 128 bytes, so that two
// shards never share a cache line (or an adjacent-line prefetch pair) and locking one does not
// slow down cores working with its neighbour.
type shardState struct {
	mu       sync.Mutex
	kv       map[string]entry
	counters map[string]*counter
	windows  map[string]*sliding
}

type shard struct {
	shardState
	_ [128 - unsafe.Sizeof(shardState{})%128]byte
}

func (s *Store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)%numShards]
}

// entry is a stored value. The value slice is never written after it is stored: Set replaces
// it. That lets Get copy it outside the shard's lock.
type entry struct {
	value   []byte
	expires instant // never when the entry has no TTL
}

// Get returns a copy of the value under key, or storage.ErrNotFound if there is none or it has
// expired.
func (s *Store) Get(_ context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.kv[key]
	sh.mu.Unlock()
	// Reading the clock only for entries with a TTL keeps it off the common path.
	if !ok || e.expires != never && s.now() >= e.expires {
		return nil, storage.ErrNotFound
	}
	v := make([]byte, len(e.value))
	copy(v, e.value)
	return v, nil
}

// Set stores a copy of value under key. A positive ttl makes it expire after that long, zero
// keeps it until deleted; a negative ttl is an error.
func (s *Store) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	if ttl < 0 {
		return fmt.Errorf("memory: set %q: negative ttl %v", key, ttl)
	}
	e := entry{value: make([]byte, len(value)), expires: never}
	copy(e.value, value)
	if ttl > 0 {
		e.expires = add(s.now(), ttl)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.kv[key]; !ok {
		// The map keeps the key it was first given; a key sliced from a large request buffer
		// would otherwise pin the whole buffer for as long as the entry lives.
		key = strings.Clone(key)
	}
	sh.kv[key] = e
	return nil
}

// Delete removes key and reports whether it held a value that had not expired.
func (s *Store) Delete(_ context.Context, key string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.kv[key]
	delete(sh.kv, key)
	sh.mu.Unlock()
	return ok && (e.expires == never || s.now() < e.expires), nil
}

// Keys returns the keys with a value that start with prefix, in no particular order. It visits
// every shard, so it costs time in proportion to the number of values stored.
func (s *Store) Keys(_ context.Context, prefix string) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var keys []string
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.kv {
			if now < e.expires && strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		sh.mu.Unlock()
	}
	return keys, nil
}

// counter is a fixed window.
type counter struct {
	count int64
	// limit is the one given to the last Take, kept for Peek, which is given none.
	limit int64
	end   instant
}

// Take counts a hit under key if fewer than limit hits were counted in the current window,
// starting a window of the given length when none is running. A window keeps the length it
// started with; a different limit applies at once to the hits already counted. A limit of zero
// or less refuses every hit and starts no window. window must be positive.
func (s *Store) Take(_ context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	if s.closed.Load() {
		return storage.Usage{}, errClosed
	}
	if window <= 0 {
		return storage.Usage{}, fmt.Errorf("memory: take %q: window %v is not positive", key, window)
	}
	// The clock is read before locking to keep the critical section short; a caller that
	// waited for the lock counts as of when it arrived.
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.counters[key]
	if c == nil || now >= c.end {
		if limit <= 0 {
			if c != nil {
				delete(sh.counters, key)
			}
			return storage.Usage{}, nil
		}
		if c == nil {
			c = new(counter)
			sh.counters[strings.Clone(key)] = c
		}
		*c = counter{count: 1, limit: limit, end: add(now, window)}
		return storage.Usage{Allowed: true, Used: 1, Reset: s.toTime(c.end)}, nil
	}
	c.limit = limit
	allowed := c.count < limit
	if allowed {
		c.count++
	}
	return storage.Usage{Allowed: allowed, Used: c.count, Reset: s.toTime(c.end)}, nil
}

// Peek returns the usage of key's current window without counting. Allowed reports whether a
// Take with the limit of the last one would be allowed. With no window running, Peek returns a
// zero Usage with Allowed true.
func (s *Store) Peek(_ context.Context, key string) (storage.Usage, error) {
	if s.closed.Load() {
		return storage.Usage{}, errClosed
	}
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.counters[key]
	if c == nil || now >= c.end {
		return storage.Usage{Allowed: true}, nil
	}
	return storage.Usage{Allowed: c.count < c.limit, Used: c.count, Reset: s.toTime(c.end)}, nil
}

// Reset ends key's current window, if one is running.
func (s *Store) Reset(_ context.Context, key string) error {
	if s.closed.Load() {
		return errClosed
	}
	sh := s.shard(key)
	sh.mu.Lock()
	delete(sh.counters, key)
	sh.mu.Unlock()
	return nil
}

// Hit counts a hit under key if fewer than limit hits were allowed in the last window. window
// must be positive.
//
// The store keeps, per key, the times of the allowed hits still in the window, at most limit of
// them: only the newest limit hits can decide whether the next is allowed. When limit is lowered
// the oldest times beyond it are dropped, so Used reports at most the new limit and Reset is
// when the next hit would be allowed; were the limit raised again, the dropped hits would not
// count. When limit is raised, room for more times is made as hits arrive. A window's length may
// change between calls too: each call counts the hits within its own length, from those still
// kept. A limit of zero or less refuses every hit and forgets the key.
func (s *Store) Hit(_ context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	if s.closed.Load() {
		return storage.Usage{}, errClosed
	}
	if window <= 0 {
		return storage.Usage{}, fmt.Errorf("memory: hit %q: window %v is not positive", key, window)
	}
	// The clock is read before locking to keep the critical section short. Callers racing
	// for the lock may then arrive out of order, which sliding.hit makes up for.
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	w := sh.windows[key]
	if w == nil {
		if limit <= 0 {
			return storage.Usage{}, nil
		}
		w = new(sliding)
		sh.windows[strings.Clone(key)] = w
	}
	allowed := w.hit(now, limit, window)
	if w.n == 0 {
		delete(sh.windows, key)
		return storage.Usage{}, nil
	}
	return storage.Usage{Allowed: allowed, Used: int64(w.n), Reset: s.toTime(add(w.oldest(), window))}, nil
}

// sliding is a sliding window: a ring buffer of the times of allowed hits, oldest first.
type sliding struct {
	ring []instant
	head int // index of the oldest time
	n    int // number of times kept
	// length is the window length of the last hit, for the sweep.
	length time.Duration
}

// minRing is the smallest ring a window grows to, so that keys making a handful of hits need
// no more than one or two allocations.
const minRing = 4

func (w *sliding) oldest() instant { return w.ring[w.head] }

func (w *sliding) newest() instant { return w.ring[w.index(w.n-1)] }

// index returns the ring index of the i-th oldest time.
func (w *sliding) index(i int) int {
	j := w.head + i
	if j >= len(w.ring) {
		j -= len(w.ring)
	}
	return j
}

// hit counts a hit at now if fewer than limit of the kept times are within length of it, and
// reports whether it did. Amortised O(1): each time is added and dropped once.
func (w *sliding) hit(now instant, limit int64, length time.Duration) bool {
	w.length = length
	if w.n > 0 {
		// Dropping from the head relies on the ring being sorted, so a time read earlier than
		// the newest kept (by a caller that lost the race for the lock, or from a clock that
		// stepped back) is recorded as the newest.
		now = max(now, w.newest())
	}
	cutoff := add(now, -length)
	for w.n > 0 && w.oldest() <= cutoff {
		w.drop(1)
	}
	if int64(w.n) > limit {
		w.drop(w.n - int(max(limit, 0)))
	}
	if int64(len(w.ring)) > limit {
		w.resize(int(max(limit, 0)))
	}
	if int64(w.n) >= limit {
		return false
	}
	if w.n == len(w.ring) {
		w.resize(int(min(max(2*int64(len(w.ring)), minRing), limit)))
	}
	w.ring[w.index(w.n)] = now
	w.n++
	return true
}

// drop forgets the k oldest times.
func (w *sliding) drop(k int) {
	w.n -= k
	if w.n == 0 {
		w.head = 0
		return
	}
	w.head = w.index(k)
}

// resize moves the kept times, oldest first, into a ring of size n ≥ w.n.
func (w *sliding) resize(n int) {
	ring := make([]instant, n)
	if w.n > 0 {
		if end := w.head + w.n; end <= len(w.ring) {
			copy(ring, w.ring[w.head:end])
		} else {
			k := copy(ring, w.ring[w.head:])
			copy(ring[k:], w.ring[:w.n-k])
		}
	}
	w.ring, w.head = ring, 0
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep frees expired values, ended counters and windows with no hit left in them. It locks one
// shard at a time, so requests wait at most for one shard's sweep.
func (s *Store) sweep() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		now := s.now()
		for k, e := range sh.kv {
			if now >= e.expires {
				delete(sh.kv, k)
			}
		}
		for k, c := range sh.counters {
			if now >= c.end {
				delete(sh.counters, k)
			}
		}
		for k, w := range sh.windows {
			if w.n == 0 || now >= add(w.newest(), w.length) {
				delete(sh.windows, k)
			}
		}
		sh.mu.Unlock()
	}
}
