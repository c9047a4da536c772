// Package storage defines the small interfaces the gateway keeps its state behind: keys and other
// values (KV), fixed-window counters for quotas (Counters), sliding windows for rate limits
// (Windows), both at once for a request (Limits), shared documents such as API definitions
// (Documents) and notifications between the gateways sharing a store (Bus). Backends live in
// sub-packages (memory, redis) and all pass the conformance suite in storagetest.
//
// Every method takes a context first and may do I/O. Backends read the time from the clock they
// were built with (a Redis server's own clock), never from the caller, so that several gateways
// sharing one backend agree.
//
// Values, counters, windows and document sets are named from one namespace in a store on the
// network (a Redis database), so callers keep them apart by prefix (apikey-, quota-,
// rate-limit-); Keys lists values only. A negative TTL, or a window of zero or less, is an
// error.
package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotFound is returned by KV.Get for a key that does not exist or has expired, and by
// Documents for a document that does not exist.
var ErrNotFound = errors.New("storage: not found")

// ErrExists is returned by Documents.PutDocument when creating a document that exists, and by
// KV.Create when the key holds a value.
var ErrExists = errors.New("storage: already exists")

// ErrTooLarge is returned by Documents.Document for a document larger than the caller reads.
var ErrTooLarge = errors.New("storage: too large")

// ErrUnavailable marks an error from a store that cannot be reached: nothing was read or
// written, or (for a call cut off mid-way) the caller cannot know whether it was.
var ErrUnavailable = errors.New("storage: the store is unavailable")

// Store is a complete backend.
type Store interface {
	KV
	Counters
	Windows
	Limits
	Documents
	Bus
	// Close releases the backend's resources. The store must not be used afterwards.
	Close() error
}

