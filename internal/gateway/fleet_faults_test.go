package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// storageTimeout is storage.timeout in these tests, in seconds: the bound on how long a keyed
// request may wait for a Redis that does not answer.
const storageTimeout = 1

// slack is what a loaded machine adds to the bound.
const slack = 400 * time.Millisecond

// recovery is how soon after Redis is back keyed traffic must work again, without a restart.
const recovery = 5 * time.Second

func withTimeout(c *config.Config) { c.Storage.Timeout = storageTimeout }

// timedStatus sends a GET through g and returns its answer and how long it took.
func timedStatus(g *gt.Gateway, path, key string) (gt.Response, time.Duration) {
	c := gt.Case{Path: path}
	if key != "" {
		c.Headers = map[string]string{"Authorization": key}
	}
	start := time.Now()
	r := g.Do(c)
	return r, time.Since(start)
}

// wantFailsClosed checks that a keyed request is refused with 503 and Tyk's error body within
// the storage timeout.
func wantFailsClosed(t *testing.T, g *gt.Gateway, path, key, when string) {
	t.Helper()
	r, d := timedStatus(g, path, key)
	gt.Check(t, gt.Case{Code: http.StatusServiceUnavailable, BodyMatch: `^\{\s*"error": "[^"]+"\s*\}\s*$`}, r)
	if limit := storageTimeout*time.Second + slack; d > limit {
		t.Errorf("%s: a keyed request took %v to fail, want within storage.timeout (%v)", when, d, limit)
	}
}

// health returns g's /hello, checking that it answers 200 whatever the store's state.
func health(t *testing.T, g *gt.Gateway) admin.Health {
	t.Helper()
	r := g.Do(gt.Case{Admin: true, Path: "/hello"})
	var h admin.Health
	if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &h) != nil {
		t.Fatalf("/hello: %d %s", r.Code, r.Body)
	}
	return h
}

func wantDatastore(t *testing.T, g *gt.Gateway, want string) {
	t.Helper()
	h := health(t, g)
	d, ok := h.Details["redis"]
	if !ok || d.Status != want || d.ComponentType != "datastore" {
		t.Errorf("/hello details.redis = %+v, want status %q", d, want)
	}
	if want == admin.StatusFail && h.Status != admin.StatusWarn {
		t.Errorf("/hello status %q with Redis down, want warn (keyless APIs still serve)", h.Status)
	}
}

// waitRedisFails waits until g's /hello reports the datastore failing: its probe, once a
// second, has noticed.
func waitRedisFails(t *testing.T, g *gt.Gateway) {
	t.Helper()
	within(t, 3*time.Second, "/hello reporting Redis down", func() string {
		if d := health(t, g).Details["redis"]; d.Status != admin.StatusFail {
			return "details.redis " + d.Status
		}
		return ""
	})
}

// TestRedisUnreachableAtStart starts a gateway while Redis is down: it starts, serves what
// does not need Redis, refuses keyed requests promptly, and catches up with the fleet (keys and
// shared definitions) within seconds of Redis starting, without a restart.
func TestRedisUnreachableAtStart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	up := gt.NewUpstream(t)
	apis := []*apidef.APIDefinition{gt.API("open", "/open/", up.URL), gt.Keyed(gt.API("k", "/k/", up.URL))}
	first := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: apis, Config: withTimeout})
	key := first.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	gt.Check(t, gt.Case{Code: 200}, first.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.API("shared", "/shared/", up.URL)))}))
	first.Stop()
	srv.Kill()

	start := time.Now()
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: apis, Config: withTimeout})
	if d := time.Since(start); d > storageTimeout*time.Second+2*slack {
		t.Errorf("starting with Redis down took %v, want about storage.timeout", d)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/x"}))
	wantFailsClosed(t, g, "/k/x", key, "Redis down at start")
	wantDatastore(t, g, admin.StatusFail)
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Path: "/shared/x"}))

	srv.Restart()
	d := within(t, recovery, "keyed traffic once Redis started", wantStatus(g, "/k/x", key, 200))
	t.Logf("keyed traffic recovered %v after Redis started", d)
	within(t, recovery, "the fleet's definition once Redis started", wantStatus(g, "/shared/x", "", 200))
	wantDatastore(t, g, admin.StatusPass)
}

