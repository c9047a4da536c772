package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runResult is one wrk run through one proxy.
type runResult struct {
	RequestsPerSec float64
	P50, P99       time.Duration
	Non2xx3xx      int64
	SocketErrors   int64
	ErrorKinds     string // wrkResult.ErrorKinds
	// CPUPerReq is the proxy process's CPU time per request; WrkCPUPerReq wrk's.
	CPUPerReq    time.Duration
	WrkCPUPerReq time.Duration
	// CPUBusy is the proxy's CPU time over the run's wall time, in cores: near 1 when pinned
	// means the proxy's core was what limited the run, not the load generator.
	CPUBusy float64
	// Resident is the proxy's resident memory by kind at the end of the run, under the load's
	// last requests.
	Resident resident
	Reloads  *reloadStats // during the run, for the reloads scenario
	Redis    *redisUse    // what gatehouse asked of Redis, in a Redis scenario
}

// scenarioResult gathers a scenario's runs, round by round.
type scenarioResult struct {
	sc       *scenario
	bare, gh []runResult // index = round
	pooled   []runResult // the pooling bare proxy's, under --pinned
	bareRSS  int64
	ghRSS    int64
	// pooledRSS is the pooling bare proxy's (one process for every scenario).
	pooledRSS int64
	setup     time.Duration // starting its gatehouse and storing its keys
	listening time.Duration // from its gatehouse's start to its proxy listener open
}

// Report is the benchmark's result, as written by --json.
type Report struct {
	Schema    string       `json:"schema"`
	Date      string       `json:"date"`
	Machine   Machine      `json:"machine"`
	Settings  Settings     `json:"settings"`
	Gatehouse string       `json:"gatehouse_version"`
	Scenarios []ScenarioJS `json:"scenarios"`
	// Latency is --latency's report (then Scenarios is empty): constant-rate latency per
	// scenario.
	Latency []LatencyJS `json:"latency,omitempty"`
	// BareCPUSteps and PooledCPUSteps are, with --profile, where the bare and the pooling proxies'
	// CPU went by the same rules as CPUSteps, over every scenario (one process serves them all).
	BareCPUSteps   *CPUStepsJS `json:"bare_cpu_steps,omitempty"`
	PooledCPUSteps *CPUStepsJS `json:"pooled_cpu_steps,omitempty"`
	// LoadGenerator compares wrk's CPU per request with the proxies'.
	LoadGenerator LoadGenJS `json:"load_generator"`
	TotalSeconds  float64   `json:"total_seconds"`
}

// LoadGenJS checks issue 6's rule that the load generator costs less CPU per request than what it
// measures: wrk's CPU/req in its costliest scenario and proxy (medians over rounds) against the
// cheapest proxy's. When wrk is the costlier, it may be what limits the req/s measured.
type LoadGenJS struct {
	WrkCPUPerRequestUsMedian float64 `json:"wrk_cpu_us_per_request_median"`
	WrkCPUPerRequestUsMax    float64 `json:"wrk_cpu_us_per_request_max"`
	ProxyCPUPerRequestUsMin  float64 `json:"proxy_cpu_us_per_request_min"`
	// WrkCheaper is WrkCPUPerRequestUsMax < ProxyCPUPerRequestUsMin.
	WrkCheaper bool `json:"wrk_cheaper"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUModel  string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel"`
}

// Settings are the load settings.
type Settings struct {
	DurationSeconds   float64 `json:"duration_seconds"`
	Rounds            int     `json:"rounds"`
	Threads           int     `json:"threads"`
	Connections       int     `json:"connections"`
	Wrk               string  `json:"wrk"`
	UpstreamBodyBytes int     `json:"upstream_body_bytes"`
	// RedisServer is redis-server's version, when a Redis scenario ran.
	RedisServer string `json:"redis_server,omitempty"`
	// Pinned is --pinned: each proxy alone on CPU 0 with GOMAXPROCS=1, wrk, the upstream and
	// Redis on CPU 1; the bare proxy copies without a buffer pool, and the pooling one is
	// reported as Pooled.
	Pinned bool `json:"pinned,omitempty"`
	// Latency is --latency: constant-rate latency (the report's Latency) instead of throughput.
	Latency bool `json:"latency,omitempty"`
	// Upstream is the upstream server: "net/http", or "raw" (a minimal HTTP/1.1 server on raw
	// TCP, the latency mode's default).
	Upstream string `json:"upstream,omitempty"`
	// LatencyConnections is, with --latency, the load generator's keep-alive connections.
	LatencyConnections int `json:"latency_connections,omitempty"`
	// Realtime is --realtime: each constant-rate run's processes were under SCHED_FIFO.
	Realtime bool `json:"realtime,omitempty"`
	// RateFraction is, with --latency, the constant rate as a fraction of the bare proxy's
	// maximum; Rate, when set (--rate), the one rate of every scenario instead.
	RateFraction float64 `json:"rate_fraction,omitempty"`
	Rate         int     `json:"rate,omitempty"`
}

