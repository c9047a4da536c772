// Package session stores keys: the session objects of Tyk's key API, found by the key itself
// or, with hash_keys, by its SHA-256. Raw keys never reach a log line through this package and,
// with hashing on, never reach the store either.
package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// KeyPrefix is put before a key (or its hash) to form its storage key, as in Tyk.
const KeyPrefix = "apikey-"

// ErrNotFound is returned for a key that does not exist.
var ErrNotFound = errors.New("key not found")

// ErrBadID is returned for an ID that cannot name a key (a hash that is not one, a hash with
// hash_keys off).
var ErrBadID = errors.New("bad key id")

// HashKey returns the hex SHA-256 of key: how keys are stored with hash_keys and how counters
// and logs name them. A cryptographic hash of the whole key: Tyk's murmur32 default let near-miss
// keys in.
func HashKey(key string) string {
	sum := sumKey(key)
	return hexSum(&sum)
}

// hexSum returns sum in hex, encoded on the stack: one allocation (the string), not two.
func hexSum(sum *[sha256.Size]byte) string {
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// sumKey returns the SHA-256 of key. A key of up to 256 bytes is copied to the stack first:
// converting a string of more than 32 bytes to a slice allocates, and keys (an org id and 32
// hex digits) are longer.
func sumKey(key string) [sha256.Size]byte {
	if len(key) <= 256 {
		var buf [256]byte
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

// IsHash reports whether s has the form of a key hash (64 lower-case hex digits).
func IsHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Generate returns a new random key: the org id followed by 32 hex digits (128 random bits),
// the shape of Tyk's generated keys.
func Generate(orgID string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms; a key must not be guessable.
		panic(fmt.Sprintf("session: reading random bytes: %v", err))
	}
	return orgID + hex.EncodeToString(b[:])
}

// Manager reads and writes sessions in a KV store.
type Manager struct {
	kv       storage.KV
	hashKeys bool
	// fallback serves the last decoding of a key when the store cannot be reached, if the
	// store kept it coherent up to then (see fallbackFor); epoch is the store's cache epoch.
	fallback bool
	epoch    func() uint64
	// forgets counts the changes this manager was told of or made (Forget, ForgetStorageKeys,
	// changed): a read under way while one arrives may carry the value from before it, so its
	// decoding is not trusted for the fallback (decode).
	forgets atomic.Uint64

	mu    sync.RWMutex
	cache map[string]decoded // by storage key
	bytes int                // the entries' sizes in cache (decoded.size)
	// maxBytes bounds bytes (maxDecodedBytes; tests set less).
	maxBytes int
	// names maps the SHA-256 of each key in cache to its storage key when keys are stored by
	// name (hash_keys off), so that Forget, given hashes, finds them; nil with hash_keys.
	names map[[sha256.Size]byte]string
	// keyNames holds, by the SHA-256 of a token, the names of a key that LookupNames found
	// (Names), so that a keyed request formats none of them. An entry goes when its key's
	// decoding leaves cache, so it is bounded like cache and never outlives a deleted key.
	keyNames map[[sha256.Size]byte]*Names
	// written holds when this manager last changed a key, for writtenWindow: a store's
	// node-local copy (Redis's client-side cache) may hear of a change a moment after the
	// write was answered, so meanwhile lookups of that key read the store itself. Only a
	// store that keeps such copies (nodeLocal: it implements storage.CacheEpoch) needs it; for
	// the memory store it would hold every key written in the last second, about 140 bytes
	// each, for nothing.
	nodeLocal bool
	written   map[string]time.Time
	lastPrune time.Time
	// minToken is the shortest token, in bytes, that names a key on the request path
	// (SetMinTokenLength); 0: any.
	minToken int
}

// writtenWindow is how long after changing a key this manager bypasses the store's node-local
// copy of it: far longer than an invalidation takes to arrive.
const writtenWindow = time.Second

// NewManager returns a Manager over kv. With hashKeys, keys are stored under their SHA-256.
func NewManager(kv storage.KV, hashKeys bool) *Manager {
	_, nodeLocal := kv.(storage.CacheEpoch)
	m := &Manager{kv: kv, hashKeys: hashKeys, nodeLocal: nodeLocal, cache: map[string]decoded{}, maxBytes: maxDecodedBytes, keyNames: map[[sha256.Size]byte]*Names{}, written: map[string]time.Time{}}
	if !hashKeys {
		m.names = map[[sha256.Size]byte]string{}
	}
	return m
}

// ServeCachedWhenUnavailable makes Lookup answer with the last decoding of a key this manager
// holds when the store cannot be reached (storage.ErrUnavailable), instead of the error, when
// that decoding can be trusted: it was read through the store's node-local copy, which the
// store kept coherent without a break since (storage.CacheEpoch), and it has not expired.
// Changes reach the manager through the store's invalidations (ForgetStorageKeys) and the
// fleet's notifications (Forget). Call it before the manager is used.
func (m *Manager) ServeCachedWhenUnavailable() {
	m.fallback = true
	m.epoch = func() uint64 { return 0 }
	if ce, ok := m.kv.(storage.CacheEpoch); ok {
		m.epoch = ce.CacheEpoch
	}
}

// SetMinTokenLength makes tokens shorter than n bytes name no key on the request path (Lookup,
// LookupNames: ErrNotFound), as Tyk's min_token_length does, whatever is stored under them; the
// Gateway API's reads (Get) are not affected, so such a key can still be changed or deleted.
// Call it before the manager is used.
func (m *Manager) SetMinTokenLength(n int) { m.minToken = n }

// MinTokenLength returns the shortest token, in bytes, that names a key on the request path.
func (m *Manager) MinTokenLength() int { return m.minToken }

// HashKeys reports whether keys are stored hashed.
func (m *Manager) HashKeys() bool { return m.hashKeys }

// ID is how a key is addressed in the store: by the key itself or by its hash.
type ID struct {
	Key    string
	Hashed bool // Key is already a hash
}

// storageKey returns the store key for id.
func (m *Manager) storageKey(id ID) (string, error) {
	switch {
	case id.Hashed && !m.hashKeys:
		return "", fmt.Errorf("%w: keys are not hashed (hash_keys is false), so a key cannot be addressed by its hash", ErrBadID)
	case id.Hashed:
		if !IsHash(id.Key) {
			return "", fmt.Errorf("%w: a key hash is 64 lower-case hex digits", ErrBadID)
		}
		return KeyPrefix + id.Key, nil
	}
	var sum [sha256.Size]byte
	if m.hashKeys {
		sum = sumKey(id.Key)
	}
	sk, ok := m.tokenStorageKey(id.Key, &sum)
	if !ok {
		return "", fmt.Errorf("%w: a key is UTF-8 text without control characters", ErrBadID)
	}
	return sk, nil
}

// tokenStorageKey returns the storage key of the key token, whose SHA-256 is sum (read only
// with hash_keys), and false when token cannot name a key. It is the one place the rule lives:
// storageKey and newNames (the request path, which has the sum already) both use it.
func (m *Manager) tokenStorageKey(token string, sum *[sha256.Size]byte) (string, bool) {
	if !validKey(token) {
		return "", false
	}
	if !m.hashKeys {
		return KeyPrefix + token, true
	}
	// Encoded on the stack: one allocation, the storage key, whose tail is the hash.
	var buf [len(KeyPrefix) + 2*sha256.Size]byte
	copy(buf[:], KeyPrefix)
	hex.Encode(buf[len(KeyPrefix):], sum[:])
	return string(buf[:]), true
}

// validKey reports whether key can name a key: UTF-8 text without control characters, so that
// what is stored, logged and answered is the key that was sent.
func validKey(key string) bool {
	if !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Get returns the session of id, with KeyID set to id.Key, or ErrNotFound. The session is the
// caller's own copy.
func (m *Manager) Get(ctx context.Context, id ID) (*apidef.SessionState, error) {
	s, _, err := m.GetRead(ctx, id)
	return s, err
}

// get returns the shared decoding of the session of id (see decode). With cached, the store may
// answer from its node-local copy (storage.KV.GetCached): that is for the request path, while
// the Gateway API reads what the store holds.
func (m *Manager) get(ctx context.Context, id ID, cached bool) (*apidef.SessionState, error) {
	sk, err := m.storageKey(id)
	if err != nil {
		return nil, err
	}
	return m.getStored(ctx, sk, cached)
}

// getStored is get by storage key.
func (m *Manager) getStored(ctx context.Context, sk string, cached bool) (*apidef.SessionState, error) {
	var data []byte
	var err error
	var until time.Time
	tracked := cached && !m.recentlyWritten(sk)
	// The decoding kept of this key, looked up once: decode compares it with what the store
	// answers, and whether there is one tells a key found before from one never found.
	m.mu.RLock()
	prev, seen := m.cache[sk]
	m.mu.RUnlock()
	if tracked && m.nodeLocal && !seen && strings.HasPrefix(sk, KeyPrefix) {
		// A key is read through the store's node-local copy only once it was found and
		// decoded before. A store with a node-local copy (Redis) tracks each key read through
		// it for the connection, at a cost in its own memory (about 190 bytes a key, kept
		// after the gateway goes): read plainly first, a client sending made-up keys does not
		// fill Redis's memory with them (150,000 made every key's reads fail with OOM under
		// maxmemory and noeviction, and evicted every real key under allkeys-lru). A made-up
		// key costs a round trip on every request, as in Tyk; a real key one more the first
		// time this gateway sees it. (An org's session is named by the API definition, not
		// by the client: read as it always was.)
		if _, err := m.kv.Get(ctx, sk); errors.Is(err, storage.ErrNotFound) {
			m.drop(sk)
			return nil, ErrNotFound
		}
	}
	// Taken before the read: a change told or a break of coherence while it is under way
	// leaves the decoding unfit for the fallback (decode), however late its news arrives.
	var at readAt
	if m.fallback && tracked {
		at = readAt{epoch: m.epoch(), forgets: m.forgets.Load()}
	}
	if tracked {
		data, until, err = m.kv.GetCached(ctx, sk)
	} else {
		data, err = m.kv.Get(ctx, sk)
	}
	if errors.Is(err, storage.ErrNotFound) {
		m.drop(sk)
		return nil, ErrNotFound
	}
	if err != nil {
		if cached && m.fallback && errors.Is(err, storage.ErrUnavailable) {
			if s := m.fallbackFor(sk); s != nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("reading key: %w", err)
	}
	return m.decode(sk, data, tracked, until, at, prev, seen)
}

// readAt is when a read through the store's node-local copy began: the store's cache epoch and
// the manager's count of changes told (forgets).
type readAt struct {
	epoch, forgets uint64
}

// The decoded-session cache is bounded by entries and by an estimate of the memory it holds
// (size.go); when full it starts afresh.

type decoded struct {
	// raw is the stored bytes as the store returned them, not copied: stores never change a
	// value they returned (GetCached's contract; Get's is the caller's own).
	raw []byte
	s   *apidef.SessionState
	// size is what the entry is counted for in Manager.bytes: raw, the decoded session, the
	// manager's own entry (entryCost) and derived.
	size int
	// derived is what a request path computed from s and keeps with it (SetDerived).
	derived *Derived
	// With fallback: tracked says the value was read through the store's node-local copy (so
	// the store tells of its changes), at cache epoch epoch; until is when it stops being
	// valid (zero: no known end).
	tracked bool
	epoch   uint64
	until   time.Time
}

// decode returns the session stored as data. Decoding JSON is the largest cost of a keyed
// request, so the last decoding of each key is kept and reused while the stored bytes are the
// same. The result is that shared decoding: it must never be changed (its KeyID is not set).
//
// With the fallback, a tracked read (at: when it began) is recorded at the epoch it began in, and
// as not tracked when a change was told meanwhile (maybe this key's, whose invalidation has gone
// by): only a later read can make it trusted again.
//
// d and ok are the decoding kept for sk, looked up before the read: a decoding of the same bytes
// is the same session, whenever it was kept.
func (m *Manager) decode(sk string, data []byte, tracked bool, until time.Time, at readAt, d decoded, ok bool) (*apidef.SessionState, error) {
	epoch := at.epoch
	if ok && sameBytes(d.raw, data) {
		if m.fallback && (d.tracked != tracked || d.epoch != epoch || !d.until.Equal(until) || tracked && m.forgets.Load() != at.forgets) {
			m.mu.Lock()
			if cur, ok := m.cache[sk]; ok && cur.s == d.s {
				cur.tracked, cur.epoch, cur.until = tracked && m.forgets.Load() == at.forgets, epoch, until
				m.cache[sk] = cur
			}
			m.mu.Unlock()
		}
		return d.s, nil
	}
	s := new(apidef.SessionState)
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("decoding stored key: %w", err)
	}
	var sum [sha256.Size]byte
	if m.names != nil {
		sum = sumKey(strings.TrimPrefix(sk, KeyPrefix))
	}
	size := entryCost + len(data) + allocRound + decodedSize(s)
	if size > m.maxBytes {
		// Kept, it would be the whole cache and more: it is decoded on each request instead.
		return s, nil
	}
	m.mu.Lock()
	if old, ok := m.cache[sk]; ok {
		m.bytes -= old.size
	}
	if len(m.cache) >= maxDecoded || m.bytes+size > m.maxBytes {
		m.cache, m.bytes = make(map[string]decoded), 0
		if m.names != nil {
			m.names = map[[sha256.Size]byte]string{}
		}
		clear(m.keyNames)
	}
	// Under the lock Forget drops entries with: a change told before this point counted.
	tracked = tracked && m.forgets.Load() == at.forgets
	m.cache[sk] = decoded{raw: data, s: s, size: size, tracked: tracked, epoch: epoch, until: until}
	if m.names != nil {
		m.names[sum] = sk
	}
	m.bytes += size
	m.mu.Unlock()
	return s, nil
}

// sameBytes reports whether a and b hold the same bytes: at once when they are the same memory
// (a store's node-local copy, returned again), which spares comparing a large key on every
// request.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}

// fallbackFor returns the decoding of the key under sk that may be served while the store
// cannot be reached, or nil: one read through the store's node-local copy, coherent since (the
// cache epoch has not moved: no change to the key can have been missed), and not expired.
func (m *Manager) fallbackFor(sk string) *apidef.SessionState {
	m.mu.RLock()
	d, ok := m.cache[sk]
	m.mu.RUnlock()
	if !ok || !d.tracked || d.epoch != m.epoch() || !d.until.IsZero() && !time.Now().Before(d.until) {
		return nil
	}
	return d.s
}

// drop forgets the decoding of the key under sk. The lock must not be held. An org session
// with nothing kept (an org without one, read on every request of its APIs) takes only the
// read lock: only a key's storage key has names kept besides its decoding.
func (m *Manager) drop(sk string) {
	if !strings.HasPrefix(sk, KeyPrefix) {
		m.mu.RLock()
		_, cached := m.cache[sk]
		m.mu.RUnlock()
		if !cached {
			return
		}
	}
	m.mu.Lock()
	m.dropLocked(sk)
	m.mu.Unlock()
}

func (m *Manager) dropLocked(sk string) {
	d, cached := m.cache[sk]
	if cached {
		m.bytes -= d.size
		delete(m.cache, sk)
	}
	if len(m.keyNames) == 0 && !(cached && m.names != nil) {
		return
	}
	// The names of the key (keyNames, and names with hash_keys off) go with its decoding: by
	// the token's SHA-256, which the storage key holds in hex when keys are hashed, and is
	// computed from the raw key otherwise, once for both maps.
	id, ok := strings.CutPrefix(sk, KeyPrefix)
	if !ok {
		return
	}
	var sum [sha256.Size]byte
	if !m.hashKeys {
		sum = sumKey(id)
		delete(m.names, sum)
	} else if sum, ok = parseHash(id); !ok {
		return
	}
	delete(m.keyNames, sum)
}

// parseHash returns the SHA-256 a key hash (hex) stands for, and whether h is one: the same
// lower-case form IsHash accepts, whichever way keys are stored.
func parseHash(h string) (sum [sha256.Size]byte, ok bool) {
	if !IsHash(h) {
		return sum, false
	}
	_, err := hex.Decode(sum[:], []byte(h))
	return sum, err == nil
}

// Forget drops what the manager decoded of the keys with these hashes (another gateway changed
// them), whether keys are stored by hash or by name (hash_keys off: the manager knows the hash
// of each key it holds). Lookups compare what they read with what was decoded, so while the store answers this
// only frees memory; with ServeCachedWhenUnavailable it keeps a changed key from being served
// from memory while the store is down.
//
// Both Forget and ForgetStorageKeys also end what this node holds ahead of the keys' rate
// limits and quotas (storage.Leases), so a quota reset or a deletion made through another
// gateway applies here at once.
func (m *Manager) Forget(hashes []string) {
	m.mu.Lock()
	m.forgets.Add(1)
	for _, h := range hashes {
		if m.names == nil {
			m.dropLocked(KeyPrefix + h)
		} else if sum, ok := parseHash(h); ok {
			if sk, ok := m.names[sum]; ok {
				m.dropLocked(sk)
			}
		}
	}
	m.mu.Unlock()
	if l, ok := m.kv.(storage.Leases); ok {
		l.DropLeases(hashes)
	}
}

// ForgetStorageKeys is Forget by storage key (apikey-...), as a store reports changes; other
// keys are ignored.
func (m *Manager) ForgetStorageKeys(keys []string) {
	m.mu.Lock()
	m.forgets.Add(1)
	var tags []string
	for _, k := range keys {
		m.dropLocked(k)
		if id, ok := strings.CutPrefix(k, KeyPrefix); ok && id != "" {
			tags = append(tags, CounterID(ID{Key: id, Hashed: m.hashKeys}))
		}
	}
	m.mu.Unlock()
	if l, ok := m.kv.(storage.Leases); ok && len(tags) > 0 {
		l.DropLeases(tags)
	}
}

// Lookup finds the session of a raw token, hashing the token once, for the key check of a
// request: it returns the session and the token's hash, which counters and logs use.
//
// The session is read-only: it is the decoding every request with this key shares, and its
// KeyID is not set. A request makes its own copy before anything (a plugin) may change it:
// policy.Set.Apply makes one, else apidef.SessionState.Clone.
func (m *Manager) Lookup(ctx context.Context, token string) (shared *apidef.SessionState, hash string, err error) {
	s, n, err := m.LookupNames(ctx, token)
	return s, n.Hash, err
}

// Names are what a key is called by, all derived from its token: its hash, its storage key
// and the counters of the limits it has over all its APIs.
type Names struct {
	// Hash is the token's hex SHA-256 (CounterID): how counters and logs name the key.
	Hash string
	// Storage is the key's storage key (KeyPrefix, then the key or its hash).
	Storage string
	// Rate and Quota are RateWindow and QuotaCounter of Hash for limits counted over all the
	// key's APIs (not perAPI).
	Rate, Quota string
}

// LookupNames is Lookup returning the key's Names (never nil) instead of its hash. The names of
// a key found are kept while its decoding is (see decode), so that a request with a known key
// formats none of them: they are the same strings every time, never to be changed.
func (m *Manager) LookupNames(ctx context.Context, token string) (shared *apidef.SessionState, n *Names, err error) {
	sum := sumKey(token)
	if len(token) < m.minToken {
		return nil, &Names{Hash: hexSum(&sum)}, ErrNotFound // too short to name a key
	}
	m.mu.RLock()
	n = m.keyNames[sum]
	m.mu.RUnlock()
	known := n != nil
	if !known {
		var valid bool
		if n, valid = m.newNames(token, sum); !valid {
			return nil, n, ErrNotFound // no key can have such a name
		}
	}
	s, err := m.getStored(ctx, n.Storage, true)
	if err != nil {
		return nil, n, err
	}
	if !known {
		m.mu.Lock()
		// Only while the decoding is kept: dropping it drops the names (dropLocked).
		if d, ok := m.cache[n.Storage]; ok && d.s == s {
			m.keyNames[sum] = n
		}
		m.mu.Unlock()
	}
	return s, n, nil
}

// newNames returns the names of the key token whose SHA-256 is sum, and whether the token can
// name a key at all (tokenStorageKey): when not, only Hash is set.
func (m *Manager) newNames(token string, sum [sha256.Size]byte) (*Names, bool) {
	sk, ok := m.tokenStorageKey(token, &sum)
	if !ok {
		return &Names{Hash: hexSum(&sum)}, false
	}
	n := &Names{Storage: sk}
	if m.hashKeys {
		n.Hash = sk[len(KeyPrefix):] // the storage key and the hash are one string
	} else {
		n.Hash = hexSum(&sum)
	}
	n.Rate, n.Quota = RateWindow(n.Hash, "", false), QuotaCounter(n.Hash, "", false)
	return n, true
}

// GetRead is Get with the Read of what it found, for an Update that must not land once the key
// changed or was deleted: the Gateway API's rewrite of a key reads it (what it keeps of it, that
// it exists) and writes it, and a DELETE between the two, through any gateway, must not be undone.
func (m *Manager) GetRead(ctx context.Context, id ID) (*apidef.SessionState, Read, error) {
	shared, err := m.get(ctx, id, false)
	if err != nil {
		return nil, Read{}, err
	}
	c := shared.Clone()
	c.KeyID = id.Key
	return c, Read{Token: id.Key, Shared: shared}, nil
}

// Put stores s under id. A positive ttl makes the key vanish after it.
func (m *Manager) Put(ctx context.Context, id ID, s *apidef.SessionState, ttl time.Duration) error {
	sk, err := m.storageKey(id)
	if err != nil {
		return err
	}
	_, err = m.write(ctx, sk, s, ttl, m.kv.Set)
	return err
}

// PutRead is Put returning the Read of what it stored, for a later Update by the same request.
func (m *Manager) PutRead(ctx context.Context, id ID, s *apidef.SessionState, ttl time.Duration) (Read, error) {
	sk, err := m.storageKey(id)
	if err != nil {
		return Read{}, err
	}
	data, err := m.write(ctx, sk, s, ttl, m.kv.Set)
	if err != nil {
		return Read{}, err
	}
	return Read{Token: id.Key, Raw: data}, nil
}

// Create is Put for a key that must not exist: when id names one, on any node sharing the
// store, nothing is written and the error matches storage.ErrExists.
func (m *Manager) Create(ctx context.Context, id ID, s *apidef.SessionState, ttl time.Duration) error {
	sk, err := m.storageKey(id)
	if err != nil {
		return err
	}
	_, err = m.write(ctx, sk, s, ttl, m.kv.Create)
	return err
}

// Read is what a request read of a key from the store, for Update: the key's token and either
// the store's shared decoding the request found (Shared) or the bytes it stored itself (Raw).
// The zero Read says the request's session did not come from the store.
type Read struct {
	Token  string
	Shared *apidef.SessionState
	Raw    []byte
}

// FromStore reports whether r records a read of the key token.
func (r *Read) FromStore(token string) bool {
	return r.Token != "" && r.Token == token && (r.Shared != nil || r.Raw != nil)
}

// Update stores s under id (a raw key, read.Token) as a plugin asked, but only while the store
// still holds the session the request read (read): a key deleted or changed through the
// Gateway API (or another node) since is left as it is, and Update reports false. The check
// and the write are one step of the store's (storage.KV.Replace), so no change can come between.
// "Still holds" is judged on the session the gateway decodes: the stored bytes are decoded and
// encoded again, and so is what was read, so that another encoding of the same session is not
// taken for a change. On success it returns the Read of what it wrote, for a later Update by the
// same request.
func (m *Manager) Update(ctx context.Context, id ID, read Read, s *apidef.SessionState, ttl time.Duration) (Read, bool, error) {
	sk, err := m.storageKey(id)
	if err != nil {
		return read, false, err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return read, false, fmt.Errorf("encoding key: %w", err)
	}
	// replace writes data while the store holds old.
	replace := func(old []byte) (bool, error) {
		m.changed(sk)
		defer m.changed(sk)
		ok, err := m.kv.Replace(ctx, sk, old, data, ttl)
		if err != nil {
			return false, fmt.Errorf("storing key: %w", err)
		}
		return ok, nil
	}
	written := Read{Token: read.Token, Raw: data}
	// The bytes the request's session was decoded from, when at hand (the manager's decoding,
	// or bytes the request stored), are compared by the store as it writes: one round trip,
	// nothing decoded. When the store holds other bytes, they may still be the same session
	// encoded otherwise: compared decoded below.
	if raw := m.rawOf(sk, read); raw != nil {
		ok, err := replace(raw)
		if err != nil {
			return read, false, err
		}
		if ok {
			return written, true, nil
		}
	}
	cur, err := m.kv.Get(ctx, sk)
	if errors.Is(err, storage.ErrNotFound) {
		return read, false, nil
	}
	if err != nil {
		return read, false, fmt.Errorf("reading key: %w", err)
	}
	if same, err := sameSession(cur, read); err != nil || !same {
		return read, false, err
	}
	if ok, err := replace(cur); err != nil || !ok {
		return read, false, err
	}
	return written, true, nil
}

// rawOf returns the stored bytes read's session was decoded from, when known: the bytes the
// request stored, or those of the manager's decoding when read's session is still it. nil
// otherwise (the decoding was dropped since): Update then compares decoded sessions.
func (m *Manager) rawOf(sk string, read Read) []byte {
	if read.Raw != nil {
		return read.Raw
	}
	m.mu.RLock()
	d, ok := m.cache[sk]
	m.mu.RUnlock()
	if ok && d.s == read.Shared && read.Shared != nil {
		return d.raw
	}
	return nil
}

// sameSession reports whether cur, a key's stored bytes, hold the session read recorded.
func sameSession(cur []byte, read Read) (bool, error) {
	if read.Raw != nil && bytes.Equal(cur, read.Raw) {
		return true, nil
	}
	var now apidef.SessionState
	if err := json.Unmarshal(cur, &now); err != nil {
		return false, fmt.Errorf("decoding stored key: %w", err)
	}
	was := read.Shared
	if was == nil {
		was = new(apidef.SessionState)
		if err := json.Unmarshal(read.Raw, was); err != nil {
			return false, fmt.Errorf("decoding the key as read: %w", err)
		}
	}
	a, err := json.Marshal(&now)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(was)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

// write stores s under the storage key sk with store (the KV's Set or Create).
func (m *Manager) write(ctx context.Context, sk string, s *apidef.SessionState, ttl time.Duration, store func(context.Context, string, []byte, time.Duration) error) ([]byte, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	m.changed(sk)
	defer m.changed(sk)
	if err := store(ctx, sk, data, ttl); err != nil {
		return nil, fmt.Errorf("storing key: %w", err)
	}
	return data, nil
}

// changed forgets the decoding of the key stored under sk and notes that it is being written.
func (m *Manager) changed(sk string) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgets.Add(1)
	m.dropLocked(sk)
	if !m.nodeLocal {
		return
	}
	// Pruned at most once per window, so that a burst of writes costs linear time, not
	// quadratic, under the lock every lookup takes.
	if len(m.written) >= 1000 && now.Sub(m.lastPrune) >= writtenWindow {
		for k, at := range m.written {
			if now.Sub(at) >= writtenWindow {
				delete(m.written, k)
			}
		}
		m.lastPrune = now
	}
	m.written[sk] = now
}

// recentlyWritten reports whether this manager changed the key under sk within writtenWindow.
func (m *Manager) recentlyWritten(sk string) bool {
	m.mu.RLock()
	at, ok := m.written[sk]
	m.mu.RUnlock()
	return ok && time.Since(at) < writtenWindow
}

// Delete removes id and reports whether it existed.
func (m *Manager) Delete(ctx context.Context, id ID) (bool, error) {
	sk, err := m.storageKey(id)
	if err != nil {
		return false, err
	}
	return m.delete(ctx, sk)
}

// delete removes the storage key sk and reports whether it existed.
func (m *Manager) delete(ctx context.Context, sk string) (bool, error) {
	m.changed(sk)
	defer m.changed(sk)
	ok, err := m.kv.Delete(ctx, sk)
	if err != nil {
		return false, fmt.Errorf("deleting key: %w", err)
	}
	return ok, nil
}

// List returns the stored keys: their hashes when keys are hashed, else the keys.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	keys, err := m.kv.Keys(ctx, KeyPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, KeyPrefix)
	}
	return keys, nil
}

// ListFiltered is List with Tyk's filter (GET /tyk/keys?filter=): the keys whose stored name
// begins with filter, and those Tyk generates with hash_key_function whose name is the base64
// of {"org":"<filter>"... (the same prefix rule, on the encoded org, as in Tyk: it lists an org
// whose id begins with filter too). With hash_keys the filter is hashed as a key name is, as
// Tyk does, so it names one key: its hash is listed when it exists. An empty filter lists every
// key. The store is scanned with the prefix (Redis filters on the server), so only the keys
// listed are held in memory.
func (m *Manager) ListFiltered(ctx context.Context, filter string) ([]string, error) {
	if filter == "" {
		return m.List(ctx)
	}
	if m.hashKeys {
		sk, err := m.storageKey(ID{Key: filter})
		if err != nil {
			return nil, nil // no key can have such a name
		}
		switch _, err := m.kv.Get(ctx, sk); {
		case errors.Is(err, storage.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		return []string{strings.TrimPrefix(sk, KeyPrefix)}, nil
	}
	prefixes := []string{filter}
	// The org's prefix is the longer: when it begins with filter, the keys filter lists hold
	// its keys; otherwise no name begins with both, and the two lists do not overlap.
	if org := orgKeyPrefix(filter); !strings.HasPrefix(org, filter) {
		prefixes = append(prefixes, org)
	}
	var keys []string
	for _, p := range prefixes {
		found, err := m.kv.Keys(ctx, KeyPrefix+p)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		for _, k := range found {
			keys = append(keys, strings.TrimPrefix(k, KeyPrefix))
		}
	}
	return keys, nil
}

// orgKeyPrefix returns how the names of Tyk's base64 JSON keys of org begin, as Tyk's key
// listing matches them: the unpadded base64 of {"org":"<org>" without its last two characters,
// which the bytes after it would change.
func orgKeyPrefix(org string) string {
	enc := base64.RawStdEncoding.EncodeToString([]byte(`{"org":"` + org + `"`))
	return enc[:len(enc)-2]
}

// CounterID returns the identity counters and logs use for a key: its hash, whatever hash_keys
// says, so raw keys never appear in counter names.
func CounterID(id ID) string {
	if id.Hashed {
		return id.Key
	}
	return HashKey(id.Key)
}

// QuotaCounter returns the counter a key's quota is kept in: per API when the key's access right
// to it sets its own limit, else one for all the key's APIs. The name is Tyk's, quota- and the
// key's hash, with the hash in braces: a Redis Cluster places keys by what is in braces, so a
// key's quota and rate window share a slot and one script can check both.
func QuotaCounter(keyHash, apiID string, perAPI bool) string {
	return counterName("quota-", keyHash, apiID, perAPI)
}

// RateWindow returns the sliding window a key's rate limit is kept in, named like QuotaCounter
// with Tyk's rate-limit- prefix.
func RateWindow(keyHash, apiID string, perAPI bool) string {
	return counterName("rate-limit-", keyHash, apiID, perAPI)
}

// RateWindow is RateWindow(keyHash, apiID, perAPI): n.Rate, formatting nothing, when n (which
// may be nil) holds that name, being keyHash's names and the limit one over all its APIs.
func (n *Names) RateWindow(keyHash, apiID string, perAPI bool) string {
	if n.hold(keyHash, perAPI) {
		return n.Rate
	}
	return RateWindow(keyHash, apiID, perAPI)
}

// QuotaCounter is QuotaCounter(keyHash, apiID, perAPI), n.Quota when n holds it (as RateWindow).
func (n *Names) QuotaCounter(keyHash, apiID string, perAPI bool) string {
	if n.hold(keyHash, perAPI) {
		return n.Quota
	}
	return QuotaCounter(keyHash, apiID, perAPI)
}

// hold reports whether n's counter names are those of key keyHash's limits, per API or not.
func (n *Names) hold(keyHash string, perAPI bool) bool {
	return n != nil && !perAPI && n.Hash == keyHash
}

func counterName(prefix, keyHash, apiID string, perAPI bool) string {
	if perAPI {
		return prefix + "{" + keyHash + "}-" + apiID
	}
	return prefix + "{" + keyHash + "}"
}

// JWTSessionIDMeta is the meta data field of a session JWT auth created, holding its id (as in
// Tyk). Such a session is named from the token's identity, which is no secret, so its name is
// never accepted as a key.
const JWTSessionIDMeta = "TykJWTSessionID"

// CertificateKeyPrefix begins the name of a certificate's key (certificate auth): the key of
// the certificate whose store id is id is named CertificateKeyPrefix+id. The name is no secret
// (an id is a certificate's fingerprint): such a key is found by the certificate a request
// presents in its TLS handshake, never taken as a token.
const CertificateKeyPrefix = "certificate-"

// CertificateKey returns the name of the key of the certificate with store id id.
func CertificateKey(id string) string { return CertificateKeyPrefix + id }
