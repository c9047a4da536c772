package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Latency mode (--latency, issue 15): instead of wrk's closed loop, which sends a request only
// when an earlier one has been answered (so a slow answer delays the requests behind it and
// hides their wait: coordinated omission), the benchmark's own load generator (loadgen.go) sends
// requests on a fixed schedule at a constant rate whatever the answers do, and measures each
// from its intended send time. Per scenario the rate is half the bare proxy's maximum, measured
// with wrk first (--rate-fraction changes the half); each round runs the bare proxy, the
// gatehouse and the bare proxy again at that rate back to back, and the report gives their p50
// and p99 and the latency gatehouse adds to the bare proxy's (the mean of its two runs around
// the gatehouse's), medians over rounds. The bare proxy's second run against its first is a
// control: what the measurement reports between two runs of the same proxy is its own noise,
// and the goal is judged only when that is well under it. The upstream is the raw one (rawupstream.go) unless
// --upstream says otherwise. Beside the percentiles, each run reports what the load side cost
// (the generator's and the upstream's CPU, and with --pinned how busy the load core was) and
// how late the generator sent against its schedule, so that a run measuring the load side
// rather than the proxy is flagged and not judged.

// latencyConns is the load generator's keep-alive connections: at half the bare proxy's
// maximum, a few are in flight at a time; 64 absorb stalls of several milliseconds without a
// request waiting for a connection (which the run counts, as queued).
const latencyConns = 64

// latencyGoal is issue 15's: the added p99 of the keyless and keyed scenarios.
const latencyGoal = 100 * time.Microsecond

// defaultMaxSendLag bounds the generator's own lateness (--max-send-lag): a run whose sends
// started more than this late against their schedule at the 99th percentile measured the load
// side too, by an amount comparable to the goal, and is flagged.
const defaultMaxSendLag = latencyGoal / 2

// maxControlShare bounds the control (the bare proxy's second run against its first, p99,
// median over rounds) as a share of the goal: a measurement that finds more than half the goal
// between two runs of the same proxy cannot tell whether gatehouse is within it.
const maxControlShare = 0.5

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
	Rate     float64 // the schedule's, requests per second
	Sent     int     // requests sent
	Achieved float64 // requests per second answered
	P50, P99 time.Duration
	Max      time.Duration
	Errors   int // transport errors, statuses outside 200-399, answers missing at the end
	// LagP50, LagP99 and LagMax are how late the generator took requests up against their
	// intended send times (its own delay and waits for a connection).
	LagP50, LagP99, LagMax time.Duration
	Queued                 int    // requests that found every connection busy
	FirstError             string // the first transport error, "" for none
	// GeneratorCPU, UpstreamCPU and ProxyCPU are each process's CPU time over the run's wall
	// time, in cores; LoadCoreBusy the load CPU's busy share over the run (every process on
	// it, the machine's other tenants included), 0 when not pinned.
	GeneratorCPU, UpstreamCPU, ProxyCPU, LoadCoreBusy float64
}

// saturated reports whether a run did not keep its rate: it answered less than 95 % of it, or
// more than 1 % of its requests found every connection busy, so queues, not the proxy's work,
// set its percentiles.
func (r latencyRun) saturated() bool {
	return r.Achieved < 0.95*r.Rate || float64(r.Queued) > 0.01*float64(r.Sent)
}

// behind reports whether the generator fell behind its schedule by more than maxLag at the 99th
// percentile.
func (r latencyRun) behind(maxLag time.Duration) bool { return r.LagP99 > maxLag }

