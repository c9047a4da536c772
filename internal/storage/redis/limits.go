package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// scriptKeys reads which of KEYS is the window (rkey) and which the counter (qkey), from ARGV[1].
const scriptKeys = `
local which = ARGV[1]
local rkey, qkey
local i = 1
if string.find(which, 'r', 1, true) then rkey = KEYS[i]; i = i + 1 end
if string.find(which, 'q', 1, true) then qkey = KEYS[i] end
`

// giveBackLua gives back ret hits a lease held and did not serve: to slot ret_slot of the window
// (of slot length slot_len), and to the counter's window that ends at ret_end, each only when
// that slot and that window still hold them. Used by both scripts.
const giveBackLua = `
if ret > 0 then
  if rkey then
    local st = redis.call('HMGET', rkey, 'len', ret_slot)
    if tonumber(st[1]) == slot_len and (tonumber(st[2]) or 0) >= ret then
      redis.call('HINCRBY', rkey, ret_slot, -ret)
      redis.call('HINCRBY', rkey, 'total', -ret)
    end
  end
  if qkey then
    local st = redis.call('HMGET', qkey, 'n', 'end')
    if st[2] == ret_end and (tonumber(st[1]) or 0) >= ret then
      redis.call('HINCRBY', qkey, 'n', -ret)
    end
  end
end
`

// giveBackScript gives back what a lease did not serve, counting nothing: for leases of keys
// gone idle, and on Close. KEYS as limitScript's; ARGV: [1] which; [2] hits; [3] the slot and
// [4] the counter's window end (ms) they were counted in; [5] the slot length in µs.
const giveBackScript = scriptKeys + `
local ret, ret_slot, ret_end, slot_len = tonumber(ARGV[2]) or 0, ARGV[3], ARGV[4], tonumber(ARGV[5])
` + giveBackLua + `
return 0
`

// limitScript counts one hit against a sliding window and a fixed-window counter at once, as
// storage.Limits describes, reading the Redis server's clock so that every gateway counts alike.
//
// KEYS are the window (when ARGV[1] holds "r") then the counter (when it holds "q").
// ARGV: [1] which; [2] slots per window; [3] the window's limit; [4] its slot length in µs;
// [5] the counter's limit; [6] its window in ms; [7] the hits per second the caller expects
// (0 for a single hit); [8] the longest a lease may last, µs; [9] the most a lease may hold;
// [10] hits of an earlier lease given back, [11] the slot and [12] the counter's window end (ms)
// they were counted in; [13] the rate limit's smoothing threshold (0: no smoothing), [14] its
// step, [15] its trigger and [16] its delay in µs.
// It returns {rate allowed, rate used, rate reset (µs), quota allowed, quota used, quota reset
// (ms), hits granted, µs the grant may be served for, the slot counted in, the smoothed
// allowance applied (0 without smoothing), how it moved (1 up, -1 down, 0)}; a reset of 0 means
// none.
//
// A caller that expects more hits may be granted several at once, a lease (see lease.go): they
// are counted at once, in the current slot of the window (the next one when less than half of
// the current one is left) and in the counter, and the caller may serve them until that slot
// ends, the counter's window ends or ARGV[8] passes, whichever is first. A lease holds at most
// what the caller expects in that time and ARGV[9], and never takes from the last tenth of
// either limit, which is granted one hit per call: so the sum of leases and single hits never
// exceeds a limit, and a limit's end is reached exactly.
//
// A window is a hash named after the caller's key and its slot length in µs: a field per slot
// with hits (its number since the epoch), and "len" (the slot length), "total", "oldest" (slot)
// and "cur" (the slot of the last hit); with smoothing, "sa" (the allowance) and "sn" (when it
// may move next, µs), which go with the window (storage.Smoothing). A smoothed limit is never
// leased.
// A counter is a hash of "n" and "end" (ms), expiring at its end.
const limitScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local K = tonumber(ARGV[2])
local fmt = string.format
` + scriptKeys + `
-- Hits an earlier lease of the caller's held and did not serve are given back first.
local ret, ret_slot, ret_end, slot_len = tonumber(ARGV[10]) or 0, ARGV[11], ARGV[12], tonumber(ARGV[4])
` + giveBackLua + `

