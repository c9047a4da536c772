package proxy

import "sync"

// BufferPool lends the 32 KiB buffers ReverseProxy copies bodies through, so that a request
// does not allocate one: without a pool each request allocates 32 KiB, and garbage collection
// becomes the largest cost under load. It is exported so that benchmarks give the bare proxy
// they compare against the same pool.
var BufferPool = &bufferPool{}

type bufferPool struct{ p sync.Pool }

const bufferSize = 32 << 10

// Get returns a buffer.
func (b *bufferPool) Get() []byte {
	if p, ok := b.p.Get().(*[bufferSize]byte); ok {
		return p[:]
	}
	return new([bufferSize]byte)[:]
}

// Put returns a buffer to the pool. The pool holds pointers to the arrays, not slices: putting
// a slice would store a pointer to a new slice header, one allocation per proxied response.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != bufferSize {
		return
	}
	b.p.Put((*[bufferSize]byte)(buf[:bufferSize]))
}
