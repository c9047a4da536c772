package redis

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestLock: a lock one node holds makes another wait, until it is released or its time is up;
// waiting ends with the context; a holder whose time ran out, and which another node took, does
// not release the other's lock.
func TestLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a, b := open(t, Options{Addrs: []string{srv.Addr}}), open(t, Options{Addrs: []string{srv.Addr}})
	ctx := t.Context()

	releaseA, err := a.Lock(ctx, "lock-test", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = b.Lock(short, "lock-test", 10*time.Second)
	cancel()
	if err == nil {
		t.Fatal("b took a lock a holds")
	}
	got := make(chan error, 1)
	go func() {
		release, err := b.Lock(ctx, "lock-test", time.Second)
		if err == nil {
			defer release()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	releaseA()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("b after a released: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b still waits after a released")
	}

	// a's time runs out; b takes it; a's late release leaves b's lock alone.
	releaseA, err = a.Lock(ctx, "lock-late", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	releaseB, err := b.Lock(ctx, "lock-late", 10*time.Second)
	if err != nil {
		t.Fatalf("b after a's time ran out: %v", err)
	}
	releaseA()
	short, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = a.Lock(short, "lock-late", time.Second)
	cancel()
	if err == nil {
		t.Error("a's late release freed b's lock")
	}
	releaseB()
	if release, err := a.Lock(ctx, "lock-late", time.Second); err != nil {
		t.Errorf("after b released: %v", err)
	} else {
		release()
	}
}
