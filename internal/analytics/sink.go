// Package analytics writes one record per request, after the API's analytics plugin has seen
// it, to a file of JSON lines. Writing happens on its own goroutine so requests never wait for
// the disk; when the writer falls behind, records are dropped and counted rather than slowing
// the gateway down. As the Redis writer's, the records waiting are bounded by their bytes too
// (maxQueuedBytes), not only by their number.
package analytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

// bufferSize is how many records may wait for the writer.
const bufferSize = 10000

// Sink appends records to a file.
type Sink struct {
	ch   chan queuedRecord
	f    *os.File
	log  *slog.Logger
	done chan struct{}
	once sync.Once
	// mu guards closed against Close closing ch while Record sends on it.
	mu      sync.RWMutex
	closed  bool
	dropped atomic.Int64
	written atomic.Int64
	// queued is the size (recordSize) of the records not yet written.
	queued atomic.Int64
	// failing is set while writes fail, so that a failure is logged when it starts and ends.
	failing atomic.Bool
	// droppedAtFailure is dropped when the failure started.
	droppedAtFailure atomic.Int64
}

// Open starts a sink appending to path (created if missing).
func Open(path string, log *slog.Logger) (*Sink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening the analytics file: %w", err)
	}
	s := &Sink{ch: make(chan queuedRecord, bufferSize), f: f, log: log, done: make(chan struct{})}
	go s.loop()
	return s, nil
}

// Record queues a record; it never blocks. Records given to Record after Close are dropped.
func (s *Sink) Record(r *sdk.AnalyticsRecord) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Add(1)
		return
	}
	size := recordSize(r)
	if s.queued.Add(size) > maxQueuedBytes {
		s.queued.Add(-size)
		s.drop()
		return
	}
	select {
	case s.ch <- queuedRecord{r, size}:
	default:
		s.queued.Add(-size)
		s.drop()
	}
}

// drop counts a record Record could not queue, and says so now and then.
func (s *Sink) drop() {
	if n := s.dropped.Add(1); n%1000 == 1 && !s.failing.Load() {
		s.log.Warn("analytics writer is behind; records are being dropped", "dropped", n)
	}
}

// Drop counts a record dropped before it reached the writer.
func (s *Sink) Drop() { s.drop() }

// Dropped returns how many records were dropped so far.
func (s *Sink) Dropped() int64 { return s.dropped.Load() }

// Written returns how many records the file took so far.
func (s *Sink) Written() int64 { return s.written.Load() }

// flushSize is how many encoded bytes the writer gathers before writing them, when more
// records are waiting.
const flushSize = 64 << 10

// pending is what the writer encoded and has not written yet: the lines, and how many records
// they are.
type pending struct {
	buf bytes.Buffer
	n   int64
}

func (s *Sink) loop() {
	defer close(s.done)
	var p pending
	enc := json.NewEncoder(&p.buf)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case q, ok := <-s.ch:
			if !ok {
				s.flush(&p)
				return
			}
			// A record that cannot be encoded (an analytics plugin set a time JSON cannot
			// write) is dropped alone: Encode writes nothing of it.
			err := enc.Encode(q.r)
			s.queued.Add(-q.size)
			if err != nil {
				if n := s.dropped.Add(1); n%1000 == 1 {
					s.log.Error("an analytics record cannot be encoded; it is dropped", "error", err, "dropped", n)
				}
				continue
			}
			p.n++
			if len(s.ch) == 0 || p.buf.Len() >= flushSize {
				s.flush(&p)
			}
		case <-tick.C:
			s.flush(&p)
		}
	}
}

// flush writes p's records to the file and empties p. Records the file does not take (a full
// disk, a closed pipe) are dropped and counted; the next flush tries again, so writing resumes
// once the file takes writes. A failure is logged when it starts and when it ends.
func (s *Sink) flush(p *pending) {
	if p.n == 0 {
		return
	}
	_, err := s.f.Write(p.buf.Bytes())
	n := p.n
	p.buf.Reset()
	p.n = 0
	if err != nil {
		dropped := s.dropped.Add(n)
		if !s.failing.Swap(true) {
			s.droppedAtFailure.Store(dropped - n)
			s.log.Error("analytics: records cannot be written to the file; they are dropped until it takes them again", "error", err)
		}
		return
	}
	s.written.Add(n)
	if s.failing.Swap(false) {
		s.log.Info("analytics: writing records to the file again", "dropped", s.dropped.Load()-s.droppedAtFailure.Load())
	}
}

// Close writes what is queued and closes the file; records given to Record after it are dropped.
func (s *Sink) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.ch)
		s.mu.Unlock()
		<-s.done
		err = s.f.Close()
	})
	return err
}
