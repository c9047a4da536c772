package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// namedUpstream answers its name.
func namedUpstream(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(name + " " + r.URL.Path))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestServiceDiscovery: an API's targets come from its discovery service (Consul's catalog
// form): round robin over them with load balancing, target_path added; target_url serves until
// the service first answers; the targets are read again after cache_timeout, in the background;
// a service that fails or answers nothing keeps the targets last found.
func TestServiceDiscovery(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	a, b, c, fallback, list := namedUpstream(t, "a"), namedUpstream(t, "b"), namedUpstream(t, "c"), namedUpstream(t, "fallback"), namedUpstream(t, "list")
	hostPort := func(s *httptest.Server) (string, string) {
		hp := strings.TrimPrefix(s.URL, "http://")
		i := strings.LastIndex(hp, ":")
		return hp[:i], hp[i+1:]
	}
	entry := func(s *httptest.Server) string {
		h, p := hostPort(s)
		return `{"ServiceAddress": "` + h + `", "ServicePort": ` + p + `}`
	}
	var mu sync.Mutex
	answer, status, asked := "", http.StatusServiceUnavailable, 0
	set := func(s string, code int) {
		mu.Lock()
		answer, status = s, code
		mu.Unlock()
	}
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		w.WriteHeader(status)
		w.Write([]byte(answer))
	}))
	defer consul.Close()

	def := gt.API("sd", "/sd/", fallback.URL)
	def.Proxy.EnableLoadBalancing = true
	def.Proxy.Targets = []string{list.URL} // not a stand-in: target_url is, as in Tyk
	def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: consul.URL + "/v1/catalog/service/x",
		EndpointReturnsList: true, UseTargetList: true, DataPath: "ServiceAddress", PortDataPath: "ServicePort", TargetPath: "/v1", CacheTimeout: 30}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def}})

	body := func() string {
		t.Helper()
		r := g.Do(gt.Case{Path: "/sd/x"})
		if r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		return r.Body
	}
	// The service is down at first: target_url serves.
	if got := body(); got != "fallback /x" {
		t.Fatalf("before any answer: %q, want target_url's", got)
	}
	// It answers: after the retry delay, its targets serve, round robin.
	set("["+entry(a)+","+entry(b)+"]", http.StatusOK)
	clock.Advance(6 * time.Second)
	waitFor(t, func() bool { b := body(); return strings.HasPrefix(b, "a ") || strings.HasPrefix(b, "b ") })
	seen := map[string]bool{}
	for range 4 {
		seen[body()] = true
	}
	if !seen["a /v1/x"] || !seen["b /v1/x"] || len(seen) != 2 {
		t.Errorf("round robin over the discovered targets with target_path: %v", seen)
	}
	// Within cache_timeout the service is not asked again.
	mu.Lock()
	before := asked
	mu.Unlock()
	set("["+entry(c)+"]", http.StatusOK)
	clock.Advance(20 * time.Second)
	for range 3 {
		body()
	}
	time.Sleep(100 * time.Millisecond) // a read started by these requests, had there been one
	mu.Lock()
	if asked != before {
		t.Errorf("the service was asked %d times within cache_timeout", asked-before)
	}
	mu.Unlock()
	// After it, the next request has the targets read again.
	clock.Advance(31 * time.Second)
	waitFor(t, func() bool { return body() == "c /v1/x" })
	// The same targets read again keep the proxy, for another cache_timeout.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return asked
	}
	n := count()
	clock.Advance(31 * time.Second)
	body()
	waitFor(t, func() bool { return count() == n+1 })
	clock.Advance(20 * time.Second)
	for range 3 {
		body()
	}
	time.Sleep(100 * time.Millisecond)
	if count() != n+1 {
		t.Errorf("the same targets read again: asked %d more times within cache_timeout", count()-n-1)
	}
	// The API compiled again (its definition edited) keeps the targets found, and their time.
	def.Name = "sd, renamed"
	g.WriteAPI(def)
	g.ReloadAndWait()
	if got := body(); got != "c /v1/x" || count() != n+1 {
		t.Fatalf("after the API was compiled again: %q, asked %d more times; want the targets kept", got, count()-n-1)
	}
	// A failing, then an empty, service keeps the last targets.
	set("oops", http.StatusInternalServerError)
	clock.Advance(31 * time.Second)
	body()
	set("[]", http.StatusOK)
	clock.Advance(31 * time.Second)
	for range 5 {
		if got := body(); got != "c /v1/x" {
			t.Fatalf("with the service failing: %q, want the last targets", got)
		}
	}
}

