package prom

import (
	"math"
	"testing"
	"time"
)

// TestCounts reads back known requests and plugin calls: totals, 5xx, errors, panics and the
// p99 as the bound of its bucket.
func TestCounts(t *testing.T) {
	o := New("test")
	a := o.API("a")
	for range 4 {
		a.Request("GET", 200, time.Millisecond)
	}
	a.Request("POST", 502, time.Millisecond)
	a.Request("GET", 599, time.Millisecond) // labelled 5xx
	o.API("").Request("GET", 404, time.Millisecond)

	fast := o.Plugin("a", "pre", "Fast")
	for range 99 {
		fast.Call(20*time.Microsecond, 0, false) // the 25 µs bucket
	}
	fast.Call(3*time.Millisecond, 403, false) // the 5 ms bucket: the 100th call, above p99
	slow := o.Plugin("a", "post", "Slow")
	slow.Call(5*time.Second, 0, true) // above the last bucket
	o.Plugin("a", "response", "Idle")

	c, err := o.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Requests["a"]; r.Total != 6 || r.Errors5xx != 2 {
		t.Errorf("API a: %+v, want 6 requests, 2 of them 5xx", r)
	}
	if r := c.Requests[""]; r.Total != 1 || r.Errors5xx != 0 {
		t.Errorf("unrouted: %+v", r)
	}
	if p := c.Plugins[PluginKey{"a", "pre", "Fast"}]; p.Calls != 100 || p.Errors != 1 || p.Panics != 0 || p.P99 != 0.000025 {
		t.Errorf("Fast: %+v, want 100 calls, 1 error, p99 25 µs", p)
	}
	if p := c.Plugins[PluginKey{"a", "post", "Slow"}]; p.Calls != 1 || p.Panics != 1 || !math.IsInf(p.P99, 1) {
		t.Errorf("Slow: %+v, want 1 call, 1 panic, p99 above the last bucket", p)
	}
	if p, ok := c.Plugins[PluginKey{"a", "response", "Idle"}]; !ok || p.Calls != 0 || !math.IsNaN(p.P99) {
		t.Errorf("Idle: %+v (present %v), want no calls and no p99", p, ok)
	}
}
