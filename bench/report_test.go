package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// runs returns one runResult per rate, each with the given CPU per request for the proxy and wrk.
func runs(cpu, wrkCPU time.Duration, rps ...float64) []runResult {
	out := make([]runResult, len(rps))
	for i, r := range rps {
		out[i] = runResult{RequestsPerSec: r, P50: time.Millisecond, P99: 3 * time.Millisecond, CPUPerReq: cpu, WrkCPUPerReq: wrkCPU}
	}
	return out
}

// syntheticResults are three rounds of four scenarios: keyless meets its goal, keyed falls short,
// apis-10000 is judged against keyless, and reloads has one failed reload and no failed request.
func syntheticResults() []*scenarioResult {
	us := time.Microsecond
	bare := runs(50*us, 10*us, 100, 100, 100)
	withReloads := runs(60*us, 10*us, 90, 90, 90)
	ms := time.Millisecond
	withReloads[0].Reloads = &reloadStats{Reloads: 10, took: []time.Duration{20 * ms, 30 * ms}, wall: 5 * time.Second}
	withReloads[1].Reloads = &reloadStats{Reloads: 12, Failed: 1, took: []time.Duration{25 * ms, 900 * ms}, wall: 5 * time.Second}
	withReloads[2].Reloads = &reloadStats{Reloads: 11, took: []time.Duration{10 * ms}, wall: 1 * time.Second}
	keyless := runs(60*us, 10*us, 95, 92, 85)
	keyless[0].Resident = resident{Anon: 9 << 20, File: 13 << 20}
	keyless[1].Resident = resident{Anon: 10 << 20, File: 12 << 20} // the highest of each kind counts
	return []*scenarioResult{
		{sc: &scenario{name: "keyless", desc: "one keyless API", goal: goal{"bare", 0.90}},
			bare: bare, gh: keyless, bareRSS: 16 << 20, ghRSS: 23 << 20},
		{sc: &scenario{name: "keyed", desc: "keyed", goal: goal{"bare", 0.85}, keyed: true},
			bare: bare, gh: runs(70*us, 10*us, 80, 81, 79), setup: 2 * time.Second},
		{sc: &scenario{name: "apis-10000", desc: "many APIs", goal: goal{"keyless", 0.95}, apis: manyAPIs},
			bare: bare, gh: runs(60*us, 10*us, 90, 90, 90)},
		{sc: &scenario{name: "reloads", desc: "reloads", goal: goal{"errors", 0}, reloads: true},
			bare: bare, gh: withReloads},
	}
}

func TestBuildReportJudgesGoals(t *testing.T) {
	rep := buildReport(syntheticResults(), "v9.9.9", Settings{Rounds: 3}, time.Now())
	if rep.Gatehouse != "v9.9.9" || len(rep.Scenarios) != 4 {
		t.Fatalf("version %q, %d scenarios", rep.Gatehouse, len(rep.Scenarios))
	}
	byName := map[string]ScenarioJS{}
	for _, s := range rep.Scenarios {
		byName[s.Name] = s
	}
	met := func(name string, want bool, value float64) {
		t.Helper()
		g := byName[name].Goal
		if g.Met == nil || *g.Met != want || g.Value != value {
			t.Errorf("%s: goal %q met %v value %v, want met %v value %v", name, g.Text, fmtMet(g.Met), g.Value, want, value)
		}
	}
	met("keyless", true, 0.92) // median of 0.95, 0.92, 0.85
	met("keyed", false, 0.8)
	met("apis-10000", true, 0.978) // median of 90/95, 90/92, 90/85
	met("reloads", false, 1)       // no failed request, one failed reload
	if r := byName["reloads"].Reloads; r == nil || r.Reloads != 33 || r.Failed != 1 {
		t.Errorf("reloads summed to %+v, want 33 reloads, 1 failed", r)
	} else if r.PerSecond != 3 || r.P50Ms != 25 || r.MaxMs != 900 {
		t.Errorf("reloads: %.3f/s, p50 %vms, max %vms; want 3/s (33 in 11 s), p50 25ms, max 900ms", r.PerSecond, r.P50Ms, r.MaxMs)
	}
	if v := byName["apis-10000"].RatioToKeyless; v == nil || *v != 0.978 {
		t.Errorf("apis-10000 ratio_to_keyless = %v, want 0.978", v)
	}
	for _, n := range []string{"keyless", "keyed", "reloads"} {
		if byName[n].RatioToKeyless != nil {
			t.Errorf("%s has a ratio to keyless", n)
		}
	}
	if c := byName["keyless"].CPURatioToBare; c != 0.833 {
		t.Errorf("keyless CPU ratio %v, want 0.833 (50µs ÷ 60µs)", c)
	}
	if lg := rep.LoadGenerator; !lg.WrkCheaper || lg.WrkCPUPerRequestUsMax != 10 || lg.ProxyCPUPerRequestUsMin != 50 {
		t.Errorf("load generator %+v, want wrk at most 10µs, cheaper than the proxies' 50µs", lg)
	}

	// A failed request fails the reloads goal as a failed reload does.
	results := syntheticResults()
	for i := range results[3].gh {
		results[3].gh[i].Reloads.Failed = 0
	}
	results[3].gh[2].Non2xx3xx = 2
	rep = buildReport(results, "v9.9.9", Settings{}, time.Now())
	if g := rep.Scenarios[3].Goal; g.Met == nil || *g.Met || g.Value != 2 {
		t.Errorf("reloads with 2 failed requests: met %v value %v, want false 2", fmtMet(g.Met), g.Value)
	}
}

