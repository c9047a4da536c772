package memory

import (
	"context"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// docStore holds the document sets. Documents are written rarely (by the Gateway API), so one
// lock serves them all.
type docStore struct {
	mu   sync.Mutex
	sets map[string]map[string][]byte
}

// Documents returns a copy of every document in set.
func (s *Store) Documents(_ context.Context, set string) (map[string][]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	out := make(map[string][]byte, len(s.docs.sets[set]))
	for id, d := range s.docs.sets[set] {
		out[id] = append([]byte(nil), d...)
	}
	return out, nil
}

// SampleDocuments returns copies of at most limit documents of set, the first ones Go's map
// iteration (which starts at a random place) gives, and how many set holds.
func (s *Store) SampleDocuments(_ context.Context, set string, limit int) (map[string][]byte, int, error) {
	if s.closed.Load() {
		return nil, 0, errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	docs := s.docs.sets[set]
	out := make(map[string][]byte, min(len(docs), max(limit, 0)))
	for id, d := range docs {
		if len(out) >= limit {
			break
		}
		out[id] = append([]byte(nil), d...)
	}
	return out, len(docs), nil
}

// PutDocument stores a copy of doc under id in set, as mode allows.
func (s *Store) PutDocument(_ context.Context, set, id string, doc []byte, mode storage.PutMode) error {
	if s.closed.Load() {
		return errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	docs := s.docs.sets[set]
	_, exists := docs[id]
	switch {
	case mode == storage.Create && exists:
		return storage.ErrExists
	case mode == storage.Update && !exists:
		return storage.ErrNotFound
	}
	if docs == nil {
		if s.docs.sets == nil {
			s.docs.sets = map[string]map[string][]byte{}
		}
		docs = map[string][]byte{}
		s.docs.sets[strings.Clone(set)] = docs
	}
	docs[strings.Clone(id)] = append([]byte(nil), doc...)
	return nil
}

// DeleteDocument removes id from set and reports whether it existed.
func (s *Store) DeleteDocument(_ context.Context, set, id string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	docs := s.docs.sets[set]
	_, ok := docs[id]
	delete(docs, id)
	if len(docs) == 0 {
		delete(s.docs.sets, set)
	}
	return ok, nil
}
