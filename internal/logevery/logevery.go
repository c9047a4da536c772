// Package logevery spaces out a log line that a flood could repeat (a client's bad requests, a
// collector or Redis that is down): the line is written at most once per interval, with how
// many were held back since the last one.
package logevery

import (
	"sync/atomic"
	"time"
)

// Gate lets a line through at most once per Every. The zero Gate with Every set is ready; it
// lets the first line through. It is safe for concurrent use and takes no lock.
type Gate struct {
	Every time.Duration
	last  atomic.Int64 // Unix nanoseconds of the last line let through; 0 for none
	held  atomic.Int64 // lines held back since
}

// Allow reports whether a line may be written at now. When it may, held is how many were held
// back since the last line; when not, the line is counted among them.
func (g *Gate) Allow(now time.Time) (held int64, ok bool) {
	n := now.UnixNano() | 1 // never 0, which stands for "no line yet"
	last := g.last.Load()
	if last != 0 && n-last < int64(g.Every) || !g.last.CompareAndSwap(last, n) {
		g.held.Add(1)
		return 0, false
	}
	return g.held.Swap(0), true
}