func fmtMet(m *bool) string {
	if m == nil {
		return "nil"
	}
	if *m {
		return "true"
	}
	return "false"
}

func TestBuildReportWithoutKeylessCannotJudgeAPIs(t *testing.T) {
	all := syntheticResults()
	rep := buildReport(all[2:3], "v9.9.9", Settings{}, time.Now())
	s := rep.Scenarios[0]
	if s.RatioToKeyless != nil || s.Goal.Met != nil {
		t.Errorf("apis-10000 without keyless: ratio to keyless %v, met %v; want neither", s.RatioToKeyless, fmtMet(s.Goal.Met))
	}
	var table bytes.Buffer
	writeTable(&table, rep, false)
	if !strings.Contains(table.String(), "≥0.95×keyless n/a") {
		t.Errorf("table does not say the goal cannot be judged:\n%s", table.String())
	}
}

func TestReportJSONFieldNames(t *testing.T) {
	results := syntheticResults()
	data, err := json.Marshal(buildReport(results, "v9.9.9", Settings{Rounds: 3}, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	hasKeys(t, "report", top, "schema", "date", "machine", "settings", "gatehouse_version", "scenarios", "load_generator", "total_seconds")
	var lg map[string]json.RawMessage
	_ = json.Unmarshal(top["load_generator"], &lg)
	hasKeys(t, "load_generator", lg, "wrk_cpu_us_per_request_median", "wrk_cpu_us_per_request_max", "proxy_cpu_us_per_request_min", "wrk_cheaper")
	if string(lg["wrk_cheaper"]) != "true" {
		t.Errorf("wrk_cheaper = %s, want true", lg["wrk_cheaper"])
	}
	var scs []map[string]json.RawMessage
	if err := json.Unmarshal(top["scenarios"], &scs); err != nil || len(scs) != 4 {
		t.Fatalf("scenarios: %v, %d", err, len(scs))
	}
	for _, s := range scs {
		hasKeys(t, "scenario", s, "name", "description", "storage", "bare", "gatehouse", "ratio_to_bare", "cpu_ratio_to_bare", "goal", "setup_seconds", "rounds")
		var m, g map[string]json.RawMessage
		_ = json.Unmarshal(s["gatehouse"], &m)
		hasKeys(t, "metrics", m, "requests_per_sec", "latency_p50_ms", "latency_p99_ms", "errors", "non_2xx_3xx", "socket_errors",
			"cpu_us_per_request", "wrk_cpu_us_per_request", "peak_rss_bytes", "rss_anon_bytes", "rss_file_bytes", "rss_shmem_bytes")
		_ = json.Unmarshal(s["goal"], &g)
		hasKeys(t, "goal", g, "text", "value", "met")
	}
	// ratio_to_keyless and reloads appear only where they apply.
	for i, name := range []string{"keyless", "keyed", "apis-10000", "reloads"} {
		_, ratio := scs[i]["ratio_to_keyless"]
		_, reloads := scs[i]["reloads"]
		if ratio != (name == "apis-10000") || reloads != (name == "reloads") {
			t.Errorf("%s: ratio_to_keyless present %v, reloads present %v", name, ratio, reloads)
		}
		if _, ok := scs[i]["redis"]; ok || string(scs[i]["storage"]) != `"memory"` {
			t.Errorf("%s: storage %s, redis present %v; want memory and no redis", name, scs[i]["storage"], ok)
		}
	}
	var rl map[string]json.RawMessage
	_ = json.Unmarshal(scs[3]["reloads"], &rl)
	hasKeys(t, "reloads", rl, "reloads", "failed")
}

func hasKeys(t *testing.T, what string, m map[string]json.RawMessage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s has no %q field; it has %v", what, k, slices.Sorted(maps.Keys(m)))
		}
	}
}

