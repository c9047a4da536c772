package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// echoed decodes what the echo upstream saw from a response body.
func echoed(t *testing.T, r gt.Response) echo.Request {
	t.Helper()
	var e echo.Request
	if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &e) != nil {
		t.Fatalf("want the upstream's echo, got %d %s", r.Code, r.Body)
	}
	return e
}

func rewriteTo(path, pattern, to string) apidef.VersionInfo {
	return apidef.VersionInfo{Name: "Default", UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		URLRewrite: []apidef.URLRewriteMeta{{Path: path, Method: "GET", MatchPattern: pattern, RewriteTo: to}},
	}}
}

// TestLooping: Tyk's tyk:// targets. An API whose target_url names another API (by id or by
// looping name) has the request served by it, in process; internal APIs are reached only so;
// URL rewrites loop to a path, with Tyk's control parameters; loops are bounded.
func TestLooping(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)

	// An internal API reached by name, in front of the upstream.
	billing := gt.API("billing", "/billing/", up.URL)
	billing.Name, billing.Internal = "Billing Service #finance", true
	front := gt.API("front", "/front/", "tyk://billing-service")

	// Keyed: the loop carries the key. The looped API reads its key from another header, so
	// a request it served by looking the key up again would fail.
	orders := gt.Keyed(gt.API("orders", "/orders/", "tyk://orders-core"))
	core := gt.Keyed(gt.API("orders-core", "/orders-core/", up.URL))
	core.Internal = true
	core.Auth.AuthHeaderName = "X-Core-Key"
	core.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1, Per: 3600}

	// A rewrite loops to this API itself with another method; another asks for check_limits.
	self := gt.API("self", "/self/", up.URL)
	self.VersionData.Versions = map[string]apidef.VersionInfo{"Default": rewriteTo("/ask/{id}", "ask/([a-z]+)", "tyk://self/answer/$1?method=post")}
	limited := gt.Keyed(gt.API("limited", "/limited/", up.URL))
	limited.VersionData.Versions = map[string]apidef.VersionInfo{"Default": rewriteTo("/x", "x", "tyk://orders-core/checked?check_limits=true")}

	endless := gt.API("endless", "/endless/", "tyk://self")
	deep := gt.API("deep", "/deep/", up.URL)
	deep.VersionData.Versions = map[string]apidef.VersionInfo{"Default": rewriteTo("/x", "x", "tyk://deep/x?loop_limit=2")}
	lost := gt.API("lost", "/lost/", "tyk://no-such-api")

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{billing, front, orders, core, self, limited, endless, deep, lost}})

	e := echoed(t, g.Do(gt.Case{Path: "/front/invoices/7?full=1"}))
	if e.Path != "/invoices/7" || e.Query != "full=1" || e.Method != "GET" {
		t.Errorf("front -> billing: upstream saw %s %s?%s, want GET /invoices/7?full=1", e.Method, e.Path, e.Query)
	}
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Path: "/billing/invoices/7"}))

	key := g.CreateKey(&apidef.SessionState{AccessRights: access("orders", "orders-core", "limited")})
	narrow := g.CreateKey(&apidef.SessionState{AccessRights: access("orders")})
	auth := func(k string) map[string]string { return map[string]string{"Authorization": k} }
	for i := 0; i < 3; i++ { // orders-core's API rate limit (1 an hour) does not count loops
		e = echoed(t, g.Do(gt.Case{Path: "/orders/o/1", Headers: auth(key)}))
		if e.Path != "/o/1" {
			t.Errorf("orders -> orders-core: upstream saw %s", e.Path)
		}
	}
	g.Run(t,
		gt.Case{Name: "no key", Path: "/orders/o/1", Code: 401},
		gt.Case{Name: "a key without the looped API", Path: "/orders/o/1", Headers: auth(narrow), Code: 403, BodyMatch: jsonError("Access to this API has been disallowed")},
		gt.Case{Name: "a loop", Path: "/endless/x", Code: 500, BodyMatch: jsonError("Loop level too deep. Found more than 5 loops in single request")},
		gt.Case{Name: "loop_limit", Path: "/deep/x", Code: 500, BodyMatch: jsonError("Loop level too deep. Found more than 2 loops in single request")},
		gt.Case{Name: "no such API", Path: "/lost/x", Code: 500, BodyMatch: jsonError("Can't detect loop target")},
	)

	e = echoed(t, g.Do(gt.Case{Path: "/self/ask/why?q=1"}))
	if e.Method != "POST" || e.Path != "/answer/why" || e.Query != "q=1" {
		t.Errorf("self loop: upstream saw %s %s?%s, want POST /answer/why?q=1", e.Method, e.Path, e.Query)
	}

	// check_limits=true: the looped API looks the key up (from its own header) and counts it.
	both := map[string]string{"Authorization": key, "X-Core-Key": key}
	e = echoed(t, g.Do(gt.Case{Path: "/limited/x", Headers: both}))
	if e.Path != "/checked" {
		t.Errorf("limited -> orders-core: upstream saw %s", e.Path)
	}
	gt.Check(t, gt.Case{Code: 429}, g.Do(gt.Case{Path: "/limited/x", Headers: both}))
	gt.Check(t, gt.Case{Code: 401}, g.Do(gt.Case{Path: "/limited/x", Headers: auth(key)}))
}

