package jwt

import "sync"

// Parsed-secret cache bounds.
const (
	// secretCacheEntries is how many parsed jwt_data secrets a gateway keeps, all APIs
	// together.
	secretCacheEntries = 1024
	// maxCachedSecret bounds the key material of one entry: a larger secret is parsed on each
	// request, so that the cache holds at most secretCacheEntries × maxCachedSecret bytes of
	// it (4 MiB) however many keys a client names.
	maxCachedSecret = 4 << 10
)

// secretCache remembers what the jwt_data secrets of one-to-one keys parse to (an HMAC
// secret, checked not to be public key material, or an RSA or EC public key), so that a
// request pays a map lookup instead of PEM and DER parsing. An entry is found by the
// signing method and the secret itself, never by the key that holds it: a key whose secret
// changes finds the new secret's entry (or parses it) on its next request, and an old entry
// is never used for it. Failures are remembered too (the same secret fails the same way).
// When full, an arbitrary entry makes room, so a flood of distinct secrets cannot grow it.
type secretCache struct {
	mu sync.RWMutex
	// byMethod holds, for each signing method, the entries by secret.
	byMethod map[string]map[string]parsedSecret
	n, max   int
}

type parsedSecret struct {
	key any
	err error
}

func newSecretCache(entries int) *secretCache {
	return &secretCache{byMethod: map[string]map[string]parsedSecret{}, max: entries}
}

// parse returns what parseKey(field, method, secret) returns, from the cache when it holds it.
func (c *secretCache) parse(field, method, secret string) (any, error) {
	c.mu.RLock()
	p, ok := c.byMethod[method][secret]
	c.mu.RUnlock()
	if ok {
		return p.key, p.err
	}
	k, err := parseKey(field, method, []byte(secret))
	if len(secret) > maxCachedSecret {
		return k, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byMethod[method]
	if m == nil {
		m = map[string]parsedSecret{}
		c.byMethod[method] = m
	}
	if _, ok := m[secret]; !ok {
		if c.n >= c.max {
			c.evictOne()
		}
		c.n++
	}
	m[secret] = parsedSecret{key: k, err: err}
	return k, err
}

// evictOne removes an arbitrary entry; c.mu is held.
func (c *secretCache) evictOne() {
	for _, m := range c.byMethod {
		for s := range m {
			delete(m, s)
			c.n--
			return
		}
	}
}

// len is how many secrets the cache holds.
func (c *secretCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.n
}