func TestWriteTable(t *testing.T) {
	rep := buildReport(syntheticResults(), "v9.9.9", Settings{Rounds: 3, Threads: 1, Connections: 32}, time.Now())
	var text, md bytes.Buffer
	writeTable(&text, rep, false)
	writeTable(&md, rep, true)

	lines := strings.Split(text.String(), "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "scenario") {
			header = i
			break
		}
	}
	if header < 0 {
		t.Fatalf("no header line:\n%s", text.String())
	}
	if got := strings.Fields(lines[header]); strings.Join(got, " ") != "scenario proxy req/s p50 p99 ratio CPU ratio errors CPU/req peak RSS anon+file goal" {
		t.Errorf("header %q", lines[header])
	}
	// Each scenario is a bare row with its name and a gatehouse row under it without.
	wantRows := [][]string{
		{"keyless", "bare", "100", "1.00ms", "3.00ms", "1.000", "1.000", "0", "50.0µs", "16.0MiB", "?"},
		{"gatehouse", "92", "1.00ms", "3.00ms", "0.920", "0.833", "0", "60.0µs", "23.0MiB", "10.0+13.0MiB", "≥0.90", "ok"},
		{"keyed", "bare", "100"},
		{"gatehouse", "80", "1.00ms", "3.00ms", "0.800", "0.714", "0", "70.0µs", "?", "?", "≥0.85", "BELOW"},
		{"apis-10000", "bare"},
		{"gatehouse", "90", "1.00ms", "3.00ms", "0.900", "0.833", "0", "60.0µs", "?", "?", "0.978×keyless", "(0.978", "via", "bare),", "≥0.95×keyless", "ok"},
		{"reloads", "bare"},
		{"gatehouse", "90", "1.00ms", "3.00ms", "0.900", "0.833", "0", "60.0µs", "?", "?", "33", "reloads", "(3.0/s,", "p50", "25ms,", "max", "900ms),", "1", "failed;", "0", "errors", "BELOW"},
	}
	for i, want := range wantRows {
		got := strings.Fields(lines[header+1+i])
		if len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("row %d = %q, want it to start %q", i, lines[header+1+i], strings.Join(want, " "))
		}
	}
	for _, s := range []string{
		"wrk's own CPU/req: median 10.0µs, at most 10.0µs, below every proxy's (at least 50.0µs): ok.",
		"setup (gatehouse start and keys): keyed 2.0s.",
	} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, text.String())
		}
	}

	for _, s := range []string{
		"| scenario | proxy | req/s | p50 | p99 | ratio | CPU ratio | errors | CPU/req | peak RSS | anon+file | goal |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
		"| keyless | bare | 100 | 1.00ms | 3.00ms | 1.000 | 1.000 | 0 | 50.0µs | 16.0MiB | ? |  |\n",
		"| keyless | gatehouse | 92 | 1.00ms | 3.00ms | 0.920 | 0.833 | 0 | 60.0µs | 23.0MiB | 10.0+13.0MiB | ≥0.90 ok |\n",
		"| reloads | gatehouse | 90 | 1.00ms | 3.00ms | 0.900 | 0.833 | 0 | 60.0µs | ? | ? | 33 reloads (3.0/s, p50 25ms, max 900ms), 1 failed; 0 errors BELOW |\n",
		"below every proxy's (at least 50.0µs): ok.",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}

