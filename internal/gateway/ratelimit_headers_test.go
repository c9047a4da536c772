package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestRateLimitResponseHeaders: rate_limit_response_headers "rate_limits" makes the X-RateLimit
// headers of keyed responses describe the key's rate limit (Tyk's option); by default they
// describe its quota. An upstream's own X-RateLimit headers never stand beside the gateway's
// (with "rate_limits" they are dropped even where the gateway sets none); a keyless API passes
// them on.
func TestRateLimitResponseHeaders(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "999")
		w.Header().Set("X-RateLimit-Remaining", "998")
	}))
	t.Cleanup(up.Close)
	for _, tc := range []struct{ mode, limit, remaining, unlimited string }{
		{"rate_limits", "5", "4", ""},
		{"", "100", "99", "0"},
	} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("rl", "/rl/", up.URL)), gt.API("open", "/open/", up.URL)},
				Config: func(c *config.Config) { c.RateLimitResponseHeaders = tc.mode }})
			key := g.CreateKey(&apidef.SessionState{Rate: 5, Per: 60, QuotaMax: 100, QuotaRenewalRate: 3600, AccessRights: access("rl")})
			unlimited := g.CreateKey(&apidef.SessionState{AccessRights: access("rl")})
			check := func(name string, r gt.Response, limit, remaining string) {
				t.Helper()
				want := func(v string) []string {
					if v == "" {
						return nil
					}
					return []string{v}
				}
				if r.Code != http.StatusOK || !slices.Equal(r.Header.Values("X-RateLimit-Limit"), want(limit)) || !slices.Equal(r.Header.Values("X-RateLimit-Remaining"), want(remaining)) {
					t.Errorf("%s: %d, X-RateLimit-Limit %q Remaining %q; want %q and %q", name, r.Code,
						r.Header.Values("X-RateLimit-Limit"), r.Header.Values("X-RateLimit-Remaining"), limit, remaining)
				}
			}
			check("a key", g.Do(gt.Case{Path: "/rl/x", Headers: map[string]string{"Authorization": key}}), tc.limit, tc.remaining)
			unlimitedRemaining := tc.unlimited
			check("a key without limits", g.Do(gt.Case{Path: "/rl/x", Headers: map[string]string{"Authorization": unlimited}}), tc.unlimited, unlimitedRemaining)
			check("a keyless API", g.Do(gt.Case{Path: "/open/x"}), "999", "998")
		})
	}
}
