package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/ratelimit"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// t0 is where the clock starts: a whole second, so that the sliding windows' slots (aligned on
// the Unix epoch) start with it and every instant below is exact.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	bodyAPIRate     = "{\n    \"error\": \"API Rate Limit Exceeded\"\n}"
	bodyUnavailable = "{\n    \"error\": \"Service Unavailable\"\n}"
	bodyUpstream    = "upstream"
)

const maxPeriod = time.Duration(apidef.MaxPeriod) * time.Second

// TestWindow converts Tyk's rate and per: whole rates as they are, fractional rates above one
// rounded down, rates below one as one request per per/rate seconds; rate and the window
// clamped to apidef.MaxRate and apidef.MaxPeriod; no limit for a rate or per of zero or less,
// an infinite rate or NaN.
func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		rate, per float64
		limit     int64
		window    time.Duration
		ok        bool
	}{
		{rate: 10, per: 60, limit: 10, window: time.Minute, ok: true},
		{rate: 1.5, per: 1, limit: 1, window: time.Second, ok: true},
		{rate: 1.999, per: 1, limit: 1, window: time.Second, ok: true},
		{rate: 1, per: 0.5, limit: 1, window: 500 * time.Millisecond, ok: true},
		{rate: 2.5, per: 0.5, limit: 2, window: 500 * time.Millisecond, ok: true},
		{rate: 0.5, per: 1, limit: 1, window: 2 * time.Second, ok: true},
		{rate: 0.25, per: 3, limit: 1, window: 12 * time.Second, ok: true},
		{rate: 1, per: 1, limit: 1, window: time.Second, ok: true},
		// The clamps.
		{rate: apidef.MaxRate, per: 1, limit: 1e9, window: time.Second, ok: true},
		{rate: apidef.MaxRate + 1, per: 1, limit: 1e9, window: time.Second, ok: true},
		{rate: 1e300, per: 1, limit: 1e9, window: time.Second, ok: true},
		{rate: 1, per: apidef.MaxPeriod, limit: 1, window: maxPeriod, ok: true},
		{rate: 1, per: apidef.MaxPeriod + 1, limit: 1, window: maxPeriod, ok: true},
		{rate: 3, per: math.Inf(1), limit: 3, window: maxPeriod, ok: true},
		{rate: 0.001, per: apidef.MaxPeriod, limit: 1, window: maxPeriod, ok: true},
		{rate: 5e-324, per: 1, limit: 1, window: maxPeriod, ok: true},
		// A per below apidef.MinPeriod, refused when written, still makes a window the store
		// keeps (it made every request 503 before).
		{rate: 1, per: 1e-10, limit: 1, window: time.Millisecond, ok: true},
		{rate: 5, per: 0.0005, limit: 5, window: time.Millisecond, ok: true},
		// No limit.
		{rate: 0, per: 1},
		{rate: 1, per: 0},
		{rate: -1, per: 1},
		{rate: 1, per: -1},
		{rate: math.Inf(1), per: 1},
		{rate: math.Inf(-1), per: 1},
		{rate: math.NaN(), per: 1},
		{rate: 1, per: math.NaN()},
	} {
		t.Run(fmt.Sprintf("%v per %v", tc.rate, tc.per), func(t *testing.T) {
			limit, window, ok := ratelimit.Window(tc.rate, tc.per)
			if limit != tc.limit || window != tc.window || ok != tc.ok {
				t.Errorf("Window(%v, %v) = %d, %v, %v; want %d, %v, %v", tc.rate, tc.per, limit, window, ok, tc.limit, tc.window, tc.ok)
			}
		})
	}
}

