package analytics

import (
	"log/slog"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/sdk"
)

// queue is what the two writers (the file's Sink, Redis's Pump) share: the records waiting for
// the writer, bounded by their number (the channel) and by their bytes (maxQueuedBytes); the
// counts of records written and dropped; and the failure of writes, logged when it starts and
// when it ends rather than once a record.
type queue struct {
	ch chan queuedRecord
	// stop is closed by close: the writer writes what waits, then ends. ch is never closed,
	// so Record never sends on a closed channel; records given to it after close are dropped.
	stop   chan struct{}
	closed atomic.Bool
	log    *slog.Logger
	// to names where records go, in log messages: "the file", "Redis".
	to string

	dropped atomic.Int64
	written atomic.Int64
	// queued is the size (recordSize) of the records not yet written.
	queued atomic.Int64
	// failing is set while writes fail; droppedAtFailure is dropped when the failure started.
	failing          atomic.Bool
	droppedAtFailure atomic.Int64
}

// queuedRecord is a record waiting for the writer, with its recordSize, worked out once by Record.
type queuedRecord struct {
	r    *sdk.AnalyticsRecord
	size int64
}

func newQueue(size int, to string, log *slog.Logger) queue {
	return queue{ch: make(chan queuedRecord, size), stop: make(chan struct{}), to: to, log: log}
}

// Record queues r; it never blocks. The writer owns r from here.
func (q *queue) Record(r *sdk.AnalyticsRecord) {
	if q.closed.Load() {
		q.dropped.Add(1)
		return
	}
	size := recordSize(r)
	if q.queued.Add(size) > maxQueuedBytes {
		q.queued.Add(-size)
		q.drop()
		return
	}
	select {
	case q.ch <- queuedRecord{r, size}:
	default:
		q.queued.Add(-size)
		q.drop()
	}
}

// drop counts a record Record could not queue, and says so now and then (not while writes
// fail: that is logged once).
func (q *queue) drop() {
	if n := q.dropped.Add(1); n%1000 == 1 && !q.failing.Load() {
		q.log.Warn("analytics: the writer to "+q.to+" is behind; records are being dropped", "dropped", n)
	}
}

// Drop counts a record dropped before it reached the writer.
func (q *queue) Drop() { q.drop() }

// Dropped returns how many records were dropped so far.
func (q *queue) Dropped() int64 { return q.dropped.Load() }

// Written returns how many records were written so far.
func (q *queue) Written() int64 { return q.written.Load() }

// taken is the writer's note that records of size bytes left the queue (written or not).
func (q *queue) taken(size int64) { q.queued.Add(-size) }

// wrote is the end of a write of n records: counted as written, or, when err is set, as
// dropped, with the failure logged when it starts and when it ends.
func (q *queue) wrote(n int64, err error) {
	if err != nil {
		dropped := q.dropped.Add(n)
		if !q.failing.Swap(true) {
			q.droppedAtFailure.Store(dropped - n)
			q.log.Error("analytics: records cannot be written to "+q.to+"; they are dropped until it takes them again", "error", err)
		}
		return
	}
	q.written.Add(n)
	if q.failing.Swap(false) {
		q.log.Info("analytics: writing records to "+q.to+" again", "dropped", q.dropped.Load()-q.droppedAtFailure.Load())
	}
}

// close drops the records given to Record from now on and tells the writer to end.
func (q *queue) close() {
	q.closed.Store(true)
	close(q.stop)
}
