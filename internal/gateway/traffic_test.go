package gateway_test

import (
	"io"
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

// withExtended gives def's only version the extended paths ep.
func withExtended(def *apidef.APIDefinition, ep apidef.ExtendedPathsSet) *apidef.APIDefinition {
	def.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true, ExtendedPaths: ep}
	return def
}

// hits counts the requests an upstream saw for a path.
func hits(up *gt.Upstream, path string) int {
	n := 0
	for _, r := range up.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func TestIPLists(t *testing.T) {
	up := gt.NewUpstream(t)
	allowLocal := gt.API("allow-local", "/allow-local/", up.URL)
	allowLocal.EnableIPWhiteListing, allowLocal.AllowedIPs = true, []string{"10.0.0.1", "127.0.0.0/8"}
	allowOther := gt.API("allow-other", "/allow-other/", up.URL)
	allowOther.EnableIPWhiteListing, allowOther.AllowedIPs = true, []string{"10.0.0.0/8", "2001:db8::/32"}
	blockLocal := gt.API("block-local", "/block-local/", up.URL)
	blockLocal.EnableIPBlacklisting, blockLocal.BlacklistedIPs = true, []string{"127.0.0.1"}
	// A non-empty list is enforced without its flag, as in Tyk 5.14, unless
	// ip_access_control_disabled says otherwise.
	flagOff := gt.API("flag-off", "/flag-off/", up.URL)
	flagOff.AllowedIPs = []string{"10.0.0.0/8"}
	switchedOff := gt.API("switched-off", "/switched-off/", up.URL)
	switchedOff.AllowedIPs, switchedOff.IPAccessControlDisabled = []string{"10.0.0.0/8"}, true
	keyed := gt.Keyed(gt.API("keyed-blocked", "/keyed-blocked/", up.URL))
	keyed.EnableIPBlacklisting, keyed.BlacklistedIPs = true, []string{"127.0.0.0/8"}

	forbidden := `{
    "error": "access from this IP has been disallowed"
}`
	t.Run("peer address", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{allowLocal, allowOther, blockLocal, flagOff, switchedOff, keyed}})
		g.Run(t,
			gt.Case{Name: "allowed by range", Path: "/allow-local/x", Code: 200},
			gt.Case{Name: "not on the allow list", Path: "/allow-other/x", Code: 403, BodyEquals: forbidden},
			gt.Case{Name: "forged X-Forwarded-For does not count", Path: "/allow-other/x", Headers: map[string]string{"X-Forwarded-For": "10.1.2.3", "X-Real-Ip": "10.1.2.3"}, Code: 403},
			gt.Case{Name: "on the block list", Path: "/block-local/x", Code: 403, BodyEquals: forbidden},
			gt.Case{Name: "enforced without its flag", Path: "/flag-off/x", Code: 403},
			gt.Case{Name: "ip_access_control_disabled", Path: "/switched-off/x", Code: 200},
			gt.Case{Name: "before auth", Path: "/keyed-blocked/x", Code: 403, BodyEquals: forbidden},
		)
		if n := len(up.Requests()); n != 2 {
			t.Errorf("upstream saw %d requests, want 2 (the allowed ones)", n)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{allowOther, blockLocal},
			Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
		g.Run(t,
			gt.Case{Name: "client named by the proxy", Path: "/allow-other/x", Headers: map[string]string{"X-Forwarded-For": "10.1.2.3"}, Code: 200},
			gt.Case{Name: "rightmost untrusted entry is the client", Path: "/allow-other/x", Headers: map[string]string{"X-Forwarded-For": "10.1.2.3, 192.0.2.1"}, Code: 403},
			gt.Case{Name: "X-Real-Ip never counts", Path: "/allow-other/x", Headers: map[string]string{"X-Real-Ip": "10.1.2.3"}, Code: 403},
			gt.Case{Name: "no header: the proxy itself", Path: "/block-local/x", Code: 403},
			gt.Case{Name: "block list reads the client", Path: "/block-local/x", Headers: map[string]string{"X-Forwarded-For": "192.0.2.1"}, Code: 200},
			gt.Case{Name: "garbage stops at the proxy", Path: "/block-local/x", Headers: map[string]string{"X-Forwarded-For": "192.0.2.1, nonsense"}, Code: 403},
		)
	})
}

func TestIPListMalformedRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	bad := gt.API("bad-ips", "/bad-ips/", up.URL)
	bad.EnableIPWhiteListing, bad.AllowedIPs = true, []string{"10.0.0.0/8", "10.0.0.300"}
	empty := gt.API("empty-ips", "/empty-ips/", up.URL)
	empty.EnableIPWhiteListing = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{bad, empty}})
	g.Run(t,
		gt.Case{Name: "malformed entry: not served", Path: "/bad-ips/x", Code: 404},
		gt.Case{Name: "enabled empty list: not served", Path: "/empty-ips/x", Code: 404},
	)
	logs := g.Logs()
	for _, want := range []string{`allowed_ips[1]: \"10.0.0.300\" is not an IP address or CIDR range`, "enable_ip_whitelisting is set but the list is empty"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
}

func TestCORS(t *testing.T) {
	// The upstream sends its own CORS headers: the gateway's answer must be the only one.
	var upHits atomic.Int32
	var lastMethod atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upHits.Add(1)
		lastMethod.Store(r.Method)
		w.Header().Set("Access-Control-Allow-Origin", "https://upstream.example")
		w.Header().Set("Access-Control-Allow-Credentials", "false")
		w.Header().Set("X-Up", "1")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	strict := gt.Keyed(gt.API("cors", "/cors/", up.URL))
	strict.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://app.example", "https://*.example.org"},
		AllowedMethods: []string{"GET", "PUT"}, AllowedHeaders: []string{"Authorization", "X-Custom"},
		ExposedHeaders: []string{"x-request-id"}, AllowCredentials: true, MaxAge: 600}
	open := gt.API("cors-open", "/cors-open/", up.URL)
	open.CORS = apidef.CORSConfig{Enable: true}
	pass := gt.Keyed(gt.API("cors-pass", "/cors-pass/", up.URL))
	pass.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://app.example"}, OptionsPassthrough: true}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{strict, open, pass}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"cors": {APIID: "cors"}, "cors-pass": {APIID: "cors-pass"}}})

	preflight := func(path, origin, method, headers string) map[string]string {
		h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			h["Access-Control-Request-Headers"] = headers
		}
		return h
	}
	g.Run(t,
		gt.Case{Name: "preflight allowed", Method: "OPTIONS", Path: "/cors/items",
			Headers: preflight("/cors/items", "https://app.example", "PUT", "authorization, x-custom"),
			Code:    204, BodyEmpty: true, HeadersMatch: map[string]string{
				"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "PUT",
				"Access-Control-Allow-Headers": "authorization, x-custom", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Max-Age": "600", "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
			}},
		gt.Case{Name: "preflight wildcard origin", Method: "OPTIONS", Path: "/cors/items",
			Headers: preflight("/cors/items", "https://shop.example.org", "GET", ""), Code: 204,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://shop.example.org"}},
		gt.Case{Name: "preflight origin not allowed", Method: "OPTIONS", Path: "/cors/items",
			Headers: preflight("/cors/items", "https://evil.example", "GET", ""), Code: 204,
			HeadersNotPresent: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods"}},
		gt.Case{Name: "preflight method not allowed", Method: "OPTIONS", Path: "/cors/items",
			Headers: preflight("/cors/items", "https://app.example", "DELETE", ""), Code: 204,
			HeadersNotPresent: []string{"Access-Control-Allow-Origin"}},
		gt.Case{Name: "preflight header not allowed", Method: "OPTIONS", Path: "/cors/items",
			Headers: preflight("/cors/items", "https://app.example", "GET", "X-Other"), Code: 204,
			HeadersNotPresent: []string{"Access-Control-Allow-Origin"}},
		gt.Case{Name: "OPTIONS without preflight stops too", Method: "OPTIONS", Path: "/cors/items", Code: 200, BodyEmpty: true},
		gt.Case{Name: "actual request, allowed origin", Path: "/cors/items",
			Headers: map[string]string{"Origin": "https://app.example", "Authorization": key}, Code: 200, BodyEquals: "ok",
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "X-Request-Id", "X-Up": "1"}},
		gt.Case{Name: "actual request, disallowed origin is not refused", Path: "/cors/items",
			Headers: map[string]string{"Origin": "https://evil.example", "Authorization": key}, Code: 200,
			HeadersMatch:      map[string]string{"X-Up": "1"},
			HeadersNotPresent: []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"}},
		gt.Case{Name: "auth failure carries CORS headers", Path: "/cors/items",
			Headers: map[string]string{"Origin": "https://app.example"}, Code: 401,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://app.example"}},
		gt.Case{Name: "defaults: any origin gets *", Path: "/cors-open/x",
			Headers: map[string]string{"Origin": "https://anyone.example"}, Code: 200,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "*"}, HeadersNotPresent: []string{"Access-Control-Allow-Credentials"}},
		gt.Case{Name: "defaults: PUT is not a default method", Path: "/cors-open/x", Method: "PUT",
			Headers: map[string]string{"Origin": "https://anyone.example"}, Code: 200,
			HeadersNotPresent: []string{"Access-Control-Allow-Origin"}},
	)
	if n := upHits.Load(); n != 4 {
		t.Errorf("upstream saw %d requests, want 4: preflights and OPTIONS must not reach it", n)
	}
	// With options_passthrough, OPTIONS goes to the upstream without a key, as in Tyk; other
	// methods still need one.
	before := upHits.Load()
	r := g.Do(gt.Case{Method: "OPTIONS", Path: "/cors-pass/x", Headers: preflight("/cors-pass/x", "https://app.example", "GET", "")})
	if r.Code != 200 || r.Body != "ok" || r.Header.Get("Access-Control-Allow-Origin") != "https://upstream.example" {
		t.Errorf("passthrough preflight = %d %q %v, want the upstream's answer", r.Code, r.Body, r.Header)
	}
	if upHits.Load() != before+1 || lastMethod.Load() != "OPTIONS" {
		t.Errorf("passthrough OPTIONS did not reach the upstream")
	}
	gt.Check(t, gt.Case{Code: 401}, g.Do(gt.Case{Path: "/cors-pass/x", Headers: map[string]string{"Origin": "https://app.example"}}))
}

// TestCORSUpstreamHeadersDropped: with the API's CORS on, the gateway is its CORS authority.
// An upstream that reflects any Origin with credentials must not answer for an origin the
// gateway refused (the browser would let evil.com read the credentialed response), on a fresh
// response, an error, or one served from the cache; an allowed origin gets the gateway's
// headers alone. An OPTIONS request options_passthrough sends on keeps the upstream's, as in
// Tyk: the upstream answers its preflight.
func TestCORSUpstreamHeadersDropped(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if o := r.Header.Get("Origin"); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "X-Secret")
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		h.Set("X-Up", "1")
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = io.WriteString(w, "secret")
	}))
	t.Cleanup(up.Close)
	corsOn := apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://*.example.com"}, AllowCredentials: true}
	api := gt.API("refl", "/refl/", up.URL)
	api.CORS = corsOn
	cached := gt.API("refl-cached", "/refl-cached/", up.URL)
	cached.CORS = corsOn
	cached.CacheOptions = apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true, CacheTimeout: 60}
	pass := gt.API("refl-pass", "/refl-pass/", up.URL)
	pass.CORS = corsOn
	pass.CORS.OptionsPassthrough = true
	off := gt.API("refl-off", "/refl-off/", up.URL)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api, cached, pass, off}})

	evil := map[string]string{"Origin": "https://evil.com"}
	app := map[string]string{"Origin": "https://app.example.com"}
	upstreamCORS := []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
		"Access-Control-Expose-Headers", "Access-Control-Allow-Private-Network"}
	g.Run(t,
		gt.Case{Name: "refused origin", Path: "/refl/a", Headers: evil, Code: 200, BodyEquals: "secret",
			HeadersMatch: map[string]string{"X-Up": "1", "Vary": "Origin"}, HeadersNotPresent: upstreamCORS},
		gt.Case{Name: "refused origin, upstream error", Path: "/refl/fail", Headers: evil, Code: 500,
			HeadersNotPresent: upstreamCORS},
		gt.Case{Name: "allowed origin, refused method", Method: "PUT", Path: "/refl/a", Headers: app, Code: 200,
			HeadersNotPresent: upstreamCORS},
		gt.Case{Name: "refused origin, fresh, then cached", Path: "/refl-cached/a", Headers: evil, Code: 200,
			HeadersNotPresent: upstreamCORS},
		gt.Case{Name: "refused origin from the cache", Path: "/refl-cached/a", Headers: evil, Code: 200,
			HeadersMatch: map[string]string{"X-Tyk-Cached-Response": "1"}, HeadersNotPresent: upstreamCORS},
		gt.Case{Name: "CORS off: the upstream's own", Path: "/refl-off/a", Headers: evil, Code: 200,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://evil.com"}},
		gt.Case{Name: "passthrough OPTIONS: the upstream answers", Method: "OPTIONS", Path: "/refl-pass/a",
			Headers: map[string]string{"Origin": "https://evil.com", "Access-Control-Request-Method": "GET"}, Code: 200,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://evil.com"}},
		gt.Case{Name: "passthrough API, GET: the gateway answers", Path: "/refl-pass/a", Headers: evil, Code: 200,
			HeadersNotPresent: upstreamCORS},
	)
	// An allowed origin gets the gateway's answer alone: one value of each, none of the
	// upstream's extra names, fresh and from the cache.
	for _, path := range []string{"/refl/a", "/refl/fail", "/refl-cached/a"} {
		r := g.Do(gt.Case{Path: path, Headers: app})
		if v := r.Header.Values("Access-Control-Allow-Origin"); len(v) != 1 || v[0] != "https://app.example.com" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want the gateway's alone", path, v)
		}
		if v := r.Header.Values("Access-Control-Allow-Credentials"); len(v) != 1 || v[0] != "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q, want the gateway's alone", path, v)
		}
		for _, k := range []string{"Access-Control-Expose-Headers", "Access-Control-Allow-Private-Network"} {
			if v := r.Header.Values(k); len(v) != 0 {
				t.Errorf("%s: %s %q from the upstream reached the client", path, k, v)
			}
		}
		if path == "/refl-cached/a" && r.Header.Get("X-Tyk-Cached-Response") != "1" {
			t.Errorf("%s: not served from the cache", path)
		}
	}
}

