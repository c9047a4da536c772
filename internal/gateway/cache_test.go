package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// countingUpstream answers with how many requests it had ("n=3"), and what the path asks:
// /cookie sets a cookie, /missing is a 404, /big is 2 MiB, /control asks the gateway to cache
// the response for 5 s (enable_upstream_cache_control), /fail drops the connection.
func countingUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count := n.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body-Len", strconv.Itoa(len(body)))
		w.Header().Set("X-Lang", r.Header.Get("Accept-Language"))
		switch {
		case strings.HasSuffix(r.URL.Path, "/cookie"):
			http.SetCookie(w, &http.Cookie{Name: "session", Value: fmt.Sprint(count)})
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case strings.HasSuffix(r.URL.Path, "/big"):
			_, _ = w.Write([]byte(strings.Repeat("x", 2<<20)))
		case strings.HasSuffix(r.URL.Path, "/control"):
			w.Header().Set("X-Tyk-Cache-Action-Set", "1")
			w.Header().Set("X-Tyk-Cache-Action-Set-Ttl", "5")
		case strings.HasSuffix(r.URL.Path, "/fail"):
			panic(http.ErrAbortHandler)
		case strings.HasSuffix(r.URL.Path, "/file"):
			w.Header().Set("ETag", `"v1"`)
			http.ServeContent(w, r, "file", time.Time{}, strings.NewReader(strings.Repeat("y", 1000)))
			return
		case strings.HasSuffix(r.URL.Path, "/nostore"):
			w.Header().Set("Cache-Control", "max-age=60, No-Store")
		case strings.HasSuffix(r.URL.Path, "/private"):
			w.Header().Set("Cache-Control", `private="X-Lang", max-age=60`)
		case strings.HasSuffix(r.URL.Path, "/who"):
			fmt.Fprintf(w, "user=%s ", r.Header.Get("Authorization"))
		}
		fmt.Fprintf(w, "n=%d", count)
	}))
	t.Cleanup(up.Close)
	return up, &n
}

func cachedAPI(id, listen, target string, o apidef.CacheOptions, paths ...string) *apidef.APIDefinition {
	api := gt.API(id, listen, target)
	api.CacheOptions = o
	v := api.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.Cached = paths
	api.VersionData.Versions["Default"] = v
	return api
}

