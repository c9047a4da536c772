package keylimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/keylimit"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// t0 is where the clock starts: a whole second, so that the sliding windows' slots (aligned on
// the Unix epoch) start with it and every instant below is exact.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// forever is the window of a quota that never renews (keylimit's own constant).
const forever = 100 * 365 * 24 * time.Hour

const (
	keyHash = "5f2b0c"
	apiID   = "api1"

	// The bodies Tyk answers with (chain.WriteError's layout).
	bodyRate        = "{\n    \"error\": \"Rate limit exceeded\"\n}"
	bodyQuota       = "{\n    \"error\": \"Quota exceeded\"\n}"
	bodyUnavailable = "{\n    \"error\": \"Service Unavailable\"\n}"
	bodyUpstream    = "upstream"
)

// unix is the X-RateLimit-Reset value of t0+d: Unix seconds.
func unix(d time.Duration) string { return strconv.FormatInt(t0.Add(d).Unix(), 10) }

// call is one call to the store.
type call struct{ rate, quota storage.Spec }

// store wraps the real memory store: it records what it is asked and, while err is set, fails
// with it instead of answering, as a store that cannot be reached does.
type store struct {
	storage.Limits
	mu    sync.Mutex
	err   error
	calls []call
}

func (s *store) Limit(ctx context.Context, rate, quota storage.Spec) (storage.LimitResult, error) {
	s.mu.Lock()
	s.calls = append(s.calls, call{rate, quota})
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return storage.LimitResult{}, err
	}
	return s.Limits.Limit(ctx, rate, quota)
}

func (s *store) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *store) last(t *testing.T) call {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("the store was not called")
	}
	return s.calls[len(s.calls)-1]
}

// errDown is what a store that cannot be reached returns.
var errDown = fmt.Errorf("redis: dial tcp: connection refused: %w", storage.ErrUnavailable)

// newStore returns a memory store reading clock, behind the recording wrapper.
func newStore(t *testing.T, clock *storagetest.ManualClock) *store {
	t.Helper()
	mem := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	t.Cleanup(func() { _ = mem.Close() })
	return &store{Limits: mem}
}

type env struct {
	clock *storagetest.ManualClock
	store *store
	key   *keylimit.Key
	// err is the error the last refused request failed with.
	err error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := storagetest.NewManualClock(t0)
	st := newStore(t, clock)
	return &env{clock: clock, store: st, key: &keylimit.Key{APIID: apiID, Limits: st, Now: clock.Now,
		Throttled: new(atomic.Int64)}}
}

// resp is what a client gets. Header lists the rate limit headers and Retry-After, "" for
// absent.
type resp struct {
	code   int
	body   string
	header [4]string // X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After
}

var headerNames = [4]string{keylimit.HeaderLimit, keylimit.HeaderRemaining, keylimit.HeaderReset, "Retry-After"}

// ok is a forwarded request with the quota headers limit, remaining and reset.
func ok(limit, remaining int64, reset string) resp {
	return resp{code: 200, body: bodyUpstream, header: [4]string{strconv.FormatInt(limit, 10), strconv.FormatInt(remaining, 10), reset, ""}}
}

// rateLimited is a 429 with Retry-After and no quota headers.
func rateLimited(retryAfter int) resp {
	return resp{code: 429, body: bodyRate, header: [4]string{3: strconv.Itoa(retryAfter)}}
}

// quotaExceeded is a 403 with the quota headers: nothing left, and when it renews.
func quotaExceeded(limit int64, reset string) resp {
	return resp{code: 403, body: bodyQuota, header: [4]string{strconv.FormatInt(limit, 10), "0", reset, ""}}
}

var unavailable = resp{code: 503, body: bodyUnavailable}

// serve runs a request with session s through a chain of the key's step and an upstream,
// rendering failures as the gateway does.
func (e *env) serve(s *apidef.SessionState, ctx *chain.Context) resp {
	return e.serveMethod(s, ctx, "GET")
}

// serveMethod is serve with a request of the given method.
func (e *env) serveMethod(s *apidef.SessionState, ctx *chain.Context, method string) resp {
	e.err = nil
	ch := chain.New([]chain.Step{e.key.Step()},
		func(w http.ResponseWriter, r *http.Request, c *chain.Context) { _, _ = io.WriteString(w, bodyUpstream) },
		func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
			e.err = err
			chain.Render(w, r, err)
		})
	if ctx == nil {
		ctx = &chain.Context{KeyHash: keyHash}
	}
	ctx.State = &reqctx.State{Session: s}
	rec := httptest.NewRecorder()
	ch.Serve(rec, httptest.NewRequest(method, "/x", nil), ctx)
	got := resp{code: rec.Code, body: rec.Body.String()}
	for i, h := range headerNames {
		// The step writes Tyk's spelling (X-RateLimit-...) straight into the map, bypassing
		// canonicalisation (X-Ratelimit-...), so the map is read as it is, as a server writes it.
		switch vs := rec.Header()[h]; len(vs) {
		case 0:
		case 1:
			got.header[i] = vs[0]
		default:
			got.header[i] = fmt.Sprintf("%q", vs)
		}
	}
	return got
}

// step is a request, after moving the clock by advance, and what it must get.
type step struct {
	name    string
	advance time.Duration
	want    resp
}

