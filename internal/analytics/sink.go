// Package analytics writes one record per request, after the API's analytics plugin has seen
// it, to a file of JSON lines (Sink) or to the Redis list tyk-pump reads (Pump). Writing happens
// on goroutines of its own so requests never wait for the disk or Redis; when the writer falls
// behind, records are dropped and counted rather than slowing the gateway down. Both bound the
// records waiting by their number and their bytes (queue).
package analytics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// bufferSize is how many records may wait for the writer.
const bufferSize = 10000

// Sink appends records to a file.
type Sink struct {
	queue
	f    *os.File
	done chan struct{}
	once sync.Once
}

// Open starts a sink appending to path (created if missing).
func Open(path string, log *slog.Logger) (*Sink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening the analytics file: %w", err)
	}
	s := &Sink{queue: newQueue(bufferSize, "the file", log), f: f, done: make(chan struct{})}
	go s.loop()
	return s, nil
}

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
		case q := <-s.ch:
			s.add(&p, enc, q)
		case <-s.stop:
			for {
				select {
				case q := <-s.ch:
					s.add(&p, enc, q)
				default:
					s.flush(&p)
					return
				}
			}
		case <-tick.C:
			s.flush(&p)
		}
	}
}

// add encodes q's record into p, and writes p when nothing else waits or it is large.
func (s *Sink) add(p *pending, enc *json.Encoder, q queuedRecord) {
	// A record that cannot be encoded (an analytics plugin set a time JSON cannot write) is
	// dropped alone: Encode writes nothing of it.
	err := enc.Encode(q.r)
	s.taken(q.size)
	if err != nil {
		if n := s.dropped.Add(1); n%1000 == 1 {
			s.log.Error("an analytics record cannot be encoded; it is dropped", "error", err, "dropped", n)
		}
		return
	}
	p.n++
	if len(s.ch) == 0 || p.buf.Len() >= flushSize {
		s.flush(p)
	}
}

// flush writes p's records to the file and empties p. Records the file does not take (a full
// disk, a closed pipe) are dropped and counted; the next flush tries again, so writing resumes
// once the file takes writes.
func (s *Sink) flush(p *pending) {
	if p.n == 0 {
		return
	}
	_, err := s.f.Write(p.buf.Bytes())
	n := p.n
	p.buf.Reset()
	p.n = 0
	s.wrote(n, err)
}

// Close writes what is queued and closes the file; records given to Record after it are dropped.
func (s *Sink) Close() error {
	var err error
	s.once.Do(func() {
		s.close()
		<-s.done
		err = s.f.Close()
	})
	return err
}
