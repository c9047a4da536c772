package gateway_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

func TestRateLimitSlidingWindow(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}})
	key := g.CreateKey(&apidef.SessionState{Rate: 3, Per: 10, AccessRights: access("a")})
	hit := func() int {
		return g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}}).Code
	}
	expect := func(step string, want ...int) {
		t.Helper()
		for i, w := range want {
			if got := hit(); got != w {
				t.Fatalf("%s: request %d: status %d, want %d", step, i+1, got, w)
			}
		}
	}
	expect("one early hit", 200)
	clock.Advance(9 * time.Second)
	expect("two at the end of the first window", 200, 200, 429)
	// A fixed window would start afresh here and allow three more: a double burst.
	clock.Advance(2 * time.Second)
	expect("just past the window edge only the first hit has left", 200, 429, 429)
	// The hits of 9s leave with their slot (storage.SlotLength(10s) = 200ms long) at 19.2s.
	clock.Advance(8 * time.Second)
	expect("at 19s the two hits of 9s still count", 429)
	clock.Advance(200 * time.Millisecond)
	expect("after the burst left", 200, 200, 429)

	r := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}})
	gt.Check(t, gt.Case{Code: 429, BodyMatch: `"error": "Rate limit exceeded"`}, r)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestQuota(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	noQuota := gt.Keyed(gt.API("noquota", "/noquota/", up.URL))
	noQuota.DisableQuota = true
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL)), noQuota}})
	key := g.CreateKey(&apidef.SessionState{QuotaMax: 2, QuotaRenewalRate: 60, AccessRights: access("a", "noquota")})
	auth := map[string]string{"Authorization": key}
	renews := strconv.FormatInt(clock.Now().Add(time.Minute).Unix(), 10)
	g.Run(t,
		gt.Case{Name: "first", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: map[string]string{
			"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": renews}},
		gt.Case{Name: "second", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: map[string]string{"X-RateLimit-Remaining": "0"}},
		gt.Case{Name: "exhausted", Path: "/a/x", Headers: auth, Code: 403, BodyMatch: `"error": "Quota exceeded"`},
		gt.Case{Name: "refusals do not count", Path: "/a/x", Headers: auth, Code: 403},
		gt.Case{Name: "disable_quota API", Path: "/noquota/x", Headers: auth, Code: 200},
		gt.Case{Name: "key API reports what is left", Admin: true, Path: "/tyk/keys/" + key, Code: 200,
			BodyMatch: `"quota_remaining": 0`},
	)
	clock.Advance(61 * time.Second)
	g.Run(t, gt.Case{Name: "renewed", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: map[string]string{"X-RateLimit-Remaining": "1"}})

	// Updating a key resets its quota, unless suppress_reset=1.
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x", Headers: auth}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/a/x", Headers: auth}))
	body := `{"quota_max": 2, "quota_renewal_rate": 60, "access_rights": {"a": {"api_id": "a"}}}`
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key + "?suppress_reset=1", Body: body}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/a/x", Headers: auth}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key, Body: body}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x", Headers: auth}))
}

// TestQuotaUnderConcurrency sends 200 requests at once against a quota of 50: exactly 50 pass
// (S26), and the upstream sees exactly those.
func TestQuotaUnderConcurrency(t *testing.T) { gt.EachStore(t, testQuotaUnderConcurrency) }

func testQuotaUnderConcurrency(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, store)
	key := g.CreateKey(&apidef.SessionState{QuotaMax: 50, QuotaRenewalRate: 3600, Rate: 1000, Per: 1, AccessRights: access("a")})
	count := race(t, []*gt.Gateway{g}, 200, "/a/x", key)
	if count[200] != 50 || count[403] != 150 {
		t.Errorf("statuses %v, want 50×200 and 150×403", count)
	}
	if n := len(up.Requests()); n != 50 {
		t.Errorf("upstream received %d requests, want 50", n)
	}
}

