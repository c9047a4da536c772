package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/fleet"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// fleetOf starts n gateways sharing one Redis server, each with its own app_path and
// middleware_path holding the same file definitions, as a configuration management tool would
// lay them out.
func fleetOf(t *testing.T, redis string, n int, apis ...*apidef.APIDefinition) []*gt.Gateway {
	t.Helper()
	var nodes []*gt.Gateway
	for range n {
		nodes = append(nodes, gt.Start(t, gt.Options{Redis: redis, APIs: apis}))
	}
	return nodes
}

// eventually polls check until it returns "" or within fails the test with check's last word.
func within(t *testing.T, limit time.Duration, what string, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		msg := check()
		if msg == "" {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: still %s after %v", what, msg, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// status sends a keyed GET to path through g and returns the status.
func status(g *gt.Gateway, path, key string) int {
	c := gt.Case{Path: path}
	if key != "" {
		c.Headers = map[string]string{"Authorization": key}
	}
	return g.Do(c).Code
}

func wantStatus(g *gt.Gateway, path, key string, want int) func() string {
	return func() string {
		if got := status(g, path, key); got != want {
			return fmt.Sprintf("status %d, want %d", got, want)
		}
		return ""
	}
}

func TestFleetSharesKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 3, gt.Keyed(gt.API("k", "/k/", up.URL)))
	a, b, c := nodes[0], nodes[1], nodes[2]

	key := a.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	for i, g := range nodes {
		if got := status(g, "/k/x", key); got != http.StatusOK {
			t.Errorf("node %d: a key created on node 0 got %d, want 200", i, got)
		}
	}

	// A change on one node applies on the others within 100 ms: here the key is made inactive.
	body := `{"is_inactive": true, "access_rights": {"k": {"api_id": "k"}}}`
	gt.Check(t, gt.Case{Code: 200}, c.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key, Body: body}))
	for i, g := range []*gt.Gateway{a, b} {
		if d := within(t, time.Second, fmt.Sprintf("node %d after the key was made inactive on node 2", i), wantStatus(g, "/k/x", key, http.StatusForbidden)); d > 100*time.Millisecond {
			t.Errorf("node %d saw the change after %v, want within 100ms", i, d)
		}
	}

	// Deleted on one node, refused by the others within 100 ms.
	key2 := b.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	for _, g := range nodes {
		if got := status(g, "/k/x", key2); got != http.StatusOK {
			t.Fatalf("a new key got %d, want 200", got)
		}
	}
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + key2}))
	for i, g := range []*gt.Gateway{a, c} {
		if d := within(t, time.Second, fmt.Sprintf("node %d after the key was deleted on node 1", i), wantStatus(g, "/k/x", key2, http.StatusForbidden)); d > 100*time.Millisecond {
			t.Errorf("node %d refused the deleted key after %v, want within 100ms", i, d)
		}
	}
	// No raw key is written to Redis, in a name or a value.
	for _, k := range srv.Keys(t, "*") {
		var value string
		switch typ := strings.TrimSpace(redistest.CLI(t, srv.Addr, "type", k)); typ {
		case "string":
			value = redistest.CLI(t, srv.Addr, "get", k)
		case "hash":
			value = redistest.CLI(t, srv.Addr, "hgetall", k)
		}
		for _, raw := range []string{key, key2} {
			if strings.Contains(k, raw) || strings.Contains(value, raw) {
				t.Errorf("Redis holds a raw key in %q (value %q)", k, value)
			}
		}
	}
}

func TestFleetQuotaIsExact(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 3, gt.Keyed(gt.API("q", "/q/", up.URL)))
	key := nodes[0].CreateKey(&apidef.SessionState{QuotaMax: 40, QuotaRenewalRate: 3600, AccessRights: access("q")})

	// 100 requests race on three nodes: exactly 40 pass, on whichever nodes.
	codes := race(t, nodes, 100, "/q/x", key)
	if codes[200] != 40 || codes[403] != 60 {
		t.Errorf("statuses %v, want 40×200 and 60×403", codes)
	}
	if n := len(up.Requests()); n != 40 {
		t.Errorf("the upstream received %d requests, want 40", n)
	}
	// Every node reports the same quota left.
	for i, g := range nodes {
		r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
		var s apidef.SessionState
		if err := json.Unmarshal([]byte(r.Body), &s); err != nil || s.QuotaRemaining != 0 {
			t.Errorf("node %d: the key reports quota_remaining %d (%v), want 0", i, s.QuotaRemaining, err)
		}
	}
}