func (e *env) run(t *testing.T, s *apidef.SessionState, steps []step) {
	t.Helper()
	at := time.Duration(0)
	for i, st := range steps {
		e.clock.Advance(st.advance)
		at += st.advance
		if got := e.serve(s, nil); got != st.want {
			t.Errorf("request %d (%s, at t0+%v):\n got %+v\nwant %+v", i+1, st.name, at, got, st.want)
		}
	}
}

// TestQuotaHeadersAtEdges walks a quota of 3 per minute through its edges: the headers of the
// first request, of the last one allowed, of the first refused (403, Tyk's body, nothing left),
// just before the renewal and at it, when the count starts afresh without the refusals.
func TestQuotaHeadersAtEdges(t *testing.T) {
	e := newEnv(t)
	s := &apidef.SessionState{Rate: 0, QuotaMax: 3, QuotaRenewalRate: 60}
	e.run(t, s, []step{
		{name: "first", want: ok(3, 2, unix(time.Minute))},
		{name: "second", advance: 20 * time.Second, want: ok(3, 1, unix(time.Minute))},
		{name: "last allowed", advance: 20 * time.Second, want: ok(3, 0, unix(time.Minute))},
		{name: "first refused", want: quotaExceeded(3, unix(time.Minute))},
		{name: "refused again", advance: 20*time.Second - time.Nanosecond, want: quotaExceeded(3, unix(time.Minute))},
		{name: "renewed", advance: time.Nanosecond, want: ok(3, 2, unix(2*time.Minute))},
		{name: "second of the new window", want: ok(3, 1, unix(2*time.Minute))},
	})
	if e.err != nil {
		t.Errorf("the last request failed: %v", e.err)
	}
}

// TestQuotaRenewalMidSecond starts a quota half-way through a second. The quota renews exactly
// one renewal period after the first request; X-RateLimit-Reset, in whole Unix seconds, is that
// instant rounded down.
func TestQuotaRenewalMidSecond(t *testing.T) {
	e := newEnv(t)
	s := &apidef.SessionState{QuotaMax: 1, QuotaRenewalRate: 10}
	e.run(t, s, []step{
		{name: "first, at 1.5 s", advance: 1500 * time.Millisecond, want: ok(1, 0, unix(11*time.Second))},
		{name: "refused", want: quotaExceeded(1, unix(11*time.Second))},
		{name: "just before the renewal (11.5 s)", advance: 10*time.Second - time.Nanosecond, want: quotaExceeded(1, unix(11*time.Second))},
		{name: "renewed at 11.5 s", advance: time.Nanosecond, want: ok(1, 0, unix(21*time.Second))},
	})
}

// TestQuotaThatNeverRenews gives quotas a renewal rate of zero or less, or one too long to
// count in: they never renew (their window is 100 years, which X-RateLimit-Reset shows).
func TestQuotaThatNeverRenews(t *testing.T) {
	for _, renewal := range []int64{0, -1, apidef.MaxPeriod, math.MaxInt64} {
		t.Run(strconv.FormatInt(renewal, 10), func(t *testing.T) {
			e := newEnv(t)
			s := &apidef.SessionState{QuotaMax: 2, QuotaRenewalRate: renewal}
			e.run(t, s, []step{
				{name: "first", want: ok(2, 1, unix(forever))},
				{name: "last", advance: 365 * 24 * time.Hour, want: ok(2, 0, unix(forever))},
				{name: "refused", want: quotaExceeded(2, unix(forever))},
				{name: "ten years on", advance: 10 * 365 * 24 * time.Hour, want: quotaExceeded(2, unix(forever))},
			})
			if got := e.store.last(t).quota; got != (storage.Spec{Key: "quota-{" + keyHash + "}", Limit: 2, Window: forever}) {
				t.Errorf("quota spec %+v", got)
			}
		})
	}
}

// TestUnlimited covers what sets no limit: a quota_max of zero or less and a rate or per of
// zero or less (as in Tyk), disable_quota and disable_rate_limit. With neither limit the store
// is never asked (here it is down, and every request still passes); the headers still report
// the quota as the session holds it.
func TestUnlimited(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       apidef.SessionState
		noQuota bool
		noRate  bool
		want    resp
	}{
		{name: "quota -1, rate 0", s: apidef.SessionState{QuotaMax: -1, Rate: 0, Per: 1}, want: ok(-1, -1, "0")},
		{name: "quota 0, per 0", s: apidef.SessionState{QuotaMax: 0, Rate: 5, Per: 0}, want: ok(0, 0, "0")},
		{name: "negative rate and per", s: apidef.SessionState{QuotaMax: -1, Rate: -1, Per: -1}, want: ok(-1, -1, "0")},
		{name: "NaN rate", s: apidef.SessionState{QuotaMax: -1, Rate: math.NaN(), Per: 1}, want: ok(-1, -1, "0")},
		{name: "NaN per", s: apidef.SessionState{QuotaMax: -1, Rate: 1, Per: math.NaN()}, want: ok(-1, -1, "0")},
		{name: "infinite rate", s: apidef.SessionState{QuotaMax: -1, Rate: math.Inf(1), Per: 1}, want: ok(-1, -1, "0")},
		{name: "disable_quota keeps the headers", s: apidef.SessionState{QuotaMax: 3, QuotaRenewalRate: 60}, noQuota: true, want: ok(3, 3, "0")},
		{name: "disable_rate_limit and quota -1", s: apidef.SessionState{QuotaMax: -1, Rate: 1, Per: 1}, noRate: true, want: ok(-1, -1, "0")},
		{name: "both disabled", s: apidef.SessionState{QuotaMax: 1, Rate: 1, Per: 1}, noQuota: true, noRate: true, want: ok(1, 1, "0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.key.NoQuota, e.key.NoRateLimit = tc.noQuota, tc.noRate
			e.store.fail(errDown)
			for i := range 5 {
				if got := e.serve(&tc.s, nil); got != tc.want {
					t.Fatalf("request %d:\n got %+v\nwant %+v", i+1, got, tc.want)
				}
			}
			if n := e.store.count(); n != 0 {
				t.Errorf("the store was asked %d times", n)
			}
		})
	}
}

