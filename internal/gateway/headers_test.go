package gateway_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// TestHeaderTransforms sends requests through a keyed API with request and response header
// transforms and checks what the upstream received, what the client got, and what a post hook
// saw: the transformed request headers, as in Tyk.
func TestHeaderTransforms(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("hdr", "/hdr/", up.URL))
	def.EnableContextVars = true
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(so, "HeaderNames")}
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
		Name:                        "Default",
		UseExtendedPaths:            true,
		GlobalHeaders:               map[string]string{"X-Tier": "$tyk_meta.tier", "X-Request-Id": "$tyk_context.request_id", "X-Came-From": "$tyk_context.headers_X_Origin_App@$tyk_context.path"},
		GlobalHeadersRemove:         []string{"X-Internal"},
		GlobalResponseHeaders:       map[string]string{"X-Served-For": "$tyk_meta.team", "X-Same-Id": "$tyk_context.request_id"},
		GlobalResponseHeadersRemove: []string{"X-Upstream-Secret"},
		ExtendedPaths: apidef.ExtendedPathsSet{
			TransformHeader: []apidef.HeaderInjectionMeta{{
				Path: "/orders/{id}", Method: "GET", DeleteHeaders: []string{"X-Tier"},
				AddHeaders: map[string]string{"X-Order-Key": "$tyk_context.token", "X-Limit": "$tyk_meta.limit"},
			}},
			TransformResponseHeader: []apidef.HeaderInjectionMeta{{
				Path: "/orders/{id}", Method: "GET", AddHeaders: map[string]string{"Cache-Control": "no-store"},
			}},
		},
	}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	s := &apidef.SessionState{AccessRights: access("hdr")}
	s.MetaData = map[string]any{"tier": "gold", "team": "payments", "limit": float64(250)}
	key := g.CreateKey(s)

	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	auth := map[string]string{"Authorization": key, "X-Internal": "secret", "X-Origin-App": "mobile"}

	t.Run("global", func(t *testing.T) {
		r := g.Do(gt.Case{Path: "/hdr/items", Headers: auth})
		gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"X-Served-For": "payments"}, HeadersNotPresent: []string{"Cache-Control"}}, r)
		seen, _ := up.Last()
		if seen.Headers["X-Tier"] != "gold" || seen.Headers["X-Came-From"] != "mobile@/hdr/items" {
			t.Errorf("upstream headers %v: want X-Tier gold and X-Came-From mobile@/hdr/items", seen.Headers)
		}
		if _, ok := seen.Headers["X-Internal"]; ok {
			t.Errorf("upstream received X-Internal, which global_headers_remove removes")
		}
		id := seen.Headers["X-Request-Id"]
		if !uuid.MatchString(id) || r.Header.Get("X-Same-Id") != id {
			t.Errorf("request_id %q upstream, %q in the response: want one UUID for both", id, r.Header.Get("X-Same-Id"))
		}
		// The post hook ran after the transforms: it saw the added headers, not the removed one.
		saw := "," + r.Header.Get("X-Plugin-Saw") + ","
		if !strings.Contains(saw, ",X-Tier,") || strings.Contains(saw, ",X-Internal,") {
			t.Errorf("post hook saw %s; want X-Tier and not X-Internal", saw)
		}
	})
	t.Run("endpoint", func(t *testing.T) {
		r := g.Do(gt.Case{Path: "/hdr/orders/7", Headers: auth})
		gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"Cache-Control": "no-store", "X-Served-For": "payments"}}, r)
		seen, _ := up.Last()
		if _, ok := seen.Headers["X-Tier"]; ok {
			t.Errorf("upstream received X-Tier, which the endpoint entry deletes after the global add")
		}
		if seen.Headers["X-Order-Key"] != key || seen.Headers["X-Limit"] != "250" {
			t.Errorf("upstream headers %v: want X-Order-Key the key and X-Limit 250", seen.Headers)
		}
	})
	t.Run("gateway errors are not transformed", func(t *testing.T) {
		g.Run(t, gt.Case{Path: "/hdr/items", Code: 401, HeadersNotPresent: []string{"X-Served-For"}})
	})
}