// TestLoopingHostile: what a client cannot do through a loop. The control parameters are the
// definition's (a client's query changes none); the looped API's IP lists see the client the
// looping API saw; a key's quota counts when the looped API looked the key up itself (a
// keyless API in front); other auth methods check their own credentials; a load-balanced API
// with a leftover tyk:// target_url forwards to its list.
func TestLoopingHostile(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	core := gt.Keyed(gt.API("core", "/core/", up.URL))
	core.Internal = true
	core.Auth.AuthHeaderName = "X-Core-Key"
	front := gt.Keyed(gt.API("front", "/front/", up.URL))
	front.VersionData.Versions = map[string]apidef.VersionInfo{"Default": rewriteTo("/x/{id}", "x/(.*)", "tyk://core/$1?check_limits=true")}

	blocking := gt.API("blocking", "/blocking/", up.URL)
	blocking.EnableIPBlacklisting, blocking.BlacklistedIPs = true, []string{"192.0.2.1"}
	blockFront := gt.API("block-front", "/block-front/", "tyk://blocking")
	allowing := gt.API("allowing", "/allowing/", up.URL)
	allowing.EnableIPWhiteListing, allowing.AllowedIPs = true, []string{"10.1.2.3"}
	allowFront := gt.API("allow-front", "/allow-front/", "tyk://allowing")

	quota := gt.Keyed(gt.API("quota", "/quota/", up.URL))
	quotaFront := gt.API("quota-front", "/quota-front/", "tyk://quota")

	basic := gt.API("basic", "/basic/", up.URL)
	basic.UseKeylessAccess, basic.UseBasicAuth, basic.Internal = false, true, true
	basicFront := gt.Keyed(gt.API("basic-front", "/basic-front/", "tyk://basic"))

	lb := gt.API("lb", "/lb/", "tyk://nowhere")
	lb.Proxy.EnableLoadBalancing, lb.Proxy.Targets = true, []string{up.URL}

	g := gt.Start(t, gt.Options{
		APIs:   []*apidef.APIDefinition{core, front, blocking, blockFront, allowing, allowFront, quota, quotaFront, basic, basicFront, lb},
		Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} },
	})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("front", "core", "basic-front", "basic")})
	auth := map[string]string{"Authorization": key}
	// check_limits=true: core looks the key up in X-Core-Key, which the client did not send.
	for _, q := range []string{"", "?check_limits=false", "?method=delete", "?loop_limit=100&check_limits=false"} {
		gt.Check(t, gt.Case{Code: 401}, g.Do(gt.Case{Path: "/front/x/a" + q, Headers: auth}))
	}
	e := echoed(t, g.Do(gt.Case{Path: "/front/x/a?method=delete", Headers: map[string]string{"Authorization": key, "X-Core-Key": key}}))
	if e.Method != "GET" || e.Query != "method=delete" {
		t.Errorf("a client's ?method=delete: upstream saw %s ?%s, want GET with the client's query", e.Method, e.Query)
	}

	xff := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	g.Run(t,
		gt.Case{Name: "blocked directly", Path: "/blocking/x", Headers: xff("192.0.2.1"), Code: 403},
		gt.Case{Name: "blocked through a loop", Path: "/block-front/x", Headers: xff("192.0.2.1"), Code: 403},
		gt.Case{Name: "another client through a loop", Path: "/block-front/x", Headers: xff("192.0.2.9"), Code: 200},
		gt.Case{Name: "allowed through a loop", Path: "/allow-front/x", Headers: xff("10.1.2.3"), Code: 200},
		gt.Case{Name: "not allowed through a loop", Path: "/allow-front/x", Headers: xff("10.9.9.9"), Code: 403},
		gt.Case{Name: "basic auth asks its own credentials", Path: "/basic-front/x", Headers: auth, Code: 400, BodyMatch: "not in basic auth format"},
		gt.Case{Name: "load balancing", Path: "/lb/x", Code: 200},
	)

	limited := g.CreateKey(&apidef.SessionState{AccessRights: access("quota"), QuotaMax: 1, QuotaRenewalRate: 3600})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/quota-front/x", Headers: map[string]string{"Authorization": limited}}))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: "Quota exceeded"}, g.Do(gt.Case{Path: "/quota-front/x", Headers: map[string]string{"Authorization": limited}}))
}

