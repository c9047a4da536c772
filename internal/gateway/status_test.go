package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/redistest"
	statuspage "github.com/gatehouse/gatehouse/internal/status"
)

// statusReport reads GET /tyk/status with the secret.
func statusReport(t *testing.T, g *gt.Gateway) statuspage.Report {
	t.Helper()
	r := g.Do(gt.Case{Path: "/tyk/status", Admin: true})
	if r.Code != 200 {
		t.Fatalf("GET /tyk/status: %d %s", r.Code, r.Body)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("GET /tyk/status: %s %q, want %q", h, got, want)
		}
	}
	var rep statuspage.Report
	if err := json.Unmarshal([]byte(r.Body), &rep); err != nil {
		t.Fatalf("GET /tyk/status: %v\n%s", err, r.Body)
	}
	return rep
}

func findAPI(rep statuspage.Report, id string) *statuspage.API {
	for i := range rep.APIs {
		if rep.APIs[i].ID == id {
			return &rep.APIs[i]
		}
	}
	return nil
}

func findPlugin(rep statuspage.Report, apiID, hook, fn string) *statuspage.Plugin {
	for i := range rep.Plugins {
		p := &rep.Plugins[i]
		if p.APIID == apiID && p.Hook == hook && p.Function == fn {
			return p
		}
	}
	return nil
}

func val(p *float64) float64 {
	if p == nil {
		return -42
	}
	return *p
}

// TestStatusReport sends known requests to APIs with real plugins, a plugin that cannot be
// loaded, a refused and an inactive definition, and checks what the status report says of
// each, counts included; then that a reload is listed.
func TestStatusReport(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	plug := gt.API("plug", "/plug/", up.URL)
	plug.Name = "<script>alert(1)</script>"
	plug.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "SetHeaderOnly")}
	panics := gt.API("panics", "/panics/", up.URL)
	panics.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "Panic")}
	missing := gt.API("missing", "/missing/", up.URL)
	missing.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "NoSuchFunction")}
	refused := gt.Keyed(gt.API("refused", "/refused/", up.URL))
	refused.UseOpenID = true
	inactive := gt.API("inactive", "/inactive/", up.URL)
	inactive.Active = false
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plug, panics, missing, refused, inactive, keyed}})

	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/tyk/status"}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/tyk/status", Headers: map[string]string{"X-Tyk-Authorization": "wrong"}}))
	for range 3 {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/plug/x"}))
	}
	for range 2 {
		gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/panics/x"}))
	}
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Path: "/nowhere"}))

	rep := statusReport(t, g)
	if !rep.Metrics || rep.Store != "memory" || rep.Started.IsZero() || rep.Time.Before(rep.Started) {
		t.Errorf("report head: metrics %v, store %q, started %v, time %v", rep.Metrics, rep.Store, rep.Started, rep.Time)
	}
	a := findAPI(rep, "plug")
	if a == nil {
		t.Fatalf("no API plug in %+v", rep.APIs)
	}
	if a.Name != plug.Name || a.ListenPath != "/plug/" || a.Upstream != up.URL || a.Auth != "keyless" || a.State != statuspage.StateServed || len(a.Reasons) != 0 {
		t.Errorf("API plug: %+v", *a)
	}
	if a.Requests == nil || a.Requests.Total != 3 || a.Requests.Errors != 0 {
		t.Errorf("API plug requests: %+v, want 3 and no 5xx", a.Requests)
	}
	if a := findAPI(rep, "panics"); a == nil || a.Requests == nil || a.Requests.Total != 2 || a.Requests.Errors != 2 {
		t.Errorf("API panics: %+v, want 2 requests, both 5xx", a)
	}
	if a := findAPI(rep, "keyed"); a == nil || a.Auth != "auth token" || a.State != statuspage.StateServed {
		t.Errorf("API keyed: %+v", a)
	}
	if a := findAPI(rep, "missing"); a == nil || a.State != statuspage.StateFailed || len(a.Reasons) != 1 || !strings.Contains(a.Reasons[0], "NoSuchFunction") {
		t.Errorf("API missing: %+v, want failed because of NoSuchFunction", a)
	}
	if a := findAPI(rep, "refused"); a == nil || a.State != statuspage.StateRefused || len(a.Reasons) != 1 || !strings.Contains(a.Reasons[0], "use_openid") {
		t.Errorf("API refused: %+v, want refused naming use_openid", a)
	}
	if a := findAPI(rep, "inactive"); a == nil || a.State != statuspage.StateInactive {
		t.Errorf("API inactive: %+v", a)
	}
	if rep.Unrouted == nil || rep.Unrouted.Total != 1 {
		t.Errorf("unrouted requests: %+v, want 1", rep.Unrouted)
	}

	p := findPlugin(rep, "plug", "pre", "SetHeaderOnly")
	if p == nil {
		t.Fatalf("no plugin plug/pre/SetHeaderOnly in %+v", rep.Plugins)
	}
	if val(p.Calls) != 3 || val(p.Errors) != 0 || val(p.Panics) != 0 || p.P99 == nil || p.Error != "" {
		t.Errorf("plugin SetHeaderOnly: calls %v errors %v panics %v p99 %v error %q", val(p.Calls), val(p.Errors), val(p.Panics), p.P99, p.Error)
	}
	if p.File != so || len(p.SHA256) != 64 || p.PluginPath == "" || p.Loaded.IsZero() {
		t.Errorf("plugin SetHeaderOnly: file %q (want %q), sha256 %q, plugin path %q, loaded %v", p.File, so, p.SHA256, p.PluginPath, p.Loaded)
	}
	if p := findPlugin(rep, "panics", "post", "Panic"); p == nil || val(p.Calls) != 2 || val(p.Panics) != 2 {
		t.Errorf("plugin Panic: %+v, want 2 calls, 2 panics", p)
	}
	if p := findPlugin(rep, "missing", "post", "NoSuchFunction"); p == nil || p.Error == "" || p.Calls != nil {
		t.Errorf("plugin NoSuchFunction: %+v, want an error and no counts", p)
	}
	if len(rep.Bundles) != 0 || rep.Fleet != nil {
		t.Errorf("bundles %+v and fleet %+v on a memory gateway without bundles", rep.Bundles, rep.Fleet)
	}
	if len(rep.Reloads) != 1 || !rep.Reloads[0].Start || rep.Reloads[0].Result != "ok" || rep.Reloads[0].APIs != 4 || rep.Reloads[0].Problems != 1 {
		t.Errorf("reloads at start: %+v, want the start with 4 APIs and 1 problem", rep.Reloads)
	}

	// A reload that fails is listed with its reason, after one that worked.
	g.Reload()
	g.Config.Policies = config.PoliciesConfig{PolicySource: "file", PolicyRecordName: filepath.Join(t.TempDir(), "missing.json")}
	if err := g.GW.Reload(t.Context(), true); err == nil {
		t.Fatal("a reload with an unreadable policies file succeeded")
	}
	rep = statusReport(t, g)
	if n := len(rep.Reloads); n != 3 || rep.Reloads[1].Start || rep.Reloads[1].Result != "ok" ||
		rep.Reloads[2].Result != "failed" || !strings.Contains(rep.Reloads[2].Error, "missing.json") {
		t.Errorf("reloads: %+v, want the start, a reload that worked and one that failed", rep.Reloads)
	}
}