func TestSizeLimits(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.API("sizes", "/sizes/", up.URL), apidef.ExtendedPathsSet{
		SizeLimit: []apidef.RequestSizeMeta{
			{Path: "/upload", Method: "POST", SizeLimit: 10},
			{Path: "/off", Method: "POST", SizeLimit: 1, Disabled: true},
		},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	tooLarge := `{
    "error": "Request is too large"
}`
	g.Run(t,
		gt.Case{Name: "under the limit", Method: "POST", Path: "/sizes/upload", Body: "0123456789", Code: 200},
		gt.Case{Name: "over the limit", Method: "POST", Path: "/sizes/upload/big", Body: "0123456789A", Code: 413, BodyEquals: tooLarge},
		gt.Case{Name: "other method", Method: "PUT", Path: "/sizes/upload", Body: "0123456789A", Code: 200},
		gt.Case{Name: "other path", Method: "POST", Path: "/sizes/other", Body: "0123456789A", Code: 200},
		gt.Case{Name: "disabled entry", Method: "POST", Path: "/sizes/off", Body: "0123456789A", Code: 200},
	)
	if n := hits(up, "/upload/big"); n != 0 {
		t.Errorf("the refused body reached the upstream %d times", n)
	}
	// A streamed body without Content-Length is cut at the limit rather than refused for
	// lacking one (Tyk answers 411).
	req, _ := http.NewRequest("POST", g.URL+"/sizes/upload/stream", io.MultiReader(strings.NewReader(strings.Repeat("x", 64))))
	req.ContentLength = -1
	resp, err := g.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("streamed body over the limit: %d, want 413", resp.StatusCode)
	}
}

