package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestUpstreamResponseHeadersReachClient checks the proxy's header moving (internal/proxy:
// moveHeader, whose merging with headers already set is checked there): every header value the
// upstream sent reaches the client once and in order, request after request, on keyless and
// keyed APIs (where the gateway's own X-RateLimit-Limit replaces the upstream's, as in Tyk).
func TestUpstreamResponseHeadersReachClient(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h.Set("Content-Type", "application/json")
		h.Set("X-Upstream", "yes")
		h.Set("X-Ratelimit-Limit", "upstream")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("open", "/open/", up.URL),
		gt.Keyed(gt.API("keyed", "/keyed/", up.URL)),
	}})
	key := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 1, QuotaMax: 50, QuotaRenewalRate: 3600,
		AccessRights: map[string]apidef.AccessDefinition{"keyed": {APIID: "keyed", Versions: []string{"Default"}}}})

	for _, tc := range []struct {
		name    string
		c       gt.Case
		limitVs []string
	}{
		{"keyless", gt.Case{Path: "/open/x"}, []string{"upstream"}},
		{"keyed", gt.Case{Path: "/keyed/x", Headers: map[string]string{"Authorization": key}}, []string{"50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 3 { // the same values on every request: nothing shared between them
				r := g.Do(tc.c)
				if r.Code != http.StatusOK {
					t.Fatalf("request %d: status %d: %s", i, r.Code, r.Body)
				}
				want := map[string][]string{
					"Set-Cookie":        {"a=1", "b=2"},
					"Content-Type":      {"application/json"},
					"X-Upstream":        {"yes"},
					"X-Ratelimit-Limit": tc.limitVs,
				}
				for k, vs := range want {
					if got := r.Header[k]; !reflect.DeepEqual(got, vs) {
						t.Errorf("request %d: client got %s %q, want %q", i, k, got, vs)
					}
				}
			}
		})
	}
}

// TestUpstreamRequestHeadersSet checks the headers the proxy adds to the upstream request from
// per-request storage: each with one value, Go's User-Agent never added, the client's kept.
func TestUpstreamRequestHeadersSet(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("h", "/h/", up.URL)}})
	for _, tc := range []struct {
		name, raw, ua string
	}{
		{"no user agent", "GET /h/a HTTP/1.1\r\nHost: one.test\r\n\r\n", ""},
		{"client's user agent", "GET /h/b HTTP/1.1\r\nHost: two.test\r\nUser-Agent: curl/8\r\nVia: 1.0 corp-proxy\r\n\r\n", "curl/8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := g.Raw(tc.raw)
			if err != nil || r.Code != http.StatusOK {
				t.Fatalf("status %d, error %v: %s", r.Code, err, r.Body)
			}
			seen, _ := up.Last()
			if got := seen.Headers["User-Agent"]; got != tc.ua {
				t.Errorf("upstream User-Agent %q, want %q", got, tc.ua)
			}
			host := map[bool]string{true: "one.test", false: "two.test"}[tc.ua == ""]
			for k, v := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": host, "X-Forwarded-Proto": "http"} {
				if got := seen.Headers[k]; got != v {
					t.Errorf("upstream %s = %q, want %q", k, got, v)
				}
			}
			via := seen.Headers["Via"]
			if tc.ua != "" && !regexpMatch(`^1\.0 corp-proxy, 1\.1 gatehouse-[0-9a-f]{12}$`, via) ||
				tc.ua == "" && !regexpMatch(`^1\.1 gatehouse-[0-9a-f]{12}$`, via) {
				t.Errorf("upstream Via = %q", via)
			}
		})
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
