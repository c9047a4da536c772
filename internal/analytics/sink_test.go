package analytics

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/sdk"
)

// stalledFile returns the path of a named pipe whose reader never reads: a file whose writes
// block once the pipe's buffer is full, as a stalled disk's do. unstall closes the reader,
// which fails the blocked writes.
func stalledFile(t *testing.T) (path string, unstall func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "analytics.jsonl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	return path, func() { r.Close() }
}

// TestSinkBytesBounded: while the file takes nothing, records with large raw requests are
// dropped past the byte budget, as the Redis writer's are, not kept by the thousand (10,000
// records of a detailed recording's 1 MiB would hold 10 GiB).
func TestSinkBytesBounded(t *testing.T) {
	path, unstall := stalledFile(t)
	s, err := Open(path, slog.New(slog.DiscardHandler))
	if err != nil {
		unstall()
		t.Fatal(err)
	}
	defer s.Close()
	defer unstall()
	for i := range 200 {
		s.Record(&sdk.AnalyticsRecord{APIID: "a", RawRequest: strings.Repeat(string(rune('A'+i%26)), 1<<20)})
	}
	if d := s.Dropped(); d < 200-maxQueuedBytes>>20 {
		t.Errorf("dropped %d of 200 records of 1 MiB with a budget of %d MiB", d, maxQueuedBytes>>20)
	}
}

// TestSinkRecordAfterClose: a request that ends after the gateway closed its sink (one still in
// flight when the grace period ran out) has its record dropped and counted, not a panic.
func TestSinkRecordAfterClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "analytics.jsonl"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.Record(&sdk.AnalyticsRecord{APIID: "a"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Written() != 1 {
		t.Errorf("written %d of 1 queued record at Close", s.Written())
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("a record after Close: panic %v", p)
			}
		}()
		s.Record(&sdk.AnalyticsRecord{APIID: "a"})
	}()
	if s.Dropped() != 1 {
		t.Errorf("a record after Close: dropped %d, want 1", s.Dropped())
	}
}

// TestSinkWriteFailuresCounted: records the file cannot take (a full disk: /dev/full) are
// counted as dropped, never as written, and the failure is logged when it starts, not once per
// record.
func TestSinkWriteFailuresCounted(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	var logs testkit.SyncBuffer
	s, err := Open("/dev/full", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		s.Record(&sdk.AnalyticsRecord{APIID: "a", UserAgent: strings.Repeat("u", 1000)})
		if len(s.ch) > 100 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Written() != 0 || s.Dropped() != 500 {
		t.Errorf("written %d, dropped %d of 500 records on a full disk; want 0, 500", s.Written(), s.Dropped())
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n > 1 {
		t.Errorf("%d error lines for one failure:\n%.2000s", n, logs.String())
	}
}

// TestSinkResumesAfterWriteFailure: once the file takes writes again (a pipe's reader is back,
// a disk has room again), records are written again: one failed write does not stop the
// analytics file until the gateway restarts.
func TestSinkResumesAfterWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "analytics.jsonl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	r1, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	s, err := Open(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The reader goes away: the next write fails (EPIPE).
	r1.Close()
	s.Record(&sdk.AnalyticsRecord{APIID: "lost"})
	waitFor(t, "the failed write is logged", func() bool { return strings.Contains(logs.String(), "level=ERROR") })
	// A reader is back: records are written again.
	r2, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	s.Record(&sdk.AnalyticsRecord{APIID: "after"})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r2).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		if !strings.Contains(line, `"api_id":"after"`) {
			t.Errorf("read %q, want the record made after the failure", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no record written after the file took writes again")
	}
}
