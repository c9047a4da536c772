package rewrite

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

func compileFor(t *testing.T, contextVars bool, entries ...apidef.URLRewriteMeta) *Rewrites {
	t.Helper()
	def := &apidef.APIDefinition{EnableContextVars: contextVars, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: entries}},
	}}}
	rw, err := Compile(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rw
}

// do runs the step on a request for target (listen path "/api"), returning the URL the
// upstream would be asked for (path?query) or the error.
func do(rw *Rewrites, method, target, body string, hdr map[string]string, meta map[string]any) (string, error) {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	st := &reqctx.State{Token: "tok"}
	if meta != nil {
		st.Session = &apidef.SessionState{MetaData: meta}
	}
	r = reqctx.With(r, st)
	rel := strings.TrimPrefix(r.URL.Path, "/api")
	c := &chain.Context{Version: "v1", Readings: endpoint.Readings(rel), FullPath: r.URL.Path}
	if err := rw.Step().Run(httptest.NewRecorder(), r, c); err != nil {
		return "", err
	}
	out := r.URL.Path
	if r.URL.RawQuery != "" {
		out += "?" + r.URL.RawQuery
	}
	return out, nil
}

func TestRewrite(t *testing.T) {
	rw := compileFor(t, true,
		apidef.URLRewriteMeta{Path: "/v0/", Method: "GET", MatchPattern: `/v0/(\w+)/(\w+)`, RewriteTo: "/ledger/$2/$1"},
		apidef.URLRewriteMeta{Path: "/q", Method: "GET", MatchPattern: `/q\?id=(\d+)`, RewriteTo: "/items/$1?src=q"},
		apidef.URLRewriteMeta{Path: "/plain", Method: "GET", MatchPattern: `/plain`, RewriteTo: "/other"},
		apidef.URLRewriteMeta{Path: "/vars", Method: "GET", MatchPattern: `/vars`, RewriteTo: "/v?tier=$tyk_meta.tier&h=$tyk_context.headers_X_Tag&tok=$tyk_context.token"},
		apidef.URLRewriteMeta{Path: "/dec", Method: "GET", MatchPattern: `/dec/a b`, RewriteTo: "/decoded"},
		apidef.URLRewriteMeta{Path: "/many", Method: "GET", MatchPattern: `/many/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)`, RewriteTo: "/m/$10/$1"},
		apidef.URLRewriteMeta{Path: "/grab", Method: "GET", MatchPattern: `/grab/(.*)`, RewriteTo: "/safe/$1"},
		apidef.URLRewriteMeta{Path: "/hv", Method: "GET", MatchPattern: `/hv`, RewriteTo: "/h/$tyk_context.headers_X_Dest"},
		apidef.URLRewriteMeta{Path: "/hq", Method: "GET", MatchPattern: `/hq`, RewriteTo: "/h?d=$tyk_context.headers_X_Dest"},
		apidef.URLRewriteMeta{Path: "/off", Method: "GET", MatchPattern: `/off`, RewriteTo: "/never", Disabled: true},
	)
	for _, tc := range []struct {
		name, method, target string
		hdr                  map[string]string
		want                 string
		wantStatus           int
	}{
		{name: "groups swapped", target: "/api/v0/abc/def", want: "/ledger/def/abc"},
		{name: "query matched and dropped unless kept", target: "/api/q?id=42&x=1", want: "/items/42?src=q"},
		{name: "client query replaced as the URL is", target: "/api/plain?x=1", want: "/other"},
		{name: "other method: untouched", method: "POST", target: "/api/plain?x=1", want: "/api/plain?x=1"},
		{name: "pattern does not match: untouched", target: "/api/q?name=x", want: "/api/q?name=x"},
		{name: "variables query-escaped", target: "/api/vars", hdr: map[string]string{"X-Tag": "a&b=c"}, want: "/v?tier=gold+plan&h=a%26b%3Dc&tok=tok"},
		{name: "decoded form tried second", target: "/api/dec/a%20b", want: "/decoded"},
		{name: "two-digit group", target: "/api/many/abcdefghij", want: "/m/j/a"},
		{name: "disabled entry", target: "/api/off", want: "/api/off"},

		// Hostile input: the result stays a path on the same upstream.
		{name: "scheme-relative capture", target: "/api/grab//evil.example/x", want: "/safe/evil.example/x"},
		{name: "absolute URL capture", target: "/api/grab/http://evil.example/x", want: "/safe/http:/evil.example/x"},
		{name: "encoded dot segments refused", target: "/api/grab/%2e%2e/%2e%2e/admin", wantStatus: 400},
		{name: "encoded slash refused", target: "/api/grab/a%2fb", wantStatus: 400},
		{name: "encoded backslash refused", target: "/api/grab/a%5Cevil.example", wantStatus: 400},
		{name: "at-sign stays in the path", target: "/api/grab/user@evil.example/x", want: "/safe/user@evil.example/x"},
		{name: "capture with a query", target: "/api/grab/x?next=//evil.example", want: "/safe/x?next=//evil.example"},
		{name: "header with a URL as a path variable", target: "/api/hv", hdr: map[string]string{"X-Dest": "http://evil.example/"}, wantStatus: 400},
		{name: "header with a host as a path variable", target: "/api/hv", hdr: map[string]string{"X-Dest": "evil.example"}, want: "/h/evil.example"},
		{name: "header with CR LF in the query", target: "/api/hq", hdr: map[string]string{"X-Dest": "a\r\nHost: evil"}, want: "/h?d=a%0D%0AHost%3A+evil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			got, err := do(rw, method, tc.target, "", tc.hdr, map[string]any{"tier": "gold plan"})
			if tc.wantStatus != 0 {
				var ce *chain.Error
				if !errors.As(err, &ce) || ce.Status != tc.wantStatus {
					t.Fatalf("got %q, %v; want status %d", got, err, tc.wantStatus)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTriggers(t *testing.T) {
	rx := func(s string) apidef.StringRegexMap { return apidef.StringRegexMap{MatchRx: s} }
	rw := compileFor(t, false,
		apidef.URLRewriteMeta{Path: "/pay", Method: "POST", MatchPattern: `/pay/(\w+)`, RewriteTo: "/payments/$1", Triggers: []apidef.RoutingTrigger{
			{On: "all", RewriteTo: "/priority/$1/$tyk_context.trigger-0-X-Tier-0-0", Options: apidef.RoutingTriggerOptions{
				HeaderMatches:   map[string]apidef.StringRegexMap{"x-tier": rx(`^(gold|platinum)$`)},
				QueryValMatches: map[string]apidef.StringRegexMap{"region": {MatchRx: "^us$", Reverse: true}},
			}},
			{On: "any", RewriteTo: "/meta/$tyk_context.trigger-1-plan", Options: apidef.RoutingTriggerOptions{
				SessionMetaMatches: map[string]apidef.StringRegexMap{"plan": rx(`^pro`)},
				PathPartMatches:    map[string]apidef.StringRegexMap{"part": rx(`^vip-(\d+)$`)},
			}},
			{On: "any", RewriteTo: "/body/$tyk_context.trigger-2-payload-0", Options: apidef.RoutingTriggerOptions{
				PayloadMatches: rx(`"priority":\s*"(\w+)"`),
			}},
			{On: "any", RewriteTo: "/ctx", Options: apidef.RoutingTriggerOptions{
				RequestContextMatches: map[string]apidef.StringRegexMap{"path": rx(`.`)},
			}},
		}},
	)
	for _, tc := range []struct {
		name, target, body string
		hdr                map[string]string
		meta               map[string]any
		want               string
	}{
		{name: "all: header and reversed query", target: "/api/pay/abc?region=eu", hdr: map[string]string{"X-Tier": "gold"}, want: "/priority/abc/gold"},
		{name: "all: one option fails", target: "/api/pay/abc?region=us", hdr: map[string]string{"X-Tier": "gold"}, want: "/payments/abc"},
		{name: "any: session meta", target: "/api/pay/abc", meta: map[string]any{"plan": "pro-yearly"}, want: "/meta/pro"},
		{name: "any: path part", target: "/api/pay/vip-7", want: "/meta/"},
		{name: "meta that is not a string does not match", target: "/api/pay/abc", meta: map[string]any{"plan": 3.0}, want: "/payments/abc"},
		{name: "payload", target: "/api/pay/abc", body: `{"priority": "high"}`, want: "/body/high"},
		{name: "payload beyond the first MiB is not looked at", target: "/api/pay/abc", body: strings.Repeat(" ", MaxPayload) + `{"priority": "high"}`, want: "/payments/abc"},
		{name: "context variables off: request_context_matches never fires", target: "/api/pay/abc", want: "/payments/abc"},
		{name: "no trigger fires: base target", target: "/api/pay/abc", hdr: map[string]string{"X-Tier": "bronze"}, want: "/payments/abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := do(rw, "POST", tc.target, tc.body, tc.hdr, tc.meta)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// The payload trigger reads the body but the upstream still gets all of it.
func TestPayloadBodyKept(t *testing.T) {
	rw := compileFor(t, false, apidef.URLRewriteMeta{Path: "/p", Method: "POST", MatchPattern: "/p", RewriteTo: "/q",
		Triggers: []apidef.RoutingTrigger{{On: "any", RewriteTo: "/hit", Options: apidef.RoutingTriggerOptions{PayloadMatches: apidef.StringRegexMap{MatchRx: "zz"}}}}})
	body := strings.Repeat("a", MaxPayload+10) + "zz"
	r := httptest.NewRequest("POST", "/api/p", strings.NewReader(body))
	c := &chain.Context{Version: "v1", Readings: endpoint.Readings("/p")}
	if err := rw.Step().Run(httptest.NewRecorder(), r, c); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("body after the trigger: %d bytes, want the %d sent", len(got), len(body))
	}
	if r.URL.Path != "/q" {
		t.Errorf("path %q, want /q (the match is past the first MiB)", r.URL.Path)
	}
}

func TestCompileRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    apidef.URLRewriteMeta
		want string
	}{
		{"bad pattern", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "(", RewriteTo: "/y"}, `url_rewrites[0].match_pattern: "(" is not a valid regular expression`},
		{"bad trigger pattern", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y", Triggers: []apidef.RoutingTrigger{{On: "any", RewriteTo: "/z",
			Options: apidef.RoutingTriggerOptions{PayloadMatches: apidef.StringRegexMap{MatchRx: "*"}}}}}, `triggers[0].options.payload_matches.match_rx`},
		{"loop to an API from a group", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "/x/(.*)", RewriteTo: "tyk://$1/y"}, "must be written out, not taken from the request"},
		{"loop without an API", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk:///y"}, "names an API"},
		{"loop controls from a group", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x(.*)", RewriteTo: "tyk://a/y?check_limits=$1"}, "takes no variables"},
		{"loop query with another parameter", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://a/y?page=2"}, `query parameter "page"`},
		{"loop_limit too high", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://a/y?loop_limit=500"}, "from 1 to 100"},
		{"loop method", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://a/y?method=G%20T"}, "not an HTTP method"},
		{"check_limits not a boolean", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://a/y?check_limits=yes"}, "want true or false"},
		{"host from a group", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "/x/(.*)", RewriteTo: "https://$1/y"}, "must be written out"},
		{"secret", apidef.URLRewriteMeta{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y?k=$secret_vault.path/key"}, "secret variable $secret_vault is not read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := &apidef.APIDefinition{VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
				"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{tc.e}}}}}}
			_, err := Compile(def, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