func TestPerAPILimitsAndGlobalRateLimit(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	global := gt.API("global", "/global/", up.URL)
	global.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 2, Per: 60}
	unlimited := gt.Keyed(gt.API("unlimited", "/unlimited/", up.URL))
	unlimited.DisableRateLimit = true
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{
		gt.Keyed(gt.API("a", "/a/", up.URL)), gt.Keyed(gt.API("b", "/b/", up.URL)), global, unlimited,
	}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1, Per: 60, AccessRights: map[string]apidef.AccessDefinition{
		"a":         {APIID: "a", Limit: &apidef.APILimit{Rate: 2, Per: 60}},
		"b":         {APIID: "b"},
		"unlimited": {APIID: "unlimited"},
	}})
	auth := map[string]string{"Authorization": key}
	g.Run(t,
		gt.Case{Name: "a has its own limit of 2 (1)", Path: "/a/x", Headers: auth, Code: 200},
		gt.Case{Name: "a has its own limit of 2 (2)", Path: "/a/x", Headers: auth, Code: 200},
		gt.Case{Name: "a has its own limit of 2 (3)", Path: "/a/x", Headers: auth, Code: 429},
		gt.Case{Name: "b uses the key's limit of 1, counted apart", Path: "/b/x", Headers: auth, Code: 200},
		gt.Case{Name: "b second", Path: "/b/x", Headers: auth, Code: 429},
		gt.Case{Name: "disable_rate_limit", Path: "/unlimited/x", Headers: auth, Code: 200},
		gt.Case{Name: "disable_rate_limit again", Path: "/unlimited/x", Headers: auth, Code: 200},
		gt.Case{Name: "global 1", Path: "/global/x", Code: 200},
		gt.Case{Name: "global 2", Path: "/global/x", Code: 200},
		gt.Case{Name: "global 3", Path: "/global/x", Code: 429, BodyMatch: "API Rate Limit Exceeded"},
	)
	// A hit leaves a 60s window with its 1.2s slot: at most 61.2s later.
	clock.Advance(62 * time.Second)
	g.Run(t, gt.Case{Name: "global after the window", Path: "/global/x", Code: 200})
}

func TestUnlimitedValues(t *testing.T) { gt.EachStore(t, testUnlimitedValues) }

func testUnlimitedValues(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, store)
	for _, s := range []apidef.SessionState{
		{Rate: -1, Per: -1, QuotaMax: -1, AccessRights: access("a")},
		{Rate: 0, Per: 0, QuotaMax: 0, AccessRights: access("a")},
	} {
		key := g.CreateKey(&s)
		for i := 0; i < 20; i++ {
			r := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}})
			if r.Code != 200 {
				t.Fatalf("rate %v quota %v: request %d: %d", s.Rate, s.QuotaMax, i, r.Code)
			}
		}
	}
}

// TestQuotaResetOfPolicyPerAPIQuota: a key whose quota comes from a policy with
// partitions.per_api is counted per API (quota-{hash}-{api}), though the stored key names no API.
// Updating it without suppress_reset must start that quota afresh, as for any key, and a key
// deleted and created again under its name must not inherit the deleted key's count.
func TestQuotaResetOfPolicyPerAPIQuota(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, o gt.Options) {
		up := gt.NewUpstream(t)
		o.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("p", "/p/", up.URL)), gt.Keyed(gt.API("q", "/q/", up.URL))}
		o.Policies = `{"perapi": {"rate": 1000, "per": 1, "quota_max": 2, "quota_renewal_rate": 3600,
			"partitions": {"quota": true, "rate_limit": true, "acl": true, "per_api": true},
			"access_rights": {"p": {"api_id": "p", "versions": ["Default"]}}}}`
		g := gt.Start(t, o)
		const key, body = "custom-key-0123456789", `{"apply_policies": ["perapi"]}`
		use := func(step string, want ...int) {
			t.Helper()
			for i, w := range want {
				if got := g.Do(gt.Case{Path: "/p/x", Headers: map[string]string{"Authorization": key}}).Code; got != w {
					t.Fatalf("%s: request %d: status %d, want %d", step, i+1, got, w)
				}
			}
		}
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + key, Body: body}))
		use("the policy's quota of 2", 200, 200, 403)
		// The quota counted apart on API p is shown on the access right the policy gives.
		r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
		var shown apidef.SessionState
		if err := json.Unmarshal([]byte(r.Body), &shown); err != nil || r.Code != 200 {
			t.Fatalf("reading the key: %d %s (%v)", r.Code, r.Body, err)
		}
		if l := shown.AccessRights["p"].Limit; l == nil || l.QuotaMax != 2 || l.QuotaRemaining != 0 || l.QuotaRenews == 0 {
			t.Errorf("the key read: access right to p limited %+v, want a quota of 2 with none left", l)
		}
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key + "?suppress_reset=1", Body: body}))
		use("updated with suppress_reset=1: the count stays", 403)
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key, Body: body}))
		use("updated: the quota starts afresh", 200, 200, 403)
		// Updated to a key without the policy: the count the key kept is reset too, so that
		// the policy given back (suppress_reset) does not bring it back.
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key,
			Body: `{"access_rights": {"q": {"api_id": "q", "versions": ["Default"]}}}`}))
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + key + "?suppress_reset=1", Body: body}))
		use("the policy given back after a reset", 200, 200, 403)
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + key}))
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + key, Body: body}))
		use("deleted and created again: a new key's quota", 200, 200, 403)
	})
}

