package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

// Where the time goes (issue 15): with --profile every gatehouse writes a CPU profile of its run,
// and the benchmark attributes each sample to a step of the request path, by the innermost
// function on its stack that belongs to one (classify). The shares of the samples taken while serving
// requests, times the scenario's CPU per request, give each step's CPU per request.

// The steps a sample is attributed to, in the order the report lists them. The first ones are
// the gateway's own work; those from stepServer on are what any net/http proxy does (the bare
// proxy too), or the Go runtime's work outside any step.
const (
	stepRouting    = "routing"
	stepAuth       = "auth"
	stepLimits     = "limits"
	stepPlugins    = "plugins"
	stepTransforms = "transforms"
	stepMiddleware = "other middleware"
	stepObserve    = "metrics, logs, traces"
	stepGateway    = "gateway, unmapped"
	stepServer     = "server"
	stepProxy      = "proxy"
	stepRedis      = "Redis client"
	stepSyscalls   = "syscalls"
	stepGC         = "GC"
	stepScheduler  = "scheduler"
	stepOther      = "other"
	// stepNotRequests is the start-up, reloads and the Gateway API: left out of the shares,
	// which are of the CPU spent serving the load.
	stepNotRequests = "not requests"
)

// stepOrder lists the steps of the report; stepDescriptions says what each holds.
var stepOrder = []string{stepRouting, stepAuth, stepLimits, stepPlugins, stepTransforms, stepMiddleware, stepObserve, stepGateway,
	stepServer, stepProxy, stepRedis, stepSyscalls, stepGC, stepScheduler, stepOther}

var stepDescriptions = map[string]string{
	stepRouting:    "path canonicalisation, API lookup, the request's setup (gateway.ServeHTTP, internal/router)",
	stepAuth:       "key lookup and session, policies, JWT, basic auth, HMAC, OAuth, access checks",
	stepLimits:     "API and key rate limits, quota (and their headers)",
	stepPlugins:    "Go plugin hook calls, the time inside the plugins included",
	stepTransforms: "request and response header and body transforms, URL rewrites, method transforms",
	stepMiddleware: "the chain's loop and the other steps: version, endpoint lists, body size, CORS, IP lists, validation, mocks, errors",
	stepObserve:    "Prometheus metrics, access log, tracing, analytics",
	stepGateway:    "gatehouse functions the report does not map to a step (a new package? map it in cpushare.go)",
	stepServer:     "net/http's server: reading requests, writing responses (the gateway's writers included), TLS",
	stepProxy:      "internal/proxy, httputil.ReverseProxy and the transport, forwarding included",
	stepRedis:      "the Redis client's own goroutines",
	stepSyscalls:   "system calls (reads, writes) wherever they are made",
	stepGC:         "garbage collection: background mark workers, assists, sweeping, write barriers, gatehouse's pacing (internal/gcroom)",
	stepScheduler:  "the Go scheduler: parking, waking and running goroutines, timers, netpoll",
	stepOther:      "anything else: runtime and library work with no step on its stack (the profiler itself)",
}

// gatehousePrefix is the module path of every gatehouse function.
const gatehousePrefix = "github.com/gatehouse/gatehouse/"

// stepRule maps gatehouse functions to a step: those whose name (without gatehousePrefix) is
// pattern or a closure or method of it (pattern followed by '.'); a pattern ending in '.' or '/'
// is a package prefix, one ending in ".go" a source file (tried after every name). An empty step marks functions shared by several steps (the stores, the
// request's state): a sample in them goes to the step of the gatehouse function that called them.
type stepRule struct{ pattern, step string }

