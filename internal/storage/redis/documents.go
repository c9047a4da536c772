package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// sampleLua returns the size of a hash followed by at most ARGV[1] of its fields and values
// (HRANDFIELD: the whole hash when it holds no more), read at once.
var sampleLua = rueidis.NewLuaScript(`
local n = redis.call('HLEN', KEYS[1])
if n == 0 then return {0} end
local r = redis.call('HRANDFIELD', KEYS[1], ARGV[1], 'WITHVALUES')
table.insert(r, 1, n)
return r`)

// SampleDocuments returns at most limit documents of set, chosen at random by Redis
// (HRANDFIELD; all of them when the set holds no more), and how many set holds.
func (s *Store) SampleDocuments(ctx context.Context, set string, limit int) (map[string][]byte, int, error) {
	// HRANDFIELD takes a negative count as leave to repeat fields: none is asked for then, but
	// the set's size is still told, as the memory store tells it.
	limit = max(limit, 0)
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer cancel()
	start := time.Now()
	vals, err := sampleLua.Exec(ctx, c, []string{set}, []string{strconv.Itoa(limit)}).ToArray()
	s.roundTrip("documents", start, err)
	if err != nil {
		return nil, 0, s.result("documents", err)
	}
	s.repliedNow()
	if len(vals) == 0 || len(vals)%2 != 1 {
		return nil, 0, fmt.Errorf("documents: %d values in the reply of a sample", len(vals))
	}
	total, err := vals[0].AsInt64()
	if err != nil {
		return nil, 0, fmt.Errorf("documents: %w", err)
	}
	out := make(map[string][]byte, len(vals)/2)
	for i := 1; i < len(vals); i += 2 {
		id, err1 := vals[i].ToString()
		doc, err2 := vals[i+1].ToString()
		if err1 != nil || err2 != nil {
			return nil, 0, fmt.Errorf("documents: %w", errors.Join(err1, err2))
		}
		out[id] = []byte(doc)
	}
	return out, int(total), nil
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
