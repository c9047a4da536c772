package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestReservedListenPaths: with the Gateway API on the proxy listener (and the profiler on), an
// API whose listen path the gateway's own paths would shadow is refused through the Gateway API
// (400, naming what shadows it) and, from app_path, not served and reported in /hello; a listen
// path only partly shadowed, or merely alike, is taken.
func TestReservedListenPaths(t *testing.T) {
	up := gt.NewUpstream(t)
	file := gt.API("pprofile", "/debug/pprof/", up.URL)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{file}, Config: func(c *config.Config) { c.EnableHTTPProfiler = true }})
	for lp, shadow := range map[string]string{
		"/tyk/x/":            "the Gateway API",
		"/tyk":               "the Gateway API",
		"/debug/pprof/":      "the profiler",
		"/debug/pprof":       "the profiler",
		"/debug/pprof/heap/": "the profiler",
		"/hello":             "the health check",
		"/ready/":            "the readiness check",
		"/debug/":            "",
		"/tykx/":             "",
		"/debug/pprofx/":     "",
	} {
		id := "r" + strings.NewReplacer("/", "-").Replace(lp)
		r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/apis", Body: string(mustJSON(t, gt.API(id, lp, up.URL)))})
		switch {
		case shadow == "" && r.Code != 200:
			t.Errorf("listen path %s: %d %s, want it taken", lp, r.Code, r.Body)
		case shadow != "" && (r.Code != http.StatusBadRequest || !strings.Contains(r.Body, "would be shadowed by "+shadow)):
			t.Errorf("listen path %s: %d %s, want 400 naming %s", lp, r.Code, r.Body, shadow)
		}
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"api:pprofile"(?s:.*)would be shadowed by the profiler`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
}
