package pump_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// separateStore points analytics at the Redis at addr (enable_separate_analytics_store).
func separateStore(addr string) func(*config.Config) {
	return func(c *config.Config) {
		host, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
		c.AnalyticsStorage = config.StorageConfig{Type: "redis", Host: host, Port: n}
	}
}

// keysOf returns the keys of the Redis c reaches that match pattern.
func keysOf(t *testing.T, c rueidis.Client, pattern string) []string {
	t.Helper()
	keys, err := c.Do(context.Background(), c.B().Keys().Pattern(pattern).Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestSeparateAnalyticsStore: with enable_separate_analytics_store, records and uptime analytics
// go to the Redis of analytics_storage, where tyk-pump reads them, and keys, limits and the
// fleet's data stay in the storage block's Redis: neither holds the other's.
func TestSeparateAnalyticsStore(t *testing.T) {
	keys := redistest.Start(t, redistest.Options{})
	recs := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	checked := gt.API("checked", "/checked/", up.URL)
	checked.UptimeTests.CheckList = []apidef.HostCheck{{URL: up.URL + "/health"}}
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	g := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{checked, keyed}, Config: func(c *config.Config) {
		separateStore(recs.Addr)(c)
		c.UptimeTests.Config.EnableUptimeAnalytics = true
		c.UptimeTests.Config.TimeWait = 1
	}})
	key := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 60, QuotaMax: 100, QuotaRenewalRate: 3600,
		AccessRights: map[string]apidef.AccessDefinition{"keyed": {APIID: "keyed", APIName: "keyed", Versions: []string{"Default"}}}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/checked/open"}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/keyed/with-key", Headers: map[string]string{"Authorization": key}}))

	rc, kc := client(t, recs.Addr), client(t, keys.Addr)
	var paths []string
	for _, b := range waitList(t, rc, listKey, 2) {
		paths = append(paths, decode(t, b).Path)
	}
	if strings.Join(paths, " ") != "/checked/open /keyed/with-key" && strings.Join(paths, " ") != "/keyed/with-key /checked/open" {
		t.Errorf("records in the analytics Redis are for %q, want the two requests", paths)
	}
	if r := decodeUptime(t, waitList(t, rc, analytics.UptimeKey, 1)[0]); r.URL != up.URL+"/health" || r.ResponseCode != 200 {
		t.Errorf("uptime record in the analytics Redis: %+v", r)
	}
	// The storage block's Redis holds the key and its counters, and no analytics at all.
	if got := keysOf(t, kc, "analytics-*"); len(got) != 0 {
		t.Errorf("the storage Redis holds analytics lists %q", got)
	}
	if got := keysOf(t, kc, analytics.UptimeKey); len(got) != 0 {
		t.Errorf("the storage Redis holds the uptime list")
	}
	if got := keysOf(t, kc, "apikey-*"); len(got) != 1 {
		t.Errorf("the storage Redis holds keys %q, want the one created", got)
	}
	// The analytics Redis holds nothing but the two lists.
	all := keysOf(t, rc, "*")
	for _, k := range all {
		if k != listKey && k != analytics.UptimeKey {
			t.Errorf("the analytics Redis holds %q", k)
		}
	}
	hello := g.Do(gt.Case{Path: "/hello"})
	if !strings.Contains(hello.Body, `"analytics_redis"`) || !strings.Contains(hello.Body, "the analytics Redis (analytics_storage) answers") {
		t.Errorf("/hello does not report the analytics Redis: %s", hello.Body)
	}
}

