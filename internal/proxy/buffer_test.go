package proxy_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/proxy"
)

// A buffer lent and given back must cost no allocation once the pool holds one: the pool is on
// every proxied response's path.
func TestBufferPoolGetPutDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	p := proxy.BufferPool
	p.Put(p.Get()) // warm up: the first Get allocates the buffer
	allocs := testing.AllocsPerRun(1000, func() {
		buf := p.Get()
		buf[0] = 1
		p.Put(buf)
	})
	if allocs != 0 {
		t.Errorf("Get+Put allocate %v times, want 0", allocs)
	}
}

// The pool lends 32 KiB buffers, takes back only its own size, and lends a full-length buffer
// even when it got back a shortened one.
func TestBufferPoolSizes(t *testing.T) {
	p := proxy.BufferPool
	if got := len(p.Get()); got != 32<<10 {
		t.Fatalf("Get returned %d bytes, want %d", got, 32<<10)
	}
	p.Put(make([]byte, 100)) // not the pool's size: dropped
	b := p.Get()
	p.Put(b[:10])
	for range 3 {
		if got := len(p.Get()); got != 32<<10 {
			t.Fatalf("Get returned %d bytes, want %d", got, 32<<10)
		}
	}
}
