package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// progressPair returns a progressConn with write_progress_timeout d on one end of a loopback TCP
// connection, and the other end.
func progressPair(t *testing.T, d time.Duration) (*progressConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pl := progressListener(ln, d)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := pl.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close() })
	return c.(*progressConn), client
}

// TestProgressConnReadFrom: ReadFrom copies a file (the kernel's path) and any other reader
// (through Write) whole, and sets the deadline on the way.
func TestProgressConnReadFrom(t *testing.T) {
	want := bytes.Repeat([]byte("progress "), 20000) // 180 KB: several chunks
	file := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  func(t *testing.T) io.Reader
	}{
		{"file", func(t *testing.T) io.Reader {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		}},
		{"file behind a LimitedReader", func(t *testing.T) io.Reader {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return io.LimitReader(f, int64(len(want)))
		}},
		{"a reader", func(*testing.T) io.Reader { return strings.NewReader(string(want)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, client := progressPair(t, 10*time.Second)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(client)
				got <- b
			}()
			n, err := pc.ReadFrom(tc.src(t))
			if err != nil || n != int64(len(want)) {
				t.Fatalf("ReadFrom: %d, %v; want %d", n, err, len(want))
			}
			pc.mu.Lock()
			set := pc.set
			pc.mu.Unlock()
			if set.IsZero() {
				t.Error("ReadFrom wrote without a write deadline")
			}
			pc.Close()
			if b := <-got; !bytes.Equal(b, want) {
				t.Errorf("received %d bytes, want the %d sent", len(b), len(want))
			}
		})
	}
}

// TestProgressConnReadFromStalls: a file sent to a peer that does not read fails once no byte
// has gone out for the timeout, on the kernel's path too.
func TestProgressConnReadFromStalls(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(256 << 20); err != nil { // sparse: far more than the sockets buffer
		t.Fatal(err)
	}
	pc, _ := progressPair(t, time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := pc.ReadFrom(f)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom to a peer that does not read: %v, want a deadline error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ReadFrom to a peer that does not read still blocks after 60 s")
	}
}

// TestProgressConnHardBound: a deadline set through SetWriteDeadline (write_timeout) cuts a
// stalled write at that deadline, though the progress timeout is far longer.
func TestProgressConnHardBound(t *testing.T) {
	pc, _ := progressPair(t, time.Minute)
	if err := pc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := stall(pc, 30*time.Second)
	if err == nil {
		t.Fatal("the deadline set through SetWriteDeadline did not cut a stalled write within 30 s")
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writing to a peer that does not read: %v, want a deadline error", err)
	}
}

// stall writes to pc until a write fails, and reports how long that took (max, and no error,
// when no write failed by then).
func stall(pc *progressConn, max time.Duration) (time.Duration, error) {
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := pc.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(max):
		pc.Close()
		<-done
		return max, nil
	}
}

// TestProgressConnFirstRequestWithWriteTimeout: on a connection's first request with
// write_timeout (30 s) longer than write_progress_timeout (1 s), Go's server calls
// SetWriteDeadline(now+30s) after reading the request; a client that then stops reading is cut
// within about 1 s, not 30.
func TestProgressConnFirstRequestWithWriteTimeout(t *testing.T) {
	pc, _ := progressPair(t, time.Second)
	_ = pc.SetWriteDeadline(time.Now().Add(30 * time.Second)) // what readRequest does
	took, err := stall(pc, 8*time.Second)
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || took > 3*time.Second {
		t.Fatalf("stalled write cut after %v (%v); want a deadline error within ~1 s", took, err)
	}
}

// TestProgressConnAfterLiftedDeadline: over TLS the server sets the handshake timeout as a
// write deadline, then lifts it (zero); so it does with write_timeout after each response. A
// write stalled after that is cut within write_progress_timeout, not at the lifted deadline.
func TestProgressConnAfterLiftedDeadline(t *testing.T) {
	pc, _ := progressPair(t, time.Second)
	_ = pc.SetWriteDeadline(time.Now().Add(30 * time.Second)) // the TLS handshake's
	_ = pc.SetWriteDeadline(time.Time{})                      // "Restore Conn-level deadlines"
	took, err := stall(pc, 8*time.Second)
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || took > 3*time.Second {
		t.Fatalf("stalled write cut after %v (%v); want a deadline error within ~1 s", took, err)
	}
}

// TestProgressConnLaterRequests: the same on a kept-alive connection's later requests: the
// write_timeout deadline set for each request is a bound, lifted after each response, and a
// stalled write of the third request is still cut within about 1 s. (The peer never reads: the
// small answers before fit in the socket buffers.)
func TestProgressConnLaterRequests(t *testing.T) {
	pc, _ := progressPair(t, time.Second)
	for range 2 {
		_ = pc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := pc.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = pc.SetWriteDeadline(time.Time{})
	}
	_ = pc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	took, err := stall(pc, 8*time.Second)
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || took > 3*time.Second {
		t.Fatalf("stalled write cut after %v (%v); want a deadline error within ~1 s", took, err)
	}
}

// deadlineCounter is a connection that takes every write and counts the write deadlines set on
// it.
type deadlineCounter struct {
	net.Conn
	sets int
}

func (c *deadlineCounter) Write(b []byte) (int, error)      { return len(b), nil }
func (c *deadlineCounter) SetWriteDeadline(time.Time) error { c.sets++; return nil }

// TestProgressConnMovesRarelyUnderWriteTimeout: the server's write_timeout, set for every
// request and lifted after every response, does not make each response move the connection's
// deadline: a thousand quick requests set it once (twice if the machine stalls for seconds).
func TestProgressConnMovesRarelyUnderWriteTimeout(t *testing.T) {
	dc := &deadlineCounter{}
	pc := &progressConn{Conn: dc, d: 10 * time.Second, slack: progressSlack}
	for range 1000 {
		_ = pc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := pc.Write([]byte("response")); err != nil {
			t.Fatal(err)
		}
		_ = pc.SetWriteDeadline(time.Time{})
	}
	if dc.sets < 1 || dc.sets > 2 {
		t.Fatalf("1000 requests set the connection's write deadline %d times, want 1 (the progress deadline moves about once a second)", dc.sets)
	}
}
