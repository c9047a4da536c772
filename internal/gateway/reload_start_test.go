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
	early := make(chan error, 1)
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
			done := make(chan error, 1)
			go func() { done <- gw.Reload(context.Background(), true) }()
			// Long enough for a reload that does not wait for the first snapshot to run
			// (the reloader waits 10 ms for more requests, then builds one API).
			select {
			case err := <-done:
				early <- err
			case <-time.After(500 * time.Millisecond):
			}
		},
	})
	select {
	case err := <-early:
		t.Errorf("a reload ran while the first snapshot was being built (its error: %v)", err)
	default:
	}
	// The reload asked for serves the API it found.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := g.Do(gt.Case{Path: "/late/x"})
		if res.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API written before the reload asked for during the start is not served: %d %s", res.Code, res.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
