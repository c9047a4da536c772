package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestCloseDuringReloads: Close returns only once no reload runs, since it then closes the store,
// the source builds and the bundle downloads a reload builds with; a reload asked for after
// Close is answered at once with an error that says the gateway is stopping, not left waiting
// for its caller's deadline.
func TestCloseDuringReloads(t *testing.T) {
	up := gt.NewUpstream(t)
	// Enough APIs that a reload takes a while, so that Close almost always finds one running.
	var apis []*apidef.APIDefinition
	for i := range 300 {
		apis = append(apis, gt.API(fmt.Sprintf("api-%d", i), fmt.Sprintf("/api-%d/", i), up.URL))
	}
	g := gt.Start(t, gt.Options{APIs: apis})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := g.GW.Reload(ctx, true); err != nil {
					return
				}
			}
		})
	}
	// Let the reloads run back to back for a while before closing.
	for range 3 {
		if err := g.GW.Reload(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	// The reloaders asked again as these ended: past the 10 ms debounce, a reload of 300 APIs
	// (tens of milliseconds) is running. The wait only gives a wrong Close a reload to miss.
	time.Sleep(25 * time.Millisecond)
	g.Stop()
	closed := strings.Count(g.Logs(), `msg=reloaded`)
	// A reload Close did not wait for logs after it returned; give one the time to.
	time.Sleep(300 * time.Millisecond)
	if after := strings.Count(g.Logs(), `msg=reloaded`); after != closed {
		t.Errorf("%d reloads ended after Close returned", after-closed)
	}

	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	err := g.GW.Reload(rctx, true)
	if err == nil || rctx.Err() != nil || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("a reload asked for after Close returned %v (context: %v), want at once an error saying the gateway is stopping", err, rctx.Err())
	}
	cancel()
	wg.Wait()
}
