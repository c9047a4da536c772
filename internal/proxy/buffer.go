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
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, bufferSize)
}

// Put returns a buffer to the pool.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != bufferSize {
		return
	}
	buf = buf[:bufferSize]
	b.p.Put(&buf)
}