// TestHeaderTransformsRefusedVariables: a header value with a secret variable from a key-value
// store (Vault here) refuses the definition, rather than send the variable's text upstream.
func TestHeaderTransformsRefusedVariables(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("hdr-secret", "/hdr-secret/", up.URL)
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", GlobalHeaders: map[string]string{"Authorization": "Bearer $secret_vault.kv/token"}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Path: "/hdr-secret/x", Code: 404})
}

// TestHeaderRemoteAddrTrustedProxy: $tyk_context.remote_addr is the TCP peer, or, when the peer
// is one of trusted_proxies, the client X-Forwarded-For names; a client's own X-Forwarded-For
// never counts otherwise. (The API has no IP list: the address is decided for the variable.)
func TestHeaderRemoteAddrTrustedProxy(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("ra", "/ra/", up.URL)
	def.EnableContextVars = true
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
		Name: "Default", UseExtendedPaths: true,
		GlobalHeaders: map[string]string{"X-Client": "$tyk_context.remote_addr"},
	}}
	xff := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	for _, tc := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"peer not trusted", nil, "127.0.0.1"},
		{"peer trusted", []string{"127.0.0.1/32"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def},
				Config: func(c *config.Config) { c.TrustedProxies = tc.trusted }})
			gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/ra/x", Headers: xff}))
			seen, _ := up.Last()
			if got := seen.Headers["X-Client"]; got != tc.want {
				t.Errorf("X-Client = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestContextVarsOutsideHeaders: a URL rewrite reads the context variables as the header
// transforms do: remote_addr is the address trusted_proxies decide (though nothing else on the
// API needs it), and request_id is the request's one id wherever it is used.
func TestContextVarsOutsideHeaders(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("rwvars", "/rwvars/", up.URL)
	def.EnableContextVars = true
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
		Name: "Default", UseExtendedPaths: true,
		GlobalHeaders: map[string]string{"X-Req": "$tyk_context.request_id"},
		ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{
			Path: "/who", Method: "GET", MatchPattern: "/who$",
			RewriteTo: "/rwvars/seen?ip=$tyk_context.remote_addr&id=$tyk_context.request_id",
		}}},
	}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def},
		Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/rwvars/who", Headers: map[string]string{"X-Forwarded-For": "203.0.113.9"}}))
	seen, _ := up.Last()
	q, err := url.ParseQuery(seen.Query)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("ip") != "203.0.113.9" {
		t.Errorf("the rewrite's remote_addr = %q, want the client behind the trusted proxy, 203.0.113.9", q.Get("ip"))
	}
	if id := seen.Headers["X-Req"]; id == "" || q.Get("id") != id {
		t.Errorf("request_id %q in the rewrite, %q in the header: want one id", q.Get("id"), id)
	}
}

