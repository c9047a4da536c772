package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// reloadDebounce is how long a reload waits for more requests to join it: bursts of changes
// (a deploy script writing APIs one by one, each followed by a reload call) cost one rebuild.
const reloadDebounce = 10 * time.Millisecond

// reloader runs reloads one at a time and coalesces requests: every request made while a
// reload is waiting or running is served by a single reload that starts after it.
type reloader struct {
	do func() error

	mu      sync.Mutex
	waiters []chan error
	kick    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newReloader(do func() error) *reloader {
	rl := &reloader{do: do, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go rl.loop()
	return rl
}

// request asks for a reload that starts after this call and returns a channel that receives
// its result.
func (rl *reloader) request() <-chan error {
	ch := make(chan error, 1)
	rl.mu.Lock()
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
		err := rl.do()
		for _, w := range waiters {
			w <- err
		}
	}
}

func (rl *reloader) failWaiters() {
	rl.mu.Lock()
	waiters := rl.waiters
	rl.waiters = nil
	rl.mu.Unlock()
	for _, w := range waiters {
		w <- errStopped
	}
}

func (rl *reloader) stop() {
	if rl != nil {
		rl.once.Do(func() { close(rl.done) })
	}
}

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
	prev := g.snap.Load()
	snap, err := g.build(prev)
	g.mu.Lock()
	g.lastReloadErr = err
	g.mu.Unlock()
	if err != nil {
		g.log.Error("reload failed; the previous configuration keeps serving", "error", err)
		return err
	}
	g.snap.Store(snap)
	g.log.Info("reloaded", "apis", len(snap.apis), "problems", len(snap.problems), "took", time.Since(start).Round(time.Microsecond))
	return nil
}
