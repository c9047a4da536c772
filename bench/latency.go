package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Latency mode (--latency, issue 15): instead of wrk's closed loop, which sends a request only
// when an earlier one has been answered (so a slow answer delays the requests behind it and
// hides their wait: coordinated omission), vegeta sends requests at a constant rate whatever
// the answers do, starting more workers when all are waiting, and measures each request from
// when it was sent. Per scenario the rate is half the bare proxy's maximum, measured with wrk
// first (--rate-fraction changes the half); each round runs the bare proxy and the gatehouse at that rate back to back (in an
// order rotated from round to round), and the report gives their p50 and p99 and the latency
// gatehouse adds to the bare proxy's, medians over rounds of the pairs' differences.

// maxLatencyWorkers bounds the requests in flight (and so the connections) of a run.
const maxLatencyWorkers = 512

// latencyGoal is issue 15's: the added p99 of the keyless and keyed scenarios.
const latencyGoal = 100 * time.Microsecond

// latencyGoalFor returns the added-p99 goal of a scenario, 0 for none.
func latencyGoalFor(name string) time.Duration {
	switch name {
	case "keyless", "keyed":
		return latencyGoal
	}
	return 0
}

// latencyRun is one constant-rate run through one proxy.
type latencyRun struct {
	Rate     float64 // what was asked, requests per second
	Sent     int     // requests sent
	Achieved float64 // requests per second answered
	P50, P99 time.Duration
	Max      time.Duration
	Errors   int // transport errors and statuses outside 200-399
}

// attack sends GET url (with header, "Name: value" or "") at rate requests per second for d and
// returns the exact latency percentiles of every request.
func attack(ctx context.Context, url, header string, rate int, d time.Duration) (latencyRun, error) {
	h := http.Header{}
	if err := setHeader(h, header); err != nil {
		return latencyRun{}, err
	}
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: url, Header: h})
	// The run's own transport, whose connections are closed when it ends: left open, they
	// would pile up on the proxy from run to run. Workers (one request in flight each) are
	// bounded so that a proxy that cannot keep up is reported saturated rather than buried
	// under thousands of new connections.
	ht := &http.Transport{MaxIdleConnsPerHost: maxLatencyWorkers, DisableCompression: true}
	defer ht.CloseIdleConnections()
	a := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: ht, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}),
		vegeta.Workers(64),
		vegeta.MaxWorkers(maxLatencyWorkers),
		vegeta.MaxBody(64<<10),
	)
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	defer stop()
	run := latencyRun{Rate: float64(rate)}
	lat := make([]time.Duration, 0, int(float64(rate)*d.Seconds())+16)
	var first, last time.Time
	for res := range a.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, d, "latency") {
		run.Sent++
		if res.Error != "" || res.Code < 200 || res.Code >= 400 {
			run.Errors++
			continue
		}
		lat = append(lat, res.Latency)
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
	}
	if err := ctx.Err(); err != nil {
		return latencyRun{}, err
	}
	if len(lat) == 0 {
		return latencyRun{}, fmt.Errorf("no request through %s succeeded (%d sent)", url, run.Sent)
	}
	slices.Sort(lat)
	run.P50, run.P99, run.Max = quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1]
	if span := last.Sub(first); span > 0 {
		run.Achieved = float64(len(lat)) / span.Seconds()
	}
	return run, nil
}

// quantile returns the q quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencyResult is one scenario's runs.
type latencyResult struct {
	sc       *scenario
	maxRate  float64 // the bare proxy's maximum, req/s (wrk)
	rate     int
	bare, gh []latencyRun
}

