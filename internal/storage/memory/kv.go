package memory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// entry is a stored value. The value slice is never written after it is stored: Set replaces
// it. That lets Get copy it outside the shard's lock, and GetCached return it as it is.
type entry struct {
	value   []byte
	expires instant // never when the entry has no TTL
}

// Get returns a copy of the value under key, or storage.ErrNotFound if there is none or it has
// expired.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.GetCached(ctx, key)
	if err != nil {
		return nil, err
	}
	c := make([]byte, len(v))
	copy(c, v)
	return c, nil
}

// GetCached returns the value under key as stored, without copying it: the caller must not
// change it. The store itself never changes a stored value, so it is as fresh as Get's. until
// is the value's expiry, zero for one without.
func (s *Store) GetCached(_ context.Context, key string) ([]byte, time.Time, error) {
	if s.closed.Load() {
		return nil, time.Time{}, errClosed
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.kv[key]
	sh.mu.Unlock()
	if !ok {
		return nil, time.Time{}, storage.ErrNotFound
	}
	// Reading the clock only for entries with a TTL keeps it off the common path.
	if e.expires == never {
		return e.value, time.Time{}, nil
	}
	if s.now() >= e.expires {
		return nil, time.Time{}, storage.ErrNotFound
	}
	return e.value, s.toTime(e.expires), nil
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
