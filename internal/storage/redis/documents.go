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

// documentLua returns {} for a missing field of a hash, {size} for one over ARGV[2] bytes
// (unread), else {size, value}.
var documentLua = rueidis.NewLuaScript(`
local n = redis.call('HSTRLEN', KEYS[1], ARGV[1])
if n == 0 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {} end
if n > tonumber(ARGV[2]) then return {n} end
return {n, redis.call('HGET', KEYS[1], ARGV[1])}`)

// Document returns the document id of set (HGET, after HSTRLEN: a document over maxBytes is
// not read).
func (s *Store) Document(ctx context.Context, set, id string, maxBytes int) ([]byte, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	start := time.Now()
	vals, err := documentLua.Exec(ctx, c, []string{set}, []string{id, strconv.Itoa(max(maxBytes, 0))}).ToArray()
	s.roundTrip("document", start, err)
	if err != nil {
		return nil, s.result("document", err)
	}
	s.repliedNow()
	switch len(vals) {
	case 0:
		return nil, storage.ErrNotFound
	case 1:
		return nil, storage.ErrTooLarge
	}
	doc, err := vals[1].ToString()
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	return []byte(doc), nil
}

// sampleLua picks at most ARGV[1] fields of a hash at random (HRANDFIELD, without values: the
// whole hash when it holds no more) and returns the hash's size, how many of those picked are
// over ARGV[2] bytes (their name or value: HSTRLEN), then the names of the others. With ARGV[3]
// "1", the larger ones are removed from the hash.
var sampleLua = rueidis.NewLuaScript(`
local n = redis.call('HLEN', KEYS[1])
if n == 0 then return {0, 0} end
local most = tonumber(ARGV[2])
local picked = redis.call('HRANDFIELD', KEYS[1], ARGV[1])
local r, big = {n, 0}, {}
for i = 1, #picked do
  local f = picked[i]
  if #f > most or redis.call('HSTRLEN', KEYS[1], f) > most then
    big[#big + 1] = f
  else
    r[#r + 1] = f
  end
end
r[2] = #big
if ARGV[3] == '1' then
  for i = 1, #big, 100 do
    redis.call('HDEL', KEYS[1], unpack(big, i, math.min(i + 99, #big)))
  end
end
return r`)

// readLua returns the values of the fields ARGV[2...] of a hash, false for one missing or over
// ARGV[1] bytes (written since it was picked).
var readLua = rueidis.NewLuaScript(`
local most = tonumber(ARGV[1])
local r = {}
for i = 2, #ARGV do
  if redis.call('HSTRLEN', KEYS[1], ARGV[i]) <= most then
    r[i - 1] = redis.call('HGET', KEYS[1], ARGV[i])
  else
    r[i - 1] = false
  end
end
return r`)

// sampleBatch is how many documents SampleDocuments reads per call: a reply of at most
// sampleBatch*lim.Bytes, so that reading a large sample never holds up the calls that share
// the connection behind one long reply.
const sampleBatch = 32

// SampleDocuments returns at most lim.Count documents of set, chosen at random by Redis
// (HRANDFIELD; all of them when the set holds no more), and how many set holds. Only the
// names of those picked are read at first, with their sizes; the documents not over lim.Bytes
// are then read sampleBatch at a time.
func (s *Store) SampleDocuments(ctx context.Context, set string, lim storage.SampleLimits) (storage.Sample, error) {
	// HRANDFIELD takes a negative count as leave to repeat fields: none is asked for then, but
	// the set's size is still told, as the memory store tells it.
	count, most := max(lim.Count, 0), max(lim.Bytes, 0)
	drop := "0"
	if lim.DropLarger {
		drop = "1"
	}
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return storage.Sample{}, err
	}
	defer cancel()
	start := time.Now()
	vals, err := sampleLua.Exec(ctx, c, []string{set}, []string{strconv.Itoa(count), strconv.Itoa(most), drop}).ToArray()
	s.roundTrip("documents", start, err)
	if err != nil {
		return storage.Sample{}, s.result("documents", err)
	}
	s.repliedNow()
	if len(vals) < 2 {
		return storage.Sample{}, fmt.Errorf("documents: %d values in the reply of a sample", len(vals))
	}
	total, err1 := vals[0].AsInt64()
	skipped, err2 := vals[1].AsInt64()
	if err1 != nil || err2 != nil {
		return storage.Sample{}, fmt.Errorf("documents: %w", errors.Join(err1, err2))
	}
	ids := make([]string, 0, len(vals)-2)
	for _, v := range vals[2:] {
		id, err := v.ToString()
		if err != nil {
			return storage.Sample{}, fmt.Errorf("documents: %w", err)
		}
		ids = append(ids, id)
	}
	out := storage.Sample{Docs: make(map[string][]byte, len(ids)), Skipped: int(skipped), Total: int(total)}
	mostArg := strconv.Itoa(most)
	for len(ids) > 0 {
		batch := ids[:min(len(ids), sampleBatch)]
		ids = ids[len(batch):]
		start := time.Now()
		docs, err := readLua.Exec(ctx, c, []string{set}, append([]string{mostArg}, batch...)).ToArray()
		s.roundTrip("documents", start, err)
		if err != nil {
			return storage.Sample{}, s.result("documents", err)
		}
		if len(docs) > len(batch) {
			return storage.Sample{}, fmt.Errorf("documents: %d values in the reply for %d documents", len(docs), len(batch))
		}
		for i, d := range docs {
			doc, err := d.ToString()
			if rueidis.IsRedisNil(err) {
				continue // deleted, or grown, since it was picked
			}
			if err != nil {
				return storage.Sample{}, fmt.Errorf("documents: %w", err)
			}
			out.Docs[batch[i]] = []byte(doc)
		}
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