local r_allowed, r_used, r_reset = 1, 0, 0
local s_allow, s_moved = 0, 0
local w
if rkey then
  local limit, slot = tonumber(ARGV[3]), tonumber(ARGV[4])
  if limit <= 0 then
    redis.call('DEL', rkey)
    r_allowed = 0
  else
    local cur = math.floor(now / slot)
    local st = redis.call('HMGET', rkey, 'len', 'total', 'oldest', 'cur', fmt('%d', cur), 'sa', 'sn')
    local total, oldest, last, n, dirty = 0, nil, nil, 0, false
    local sa, sn
    if st[1] and tonumber(st[1]) == slot then
      total = tonumber(st[2]) or 0
      oldest = tonumber(st[3])
      last = tonumber(st[4])
      n = tonumber(st[5]) or 0
      sa, sn = tonumber(st[6]), tonumber(st[7])
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
    local thr = tonumber(ARGV[13]) or 0
    if thr > 0 then
      -- Smoothing: the allowance starts at the threshold, in a window holding nothing too, and
      -- moves by a step at most once per delay, following the hits the window holds.
      local step, trig, delay = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
      if total == 0 or not sa or not sn then
        sa, sn, w.sset = thr, now + delay, true
      elseif now > sn then
        local nsa = sa
        if total >= sa - trig * step then
          nsa = math.min(sa + step, limit)
        elseif total <= (sa - step) - trig * step then
          nsa = math.max(sa - step, thr)
        end
        if nsa ~= sa then
          -- Told only when the allowance applied moves (one above the limit applied the limit).
          local applied = math.min(sa, limit)
          if nsa > applied then s_moved = 1 elseif nsa < applied then s_moved = -1 end
          sa, sn, w.sset = nsa, now + delay, true
        end
      end
      w.sa, w.sn = sa, sn
      s_allow = math.min(sa, limit)
      limit = s_allow
    end
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

local g, life = 0, 0
if r_allowed == 1 and q_allowed == 1 then
  g = 1
  local demand = tonumber(ARGV[7]) or 0
  if demand > 0 then
    life = tonumber(ARGV[8])
    if w then
      local left = (w.cur + 1) * w.slot - now
      if left * 2 < w.slot then
        -- Late in the slot: the lease is counted in the next one and lives to its end, rather
        -- than shrinking with what is left of this one. Counted later than served, its hits
        -- stay in the window longer, never shorter.
        w.cur = w.cur + 1
        w.n = tonumber(redis.call('HGET', rkey, fmt('%d', w.cur))) or 0
        left = left + w.slot
      end
      life = math.min(life, left)
    end
    if q_running then life = math.min(life, q_end * 1000 - now) end
    local n = math.min(math.ceil(demand * life / 1000000), tonumber(ARGV[9]))
    if w then
      local rl = tonumber(ARGV[3])
      n = math.min(n, rl - w.total - math.floor(rl / 10))
    end
    if qkey then
      local ql = tonumber(ARGV[5])
      n = math.min(n, ql - q_used - math.floor(ql / 10))
    end
    if n > 1 then g = n end
  end
  if w then
    w.total = w.total + g
    if not w.oldest then w.oldest = w.cur end
    redis.call('HSET', w.key, fmt('%d', w.cur), w.n + g, 'total', w.total, 'oldest', fmt('%d', w.oldest),
      'cur', fmt('%d', w.cur), 'len', fmt('%d', w.slot))
    if w.sset then redis.call('HSET', w.key, 'sa', fmt('%d', w.sa), 'sn', fmt('%d', w.sn)) end
    -- The window lives until its newest slot leaves; that moves only with a new slot.
    if w.last ~= w.cur then
      redis.call('PEXPIREAT', w.key, fmt('%d', math.ceil((w.cur + K + 1) * w.slot / 1000)))
    end
    r_used = w.total
  end
  if qkey then
    if q_running then
      q_used = redis.call('HINCRBY', qkey, 'n', g)
    else
      q_end = math.floor(now / 1000) + tonumber(ARGV[6])
      redis.call('HSET', qkey, 'n', fmt('%d', g), 'end', fmt('%d', q_end))
      redis.call('PEXPIREAT', qkey, fmt('%d', q_end))
      q_used = g
      if g > 1 then life = math.min(life, q_end * 1000 - now) end
    end
  end