// controlled is an upstream whose answers the test decides: the status it answers with, and
// how long /slow paths wait (cut short when the request is cancelled).
type controlled struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
	mu     sync.Mutex
	seen   []string // method and path of each request
}

func newControlled(t *testing.T) *controlled {
	u := &controlled{}
	u.status.Store(200)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.mu.Lock()
		u.seen = append(u.seen, r.Method+" "+r.URL.Path)
		u.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/slow") {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
		w.WriteHeader(int(u.status.Load()))
		_, _ = io.WriteString(w, r.Method)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *controlled) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return ""
	}
	return u.seen[len(u.seen)-1]
}

func TestHardTimeouts(t *testing.T) {
	up := newControlled(t)
	def := withExtended(gt.API("timeouts", "/timeouts/", up.URL), apidef.ExtendedPathsSet{
		HardTimeouts: []apidef.HardTimeoutMeta{
			{Path: "/slow/short", Method: "GET", Duration: "200ms"},
			{Path: "/slow/whole", Method: "GET", TimeOut: 1},
		},
	})
	global := gt.API("global-timeout", "/global-timeout/", up.URL)
	global.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", GlobalEnforceTimeout: "300ms"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, global}})
	timedOut := `{
    "error": "Upstream service reached hard timeout."
}`
	for _, c := range []struct {
		path     string
		max      time.Duration
		wantCode int
	}{
		{"/timeouts/slow/short", 5 * time.Second, 504},
		{"/timeouts/slow/whole", 8 * time.Second, 504},
		{"/global-timeout/slow/x", 5 * time.Second, 504},
		{"/timeouts/fast", 5 * time.Second, 200},
	} {
		start := time.Now()
		r := g.Do(gt.Case{Path: c.path})
		took := time.Since(start)
		if r.Code != c.wantCode || (c.wantCode == 504 && r.Body != timedOut) {
			t.Errorf("%s: %d %q, want %d", c.path, r.Code, r.Body, c.wantCode)
		}
		if took > c.max {
			t.Errorf("%s took %v, want under %v", c.path, took, c.max)
		}
	}
}