// stepRules are tried in order; the first that matches decides.
var stepRules = []stepRule{
	// Start-up, reloads, the Gateway API and what runs beside the requests.
	{"internal/plugin.(*Loader)", stepNotRequests},
	{"internal/plugin.Check", stepNotRequests},
	{"internal/gateway.New", stepNotRequests},
	{"internal/gateway.(*Gateway).build", stepNotRequests},
	{"internal/gateway.(*Gateway).compile", stepNotRequests},
	{"internal/gateway.(*Gateway).compileWith", stepNotRequests},
	{"internal/gateway.(*Gateway).compileWithBundles", stepNotRequests},
	{"internal/gateway.(*Gateway).Reload", stepNotRequests},
	{"internal/gateway.(*Gateway).reload", stepNotRequests},
	{"internal/gateway.(*Gateway).ReloadAndWait", stepNotRequests},
	{"internal/gateway.(*reloader)", stepNotRequests},
	{"internal/gateway.(*Gateway).Start", stepNotRequests},
	{"internal/gateway.(*Gateway).Status", stepNotRequests},
	{"internal/gateway.(*Gateway).Health", stepNotRequests},
	{"internal/gateway.(*sources)", stepNotRequests},
	{"internal/gateway.(*Gateway).startFleet", stepNotRequests},
	{"internal/admin.", stepNotRequests},
	{"internal/status.", stepNotRequests},
	{"internal/bundle.", stepNotRequests},
	{"internal/compiler.", stepNotRequests},
	{"internal/config.", stepNotRequests},
	{"internal/secrets.", stepNotRequests},
	{"internal/apistore.", stepNotRequests},
	{"internal/regfile.", stepNotRequests},
	{"internal/fleet.", stepNotRequests},
	// Uptime checks run beside the requests; the load balancer asks Down on each.
	{"internal/uptime.(*Checker).Down", stepProxy},
	{"internal/uptime.", stepNotRequests},
	{"cmd/", stepNotRequests},
	// The collector's pacing, once per cycle on the runtime's cleanup goroutine.
	{"internal/gcroom.", stepGC},

	// Shared by several steps: the caller decides.
	{"internal/storage.", ""},
	{"internal/storage/", ""},
	{"internal/reqctx.", ""},
	// Events fire from refusals, breakers and uptime checks: the caller decides.
	{"internal/events.", ""},
	{"internal/logevery.", ""},
	{"internal/hdrname.", ""},
	{"internal/jsonerr.", ""},
	{"internal/errtmpl.", ""},
	{"internal/erroroverride.", ""},
	{"sdk.", ""},
	{"apidef.", ""},

	{"internal/router.", stepRouting},
	{"internal/gateway.(*Gateway).ServeHTTP", stepRouting},
	{"internal/gateway.(*apiRuntime).newRequest", stepRouting},
	{"internal/gateway.(*Gateway).finish", stepRouting},
	{"internal/gateway.(*Gateway).badRequest", stepRouting},
	{"internal/gateway.tooManyParams", stepRouting},
	{"internal/gateway.relative", stepRouting},
	{"internal/gateway.sanitizeHopByHop", stepRouting},
	{"internal/gateway.sanitizeForwarded", stepRouting},
	{"internal/gateway.loopRefusal", stepRouting},
	{"internal/gateway.(*Gateway).refuseLoop", stepRouting},

	{"internal/middleware/auth.", stepAuth},
	{"internal/middleware/basicauth.", stepAuth},
	{"internal/middleware/jwt.", stepAuth},
	{"internal/middleware/httpsig.", stepAuth},
	// The certificate store: rsa-sha256 keys on requests; the rest at reloads and the Gateway API.
	{"internal/certstore.(*Store).PublicKey", stepAuth},
	{"internal/certstore.", stepNotRequests},
	// Read in the background, after cache_timeout.
	{"internal/discovery.", stepNotRequests},
	{"internal/middleware/multiauth.", stepAuth},
	{"internal/oauth.", stepAuth},
	{"internal/session.", stepAuth},
	{"internal/policy.", stepAuth},
	{"internal/gateway.(*Gateway).keyAuth", stepAuth},
	{"internal/gateway.(*Gateway).authStep", stepAuth},
	{"internal/gateway.(*Gateway).compileJWT", stepAuth},
	{"internal/gateway.(*Gateway).retainJWT", stepAuth},
	{"internal/gateway.(*Gateway).compileBasicAuth", stepAuth},
	{"internal/gateway.(*Gateway).compileHMAC", stepAuth},

	{"internal/middleware/ratelimit.", stepLimits},
	{"internal/middleware/keylimit.", stepLimits},
	{"internal/middleware/orglimit.", stepLimits},
	{"internal/gateway.(*Gateway).localWindows", stepLimits},

	{"internal/middleware/goplugin.", stepPlugins},
	{"internal/plugin.", stepPlugins},

	{"internal/middleware/headers.", stepTransforms},
	{"internal/middleware/transform.", stepTransforms},
	{"internal/middleware/rewrite.", stepTransforms},
	{"internal/middleware/methodtransform.", stepTransforms},
	{"internal/gateway.transformResponseHeaders", stepTransforms},
	{"internal/gateway.(*Gateway).transformResponseBody", stepTransforms},

	{"internal/chain.", stepMiddleware},
	{"internal/middleware/", stepMiddleware},
	{"internal/oas.", stepMiddleware},
	{"internal/gateway.(*apiRuntime).selectVersion", stepMiddleware},
	{"internal/gateway.(*apiRuntime).mockReplyStep", stepMiddleware},
	{"internal/gateway.(*Gateway).limitBody", stepMiddleware},
	{"internal/gateway.(*Gateway).render", stepMiddleware},
	{"internal/gateway.(*Gateway).unavailable", stepMiddleware},
	{"internal/gateway.(*oasOps)", stepMiddleware},
	{"internal/gateway.(*mockReply)", stepMiddleware},
	{"internal/gateway.staticMock", stepMiddleware},
	{"internal/gateway.exampleMock", stepMiddleware},
	{"internal/gateway.(*staticMock)", stepMiddleware},
	{"internal/gateway.(*exampleMock)", stepMiddleware},
	{"internal/gateway.countRefusal", stepMiddleware},

	{"internal/observe.", stepObserve},
	{"internal/observe/", stepObserve},
	{"internal/analytics.", stepObserve},
	{"internal/gateway.(*tracker)", stepObserve},
	{"internal/gateway.(*recorder)", stepObserve},
	{"internal/gateway.(*capped)", stepObserve},
	{"internal/gateway.callAnalytics", stepObserve},
	{"internal/gateway.(*Gateway).requestDone", stepObserve},
	{"internal/gateway.(*Gateway).unroutedDone", stepObserve},
	{"internal/gateway.accessEntry", stepObserve},
	{"internal/gateway.(*Gateway).apiObs", stepObserve},
	{"internal/gateway.(*Gateway).pluginObs", stepObserve},
	{"internal/gateway.writtenStatus", stepObserve},

	{"internal/proxy.", stepProxy},
	{"internal/gateway.(*apiRuntime).forward", stepProxy},
	{"internal/gateway.(*apiRuntime).serveUpstream", stepProxy},
	{"internal/gateway.hasSegmentPrefix", stepProxy},
	{"internal/gateway.dropUpstreamCORS", stepProxy},
	{"internal/gateway.(*transports)", stepProxy},
	{"internal/gateway.transports", stepProxy},

	{"internal/gateway.(*Gateway).httpServer", stepServer},
	{"internal/gateway.headerLimit", stepServer},
	{"internal/gateway.headerSize", stepServer},
	{"internal/gateway.writeProgress", stepServer},
	{"internal/gateway.closeAfterChunked", stepServer},
	{"internal/gateway.withAPI", stepServer},
	{"internal/gateway.canonicalAs", stepServer},
	{"internal/gateway.(*progressWriter)", stepServer},
	{"internal/gateway.clearWriteDeadline", stepServer},
	{"internal/gateway.(*limitListener)", stepServer},
	{"internal/gateway.(*limitConn)", stepServer},
	{"internal/gateway.(*statusWriter)", stepServer},
	{"internal/gateway.(*Server)", stepServer},
	{"internal/gateway.(*Gateway).tlsConfig", stepServer},
	{"internal/tlsconf.", stepServer},

	// Source files whose every function not named above belongs to one step: the connection
	// and response writer wrappers of the server, the analytics and tracing hooks.
	{"internal/gateway/connlimits.go", stepServer},
	{"internal/gateway/server.go", stepServer},
	{"internal/gateway/analytics.go", stepObserve},
	{"internal/gateway/trace.go", stepObserve},
}

