// Package leakcheck fails tests that leave goroutines running: a reload, a download, a build or
// a shutdown that returns while something it started still runs. It is a small, standard-library
// equivalent of go.uber.org/goleak, kept in the module so that no module is linked only for tests
// (every module the gateway links is a contract with plugins).
//
// It reads the stacks of every goroutine (runtime.Stack) and compares them with those running
// when the check began, ignoring the goroutines of the testing framework and the runtime's own.
// A goroutine that is still winding down (a connection closing, a loop seeing its context end)
// is given a few seconds to exit before it counts as leaked.
//
// Use Check at the start of a test that does not call t.Parallel: the check sees the whole
// process, so goroutines of tests running beside it would count. Top-level tests that call
// t.Parallel run only after every sequential top-level test has ended, so a sequential test
// using Check runs alone. Use Main (or Run) from TestMain to check a whole package once its
// tests have ended.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout is how long a check waits for goroutines to exit before it reports them.
const DefaultTimeout = 5 * time.Second

// Goroutine is one goroutine as runtime.Stack shows it.
type Goroutine struct {
	ID int64
	// State is what the header says in brackets: "running", "chan receive, 2 minutes", ...
	State string
	// Funcs lists the functions on the stack, innermost first, without their arguments:
	// "net/http.(*persistConn).readLoop".
	Funcs []string
	// CreatedBy is the function that started the goroutine ("" for the main goroutine), and
	// Parent the id of the goroutine that ran it (0 when the trace does not say).
	CreatedBy string
	Parent    int64
	// Stack is the goroutine's whole trace, header included.
	Stack string
}

// Top returns the innermost function on the stack.
func (g Goroutine) Top() string {
	if len(g.Funcs) == 0 {
		return ""
	}
	return g.Funcs[0]
}

// Has reports whether fn is on the stack, or started the goroutine.
func (g Goroutine) Has(fn string) bool {
	return g.CreatedBy == fn || slices.Contains(g.Funcs, fn)
}

func (g Goroutine) String() string { return g.Stack }

// Option changes what a check ignores or how long it waits.
type Option func(*options)

type options struct {
	timeout  time.Duration
	ignore   []func(Goroutine) bool
	idleHTTP bool // count idle HTTP client connections
}

// Timeout sets how long the check waits for goroutines to exit (DefaultTimeout by default).
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// IgnoreTopFunction ignores goroutines whose innermost function is fn, such as
// "internal/poll.runtime_pollWait".
func IgnoreTopFunction(fn string) Option {
	return Ignore(func(g Goroutine) bool { return g.Top() == fn })
}

// IgnoreAnyFunction ignores goroutines with fn anywhere on their stack, or started by fn.
func IgnoreAnyFunction(fn string) Option {
	return Ignore(func(g Goroutine) bool { return g.Has(fn) })
}

// Ignore ignores the goroutines for which f returns true.
func Ignore(f func(Goroutine) bool) Option {
	return func(o *options) { o.ignore = append(o.ignore, f) }
}

// IncludeIdleHTTP counts the goroutines of idle HTTP client connections (a Transport's
// persistConn read and write loops), which are ignored by default: a test client or
// http.DefaultTransport keeps connections to servers the test does not own. Use it to check
// that code closes its own transports' connections, with the servers they reach still up.
func IncludeIdleHTTP() Option { return func(o *options) { o.idleHTTP = true } }

// knownFuncs are functions whose goroutines belong to the testing framework or to the runtime
// and live as long as the process (or the test binary's run).
var knownFuncs = []string{
	// The testing framework: the main goroutine, tests and subtests (running, or waiting for
	// their parallel subtests), and the alarm of -timeout.
	"main.main",
	"testing.(*M).Run",
	"testing.(*M).startAlarm",
	"testing.tRunner",
	"testing.(*T).Run",
	"testing.(*T).Parallel",
	"testing.(*F).Fuzz",
	"testing.runFuzzing",
	"testing.runFuzzTests",
	"testing.runTests",
	"testing.runExamples",
	// Started by the first signal.Notify (the gateway watches SIGHUP) and never stopped.
	"os/signal.signal_recv",
	"os/signal.loop",
	// Started by -cpuprofile and -trace.
	"runtime/pprof.profileWriter",
	"runtime.ReadTrace",
	"runtime/trace.Start.func1",
	// A locked thread's signal mask keeper.
	"runtime.ensureSigM.func1",
}

// idleHTTPFuncs are the loops of a client connection that an http.Transport keeps for reuse.
var idleHTTPFuncs = []string{
	"net/http.(*persistConn).readLoop",
	"net/http.(*persistConn).writeLoop",
	"net/http.(*http2ClientConn).readLoop",
	"net/http.(*http2clientConnReadLoop).run",
}

func (o *options) ignored(g Goroutine) bool {
	for _, fn := range knownFuncs {
		if g.Has(fn) {
			return true
		}
	}
	if !o.idleHTTP {
		for _, fn := range idleHTTPFuncs {
			if g.Has(fn) {
				return true
			}
		}
	}
	for _, f := range o.ignore {
		if f(g) {
			return true
		}
	}
	return false
}

