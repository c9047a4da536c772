package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

// defaultOpenBudget is how long a reload waits, in all, for the plugins it opens. Opening a
// plugin runs its package init functions, which may do anything (dial a database with a long
// timeout, never return); Go cannot stop them. Past the budget, a plugin still opening is
// waited for beside the reload, as a source build is: its API keeps its previous version
// (previousServes) or answers 503, and the gateway reloads by itself when the open ends.
const defaultOpenBudget = 5 * time.Second

// unboundedOpenBudget is the budget with fail_on_plugin_load_error: no bound.
const unboundedOpenBudget = 100 * 365 * 24 * time.Hour

// openPending is the error of a hook whose plugin is still being opened when the reload's
// budget ran out, with the channel closed when the open ends.
type openPending struct {
	file string
	done <-chan struct{}
}

func (o *openPending) Error() string {
	return "plugin " + o.file + " is being loaded (its init functions, or those of a plugin opened before it, have not returned yet)"
}

// pendingWork is the error of a hook waiting for work beside the reload: a source plugin being
// built (buildPending), a plugin being opened (openPending).
type pendingWork interface {
	error
	doneCh() <-chan struct{}
}

func (b *buildPending) doneCh() <-chan struct{} { return b.done }
func (o *openPending) doneCh() <-chan struct{}  { return o.done }

// opener opens plugins for reloads within a budget per reload, each open on a goroutine of its
// own: one taking longer goes on beside the reload (openPending), and when it ends after its
// reload stopped waiting, onLate asks for a reload. One open of the same hook (path and
// verified content) runs at a time, however many reloads ask: a plugin whose init never returns
// leaves one goroutine behind, not one per reload.
type opener struct {
	onLate func()
	budget atomic.Int64 // nanoseconds; set by tests

	mu       sync.Mutex
	deadline time.Time // of the reload under way
	running  map[string]*openRun
}

type openRun struct {
	done chan struct{}
	late bool // a reload stopped waiting for it: its end asks for a reload
	p    *plugin.Plugin
	file string
	err  error
}

func newOpener(onLate func()) *opener {
	o := &opener{onLate: onLate, running: map[string]*openRun{}}
	o.budget.Store(int64(defaultOpenBudget))
	return o
}

// begin starts a reload's budget.
func (o *opener) begin(now time.Time) {
	o.mu.Lock()
	o.deadline = now.Add(time.Duration(o.budget.Load()))
	o.mu.Unlock()
}

// minOpenWait is how long an open waits at least, once the reload's budget is spent: enough for
// a plugin opened before, so that one slow init does not make every plugin after it in the
// reload pending, each then asking for another reload. The loader answers such a plugin without
// waiting for any init, but reads and hashes its file again when the file changed less than 5 s
// before it was last hashed (about 1 ms per MB: a large plugin on a busy host takes tens of ms).
const minOpenWait = 250 * time.Millisecond

// open runs fn, the open of the hook named by key, and returns its result if it ends before
// the reload's deadline (or within minOpenWait of its start, once that passed); otherwise an
// *openPending naming shown. An open of the same key still running from an earlier reload is
// pending at once, spending none of this reload's budget: a plugin whose init never returns
// costs one reload its budget, not every reload after it.
func (o *opener) open(key, shown string, fn func() (*plugin.Plugin, string, error)) (*plugin.Plugin, string, error) {
	o.mu.Lock()
	// A run found here was left by an earlier open that stopped waiting (reloads, and the
	// opens of each, run one at a time), which marked it late: it opens the content the path
	// had then, and its end asks for a reload, which opens what the path holds by then.
	if run := o.running[key]; run != nil {
		o.mu.Unlock()
		return nil, shown, &openPending{file: shown, done: run.done}
	}
	run := &openRun{done: make(chan struct{})}
	o.running[key] = run
	wait := max(time.Until(o.deadline), minOpenWait)
	o.mu.Unlock()
	go o.run(key, run, fn)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-run.done:
		return run.p, run.file, run.err
	case <-t.C:
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-run.done: // ended meanwhile
		return run.p, run.file, run.err
	default:
		run.late = true
		return nil, shown, &openPending{file: shown, done: run.done}
	}
}

func (o *opener) run(key string, run *openRun, fn func() (*plugin.Plugin, string, error)) {
	p, file, err := fn()
	o.mu.Lock()
	run.p, run.file, run.err = p, file, err
	delete(o.running, key)
	close(run.done)
	late := run.late
	o.mu.Unlock()
	if late && o.onLate != nil {
		o.onLate()
	}
}

// openKey names the open of a hook's path with the verified content of its bundles (pins):
// two hooks share an open only when both are the same.
func openKey(path string, pins map[string]string) string {
	if pins == nil {
		return path
	}
	// An API with bundles, even with no file listed (pins empty, not nil), opens nothing of
	// the bundles' folder it did not verify: never the open of a hook without bundles.
	h := sha256.New()
	h.Write([]byte("bundles\x00"))
	for _, f := range slices.Sorted(maps.Keys(pins)) {
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write([]byte(pins[f]))
		h.Write([]byte{0})
	}
	return path + "\x00" + hex.EncodeToString(h.Sum(nil))
}
