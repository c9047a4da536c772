package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/version"
)

// The heap an API a fleet shares in Redis (created through the Gateway API, read by every
// gateway on each reload) holds while it serves: its compiled form, as for an API in app_path
// (TestAPIMemory), and what the gateway keeps to go on serving it while Redis cannot be read:
// its head and its bytes (about 330, which the collector does not scan), not its decoded
// definition. Measured at 2,000 APIs when this was written: 2,313 bytes, 12.0 objects and
// 1,766 scanned bytes per API (2,290, 11.0 and 1,769 once the
// kept head shared the memo's strings); 4,795, 19.0 and 4,193 while each kept its decoded definition.
const (
	maxSharedAPIHeap    = 2600 // bytes per API
	maxSharedAPIObjects = 14   // heap objects per API
	maxSharedAPIScan    = 2000 // bytes per API the collector reads when it marks
)

// sharedGateway starts a gateway on its own redis-server whose fleet shares n keyless
// definitions (the apis-10000 scenario's), waits until it serves them all, and returns it with
// the heap it holds beyond what the process held before: the Redis client's included.
func sharedGateway(tb testing.TB, n int) (*gateway.Gateway, benchkit.HeapStats) {
	tb.Helper()
	srv := redistest.Start(tb, redistest.Options{})
	var hset [][]string
	for _, def := range keylessDefs(n) {
		raw, err := json.Marshal(def)
		if err != nil {
			tb.Fatal(err)
		}
		hset = append(hset, []string{"HSET", "gatehouse-apis", def.APIID, string(raw)})
	}
	srv.Pipe(tb, hset)

	cfg, _ := benchConfig(tb)
	cfg.Storage.Type, cfg.Storage.Addrs, cfg.NodeSecret = "redis", []string{srv.Addr}, gt.NodeSecret
	before := benchkit.LiveHeapStats()
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Version: version.Version})
	if err != nil {
		tb.Fatalf("gateway.New: %v", err)
	}
	tb.Cleanup(func() { gw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last := keylessDefs(n)[n-1].APIID
	for gw.Compiled(last) == nil {
		if ctx.Err() != nil {
			tb.Fatalf("the gateway does not serve the %d shared APIs after a minute", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	heap := benchkit.LiveHeapStats().Sub(before)
	runtime.KeepAlive(gw)
	return gw, heap
}

// sharedAPIHeap returns the heap n-1 shared APIs hold: the difference between a gateway sharing
// n and one sharing one, the least of tries measurements of each figure (see TestAPIMemory).
func sharedAPIHeap(tb testing.TB, n, tries int) benchkit.HeapStats {
	sharedGateway(tb, 1) // what the process builds once, not measured
	var h benchkit.HeapStats
	for i := range tries {
		gw1, one := sharedGateway(tb, 1)
		gwN, all := sharedGateway(tb, n)
		m := all.Sub(one)
		runtime.KeepAlive(gw1)
		runtime.KeepAlive(gwN)
		if i == 0 {
			h = m
			continue
		}
		h = leastOf(h, m)
	}
	return h
}

// TestSharedAPIMemory fails when an API shared in Redis holds more heap than bounded above.
func TestSharedAPIMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 3 × 2,000 APIs from Redis")
	}
	const n = 2000
	checkPerAPI(t, "a shared API", sharedAPIHeap(t, n, 3), n-1, maxSharedAPIHeap, maxSharedAPIObjects, maxSharedAPIScan)
}

// BenchmarkSharedAPIMemory reports the heap of each of 10,000 APIs a fleet shares in Redis.
//
//	go test -trimpath -run XXX -bench SharedAPIMemory -benchtime 1x ./internal/gateway
func BenchmarkSharedAPIMemory(b *testing.B) {
	const n = 10000
	var h benchkit.HeapStats
	for b.Loop() {
		h = sharedAPIHeap(b, n, 1)
	}
	b.ReportMetric(float64(h.Bytes)/(n-1), "heap-B/api")
	b.ReportMetric(float64(h.Objects)/(n-1), "objects/api")
	b.ReportMetric(float64(h.Scan)/(n-1), "scan-B/api")
}

// BenchmarkSharedReload10000 reloads a gateway whose fleet shares 10,000 APIs in Redis, none
// changed: each reload reads every definition (HGETALL) and decodes only those that changed.
//
//	go test -trimpath -run XXX -bench SharedReload10000 -benchtime 5x ./internal/gateway
func BenchmarkSharedReload10000(b *testing.B) {
	gw, _ := sharedGateway(b, 10000)
	ctx := context.Background()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if err := gw.Reload(ctx, true); err != nil {
			b.Fatalf("reload: %v", err)
		}
	}
	if gw.Compiled("api-05000") == nil {
		b.Fatal("api-05000 is not served after the reloads")
	}
}
