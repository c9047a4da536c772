package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// queue is the span processor: ended spans wait in a bounded queue and one goroutine exports
// them in batches. A request never waits for it: when the queue is full (a collector that is
// down or slow) the span is dropped and counted. The "simple" processor is this with batches
// of one, sent as soon as a span ends, so that it too stays out of the requests' way (the
// SDK's simple processor exports on the request's goroutine).
type queue struct {
	exp     *exporter
	ch      chan sdktrace.ReadOnlySpan
	batch   int
	wait    time.Duration
	timeout time.Duration
	log     *slog.Logger

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
		exp: exp, ch: make(chan sdktrace.ReadOnlySpan, size), batch: batch, wait: wait, timeout: timeout, log: log,
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
	select {
	case q.ch <- s:
	default:
		q.dropped.Add(1)
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
	buf := make([]sdktrace.ReadOnlySpan, 0, q.batch)
	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	for {
		select {
		case s := <-q.ch:
			var sent bool
			if buf, sent = q.add(buf, s); sent {
				timer.Reset(q.wait)
			}
		case <-timer.C:
			buf = q.send(buf)
			timer.Reset(q.wait)
		case done := <-q.flush:
			buf = q.drain(buf)
			close(done)
		case <-q.stop:
			q.drain(buf)
			return
		}
	}
}

// drain sends what is buffered and queued now.
func (q *queue) drain(buf []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	for {
		select {
		case s := <-q.ch:
			buf, _ = q.add(buf, s)
		default:
			return q.send(buf)
		}
	}
}

// add buffers s and sends the batch when it is full; sent says it did.
func (q *queue) add(buf []sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan) (_ []sdktrace.ReadOnlySpan, sent bool) {
	buf = append(buf, s)
	if len(buf) < q.batch {
		return buf, false
	}
	return q.send(buf), true
}

// send exports buf and returns it emptied for reuse.
func (q *queue) send(buf []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	if len(buf) == 0 {
		return buf
	}
	ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
	err := q.exp.export(ctx, buf)
	cancel()
	if err != nil {
		q.dropped.Add(uint64(len(buf)))
		q.warn(err, len(buf))
	} else {
		q.exported.Add(uint64(len(buf)))
	}
	clear(buf)
	return buf[:0]
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
