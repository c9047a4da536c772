package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/observe"
)

// reloadDebounce is how long a reload waits for more requests to join it: bursts of changes
// (a deploy script writing APIs one by one, each followed by a reload call) cost one rebuild.
const reloadDebounce = 10 * time.Millisecond

// reloader runs reloads one at a time and coalesces requests: every request made while a
// reload is waiting or running is served by a single reload that starts after it. Requests made
// before start wait for it: New starts the reloader once the first snapshot serves, so that no
// reload builds beside the first build. Once stop returns no reload runs, and requests are
// answered with errStopped at once.
type reloader struct {
	do func() error

	mu        sync.Mutex
	waiters   []chan error
	stopped   bool // set when the last waiters are failed; requests after it fail at once
	kick      chan struct{}
	done      chan struct{} // closed by stop
	exited    chan struct{} // closed when no reload runs any more, nor will
	once      sync.Once
	startOnce sync.Once
	// since is when the reload under way began (Unix ns), 0 when none runs: a reload that
	// never ends (a definition that never finishes reading) is reported by /hello.
	since atomic.Int64
}

func newReloader(do func() error) *reloader {
	return &reloader{do: do, kick: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
}

// start runs the reloads asked for so far, then each as it is asked for.
func (rl *reloader) start() {
	rl.startOnce.Do(func() { go rl.loop() })
}

// request asks for a reload that starts after this call and returns a channel that receives
// its result.
func (rl *reloader) request() <-chan error {
	ch := make(chan error, 1)
	rl.mu.Lock()
	if rl.stopped {
		rl.mu.Unlock()
		ch <- errStopped
		return ch
	}
	rl.waiters = append(rl.waiters, ch)
	rl.mu.Unlock()
	select {
	case rl.kick <- struct{}{}:
	default: // a reload is already queued; it will serve this request too
	}
	return ch
}

// errStopped is what reloads still waiting get when the gateway stops.
var errStopped = errors.New("the gateway is stopping")

func (rl *reloader) loop() {
	defer close(rl.exited)
	defer rl.failWaiters()
	for {
		select {
		case <-rl.done:
			return
		case <-rl.kick:
		}
		select {
		case <-rl.done:
			return
		case <-time.After(reloadDebounce):
		}
		rl.mu.Lock()
		waiters := rl.waiters
		rl.waiters = nil
		rl.mu.Unlock()
		if len(waiters) == 0 {
			continue
		}
		rl.since.Store(time.Now().UnixNano())
		err := rl.do()
		rl.since.Store(0)
		for _, w := range waiters {
			w <- err
		}
	}
}

func (rl *reloader) failWaiters() {
	rl.mu.Lock()
	waiters := rl.waiters
	rl.waiters = nil
	rl.stopped = true
	rl.mu.Unlock()
	for _, w := range waiters {
		w <- errStopped
	}
}

// stop ends the reloads and returns once none runs: a reload under way is finished first, since
// what Close closes next (the store, source builds, bundle downloads) is what it builds with.
// A reload that does not end within wait (a plugin whose init never returns: Go cannot stop it)
// is left behind, and stop returns false, so that the gateway can still stop.
func (rl *reloader) stop(wait time.Duration) bool {
	if rl == nil {
		return true
	}
	rl.once.Do(func() { close(rl.done) })
	// Never started (New failed): nothing will serve the requests waiting, and nothing
	// starts it now.
	rl.startOnce.Do(func() {
		rl.failWaiters()
		close(rl.exited)
	})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-rl.exited:
		return true
	case <-t.C:
		return false
	}
}

// running returns how long the reload under way has run, 0 when none does.
func (rl *reloader) running(now time.Time) time.Duration {
	if rl == nil {
		return 0
	}
	if since := rl.since.Load(); since != 0 {
		return now.Sub(time.Unix(0, since))
	}
	return 0
}

// stuckReload is how long a reload runs before /hello reports it and Close stops waiting for it.
const stuckReload = 30 * time.Second

