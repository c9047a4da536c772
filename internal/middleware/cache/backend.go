package cache

import (
	"context"
	"time"
)

// Backend keeps cached responses: this gateway's memory (Store), or a Redis the fleet shares
// (Shared).
type Backend interface {
	// Lookup returns the response cached for api under key, nil when there is none, and the
	// mark a response to this request is kept at (Keep). ns names the definition the API was
	// compiled from: a backend the fleet shares keeps each definition's responses apart, so
	// gateways serving two versions of a definition (a reload on its way through the fleet)
	// never answer with each other's.
	Lookup(ctx context.Context, api, ns, key string) (*Response, Mark)
	// Keep caches res for api under key for ttl, unless the API's cache was flushed since the
	// request began (m, from Lookup): its response may be the old data's. It never waits for
	// the network.
	Keep(m Mark, api, ns, key string, res *Response, ttl time.Duration)
	// Flush drops every response cached for api, and reports how many there were when the
	// backend can tell (0 otherwise).
	Flush(ctx context.Context, api string) (int, error)
}

// Mark is when a request began, as a backend tells flushes apart: a response is kept only if
// no flush came between its Lookup and its Keep.
type Mark struct {
	gen   uint64 // Store's generation
	epoch string // Shared's epoch of the API
	skip  bool   // the backend could not tell: do not keep
}

// Lookup implements Backend: ns is not needed, since a reload that compiles an API again drops
// its responses (Retain).
func (s *Store) Lookup(_ context.Context, api, _, key string) (*Response, Mark) {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	return s.Get(api, key), Mark{gen: gen}
}

// Keep implements Backend.
func (s *Store) Keep(m Mark, api, _, key string, res *Response, ttl time.Duration) {
	s.PutAt(m.gen, api, key, res, ttl)
}

var _ Backend = (*Store)(nil)
