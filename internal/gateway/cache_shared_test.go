package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// fromCache sends GET path through g and reports whether the cache answered, with the body.
func fromCache(g *gt.Gateway, path string) (bool, string) {
	r := g.Do(gt.Case{Path: path})
	return r.Header.Get("X-Tyk-Cached-Response") == "1", r.Body
}

// waitHit polls path through g until the cache answers it, and returns the body.
func waitHit(t *testing.T, g *gt.Gateway, path string) string {
	t.Helper()
	var body string
	within(t, 5*time.Second, "a hit on "+path, func() string {
		var hit bool
		if hit, body = fromCache(g, path); !hit {
			return "a miss (" + body + ")"
		}
		return ""
	})
	return body
}

// sharedCache keeps cached responses in the Redis at addr (enable_separate_cache_store).
func sharedCache(addr string) func(*config.Config) {
	return func(c *config.Config) {
		host, port, _ := net.SplitHostPort(addr)
		c.EnableSeparateCacheStore = true
		c.CacheStorage = config.StorageConfig{Type: "redis", Host: host}
		c.CacheStorage.Port, _ = strconv.Atoi(port)
	}
}

// sharedFleet starts n gateways on the Redis at addr, keeping their cached responses there.
func sharedFleet(t *testing.T, addr string, n int, apis ...*apidef.APIDefinition) []*gt.Gateway {
	var nodes []*gt.Gateway
	for range n {
		nodes = append(nodes, gt.Start(t, gt.Options{Redis: addr, APIs: apis, Config: sharedCache(addr)}))
	}
	return nodes
}

// TestResponseCacheShared: with cache_storage a Redis, the response cache is the fleet's, as in Tyk: a response
// one gateway kept answers the same request on another, DELETE /tyk/cache/{api_id} on any drops
// the API's responses for all (and no other API's), and a gateway serving another definition of
// the API reads none of them.
func TestResponseCacheShared(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up, calls := countingUpstream(t)
	o := apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}
	nodes := sharedFleet(t, srv.Addr, 2, cachedAPI("c1", "/c1/", up.URL, o), cachedAPI("c2", "/c2/", up.URL, o))
	for _, p := range []string{"/c1/x", "/c2/x"} {
		if hit, _ := fromCache(nodes[0], p); hit {
			t.Fatalf("%s: a hit on an empty cache", p)
		}
		before := calls.Load()
		if body := waitHit(t, nodes[1], p); body != "n="+strconv.FormatInt(before, 10) {
			t.Errorf("%s on node 1: %q, want node 0's response n=%d", p, body, before)
		}
		if calls.Load() != before {
			t.Errorf("%s: the upstream was called again for node 1", p)
		}
	}
	if got := srv.Keys(t, "gatehouse-cache:*"); len(got) != 2 {
		t.Errorf("Redis holds %d cached responses (%q), want 2", len(got), got)
	}
	// A HEAD is kept too (its GET's Content-Length, no body), and served on another gateway.
	nodes[0].Do(gt.Case{Method: "HEAD", Path: "/c2/head"})
	within(t, 5*time.Second, "a HEAD served from the shared cache", func() string {
		if r := nodes[1].Do(gt.Case{Method: "HEAD", Path: "/c2/head"}); r.Header.Get("X-Tyk-Cached-Response") != "1" {
			return "a miss"
		}
		return ""
	})
	if strings.Contains(nodes[1].Logs(), "is not a cached response") {
		t.Errorf("an entry the gateway wrote was refused:\n%s", nodes[1].Logs())
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: "cache invalidated"}, nodes[1].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/c1"}))
	within(t, 5*time.Second, "node 0 dropping c1's responses", func() string {
		if hit, _ := fromCache(nodes[0], "/c1/x"); hit {
			return "a hit"
		}
		return ""
	})
	if hit, _ := fromCache(nodes[0], "/c2/x"); !hit {
		t.Error("flushing c1 dropped c2's responses")
	}
	waitHit(t, nodes[1], "/c1/x") // kept again after the flush, for the fleet

	// Another definition of c1 (a rolling change): its own responses, not the others'.
	changed := cachedAPI("c1", "/c1/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true, CacheTimeout: 30})
	other := sharedFleet(t, srv.Addr, 1, changed)[0]
	if hit, _ := fromCache(other, "/c1/x"); hit {
		t.Error("a gateway serving another definition of c1 read the others' response")
	}
	waitHit(t, other, "/c1/x")
}

