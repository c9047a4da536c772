package memory

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Limit counts a hit against a sliding window and a fixed-window counter together, as
// storage.Limits describes. Both shards are locked for the whole check, in a fixed order, so the
// two decisions are taken at once.
func (s *Store) Limit(_ context.Context, rate, quota storage.Spec) (storage.LimitResult, error) {
	if s.closed.Load() {
		return storage.LimitResult{}, errClosed
	}
	for _, sp := range []storage.Spec{rate, quota} {
		if sp.Key != "" && sp.Window <= 0 {
			return storage.LimitResult{}, fmt.Errorf("memory: limit %q: window %v is not positive", sp.Key, sp.Window)
		}
	}
	now := s.now()
	defer unlockPair(s.lockPair(rate.Key, quota.Key))

	res := storage.LimitResult{Rate: storage.Usage{Allowed: true}, Quota: storage.Usage{Allowed: true}}
	var w *sliding
	if rate.Key != "" {
		sh := s.shard(rate.Key)
		if rate.Limit <= 0 {
			delete(sh.windows, rate.Key)
			res.Rate = storage.Usage{}
		} else {
			w = s.window(sh, rate.Key)
			t := s.unix(now)
			w.advance(t, rate.Window)
			limit, moved := rate.Limit, 0
			if rate.Smooth.On() {
				limit, moved = w.smooth(rate.Smooth, rate.Limit, t)
			}
			res.Rate = s.windowUsage(w, w.total < limit)
			if rate.Smooth.On() {
				res.Rate.Allowance, res.Rate.Smoothed = limit, moved
			}
		}
	}
	var c *counter
	if quota.Key != "" {
		sh := s.shard(quota.Key)
		if !res.Rate.Allowed {
			res.Quota = s.peekCounter(sh, quota.Key, now)
			return res, nil
		}
		res.Quota, c = s.checkCounter(sh, quota.Key, quota.Limit, now)
	}
	if !res.Allowed() {
		return res, nil
	}
	if w != nil {
		w.count()
		res.Rate.Used, res.Rate.Reset = w.total, s.windowUsage(w, true).Reset
	}
	if quota.Key != "" {
		res.Quota = s.countCounter(s.shard(quota.Key), quota.Key, c, quota.Window, now)
	}
	return res, nil
}

// lockPair locks the shards of two keys ("" for none) in shard order, so that two callers
// locking the same pair cannot deadlock, and returns them for unlockPair.
func (s *Store) lockPair(a, b string) (first, second *shard) {
	ia, ib := -1, -1
	if a != "" {
		ia = s.shardIndex(a)
	}
	if b != "" {
		ib = s.shardIndex(b)
	}
	if ia == ib || ia < 0 || ib < 0 {
		ia = max(ia, ib)
		ib = -1
	} else if ib < ia {
		ia, ib = ib, ia
	}
	if ia >= 0 {
		first = &s.shards[ia]
		first.mu.Lock()
	}
	if ib >= 0 {
		second = &s.shards[ib]
		second.mu.Lock()
	}
	return first, second
}

func unlockPair(first, second *shard) {
	if second != nil {
		second.mu.Unlock()
	}
	if first != nil {
		first.mu.Unlock()
	}
}
