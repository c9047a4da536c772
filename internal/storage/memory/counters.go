package memory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// counter is a fixed window.
type counter struct {
	count int64
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
	u, c := s.checkCounter(sh, key, limit, now)
	if u.Allowed {
		u = s.countCounter(sh, key, c, window, now)
	}
	return u, nil
}

// checkCounter returns whether a hit under key would be allowed, and the running window if there
// is one. The shard must be locked.
func (s *Store) checkCounter(sh *shard, key string, limit int64, now instant) (storage.Usage, *counter) {
	c := sh.counters[key]
	if c == nil || now >= c.end {
		return storage.Usage{Allowed: limit > 0}, nil
	}
	return storage.Usage{Allowed: c.count < limit, Used: c.count, Reset: s.toTime(c.end)}, c
}

// countCounter counts a hit under key in c, or in a new window when c is nil. The shard must be
// locked.
func (s *Store) countCounter(sh *shard, key string, c *counter, window time.Duration, now instant) storage.Usage {
	if c == nil {
		if c = sh.counters[key]; c == nil {
			c = new(counter)
			sh.counters[strings.Clone(key)] = c
		}
		*c = counter{end: add(now, window)}
	}
	c.count++
	return storage.Usage{Allowed: true, Used: c.count, Reset: s.toTime(c.end)}
}

// Peek returns the usage of key's current window without counting. Allowed is always true: Peek
// knows no limit. With no window running, Peek returns a zero Usage.
func (s *Store) Peek(_ context.Context, key string) (storage.Usage, error) {
	if s.closed.Load() {
		return storage.Usage{}, errClosed
	}
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return s.peekCounter(sh, key, now), nil
}

// peekCounter is Peek with the shard locked.
func (s *Store) peekCounter(sh *shard, key string, now instant) storage.Usage {
	u, _ := s.checkCounter(sh, key, 1, now)
	u.Allowed = true
	return u
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