elseif w and w.dirty then
  if w.total > 0 then
    redis.call('HSET', w.key, 'total', w.total, 'oldest', fmt('%d', w.oldest))
  else
    redis.call('DEL', w.key)
  end
end
-- A refused hit may have moved the allowance of a window that holds hits.
if w and w.sset and g == 0 and w.total > 0 then
  redis.call('HSET', w.key, 'sa', fmt('%d', w.sa), 'sn', fmt('%d', w.sn))
end
if w and r_used > 0 then r_reset = (w.oldest + K + 1) * w.slot end
if g <= 1 then life = 0 end
local slot_index = 0
if w then slot_index = w.cur end
return {r_allowed, r_used, r_reset, q_allowed, q_used, q_end, g, math.floor(life), slot_index, s_allow, s_moved}
`

// The script is never retried: a call cut off by the network may have counted, and counting it
// twice would spend a quota twice.
var (
	// maxLeaseLifeArg is maxLeaseLife in microseconds, as the script reads it: formatted once.
	maxLeaseLifeArg = strconv.FormatInt(int64(maxLeaseLife/time.Microsecond), 10)
	limitLua        = rueidis.NewLuaScript(limitScript)
	giveBackExec    = rueidis.NewLuaScript(giveBackScript)
)

// Hit counts a hit against the sliding window under key.
func (s *Store) Hit(ctx context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	rate := storage.Spec{Key: key, Limit: limit, Window: window}
	if err := checkSpecs("hit", rate, storage.Spec{}); err != nil {
		return storage.Usage{}, err
	}
	r, _, err := s.limit(ctx, rate, storage.Spec{}, "hit", 0, 0, giveBack{})
	return r.Rate, err
}

// Take counts a hit against the fixed-window counter under key.
func (s *Store) Take(ctx context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	quota := storage.Spec{Key: key, Limit: limit, Window: window}
	if err := checkSpecs("take", storage.Spec{}, quota); err != nil {
		return storage.Usage{}, err
	}
	r, _, err := s.limit(ctx, storage.Spec{}, quota, "take", 0, 0, giveBack{})
	return r.Quota, err
}

// grant is what the script granted beyond the answer: how many hits it counted (0 when it
// refused, 1 for the hit asked about, more for a lease) and how long this node may serve them.
type grant struct {
	hits int64
	life time.Duration
	slot int64 // the rate window's slot they were counted in
}

// giveBack is what a caller returns of an expired lease: hits counted in slot of the rate window
// and in the counter's window that ends at end (Unix ms), never served.
type giveBack struct {
	hits, slot, end int64
}

// checkSpecs refuses a window of zero or less.
func checkSpecs(op string, rate, quota storage.Spec) error {
	for _, sp := range []storage.Spec{rate, quota} {
		if sp.Key != "" && sp.Window <= 0 {
			return fmt.Errorf("redis: %s %q: window %v is not positive", op, sp.Key, sp.Window)
		}
	}
	return nil
}

// limit runs the script: one hit when demand is 0, else a lease sized for demand hits per second
// and holding at most most hits. The caller has checked the specs (checkSpecs).
func (s *Store) limit(ctx context.Context, rate, quota storage.Spec, op string, demand, most int64, back giveBack) (storage.LimitResult, grant, error) {
	res := storage.LimitResult{Rate: storage.Usage{Allowed: true}, Quota: storage.Usage{Allowed: true}}
	which := ""
	var keys []string
	args := make([]string, 16)
	args[1] = strconv.Itoa(storage.WindowSlots)
	args[2], args[3], args[4], args[5] = "0", "1", "0", "1"
	args[6] = strconv.FormatInt(demand, 10)
	args[7] = maxLeaseLifeArg
	args[8] = strconv.FormatInt(most, 10)
	args[9] = strconv.FormatInt(back.hits, 10)
	args[10] = strconv.FormatInt(back.slot, 10)
	args[11] = strconv.FormatInt(back.end, 10)
	args[12], args[13], args[14], args[15] = "0", "0", "0", "0"
	if rate.Key != "" {
		which += "r"
		name, slot := windowName(rate)
		keys = append(keys, name)
		args[2] = strconv.FormatInt(rate.Limit, 10)
		args[3] = slot
		if sm := rate.Smooth; sm.On() {
			args[12] = strconv.FormatInt(sm.Threshold, 10)
			args[13] = strconv.FormatInt(sm.Step, 10)
			args[14] = strconv.FormatFloat(sm.Trigger, 'g', -1, 64)
			args[15] = strconv.FormatInt(max(int64(sm.Delay/time.Microsecond), 1), 10)
		}
	}
	if quota.Key != "" {
		which += "q"
		keys = append(keys, quota.Key)
		args[4] = strconv.FormatInt(quota.Limit, 10)
		args[5] = strconv.FormatInt(ceilMillis(quota.Window), 10)
	}
	if which == "" {
		return res, grant{}, nil
	}
	if len(keys) == 2 && s.o.Cluster && s.o.MasterName == "" && hashSlot(keys[0]) != hashSlot(keys[1]) {
		return storage.LimitResult{}, grant{}, fmt.Errorf("redis: %s: %q and %q are in different hash slots of the cluster, "+
			"so one script cannot check both; give them the same {hash tag}", op, keys[0], keys[1])
	}
	args[0] = which
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return storage.LimitResult{}, grant{}, err
	}
	defer cancel()
	start := time.Now()
	v, err := limitLua.Exec(ctx, c, keys, args).AsIntSlice()
	s.roundTrip(op, start, err)
	if err != nil {
		return storage.LimitResult{}, grant{}, s.result(op, err)
	}
	s.repliedNow()
	if len(v) != 11 {
		return storage.LimitResult{}, grant{}, fmt.Errorf("redis: %s: the script returned %d values, want 11", op, len(v))
	}
	if rate.Key != "" {
		res.Rate = storage.Usage{Allowed: v[0] == 1, Used: v[1], Allowance: v[9], Smoothed: int(v[10])}
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
	return res, grant{hits: v[6], life: time.Duration(v[7]) * time.Microsecond, slot: v[8]}, nil
}

// windowName returns the name of a rate limit's window in Redis and its slot length in µs. The
// slot length is part of the name: gateways that disagree on a key's window for a while (a
// policy being rolled out, one that missed a reload) each keep their own, instead of each
// starting the other's afresh, which would let every request through.
func windowName(rate storage.Spec) (name, slot string) {
	slot = strconv.FormatInt(int64(storage.SlotLength(rate.Window)/time.Microsecond), 10)
	return rate.Key + ":" + slot, slot
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

// resetMarkLife is how long a counter's reset mark is kept after its last reset. What tells the
// leasing nodes is the mark's change, not its value (nothing reads the count): the mark only
// has to outlive the leases that may be held when it moves (maxLeaseLife), and its expiry only
// ends the leases taken since early. Kept a day, every key reset or written over through the
// Gateway API left a mark per counter in Redis for a day (rotating keys by the million filled
// its memory).
const resetMarkLife = 10 * maxLeaseLife

// Reset ends the counter's current window. It then bumps the counter's reset mark, which every
// node holding a lease on the counter reads through client-side caching: Redis tells them, and
// they drop their leases (lease.go), so hits leased from the old window are not served in the
// new one. This node drops its own at once.
func (s *Store) Reset(ctx context.Context, key string) error {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	s.dropQuotaLeases(key)
	mark := leaseMarkPrefix + key
	start := time.Now()
	// Deleted first: a lease taken before the mark moves is one the mark's news drops.
	rs := c.DoMulti(ctx,
		c.B().Del().Key(key).Build(),
		c.B().Hincrby().Key(mark).Field("n").Increment(1).Build(),
		c.B().Pexpire().Key(mark).Milliseconds(resetMarkLife.Milliseconds()).Build())
	for _, r := range rs {
		if err = r.Error(); err != nil {
			break
		}
	}
	s.roundTrip("reset", start, err)
	s.dropQuotaLeases(key)
	return s.result("reset", err)
}
