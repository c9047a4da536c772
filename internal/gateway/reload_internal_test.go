package gateway

import (
	"errors"
	"testing"
	"time"
)

// TestReloaderStoppedBeforeStart: when New fails before the reloader starts, the reloads asked
// for meanwhile are answered with errStopped instead of waiting for ever, and none runs.
func TestReloaderStoppedBeforeStart(t *testing.T) {
	ran := false
	rl := newReloader(func() error { ran = true; return nil })
	ch := rl.request()
	rl.stop()
	select {
	case err := <-ch:
		if !errors.Is(err, errStopped) {
			t.Errorf("the request got %v, want errStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a reload asked for before the reloader started was never answered")
	}
	rl.start() // after stop: nothing starts
	if ran {
		t.Error("a reload ran after the reloader was stopped")
	}
}
