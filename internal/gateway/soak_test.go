package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestSoakIsFlat (R11, bounded): mixed traffic (keyed and keyless requests, keys created and
// deleted, reloads) for a first stretch, then for a stretch twice as long. Memory or goroutines
// that leak per request, key or reload would grow with the traffic; after each stretch, load
// stopped and garbage collected, the heap in use and the goroutine count must be where the first
// stretch left them.
func TestSoakIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a 12-second soak")
	}
	// An upstream that keeps nothing (gt.NewUpstream records every request).
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.Keyed(gt.API("k", "/k/", up.URL)), gt.API("open", "/open/", up.URL)}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1e6, Per: 1, QuotaMax: -1, AccessRights: access("k")})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(client.CloseIdleConnections)

	var failures atomic.Int64
	get := func(path, key string) {
		req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
		if key != "" {
			req.Header.Set("Authorization", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			failures.Add(1)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			failures.Add(1)
		}
	}
	run := func(d time.Duration) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		var requests atomic.Int64
		for i := range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if i%2 == 0 {
						get("/k/x", key)
					} else {
						get("/open/x", "")
					}
					requests.Add(1)
				}
			})
		}
		wg.Go(func() { // key churn
			for ctx.Err() == nil {
				k := g.CreateKey(&apidef.SessionState{AccessRights: access("k"), MetaData: map[string]interface{}{"pad": string(make([]byte, 4096))}})
				get("/k/x", k)
				gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + k}))
			}
		})
		wg.Go(func() { // reloads
			for ctx.Err() == nil {
				gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Path: "/tyk/reload"}))
				time.Sleep(100 * time.Millisecond)
			}
		})
		wg.Wait()
		return requests.Load()
	}
	// The test gateway keeps its whole log in memory (g.Logs); what it adds is taken off.
	settle := func() (heap uint64, goroutines int, logs int) {
		client.CloseIdleConnections()
		// Goroutines of closed connections and finished reloads end shortly after.
		for range 50 {
			runtime.GC()
			if goroutines = runtime.NumGoroutine(); goroutines <= 40 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		logs = len(g.Logs())
		return benchkit.LiveHeap(), runtime.NumGoroutine(), logs
	}

	n1 := run(4 * time.Second)
	heap1, g1, logs1 := settle()
	n2 := run(8 * time.Second)
	heap2, g2, logs2 := settle()
	t.Logf("first stretch: %d requests, then %d KiB heap, %d goroutines; second: %d requests, then %d KiB, %d goroutines; log grew %d KiB",
		n1, heap1>>10, g1, n2, heap2>>10, g2, (logs2-logs1)>>10)
	if f := failures.Load(); f != 0 {
		t.Errorf("%d requests failed", f)
	}
	if grew := int64(heap2) - int64(heap1) - int64(logs2-logs1); grew > 4<<20 {
		t.Errorf("the heap grew by %d KiB over the second stretch", grew>>10)
	}
	if g2 > g1+5 {
		t.Errorf("goroutines went from %d to %d", g1, g2)
	}
}
