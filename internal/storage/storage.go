// Package storage defines the small interfaces the gateway keeps its state behind: keys and other
// values (KV), fixed-window counters for quotas (Counters) and sliding windows for rate limits
// (Windows). Backends live in sub-packages (memory, redis) and all pass the conformance suite in
// storagetest.
//
// Every method takes a context first and may do I/O. Backends read the time from the clock they
// were built with, never from the caller, so that several gateways sharing one backend agree.
//
// KV keys, counters and windows live in separate namespaces: the same name used as a value and as
// a counter names two different things, and Keys lists values only. A negative TTL, or a window
// of zero or less, is an error.
package storage

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by KV.Get for a key that does not exist or has expired.
var ErrNotFound = errors.New("storage: not found")

// Store is a complete backend.
type Store interface {
	KV
	Counters
	Windows
	// Close releases the backend's resources. The store must not be used afterwards.
	Close() error
}

// KV stores opaque values under string keys, optionally expiring.
type KV interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key. A positive ttl makes it expire after that long; zero keeps it
	// until deleted. The store keeps its own copy of value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
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
	// returns a zero Usage with Allowed true. While a window runs, Allowed says whether a Take
	// with the limit of the last Take would be allowed.
	Peek(ctx context.Context, key string) (Usage, error)
	// Reset ends the current window, so the next Take starts afresh.
	Reset(ctx context.Context, key string) error
}

// Windows count hits in a window that slides with time, as rate limits do: a hit is allowed when
// fewer than limit hits were allowed in the window's length before it, so there is no double
// burst at the edge of fixed windows.
type Windows interface {
	// Hit counts one hit under key if fewer than limit hits were allowed in the last window.
	// A refused hit is not counted.
	Hit(ctx context.Context, key string, limit int64, window time.Duration) (Usage, error)
}

// Usage is the state of a counter or window after a call.
type Usage struct {
	// Allowed reports whether the hit was counted.
	Allowed bool
	// Used is the number of hits counted in the window, this one included when allowed.
	Used int64
	// Reset is when the count next drops: the end of a fixed window, or for a sliding window the
	// moment its oldest counted hit leaves it. Zero when nothing is counted.
	Reset time.Time
}

// Remaining returns how many more hits limit allows after u.
func (u Usage) Remaining(limit int64) int64 {
	if r := limit - u.Used; r > 0 {
		return r
	}
	return 0
}