// TestRateOnlyCounted: with a quota that sets no limit the store is asked about the rate alone,
// and the headers report the session's quota as it is.
func TestRateOnlyCounted(t *testing.T) {
	e := newEnv(t)
	e.key.NoQuota = true
	s := &apidef.SessionState{Rate: 1, Per: 1, QuotaMax: 5, QuotaRenewalRate: 60}
	e.run(t, s, []step{
		{name: "allowed", want: ok(5, 5, "0")},
		{name: "rate limited", want: rateLimited(2)},
	})
	if got := e.store.last(t); got != (call{rate: storage.Spec{Key: "rate-limit-{" + keyHash + "}", Limit: 1, Window: time.Second}}) {
		t.Errorf("store asked %+v", got)
	}
}

// TestFractionalRates runs rates that are not whole requests per second. A rate below one
// becomes one request per per/rate seconds; a rate above one is rounded down. The window
// slides in slots of storage.SlotLength(window) (a fiftieth), and a hit leaves the window with
// its slot: Retry-After is the whole seconds, rounded up, until then.
func TestFractionalRates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate, per float64
		steps     []step
	}{
		{name: "1.5 per 1 s is 1 per second", rate: 1.5, per: 1, steps: []step{
			{name: "first", want: ok(-1, -1, "0")},
			// The hit of t0 leaves with its 20 ms slot, at 1.02 s.
			{name: "second, at once", want: rateLimited(2)},
			{name: "at 20 ms", advance: 20 * time.Millisecond, want: rateLimited(1)},
			{name: "just before 1.02 s", advance: time.Second - time.Nanosecond, want: rateLimited(1)},
			{name: "at 1.02 s", advance: time.Nanosecond, want: ok(-1, -1, "0")},
			{name: "again at once", want: rateLimited(2)},
		}},
		{name: "1 per 0.5 s", rate: 1, per: 0.5, steps: []step{
			{name: "first", want: ok(-1, -1, "0")},
			{name: "second, at once", want: rateLimited(1)},
			{name: "just before 0.51 s", advance: 510*time.Millisecond - time.Nanosecond, want: rateLimited(1)},
			{name: "at 0.51 s", advance: time.Nanosecond, want: ok(-1, -1, "0")},
			{name: "again at once", want: rateLimited(1)},
		}},
		{name: "0.5 per 1 s is 1 per 2 s", rate: 0.5, per: 1, steps: []step{
			{name: "first", want: ok(-1, -1, "0")},
			{name: "second, at once", want: rateLimited(3)},
			{name: "just before 1.04 s", advance: 1040*time.Millisecond - time.Nanosecond, want: rateLimited(2)},
			{name: "at 1.04 s", advance: time.Nanosecond, want: rateLimited(1)},
			{name: "just before 2.04 s", advance: time.Second - time.Nanosecond, want: rateLimited(1)},
			{name: "at 2.04 s", advance: time.Nanosecond, want: ok(-1, -1, "0")},
		}},
		{name: "2.5 per 0.5 s is 2 per 500 ms", rate: 2.5, per: 0.5, steps: []step{
			{name: "first", want: ok(-1, -1, "0")},
			{name: "second", want: ok(-1, -1, "0")},
			{name: "third", want: rateLimited(1)},
			{name: "at 0.51 s both left", advance: 510 * time.Millisecond, want: ok(-1, -1, "0")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.run(t, &apidef.SessionState{Rate: tc.rate, Per: tc.per, QuotaMax: -1}, tc.steps)
		})
	}
}

// TestRateSlidesAtTheWindowEdge: three per ten seconds, with two hits late in the window, gives
// no second burst when the window turns, and Retry-After counts to when the oldest hit leaves.
func TestRateSlidesAtTheWindowEdge(t *testing.T) {
	e := newEnv(t)
	s := &apidef.SessionState{Rate: 3, Per: 10, QuotaMax: -1}
	e.run(t, s, []step{
		{name: "first", want: ok(-1, -1, "0")},
		{name: "second at 9 s", advance: 9 * time.Second, want: ok(-1, -1, "0")},
		{name: "last allowed", want: ok(-1, -1, "0")},
		// The hit of t0 leaves with its 200 ms slot at 10.2 s.
		{name: "first refused", want: rateLimited(2)},
		{name: "at 10.2 s the first hit has left", advance: 1200 * time.Millisecond, want: ok(-1, -1, "0")},
		// The hits of 9 s leave at 19.2 s.
		{name: "refused again", want: rateLimited(9)},
		{name: "just before 19.2 s", advance: 9*time.Second - time.Nanosecond, want: rateLimited(1)},
		{name: "at 19.2 s", advance: time.Nanosecond, want: ok(-1, -1, "0")},
		{name: "and one more", want: ok(-1, -1, "0")},
		{name: "then refused until the hit of 10.2 s leaves at 20.4 s", want: rateLimited(2)},
	})
}

