package cache

import (
	"container/list"
	"context"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxBytes bounds what a gateway's response cache holds, over every API: the least
// recently used responses go first. Any client can fill the cache (each query string is an
// entry), so it is bounded however the APIs are configured.
const DefaultMaxBytes = 64 << 20

// MaxEntryBytes is the largest response body cached: a larger one is served, not kept.
const MaxEntryBytes = 1 << 20

// entryOverhead is what an entry is counted for beyond its body and headers: the key, the
// list element and the maps' share.
const entryOverhead = 256

// Response is a cached response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// size is what the response is counted for against the store's bound.
func (r *Response) size() int64 {
	n := int64(cap(r.Body)) + entryOverhead
	for k, vs := range r.Header {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

type entry struct {
	api, key string
	res      *Response
	expires  time.Time
	size     int64
	elem     *list.Element
}

// Store keeps cached responses in this gateway's memory, by API and key, bounded in bytes.
// Entries expire at their time; the least recently used go when the bound is reached.
type Store struct {
	mu    sync.Mutex
	gen   uint64 // bumped by Flush and Retain: a response read before is not kept after
	max   int64
	used  int64
	lru   *list.List // front: most recently used
	byAPI map[string]map[string]*entry
	now   func() time.Time
}

// NewStore returns a store holding at most max bytes (DefaultMaxBytes for 0). now is the
// clock (time.Now for nil).
func NewStore(max int64, now func() time.Time) *Store {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if now == nil {
		now = time.Now
	}
	return &Store{max: max, lru: list.New(), byAPI: map[string]map[string]*entry{}, now: now}
}

// Get returns the response cached for api under key, nil when there is none or it expired.
func (s *Store) Get(api, key string) *Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byAPI[api][key]
	if e == nil {
		return nil
	}
	if !s.now().Before(e.expires) {
		s.remove(e)
		return nil
	}
	s.lru.MoveToFront(e.elem)
	return e.res
}

// Generation identifies the store's state for PutAt: it changes with every Flush and Retain.
func (s *Store) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// Put caches res for api under key for ttl. A response larger than the whole bound is not kept.
func (s *Store) Put(api, key string, res *Response, ttl time.Duration) {
	s.PutAt(s.Generation(), api, key, res, ttl)
}

// PutAt is Put for a response whose request began at generation gen: when the store was
// flushed since (a DELETE /tyk/cache, a reload that changed the API), the response, which may
// be the old definition's or the old data's, is not kept.
func (s *Store) PutAt(gen uint64, api, key string, res *Response, ttl time.Duration) {
	size := res.size()
	if size > s.max || ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	if old := s.byAPI[api][key]; old != nil {
		s.remove(old)
	}
	for s.used+size > s.max {
		s.remove(s.lru.Back().Value.(*entry))
	}
	e := &entry{api: api, key: key, res: res, expires: s.now().Add(ttl), size: size}
	e.elem = s.lru.PushFront(e)
	m := s.byAPI[api]
	if m == nil {
		m = map[string]*entry{}
		s.byAPI[api] = m
	}
	m[key] = e
	s.used += size
}

// Flush drops every response cached for api, and reports how many there were.
func (s *Store) Flush(_ context.Context, api string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	m := s.byAPI[api]
	n := len(m)
	for _, e := range m {
		s.remove(e)
	}
	return n, nil
}

// Retain drops the responses of every API keep does not hold (APIs removed by a reload).
func (s *Store) Retain(keep func(api string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for api, m := range s.byAPI {
		if keep(api) {
			continue
		}
		for _, e := range m {
			s.remove(e)
		}
	}
}

// Stats returns how many responses the store holds and the bytes they are counted for.
func (s *Store) Stats() (entries int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len(), s.used
}

// remove drops e (s.mu held).
func (s *Store) remove(e *entry) {
	s.lru.Remove(e.elem)
	s.used -= e.size
	m := s.byAPI[e.api]
	delete(m, e.key)
	if len(m) == 0 {
		delete(s.byAPI, e.api)
	}
}
