// Package breaker implements an API's `extended_paths.circuit_breakers`. Each entry is a
// breaker over the last `samples` requests to its endpoint (method and path) that reached the
// upstream: a failure is a 5xx answer, the gateway's own 502 and 504 for an upstream that
// failed or timed out included. When the failures among the last `samples` requests reach
// `threshold_percent`, the breaker opens: for `return_to_service_after` seconds every request
// to the endpoint gets 503 `Service temporarily unavailable.` (Tyk's answer) without reaching
// the upstream. Then one request is let through as a probe (half-open): its success closes the
// breaker, its failure opens it again. With `disable_half_open_state` the breaker simply closes.
//
// A breaker's state belongs to one gateway process and to one compiled API: it is not shared
// between the gateways of a fleet, and a reload that rebuilds the API starts it closed.
package breaker

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// MsgOpen is Tyk's answer while a breaker is open.
const MsgOpen = "Service temporarily unavailable."

type state int

const (
	closed state = iota
	open
	halfOpen
)

// Breaker is one endpoint's circuit breaker. It is safe for concurrent use.
type Breaker struct {
	threshold  float64
	samples    int
	wait       time.Duration
	noHalfOpen bool
	now        func() time.Time
	log        *slog.Logger
	apiID      string
	endpoint   string
	onChange   func(tripped bool, endpoint string)

	mu       sync.Mutex
	state    state
	ring     []bool // the last outcomes, true for a failure
	next     int    // where the next outcome goes
	n        int    // outcomes in ring
	failures int    // failures in ring
	openedAt time.Time
	probing  bool // a probe is under way (half-open)
}

// Options configure a Breaker.
type Options struct {
	// Threshold is the failure ratio (0 to 1] that opens the breaker; Samples the number of
	// last requests it is measured over; Wait how long the breaker stays open.
	Threshold  float64
	Samples    int
	Wait       time.Duration
	NoHalfOpen bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log receives a line when the breaker opens and closes; APIID and Endpoint name it.
	Log      *slog.Logger
	APIID    string
	Endpoint string
	// OnChange, when set, is told when the breaker trips (true) and when it resets (false); it
	// must not block.
	OnChange func(tripped bool, endpoint string)
}

// New returns a closed breaker.
func New(o Options) *Breaker {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Samples < 1 {
		o.Samples = 1
	}
	return &Breaker{
		threshold: o.Threshold, samples: o.Samples, wait: o.Wait, noHalfOpen: o.NoHalfOpen,
		now: o.Now, log: o.Log, apiID: o.APIID, endpoint: o.Endpoint, onChange: o.OnChange,
		ring: make([]bool, o.Samples),
	}
}

// outcome is what a request that was let through says of the upstream.
type outcome int

const (
	success outcome = iota
	failure
	unknown // nothing was answered (the client went away): counted neither way
)

// Allow reports whether a request may go to the upstream, and whether it is the half-open
// probe. Every request allowed must be followed by Done.
func (b *Breaker) Allow() (probe, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case closed:
		return false, true
	case open:
		if b.now().Sub(b.openedAt) < b.wait {
			return false, false
		}
		if b.noHalfOpen {
			b.closeLocked("return_to_service_after has passed")
			return false, true
		}
		b.state = halfOpen
	}
	// Half-open: one probe at a time.
	if b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// Done records the outcome of a request Allow let through.
func (b *Breaker) Done(probe bool, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		switch o {
		case success:
			b.closeLocked("the probe request succeeded")
		case failure:
			b.openLocked("the probe request failed")
		}
		return
	}
	if b.state != closed || o == unknown {
		return // an answer to a request sent before the breaker opened
	}
	if b.n == b.samples {
		if b.ring[b.next] {
			b.failures--
		}
	} else {
		b.n++
	}
	b.ring[b.next] = o == failure
	if o == failure {
		b.failures++
	}
	b.next = (b.next + 1) % b.samples
	if b.n == b.samples && float64(b.failures) >= b.threshold*float64(b.samples) {
		b.openLocked(fmt.Sprintf("%d of the last %d requests failed", b.failures, b.samples))
	}
}

func (b *Breaker) openLocked(why string) {
	b.state, b.openedAt = open, b.now()
	b.resetLocked()
	if b.log != nil {
		b.log.Warn("circuit breaker tripped; the endpoint answers 503 until it recovers", "api_id", b.apiID, "endpoint", b.endpoint, "reason", why, "return_to_service_after", b.wait.String())
	}
	if b.onChange != nil {
		b.onChange(true, b.endpoint)
	}
}

func (b *Breaker) closeLocked(why string) {
	b.state = closed
	b.resetLocked()
	if b.log != nil {
		b.log.Info("circuit breaker reset", "api_id", b.apiID, "endpoint", b.endpoint, "reason", why)
	}
	if b.onChange != nil {
		b.onChange(false, b.endpoint)
	}
}

func (b *Breaker) resetLocked() {
	clear(b.ring)
	b.n, b.next, b.failures = 0, 0, 0
}

// Serve forwards through serve when the breaker allows it and records the outcome from the
// status written; when it is open, the client gets 503 and serve is not called.
func (b *Breaker) Serve(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter)) {
	probe, ok := b.Allow()
	if !ok {
		chain.WriteFlaggedError(w, r, http.StatusServiceUnavailable, MsgOpen, "CBO")
		return
	}
	rec := &recorder{ResponseWriter: w}
	o := failure // a panic on the way counts against the upstream...
	returned := false
	defer func() {
		if !returned && chain.CallerGone(r) {
			// ...unless the client's side cut it off (it left during the body, its batch ran
			// out of time): no outcome of the upstream's. (One cut off before any answer
			// returns with nothing written: unknown below.)
			o = unknown
		}
		b.Done(probe, o)
	}()
	serve(rec)
	returned = true
	if c := chain.FromRequest(r); c != nil && c.OverriddenStatus != 0 {
		rec.status = c.OverriddenStatus // what the upstream answered, before an error override
	}
	switch {
	case rec.status == 0:
		o = unknown
	case rec.status >= 500:
		o = failure
	default:
		o = success
	}
}

// recorder notes the status of the response.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Set holds the breakers of every version of an API.
type Set struct {
	table endpoint.Table[*Breaker]
}

// Compile returns the breakers of a definition, or nil when it has none. As in Tyk, entries
// apply only to a version with use_extended_paths.
func Compile(def *apidef.APIDefinition, now func() time.Time, log *slog.Logger, onChange func(tripped bool, endpoint string)) (*Set, error) {
	s := &Set{}
	for name, v := range def.VersionData.Versions {
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for i, e := range v.ExtendedPaths.CircuitBreaker {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.circuit_breakers[%d]", name, i)
			b := New(Options{
				Threshold: e.ThresholdPercent, Samples: int(e.Samples),
				Wait: time.Duration(e.ReturnToServiceAfter) * time.Second, NoHalfOpen: e.DisableHalfOpenState,
				Now: now, Log: log, APIID: def.APIID, Endpoint: e.Method + " " + e.Path, OnChange: onChange,
			})
			if err := s.table.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, b); err != nil {
				return nil, err
			}
		}
	}
	if s.table.Empty() {
		return nil, nil
	}
	return s, nil
}

// For returns the breaker of a request's endpoint (a HEAD no entry names has its GET's), or nil.
func (s *Set) For(version, method string, readings []string) *Breaker {
	b, _ := s.table.LookupHeadAsGet(version, method, readings)
	return b
}
