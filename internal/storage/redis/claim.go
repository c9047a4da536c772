package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/redis/rueidis"
)

var _ storage.Claims = (*Store)(nil)

// Claims (storage.Claims) are two keys per piece of work, in one hash slot per space (its name
// is the keys' hash tag), so that a script may touch every key of a call on a cluster too:
// claimKey holds the holder's name, with the claim's time to live; stateKey what the holder
// last found.
func claimKey(space, id string) string { return "gatehouse-claim:{" + space + "}:" + id }
func stateKey(space, id string) string { return "gatehouse-claimed:{" + space + "}:" + id }

// The scripts read keys with redis.pcall, so that a key of another type at a claim's name
// (written by another client of Redis) neither fails the whole call nor blocks the claim: a
// claim key that is not a string is replaced, a state that is not one is no state.

// claimLua takes (ARGV[3] "1") or only renews each claim (KEYS: claim and state keys in turn;
// ARGV: holder, time to live in ms, take) and answers, per claim, 1 when the holder holds it,
// 1 when no node does, and the state.
var claimLua = rueidis.NewLuaScript(`
local out = {}
for i = 1, #KEYS, 2 do
  local cur = redis.pcall('GET', KEYS[i])
  if type(cur) == 'table' and cur.err then
    redis.call('DEL', KEYS[i])
    cur = false
  end
  local held, free = 0, 0
  if not cur then
    if ARGV[3] == '1' then
      redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
      held = 1
    else
      free = 1
    end
  elseif cur == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    held = 1
  end
  local st = redis.pcall('GET', KEYS[i+1])
  if type(st) ~= 'string' then st = '' end
  out[#out+1] = held
  out[#out+1] = free
  out[#out+1] = st
end
return out`)

// putClaimedLua stores the state (KEYS[2]) while the holder holds the claim (KEYS[1]).
var putClaimedLua = rueidis.NewLuaScript(`
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`)

// unclaimLua deletes the claims (KEYS) the holder holds.
var unclaimLua = rueidis.NewLuaScript(`
for i = 1, #KEYS do
  if redis.pcall('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0`)

// claimBatch bounds the claims one script call handles, so that one call never holds Redis
// long; the calls of a Claim or Unclaim are sent together, in one pipeline.
const claimBatch = 200

// checkSpace refuses a space that would not be the keys' hash tag, or a call without a holder.
func checkSpace(space, holder string) error {
	if space == "" || strings.ContainsAny(space, "{}") {
		return errors.New("redis: a claim space must be a non-empty name without braces")
	}
	if holder == "" {
		return errors.New("redis: a claim needs a holder")
	}
	return nil
}

// Claim implements storage.Claims.
func (s *Store) Claim(ctx context.Context, space, holder string, ids []string, ttl time.Duration) ([]bool, [][]byte, error) {
	held, _, states, err := s.claim(ctx, space, holder, ids, ttl, true)
	return held, states, err
}

// Renew implements storage.Claims.
func (s *Store) Renew(ctx context.Context, space, holder string, ids []string, ttl time.Duration) (held, free []bool, states [][]byte, err error) {
	return s.claim(ctx, space, holder, ids, ttl, false)
}

// claim is Claim (take) and Renew.
func (s *Store) claim(ctx context.Context, space, holder string, ids []string, ttl time.Duration, take bool) (held, free []bool, states [][]byte, err error) {
	if err := checkSpace(space, holder); err != nil {
		return nil, nil, nil, err
	}
	if ttl <= 0 {
		return nil, nil, nil, errors.New("redis: a claim needs a positive time to live")
	}
	held, free, states = make([]bool, len(ids)), make([]bool, len(ids)), make([][]byte, len(ids))
	if len(ids) == 0 {
		return held, free, states, nil
	}
	args := []string{holder, strconv.FormatInt(ceilMillis(ttl), 10), "0"}
	if take {
		args[2] = "1"
	}
	execs := make([]rueidis.LuaExec, 0, (len(ids)+claimBatch-1)/claimBatch)
	for from := 0; from < len(ids); from += claimBatch {
		part := ids[from:min(from+claimBatch, len(ids))]
		keys := make([]string, 0, 2*len(part))
		for _, id := range part {
			keys = append(keys, claimKey(space, id), stateKey(space, id))
		}
		execs = append(execs, rueidis.LuaExec{Keys: keys, Args: args})
	}
	c, cctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cancel()
	start := time.Now()
	res := claimLua.ExecMulti(cctx, c, execs...)
	for n, r := range res {
		vals, err := r.ToArray()
		if err != nil {
			s.roundTrip("claim", start, err)
			return nil, nil, nil, s.result("claim", err)
		}
		from := n * claimBatch
		part := min(claimBatch, len(ids)-from)
		if len(vals) != 3*part {
			err := errors.New("redis: claim: unexpected answer")
			s.roundTrip("claim", start, err)
			return nil, nil, nil, err
		}
		for i := range part {
			h, _ := vals[3*i].AsInt64()
			f, _ := vals[3*i+1].AsInt64()
			held[from+i], free[from+i] = h == 1, f == 1
			if st, _ := vals[3*i+2].ToString(); st != "" {
				states[from+i] = []byte(st)
			}
		}
	}
	s.roundTrip("claim", start, nil)
	s.repliedNow()
	return held, free, states, nil
}