// measureLatency runs the latency mode for every scenario: the bare proxy's maximum with wrk,
// then rounds of constant-rate runs at half of it through the bare proxy and the gatehouse.
func measureLatency(ctx context.Context, o options, w wrkRun, results []*scenarioResult, bare *target, ghs map[*scenario]*target) ([]*latencyResult, error) {
	var out []*latencyResult
	for _, r := range results {
		if r.sc.scriptFile != "" {
			return nil, fmt.Errorf("%s: --latency sends GET requests only; this scenario POSTs a body", r.sc.name)
		}
		lr := &latencyResult{sc: r.sc}
		w.URL, w.Header, w.Script = bare.url+r.sc.path(), r.sc.header(), ""
		res, _, err := runWrk(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("%s: the bare proxy's maximum: %w", r.sc.name, err)
		}
		lr.maxRate = res.RequestsPerSec
		lr.rate = max(int(res.RequestsPerSec*o.rateFraction), 1)
		logf("%s: bare proxy maximum %s req/s (wrk -c%d); constant rate %d req/s", r.sc.name, num(res.RequestsPerSec), w.Connections, lr.rate)
		tgs := []*target{bare, ghs[r.sc]}
		for round := range o.rounds {
			order := tgs
			if round%2 == 1 {
				order = []*target{tgs[1], tgs[0]}
			}
			for _, tg := range order {
				run, err := attack(ctx, tg.url+r.sc.path(), r.sc.header(), lr.rate, o.duration)
				if err != nil {
					return nil, fmt.Errorf("%s through %s: %w", r.sc.name, tg.name, err)
				}
				if tg == bare {
					lr.bare = append(lr.bare, run)
				} else {
					lr.gh = append(lr.gh, run)
				}
				logf("round %d/%d %-16s %-9s %d req/s asked, %s answered  p50 %-9s p99 %-9s max %-9s errors %d", round+1, o.rounds,
					r.sc.name, tg.name, lr.rate, num(run.Achieved), run.P50.Round(time.Microsecond), run.P99.Round(time.Microsecond),
					run.Max.Round(time.Microsecond), run.Errors)
			}
		}
		out = append(out, lr)
	}
	return out, nil
}

// LatencyJS is one scenario's latency at a constant rate: medians over rounds.
type LatencyJS struct {
	Name string `json:"name"`
	// BareMaxRequestsPerSec is the bare proxy's maximum (wrk), RateRequestsPerSec half of it.
	BareMaxRequestsPerSec float64        `json:"bare_max_requests_per_sec"`
	RateRequestsPerSec    int            `json:"rate_requests_per_sec"`
	Bare                  LatencyMetrics `json:"bare"`
	Gatehouse             LatencyMetrics `json:"gatehouse"`
	// AddedP50Us and AddedP99Us are the medians over rounds of gatehouse's percentile minus the
	// bare proxy's in the same round.
	AddedP50Us float64 `json:"added_p50_us"`
	AddedP99Us float64 `json:"added_p99_us"`
	// Saturated is set when a proxy answered less than 95 % of the rate in some round: the
	// load side, the machine or the proxy could not keep up, queues grew, and the percentiles
	// measure the queue rather than the proxy. The goal is not judged then.
	Saturated bool `json:"saturated,omitempty"`
	// GoalAddedP99Us is issue 15's bound on AddedP99Us (keyless and keyed), 0 for none.
	GoalAddedP99Us float64 `json:"goal_added_p99_us,omitempty"`
	GoalMet        *bool   `json:"goal_met,omitempty"`
}

// saturated reports whether a run answered less than 95 % of its rate.
func (r latencyRun) saturated() bool { return r.Achieved < 0.95*r.Rate }

// LatencyMetrics are one proxy's medians over rounds.
type LatencyMetrics struct {
	AchievedRequestsPerSec float64 `json:"achieved_requests_per_sec"`
	P50Us                  float64 `json:"p50_us"`
	P99Us                  float64 `json:"p99_us"`
	MaxUs                  float64 `json:"max_us"`
	Errors                 int     `json:"errors"` // summed over rounds
}

func latencyMetrics(rs []latencyRun) LatencyMetrics {
	m := LatencyMetrics{
		AchievedRequestsPerSec: round3(medianOf(rs, func(r latencyRun) float64 { return r.Achieved })),
		P50Us:                  round3(medianOf(rs, func(r latencyRun) float64 { return us(r.P50) })),
		P99Us:                  round3(medianOf(rs, func(r latencyRun) float64 { return us(r.P99) })),
		MaxUs:                  round3(medianOf(rs, func(r latencyRun) float64 { return us(r.Max) })),
	}
	for _, r := range rs {
		m.Errors += r.Errors
	}
	return m
}