// When wrk costs as much CPU per request as a proxy, the report says so.
func TestReportWarnsWhenWrkIsNotCheaper(t *testing.T) {
	results := syntheticResults()
	results[1].gh[0].WrkCPUPerReq = 80 * time.Microsecond
	results[1].gh[1].WrkCPUPerReq = 80 * time.Microsecond
	rep := buildReport(results, "v9.9.9", Settings{}, time.Now())
	if lg := rep.LoadGenerator; lg.WrkCheaper || lg.WrkCPUPerRequestUsMax != 80 {
		t.Errorf("load generator %+v, want wrk at most 80µs, not cheaper", lg)
	}
	var text bytes.Buffer
	writeTable(&text, rep, false)
	if !strings.Contains(text.String(), "NOT below every proxy's (at least 50.0µs): WARNING") {
		t.Errorf("no warning:\n%s", text.String())
	}
}

// redisResult is keyed-redis over three rounds, each with what gatehouse asked of Redis.
func redisResult() *scenarioResult {
	us := time.Microsecond
	r := &scenarioResult{sc: &scenario{name: "keyed-redis", desc: "keyed on Redis", goal: goal{"bare", 0.80}, keyed: true, redis: true},
		bare: runs(50*us, 10*us, 100, 100, 100), gh: runs(80*us, 10*us, 70, 75, 72)}
	for i, trips := range []float64{1.002, 1.0, 1.001} {
		r.gh[i].Redis = &redisUse{
			RoundTripsPerReq: trips, CommandsPerReq: 8 + float64(i),
			CallsPerReq: map[string]float64{"evalsha": trips, "hmget": 2, "time": 1},
			CPUPerReq:   time.Duration(20+i) * us,
		}
	}
	r.gh[2].Redis.CallsPerReq["multi"] = 0.003 // a cache fill in one round only
	return r
}

func TestReportRedis(t *testing.T) {
	results := append(syntheticResults()[:2], redisResult())
	rep := buildReport(results, "v9.9.9", Settings{Rounds: 3, RedisServer: "7.0.15"}, time.Now())
	s := rep.Scenarios[2]
	if s.Storage != "redis" || s.Redis == nil {
		t.Fatalf("keyed-redis: storage %q, redis %v", s.Storage, s.Redis)
	}
	rd := *s.Redis
	if rd.RoundTripsPerRequest != 1.001 || rd.CommandsPerRequest != 9 || rd.CPUPerRequestUs != 21 {
		t.Errorf("redis medians %+v, want 1.001 round trips, 9 commands, 21µs", rd)
	}
	if want := map[string]float64{"evalsha": 1.001, "hmget": 2, "time": 1, "multi": 0}; !maps.Equal(rd.CallsPerRequest, want) {
		t.Errorf("calls per request %v, want %v", rd.CallsPerRequest, want)
	}
	if rs := s.Rounds; len(rs) != 3 || rs[0].RedisRoundTripsPerRequest == nil || *rs[0].RedisRoundTripsPerRequest != 1.002 {
		t.Errorf("rounds %+v, want the round trips of each", rs)
	}
	if rep.Scenarios[0].Redis != nil || rep.Scenarios[0].Rounds[0].RedisRoundTripsPerRequest != nil {
		t.Error("keyless on the memory store has Redis figures")
	}

	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Settings  map[string]json.RawMessage
		Scenarios []map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if string(top.Settings["redis_server"]) != `"7.0.15"` {
		t.Errorf("settings.redis_server = %s", top.Settings["redis_server"])
	}
	var rj map[string]json.RawMessage
	_ = json.Unmarshal(top.Scenarios[2]["redis"], &rj)
	hasKeys(t, "redis", rj, "round_trips_per_request", "commands_per_request", "calls_per_request", "cpu_us_per_request")

	var text bytes.Buffer
	writeTable(&text, rep, false)
	for _, want := range []string{
		"Redis 7.0.15, per request (medians over rounds, from INFO commandstats)",
		"  keyed-redis  1.001 round trips, 9.000 commands, Redis CPU/req 21.0µs\n",
		"(hmget 2.000, evalsha 1.001, time 1.000)\n", // most calls first; none below 0.001
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, text.String())
		}
	}
	// Without a Redis scenario, no Redis note.
	text.Reset()
	writeTable(&text, buildReport(syntheticResults(), "v9.9.9", Settings{}, time.Now()), false)
	if strings.Contains(text.String(), "Redis") {
		t.Errorf("a report without Redis scenarios mentions Redis:\n%s", text.String())
	}
}

