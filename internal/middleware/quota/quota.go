// Package quota holds the quota step: at most `quota_max` requests per `quota_renewal_rate`
// seconds per key, counted in a fixed window that starts with the key's first request. A
// quota_max of zero or less means no quota, as in Tyk; a renewal rate of zero or less means the
// quota never renews. Refused requests are not counted.
//
// Every keyed response carries Tyk's X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset headers, which (as in Tyk) describe the quota: its maximum, what is left and
// the Unix time it renews.
package quota

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// forever is the window of a quota that never renews.
const forever = 100 * 365 * 24 * time.Hour

// Header names, as Tyk sends them.
const (
	HeaderLimit     = "X-RateLimit-Limit"
	HeaderRemaining = "X-RateLimit-Remaining"
	HeaderReset     = "X-RateLimit-Reset"
)

// Quota counts each key's requests against its quota.
type Quota struct {
	APIID    string
	Counters storage.Counters
	// Disabled stops counting (`disable_quota`) but keeps the headers.
	Disabled bool
}

// Step returns the chain step.
func (q *Quota) Step() chain.Step {
	return chain.Step{Name: "quota", Run: q.run}
}

func (q *Quota) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	s := c.State.Session
	if c.Ignored || s == nil {
		return nil
	}
	lim, perAPI := s.LimitFor(q.APIID)
	h := w.Header()
	if q.Disabled || lim.QuotaMax <= 0 {
		setHeaders(h, lim.QuotaMax, lim.QuotaMax, 0)
		return nil
	}
	window := forever
	if lim.QuotaRenewalRate > 0 && lim.QuotaRenewalRate < int64(forever/time.Second) {
		window = time.Duration(lim.QuotaRenewalRate) * time.Second
	}
	u, err := q.Counters.Take(r.Context(), session.QuotaCounter(c.KeyHash, q.APIID, perAPI), lim.QuotaMax, window)
	if err != nil {
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("quota counter: %w", err))
	}
	reset := int64(0)
	if !u.Reset.IsZero() {
		reset = u.Reset.Unix()
	}
	setHeaders(h, lim.QuotaMax, u.Remaining(lim.QuotaMax), reset)
	if !u.Allowed {
		return chain.Errorf(http.StatusForbidden, chain.MsgQuotaExceeded, fmt.Errorf("quota of %d used", lim.QuotaMax))
	}
	return nil
}

func setHeaders(h http.Header, limit, remaining, reset int64) {
	// One backing array for the three values: this runs on every keyed request.
	v := []string{strconv.FormatInt(limit, 10), strconv.FormatInt(remaining, 10), strconv.FormatInt(reset, 10)}
	h[HeaderLimit] = v[0:1:1]
	h[HeaderRemaining] = v[1:2:2]
	h[HeaderReset] = v[2:3:3]
}
