// Package keylimit holds the step that checks a key's rate limit and quota together, as Tyk's
// RateLimitAndQuotaCheck does, in one call to the store (one round trip with Redis).
//
// The rate limit is `rate` requests per `per` seconds, counted in a sliding window (see
// storage.Windows); with throttle_interval and throttle_retry_limit, a request it refuses waits
// and is checked again before it is refused (Tyk's request throttling). The quota is
// `quota_max` requests per `quota_renewal_rate` seconds, counted in a fixed window that starts
// with the key's first request. Both come from the session, or
// from the access right's own limit on the API. A rate, or a quota_max, of zero or less means no
// limit, as in Tyk; a renewal rate of zero or less means the quota never renews. A request
// refused by either is counted by neither.
//
// Every keyed response carries Tyk's X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset headers, which (as in Tyk) describe the quota: its maximum, what is left and
// the Unix time it renews; or, with RateHeaders, the rate limit: its rate, what is left in the
// window and the Unix time its oldest counted request leaves it.
package keylimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/ratelimit"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// forever is the window of a quota that never renews.
const forever = 100 * 365 * 24 * time.Hour

// QuotaWindow is the window of a quota renewed every renewalRate seconds (quota_renewal_rate):
// forever for 0 or less, as in Tyk.
func QuotaWindow(renewalRate int64) time.Duration {
	if renewalRate > 0 && renewalRate < int64(forever/time.Second) {
		return time.Duration(renewalRate) * time.Second
	}
	return forever
}

// Header names, as Tyk sends them.
const (
	HeaderLimit     = "X-RateLimit-Limit"
	HeaderRemaining = "X-RateLimit-Remaining"
	HeaderReset     = "X-RateLimit-Reset"
)

// Key checks each request's key against its rate limit and quota.
type Key struct {
	APIID  string
	Limits storage.Limits
	// NoRateLimit skips the rate limit (`disable_rate_limit`).
	NoRateLimit bool
	// NoQuota stops counting the quota (`disable_quota`) but keeps the headers.
	NoQuota bool
	// Smoothing applies the smoothing of keys' rate limits (enable_rate_limit_smoothing): the
	// limit applied is an allowance that follows the key's traffic (storage.Smoothing). A
	// per-endpoint limit is never smoothed, as in Tyk.
	Smoothing bool
	// Smoothed, when set, is told when a key's allowance moves: up (true) or down, with the
	// allowance now (Tyk's RateLimitSmoothingUp and RateLimitSmoothingDown events).
	Smoothed func(r *http.Request, c *chain.Context, up bool, allowance int64)
	// RateHeaders makes X-RateLimit-* describe the rate limit instead of the quota, on 429s
	// too, and only where a rate limit applies (rate_limit_response_headers "rate_limits").
	RateHeaders bool
	// Local, when set, counts on this gateway alone while Limits cannot be reached (a shared
	// store that is down), instead of refusing with 503: storage.fallback_to_cached_sessions.
	Local storage.Limits
	// Patterns compiles the paths of keys' per-endpoint rate limits (nil: compiled per request).
	Patterns *endpoint.PatternCache
	// Now is the clock Retry-After is computed with.
	Now func() time.Time
	// Wait waits d between the checks of a throttled request, returning false when ctx ends
	// first; nil waits on a timer.
	Wait func(ctx context.Context, d time.Duration) bool
	// Throttled counts the requests waiting to be checked again, over every API of the
	// gateway (one counter shared by their steps); past MaxThrottled a refused request gets
	// 429 at once, so that keys cannot hold every connection the gateway takes. Nil: no
	// throttling.
	Throttled *atomic.Int64
	// Monitor, when set, is told of the quota's use after each request it lets through (the
	// quota monitor, monitor_user_keys): the key's session, org and hash, the quota, what is
	// used of it and when it renews.
	Monitor func(s *apidef.SessionState, orgID, keyHash string, quotaMax, used int64, renews time.Time)
}

// MaxThrottled is how many requests may wait to be checked again at once on a gateway.
const MaxThrottled = 1024

// Step returns the chain step.
func (k *Key) Step() chain.Step {
	return chain.Step{Name: "rate_limit_quota", Run: k.run}
}