// TestRetryAfter: the whole seconds until Reset rounded up, at least one; no header without a
// Reset.
func TestRetryAfter(t *testing.T) {
	now := func() time.Time { return t0 }
	for _, tc := range []struct {
		name  string
		reset time.Time
		now   func() time.Time
		want  string
	}{
		{name: "no reset", now: now},
		{name: "in 1 ns", reset: t0.Add(time.Nanosecond), now: now, want: "1"},
		{name: "in 1 s", reset: t0.Add(time.Second), now: now, want: "1"},
		{name: "in 1 s and 1 ns", reset: t0.Add(time.Second + time.Nanosecond), now: now, want: "2"},
		{name: "in 10.2 s", reset: t0.Add(10200 * time.Millisecond), now: now, want: "11"},
		{name: "in 100 years", reset: t0.Add(maxPeriod), now: now, want: strconv.Itoa(apidef.MaxPeriod)},
		{name: "now", reset: t0, now: now, want: "1"},
		{name: "passed", reset: t0.Add(-5 * time.Second), now: now, want: "1"},
		// Without a clock, the system's: a Reset long past is still at least one second.
		{name: "system clock", reset: time.Unix(1, 0), want: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ratelimit.RetryAfter(storage.Usage{Reset: tc.reset}, tc.now)
			if tc.want == "" {
				if h != nil {
					t.Errorf("got %v, want no header", h)
				}
				return
			}
			if len(h) != 1 || len(h["Retry-After"]) != 1 || h["Retry-After"][0] != tc.want {
				t.Errorf("got %v, want Retry-After: %s", h, tc.want)
			}
		})
	}
}

// windows wraps the real memory store: it records what it is asked and, while err is set, fails
// with it instead of answering.
type windows struct {
	storage.Windows
	mu   sync.Mutex
	err  error
	hits []hit
}

type hit struct {
	key    string
	limit  int64
	window time.Duration
}

func (w *windows) Hit(ctx context.Context, key string, limit int64, window time.Duration) (storage.Usage, error) {
	w.mu.Lock()
	w.hits = append(w.hits, hit{key, limit, window})
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return storage.Usage{}, err
	}
	return w.Windows.Hit(ctx, key, limit, window)
}

func (w *windows) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

func (w *windows) asked() []hit {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]hit(nil), w.hits...)
}

var errDown = fmt.Errorf("redis: i/o timeout: %w", storage.ErrUnavailable)

func newWindows(t *testing.T, clock *storagetest.ManualClock) *windows {
	t.Helper()
	mem := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	t.Cleanup(func() { _ = mem.Close() })
	return &windows{Windows: mem}
}

// resp is what a client gets; retryAfter "" for no Retry-After. quotaHeaders lists any
// X-RateLimit-* header, which the API limit never sends (they describe a key's quota).
type resp struct {
	code         int
	body         string
	retryAfter   string
	quotaHeaders string
}

var (
	allowed     = resp{code: 200, body: bodyUpstream}
	unavailable = resp{code: 503, body: bodyUnavailable}
)

func limited(retryAfter int) resp {
	return resp{code: 429, body: bodyAPIRate, retryAfter: strconv.Itoa(retryAfter)}
}

type env struct {
	clock *storagetest.ManualClock
	store *windows
	err   error // the last refusal's
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := storagetest.NewManualClock(t0)
	return &env{clock: clock, store: newWindows(t, clock)}
}

// api returns the step for rate per per on API id, over the env's store and clock.
func (e *env) api(t *testing.T, id string, rate, per float64) *ratelimit.API {
	t.Helper()
	n, win, ok := ratelimit.Window(rate, per)
	if !ok {
		t.Fatalf("rate %v per %v sets no limit", rate, per)
	}
	return &ratelimit.API{APIID: id, Limit: n, Window: win, Windows: e.store, Now: e.clock.Now}
}

