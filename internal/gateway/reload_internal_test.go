package gateway

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloaderStoppedBeforeStart: when New fails before the reloader starts, the reloads asked
// for meanwhile are answered with errStopped instead of waiting for ever, and none runs.
func TestReloaderStoppedBeforeStart(t *testing.T) {
	ran := false
	rl := newReloader(func() error { ran = true; return nil })
	ch := rl.request()
	rl.stop(time.Minute)
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

// TestReloaderStopWaitsForTheRunningReload: stop returns only once a reload under way has
// ended, since Close then closes what that reload builds with (the store, source builds,
// bundle downloads); the reload's waiters get its own result.
func TestReloaderStopWaitsForTheRunningReload(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var runs atomic.Int32
	rl := newReloader(func() error {
		if runs.Add(1) == 1 {
			close(entered)
		}
		<-release
		return nil
	})
	rl.start()
	ch := rl.request()
	<-entered
	rl.request() // queued behind the running reload: it must not run after stop
	stopped := make(chan struct{})
	go func() { rl.stop(time.Minute); close(stopped) }()
	// Only a wrong stop returns within this wait; a right one never does, however slow the
	// machine.
	select {
	case <-stopped:
		t.Fatal("stop returned while a reload was still running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return after the running reload ended")
	}
	if err := <-ch; err != nil {
		t.Errorf("the running reload's waiter got %v, want its result (nil)", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("%d reloads ran, want 1: none may start once stop is called", n)
	}
}

// TestReloadAfterStop: a reload asked for once the reloader has stopped is answered with
// errStopped at once, not left waiting until its caller's context ends.
func TestReloadAfterStop(t *testing.T) {
	for _, started := range []bool{true, false} {
		rl := newReloader(func() error { t.Error("a reload ran after stop"); return nil })
		if started {
			rl.start()
		}
		rl.stop(time.Minute)
		select {
		case err := <-rl.request():
			if !errors.Is(err, errStopped) {
				t.Errorf("started %v: the request got %v, want errStopped", started, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("started %v: a reload asked for after stop was never answered", started)
		}
	}
}

// TestReloaderStopGivesUpOnAStuckReload: a reload that never ends (a plugin whose init never
// returns: Go cannot stop it) is reported as running, and stop gives up on it after its wait so
// that the gateway can still stop.
func TestReloaderStopGivesUpOnAStuckReload(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	rl := newReloader(func() error { close(entered); <-release; return nil })
	rl.start()
	rl.request()
	<-entered
	if d := rl.running(time.Now().Add(time.Hour)); d < time.Hour {
		t.Errorf("running = %v an hour on, want an hour or more", d)
	}
	start := time.Now()
	if rl.stop(100 * time.Millisecond) {
		t.Error("stop reported the stuck reload ended")
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("stop gave up after %v, before its wait", waited)
	}
}
