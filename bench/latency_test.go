package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// quantile returns the q quantile of sorted (nearest rank), exactly: what the histogram's
// quantiles are checked against.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// selfChild stands for a benchmark child process: the test's own.
func selfChild() *child {
	return &child{name: "self", cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
}

// TestConstantRun checks a latency run end to end against a real server: one request in ten
// takes 30 ms, and the requests behind it are still sent on schedule, so the rate holds and the
// p99 shows the slow ones; every request carries the header; half-failing answers are errors.
func TestConstantRun(t *testing.T) {
	var n, auth atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "k" {
			auth.Add(1)
		}
		k := n.Add(1)
		if r.URL.Path == "/half" && k%2 == 0 {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		if k%10 == 0 {
			time.Sleep(30 * time.Millisecond)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	self := selfChild()
	run, err := constantRun(context.Background(), srv.URL+"/", "Authorization: k", 200, 2*time.Second, self, self, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", run)
	if run.Sent != 400 || run.Rate != 200 {
		t.Errorf("sent %d requests in 2s at %v/s, want 400 at 200/s", run.Sent, run.Rate)
	}
	if run.Errors != 0 || auth.Load() != int64(run.Sent) {
		t.Errorf("%d errors, %d of %d requests carried the header", run.Errors, auth.Load(), run.Sent)
	}
	// Lower bounds only: a busy machine makes every latency longer, never shorter.
	if run.P99 < 30*time.Millisecond || run.Max < 30*time.Millisecond || run.P50 > run.P99 || run.P99 > run.Max {
		t.Errorf("p50 %v, p99 %v, max %v: want p99 at least the slow answers' 30ms", run.P50, run.P99, run.Max)
	}
	if run.Achieved <= 0 {
		t.Errorf("answered %.0f req/s", run.Achieved)
	}
	// The "proxy" and the generator are both this process: the proxy's share, from
	// /proc/PID/stat over a window that also holds the generator's dials, is at least the
	// generator's, from getrusage, but in whole clock ticks (utime and stime each truncated, at
	// the start and the end): up to two ticks below over the run's 2 s, 0.01 of a core.
	tickSlack := float64(2*clockTick) / float64(2*time.Second)
	if run.GeneratorCPU <= 0 || run.ProxyCPU+tickSlack < run.GeneratorCPU || run.LoadCoreBusy != 0 {
		t.Errorf("CPU: generator %v, proxy (this process) %v, load core %v unpinned", run.GeneratorCPU, run.ProxyCPU, run.LoadCoreBusy)
	}
	if run.LagP99 > run.LagMax || run.LagMax <= 0 {
		t.Errorf("send lag p99 %v, max %v", run.LagP99, run.LagMax)
	}

	run, err = constantRun(context.Background(), srv.URL+"/half", "", 100, time.Second, self, self, "")
	if err != nil {
		t.Fatal(err)
	}
	if run.Errors != run.Sent/2 || run.FirstError != "" {
		t.Errorf("%d errors of %d requests (first transport error %q), want half, all 502s", run.Errors, run.Sent, run.FirstError)
	}
	if _, err := constantRun(context.Background(), "https://127.0.0.1:1/", "", 100, time.Second, self, self, ""); err == nil {
		t.Error("an https:// target accepted")
	}
}

func TestParseCPUStat(t *testing.T) {
	const stat = `cpu  900 0 300 5000 20 0 10 0 0 0
cpu0 500 0 200 2000 10 0 5 0 100 0
cpu1 400 0 100 3000 10 0 5 0 0 0
intr 12345
`
	got, err := parseCPUStat(stat, "0")
	// busy: user 500 + system 200 + softirq 5, the guest 100 already in user; total adds idle
	// 2000 and iowait 10.
	if err != nil || got.busy != 705 || got.total != 2715 {
		t.Errorf("cpu0: %+v, %v; want busy 705 of 2715", got, err)
	}
	if got, err := parseCPUStat(stat, "1"); err != nil || got.busy != 505 || got.total != 3515 {
		t.Errorf("cpu1: %+v, %v; want busy 505 of 3515", got, err)
	}
	if _, err := parseCPUStat(stat, "2"); err == nil {
		t.Error("cpu2, absent, found")
	}
	if _, err := parseCPUStat("cpu0 1 x 3 4 5\n", "0"); err == nil {
		t.Error("a malformed line parsed")
	}
}

// TestRateSetting: the report's header says how the rate was chosen, --rate-fraction's
// fraction (it said "half" whatever the fraction was) or --rate's one rate.
func TestRateSetting(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{RateFraction: 0.5, Threads: 1, Connections: 32}, "half the bare proxy's maximum (wrk -t1 -c32)"},
		{Settings{RateFraction: 0.25, Threads: 1, Connections: 32}, "a quarter of the bare proxy's maximum (wrk -t1 -c32)"},
		{Settings{RateFraction: 0.3, Threads: 2, Connections: 64}, "0.3 of the bare proxy's maximum (wrk -t2 -c64)"},
		{Settings{RateFraction: 0.5, Rate: 4000}, "4000 req/s in every scenario (--rate)"},
	} {
		if got := rateSetting(c.s); got != c.want {
			t.Errorf("rateSetting(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestLatencyReport(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	run := func(p50, p99 float64) latencyRun {
		return latencyRun{Rate: 10000, Achieved: 9990, P50: ms(p50), P99: ms(p99)}
	}
	lr := &latencyResult{sc: &scenario{name: "keyless"}, maxRate: 20000, rate: 10000,
		bare: []latencyRun{run(0.20, 0.50), run(0.22, 0.60), run(0.21, 0.55)},
		gh:   []latencyRun{run(0.23, 0.58), run(0.25, 0.75), run(0.24, 0.60)},
		// The bare proxy again: p99 40 µs, 20 µs and 0 µs away from its first run.
		again: []latencyRun{run(0.20, 0.54), run(0.22, 0.62), run(0.21, 0.55)},
	}
	got := latencyReport([]*latencyResult{lr})[0]
	// Added p99 per round, against the mean of the two bare runs: 60, 140, 50 µs; median 60.
	// Added p50: 30 each. The control's p99: 40, 20, 0; median 20.
	if got.AddedP99Us != 60 || got.AddedP50Us != 30 {
		t.Errorf("added p50 %v µs, p99 %v µs; want 30 and 60", got.AddedP50Us, got.AddedP99Us)
	}
	if got.ControlP99Us != 20 || got.ControlP50Us != 0 || got.Noisy || got.MaxControlP99Us != 50 || got.BareAgain.P99Us != 550 {
		t.Errorf("control p50 %v µs, p99 %v µs (bound %v), noisy %v, bare again p99 %v; want 0, 20 (50), not noisy, 550",
			got.ControlP50Us, got.ControlP99Us, got.MaxControlP99Us, got.Noisy, got.BareAgain.P99Us)
	}
	if got.GoalMet == nil || !*got.GoalMet || got.GoalAddedP99Us != 100 {
		t.Errorf("goal %v met %v, want 100 µs met", got.GoalAddedP99Us, got.GoalMet)
	}
	lr.again[1].P99 = ms(0.70) // the bare proxy 100 µs slower the second time: the control's median is 40 µs
	if got := latencyReport([]*latencyResult{lr})[0]; got.Noisy || got.ControlP99Us != 40 || got.GoalMet == nil {
		t.Errorf("control p99 %v µs: noisy %v, judged %v; want 40, judged", got.ControlP99Us, got.Noisy, got.GoalMet)
	}
	lr.again[0].P99, lr.again[2].P99 = ms(0.40), ms(0.45) // -100 µs in the two others: the median is -100, over the bound either way
	if got := latencyReport([]*latencyResult{lr})[0]; !got.Noisy || got.ControlP99Us != -100 || got.GoalMet != nil {
		t.Errorf("control p99 %v µs: noisy %v, judged %v; want -100, noisy, not judged", got.ControlP99Us, got.Noisy, got.GoalMet)
	}
	lr.again[0].P99, lr.again[1].P99, lr.again[2].P99 = ms(0.54), ms(0.62), ms(0.55)
	lr.gh[0].P99 = ms(0.70) // 180 µs added: the median is now 140
	if got := latencyReport([]*latencyResult{lr})[0]; got.GoalMet == nil || *got.GoalMet {
		t.Errorf("added p99 %v µs judged within the goal", got.AddedP99Us)
	}
	lr.gh[0].P99, lr.gh[1].Achieved = ms(0.58), 9000 // within the goal, but not keeping up
	if got := latencyReport([]*latencyResult{lr})[0]; !got.Saturated || got.GoalMet != nil {
		t.Errorf("a run answering 90 %% of its rate: saturated %v, judged %v", got.Saturated, got.GoalMet)
	}
	lr.gh[1].Achieved = 9990
	lr.bare[2].LagP99 = 80 * time.Microsecond // the generator fell behind in one run
	if got := latencyReport([]*latencyResult{lr})[0]; !got.LoadBehind || got.Saturated || got.GoalMet != nil {
		t.Errorf("send lag p99 80µs in a run: behind %v, saturated %v, judged %v", got.LoadBehind, got.Saturated, got.GoalMet)
	}
	lr.maxLag = 100 * time.Microsecond // --max-send-lag 100us: 80 µs is within it
	if got := latencyReport([]*latencyResult{lr})[0]; got.LoadBehind || got.GoalMet == nil || got.MaxSendLagP99Us != 100 {
		t.Errorf("send lag p99 80µs under a bound of 100µs: behind %v, judged %v, bound %v", got.LoadBehind, got.GoalMet, got.MaxSendLagP99Us)
	}
	lr.maxLag = 0
	lr.bare[2].LagP99 = 10 * time.Microsecond
	lr.bare[0].Queued, lr.bare[0].Sent = 200, 10000 // 2 % of the requests waited for a connection
	if got := latencyReport([]*latencyResult{lr})[0]; !got.Saturated || got.GoalMet != nil {
		t.Errorf("2 %% of requests queued: saturated %v, judged %v", got.Saturated, got.GoalMet)
	}
	lr.sc.name = "plugin-post"
	if got := latencyReport([]*latencyResult{lr})[0]; got.GoalMet != nil {
		t.Errorf("plugin-post has no latency goal, judged %v", *got.GoalMet)
	}
}

// TestSetHeader: a scenario's header, as check and attack send it.
func TestSetHeader(t *testing.T) {
	h := http.Header{}
	if err := setHeader(h, "Authorization:  Bearer x "); err != nil || h.Get("Authorization") != "Bearer x" || len(h) != 1 {
		t.Errorf("setHeader = %v, header %v, want Authorization: Bearer x", err, h)
	}
	h = http.Header{}
	if err := setHeader(h, ""); err != nil || len(h) != 0 {
		t.Errorf(`setHeader("") = %v, header %v, want nothing set`, err, h)
	}
	if err := setHeader(h, "no colon"); err == nil || len(h) != 0 {
		t.Errorf("setHeader of a header without a colon = %v, header %v, want an error and nothing set", err, h)
	}
}