// ScenarioJS is one scenario's medians over the rounds.
type ScenarioJS struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Storage is gatehouse's store: "memory", or "redis" (a redis-server of the scenario's own).
	Storage   string  `json:"storage"`
	Bare      Metrics `json:"bare"`
	Gatehouse Metrics `json:"gatehouse"`
	// RatioToBare is the median over rounds of gatehouse's req/s over the bare proxy's, each
	// pair measured back to back.
	RatioToBare float64 `json:"ratio_to_bare"`
	// CPURatioToBare is the median over rounds of the bare proxy's CPU per request over
	// gatehouse's: the throughput ratio were each proxy alone on its cores, steadier than
	// RatioToBare when other processes compete for the CPU.
	CPURatioToBare float64 `json:"cpu_ratio_to_bare"`
	// RatioToKeyless (apis-10000) is the median over rounds of its req/s over keyless's: what
	// its goal judges. RatioToKeylessViaBare is its RatioToBare over keyless's: each scenario
	// against the bare proxy run beside it, so that the machine's drift between the two
	// scenarios' runs (minutes apart) cancels, as for RatioToMetricsOff. It is reported beside
	// the judged ratio, not instead of it.
	RatioToKeyless        *float64 `json:"ratio_to_keyless,omitempty"`
	RatioToKeylessViaBare *float64 `json:"ratio_to_keyless_via_bare,omitempty"`
	// RatioToMetricsOff (a -metrics scenario) is its RatioToBare over that of its sibling
	// without metrics: 0.98 means metrics cost 2 % of the ratio.
	RatioToMetricsOff *float64 `json:"ratio_to_metrics_off,omitempty"`
	// Pooled is the bare proxy with a buffer pool, under --pinned: the ceiling. Its ratios are
	// the median over rounds of its req/s over the bare proxy's, and of the bare proxy's CPU
	// per request over its own.
	Pooled               *Metrics     `json:"pooled,omitempty"`
	PooledRatioToBare    *float64     `json:"pooled_ratio_to_bare,omitempty"`
	PooledCPURatioToBare *float64     `json:"pooled_cpu_ratio_to_bare,omitempty"`
	Goal                 GoalJS       `json:"goal"`
	Reloads              *reloadStats `json:"reloads,omitempty"`
	SetupSeconds         float64      `json:"setup_seconds"`
	// StartSeconds is the time from the gatehouse process's start to its proxy listener
	// accepting connections, every API loaded.
	StartSeconds float64   `json:"start_seconds"`
	Rounds       []RoundJS `json:"rounds"`
	// Redis is what gatehouse asked of Redis per request, in a Redis scenario.
	Redis *RedisJS `json:"redis,omitempty"`
	// CPUSteps is, with --profile, where gatehouse's CPU went by step (cpushare.go).
	CPUSteps *CPUStepsJS `json:"cpu_steps,omitempty"`
}

// RedisJS is what gatehouse asked of its Redis server, per request wrk completed, read from
// INFO commandstats around each of gatehouse's runs: medians over rounds.
type RedisJS struct {
	// RoundTripsPerRequest counts the commands gatehouse sends on the request path, each one a
	// round trip: EVALSHA and EVAL (the rate limit and quota script), MULTI (a client-side cache
	// fill: CLIENT CACHING, MULTI, PTTL, GET, EXEC sent at once) and the GETs outside a fill's
	// MULTI. Not the commands the script runs itself (TIME, HMGET, HINCRBY, HSET, PEXPIREAT...),
	// nor the health probe's PING.
	RoundTripsPerRequest float64 `json:"round_trips_per_request"`
	// CommandsPerRequest counts every command Redis ran, the script's own included, but the
	// benchmark's INFO.
	CommandsPerRequest float64 `json:"commands_per_request"`
	// CallsPerRequest is each command's calls per request.
	CallsPerRequest map[string]float64 `json:"calls_per_request"`
	// CPUPerRequestUs is redis-server's user+system CPU per request.
	CPUPerRequestUs float64 `json:"cpu_us_per_request"`
}