func newOptions(opts []Option) *options {
	o := &options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Baseline is the set of goroutines running when a check began: they are not reported.
type Baseline struct {
	o     *options
	ids   map[int64]bool
	start time.Time
}

// Start notes the goroutines running now; Verify later reports the others.
func Start(opts ...Option) *Baseline {
	b := &Baseline{o: newOptions(opts), ids: map[int64]bool{}, start: time.Now()}
	for _, g := range All() {
		b.ids[g.ID] = true
	}
	return b
}

// Leaked returns the goroutines running now that are neither in the baseline (nil: none), nor
// ignored, nor the caller's own.
func (b *Baseline) Leaked() []Goroutine {
	self := currentID()
	var out []Goroutine
	for _, g := range All() {
		if g.ID == self || b != nil && b.ids[g.ID] || b.opts().ignored(g) {
			continue
		}
		out = append(out, g)
	}
	return out
}

func (b *Baseline) opts() *options {
	if b == nil {
		return newOptions(nil)
	}
	return b.o
}

// Wait waits, up to the check's timeout, until no goroutine is leaked, and returns those still
// running then (nil when none is).
func (b *Baseline) Wait() []Goroutine {
	deadline := time.Now().Add(b.opts().timeout)
	delay := time.Millisecond
	for {
		leaked := b.Leaked()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// Verify fails t, listing their stacks, when goroutines started since the baseline are still
// running after the timeout.
func (b *Baseline) Verify(t testing.TB) {
	t.Helper()
	if leaked := b.Wait(); len(leaked) > 0 {
		t.Errorf("%s", Report(leaked, b.opts().timeout))
	}
}

// Check notes the goroutines running now and, when the test and its subtests have ended,
// fails it if others are still running after a few seconds (see Timeout). Call it first in
// the test, so that its cleanup runs after every other (servers closed, gateways stopped); and
// not in a test that calls t.Parallel (see the package documentation).
func Check(t testing.TB, opts ...Option) {
	t.Helper()
	b := Start(opts...)
	t.Cleanup(func() {
		t.Helper()
		b.Verify(t)
	})
}

// Run runs the tests, then waits for the goroutines left to exit, ignoring those of the testing
// framework and the runtime. It returns the tests' exit code, or 1 when goroutines were left
// (listed on standard error). Call it from TestMain when TestMain does more.
func Run(m *testing.M, opts ...Option) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	b := &Baseline{o: newOptions(opts), ids: map[int64]bool{}}
	if leaked := b.Wait(); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "leakcheck: after the tests ended, %s\nFAIL\n", Report(leaked, b.o.timeout))
		return 1
	}
	return 0
}

// Main is Run for a TestMain that does nothing else: func TestMain(m *testing.M) { leakcheck.Main(m) }.
func Main(m *testing.M, opts ...Option) {
	os.Exit(Run(m, opts...))
}

// Report describes leaked goroutines, with their stacks.
func Report(leaked []Goroutine, waited time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d goroutine(s) still running %v after the check ended (leaked):\n", len(leaked), waited)
	for _, g := range leaked {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(g.Stack, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// All returns every goroutine of the process (system goroutines excepted, as runtime.Stack
// leaves them out).
func All() []Goroutine {
	return Parse(stacks(true))
}

func stacks(all bool) string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, all)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// currentID returns the calling goroutine's id.
func currentID() int64 {
	gs := Parse(stacks(false))
	if len(gs) == 0 {
		return 0
	}
	return gs[0].ID
}

// Parse reads the output of runtime.Stack (or of a panic's or SIGQUIT's traceback): blocks that
// start with a "goroutine N [state]:" line.
func Parse(s string) []Goroutine {
	var out []Goroutine
	for _, block := range strings.Split(s, "\n\n") {
		block = strings.Trim(block, "\n")
		if g, ok := parseOne(block); ok {
			out = append(out, g)
		}
	}
	return out
}

func parseOne(block string) (Goroutine, bool) {
	lines := strings.Split(block, "\n")
	g, ok := parseHeader(lines[0])
	if !ok {
		return g, false
	}
	g.Stack = block
	for i := 1; i < len(lines); i++ {
		line := lines[i]
		if line == "" || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "...") {
			continue // a file:line, or "...additional frames elided..."
		}
		if rest, ok := strings.CutPrefix(line, "created by "); ok {
			fn, parent, _ := strings.Cut(rest, " in goroutine ")
			g.CreatedBy = fn
			g.Parent, _ = strconv.ParseInt(strings.TrimSpace(parent), 10, 64)
			continue
		}
		g.Funcs = append(g.Funcs, funcName(line))
	}
	return g, true
}

// parseHeader reads "goroutine 18 [chan receive, 2 minutes]:", with or without the
// "gp=0x... m=..." fields a GOTRACEBACK=system trace adds.
func parseHeader(line string) (Goroutine, bool) {
	rest, ok := strings.CutPrefix(line, "goroutine ")
	if !ok || !strings.HasSuffix(rest, "]:") {
		return Goroutine{}, false
	}
	id, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return Goroutine{}, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Goroutine{}, false
	}
	open := strings.Index(rest, "[")
	if open < 0 {
		return Goroutine{}, false
	}
	return Goroutine{ID: n, State: rest[open+1 : len(rest)-2]}, true
}

// funcName returns a frame line's function without its arguments:
// "net/http.(*persistConn).readLoop(0xc000123456)" gives "net/http.(*persistConn).readLoop".
// Arguments never hold parentheses; a receiver's do, so the last one opens the arguments.
func funcName(line string) string {
	line = strings.TrimSpace(line)
	if i := strings.LastIndex(line, "("); i > 0 && strings.HasSuffix(line, ")") {
		return line[:i]
	}
	return line
}
