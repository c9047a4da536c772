package apistore

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// SharedPrefix starts the File of an entry read from a shared store, e.g. "redis:my-api".
const SharedPrefix = "redis:"

// Shared keeps the API definitions a fleet of gateways shares in its store: one document per
// API, by api_id, in one document set.
type Shared struct {
	Docs storage.Documents
	// Set names the document set, e.g. "gatehouse-apis".
	Set string
	// memo remembers what Load decoded, by api_id and content: every gateway of a fleet reads
	// every shared definition on each reload, and decodes only those that changed.
	memo Memo
}

// Load reads every shared definition, sorted by api_id. One that does not decode is returned
// with Err set; the others still load. A definition unchanged since the last Load is not
// decoded again: its entry has the head and the bytes, and Def decodes them when asked (as for
// a file LoadMemo found unchanged).
func (s *Shared) Load(ctx context.Context) ([]Entry, error) {
	docs, err := s.Docs.Documents(ctx, s.Set)
	if err != nil {
		return nil, fmt.Errorf("reading the shared API definitions: %w", err)
	}
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	entries := make([]Entry, 0, len(ids))
	ml := s.memo.begin()
	for _, id := range ids {
		// A shared definition is a Classic one or a Tyk OAS document (there are no pairs of
		// files in a store).
		e := ml.decode(SharedPrefix+id, docs[id], 0)
		if e.Err == nil && e.Head.APIID != id {
			e = Entry{File: e.File, Raw: e.Raw, Err: fmt.Errorf("stored under api_id %q but its api_id is %q", id, e.Head.APIID)}
		}
		entries = append(entries, e)
	}
	ml.end()
	return entries, nil
}

// Save stores raw as the definition of id: a new one with create (ErrExists when there is one),
// else over the existing one (ErrNotFound when there is none).
func (s *Shared) Save(ctx context.Context, id string, raw []byte, create bool) error {
	mode := storage.Update
	if create {
		mode = storage.Create
	}
	err := s.Docs.PutDocument(ctx, s.Set, id, raw, mode)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, storage.ErrExists):
		return ErrExists
	case err != nil:
		return fmt.Errorf("storing the definition: %w", err)
	}
	return nil
}

// Delete removes the shared definition of id, or returns ErrNotFound.
func (s *Shared) Delete(ctx context.Context, id string) error {
	ok, err := s.Docs.DeleteDocument(ctx, s.Set, id)
	if err != nil {
		return fmt.Errorf("deleting the definition: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// ErrExists is returned when creating a definition whose api_id is taken.
var ErrExists = errors.New("API exists")
