// Package memory is the default, single-node storage backend. It keeps everything in the
// process's memory, in maps split into shards that each have their own lock, so that concurrent
// requests for different keys rarely wait for each other.
//
// Expired values, counters whose window has ended and sliding windows with no hit left in them
// are invisible at once and freed by a background sweep, which Close stops.
//
// Methods ignore their context, but for Publish and Subscribe: none of the others blocks on
// anything but a lock, held only for a few map operations. Notifications reach the subscribers
// of the same Store, so gateways sharing one Store in a process (tests) form a fleet.
package memory

import (
	"errors"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
	// baseUnix is base in nanoseconds since the Unix epoch, to place instants on the slots of
	// sliding windows, which are aligned on the epoch.
	baseUnix int64
	// seed is random per store, so that clients choosing keys (API keys, addresses) cannot
	// steer them all into one shard.
	seed   maphash.Seed
	shards [numShards]shard

	docs docStore
	bus  bus

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
	s.baseUnix = s.base.UnixNano()
	for i := range s.shards {
		s.shards[i].kv = make(map[string]entry)
		s.shards[i].counters = make(map[string]*counter)
		s.shards[i].windows = make(map[string]*sliding)
	}
	s.bus.closed = make(chan struct{})
	if o.sweepInterval > 0 {
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.sweepLoop(o.sweepInterval)
	}
	return s
}

// Close stops the background sweep and waits for it to return, and ends every subscription.
// Afterwards every method returns an error. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.bus.closed)
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

// unix returns i in nanoseconds since the Unix epoch, saturating.
func (s *Store) unix(i instant) int64 { return int64(add(instant(s.baseUnix), time.Duration(i))) }

// fromUnix returns the instant of ns nanoseconds since the Unix epoch, saturating.
func (s *Store) fromUnix(ns int64) instant { return add(instant(ns), -time.Duration(s.baseUnix)) }

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

func (s *Store) shard(key string) *shard { return &s.shards[s.shardIndex(key)] }

func (s *Store) shardIndex(key string) int { return int(maphash.String(s.seed, key) % numShards) }

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
		abs := s.unix(now)
		for k, w := range sh.windows {
			if w.empty(abs) {
				delete(sh.windows, k)
			}
		}
		sh.mu.Unlock()
	}
}
