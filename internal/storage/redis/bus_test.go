package redis

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// TestHostileMessagesSpareCalls publishes, as any client of Redis can, messages of 40 MiB and a
// flood of large ones on the channel a store subscribes to, while the store serves limit calls
// and probes: none of them fails (the subscription has a connection of its own; Redis may close
// that one for its output buffer, never the one calls share), a message over MaxMessageBytes is
// dropped and counted, not handed on, and the subscription still delivers afterwards.
func TestHostileMessagesSpareCalls(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	s := open(t, Options{Addrs: []string{srv.Addr}, NoLeases: true})
	pub := open(t, Options{Addrs: []string{srv.Addr}, Timeout: 20 * time.Second})
	const channel = "tyk.cluster.notifications"

	var mu sync.Mutex
	var got [][]byte
	subscribed := make(chan struct{}, 16)
	go func() {
		_ = s.Subscribe(t.Context(), channel, func(msg []byte) {
			mu.Lock()
			got = append(got, msg)
			mu.Unlock()
		}, func() {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-subscribed:
	case <-time.After(20 * time.Second):
		t.Fatal("no subscription within 20s")
	}
	received := func(want []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if bytes.Equal(m, want) {
				return true
			}
		}
		return false
	}
	// waitFor publishes msg until the subscriber has it: after a connection Redis closed, the
	// subscription is made again.
	waitFor := func(msg []byte) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !received(msg) {
			if time.Now().After(deadline) {
				t.Fatalf("%q was not received within 20s", msg)
			}
			if err := pub.Publish(t.Context(), channel, msg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	big := bytes.Repeat([]byte("x"), MaxMessageBytes+1)
	if err := pub.Publish(t.Context(), channel, big); err != nil {
		t.Fatal(err)
	}
	waitFor([]byte("after the big one"))
	if received(big) {
		t.Error("a message over MaxMessageBytes was handed on")
	}
	if n := s.DroppedMessages(); n != 1 {
		t.Errorf("DroppedMessages = %d, want 1", n)
	}

	// Calls and probes run throughout the hostile publishing.
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	rate := storage.Spec{Key: "rate-limit-{bus}", Limit: 1e9, Window: time.Minute}
	quota := storage.Spec{Key: "quota-{bus}", Limit: 1e9, Window: time.Hour}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if _, err := s.Limit(t.Context(), rate, quota); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				calls.Add(1)
				if _, err := s.Probe(t.Context()); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	huge := bytes.Repeat([]byte("y"), 40<<20)
	for range 3 {
		if err := pub.Publish(t.Context(), channel, huge); err != nil {
			t.Fatal(err)
		}
	}
	flood := bytes.Repeat([]byte("z"), MaxMessageBytes)
	for range 1000 {
		if err := pub.Publish(t.Context(), channel, flood); err != nil {
			t.Fatal(err)
		}
	}
	waitFor([]byte("after the flood"))
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d limit calls and probes failed while others published on the channel; the first: %v", n, calls.Load(), firstErr.Load())
	}
}
