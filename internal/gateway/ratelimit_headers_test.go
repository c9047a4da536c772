package gateway_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestRateLimitResponseHeaders: rate_limit_response_headers "rate_limits" makes the X-RateLimit
// headers of keyed responses describe the key's rate limit (Tyk's option); by default they
// describe its quota.
func TestRateLimitResponseHeaders(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	for _, tc := range []struct{ mode, limit, remaining string }{
		{"rate_limits", "5", "4"},
		{"", "100", "99"},
	} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("rl", "/rl/", up.URL))},
				Config: func(c *config.Config) { c.RateLimitResponseHeaders = tc.mode }})
			key := g.CreateKey(&apidef.SessionState{Rate: 5, Per: 60, QuotaMax: 100, QuotaRenewalRate: 3600, AccessRights: access("rl")})
			r := g.Do(gt.Case{Path: "/rl/x", Headers: map[string]string{"Authorization": key}})
			if r.Code != http.StatusOK || r.Header.Get("X-RateLimit-Limit") != tc.limit || r.Header.Get("X-RateLimit-Remaining") != tc.remaining {
				t.Errorf("%d, X-RateLimit-Limit %q Remaining %q; want %s and %s", r.Code,
					r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"), tc.limit, tc.remaining)
			}
		})
	}
}
