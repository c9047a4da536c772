package gateway_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestProfilerOnTheProxyListener: with the Gateway API on the proxy listener and an API
// listening on "/", enable_http_profiler takes /debug/pprof/ from the API, behind the secret;
// without it, the path is the API's like any other. A path that reaches the profiler only after
// cleaning gets the gateway's 400.
func TestProfilerOnTheProxyListener(t *testing.T) {
	up := gt.NewUpstream(t)
	root := func() []*apidef.APIDefinition { return []*apidef.APIDefinition{gt.API("root", "/", up.URL)} }

	off := gt.Start(t, gt.Options{APIs: root()})
	gt.Check(t, gt.Case{Code: 200}, off.Do(gt.Case{Admin: true, Path: "/debug/pprof/heap"}))
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("with the profiler off, /debug/pprof/heap reached the upstream %d times, want 1", n)
	}

	on := gt.Start(t, gt.Options{APIs: root(), Config: func(c *config.Config) { c.EnableHTTPProfiler = true }})
	gt.Check(t, gt.Case{Code: 403}, on.Do(gt.Case{Path: "/debug/pprof/heap"}))
	gt.Check(t, gt.Case{Code: 403}, on.Do(gt.Case{Path: "/debug/pprof/", Headers: map[string]string{"X-Tyk-Authorization": "wrong"}}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `/debug/pprof/goroutine +\d+`}, on.Do(gt.Case{Admin: true, Path: "/debug/pprof/"}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `goroutine \d+ \[`}, on.Do(gt.Case{Admin: true, Path: "/debug/pprof/goroutine?debug=2"}))
	r, err := on.Raw("GET /debug/pprof/../../tyk/apis HTTP/1.1\r\nHost: x\r\nX-Tyk-Authorization: " + on.Config.Secret + "\r\nConnection: close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	gt.Check(t, gt.Case{Code: 400}, r)
	// The API still serves everything else.
	gt.Check(t, gt.Case{Code: 200}, on.Do(gt.Case{Path: "/debug/other"}))
	if n := len(up.Requests()); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2 (one through each gateway)", n)
	}
}

// TestProfilerOnItsOwnListener: in the default layout, the Gateway API on a listener of its
// own, the profiler is there and the proxy listener leaves /debug/pprof/ to the APIs.
func TestProfilerOnItsOwnListener(t *testing.T) {
	up := gt.NewUpstream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	g := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{gt.API("root", "/", up.URL)},
		Config: func(c *config.Config) {
			c.EnableHTTPProfiler = true
			c.ControlAPIHostname, c.ControlAPIPort = "127.0.0.1", port
		},
	})
	ctl := g.Server.ControlAddr()
	if ctl == "" {
		t.Fatal("the Gateway API shares the proxy listener")
	}

	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Path: "/debug/pprof/heap"}))
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("/debug/pprof/heap on the proxy listener reached the upstream %d times, want 1", n)
	}
	for _, c := range []struct {
		secret string
		code   int
	}{{"", http.StatusForbidden}, {gt.Secret, http.StatusOK}} {
		req, _ := http.NewRequest("GET", "http://"+ctl+"/debug/pprof/heap", nil)
		if c.secret != "" {
			req.Header.Set("X-Tyk-Authorization", c.secret)
		}
		res, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.code || c.code == 200 && res.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET the Gateway API's /debug/pprof/heap with secret %q: %d %s, want %d", c.secret, res.StatusCode, res.Header.Get("Content-Type"), c.code)
		}
	}
	if n := len(up.Requests()); n != 1 {
		t.Errorf("the upstream saw %d requests, want 1", n)
	}
}
