package redis

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// A document set is one hash: field = id, value = document.

// Documents returns every document of set, read at once (HGETALL).
func (s *Store) Documents(ctx context.Context, set string) (map[string][]byte, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	start := time.Now()
	m, err := c.Do(ctx, c.B().Hgetall().Key(set).Build()).AsStrMap()
	s.roundTrip("documents", start, err)
	if err != nil {
		return nil, s.result("documents", err)
	}
	s.repliedNow()
	out := make(map[string][]byte, len(m))
	for id, d := range m {
		out[id] = []byte(d)
	}
	return out, nil
}

// updateScript sets a field only when it exists: HSET has no such condition.
var updateLua = rueidis.NewLuaScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// PutDocument stores doc under id in set, as mode allows.
func (s *Store) PutDocument(ctx context.Context, set, id string, doc []byte, mode storage.PutMode) error {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	value := rueidis.BinaryString(doc)
	start := time.Now()
	switch mode {
	case storage.Create:
		ok, err := c.Do(ctx, c.B().Hsetnx().Key(set).Field(id).Value(value).Build()).AsInt64()
		s.roundTrip("put_document", start, err)
		if err != nil {
			return s.result("put document", err)
		}
		if ok == 0 {
			return storage.ErrExists
		}
	case storage.Update:
		ok, err := updateLua.Exec(ctx, c, []string{set}, []string{id, value}).AsInt64()
		s.roundTrip("put_document", start, err)
		if err != nil {
			return s.result("put document", err)
		}
		if ok == 0 {
			return storage.ErrNotFound
		}
	default:
		err := c.Do(ctx, c.B().Hset().Key(set).FieldValue().FieldValue(id, value).Build()).Error()
		s.roundTrip("put_document", start, err)
		if err != nil {
			return s.result("put document", err)
		}
	}
	s.repliedNow()
	return nil
}

// DeleteDocument removes id from set and reports whether it existed.
func (s *Store) DeleteDocument(ctx context.Context, set, id string) (bool, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	start := time.Now()
	n, err := c.Do(ctx, c.B().Hdel().Key(set).Field(id).Build()).AsInt64()
	s.roundTrip("delete_document", start, err)
	return n > 0, s.result("delete document", err)
}
