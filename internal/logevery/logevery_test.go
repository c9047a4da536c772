package logevery

import (
	"sync"
	"testing"
	"time"
)

// TestGate: the first line passes; within Every lines are held and counted; the next line after
// Every passes with the count; of lines racing, one passes.
func TestGate(t *testing.T) {
	g := &Gate{Every: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	if held, ok := g.Allow(t0); !ok || held != 0 {
		t.Fatalf("first line: %d %v", held, ok)
	}
	for i := range 5 {
		if _, ok := g.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("a line %d s after the last passed", i)
		}
	}
	if held, ok := g.Allow(t0.Add(10 * time.Second)); !ok || held != 5 {
		t.Errorf("after Every: %d %v, want 5 held and a pass", held, ok)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	later := t0.Add(time.Minute)
	for range 50 {
		wg.Go(func() {
			if _, ok := g.Allow(later); ok {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != 1 {
		t.Errorf("%d of 50 racing lines passed, want 1", passed)
	}
}
