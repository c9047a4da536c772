package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestReloadAskedForDuringStart: a reload asked for while New builds the first snapshot (as a
// source plugin's build or a bundle's download that ends then asks for one) runs once that
// snapshot serves, from it. Run beside the first build, it built a snapshot of its own, which
// the first one, stored after it, replaced: what the reload loaded did not serve until the next
// reload, which nothing would ask for.
func TestReloadAskedForDuringStart(t *testing.T) {
	up := gt.NewUpstream(t)
	var appPath string
	// done receives the result of the reload asked for during the start: Reload with wait
	// returns once that reload's snapshot serves.
	done := make(chan error, 1)
	ranEarly := false
	g := gt.Start(t, gt.Options{
		Config: func(c *config.Config) { appPath = c.AppPath },
		AfterFirstBuild: func(gw *gateway.Gateway) {
			// An API the first build did not see, which the reload will.
			data, err := json.Marshal(gt.API("late", "/late/", up.URL))
			if err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(filepath.Join(appPath, "late.json"), data, 0o644); err != nil {
				t.Error(err)
				return
			}
			go func() { done <- gw.Reload(context.Background(), true) }()
			// A reloader that does not hold the request until the first snapshot serves runs it
			// now (after its 10 ms debounce, one API to build): give it the time to, so that its
			// snapshot is stored before New stores the first one. The wait only detects the bug;
			// a correct reloader never answers within it, whatever the machine's speed.
			select {
			case err := <-done:
				ranEarly = true
				t.Errorf("a reload ran while the first snapshot was being built (its error: %v)", err)
			case <-time.After(500 * time.Millisecond):
			}
		},
	})
	if !ranEarly {
		if err := <-done; err != nil {
			t.Fatalf("the reload asked for during the start failed: %v", err)
		}
	}
	// The reload has stored its snapshot, so the API it found serves now: no polling.
	if res := g.Do(gt.Case{Path: "/late/x"}); res.Code != 200 {
		t.Fatalf("the API written before the reload asked for during the start is not served: %d %s", res.Code, res.Body)
	}
}