func TestReportPinned(t *testing.T) {
	us := time.Microsecond
	bare := runs(50*us, 10*us, 100, 100, 100)
	pooled := runs(42*us, 10*us, 118, 120, 125)
	gh := runs(48*us, 10*us, 101, 104, 112)
	for i := range bare {
		bare[i].CPUBusy, pooled[i].CPUBusy, gh[i].CPUBusy = 0.99, 0.98, 0.97
	}
	gh[1].CPUBusy = 0.5 // a round held back by the load side
	r := &scenarioResult{sc: &scenario{name: "keyless", desc: "one keyless API", goal: goal{"bare", 1.10}},
		bare: bare, pooled: pooled, gh: gh, bareRSS: 13 << 20, pooledRSS: 12 << 20, ghRSS: 40 << 20}
	rep := buildReport([]*scenarioResult{r}, "v9.9.9", Settings{Rounds: 3, Pinned: true}, time.Now())
	s := rep.Scenarios[0]
	if s.Pooled == nil || *s.PooledRatioToBare != 1.2 || *s.PooledCPURatioToBare != 1.19 {
		t.Fatalf("pooled %+v, ratio %v, CPU ratio %v; want ratio 1.2 (median of 1.18, 1.20, 1.25), CPU ratio 1.19", s.Pooled, s.PooledRatioToBare, s.PooledCPURatioToBare)
	}
	if s.RatioToBare != 1.04 || s.Goal.Met == nil || *s.Goal.Met {
		t.Errorf("ratio %v, goal met %v; want 1.04, not met (≥1.10)", s.RatioToBare, fmtMet(s.Goal.Met))
	}
	if s.Gatehouse.CPUBusyCores != 0.97 || s.Rounds[2].PooledRequestsPerSec == nil || *s.Rounds[2].PooledRequestsPerSec != 125 {
		t.Errorf("gatehouse busy %v, round 3 pooled %v", s.Gatehouse.CPUBusyCores, s.Rounds[2].PooledRequestsPerSec)
	}
	var b bytes.Buffer
	writeTable(&b, rep, false)
	out := b.String()
	for _, want := range []string{"pinned: each proxy alone on CPU 0", "pooled", "1.200", "ceiling", "≥1.10 BELOW", "0.97 to 0.99; ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"pinned":true`, `"pooled":{`, `"pooled_ratio_to_bare":1.2`, `"cpu_busy_cores":0.97`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}

	// Unpinned, nothing of the pooled proxy shows.
	rep = buildReport(syntheticResults(), "v9.9.9", Settings{Rounds: 3}, time.Now())
	b.Reset()
	writeTable(&b, rep, false)
	if strings.Contains(b.String(), "pooled") || strings.Contains(b.String(), "pinned") || rep.Scenarios[0].Pooled != nil {
		t.Errorf("an unpinned report mentions the pooled proxy or pinning:\n%s", b.String())
	}
}

// TestRatioToKeylessViaBare: the machine slowed down between keyless's runs and apis-10000's
// (the bare proxy at 100 req/s, then 80): the judged ratio of gatehouse's req/s falls with it,
// while the ratio through each scenario's own bare proxy run does not.
func TestRatioToKeylessViaBare(t *testing.T) {
	us := time.Microsecond
	results := syntheticResults()
	for _, r := range results {
		if r.sc.name == "apis-10000" {
			r.bare, r.gh = runs(50*us, 10*us, 80, 80, 80), runs(60*us, 10*us, 72, 72, 72)
		}
	}
	rep := buildReport(results, "v9.9.9", Settings{Rounds: 3}, time.Now())
	for _, s := range rep.Scenarios {
		if s.Name != "apis-10000" {
			if s.RatioToKeylessViaBare != nil {
				t.Errorf("%s has a ratio to keyless via bare", s.Name)
			}
			continue
		}
		// Judged: 72/95, 72/92, 72/85, median 0.783. Via bare: 0.9 over keyless's 0.92.
		if s.RatioToKeyless == nil || *s.RatioToKeyless != 0.783 || s.Goal.Met == nil || *s.Goal.Met {
			t.Errorf("ratio to keyless %v, met %v; want 0.783, not met", s.RatioToKeyless, fmtMet(s.Goal.Met))
		}
		if s.RatioToKeylessViaBare == nil || *s.RatioToKeylessViaBare != 0.978 {
			t.Errorf("ratio to keyless via bare %v, want 0.978", s.RatioToKeylessViaBare)
		}
	}
}