// constantRun sends GET url (with header, "Name: value" or "") at rate requests per second for
// d through the proxy process proxy, with upstream the upstream's process, and measures it.
// loadCPU, when not "", is the CPU the load side is pinned to.
func constantRun(ctx context.Context, url, header string, rate int, d time.Duration, proxy, upstream *child, loadCPU string) (latencyRun, error) {
	hostPath, ok := strings.CutPrefix(url, "http://")
	if !ok {
		return latencyRun{}, fmt.Errorf("%s: the load generator speaks plain http:// only", url)
	}
	addr, path := hostPath, "/"
	if i := strings.IndexByte(hostPath, '/'); i >= 0 {
		addr, path = hostPath[:i], hostPath[i:]
	}
	req, err := buildRequest(addr, path, header)
	if err != nil {
		return latencyRun{}, err
	}
	pids := []int{proxy.Pid(), upstream.Pid()}
	cpu0, err := cpuTimes(pids)
	if err != nil {
		return latencyRun{}, err
	}
	core0, _ := cpuBusy(loadCPU)
	t0 := time.Now()
	res, err := generate(ctx, loadSpec{addr: addr, request: req, rate: rate, duration: d, conns: latencyConns, drain: 10 * time.Second})
	if err != nil {
		return latencyRun{}, err
	}
	wall := time.Since(t0)
	cpu1, err := cpuTimes(pids)
	if err != nil {
		return latencyRun{}, err
	}
	core1, _ := cpuBusy(loadCPU)
	if res.answered == 0 {
		return latencyRun{}, fmt.Errorf("no request through %s succeeded (%d sent, first error: %v)", url, res.sent, res.firstErr)
	}
	share := func(cpu time.Duration) float64 { return round3(float64(cpu) / float64(wall)) }
	run := latencyRun{
		Rate: float64(time.Second) / float64(res.period), Sent: res.sent, Achieved: res.achieved(), Errors: res.errors,
		P50: res.latency.quantile(0.50), P99: res.latency.quantile(0.99), Max: res.latency.maximum(),
		LagP50: res.lag.quantile(0.50), LagP99: res.lag.quantile(0.99), LagMax: res.lag.maximum(), Queued: res.queued,
		GeneratorCPU: share(res.cpu), ProxyCPU: share(cpu1[0] - cpu0[0]), UpstreamCPU: share(cpu1[1] - cpu0[1]),
	}
	if res.firstErr != nil {
		run.FirstError = res.firstErr.Error()
	}
	if total := core1.total - core0.total; loadCPU != "" && total > 0 {
		run.LoadCoreBusy = round3(float64(core1.busy-core0.busy) / float64(total))
	}
	return run, nil
}

// cpuTimes returns the CPU time of each process.
func cpuTimes(pids []int) ([]time.Duration, error) {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		var err error
		if out[i], err = cpuTime(pid); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// coreTicks are one CPU's busy and total time from /proc/stat, in clock ticks.
type coreTicks struct{ busy, total int64 }

// cpuBusy reads CPU cpu's line ("cpu1 ...") of /proc/stat; zero when cpu is "".
func cpuBusy(cpu string) (coreTicks, error) {
	if cpu == "" {
		return coreTicks{}, nil
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return coreTicks{}, err
	}
	return parseCPUStat(string(data), cpu)
}

// parseCPUStat finds cpu's line in a /proc/stat and sums it: idle and iowait are not busy.
func parseCPUStat(stat, cpu string) (coreTicks, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu"+cpu {
			continue
		}
		var t coreTicks
		for i, v := range f[1:] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return coreTicks{}, fmt.Errorf("/proc/stat %s: %w", f[0], err)
			}
			t.total += n
			if i != 3 && i != 4 { // idle, iowait
				t.busy += n
			}
		}
		// guest and guest_nice are already counted in user and nice.
		if len(f) > 9 {
			for _, v := range f[9:min(len(f), 11)] {
				n, _ := strconv.ParseInt(v, 10, 64)
				t.total -= n
				t.busy -= n
			}
		}
		return t, nil
	}
	return coreTicks{}, errors.New("/proc/stat has no line for cpu" + cpu)
}

// latencyResult is one scenario's runs.
type latencyResult struct {
	sc      *scenario
	maxRate float64 // the bare proxy's maximum, req/s (wrk)
	rate    int
	maxLag  time.Duration // --max-send-lag; 0 for the default
	// bare, gh and again are each round's runs of the bare proxy, the gatehouse and the bare
	// proxy again, in that order.
	bare, gh, again []latencyRun
}

