package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

// CPUStepsJS is where a scenario's gatehouse spent its CPU while serving the load, by step of
// the request path, read from its CPU profile (--profile).
type CPUStepsJS struct {
	Profile string `json:"profile"`
	// CPUPerRequestUs is gatehouse's CPU per request in the scenario (its median over rounds):
	// each step's UsPerRequest is its share of it.
	CPUPerRequestUs float64 `json:"cpu_us_per_request"`
	// Samples counts the profile's samples taken while serving requests, SampledSeconds their
	// CPU time: at 100 samples a second, a step's share is known to about ±1/√samples of it.
	Samples        int64   `json:"samples"`
	SampledSeconds float64 `json:"sampled_seconds"`
	// NotRequestsPercent is the share of the whole profile's CPU spent outside requests (start-up,
	// plugin loading, reloads, the Gateway API storing the keys), left out of the steps.
	NotRequestsPercent float64 `json:"not_requests_percent"`
	// GatewayPercent is the sum of the gateway's own steps (routing to "gateway, unmapped"): what
	// the bare proxy does not do.
	GatewayPercent      float64     `json:"gateway_percent"`
	GatewayPerRequestUs float64     `json:"gateway_us_per_request"`
	Steps               []CPUStepJS `json:"steps"`
	// Error says why the profile could not be read; the rest is then empty.
	Error string `json:"error,omitempty"`
}

// CPUStepJS is one step's share of the CPU gatehouse spent serving requests.
type CPUStepJS struct {
	Step         string  `json:"step"`
	Percent      float64 `json:"percent"`
	UsPerRequest float64 `json:"us_per_request"`
	Samples      int64   `json:"samples"`
}

// gatewaySteps are the gateway's own steps, in stepOrder's order.
var gatewaySteps = stepOrder[:slices.Index(stepOrder, stepServer)]

// cpuSteps turns a profile's shares into the report's, with cpuPerReqUs the scenario's CPU
// per request.
func cpuSteps(file string, s stepShares, cpuPerReqUs float64) *CPUStepsJS {
	out := &CPUStepsJS{
		Profile:         file,
		CPUPerRequestUs: cpuPerReqUs,
		Samples:         s.TotalSamples,
		SampledSeconds:  round3(time.Duration(s.Total).Seconds()),
	}
	if all := s.Total + s.NotRequests; all > 0 {
		out.NotRequestsPercent = round1(100 * float64(s.NotRequests) / float64(all))
	}
	var gw float64
	for _, step := range stepOrder {
		if s.Samples[step] == 0 {
			continue
		}
		sh := s.share(step)
		out.Steps = append(out.Steps, CPUStepJS{Step: step, Percent: round1(100 * sh), UsPerRequest: round3(sh * cpuPerReqUs), Samples: s.Samples[step]})
		if slices.Contains(gatewaySteps, step) {
			gw += sh
		}
	}
	out.GatewayPercent, out.GatewayPerRequestUs = round1(100*gw), round3(gw*cpuPerReqUs)
	return out
}

func round1(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 1, 64), 64)
	return v
}

// addCPUSteps stops each scenario's gatehouse, so that it writes its CPU profile, and adds the
// profile's steps to the scenario's report; then the same for the bare and pooling proxies when
// they were profiled (bare/cpu.prof, pooled/cpu.prof: one process each serves every scenario,
// so their steps are over all of them, converted with their median CPU per request). A profile
// that cannot be read is reported as such; the rest of the report stands.
func addCPUSteps(rep *Report, results []*scenarioResult, ghs map[*scenario]*target, bare, pooled *target, tmp string) {
	for _, r := range results {
		i := slices.IndexFunc(rep.Scenarios, func(s ScenarioJS) bool { return s.Name == r.sc.name })
		if i < 0 {
			continue
		}
		rep.Scenarios[i].CPUSteps = readCPUSteps(ghs[r.sc], filepath.Join(tmp, "gh-"+r.sc.name, "cpu.prof"), rep.Scenarios[i].Gatehouse.CPUPerRequestUs)
	}
	var bareCPU, pooledCPU []float64
	for _, s := range rep.Scenarios {
		bareCPU = append(bareCPU, s.Bare.CPUPerRequestUs)
		if s.Pooled != nil {
			pooledCPU = append(pooledCPU, s.Pooled.CPUPerRequestUs)
		}
	}
	for _, px := range []struct {
		tg   *target
		dir  string
		cpu  []float64
		dest **CPUStepsJS
	}{{bare, "bare", bareCPU, &rep.BareCPUSteps}, {pooled, "pooled", pooledCPU, &rep.PooledCPUSteps}} {
		file := filepath.Join(tmp, px.dir, "cpu.prof")
		if px.tg == nil || len(px.cpu) == 0 {
			continue
		}
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			continue // not profiled: a profiled proxy creates the file as it starts
		}
		*px.dest = readCPUSteps(px.tg, file, round3(median(px.cpu)))
	}
}