// TestResponseCacheFlushWins: a response whose request began before DELETE /tyk/cache/{api_id}
// is not kept after it, in a gateway's memory or in a shared cache.
func TestResponseCacheFlushWins(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "shared"}[shared], func(t *testing.T) {
			up, release, started := slowOnce(t)
			api := cachedAPI("slow", "/slow/", up, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true})
			o := gt.Options{APIs: []*apidef.APIDefinition{api}}
			if shared {
				o.Redis, o.Config = srv.Addr, sharedCache(srv.Addr)
			}
			g := gt.Start(t, o)
			done := make(chan gt.Response, 1)
			go func() { done <- g.Do(gt.Case{Path: "/slow/x"}) }()
			<-started
			g.Run(t, gt.Case{Name: "flush", Admin: true, Method: "DELETE", Path: "/tyk/cache/slow", Code: 200})
			close(release)
			if r := <-done; r.Body != "n=1" {
				t.Fatalf("the slow request got %q", r.Body)
			}
			time.Sleep(100 * time.Millisecond) // a write to the shared cache, if one were made, lands
			if hit, body := fromCache(g, "/slow/x"); hit || body != "n=2" {
				t.Errorf("after the flush: %q (cached %v); the response begun before it was kept", body, hit)
			}
		})
	}
}

// slowOnce is an upstream whose first request waits for release (started says it arrived);
// each answers how many it had.
func slowOnce(t *testing.T) (url string, release, started chan struct{}) {
	release, started = make(chan struct{}), make(chan struct{}, 1)
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count := n.Add(1)
		if count == 1 {
			started <- struct{}{}
			<-release
		}
		fmt.Fprintf(w, "n=%d", count)
	}))
	t.Cleanup(up.Close)
	return up.URL, release, started
}

// TestResponseCacheSharedRedisDown: the cache's Redis not answering costs hits, never
// requests: they go to the upstream, nothing fails, and the cache works again once it is back.
func TestResponseCacheSharedRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up, calls := countingUpstream(t)
	g := sharedFleet(t, srv.Addr, 1, cachedAPI("c", "/c/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}))[0]
	fromCache(g, "/c/x")
	waitHit(t, g, "/c/x")
	srv.Kill()
	before := calls.Load()
	for i := range 5 {
		r := g.Do(gt.Case{Path: "/c/x"})
		if r.Code != 200 || r.Header.Get("X-Tyk-Cached-Response") != "" {
			t.Fatalf("request %d with Redis down: %d cached=%q %s", i, r.Code, r.Header.Get("X-Tyk-Cached-Response"), r.Body)
		}
	}
	if got := calls.Load() - before; got != 5 {
		t.Errorf("the upstream had %d of the 5 requests made while Redis was down", got)
	}
	if !strings.Contains(g.Logs(), "response cache: the shared store did not answer") {
		t.Errorf("the outage is not in the log")
	}
	srv.Restart()
	within(t, 10*time.Second, "the cache answering again", func() string {
		if hit, _ := fromCache(g, "/c/x"); !hit {
			return "a miss"
		}
		return ""
	})
}

// TestResponseCacheSeparateStore: with enable_separate_cache_store, cache_storage "redis" keeps
// the fleet's responses in that Redis (none in the store's); by default, and with "memory", each
// gateway keeps its own, a flush on one reaching the others through the store's notifications,
// and reaching a shared cache too.
func TestResponseCacheSeparateStore(t *testing.T) {
	t.Parallel()
	keys := redistest.Start(t, redistest.Options{})
	cacheRedis := redistest.Start(t, redistest.Options{})
	up, _ := countingUpstream(t)
	o := apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}
	t.Run("redis", func(t *testing.T) {
		a := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{cachedAPI("r", "/r/", up.URL, o)}, Config: sharedCache(cacheRedis.Addr)})
		b := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{cachedAPI("r", "/r/", up.URL, o)}, Config: sharedCache(cacheRedis.Addr)})
		fromCache(a, "/r/x")
		waitHit(t, b, "/r/x")
		if got := cacheRedis.Keys(t, "gatehouse-cache:*"); len(got) != 1 {
			t.Errorf("the cache's Redis holds %q, want one response", got)
		}
		if got := keys.Keys(t, "gatehouse-cache*"); len(got) != 0 {
			t.Errorf("the store's Redis holds cache keys %q", got)
		}
		if h := a.Do(gt.Case{Admin: true, Path: "/hello"}); !strings.Contains(h.Body, "the response cache's Redis (cache_storage) answers") {
			t.Errorf("/hello does not report the cache's Redis: %s", h.Body)
		}
	})
	for _, kind := range []string{"default", "memory"} {
		t.Run(kind, func(t *testing.T) {
			api := cachedAPI("m-"+kind, "/m-"+kind+"/", up.URL, o)
			path := "/m-" + kind + "/x"
			var nodes []*gt.Gateway
			for range 2 {
				nodes = append(nodes, gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) {
					if kind == "memory" {
						c.EnableSeparateCacheStore, c.CacheStorage.Type = true, "memory"
					}
				}}))
			}
			shared := gt.Start(t, gt.Options{Redis: keys.Addr, APIs: []*apidef.APIDefinition{api}, Config: sharedCache(cacheRedis.Addr)})
			for i, g := range nodes {
				if hit, _ := fromCache(g, path); hit {
					t.Fatalf("node %d: a hit on its own empty cache", i)
				}
				if hit, _ := fromCache(g, path); !hit {
					t.Fatalf("node %d: no hit after its miss", i)
				}
			}
			fromCache(shared, path)
			waitHit(t, shared, path)
			if got := keys.Keys(t, "gatehouse-cache*"); len(got) != 0 {
				t.Errorf("the store's Redis holds cache keys %q", got)
			}
			gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/cache/" + api.APIID}))
			for name, g := range map[string]*gt.Gateway{"node 1": nodes[1], "the shared cache": shared} {
				within(t, 5*time.Second, name+" dropping the flushed responses", func() string {
					if hit, _ := fromCache(g, path); hit {
						return "a hit"
					}
					return ""
				})
			}
		})
	}
}