// waitFor polls cond until it holds, at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the condition did not hold within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServiceDiscoveryTykSetup: the setup Tyk's docs show (load balancing, no target_list, no
// target_url) serves: 503 until the service first answers, then its targets; without load
// balancing only the first target serves, as Tyk's nextTarget takes it.
func TestServiceDiscoveryTykSetup(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	a, b := namedUpstream(t, "a"), namedUpstream(t, "b")
	var mu sync.Mutex
	up := false
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`[{"Address": "` + a.URL + `"}, {"Address": "` + b.URL + `"}]`))
	}))
	defer consul.Close()
	sd := apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: consul.URL, EndpointReturnsList: true, UseTargetList: true, DataPath: "Address"}
	lb := gt.API("lb", "/lb/", "")
	lb.Proxy.EnableLoadBalancing, lb.Proxy.ServiceDiscovery = true, sd
	first := gt.API("first", "/first/", "")
	first.Proxy.ServiceDiscovery = sd
	// A service that cannot be reached: its address's credentials never reach the log.
	dead := gt.API("dead", "/dead/", "")
	dead.Proxy.ServiceDiscovery = sd
	dead.Proxy.ServiceDiscovery.QueryEndpoint = "http://user:SECRETPW@127.0.0.1:1/v1/catalog/service/x?token=SECRETTOKEN"
	if err := lb.Validate(); err != nil {
		t.Fatalf("Tyk's documented setup refused: %v", err)
	}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{lb, first, dead}})
	g.Run(t, gt.Case{Name: "a service that cannot be reached, no target_url", Path: "/dead/x", Code: http.StatusServiceUnavailable})
	if logs := g.Logs(); strings.Contains(logs, "SECRET") || !strings.Contains(logs, "127.0.0.1:1/v1/catalog/service/x") {
		t.Errorf("the discovery service's address is logged with its credentials, or not at all:\n%s", logs)
	}
	g.Run(t, gt.Case{Name: "no target yet", Path: "/lb/x", Code: http.StatusServiceUnavailable, BodyMatch: "all hosts are down"})
	mu.Lock()
	up = true
	mu.Unlock()
	clock.Advance(6 * time.Second)
	waitFor(t, func() bool { return g.Do(gt.Case{Path: "/lb/x"}).Code == 200 })
	seen := map[string]bool{}
	for range 4 {
		seen[g.Do(gt.Case{Path: "/lb/x"}).Body] = true
		seen[g.Do(gt.Case{Path: "/first/x"}).Body+" (first)"] = true
	}
	if !seen["a /x"] || !seen["b /x"] {
		t.Errorf("load balancing over the discovered targets: %v", seen)
	}
	if !seen["a /x (first)"] || seen["b /x (first)"] {
		t.Errorf("without load balancing only the first target serves: %v", seen)
	}
}

// TestServiceDiscoveryBreakerTrip: a circuit breaker that trips has the targets read again, as in
// Tyk, though cache_timeout has not passed: the failing host may be gone from the service.
func TestServiceDiscoveryBreakerTrip(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	healthy := namedUpstream(t, "healthy")
	var mu sync.Mutex
	current := failing.URL
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write([]byte(`[{"Address": "` + current + `"}]`))
	}))
	defer consul.Close()
	def := gt.API("trip", "/trip/", "")
	def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: consul.URL, EndpointReturnsList: true, DataPath: "Address", CacheTimeout: 3600}
	v := def.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.CircuitBreaker = []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 1}}
	def.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def}})
	g.Run(t,
		gt.Case{Name: "the host fails", Path: "/trip/x", Code: 500},
		gt.Case{Name: "again: the breaker trips", Path: "/trip/x", Code: 500},
	)
	mu.Lock()
	current = healthy.URL // the service no longer lists the failing host
	mu.Unlock()
	// Each time the breaker lets a request through again, it reaches the targets read anew.
	waitFor(t, func() bool {
		clock.Advance(2 * time.Second)
		return g.Do(gt.Case{Path: "/trip/x"}).Body == "healthy /x"
	})
}

