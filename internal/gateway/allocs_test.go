package gateway_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// maxKeylessAllocs is the keyless path's allocations per request when the guard was written
// (issue 15), measured as BenchmarkGateway/keyless does: a request served in-process through
// Gateway.ServeHTTP into a ResponseRecorder and out to a loopback upstream. Lower it when an
// optimisation takes allocations away; never raise it to make a change pass without saying why
// in its commit. The count is an average over thousands of requests and steady to ±0.01 (a pool
// or a background goroutine may allocate now and then), so the test allows half an allocation.
const maxKeylessAllocs = 105

// TestAllocsKeyless fails when a keyless request through the gateway allocates more than it did
// (maxKeylessAllocs). Under the race detector allocation counts differ (sync.Pool drops what it
// is given at random), so there it measures and logs but does not judge; scripts/test.sh runs
// it once more without -race, so that CI judges it.
func TestAllocsKeyless(t *testing.T) {
	up := httptest.NewServer(benchkit.UpstreamHandler())
	defer up.Close()
	res := testing.Benchmark(func(b *testing.B) { benchGateway(b, up.URL, benchCase{name: "keyless"}) })
	if res.N == 0 {
		t.Fatal("the keyless benchmark failed; run go test -run XXX -bench 'BenchmarkGateway/keyless$' ./internal/gateway to see why")
	}
	got := float64(res.MemAllocs) / float64(res.N)
	t.Logf("keyless: %.2f allocations per request over %d requests (limit %d)", got, res.N, maxKeylessAllocs)
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector; scripts/test.sh runs this test without -race")
	}
	if got > maxKeylessAllocs+0.5 {
		t.Errorf("a keyless request allocates %.2f times, more than the %d it did (maxKeylessAllocs); "+
			"see where with go test -run XXX -bench 'BenchmarkGateway/keyless$' -memprofile mem.out ./internal/gateway", got, maxKeylessAllocs)
	}
}