func TestMethodTransforms(t *testing.T) {
	up := newControlled(t)
	def := withExtended(gt.API("methods", "/methods/", up.URL), apidef.ExtendedPathsSet{
		MethodTransforms: []apidef.MethodTransformMeta{
			{Path: "/search", Method: "GET", ToMethod: "post"},
			{Path: "/off", Method: "GET", ToMethod: "DELETE", Disabled: true},
		},
	})
	bad := withExtended(gt.API("bad-method", "/bad-method/", up.URL), apidef.ExtendedPathsSet{
		MethodTransforms: []apidef.MethodTransformMeta{{Path: "/x", Method: "GET", ToMethod: "TRACE"}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, bad}})
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/methods/search", "POST /search"},
		{"GET", "/methods/v2/search/all", "POST /v2/search/all"},
		{"PUT", "/methods/search", "PUT /search"},
		{"GET", "/methods/off", "GET /off"},
	} {
		r := g.Do(gt.Case{Method: c.method, Path: c.path})
		if r.Code != 200 || up.last() != c.want {
			t.Errorf("%s %s: %d, upstream saw %q, want %q", c.method, c.path, r.Code, up.last(), c.want)
		}
	}
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Path: "/bad-method/x"}))
	if !strings.Contains(g.Logs(), `to_method \"TRACE\" is not one of GET, POST, PUT, DELETE, OPTIONS, PATCH`) {
		t.Errorf("the refusal of to_method TRACE is not logged")
	}
}