// TestSecretVariables: $secret_env.<name> (TYK_SECRET_<NAME>) and $secret_conf.<name> (the
// configuration's secrets) reach the upstream in header transforms and URL rewrite targets, as
// in Tyk; a secret's value is never read as variables itself, and one that holds a line break
// cannot split a header. One with no value is empty, and the gateway warns, naming where to set it.
func TestSecretVariables(t *testing.T) {
	t.Setenv("TYK_SECRET_UPSTREAM_TOKEN", "env-token-1")
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("secrets", "/sec/", up.URL))
	def.EnableContextVars = true
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
		Name: "Default", UseExtendedPaths: true,
		GlobalHeaders: map[string]string{
			"Authorization": "Bearer $secret_env.upstream_token",
			"X-Conf":        "<$secret_conf.partner>",
			"X-Tricky":      "$secret_conf.tricky",
			"X-Broken":      "$secret_conf.broken",
			"X-Unset":       "[$secret_env.not_set_anywhere]",
		},
		ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{
			Path: "/q", Method: "GET", MatchPattern: "/q$", RewriteTo: "/sec/seen?apikey=$secret_conf.partner&p=$tyk_context.path",
		}, {
			// A client's value that makes the path invalid: the error must not show the secret.
			Path: "/bad", Method: "GET", MatchPattern: `/bad\?q=(.*)`, RewriteTo: "/t/$secret_conf.partner/$1",
		}}},
	}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.Secrets = map[string]string{"partner": "conf-secret", "tricky": "$tyk_meta.role $tyk_context.path", "broken": "a\r\nX-Injected: 1"}
	}})
	key := g.CreateKey(&apidef.SessionState{MetaData: map[string]any{"role": "admin"},
		AccessRights: map[string]apidef.AccessDefinition{"secrets": {APIID: "secrets", Versions: []string{"Default"}}}})
	auth := map[string]string{"Authorization": key}
	g.Run(t, gt.Case{Name: "headers", Path: "/sec/x", Headers: auth, Code: 200})
	seen, _ := up.Last()
	want := map[string]string{"Authorization": "Bearer env-token-1", "X-Conf": "<conf-secret>",
		"X-Tricky": "$tyk_meta.role $tyk_context.path", "X-Broken": "a  X-Injected: 1", "X-Unset": "[]", "X-Injected": ""}
	for k, v := range want {
		if seen.Headers[k] != v {
			t.Errorf("upstream header %s = %q, want %q", k, seen.Headers[k], v)
		}
	}
	g.Run(t, gt.Case{Name: "rewrite", Path: "/sec/q", Headers: auth, Code: 200})
	if seen, _ = up.Last(); seen.Path != "/seen" || seen.Query != "apikey=conf-secret&p=%2Fsec%2Fq" {
		t.Errorf("rewritten: path %q query %q", seen.Path, seen.Query)
	}
	g.Run(t, gt.Case{Name: "rewrite to an invalid path", Path: "/sec/bad?q=a%2Fb", Headers: auth, Code: 400})
	logs := g.Logs()
	if !strings.Contains(logs, "the rewritten path (not shown: it holds a secret)") {
		t.Errorf("the refused rewrite is not logged as such:\n%s", logs)
	}
	if !regexp.MustCompile(`level=WARN msg="a secret variable has no value[^\n]*api_id=secrets[^\n]*\$secret_env.not_set_anywhere \(environment variable TYK_SECRET_NOT_SET_ANYWHERE\)`).MatchString(logs) {
		t.Errorf("no warning naming the unset secret:\n%s", logs)
	}
	if strings.Contains(logs, "env-token-1") || strings.Contains(logs, "conf-secret") {
		t.Errorf("a secret's value reached the log:\n%s", logs)
	}
}

// TestHeaderTransformsUnderscores: the headers a request transform removes or sets are removed
// in every spelling an upstream may read as the same name, '_' for '-' in any case (CGI and
// WSGI servers, gunicorn before 22, nginx with underscores_in_headers): a client's X_Secret must
// not reach the upstream past global_headers_remove, nor its X_Gw stand beside the gateway's
// X-Gw. Other client headers with '_' pass as sent.
func TestHeaderTransformsUnderscores(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("hdr-us", "/hdr-us/", up.URL)
	def.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {
		Name:                "Default",
		UseExtendedPaths:    true,
		GlobalHeaders:       map[string]string{"X-Gw": "1"},
		GlobalHeadersRemove: []string{"X-Secret"},
		ExtendedPaths: apidef.ExtendedPathsSet{TransformHeader: []apidef.HeaderInjectionMeta{{
			Path: "/del", Method: "GET", DeleteHeaders: []string{"X-Del"}, AddHeaders: map[string]string{"X-Set_Here": "gw"}}}},
	}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, gt.Case{Path: "/hdr-us/del", Code: 200, Headers: map[string]string{
		"X_Gw": "evil", "x_secret": "leaked", "X_SECRET": "leaked2", "X-Secret": "plain", "X_Del": "d2", "x-set-here": "client",
		"X_Other": "kept", "X-Plain": "kept"}})
	seen, _ := up.Last()
	for k, v := range seen.Headers {
		switch strings.ToLower(strings.ReplaceAll(k, "_", "-")) {
		case "x-gw":
			if k != "X-Gw" || v != "1" {
				t.Errorf("upstream got %s: %q; want only the gateway's X-Gw: 1", k, v)
			}
		case "x-set-here":
			if k != "X-Set_here" || v != "gw" {
				t.Errorf("upstream got %s: %q; want only the gateway's X-Set_here: gw", k, v)
			}
		case "x-secret", "x-del":
			t.Errorf("upstream got %s: %q, which the transforms remove", k, v)
		}
	}
	if seen.Headers["X_other"] != "kept" || seen.Headers["X-Plain"] != "kept" {
		t.Errorf("upstream headers %v: want X_other and X-Plain as sent", seen.Headers)
	}
}