// TestRedisKilledMidRun kills Redis under a running gateway: keyed requests fail closed
// promptly, keyless ones serve, and when Redis is back (with its append-only file) keyed traffic
// recovers and the quota goes on where it was: nothing counted twice, nothing lost.
func TestRedisKilledMidRun(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout,
		APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL), gt.Keyed(gt.API("k", "/k/", up.URL))}})
	key := g.CreateKey(&apidef.SessionState{QuotaMax: 10, QuotaRenewalRate: 3600, AccessRights: access("k")})
	for range 3 {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": key}}))
	}

	srv.Kill()
	for range 5 {
		wantFailsClosed(t, g, "/k/x", key, "Redis killed")
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/x"}))
	waitRedisFails(t, g)

	srv.Restart()
	within(t, recovery, "keyed traffic once Redis restarted", wantStatus(g, "/k/x", key, 200))
	// 3 before the crash, 1 just now: 6 are left, then the quota refuses.
	allowed := 0
	for range 10 {
		r := g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": key}})
		if r.Code == 200 {
			allowed++
		}
	}
	if allowed != 6 {
		t.Errorf("after the restart %d more requests were allowed, want 6 of the quota of 10", allowed)
	}
}

// TestRedisHung stops Redis with SIGSTOP: connections stay open and nothing answers. Keyed
// requests must fail closed within the storage timeout (at once once the gateway has noticed),
// never hang; keyless ones serve; SIGCONT brings keyed traffic back.
func TestRedisHung(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout,
		APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL), gt.Keyed(gt.API("k", "/k/", up.URL))}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1000, Per: 1, AccessRights: access("k")})
	// A key with no limits makes no Redis call once its session is in the client-side cache:
	// only the cache's own check can refuse it.
	free := g.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	time.Sleep(1100 * time.Millisecond) // past the window in which a gateway rereads what it wrote
	for _, k := range []string{key, free, free} {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": k}}))
	}

	srv.Pause()
	within(t, storageTimeout*time.Second+slack, "a key without limits, cached, with Redis hung",
		wantStatus(g, "/k/x", free, http.StatusServiceUnavailable))
	for range 3 {
		wantFailsClosed(t, g, "/k/x", key, "Redis hung")
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/x"}))
	waitRedisFails(t, g)
	if _, d := timedStatus(g, "/k/x", key); d > slack {
		t.Errorf("once the gateway knows Redis is hung, a keyed request took %v to fail, want at once", d)
	}

	srv.Resume()
	d := within(t, recovery, "keyed traffic after SIGCONT", wantStatus(g, "/k/x", key, 200))
	t.Logf("keyed traffic recovered %v after SIGCONT", d)
}

// TestGlobalRateLimitWithRedisDown: an API's global_rate_limit protects its upstream, so with
// Redis down, or refusing writes (out of memory under noeviction), it is counted on each node
// alone rather than taking the API down.
func TestGlobalRateLimitWithRedisDown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		down func(t *testing.T, srv *redistest.Server)
	}{
		{"killed", func(t *testing.T, srv *redistest.Server) { srv.Kill() }},
		{"out of memory", func(t *testing.T, srv *redistest.Server) {
			redistest.CLI(t, srv.Addr, "config", "set", "maxmemory", "1")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", "noeviction"}})
			up := gt.NewUpstream(t)
			def := gt.API("limited", "/limited/", up.URL)
			def.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 3, Per: 60}
			g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout, APIs: []*apidef.APIDefinition{def}})
			c.down(t, srv)
			var codes []int
			for range 5 {
				codes = append(codes, g.Do(gt.Case{Path: "/limited/x"}).Code)
			}
			if fmt.Sprint(codes) != "[200 200 200 429 429]" {
				t.Errorf("statuses with Redis %s %v, want the limit of 3 counted on the node", c.name, codes)
			}
		})
	}
}

// TestResyncAfterMissedNotifications cuts one node's subscription (as a network blip would):
// when it subscribes again it reloads, and so picks up what changed while it was not listening,
// with no group reload sent.
func TestResyncAfterMissedNotifications(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	b := gt.Start(t, gt.Options{Redis: srv.Addr})
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.API("missed", "/missed/", up.URL)))}))
	gt.Check(t, gt.Case{Code: 404}, b.Do(gt.Case{Path: "/missed/x"}))
	// Cut every subscriber's connection; rueidis makes it again and subscribes again.
	killed := redistest.CLI(t, srv.Addr, "client", "kill", "type", "pubsub")
	if n, _ := strconv.Atoi(trimInt(killed)); n < 2 {
		t.Fatalf("CLIENT KILL TYPE pubsub killed %q connections, want both nodes'", killed)
	}
	within(t, recovery, "node b after its subscription was cut and made again", wantStatus(b, "/missed/x", "", 200))
}