// TestLoopingInternalEndpoints: an endpoint in extended_paths.internal answers 403 to a client
// and serves a loop, in a white-listed version too.
func TestLoopingInternalEndpoints(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	internalEntry := json.RawMessage(`{"path": "/secret", "method": "GET"}`)
	guarded := gt.API("guarded", "/guarded/", up.URL)
	v := rewriteTo("/open", "open", "tyk://self/secret")
	v.ExtendedPaths.Internal = []json.RawMessage{internalEntry}
	guarded.VersionData.Versions = map[string]apidef.VersionInfo{"Default": v}
	listed := gt.API("listed", "/listed/", up.URL)
	w := rewriteTo("/open", "open", "tyk://self/secret")
	w.ExtendedPaths.URLRewrite = append(w.ExtendedPaths.URLRewrite, apidef.URLRewriteMeta{Path: "/fwd/*", Method: "GET", MatchPattern: "fwd/(.*)", RewriteTo: "tyk://self/se$1"})
	w.ExtendedPaths.Internal = []json.RawMessage{internalEntry}
	w.ExtendedPaths.WhiteList = []apidef.EndPointMeta{{Path: "/open", Method: "GET"}, {Path: "/fwd/*", Method: "GET"}}
	listed.VersionData.Versions = map[string]apidef.VersionInfo{"Default": w}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{guarded, listed}})
	for _, api := range []string{"/guarded", "/listed"} {
		gt.Check(t, gt.Case{Code: 403, BodyMatch: jsonError("Requested endpoint is forbidden")}, g.Do(gt.Case{Path: api + "/secret"}))
		gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: api + "/x/secret;a=b"}))
		if e := echoed(t, g.Do(gt.Case{Path: api + "/open"})); e.Path != "/secret" {
			t.Errorf("%s/open: upstream saw %s, want the loop to /secret", api, e.Path)
		}
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/guarded/other"}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/listed/other"}))
	// The refusal ignores case; the grant to loops names no more than the entry.
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/guarded/SECRET"}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/listed/fwd/cret-dump"}))
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/listed/fwd/crets/all"}))
	if e := echoed(t, g.Do(gt.Case{Path: "/listed/fwd/cret"})); e.Path != "/secret" {
		t.Errorf("/listed/fwd/cret: upstream saw %s", e.Path)
	}
}

// TestLoopingSeveralAuthMethods: a looped API with several auth methods takes the looping
// API's key for its key check; its base identity (here a basic auth user) is the session in
// force, and that session's limits count.
func TestLoopingSeveralAuthMethods(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	multi := gt.Keyed(gt.API("multi", "/multi/", up.URL))
	multi.Internal, multi.UseBasicAuth = true, true
	multi.AuthConfigs = map[string]apidef.AuthConfig{"basic": {AuthHeaderName: "Authorization"}, "authToken": {AuthHeaderName: "X-Api-Key"}}
	multi.BaseIdentityProvidedBy = apidef.AuthBasicUser
	front := gt.Keyed(gt.API("front", "/front/", "tyk://multi"))
	front.Auth.AuthHeaderName = "X-Front-Key"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{multi, front}})
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/alice",
		Body: `{"rate": 1, "per": 3600, "access_rights": {"multi": {"api_id": "multi", "versions": ["Default"]}}, "basic_auth_data": {"password": "pw-alice"}}`}); r.Code != 200 {
		t.Fatalf("creating alice: %d %s", r.Code, r.Body)
	}
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("front", "multi")})
	h := map[string]string{"X-Front-Key": key, "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw-alice"))}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/front/x", Headers: h}))
	gt.Check(t, gt.Case{Code: 429}, g.Do(gt.Case{Path: "/front/x", Headers: h}))
}