// Metrics are one proxy's medians in a scenario. Errors are totals over all rounds.
type Metrics struct {
	RequestsPerSec     float64 `json:"requests_per_sec"`
	LatencyP50Ms       float64 `json:"latency_p50_ms"`
	LatencyP99Ms       float64 `json:"latency_p99_ms"`
	Errors             int64   `json:"errors"`
	Non2xx3xx          int64   `json:"non_2xx_3xx"`
	SocketErrors       int64   `json:"socket_errors"`
	CPUPerRequestUs    float64 `json:"cpu_us_per_request"`
	WrkCPUPerRequestUs float64 `json:"wrk_cpu_us_per_request"`
	PeakRSSBytes       int64   `json:"peak_rss_bytes"`
	// RSSAnonBytes, RSSFileBytes and RSSShmemBytes are RssAnon, RssFile and RssShmem of
	// /proc/PID/status, each the highest read at the end of a run: the process's own memory,
	// and the pages of its binary and libraries (see docs/performance.md, Memory).
	RSSAnonBytes  int64 `json:"rss_anon_bytes"`
	RSSFileBytes  int64 `json:"rss_file_bytes"`
	RSSShmemBytes int64 `json:"rss_shmem_bytes"`
	// CPUBusyCores is the proxy's CPU time over the wall time of its runs (see runResult).
	CPUBusyCores float64 `json:"cpu_busy_cores"`
}

// RoundJS is one round's throughput, to recompute or inspect the spread.
type RoundJS struct {
	BareRequestsPerSec      float64 `json:"bare_requests_per_sec"`
	GatehouseRequestsPerSec float64 `json:"gatehouse_requests_per_sec"`
	// PooledRequestsPerSec is the pooling bare proxy's, under --pinned.
	PooledRequestsPerSec *float64 `json:"pooled_requests_per_sec,omitempty"`
	// RedisRoundTripsPerRequest is gatehouse's, in a Redis scenario (see RedisJS).
	RedisRoundTripsPerRequest *float64 `json:"redis_round_trips_per_request,omitempty"`
}