// TestEndpointLimits: Tyk's per-endpoint rate limits in a key's or policy's access rights
// (access_rights[api].endpoints): a request matching an entry's method and path is counted
// against that entry's limit instead of the key's rate, across the fleet on Redis, and still
// against the key's quota; policies giving them are merged, the more permissive winning; broken
// entries are refused where keys and policies are written.
func TestEndpointLimits(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, o gt.Options) {
		up := gt.NewUpstream(t)
		o.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
		items := func(rate int) string {
			return fmt.Sprintf(`{"rate": 1000, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"],
				"endpoints": [{"path": "/items", "methods": [{"name": "GET", "limit": {"rate": %d, "per": 60}}]}]}}}`, rate)
		}
		o.Policies = `{"reads": ` + items(1) + `, "more-reads": ` + items(2) + `,
			"broken": {"access_rights": {"a": {"api_id": "a", "versions": ["Default"],
				"endpoints": [{"path": "/x/(", "methods": [{"name": "GET", "limit": {"rate": 1, "per": 60}}]}]}}}}`
		g := gt.Start(t, o)
		other := g // on Redis, a second gateway sharing the counts
		if o.Redis != "" {
			other = gt.Start(t, o)
		}
		call := func(gw *gt.Gateway, key, method, path string) gt.Response {
			t.Helper()
			return gw.Do(gt.Case{Method: method, Path: path, Headers: map[string]string{"Authorization": key}})
		}
		expect := func(step string, r gt.Response, code int) {
			t.Helper()
			if r.Code != code {
				t.Fatalf("%s: status %d (%s), want %d", step, r.Code, r.Body, code)
			}
		}

		// A key of its own: two GETs and one POST a minute on /orders, 1000 a second elsewhere,
		// and a quota of 6 that every passed request counts toward.
		const own = "endpoint-key-0123456789"
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + own, Body: `{
			"rate": 1000, "per": 1, "quota_max": 6, "quota_renewal_rate": 3600,
			"access_rights": {"a": {"api_id": "a", "versions": ["Default"], "endpoints": [{"path": "/orders",
				"methods": [{"name": "GET", "limit": {"rate": 2, "per": 60}}, {"name": "post", "limit": {"rate": 1, "per": 60}}]}]}}}`}))
		expect("GET /orders (1)", call(g, own, "GET", "/a/orders"), 200)
		expect("GET /v2/orders/1 (2), matched anywhere in the path", call(other, own, "GET", "/a/v2/orders/1"), 200)
		r := call(g, own, "GET", "/a/orders")
		expect("GET /orders (3)", r, 429)
		if r.Header.Get("Retry-After") == "" {
			t.Error("the endpoint limit's 429 has no Retry-After")
		}
		expect("POST /orders (1), counted apart", call(other, own, "POST", "/a/orders"), 200)
		expect("POST /orders (2)", call(g, own, "POST", "/a/orders"), 429)
		expect("GET elsewhere: the key's rate", call(g, own, "GET", "/a/elsewhere"), 200)
		expect("HEAD /orders: no entry for HEAD, counted as a GET", call(other, own, "HEAD", "/a/orders"), 429)
		expect("the quota's fifth request", call(g, own, "GET", "/a/elsewhere"), 200)
		expect("the quota's sixth request", call(g, own, "GET", "/a/elsewhere"), 200)
		expect("the quota counted the endpoints' requests", call(g, own, "GET", "/a/elsewhere"), 403)

		// Tyk's paths are regular expressions: one written anchored limits what it names.
		const anchored = "anchored-key-0123456789"
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + anchored, Body: `{
			"rate": 1000, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"], "endpoints": [
				{"path": "^/login$", "methods": [{"name": "POST", "limit": {"rate": 1, "per": 60}}]}]}}}`}))
		expect("POST /login (1)", call(g, anchored, "POST", "/a/login"), 200)
		expect("POST /login (2)", call(other, anchored, "POST", "/a/login"), 429)
		expect("POST /v2/login: not what the anchored entry names", call(g, anchored, "POST", "/a/v2/login"), 200)

		// Two policies limiting the same endpoint: the more permissive (two a minute) wins.
		r = g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: `{"apply_policies": ["reads", "more-reads"]}`})
		var created map[string]string
		if err := json.Unmarshal([]byte(r.Body), &created); r.Code != 200 || err != nil || created["key"] == "" {
			t.Fatalf("creating a key with the policies: %d %s", r.Code, r.Body)
		}
		pk := created["key"]
		expect("policies: GET /items (1)", call(g, pk, "GET", "/a/items"), 200)
		expect("policies: GET /items (2)", call(other, pk, "GET", "/a/items"), 200)
		expect("policies: GET /items (3)", call(g, pk, "GET", "/a/items"), 429)
		expect("policies: elsewhere", call(other, pk, "GET", "/a/elsewhere"), 200)

		// Broken entries are refused, and nothing is stored.
		bad := func(eps string) string {
			return `{"rate": 10, "per": 1, "access_rights": {"a": {"api_id": "a", "versions": ["Default"], "endpoints": ` + eps + `}}}`
		}
		g.Run(t,
			gt.Case{Name: "a path that is no pattern", Admin: true, Method: "POST", Path: "/tyk/keys/bad-path-key-0123",
				Body: bad(`[{"path": "/x/(", "methods": [{"name": "GET", "limit": {"rate": 1, "per": 60}}]}]`),
				Code: 400, BodyMatch: `access_rights\[\\"a\\"\]\.endpoints\[0\]: endpoint path`},
			gt.Case{Name: "a method that is no token", Admin: true, Method: "POST", Path: "/tyk/keys/bad-method-key-0123",
				Body: bad(`[{"path": "/x", "methods": [{"name": "GET /x", "limit": {"rate": 1, "per": 60}}]}]`),
				Code: 400, BodyMatch: `is not an HTTP method`},
			gt.Case{Name: "a rate without a per", Admin: true, Method: "POST", Path: "/tyk/keys/bad-per-key-0123",
				Body: bad(`[{"path": "/x", "methods": [{"name": "GET", "limit": {"rate": 1}}]}]`),
				Code: 400, BodyMatch: `endpoints\[0\]\.methods\[0\]\.limit\.per is 0`},
			gt.Case{Name: "nothing stored", Admin: true, Path: "/tyk/keys/bad-path-key-0123", Code: 404},
			gt.Case{Name: "a broken policy is not loaded", Admin: true, Method: "POST", Path: "/tyk/keys/create",
				Body: `{"apply_policies": ["broken"]}`, Code: 400, BodyMatch: `policy \\"broken\\" is not loaded`},
			gt.Case{Name: "and /hello says why", Admin: true, Path: "/hello", Code: 200, BodyMatch: `broken.*endpoints\[0\]`},
		)
	})
}