func TestCircuitBreaker(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := newControlled(t)
	def := withExtended(gt.API("breaker", "/breaker/", up.URL), apidef.ExtendedPathsSet{
		CircuitBreaker: []apidef.CircuitBreakerMeta{
			{Path: "/reports", Method: "GET", ThresholdPercent: 0.5, Samples: 4, ReturnToServiceAfter: 30},
			{Path: "/simple", Method: "GET", ThresholdPercent: 1, Samples: 2, ReturnToServiceAfter: 10, DisableHalfOpenState: true},
		},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Now: clock.Now})
	open := `{
    "error": "Service temporarily unavailable."
}`
	get := func(path string) gt.Response { return g.Do(gt.Case{Path: path}) }

	// Two failures in four requests reach the threshold of 0.5.
	up.status.Store(200)
	get("/breaker/reports")
	get("/breaker/reports")
	up.status.Store(500)
	get("/breaker/reports")
	if r := get("/breaker/reports"); r.Code != 500 {
		t.Fatalf("fourth request = %d, want the upstream's 500", r.Code)
	}
	n := up.hits.Load()
	for i := 0; i < 3; i++ {
		if r := get("/breaker/reports"); r.Code != 503 || r.Body != open {
			t.Fatalf("open breaker answered %d %q, want 503 %q", r.Code, r.Body, open)
		}
	}
	if up.hits.Load() != n {
		t.Errorf("requests reached the upstream while the breaker was open")
	}
	gt.Check(t, gt.Case{Code: 500}, get("/breaker/other")) // other endpoints are not affected

	// After return_to_service_after one probe goes through; it fails, so the breaker opens again.
	clock.Advance(31 * time.Second)
	if r := get("/breaker/reports"); r.Code != 500 {
		t.Fatalf("probe = %d, want the upstream's 500", r.Code)
	}
	gt.Check(t, gt.Case{Code: 503, BodyEquals: open}, get("/breaker/reports"))
	// The next probe succeeds: closed again.
	clock.Advance(31 * time.Second)
	up.status.Store(200)
	gt.Check(t, gt.Case{Code: 200}, get("/breaker/reports"))
	gt.Check(t, gt.Case{Code: 200}, get("/breaker/reports"))

	// Any 5xx counts as a failure.
	up.status.Store(503)
	get("/breaker/simple")
	get("/breaker/simple")
	gt.Check(t, gt.Case{Code: 503, BodyEquals: open}, get("/breaker/simple"))
	// Without the half-open state the breaker simply closes after the wait.
	clock.Advance(11 * time.Second)
	up.status.Store(200)
	gt.Check(t, gt.Case{Code: 200}, get("/breaker/simple"))
	if logs := g.Logs(); !strings.Contains(logs, "circuit breaker tripped") || !strings.Contains(logs, "circuit breaker reset") {
		t.Errorf("breaker events are not logged")
	}
}

