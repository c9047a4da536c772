package memory

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// entry is a stored value. A value and its key share one allocation: the map's key is a string
// over the allocation's first bytes and value points at the bytes after them. One allocation
// instead of two, and an entry of 24 bytes instead of 32, is about a third less memory per
// stored key beyond the value itself (docs/performance.md, Memory).
//
// The bytes are never written after they are stored: Set replaces the allocation. That lets Get
// copy the value outside the shard's lock, and GetCached return it as it is.
type entry struct {
	value   *byte // the value's first byte; nil for an empty value
	n       int   // the value's length
	expires instant
}

// bytes returns the stored value. Its capacity is its length, so that a caller appending to it
// gets a copy instead of writing over memory the store owns.
func (e entry) bytes() []byte {
	if e.value == nil {
		return []byte{}
	}
	return unsafe.Slice(e.value, e.n)
}

// newEntry copies key and value into one allocation and returns the copy of the key, which
// the map must be given (a Go map replaces the key it holds with the one it is given, so the
// previous allocation of a key that is set again is freed), and the entry.
func newEntry(key string, value []byte, expires instant) (string, entry) {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	e := entry{n: len(value), expires: expires}
	if len(value) > 0 {
		e.value = &buf[len(key)]
	}
	if len(key) == 0 {
		return "", e
	}
	return unsafe.String(&buf[0], len(key)), e
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
		return e.bytes(), time.Time{}, nil
	}
	if s.now() >= e.expires {
		return nil, time.Time{}, storage.ErrNotFound
	}
	return e.bytes(), s.toTime(e.expires), nil
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
	expires := never
	if ttl > 0 {
		expires = add(s.now(), ttl)
	}
	// The store's own copy of the key, too: a key sliced from a large request buffer would
	// otherwise pin the whole buffer for as long as the entry lives.
	k, e := newEntry(key, value, expires)
	sh := s.shard(key)
	sh.mu.Lock()
	sh.kv[k] = e
	sh.mu.Unlock()
	return nil
}

// Create is Set when key holds no value that has not expired, under the shard's lock; else it
// returns storage.ErrExists.
func (s *Store) Create(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	if ttl < 0 {
		return fmt.Errorf("memory: create %q: negative ttl %v", key, ttl)
	}
	now := s.now()
	expires := never
	if ttl > 0 {
		expires = add(now, ttl)
	}
	k, e := newEntry(key, value, expires)
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.kv[key]; ok && (old.expires == never || now < old.expires) {
		return storage.ErrExists
	}
	sh.kv[k] = e
	return nil
}

// Replace is Set when key holds exactly old and has not expired, under the shard's lock; it
// reports whether it wrote.
func (s *Store) Replace(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	if ttl < 0 {
		return false, fmt.Errorf("memory: replace %q: negative ttl %v", key, ttl)
	}
	now := s.now()
	expires := never
	if ttl > 0 {
		expires = add(now, ttl)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur, ok := sh.kv[key]
	if !ok || cur.expires != never && now >= cur.expires || !bytes.Equal(cur.bytes(), old) {
		return false, nil
	}
	k, e := newEntry(key, value, expires)
	sh.kv[k] = e
	return true, nil
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
				// A copy: the map's key shares its allocation with the value (newEntry), and a
				// listed key the caller keeps must not keep the value after it is deleted.
				keys = append(keys, strings.Clone(k))
			}
		}
		sh.mu.Unlock()
	}
	return keys, nil
}
