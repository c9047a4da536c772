package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestBundleDownloadProgressTimeout: bundle_download_progress_timeout reaches the downloader.
// A bundle server that sends the start of a bundle and then nothing, holding the connection
// open, has each attempt cut after the configured second of silence; /hello gives the reason,
// the API answers 503 and another API serves meanwhile.
func TestBundleDownloadProgressTimeout(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(strings.Repeat("z", 1000)))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{bundleAPI("app", up.URL, "app-v1.zip"), gt.API("other", "/other/", up.URL)},
		Config: func(c *config.Config) {
			c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
			c.BundleDownloadProgressTimeout = 1
		},
	})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
	want := "the bundle server sent nothing for 1s after 1000 bytes of the bundle (bundle_download_progress_timeout)"
	eventually(t, "the stalled download is reported", func() bool {
		return strings.Contains(bundleReason(t, g, "app"), want)
	})
	if n := requests.Load(); n < 2 {
		t.Errorf("%d requests; a stalled attempt is tried again", n)
	}
	gt.Check(t, gt.Case{Code: 503}, g.Do(gt.Case{Path: "/app/x"}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
}