// TestThrottle: a key with throttle_interval and throttle_retry_limit (written as Tyk writes
// them, through the Gateway API) has a request its rate limit refuses wait and try again: a
// second request within the second passes once the first leaves the window. With too few
// retries it is refused as before; a throttle_interval over an hour is refused.
func TestThrottle(t *testing.T) { gt.EachStore(t, testThrottle) }

func testThrottle(t *testing.T, opts gt.Options) {
	up := gt.NewUpstream(t)
	opts.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, opts)
	create := func(throttle string) string {
		t.Helper()
		r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create",
			Body: `{"rate": 1, "per": 1, ` + throttle + `, "access_rights": {"a": {"api_id": "a"}}}`})
		gt.Check(t, gt.Case{Code: 200}, r)
		var created struct{ Key string }
		if err := json.Unmarshal([]byte(r.Body), &created); err != nil || created.Key == "" {
			t.Fatalf("created %s: %v", r.Body, err)
		}
		return created.Key
	}
	hit := func(key string) int {
		return g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}}).Code
	}
	waits := create(`"throttle_interval": 0.25, "throttle_retry_limit": 8`)
	if a, b := hit(waits), hit(waits); a != 200 || b != 200 {
		t.Errorf("throttled key: %d then %d, want 200 twice (the second waits for the first to leave)", a, b)
	}
	gives := create(`"throttle_interval": 0.1, "throttle_retry_limit": 1`)
	if a, b := hit(gives), hit(gives); a != 200 || b != 429 {
		t.Errorf("key with one retry of 0.1 s: %d then %d, want 200 then 429", a, b)
	}
	g.Run(t, gt.Case{Name: "a two-hour interval is refused", Admin: true, Method: "POST", Path: "/tyk/keys/create",
		Body: `{"rate": 1, "per": 1, "throttle_interval": 7200, "throttle_retry_limit": 1, "access_rights": {"a": {"api_id": "a"}}}`,
		Code: 400, BodyMatch: "throttle_interval"})
}

