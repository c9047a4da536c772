package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(1..100, %v) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if got := quantile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("quantile of one = %d, want 7", got)
	}
}

// TestAttackConstantRate checks that the latency mode's load keeps its rate while answers are
// slow (no coordinated omission): one request in ten takes 30 ms, and the requests behind it
// are still sent on time, so the rate holds and the p99 shows the slow ones.
func TestAttackConstantRate(t *testing.T) {
	var n, auth atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "k" {
			auth.Add(1)
		}
		if n.Add(1)%10 == 0 {
			time.Sleep(30 * time.Millisecond)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	run, err := attack(context.Background(), srv.URL, "Authorization: k", 200, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", run)
	if run.Sent < 380 || run.Sent > 420 {
		t.Errorf("sent %d requests in 2s at 200/s, want about 400", run.Sent)
	}
	if run.Errors != 0 || auth.Load() != int64(run.Sent) {
		t.Errorf("%d errors, %d of %d requests carried the header", run.Errors, auth.Load(), run.Sent)
	}
	if run.P99 < 30*time.Millisecond || run.P50 >= 30*time.Millisecond {
		t.Errorf("p50 %v, p99 %v: want p50 fast and p99 at least the slow answers' 30ms", run.P50, run.P99)
	}
	if run.Achieved < 150 {
		t.Errorf("answered %.0f req/s, want about 200", run.Achieved)
	}
}

func TestAttackCountsErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "no", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	run, err := attack(context.Background(), srv.URL, "", 100, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if run.Errors < run.Sent/2-2 || run.Errors > run.Sent/2+2 {
		t.Errorf("%d errors of %d requests, want half", run.Errors, run.Sent)
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
	}
	got := latencyReport([]*latencyResult{lr})[0]
	// Added p99 per round: 80, 150, 50 µs; median 80. Added p50: 30 each.
	if got.AddedP99Us != 80 || got.AddedP50Us != 30 {
		t.Errorf("added p50 %v µs, p99 %v µs; want 30 and 80", got.AddedP50Us, got.AddedP99Us)
	}
	if got.GoalMet == nil || !*got.GoalMet || got.GoalAddedP99Us != 100 {
		t.Errorf("goal %v met %v, want 100 µs met", got.GoalAddedP99Us, got.GoalMet)
	}
	lr.gh[0].P99 = ms(0.70) // 200 µs added: the median is now 150
	if got := latencyReport([]*latencyResult{lr})[0]; got.GoalMet == nil || *got.GoalMet {
		t.Errorf("added p99 %v µs judged within the goal", got.AddedP99Us)
	}
	lr.gh[0].P99, lr.gh[1].Achieved = ms(0.58), 9000 // within the goal, but not keeping up
	if got := latencyReport([]*latencyResult{lr})[0]; !got.Saturated || got.GoalMet != nil {
		t.Errorf("a run answering 90 %% of its rate: saturated %v, judged %v", got.Saturated, got.GoalMet)
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