func trimInt(s string) string {
	for len(s) > 0 && (s[len(s)-1] < '0' || s[len(s)-1] > '9') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < '0' || s[i] > '9' {
			return s[i+1:]
		}
	}
	return s
}

// TestFallbackToCachedSessions turns on storage.fallback_to_cached_sessions: while Redis is
// down, keys this gateway has seen, and could trust up to the outage, keep working, with limits
// counted on it alone. Refused: keys it never saw; a key deleted elsewhere before the outage,
// even with the fleet's notifications off (Redis's own invalidation tells it); a key it read
// only right after writing it (not tracked by Redis); a key whose session_lifetime ended.
func TestFallbackToCachedSessions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	apis := []*apidef.APIDefinition{gt.Keyed(gt.API("k", "/k/", up.URL))}
	a := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: apis, Config: func(c *config.Config) {
		withTimeout(c)
		c.Storage.FallbackToCachedSessions = true
		c.SuppressRedisSignalReload = true // no fleet notifications: Redis alone says what changed
	}})
	b := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: apis, Config: withTimeout})
	auth := func(k string) map[string]string { return map[string]string{"Authorization": k} }

	seen := b.CreateKey(&apidef.SessionState{Rate: 3, Per: 60, AccessRights: access("k")})
	unseen := b.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	deleted := b.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	expiring := b.CreateKey(&apidef.SessionState{SessionLifetime: 2, AccessRights: access("k")})
	ownWrite := a.CreateKey(&apidef.SessionState{AccessRights: access("k")})
	for _, k := range []string{seen, deleted, expiring, ownWrite} {
		gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Path: "/k/x", Headers: auth(k)}))
	}
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + deleted}))
	within(t, time.Second, "the deleted key on a", wantStatus(a, "/k/x", deleted, http.StatusForbidden))
	// The expiring key's lifetime ends; a used it while it lived.
	time.Sleep(2100 * time.Millisecond)

	srv.Kill()
	waitRedisFails(t, a)
	// The seen key served from memory, its rate limit (3 per minute, one used in Redis) now
	// counted on this gateway alone, from zero.
	var codes []int
	for range 4 {
		codes = append(codes, status(a, "/k/x", seen))
	}
	if fmt.Sprint(codes) != "[200 200 200 429]" {
		t.Errorf("a seen key with Redis down: %v, want [200 200 200 429] (served from memory, limited on the gateway)", codes)
	}
	for what, k := range map[string]string{
		"a key this gateway never saw":                            unseen,
		"a key deleted through another gateway before the outage": deleted,
		"a key whose session_lifetime ended":                      expiring,
		"a key read only right after this gateway wrote it":       ownWrite,
	} {
		wantFailsClosed(t, a, "/k/x", k, what)
	}
	if out := health(t, a).Details["redis"].Output; !strings.Contains(out, "fallback_to_cached_sessions") {
		t.Errorf("/hello does not say keys are served from memory: %s", out)
	}
}