// TestEndpointRateLimits: extended_paths.rate_limit (and a Tyk OAS operation's rateLimit)
// limits the requests to its endpoint over every client, in a window of its own, in place of
// global_rate_limit; other requests count against the global limit. With Redis, the count is
// shared by the fleet.
func TestEndpointRateLimits(t *testing.T) { gt.EachStore(t, testEndpointRateLimits) }

func testEndpointRateLimits(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	api := gt.API("eprl", "/eprl/", up.URL)
	api.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 3, Per: 60}
	v := api.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.RateLimit = []apidef.RateLimitMeta{{Path: "/search", Method: "GET", Rate: 1, Per: 60}}
	api.VersionData.Versions["Default"] = v
	store.APIs = []*apidef.APIDefinition{api}
	g := gt.Start(t, store)
	g.Run(t,
		gt.Case{Name: "the endpoint's limit of 1", Path: "/eprl/search", Code: 200},
		gt.Case{Name: "the endpoint's limit reached", Path: "/eprl/search?q=2", Code: 429, BodyMatch: "API Rate Limit Exceeded"},
		gt.Case{Name: "another method is not the endpoint", Method: "POST", Path: "/eprl/search", Code: 200},
		gt.Case{Name: "the global limit of 3 (2)", Path: "/eprl/other", Code: 200},
		gt.Case{Name: "the global limit of 3 (3)", Path: "/eprl/other", Code: 200},
		gt.Case{Name: "the global limit reached", Path: "/eprl/other", Code: 429},
	)
	oasDoc := `{"openapi": "3.0.3", "info": {"title": "eprl-doc", "version": "1"},
	  "paths": {"/slow/{id}": {"get": {"operationId": "getSlow",
	    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
	    "responses": {"200": {"description": "ok"}}}}},
	  "x-tyk-api-gateway": {"info": {"id": "eprl-doc", "name": "eprl-doc", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"}, "server": {"listenPath": {"value": "/eprl-doc/", "strip": true}},
	    "middleware": {"operations": {"getSlow": {"rateLimit": {"enabled": true, "rate": 2, "per": "1m"}}}}}}`
	g.Run(t, gt.Case{Name: "an OAS API with an operation's rateLimit", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: oasDoc, Code: 200})
	g.Reload()
	g.Run(t,
		gt.Case{Name: "the operation's limit of 2 (1)", Path: "/eprl-doc/slow/1", Code: 200},
		gt.Case{Name: "the operation's limit of 2 (2)", Path: "/eprl-doc/slow/2", Code: 200},
		gt.Case{Name: "the operation's limit reached", Path: "/eprl-doc/slow/3", Code: 429},
		gt.Case{Name: "other paths have no limit", Path: "/eprl-doc/fast", Code: 200},
	)
	bad := strings.Replace(oasDoc, `"per": "1m"`, `"per": "soon"`, 1)
	bad = strings.ReplaceAll(bad, "eprl-doc", "eprl-bad")
	g.Run(t, gt.Case{Name: "a rateLimit per that is not a duration", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: bad, Code: 400,
		BodyMatch: `rateLimit.per: \\"soon\\" is not a positive duration`})
}