// KV stores opaque values under string keys, optionally expiring.
type KV interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetCached is Get for the request path: the store may answer from a copy kept on this
	// node, which the store keeps coherent itself (a Redis server tells the node when a key it
	// holds changes), never by age alone. A change made through any node is seen by every node
	// within a fraction of a second. The value must not be changed by the caller. until is when
	// the value stops being valid (its expiry, or an earlier end of this node's copy); zero
	// when neither is known.
	GetCached(ctx context.Context, key string) (value []byte, until time.Time, err error)
	// Set stores value under key. A positive ttl makes it expire after that long; zero keeps it
	// until deleted. The store keeps its own copy of value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Create is Set when key holds no value (an expired one counts as none), in one step that
	// no other writer on any node can come between; else it changes nothing and returns
	// ErrExists.
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Replace is Set when key holds exactly old (an expired value counts as none), in one step
	// that no other writer on any node can come between; else it changes nothing. It reports
	// whether it wrote: a key that was deleted, or changed since old was read, is left as it is
	// (compare-and-set, so that a write made from a stale read cannot undo another's).
	Replace(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key and reports whether it existed.
	Delete(ctx context.Context, key string) (bool, error)
	// Keys returns the keys that start with prefix, in no particular order.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Counters count hits in fixed windows, as quotas do: a window starts with the first hit and
// lasts its length; the next hit after it ends starts a new one at zero.
type Counters interface {
	// Take counts one hit under key if fewer than limit hits were counted in the current window
	// (starting a window of the given length when none is running). A refused hit is not counted.
	Take(ctx context.Context, key string, limit int64, window time.Duration) (Usage, error)
	// Peek returns the current window's usage without counting; with no window running it
	// returns a zero Usage with Allowed true. Allowed is true while a window runs too: Peek
	// knows no limit.
	Peek(ctx context.Context, key string) (Usage, error)
	// Reset ends the current window, so the next Take starts afresh.
	Reset(ctx context.Context, key string) error
}

// WindowSlots is how many slots a sliding window is kept in. See Windows.
const WindowSlots = 50

// SlotLength returns the length of one slot of a sliding window of the given length: the window
// divided by WindowSlots, rounded up to the microsecond, the unit a Redis server's clock gives.
func SlotLength(window time.Duration) time.Duration {
	slot := (window + WindowSlots - 1) / WindowSlots
	return (slot + time.Microsecond - 1).Truncate(time.Microsecond)
}

// Windows count hits in a window that slides with time, as rate limits do: a hit is allowed when
// fewer than limit hits were allowed in the window before it, so there is no double burst at
// the edges of fixed windows, and the memory a window takes does not grow with its limit.
//
// A window is kept as counts in WindowSlots slots of SlotLength(window) each, aligned on
// multiples of the slot length since the Unix epoch. A hit is counted in the slot it falls in
// and leaves the window with the whole slot: it counts for at least the window's length and at
// most one slot longer. So a window never allows more than limit hits in any span of its
// length, and a client that keeps asking gets at least WindowSlots/(WindowSlots+1) of the limit
// per window (98 %). The window's length is part of its identity: a hit with another length
// counts in another window, which starts afresh (a store shared by gateways keeps both, so that
// gateways that disagree on the length for a while cannot start each other's windows afresh).
// A different limit applies at once to the hits counted.
type Windows interface {
	// Hit counts one hit under key if fewer than limit hits were allowed in the last window.
	// A refused hit is not counted. A limit of zero or less refuses every hit and forgets the
	// window.
	Hit(ctx context.Context, key string, limit int64, window time.Duration) (Usage, error)
}

// Limits check a request against a rate limit and a quota together, in one call (one round
// trip to a remote store). In a Redis Cluster the two keys must share a hash slot: give them the
// same {hash tag}, as the session package's names do.
type Limits interface {
	// Limit counts one hit against rate, a sliding window as Windows.Hit counts it, and quota, a
	// fixed-window counter as Counters.Take counts it. The hit is counted by both when both
	// allow it and by neither otherwise: a refused request uses up nothing. A Spec with an empty
	// Key is not checked and its Usage is zero with Allowed true. The rate limit is checked
	// first; when it refuses, the quota's Usage is what Counters.Peek would report.
	Limit(ctx context.Context, rate, quota Spec) (LimitResult, error)
}

// Spec names a window or counter and its limit.
type Spec struct {
	Key    string
	Limit  int64
	Window time.Duration
	// Smooth, for a rate limit, makes the limit applied an allowance that follows the
	// traffic (Tyk's rate limit smoothing); the zero value applies Limit.
	Smooth Smoothing
}

// Smoothing is a rate limit's smoothing: the hits a window allows start at Threshold and move by
// Step, at most once per Delay, up while the window holds at least the allowance less
// Trigger×Step hits (never above the limit) and down while it holds at most the allowance less
// (1+Trigger)×Step (never below Threshold). The allowance is kept with the window and forgotten
// with it, when nothing was counted for a whole window: it then starts at Threshold again.
type Smoothing struct {
	Threshold, Step int64
	Trigger         float64
	Delay           time.Duration
}

// On reports whether s smooths: Threshold, Step and Delay all above 0.
func (s Smoothing) On() bool { return s.Threshold > 0 && s.Step > 0 && s.Delay > 0 }

// Next returns the allowance after allowance, given the hits counted in the window: raised,
// lowered or unchanged.
func (s Smoothing) Next(allowance, counted, limit int64) int64 {
	if float64(counted) >= float64(allowance)-s.Trigger*float64(s.Step) {
		return min(allowance+s.Step, limit)
	}
	if down := allowance - s.Step; float64(counted) <= float64(down)-s.Trigger*float64(s.Step) {
		return max(down, s.Threshold)
	}
	return allowance
}

// LimitResult is the state of both limits after Limits.Limit.
type LimitResult struct {
	// Rate and Quota say whether each limit allowed the hit; the hit was counted only when
	// both did (see Allowed).
	Rate, Quota Usage
}

// Allowed reports whether the hit was allowed, and so counted.
func (r LimitResult) Allowed() bool { return r.Rate.Allowed && r.Quota.Allowed }

// Usage is the state of a counter or window after a call.
type Usage struct {
	// Allowed reports whether the hit was allowed: counted, for Take and Hit.
	Allowed bool
	// Used is the number of hits counted in the window, this one included when counted.
	Used int64
	// Reset is when the count next drops: the end of a fixed window, or for a sliding window
	// the moment its oldest counted hit leaves it. Zero when nothing is counted.
	Reset time.Time
	// Allowance is, for a smoothed rate limit, the hits the window allowed this time (the
	// smoothing's allowance, at most the limit); 0 otherwise. Smoothed is +1 when this call
	// raised it, -1 when it lowered it.
	Allowance int64
	Smoothed  int
}

// Remaining returns how many more hits limit allows after u.
func (u Usage) Remaining(limit int64) int64 {
	if r := limit - u.Used; r > 0 {
		return r
	}
	return 0
}

// Documents keep sets of small JSON documents by id, read a whole set at a time: the API
// definitions and policies a fleet of gateways shares. A set is one unit for the store (one
// Redis hash), so reading it is atomic and costs the same however many other keys the store
// holds.
type Documents interface {
	// Documents returns every document of set by id; an empty set gives an empty map.
	Documents(ctx context.Context, set string) (map[string][]byte, error)
	// Document returns the document id of set, reading nothing else of the set: ErrNotFound
	// when there is none, ErrTooLarge (unread) when it is over maxBytes.
	Document(ctx context.Context, set, id string, maxBytes int) ([]byte, error)
	// SampleDocuments returns at most lim.Count documents of set by id (all of them when the
	// set holds no more; otherwise which ones is unspecified: Redis picks them at random, so
	// that repeated calls see them all), and how many documents the set holds. It bounds the
	// work of reading a set that any client of the store can write to, in count and in size: a
	// document whose id or value is over lim.Bytes is not read (see SampleLimits).
	SampleDocuments(ctx context.Context, set string, lim SampleLimits) (Sample, error)
	// PutDocument stores doc under id in set. With Create the document must not exist
	// (ErrExists), with Update it must (ErrNotFound); with Upsert either is fine.
	PutDocument(ctx context.Context, set, id string, doc []byte, mode PutMode) error
	// DeleteDocument removes id from set and reports whether it existed.
	DeleteDocument(ctx context.Context, set, id string) (bool, error)
}

// SampleLimits bound what SampleDocuments reads.
type SampleLimits struct {
	// Count is the most documents read.
	Count int
	// Bytes is the largest id and the largest document read: a larger one, of those picked,
	// is skipped (counted in Sample.Skipped).
	Bytes int
	// DropLarger removes the documents skipped for their size from the set: for a set whose
	// documents are the caller's own and never that large, so that junk written there by a
	// client of the store is not picked again.
	DropLarger bool
}

// Sample is what SampleDocuments read.
type Sample struct {
	// Docs are the documents read, by id.
	Docs map[string][]byte
	// Skipped counts the documents picked but not read for their size (SampleLimits.Bytes).
	Skipped int
	// Total is how many documents the set held.
	Total int
}

// PutMode says what PutDocument expects of the document it writes.
type PutMode int

// PutDocument modes.
const (
	Upsert PutMode = iota
	Create
	Update
)

// Bus carries notifications between the gateways sharing a store.
type Bus interface {
	// Publish sends msg to every subscriber of channel, on every node (this one included).
	// Messages are delivered at most once each, in no guaranteed order.
	Publish(ctx context.Context, channel string, msg []byte) error
	// Subscribe calls fn with every message published on channel until ctx ends, then returns
	// ctx's error. It calls subscribed (when not nil) each time the subscription is made: once
	// at first, then after each reconnection, when messages may have been missed meanwhile.
	// fn and subscribed run one at a time and must not block for long.
	Subscribe(ctx context.Context, channel string, fn func(msg []byte), subscribed func()) error
}

// CacheEpoch is implemented by stores whose node-local copies (GetCached) are kept coherent
// through connections that can be lost: CacheEpoch changes once coherence is restored after a
// loss (a connection made again, a flushed database), so a caller can tell which of its own
// memories of the store were kept coherent without a break since.
type CacheEpoch interface {
	CacheEpoch() uint64
}

// Leases is implemented by stores that serve part of keys' limits from what a node reserved
// ahead in the shared store (the Redis store's leases, see its package): DropLeases forgets
// what this node holds of the limits of the keys whose names carry one of the hash tags
// ({tag}), so that a change to those keys applies on this node at once. Dropping never lets
// more through; at worst, what was reserved goes unused.
type Leases interface {
	DropLeases(tags []string)
}

// Locker is implemented by stores several nodes share: a lock each node sees, for work that
// reads and writes the same shared document (linking versions to a base API).
type Locker interface {
	// Lock takes name for at most ttl, waiting while another node holds it until ctx ends;
	// release gives it back (a lock not given back ends after ttl).
	Lock(ctx context.Context, name string, ttl time.Duration) (release func(), err error)
}

// LockShared takes mu and, when s is shared by several nodes (a Locker), the lock name across
// them for at most ttl, waiting at most ttl for it: for work that reads shared state and then
// writes it (a check, then a write), which two nodes must not interleave. release gives both
// back. what says, in the error when the lock cannot be had (it wraps ErrUnavailable: try
// again), what is held.
func LockShared(ctx context.Context, s any, mu *sync.Mutex, name string, ttl time.Duration, what string) (release func(), err error) {
	mu.Lock()
	l, ok := s.(Locker)
	if !ok {
		return mu.Unlock, nil
	}
	lctx, cancel := context.WithTimeout(ctx, ttl)
	defer cancel()
	unlock, err := l.Lock(lctx, name, ttl)
	if err != nil {
		mu.Unlock()
		return nil, fmt.Errorf("%w: another gateway of the fleet is %s, or the store does not answer; try again (%v)", ErrUnavailable, what, err)
	}
	return func() { unlock(); mu.Unlock() }, nil
}

// Claims is implemented by stores several nodes share: pieces of work (uptime checks) that one
// node at a time does, writing what it found for the others to read. A claim ends when its
// holder gives it up or stops renewing it; another node may then take it, and goes on from the
// state last written.
type Claims interface {
	// Claim takes the claims on ids in space for holder, or renews those it holds, for ttl each.
	// It returns, per id, whether holder holds it now and the state last put for it (nil when
	// none).
	Claim(ctx context.Context, space, holder string, ids []string, ttl time.Duration) (held []bool, states [][]byte, err error)
	// PutClaimed stores state for id, for ttl, while holder holds its claim; false when it does
	// not (another node took it), and nothing is stored.
	PutClaimed(ctx context.Context, space, holder, id string, state []byte, ttl time.Duration) (bool, error)
	// Unclaim gives up holder's claims on ids; the others' are left alone.
	Unclaim(ctx context.Context, space, holder string, ids []string) error
	// Renew renews the claims on ids holder holds, for ttl each, and takes none. It returns,
	// per id, whether holder holds it, whether no node does, and the state last put for it.
	Renew(ctx context.Context, space, holder string, ids []string, ttl time.Duration) (held, free []bool, states [][]byte, err error)
	// Members counts holder among the nodes of space for ttl (each call renews it) and returns
	// the nodes counted now, sorted: those whose last call is less than their ttl ago.
	Members(ctx context.Context, space, holder string, ttl time.Duration) ([]string, error)
	// Leave stops counting holder among the nodes of space.
	Leave(ctx context.Context, space, holder string) error
}

// Refuser is a store that can answer its probe and still refuse what it is asked, for a state
// of its own an operator must change (Redis out of memory, or a read-only replica): Refusing
// returns the last such refusal, with what to do, while they last, and nil otherwise.
type Refuser interface {
	Refusing() error
}

// Prober is a store on the network, whose health the gateway reports.
type Prober interface {
	// Probe checks that the store answers and returns the round-trip time.
	Probe(ctx context.Context) (time.Duration, error)
	// Describe names the store and where it is, for /hello, e.g. "redis 10.0.0.5:6379".
	Describe() string
}
