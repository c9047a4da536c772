package jwt

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Verified-token cache bounds.
const (
	// DefaultCacheEntries is how many verified tokens a gateway remembers, all APIs together.
	DefaultCacheEntries = 8192
	// maxCachedBytes bounds what one entry holds (identity, session id, policy ids), so that
	// the cache's memory is bounded by its entries: larger results are not cached.
	maxCachedBytes = 1024
	cacheShards    = 16
)

// Cache remembers tokens that passed verification, so that a client sending the same token
// again costs a hash and a map lookup instead of parsing, a signature check and the claims'
// decoding. It is shared by every JWT API of a gateway and bounded in entries (each entry in
// bytes too); when full, an arbitrary entry of the shard makes room.
//
// An entry is keyed by the SHA-256 of the API's compilation (a number no other compiled JWT
// auth has, so a reload, or another API with another secret, never finds it) and of the raw
// token. It is used only inside the token's own validity window (exp and nbf with their
// skews), and, for a JWKS, only while the keys it was verified with are the current, fresh
// ones: a refetch that changes nothing still drops what it verified, which is rare and safe.
type Cache struct {
	shards   [cacheShards]cacheShard
	perShard int
	// secrets holds the parsed jwt_data secrets of one-to-one keys.
	secrets *secretCache
}

type cacheShard struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*verified
}

// verified is what a verified token yields, everything the request needs besides the session.
type verified struct {
	identity string
	id       string   // the session id: the org and the MD5 of the identity
	pols     []string // the session's policies; shared, never changed
	// client, with jwt_client_base_field, is what the claims say of the policies, the client
	// key deciding per request (pols is then nil).
	client *claimPolicies
	exp    int64 // the token's exp (Unix seconds), 0 when it has none
	// from and until bound when the entry may be used: nbf and iat with their skews, and exp
	// with its skew (until is zero without exp).
	from, until time.Time
	keys        uint64 // the key source's generation the token was verified with
}

// NewCache returns a cache of at most entries verified tokens (DefaultCacheEntries when
// entries is not positive).
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	c := &Cache{perShard: max(entries/cacheShards, 1), secrets: newSecretCache(secretCacheEntries)}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*verified)
	}
	return c
}

// cacheKey is the entry key of raw for the compiled auth gen.
func cacheKey(gen uint64, raw string) [sha256.Size]byte {
	// A buffer on the stack for the tokens of every day; a larger one is allocated.
	var buf [1024]byte
	b := buf[:0]
	if 8+len(raw) > len(buf) {
		b = make([]byte, 0, 8+len(raw))
	}
	b = binary.BigEndian.AppendUint64(b, gen)
	return sha256.Sum256(append(b, raw...))
}

func (c *Cache) shard(k *[sha256.Size]byte) *cacheShard {
	return &c.shards[k[0]%cacheShards]
}

// get returns the entry for k when it may be used at now with the key generation keys.
// An entry past its window or of older keys is dropped.
func (c *Cache) get(k [sha256.Size]byte, now time.Time, keys uint64) *verified {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.entries[k]
	if !ok {
		return nil
	}
	if v.keys != keys || now.Before(v.from) || (!v.until.IsZero() && !now.Before(v.until)) {
		delete(s.entries, k)
		return nil
	}
	return v
}

// put stores v under k, unless it is too large to count as one bounded entry.
func (c *Cache) put(k [sha256.Size]byte, v *verified) {
	size := len(v.identity) + len(v.id)
	for _, p := range v.pols {
		size += len(p)
	}
	if v.client != nil {
		size += len(v.client.clientID)
		for _, p := range v.client.scopes {
			size += len(p)
		}
	}
	if size > maxCachedBytes {
		return
	}
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[k]; !ok && len(s.entries) >= c.perShard {
		for old := range s.entries {
			delete(s.entries, old)
			break
		}
	}
	s.entries[k] = v
}

// Len is how many tokens the cache holds.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// Reset empties the cache.
func (c *Cache) Reset() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.entries)
		s.mu.Unlock()
	}
}
