package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

const gh = gatehousePrefix

// stackCase is one sample of the synthetic profile: its stack, innermost first, and the step it
// must be attributed to. A function name ending in "@plugin" lies outside every mapping (plugin
// code loaded after the profile started), one ending in "@so" in a mapping of a .so file; a name
// "NAME|FILE" gives the function's source file.
type stackCase struct {
	name  string
	stack []string
	want  string
}

// serveStack is the outer stack of a request the gateway serves.
var serveStack = []string{
	gh + "internal/gateway.(*Gateway).httpServer.closeAfterChunked.func1",
	"net/http.HandlerFunc.ServeHTTP",
	gh + "internal/gateway.(*Gateway).httpServer.headerLimit.func2",
	"net/http.HandlerFunc.ServeHTTP",
	gh + "internal/gateway.(*Gateway).httpServer.writeProgress.func3",
	"net/http.serverHandler.ServeHTTP",
	"net/http.(*conn).serve",
	"runtime.goexit",
}

// inChain is a stack that runs inside the API's chain.
func inChain(inner ...string) []string {
	return slices.Concat(inner, []string{gh + "internal/chain.(*Chain).Serve", gh + "internal/gateway.(*Gateway).ServeHTTP"}, serveStack)
}

// inProxy is a stack that runs inside the proxy, the chain's final handler.
func inProxy(inner ...string) []string {
	return inChain(slices.Concat(inner, []string{
		"net/http/httputil.(*ReverseProxy).ServeHTTP",
		gh + "internal/proxy.(*Upstream).ServeHTTP",
		gh + "internal/gateway.(*apiRuntime).serveUpstream",
		gh + "internal/gateway.(*apiRuntime).forward",
	})...)
}

