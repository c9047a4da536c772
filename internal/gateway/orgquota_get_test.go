package gateway_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestOrgSessionShowsQuotaUsed: GET /tyk/org/keys/{org} shows the quota the org has left and
// when it renews, from the counters, as a key's GET does (the stored session is not written
// request by request).
func TestOrgSessionShowsQuotaUsed(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up, _ := countingUpstream(t)
		store.APIs, store.Config = orgAPIs(up.URL), enforceOrgQuotas
		g := gt.Start(t, store)
		get := func() apidef.SessionState {
			t.Helper()
			r := g.Do(gt.Case{Admin: true, Path: "/tyk/org/keys/acme"})
			var s apidef.SessionState
			if err := json.Unmarshal([]byte(r.Body), &s); r.Code != 200 || err != nil {
				t.Fatalf("GET the org session: %d %s", r.Code, r.Body)
			}
			return s
		}
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme",
			Body: `{"quota_max": 10, "quota_remaining": 10, "quota_renewal_rate": 3600,
				"access_rights": {"acme-open": {"api_id": "acme-open", "limit": {"quota_max": 7, "quota_remaining": 5, "quota_renewal_rate": 60}}}}`}))
		if s := get(); s.QuotaRemaining != 10 || s.QuotaRenews != 0 {
			t.Errorf("before any request: quota_remaining %d, quota_renews %d; want 10 and 0 (no window yet)", s.QuotaRemaining, s.QuotaRenews)
		}
		start := time.Now().Unix()
		for range 3 {
			gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/acme-open/x"}))
		}
		end := time.Now().Unix()
		s := get()
		if s.QuotaRemaining != 7 {
			t.Errorf("after 3 requests: quota_remaining %d, want 7", s.QuotaRemaining)
		}
		if s.QuotaRenews < start+3600 || s.QuotaRenews > end+3600 {
			t.Errorf("quota_renews %d, want the window's end, %d to %d", s.QuotaRenews, start+3600, end+3600)
		}
		// An org's access rights are not read: left as stored.
		if l := s.AccessRights["acme-open"].Limit; l == nil || l.QuotaRemaining != 5 || l.QuotaRenews != 0 {
			t.Errorf("the access right's limit: %+v, want it as stored", l)
		}
		// reset_quota starts it afresh.
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/org/keys/acme?reset_quota=1",
			Body: `{"quota_max": 10, "quota_renewal_rate": 3600}`}))
		if s := get(); s.QuotaRemaining != 10 {
			t.Errorf("after reset_quota: quota_remaining %d, want 10", s.QuotaRemaining)
		}
	})
}