// PutClaimed implements storage.Claims.
func (s *Store) PutClaimed(ctx context.Context, space, holder, id string, state []byte, ttl time.Duration) (bool, error) {
	if err := checkSpace(space, holder); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, errors.New("redis: a claimed state needs a positive time to live")
	}
	c, cctx, cancel, err := s.conn(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	start := time.Now()
	n, err := putClaimedLua.Exec(cctx, c, []string{claimKey(space, id), stateKey(space, id)},
		[]string{holder, string(state), strconv.FormatInt(ceilMillis(ttl), 10)}).AsInt64()
	s.roundTrip("claim", start, err)
	if err != nil {
		return false, s.result("claim", err)
	}
	return n == 1, nil
}

// Unclaim implements storage.Claims.
func (s *Store) Unclaim(ctx context.Context, space, holder string, ids []string) error {
	if err := checkSpace(space, holder); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	execs := make([]rueidis.LuaExec, 0, (len(ids)+claimBatch-1)/claimBatch)
	for from := 0; from < len(ids); from += claimBatch {
		part := ids[from:min(from+claimBatch, len(ids))]
		keys := make([]string, len(part))
		for i, id := range part {
			keys[i] = claimKey(space, id)
		}
		execs = append(execs, rueidis.LuaExec{Keys: keys, Args: []string{holder}})
	}
	c, cctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	start := time.Now()
	for _, r := range unclaimLua.ExecMulti(cctx, c, execs...) {
		if err := r.Error(); err != nil {
			s.roundTrip("claim", start, err)
			return s.result("claim", err)
		}
	}
	s.roundTrip("claim", start, nil)
	s.repliedNow()
	return nil
}

// membersKey is the sorted set of a space's nodes, scored by when each stops counting (Redis's
// clock, ms); in the space's hash slot.
func membersKey(space string) string { return "gatehouse-members:{" + space + "}" }

// membersLua counts ARGV[1] among the nodes for ARGV[2] ms, forgets those whose time is over,
// and answers the nodes counted. A key of another type at the name is replaced. Redis's clock
// dates every node, so that the nodes' clocks need not agree.
var membersLua = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local r = redis.pcall('ZADD', KEYS[1], now + ttl, ARGV[1])
if type(r) == 'table' and r.err then
  redis.call('DEL', KEYS[1])
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local keep = redis.call('PTTL', KEYS[1])
if keep < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return redis.call('ZRANGE', KEYS[1], 0, ARGV[3] - 1)`)

// maxMembers bounds the nodes Members answers: a client of Redis filling the set cannot make
// every node read all of it each round.
const maxMembers = 1000

// Members implements storage.Claims.
func (s *Store) Members(ctx context.Context, space, holder string, ttl time.Duration) ([]string, error) {
	if err := checkSpace(space, holder); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("redis: a member needs a positive time to live")
	}
	c, cctx, cancel, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	start := time.Now()
	names, err := membersLua.Exec(cctx, c, []string{membersKey(space)},
		[]string{holder, strconv.FormatInt(ceilMillis(ttl), 10), strconv.Itoa(maxMembers)}).AsStrSlice()
	s.roundTrip("claim", start, err)
	if err != nil {
		return nil, s.result("claim", err)
	}
	slices.Sort(names)
	return names, nil
}

// Leave implements storage.Claims.
func (s *Store) Leave(ctx context.Context, space, holder string) error {
	if err := checkSpace(space, holder); err != nil {
		return err
	}
	c, cctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	start := time.Now()
	err = c.Do(cctx, c.B().Zrem().Key(membersKey(space)).Member(holder).Build()).Error()
	s.roundTrip("claim", start, err)
	return s.result("claim", err)
}