// TestGatewayAPIWritesWhenRedisRefuses (S27): a key or definition the store refused to write
// is never reported as created; the Gateway API answers 503 with the reason and what to do.
// Keyed requests get 503, logged once by the store rather than once per request, and /hello
// warns, though Redis answers its PING.
func TestGatewayAPIWritesWhenRedisRefuses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	limited := gt.Keyed(gt.API("limited", "/limited/", up.URL))
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout, APIs: []*apidef.APIDefinition{limited}})
	key := `{"access_rights": {"a": {"api_id": "a"}}}`
	def := string(mustJSON(t, gt.API("a", "/a/", up.URL)))
	counted := g.CreateKey(&apidef.SessionState{OrgID: "default", Rate: 2, Per: 1, QuotaMax: -1,
		AccessRights: map[string]apidef.AccessDefinition{"limited": {APIID: "limited", Versions: []string{"Default"}}}})
	wantDatastore(t, g, admin.StatusPass)

	// A replica refuses writes (READONLY), as a Redis that failed over under the gateway would.
	redistest.CLI(t, srv.Addr, "replicaof", "127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	gt.Check(t, gt.Case{Code: 503, BodyMatch: "READONLY.*read-only replica", BodyNotMatch: `"action"`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/my-key", Body: key}))
	gt.Check(t, gt.Case{Code: 503, BodyMatch: "READONLY", BodyNotMatch: `"action"`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: def}))
	for range 30 {
		gt.Check(t, gt.Case{Code: 503}, g.Do(gt.Case{Path: "/limited/x", Headers: map[string]string{"Authorization": counted}}))
	}
	if n := strings.Count(g.Logs(), `level=ERROR msg="storage: Redis answers but refuses`); n != 1 {
		t.Errorf("the refusals were logged %d times, want once:\n%s", n, g.Logs())
	}
	wantDatastore(t, g, admin.StatusWarn)
	redistest.CLI(t, srv.Addr, "replicaof", "no", "one")
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/limited/x", Headers: map[string]string{"Authorization": counted}}))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Admin: true, Path: "/tyk/keys/my-key"}))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Admin: true, Path: "/tyk/apis/a"}))

	// Redis gone: 503, so that a client knows to try again; reads of keys too.
	srv.Kill()
	gt.Check(t, gt.Case{Code: 503, BodyMatch: "unavailable", BodyNotMatch: `"action"`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: key}))
	for _, c := range []gt.Case{
		{Admin: true, Path: "/tyk/keys/my-key"},
		{Admin: true, Method: "PUT", Path: "/tyk/keys/my-key", Body: key},
		{Admin: true, Method: "DELETE", Path: "/tyk/keys/my-key"},
		{Admin: true, Path: "/tyk/keys"},
	} {
		gt.Check(t, gt.Case{Code: 503, BodyMatch: "unavailable"}, g.Do(c))
	}
	gt.Check(t, gt.Case{Code: 503, BodyNotMatch: `"action"`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: def}))
}

// TestRedisPausedNoPileUp pauses Redis with CLIENT PAUSE while many keyed requests arrive at
// once: each fails closed within storage.timeout, none hangs, and once Redis answers again the
// goroutines they used are gone. It does not run in parallel, so that the count is its own.
func TestRedisPausedNoPileUp(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout,
		APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("k", "/k/", up.URL))}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1000, Per: 1, AccessRights: access("k")})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": key}}))
	g.Client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	redistest.CLI(t, srv.Addr, "client", "pause", "2500", "all")
	var wg sync.WaitGroup
	var slow, served atomic.Int32
	for range 50 {
		wg.Go(func() {
			r, d := timedStatus(g, "/k/x", key)
			if d > storageTimeout*time.Second+slack {
				slow.Add(1)
			}
			if r.Code == 200 {
				served.Add(1)
			}
		})
	}
	wg.Wait()
	if slow.Load() > 0 {
		t.Errorf("%d of 50 keyed requests took longer than storage.timeout while Redis was paused", slow.Load())
	}
	if served.Load() > 0 {
		t.Errorf("%d keyed requests were served while Redis was paused (want 503)", served.Load())
	}
	within(t, recovery+3*time.Second, "keyed traffic after CLIENT PAUSE ended", wantStatus(g, "/k/x", key, 200))
	g.Client.CloseIdleConnections()
	within(t, 5*time.Second, "goroutines after the pause", func() string {
		if n := runtime.NumGoroutine(); n > before+10 {
			return fmt.Sprintf("%d goroutines, %d before the pause", n, before)
		}
		return ""
	})
}