// TestRefusalsUseNothing: a request the rate limit refuses uses none of the quota, and one the
// quota refuses none of the rate.
func TestRefusalsUseNothing(t *testing.T) {
	t.Run("rate refusal", func(t *testing.T) {
		e := newEnv(t)
		s := &apidef.SessionState{Rate: 1, Per: 1, QuotaMax: 5, QuotaRenewalRate: 60}
		e.run(t, s, []step{
			{name: "first", want: ok(5, 4, unix(time.Minute))},
			{name: "rate limited", want: rateLimited(2)},
			{name: "rate limited again", advance: 500 * time.Millisecond, want: rateLimited(1)},
			{name: "after the window", advance: 520 * time.Millisecond, want: ok(5, 3, unix(time.Minute))},
		})
	})
	t.Run("quota refusal", func(t *testing.T) {
		e := newEnv(t)
		s := &apidef.SessionState{Rate: 2, Per: 10, QuotaMax: 1, QuotaRenewalRate: 1}
		e.run(t, s, []step{
			{name: "first", want: ok(1, 0, unix(time.Second))},
			{name: "quota exceeded", want: quotaExceeded(1, unix(time.Second))},
			{name: "quota exceeded again", want: quotaExceeded(1, unix(time.Second))},
			{name: "renewed: the rate counted one hit only", advance: time.Second, want: ok(1, 0, unix(2*time.Second))},
			// Both hits counted (0 s and 1 s) are in the window; the first leaves at 10.2 s.
			{name: "rate limited", advance: time.Second, want: rateLimited(9)},
		})
	})
}

