package gateway_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// uptimeShare is a gateway's fleet.uptime in its status report.
type uptimeShare struct {
	PollerGroup string `json:"poller_group"`
	Checks      int    `json:"checks"`
	RunHere     int    `json:"run_here"`
	Gateways    int    `json:"gateways"`
	Alone       bool   `json:"alone"`
}

// uptimeShareOf2 is uptimeShareOf without the hosts down.
func uptimeShareOf2(t *testing.T, g *gt.Gateway) uptimeShare {
	t.Helper()
	sh, _ := uptimeShareOf(t, g)
	return sh
}

func uptimeShareOf(t *testing.T, g *gt.Gateway) (uptimeShare, []string) {
	t.Helper()
	var rep struct {
		APIs []struct {
			HostsDown []string `json:"hosts_down"`
		} `json:"apis"`
		Fleet struct {
			Uptime *uptimeShare `json:"uptime"`
		} `json:"fleet"`
	}
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/status"})
	if err := json.Unmarshal([]byte(r.Body), &rep); err != nil || r.Code != 200 {
		t.Fatalf("status report: %d %v", r.Code, err)
	}
	if rep.Fleet.Uptime == nil {
		t.Fatal("the status report has no fleet.uptime")
	}
	var down []string
	for _, a := range rep.APIs {
		down = append(down, a.HostsDown...)
	}
	return *rep.Fleet.Uptime, down
}

// TestUptimeTestsShared: gateways sharing Redis split the uptime checks, each check run by one
// of them; the others pass over a host its runner found down; when the runner stops, another
// takes the checks over from what was found; while Redis is down, a gateway runs every check
// itself; another poller group runs its own.
func TestUptimeTestsShared(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	fast := func(group string) func(*config.Config) {
		return func(c *config.Config) {
			c.UptimeTests.PollerGroup = group
			c.UptimeTests.Config.TimeWait = 1
			c.UptimeTests.Config.FailureTriggerSampleSize = 1
		}
	}
	start := func(group string) *gt.Gateway {
		return gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{balanced("lb", true, a, b)}, Config: fast(group)})
	}
	g1, g2 := start("eu"), start("eu")
	gws := []*gt.Gateway{g1, g2}
	wait := func(what string, cond func() string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			msg := cond()
			if msg == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// runHere is how many checks each gateway runs, once every gateway has both.
	split := func(gs ...*gt.Gateway) func() string {
		return func() string {
			total, out := 0, []string{}
			for _, g := range gs {
				sh, _ := uptimeShareOf(t, g)
				if sh.Checks != 2 || sh.Alone || sh.PollerGroup != "eu" {
					return fmt.Sprintf("%s: %+v", g.URL, sh)
				}
				total += sh.RunHere
				out = append(out, fmt.Sprint(sh.RunHere))
			}
			if total != 2 {
				return "checks run: " + strings.Join(out, " + ") + ", want 2 in all"
			}
			return ""
		}
	}
	wait("both gateways have the checks, each run once", split(g1, g2))

	// One runner per check: over four rounds, a is checked at most once a round (plus the
	// round in flight), not once per gateway.
	before := a.checks.Load()
	began := time.Now()
	time.Sleep(4 * time.Second)
	if n, most := a.checks.Load()-before, int32(time.Since(began)/time.Second)+2; n < 2 || n > most {
		t.Fatalf("a was checked %d times in %v by two gateways sharing the checks, want 2 to %d", n, time.Since(began).Round(time.Millisecond), most)
	}

	// a's check fails: both gateways pass over it, the one that does not run the check from
	// what the runner wrote.
	servesOnly := func(g *gt.Gateway, want string) func() string {
		return func() string {
			for range 4 {
				if r := g.Do(gt.Case{Path: "/lb/x"}); r.Code != 200 || r.Body != want {
					return fmt.Sprintf("%s answered %d %q, want %q", g.URL, r.Code, r.Body, want)
				}
			}
			return ""
		}
	}
	a.health.Store(500)
	for _, g := range gws {
		wait("a is down", servesOnly(g, "b"))
		if _, down := uptimeShareOf(t, g); len(down) != 1 || down[0] != strings.TrimPrefix(a.URL, "http://") {
			t.Errorf("%s: hosts_down %q", g.URL, down)
		}
	}

	// The gateway running a's check stops; the other takes it over, still finding a down, and
	// takes a back once its check passes.
	runner, other := g1, g2
	if sh, _ := uptimeShareOf(t, g1); sh.RunHere == 0 {
		runner, other = g2, g1
	}
	runner.Stop()
	wait("the other gateway runs every check", func() string {
		if sh, _ := uptimeShareOf(t, other); sh.RunHere != 2 {
			return fmt.Sprintf("%+v", sh)
		}
		return ""
	})
	if r := other.Do(gt.Case{Path: "/lb/x"}); r.Body != "b" {
		t.Fatalf("after the takeover, a serves again before its check passed: %d %q", r.Code, r.Body)
	}
	a.health.Store(200)
	wait("a is up again", func() string {
		got := map[string]int{}
		for range 4 {
			got[other.Do(gt.Case{Path: "/lb/x"}).Body]++
		}
		if got["a"] != 2 || got["b"] != 2 {
			return fmt.Sprint(got)
		}
		return ""
	})
	if logs := other.Logs(); !strings.Contains(logs, "upstream host up: uptime checks pass again") {
		t.Error("the gateway that took the check over did not log the host coming back up")
	}

	// Another poller group runs the checks itself.
	us := start("us")
	wait("the other group runs its checks", func() string {
		if sh, _ := uptimeShareOf(t, us); sh.RunHere != 2 || sh.PollerGroup != "us" {
			return fmt.Sprintf("%+v", sh)
		}
		return ""
	})

	// A gateway joining the group takes the checks it is preferred for from the one that held
	// them all: between the two, each check is still run once, and both count two gateways.
	// Redis goes away: it runs every check itself, and finds a host down by its own checks.
	late := start("eu")
	wait("the late gateway shares the checks", func() string {
		o, l := uptimeShareOf2(t, other), uptimeShareOf2(t, late)
		if o.Gateways != 2 || l.Gateways != 2 || l.Checks != 2 || o.RunHere+l.RunHere != 2 {
			return fmt.Sprintf("other %+v, late %+v", o, l)
		}
		return ""
	})
	srv.Kill()
	wait("alone", func() string {
		if sh, _ := uptimeShareOf(t, late); !sh.Alone || sh.RunHere != 2 || sh.Gateways != 0 {
			return fmt.Sprintf("%+v", sh)
		}
		return ""
	})
	b.health.Store(500)
	wait("b is down, found alone", servesOnly(late, "a"))
}