// serve runs a request through a chain of a's step and an upstream, rendering failures as the
// gateway does.
func (e *env) serve(a *ratelimit.API) resp {
	e.err = nil
	ch := chain.New([]chain.Step{a.Step()},
		func(w http.ResponseWriter, r *http.Request, c *chain.Context) { _, _ = io.WriteString(w, bodyUpstream) },
		func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
			e.err = err
			chain.Render(w, r, err)
		})
	rec := httptest.NewRecorder()
	ch.Serve(rec, httptest.NewRequest("GET", "/x", nil), &chain.Context{})
	got := resp{code: rec.Code, body: rec.Body.String()}
	if vs := rec.Header()["Retry-After"]; len(vs) == 1 {
		got.retryAfter = vs[0]
	} else if len(vs) > 1 {
		got.retryAfter = fmt.Sprintf("%q", vs)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-Ratelimit-Limit", "X-RateLimit-Remaining", "X-Ratelimit-Remaining", "X-RateLimit-Reset", "X-Ratelimit-Reset"} {
		if vs, ok := rec.Header()[h]; ok {
			got.quotaHeaders += fmt.Sprintf("%s: %q; ", h, vs)
		}
	}
	return got
}

type step struct {
	name    string
	advance time.Duration
	want    resp
}

func (e *env) run(t *testing.T, a *ratelimit.API, steps []step) {
	t.Helper()
	at := time.Duration(0)
	for i, st := range steps {
		e.clock.Advance(st.advance)
		at += st.advance
		if got := e.serve(a); got != st.want {
			t.Errorf("request %d (%s, at t0+%v):\n got %+v\nwant %+v", i+1, st.name, at, got, st.want)
		}
	}
}

// TestAPILimitAtEdges walks 2 requests per 10 s through its edges: the first refusal (429,
// Tyk's body, Retry-After to when the oldest hit leaves with its 200 ms slot, at 10.2 s), just
// before that and at it; the window slides, so hits late in it still count after it turns.
func TestAPILimitAtEdges(t *testing.T) {
	e := newEnv(t)
	a := e.api(t, "a", 2, 10)
	e.run(t, a, []step{
		{name: "first", want: allowed},
		{name: "last allowed, at 5 s", advance: 5 * time.Second, want: allowed},
		{name: "first refused", want: limited(6)},
		{name: "refused, just before 9.2 s", advance: 4200*time.Millisecond - time.Nanosecond, want: limited(2)},
		{name: "refused, at 9.2 s", advance: time.Nanosecond, want: limited(1)},
		{name: "just before 10.2 s", advance: time.Second - time.Nanosecond, want: limited(1)},
		{name: "at 10.2 s the first hit has left", advance: time.Nanosecond, want: allowed},
		// The hit of 5 s leaves at 15.2 s.
		{name: "refused again", want: limited(5)},
		{name: "at 15.2 s", advance: 5 * time.Second, want: allowed},
		{name: "and refused", want: limited(6)},
	})
}

// TestAPIFractionalRates runs global rate limits that are not whole requests per second.
func TestAPIFractionalRates(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate, per float64
		steps     []step
	}{
		{name: "1.5 per 1 s is 1 per second", rate: 1.5, per: 1, steps: []step{
			{name: "first", want: allowed},
			{name: "second", want: limited(2)},
			{name: "just before 1.02 s", advance: 1020*time.Millisecond - time.Nanosecond, want: limited(1)},
			{name: "at 1.02 s", advance: time.Nanosecond, want: allowed},
		}},
		{name: "1 per 0.5 s", rate: 1, per: 0.5, steps: []step{
			{name: "first", want: allowed},
			{name: "second", want: limited(1)},
			{name: "just before 0.51 s", advance: 510*time.Millisecond - time.Nanosecond, want: limited(1)},
			{name: "at 0.51 s", advance: time.Nanosecond, want: allowed},
			{name: "again", want: limited(1)},
		}},
		{name: "0.5 per 1 s is 1 per 2 s", rate: 0.5, per: 1, steps: []step{
			{name: "first", want: allowed},
			{name: "second", want: limited(3)},
			{name: "at 1.04 s", advance: 1040 * time.Millisecond, want: limited(1)},
			{name: "just before 2.04 s", advance: time.Second - time.Nanosecond, want: limited(1)},
			{name: "at 2.04 s", advance: time.Nanosecond, want: allowed},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.run(t, e.api(t, "a", tc.rate, tc.per), tc.steps)
		})
	}
}