// latencyReport turns the runs into the report's entries.
func latencyReport(lrs []*latencyResult) []LatencyJS {
	var out []LatencyJS
	for _, lr := range lrs {
		n := min(len(lr.bare), len(lr.gh))
		d50, d99 := make([]float64, n), make([]float64, n)
		for i := range n {
			d50[i] = us(lr.gh[i].P50 - lr.bare[i].P50)
			d99[i] = us(lr.gh[i].P99 - lr.bare[i].P99)
		}
		js := LatencyJS{
			Name:                  lr.sc.name,
			BareMaxRequestsPerSec: round3(lr.maxRate),
			RateRequestsPerSec:    lr.rate,
			Bare:                  latencyMetrics(lr.bare),
			Gatehouse:             latencyMetrics(lr.gh),
			AddedP50Us:            round3(median(d50)),
			AddedP99Us:            round3(median(d99)),
		}
		for _, r := range append(append([]latencyRun(nil), lr.bare...), lr.gh...) {
			js.Saturated = js.Saturated || r.saturated()
		}
		if g := latencyGoalFor(lr.sc.name); g > 0 {
			js.GoalAddedP99Us = us(g)
			if !js.Saturated {
				met := js.AddedP99Us <= js.GoalAddedP99Us && js.Gatehouse.Errors == 0
				js.GoalMet = &met
			}
		}
		out = append(out, js)
	}
	return out
}

// writeLatencyTable prints the latency report.
func writeLatencyTable(w io.Writer, rep Report, markdown bool) {
	m := rep.Machine
	fmt.Fprintf(w, "Gatehouse %s vs bare httputil.ReverseProxy at a constant rate (vegeta) — %s\n", rep.Gatehouse, rep.Date)
	fmt.Fprintf(w, "%s, %d cores, %s %s/%s, rate = half the bare proxy's maximum (wrk -t%d -c%d), %d rounds × %gs, medians\n",
		m.CPUModel, m.Cores, m.GoVersion, m.OS, m.Arch, rep.Settings.Threads, rep.Settings.Connections, rep.Settings.Rounds, rep.Settings.DurationSeconds)
	if rep.Settings.Pinned {
		fmt.Fprintf(w, "pinned: each proxy alone on CPU %s with GOMAXPROCS=1, the load and the upstream on CPU %s\n", proxyCPU, loadCPU)
	}
	fmt.Fprintln(w)
	header := []string{"scenario", "proxy", "rate", "answered", "p50", "p99", "max", "errors", "added p50", "added p99", "goal"}
	var rows [][]string
	for _, s := range rep.Latency {
		rows = append(rows, []string{s.Name, "bare", strconv.Itoa(s.RateRequestsPerSec), num(s.Bare.AchievedRequestsPerSec),
			latStr(s.Bare.P50Us), latStr(s.Bare.P99Us), latStr(s.Bare.MaxUs), strconv.Itoa(s.Bare.Errors), "", "", ""})
		verdict := ""
		switch {
		case s.Saturated:
			verdict = "SATURATED, not judged"
		case s.GoalMet != nil:
			verdict = fmt.Sprintf("≤%s ", latStr(s.GoalAddedP99Us)) + map[bool]string{true: "ok", false: "ABOVE"}[*s.GoalMet]
		}
		name := s.Name
		if !markdown {
			name = ""
		}
		rows = append(rows, []string{name, "gatehouse", strconv.Itoa(s.RateRequestsPerSec), num(s.Gatehouse.AchievedRequestsPerSec),
			latStr(s.Gatehouse.P50Us), latStr(s.Gatehouse.P99Us), latStr(s.Gatehouse.MaxUs), strconv.Itoa(s.Gatehouse.Errors),
			latStr(s.AddedP50Us), latStr(s.AddedP99Us), verdict})
	}
	writeRows(w, header, rows, markdown)
	fmt.Fprintln(w, "\nadded: median over rounds of gatehouse's percentile minus the bare proxy's in the same round;")
	fmt.Fprintln(w, "latency measured from when each request was sent, at a constant rate whatever the answers do;")
	fmt.Fprintln(w, "SATURATED: a proxy answered under 95 % of the rate in a round, so queues, not the proxy, set the percentiles.")
}

// latStr prints a latency in µs, as ms from 10 ms.
func latStr(us float64) string {
	if us >= 10000 || us <= -10000 {
		return strconv.FormatFloat(us/1000, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}
