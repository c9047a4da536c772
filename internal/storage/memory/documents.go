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

// Document returns a copy of the document id of set.
func (s *Store) Document(_ context.Context, set, id string, maxBytes int) ([]byte, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	d, ok := s.docs.sets[set][id]
	switch {
	case !ok:
		return nil, storage.ErrNotFound
	case len(d) > maxBytes:
		return nil, storage.ErrTooLarge
	}
	return append([]byte(nil), d...), nil
}

// SampleDocuments returns copies of at most lim.Count documents of set, the first ones Go's map
// iteration (which starts at a random place) gives, and how many set holds.
func (s *Store) SampleDocuments(_ context.Context, set string, lim storage.SampleLimits) (storage.Sample, error) {
	if s.closed.Load() {
		return storage.Sample{}, errClosed
	}
	s.docs.mu.Lock()
	defer s.docs.mu.Unlock()
	docs := s.docs.sets[set]
	out := storage.Sample{Docs: make(map[string][]byte, min(len(docs), max(lim.Count, 0))), Total: len(docs)}
	for id, d := range docs {
		if len(out.Docs)+out.Skipped >= lim.Count {
			break
		}
		if len(id) > lim.Bytes || len(d) > lim.Bytes {
			out.Skipped++
			if lim.DropLarger {
				delete(docs, id)
			}
			continue
		}
		out.Docs[id] = append([]byte(nil), d...)
	}
	return out, nil
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