func (k *Key) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	s := c.State.Session
	if c.Ignored || s == nil {
		return nil
	}
	lim, perAPI := s.LimitFor(k.APIID)
	// The key check keeps the names of a stored key's counters over all its APIs; a limit of
	// its own on this API, or a key an auth plugin made up, has them formatted here
	// (session.Names.RateWindow, QuotaCounter).
	names := c.KeyNames
	var rate, quota storage.Spec
	var ep *apidef.EndpointLimit
	if !k.NoRateLimit {
		rl := apidef.RateLimit{Rate: lim.Rate, Per: lim.Per}
		counted := r.Method
		if eps := s.AccessRights[k.APIID].Endpoints; len(eps) > 0 {
			var err error
			if ep, rl, counted, err = k.endpointLimit(eps, r.Method, endpointReadings(c)); err != nil {
				return chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError, fmt.Errorf("the key's per-endpoint rate limits: %w", err))
			}
			if ep == nil {
				rl = apidef.RateLimit{Rate: lim.Rate, Per: lim.Per}
			}
		}
		if n, win, ok := ratelimit.Window(rl.Rate, rl.Per); ok {
			rate = storage.Spec{Key: names.RateWindow(c.KeyHash, k.APIID, perAPI), Limit: n, Window: win}
			if ep != nil {
				rate.Key += endpointWindow(counted, ep.Path)
			} else if sm := lim.Smoothing; k.Smoothing && sm.Valid() {
				rate.Smooth = smoothing(sm)
			}
		}
	}
	counted := !k.NoQuota && lim.QuotaMax > 0
	if counted {
		quota = storage.Spec{Key: names.QuotaCounter(c.KeyHash, k.APIID, perAPI), Limit: lim.QuotaMax, Window: QuotaWindow(lim.QuotaRenewalRate)}
	}
	if rate.Key == "" && quota.Key == "" {
		if !k.RateHeaders {
			setHeaders(w.Header(), lim.QuotaMax, lim.QuotaMax, 0)
		}
		return nil
	}
	res, err := k.limit(r.Context(), rate, quota)
	// Throttling: a request the rate limit refuses waits and is checked again (a refused
	// request counts toward neither limit), until it passes, the retries run out or the
	// client goes away.
	if err == nil && !res.Rate.Allowed && lim.Throttled() && k.Throttled != nil {
		res, err = k.throttle(r.Context(), lim, rate, quota, res)
	}
	if err != nil {
		return chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), fmt.Errorf("rate limit and quota: %w", err))
	}
	if res.Rate.Smoothed != 0 && k.Smoothed != nil {
		k.Smoothed(r, c, res.Rate.Smoothed > 0, res.Rate.Allowance)
	}
	limit := rate.Limit
	if res.Rate.Allowance > 0 {
		limit = res.Rate.Allowance
	}
	if !res.Rate.Allowed {
		cause := fmt.Errorf("key rate limit of %d per %s reached", rate.Limit, rate.Window)
		if res.Rate.Allowance > 0 && res.Rate.Allowance < rate.Limit {
			cause = fmt.Errorf("key rate limit reached: %d per %s allowed now by its smoothing (at most %d)", res.Rate.Allowance, rate.Window, rate.Limit)
		}
		if ep != nil {
			cause = fmt.Errorf("key rate limit of %d per %s on endpoint %s %s reached", rate.Limit, rate.Window, r.Method, ep.Path)
		}
		e := chain.Errorf(http.StatusTooManyRequests, chain.MsgRateLimitExceeded, cause).Flagged("RLT")
		e.Header = ratelimit.RetryAfter(res.Rate, k.Now)
		if k.RateHeaders {
			if e.Header == nil {
				e.Header = http.Header{}
			}
			setHeaders(e.Header, limit, 0, unixCeil(res.Rate.Reset))
		}
		return e
	}
	switch {
	case k.RateHeaders && rate.Key != "":
		setHeaders(w.Header(), limit, res.Rate.Remaining(limit), unixCeil(res.Rate.Reset))
	case k.RateHeaders:
	case counted:
		setHeaders(w.Header(), lim.QuotaMax, res.Quota.Remaining(lim.QuotaMax), unix(res.Quota.Reset))
	default:
		setHeaders(w.Header(), lim.QuotaMax, lim.QuotaMax, 0)
	}
	if counted && !res.Quota.Allowed {
		return chain.Errorf(http.StatusForbidden, chain.MsgQuotaExceeded, fmt.Errorf("quota of %d used", lim.QuotaMax)).Flagged("QEX")
	}
	if counted && k.Monitor != nil {
		k.Monitor(s, s.OrgID, c.KeyHash, lim.QuotaMax, res.Quota.Used, res.Quota.Reset)
	}
	return nil
}

