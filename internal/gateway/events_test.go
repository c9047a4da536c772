package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// hook is a webhook as the receiver got it.
type hook struct {
	method, path, secret string
	body                 map[string]any
}

// TestEventHandlers: an API's event_handlers, Tyk's: webhooks (the built-in template or one in
// app_path, html-escaped, read again at reload; header_map, event_timeout, GET by default) and
// the log handler, on QuotaExceeded, AuthFailure, RatelimitExceeded, KeyExpired,
// BreakerTripped and HostDown; never the key itself. A handler that cannot be set up never
// refuses the API: it is left out, or its template gives way to the default one.
func TestEventHandlers(t *testing.T) {
	recv := newHookReceiver(t)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/flaky") || r.URL.Path == "/health" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer flaky.Close()
	hooks := recv.at
	waitHooks := func(path string, n int) []hook {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if hs := hooks(path); len(hs) >= n {
				return hs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d webhooks after 10 s, want %d", path, len(hooks(path)), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	webhook := func(path string, extra string) apidef.EventHandler {
		return apidef.EventHandler{HandlerName: "eh_web_hook_handler",
			HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + path + `", "template_path": "templates/default_webhook.json",
				"header_map": {"X-Hook-Secret": "s3"}` + extra + `}`)}
	}
	def := gt.Keyed(gt.API("ev", "/ev/", flaky.URL))
	def.OrgID = "acme"
	def.Proxy.EnableLoadBalancing, def.Proxy.Targets = true, []string{flaky.URL}
	def.UptimeTests.CheckList = []apidef.HostCheck{{URL: flaky.URL + "/health", Timeout: 5 * time.Second}}
	v := def.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.CircuitBreaker = []apidef.CircuitBreakerMeta{{Path: "/flaky", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 60}}
	def.VersionData.Versions["Default"] = v
	def.EventHandlers.Events = map[string][]apidef.EventHandler{
		"QuotaExceeded": {webhook("/quota", "")},
		"AuthFailure":   {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"target_path": "` + recv.URL + `/auth", "template_path": "auth-hook.tmpl", "event_timeout": 60}`)}},
		"KeyExpired": {webhook("/expired", ""),
			{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"target_path": "not a URL"}`)}},
		"BreakerTriggered":  {webhook("/triggered", "")},
		"BreakerTripped":    {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/breaker", "template_path": "../outside.json"}`)}},
		"HostDown":          {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/host", "template_path": "host-hook.tmpl"}`)}},
		"RatelimitExceeded": {{HandlerName: "eh_log_handler", HandlerMeta: json.RawMessage(`{"prefix": "ratelimits"}`)}},
		"TokenCreated":      {webhook("/never", "")},
	}
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.UptimeTests.Config.TimeWait, c.UptimeTests.Config.FailureTriggerSampleSize = 1, 1
	}})
	g.WriteFile("host-hook.tmpl", []byte(`{"event": "{{.Type}}", "org": "{{.Meta.OrgID}}", "api": "{{.Meta.APIID}}", "host": "{{.Meta.HostInfo.Host}}"}`))
	g.WriteFile("auth-hook.tmpl", []byte(`{"type": "{{.Type}}", "api": "{{.Meta.APIID}}", "path": "{{.Meta.Path}}", "org": "{{.Meta.OrgID}}"}`))
	g.WriteAPI(def)
	g.Reload()

	key := g.CreateKey(&apidef.SessionState{Rate: 1, Per: 60, QuotaMax: 1, QuotaRenewalRate: 3600, AccessRights: access("ev")})
	auth := map[string]string{"Authorization": key}
	g.Run(t,
		gt.Case{Name: "first request", Path: "/ev/x", Headers: auth, Code: 200},
		gt.Case{Name: "rate limited", Path: "/ev/x", Headers: auth, Code: 429},
		gt.Case{Name: "unknown key", Path: "/ev/a", Headers: map[string]string{"Authorization": "nope-0123456789"}, Code: 403},
		gt.Case{Name: "unknown key, same path: within event_timeout", Path: "/ev/a", Headers: map[string]string{"Authorization": "nope-0123456789"}, Code: 403},
		gt.Case{Name: "unknown key, a path with quotes", Path: `/ev/b","type":"forged`, Headers: map[string]string{"Authorization": "nope-0123456789"}, Code: 403},
		gt.Case{Name: "no key: no event, as in Tyk", Path: "/ev/nokey", Code: 401},
	)
	quotaKey := g.CreateKey(&apidef.SessionState{QuotaMax: 1, QuotaRenewalRate: 3600, AccessRights: access("ev")})
	g.Run(t,
		gt.Case{Name: "quota (1)", Path: "/ev/x", Headers: map[string]string{"Authorization": quotaKey}, Code: 200},
		gt.Case{Name: "quota used", Path: "/ev/x", Headers: map[string]string{"Authorization": quotaKey}, Code: 403},
	)
	expired := g.CreateKey(&apidef.SessionState{Expires: time.Now().Add(-time.Hour).Unix(), AccessRights: access("ev")})
	g.Run(t, gt.Case{Name: "expired key", Path: "/ev/x", Headers: map[string]string{"Authorization": expired}, Code: 401})
	inactive := g.CreateKey(&apidef.SessionState{IsInactive: true, AccessRights: access("ev")})
	g.Run(t, gt.Case{Name: "inactive key", Path: "/ev/y", Headers: map[string]string{"Authorization": inactive}, Code: 403})
	free := g.CreateKey(&apidef.SessionState{AccessRights: access("ev")})
	for range 2 {
		g.Do(gt.Case{Path: "/ev/flaky", Headers: map[string]string{"Authorization": free}})
	}

	q := waitHooks("/quota", 1)[0]
	if q.method != "POST" || q.secret != "s3" || q.body["event"] != "QuotaExceeded" || q.body["message"] != "Key Quota Limit Exceeded" || q.body["path"] != "/ev/x" || q.body["origin"] != "127.0.0.1" {
		t.Errorf("QuotaExceeded webhook: %+v", q)
	}
	if k, _ := q.body["key"].(string); len(k) != 12 || strings.Contains(quotaKey, k) {
		t.Errorf("the webhook's key %q: want 12 digits of the key's hash, never the key", k)
	}
	time.Sleep(300 * time.Millisecond) // the second failure on /ev/a, had it been sent
	a := waitHooks("/auth", 2)
	if len(a) != 2 {
		t.Errorf("AuthFailure webhooks: %d, want 2 (the same body within event_timeout is sent once): %+v", len(a), a)
	}
	paths := map[any]bool{}
	for _, h := range a {
		paths[h.body["path"]] = true
		if h.method != "GET" || h.body["type"] != "AuthFailure" || h.body["api"] != "ev" || h.body["org"] != "acme" {
			t.Errorf("AuthFailure webhook (no method: GET) from the app_path template: %+v", h)
		}
	}
	if !paths["/ev/a"] || !paths[`/ev/b&#34;,&#34;type&#34;:&#34;forged`] {
		t.Errorf("AuthFailure webhooks' paths %v: want /ev/a and the quoted path escaped, as html/template does", paths)
	}
	// The template file changed: the next reload sends the new one.
	g.WriteFile("auth-hook.tmpl", []byte(`{"type": "{{.Type}}", "v": "2"}`))
	g.Reload()
	g.Run(t, gt.Case{Name: "after the template changed", Path: "/ev/c", Headers: map[string]string{"Authorization": "nope-0123456789"}, Code: 403})
	if h := waitHooks("/auth", 3)[2]; h.body["v"] != "2" {
		t.Errorf("after the template file changed and a reload: %+v", h.body)
	}
	ex := waitHooks("/expired", 2)
	msgs := map[any]bool{}
	for _, e := range ex {
		if e.body["event"] != "KeyExpired" {
			t.Errorf("KeyExpired webhook: %+v", e.body)
		}
		msgs[e.body["message"]] = true
	}
	if !msgs["Attempted access from expired key."] || !msgs["Attempted access from inactive key."] {
		t.Errorf("KeyExpired webhooks' messages %v: want Tyk's for an expired and an inactive key", msgs)
	}
	if tr := waitHooks("/triggered", 1)[0]; tr.body["event"] != "BreakerTriggered" || tr.body["message"] != "Breaker Tripped" {
		t.Errorf("BreakerTriggered webhook: %+v", tr.body)
	}
	if b := waitHooks("/breaker", 1)[0]; b.body["event"] != "BreakerTripped" {
		t.Errorf("BreakerTripped webhook: %+v", b.body)
	}
	if h := waitHooks("/host", 1)[0]; h.body["event"] != "HostDown" || h.body["org"] != "acme" || h.body["api"] != "ev" {
		t.Errorf("HostDown webhook: %+v", h.body)
	}
	if n := len(hooks("/never")); n != 0 {
		t.Errorf("an event Gatehouse does not fire sent %d webhooks", n)
	}
	logs := g.Logs()
	for _, want := range []string{`prefix=ratelimits event=RatelimitExceeded api_id=ev`, `event_handlers.events[\"TokenCreated\"]`,
		`webhook not set up: the event will not be sent`, `webhook template not read: the default one is used`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if strings.Contains(logs, key) {
		t.Error("the log holds a key")
	}
	if strings.Contains(logs, "not a URL") {
		t.Error("the log holds a webhook's target_path")
	}
}

