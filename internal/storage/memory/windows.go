package memory

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Hit counts a hit under key if fewer than limit hits were allowed in the last window, as
// storage.Windows describes: in slots of storage.SlotLength(window), so a window holds at most
// storage.WindowSlots+1 counts whatever its limit. A limit of zero or less refuses every hit and
// forgets the key. window must be positive.
func (s *Store) Hit(_ context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	if s.closed.Load() {
		return storage.Usage{}, errClosed
	}
	if window <= 0 {
		return storage.Usage{}, fmt.Errorf("memory: hit %q: window %v is not positive", key, window)
	}
	// The clock is read before locking to keep the critical section short.
	now := s.unix(s.now())
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if limit <= 0 {
		delete(sh.windows, key)
		return storage.Usage{}, nil
	}
	w := s.window(sh, key)
	w.advance(now, window)
	if w.total >= limit {
		return s.windowUsage(w, false), nil
	}
	w.count()
	return s.windowUsage(w, true), nil
}

// window returns the window under key, creating an empty one. The shard must be locked.
func (s *Store) window(sh *shard, key string) *sliding {
	w := sh.windows[key]
	if w == nil {
		w = new(sliding)
		sh.windows[strings.Clone(key)] = w
	}
	return w
}

func (s *Store) windowUsage(w *sliding, allowed bool) storage.Usage {
	u := storage.Usage{Allowed: allowed, Used: w.total}
	if w.total > 0 {
		u.Reset = s.toTime(s.fromUnix(w.leaves()))
	}
	return u
}

// sliding is a sliding window kept as counts per slot: the counted slots, oldest first, at most
// storage.WindowSlots+1 of them, holding only slots with hits.
type sliding struct {
	slot  int64 // slot length in nanoseconds
	cur   int64 // the slot of the last call, where a hit is counted
	total int64 // the sum of the counts
	slots []slotCount
	// allow is a smoothed rate limit's allowance (0: none yet), which may move again at or
	// after next (nanoseconds since the Unix epoch); see storage.Smoothing.
	allow, next int64
}

type slotCount struct {
	index int64 // slot number since the Unix epoch
	n     int64
}

// advance moves the window to now (nanoseconds since the Unix epoch) for a window of the given
// length: it forgets the slots that have left it, and everything if the length changed. Amortised
// O(1): each slot is dropped once.
func (w *sliding) advance(now int64, window time.Duration) {
	slot := int64(storage.SlotLength(window))
	if w.slot != slot {
		*w = sliding{slot: slot, slots: w.slots[:0]}
	}
	cur := floorDiv(now, slot)
	// A time read earlier than the last call's (by a caller that lost the race for the lock,
	// or from a clock that stepped back) counts in the last call's slot, keeping slots in
	// order.
	w.cur = max(cur, w.cur)
	lo := w.cur - storage.WindowSlots // the oldest slot still counted
	drop := 0
	for drop < len(w.slots) && w.slots[drop].index < lo {
		w.total -= w.slots[drop].n
		drop++
	}
	if drop > 0 {
		w.slots = w.slots[:copy(w.slots, w.slots[drop:])]
	}
}

// smooth returns the allowance of a smoothed window at now (nanoseconds since the Unix epoch),
// at most limit, after moving it as sm says, and how it moved (+1 up, -1 down). A window that
// holds nothing starts again at the threshold, as the Redis store's, which it deletes then.
func (w *sliding) smooth(sm storage.Smoothing, limit, now int64) (allowance int64, moved int) {
	switch {
	case w.total == 0 || w.allow == 0:
		w.allow, w.next = sm.Threshold, now+int64(sm.Delay)
	case now > w.next:
		if n := sm.Next(w.allow, w.total, limit); n != w.allow {
			// Told only when the allowance applied moves: one above the limit (a threshold
			// over it) brought down to it applied the limit already.
			if applied := min(w.allow, limit); n > applied {
				moved = 1
			} else if n < applied {
				moved = -1
			}
			w.allow, w.next = n, now+int64(sm.Delay)
		}
	}
	return min(w.allow, limit), moved
}

// count counts one hit in the current slot.
func (w *sliding) count() {
	w.total++
	if n := len(w.slots); n > 0 && w.slots[n-1].index == w.cur {
		w.slots[n-1].n++
		return
	}
	w.slots = append(w.slots, slotCount{index: w.cur, n: 1})
}

// leaves returns when the oldest counted slot leaves the window, in nanoseconds since the Unix
// epoch, saturating. The window must hold a count.
func (w *sliding) leaves() int64 {
	return leaveTime(w.slots[0].index, w.slot)
}

// leaveTime returns when slot index of the given length leaves its window: when the slot
// storage.WindowSlots+1 places later begins.
func leaveTime(index, slot int64) int64 {
	next := index + storage.WindowSlots + 1
	if next > 0 && next > math.MaxInt64/slot {
		return math.MaxInt64
	}
	return next * slot
}

// empty reports whether nothing counted at now (nanoseconds since the Unix epoch) is left in the
// window, so the sweep may forget it.
func (w *sliding) empty(now int64) bool {
	n := len(w.slots)
	return n == 0 || now >= leaveTime(w.slots[n-1].index, w.slot)
}

// floorDiv returns a/b rounded down, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
