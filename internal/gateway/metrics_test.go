package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// scrape is one read of a gateway's metrics listener: metric families by name.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, g *gt.Gateway) scrape {
	t.Helper()
	addr := g.Server.MetricsAddr()
	if addr == "" {
		t.Fatal("the gateway serves no metrics")
	}
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing the metrics: %v", err)
	}
	return fams
}

// labels renders a series' labels as a=b,c=d in name order.
func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// values maps the series of a counter or gauge to their values, and of a histogram to their
// sample counts.
func (s scrape) values(name string) map[string]float64 {
	out := map[string]float64{}
	f := s[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			out[labels(m)] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[labels(m)] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[labels(m)] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// wantValues checks that a metric's series are exactly want.
func (s scrape) wantValues(t *testing.T, name string, want map[string]float64) {
	t.Helper()
	got := s.values(name)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", name, got, want)
	}
}

// TestMetricsRequests sends known requests and checks the request counters and histograms by
// label, exactly.
func TestMetricsRequests(t *testing.T) {
	up := gt.NewUpstream(t)
	limited := gt.API("limited", "/limited/", up.URL)
	limited.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 2, Per: 60}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("m", "/m/", up.URL), limited}})
	send := func(method, path string, code int) {
		t.Helper()
		if r := g.Do(gt.Case{Method: method, Path: path}); r.Code != code {
			t.Fatalf("%s %s: %d, want %d", method, path, r.Code, code)
		}
	}
	for range 3 {
		send("GET", "/m/a", 200)
	}
	send("POST", "/m/b", 200)
	send("PURGE", "/m/c", 200)
	send("get", "/m/d", 200) // a lower-case method is another method
	send("GET", "/nowhere", 404)
	send("GET", "/m/%2e%2e/x", 400)
	for range 2 {
		send("GET", "/limited/x", 200)
	}
	send("GET", "/limited/x", 429)

	s := scrapeMetrics(t, g)
	s.wantValues(t, "gatehouse_http_requests_total", map[string]float64{
		"api_id=m,code=200,method=GET":       3,
		"api_id=m,code=200,method=POST":      1,
		"api_id=m,code=200,method=OTHER":     2,
		"api_id=,code=404,method=GET":        1,
		"api_id=,code=400,method=GET":        1,
		"api_id=limited,code=200,method=GET": 2,
		"api_id=limited,code=429,method=GET": 1,
	})
	s.wantValues(t, "gatehouse_http_request_duration_seconds", map[string]float64{
		"api_id=m": 6, "api_id=": 2, "api_id=limited": 3,
	})
	s.wantValues(t, "gatehouse_upstream_request_duration_seconds", map[string]float64{
		"api_id=m": 6, "api_id=limited": 2,
	})
	s.wantValues(t, "gatehouse_limit_refusals_total", map[string]float64{
		"api_id=m,limit=rate_limit": 0, "api_id=m,limit=api_rate_limit": 0, "api_id=m,limit=quota": 0,
		"api_id=limited,limit=rate_limit": 0, "api_id=limited,limit=api_rate_limit": 1, "api_id=limited,limit=quota": 0,
	})
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "gatehouse_build_info"} {
		if s[name] == nil {
			t.Errorf("%s is not served", name)
		}
	}
}