// TestPluginForbiddenFiresAuthFailure: a request hook that answers 403 fires AuthFailure with
// the key "n/a", as Tyk's Go plugin middleware does; one that answers otherwise fires nothing.
func TestPluginForbiddenFiresAuthFailure(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	var mu sync.Mutex
	var got []map[string]any
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	up := gt.NewUpstream(t)
	api := func(id, hook string) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		d.OrgID = "acme"
		d.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, hook)}
		d.EventHandlers.Events = map[string][]apidef.EventHandler{"AuthFailure": {{HandlerName: "eh_web_hook_handler",
			HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/` + id + `", "template_path": "hook.tmpl"}`)}}}
		return d
	}
	g := gt.Start(t, gt.Options{})
	g.WriteFile("hook.tmpl", []byte(`{"event": "{{.Type}}", "api": "{{.Meta.APIID}}", "org": "{{.Meta.OrgID}}", "key": "{{.Meta.Key}}", "path": "{{.Meta.Path}}"}`))
	g.WriteAPI(api("refuses", "RejectWithBody"))
	g.WriteAPI(api("passes", "MyPluginPre"))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "the hook's 403", Path: "/refuses/x", Code: http.StatusForbidden, BodyEquals: "hello"},
		gt.Case{Name: "a hook that lets the request on", Path: "/passes/x", Code: http.StatusOK},
	)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a second webhook, were one wrongly sent, arrives too
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("webhooks %v, want the one AuthFailure", got)
	}
	if b := got[0]; b["event"] != "AuthFailure" || b["api"] != "refuses" || b["org"] != "acme" || b["key"] != "n/a" || b["path"] != "/refuses/x" {
		t.Errorf("webhook %v", b)
	}
}

