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
	"slices"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/keylimit"
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

// Org checks each request of an org's API against the org's session.
type Org struct {
	OrgID string
	// Session reads the org's session for the request path (session.Manager.OrgReader): an
	// error matching session.ErrNotFound when the org has none.
	Session func(ctx context.Context) (*apidef.SessionState, error)
	Limits  storage.Limits
	// Local, when set, counts on this gateway alone while Limits cannot be reached, as for
	// keys (storage.fallback_to_cached_sessions).
	Local storage.Limits
	// Monitor, when set, is told of the org's quota use after each request it lets through
	// (the quota monitor, monitor_org_keys), with no key hash.
	Monitor func(s *apidef.SessionState, orgID, keyHash string, quotaMax, used int64, renews time.Time)

	rate, quota string // the counters' names
	// absent is set while the last read of the session found none: with Local (the store's
	// fallback), an org known to have no session is not limited while the store is down.
	absent atomic.Bool
}

// Step returns the chain step.
func (o *Org) Step() chain.Step {
	id := session.OrgCounterID(o.OrgID)
	o.rate, o.quota = session.RateWindow(id, "", false), session.QuotaCounter(id, "", false)
	return chain.Step{Name: "org_limits", Run: o.run}
}

func (o *Org) run(_ http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if l := c.Loop; l != nil && !l.CheckLimits && slices.Contains(l.Orgs, o.OrgID) {
		return nil // counted by an API of the org the request looped from
	}
	s, err := o.Session(r.Context())
	switch {
	case errors.Is(err, session.ErrNotFound):
		if !o.absent.Load() { // written on a change only: every request of the org reads it
			o.absent.Store(true)
		}
		return nil
	case err != nil && o.Local != nil && errors.Is(err, storage.ErrUnavailable) && o.absent.Load():
		return nil // known to have no session when the store went away
	case err != nil:
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("reading the org's session: %w", err))
	}
	if o.absent.Load() {
		o.absent.Store(false)
	}
	if s.IsInactive {
		return chain.Errorf(http.StatusForbidden, MsgInactive, fmt.Errorf("org %q is inactive", o.OrgID))
	}
	var rate, quota storage.Spec
	if n, win, ok := ratelimit.Window(s.Rate, s.Per); ok {
		rate = storage.Spec{Key: o.rate, Limit: n, Window: win}
	}
	if s.QuotaMax > 0 {
		quota = storage.Spec{Key: o.quota, Limit: s.QuotaMax, Window: keylimit.QuotaWindow(s.QuotaRenewalRate)}
	}
	if rate.Key == "" && quota.Key == "" {
		return nil
	}
	c.OrgCounted = o.OrgID
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
		o.Monitor(s, o.OrgID, "", quota.Limit, res.Quota.Used, res.Quota.Reset)
	}
	return nil
}
