// Package orglimit holds the step that enforces an organisation's limits (Tyk's
// OrganizationMonitor, on with enforce_org_quotas): every API of an org_id shares the rate limit,
// quota and state of the org's session, written with /tyk/org/keys/{org_id}. An org without a
// session is not limited. The counters are shared by the fleet as the keys' are, in one call to
// the store per request (leases with Redis, for large limits).
package orglimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/ratelimit"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Tyk's answers (all 403).
const (
	MsgInactive  = "this organisation access has been disabled, please contact your API administrator"
	MsgQuota     = "This organisation quota has been exceeded, please contact your API administrator"
	MsgRateLimit = "This organisation rate limit has been exceeded, please contact your API administrator"
)

// forever is the window of a quota that never renews, as for keys.
const forever = 100 * 365 * 24 * time.Hour

// Org checks each request of an org's API against the org's session.
type Org struct {
	OrgID string
	// Session reads the org's session for the request path (session.Manager.Org): an error
	// matching session.ErrNotFound when the org has none.
	Session func(ctx context.Context, orgID string) (*apidef.SessionState, error)
	Limits  storage.Limits
	// Local, when set, counts on this gateway alone while Limits cannot be reached, as for
	// keys (storage.fallback_to_cached_sessions).
	Local storage.Limits
	// Monitor, when set, is told of the org's quota use after each request it lets through
	// (the quota monitor, monitor_org_keys), with no key hash.
	Monitor func(s *apidef.SessionState, orgID, keyHash string, quotaMax, used int64)

	rate, quota string // the counters' names
}

// Step returns the chain step.
func (o *Org) Step() chain.Step {
	id := session.OrgCounterID(o.OrgID)
	o.rate, o.quota = session.RateWindow(id, "", false), session.QuotaCounter(id, "", false)
	return chain.Step{Name: "org_limits", Run: o.run}
}

func (o *Org) run(_ http.ResponseWriter, r *http.Request, _ *chain.Context) error {
	s, err := o.Session(r.Context(), o.OrgID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("reading the org's session: %w", err))
	case s.IsInactive:
		return chain.Errorf(http.StatusForbidden, MsgInactive, fmt.Errorf("org %q is inactive", o.OrgID))
	}
	var rate, quota storage.Spec
	if n, win, ok := ratelimit.Window(s.Rate, s.Per); ok {
		rate = storage.Spec{Key: o.rate, Limit: n, Window: win}
	}
	if s.QuotaMax > 0 {
		window := forever
		if s.QuotaRenewalRate > 0 && s.QuotaRenewalRate < int64(forever/time.Second) {
			window = time.Duration(s.QuotaRenewalRate) * time.Second
		}
		quota = storage.Spec{Key: o.quota, Limit: s.QuotaMax, Window: window}
	}
	if rate.Key == "" && quota.Key == "" {
		return nil
	}
	res, err := o.Limits.Limit(r.Context(), rate, quota)
	if err != nil && o.Local != nil && errors.Is(err, storage.ErrUnavailable) {
		res, err = o.Local.Limit(r.Context(), rate, quota)
	}
	switch {
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("the org's rate limit and quota: %w", err))
	case !res.Rate.Allowed:
		return chain.Errorf(http.StatusForbidden, MsgRateLimit, fmt.Errorf("org %q: rate limit of %d per %s reached", o.OrgID, rate.Limit, rate.Window))
	case !res.Quota.Allowed:
		return chain.Errorf(http.StatusForbidden, MsgQuota, fmt.Errorf("org %q: quota of %d used", o.OrgID, quota.Limit))
	}
	if quota.Key != "" && o.Monitor != nil {
		o.Monitor(s, o.OrgID, "", quota.Limit, res.Quota.Used)
	}
	return nil
}