// TestVersionFailureEvent: a request refused for its version (one that does not exist, one that
// expired) or for an endpoint the lists forbid fires VersionFailure, with Tyk's message and the
// reason, as Tyk's version check does.
func TestVersionFailureEvent(t *testing.T) {
	type hit struct{ Reason, Path, Message string }
	got := make(chan hit, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h hit
		_ = json.NewDecoder(r.Body).Decode(&h)
		got <- h
	}))
	defer recv.Close()
	up := gt.NewUpstream(t)
	def := gt.API("vf", "/vf/", up.URL)
	def.VersionData.NotVersioned = false
	def.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version"}
	v1 := apidef.VersionInfo{Name: "v1", UseExtendedPaths: true}
	v1.ExtendedPaths.BlackList = []apidef.EndPointMeta{{Path: "/admin", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}}}}
	def.VersionData.Versions = map[string]apidef.VersionInfo{"v1": v1, "old": {Name: "old", Expires: "2020-01-01 00:00"}}
	def.EventHandlers.Events = map[string][]apidef.EventHandler{"VersionFailure": {{HandlerName: "eh_web_hook_handler",
		HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/vf", "template_path": "vf.tmpl"}`)}}}
	g := gt.Start(t, gt.Options{})
	g.WriteFile("vf.tmpl", []byte(`{"Reason": "{{.Meta.Reason}}", "Path": "{{.Meta.Path}}", "Message": "{{.Meta.Message}}"}`))
	g.WriteAPI(def)
	g.ReloadAndWait()
	cases := []struct {
		version, path, reason string
	}{
		{"v9", "/vf/x", "This API version does not seem to exist"},
		{"", "/vf/z", "Version information not found"},
		{"old", "/vf/y", "Api Version has expired, please check documentation or contact administrator"},
		{"v1", "/vf/admin", "Requested endpoint is forbidden"},
	}
	for _, tc := range cases {
		h := map[string]string{"X-Api-Version": tc.version}
		if tc.version == "" {
			h = nil
		}
		g.Run(t, gt.Case{Name: tc.reason, Path: tc.path, Headers: h, Code: http.StatusForbidden})
		select {
		case h := <-got:
			if h.Reason != tc.reason || h.Path != tc.path || h.Message != "Attempted access to disallowed version / path." {
				t.Errorf("VersionFailure %+v, want reason %q for %s", h, tc.reason, tc.path)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no VersionFailure webhook", tc.path)
		}
	}
	g.Run(t, gt.Case{Name: "served: no event", Path: "/vf/ok", Headers: map[string]string{"X-Api-Version": "v1"}, Code: 200})
	select {
	case h := <-got:
		t.Errorf("an event for a request served: %+v", h)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestOASEventHandlers: a Tyk OAS API's server.eventHandlers run as Classic event_handlers do: a
// webhook (its headers, method and body) on AuthFailure; a disabled one does not run.
func TestOASEventHandlers(t *testing.T) {
	type got struct {
		path, method, token string
		body                map[string]any
	}
	hooks := make(chan got, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		hooks <- got{r.URL.Path, r.Method, r.Header.Get("X-Hook-Token"), body}
	}))
	defer recv.Close()
	up := gt.NewUpstream(t)
	doc := `{"openapi": "3.0.3", "info": {"title": "Shop", "version": "1"}, "paths": {},
	  "security": [{"shopKey": []}],
	  "components": {"securitySchemes": {"shopKey": {"type": "apiKey", "in": "header", "name": "X-Shop-Key"}}},
	  "x-tyk-api-gateway": {
	    "info": {"id": "shop", "name": "Shop", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"},
	    "server": {"listenPath": {"value": "/shop/", "strip": true},
	      "authentication": {"enabled": true, "securitySchemes": {"shopKey": {"enabled": true}}},
	      "eventHandlers": [
	        {"enabled": true, "trigger": "AuthFailure", "type": "webhook", "url": "` + recv.URL + `/auth",
	         "method": "POST", "cooldownPeriod": "0s", "bodyTemplate": "",
	         "headers": [{"name": "X-Hook-Token", "value": "t0k"}]},
	        {"enabled": false, "trigger": "AuthFailure", "type": "webhook", "url": "` + recv.URL + `/off",
	         "method": "POST", "cooldownPeriod": "0s", "bodyTemplate": ""}]}}}`
	g := gt.Start(t, gt.Options{})
	g.WriteFile("shop.json", []byte(doc))
	g.Reload()
	g.Run(t, gt.Case{Name: "wrong key", Path: "/shop/items", Headers: map[string]string{"X-Shop-Key": "nope"}, Code: 403})
	select {
	case h := <-hooks:
		if h.path != "/auth" || h.method != "POST" || h.token != "t0k" || h.body["event"] != "AuthFailure" {
			t.Errorf("webhook: %+v, want POST /auth with X-Hook-Token t0k and event AuthFailure", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook 10 s after an auth failure")
	}
	select {
	case h := <-hooks:
		t.Errorf("a second webhook arrived: %+v; the disabled one must not run", h)
	case <-time.After(300 * time.Millisecond):
	}
}