// TestStatusReportWithoutMetrics: with prometheus.enabled off the report has no counts, and
// says so.
func TestStatusReportWithoutMetrics(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)},
		Config: func(c *config.Config) { c.Prometheus.Enabled = false }})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x"}))
	rep := statusReport(t, g)
	if a := findAPI(rep, "a"); rep.Metrics || a == nil || a.Requests != nil || rep.Unrouted != nil || a.State != statuspage.StateServed {
		t.Errorf("without metrics: metrics %v, API %+v", rep.Metrics, a)
	}
}

// TestStatusReportBundles: a signed bundle and one that cannot be downloaded are listed with
// their state, signature and last download.
func TestStatusReportBundles(t *testing.T) {
	key, pub := keyPair(t)
	// The build of TestUnsignedBundlesWithoutKey: one build for both.
	so := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle-unsigned", map[string]string{`"v1"`: `"unsigned"`})
	srv := newBundleServer(t)
	srv.put("good.zip", ourBundle(t, "good.zip", so, "Version", key))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{bundleAPI("good", up.URL, "good.zip"), bundleAPI("gone", up.URL, "gone.zip")},
		Config: func(c *config.Config) {
			c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
		}})
	eventually(t, "the bundle serves", func() bool { _, v := versionOf(g, "/good/x"); return v == "unsigned" })
	rep := statusReport(t, g)
	if len(rep.Bundles) != 2 {
		t.Fatalf("bundles: %+v, want good.zip and gone.zip", rep.Bundles)
	}
	good, gone := rep.Bundles[1], rep.Bundles[0]
	if good.Name != "good.zip" || good.State != "verified" || good.Signature != "signature verified" || good.LastDownload.IsZero() ||
		good.LastDownloadError != "" || strings.Join(good.APIs, ",") != "good" {
		t.Errorf("bundle good.zip: %+v", good)
	}
	if gone.Name != "gone.zip" || gone.State != "failed" || !strings.Contains(gone.Error, "gone.zip") || gone.LastDownload.IsZero() ||
		gone.LastDownloadError == "" || !strings.HasPrefix(gone.Signature, "not verified") {
		t.Errorf("bundle gone.zip: %+v", gone)
	}
	if a := findAPI(rep, "gone"); a == nil || a.State != statuspage.StateFailed || len(a.Reasons) == 0 {
		t.Errorf("API gone: %+v, want failed with the bundle's reason", a)
	}
	if p := findPlugin(rep, "good", "pre", "Version"); p == nil || !strings.HasPrefix(p.File, g.Config.MiddlewarePath) || len(p.SHA256) != 64 {
		t.Errorf("the bundle's plugin: %+v", p)
	}
}