// TestSpecs checks what the step asks the store: counter names (apart per API when the access
// right sets its own limit), limits and windows, with rate and per clamped to apidef.MaxRate
// and apidef.MaxPeriod and a renewal rate past apidef.MaxPeriod counted as never.
func TestSpecs(t *testing.T) {
	rateKey, quotaKey := "rate-limit-{"+keyHash+"}", "quota-{"+keyHash+"}"
	maxPeriod := time.Duration(apidef.MaxPeriod) * time.Second
	for _, tc := range []struct {
		name string
		s    apidef.SessionState
		want call
	}{
		{name: "rate and quota", s: apidef.SessionState{Rate: 5, Per: 10, QuotaMax: 100, QuotaRenewalRate: 3600},
			want: call{storage.Spec{Key: rateKey, Limit: 5, Window: 10 * time.Second}, storage.Spec{Key: quotaKey, Limit: 100, Window: time.Hour}}},
		{name: "rate at the bound", s: apidef.SessionState{Rate: apidef.MaxRate, Per: 1},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 1e9, Window: time.Second}}},
		{name: "rate past the bound", s: apidef.SessionState{Rate: 5e12, Per: 1},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 1e9, Window: time.Second}}},
		{name: "per at the bound", s: apidef.SessionState{Rate: 1, Per: apidef.MaxPeriod},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 1, Window: maxPeriod}}},
		{name: "per past the bound", s: apidef.SessionState{Rate: 1, Per: 1e15},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 1, Window: maxPeriod}}},
		{name: "infinite per", s: apidef.SessionState{Rate: 7, Per: math.Inf(1)},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 7, Window: maxPeriod}}},
		{name: "tiny rate", s: apidef.SessionState{Rate: 1e-300, Per: 1},
			want: call{rate: storage.Spec{Key: rateKey, Limit: 1, Window: maxPeriod}}},
		{name: "renewal just under the bound", s: apidef.SessionState{QuotaMax: 1, QuotaRenewalRate: apidef.MaxPeriod - 1},
			want: call{quota: storage.Spec{Key: quotaKey, Limit: 1, Window: maxPeriod - time.Second}}},
		{name: "per-API limit counted apart", s: apidef.SessionState{Rate: 100, Per: 1, QuotaMax: 1000, AccessRights: map[string]apidef.AccessDefinition{
			apiID: {APIID: apiID, Limit: &apidef.APILimit{Rate: 2, Per: 4, QuotaMax: 8, QuotaRenewalRate: 16}},
		}}, want: call{storage.Spec{Key: rateKey + "-" + apiID, Limit: 2, Window: 4 * time.Second}, storage.Spec{Key: quotaKey + "-" + apiID, Limit: 8, Window: 16 * time.Second}}},
		{name: "another API's limit does not apply", s: apidef.SessionState{Rate: 100, Per: 1, AccessRights: map[string]apidef.AccessDefinition{
			"other": {APIID: "other", Limit: &apidef.APILimit{Rate: 2, Per: 4}},
		}}, want: call{rate: storage.Spec{Key: rateKey, Limit: 100, Window: time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if got := e.serve(&tc.s, nil); got.code != 200 {
				t.Fatalf("status %d: %v", got.code, e.err)
			}
			if got := e.store.last(t); got != tc.want {
				t.Errorf("store asked\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

// TestKeptNames checks that the step counts a key found in the store under the names the key
// check kept for it (chain.Context.KeyNames), without formatting them, while they name the
// request's key: not those of another key (an auth step that ran after changed KeyHash), nor
// for a limit of the key's own on this API, counted apart.
func TestKeptNames(t *testing.T) {
	kept := &session.Names{Hash: keyHash, Rate: "kept-rate", Quota: "kept-quota"}
	rateKey, quotaKey := "rate-limit-{"+keyHash+"}", "quota-{"+keyHash+"}"
	own := apidef.SessionState{Rate: 100, Per: 1, QuotaMax: 1000, AccessRights: map[string]apidef.AccessDefinition{
		apiID: {APIID: apiID, Limit: &apidef.APILimit{Rate: 2, Per: 4, QuotaMax: 8, QuotaRenewalRate: 16}},
	}}
	for _, tc := range []struct {
		name  string
		names *session.Names
		s     apidef.SessionState
		rate  string
		quota string
	}{
		{name: "kept names", names: kept, s: apidef.SessionState{Rate: 5, Per: 1, QuotaMax: 9}, rate: "kept-rate", quota: "kept-quota"},
		{name: "another key's names", names: &session.Names{Hash: "0ther", Rate: "kept-rate", Quota: "kept-quota"},
			s: apidef.SessionState{Rate: 5, Per: 1, QuotaMax: 9}, rate: rateKey, quota: quotaKey},
		{name: "none kept", s: apidef.SessionState{Rate: 5, Per: 1, QuotaMax: 9}, rate: rateKey, quota: quotaKey},
		{name: "per-API limit", names: kept, s: own, rate: rateKey + "-" + apiID, quota: quotaKey + "-" + apiID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if got := e.serve(&tc.s, &chain.Context{KeyHash: keyHash, KeyNames: tc.names}); got.code != 200 {
				t.Fatalf("status %d: %v", got.code, e.err)
			}
			if got := e.store.last(t); got.rate.Key != tc.rate || got.quota.Key != tc.quota {
				t.Errorf("counted in %q and %q, want %q and %q", got.rate.Key, got.quota.Key, tc.rate, tc.quota)
			}
		})
	}
}

// TestClampedRateStillCounts: a rate past apidef.MaxRate (stored before the bound existed)
// counts as the bound rather than overflowing into no limit or a refusal.
func TestClampedRateStillCounts(t *testing.T) {
	e := newEnv(t)
	s := &apidef.SessionState{Rate: 1e300, Per: 1e300, QuotaMax: 2, QuotaRenewalRate: 60}
	e.run(t, s, []step{
		{name: "first", want: ok(2, 1, unix(time.Minute))},
		{name: "second", want: ok(2, 0, unix(time.Minute))},
		{name: "quota, not rate", want: quotaExceeded(2, unix(time.Minute))},
	})
}

// TestNotApplied: a request on an ignored endpoint, or without a session, is left alone.
func TestNotApplied(t *testing.T) {
	e := newEnv(t)
	s := &apidef.SessionState{Rate: 1, Per: 1, QuotaMax: 1, QuotaRenewalRate: 60}
	want := resp{code: 200, body: bodyUpstream}
	for range 3 {
		if got := e.serve(s, &chain.Context{KeyHash: keyHash, Ignored: true}); got != want {
			t.Errorf("ignored endpoint: %+v", got)
		}
		if got := e.serve(nil, &chain.Context{KeyHash: keyHash}); got != want {
			t.Errorf("no session: %+v", got)
		}
	}
	if n := e.store.count(); n != 0 {
		t.Errorf("the store was asked %d times", n)
	}
}

// TestStoreUnavailable: a store that cannot be reached gives 503 (the cause kept for the log),
// unless the gateway counts on its own meanwhile (Local); any other store error gives 503 even
// then, as it says nothing of whether the shared store is down.
func TestStoreUnavailable(t *testing.T) {
	s := &apidef.SessionState{Rate: 2, Per: 10, QuotaMax: 3, QuotaRenewalRate: 60}

	t.Run("no fallback", func(t *testing.T) {
		e := newEnv(t)
		e.store.fail(errDown)
		if got := e.serve(s, nil); got != unavailable {
			t.Errorf("got %+v, want %+v", got, unavailable)
		}
		if !errors.Is(e.err, storage.ErrUnavailable) || chain.StatusOf(e.err) != 503 {
			t.Errorf("error %v: the log needs the store's cause", e.err)
		}
		// Back up: nothing was counted meanwhile.
		e.store.fail(nil)
		e.run(t, s, []step{{name: "store back", want: ok(3, 2, unix(time.Minute))}})
	})

	t.Run("counted locally while down", func(t *testing.T) {
		e := newEnv(t)
		local := newStore(t, e.clock)
		e.key.Local = local
		e.store.fail(errDown)
		e.run(t, s, []step{
			{name: "first, local", want: ok(3, 2, unix(time.Minute))},
			{name: "second, local", advance: time.Second, want: ok(3, 1, unix(time.Minute))},
			// The hit of t0 leaves at 10.2 s.
			{name: "rate limited, local", want: rateLimited(10)},
		})
		if n := local.count(); n != 3 {
			t.Errorf("the local store was asked %d times, want 3", n)
		}
		e.store.fail(nil)
		e.run(t, s, []step{{name: "store back: its own count", want: ok(3, 2, unix(time.Minute+time.Second))}})
		if n := local.count(); n != 3 {
			t.Errorf("the local store was asked again with the shared one back")
		}
	})

	t.Run("other errors are not covered by the fallback", func(t *testing.T) {
		e := newEnv(t)
		local := newStore(t, e.clock)
		e.key.Local = local
		broken := errors.New("redis: WRONGTYPE Operation against a key holding the wrong kind of value")
		e.store.fail(broken)
		if got := e.serve(s, nil); got != unavailable {
			t.Errorf("got %+v, want %+v", got, unavailable)
		}
		if !errors.Is(e.err, broken) {
			t.Errorf("error %v lost its cause", e.err)
		}
		if n := local.count(); n != 0 {
			t.Errorf("the local store was asked %d times", n)
		}
	})

	t.Run("both down", func(t *testing.T) {
		e := newEnv(t)
		local := newStore(t, e.clock)
		e.key.Local = local
		e.store.fail(errDown)
		local.fail(errDown)
		if got := e.serve(s, nil); got != unavailable {
			t.Errorf("got %+v, want %+v", got, unavailable)
		}
	})
}

// TestHeadersReplaced: the step sets each header once, in Tyk's spelling, replacing whatever an
// earlier step set under that spelling.
func TestHeadersReplaced(t *testing.T) {
	e := newEnv(t)
	ch := chain.New([]chain.Step{
		{Name: "earlier", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
			w.Header()[keylimit.HeaderLimit] = []string{"99"}
			w.Header()[keylimit.HeaderRemaining] = []string{"98", "97"}
			return nil
		}},
		e.key.Step(),
	}, func(w http.ResponseWriter, r *http.Request, c *chain.Context) {}, func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
		t.Errorf("refused: %v", err)
	})
	rec := httptest.NewRecorder()
	ch.Serve(rec, httptest.NewRequest("GET", "/", nil), &chain.Context{KeyHash: keyHash, State: &reqctx.State{Session: &apidef.SessionState{QuotaMax: 4, QuotaRenewalRate: 1}}})
	for h, want := range map[string][]string{keylimit.HeaderLimit: {"4"}, keylimit.HeaderRemaining: {"3"}, keylimit.HeaderReset: {unix(time.Second)}} {
		if got := rec.Header()[h]; !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}

// throttle makes the env's waits move its clock, and records them; gone makes the client leave
// at the wait of that number (1 for the first), 0 for never.
func (e *env) throttle(gone int) *[]time.Duration {
	var waits []time.Duration
	e.key.Wait = func(ctx context.Context, d time.Duration) bool {
		waits = append(waits, d)
		if len(waits) == gone {
			return false
		}
		e.clock.Advance(d)
		return true
	}
	return &waits
}

// TestThrottle: with throttle_interval and throttle_retry_limit, a request the rate limit
// refuses waits the interval and is checked again, up to the limit, before it gets 429. The
// checks that refused it count toward neither limit; what waited is a request like another.
// (Retry-After counts from the slot of the hit in the window: 0.2 s of a 10 s window.)
func TestThrottle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     *apidef.SessionState
		gone  int
		full  bool // MaxThrottled requests wait already
		want  resp
		waits []time.Duration
		calls int // to the store, for the throttled request
	}{
		{"passes after three waits", &apidef.SessionState{Rate: 1, Per: 10, ThrottleInterval: 4, ThrottleRetryLimit: 5, QuotaMax: 5},
			0, false, ok(5, 3, unix(forever)), []time.Duration{4 * time.Second, 4 * time.Second, 4 * time.Second}, 4},
		{"retries run out", &apidef.SessionState{Rate: 1, Per: 10, ThrottleInterval: 1.5, ThrottleRetryLimit: 2},
			0, false, rateLimited(8), []time.Duration{1500 * time.Millisecond, 1500 * time.Millisecond}, 3},
		{"the client leaves", &apidef.SessionState{Rate: 1, Per: 10, ThrottleInterval: 4, ThrottleRetryLimit: 5},
			2, false, rateLimited(7), []time.Duration{4 * time.Second, 4 * time.Second}, 2},
		{"the gateway's waiting room is full", &apidef.SessionState{Rate: 1, Per: 10, ThrottleInterval: 4, ThrottleRetryLimit: 5},
			0, true, rateLimited(11), nil, 1},
		{"no interval, no retry", &apidef.SessionState{Rate: 1, Per: 10, ThrottleRetryLimit: 5},
			0, false, rateLimited(11), nil, 1},
		{"no retry limit, no wait", &apidef.SessionState{Rate: 1, Per: 10, ThrottleInterval: 4},
			0, false, rateLimited(11), nil, 1},
		{"the API's own limit throttles", &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
			apiID: {APIID: apiID, Limit: &apidef.APILimit{Rate: 1, Per: 2, ThrottleInterval: 1, ThrottleRetryLimit: 3}}}},
			0, false, ok(0, 0, "0"), []time.Duration{time.Second, time.Second, time.Second}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			waits := e.throttle(tc.gone)
			if tc.full {
				e.key.Throttled.Store(keylimit.MaxThrottled)
			}
			e.serve(tc.s, nil)
			*waits = nil
			before := e.store.count()
			if got := e.serve(tc.s, nil); got != tc.want {
				t.Errorf("throttled request:\n got %+v\nwant %+v", got, tc.want)
			}
			if !slices.Equal(*waits, tc.waits) {
				t.Errorf("waited %v, want %v", *waits, tc.waits)
			}
			if n := e.store.count() - before; n != tc.calls {
				t.Errorf("%d checks, want %d", n, tc.calls)
			}
			if n, want := e.key.Throttled.Load(), map[bool]int64{true: keylimit.MaxThrottled}[tc.full]; n != want {
				t.Errorf("%d requests counted as waiting after the request, want %d", n, want)
			}
		})
	}
}

