package tracing

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// queue is the span processor: ended spans wait in a bounded queue and one goroutine exports
// them in batches. A request never waits for it: when the queue is full (a collector that is
// down or slow) the span is dropped and counted. Ending a span appends it under a lock and wakes
// the exporting goroutine only when a batch is full, not once a span: on a busy core each
// wake-up was a switch to that goroutine and back. The "simple" processor is this with batches
// of one, sent as soon as a span ends, so that it too stays out of the requests' way (the SDK's
// simple processor exports on the request's goroutine).
type queue struct {
	exp     *exporter
	size    int // the most spans waiting
	batch   int
	wait    time.Duration
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan // ended, not yet taken for export
	taken   int                     // taken and not yet sent; with pending's, at most size
	full    chan struct{}           // a batch is waiting (capacity one: a wake-up, not a count)

	dropped  atomic.Uint64
	exported atomic.Uint64
	lastWarn atomic.Int64 // unix nanoseconds of the last warning about a failed export

	flush    chan chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// ctx bounds exports; Shutdown cancels it when its own context ends.
	ctx    context.Context
	cancel context.CancelFunc
}

func newQueue(exp *exporter, size, batch int, wait, timeout time.Duration, log *slog.Logger) *queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &queue{
		exp: exp, size: size, batch: batch, wait: wait, timeout: timeout, log: log,
		full:  make(chan struct{}, 1),
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}
	go q.run()
	return q
}

var _ sdktrace.SpanProcessor = (*queue)(nil)

func (q *queue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span, or drops it when the queue is full.
func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	q.mu.Lock()
	if len(q.pending)+q.taken >= q.size {
		q.mu.Unlock()
		q.dropped.Add(1)
		return
	}
	if q.pending == nil {
		q.pending = make([]sdktrace.ReadOnlySpan, 0, q.size)
	}
	q.pending = append(q.pending, s)
	batchFull := len(q.pending)%q.batch == 0
	q.mu.Unlock()
	if batchFull {
		select {
		case q.full <- struct{}{}:
		default: // a wake-up is already waiting
		}
	}
}

// ForceFlush exports what is queued and returns when it was sent (or failed), or when ctx ends.
func (q *queue) ForceFlush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case q.flush <- done:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued and stops. When ctx ends first, the exports in progress are
// abandoned (their spans counted as dropped) and Shutdown returns ctx's error.
func (q *queue) Shutdown(ctx context.Context) error {
	q.stopOnce.Do(func() { close(q.stop) })
	stopAfter := context.AfterFunc(ctx, q.cancel)
	defer stopAfter()
	select {
	case <-q.done:
		q.exp.close()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *queue) run() {
	defer close(q.done)
	defer q.cancel()
	var taken []sdktrace.ReadOnlySpan
	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	for {
		select {
		case <-q.full:
			taken = q.send(q.take(taken, false))
			timer.Reset(q.wait)
		case <-timer.C:
			taken = q.send(q.take(taken, true))
			timer.Reset(q.wait)
		case done := <-q.flush:
			taken = q.send(q.take(taken, true))
			close(done)
		case <-q.stop:
			q.send(q.take(taken, true))
			return
		}
	}
}

// take moves the waiting spans into buf (emptied first) and returns it: all of them, or, when
// all is false, the full batches, leaving the rest to wait for theirs.
func (q *queue) take(buf []sdktrace.ReadOnlySpan, all bool) []sdktrace.ReadOnlySpan {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.pending)
	if !all {
		n -= n % q.batch
	}
	buf = append(buf[:0], q.pending[:n]...)
	rest := copy(q.pending, q.pending[n:])
	clear(q.pending[rest:])
	q.pending = q.pending[:rest]
	q.taken += n
	return buf
}

// send exports spans in batches and returns the slice emptied for reuse.
func (q *queue) send(spans []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	for b := range slices.Chunk(spans, q.batch) {
		ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
		err := q.exp.export(ctx, b)
		cancel()
		if err != nil {
			q.dropped.Add(uint64(len(b)))
			q.warn(err, len(b))
		} else {
			q.exported.Add(uint64(len(b)))
		}
		q.mu.Lock()
		q.taken -= len(b)
		q.mu.Unlock()
	}
	clear(spans)
	return spans[:0]
}

// warnEvery spaces the warnings about failed exports: a collector that is down would otherwise
// log once a batch.
const warnEvery = time.Minute

func (q *queue) warn(err error, n int) {
	now := time.Now().UnixNano()
	last := q.lastWarn.Load()
	if last != 0 && now-last < int64(warnEvery) || !q.lastWarn.CompareAndSwap(last, now) {
		return
	}
	q.log.Warn("spans could not be exported to the OpenTelemetry collector and were dropped; requests are not affected",
		"url", q.exp.url, "spans", n, "dropped_total", q.dropped.Load(), "error", err)
}