// matchRule reports whether the gatehouse function name (without gatehousePrefix) matches
// pattern (see stepRule). A function's closure inlined into another function of its package is
// named after both ("gateway.(*Gateway).steps.(*Gateway).limitBody.func4"): it matches the
// pattern of the inner one.
func matchRule(name, pattern string) bool {
	if strings.HasSuffix(pattern, ".") || strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(name, pattern)
	}
	if rest, ok := strings.CutPrefix(name, pattern); ok && (rest == "" || rest[0] == '.') {
		return true
	}
	pkg, fn := splitFunc(pattern)
	rest, ok := strings.CutPrefix(name, pkg+".")
	return ok && strings.Contains(rest+".", "."+fn+".")
}

// splitFunc splits a function's name into its package path and the rest.
func splitFunc(name string) (pkg, fn string) {
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return name, ""
	}
	return name[:slash+1+dot], name[slash+2+dot:]
}

// gatehouseStep returns the step of a gatehouse function (name and file without
// gatehousePrefix), "" for one shared by several steps, and stepGateway for one no rule maps.
//
// A closure inlined into a function of another package is named after that function (a step's
// closure built by gateway.(*Gateway).steps, say); when its name maps to no step, the package of
// its source file decides.
func gatehouseStep(name, file string) string {
	for _, r := range stepRules {
		if !strings.HasSuffix(r.pattern, ".go") && matchRule(name, r.pattern) {
			return r.step
		}
	}
	for _, r := range stepRules {
		if strings.HasSuffix(r.pattern, ".go") && file == r.pattern {
			return r.step
		}
	}
	if i := strings.LastIndexByte(file, '/'); i > 0 {
		pkg := file[:i] + "."
		if !strings.HasPrefix(name, pkg) {
			for _, r := range stepRules {
				if (strings.HasSuffix(r.pattern, ".") || strings.HasSuffix(r.pattern, "/")) && matchRule(pkg, r.pattern) {
					return r.step
				}
			}
		}
	}
	return stepGateway
}

