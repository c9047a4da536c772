package rewrite

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
)

// FuzzRewrite sends hostile captures, headers and meta data through rewrites that put them in
// the path and the query: the result is a canonical path (no host, no scheme, no dot segment)
// and a query that cannot end the request line, or the request is refused with 400.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"x", "//evil.example/x", "http://evil.example", "%2e%2e/%2e%2e", "a%2fb", "@evil", "\\evil", "a?b#c", "a\r\nHost: x", "%00", "..;/x", "%252e"} {
		f.Add(s, s)
	}
	def := &apidef.APIDefinition{EnableContextVars: true, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		URLRewrite: []apidef.URLRewriteMeta{
			{Path: "/p/", Method: "GET", MatchPattern: `/api/p/(.*)`, RewriteTo: "/to/$1"},
			{Path: "/g/", Method: "GET", MatchPattern: `/api/g/(.*)`, RewriteTo: "$1"},
			{Path: "/h", Method: "GET", MatchPattern: `/api/h`, RewriteTo: "/to/$tyk_context.headers_X_In/$tyk_meta.m?q=$tyk_context.headers_X_In&m=$tyk_meta.m"},
		}}}}}}
	rw, err := Compile(def, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, capture, value string) {
		for _, prefix := range []string{"/api/p/", "/api/g/", "/api/h"} {
			target := prefix
			if prefix != "/api/h" {
				target += capture
			}
			u, err := url.Parse(target)
			if err != nil || u.Host != "" || u.Scheme != "" || u.Path == "" {
				continue
			}
			canon, err := router.Canonicalize(u.EscapedPath())
			if err != nil {
				continue // the router refuses it before any step
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = canon, "", u.RawQuery
			r.Header["X-In"] = []string{value}
			r = reqctx.With(r, &reqctx.State{Session: &apidef.SessionState{MetaData: map[string]any{"m": value}}})
			c := &chain.Context{Version: "v1", Readings: endpoint.Readings(strings.TrimPrefix(canon, "/api"))}
			err = rw.Step().Run(httptest.NewRecorder(), r, c)
			if err != nil {
				if ce, ok := err.(*chain.Error); !ok || ce.Status != http.StatusBadRequest {
					t.Fatalf("%q: error %v, want nil or 400", target, err)
				}
				continue
			}
			if r.URL.Host != "" || r.URL.Scheme != "" || r.URL.Opaque != "" {
				t.Fatalf("%q: the URL names %q %q %q", target, r.URL.Scheme, r.URL.Host, r.URL.Opaque)
			}
			if got, err := router.Canonicalize(router.Escape(r.URL.Path)); err != nil || got != r.URL.Path {
				t.Fatalf("%q: rewritten path %q is not canonical (%v)", target, r.URL.Path, err)
			}
			for i := 0; i < len(r.URL.RawQuery); i++ {
				if c := r.URL.RawQuery[i]; c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
					t.Fatalf("%q: query %q holds %q", target, r.URL.RawQuery, c)
				}
			}
			out, err := url.Parse(r.URL.RequestURI())
			if err != nil || out.Host != "" {
				t.Fatalf("%q: request URI %q reads as host %q (%v)", target, r.URL.RequestURI(), out.Host, err)
			}
		}
	})
}
