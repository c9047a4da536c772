// Package gcroom gives the garbage collector room in proportion to a large live heap.
//
// Go starts a collection when the heap has grown by GOGC percent (100 by default) of the live
// heap, but never before it reaches 4 MiB. A gateway with a few APIs keeps about 1 MiB live, so
// that floor lets it allocate two to three times its live heap between cycles: an effective
// GOGC of 200 to 300. A gateway with thousands of APIs keeps tens of MiB live (compiled APIs,
// decoded sessions) and gets GOGC=100 as written, so it spends more of its time marking and
// serves requests more slowly than the same gateway with one API (docs/performance-log.md, "Why
// 10,000 APIs cost the collector more than one").
//
// Start watches the live heap after every collection and sets GOGC to 200 once it reaches
// 4 MiB, and back to 100 when it falls under 3 MiB: the room the floor gives a small heap,
// given to a large one. The heap's target still follows the live heap (about three times it,
// plus twice the goroutine stacks and globals), so a leak shows as it would. The operator's
// choice always wins: with GOGC or GOMEMLIMIT in the environment, or once anything else in the
// process sets a different GOGC with debug.SetGCPercent, the collector is left alone.
package gcroom

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// The policy: Raise and Lower are live heap sizes, Default and Large the GOGC values below and
// above them. Between Lower and Raise the value stays as it was, so that a heap near the line
// does not switch at every cycle.
const (
	Raise   = 4 << 20
	Lower   = 3 << 20
	Default = 100
	Large   = 200
)

// PercentFor returns the GOGC the policy gives a live heap of live bytes, current being the
// value in force.
func PercentFor(live uint64, current int) int {
	switch {
	case live >= Raise:
		return Large
	case live < Lower:
		return Default
	default:
		return current
	}
}

const (
	liveMetric    = "/gc/heap/live:bytes"
	percentMetric = "/gc/gogc:percent"
)

// Tuner follows the collector's cycles; Stop ends it.
type Tuner struct {
	log *slog.Logger

	mu       sync.Mutex
	stopped  bool
	percent  int // the GOGC this tuner last set, or found
	samples  []metrics.Sample
	lastInfo time.Time // when a change was last logged at info
}

// quietFor is how long after a change logged at info further changes are logged at debug: a
// live heap near the lines can cross them with bursts of traffic (in-flight requests count).
const quietFor = time.Minute

// Start begins following the collector's cycles and returns the tuner, or logs why it leaves
// the collector alone and returns nil: GOGC or GOMEMLIMIT set in the environment (an empty
// value is unset, as for the runtime), or a GOGC other than Go's default already in force. The
// first decision is taken at the first collection after it.
func Start(log *slog.Logger) *Tuner {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv(name); v != "" {
			log.Info("collector: "+name+" is set in the environment; gatehouse leaves the collector's pacing to it", name, v)
			return nil
		}
	}
	t := &Tuner{log: log, samples: []metrics.Sample{{Name: liveMetric}, {Name: percentMetric}}}
	metrics.Read(t.samples[1:])
	if t.percent = int(t.samples[1].Value.Uint64()); t.percent != Default {
		log.Info("collector: GOGC was set within the process; gatehouse leaves the collector's pacing to it", "GOGC", t.percent)
		return nil
	}
	t.arm()
	return t
}

// sentinel is allocated to be collected: its cleanup runs once per cycle. It holds a pointer so
// that it is not batched with other tiny objects, whose cleanups may never run.
type sentinel struct {
	_ *byte
	_ [8]byte
}

func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), (*Tuner).cycle, t)
}

// cycle runs after a collection: it reads the live heap the collection marked and sets GOGC
// by the policy, then waits for the next one.
func (t *Tuner) cycle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples)
	live, now := t.samples[0].Value.Uint64(), int(t.samples[1].Value.Uint64())
	if now != t.percent {
		t.yield(now)
		return
	}
	if want := PercentFor(live, now); want != now {
		if prev := debug.SetGCPercent(want); prev != now {
			// Set by someone else between the read and the write: theirs stands.
			debug.SetGCPercent(prev)
			t.yield(prev)
			return
		}
		t.percent = want
		level := slog.LevelInfo
		if at := time.Now(); at.Sub(t.lastInfo) < quietFor {
			level = slog.LevelDebug
		} else {
			t.lastInfo = at
		}
		t.log.Log(context.Background(), level, "collector: GOGC set for the live heap (set GOGC in the environment to choose it)",
			"live_heap_mib", float64(live*10/(1<<20))/10, "GOGC", want)
	}
	t.arm()
}

// yield stops the tuner for a GOGC it did not set.
func (t *Tuner) yield(percent int) {
	t.stopped = true
	t.log.Info("collector: GOGC was changed from within the process; gatehouse leaves the collector's pacing to it", "GOGC", percent)
}

// Percent returns the GOGC the tuner last set or found.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Stop ends the tuner; the GOGC it last set stays in force.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}