// frame is one function on a sample's stack.
type frame struct {
	name string
	// file is the function's source file: with -trimpath, its package path and file name.
	file string
	// plugin is set for code of a Go plugin (a frame in a mapping of a .so file).
	plugin bool
}

// Runtime functions that mark a sample as the garbage collector's, the scheduler's or a system
// call's, wherever they are on the stack.
var (
	gcFuncs = map[string]bool{
		"runtime.gcBgMarkWorker": true, "runtime.gcAssistAlloc": true, "runtime.gcAssistAlloc1": true,
		"runtime.bgsweep": true, "runtime.bgscavenge": true, "runtime.deductSweepCredit": true,
		"runtime.gcStart": true, "runtime.gcMarkDone": true, "runtime.gcMarkTermination": true,
		"runtime.wbBufFlush": true, "runtime.wbBufFlush1": true, "runtime._GC": true,
		"runtime.markroot": true, "runtime.gcDrain": true, "runtime.gcDrainN": true,
	}
	schedFuncs = map[string]bool{
		"runtime.mcall": true, "runtime.schedule": true, "runtime.findRunnable": true, "runtime.park_m": true,
		"runtime.gosched_m": true, "runtime.goschedImpl": true, "runtime.goexit0": true, "runtime.mstart": true,
		"runtime.sysmon": true, "runtime.wakep": true, "runtime.startm": true, "runtime.stopm": true,
		"runtime.notewakeup": true, "runtime.notesleep": true, "runtime.netpoll": true, "runtime.ready": true,
		"runtime.exitsyscall0": true, "runtime.handoffp": true, "runtime._System": true, "runtime.newproc": true,
		"runtime.goready": true,
	}
)

// isSyscall reports whether a function makes a system call.
func isSyscall(name string) bool {
	return strings.HasPrefix(name, "syscall.") || strings.HasPrefix(name, "internal/runtime/syscall") ||
		strings.HasPrefix(name, "golang.org/x/sys/unix.")
}

// libraryStep returns the step of a function of the standard library (or a module) that is the
// server's or the proxy's own, "" for any other.
func libraryStep(name string) string {
	for _, p := range serverFuncs {
		if strings.HasPrefix(name, p) {
			return stepServer
		}
	}
	for _, p := range proxyFuncs {
		if strings.HasPrefix(name, p) {
			return stepProxy
		}
	}
	if strings.HasPrefix(name, "github.com/redis/rueidis") {
		return stepRedis
	}
	return ""
}

// serverFuncs and proxyFuncs are the name prefixes of net/http's server side and client side.
// Functions both use (headers, bufio, crypto/tls) are in neither: the caller decides.
var (
	serverFuncs = []string{
		"net/http.(*conn)", "net/http.(*connReader)", "net/http.(*Server)", "net/http.(*response)",
		"net/http.(*chunkWriter)", "net/http.checkConnErrorWriter", "net/http.readRequest", "net/http.serverHandler",
		"net/http.(*http2serverConn)", "net/http.(*http2responseWriter)", "net/http.(*http2Server)",
	}
	proxyFuncs = []string{
		"net/http/httputil.", "net/http.(*Transport)", "net/http.(*persistConn)", "net/http.persistConnWriter",
		"net/http.(*bodyEOFSignal)", "net/http.(*Request).write", "net/http.ReadResponse",
		"net/http.(*http2ClientConn)", "net/http.(*http2Transport)", "net/http.(*http2clientStream)",
	}
)