// TestMetricsRedisClients: the round trips of each Redis client (the store's, the shared
// cache's, the analytics one's) are counted apart, by the configuration block naming it, and a
// client's failures count against it alone.
func TestMetricsRedisClients(t *testing.T) {
	t.Parallel()
	store, cacheSrv, recs := redistest.Start(t, redistest.Options{}), redistest.Start(t, redistest.Options{}), redistest.Start(t, redistest.Options{})
	up, _ := countingUpstream(t)
	g := gt.Start(t, gt.Options{Redis: store.Addr, APIs: []*apidef.APIDefinition{cachedAPI("c", "/c/", up.URL,
		apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true})}, Config: func(c *config.Config) {
		sharedCache(cacheSrv.Addr)(c)
		host, port, _ := net.SplitHostPort(recs.Addr)
		c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
		c.AnalyticsStorage = config.StorageConfig{Type: "redis", Host: host}
		c.AnalyticsStorage.Port, _ = strconv.Atoi(port)
		c.Prometheus.Enabled = true
	}})
	waitHit(t, g, "/c/x")
	byClient := func(name string) map[string]float64 {
		out := map[string]float64{}
		for series, v := range scrapeMetrics(t, g).values(name) {
			for _, l := range strings.Split(series, ",") {
				if client, ok := strings.CutPrefix(l, "redis="); ok {
					out[client] += v
				}
			}
		}
		return out
	}
	within(t, 10*time.Second, "round trips of the three clients", func() string {
		if got := byClient("gatehouse_redis_round_trips_total"); got["storage"] == 0 || got["cache_storage"] == 0 || got["analytics_storage"] == 0 {
			return fmt.Sprint(got)
		}
		if got := byClient("gatehouse_redis_round_trip_duration_seconds"); got["cache_storage"] == 0 || got["analytics_storage"] == 0 {
			return fmt.Sprint("durations ", got)
		}
		return ""
	})
	if got := byClient("gatehouse_redis_errors_total"); got["cache_storage"] != 0 {
		t.Fatalf("errors before the cache's Redis went away: %v", got)
	}
	// The status report names the three, each by its block.
	redisStatus := func() string {
		var b strings.Builder
		for _, r := range g.GW.Status(t.Context()).Redis {
			fmt.Fprintf(&b, "%s up=%v rtt=%v effect=%q\n", r.Block, r.Up, r.RoundTripSeconds > 0, r.Effect)
		}
		return b.String()
	}
	if got, want := redisStatus(), "storage up=true rtt=true effect=\"\"\nanalytics_storage up=true rtt=true effect=\"\"\ncache_storage up=true rtt=true effect=\"\"\n"; got != want {
		t.Errorf("status report's Redis servers:\n%s\nwant\n%s", got, want)
	}
	cacheSrv.Kill()
	within(t, 10*time.Second, "the status report seeing the cache's Redis gone", func() string {
		want := "storage up=true rtt=true effect=\"\"\nanalytics_storage up=true rtt=true effect=\"\"\n" +
			"cache_storage up=false rtt=false effect=\"requests to cached APIs go to their upstreams and nothing is cached\"\n"
		if got := redisStatus(); got != want {
			return got
		}
		return ""
	})
	within(t, 10*time.Second, "the cache's Redis failing, counted against it alone", func() string {
		g.Do(gt.Case{Path: "/c/y"})
		if got := byClient("gatehouse_redis_errors_total"); got["cache_storage"] == 0 || got["storage"] != 0 {
			return fmt.Sprint(got)
		}
		return ""
	})
}