// TestMetricsPlugins checks the per-plugin series: calls, errors (a status of 400 or more the
// plugin wrote), panics, and a key's rate limit refusing a session an auth plugin set.
func TestMetricsPlugins(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	api := func(id string, cm apidef.MiddlewareSection) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		cm.Driver = "goplugin"
		d.CustomMiddleware = cm
		return d
	}
	limited := gt.Keyed(gt.API("limited", "/limited/", up.URL))
	limited.CustomPluginAuthEnabled = true
	limited.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", AuthCheck: apidef.MiddlewareDefinition{Name: "AuthFromHeader", Path: so}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("panic", apidef.MiddlewareSection{Pre: hooks(so, "Panic")}),
		api("resp", apidef.MiddlewareSection{Pre: hooks(so, "SetHeaderOnly"), Response: hooks(so, "ResponseRefuse")}),
		api("missing", apidef.MiddlewareSection{Post: hooks(so, "NoSuchFunction")}),
		limited,
	}})
	user := map[string]string{"X-User": "carol"}
	g.Run(t,
		gt.Case{Name: "panic 1", Path: "/panic/x", Code: 500},
		gt.Case{Name: "panic 2", Path: "/panic/y", Code: 500},
		gt.Case{Name: "response hook refuses", Path: "/resp/x", Code: 403},
		gt.Case{Name: "not loaded", Path: "/missing/x", Code: 500},
		gt.Case{Name: "auth plugin refuses", Path: "/limited/x", Code: 401},
		gt.Case{Name: "auth plugin lets in 1", Path: "/limited/x", Headers: user, Code: 200},
		gt.Case{Name: "auth plugin lets in 2", Path: "/limited/x", Headers: user, Code: 200},
		gt.Case{Name: "rate limited", Path: "/limited/x", Headers: user, Code: 429},
	)
	s := scrapeMetrics(t, g)
	s.wantValues(t, "gatehouse_plugin_calls_total", map[string]float64{
		"api_id=panic,hook=pre,plugin=Panic":                   2,
		"api_id=resp,hook=pre,plugin=SetHeaderOnly":            1,
		"api_id=resp,hook=response,plugin=ResponseRefuse":      1,
		"api_id=limited,hook=auth_check,plugin=AuthFromHeader": 4,
	})
	s.wantValues(t, "gatehouse_plugin_duration_seconds", s.values("gatehouse_plugin_calls_total"))
	s.wantValues(t, "gatehouse_plugin_panics_total", map[string]float64{
		"api_id=panic,hook=pre,plugin=Panic":                   2,
		"api_id=resp,hook=pre,plugin=SetHeaderOnly":            0,
		"api_id=resp,hook=response,plugin=ResponseRefuse":      0,
		"api_id=limited,hook=auth_check,plugin=AuthFromHeader": 0,
	})
	s.wantValues(t, "gatehouse_plugin_errors_total", map[string]float64{
		"api_id=panic,hook=pre,plugin=Panic":                   0,
		"api_id=resp,hook=pre,plugin=SetHeaderOnly":            0,
		"api_id=resp,hook=response,plugin=ResponseRefuse":      1,
		"api_id=limited,hook=auth_check,plugin=AuthFromHeader": 1,
	})
	s.wantValues(t, "gatehouse_plugin_load_failures_total", map[string]float64{"reason=symbol": 1})
	s.wantValues(t, "gatehouse_plugin_hooks_failed", map[string]float64{"": 1})
	if got := s.values("gatehouse_limit_refusals_total")["api_id=limited,limit=rate_limit"]; got != 1 {
		t.Errorf("key rate limit refusals of limited: %v, want 1", got)
	}
	s.wantValues(t, "gatehouse_http_requests_total", map[string]float64{
		"api_id=panic,code=500,method=GET":   2,
		"api_id=resp,code=403,method=GET":    1,
		"api_id=missing,code=500,method=GET": 1,
		"api_id=limited,code=401,method=GET": 1,
		"api_id=limited,code=200,method=GET": 2,
		"api_id=limited,code=429,method=GET": 1,
	})
}

