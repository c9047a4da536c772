package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// URL rewrites through the gateway: the upstream gets the rewritten path on its own host, the
// listen path stripped only when the target holds it, and hostile captures never leave it.
func TestURLRewrites(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.API("rewrites", "/rw/", up.URL+"/base"), apidef.ExtendedPathsSet{
		URLRewrite: []apidef.URLRewriteMeta{
			{Path: "/v0/", Method: "GET", MatchPattern: `/rw/v0/(.*)`, RewriteTo: "/ledger/$1"},
			{Path: "/keep", Method: "GET", MatchPattern: `/rw/keep/(\w+)`, RewriteTo: "/rw/kept/$1"},
			{Path: "/route", Method: "GET", MatchPattern: `/route`, RewriteTo: "/default", Triggers: []apidef.RoutingTrigger{
				{On: "any", RewriteTo: "/gold/$tyk_context.trigger-0-X-Tier-0", Options: apidef.RoutingTriggerOptions{
					HeaderMatches: map[string]apidef.StringRegexMap{"X-Tier": {MatchRx: "^gold"}}}},
				{On: "any", RewriteTo: "/by-path/$tyk_context.path_parts", Options: apidef.RoutingTriggerOptions{
					QueryValMatches: map[string]apidef.StringRegexMap{"p": {MatchRx: "1"}}}},
			}},
			{Path: "/old", Method: "GET", MatchPattern: `/old`, RewriteTo: "/new"},
		},
		MethodTransforms: []apidef.MethodTransformMeta{{Path: "/old", Method: "GET", ToMethod: "POST"}},
	})
	def.EnableContextVars = true
	badRegexp := withExtended(gt.API("rewrites-bad", "/rw-bad/", up.URL), apidef.ExtendedPathsSet{
		URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: `(`, RewriteTo: "/y"}},
	})
	loop := withExtended(gt.API("rewrites-loop", "/rw-loop/", up.URL), apidef.ExtendedPathsSet{
		URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: `(x)`, RewriteTo: "tyk://$1/y"}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, badRegexp, loop}})
	last := func(t *testing.T, wantPath, wantQuery, wantMethod string) {
		t.Helper()
		r, ok := up.Last()
		if !ok {
			t.Fatal("the upstream saw nothing")
		}
		if r.Path != wantPath || r.Query != wantQuery || (wantMethod != "" && r.Method != wantMethod) {
			t.Errorf("upstream got %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, wantMethod, wantPath, wantQuery)
		}
	}
	for _, tc := range []struct {
		name                string
		c                   gt.Case
		wantPath, wantQuery string
		wantMethod          string
	}{
		{name: "group into a path", c: gt.Case{Path: "/rw/v0/accounts/7?x=1", Code: 200}, wantPath: "/base/ledger/accounts/7", wantQuery: "x=1"},
		{name: "listen path in the target is stripped", c: gt.Case{Path: "/rw/keep/abc", Code: 200}, wantPath: "/base/kept/abc"},
		{name: "header trigger", c: gt.Case{Path: "/rw/route", Headers: map[string]string{"X-Tier": "gold-plus"}, Code: 200}, wantPath: "/base/gold/gold"},
		{name: "query trigger with a context variable", c: gt.Case{Path: "/rw/route?p=1", Code: 200}, wantPath: "/base/by-path/rw,route"},
		{name: "no trigger", c: gt.Case{Path: "/rw/route", Code: 200}, wantPath: "/base/default"},
		{name: "method transform still matches the client's path", c: gt.Case{Path: "/rw/old", Code: 200}, wantPath: "/base/new", wantMethod: "POST"},
		{name: "scheme-relative capture stays on the upstream", c: gt.Case{Path: "/rw/v0//evil.example/x", Code: 200}, wantPath: "/base/ledger/evil.example/x"},
		{name: "absolute URL capture stays on the upstream", c: gt.Case{Path: "/rw/v0/http://evil.example/x", Code: 200}, wantPath: "/base/ledger/http:/evil.example/x"},
		{name: "encoded dot segments in a capture", c: gt.Case{Path: "/rw/v0/%252e%252e/admin", Code: 200}, wantPath: "/base/ledger/%2e%2e/admin"},
		{name: "at-sign capture stays on the upstream", c: gt.Case{Path: "/rw/v0/@evil.example/x", Code: 200}, wantPath: "/base/ledger/@evil.example/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Name = tc.name
			g.Run(t, tc.c)
			if tc.wantPath != "" {
				last(t, tc.wantPath, tc.wantQuery, tc.wantMethod)
			}
		})
	}
	for _, r := range up.Requests() {
		if r.Host != up.Listener.Addr().String() {
			t.Errorf("a request reached host %q", r.Host)
		}
	}
	g.Run(t,
		gt.Case{Name: "bad regexp refuses the definition", Path: "/rw-bad/x", Code: 404},
		gt.Case{Name: "a tyk:// target whose API comes from the request refuses the definition", Path: "/rw-loop/x", Code: 404},
	)
	logs := g.Logs()
	for _, want := range []string{`url_rewrites[0].match_pattern: \"(\" is not a valid regular expression`, "must be written out, not taken from the request"} {
		if !contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// A Tyk OAS operation's urlRewrite is served through its Classic mapping, triggers included.
func TestOASURLRewrite(t *testing.T) {
	up := gt.NewUpstream(t)
	doc := `{"openapi": "3.0.3", "info": {"title": "Users", "version": "1"},
	  "paths": {"/users/{id}": {"get": {"operationId": "getUser"}}},
	  "x-tyk-api-gateway": {
	    "info": {"id": "users-rw", "name": "Users", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"},
	    "server": {"listenPath": {"value": "/users-api/", "strip": true}},
	    "middleware": {"operations": {"getUser": {"urlRewrite": {"enabled": true, "pattern": "/users/(\\d+)", "rewriteTo": "/people/$1",
	      "triggers": [{"condition": "any", "rewriteTo": "/vip/$1", "rules": [{"in": "header", "name": "X-Tier", "pattern": "^gold$"}]}]}}}}}}`
	g := gt.Start(t, gt.Options{})
	g.WriteFile("users-rw.json", []byte(doc))
	g.Reload()
	for _, tc := range []struct {
		name, tier, want string
	}{
		{"base target", "", "/people/7"},
		{"trigger", "gold", "/vip/7"},
	} {
		c := gt.Case{Name: tc.name, Path: "/users-api/users/7", Code: 200}
		if tc.tier != "" {
			c.Headers = map[string]string{"X-Tier": tc.tier}
		}
		g.Run(t, c)
		if seen, _ := up.Last(); seen.Path != tc.want {
			t.Errorf("%s: upstream saw %s, want %s", tc.name, seen.Path, tc.want)
		}
	}
}
