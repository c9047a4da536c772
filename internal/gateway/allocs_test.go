package gateway_test

import (
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// The allocations per request of the keyless, keyed, post plugin and all-hooks paths (issue
// 15), measured as BenchmarkGateway does, after the same warm-up, over a fixed number of
// requests (allocRequests) whatever -benchtime says: a request served in-process through
// Gateway.ServeHTTP into a ResponseRecorder and out to a loopback upstream. The bare
// httputil.ReverseProxy in front of the same upstream allocates 98 to 99 times. Lower a bound when an optimisation takes
// allocations away; never raise one to make a change pass without saying why in its commit.
// A count is an average over thousands of requests and steady to ±0.1 (a pool or a background
// goroutine may allocate now and then), so the tests allow half an allocation.
const (
	maxKeylessAllocs    = 97
	maxKeyedAllocs      = 104
	maxPluginPostAllocs = 101
	maxAllHooksAllocs   = 109
	// maxKeylessOtelAllocs is a keyless request with OpenTelemetry tracing on and every request
	// sampled: its server and upstream spans, their export included. The export's allocations
	// are shared by the spans of a batch, whose size depends on timing, so the count moves
	// between 124.3 and 124.6: the bound is one higher than the others' margin would make it.
	// It was 128 before the attributes were gathered in reused slices and a span's children
	// started from the context the SDK returned with it.
	maxKeylessOtelAllocs = 125
)

// TestAllocsKeyless fails when a keyless request through the gateway allocates more than it did
// (maxKeylessAllocs). Under the race detector allocation counts differ (sync.Pool drops what it
// is given at random), so there it measures and logs but does not judge; scripts/test.sh runs
// it once more without -race, so that CI judges it.
func TestAllocsKeyless(t *testing.T) {
	testAllocs(t, benchCase{name: "keyless"}, maxKeylessAllocs)
}

// TestAllocsKeyed is TestAllocsKeyless for a keyed request (key lookup, rate limit and quota,
// their headers): maxKeyedAllocs.
func TestAllocsKeyed(t *testing.T) {
	testAllocs(t, benchCase{name: "keyed", keyed: true}, maxKeyedAllocs)
}

// TestAllocsPluginPost is TestAllocsKeyless for a keyless API with one post plugin hook:
// maxPluginPostAllocs.
func TestAllocsPluginPost(t *testing.T) {
	testAllocs(t, benchCase{name: "plugin-post", hooks: []string{"post"}}, maxPluginPostAllocs)
}

// TestAllocsAllHooks is TestAllocsKeyless for a keyed API with pre, post and response plugin
// hooks: maxAllHooksAllocs.
func TestAllocsAllHooks(t *testing.T) {
	testAllocs(t, benchCase{name: "all-hooks", keyed: true, hooks: []string{"pre", "post", "response"}}, maxAllHooksAllocs)
}

// TestAllocsKeylessOtel is TestAllocsKeyless with tracing on, every request sampled and its
// spans exported to a local sink: maxKeylessOtelAllocs.
func TestAllocsKeylessOtel(t *testing.T) {
	testAllocs(t, benchCase{name: "keyless-otel", otel: true}, maxKeylessOtelAllocs)
}

func testAllocs(t *testing.T, c benchCase, limit int) {
	up := httptest.NewServer(benchkit.UpstreamHandler())
	defer up.Close()
	gw, path, key := newBenchCase(t, up.URL, c)
	got := steadyAllocs(benchRequests(t, gw, path, key, c.hooks))
	t.Logf("%s: %.2f allocations per request over %d requests (limit %d)", c.name, got, allocRequests, limit)
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector; scripts/test.sh runs this test without -race")
	}
	if got > float64(limit)+0.5 {
		t.Errorf("a %s request allocates %.2f times, more than the %d it did; see where with "+
			"go test -run XXX -bench 'BenchmarkGateway/%s$' -memprofile mem.out ./internal/gateway", c.name, got, limit, c.name)
	}
}

// allocRequests is how many requests an allocation test counts over, whatever -benchtime says:
// enough that a pool refilled after a collection, or a background goroutine's allocation,
// moves the average by less than a tenth.
const allocRequests = 10000

// steadyAllocs returns the heap allocations per request of allocRequests calls of serve, whose
// maker has warmed it up (warmUpRequests): the steady state BenchmarkGateway and BenchmarkServe
// report in allocs/op, counted the same way (the process's mallocs), over a fixed count.
func steadyAllocs(serve func()) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range allocRequests {
		serve()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / allocRequests
}
