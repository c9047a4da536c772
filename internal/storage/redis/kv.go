package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Get returns the value under key, read from the server.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	start := time.Now()
	v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes()
	s.roundTrip("get", start, err)
	if rueidis.IsRedisNil(err) {
		return nil, storage.ErrNotFound
	}
	return v, s.result("get", err)
}

// GetCached returns the value under key from this node's client-side cache when it holds it:
// Redis tracks what each connection cached and tells it when the key changes or expires, so the
// copy is dropped at once. The value shares memory with the cache and must not be changed.
// until is when the cached copy ends: the key's expiry, or cachedTTL after it was read.
//
// A copy is not served once Redis has not answered anything for the timeout (a hung server, a
// cut network): a key changed elsewhere meanwhile could not be invalidated here.
func (s *Store) GetCached(ctx context.Context, key string) ([]byte, time.Time, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer cancel()
	if silent := s.silentFor(); silent > s.o.Timeout {
		return nil, time.Time{}, fmt.Errorf("%w: Redis at %s has not answered for %v", storage.ErrUnavailable, s.Describe(), silent.Round(time.Millisecond))
	}
	start := time.Now()
	res := c.DoCache(ctx, c.B().Get().Key(key).Cache(), cachedTTL)
	v, err := res.ToString()
	if !res.IsCacheHit() {
		s.roundTrip("get", start, err)
	}
	if rueidis.IsRedisNil(err) {
		s.replied(res)
		return nil, time.Time{}, storage.ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, s.result("get", err)
	}
	s.replied(res)
	var until time.Time
	if at := res.CachePXAT(); at > 0 {
		until = time.UnixMilli(at)
	}
	// The cached message's string is never changed: share it rather than copy it on every
	// request.
	return unsafe.Slice(unsafe.StringData(v), len(v)), until, nil
}

// Set stores value under key, with an expiry when ttl is positive (rounded up to the
// millisecond).
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.set(ctx, "set", key, value, ttl)
}

// Create is Set with NX: Redis writes the value only when key holds none.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := s.set(ctx, "create", key, value, ttl)
	if rueidis.IsRedisNil(err) {
		return storage.ErrExists
	}
	return err
}

// set is SET for op ("set"), or SET NX ("create", whose nil answer it returns as is).
func (s *Store) set(ctx context.Context, op, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("redis: %s %q: negative ttl %v", op, key, ttl)
	}
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	b := c.B().Set().Key(key).Value(rueidis.BinaryString(value))
	var cmd rueidis.Completed
	switch {
	case op == "create" && ttl > 0:
		cmd = b.Nx().PxMilliseconds(ceilMillis(ttl)).Build()
	case op == "create":
		cmd = b.Nx().Build()
	case ttl > 0:
		cmd = b.PxMilliseconds(ceilMillis(ttl)).Build()
	default:
		cmd = b.Build()
	}
	start := time.Now()
	err = c.Do(ctx, cmd).Error()
	s.roundTrip(op, start, err)
	if rueidis.IsRedisNil(err) {
		return err
	}
	return s.result(op, err)
}

// replaceLua sets KEYS[1] to ARGV[2] (with an expiry of ARGV[3] ms when it is not "0") only
// while it holds ARGV[1]; it returns 1 when it wrote. A missing key is GET's false, never equal.
var replaceLua = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '0' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`)

// Replace is Set while key holds exactly old, compared and written by one script on the
// server; it reports whether it wrote.
func (s *Store) Replace(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		return false, fmt.Errorf("redis: replace %q: negative ttl %v", key, ttl)
	}
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	px := "0"
	if ttl > 0 {
		px = strconv.FormatInt(ceilMillis(ttl), 10)
	}
	start := time.Now()
	n, err := replaceLua.Exec(ctx, c, []string{key}, []string{rueidis.BinaryString(old), rueidis.BinaryString(value), px}).AsInt64()
	s.roundTrip("replace", start, err)
	return n == 1, s.result("replace", err)
}

// ceilMillis returns d in whole milliseconds, rounded up, at least one.
func ceilMillis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}

// Delete removes key and reports whether it existed.
func (s *Store) Delete(ctx context.Context, key string) (bool, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	start := time.Now()
	n, err := c.Do(ctx, c.B().Del().Key(key).Build()).AsInt64()
	s.roundTrip("delete", start, err)
	return n > 0, s.result("delete", err)
}

// scanTimeout bounds a whole Keys call, which visits the entire key space.
const scanTimeout = time.Minute

// Keys returns the string keys starting with prefix, scanning every node of a cluster. It walks
// the whole key space with SCAN, so its cost grows with the number of keys in the database.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	c, _, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	cancel()
	ctx, cancel = context.WithTimeout(ctx, max(scanTimeout, s.o.Timeout))
	defer cancel()
	pattern := escapeGlob(prefix) + "*"
	seen := map[string]bool{}
	var keys []string
	nodes := map[string]rueidis.Client{"": c}
	if s.o.Cluster && s.o.MasterName == "" {
		// Each node holds its own slots; replicas repeat their master's keys.
		nodes = c.Nodes()
	}
	for _, n := range nodes {
		var cursor uint64
		for {
			start := time.Now()
			e, err := n.Do(ctx, n.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Type("string").Build()).AsScanEntry()
			s.roundTrip("scan", start, err)
			if err != nil {
				return nil, s.result("scan", err)
			}
			for _, k := range e.Elements {
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys, nil
}

// escapeGlob escapes the characters SCAN's MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
