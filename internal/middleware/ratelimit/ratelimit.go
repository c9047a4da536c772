// Package ratelimit holds the per-API rate limit step (`global_rate_limit`) and the conversion of
// Tyk's rate and per into a window, which the key's rate limit (package keylimit) shares. Limits
// count in a sliding window (see storage.Windows), so there is no double burst at window edges,
// and refused requests are not counted.
//
// A rate of zero or less means no limit, as in Tyk. A fractional rate below one becomes one
// request per per/rate seconds (rate 0.5 per 1 s allows one request every 2 s).
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Window converts Tyk's rate and per into a hit limit and a window length. ok is false when
// they set no limit.
//
// Values outside apidef.CheckRate's bounds are refused where keys and definitions are written;
// here they are clamped, so that nothing stored earlier can overflow a conversion or make a
// window of zero. A rate with a per of 0 or less, refused when written, is read as no limit.
func Window(rate, per float64) (limit int64, window time.Duration, ok bool) {
	if rate <= 0 || per <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) || math.IsNaN(per) {
		return 0, 0, false
	}
	secs := per
	if rate < 1 {
		rate, secs = 1, per/rate
	}
	secs = max(secs, apidef.MinPeriod) // a window the store can keep, whatever was stored before the rule
	return int64(min(math.Floor(rate), apidef.MaxRate)), time.Duration(min(secs, apidef.MaxPeriod) * float64(time.Second)), true
}

// API limits all requests to one API, whoever sends them: global_rate_limit, and the per-endpoint
// limits of extended_paths.rate_limit, each counted on its own, which replace it for the
// requests they match (as Tyk's RateLimitForAPI does).
type API struct {
	APIID string
	// Limit and Window are global_rate_limit; a Limit of 0 sets none.
	Limit  int64
	Window time.Duration
	// Endpoints are the per-endpoint limits (Compile); nil for none.
	Endpoints *Endpoints
	Windows   storage.Windows
	// Local, when set, counts on this node alone while Windows cannot be reached (a shared
	// store that is down): the limit still protects the upstream, each node allowing it in
	// full, rather than taking the API down with the store.
	Local storage.Windows
	// Now is the clock Retry-After is computed with.
	Now func() time.Time
}

// Step returns the chain step.
func (a *API) Step() chain.Step {
	global := Limit{Limit: a.Limit, Window: a.Window, Name: "rate-limit-api-" + a.APIID, reached: errGlobalReached}
	return chain.Step{Name: "api_rate_limit", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		lim := global
		// A HEAD no entry names counts in its GET's window (as a key's per-endpoint limits
		// count it).
		if l, ok := a.Endpoints.LookupHeadAsGet(c.Version, r.Method, c.Readings); ok {
			lim = l
		}
		if lim.Limit == 0 {
			return nil // no global limit, and no entry matched
		}
		return a.run(r, lim)
	}}
}

func (a *API) run(r *http.Request, lim Limit) error {
	u, err := a.Windows.Hit(r.Context(), lim.Name, lim.Limit, lim.Window)
	if err != nil && a.Local != nil && errors.Is(err, storage.ErrUnavailable) {
		u, err = a.Local.Hit(r.Context(), lim.Name, lim.Limit, lim.Window)
	}
	if err != nil {
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("API rate limiter: %w", err))
	}
	if !u.Allowed {
		e := chain.Errorf(http.StatusTooManyRequests, chain.MsgAPIRateLimit, lim.reached).Flagged("RLT")
		e.Header = RetryAfter(u, a.Now)
		return e
	}
	return nil
}

// RetryAfter returns the Retry-After header of a refusal: the whole seconds until u's Reset, at
// least one; nil when u has no Reset.
func RetryAfter(u storage.Usage, now func() time.Time) http.Header {
	if u.Reset.IsZero() {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	secs := int64(math.Ceil(u.Reset.Sub(now()).Seconds()))
	if secs < 1 {
		secs = 1
	}
	return http.Header{"Retry-After": {fmt.Sprint(secs)}}
}
