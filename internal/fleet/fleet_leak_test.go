package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/leakcheck"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestMain fails the package when a test leaves goroutines behind: a node still receiving, a
// bus never closed.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRunEndsWithItsContext runs nodes that exchange notifications, then ends their context:
// Run returns, and nothing the nodes started still runs.
func TestRunEndsWithItsContext(t *testing.T) {
	leakcheck.Check(t)
	bus := memory.New()
	defer bus.Close()
	base := leakcheck.Start()
	a, _ := New(Options{Bus: bus, Secret: "shared"})
	r := &recorder{}
	b, err := New(r.options(Options{Bus: bus, Secret: "shared"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	for _, n := range []*Node{a, b} {
		go func() { done <- n.Run(ctx) }()
	}
	for _, n := range []*Node{a, b} {
		select {
		case <-n.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("a node did not subscribe within 10s")
		}
	}
	if err := a.Publish(ctx, GroupReload, ""); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "group reload")
	cancel()
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Error("Run returned nil when its context ended, want the context's error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context ending")
		}
	}
	base.Verify(t)
}