// GoalJS is the goal for the scenario and whether this run met it.
type GoalJS struct {
	Text  string  `json:"text"`
	Value float64 `json:"value"`
	Met   *bool   `json:"met"` // null when it cannot be judged (keyless not run)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianOf returns the median of f over rs: of one metric over a scenario's rounds.
func medianOf[T any](rs []T, f func(T) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return median(xs)
}

func metrics(rs []runResult, rss int64) Metrics {
	m := Metrics{
		RequestsPerSec:     medianOf(rs, func(r runResult) float64 { return r.RequestsPerSec }),
		LatencyP50Ms:       medianOf(rs, func(r runResult) float64 { return ms(r.P50) }),
		LatencyP99Ms:       medianOf(rs, func(r runResult) float64 { return ms(r.P99) }),
		CPUPerRequestUs:    medianOf(rs, func(r runResult) float64 { return us(r.CPUPerReq) }),
		WrkCPUPerRequestUs: medianOf(rs, func(r runResult) float64 { return us(r.WrkCPUPerReq) }),
		PeakRSSBytes:       rss,
		CPUBusyCores:       round3(medianOf(rs, func(r runResult) float64 { return r.CPUBusy })),
	}
	var res resident
	for _, r := range rs {
		m.Non2xx3xx += r.Non2xx3xx
		m.SocketErrors += r.SocketErrors
		res = res.max(r.Resident)
	}
	m.RSSAnonBytes, m.RSSFileBytes, m.RSSShmemBytes = res.Anon, res.File, res.Shmem
	m.Errors = m.Non2xx3xx + m.SocketErrors
	return m
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
func us(d time.Duration) float64 { return round3(float64(d) / float64(time.Microsecond)) }

func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}

// pairedRatio is the median over rounds of a[i]/b[i].
func pairedRatio(a, b []runResult) float64 {
	var xs []float64
	for i := range min(len(a), len(b)) {
		if b[i].RequestsPerSec > 0 {
			xs = append(xs, a[i].RequestsPerSec/b[i].RequestsPerSec)
		}
	}
	return round3(median(xs))
}

// cpuRatio is the median over rounds of bare[i]'s CPU per request over gh[i]'s.
func cpuRatio(bare, gh []runResult) float64 {
	var xs []float64
	for i := range min(len(bare), len(gh)) {
		if gh[i].CPUPerReq > 0 {
			xs = append(xs, float64(bare[i].CPUPerReq)/float64(gh[i].CPUPerReq))
		}
	}
	return round3(median(xs))
}

// buildReport turns the raw runs of gatehouse version into the report.
func buildReport(results []*scenarioResult, version string, st Settings, started time.Time) Report {
	rep := Report{
		Schema:    "gatehouse-bench/1",
		Date:      started.UTC().Format(time.RFC3339),
		Machine:   machineInfo(),
		Settings:  st,
		Gatehouse: version,
	}
	var keyless *scenarioResult
	byName := map[string]*scenarioResult{}
	for _, r := range results {
		if r.sc.name == "keyless" {
			keyless = r
		}
		byName[r.sc.name] = r
	}
	for _, r := range results {
		s := ScenarioJS{
			Name:           r.sc.name,
			Description:    r.sc.desc,
			Storage:        r.sc.storage(),
			Bare:           metrics(r.bare, r.bareRSS),
			Gatehouse:      metrics(r.gh, r.ghRSS),
			RatioToBare:    pairedRatio(r.gh, r.bare),
			CPURatioToBare: cpuRatio(r.bare, r.gh),
			SetupSeconds:   round3(r.setup.Seconds()),
			StartSeconds:   round3(r.listening.Seconds()),
		}
		for i := range min(len(r.bare), len(r.gh)) {
			rd := RoundJS{BareRequestsPerSec: r.bare[i].RequestsPerSec, GatehouseRequestsPerSec: r.gh[i].RequestsPerSec}
			if i < len(r.pooled) {
				v := r.pooled[i].RequestsPerSec
				rd.PooledRequestsPerSec = &v
			}
			if u := r.gh[i].Redis; u != nil {
				v := round3(u.RoundTripsPerReq)
				rd.RedisRoundTripsPerRequest = &v
			}
			s.Rounds = append(s.Rounds, rd)
		}
		if len(r.pooled) > 0 {
			m := metrics(r.pooled, r.pooledRSS)
			ratio, cpu := pairedRatio(r.pooled, r.bare), cpuRatio(r.bare, r.pooled)
			s.Pooled, s.PooledRatioToBare, s.PooledCPURatioToBare = &m, &ratio, &cpu
		}
		s.Redis = redisReport(r.gh)
		if r.sc.reloads {
			s.Reloads = &reloadStats{}
			for _, g := range r.gh {
				if g.Reloads != nil {
					s.Reloads.add(g.Reloads)
				}
			}
		}
		if r.sc.goal.Against == "keyless" && keyless != nil {
			v := pairedRatio(r.gh, keyless.gh)
			s.RatioToKeyless = &v
			if base := pairedRatio(keyless.gh, keyless.bare); base > 0 {
				vb := round3(s.RatioToBare / base)
				s.RatioToKeylessViaBare = &vb
			}
		}
		if off := byName[r.sc.off]; off != nil {
			if base := pairedRatio(off.gh, off.bare); base > 0 {
				v := round3(s.RatioToBare / base)
				s.RatioToMetricsOff = &v
			}
		}
		s.Goal = judge(r.sc.goal, s)
		rep.Scenarios = append(rep.Scenarios, s)
	}
	rep.LoadGenerator = loadGen(rep.Scenarios)
	return rep
}

// redisReport is the medians over rounds of what gatehouse asked of Redis, nil when no run
// measured it.
func redisReport(rs []runResult) *RedisJS {
	var uses []redisUse
	for _, r := range rs {
		if r.Redis != nil {
			uses = append(uses, *r.Redis)
		}
	}
	if len(uses) == 0 {
		return nil
	}
	med := func(f func(redisUse) float64) float64 {
		xs := make([]float64, len(uses))
		for i, u := range uses {
			xs[i] = f(u)
		}
		return round3(median(xs))
	}
	out := &RedisJS{
		RoundTripsPerRequest: med(func(u redisUse) float64 { return u.RoundTripsPerReq }),
		CommandsPerRequest:   med(func(u redisUse) float64 { return u.CommandsPerReq }),
		CPUPerRequestUs:      med(func(u redisUse) float64 { return us(u.CPUPerReq) }),
		CallsPerRequest:      map[string]float64{},
	}
	for _, u := range uses {
		for name := range u.CallsPerReq {
			if _, done := out.CallsPerRequest[name]; !done {
				out.CallsPerRequest[name] = med(func(u redisUse) float64 { return u.CallsPerReq[name] })
			}
		}
	}
	return out
}

// loadGen compares wrk's CPU per request with the proxies', over every scenario and proxy.
func loadGen(scs []ScenarioJS) LoadGenJS {
	var wrk, proxy []float64
	for _, s := range scs {
		ms := []Metrics{s.Bare, s.Gatehouse}
		if s.Pooled != nil {
			ms = append(ms, *s.Pooled)
		}
		for _, m := range ms {
			wrk = append(wrk, m.WrkCPUPerRequestUs)
			proxy = append(proxy, m.CPUPerRequestUs)
		}
	}
	if len(wrk) == 0 {
		return LoadGenJS{}
	}
	lg := LoadGenJS{
		WrkCPUPerRequestUsMedian: round3(median(wrk)),
		WrkCPUPerRequestUsMax:    slices.Max(wrk),
		ProxyCPUPerRequestUsMin:  slices.Min(proxy),
	}
	lg.WrkCheaper = lg.WrkCPUPerRequestUsMax < lg.ProxyCPUPerRequestUsMin
	return lg
}

func judge(g goal, s ScenarioJS) GoalJS {
	out := GoalJS{Text: g.String()}
	var met bool
	switch g.Against {
	case "errors":
		n := s.Gatehouse.Errors
		if s.Reloads != nil {
			n += s.Reloads.Failed
		}
		out.Value, met = float64(n), n == 0
	case "keyless":
		if s.RatioToKeyless == nil {
			return out
		}
		out.Value, met = *s.RatioToKeyless, *s.RatioToKeyless >= g.Min
	case "off":
		if s.RatioToMetricsOff == nil {
			return out
		}
		out.Value, met = *s.RatioToMetricsOff, *s.RatioToMetricsOff >= g.Min
	default:
		out.Value, met = s.RatioToBare, s.RatioToBare >= g.Min
	}
	out.Met = &met
	return out
}

// machineInfo describes this machine.
func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// writeTable prints the report as an aligned text table, or Markdown.
func writeTable(w io.Writer, rep Report, markdown bool) {
	if len(rep.Latency) > 0 {
		writeLatencyTable(w, rep, markdown)
		return
	}
	m := rep.Machine
	fmt.Fprintf(w, "Gatehouse %s vs bare httputil.ReverseProxy — %s\n", rep.Gatehouse, rep.Date)
	fmt.Fprintf(w, "%s, %d cores, %s %s/%s, %s, -t%d -c%d, %d rounds × %gs, medians\n",
		m.CPUModel, m.Cores, m.GoVersion, m.OS, m.Arch, rep.Settings.Wrk,
		rep.Settings.Threads, rep.Settings.Connections, rep.Settings.Rounds, rep.Settings.DurationSeconds)
	if rep.Settings.Pinned {
		fmt.Fprintf(w, "pinned: each proxy alone on CPU %s with GOMAXPROCS=1, wrk, the upstream and Redis on CPU %s;\n", proxyCPU, loadCPU)
		fmt.Fprintf(w, "bare = httputil.ReverseProxy without a buffer pool, pooled = the same with one (the ceiling)\n")
	}
	fmt.Fprintln(w)
	header := []string{"scenario", "proxy", "req/s", "p50", "p99", "ratio", "CPU ratio", "errors", "CPU/req", "peak RSS", "anon+file", "goal"}
	var rows [][]string
	for _, s := range rep.Scenarios {
		rows = append(rows, []string{s.Name, "bare", num(s.Bare.RequestsPerSec), msStr(s.Bare.LatencyP50Ms), msStr(s.Bare.LatencyP99Ms),
			"1.000", "1.000", strconv.FormatInt(s.Bare.Errors, 10), usStr(s.Bare.CPUPerRequestUs), mib(s.Bare.PeakRSSBytes), anonFile(s.Bare), ""})
		if p := s.Pooled; p != nil {
			name := s.Name
			if !markdown {
				name = ""
			}
			rows = append(rows, []string{name, "pooled", num(p.RequestsPerSec), msStr(p.LatencyP50Ms), msStr(p.LatencyP99Ms),
				fmt.Sprintf("%.3f", *s.PooledRatioToBare), fmt.Sprintf("%.3f", *s.PooledCPURatioToBare), strconv.FormatInt(p.Errors, 10),
				usStr(p.CPUPerRequestUs), mib(p.PeakRSSBytes), anonFile(*p), "ceiling"})
		}
		g := s.Gatehouse
		verdict := s.Goal.Text
		switch {
		case s.Goal.Met == nil:
			verdict += " n/a"
		case *s.Goal.Met:
			verdict += " ok"
		default:
			verdict += " BELOW"
		}
		if s.RatioToKeyless != nil {
			via := ""
			if s.RatioToKeylessViaBare != nil {
				via = fmt.Sprintf(" (%.3f via bare)", *s.RatioToKeylessViaBare)
			}
			verdict = fmt.Sprintf("%.3f×keyless%s, %s", *s.RatioToKeyless, via, verdict)
		}
		if s.RatioToMetricsOff != nil {
			verdict = fmt.Sprintf("%.3f×off, %s", *s.RatioToMetricsOff, verdict)
		}
		if s.Reloads != nil {
			verdict = fmt.Sprintf("%d reloads (%.1f/s, p50 %.0fms, max %.0fms), %d failed; %s", s.Reloads.Reloads,
				s.Reloads.PerSecond, s.Reloads.P50Ms, s.Reloads.MaxMs, s.Reloads.Failed, verdict)
		}
		name := s.Name
		if !markdown {
			name = ""
		}
		rows = append(rows, []string{name, "gatehouse", num(g.RequestsPerSec), msStr(g.LatencyP50Ms), msStr(g.LatencyP99Ms),
			fmt.Sprintf("%.3f", s.RatioToBare), fmt.Sprintf("%.3f", s.CPURatioToBare), strconv.FormatInt(g.Errors, 10), usStr(g.CPUPerRequestUs), mib(g.PeakRSSBytes), anonFile(g), verdict})
	}
	writeRows(w, header, rows, markdown)
	fmt.Fprintf(w, "\nratio: median over rounds of gatehouse req/s ÷ bare proxy req/s, each pair run back to back.\n")
	fmt.Fprintf(w, "CPU/req: the proxy process's user+system CPU per request; CPU ratio: median over rounds of\n")
	fmt.Fprintf(w, "bare CPU/req ÷ gatehouse CPU/req. errors: non-2xx/3xx responses plus socket errors, summed\n")
	fmt.Fprintf(w, "over all rounds. Peak RSS: VmHWM of the process after all runs. anon+file: RssAnon (the process's\n")
	fmt.Fprintf(w, "own memory) + RssFile (pages of its binary and libraries, shared and reclaimable), the highest\n")
	fmt.Fprintf(w, "at the end of a run; see docs/performance.md, Memory.\n")
	lg := rep.LoadGenerator
	verdict := "below every proxy's (at least %s): ok.\n"
	if !lg.WrkCheaper {
		verdict = "NOT below every proxy's (at least %s): WARNING, the load generator\n" +
			"may be what limits req/s; read the CPU ratio rather than the ratio.\n"
	}
	fmt.Fprintf(w, "wrk's own CPU/req: median %s, at most %s, "+verdict,
		usStr(lg.WrkCPUPerRequestUsMedian), usStr(lg.WrkCPUPerRequestUsMax), usStr(lg.ProxyCPUPerRequestUsMin))
	if rep.Settings.Pinned {
		writeBusyNote(w, rep)
	}
	writeRedisNotes(w, rep)
	var setup []string
	for _, s := range rep.Scenarios {
		if s.SetupSeconds >= 1 {
			setup = append(setup, fmt.Sprintf("%s %.1fs", s.Name, s.SetupSeconds))
		}
	}
	if len(setup) > 0 {
		fmt.Fprintf(w, "setup (gatehouse start and keys): %s.\n", strings.Join(setup, ", "))
	}
	var start []string
	for _, s := range rep.Scenarios {
		if s.StartSeconds >= 0.1 {
			start = append(start, fmt.Sprintf("%s %.2fs", s.Name, s.StartSeconds))
		}
	}
	if len(start) > 0 {
		fmt.Fprintf(w, "gatehouse start to listening, every API loaded: %s.\n", strings.Join(start, ", "))
	}
	fmt.Fprintf(w, "total run time %.0fs.\n", rep.TotalSeconds)
	writeCPUSteps(w, rep, markdown)
}

// writeRows prints a table: Markdown, or aligned text with the first two and the last columns
// left-aligned.
func writeRows(w io.Writer, header []string, rows [][]string, markdown bool) {
	if markdown {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
	} else {
		widths := make([]int, len(header))
		for _, r := range append([][]string{header}, rows...) {
			for i, c := range r {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
		line := func(r []string) {
			var b strings.Builder
			for i, c := range r {
				pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
				switch {
				case i <= 1 || i == len(r)-1: // text columns, left-aligned
					b.WriteString(c + pad)
				default:
					b.WriteString(pad + c)
				}
				if i < len(r)-1 {
					b.WriteString("  ")
				}
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
		line(header)
		for _, r := range rows {
			line(r)
		}
	}
}

// writeBusyNote prints, under --pinned, how busy each proxy's core was: a proxy well under one
// core was held back by the load side (wrk and the upstream on the other core), and its ratio
// says less about the proxy.
func writeBusyNote(w io.Writer, rep Report) {
	lo, hi := 0.0, 0.0
	for i, s := range rep.Scenarios {
		ms := []Metrics{s.Bare, s.Gatehouse}
		if s.Pooled != nil {
			ms = append(ms, *s.Pooled)
		}
		for j, m := range ms {
			if i == 0 && j == 0 {
				lo, hi = m.CPUBusyCores, m.CPUBusyCores
			}
			lo, hi = min(lo, m.CPUBusyCores), max(hi, m.CPUBusyCores)
		}
	}
	verdict := "ok"
	if lo < 0.9 {
		verdict = "WARNING: a proxy used less than 0.9 of its core, so the load side may be what limited it"
	}
	fmt.Fprintf(w, "proxy's core busy (CPU time ÷ wall time, medians): %.2f to %.2f; %s.\n", lo, hi, verdict)
}

// writeRedisNotes prints, for the scenarios on Redis, what gatehouse asked of Redis per request.
func writeRedisNotes(w io.Writer, rep Report) {
	var scs []ScenarioJS
	width := 0
	for _, s := range rep.Scenarios {
		if s.Redis != nil {
			scs = append(scs, s)
			width = max(width, len(s.Name))
		}
	}
	if len(scs) == 0 {
		return
	}
	version := ""
	if rep.Settings.RedisServer != "" {
		version = " " + rep.Settings.RedisServer
	}
	fmt.Fprintf(w, "Redis%s, per request (medians over rounds, from INFO commandstats): round trips = EVALSHA +\n", version)
	fmt.Fprintf(w, "EVAL + MULTI (a cache fill) + GETs outside a fill; commands = all Redis ran, Lua's own included:\n")
	for _, s := range scs {
		rd := s.Redis
		names := slices.Sorted(maps.Keys(rd.CallsPerRequest))
		slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(rd.CallsPerRequest[b], rd.CallsPerRequest[a]) })
		var calls []string
		for _, n := range names {
			if c := rd.CallsPerRequest[n]; c >= 0.001 {
				calls = append(calls, fmt.Sprintf("%s %.3f", n, c))
			}
		}
		fmt.Fprintf(w, "  %-*s  %.3f round trips, %.3f commands, Redis CPU/req %s\n",
			width, s.Name, rd.RoundTripsPerRequest, rd.CommandsPerRequest, usStr(rd.CPUPerRequestUs))
		if len(calls) > 0 {
			fmt.Fprintf(w, "  %-*s  (%s)\n", width, "", strings.Join(calls, ", "))
		}
	}
}

// num formats a rate with thousands separators.
func num(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func msStr(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + "ms" }
func usStr(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + "µs" }

// anonFile formats a proxy's resident anonymous and file-backed memory, in MiB.
func anonFile(m Metrics) string {
	if m.RSSAnonBytes <= 0 && m.RSSFileBytes <= 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(m.RSSAnonBytes)/(1<<20), 'f', 1, 64) + "+" +
		strconv.FormatFloat(float64(m.RSSFileBytes)/(1<<20), 'f', 1, 64) + "MiB"
}

func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "MiB"
}
