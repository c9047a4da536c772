package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// limitScript counts one hit against a sliding window and a fixed-window counter at once, as
// storage.Limits describes, reading the Redis server's clock so that every gateway counts alike.
//
// KEYS are the window (when ARGV[1] holds "r") then the counter (when it holds "q").
// ARGV: [1] which; [2] slots per window; [3] the window's limit; [4] its slot length in µs;
// [5] the counter's limit; [6] its window in ms.
// It returns {rate allowed, rate used, rate reset (µs), quota allowed, quota used, quota reset
// (ms)}; a reset of 0 means none.
//
// A window is a hash named after the caller's key and its slot length in µs: a field per slot
// with hits (its number since the epoch), and "len" (the slot length), "total", "oldest" (slot)
// and "cur" (the slot of the last hit).
// A counter is a hash of "n" and "end" (ms), expiring at its end.
const limitScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local which = ARGV[1]
local K = tonumber(ARGV[2])
local fmt = string.format

local rkey, qkey
local i = 1
if string.find(which, 'r', 1, true) then rkey = KEYS[i]; i = i + 1 end
if string.find(which, 'q', 1, true) then qkey = KEYS[i] end

local r_allowed, r_used, r_reset = 1, 0, 0
local w
if rkey then
  local limit, slot = tonumber(ARGV[3]), tonumber(ARGV[4])
  if limit <= 0 then
    redis.call('DEL', rkey)
    r_allowed = 0
  else
    local cur = math.floor(now / slot)
    local st = redis.call('HMGET', rkey, 'len', 'total', 'oldest', 'cur', fmt('%d', cur))
    local total, oldest, last, n, dirty = 0, nil, nil, 0, false
    if st[1] and tonumber(st[1]) == slot then
      total = tonumber(st[2]) or 0
      oldest = tonumber(st[3])
      last = tonumber(st[4])
      n = tonumber(st[5]) or 0
      -- A server clock that stepped back counts in the last hit's slot, keeping slots in order.
      if last and last > cur then
        cur = last
        n = tonumber(redis.call('HGET', rkey, fmt('%d', cur))) or 0
      end
    elseif st[1] then
      -- Kept with another length: start afresh.
      redis.call('DEL', rkey)
    end
    local lo = cur - K
    if oldest and oldest < lo then
      -- Slots that left the window: at most once per slot, so seldom on a busy key.
      dirty, oldest = true, nil
      local all = redis.call('HGETALL', rkey)
      local gone = {}
      for j = 1, #all, 2 do
        local idx = tonumber(all[j])
        if idx then
          if idx < lo then
            total = total - tonumber(all[j + 1])
            gone[#gone + 1] = all[j]
          elseif not oldest or idx < oldest then
            oldest = idx
          end
        end
      end
      if #gone > 0 then redis.call('HDEL', rkey, unpack(gone)) end
    end
    w = {key = rkey, slot = slot, cur = cur, last = last, n = n, total = total, oldest = oldest, dirty = dirty}
    if total < limit then r_allowed = 1 else r_allowed = 0 end
    r_used = total
  end
end

local q_allowed, q_used, q_end, q_running = 1, 0, 0, false
if qkey then
  local st = redis.call('HMGET', qkey, 'n', 'end')
  local n, e = tonumber(st[1]), tonumber(st[2])
  if n and e and e > math.floor(now / 1000) then
    q_used, q_end, q_running = n, e, true
  end
  -- When the rate limit refuses, the counter is only reported.
  if r_allowed == 1 and q_used >= tonumber(ARGV[5]) then q_allowed = 0 end
end

if r_allowed == 1 and q_allowed == 1 then
  if w then
    w.total = w.total + 1
    if not w.oldest then w.oldest = w.cur end
    redis.call('HSET', w.key, fmt('%d', w.cur), w.n + 1, 'total', w.total, 'oldest', fmt('%d', w.oldest),
      'cur', fmt('%d', w.cur), 'len', fmt('%d', w.slot))
    -- The window lives until its newest slot leaves; that moves only with a new slot.
    if w.last ~= w.cur then
      redis.call('PEXPIREAT', w.key, fmt('%d', math.ceil((w.cur + K + 1) * w.slot / 1000)))
    end
    r_used = w.total
  end
  if qkey then
    if q_running then
      q_used = redis.call('HINCRBY', qkey, 'n', 1)
    else
      q_end = math.floor(now / 1000) + tonumber(ARGV[6])
      redis.call('HSET', qkey, 'n', '1', 'end', fmt('%d', q_end))
      redis.call('PEXPIREAT', qkey, fmt('%d', q_end))
      q_used = 1
    end
  end
elseif w and w.dirty then
  if w.total > 0 then
    redis.call('HSET', w.key, 'total', w.total, 'oldest', fmt('%d', w.oldest))
  else
    redis.call('DEL', w.key)
  end
end
if w and r_used > 0 then r_reset = (w.oldest + K + 1) * w.slot end
return {r_allowed, r_used, r_reset, q_allowed, q_used, q_end}
`

// The script is never retried: a call cut off by the network may have counted, and counting it
// twice would spend a quota twice.
var limitLua = rueidis.NewLuaScript(limitScript)

// Limit counts a hit against a window and a counter at once, in one round trip.
func (s *Store) Limit(ctx context.Context, rate, quota storage.Spec) (storage.LimitResult, error) {
	return s.limit(ctx, rate, quota, "limit")
}

// Hit counts a hit against the sliding window under key.
func (s *Store) Hit(ctx context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	r, err := s.limit(ctx, storage.Spec{Key: key, Limit: limit, Window: window}, storage.Spec{}, "hit")
	return r.Rate, err
}

// Take counts a hit against the fixed-window counter under key.
func (s *Store) Take(ctx context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	r, err := s.limit(ctx, storage.Spec{}, storage.Spec{Key: key, Limit: limit, Window: window}, "take")
	return r.Quota, err
}

func (s *Store) limit(ctx context.Context, rate, quota storage.Spec, op string) (storage.LimitResult, error) {
	res := storage.LimitResult{Rate: storage.Usage{Allowed: true}, Quota: storage.Usage{Allowed: true}}
	which := ""
	var keys []string
	args := make([]string, 6)
	args[1] = strconv.Itoa(storage.WindowSlots)
	args[2], args[3], args[4], args[5] = "0", "1", "0", "1"
	for _, sp := range []storage.Spec{rate, quota} {
		if sp.Key != "" && sp.Window <= 0 {
			return storage.LimitResult{}, fmt.Errorf("redis: %s %q: window %v is not positive", op, sp.Key, sp.Window)
		}
	}
	if rate.Key != "" {
		which += "r"
		slot := strconv.FormatInt(int64(storage.SlotLength(rate.Window)/time.Microsecond), 10)
		// The slot length is part of the window's name: gateways that disagree on a key's
		// window for a while (a policy being rolled out, one that missed a reload) each keep
		// their own, instead of each starting the other's afresh, which would let every
		// request through.
		keys = append(keys, rate.Key+":"+slot)
		args[2] = strconv.FormatInt(rate.Limit, 10)
		args[3] = slot
	}
	if quota.Key != "" {
		which += "q"
		keys = append(keys, quota.Key)
		args[4] = strconv.FormatInt(quota.Limit, 10)
		args[5] = strconv.FormatInt(ceilMillis(quota.Window), 10)
	}
	if which == "" {
		return res, nil
	}
	if len(keys) == 2 && s.o.Cluster && s.o.MasterName == "" && hashSlot(keys[0]) != hashSlot(keys[1]) {
		return storage.LimitResult{}, fmt.Errorf("redis: %s: %q and %q are in different hash slots of the cluster, "+
			"so one script cannot check both; give them the same {hash tag}", op, keys[0], keys[1])
	}
	args[0] = which
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return storage.LimitResult{}, err
	}
	defer cancel()
	start := time.Now()
	v, err := limitLua.Exec(ctx, c, keys, args).AsIntSlice()
	s.roundTrip(op, start, err)
	if err != nil {
		return storage.LimitResult{}, s.result(op, err)
	}
	s.repliedNow()
	if len(v) != 6 {
		return storage.LimitResult{}, fmt.Errorf("redis: %s: the script returned %d values, want 6", op, len(v))
	}
	if rate.Key != "" {
		res.Rate = storage.Usage{Allowed: v[0] == 1, Used: v[1]}
		if v[2] > 0 {
			res.Rate.Reset = time.UnixMicro(v[2])
		}
	}
	if quota.Key != "" {
		res.Quota = storage.Usage{Allowed: v[3] == 1, Used: v[4]}
		if v[5] > 0 {
			res.Quota.Reset = time.UnixMilli(v[5])
		}
	}
	return res, nil
}

// Peek returns the usage of the counter under key without counting.
func (s *Store) Peek(ctx context.Context, key string) (storage.Usage, error) {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return storage.Usage{}, err
	}
	defer cancel()
	start := time.Now()
	vals, err := c.Do(ctx, c.B().Hmget().Key(key).Field("n", "end").Build()).ToArray()
	s.roundTrip("peek", start, err)
	if err != nil {
		return storage.Usage{}, s.result("peek", err)
	}
	s.repliedNow()
	u := storage.Usage{Allowed: true}
	if len(vals) == 2 {
		n, err1 := vals[0].AsInt64()
		end, err2 := vals[1].AsInt64()
		// The counter expires at its end, so one that exists is running.
		if err1 == nil && err2 == nil {
			u.Used, u.Reset = n, time.UnixMilli(end)
		}
	}
	return u, nil
}

// Reset ends the counter's current window.
func (s *Store) Reset(ctx context.Context, key string) error {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	start := time.Now()
	err = c.Do(ctx, c.B().Del().Key(key).Build()).Error()
	s.roundTrip("reset", start, err)
	return s.result("reset", err)
}
