package basicauth

import (
	"sync"
	"time"
)

// cache remembers successful password checks until they expire. It holds at most max entries:
// when full, expired entries go first, then an arbitrary one, so memory stays bounded whatever
// credentials clients send (only correct ones are ever added).
type cache struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	m   map[[32]byte]time.Time // expiry by cacheKey
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, m: make(map[[32]byte]time.Time)}
}

// hit reports whether k holds a check that has not expired at now.
func (c *cache) hit(k [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[k]
	if !ok {
		return false
	}
	if now.Before(exp) {
		return true
	}
	delete(c.m, k)
	return false
}

// add remembers k until now plus the TTL.
func (c *cache) add(k [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old, exp := range c.m {
			if !now.Before(exp) {
				delete(c.m, old)
			}
		}
		// A full cache of live entries drops one; a bcrypt check came before this add, so
		// the sweep above runs at most once per bcrypt.
		for old := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, old)
		}
	}
	c.m[k] = now.Add(c.ttl)
}

// len returns the number of entries (for tests).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