var stackCases = []stackCase{
	{"router", slices.Concat([]string{gh + "internal/router.Canonicalize", gh + "internal/gateway.(*Gateway).ServeHTTP"}, serveStack), stepRouting},
	{"ServeHTTP's own allocation", slices.Concat([]string{"runtime.mallocgc", "runtime.newobject", gh + "internal/gateway.(*Gateway).ServeHTTP"}, serveStack), stepRouting},
	{"session lookup in the store, from auth", inChain("runtime.mapaccess2_faststr", gh+"internal/storage/memory.(*Store).Get", gh+"internal/middleware/auth.(*KeyAuth).run"), stepAuth},
	{"counter in the store, from the limits", inChain(gh+"internal/storage/memory.(*Store).Limit", gh+"internal/middleware/keylimit.(*Key).run"), stepLimits},
	{"JWT", inChain("crypto/sha256.Sum256", gh+"internal/middleware/jwt.(*Auth).run"), stepAuth},
	{"gateway's JWT closure", inChain(gh + "internal/gateway.(*Gateway).compileJWT.func2"), stepAuth},
	{"API rate limit", inChain(gh + "internal/middleware/ratelimit.(*API).run"), stepLimits},
	{"plugin code", inChain("main.AddHeader@plugin", gh+"internal/middleware/goplugin.(*Env).run", gh+"internal/middleware/goplugin.(*Request).Step.func1"), stepPlugins},
	{"net/http called by a plugin", inChain("net/http.Header.Set", "main.AddHeader@plugin", gh+"internal/middleware/goplugin.(*Env).run"), stepPlugins},
	{"sdk called by a plugin", inChain(gh+"sdk.GetSession", "main.AddHeader@plugin", gh+"internal/middleware/goplugin.(*Env).run"), stepPlugins},
	{"plugin in a .so mapping", inChain("example.com/p.Hook@so", gh+"internal/middleware/goplugin.(*Env).run"), stepPlugins},
	{"response hook in the proxy", inProxy(gh+"internal/middleware/goplugin.(*Response).Modify", gh+"internal/proxy.New.moveHeaderAfter.func2",
		"net/http/httputil.(*ReverseProxy).modifyResponse"), stepPlugins},
	{"header transform closure inlined into gateway.steps",
		inChain(gh + "internal/gateway.(*Gateway).steps.(*Transforms).VarsStep.func5|" + gh + "internal/middleware/headers/headers.go"), stepTransforms},
	{"response header transform", inProxy(gh+"internal/gateway.transformResponseHeaders.func1", "net/http/httputil.(*ReverseProxy).modifyResponse"), stepTransforms},
	{"body transform", inChain("text/template.(*state).walk", gh+"internal/middleware/transform.(*Request).run"), stepTransforms},
	{"gateway closure inlined into gateway.steps", inChain(gh + "internal/gateway.(*Gateway).steps.(*Gateway).limitBody.func4"), stepMiddleware},
	{"response header transform inlined into newUpstream", inProxy(gh + "internal/gateway.(*Gateway).newUpstream.transformResponseHeaders.func2"), stepTransforms},
	{"version step", inChain(gh+"internal/middleware/endpoint.(*Lists).Check", gh+"internal/gateway.(*apiRuntime).selectVersion.func1"), stepMiddleware},
	{"chain loop", inChain(), stepMiddleware},
	{"metrics", inChain(gh+"internal/observe/prom.(*api).Request", gh+"internal/gateway.(*Gateway).requestDone"), stepObserve},
	{"the server's connection wrapper, by its file", inProxy("net.(*netFD).Write", "net.(*conn).Write",
		gh+"internal/gateway.(*progressConn).Write|"+gh+"internal/gateway/connlimits.go", "bufio.(*Writer).Flush"), stepServer},
	{"a new gatehouse function", inChain(gh + "internal/gateway.(*Gateway).somethingNew"), stepGateway},
	{"reverse proxy", inProxy("net/http.(*Transport).RoundTrip"), stepProxy},
	{"transport read loop", []string{"net/http.ReadResponse", "net/http.(*persistConn).readLoop", "runtime.goexit"}, stepProxy},
	{"reading a request", []string{"net/textproto.readMIMEHeader", "net/http.readRequest", "net/http.(*conn).readRequest", "net/http.(*conn).serve", "runtime.goexit"}, stepServer},
	{"writing the response through the gateway's writer", inProxy("net/http.(*response).Write", gh+"internal/gateway.(*progressWriter).Write",
		"net/http/httputil.(*ReverseProxy).copyBuffer"), stepServer},
	{"a write system call in the proxy", inProxy("internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Syscall", "syscall.write",
		"internal/poll.(*FD).Write", "net.(*conn).Write", "net/http.persistConnWriter.Write"), stepSyscalls},
	{"a read system call in the server", []string{"syscall.read", "internal/poll.(*FD).Read", "net/http.(*connReader).backgroundRead", "runtime.goexit"}, stepSyscalls},
	{"GC worker", []string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker.func2", "runtime.systemstack", "runtime.gcBgMarkWorker", "runtime.goexit"}, stepGC},
	{"GC assist in auth", inChain("runtime.gcDrainN", "runtime.gcAssistAlloc1", "runtime.gcAssistAlloc", "runtime.mallocgc", gh+"internal/middleware/auth.(*KeyAuth).run"), stepGC},
	{"parking in the proxy", inProxy("runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall", "runtime.gopark", "runtime.selectgo",
		"net/http.(*persistConn).roundTrip"), stepScheduler},
	{"sysmon", []string{"runtime.usleep", "runtime.sysmon", "runtime.mstart1", "runtime.mstart0", "runtime.mstart"}, stepScheduler},
	{"the Redis client's pipe", []string{"bufio.(*Writer).Flush", "github.com/redis/rueidis.(*pipe)._backgroundWrite", "runtime.goexit"}, stepRedis},
	{"bare proxy: its handler in package main", []string{"net/http.Header.Clone", "net/http/httputil.(*ReverseProxy).ServeHTTP", "main.runBareProxy.func1",
		"net/http.HandlerFunc.ServeHTTP", "net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve", "runtime.goexit"}, stepProxy},
	{"bare proxy: writing the response", []string{"net/http.Header.writeSubset", "net/http.(*chunkWriter).writeHeader", "net/http.(*response).WriteHeader",
		"net/http/httputil.(*ReverseProxy).ServeHTTP", "main.runBareProxy.func1", "net/http.(*conn).serve", "runtime.goexit"}, stepServer},
	{"writing the outbound request's headers", []string{"net/http.Header.writeSubset", "net/http.(*Request).write", "net/http.(*persistConn).writeLoop", "runtime.goexit"}, stepProxy},
	{"TLS to the upstream", []string{"crypto/tls.(*Conn).readRecord", "crypto/tls.(*Conn).Read", "net/http.(*persistConn).Read", "bufio.(*Reader).fill",
		"net/http.(*persistConn).readLoop", "runtime.goexit"}, stepProxy},
	{"TLS from the client", []string{"crypto/tls.(*Conn).readRecord", "crypto/tls.(*Conn).Read", "net/http.(*connReader).Read", "net/http.(*conn).serve", "runtime.goexit"}, stepServer},
	{"profiler", []string{"runtime/pprof.(*profileBuilder).build", "runtime/pprof.profileWriter", "runtime.goexit"}, stepOther},
	{"start-up: opening a plugin", []string{"syscall.read", "os.(*File).Read", gh + "internal/plugin.(*Loader).Open", gh + "internal/gateway.(*Gateway).loadHooks",
		gh + "internal/gateway.(*Gateway).compile", gh + "internal/gateway.New", "main.start", "main.main", "runtime.main"}, stepNotRequests},
	{"start-up: dlopen, C code outside every mapping", []string{"dlopen@plugin", "runtime.cgocall", "plugin._Cfunc_pluginOpen", "plugin.open",
		gh + "internal/gateway.(*Gateway).build", gh + "internal/gateway.New", "main.start", "main.main", "runtime.main"}, stepNotRequests},
	{"start-up: config", []string{"encoding/json.Unmarshal", "main.cmdStart", "main.main", "runtime.main"}, stepNotRequests},
	{"Gateway API storing a key", []string{"runtime.gcAssistAlloc", "runtime.mallocgc", gh + "internal/storage/memory.(*Store).Set",
		gh + "internal/admin.(*API).createKey", "net/http.(*conn).serve", "runtime.goexit"}, stepNotRequests},
	{"Gateway API writing its answer", []string{"net/http.(*response).Write", gh + "internal/admin.(*API).writeJSON", "net/http.(*conn).serve", "runtime.goexit"}, stepNotRequests},
	{"reload", []string{gh + "internal/gateway.(*Gateway).build", gh + "internal/gateway.(*Gateway).reload", gh + "internal/gateway.(*reloader).loop", "runtime.goexit"}, stepNotRequests},
}

// syntheticProfile builds a CPU profile as runtime/pprof writes it (sample types samples/count
// and cpu/nanoseconds, the executable's mapping first) with one sample per case: case i has
// i+1 samples of 10 ms each.
func syntheticProfile(t *testing.T, cases []stackCase) *profile.Profile {
	t.Helper()
	exe := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x2000000, File: "/tmp/gatehouse", HasFunctions: true}
	so := &profile.Mapping{ID: 2, Start: 0x7f0000000000, Limit: 0x7f0000100000, File: "/tmp/plugins/bench-abc.so", HasFunctions: true}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
		Mapping:    []*profile.Mapping{exe, so},
	}
	funcs := map[string]*profile.Function{}
	locs := map[string]*profile.Location{}
	for i, c := range cases {
		s := &profile.Sample{Value: []int64{int64(i + 1), int64(i+1) * 10_000_000}}
		for _, fr := range c.stack {
			if l := locs[fr]; l != nil {
				s.Location = append(s.Location, l)
				continue
			}
			name, file, _ := strings.Cut(fr, "|")
			var m *profile.Mapping = exe
			if n, ok := strings.CutSuffix(name, "@plugin"); ok {
				name, m = n, nil
			} else if n, ok := strings.CutSuffix(name, "@so"); ok {
				name, m = n, so
			}
			if file == "" {
				file = name + ".go" // what a file name is does not matter here
			}
			f := funcs[name+"|"+file]
			if f == nil {
				f = &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name, Filename: file}
				funcs[name+"|"+file] = f
				p.Function = append(p.Function, f)
			}
			l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Address: uint64(0x500000 + len(p.Location)), Line: []profile.Line{{Function: f, Line: 1}}}
			if m == so {
				l.Address = so.Start + uint64(len(p.Location))
			}
			locs[fr] = l
			p.Location = append(p.Location, l)
			s.Location = append(s.Location, l)
		}
		p.Sample = append(p.Sample, s)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatal(err)
	}
	// Through the wire format, as the benchmark reads a profile file.
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	q, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestClassifyStacks(t *testing.T) {
	for _, c := range stackCases {
		t.Run(c.name, func(t *testing.T) {
			s, err := attribute(syntheticProfile(t, []stackCase{c}))
			if err != nil {
				t.Fatal(err)
			}
			got := stepNotRequests
			for step, n := range s.Samples {
				if n > 0 {
					got = step
				}
			}
			if got != c.want {
				t.Errorf("attributed to %q, want %q", got, c.want)
			}
		})
	}
}