// TestExtendedPathsWithoutFlag: a version whose extended_paths guard traffic (here a black list)
// but that does not set use_extended_paths would serve every request unguarded, in Tyk as in
// Gatehouse: the definition is refused, the log saying to set use_extended_paths, and the other
// APIs serve. One whose extended_paths only change requests (header transforms) is served as
// Tyk serves it, without them, and the log says they have no effect and how to apply them.
func TestExtendedPathsWithoutFlag(t *testing.T) {
	up := gt.NewUpstream(t)
	guarded := gt.API("noflag-guard", "/noflag-guard/", up.URL)
	guarded.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default",
		ExtendedPaths: apidef.ExtendedPathsSet{BlackList: []apidef.EndPointMeta{{Path: "/admin"}}}}
	changing := gt.API("noflag-headers", "/noflag-headers/", up.URL)
	changing.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default",
		ExtendedPaths: apidef.ExtendedPathsSet{TransformHeader: []apidef.HeaderInjectionMeta{{Path: "/x", Method: "GET", AddHeaders: map[string]string{"X-Added": "1"}}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{guarded, changing, gt.API("ok", "/ok/", up.URL)}})
	g.Run(t,
		gt.Case{Name: "guards without the flag: not served", Path: "/noflag-guard/admin", Code: 404},
		gt.Case{Name: "changes without the flag: served without them", Path: "/noflag-headers/x", Code: 200},
		gt.Case{Name: "the rest serve", Path: "/ok/x", Code: 200},
	)
	if seen, _ := up.Last(); seen.Headers["X-Added"] != "" {
		t.Errorf("a transform_headers entry of a version without use_extended_paths applied: %v", seen.Headers)
	}
	logs := g.Logs()
	for _, want := range []string{
		`extended_paths.black_list would not apply, because the version does not set use_extended_paths`,
		`set \"use_extended_paths\": true in the version`,
		`has no effect" api_id=noflag-headers field="version_data.versions[\"Default\"].extended_paths.transform_headers (the version does not set use_extended_paths`,
	} {
		if !contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestCORSPassthroughMethodOverride: an OPTIONS request that options_passthrough lets through
// without auth reaches the upstream without method-override headers (in any spelling), which a
// framework honouring them would read as the DELETE they name; a preflight never needs them.
// A keyed request keeps them, as in Tyk: clients tunnel PATCH through POST with them.
func TestCORSPassthroughMethodOverride(t *testing.T) {
	up := gt.NewUpstream(t)
	pass := gt.Keyed(gt.API("cors-mo", "/cors-mo/", up.URL))
	pass.CORS = apidef.CORSConfig{Enable: true, OptionsPassthrough: true}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{pass}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("cors-mo")})
	overrides := map[string]string{"X-HTTP-Method-Override": "DELETE", "X-Method-Override": "DELETE", "X-HTTP-Method": "DELETE",
		"X_HTTP_Method_Override": "DELETE", "Origin": "https://app.example", "X-Other": "kept"}
	g.Run(t, gt.Case{Name: "passthrough OPTIONS", Method: "OPTIONS", Path: "/cors-mo/users/1", Headers: overrides, Body: `{"id": 1}`, Code: 200})
	seen, _ := up.Last()
	if seen.Method != "OPTIONS" || seen.Headers["X-Other"] != "kept" || seen.Body != `{"id": 1}` {
		t.Fatalf("upstream saw %s %v %q, want the OPTIONS request as sent", seen.Method, seen.Headers, seen.Body)
	}
	for k, v := range seen.Headers {
		if n := strings.ToLower(strings.ReplaceAll(k, "_", "-")); n == "x-http-method-override" || n == "x-method-override" || n == "x-http-method" {
			t.Errorf("upstream got %s: %s on an OPTIONS request let through without auth", k, v)
		}
	}
	h := map[string]string{"Authorization": key, "X-HTTP-Method-Override": "PATCH"}
	g.Run(t, gt.Case{Name: "keyed POST keeps its override", Method: "POST", Path: "/cors-mo/users/1", Headers: h, Body: `{}`, Code: 200})
	if seen, _ := up.Last(); seen.Headers["X-Http-Method-Override"] != "PATCH" {
		t.Errorf("upstream headers %v: want X-Http-Method-Override: PATCH forwarded", seen.Headers)
	}
}