// TestStatusPageListener: the page is served on the Gateway API's own listener; where the
// Gateway API shares the proxy's listener, /status stays the APIs' (an API may listen there),
// and only the report is served, at /tyk/status.
func TestStatusPageListener(t *testing.T) {
	up := gt.NewUpstream(t)
	g, _ := startOnFreePort(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("root", "/", up.URL)}}, func(c *config.Config, port int) {
		c.ControlAPIHostname = "127.0.0.1"
		c.ControlAPIPort = port
	})
	res, err := http.Get("http://" + g.Server.ControlAddr() + statuspage.PagePath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /status on the Gateway API listener: %d, policy %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Echo": "1"}}, g.Do(gt.Case{Path: statuspage.PagePath}))

	shared := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("root", "/", up.URL)}})
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Echo": "1"}}, shared.Do(gt.Case{Path: statuspage.PagePath}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"api_id": "root"`}, shared.Do(gt.Case{Path: "/tyk/status", Admin: true}))
}

// TestStatusReportFleet: with Redis, each node lists the fleet's nodes from their
// announcements, itself marked, with the notifications it heard from the others.
func TestStatusReportFleet(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 2, gt.API("a", "/a/", up.URL))
	a, b := nodes[0], nodes[1]
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	var rep statuspage.Report
	within(t, 30*time.Second, "a's report of the fleet", func() string {
		rep = statusReport(t, a)
		f := rep.Fleet
		switch {
		case f == nil:
			return "no fleet"
		case len(f.Nodes) != 2:
			return fmt.Sprintf("%d nodes", len(f.Nodes))
		}
		for _, n := range f.Nodes {
			if !n.Self && n.LastNotification != "GroupReload" {
				return "no group reload heard from the other node"
			}
		}
		return ""
	})
	f := rep.Fleet
	if rep.Store != "redis" || !f.StoreUp || !f.Listening || f.Node == "" || f.Unverified != 0 || f.Error != "" {
		t.Errorf("fleet: %+v", f)
	}
	self := 0
	for _, n := range f.Nodes {
		if n.Self {
			self++
			if n.Node != f.Node {
				t.Errorf("the node marked self is %s, the report's node %s", n.Node, f.Node)
			}
		}
		if n.APIs != 1 || n.Stale || n.LastSeen.IsZero() || n.Started.IsZero() || n.Version == "" {
			t.Errorf("node %+v", n)
		}
	}
	if self != 1 {
		t.Errorf("%d nodes marked self, want 1", self)
	}
	if f.Dropped != 0 {
		t.Errorf("dropped %d messages before any was sent", f.Dropped)
	}
	// A message too large for any gateway to have sent, published by another client of Redis:
	// dropped unread, and counted in the report.
	redistest.CLI(t, srv.Addr, "publish", "tyk.cluster.notifications", strings.Repeat("x", 70<<10))
	within(t, 10*time.Second, "the dropped message in a's report", func() string {
		if d := statusReport(t, a).Fleet.Dropped; d != 1 {
			return fmt.Sprintf("dropped %d", d)
		}
		return ""
	})
	// Both counts are metrics too: a Tyk-format notification (unsigned) is refused.
	redistest.CLI(t, srv.Addr, "publish", "tyk.cluster.notifications", `{"command": "GroupReload", "payload": ""}`)
	within(t, 10*time.Second, "a's fleet metrics", func() string {
		m := scrapeMetrics(t, a)
		dropped, refused := m.values("gatehouse_fleet_messages_dropped_total")[""], m.values("gatehouse_fleet_notifications_refused_total")[""]
		if dropped != 1 || refused != 1 {
			return fmt.Sprintf("dropped %v, refused %v", dropped, refused)
		}
		return ""
	})
}

// BenchmarkStatusReport measures what one report of the status page costs the gateway (the page
// asks every 3 seconds while it is open), with 100 APIs that served requests.
func BenchmarkStatusReport(b *testing.B) {
	up := gt.NewUpstream(b)
	var apis []*apidef.APIDefinition
	for i := range 100 {
		apis = append(apis, gt.API(fmt.Sprintf("api%d", i), fmt.Sprintf("/api%d/", i), up.URL))
	}
	g := gt.Start(b, gt.Options{APIs: apis})
	for i := range 100 {
		if r := g.Do(gt.Case{Path: fmt.Sprintf("/api%d/x", i)}); r.Code != 200 {
			b.Fatalf("api%d: %d", i, r.Code)
		}
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if rep := g.GW.Status(ctx); len(rep.APIs) != 100 {
			b.Fatalf("%d APIs in the report", len(rep.APIs))
		}
	}
}