// TestMetricsReloads checks that reloads are counted, failed ones too, and that the series of
// an API removed by a reload go.
func TestMetricsReloads(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL), gt.API("b", "/b/", up.URL)}})
	g.Run(t, gt.Case{Name: "a", Path: "/a/x", Code: 200}, gt.Case{Name: "b", Path: "/b/x", Code: 200})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.GW.Reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(g.AppPath, "b.json")); err != nil {
		t.Fatal(err)
	}
	if err := g.GW.Reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	// A policies file that cannot be read fails the whole reload.
	g.Config.Policies = config.PoliciesConfig{PolicySource: "file", PolicyRecordName: filepath.Join(t.TempDir(), "missing.json")}
	if err := g.GW.Reload(ctx, true); err == nil {
		t.Fatal("a reload with an unreadable policies file succeeded")
	}
	s := scrapeMetrics(t, g)
	s.wantValues(t, "gatehouse_reloads_total", map[string]float64{"": 3})
	s.wantValues(t, "gatehouse_reload_failures_total", map[string]float64{"": 1})
	s.wantValues(t, "gatehouse_reload_duration_seconds", map[string]float64{"": 3})
	s.wantValues(t, "gatehouse_http_requests_total", map[string]float64{"api_id=a,code=200,method=GET": 1})
}

// TestMetricsCardinality sends requests with random paths, keys, headers, queries and hosts:
// they must add no series.
func TestMetricsCardinality(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("open", "/open/", up.URL), gt.Keyed(gt.API("keyed", "/keyed/", up.URL)),
	}})
	series := func() []string {
		var out []string
		for name, f := range scrapeMetrics(t, g) {
			if !strings.HasPrefix(name, "gatehouse_") {
				continue
			}
			for _, m := range f.GetMetric() {
				out = append(out, name+"{"+labels(m)+"}")
			}
		}
		sort.Strings(out)
		return out
	}
	randomRound := func() {
		for _, p := range []string{"/open/", "/keyed/", "/elsewhere/"} {
			r := fmt.Sprintf("%s%x?q=%x", p, rand.Uint64(), rand.Uint64())
			g.Do(gt.Case{Path: r, Headers: map[string]string{
				"Authorization":                      fmt.Sprintf("key-%x", rand.Uint64()),
				fmt.Sprintf("X-R-%x", rand.Uint32()): "v",
			}, Host: fmt.Sprintf("h%x.example", rand.Uint32())})
		}
	}
	randomRound()
	before := series()
	for range 50 {
		randomRound()
	}
	after := series()
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("random requests added series:\nbefore %d: %v\nafter %d: %v", len(before), before, len(after), after)
	}
}

// TestMetricsOff checks that prometheus.enabled false serves no listener.
func TestMetricsOff(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)},
		Config: func(c *config.Config) { c.Prometheus.Enabled = false }})
	g.Run(t, gt.Case{Name: "serves", Path: "/a/x", Code: 200})
	if addr := g.Server.MetricsAddr(); addr != "" {
		t.Errorf("metrics served on %s with prometheus.enabled false", addr)
	}
}

// TestMetricsAPIChurn creates APIs through the Gateway API, serves requests on each (a rare
// code among them, looked up by label), deletes them and reloads, and has definitions refused
// (a listen path taken): each scrape must hold the series of the APIs served, and none of an
// API deleted or refused, so that the series stay as many as the APIs.
func TestMetricsAPIChurn(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/teapot") {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer up.Close()
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("kept", "/kept/", up.URL)}})
	g.Run(t, gt.Case{Name: "kept", Path: "/kept/x", Code: 200})
	// The series of the gatehouse_ families, by family, for API id (or of every API, id "*").
	series := func(s scrape, id string) map[string]int {
		out := map[string]int{}
		for name, f := range s {
			if !strings.HasPrefix(name, "gatehouse_") {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "api_id" && (id == "*" || l.GetValue() == id) {
						out[name]++
					}
				}
			}
		}
		return out
	}
	base := series(scrapeMetrics(t, g), "*")
	post := func(def *apidef.APIDefinition, code int) {
		t.Helper()
		body, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		gt.Check(t, gt.Case{Code: code}, g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/apis", Body: string(body)}))
	}
	for i := range 10 {
		id := fmt.Sprintf("churn-%d", i)
		post(gt.API(id, "/"+id+"/", up.URL), http.StatusOK)
		// Refused: its listen path is kept's. It never serves, so it has no series, before a
		// reload as after.
		refused := fmt.Sprintf("refused-%d", i)
		post(gt.API(refused, "/kept/", up.URL), http.StatusBadRequest)
		if n := series(scrapeMetrics(t, g), refused); len(n) != 0 {
			t.Errorf("%s was refused: it has series %v", refused, n)
		}
		g.Reload()
		g.Run(t, gt.Case{Name: id, Path: "/" + id + "/x", Code: 200},
			gt.Case{Name: id + " 418", Path: "/" + id + "/teapot", Code: http.StatusTeapot})
		s := scrapeMetrics(t, g)
		if n := series(s, id); n["gatehouse_http_requests_total"] != 2 || n["gatehouse_limit_refusals_total"] != 3 {
			t.Fatalf("%s serves: its series %v", id, n)
		}
		if n := series(s, refused); len(n) != 0 {
			t.Errorf("%s was refused: it has series %v", refused, n)
		}
		gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/apis/" + id}))
		g.Reload()
		if n := series(scrapeMetrics(t, g), "*"); fmt.Sprint(n) != fmt.Sprint(base) {
			t.Fatalf("after %s was deleted: series %v, want as before it %v", id, n, base)
		}
	}
}

