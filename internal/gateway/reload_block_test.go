package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestBlockingReloadReportsWhatFailedMeanwhile: a blocking reload that times out while one
// bundle still downloads reports the state the gateway is in when it answers: a bundle whose
// download failed while the reload waited is in failed, not "being downloaded".
func TestBlockingReloadReportsWhatFailedMeanwhile(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/hang.zip") {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	g.WriteAPI(bundleAPI("hang", up.URL, "hang.zip"))
	g.WriteAPI(bundleAPI("gone", up.URL, "gone.zip"))
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=5"})
	var reply struct {
		Status          string
		Pending, Failed []string
	}
	if err := json.Unmarshal([]byte(r.Body), &reply); err != nil || r.Code != http.StatusAccepted {
		t.Fatalf("blocking reload = %d %s (%v), want 202", r.Code, r.Body, err)
	}
	pending, failed := strings.Join(reply.Pending, "\n"), strings.Join(reply.Failed, "\n")
	if !strings.Contains(pending, `"hang"`) || strings.Contains(pending, `"gone"`) || !strings.Contains(failed, `"gone"`) {
		t.Errorf("pending %q, failed %q; want hang pending and gone failed", reply.Pending, reply.Failed)
	}
}