// TestResponseCache: cache_options with extended_paths.cache, or every safe request, serve a
// response again without calling the upstream, with X-Tyk-Cached-Response, per method, URL,
// client and cache_by_headers value, until cache_timeout or DELETE /tyk/cache/{api_id}; what is
// not safe, not listed, sets a cookie, is too large, is the gateway's own answer or was cut
// short is never served from the cache.
func TestResponseCache(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up, n := countingUpstream(t)
	paths := cachedAPI("paths", "/paths/", up.URL, apidef.CacheOptions{EnableCache: true, CacheTimeout: 60, CacheByHeaders: []string{"Accept-Language"}}, "/products")
	safe := cachedAPI("safe", "/safe/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true, CacheOnlyResponseCodes: []int{200}})
	control := cachedAPI("control", "/control/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true, EnableUpstreamCacheControl: true})
	anyCode := cachedAPI("any", "/any/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true})
	keyed := gt.Keyed(cachedAPI("keyed", "/keyed/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}))
	kv := keyed.VersionData.Versions["Default"]
	kv.ExtendedPaths.Ignored = []apidef.EndPointMeta{{Path: "/open", Method: "GET"}}
	keyed.VersionData.Versions["Default"] = kv
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{paths, safe, control, anyCode, keyed}})

	get := func(method, path string, headers map[string]string) gt.Response {
		t.Helper()
		return g.Do(gt.Case{Method: method, Path: path, Headers: headers})
	}
	// want checks a response's body and whether it came from the cache.
	want := func(what string, r gt.Response, code int, body string, cached bool) {
		t.Helper()
		if r.Code != code || (body != "" && r.Body != body) || (r.Header.Get("X-Tyk-Cached-Response") == "1") != cached {
			t.Errorf("%s: %d %q (X-Tyk-Cached-Response %q); want %d %q, cached %v", what, r.Code, r.Body, r.Header.Get("X-Tyk-Cached-Response"), code, body, cached)
		}
	}

	want("first GET of a listed path", get("GET", "/paths/products", nil), 200, "n=1", false)
	want("second GET", get("GET", "/paths/products", nil), 200, "n=1", true)
	want("another query", get("GET", "/paths/products?page=2", nil), 200, "n=2", false)
	want("another query again", get("GET", "/paths/products?page=2", nil), 200, "n=2", true)
	r := get("GET", "/paths/products", map[string]string{"Accept-Language": "fr"})
	want("another cache_by_headers value", r, 200, "n=3", false)
	if r.Header.Get("X-Lang") != "fr" {
		t.Errorf("the response for Accept-Language fr has X-Lang %q", r.Header.Get("X-Lang"))
	}
	want("the first value again", get("GET", "/paths/products", nil), 200, "n=1", true)
	want("HEAD is cached apart", get("HEAD", "/paths/products", nil), 200, "", false)
	want("HEAD again", get("HEAD", "/paths/products", nil), 200, "", true)
	want("POST is not safe", get("POST", "/paths/products", nil), 200, "n=5", false)
	want("POST again", get("POST", "/paths/products", nil), 200, "n=6", false)
	want("a path not listed", get("GET", "/paths/other", nil), 200, "n=7", false)
	want("a path not listed, again", get("GET", "/paths/other", nil), 200, "n=8", false)

	want("a response that sets a cookie", get("GET", "/safe/cookie", nil), 200, "n=9", false)
	want("it is never kept", get("GET", "/safe/cookie", nil), 200, "n=10", false)
	want("a status not in cache_response_codes", get("GET", "/safe/missing", nil), 404, "n=11", false)
	want("it is not kept", get("GET", "/safe/missing", nil), 404, "n=12", false)
	beforeNoStore := n.Load()
	for _, p := range []string{"/safe/nostore", "/safe/private"} {
		get("GET", p, nil)
		want("Cache-Control no-store, or private on a keyless API (entries per address): "+p+" is not kept", get("GET", p, nil), 200, "", false)
	}
	if got := n.Load() - beforeNoStore; got != 4 {
		t.Errorf("the upstream had %d of the 4 requests for no-store and private responses", got)
	}
	if r := get("GET", "/safe/big", nil); r.Code != 200 || len(r.Body) < 2<<20 {
		t.Errorf("a 2 MiB response: %d, %d bytes", r.Code, len(r.Body))
	}
	if r := get("GET", "/safe/big", nil); r.Header.Get("X-Tyk-Cached-Response") != "" {
		t.Error("a response over the entry bound was served from the cache")
	}
	// Any status is kept without cache_response_codes, but not the gateway's own answer.
	want("a 404 with no cache_response_codes", get("GET", "/any/missing", nil), 404, "", false)
	want("is kept", get("GET", "/any/missing", nil), 404, "", true)
	before := n.Load()
	if r := get("GET", "/any/fail", nil); r.Code != http.StatusBadGateway {
		t.Errorf("an upstream that drops the connection: %d, want 502", r.Code)
	}
	between := n.Load()
	if r := get("GET", "/any/fail", nil); r.Code != http.StatusBadGateway || between == before || n.Load() == between {
		t.Errorf("the gateway's 502 was served from the cache (%d; the upstream was asked %d then %d times)", r.Code, between-before, n.Load()-between)
	}

	want("upstream control: not asked for", get("GET", "/control/x", nil), 200, "", false)
	want("upstream control: not kept", get("GET", "/control/x", nil), 200, "", false)
	want("upstream control: asked for", get("GET", "/control/control", nil), 200, "", false)
	cached := get("GET", "/control/control", nil)
	want("upstream control: kept", cached, 200, "", true)
	clock.Advance(6 * time.Second)
	want("upstream control: its TTL of 5 s is over", get("GET", "/control/control", nil), 200, "", false)

	// Keyed: one entry per key; the key's limits still apply to cached answers, with the
	// request's own X-RateLimit headers.
	key1 := g.CreateKey(&apidef.SessionState{QuotaMax: 3, QuotaRenewalRate: 3600, AccessRights: access("keyed")})
	key2 := g.CreateKey(&apidef.SessionState{AccessRights: access("keyed")})
	as := func(key string) map[string]string { return map[string]string{"Authorization": key} }
	first := get("GET", "/keyed/me", as(key1))
	want("key 1", first, 200, "", false)
	hit := get("GET", "/keyed/me", as(key1))
	want("key 1 again", hit, 200, first.Body, true)
	if a, b := first.Header.Get("X-Ratelimit-Remaining"), hit.Header.Get("X-Ratelimit-Remaining"); a == "" || a == b {
		t.Errorf("X-RateLimit-Remaining %q then %q from the cache: want the request's own", a, b)
	}
	other := get("GET", "/keyed/me", as(key2))
	want("key 2 gets its own response", other, 200, "", false)
	if other.Body == first.Body {
		t.Errorf("key 2 got key 1's response %q", other.Body)
	}
	want("key 1's third request, from the cache", get("GET", "/keyed/me", as(key1)), 200, first.Body, true)
	if r := get("GET", "/keyed/me", as(key1)); r.Code != http.StatusForbidden {
		t.Errorf("key 1 past its quota of 3: %d from the cache, want 403", r.Code)
	}
	if r := get("GET", "/keyed/me", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401 (the cache answers after auth)", r.Code)
	}
	private := get("GET", "/keyed/private", as(key2))
	want("a private response on a keyed API (entries per key)", private, 200, "", false)
	want("is kept for that key", get("GET", "/keyed/private", as(key2)), 200, private.Body, true)
	get("GET", "/keyed/nostore", as(key2))
	want("a no-store response on a keyed API is not kept", get("GET", "/keyed/nostore", as(key2)), 200, "", false)
	want("an ignored endpoint of a keyed API, without a key", get("GET", "/keyed/open", nil), 200, "", false)
	want("is not cached: no key to keep it under", get("GET", "/keyed/open", nil), 200, "", false)

	// Flushed through the Gateway API, and after cache_timeout.
	g.Run(t, gt.Case{Name: "flush", Admin: true, Method: "DELETE", Path: "/tyk/cache/paths", Code: 200, BodyMatch: "cache invalidated"})
	r = get("GET", "/paths/products", nil)
	want("after the flush", r, 200, "", false)
	want("cached again", get("GET", "/paths/products", nil), 200, r.Body, true)
	clock.Advance(61 * time.Second)
	want("after cache_timeout", get("GET", "/paths/products", nil), 200, "", false)

	// A reload that keeps the API keeps its cache; one that changes it empties it.
	r = get("GET", "/paths/products", nil)
	want("before a reload", r, 200, "", true)
	g.Reload()
	want("after a reload that kept the API", get("GET", "/paths/products", nil), 200, r.Body, true)
	paths.Name = "changed"
	g.WriteAPI(paths)
	g.Reload()
	want("after a reload that changed the API", get("GET", "/paths/products", nil), 200, "", false)
}

// TestResponseCacheAnalyticsTag: an answer from the cache is recorded with Tyk's
// cached-response tag, after the API's tags; one from the upstream is not.
func TestResponseCacheAnalyticsTag(t *testing.T) {
	up, _ := countingUpstream(t)
	file, analytics := analyticsFile(t)
	api := cachedAPI("tagged", "/tagged/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true})
	api.Tags = []string{"team-a"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	g.Run(t, gt.Case{Name: "miss", Path: "/tagged/x", Code: 200},
		gt.Case{Name: "hit", Path: "/tagged/x", Code: 200, HeadersMatch: map[string]string{"X-Tyk-Cached-Response": "1"}})
	recs := readRecords(t, file, 2)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	got := []string{fmt.Sprint(recs[0].Tags), fmt.Sprint(recs[1].Tags)}
	slices.Sort(got)
	if want := []string{"[team-a cached-response]", "[team-a]"}; !slices.Equal(got, want) {
		t.Errorf("the two records are tagged %q, want %q (the upstream's answer, then the cache's)", got, want)
	}
}

// TestResponseCacheAdvanced: advance_cache_config entries cache their method on their path, a
// POST or PUT keyed by its body or by what cache_key_regex finds in it (no match: not cached),
// with their own timeout and status codes; the body still reaches the upstream whole.
func TestResponseCacheAdvanced(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up, _ := countingUpstream(t)
	api := cachedAPI("adv", "/adv/", up.URL, apidef.CacheOptions{EnableCache: true, CacheTimeout: 60, CacheOnlyResponseCodes: []int{200}})
	v := api.VersionData.Versions["Default"]
	v.ExtendedPaths.AdvanceCacheConfig = []apidef.CacheMeta{
		{Method: "POST", Path: "/search", CacheKeyRegex: `"q":\s*"[^"]*"`, Timeout: 5},
		{Method: "PUT", Path: "/doc"},
		{Method: "GET", Path: "/missing", CacheOnlyResponseCodes: []int{404}},
	}
	api.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{api}})
	do := func(method, path, body string) gt.Response {
		t.Helper()
		return g.Do(gt.Case{Method: method, Path: path, Body: body})
	}
	want := func(what string, r gt.Response, body string, cached bool) {
		t.Helper()
		if (body != "" && r.Body != body) || (r.Header.Get("X-Tyk-Cached-Response") == "1") != cached {
			t.Errorf("%s: %d %q (cached %q); want %q, cached %v", what, r.Code, r.Body, r.Header.Get("X-Tyk-Cached-Response"), body, cached)
		}
	}
	const search = `{"q": "tea", "page": 1}`
	first := do("POST", "/adv/search", search)
	want("a POST the expression matches", first, "", false)
	if got := first.Header.Get("X-Body-Len"); got != strconv.Itoa(len(search)) {
		t.Errorf("the upstream got %s bytes of the %d-byte body", got, len(search))
	}
	want("the same body", do("POST", "/adv/search", `{"q": "tea", "page": 1}`), first.Body, true)
	want("another body with the same match", do("POST", "/adv/search", `{"page": 2, "q": "tea"}`), first.Body, true)
	want("another match", do("POST", "/adv/search", `{"q": "coffee"}`), "", false)
	want("no match", do("POST", "/adv/search", `{"page": 3}`), "", false)
	want("no match, again: not cached", do("POST", "/adv/search", `{"page": 3}`), "", false)
	want("GET is not the entry's method", do("GET", "/adv/search", ""), "", false)
	want("GET again: not cached", do("GET", "/adv/search", ""), "", false)
	clock.Advance(6 * time.Second)
	want("past the entry's timeout of 5 s", do("POST", "/adv/search", `{"q": "tea"}`), "", false)

	doc := do("PUT", "/adv/doc", "one")
	want("a PUT keyed by its whole body", doc, "", false)
	want("the same body", do("PUT", "/adv/doc", "one"), doc.Body, true)
	want("another body", do("PUT", "/adv/doc", "two"), "", false)

	want("a 404 the entry's codes allow", do("GET", "/adv/missing", ""), "", false)
	want("kept", do("GET", "/adv/missing", ""), "", true)

	// Tyk OAS: middleware.global.cache is cache_options, an operation's cache an entry.
	oasDoc := `{"openapi": "3.0.3", "info": {"title": "cached", "version": "1"},
	  "paths": {"/items/{id}": {"get": {"operationId": "getItem",
	    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
	    "responses": {"200": {"description": "ok"}}}}},
	  "x-tyk-api-gateway": {"info": {"id": "cached-doc", "name": "cached-doc", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"}, "server": {"listenPath": {"value": "/cached-doc/", "strip": true}},
	    "middleware": {"global": {"cache": {"enabled": true, "timeout": 30}},
	      "operations": {"getItem": {"cache": {"enabled": true}}}}}}`
	g.Run(t, gt.Case{Name: "an OAS API with an operation's cache", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: oasDoc, Code: 200})
	g.Reload()
	item := do("GET", "/cached-doc/items/1", "")
	want("the operation, first", item, "", false)
	want("the operation, again", do("GET", "/cached-doc/items/1", ""), item.Body, true)
	want("another path", do("GET", "/cached-doc/other", ""), "", false)
	want("another path, again: not cached", do("GET", "/cached-doc/other", ""), "", false)
}

// TestResponseCacheKeepsClientsApart: what one client's request may not give another: a
// keyless API's answer to a request with credentials for the upstream (unless cache_by_headers
// keys by them), a partial or conditional answer, another version's answer, the answer to a
// method a transform changed, and the gateway's CORS answer for another origin; and a response
// already on its way when the cache was flushed is not kept.
func TestResponseCacheKeepsClientsApart(t *testing.T) {
	up, _ := countingUpstream(t)
	upV2, _ := countingUpstream(t)
	o := apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}
	kl := cachedAPI("kl", "/kl/", up.URL, o)
	byAuth := cachedAPI("byauth", "/byauth/", up.URL, apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true, CacheByHeaders: []string{"Authorization"}})
	versioned := cachedAPI("ver", "/ver/", up.URL, o)
	versioned.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version"}
	versioned.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: map[string]apidef.VersionInfo{
		"v1": {Name: "v1"}, "v2": {Name: "v2", OverrideTarget: upV2.URL},
	}}
	moved := cachedAPI("moved", "/moved/", up.URL, o)
	mv := moved.VersionData.Versions["Default"]
	mv.ExtendedPaths.MethodTransforms = []apidef.MethodTransformMeta{{Path: "/act", Method: "GET", ToMethod: "DELETE"}}
	moved.VersionData.Versions["Default"] = mv
	cors := cachedAPI("cors", "/cors/", up.URL, o)
	cors.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://a.example", "https://b.example"}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{kl, byAuth, versioned, moved, cors}})
	do := func(path string, headers map[string]string) gt.Response {
		t.Helper()
		return g.Do(gt.Case{Path: path, Headers: headers})
	}
	cached := func(r gt.Response) bool { return r.Header.Get("X-Tyk-Cached-Response") == "1" }

	do("/kl/who", map[string]string{"Authorization": "alice"})
	if r := do("/kl/who", map[string]string{"Authorization": "bob"}); cached(r) || !strings.Contains(r.Body, "user=bob") {
		t.Errorf("bob, from alice's address on a keyless API: %q (cached %v)", r.Body, cached(r))
	}
	do("/kl/who", map[string]string{"Cookie": "session=alice"})
	if r := do("/kl/who", map[string]string{"Cookie": "session=alice"}); cached(r) {
		t.Error("a request with a cookie was answered from the cache")
	}
	do("/byauth/who", map[string]string{"Authorization": "alice"})
	if r := do("/byauth/who", map[string]string{"Authorization": "bob"}); cached(r) || !strings.Contains(r.Body, "user=bob") {
		t.Errorf("bob, with Authorization in cache_by_headers: %q (cached %v)", r.Body, cached(r))
	}
	if r := do("/byauth/who", map[string]string{"Authorization": "alice"}); !cached(r) || !strings.Contains(r.Body, "user=alice") {
		t.Errorf("alice again, with Authorization in cache_by_headers: %q (cached %v), want her own from the cache", r.Body, cached(r))
	}

	// The same Accept-Encoding throughout (Go's client asks for gzip only without a Range).
	identity := func(h map[string]string) map[string]string {
		h["Accept-Encoding"] = "identity"
		return h
	}
	if r := do("/kl/file", identity(map[string]string{"Range": "bytes=0-9"})); r.Code != http.StatusPartialContent {
		t.Fatalf("a range request: %d", r.Code)
	}
	if r := do("/kl/file", identity(map[string]string{"If-None-Match": `"v1"`})); r.Code != http.StatusNotModified {
		t.Fatalf("a conditional request: %d", r.Code)
	}
	if r := do("/kl/file", identity(map[string]string{})); r.Code != 200 || len(r.Body) != 1000 || cached(r) {
		t.Errorf("a plain GET after a range and a conditional one: %d, %d bytes, cached %v; want the whole file from the upstream", r.Code, len(r.Body), cached(r))
	}
	if r := do("/kl/file", identity(map[string]string{"Range": "bytes=0-9"})); r.Code != http.StatusPartialContent || cached(r) {
		t.Errorf("a range request once the file is cached: %d, cached %v; want the upstream's 206", r.Code, cached(r))
	}

	v1 := do("/ver/x", map[string]string{"x-api-version": "v1"})
	if r := do("/ver/x", map[string]string{"x-api-version": "v2"}); cached(r) || r.Body == v1.Body {
		t.Errorf("v2 after v1: %q (cached %v), v1 was %q", r.Body, cached(r), v1.Body)
	}

	do("/moved/act", nil)
	if r := do("/moved/act", nil); cached(r) {
		t.Error("a GET forwarded as DELETE was answered from the cache")
	}

	do("/cors/x", map[string]string{"Origin": "https://a.example"})
	r := do("/cors/x", map[string]string{"Origin": "https://b.example"})
	if !cached(r) || r.Header.Get("Access-Control-Allow-Origin") != "https://b.example" {
		t.Errorf("origin b after origin a: Access-Control-Allow-Origin %q (cached %v); want b's own", r.Header.Get("Access-Control-Allow-Origin"), cached(r))
	}
}
