package gateway

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

// TestOpenerAfterAStuckInit: a plugin whose init never returns spends one reload's budget, not
// every reload's: in the reloads after it, it is pending at once; a plugin opened before it (the
// loader answers at once) is answered in every reload, the first included, with its budget spent;
// and nothing that ended while its reload waited asks for another reload (which, with the stuck
// open spending each reload's budget, made the gateway reload itself every 5 s for good).
func TestOpenerAfterAStuckInit(t *testing.T) {
	var late atomic.Int32
	o := newOpener(func() { late.Add(1) })
	const budget = 200 * time.Millisecond
	o.budget.Store(int64(budget))
	block := make(chan struct{})
	defer close(block)
	stuck := func() (*plugin.Plugin, string, error) { <-block; return nil, "stuck.so", nil }
	quick := func() (*plugin.Plugin, string, error) { return nil, "loaded.so", nil }
	for reload := range 3 {
		start := time.Now()
		o.begin(start)
		_, _, err := o.open("stuck", "stuck.so", stuck)
		var pending *openPending
		if !errors.As(err, &pending) {
			t.Fatalf("reload %d: the stuck open: %v, want it pending", reload, err)
		}
		if took := time.Since(start); reload > 0 && took >= budget {
			t.Errorf("reload %d: the open left by an earlier reload was waited for %v again", reload, took)
		}
		if _, file, err := o.open("loaded", "loaded.so", quick); err != nil || file != "loaded.so" {
			t.Errorf("reload %d: an open that ends at once: %q, %v", reload, file, err)
		}
	}
	if n := late.Load(); n != 0 {
		t.Errorf("%d reloads asked for by opens that ended while their reload waited", n)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.running) != 1 {
		t.Errorf("%d opens running, want the stuck one alone", len(o.running))
	}
}