// Reload rebuilds the snapshot from app_path, the policies file and the built-in definitions.
// With wait it returns once the new snapshot serves (or ctx ends) with the reload's error;
// without, it returns at once. A reload that fails keeps the old snapshot serving.
func (g *Gateway) Reload(ctx context.Context, wait bool) error {
	ch := g.reloads.request()
	if !wait {
		return nil
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) reload() error {
	start := time.Now()
	g.certReads.forget()
	g.reloadCerts()
	g.refreshControlCerts()
	prev := g.snap.Load()
	// Transports the build takes serve no snapshot until its retain: no prune drops them.
	g.transports.begin()
	defer g.transports.end()
	snap, err := g.build(prev)
	g.mu.Lock()
	g.lastReloadErr = err
	g.mu.Unlock()
	if g.obs != nil {
		g.obs.Reload(time.Since(start), err)
	}
	g.noteLoad(start, snap, err, false)
	// What the build refused, and what earlier processes opened, leaves the plugin cache.
	g.plugins.PruneCache()
	if err != nil {
		g.log.Error("reload failed; the previous configuration keeps serving", "error", err)
		if prev != nil {
			// Transports the failed build made for new proxy.transport settings serve nothing.
			g.transports.retain(prev)
		}
		return err
	}
	g.snap.Store(snap)
	g.settle(snap)
	g.transports.retain(snap)
	g.setUptime(snap)
	g.setServerCerts(snap)
	g.retainJWT(snap)
	// Cached responses stay only for APIs whose cache was kept as it was: an API removed or
	// compiled again (its definition changed) starts with an empty cache.
	var before map[string]*apiRuntime
	if prev != nil {
		before = prev.apis
	}
	if g.respLocal != nil {
		// A shared cache keeps each definition's responses apart instead (cache.Namespace).
		g.respLocal.Retain(func(id string) bool {
			rt, old := snap.apis[id], before[id]
			return rt != nil && old != nil && rt.cache != nil && rt.cache == old.cache
		})
	}
	g.bundles.Retain(snap.bundles)
	if g.shared == nil || snap.shared.loaded && snap.shared.problem == "" {
		// Only once every definition was read: the bundles of the fleet's definitions are not
		// unused because Redis did not answer.
		g.bundles.Prune(bundlesInUse(snap))
	}
	if g.obs != nil {
		ids := make(map[string]bool, len(snap.apis))
		hooks := map[observe.Hook]bool{}
		for id, rt := range snap.apis {
			ids[id] = true
			if rt.hooks != nil {
				for _, l := range rt.hooks.loaded {
					hooks[observe.Hook{APIID: l.hook.APIID, Hook: l.hook.Phase, Symbol: l.hook.Symbol}] = true
				}
			}
		}
		g.obs.Retain(ids, hooks)
	}
	g.log.Info("reloaded", "apis", len(snap.apis), "problems", len(snap.problems), "took", time.Since(start).Round(time.Microsecond))
	return nil
}

// ReloadAndWait reloads and waits, until ctx ends, for the work the reload started: bundle
// downloads and source plugin builds. Each time some of it ends the gateway reloads again, so
// that when ReloadAndWait returns with nothing pending, what was asked for serves. It returns
// what is still pending when ctx ended, and what failed (APIs whose bundle or plugin could not
// be loaded); an error only when a reload itself failed.
func (g *Gateway) ReloadAndWait(ctx context.Context) (admin.ReloadResult, error) {
	for {
		if err := g.Reload(ctx, true); err != nil {
			if ctx.Err() != nil {
				// The reload asked for has not ended: what serves is from before it, and
				// saying only what that waits for would read as done.
				res := g.snap.Load().workResult(true)
				res.Pending = append([]string{g.reloadUnfinished(time.Now())}, res.Pending...)
				return res, nil
			}
			return admin.ReloadResult{}, err
		}
		snap := g.snap.Load()
		waits := snap.waits()
		if len(waits) == 0 {
			return snap.workResult(false), nil
		}
		for _, w := range waits {
			select {
			case <-w:
			case <-ctx.Done():
				// What serves now: the work that ended meanwhile reloaded on its own, and what
				// failed is reported as failed, not as still under way.
				return g.snap.Load().workResult(true), nil
			}
		}
	}
}

// reloadUnfinished says, for a blocking reload that stopped waiting, that the reload it asked
// for has not ended, and how long the one under way has run.
func (g *Gateway) reloadUnfinished(now time.Time) string {
	if d := g.reloads.running(now); d > 0 {
		return fmt.Sprintf("the reload itself: it has run for %v and has not ended (a definition slow to read, or a plugin whose init is slow within the reload's budget); the configuration before it serves meanwhile", d.Round(time.Millisecond))
	}
	return "the reload itself: it has not started yet; the configuration before it serves meanwhile"
}

// waits returns the channels of the work the snapshot's APIs wait for.
func (s *snapshot) waits() []<-chan struct{} {
	var out []<-chan struct{}
	for _, is := range s.issues {
		out = append(out, is.wait...)
	}
	return out
}

// starting reports whether an API of the snapshot waits for work with nothing serving it
// meanwhile (its first bundle download or plugin build): it answers 503 until the work ends.
func (s *snapshot) starting() bool {
	for _, is := range s.issues {
		if len(is.wait) > 0 && !is.kept {
			return true
		}
	}
	return false
}

// settle marks the gateway settled, for /ready, once a snapshot it serves has no API waiting
// to start and, on a fleet, holds the definitions the fleet shares (a snapshot built while
// Redis was down has none of them yet, nor their waits). Only the first time counts: an API
// added later whose bundle downloads does not take a serving gateway out of service.
func (g *Gateway) settle(snap *snapshot) {
	if !g.settled.Load() && (g.shared == nil || snap.shared.loaded) && !snap.starting() {
		g.settled.Store(true)
	}
}

// workResult lists, for a blocking reload, the APIs still waiting for work (with pending) and
// those whose bundle or plugins could not be loaded.
func (s *snapshot) workResult(pending bool) admin.ReloadResult {
	var r admin.ReloadResult
	for _, is := range s.issues {
		line := fmt.Sprintf("API %q: %s", is.apiID, is.String())
		if len(is.wait) > 0 {
			if pending {
				r.Pending = append(r.Pending, line)
			}
			continue
		}
		r.Failed = append(r.Failed, line)
	}
	for _, f := range s.hookFailures {
		r.Failed = append(r.Failed, f.String())
	}
	return r
}

// Settle waits, until ctx ends, for the work the serving snapshot waits for (bundle downloads,
// plugin builds), as ReloadAndWait does, without asking for a reload when there is none.
func (g *Gateway) Settle(ctx context.Context) (admin.ReloadResult, error) {
	if len(g.snap.Load().waits()) == 0 {
		return g.snap.Load().workResult(false), nil
	}
	return g.ReloadAndWait(ctx)
}