// readCPUSteps stops tg's process, reads the CPU profile it wrote to file and returns its steps,
// or the reason it has none.
func readCPUSteps(tg *target, file string, cpuPerReqUs float64) *CPUStepsJS {
	if err := stopChild(tg.proc, 30*time.Second); err != nil {
		return &CPUStepsJS{Profile: file, Error: err.Error()}
	}
	s, err := attributeFile(file)
	if err != nil {
		return &CPUStepsJS{Profile: file, Error: err.Error()}
	}
	return cpuSteps(file, s, cpuPerReqUs)
}

// stopChild stops c with SIGTERM and waits for it to end (gatehouse writes its CPU profile as it
// stops); after grace it kills it, and says so.
func stopChild(c *child, grace time.Duration) error {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %v of SIGTERM and was killed: its profile is incomplete", c.name, grace)
	}
}

// stepColumn is one column of the step table.
type stepColumn struct {
	name string
	c    *CPUStepsJS
	// bare is the bare proxy's CPU per request in the scenario's runs; 0 in a column of a bare
	// proxy itself.
	bare float64
}

// writeCPUSteps prints, after the table, the CPU of each scenario's gatehouse by step: one column
// per scenario, each cell the step's CPU per request and its share of the CPU spent serving
// requests; then the bare and pooling proxies', when they were profiled.
func writeCPUSteps(w io.Writer, rep Report, markdown bool) {
	var cols []stepColumn
	for _, s := range rep.Scenarios {
		if s.CPUSteps != nil {
			cols = append(cols, stepColumn{s.Name, s.CPUSteps, s.Bare.CPUPerRequestUs})
		}
	}
	if rep.BareCPUSteps != nil {
		cols = append(cols, stepColumn{"bare proxy", rep.BareCPUSteps, 0})
	}
	if rep.PooledCPUSteps != nil {
		cols = append(cols, stepColumn{"pooled proxy", rep.PooledCPUSteps, 0})
	}
	if len(cols) == 0 {
		return
	}
	perRequest := cols[0].c.CPUPerRequestUs > 0 // not so in bench steps: no CPU per request known
	if perRequest {
		fmt.Fprintf(w, "\nWhere gatehouse's CPU goes (--profile): per request, and share of the CPU it spent serving the load\n")
		fmt.Fprintf(w, "(each profile sample goes to the step of the innermost function on its stack that has one; µs = share × CPU/req):\n\n")
	} else {
		fmt.Fprintf(w, "\nWhere the CPU goes: share of the CPU spent serving requests, by step\n")
		fmt.Fprintf(w, "(each profile sample goes to the step of the innermost function on its stack that has one):\n\n")
	}
	header := []string{"step"}
	used := map[string]bool{}
	for _, col := range cols {
		header = append(header, col.name)
		for _, st := range col.c.Steps {
			used[st.Step] = true
		}
	}
	cell := func(us, pct float64) string {
		p := strconv.FormatFloat(pct, 'f', 1, 64) + "%"
		if !perRequest {
			return p
		}
		return usStr(us) + " " + p
	}
	var rows [][]string
	addRow := func(name string, f func(col stepColumn) string) {
		row := []string{name}
		for _, col := range cols {
			if col.c.Error != "" {
				row = append(row, "-")
				continue
			}
			row = append(row, f(col))
		}
		rows = append(rows, row)
	}
	for i, step := range stepOrder {
		if i == len(gatewaySteps) {
			addRow("**gateway's own steps**", func(col stepColumn) string { return cell(col.c.GatewayPerRequestUs, col.c.GatewayPercent) })
		}
		if !used[step] {
			continue
		}
		addRow(step, func(col stepColumn) string {
			i := slices.IndexFunc(col.c.Steps, func(s CPUStepJS) bool { return s.Step == step })
			if i < 0 {
				return cell(0, 0)
			}
			return cell(col.c.Steps[i].UsPerRequest, col.c.Steps[i].Percent)
		})
	}
	addRow("total (CPU/req)", func(col stepColumn) string { return cell(col.c.CPUPerRequestUs, 100) })
	if perRequest {
		// The bare proxy of the same runs: what a proxy with no steps costs; the difference is
		// what gatehouse adds, its own steps and what they cost the rest (GC, ...).
		addRow("bare proxy's CPU/req", func(col stepColumn) string {
			if col.bare == 0 {
				return ""
			}
			return usStr(col.bare)
		})
		addRow("gatehouse − bare", func(col stepColumn) string {
			if col.bare == 0 {
				return ""
			}
			if d := col.c.CPUPerRequestUs - col.bare; d < 0 {
				return "−" + usStr(-d)
			}
			return "+" + usStr(col.c.CPUPerRequestUs-col.bare)
		})
	}
	addRow("samples", func(col stepColumn) string { return strconv.FormatInt(col.c.Samples, 10) })
	addRow("not requests", func(col stepColumn) string {
		return strconv.FormatFloat(col.c.NotRequestsPercent, 'f', 1, 64) + "% left out"
	})
	if !markdown {
		for _, r := range rows {
			r[0] = strings.Trim(r[0], "*")
		}
	}
	writeRows(w, header, rows, markdown)
	fmt.Fprintln(w)
	for _, step := range stepOrder {
		if used[step] {
			fmt.Fprintf(w, "%s: %s.\n", step, stepDescriptions[step])
		}
	}
	fmt.Fprintf(w, "gateway's own steps: routing to %q, what the bare proxy does not do. not requests: start-up,\n", gatewaySteps[len(gatewaySteps)-1])
	fmt.Fprintf(w, "plugin loading, reloads and the Gateway API (storing keys), left out of the shares. A share of n\n")
	fmt.Fprintf(w, "samples is known to about ±√n samples: take more rounds or longer runs for small steps.\n")
	if rep.BareCPUSteps != nil || rep.PooledCPUSteps != nil {
		fmt.Fprintf(w, "bare and pooled proxy: one process each serves every scenario; their µs are their shares times\n")
		fmt.Fprintf(w, "their median CPU/req over the scenarios.\n")
	}
	for _, col := range cols {
		if col.c.Error != "" {
			fmt.Fprintf(w, "%s: no steps: %s\n", col.name, col.c.Error)
		}
	}
}

