package gateway_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// BenchmarkAPIMemory loads 10,000 keyless APIs (the apis-10000 scenario's: one definition file
// each in app_path) into a gateway, one gateway per operation, and reports the heap each API
// costs: the difference between that gateway's live heap and one with a single API, over the
// 9,999 APIs more (heap-B/api). ns/op is the start-up of a gateway with 10,000 APIs (reading,
// validating and compiling them, the router). Run it with -benchtime 1x or 3x.
//
//	go test -trimpath -run XXX -bench APIMemory -benchtime 3x ./internal/gateway
func BenchmarkAPIMemory(b *testing.B) {
	const n = 10000
	defs := func(count int) []*apidef.APIDefinition {
		out := make([]*apidef.APIDefinition, count)
		for i := range out {
			out[i] = benchkit.API(fmt.Sprintf("api-%05d", i), fmt.Sprintf("/api-%05d/", i), "http://127.0.0.1:9")
		}
		return out
	}
	// Each gateway stays in memory until the benchmark ends (newBenchGateway closes it in a
	// cleanup), so every measurement is a difference from the heap just before it.
	base := benchkit.LiveHeap()
	one := newBenchGateway(b, defs(1), memory.New(), "", false, false, "")
	oneHeap := int64(benchkit.LiveHeap()) - int64(base)
	runtime.KeepAlive(one)

	var perAPI float64
	for b.Loop() {
		b.StopTimer()
		before := benchkit.LiveHeap()
		ds := defs(n)
		b.StartTimer()
		gw := newBenchGateway(b, ds, memory.New(), "", false, false, "")
		b.StopTimer()
		ds = nil
		heap := int64(benchkit.LiveHeap()) - int64(before)
		perAPI = float64(heap-oneHeap) / (n - 1)
		runtime.KeepAlive(gw)
		b.StartTimer()
	}
	b.ReportMetric(perAPI, "heap-B/api")
	b.ReportMetric(float64(oneHeap), "heap-B/gateway")
}