// TestServiceDiscoveryDefaultCacheTimeout: an API without cache_timeout keeps its targets for
// tyk.conf's service_discovery.default_cache_timeout.
func TestServiceDiscoveryDefaultCacheTimeout(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	a := namedUpstream(t, "a")
	var asked atomic.Int32
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write([]byte(`[{"Address": "` + a.URL + `"}]`))
	}))
	defer consul.Close()
	def := gt.API("sd", "/sd/", "")
	def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: consul.URL, EndpointReturnsList: true, DataPath: "Address"}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def},
		Config: func(c *config.Config) { c.ServiceDiscovery.DefaultCacheTimeout = 10 }})
	g.Run(t, gt.Case{Path: "/sd/x", Code: 200, BodyMatch: "^a /x$"})
	if n := asked.Load(); n != 1 {
		t.Fatalf("asked %d times for the first request", n)
	}
	clock.Advance(5 * time.Second)
	g.Run(t, gt.Case{Path: "/sd/x", Code: 200})
	time.Sleep(50 * time.Millisecond)
	if n := asked.Load(); n != 1 {
		t.Fatalf("asked again within default_cache_timeout: %d", n)
	}
	clock.Advance(6 * time.Second)
	g.Run(t, gt.Case{Path: "/sd/x", Code: 200})
	waitFor(t, func() bool { return asked.Load() == 2 })

	// An API's own cache_timeout wins over the default.
	own := gt.API("own", "/own/", "")
	own.Proxy.ServiceDiscovery = def.Proxy.ServiceDiscovery
	own.Proxy.ServiceDiscovery.CacheTimeout = 60
	g.WriteAPI(own)
	g.ReloadAndWait()
	g.Run(t, gt.Case{Path: "/own/x", Code: 200, BodyMatch: "^a /x$"})
	n := asked.Load()
	clock.Advance(30 * time.Second) // past the default of 10, within the API's 60
	g.Run(t, gt.Case{Path: "/own/x", Code: 200})
	time.Sleep(200 * time.Millisecond) // a read would be in the background: give it time to show
	if got := asked.Load(); got != n {
		t.Errorf("the API with cache_timeout 60 read its targets again after 30 s (%d reads, then %d)", n, got)
	}
}

// TestServiceDiscoveryTransportChurn: targets that come and go (pods rescheduled), each with a
// transport of its own (ssl_force_common_name_check), do not pile transports up between
// reloads: those of targets no longer served are dropped.
func TestServiceDiscoveryTransportChurn(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	var n atomic.Int32
	consul := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		// A closed port on loopback: the request fails at once, its transport stays made.
		fmt.Fprintf(w, `[{"ServiceAddress": "https://127.0.%d.%d", "ServicePort": 1}]`, i/250, i%250+1)
	}))
	defer consul.Close()
	def := gt.API("sd", "/sd/", "https://127.0.0.1:1")
	def.Proxy.Transport.SSLForceCommonNameCheck = true
	def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: consul.URL,
		EndpointReturnsList: true, UseTargetList: true, DataPath: "ServiceAddress", PortDataPath: "ServicePort", CacheTimeout: 30}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def}})
	most, prev := 0, ""
	for range 60 {
		waitFor(t, func() bool {
			g.Do(gt.Case{Path: "/sd/x"}) // has the targets read again (in the background after the first)
			got := g.GW.DiscoveredTargets("sd")
			return len(got) == 1 && got[0] != prev
		})
		prev = g.GW.DiscoveredTargets("sd")[0]
		most = max(most, g.GW.UpstreamTransportCount())
		clock.Advance(31 * time.Second)
	}
	// target_url's and the current target's transports, and at most one target's more.
	if most > 3 {
		t.Errorf("after 60 changes of target, the gateway kept up to %d transports, want 3 at most", most)
	}
}