// TestAPIWindowPerAPI: each API counts in its own window, named as in Tyk's key space, with the
// limit and window it was built with.
func TestAPIWindowPerAPI(t *testing.T) {
	e := newEnv(t)
	a, b := e.api(t, "a", 1, 60), e.api(t, "b", 2, 0.5)
	e.run(t, a, []step{{name: "a", want: allowed}, {name: "a refused", want: limited(62)}})
	e.run(t, b, []step{{name: "b", want: allowed}, {name: "b", want: allowed}, {name: "b refused", want: limited(1)}})
	want := []hit{
		{"rate-limit-api-a", 1, time.Minute}, {"rate-limit-api-a", 1, time.Minute},
		{"rate-limit-api-b", 2, 500 * time.Millisecond}, {"rate-limit-api-b", 2, 500 * time.Millisecond}, {"rate-limit-api-b", 2, 500 * time.Millisecond},
	}
	if got := e.store.asked(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("store asked %v\nwant %v", got, want)
	}
}

// TestAPILimitZero: a global limit of zero (which Window never gives) is no limit when no
// endpoint limit applies: every request passes and the store is not asked.
func TestAPILimitZero(t *testing.T) {
	e := newEnv(t)
	a := &ratelimit.API{APIID: "a", Limit: 0, Window: time.Second, Windows: e.store, Now: e.clock.Now}
	e.run(t, a, []step{{name: "passes", want: allowed}, {name: "still passes", want: allowed}})
	if got := e.store.asked(); len(got) != 0 {
		t.Errorf("the store was asked %v for no limit", got)
	}
}