// TestUptimeEventsOncePerAPI: gateways sharing the checks each hear of a host going down and
// up, and each API whose checks name it fires HostDown and HostUp once in the fleet, whichever
// gateways serve it and whichever runs the check: an API on both gateways once, an API on
// either gateway alone once too (a segmented fleet's case). A gateway that joins while the host
// is down is not told of it again.
func TestUptimeEventsOncePerAPI(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	var mu sync.Mutex
	got := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			API, Type string
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got[body.Type+" "+body.API]++
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	sick := newBackend(t, "sick")
	hook := apidef.EventHandler{HandlerName: "eh_web_hook_handler",
		HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/hook", "template_path": "host.tmpl"}`)}
	api := func(id string) *apidef.APIDefinition {
		def := gt.API(id, "/"+id+"/", sick.URL)
		def.UptimeTests.CheckList = []apidef.HostCheck{{URL: sick.URL + "/health"}}
		def.EventHandlers.Events = map[string][]apidef.EventHandler{"HostDown": {hook}, "HostUp": {hook}}
		return def
	}
	start := func(ids ...string) *gt.Gateway {
		g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(c *config.Config) {
			c.UptimeTests.Config.TimeWait, c.UptimeTests.Config.FailureTriggerSampleSize = 1, 1
		}})
		g.WriteFile("host.tmpl", []byte(`{"API": "{{.Meta.APIID}}", "Type": "{{.Type}}"}`))
		for _, id := range ids {
			g.WriteAPI(api(id))
		}
		g.ReloadAndWait()
		return g
	}
	// settled waits until the webhooks are want, then a few rounds more, so that a duplicate
	// from a gateway a round behind shows.
	settled := func(what string, want map[string]int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			mu.Lock()
			done := maps.Equal(got, want)
			mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(3 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		if !maps.Equal(got, want) {
			t.Fatalf("%s: webhooks %v, want %v", what, got, want)
		}
	}
	start("both", "one")
	start("both", "two")
	time.Sleep(1500 * time.Millisecond) // a round or two with the host up
	sick.health.Store(500)
	down := map[string]int{"HostDown both": 1, "HostDown one": 1, "HostDown two": 1}
	settled("the host down", down)
	start("both", "three")
	settled("a gateway joining while the host is down", down)
	sick.health.Store(200)
	settled("the host up again", map[string]int{"HostDown both": 1, "HostDown one": 1, "HostDown two": 1,
		"HostUp both": 1, "HostUp one": 1, "HostUp two": 1, "HostUp three": 1})
}