// TestRateLimitSmoothing: with enable_rate_limit_smoothing, a key's smoothed rate limit allows
// its threshold first and raises the allowance by a step once its delay has passed, firing
// RateLimitSmoothingUp; the limit is large, which Redis would otherwise serve from leases
// reserved ahead. Without the setting smoothing changes nothing, as in Tyk.
func TestRateLimitSmoothing(t *testing.T) { gt.EachStore(t, testRateLimitSmoothing) }

func testRateLimitSmoothing(t *testing.T, opts gt.Options) {
	recv := newHookReceiver(t)
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("a", "/a/", up.URL))
	def.OrgID = "acme"
	def.EventHandlers.Events = map[string][]apidef.EventHandler{"RateLimitSmoothingUp": {{HandlerName: "eh_web_hook_handler",
		HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/up", "template_path": "smooth.tmpl"}`)}}}
	const delay = 2 * time.Second
	smoothed := &apidef.SessionState{Rate: 1000, Per: 60, AccessRights: access("a"),
		Smoothing: apidef.RateLimitSmoothing{Enabled: true, Threshold: 2, Step: 3, Trigger: 0.5, Delay: int64(delay / time.Second)}}
	start := func(on bool) *gt.Gateway {
		o := opts
		o.Config = func(c *config.Config) { c.EnableRateLimitSmoothing = on }
		g := gt.Start(t, o)
		g.WriteFile("smooth.tmpl", []byte(`{"event": "{{.Type}}", "key": "{{.Meta.Key}}", "api": "{{.Meta.APIID}}", "message": "{{.Meta.Message}}"}`))
		g.WriteAPI(def)
		g.Reload()
		return g
	}
	codes := func(g *gt.Gateway, key string, n int) []int {
		var out []int
		for range n {
			out = append(out, g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}}).Code)
		}
		return out
	}

	g := start(true)
	// Each attempt's steps must each take less than the delay; a machine that held them up
	// longer tries again with a new key (the allowance of the old one may have moved).
	attempt := 1
	for ; ; attempt++ {
		key := g.CreateKey(smoothed)
		began := time.Now()
		first := codes(g, key, 3)
		r := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}})
		late := time.Since(began) >= delay
		time.Sleep(time.Until(began.Add(delay + 200*time.Millisecond)))
		raised := time.Now()
		second := codes(g, key, 4)
		if late || time.Since(raised) >= delay {
			if attempt == 3 {
				t.Fatal("three attempts were held up longer than the smoothing's delay")
			}
			continue
		}
		if !slices.Equal(first, []int{200, 200, 429}) || r.Code != 429 || !strings.Contains(r.Body, "Rate limit exceeded") {
			t.Fatalf("the threshold of 2: %v then %d %s, want 200 200 429 429", first, r.Code, r.Body)
		}
		// The window held the whole allowance: it rose by a step, to 5.
		if !slices.Equal(second, []int{200, 200, 200, 429}) {
			t.Errorf("after the delay: %v, want 200 200 200 429 (an allowance of 5)", second)
		}
		break
	}
	// One rise per attempt (an attempt held up may have seen its own).
	hs := recv.settle(t, "/up", attempt)
	if last := len(hs) - 1; len(hs) != attempt || hs[last].body["event"] != "RateLimitSmoothingUp" || hs[last].body["api"] != "a" ||
		len(fmt.Sprint(hs[last].body["key"])) != 12 || !strings.Contains(fmt.Sprint(hs[last].body["message"]), "5 requests") {
		t.Errorf("webhooks %+v, want one RateLimitSmoothingUp a key, with the allowance 5", hs)
	}

	// Without enable_rate_limit_smoothing, the key's rate applies.
	g = start(false)
	if got := codes(g, g.CreateKey(smoothed), 10); slices.ContainsFunc(got, func(c int) bool { return c != 200 }) {
		t.Errorf("smoothing off: %v, want ten 200s", got)
	}
}