// endpointLimit returns the first of a key's per-endpoint limits on the API that limits method
// on a path matching any of the readings, as Tyk matches them: the method named in the entry
// (without case), the path anywhere in the request's; and the method it is counted as. A HEAD
// that no entry names is counted as a GET, since upstreams answer it with their GET handler. A
// method whose rate is 0 or less sets no limit and is passed over, so the key's own rate applies
// to what it matches. A path that does not compile (refused wherever keys, policies and plugin
// sessions are written, so only from a key stored before that rule) fails the request: the limit
// it sets cannot be told to apply or not. ep is nil when no entry applies.
func (k *Key) endpointLimit(eps []apidef.EndpointLimit, method string, readings []string) (ep *apidef.EndpointLimit, l apidef.RateLimit, counted string, err error) {
	for i := range eps {
		counted = method
		l, ok := eps[i].Method(method)
		if !ok && method == http.MethodHead {
			counted = http.MethodGet
			l, ok = eps[i].Method(http.MethodGet)
		}
		if !ok || l.Rate <= 0 {
			continue
		}
		p, err := k.Patterns.Anywhere(eps[i].Path)
		if err != nil {
			return nil, apidef.RateLimit{}, "", fmt.Errorf("endpoints[%d]: %w", i, err)
		}
		if p.MatchAny(counted, readings) {
			return &eps[i], l, counted, nil
		}
	}
	return nil, apidef.RateLimit{}, method, nil
}

// endpointReadings are the paths a key's per-endpoint limits are matched against: the request's
// readings after the listen path and, with URL versioning, each of them with the version
// segment too (Tyk matches the path with the listen path stripped, the version still in it).
func endpointReadings(c *chain.Context) []string {
	if c.VersionSegment == "" {
		return c.Readings
	}
	out := make([]string, 0, 2*len(c.Readings))
	out = append(out, c.Readings...)
	for _, p := range c.Readings {
		out = append(out, "/"+c.VersionSegment+p)
	}
	return out
}

// endpointWindow is the suffix of the window a per-endpoint limit is counted in, after the
// key's (or key and API's) window name: a hash of the method and path, as Tyk's key suffix, so
// that each entry counts apart and the Redis Cluster slot stays the key's.
func endpointWindow(method, path string) string {
	sum := sha256.Sum256([]byte(strings.ToUpper(method) + ":" + path))
	return "-" + hex.EncodeToString(sum[:8])
}

// limit counts the request in the store, or on this gateway alone when the store cannot be
// reached and Local is set.
func (k *Key) limit(ctx context.Context, rate, quota storage.Spec) (storage.LimitResult, error) {
	res, err := k.Limits.Limit(ctx, rate, quota)
	if err != nil && k.Local != nil && errors.Is(err, storage.ErrUnavailable) {
		res, err = k.Local.Limit(ctx, rate, quota)
	}
	return res, err
}

// throttle has a request the rate limit refused (res) wait and be checked again, up to the
// limit's retries, unless MaxThrottled requests wait already.
func (k *Key) throttle(ctx context.Context, lim apidef.APILimit, rate, quota storage.Spec, res storage.LimitResult) (storage.LimitResult, error) {
	if k.Throttled.Add(1) > MaxThrottled {
		k.Throttled.Add(-1)
		return res, nil
	}
	defer k.Throttled.Add(-1)
	wait := k.Wait
	if wait == nil {
		wait = waitTimer
	}
	interval := time.Duration(lim.ThrottleInterval * float64(time.Second))
	var err error
	for retry := 0; retry < lim.ThrottleRetryLimit; retry++ {
		if !wait(ctx, interval) {
			break
		}
		if res, err = k.limit(ctx, rate, quota); err != nil || res.Rate.Allowed {
			break
		}
	}
	return res, err
}

// waitTimer waits d, or until ctx ends (false).
func waitTimer(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// unix returns t in Unix seconds, 0 for the zero time.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// unixCeil is unix rounded up to the next second: a sliding window's hits leave it mid-second,
// and a client waiting until the time said must not be refused (Retry-After rounds up too).
func unixCeil(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

func setHeaders(h http.Header, limit, remaining, reset int64) {
	// This runs on every keyed request: two allocations, one array for the three values and
	// one string holding the three numbers, formatted on the stack. Both are the request's own
	// (never pooled): the header map may be written out after the handler returns.
	var buf [3 * 20]byte
	b := strconv.AppendInt(buf[:0], limit, 10)
	i := len(b)
	b = strconv.AppendInt(b, remaining, 10)
	j := len(b)
	b = strconv.AppendInt(b, reset, 10)
	all := string(b)
	v := []string{all[:i], all[i:j], all[j:]}
	h[HeaderLimit] = v[0:1:1]
	h[HeaderRemaining] = v[1:2:2]
	h[HeaderReset] = v[2:3:3]
}

// smoothing is a key's rate limit smoothing in the store's terms.
func smoothing(sm apidef.RateLimitSmoothing) storage.Smoothing {
	// The delay is clamped as keys are checked when written: a session written to Redis by
	// another gateway (Tyk) was not, and seconds beyond that overflow a Duration.
	return storage.Smoothing{Threshold: sm.Threshold, Step: sm.Step, Trigger: sm.Trigger, Delay: time.Duration(min(sm.Delay, apidef.MaxPeriod)) * time.Second}
}