// measureLatency runs the latency mode for every scenario: the bare proxy's maximum with wrk,
// then rounds of constant-rate runs at half of it through the bare proxy, the gatehouse and the
// bare proxy again.
// upstream is the upstream's process, whose CPU each run reports.
func measureLatency(ctx context.Context, o options, w wrkRun, results []*scenarioResult, bare *target, ghs map[*scenario]*target, upstream *child) ([]*latencyResult, error) {
	loadCore := ""
	if o.pinned {
		loadCore = loadCPU
		// The benchmark process is on the load CPU alone: one P, so that the runtime does not
		// spin a second thread looking for work on the core the upstream needs.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	var out []*latencyResult
	for _, r := range results {
		if r.sc.scriptFile != "" {
			return nil, fmt.Errorf("%s: --latency sends GET requests only; this scenario POSTs a body", r.sc.name)
		}
		lr := &latencyResult{sc: r.sc, maxLag: o.maxSendLag, rate: o.rate}
		if lr.rate > 0 {
			logf("%s: constant rate %d req/s (--rate)", r.sc.name, lr.rate)
		} else {
			w.URL, w.Header, w.Script = bare.url+r.sc.path(), r.sc.header(), ""
			res, _, err := runWrk(ctx, w)
			if err != nil {
				return nil, fmt.Errorf("%s: the bare proxy's maximum: %w", r.sc.name, err)
			}
			lr.maxRate = res.RequestsPerSec
			lr.rate = max(int(res.RequestsPerSec*o.rateFraction), 1)
			logf("%s: bare proxy maximum %s req/s (wrk -c%d); constant rate %d req/s", r.sc.name, num(res.RequestsPerSec), w.Connections, lr.rate)
		}
		for round := range o.rounds {
			for i, tg := range []*target{bare, ghs[r.sc], bare} {
				if o.realtime {
					err := setRealtime(realtimePriority, tg.proc.Pid(), upstream.Pid())
					if err == nil {
						err = setRealtime(generatorPriority, os.Getpid())
					}
					if err != nil {
						return nil, err
					}
				}
				run, err := constantRun(ctx, tg.url+r.sc.path(), r.sc.header(), lr.rate, o.duration, tg.proc, upstream, loadCore)
				if o.realtime {
					if rerr := setRealtime(0, tg.proc.Pid(), upstream.Pid(), os.Getpid()); rerr != nil && err == nil {
						err = rerr
					}
				}
				if err != nil {
					return nil, fmt.Errorf("%s through %s: %w", r.sc.name, tg.name, err)
				}
				name := tg.name
				switch i {
				case 0:
					lr.bare = append(lr.bare, run)
				case 1:
					lr.gh = append(lr.gh, run)
				case 2:
					lr.again = append(lr.again, run)
					name += " again"
				}
				busy := ""
				if loadCore != "" {
					busy = fmt.Sprintf(", load core %.0f%% busy", 100*run.LoadCoreBusy)
				}
				if run.FirstError != "" {
					busy += "; first error: " + run.FirstError
				}
				logf("round %d/%d %-16s %-9s %d req/s asked, %s answered  p50 %-9s p99 %-9s max %-9s errors %d; "+
					"send lag p99 %v, %d queued; CPU: proxy %.2f, generator %.2f, upstream %.2f%s", round+1, o.rounds,
					r.sc.name, name, lr.rate, num(run.Achieved), run.P50.Round(time.Microsecond), run.P99.Round(time.Microsecond),
					run.Max.Round(time.Microsecond), run.Errors, run.LagP99.Round(time.Microsecond), run.Queued,
					run.ProxyCPU, run.GeneratorCPU, run.UpstreamCPU, busy)
			}
		}
		out = append(out, lr)
	}
	return out, nil
}

// LatencyJS is one scenario's latency at a constant rate: medians over rounds.
type LatencyJS struct {
	Name string `json:"name"`
	// BareMaxRequestsPerSec is the bare proxy's maximum (wrk; 0 with --rate, not measured),
	// RateRequestsPerSec the constant rate: --rate-fraction of it, or --rate.
	BareMaxRequestsPerSec float64        `json:"bare_max_requests_per_sec"`
	RateRequestsPerSec    int            `json:"rate_requests_per_sec"`
	Bare                  LatencyMetrics `json:"bare"`
	Gatehouse             LatencyMetrics `json:"gatehouse"`
	// AddedP50Us and AddedP99Us are the medians over rounds of gatehouse's percentile minus the
	// mean of the bare proxy's two runs around it in the same round.
	AddedP50Us float64 `json:"added_p50_us"`
	AddedP99Us float64 `json:"added_p99_us"`
	// BareAgain is the bare proxy's second run of each round (medians over rounds), and
	// ControlP50Us and ControlP99Us the medians over rounds of its percentile minus the first
	// run's: what the measurement finds between two runs of one proxy, its own noise.
	BareAgain    LatencyMetrics `json:"bare_again"`
	ControlP50Us float64        `json:"control_p50_us"`
	ControlP99Us float64        `json:"control_p99_us"`
	// Noisy is set when the control's p99, either way, is over MaxControlP99Us (half the
	// goal): the measurement cannot tell whether gatehouse is within the goal.
	Noisy           bool    `json:"noisy,omitempty"`
	MaxControlP99Us float64 `json:"max_control_p99_us,omitempty"`
	// Saturated is set when, in some round, a proxy answered less than 95 % of the rate or more
	// than 1 % of the requests found every connection busy: the proxy or the machine could not
	// keep up, queues grew, and the percentiles measure the queue rather than the proxy.
	Saturated bool `json:"saturated,omitempty"`
	// LoadBehind is set when, in some round, the load generator's sends started more than
	// MaxSendLagP99Us late at the 99th percentile: the load side, not only the proxy, is in
	// the percentiles, by an amount comparable to the goal.
	LoadBehind      bool    `json:"load_behind,omitempty"`
	MaxSendLagP99Us float64 `json:"max_send_lag_p99_us"`
	// GoalAddedP99Us is issue 15's bound on AddedP99Us (keyless and keyed), 0 for none. The
	// goal is judged (GoalMet) only when none of Saturated, LoadBehind and Noisy is set.
	GoalAddedP99Us float64 `json:"goal_added_p99_us,omitempty"`
	GoalMet        *bool   `json:"goal_met,omitempty"`
}

// LatencyMetrics are one proxy's medians over rounds.
type LatencyMetrics struct {
	AchievedRequestsPerSec float64 `json:"achieved_requests_per_sec"`
	P50Us                  float64 `json:"p50_us"`
	P99Us                  float64 `json:"p99_us"`
	MaxUs                  float64 `json:"max_us"`
	Errors                 int     `json:"errors"` // summed over rounds
	// SendLagP50Us, SendLagP99Us and SendLagMaxUs: how late the generator took requests up
	// against their intended send times. Queued: requests that found every connection busy,
	// summed over rounds.
	SendLagP50Us float64 `json:"send_lag_p50_us"`
	SendLagP99Us float64 `json:"send_lag_p99_us"`
	SendLagMaxUs float64 `json:"send_lag_max_us"`
	Queued       int     `json:"queued"`
	// ProxyCPU, GeneratorCPU and UpstreamCPU: each process's CPU time over the run's wall
	// time, in cores. LoadCoreBusy: with --pinned, the load CPU's busy share (every process on
	// it, other tenants' included).
	ProxyCPU     float64 `json:"proxy_cpu"`
	GeneratorCPU float64 `json:"generator_cpu"`
	UpstreamCPU  float64 `json:"upstream_cpu"`
	LoadCoreBusy float64 `json:"load_core_busy,omitempty"`
}

func latencyMetrics(rs []latencyRun) LatencyMetrics {
	med := func(f func(r latencyRun) float64) float64 { return round3(medianOf(rs, f)) }
	m := LatencyMetrics{
		AchievedRequestsPerSec: med(func(r latencyRun) float64 { return r.Achieved }),
		P50Us:                  med(func(r latencyRun) float64 { return us(r.P50) }),
		P99Us:                  med(func(r latencyRun) float64 { return us(r.P99) }),
		MaxUs:                  med(func(r latencyRun) float64 { return us(r.Max) }),
		SendLagP50Us:           med(func(r latencyRun) float64 { return us(r.LagP50) }),
		SendLagP99Us:           med(func(r latencyRun) float64 { return us(r.LagP99) }),
		SendLagMaxUs:           med(func(r latencyRun) float64 { return us(r.LagMax) }),
		ProxyCPU:               med(func(r latencyRun) float64 { return r.ProxyCPU }),
		GeneratorCPU:           med(func(r latencyRun) float64 { return r.GeneratorCPU }),
		UpstreamCPU:            med(func(r latencyRun) float64 { return r.UpstreamCPU }),
		LoadCoreBusy:           med(func(r latencyRun) float64 { return r.LoadCoreBusy }),
	}
	for _, r := range rs {
		m.Errors += r.Errors
		m.Queued += r.Queued
	}
	return m
}

// latencyReport turns the runs into the report's entries.
func latencyReport(lrs []*latencyResult) []LatencyJS {
	var out []LatencyJS
	for _, lr := range lrs {
		maxLag := lr.maxLag
		if maxLag <= 0 {
			maxLag = defaultMaxSendLag
		}
		n := min(len(lr.bare), len(lr.gh), len(lr.again))
		d50, d99, c50, c99 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			b, gh, again := lr.bare[i], lr.gh[i], lr.again[i]
			d50[i] = us(gh.P50) - (us(b.P50)+us(again.P50))/2
			d99[i] = us(gh.P99) - (us(b.P99)+us(again.P99))/2
			c50[i] = us(again.P50 - b.P50)
			c99[i] = us(again.P99 - b.P99)
		}
		js := LatencyJS{
			Name:                  lr.sc.name,
			BareMaxRequestsPerSec: round3(lr.maxRate),
			RateRequestsPerSec:    lr.rate,
			Bare:                  latencyMetrics(lr.bare),
			Gatehouse:             latencyMetrics(lr.gh),
			BareAgain:             latencyMetrics(lr.again),
			AddedP50Us:            round3(median(d50)),
			AddedP99Us:            round3(median(d99)),
			ControlP50Us:          round3(median(c50)),
			ControlP99Us:          round3(median(c99)),
			MaxSendLagP99Us:       us(maxLag),
		}
		for _, r := range slices.Concat(lr.bare, lr.gh, lr.again) {
			js.Saturated = js.Saturated || r.saturated()
			js.LoadBehind = js.LoadBehind || r.behind(maxLag)
		}
		if g := latencyGoalFor(lr.sc.name); g > 0 {
			js.GoalAddedP99Us = us(g)
			js.MaxControlP99Us = maxControlShare * us(g)
			js.Noisy = math.Abs(js.ControlP99Us) > js.MaxControlP99Us
			if !js.Saturated && !js.LoadBehind && !js.Noisy {
				met := js.AddedP99Us <= js.GoalAddedP99Us && js.Gatehouse.Errors == 0
				js.GoalMet = &met
			}
		}
		out = append(out, js)
	}
	return out
}