func TestAttributeSums(t *testing.T) {
	s, err := attribute(syntheticProfile(t, stackCases))
	if err != nil {
		t.Fatal(err)
	}
	want := stepShares{CPU: map[string]int64{}, Samples: map[string]int64{}}
	for i, c := range stackCases {
		n := int64(i + 1)
		if c.want == stepNotRequests {
			want.NotRequests += n * 10_000_000
			continue
		}
		want.CPU[c.want] += n * 10_000_000
		want.Samples[c.want] += n
		want.Total += n * 10_000_000
		want.TotalSamples += n
	}
	for _, step := range stepOrder {
		if s.CPU[step] != want.CPU[step] || s.Samples[step] != want.Samples[step] {
			t.Errorf("%s: %d ns in %d samples, want %d ns in %d", step, s.CPU[step], s.Samples[step], want.CPU[step], want.Samples[step])
		}
	}
	if s.Total != want.Total || s.TotalSamples != want.TotalSamples || s.NotRequests != want.NotRequests {
		t.Errorf("totals: %d ns, %d samples, %d ns not requests; want %d, %d, %d", s.Total, s.TotalSamples, s.NotRequests, want.Total, want.TotalSamples, want.NotRequests)
	}
}

func TestAttributeRefusesOtherProfiles(t *testing.T) {
	p := syntheticProfile(t, stackCases[:1])
	p.SampleType = []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}}
	if _, err := attribute(p); err == nil || !strings.Contains(err.Error(), "not a CPU profile") {
		t.Errorf("a heap profile: %v, want it refused as not a CPU profile", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "cpu.prof")
	if err := os.WriteFile(bad, []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := attributeFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a broken file: %v, want an error naming it", err)
	}
	if _, err := attributeFile(filepath.Join(dir, "missing.prof")); err == nil {
		t.Error("a missing file: no error")
	}
}

