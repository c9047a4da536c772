package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets, as HdrHistogram does: exact below 256 ns,
// then 128 buckets per power of two, so that any value is known to within 1/128 (0.8 %) of
// itself. It is safe for concurrent use, records without allocating, and its size does not grow
// with the number of values: the load generator keeps one for a run instead of every latency.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7                    // 128 buckets per power of two above the exact range
	histSub     = 1 << histSubBits     // 128
	histExact   = 2 * histSub          // values below 256 ns have a bucket each
	histShifts  = 40 - histSubBits - 1 // shifts 1 to 32: values below 2^40 ns (18 minutes); above, the last bucket
	histBuckets = histExact + histShifts*histSub
)

// bucketOf returns the bucket of v nanoseconds (v < 0 counts as 0).
func bucketOf(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1) // v>>shift is in [128, 256)
	i := histExact + (shift-1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// bucketHigh returns the highest value bucket i holds.
func bucketHigh(i int) int64 {
	if i < histExact {
		return int64(i)
	}
	shift := (i-histExact)/histSub + 1
	m := int64((i-histExact)%histSub + histSub)
	return (m+1)<<shift - 1
}

// record counts one value.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// count returns how many values were recorded.
func (h *histogram) count() uint64 { return h.n.Load() }

// maximum returns the largest value recorded, exactly.
func (h *histogram) maximum() time.Duration { return time.Duration(h.max.Load()) }

// quantile returns the q quantile (nearest rank) as the highest value of its bucket, capped at
// the exact maximum: never below the true quantile, at most 0.8 % above it. 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			if i == histBuckets-1 {
				return h.maximum() // the last bucket also holds every value past its range
			}
			return min(time.Duration(bucketHigh(i)), h.maximum())
		}
	}
	return h.maximum()
}

// above returns how many values were recorded above d (to the bucket: values in d's own bucket
// count as not above).
func (h *histogram) above(d time.Duration) uint64 {
	var n uint64
	for i := bucketOf(int64(d)) + 1; i < histBuckets; i++ {
		n += h.counts[i].Load()
	}
	return n
}