// TestLoopingPluginReadsSession: a looped API's plugin that reads the session (a copy of the
// carried one) leaves the key the looping API's: the looped API's limits still skip it.
func TestLoopingPluginReadsSession(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	inner := gt.Keyed(gt.API("inner", "/inner/", up.URL))
	inner.Internal = true
	inner.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", PostKeyAuth: hooks(so, "MyPluginPostKeyAuth")}
	front := gt.Keyed(gt.API("front", "/front/", "tyk://inner"))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{inner, front}})
	key := g.CreateKey(&apidef.SessionState{Rate: 1, Per: 3600, AccessRights: access("front", "inner")})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/front/x", Headers: map[string]string{"Authorization": key}}))
}

// TestLoopControlsRefusedByTheGatewayAPI: a URL rewrite looping with a control parameter
// Gatehouse does not read (an unknown key, loop_limit out of 1 to 100, a method that is not
// one) is refused when the definition is validated: the Gateway API answers 400 naming the
// entry and the problem (as a reload's check would), Classic and OAS, and stores nothing.
func TestLoopControlsRefusedByTheGatewayAPI(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	classic := func(id, to string, trigger bool) string {
		def := gt.API(id, "/"+id+"/", up.URL)
		v := rewriteTo("/x", "x", to)
		if trigger {
			v = rewriteTo("/x", "x", "/y")
			v.ExtendedPaths.URLRewrite[0].Triggers = []apidef.RoutingTrigger{{On: "any", RewriteTo: to}}
		}
		def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": v}
		b, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The entry as validation names it (a compile error names it otherwise).
	const entry = `invalid definition: version_data.versions["Default"].extended_paths.url_rewrites[0]`
	refused(t, g, "POST", "/tyk/apis", classic("limit", "tyk://self/y?loop_limit=500", false),
		entry+`.rewrite_to: "tyk://self/y?loop_limit=500": loop_limit "500": want a number from 1 to 100`)
	refused(t, g, "POST", "/tyk/apis", classic("key", "tyk://self/y?page=2", false),
		entry+`.rewrite_to: "tyk://self/y?page=2": query parameter "page": a looping target's query holds only method, loop_limit and check_limits`)
	refused(t, g, "POST", "/tyk/apis", classic("method", "tyk://self/y?method=G%20T", false),
		entry+`.rewrite_to: "tyk://self/y?method=G%20T": method "G T" is not an HTTP method`)
	refused(t, g, "POST", "/tyk/apis", classic("trigger", "tyk://self/z?loop_limit=0", true),
		entry+`.triggers[0].rewrite_to: "tyk://self/z?loop_limit=0": loop_limit "0": want a number from 1 to 100`)
	if r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: classic("good", "tyk://self/y?method=post&loop_limit=100&check_limits=true", false)}); r.Code != 200 {
		t.Fatalf("a looping rewrite with controls in range: %d %s", r.Code, r.Body)
	}
	// An update is checked as a creation is.
	refused(t, g, "PUT", "/tyk/apis/good", classic("good", "tyk://self/y?loop_limit=101", false), `loop_limit "101": want a number from 1 to 100`)

	doc := strings.Replace(catDoc(up, "oas-loop", "/oas-loop/"), `"ping": {"mockResponse"`,
		`"ping": {"urlRewrite": {"enabled": true, "pattern": "ping", "rewriteTo": "tyk://self/y?loop_limit=500"}, "mockResponse"`, 1)
	refused(t, g, "POST", "/tyk/apis/oas", doc, "invalid definition: ", `url_rewrites[0].rewrite_to: "tyk://self/y?loop_limit=500": loop_limit "500"`)

	r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis"})
	var stored []struct {
		APIID string `json:"api_id"`
	}
	if err := json.Unmarshal([]byte(r.Body), &stored); err != nil || len(stored) != 1 || stored[0].APIID != "good" {
		t.Errorf("stored APIs: want only good, got %d %s", r.Code, r.Body)
	}
	if strings.Contains(r.Body, "loop_limit=101") {
		t.Errorf("the refused update of good was stored: %s", r.Body)
	}
}