// TestCPUStepsReport checks the conversion of shares into µs per request and the table.
func TestCPUStepsReport(t *testing.T) {
	s := stepShares{
		CPU:     map[string]int64{stepAuth: 100, stepLimits: 50, stepProxy: 600, stepSyscalls: 250},
		Samples: map[string]int64{stepAuth: 10, stepLimits: 5, stepProxy: 60, stepSyscalls: 25},
		Total:   1000, TotalSamples: 100, NotRequests: 250,
	}
	c := cpuSteps("gh-keyed/cpu.prof", s, 40)
	if c.NotRequestsPercent != 20 || c.GatewayPercent != 15 || c.GatewayPerRequestUs != 6 || c.Samples != 100 {
		t.Errorf("not requests %v%%, gateway %v%% = %vµs, %d samples; want 20%%, 15%% = 6µs, 100", c.NotRequestsPercent, c.GatewayPercent, c.GatewayPerRequestUs, c.Samples)
	}
	want := []CPUStepJS{{stepAuth, 10, 4, 10}, {stepLimits, 5, 2, 5}, {stepProxy, 60, 24, 60}, {stepSyscalls, 25, 10, 25}}
	if !slices.Equal(c.Steps, want) {
		t.Errorf("steps %+v, want %+v", c.Steps, want)
	}

	rep := Report{Scenarios: []ScenarioJS{
		{Name: "keyed", CPUSteps: c, Bare: Metrics{CPUPerRequestUs: 33.5}},
		{Name: "jwt", CPUSteps: &CPUStepsJS{Profile: "gh-jwt/cpu.prof", Error: "gh-jwt/cpu.prof: unexpected EOF"}},
		{Name: "keyless"}, // not profiled
	},
		BareCPUSteps: cpuSteps("bare/cpu.prof", stepShares{CPU: map[string]int64{stepProxy: 700, stepSyscalls: 300}, Samples: map[string]int64{stepProxy: 70, stepSyscalls: 30},
			Total: 1000, TotalSamples: 100}, 30),
	}
	var md bytes.Buffer
	writeCPUSteps(&md, rep, true)
	for _, line := range []string{
		"| step | keyed | jwt | bare proxy |",
		"| auth | 4.0µs 10.0% | - | 0.0µs 0.0% |",
		"| **gateway's own steps** | 6.0µs 15.0% | - | 0.0µs 0.0% |",
		"| proxy | 24.0µs 60.0% | - | 21.0µs 70.0% |",
		"| total (CPU/req) | 40.0µs 100.0% | - | 30.0µs 100.0% |",
		"| bare proxy's CPU/req | 33.5µs | - |  |",
		"| gatehouse − bare | +6.5µs | - |  |",
		"jwt: no steps: gh-jwt/cpu.prof: unexpected EOF",
	} {
		if !strings.Contains(md.String(), line+"\n") {
			t.Errorf("Markdown has no line %q:\n%s", line, md.String())
		}
	}
	if strings.Contains(md.String(), "| plugins |") {
		t.Errorf("a step no scenario spent time in is listed:\n%s", md.String())
	}

	data, err := json.Marshal(rep.Scenarios[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"cpu_steps":{"profile":"gh-keyed/cpu.prof","cpu_us_per_request":40,`) ||
		!strings.Contains(string(data), `{"step":"auth","percent":10,"us_per_request":4,"samples":10}`) {
		t.Errorf("JSON: %s", data)
	}
}

// notOnRequestPath are the gatehouse packages the step rules need not map: test helpers and what
// never runs while the gateway serves a request.
var notOnRequestPath = map[string]bool{
	"internal/benchkit": true, "internal/certtest": true, "internal/gatewaytest": true, "internal/leakcheck": true,
	"internal/plugintest": true, "internal/redistest": true, "internal/storage/storagetest": true, "internal/testkit": true,
	"internal/echo": true, "internal/example": true, "internal/version": true, "internal/tlsconf/tlstest": true, "sdk/sdktest": true,
	// Runs when APIs are compiled, never on a request.
	"internal/strpack": true,
	// Mapped function by function (stepRules), with the rest reported as "gateway, unmapped".
	"internal/gateway": true,
}

// TestEveryPackageHasAStep fails when a package of the gateway maps to no step: a new package
// must be given one in stepRules (or be listed above), or its CPU would show as unmapped.
func TestEveryPackageHasAStep(t *testing.T) {
	var pkgs []string
	for _, root := range []string{"internal", "sdk", "apidef"} {
		err := filepath.WalkDir(filepath.Join("..", root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "plugin" && strings.Contains(path, "example")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				rel, _ := filepath.Rel("..", filepath.Dir(path))
				pkgs = append(pkgs, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pkgs = slices.Compact(pkgs)
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages, want the gateway's", len(pkgs))
	}
	for _, pkg := range pkgs {
		if notOnRequestPath[pkg] {
			continue
		}
		if step := gatehouseStep(pkg+".F", ""); step == stepGateway {
			t.Errorf("package %s maps to no step: add it to stepRules in cpushare.go", pkg)
		}
	}
}

// TestStepsCommand runs `bench steps` on a profile file: shares without µs, and with --unmapped
// the functions no rule maps.
func TestStepsCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cpu.prof")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := syntheticProfile(t, stackCases).Write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := cmdSteps([]string{"--markdown", "--unmapped", "3", file}, &out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	for _, want := range []string{
		"| step | " + file + " |\n",
		"| auth | ", // shares only: no CPU per request is known
		"gateway, unmapped  " + gh + "internal/gateway.(*Gateway).somethingNew",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "µs") || strings.Contains(out.String(), "bare proxy's CPU/req") {
		t.Errorf("µs or the bare proxy printed without a CPU per request:\n%s", out.String())
	}
	if code := cmdSteps([]string{filepath.Join(t.TempDir(), "missing.prof")}, &out); code != 1 {
		t.Errorf("a missing file: exit %d, want 1", code)
	}
}

// TestAddCPUSteps stops real processes (standing in for a gatehouse and the bare and pooling
// proxies) and reads the profiles they left: the gatehouse's and the bare proxy's are read and
// converted with their CPU per request, the pooling proxy, not profiled, is left running and
// out of the report, and a broken profile is reported in its scenario.
func TestAddCPUSteps(t *testing.T) {
	tmp := t.TempDir()
	cs := &children{}
	t.Cleanup(cs.stopAll)
	start := func(name string) *target {
		proc, _, err := cs.start(name, filepath.Join(tmp, name+".log"), false, "sleep", "60")
		if err != nil {
			t.Fatal(err)
		}
		return &target{name: name, proc: proc}
	}
	write := func(dir string, data []byte) {
		if err := os.MkdirAll(filepath.Join(tmp, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, dir, "cpu.prof"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var prof bytes.Buffer
	if err := syntheticProfile(t, stackCases).Write(&prof); err != nil {
		t.Fatal(err)
	}
	keyed, jwt := &scenario{name: "keyed"}, &scenario{name: "jwt"}
	ghKeyed, ghJWT, bare, pooled := start("gatehouse keyed"), start("gatehouse jwt"), start("bare"), start("pooled")
	write("gh-keyed", prof.Bytes())
	write("gh-jwt", prof.Bytes()[:prof.Len()/2])
	write("bare", prof.Bytes())
	rep := Report{Scenarios: []ScenarioJS{
		{Name: "keyed", Gatehouse: Metrics{CPUPerRequestUs: 50}, Bare: Metrics{CPUPerRequestUs: 40}, Pooled: &Metrics{CPUPerRequestUs: 35}},
		{Name: "jwt", Gatehouse: Metrics{CPUPerRequestUs: 60}, Bare: Metrics{CPUPerRequestUs: 44}, Pooled: &Metrics{CPUPerRequestUs: 36}},
	}}
	addCPUSteps(&rep, []*scenarioResult{{sc: keyed}, {sc: jwt}}, map[*scenario]*target{keyed: ghKeyed, jwt: ghJWT}, bare, pooled, tmp)

	if c := rep.Scenarios[0].CPUSteps; c == nil || c.Error != "" || c.CPUPerRequestUs != 50 || c.Samples == 0 {
		t.Errorf("keyed: %+v, want its profile's steps at 50µs a request", c)
	}
	if c := rep.Scenarios[1].CPUSteps; c == nil || !strings.Contains(c.Error, "gh-jwt") || len(c.Steps) > 0 {
		t.Errorf("jwt, a broken profile: %+v, want an error naming it and no steps", c)
	}
	if c := rep.BareCPUSteps; c == nil || c.Error != "" || c.CPUPerRequestUs != 42 || !strings.HasSuffix(c.Profile, filepath.Join("bare", "cpu.prof")) {
		t.Errorf("bare proxy: %+v, want its profile's steps at the median 42µs a request", c)
	}
	if rep.PooledCPUSteps != nil || pooled.proc.exited() {
		t.Errorf("the pooling proxy, not profiled: %+v, exited %v; want no steps and the process left alone", rep.PooledCPUSteps, pooled.proc.exited())
	}
	for _, tg := range []*target{ghKeyed, ghJWT, bare} {
		if !tg.proc.exited() {
			t.Errorf("%s was not stopped", tg.name)
		}
	}
}