// TestSeparateAnalyticsStoreDown: the analytics Redis dying costs records, never requests:
// keyed requests are served (their Redis answers), /hello warns, /ready stays 200, the lost
// records are counted, and records are written again once it is back.
func TestSeparateAnalyticsStoreDown(t *testing.T) {
	keys := redistest.Start(t, redistest.Options{})
	recs := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	g := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{keyed}, Config: separateStore(recs.Addr)})
	key := g.CreateKey(&apidef.SessionState{Rate: 1000, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"keyed": {APIID: "keyed", APIName: "keyed", Versions: []string{"Default"}}}})
	auth := map[string]string{"Authorization": key}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/keyed/before", Headers: auth}))
	waitList(t, client(t, recs.Addr), listKey, 1)
	waitMetric(t, g, "gatehouse_analytics_records_written_total", 1)

	recs.Kill()
	const down = 20
	for i := range down {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/keyed/down/" + strconv.Itoa(i), Headers: auth}))
	}
	waitMetric(t, g, "gatehouse_analytics_records_dropped_total", down)
	deadline := time.Now().Add(10 * time.Second)
	for {
		hello := g.Do(gt.Case{Path: "/hello"})
		var h struct {
			Status  string
			Details map[string]struct{ Status, Output string }
		}
		if err := json.Unmarshal([]byte(hello.Body), &h); err != nil {
			t.Fatalf("/hello: %v %s", err, hello.Body)
		}
		if d := h.Details["analytics_redis"]; d.Status == "warn" && h.Status == "warn" && h.Details["redis"].Status == "pass" {
			if !strings.Contains(d.Output, "does not answer") || strings.Contains(hello.Body, recs.Addr) {
				t.Errorf("/hello's analytics_redis: %q (it must not name the address %s)", d.Output, recs.Addr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/hello does not warn of the analytics Redis: %s", hello.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/ready"}))

	recs.Restart()
	rc := client(t, recs.Addr)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/keyed/after", Headers: auth}))
		if n, _ := rc.Do(context.Background(), rc.B().Llen().Key(listKey).Build()).AsInt64(); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no record written within 20 s of the analytics Redis coming back")
		}
	}
	if got := keysOf(t, client(t, keys.Addr), "analytics-*"); len(got) != 0 {
		t.Errorf("while the analytics Redis was down, records went to the storage Redis: %q", got)
	}
}

// TestSeparateAnalyticsStoreMemoryStore: a gateway on the memory store sends its records to the
// analytics Redis too, so a lone gateway can feed tyk-pump; analytics_config.file_path is not
// written.
func TestSeparateAnalyticsStoreMemoryStore(t *testing.T) {
	recs := redistest.Start(t, redistest.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(up.Close)
	file := filepath.Join(t.TempDir(), "analytics.jsonl")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}, Config: func(c *config.Config) {
		separateStore(recs.Addr)(c)
		c.AnalyticsConfig.FilePath = file
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/x"}))
	if r := decode(t, waitList(t, client(t, recs.Addr), listKey, 1)[0]); r.Path != "/open/x" || r.APIID != "open" {
		t.Errorf("record %+v", r)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("analytics_config.file_path was written (%v)", err)
	}
}

// TestSeparateAnalyticsStoreNeedsAnalytics: as in Tyk, analytics_storage is used only with
// enable_analytics: without it, uptime analytics stay in the storage block's Redis and the
// analytics Redis is not connected to.
func TestSeparateAnalyticsStoreNeedsAnalytics(t *testing.T) {
	keys := redistest.Start(t, redistest.Options{})
	recs := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	checked := gt.API("checked", "/checked/", up.URL)
	checked.UptimeTests.CheckList = []apidef.HostCheck{{URL: up.URL + "/health"}}
	g := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{checked}, Config: func(c *config.Config) {
		separateStore(recs.Addr)(c)
		c.EnableAnalytics = false
		c.UptimeTests.Config.EnableUptimeAnalytics = true
		c.UptimeTests.Config.TimeWait = 1
	}})
	waitList(t, client(t, keys.Addr), analytics.UptimeKey, 1)
	if got := keysOf(t, client(t, recs.Addr), "*"); len(got) != 0 {
		t.Errorf("the analytics Redis holds %q without enable_analytics", got)
	}
	if list := redistest.CLI(t, recs.Addr, "client", "list"); strings.Contains(list, "name=gatehouse") {
		t.Errorf("the gateway connected to the analytics Redis without enable_analytics:\n%s", list)
	}
	if hello := g.Do(gt.Case{Path: "/hello"}); strings.Contains(hello.Body, "analytics_redis") {
		t.Errorf("/hello reports an analytics Redis without enable_analytics: %s", hello.Body)
	}
}
