package redis

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/leakcheck"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// TestMain fails the package when a test leaves goroutines behind: a store never closed, or one
// whose Close returns with its connections or loops still running.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestCloseLeavesNothing uses every part of a store (calls, the client-side cache, a
// subscription), then closes it with Redis still up: nothing the store started still runs.
func TestCloseLeavesNothing(t *testing.T) {
	leakcheck.Check(t)
	srv := redistest.Start(t, redistest.Options{})
	base := leakcheck.Start()
	s, err := New(Options{Addrs: []string{srv.Addr}, ProbeInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "apikey-k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetCached(ctx, "apikey-k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Limit(ctx, storage.Spec{Key: "r", Limit: 5, Window: time.Second}, storage.Spec{Key: "q", Limit: 5, Window: time.Hour}); err != nil {
		t.Fatal(err)
	}
	subCtx, stopSub := context.WithCancel(ctx)
	subscribed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Subscribe(subCtx, "leak", func([]byte) {}, func() { subscribed <- struct{}{} })
	})
	select {
	case <-subscribed:
	case <-time.After(20 * time.Second):
		t.Fatal("no subscription within 20s")
	}
	if err := s.Publish(ctx, "leak", []byte("x")); err != nil {
		t.Fatal(err)
	}
	stopSub()
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	base.Verify(t)
}

// TestCloseWhileConnecting closes a store whose server accepts connections and never answers:
// Close returns at once, and nothing is left running once the connection attempt, which rueidis
// cannot cancel (NewClient takes no context), has given up on its own timeout (a few seconds).
func TestCloseWhileConnecting(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	accepted := make(chan net.Conn, 16)
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})

	base := leakcheck.Start(leakcheck.Timeout(15 * time.Second))
	s, err := New(Options{Addrs: []string{ln.Addr().String()}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-accepted:
		accepted <- c // closed at the end
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not connect within 10s")
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v while connecting", d)
	}
	base.Verify(t)
}
