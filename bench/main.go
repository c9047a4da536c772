// Command bench measures Gatehouse against a bare httputil.ReverseProxy, side by side, per
// scenario. It builds the gatehouse binary and a benchmark plugin, starts an upstream, the bare
// proxy and one gatehouse per scenario (each a process of its own), drives load through each with
// wrk, interleaved over several rounds, and reports medians as a table or JSON.
//
//	go run -trimpath ./bench [--json] [--duration 5s] [--rounds 3] [--scenarios keyless,keyed] [--pinned] [--latency]
//
// With --latency (issue 15) it measures tail latency instead of throughput: per scenario, the
// benchmark's own open-loop generator (loadgen.go) sends requests at a constant rate of half the
// bare proxy's maximum through the bare proxy and the gatehouse, to a minimal raw-TCP upstream
// (rawupstream.go), and the report gives the latency gatehouse adds (latency.go). With --pinned
// --realtime each constant-rate run's processes run under SCHED_FIFO (pin.go).
//
// With --pinned (issue 15) every proxy runs alone on CPU 0 with GOMAXPROCS=1, and wrk, the
// upstream and redis-server on CPU 1 (see pin.go); the baseline is then a bare proxy without a
// buffer pool, and the same proxy with one is measured beside it as the ceiling.
//
// With --profile each gatehouse writes a CPU profile, and the report adds where its CPU went by
// step of the request path (routing, auth, limits, plugins, ..., proxy; cpushare.go).
// `go run -trimpath ./bench steps FILE...` reads profiles already written.
//
// The *-redis scenarios run their gatehouse on a redis-server of their own, which the benchmark
// starts (it must be installed), and report the Redis round trips and commands per request.
//
// scripts/bench.sh installs wrk and redis-server when they are missing and runs this.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			os.Exit(runUpstream(os.Args[2:]))
		case "bareproxy":
			os.Exit(runBareProxy(os.Args[2:]))
		case "steps":
			os.Exit(cmdSteps(os.Args[2:], os.Stdout))
		}
	}
	os.Exit(cmdBench(os.Args[1:]))
}

// options are the benchmark's flags.
type options struct {
	json, markdown, keep bool
	profile              bool
	pinned               bool
	latency              bool
	rateFraction         float64
	rate                 int    // with --latency, a fixed rate for every scenario (0: rateFraction of the bare proxy's maximum)
	upstream             string // "raw" or "net/http"
	realtime             bool
	maxSendLag           time.Duration
	duration, warmup     time.Duration
	rounds               int
	threads, conns       int
	scenarios            []*scenario
}

func cmdBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	fs.BoolVar(&o.json, "json", false, "print the report as JSON instead of a table")
	fs.BoolVar(&o.markdown, "markdown", false, "print the table as Markdown")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (configs, logs, plugin) and print where it is")
	fs.BoolVar(&o.profile, "profile", false, "write a CPU profile of each gatehouse to gh-SCENARIO/cpu.prof, and of the bare and pooled proxies "+
		"(each serving every scenario) to bare/cpu.prof and pooled/cpu.prof (implies --keep), and report their CPU by step of the request path")
	fs.BoolVar(&o.pinned, "pinned", false, "each proxy alone on CPU 0 with GOMAXPROCS=1, wrk, the upstream and Redis on CPU 1 (taskset); "+
		"ratios to a bare proxy without a buffer pool, the pooling one measured beside it as the ceiling")
	fs.BoolVar(&o.latency, "latency", false, "tail latency instead of throughput: per scenario, a constant-rate load generator at half the bare proxy's "+
		"maximum (wrk), through the bare proxy and gatehouse; reports p50, p99 and what gatehouse adds (issue 15)")
	fs.BoolVar(&o.realtime, "realtime", false, "with --latency --pinned: the proxy, the upstream and the load generator under SCHED_FIFO (chrt) during "+
		"each constant-rate run, so that other work on a shared machine does not delay them (needs root or CAP_SYS_NICE)")
	fs.DurationVar(&o.maxSendLag, "max-send-lag", defaultMaxSendLag, "with --latency, the load generator's send lag p99 above which a round is LOAD BEHIND and the goal not judged")
	fs.StringVar(&o.upstream, "upstream", "", `the upstream server: "raw" (a minimal HTTP/1.1 server on raw TCP, the default with --latency) `+
		`or "net/http" (the default otherwise)`)
	fs.Float64Var(&o.rateFraction, "rate-fraction", 0.5, "with --latency, the constant rate as a fraction of the bare proxy's maximum")
	fs.IntVar(&o.rate, "rate", 0, "with --latency, one constant rate in req/s for every scenario instead of --rate-fraction of the bare proxy's maximum "+
		"(not measured then): to compare scenarios at the same load")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each wrk run (whole seconds)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up run per proxy before the first round (0 for none)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every scenario through both proxies")
	fs.IntVar(&o.threads, "threads", 1, "wrk threads")
	fs.IntVar(&o.conns, "connections", 32, "wrk connections")
	names := fs.String("scenarios", "all", "comma-separated scenarios: "+strings.Join(allNames(), ","))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run -trimpath ./bench [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// !(in range), not (out of range): NaN, which the flag package parses, is in no range.
	if fs.NArg() > 0 || !(o.rateFraction > 0 && o.rateFraction <= 1) || o.rate < 0 || o.rate > maxLatencyRate || o.rounds < 1 || o.duration < time.Second || o.threads < 1 || o.conns < o.threads {
		fs.Usage()
		return 2
	}
	switch o.upstream {
	case "":
		o.upstream = map[bool]string{true: "raw", false: "net/http"}[o.latency]
	case "raw", "net/http":
	default:
		fmt.Fprintf(os.Stderr, "bench: --upstream %q: want raw or net/http\n", o.upstream)
		return 2
	}
	if o.maxSendLag <= 0 {
		fmt.Fprintln(os.Stderr, "bench: --max-send-lag must be above 0")
		return 2
	}
	if o.realtime && (!o.latency || !o.pinned) {
		fmt.Fprintln(os.Stderr, "bench: --realtime needs --latency and --pinned")
		return 2
	}
	o.keep = o.keep || o.profile
	var err error
	if o.scenarios, err = selectScenarios(*names); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if o.pinned {
		if err := checkPinning(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		if o.realtime {
			if err := checkRealtime(); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
		}
		for _, s := range o.scenarios {
			if s.pinnedGoal > 0 {
				s.goal = goal{"bare", s.pinnedGoal}
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once; children die with us (Pdeathsig)
	}()
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	cs := &children{}
	defer func() {
		cs.stopAll()
		if o.keep {
			logf("kept %s", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}()
	rep, err := benchmark(ctx, o, tmp, cs)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "bench: interrupted")
			return 130
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		writeTable(os.Stdout, rep, o.markdown)
	}
	return 0
}

func allNames() []string {
	var out []string
	for _, s := range scenarios() {
		out = append(out, s.name)
	}
	return out
}

// logf reports progress on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// profileArgs are the bareproxy arguments that, with --profile, write its CPU profile to
// tmp/name/cpu.prof (one process serves every scenario of the run, so its profile spans them
// all); none without --profile, or when the folder cannot be made.
func profileArgs(profile bool, tmp, name string) []string {
	if !profile {
		return nil
	}
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("no CPU profile of the %s proxy: %v", name, err)
		return nil
	}
	return []string{"--cpuprofile", filepath.Join(dir, "cpu.prof")}
}

// target is one proxy under load.
type target struct {
	name string
	proc *child
	url  string
	gh   *gatehouse   // nil for the bare proxy
	rds  *redisServer // the gatehouse's Redis server, nil on the memory store
}

func benchmark(ctx context.Context, o options, tmp string, cs *children) (Report, error) {
	started := time.Now()
	root, err := moduleRoot(ctx)
	if err != nil {
		return Report{}, err
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return Report{}, errors.New("wrk is not installed (apt-get install -y wrk, or run scripts/bench.sh)")
	}
	var needRedis []string
	for _, s := range o.scenarios {
		if s.redis {
			needRedis = append(needRedis, s.name)
		}
	}
	if _, err := exec.LookPath("redis-server"); err != nil && len(needRedis) > 0 {
		return Report{}, fmt.Errorf("redis-server is not installed, and scenario(s) %s need it (%s)", strings.Join(needRedis, ", "), redisInstall)
	}
	self, err := os.Executable()
	if err != nil {
		return Report{}, err
	}

	t := time.Now()
	bin := filepath.Join(tmp, "gatehouse")
	if err := buildGatehouse(ctx, root, bin); err != nil {
		return Report{}, err
	}
	verOut, _ := exec.Command(bin, "version").Output()
	ghVersion, _, _ := strings.Cut(strings.TrimSpace(string(verOut)), "\n")
	ghVersion = strings.TrimPrefix(ghVersion, "gatehouse ")
	logf("built gatehouse (%s) in %v", ghVersion, time.Since(t).Round(time.Millisecond))
	var so string // the benchmark plugin
	for _, s := range o.scenarios {
		if len(s.hooks) > 0 {
			t = time.Now()
			if so, err = buildPlugin(ctx, bin, root, filepath.Join(tmp, "plugin")); err != nil {
				return Report{}, err
			}
			logf("built the benchmark plugin in %v", time.Since(t).Round(time.Millisecond))
			break
		}
	}

	proxyCPUs, loadCPUs := pinnings(o.pinned)
	if err := pinSelf(loadCPUs); err != nil {
		return Report{}, err
	}
	path, args := loadCPUs.command(self, "upstream", "--raw="+strconv.FormatBool(o.upstream == "raw"))
	upProc, upAddr, err := cs.start("upstream", filepath.Join(tmp, "upstream.log"), true, path, args...)
	if err != nil {
		return Report{}, err
	}
	upstream := "http://" + upAddr
	// Pinned, the baseline copies without a buffer pool (httputil.ReverseProxy's default) and
	// the pooling proxy runs beside it as the ceiling; otherwise the baseline pools, like the
	// gateway.
	path, args = proxyCPUs.command(self, append([]string{"bareproxy", "--upstream", upstream, "--pool=" + strconv.FormatBool(!o.pinned)},
		profileArgs(o.profile, tmp, "bare")...)...)
	bareProc, bareAddr, err := cs.start("bare proxy", filepath.Join(tmp, "bareproxy.log"), true, path, args...)
	if err != nil {
		return Report{}, err
	}
	bare := &target{name: "bare", proc: bareProc, url: "http://" + bareAddr}
	logf("upstream (%s) on %s, bare proxy on %s", o.upstream, upAddr, bareAddr)
	var pooled *target
	if o.pinned {
		path, args = proxyCPUs.command(self, append([]string{"bareproxy", "--upstream", upstream}, profileArgs(o.profile, tmp, "pooled")...)...)
		proc, addr, err := cs.start("pooled bare proxy", filepath.Join(tmp, "pooledproxy.log"), true, path, args...)
		if err != nil {
			return Report{}, err
		}
		pooled = &target{name: "pooled", proc: proc, url: "http://" + addr}
		logf("pinned: proxies on CPU %s with GOMAXPROCS=1, the rest on CPU %s; pooled bare proxy on %s", proxyCPU, loadCPU, addr)
	}

	otelSink := ""
	if slices.ContainsFunc(o.scenarios, func(s *scenario) bool { return s.otel }) {
		addr, stop, err := startOTLPSink()
		if err != nil {
			return Report{}, err
		}
		defer stop()
		otelSink = addr
		logf("OTLP/HTTP sink on %s", addr)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	var results []*scenarioResult
	ghs := map[*scenario]*target{}
	for _, s := range o.scenarios {
		t = time.Now()
		dir := filepath.Join(tmp, "gh-"+s.name)
		var rds *redisServer
		redisPort := 0
		if s.redis {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return Report{}, err
			}
			if rds, err = startRedis(ctx, cs, dir, s.name, loadCPUs); err != nil {
				return Report{}, fmt.Errorf("%s: %w", s.name, err)
			}
			redisPort = rds.port
			logf("%s: redis-server on %s", s.name, rds.addr)
		}
		g, err := startGatehouse(ctx, cs, bin, dir, s.name, s.definitions(upstream, so), s.files(upstream), s.policies(), redisPort, o.profile, s.metrics, sinkFor(s, otelSink), proxyCPUs, s.env)
		if err != nil {
			return Report{}, err
		}
		if lua := s.script(); lua != "" {
			s.scriptFile = filepath.Join(dir, "requests.lua")
			if err := os.WriteFile(s.scriptFile, []byte(lua), 0o644); err != nil {
				return Report{}, err
			}
		}
		if keys := s.keyNames(); len(keys) > 0 {
			if err := g.putKeys(ctx, keys, s.session(), 8); err != nil {
				return Report{}, fmt.Errorf("%s: storing keys: %w", s.name, err)
			}
		}
		r := &scenarioResult{sc: s, setup: time.Since(t), listening: g.listening}
		logf("%s: gatehouse on %s listening %v after its start, ready in %v", s.name, strings.TrimPrefix(g.url, "http://"),
			g.listening.Round(time.Millisecond), r.setup.Round(time.Millisecond))
		tg := &target{name: "gatehouse", proc: g.proc, url: g.url, gh: g, rds: rds}
		if err := verify(ctx, client, s, bare, pooled, tg); err != nil {
			return Report{}, err
		}
		ghs[s] = tg
		results = append(results, r)
	}

	w := wrkRun{Duration: o.duration, Threads: o.threads, Connections: o.conns, CPUs: loadCPUs}
	if o.warmup > 0 {
		wu := w
		wu.Duration = o.warmup
		logf("warming up")
		for i, r := range results {
			tgs := []*target{ghs[r.sc]}
			if i == 0 {
				tgs = append(tgs, bare)
				if pooled != nil {
					tgs = append(tgs, pooled)
				}
			}
			for _, tg := range tgs {
				wu.URL, wu.Header, wu.Script = tg.url+r.sc.path(), r.sc.header(), r.sc.scriptFile
				if _, _, err := runWrk(ctx, wu); err != nil {
					return Report{}, err
				}
			}
		}
	}

	if o.latency {
		lrs, err := measureLatency(ctx, o, w, results, bare, ghs, upProc)
		if err != nil {
			return Report{}, err
		}
		rep := Report{
			Schema:    "gatehouse-bench/1",
			Date:      started.UTC().Format(time.RFC3339),
			Machine:   machineInfo(),
			Gatehouse: ghVersion,
			Settings: Settings{DurationSeconds: o.duration.Round(time.Second).Seconds(), Rounds: o.rounds, Threads: o.threads,
				Connections: o.conns, Wrk: wrkVersion(), UpstreamBodyBytes: len(benchkit.Body), Pinned: o.pinned, Latency: true,
				Upstream: o.upstream, LatencyConnections: latencyConns, Realtime: o.realtime, RateFraction: o.rateFraction, Rate: o.rate},
			Latency: latencyReport(lrs),
		}
		rep.TotalSeconds = round3(time.Since(started).Seconds())
		return rep, nil
	}

	for round := range o.rounds {
		for _, r := range results {
			order := []*target{bare, ghs[r.sc]}
			if pooled != nil {
				order = []*target{bare, pooled, ghs[r.sc]}
			}
			// Rotate, so that none always runs first.
			k := round % len(order)
			order = append(order[k:], order[:k]...)
			for _, tg := range order {
				rr, err := measure(ctx, w, r.sc, tg)
				if err != nil {
					return Report{}, fmt.Errorf("%s through %s: %w", r.sc.name, tg.name, err)
				}
				switch tg {
				case bare:
					r.bare = append(r.bare, rr)
				case pooled:
					r.pooled = append(r.pooled, rr)
				default:
					r.gh = append(r.gh, rr)
				}
				extra := ""
				if rr.ErrorKinds != "" {
					extra = " (" + rr.ErrorKinds + ")"
				}
				if rr.Reloads != nil {
					extra += fmt.Sprintf(", %d reloads (%d failed), p50 %.1fms, max %.1fms", rr.Reloads.Reloads, rr.Reloads.Failed, rr.Reloads.P50Ms, rr.Reloads.MaxMs)
				}
				if rr.Redis != nil {
					extra += fmt.Sprintf(", Redis %.3f round trips/req, %.2f commands/req", rr.Redis.RoundTripsPerReq, rr.Redis.CommandsPerReq)
				}
				logf("round %d/%d %-16s %-9s %9s req/s  p99 %-9s CPU/req %-8s errors %d%s", round+1, o.rounds, r.sc.name, tg.name,
					num(rr.RequestsPerSec), rr.P99.Round(time.Microsecond), rr.CPUPerReq.Round(100*time.Nanosecond), rr.Non2xx3xx+rr.SocketErrors, extra)
			}
		}
	}

	redisVersion := ""
	if len(needRedis) > 0 {
		redisVersion = redisServerVersion()
	}
	for _, r := range results {
		var err1, err2 error
		r.bareRSS, err1 = peakRSS(bare.proc.Pid())
		r.ghRSS, err2 = peakRSS(ghs[r.sc].proc.Pid())
		var err3 error
		if pooled != nil {
			r.pooledRSS, err3 = peakRSS(pooled.proc.Pid())
		}
		if err := errors.Join(err1, err2, err3); err != nil {
			logf("reading peak RSS: %v", err)
		}
	}
	rep := buildReport(results, ghVersion, Settings{
		DurationSeconds:   o.duration.Round(time.Second).Seconds(),
		Rounds:            o.rounds,
		Threads:           o.threads,
		Connections:       o.conns,
		Wrk:               wrkVersion(),
		UpstreamBodyBytes: len(benchkit.Body),
		Upstream:          o.upstream,
		RedisServer:       redisVersion,
		Pinned:            o.pinned,
	}, started)
	if o.profile {
		addCPUSteps(&rep, results, ghs, bare, pooled, tmp)
	}
	rep.TotalSeconds = round3(time.Since(started).Seconds())
	return rep, nil
}

// measure runs wrk once through tg and reads the proxy's CPU time around the run, and, for a
// gatehouse on Redis, the Redis server's command counts and CPU time.
func measure(ctx context.Context, w wrkRun, s *scenario, tg *target) (runResult, error) {
	if tg.proc.exited() {
		return runResult{}, fmt.Errorf("%s has exited: %s", tg.proc.name, tg.proc.tail())
	}
	w.URL, w.Header, w.Script = tg.url+s.path(), s.header(), s.scriptFile
	var (
		stats0     commandStats
		redisCPU0  time.Duration
		err1, err2 error
	)
	if tg.rds != nil {
		stats0, err1 = tg.rds.commandStats(ctx)
		redisCPU0, err2 = cpuTime(tg.rds.proc.Pid())
		if err := errors.Join(err1, err2); err != nil {
			return runResult{}, err
		}
	}
	cpu0, err := cpuTime(tg.proc.Pid())
	if err != nil {
		return runResult{}, err
	}
	hctx, stopHammer := context.WithCancel(ctx)
	var hammerDone chan reloadStats
	if s.reloads && tg.gh != nil {
		hammerDone = make(chan reloadStats, 1)
		go func() { hammerDone <- tg.gh.hammerReloads(hctx, s.changeOne()) }()
	}
	t0 := time.Now()
	res, wrkCPU, err := runWrk(ctx, w)
	cpu1, cerr := cpuTime(tg.proc.Pid())
	wall := time.Since(t0)
	var (
		stats1    commandStats
		redisCPU1 time.Duration
	)
	if tg.rds != nil && err == nil {
		stats1, err1 = tg.rds.commandStats(ctx)
		redisCPU1, err2 = cpuTime(tg.rds.proc.Pid())
		cerr = errors.Join(cerr, err1, err2)
	}
	stopHammer()
	var rr runResult
	if hammerDone != nil {
		st := <-hammerDone
		rr.Reloads = &st
	}
	if err := errors.Join(err, cerr); err != nil {
		return runResult{}, err
	}
	rr.RequestsPerSec, rr.P50, rr.P99 = res.RequestsPerSec, res.Percentiles[50], res.Percentiles[99]
	rr.Non2xx3xx, rr.SocketErrors, rr.ErrorKinds = res.Non2xx3xx, res.SocketErrors(), res.ErrorKinds()
	if res.Requests > 0 {
		rr.CPUPerReq = (cpu1 - cpu0) / time.Duration(res.Requests)
		rr.WrkCPUPerReq = wrkCPU / time.Duration(res.Requests)
	}
	if wall > 0 {
		rr.CPUBusy = float64(cpu1-cpu0) / float64(wall)
	}
	// Read right after the load, while the heap still holds what the requests needed.
	if rr.Resident, err = readResident(tg.proc.Pid()); err != nil {
		logf("reading the resident memory of %s: %v", tg.proc.name, err)
	}
	if tg.rds != nil {
		u := redisUsage(stats0, stats1, res.Requests)
		if res.Requests > 0 {
			u.CPUPerReq = (redisCPU1 - redisCPU0) / time.Duration(res.Requests)
		}
		rr.Redis = &u
	}
	return rr, nil
}

// verify sends one request through each proxy and checks that it succeeds and that the
// scenario's hooks ran, before any load.
func verify(ctx context.Context, client *http.Client, s *scenario, bare, pooled, gh *target) error {
	url := strings.TrimSuffix(s.path(), "/") + benchkit.VerifyPath
	wantSaw, wantResp := s.upstreamSaw()
	tgs := []*target{bare, gh}
	if pooled != nil {
		tgs = append(tgs, pooled)
	}
	for _, tg := range tgs {
		code, h, err := check(ctx, client, tg.url+url, s.header())
		if err != nil {
			return fmt.Errorf("%s: checking %s: %w", s.name, tg.name, err)
		}
		if code != http.StatusOK {
			return fmt.Errorf("%s: GET %s through %s: status %d, want 200", s.name, url, tg.name, code)
		}
		if tg.gh == nil {
			continue
		}
		if got := h.Get("X-Upstream-Saw"); got != wantSaw {
			return fmt.Errorf("%s: the upstream saw X-Bench headers %q, want %q (request hooks did not run?)", s.name, got, wantSaw)
		}
		if got := h.Get("X-Bench-Response") == "1"; got != (wantResp["X-Bench-Response"] == "1") {
			return fmt.Errorf("%s: X-Bench-Response on the answer: %v, want %v", s.name, got, !got)
		}
		for name, want := range wantResp {
			if got := h.Get(name); got != want {
				return fmt.Errorf("%s: %s on the answer: %q, want %q (response transforms did not run?)", s.name, name, got, want)
			}
		}
		if s.jwt {
			// The token's session has the policy's quota; a token with a bad signature is refused,
			// or nothing was verified.
			if got, want := h.Get("X-RateLimit-Limit"), strconv.FormatInt(s.policies()[jwtPolicy].QuotaMax, 10); got != want {
				return fmt.Errorf("%s: X-RateLimit-Limit %q, want the policy's quota %s", s.name, got, want)
			}
			bad := "Authorization: Bearer " + signHS256(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"`+jwtIdentity+`"}`, "not-the-secret")
			if code, _, err := check(ctx, client, tg.url+url, bad); err != nil || code != http.StatusForbidden {
				return fmt.Errorf("%s: a token with a bad signature through %s: status %d (%v), want 403", s.name, tg.name, code, err)
			}
		}
		if s.bodyTransform {
			// The upstream must receive the template's output, or nothing was transformed.
			code, h, err := postJSON(ctx, client, tg.url+strings.TrimSuffix(s.path(), "/")+benchkit.VerifyPath, oasBody)
			if err != nil {
				return fmt.Errorf("%s: POST through %s: %w", s.name, tg.name, err)
			}
			if got := h.Get(benchkit.HeaderUpstreamBody); code != http.StatusOK || got != benchkit.BodyDigest([]byte(bodyTransformed)) {
				return fmt.Errorf("%s: POST through %s: status %d, upstream body digest %q, want 200 and the transformed body's", s.name, tg.name, code, got)
			}
		}
		if s.oasValidate {
			// The measured requests pass validation; one that does not must be refused, or
			// nothing was validated.
			for body, want := range map[string]int{oasBody: http.StatusOK, `{"name":""}`: http.StatusUnprocessableEntity} {
				code, _, err := postJSON(ctx, client, tg.url+s.path(), body)
				if err != nil {
					return fmt.Errorf("%s: POST through %s: %w", s.name, tg.name, err)
				}
				if code != want {
					return fmt.Errorf("%s: POST %s through %s: status %d, want %d", s.name, body, tg.name, code, want)
				}
			}
		}
	}
	return nil
}

// startOTLPSink serves an OTLP/HTTP collector on loopback that reads what it gets and drops it.
func startOTLPSink() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// sinkFor is the OTLP sink s exports to, "" when s does not trace.
func sinkFor(s *scenario, sink string) string {
	if s.otel {
		return sink
	}
	return ""
}