// TestEndpointLimits: an extended_paths.rate_limit entry limits the requests it matches (its
// method, its path anywhere) in a window of its own, in place of global_rate_limit; requests
// it does not match count against the global limit, and so do those an entry with a rate of 0
// matches (it sets no limit, and exempts nothing); disabled entries, and the entries of a
// version without use_extended_paths, do not apply.
func TestEndpointLimits(t *testing.T) {
	entries := []apidef.RateLimitMeta{
		{Path: "/search", Method: "GET", Rate: 2, Per: 10},
		{Path: "/search", Method: "post", Rate: 1, Per: 10},
		{Path: "/free", Method: "GET"},
		{Path: "/off", Method: "GET", Rate: 1, Per: 10, Disabled: true},
		{Path: "/users/{id}", Method: "GET", Rate: 1, Per: 10},
	}
	eps, err := ratelimit.Compile("a", map[string]apidef.VersionInfo{
		"v1":    {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{RateLimit: entries}},
		"plain": {ExtendedPaths: apidef.ExtendedPathsSet{RateLimit: entries}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	n, win, _ := ratelimit.Window(3, 10)
	a := &ratelimit.API{APIID: "a", Limit: n, Window: win, Endpoints: eps, Windows: e.store, Now: e.clock.Now}
	ch := chain.New([]chain.Step{a.Step()},
		func(w http.ResponseWriter, r *http.Request, c *chain.Context) { _, _ = io.WriteString(w, bodyUpstream) },
		func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
			e.err = err
			chain.Render(w, r, err)
		})
	do := func(version, method, path string) int {
		rec := httptest.NewRecorder()
		ch.Serve(rec, httptest.NewRequest(method, path, nil), &chain.Context{Version: version, Readings: endpoint.Readings(path)})
		return rec.Code
	}
	for _, tc := range []struct {
		version, method, path string
		want                  []int
	}{
		{"v1", "GET", "/api/search", []int{200, 200, 429}},
		// A HEAD no entry names counts in its GET's window (upstreams answer it as a GET).
		{"v1", "HEAD", "/api/search", []int{429}},
		{"v1", "head", "/api/search", []int{429}},
		{"v1", "POST", "/search", []int{200, 429}},
		{"v1", "GET", "/users/7", []int{200, 429}},
		{"v1", "GET", "/free", []int{200, 200}},
		{"v1", "GET", "/other", []int{200, 429}},
		// The global window is used up: the endpoints' own windows are not.
		{"v1", "GET", "/off", []int{429}},
		{"plain", "GET", "/search", []int{429}},
		{"v1", "DELETE", "/search", []int{429}},
	} {
		var got []int
		for range tc.want {
			got = append(got, do(tc.version, tc.method, tc.path))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %s (version %s): %v, want %v", tc.method, tc.path, tc.version, got, tc.want)
		}
	}
	if e.err == nil || !strings.Contains(e.err.Error(), "global") {
		t.Errorf("the last refusal says %v, want the global limit", e.err)
	}
	do("v1", "GET", "/search")
	if e.err == nil || !strings.Contains(e.err.Error(), "endpoint GET /search") {
		t.Errorf("a refusal by an endpoint's limit says %v, want which endpoint", e.err)
	}
	keys := map[string]bool{}
	for _, h := range e.store.asked() {
		keys[h.key] = true
	}
	if len(keys) != 4 || !keys["rate-limit-api-a"] {
		t.Errorf("windows counted: %v; want the global one and one for each of the three limited entries hit", keys)
	}
}

// TestAPIStoreUnavailable: a store that cannot be reached gives 503 with the cause kept for
// the log, unless the node counts on its own meanwhile (Local); other errors give 503 even then.
func TestAPIStoreUnavailable(t *testing.T) {
	t.Run("no fallback", func(t *testing.T) {
		e := newEnv(t)
		a := e.api(t, "a", 1, 10)
		e.store.fail(errDown)
		e.run(t, a, []step{{name: "down", want: unavailable}, {name: "still down", want: unavailable}})
		if !errors.Is(e.err, storage.ErrUnavailable) || chain.StatusOf(e.err) != 503 {
			t.Errorf("error %v: the log needs the store's cause", e.err)
		}
		e.store.fail(nil)
		e.run(t, a, []step{{name: "back: nothing was counted meanwhile", want: allowed}, {name: "refused", want: limited(11)}})
	})

	t.Run("counted locally while down", func(t *testing.T) {
		e := newEnv(t)
		a := e.api(t, "a", 1, 10)
		local := newWindows(t, e.clock)
		a.Local = local
		e.store.fail(errDown)
		e.run(t, a, []step{
			{name: "local", want: allowed},
			{name: "local refusal", advance: 3 * time.Second, want: limited(8)},
		})
		e.store.fail(nil)
		e.run(t, a, []step{{name: "back: the shared count", want: allowed}})
		if n := len(local.asked()); n != 2 {
			t.Errorf("the local store was asked %d times, want 2", n)
		}
	})

	t.Run("other errors are not covered by the fallback", func(t *testing.T) {
		e := newEnv(t)
		a := e.api(t, "a", 1, 10)
		local := newWindows(t, e.clock)
		a.Local = local
		broken := errors.New("redis: NOSCRIPT No matching script")
		e.store.fail(broken)
		e.run(t, a, []step{{name: "broken", want: unavailable}})
		if !errors.Is(e.err, broken) {
			t.Errorf("error %v lost its cause", e.err)
		}
		if n := len(local.asked()); n != 0 {
			t.Errorf("the local store was asked %d times", n)
		}
	})

	t.Run("both down", func(t *testing.T) {
		e := newEnv(t)
		a := e.api(t, "a", 1, 10)
		local := newWindows(t, e.clock)
		a.Local = local
		e.store.fail(errDown)
		local.fail(errDown)
		e.run(t, a, []step{{name: "both down", want: unavailable}})
	})
}
