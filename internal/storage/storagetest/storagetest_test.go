package storagetest

import (
	"sync"
	"testing"
	"time"
)

func TestManualClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want the start %v", got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() moved on its own: %v, want %v", got, start)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(time.Second); !got.Equal(want) {
		t.Errorf("after 1000 concurrent Advance(1ms): Now() = %v, want %v", got, want)
	}
}

func TestRealClock(t *testing.T) {
	var c Clock = RealClock{}
	before := c.Now()
	c.Advance(10 * time.Millisecond)
	if d := c.Now().Sub(before); d < 10*time.Millisecond {
		t.Errorf("Advance(10ms) let %v pass", d)
	}
}