// TestRateHeaders: with RateHeaders (rate_limit_response_headers "rate_limits") the X-RateLimit
// headers describe the key's rate limit, not its quota: the rate, what is left in the window and
// when its oldest counted request leaves it, on the 429 too; the quota still refuses with 403;
// a key without a rate limit gets none of them.
func TestRateHeaders(t *testing.T) {
	e := newEnv(t)
	e.key.RateHeaders = true
	s := &apidef.SessionState{Rate: 3, Per: 10, QuotaMax: 4, QuotaRenewalRate: 3600}
	// The first request leaves the window with its slot (a fiftieth of per) after 10.2 s; the
	// headers round it up to the next whole second, as Retry-After does.
	leaves := unix(11 * time.Second)
	rateHeaders := func(code int, body string, remaining, retryAfter string) resp {
		return resp{code: code, body: body, header: [4]string{"3", remaining, leaves, retryAfter}}
	}
	e.run(t, s, []step{
		{"first", 0, rateHeaders(200, bodyUpstream, "2", "")},
		{"second", time.Second, rateHeaders(200, bodyUpstream, "1", "")},
		{"third", time.Second, rateHeaders(200, bodyUpstream, "0", "")},
		{"rate limited", time.Second, rateHeaders(429, bodyRate, "0", "8")},
		// The first request left the window: one more passes, the quota's fourth.
		{"after the first left", 8 * time.Second, resp{code: 200, body: bodyUpstream, header: [4]string{"3", "0", unix(12 * time.Second), ""}}},
		// The quota refuses the next; the rate headers say what the window holds.
		{"quota used", 10 * time.Second, resp{code: 403, body: bodyQuota, header: [4]string{"3", "2", unix(22 * time.Second), ""}}},
	})
	quotaOnly := &apidef.SessionState{QuotaMax: 5, QuotaRenewalRate: 3600}
	if got := e.serve(quotaOnly, nil); got != (resp{code: 200, body: bodyUpstream}) {
		t.Errorf("a key without a rate limit: %+v, want no X-RateLimit headers", got)
	}
}