// classify returns the step of a sample whose stack is frames, innermost first.
//
// The start-up (the main goroutine), reloads and the Gateway API are recognised first, by any
// function of theirs on the stack; then the runtime's work outside any step (garbage collection,
// the scheduler, system calls, wherever they are on the stack); then the innermost function that
// has a step: a gatehouse function (or plugin code), or one of net/http's server or client
// sides. The same rules read a bare httputil.ReverseProxy's profile, whose handler (package main)
// has no step of its own: its work is the server's and the proxy's, as in gatehouse.
func classify(frames []frame) string {
	// One pass works out each frame's step once: a stepNotRequests anywhere on the stack decides
	// at once; otherwise the innermost step found is kept for after the runtime's checks.
	inner, shared := "", false
	for _, f := range frames {
		if f.name == "runtime.main" {
			return stepNotRequests
		}
		s := ""
		name, gh := strings.CutPrefix(f.name, gatehousePrefix)
		if gh {
			s = gatehouseStep(name, strings.TrimPrefix(f.file, gatehousePrefix))
			if s == stepNotRequests {
				return stepNotRequests
			}
		}
		if inner != "" {
			continue
		}
		switch {
		case f.plugin:
			inner = stepPlugins
		case gh && s == "":
			shared = true
		case gh:
			inner = s
		default:
			inner = libraryStep(f.name)
		}
	}
	for _, f := range frames {
		if gcFuncs[f.name] {
			return stepGC
		}
	}
	for _, f := range frames {
		if schedFuncs[f.name] {
			return stepScheduler
		}
	}
	for _, f := range frames {
		if isSyscall(f.name) {
			return stepSyscalls
		}
	}
	switch {
	case inner != "":
		return inner
	case shared:
		return stepGateway // only functions shared by several steps, with none of them calling
	}
	return stepOther
}

// stepShares is a profile's samples by step.
type stepShares struct {
	// CPU is the CPU time of the samples in each step, in nanoseconds; samples is their count.
	CPU     map[string]int64
	Samples map[string]int64
	// Total and TotalSamples are those of the samples taken while serving requests (every step
	// but stepNotRequests).
	Total, TotalSamples int64
	// NotRequests is the CPU time of the start-up, reloads and the Gateway API, left out.
	NotRequests int64
}

// share returns the fraction of the requests' CPU spent in step.
func (s stepShares) share(step string) float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.CPU[step]) / float64(s.Total)
}

// attribute reads a CPU profile and sums its samples by step.
func attribute(p *profile.Profile) (stepShares, error) {
	idx, count, err := cpuValues(p)
	if err != nil {
		return stepShares{}, err
	}
	out := stepShares{CPU: map[string]int64{}, Samples: map[string]int64{}}
	var frames []frame
	for _, s := range p.Sample {
		frames = frames[:0]
		for _, loc := range s.Location {
			frames = appendFrames(frames, p, loc)
		}
		step := classify(frames)
		v, n := s.Value[idx], int64(1)
		if count >= 0 {
			n = s.Value[count] // runtime/pprof writes identical stacks as one sample
		}
		if step == stepNotRequests {
			out.NotRequests += v
			continue
		}
		out.CPU[step] += v
		out.Samples[step] += n
		out.Total += v
		out.TotalSamples += n
	}
	return out, nil
}

// cpuValues returns the index of the CPU time in p's sample values, and that of the sample
// count (-1 when p has none).
func cpuValues(p *profile.Profile) (cpu, count int, err error) {
	cpu, count = -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case "cpu":
			cpu = i
		case "samples":
			count = i
		}
	}
	if cpu < 0 {
		return 0, 0, errors.New("not a CPU profile (no cpu sample type)")
	}
	for _, s := range p.Sample {
		if cpu >= len(s.Value) || count >= len(s.Value) {
			return 0, 0, errors.New("a sample has fewer values than the profile's sample types")
		}
	}
	return cpu, count, nil
}

// appendFrames appends the functions of a location of p to frames, innermost first.
//
// Code of a Go plugin is recognised by where it lies: in a mapping of a .so file, or, as
// runtime/pprof reads the process's mappings when the profile starts and gatehouse loads its
// plugins after that, outside every mapping of a profile that has some.
func appendFrames(frames []frame, p *profile.Profile, loc *profile.Location) []frame {
	plugin := loc.Mapping == nil && len(p.Mapping) > 0 || loc.Mapping != nil && strings.HasSuffix(loc.Mapping.File, ".so")
	// Inlined functions come first within a location: the innermost call.
	for _, ln := range loc.Line {
		if ln.Function != nil {
			frames = append(frames, frame{name: ln.Function.Name, file: ln.Function.Filename, plugin: plugin})
		}
	}
	return frames
}

// attributeFile reads the CPU profile in file and sums its samples by step.
func attributeFile(file string) (stepShares, error) {
	f, err := os.Open(file)
	if err != nil {
		return stepShares{}, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return stepShares{}, fmt.Errorf("%s: %w", file, err)
	}
	s, err := attribute(p)
	if err != nil {
		return stepShares{}, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}
