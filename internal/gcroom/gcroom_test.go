package gcroom_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gcroom"
)

func TestPercentFor(t *testing.T) {
	for _, c := range []struct {
		live    uint64
		current int
		want    int
	}{
		{1 << 20, 100, 100},
		{1 << 20, 200, 100},
		{gcroom.Lower - 1, 200, 100},
		{gcroom.Lower, 200, 200}, // between the lines: as it was
		{gcroom.Lower, 100, 100},
		{gcroom.Raise - 1, 100, 100},
		{gcroom.Raise, 100, 200},
		{200 << 20, 100, 200},
	} {
		if got := gcroom.PercentFor(c.live, c.current); got != c.want {
			t.Errorf("PercentFor(%d, %d) = %d, want %d", c.live, c.current, got, c.want)
		}
	}
}

// syncBuffer is a log destination the cleanup goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup clears GOGC and GOMEMLIMIT from the environment for the test, puts the collector at
// Go's default and restores both after it. The log keeps debug lines: changes after the first
// within a minute are logged at debug.
func setup(t *testing.T) (*slog.Logger, *syncBuffer) {
	t.Setenv("GOGC", "") // empty is unset, for the runtime and for Start
	t.Setenv("GOMEMLIMIT", "")
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// changedTo reports whether the log has a line saying the tuner set GOGC to percent.
func changedTo(buf *syncBuffer, percent int) bool {
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, "collector: GOGC set for the live heap") && strings.HasSuffix(line, fmt.Sprintf(" GOGC=%d", percent)) {
			return true
		}
	}
	return false
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// collectUntil runs collections until cond holds (a cleanup runs on its own goroutine after the
// cycle that found its object), or fails after 10 s.
func collectUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s of collections: %s; GOGC is %d", what, gogc())
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// liveHeap returns size bytes of live heap in 64 KiB blocks, each holding a pointer.
func liveHeap(size int) []*[64 << 10]byte {
	out := make([]*[64 << 10]byte, size/(64<<10))
	for i := range out {
		out[i] = new([64 << 10]byte)
	}
	return out
}

// TestFollowsTheLiveHeap: a live heap of 8 MiB gets GOGC 200, and GOGC goes back to 100 once
// it is gone, each change logged.
func TestFollowsTheLiveHeap(t *testing.T) {
	log, buf := setup(t)
	tu := gcroom.Start(log)
	if tu == nil {
		t.Fatal("Start returned nil with GOGC unset")
	}
	defer tu.Stop()
	for range 3 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if g := gogc(); g != 100 || strings.Contains(buf.String(), "GOGC set") {
		t.Fatalf("the test binary's small heap got GOGC %d; the log:\n%s", g, buf)
	}

	held := liveHeap(8 << 20)
	collectUntil(t, "8 MiB live did not get GOGC 200", func() bool { return gogc() == 200 })
	if tu.Percent() != 200 || !changedTo(buf, 200) {
		t.Errorf("GOGC raised, but the tuner reads %d and logged:\n%s", tu.Percent(), buf)
	}
	runtime.KeepAlive(held)
	held = nil

	collectUntil(t, "GOGC stayed 200 after the live heap was dropped", func() bool { return gogc() == 100 })
	if !changedTo(buf, 100) {
		t.Errorf("GOGC lowered without a log line:\n%s", buf)
	}
	if !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("the second change within a minute was not logged at debug:\n%s", buf)
	}
}

// TestLeavesTheOperatorsChoice: with GOGC or GOMEMLIMIT in the environment, or a GOGC other than
// Go's default set in the process before it, Start does nothing but say so.
func TestLeavesTheOperatorsChoice(t *testing.T) {
	for _, c := range []struct {
		name, env, value string
		percent          int // set in the process before Start
		says             string
	}{
		{"GOGC", "GOGC", "150", 150, "GOGC is set in the environment"},
		{"GOMEMLIMIT", "GOMEMLIMIT", "1GiB", 100, "GOMEMLIMIT is set in the environment"},
		{"SetGCPercent", "", "", 150, "GOGC was set within the process"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log, buf := setup(t)
			if c.env != "" {
				t.Setenv(c.env, c.value)
			}
			debug.SetGCPercent(c.percent)
			if tu := gcroom.Start(log); tu != nil {
				tu.Stop()
				t.Fatal("Start returned a tuner")
			}
			held := liveHeap(8 << 20)
			for range 3 {
				runtime.GC()
				time.Sleep(5 * time.Millisecond)
			}
			runtime.KeepAlive(held)
			if g := gogc(); g != c.percent {
				t.Errorf("GOGC is %d, want %d", g, c.percent)
			}
			if !strings.Contains(buf.String(), c.says) {
				t.Errorf("no log line says %q:\n%s", c.says, buf)
			}
		})
	}
}

// TestYieldsToSetGCPercent: once something else in the process sets GOGC (a plugin, an
// embedding program), the tuner stops and never overrides it.
func TestYieldsToSetGCPercent(t *testing.T) {
	log, buf := setup(t)
	tu := gcroom.Start(log)
	defer tu.Stop()
	debug.SetGCPercent(150)
	collectUntil(t, "the tuner did not notice GOGC was changed", func() bool {
		return strings.Contains(buf.String(), "changed from within the process")
	})
	held := liveHeap(8 << 20)
	for range 5 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(held)
	if g := gogc(); g != 150 {
		t.Errorf("GOGC is %d after the tuner yielded, want the 150 set", g)
	}
}