// maxLatencyRate bounds --rate: far above what one core serves, and within what the load
// generator's schedule is made for.
const maxLatencyRate = 1_000_000

// rateSetting says how the constant rate was chosen.
func rateSetting(s Settings) string {
	if s.Rate > 0 {
		return fmt.Sprintf("%d req/s in every scenario (--rate)", s.Rate)
	}
	how := fmt.Sprintf("%g of", s.RateFraction)
	switch s.RateFraction {
	case 0.5, 0: // 0: a report from before the setting was recorded
		how = "half"
	case 0.25:
		how = "a quarter of"
	}
	return fmt.Sprintf("%s the bare proxy's maximum (wrk -t%d -c%d)", how, s.Threads, s.Connections)
}

// writeLatencyTable prints the latency report.
func writeLatencyTable(w io.Writer, rep Report, markdown bool) {
	m := rep.Machine
	fmt.Fprintf(w, "Gatehouse %s vs bare httputil.ReverseProxy at a constant rate — %s\n", rep.Gatehouse, rep.Date)
	fmt.Fprintf(w, "%s, %d cores, %s %s/%s, rate = %s, %d rounds × %gs, medians\n",
		m.CPUModel, m.Cores, m.GoVersion, m.OS, m.Arch, rateSetting(rep.Settings), rep.Settings.Rounds, rep.Settings.DurationSeconds)
	fmt.Fprintf(w, "load: the benchmark's constant-rate generator, %d keep-alive connections; upstream: %s\n",
		rep.Settings.LatencyConnections, rep.Settings.Upstream)
	if rep.Settings.Pinned {
		fmt.Fprintf(w, "pinned: each proxy alone on CPU %s with GOMAXPROCS=1, the load and the upstream on CPU %s\n", proxyCPU, loadCPU)
	}
	if rep.Settings.Realtime {
		fmt.Fprintf(w, "realtime: the proxy and the upstream under SCHED_FIFO at priority %d, the generator at %d, during each run\n", realtimePriority, generatorPriority)
	}
	fmt.Fprintln(w)
	header := []string{"scenario", "proxy", "rate", "answered", "p50", "p99", "max", "errors", "send lag p99", "queued",
		"CPU proxy", "CPU load", "added p50", "added p99", "goal"}
	if rep.Settings.Pinned {
		header = slices.Insert(header, 12, "load core busy")
	}
	var rows [][]string
	row := func(name, proxy string, s LatencyJS, l LatencyMetrics, tail ...string) []string {
		r := []string{name, proxy, strconv.Itoa(s.RateRequestsPerSec), num(l.AchievedRequestsPerSec),
			latStr(l.P50Us), latStr(l.P99Us), latStr(l.MaxUs), strconv.Itoa(l.Errors), latStr(l.SendLagP99Us), strconv.Itoa(l.Queued),
			fmt.Sprintf("%.2f", l.ProxyCPU), fmt.Sprintf("%.2f+%.2f", l.GeneratorCPU, l.UpstreamCPU)}
		if rep.Settings.Pinned {
			r = append(r, fmt.Sprintf("%.0f%%", 100*l.LoadCoreBusy))
		}
		return append(r, tail...)
	}
	for _, s := range rep.Latency {
		rows = append(rows, row(s.Name, "bare", s, s.Bare, "", "", ""))
		verdict := ""
		switch {
		case s.Saturated:
			verdict = "SATURATED, not judged"
		case s.LoadBehind:
			verdict = "LOAD BEHIND, not judged"
		case s.Noisy:
			verdict = "NOISY, not judged"
		case s.GoalMet != nil:
			verdict = fmt.Sprintf("≤%s ", latStr(s.GoalAddedP99Us)) + map[bool]string{true: "ok", false: "ABOVE"}[*s.GoalMet]
		}
		name := s.Name
		if !markdown {
			name = ""
		}
		rows = append(rows, row(name, "gatehouse", s, s.Gatehouse, latStr(s.AddedP50Us), latStr(s.AddedP99Us), verdict))
		rows = append(rows, row(name, "bare again", s, s.BareAgain, latStr(s.ControlP50Us), latStr(s.ControlP99Us), "control"))
	}
	writeRows(w, header, rows, markdown)
	fmt.Fprintln(w, "\nadded: median over rounds of gatehouse's percentile minus the mean of the bare proxy's two runs around it in the same round;")
	fmt.Fprintln(w, "control (bare again): the same for the bare proxy's second run against its first: the measurement's own noise;")
	fmt.Fprintln(w, "latency: from each request's intended send time on a fixed schedule to the end of its answer (no coordinated omission);")
	fmt.Fprintln(w, "send lag: how late the generator took requests up against that schedule; queued: requests that found every connection busy;")
	fmt.Fprintln(w, "CPU: each process's CPU time over the run's wall time, in cores (load: generator+upstream);")
	fmt.Fprintln(w, "SATURATED: a proxy answered under 95 % of the rate, or over 1 % of requests queued, in a round: queues set the percentiles;")
	if len(rep.Latency) > 0 {
		fmt.Fprintf(w, "LOAD BEHIND: the generator's send lag p99 was over %s in a round: the load side is in the percentiles;\n",
			latStr(rep.Latency[0].MaxSendLagP99Us))
		fmt.Fprintf(w, "NOISY: the control's p99 was over %.0f %% of the goal either way: the measurement cannot resolve it.\n", 100*maxControlShare)
	}
}

// latStr prints a latency in µs, as ms from 10 ms.
func latStr(us float64) string {
	if us >= 10000 || us <= -10000 {
		return strconv.FormatFloat(us/1000, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}