// TestEndpointSpecs: a key's per-endpoint limit on the API replaces its rate for the requests it
// matches (the first entry naming the method, without case, whose path matches anywhere in the
// request's), counted in a window of its own; the quota is the key's.
func TestEndpointSpecs(t *testing.T) {
	rateKey, quotaKey := "rate-limit-{"+keyHash+"}", "quota-{"+keyHash+"}"
	suffix := func(methodPath string) string {
		sum := sha256.Sum256([]byte(methodPath))
		return "-" + hex.EncodeToString(sum[:8])
	}
	m := func(name string, rate, per float64) apidef.EndpointMethodLimit {
		return apidef.EndpointMethodLimit{Name: name, Limit: apidef.RateLimit{Rate: rate, Per: per}}
	}
	session := func(limit *apidef.APILimit, eps ...apidef.EndpointLimit) apidef.SessionState {
		return apidef.SessionState{Rate: 100, Per: 1, QuotaMax: 50, QuotaRenewalRate: 60,
			AccessRights: map[string]apidef.AccessDefinition{apiID: {APIID: apiID, Limit: limit, Endpoints: eps}}}
	}
	quota := storage.Spec{Key: quotaKey, Limit: 50, Window: time.Minute}
	keyRate := storage.Spec{Key: rateKey, Limit: 100, Window: time.Second}
	for _, tc := range []struct {
		name string
		s    apidef.SessionState
		want call
	}{
		{name: "matching entry", s: session(nil, apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{m("POST", 9, 1), m("get", 3, 60)}}),
			want: call{storage.Spec{Key: rateKey + suffix("GET:/x"), Limit: 3, Window: time.Minute}, quota}},
		{name: "the first matching entry wins", s: session(nil,
			apidef.EndpointLimit{Path: "/y", Methods: []apidef.EndpointMethodLimit{m("GET", 1, 1)}},
			apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{m("POST", 1, 1)}},
			apidef.EndpointLimit{Path: "x", Methods: []apidef.EndpointMethodLimit{m("GET", 2, 1)}},
			apidef.EndpointLimit{Path: "/", Methods: []apidef.EndpointMethodLimit{m("GET", 3, 1)}}),
			want: call{storage.Spec{Key: rateKey + suffix("GET:x"), Limit: 2, Window: time.Second}, quota}},
		{name: "a method without a rate is passed over", s: session(nil,
			apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{m("GET", 0, 0)}},
			apidef.EndpointLimit{Path: "/", Methods: []apidef.EndpointMethodLimit{m("GET", 5, 1)}}),
			want: call{storage.Spec{Key: rateKey + suffix("GET:/"), Limit: 5, Window: time.Second}, quota}},
		{name: "no entry for the method: the key's rate", s: session(nil, apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{m("POST", 1, 1)}}),
			want: call{keyRate, quota}},
		{name: "no entry for the path: the key's rate", s: session(nil, apidef.EndpointLimit{Path: "/y", Methods: []apidef.EndpointMethodLimit{m("GET", 1, 1)}}),
			want: call{keyRate, quota}},
		{name: "a path written anchored", s: session(nil,
			apidef.EndpointLimit{Path: "^/y", Methods: []apidef.EndpointMethodLimit{m("GET", 1, 1)}},
			apidef.EndpointLimit{Path: "^/x$", Methods: []apidef.EndpointMethodLimit{m("GET", 6, 1)}}),
			want: call{storage.Spec{Key: rateKey + suffix("GET:^/x$"), Limit: 6, Window: time.Second}, quota}},
		{name: "with the API's own limit", s: session(&apidef.APILimit{Rate: 7, Per: 1, QuotaMax: 8, QuotaRenewalRate: 16},
			apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{m("GET", 2, 1)}}),
			want: call{storage.Spec{Key: rateKey + "-" + apiID + suffix("GET:/x"), Limit: 2, Window: time.Second},
				storage.Spec{Key: quotaKey + "-" + apiID, Limit: 8, Window: 16 * time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.key.Patterns = &endpoint.PatternCache{}
			if got := e.serve(&tc.s, &chain.Context{KeyHash: keyHash, Readings: []string{"/x"}}); got.code != 200 {
				t.Fatalf("status %d: %v", got.code, e.err)
			}
			if got := e.store.last(t); got != tc.want {
				t.Errorf("store asked\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

// TestEndpointLimitEdges: a HEAD no entry names counts against the GET limit, in its window; a
// URL-versioned request matches entries written with the version; a path that does not compile
// fails the request rather than being guessed at.
func TestEndpointLimitEdges(t *testing.T) {
	rateKey := "rate-limit-{" + keyHash + "}"
	suffix := func(methodPath string) string {
		sum := sha256.Sum256([]byte(methodPath))
		return "-" + hex.EncodeToString(sum[:8])
	}
	limit := func(path, method string, rate float64) apidef.SessionState {
		return apidef.SessionState{Rate: 100, Per: 1, AccessRights: map[string]apidef.AccessDefinition{apiID: {APIID: apiID,
			Endpoints: []apidef.EndpointLimit{{Path: path, Methods: []apidef.EndpointMethodLimit{{Name: method, Limit: apidef.RateLimit{Rate: rate, Per: 1}}}}}}}}
	}
	e := newEnv(t)
	e.key.Patterns = &endpoint.PatternCache{}
	ctx := func() *chain.Context { return &chain.Context{KeyHash: keyHash, Readings: []string{"/x"}} }

	s := limit("/x", "GET", 3)
	if got := e.serveMethod(&s, ctx(), "HEAD"); got.code != 200 {
		t.Fatalf("HEAD: %d %v", got.code, e.err)
	}
	if got, want := e.store.last(t).rate, (storage.Spec{Key: rateKey + suffix("GET:/x"), Limit: 3, Window: time.Second}); got != want {
		t.Errorf("HEAD counted in %+v, want the GET entry's %+v", got, want)
	}
	s = limit("/x", "HEAD", 4)
	if got := e.serveMethod(&s, ctx(), "HEAD"); got.code != 200 {
		t.Fatalf("HEAD with its own entry: %d %v", got.code, e.err)
	}
	if got := e.store.last(t).rate; got.Limit != 4 || got.Key != rateKey+suffix("HEAD:/x") {
		t.Errorf("HEAD with its own entry counted in %+v", got)
	}

	s = limit("/v1/x", "GET", 5)
	versioned := ctx()
	versioned.VersionSegment = "v1"
	if got := e.serve(&s, versioned); got.code != 200 {
		t.Fatalf("versioned: %d %v", got.code, e.err)
	}
	if got := e.store.last(t).rate; got.Limit != 5 {
		t.Errorf("an entry written with the URL version was not matched: %+v", got)
	}
	if got := e.serve(&s, ctx()); got.code != 200 || e.store.last(t).rate.Limit != 100 {
		t.Errorf("without the version in the URL, the entry matched: %+v", e.store.last(t).rate)
	}

	s = limit("/y/(", "GET", 1000)
	before := e.store.count()
	if got := e.serve(&s, ctx()); got.code != 500 {
		t.Errorf("a path that does not compile: status %d, want 500", got.code)
	}
	if e.store.count() != before {
		t.Error("a request whose limits could not be read was counted")
	}
}
