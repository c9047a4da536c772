package gateway_test

import (
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// backend is an upstream answering its name, whose /health answers health (200 until changed).
type backend struct {
	*httptest.Server
	health atomic.Int32
	checks atomic.Int32
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{}
	b.health.Store(200)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			b.checks.Add(1)
			w.WriteHeader(int(b.health.Load()))
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

// balanced is a load-balanced API over the backends, each checked at /health.
func balanced(id string, check bool, backends ...*backend) *apidef.APIDefinition {
	def := gt.API(id, "/"+id+"/", backends[0].URL)
	def.Proxy.EnableLoadBalancing = true
	def.Proxy.CheckHostAgainstUptimeTests = check
	for _, b := range backends {
		def.Proxy.Targets = append(def.Proxy.Targets, b.URL)
		def.UptimeTests.CheckList = append(def.UptimeTests.CheckList, apidef.HostCheck{URL: b.URL + "/health"})
	}
	return def
}

// TestUptimeTests: with check_host_against_uptime_tests, the load balancer passes over a target
// whose uptime checks fail, answers 503 when every one does, and takes a target back once its
// checks pass; without it, or with uptime_tests.disable, every target serves.
func TestUptimeTests(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	g := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{balanced("lb", true, a, b), balanced("plain", false, a, b)},
		Config: func(c *config.Config) {
			c.UptimeTests.Config.TimeWait = 1
			c.UptimeTests.Config.FailureTriggerSampleSize = 1
		},
	})
	// served sends n requests and counts the answers by body ("a", "b", or the status).
	served := func(path string, n int) map[string]int {
		t.Helper()
		out := map[string]int{}
		for range n {
			r := g.Do(gt.Case{Path: path})
			if r.Code == 200 {
				out[r.Body]++
			} else {
				out[http.StatusText(r.Code)+": "+strings.TrimSpace(r.Body)]++
			}
		}
		return out
	}
	// eventually waits for six answers of path to be counted as want.
	eventually := func(what, path string, want map[string]int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := served(path, 6)
			if maps.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s answered %v after 10 s, want %v", what, path, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := served("/lb/x", 6); got["a"] != 3 || got["b"] != 3 {
		t.Fatalf("both up: %v, want a and b in turn", got)
	}

	a.health.Store(500)
	eventually("a's checks fail", "/lb/x", map[string]int{"b": 6})
	if got := served("/plain/x", 6); got["a"] != 3 || got["b"] != 3 {
		t.Errorf("without check_host_against_uptime_tests: %v, want a and b in turn", got)
	}
	b.health.Store(503)
	eventually("every check fails", "/lb/x", map[string]int{"Service Unavailable: {\n    \"error\": \"all hosts are down\"\n}": 6})
	scrapeMetrics(t, g).wantValues(t, "gatehouse_upstream_hosts_down", map[string]float64{"": 2})
	// The status report names the hosts down, on each API whose checks found them.
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/status"})
	var rep struct {
		APIs []struct {
			ID        string   `json:"api_id"`
			HostsDown []string `json:"hosts_down"`
		} `json:"apis"`
	}
	if err := json.Unmarshal([]byte(r.Body), &rep); err != nil || r.Code != 200 {
		t.Fatalf("status report: %d %v", r.Code, err)
	}
	wantDown := []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")}
	slices.Sort(wantDown)
	for _, api := range rep.APIs {
		if !slices.Equal(api.HostsDown, wantDown) {
			t.Errorf("status report: API %s hosts_down %q, want %q", api.ID, api.HostsDown, wantDown)
		}
	}
	a.health.Store(200)
	eventually("a's checks pass again", "/lb/x", map[string]int{"a": 6})
	b.health.Store(200)
	eventually("both pass again", "/lb/x", map[string]int{"a": 3, "b": 3})
	scrapeMetrics(t, g).wantValues(t, "gatehouse_upstream_hosts_down", map[string]float64{"": 0})
	logs := g.Logs()
	for _, want := range []string{"upstream host down: uptime checks failing", "upstream host up: uptime checks pass again"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}

	// With uptime_tests.disable no check runs, and a failing host keeps serving.
	a.health.Store(500)
	off := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{balanced("lb", true, a, b)},
		Config: func(c *config.Config) {
			c.UptimeTests.Disable = true
			c.UptimeTests.Config.TimeWait = 1
			c.UptimeTests.Config.FailureTriggerSampleSize = 1
		},
	})
	g.Stop()
	before := a.checks.Load()
	time.Sleep(1500 * time.Millisecond)
	if n := a.checks.Load() - before; n != 0 {
		t.Errorf("with uptime_tests.disable, a was checked %d times", n)
	}
	for range 6 {
		if r := off.Do(gt.Case{Path: "/lb/x"}); r.Code != 200 {
			t.Fatalf("with uptime_tests.disable: %d %s", r.Code, r.Body)
		}
	}
}

// TestUptimeTestsH2C: an h2c-only upstream is checked over cleartext HTTP/2 (an h2c:// check
// URL), as its traffic is sent, and speaks for its h2c:// target.
func TestUptimeTestsH2C(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && (!healthy.Load() || r.ProtoMajor != 2) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "h2c")
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true) // prior knowledge only: an HTTP/1 check cannot pass
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	other := newBackend(t, "other")
	def := balanced("lb", true, other)
	def.Proxy.Targets = append(def.Proxy.Targets, "h2c://"+ln.Addr().String())
	def.UptimeTests.CheckList = append(def.UptimeTests.CheckList, apidef.HostCheck{URL: "h2c://" + ln.Addr().String() + "/health", Timeout: 5 * time.Second})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.UptimeTests.Config.TimeWait = 1
		c.UptimeTests.Config.FailureTriggerSampleSize = 1
	}})
	count := func() map[string]int {
		out := map[string]int{}
		for range 4 {
			r := g.Do(gt.Case{Path: "/lb/x"})
			out[strconv.Itoa(r.Code)+" "+r.Body]++
		}
		return out
	}
	// Checked over HTTP/2, the h2c upstream stays in: two rounds later it still serves.
	time.Sleep(2500 * time.Millisecond)
	if got := count(); got["200 h2c"] != 2 || got["200 other"] != 2 {
		t.Fatalf("both up: %v", got)
	}
	healthy.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := count()
		if got["200 other"] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the h2c upstream's failing check did not take it out: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