// race sends n requests at once, spread over the nodes, and counts the statuses.
func race(t *testing.T, nodes []*gt.Gateway, n int, path, key string) map[int]int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		start = make(chan struct{})
	)
	for i := range n {
		g := nodes[i%len(nodes)]
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
			req.Header.Set("Authorization", key)
			resp, err := g.Client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return codes
}

// TestFleetRateLimitIsGlobal checks that a key's rate limit holds for the fleet: a burst over
// three nodes gets exactly the limit, and hammering for several windows gets the limit per
// window within 5 %.
func TestFleetRateLimitIsGlobal(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 3, gt.Keyed(gt.API("r", "/r/", up.URL)))

	burst := nodes[0].CreateKey(&apidef.SessionState{Rate: 30, Per: 60, AccessRights: access("r")})
	codes := race(t, nodes, 90, "/r/x", burst)
	if codes[200] != 30 || codes[429] != 60 {
		t.Errorf("a burst of 90 over three nodes with a limit of 30 per minute: %v, want 30×200 and 60×429", codes)
	}

	// Hammering for three windows of a second: the limit per window, for the whole fleet.
	const rate, windows = 20, 3
	key := nodes[0].CreateKey(&apidef.SessionState{Rate: rate, Per: 1, AccessRights: access("r")})
	var allowed atomic.Int64
	stop := time.Now().Add(windows * time.Second)
	var wg sync.WaitGroup
	for _, g := range nodes {
		for range 2 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					if status(g, "/r/x", key) == http.StatusOK {
						allowed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	// The hammering's edges fall inside windows it shares with the time before and after it, so
	// on a loaded machine (a slow first or last request) the count moves by up to one window's
	// rate either way; a limit kept per node would allow three times the rate per window.
	if got := allowed.Load(); got < rate*(windows-1) || got > rate*(windows+1) {
		t.Errorf("hammering three nodes for %d windows with a limit of %d per second: %d allowed, want %d to %d (%d per node would be %d)",
			windows, rate, got, rate*(windows-1), rate*(windows+1), rate, 3*rate*windows)
	}
}

// TestFleetSharesDefinitions adds, changes and deletes a definition through one node's Gateway
// API: stored in Redis, it serves on every node after a group reload, and a node started later
// with an empty app_path serves it at once.
func TestFleetSharesDefinitions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	local := gt.API("local", "/local/", up.URL)
	nodes := fleetOf(t, srv.Addr, 3, local)
	a, b := nodes[0], nodes[1]

	shared := gt.API("shared", "/shared/", up.URL)
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`},
		a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, shared))}))
	// Like Tyk, nothing serves before a reload; and every node lists it.
	for i, g := range nodes {
		if got := status(g, "/shared/x", ""); got != http.StatusNotFound {
			t.Errorf("node %d serves the new definition before any reload: %d", i, got)
		}
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `"api_id": "shared"`}, g.Do(gt.Case{Admin: true, Path: "/tyk/apis/shared"}))
	}
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d after a group reload from node 1", i), wantStatus(g, "/shared/x", "", http.StatusOK))
	}

	// A node's own file with a shared definition's api_id wins over it there (keyed, where the
	// shared one is keyless), and is reported; the shared one serves on the others.
	own := gt.Keyed(gt.API("shared", "/shared/", up.URL))
	b.WriteFile("own-shared.json", mustJSON(t, own))
	b.Reload()
	gt.Check(t, gt.Case{Code: 401}, b.Do(gt.Case{Path: "/shared/x"}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `stored in Redis is not served on this gateway: own-shared.json in its app_path has the same api_id, and files win`}, b.Do(gt.Case{Admin: true, Path: "/hello"}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Path: "/shared/x"}))
	if err := os.Remove(filepath.Join(b.AppPath, "own-shared.json")); err != nil {
		t.Fatal(err)
	}
	b.Reload()
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Path: "/shared/x"}))

	// A definition from a node's own app_path cannot be changed through the fleet's API.
	local.Name = "changed"
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "app_path, which the other gateways do not see"},
		a.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/local", Body: string(mustJSON(t, local))}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "already used by API"},
		a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.API("clash", "/shared/", up.URL)))}))

	// A node restarted serves its own definitions and the fleet's from the start, and so does a
	// new node with nothing in app_path.
	c := nodes[2]
	c.Stop()
	nodes[2] = gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(cfg *config.Config) {
		cfg.AppPath, cfg.MiddlewarePath = c.Config.AppPath, c.Config.MiddlewarePath
	}})
	gt.Check(t, gt.Case{Code: 200}, nodes[2].Do(gt.Case{Path: "/shared/x"}))
	gt.Check(t, gt.Case{Code: 200}, nodes[2].Do(gt.Case{Path: "/local/x"}))
	d := gt.Start(t, gt.Options{Redis: srv.Addr})
	gt.Check(t, gt.Case{Code: 200}, d.Do(gt.Case{Path: "/shared/x"}))
	gt.Check(t, gt.Case{Code: 404}, d.Do(gt.Case{Path: "/local/x"}))

	// Changed, then deleted, through another node.
	shared.Proxy.ListenPath = "/moved/"
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "modified"`},
		b.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/shared", Body: string(mustJSON(t, shared))}))
	gt.Check(t, gt.Case{Code: 200}, d.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range append(nodes, d) {
		within(t, 5*time.Second, fmt.Sprintf("node %d after the definition moved", i), wantStatus(g, "/moved/x", "", http.StatusOK))
		within(t, 5*time.Second, fmt.Sprintf("node %d after the definition moved", i), wantStatus(g, "/shared/x", "", http.StatusNotFound))
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/shared"}))
	gt.Check(t, gt.Case{Code: 404}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/shared"}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range append(nodes, d) {
		within(t, 5*time.Second, fmt.Sprintf("node %d after the definition was deleted", i), wantStatus(g, "/moved/x", "", http.StatusNotFound))
	}
	// The nodes' own definitions still serve.
	for _, g := range nodes {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/local/x"}))
	}
}

// TestFleetSharesPolicies stores a policy through one node: after a group reload, keys on every
// node get its limits.
func TestFleetSharesPolicies(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 2, gt.Keyed(gt.API("p", "/p/", up.URL)))
	a, b := nodes[0], nodes[1]

	pol := `{"id": "gold", "rate": 1000, "per": 1, "quota_max": 2, "quota_renewal_rate": 3600, "access_rights": {"p": {"api_id": "p"}}}`
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: pol}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "exists"}, b.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: pol}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `access_rights\[\\"q\\"\]\.api_id is \\"p\\": it must name the API of its key`},
		b.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: `{"id": "odd", "access_rights": {"q": {"api_id": "p"}}}`}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"id": "gold"`}, b.Do(gt.Case{Admin: true, Path: "/tyk/policies/gold"}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	var key string
	within(t, 5*time.Second, "node 1 loading the policy", func() string {
		r := b.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: `{"apply_policies": ["gold"]}`})
		if r.Code != 200 {
			return fmt.Sprintf("creating a key with the policy: %d %s", r.Code, r.Body)
		}
		var out struct{ Key string }
		_ = json.Unmarshal([]byte(r.Body), &out)
		key = out.Key
		codes := []int{status(a, "/p/x", out.Key), status(b, "/p/x", out.Key), status(a, "/p/x", out.Key)}
		if codes[0] != 200 || codes[1] != 200 || codes[2] != 403 {
			return fmt.Sprintf("statuses %v with the policy's quota of 2, want 200 200 403", codes)
		}
		return ""
	})
	// A reload keeps the stored policies whose bytes did not change as they were decoded; a
	// changed one is decoded again.
	gold := b.GW.SharedPolicy("gold")
	b.Reload()
	if gold == nil || b.GW.SharedPolicy("gold") != gold {
		t.Error("a reload decoded the unchanged stored policy again")
	}
	goldA := a.GW.SharedPolicy("gold")
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/policies/gold", Body: strings.Replace(pol, `"quota_max": 2`, `"quota_max": 3`, 1)}))
	b.Reload()
	if b.GW.SharedPolicy("gold") == gold {
		t.Error("a reload kept the stored policy decoded before it changed")
	}
	// The changed quota applies to the key that used up the old one, on both nodes, from their
	// next request: each node's kept session (the key's policies worked out) is worked out
	// again after the reload that loaded the change.
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	within(t, 5*time.Second, "node 0 loading the changed policy", func() string {
		if a.GW.SharedPolicy("gold") == goldA {
			return "node 0 still has the policy as it was"
		}
		return ""
	})
	if codes := []int{status(b, "/p/x", key), status(a, "/p/x", key), status(b, "/p/x", key)}; codes[0] != 200 || codes[1] != 403 || codes[2] != 403 {
		t.Errorf("statuses %v for the key that had used its quota of 2, once the quota is 3; want 200 403 403", codes)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/policies/gold"}))
	gt.Check(t, gt.Case{Code: 404}, b.Do(gt.Case{Admin: true, Path: "/tyk/policies/gold"}))
}

// TestFleetRefusesForgedReload publishes what any client of Redis could on the notification
// channel: nothing reloads.
func TestFleetRefusesForgedReload(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr})
	g.WriteAPI(gt.API("late", "/late/", up.URL))
	forged := `{"command":"GroupReload","payload":"","node":"x","time":` + fmt.Sprint(time.Now().UnixMilli()) + `,"algorithm":"hmac-sha256","signature":"00"}`
	tyk := `{"command":"GroupReload","payload":"","signature":"","algorithm":5}`
	for _, msg := range []string{forged, tyk} {
		redistest.CLI(t, srv.Addr, "publish", "tyk.cluster.notifications", msg)
	}
	// Both were received and refused (however long a loaded machine takes to get there)...
	within(t, 30*time.Second, "the forged notifications refused", func() string {
		if r := g.Do(gt.Case{Admin: true, Path: "/hello"}); r.Code != 200 || !strings.Contains(r.Body, "2 refused") {
			return fmt.Sprintf("/hello says %d %s", r.Code, r.Body)
		}
		return ""
	})
	// ... and no reload follows, even a while later (a reload starts within milliseconds).
	time.Sleep(200 * time.Millisecond)
	if got := status(g, "/late/x", ""); got != http.StatusNotFound {
		t.Errorf("after forged group reloads the new file serves (%d): the gateway reloaded", got)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `2 refused`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
}

// TestFleetRestoresWhatRedisLost: when Redis loses what the fleet stored (a FLUSHALL, a
// restart without persistence), the gateways write back the definitions and policies they
// served, so that the fleet goes on serving them and agrees, instead of each gateway dropping
// them at its next reload. Definitions deleted through the Gateway API stay deleted.
func TestFleetRestoresWhatRedisLost(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 2)
	a, b := nodes[0], nodes[1]
	shared := gt.Keyed(gt.API("shared", "/shared/", up.URL))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, shared))}))
	oasDoc := `{"openapi": "3.0.3", "info": {"title": "oas", "version": "1"}, "paths": {},
		"x-tyk-api-gateway": {"info": {"id": "oas", "name": "oas", "state": {"active": true}},
		"upstream": {"url": "` + up.URL + `"}, "server": {"listenPath": {"value": "/oas/", "strip": true}}}}`
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: oasDoc}))
	pol := `{"id": "gold", "rate": 1000, "per": 1, "access_rights": {"shared": {"api_id": "shared"}}}`
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: pol}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d serving the OAS API", i), wantStatus(g, "/oas/x", "", http.StatusOK))
	}
	// What Redis holds of the fleet's: the ids, and the OAS document's bytes.
	stored := func() string {
		ids := func(set string) string {
			return strings.Join(slices.Sorted(slices.Values(strings.Fields(redistest.CLI(t, srv.Addr, "hkeys", set)))), ",")
		}
		return strings.Join([]string{ids("gatehouse-apis"), strings.TrimSpace(redistest.CLI(t, srv.Addr, "hget", "gatehouse-apis", "oas")), ids("gatehouse-policies")}, " | ")
	}
	before := stored()
	restored := func() string {
		if now := stored(); now != before {
			return fmt.Sprintf("Redis holds %q, want %q", now, before)
		}
		return ""
	}
	// Serving, keyed, with a key made from the policy: checked after each loss.
	serving := func(what string) {
		t.Helper()
		r := b.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: `{"apply_policies": ["gold"]}`})
		if r.Code != 200 {
			t.Fatalf("%s: creating a key with the stored policy: %d %s", what, r.Code, r.Body)
		}
		var out struct{ Key string }
		_ = json.Unmarshal([]byte(r.Body), &out)
		for i, g := range nodes {
			within(t, 5*time.Second, fmt.Sprintf("%s: node %d", what, i), wantStatus(g, "/shared/x", out.Key, http.StatusOK))
			within(t, 5*time.Second, fmt.Sprintf("%s: node %d", what, i), wantStatus(g, "/oas/x", "", http.StatusOK))
			gt.Check(t, gt.Case{Code: 200, BodyMatch: `"api_id": "shared"`}, g.Do(gt.Case{Admin: true, Path: "/tyk/apis/shared"}))
		}
	}

	// A FLUSHALL: Redis still answers, and no gateway reloads by itself; within an
	// announcement period a gateway notices the mark is gone.
	redistest.CLI(t, srv.Addr, "flushall")
	within(t, 15*time.Second, "the definitions and policies written back after a FLUSHALL", restored)
	serving("after a FLUSHALL")
	if !strings.Contains(a.Logs()+b.Logs(), "Redis lost what the fleet stored") {
		t.Error("neither gateway logged that Redis lost what the fleet stored")
	}

	// A restart without persistence: the gateways reload when Redis answers again.
	srv.Kill()
	srv.Restart()
	within(t, 10*time.Second, "the definitions and policies written back after a restart without persistence", restored)
	serving("after a restart without persistence")

	// Deleted through the Gateway API: not written back.
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/shared"}))
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/oas"}))
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/policies/gold"}))
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	for i, g := range nodes {
		within(t, 5*time.Second, fmt.Sprintf("node %d after the deletes", i), wantStatus(g, "/oas/x", "", http.StatusNotFound))
	}
	a.Reload()
	if now := stored(); now != " |  | " {
		t.Errorf("Redis holds %q after the definitions and the policy were deleted: something wrote them back", now)
	}
}

// TestFleetRestoresWhenAnotherWroteTheMark: Redis loses the fleet's data and, before the
// gateways that served it look, a gateway started since stores a definition and writes a new
// mark. The mark is there, but not the one the others read: they write back what they served
// (the new definition stays) and the new gateway, told to reload, serves it too.
func TestFleetRestoresWhenAnotherWroteTheMark(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	storeAPI(t, a, "old", up.URL)
	pol := `{"id": "gold", "rate": 1000, "per": 1, "access_rights": {"old": {"api_id": "old"}, "new": {"api_id": "new"}}}`
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: pol}))
	a.Reload()
	if mark := redistest.CLI(t, srv.Addr, "hget", "gatehouse-fleet", "mark"); !strings.Contains(mark, `"id"`) {
		t.Fatalf("the fleet's mark has no id: %q", mark)
	}
	// a's announcement rounds (every 10 s) look at the mark too: the first is over once a is
	// listed, so that the loss below is a's to find when told to reload, as a gateway that did
	// not yet look finds it.
	within(t, 5*time.Second, "a announced", func() string {
		if strings.TrimSpace(redistest.CLI(t, srv.Addr, "hlen", fleet.NodesSet)) == "0" {
			return "not yet"
		}
		return ""
	})
	time.Sleep(100 * time.Millisecond)
	// The loss and another gateway's mark in one step: no announcement round of a's can fall
	// between them.
	redistest.CLI(t, srv.Addr, "eval", "redis.call('flushall'); redis.call('hset', KEYS[1], 'mark', ARGV[1]); return 1",
		"1", "gatehouse-fleet", `{"id": "written-by-a-newer-gateway"}`)
	c := gt.Start(t, gt.Options{Redis: srv.Addr})
	storeAPI(t, c, "new", up.URL)
	// c serves its own definition, then a reloads (as at a group reload, each in turn).
	c.Reload()
	if got := status(c, "/old/x", ""); got != http.StatusNotFound {
		t.Fatalf("the newer gateway answers %d for the lost definition before it was written back", got)
	}
	a.Reload()

	within(t, 15*time.Second, "the old definition and policy written back", func() string {
		apis := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis")
		pols := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-policies")
		if !strings.Contains(apis, "old") || !strings.Contains(apis, "new") || !strings.Contains(pols, "gold") {
			return fmt.Sprintf("Redis holds definitions %q and policies %q", apis, pols)
		}
		return ""
	})
	// The newer gateway is told to reload once the policy is back.
	var out struct{ Key string }
	within(t, 10*time.Second, "the newer gateway creating a key with the written-back policy", func() string {
		r := c.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: `{"apply_policies": ["gold"]}`})
		if err := json.Unmarshal([]byte(r.Body), &out); err != nil || r.Code != 200 {
			return fmt.Sprintf("%d %s", r.Code, r.Body)
		}
		return ""
	})
	for name, g := range map[string]*gt.Gateway{"the gateway that served it": a, "the newer gateway": c} {
		for _, path := range []string{"/old/x", "/new/x"} {
			within(t, 10*time.Second, name+" serving "+path, wantStatus(g, path, out.Key, http.StatusOK))
		}
	}
}

// TestFleetDeletesAfterARestoreStayDeleted: a gateway that learns of a loss late (here one that
// takes no notifications), after another wrote back what it served and a definition was deleted
// through the Gateway API, does not write that definition back: the deletion is noted.
func TestFleetDeletesAfterARestoreStayDeleted(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	b := gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(c *config.Config) { c.SuppressRedisSignalReload = true }})
	storeAPI(t, a, "gone", up.URL)
	a.Reload()
	b.Reload()
	redistest.CLI(t, srv.Addr, "flushall")
	a.Reload() // a writes back what it served
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); !strings.Contains(got, "gone") {
		t.Fatalf("a did not write back the lost definition: Redis holds %q", got)
	}
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/gone"}))
	a.Reload()
	b.Reload() // b knew the old mark: it writes back what it served, but the deletion is noted
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); strings.Contains(got, "gone") {
		t.Errorf("deleted through the Gateway API after the restore, but Redis holds %q: b wrote it back", got)
	}
	if got := status(b, "/gone/x", ""); got != http.StatusNotFound {
		t.Errorf("b answers %d for the deleted API", got)
	}
}

// TestFleetRetriesAFailedWriteBack: when writing back what Redis lost fails (here Redis refuses
// writes, out of memory), the gateway keeps the mark it knew, so that the next reload tries
// again, rather than taking the new mark and dropping what was lost.
func TestFleetRetriesAFailedWriteBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	storeAPI(t, a, "kept", up.URL)
	a.Reload()
	redistest.CLI(t, srv.Addr, "eval", "redis.call('flushall'); redis.call('hset', KEYS[1], 'mark', ARGV[1]); return 1",
		"1", "gatehouse-fleet", `{"id": "written-by-a-newer-gateway"}`)
	redistest.CLI(t, srv.Addr, "config", "set", "maxmemory-policy", "noeviction")
	redistest.CLI(t, srv.Addr, "config", "set", "maxmemory", "1")
	a.Reload() // the write-back fails
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); strings.Contains(got, "kept") {
		t.Fatalf("Redis out of memory took the write-back: %q", got)
	}
	redistest.CLI(t, srv.Addr, "config", "set", "maxmemory", "0")
	a.Reload()
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); !strings.Contains(got, "kept") {
		t.Errorf("after a failed write-back and a reload with Redis writable again, Redis holds %q: not tried again", got)
	}
	within(t, 5*time.Second, "a serving the written-back API", wantStatus(a, "/kept/x", "", http.StatusUnauthorized))
}

// TestFleetEveryGatewayWritesBack: a gateway that learns of a loss after another wrote back
// still writes back what only it served (here a definition the first had not reloaded), and a
// definition deleted then stored again is written back after a later loss.
func TestFleetEveryGatewayWritesBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	b := gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(c *config.Config) { c.SuppressRedisSignalReload = true }})
	post := func(id string) { t.Helper(); storeAPI(t, a, id, up.URL) }
	post("old")
	a.Reload()
	b.Reload()
	post("new")
	a.Reload() // b has not reloaded: only a serves "new"
	redistest.CLI(t, srv.Addr, "flushall")
	b.Reload() // b writes back "old" first
	a.Reload() // a finds the mark b wrote, and writes back "new"
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); !strings.Contains(got, "old") || !strings.Contains(got, "new") {
		t.Fatalf("after both wrote back, Redis holds %q, want old and new", got)
	}
	within(t, 5*time.Second, "a serving new", wantStatus(a, "/new/x", "", http.StatusUnauthorized))

	// Deleted, then stored again: no longer noted as deleted.
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/new"}))
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-deleted"); !strings.Contains(got, "api:new") {
		t.Fatalf("the deletion is not noted: %q", got)
	}
	post("new")
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-deleted"); strings.Contains(got, "api:new") {
		t.Fatalf("stored again, but still noted as deleted: %q", got)
	}
	a.Reload()
	b.Reload()
	redistest.CLI(t, srv.Addr, "flushall")
	a.Reload()
	if got := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis"); !strings.Contains(got, "new") {
		t.Errorf("a definition stored again after a deletion is not written back: Redis holds %q", got)
	}
}

// TestFleetDeleteDuringLoss: a definition or policy deleted after Redis lost its data, before
// any gateway wrote it back (Redis answers 404), is noted all the same: the gateways that
// served it do not write it back.
func TestFleetDeleteDuringLoss(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	storeAPI(t, a, "doomed", up.URL)
	storeAPI(t, a, "kept", up.URL)
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/policies", Body: `{"id": "doomed-pol", "rate": 1, "per": 1, "access_rights": {"kept": {"api_id": "kept"}}}`}))
	a.Reload()
	redistest.CLI(t, srv.Addr, "flushall")
	gt.Check(t, gt.Case{Code: 404}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/doomed"}))
	gt.Check(t, gt.Case{Code: 404}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/policies/doomed-pol"}))
	gt.Check(t, gt.Case{Code: 404}, a.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/apis/never-existed"}))
	a.Reload() // a writes back what it served
	apis := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-apis")
	if !strings.Contains(apis, "kept") || strings.Contains(apis, "doomed") {
		t.Errorf("Redis holds the definitions %q, want kept and not doomed", apis)
	}
	if pols := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-policies"); strings.Contains(pols, "doomed-pol") {
		t.Errorf("the policy deleted during the loss was written back: %q", pols)
	}
	if notes := redistest.CLI(t, srv.Addr, "hkeys", "gatehouse-deleted"); strings.Contains(notes, "never-existed") {
		t.Errorf("a deletion of what no gateway served is noted: %q", notes)
	}
}

// storeAPI stores a keyed definition of id (listen path /id/) through g's Gateway API.
func storeAPI(t *testing.T, g *gt.Gateway, id, upstream string) {
	t.Helper()
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.Keyed(gt.API(id, "/"+id+"/", upstream))))}))
}

// TestFleetMarkReadAlone: a client of Redis that writes a field of 80 MiB into the hash of the
// fleet's mark does not make the gateways read it: a reload reads the mark's field alone, the
// gateway keeps serving, and its mark is still the one it knew (no write-back).
func TestFleetMarkReadAlone(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	storeAPI(t, a, "shared", up.URL)
	a.Reload()
	mark := redistest.CLI(t, srv.Addr, "hget", "gatehouse-fleet", "mark")
	if !strings.Contains(mark, `"id"`) {
		t.Fatalf("the fleet's mark has no id: %q", mark)
	}
	const size = 80 << 20
	redistest.CLI(t, srv.Addr, "eval", "redis.call('hset', KEYS[1], 'junk', string.rep('x', tonumber(ARGV[1]))) return 1",
		"1", "gatehouse-fleet", fmt.Sprint(size))
	sent := func() int64 {
		t.Helper()
		for line := range strings.Lines(redistest.CLI(t, srv.Addr, "info", "stats")) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_net_output_bytes:"); ok {
				var n int64
				if _, err := fmt.Sscan(v, &n); err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no total_net_output_bytes in INFO stats")
		return 0
	}
	before := sent()
	a.Reload()
	a.Reload()
	if d := sent() - before; d > size/8 {
		t.Errorf("Redis sent %d bytes for two reloads: the junk field of %d was read", d, size)
	}
	if got := status(a, "/shared/x", ""); got != http.StatusUnauthorized {
		t.Errorf("the keyed API answers %d without a key after the reloads, want 401", got)
	}
	if now := redistest.CLI(t, srv.Addr, "hget", "gatehouse-fleet", "mark"); now != mark {
		t.Errorf("the mark changed from %q to %q: the gateway took the junk for a loss", mark, now)
	}
}

// TestFleetListenPathRace: APIs with one listen path stored at once through two gateways on one
// Redis (Classic and Tyk OAS alike): exactly one is taken, the others refused with why, as one
// gateway alone refuses them (the check and the write are one step across the fleet).
func TestFleetListenPathRace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	b := gt.Start(t, gt.Options{Redis: srv.Addr})
	for _, path := range []string{"/tyk/apis", "/tyk/apis/oas"} {
		lp := "/same" + strings.ReplaceAll(path, "/", "-") + "/"
		var wg sync.WaitGroup
		codes := make(chan int, 24)
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := a
				if i%2 == 1 {
					g = b
				}
				id := fmt.Sprintf("lp%d%s", i, strings.ReplaceAll(path, "/", "-"))
				body := string(mustJSON(t, gt.API(id, lp, up.URL)))
				if strings.HasSuffix(path, "/oas") {
					body = catDoc(up, id, lp)
				}
				r := g.Do(gt.Case{Admin: true, Method: "POST", Path: path, Body: body})
				if r.Code != 200 && !strings.Contains(r.Body, lp) {
					t.Errorf("a refusal that does not name the listen path: %d %s", r.Code, r.Body)
				}
				codes <- r.Code
			}()
		}
		wg.Wait()
		close(codes)
		taken := 0
		for c := range codes {
			if c == 200 {
				taken++
			}
		}
		if taken != 1 {
			t.Errorf("%s: %d APIs with listen path %s taken at once, want 1", path, taken, lp)
		}
	}
}

// TestFleetCreateTaken: on Redis, creating an API whose id is taken says where to change it, in
// the format it is stored in (Classic, or Tyk OAS).
func TestFleetCreateTaken(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr})
	classic := string(mustJSON(t, gt.API("taken", "/taken/", up.URL)))
	doc := catDoc(up, "taken-doc", "/taken-doc/")
	post := func(path, body string) gt.Response {
		return g.Do(gt.Case{Admin: true, Method: "POST", Path: path, Body: body})
	}
	gt.Check(t, gt.Case{Code: 200}, post("/tyk/apis", classic))
	gt.Check(t, gt.Case{Code: 200}, post("/tyk/apis/oas", doc))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `use PUT /tyk/apis/taken to change it`}, post("/tyk/apis", classic))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `use PUT /tyk/apis/oas/taken-doc to change it`}, post("/tyk/apis/oas", doc))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `a Tyk Classic one`}, post("/tyk/apis/oas", catDoc(up, "taken", "/taken-2/")))
}