// TestRedisSlowAndReset: a Redis slower than usual but within storage.timeout only slows keyed
// requests down (they are served); connections reset under the gateway (CLIENT KILL, as a
// firewall or proxy between them would) cost at most the requests in flight, and keyed traffic
// works again at once.
func TestRedisSlowAndReset(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{Args: []string{"--enable-debug-command", "yes"}})
	up := gt.NewUpstream(t)
	// A storage timeout well above the stall, so that a loaded test machine cannot turn waiting
	// into a refusal.
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(c *config.Config) { c.Storage.Timeout = 3 },
		APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("k", "/k/", up.URL))}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1000, Per: 1, AccessRights: access("k")})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": key}}))

	// Redis busy for 400 ms (DEBUG SLEEP blocks it): the request waits and is served.
	done := srv.Sleep(t, 400*time.Millisecond)
	r, d := timedStatus(g, "/k/x", key)
	<-done
	if r.Code != 200 || d < 100*time.Millisecond {
		t.Errorf("a keyed request while Redis was slow for 400 ms: %d after %v, want 200 after waiting", r.Code, d)
	}

	// Every connection of the gateway reset.
	redistest.CLI(t, srv.Addr, "client", "kill", "type", "normal")
	redistest.CLI(t, srv.Addr, "client", "kill", "type", "pubsub")
	// No request was in flight when the connections were reset, so at most the first request
	// after it may pay for finding its connection dead; counted in requests, not in time, so
	// that a loaded machine cannot fail it.
	failed := 0
	within(t, 5*time.Second, "keyed traffic after the connections were reset", func() string {
		if got := status(g, "/k/x", key); got != 200 {
			failed++
			return fmt.Sprintf("status %d, want 200", got)
		}
		return ""
	})
	t.Logf("%d keyed requests failed after the reset", failed)
	if failed > 1 {
		t.Errorf("%d keyed requests failed after a connection reset, want at most 1", failed)
	}
	if h := health(t, g); h.Details["redis"].Status != admin.StatusPass {
		t.Errorf("/hello after a connection reset: %+v", h.Details["redis"])
	}
}

// TestSharedDefinitionsThroughAnOutage: while Redis cannot be read, a reload keeps serving the
// fleet's definitions read before. The gateway keeps them without their decoded form
// (apistore.Entry.Undecoded), so a reload that must compile them again (the policies file
// changed) decodes their bytes: the API is compiled anew, not reused, and serves.
func TestSharedDefinitionsThroughAnOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	up := gt.NewUpstream(t)
	policy := func(rate int) string {
		return fmt.Sprintf(`{"p": {"rate": %d, "per": 1, "access_rights": {"shared": {"api_id": "shared"}}}}`, rate)
	}
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout, Policies: policy(10)})
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.API("shared", "/shared/", up.URL)))}))
	g.Reload()
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/shared/x"}))
	before := g.GW.Compiled("shared")

	srv.Kill()
	waitRedisFails(t, g)
	g.Reload()
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/shared/x"}))
	if g.GW.Compiled("shared") != before {
		t.Error("an unchanged reload with Redis down compiled the shared API again; want it reused")
	}
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(policy(20)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/shared/x"}))
	if g.GW.Compiled("shared") == before {
		t.Error("the policies changed and the shared API was not compiled again: the test does not reach the decoding")
	}
	if msg := g.Logs(); !strings.Contains(msg, "so what was read before stays as it was: ") || !strings.Contains(msg, "definitions (each served or reported as then) and 0 policies") {
		t.Errorf("the log does not say the definitions read before keep serving:\n%s", msg)
	}

	srv.Restart()
	within(t, recovery, "the shared API once Redis restarted", func() string {
		g.Reload()
		return wantStatus(g, "/shared/x", "", http.StatusOK)()
	})
}

// TestNotificationsHealth: /hello's notifications component says which secret signs them
// (secret when node_secret is empty, as the start-up log says), and warns while Redis does not
// answer (frozen with SIGSTOP: the subscription's connection stays open, and nothing is heard on
// it), passing again once Redis answers.
func TestNotificationsHealth(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	own := gt.Start(t, gt.Options{Redis: srv.Addr})
	if d := health(t, own).Details["notifications"]; d.Status != admin.StatusPass || !strings.HasPrefix(d.Output, "signed with node_secret on ") {
		t.Errorf("with node_secret: details.notifications = %+v", d)
	}
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: func(c *config.Config) { withTimeout(c); c.NodeSecret = "" }})
	if d := health(t, g).Details["notifications"]; d.Status != admin.StatusPass || !strings.HasPrefix(d.Output, "signed with secret (node_secret is empty) on ") {
		t.Errorf("without node_secret: details.notifications = %+v, want it to say secret signs them", d)
	}
	srv.Pause()
	waitRedisFails(t, g)
	if d := health(t, g).Details["notifications"]; d.Status != admin.StatusWarn || !strings.Contains(d.Output, "not received") {
		t.Errorf("with Redis frozen: details.notifications = %+v, want a warning", d)
	}
	srv.Resume()
	within(t, recovery, "notifications pass again", func() string {
		if d := health(t, g).Details["notifications"]; d.Status != admin.StatusPass {
			return d.Status + ": " + d.Output
		}
		return ""
	})
}