// cmdSteps is the `steps` subcommand: the shares by step of CPU profiles already written (by
// --profile, `gatehouse start --cpuprofile`, or any Go program), without CPU per request.
//
//	go run -trimpath ./bench steps [--markdown] [--unmapped 20] FILE...
func cmdSteps(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("steps", flag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "print the table as Markdown")
	unmapped := fs.Int("unmapped", 0, "also list the N hottest functions of samples mapped to no gateway step ("+stepGateway+", "+stepOther+")")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run -trimpath ./bench steps [flags] CPU-PROFILE...\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	rep := Report{}
	for _, file := range fs.Args() {
		s, err := attributeFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench steps:", err)
			return 1
		}
		rep.Scenarios = append(rep.Scenarios, ScenarioJS{Name: file, CPUSteps: cpuSteps(file, s, 0)})
		if *unmapped > 0 {
			if err := writeUnmapped(stdout, file, *unmapped); err != nil {
				fmt.Fprintln(os.Stderr, "bench steps:", err)
				return 1
			}
		}
	}
	writeCPUSteps(stdout, rep, *markdown)
	return 0
}

// writeUnmapped lists the n functions that hold the most CPU of the samples of file that no
// gateway step took, each with the innermost gatehouse function (or the outermost) on its
// stack: what to look at when the mapping needs a new rule.
func writeUnmapped(w io.Writer, file string, n int) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return err
	}
	idx, _, err := cpuValues(p)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	type key struct{ step, leaf, anchor string }
	cpu := map[key]int64{}
	var total int64
	for _, s := range p.Sample {
		var frames []frame
		for _, loc := range s.Location {
			frames = appendFrames(frames, p, loc)
		}
		v := s.Value[idx]
		total += v
		step := classify(frames)
		if step != stepGateway && step != stepOther || len(frames) == 0 {
			continue
		}
		anchor := frames[len(frames)-1].name
		for _, fr := range frames {
			if strings.HasPrefix(fr.name, gatehousePrefix) {
				anchor = fr.name
				break
			}
		}
		cpu[key{step, frames[0].name, anchor}] += v
	}
	keys := slices.SortedFunc(maps.Keys(cpu), func(a, b key) int { return cmp.Compare(cpu[b], cpu[a]) })
	fmt.Fprintf(w, "%s: hottest samples in %q and %q:\n", file, stepGateway, stepOther)
	for i, k := range keys {
		if i == n {
			break
		}
		fmt.Fprintf(w, "  %5.1f%%  %-18s %s  (in %s)\n", 100*float64(cpu[k])/float64(max(total, 1)), k.step, k.leaf, k.anchor)
	}
	return nil
}
