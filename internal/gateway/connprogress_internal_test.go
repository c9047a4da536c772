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
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("writing to a peer that does not read: %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the deadline set through SetWriteDeadline did not cut a stalled write within 30 s")
	}
}
