package prom

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/observe"
)

// seriesOf returns the series of v labelled values, nil when there is none (unlike with, it
// makes none).
func seriesOf[M any](v *vec[M], values ...string) *M {
	var k labelValues
	copy(k[:], values)
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.m[k]
}

// TestRequestDuringRetain: a request of an API that a reload drops while the request looks
// its counter up (its first 418, or its first 201) must not make the API's series again after
// Retain dropped them: nothing would ever drop them, and they would be scraped for good.
func TestRequestDuringRetain(t *testing.T) {
	for _, code := range []int{418, 201} {
		o := New("test")
		id := "gone-" + strconv.Itoa(code)
		a := o.API(id)
		a.Request("GET", 200, time.Millisecond)
		// Retain runs after the request found its API served, before it has its counter.
		testHookResolve = func() {
			testHookResolve = nil
			o.Retain(map[string]bool{}, nil)
		}
		a.Request("GET", code, time.Millisecond)
		testHookResolve = nil
		for _, s := range o.requests.series() {
			if s.values[0] == id {
				t.Errorf("code %d: series %v of an API Retain dropped", code, s.values)
			}
		}
	}
}

// TestAPIDuringRetain: a handle taken while Retain drops the API's series (the Gateway API
// checks a definition, which takes its handle, while a reload drops the API) must hold the
// series the scrape writes, not ones Retain drops a moment later: else the API's durations
// and refusals are never written again.
func TestAPIDuringRetain(t *testing.T) {
	o := New("test")
	// Series of APIs kept: Retain looks through them all, which gives the handle time to be
	// taken in the middle of a drop.
	keep := map[string]bool{}
	for i := range 5000 {
		id := "keep-" + strconv.Itoa(i)
		keep[id] = true
		o.API(id).Request("GET", 200, time.Millisecond)
	}
	for round := range 20 {
		id := "x-" + strconv.Itoa(round)
		o.API(id)
		var retained atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() {
			for !retained.Load() {
				o.API(id)
			}
		})
		o.Retain(keep, nil)
		retained.Store(true)
		wg.Wait()

		a := o.API(id).(*api)
		a.Request("GET", 200, time.Millisecond)
		a.Upstream(time.Millisecond)
		a.Refused(observe.Quota)
		if h := seriesOf(o.requestTime, id); h != a.total {
			t.Fatalf("round %d: the handle's request histogram is not the one written (%p, written %p)", round, a.total, h)
		}
		if h := seriesOf(o.upstreamTime, id); h != a.upstream {
			t.Fatalf("round %d: the handle's upstream histogram is not the one written", round)
		}
		if c := seriesOf(o.refusals, id, "quota"); c == nil || c.value() != 1 {
			t.Fatalf("round %d: the quota refusal is not written", round)
		}
		o.Retain(keep, nil)
	}
}

// BenchmarkRetain is a reload that stops serving every one of n APIs, each with four request
// series (two codes of two methods), a request and an upstream histogram and three refusal
// counters, and a plugin hook.
func BenchmarkRetain(b *testing.B) {
	for _, n := range []int{100, 1000, 4000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				o := New("test")
				for i := range n {
					id := "api-" + strconv.Itoa(i)
					a := o.API(id)
					for _, m := range []string{"GET", "POST"} {
						a.Request(m, 200, time.Millisecond)
						a.Request(m, 201, time.Millisecond)
					}
					o.Plugin(id, "pre", "F").Call(time.Microsecond, 0, false)
				}
				b.StartTimer()
				o.Retain(map[string]bool{}, nil)
			}
		})
	}
}
