package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gatehouse/gatehouse/internal/logevery"
)

// queue is the span processor: ended spans wait in a bounded queue and one goroutine exports
// them in batches. A request never waits for it: when the queue is full (a collector that is
// down or slow) the span is dropped and counted. The "simple" processor is this with batches
// of one, sent as soon as a span ends, so that it too stays out of the requests' way (the SDK's
// simple processor exports on the request's goroutine).
//
// A span is encoded when it ends, on the goroutine that ends it, and waits as the bytes it is
// sent as: a batch of spans is a few hundred kilobytes the collector never scans, where the
// SDK's records of them, held until their export, were pointers it marked at every cycle.
// Ending a span appends it under a lock and wakes the exporting goroutine only when a batch is
// full, not once a span: on a busy core each wake-up was a switch to that goroutine and back.
// The spans are all the Tracer's one tracer's (its provider is its own), so a batch goes under
// the one instrumentation scope the exporter encodes.
type queue struct {
	exp     *exporter
	size    int // the most spans waiting
	batch   int
	wait    time.Duration
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	pending encoded // ended, not yet taken for export
	taken   int     // taken, their export not yet started; with pending's, at most size
	// bytes is the size of the spans pending, taken, or being exported: at most
	// maxQueuedBytes, whatever their count, since a span carries what the client sent (its
	// path, its User-Agent) and a collector that does not answer keeps them all.
	bytes int
	spare encoded // the last batch's buffers, for the next (the exporting goroutine's)
	// waiting mirrors pending's count and taken, read without the lock to drop a span without
	// encoding it when the queue is full.
	waiting atomic.Int64
	full    chan struct{} // a batch is waiting (capacity one: a wake-up, not a count)

	dropped  atomic.Uint64
	exported atomic.Uint64
	warnings logevery.Gate // warnings about failed exports, once per warnEvery

	flush    chan chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// ctx bounds exports; Shutdown cancels it when its own context ends.
	ctx    context.Context
	cancel context.CancelFunc
}

// encoded is spans as appendSpan writes them, one after the other; ends[i] is where span i
// ends in data.
type encoded struct {
	data []byte
	ends []int
}

func (e *encoded) count() int { return len(e.ends) }

// span i to span j (excluded).
func (e *encoded) spans(i, j int) []byte {
	from := 0
	if i > 0 {
		from = e.ends[i-1]
	}
	return e.data[from:e.ends[j-1]]
}

func (e *encoded) reset() {
	e.data, e.ends = e.data[:0], e.ends[:0]
}

// maxQueuedBytes bounds the encoded spans waiting for export or being exported, as analytics
// bound their records: past it, spans are dropped and counted, as when max_queue_size is
// reached.
const maxQueuedBytes = 16 << 20

// maxKeptBuffer is the largest span buffer kept for the next batch: a plugin's span with a huge
// attribute should not hold that much memory for good.
const maxKeptBuffer = 4 << 20

func newQueue(exp *exporter, size, batch int, wait, timeout time.Duration, log *slog.Logger) *queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &queue{
		exp: exp, size: size, batch: batch, wait: wait, timeout: timeout, log: log, warnings: logevery.Gate{Every: warnEvery},
		full:  make(chan struct{}, 1),
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}
	go q.run()
	return q
}

var _ sdktrace.SpanProcessor = (*queue)(nil)

func (q *queue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// scratch buffers a span is encoded in before it is queued.
var spanBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// OnEnd queues a sampled span, or drops it when the queue is full.
func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if q.waiting.Load() >= int64(q.size) {
		q.dropped.Add(1)
		return
	}
	buf := spanBufs.Get().(*[]byte)
	*buf = appendSpan((*buf)[:0], s)
	q.mu.Lock()
	n := q.pending.count()
	if n+q.taken >= q.size || q.bytes+len(*buf) > maxQueuedBytes {
		q.mu.Unlock()
		q.dropped.Add(1)
		putSpanBuf(buf)
		return
	}
	q.pending.data = append(q.pending.data, *buf...)
	q.pending.ends = append(q.pending.ends, len(q.pending.data))
	q.bytes += len(*buf)
	q.waiting.Store(int64(n + 1 + q.taken))
	batchFull := (n+1)%q.batch == 0
	q.mu.Unlock()
	putSpanBuf(buf)
	if batchFull {
		select {
		case q.full <- struct{}{}:
		default: // a wake-up is already waiting
		}
	}
}

func putSpanBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		spanBufs.Put(b)
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
	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	for {
		select {
		case <-q.full:
			q.send(q.take(false))
			timer.Reset(q.wait)
		case <-timer.C:
			q.send(q.take(true))
			timer.Reset(q.wait)
		case done := <-q.flush:
			q.send(q.take(true))
			close(done)
		case <-q.stop:
			q.send(q.take(true))
			return
		}
	}
}

// take returns the waiting spans: all of them, or, when all is false, the full batches,
// leaving the rest to wait for theirs. The buffers they were in are handed over whole; the
// spans left behind are copied to the spare ones, which become the queue's.
func (q *queue) take(all bool) encoded {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.pending.count()
	k := n
	if !all {
		k -= n % q.batch
	}
	if k == 0 {
		return encoded{}
	}
	out := q.pending
	q.pending, q.spare = q.spare, encoded{}
	q.pending.reset()
	if k < n {
		cut := out.ends[k-1]
		q.pending.data = append(q.pending.data, out.data[cut:]...)
		for _, end := range out.ends[k:] {
			q.pending.ends = append(q.pending.ends, end-cut)
		}
		out.data, out.ends = out.data[:cut], out.ends[:k]
	}
	q.taken += k
	return out
}

// send exports spans in batches, then keeps their buffers for the next.
func (q *queue) send(spans encoded) {
	n := spans.count()
	for i := 0; i < n; i += q.batch {
		j := min(i+q.batch, n)
		// The batch being sent leaves the queue's count as its export starts: max_queue_size
		// spans can wait while it is sent, as with the SDK's batch processor.
		// The batch is encoded once more, as the request's body: counted twice while sent.
		batch := spans.spans(i, j)
		q.mu.Lock()
		q.taken -= j - i
		q.waiting.Store(int64(q.pending.count() + q.taken))
		q.bytes += len(batch)
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
		err := q.exp.export(ctx, batch)
		cancel()
		q.mu.Lock()
		q.bytes -= 2 * len(batch)
		q.mu.Unlock()
		if err != nil {
			q.dropped.Add(uint64(j - i))
			q.warn(err, j-i)
		} else {
			q.exported.Add(uint64(j - i))
		}
	}
	if n > 0 && cap(spans.data) <= maxKeptBuffer {
		spans.reset()
		q.mu.Lock()
		if q.spare.data == nil {
			q.spare = spans
		}
		q.mu.Unlock()
	}
}

// warnEvery spaces the warnings about failed exports: a collector that is down would otherwise
// log once a batch.
const warnEvery = time.Minute

func (q *queue) warn(err error, n int) {
	if _, ok := q.warnings.Allow(time.Now()); !ok {
		return
	}
	q.log.Warn("spans could not be exported to the OpenTelemetry collector and were dropped; requests are not affected",
		"url", q.exp.url, "spans", n, "dropped_total", q.dropped.Load(), "error", err)
}