// TestMetricsHookChanged changes the plugin hooks of an API that stays served: the series of a
// hook it no longer has must go at the reload, as an API's do when it goes, else each function
// an API ever named keeps its series for as long as the API is served.
func TestMetricsHookChanged(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	def := gt.API("p", "/p/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "OrderA"), Post: hooks(so, "SetHeaderOnly")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, gt.API("plain", "/plain/", up.URL)}})
	g.Run(t, gt.Case{Name: "OrderA", Path: "/p/x", Code: 200})
	scrapeMetrics(t, g).wantValues(t, "gatehouse_plugin_calls_total", map[string]float64{
		"api_id=p,hook=pre,plugin=OrderA": 1, "api_id=p,hook=post,plugin=SetHeaderOnly": 1,
	})
	def.CustomMiddleware.Pre = hooks(so, "OrderB")
	g.WriteAPI(def)
	g.Reload()
	g.Run(t, gt.Case{Name: "OrderB", Path: "/p/x", Code: 200, HeadersMatch: map[string]string{"X-Order": "b"}})
	s := scrapeMetrics(t, g)
	want := map[string]float64{"api_id=p,hook=pre,plugin=OrderB": 1, "api_id=p,hook=post,plugin=SetHeaderOnly": 2}
	for _, name := range []string{"gatehouse_plugin_calls_total", "gatehouse_plugin_duration_seconds"} {
		s.wantValues(t, name, want)
	}
	for _, name := range []string{"gatehouse_plugin_errors_total", "gatehouse_plugin_panics_total"} {
		s.wantValues(t, name, map[string]float64{"api_id=p,hook=pre,plugin=OrderB": 0, "api_id=p,hook=post,plugin=SetHeaderOnly": 0})
	}
}

// TestMetricsPathLiteral: prometheus.path is served as written. A "{" in it once made it a
// ServeMux pattern: a wildcard, or one ServeMux refused by panicking at start.
func TestMetricsPathLiteral(t *testing.T) {
	up := gt.NewUpstream(t)
	for _, path := range []string{"/metrics{", "/{a}/{a}", "/m/{x...}/y"} {
		t.Run(path, func(t *testing.T) {
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)},
				Config: func(c *config.Config) { c.Prometheus.Path = path }})
			get := func(p string) (int, string) {
				t.Helper()
				res, err := http.Get("http://" + g.Server.MetricsAddr() + p)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var b strings.Builder
				_, _ = io.Copy(&b, res.Body)
				return res.StatusCode, b.String()
			}
			if code, body := get(path); code != 200 || !strings.Contains(body, "gatehouse_") {
				t.Errorf("GET %s: %d, want the metrics", path, code)
			}
			for _, other := range []string{"/metrics", "/x/x", "/m/a/b/y"} {
				if code, _ := get(other); code != 404 {
					t.Errorf("GET %s with prometheus.path %s: %d, want 404", other, path, code)
				}
			}
		})
	}
}
