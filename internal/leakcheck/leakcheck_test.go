package leakcheck_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/leakcheck"
)

// The package checks itself: its tests release every goroutine they leak on purpose.
func TestMain(m *testing.M) {
	switch os.Getenv("LEAKCHECK_HELPER") {
	case "":
		leakcheck.Main(m)
	default:
		// A child process of TestMainReports: Run with a short wait.
		os.Exit(leakcheck.Run(m, leakcheck.Timeout(300*time.Millisecond)))
	}
}

// fakeT records what a check does to a test, so that a check can be seen failing without
// failing the test that runs it.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errors   []string
}

func (f *fakeT) Helper()             {}
func (f *fakeT) Name() string        { return "fake" }
func (f *fakeT) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Logf(string, ...any) {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

// end runs the cleanups as the end of a test does, and returns what was reported.
func (f *fakeT) end() string {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

// blockedForever waits on ch: a goroutine that never ends unless the test closes ch.
func blockedForever(ch chan struct{}) { <-ch }

func TestCheckReportsALeakedGoroutine(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ft := &fakeT{}
	leakcheck.Check(ft, leakcheck.Timeout(200*time.Millisecond))
	go blockedForever(release)
	start := time.Now()
	report := ft.end()
	if report == "" {
		t.Fatal("a goroutine blocked forever was not reported")
	}
	for _, want := range []string{"1 goroutine(s) still running", "leakcheck_test.blockedForever", "[chan receive", "created by github.com/gatehouse/gatehouse/internal/leakcheck_test.TestCheckReportsALeakedGoroutine"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not say %q:\n%s", want, report)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("the check gave up after %v, before its timeout of 200ms", d)
	}
}

func TestCheckPassesWhenGoroutinesExit(t *testing.T) {
	ft := &fakeT{}
	leakcheck.Check(ft, leakcheck.Timeout(10*time.Second))
	// One goroutine has ended before the check, one ends while it waits.
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	go func() { time.Sleep(100 * time.Millisecond) }()
	if report := ft.end(); report != "" {
		t.Fatalf("goroutines that exit were reported:\n%s", report)
	}
}

func TestCheckIgnoresGoroutinesRunningBefore(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	go blockedForever(release)
	ft := &fakeT{}
	leakcheck.Check(ft, leakcheck.Timeout(50*time.Millisecond))
	if report := ft.end(); report != "" {
		t.Fatalf("a goroutine started before the check was reported:\n%s", report)
	}
}

func TestIgnoreOptions(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	for _, opt := range []leakcheck.Option{
		leakcheck.IgnoreAnyFunction("github.com/gatehouse/gatehouse/internal/leakcheck_test.blockedForever"),
		// Runtime frames (runtime.gopark, chanrecv) are left out of traces: the top is ours.
		leakcheck.IgnoreTopFunction("github.com/gatehouse/gatehouse/internal/leakcheck_test.blockedForever"),
		leakcheck.Ignore(func(g leakcheck.Goroutine) bool { return strings.HasPrefix(g.State, "chan receive") }),
	} {
		ft := &fakeT{}
		leakcheck.Check(ft, leakcheck.Timeout(50*time.Millisecond), opt)
		go blockedForever(release)
		if report := ft.end(); report != "" {
			t.Errorf("an ignored goroutine was reported:\n%s", report)
		}
	}
}

// TestIdleHTTPConnections: a client's idle keep-alive connection is ignored by default and
// reported with IncludeIdleHTTP, until the client closes it.
func TestIdleHTTPConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	// The server's side of the connection lives as long as the client's: not what this tests.
	serverSide := leakcheck.IgnoreAnyFunction("net/http.(*conn).serve")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	get := func() {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	lenient, strict := &fakeT{}, &fakeT{}
	leakcheck.Check(lenient, leakcheck.Timeout(100*time.Millisecond), serverSide)
	leakcheck.Check(strict, leakcheck.Timeout(100*time.Millisecond), serverSide, leakcheck.IncludeIdleHTTP())
	get()
	if report := lenient.end(); report != "" {
		t.Errorf("an idle connection was reported by default:\n%s", report)
	}
	if report := strict.end(); !strings.Contains(report, "net/http.(*persistConn)") {
		t.Errorf("with IncludeIdleHTTP, an idle connection was not reported:\n%s", report)
	}

	closed := &fakeT{}
	leakcheck.Check(closed, leakcheck.IncludeIdleHTTP(), serverSide)
	get()
	tr.CloseIdleConnections()
	if report := closed.end(); report != "" {
		t.Errorf("with IncludeIdleHTTP, a closed connection was reported:\n%s", report)
	}
}

// TestVerifyMidTest checks at a point of the test's choosing: a goroutine stopped by its
// context passes, one that ignores it fails.
func TestVerifyMidTest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := leakcheck.Start(leakcheck.Timeout(5 * time.Second))
	go func() { <-ctx.Done() }()
	cancel()
	ft := &fakeT{}
	b.Verify(ft)
	if report := ft.end(); report != "" {
		t.Errorf("a goroutine that ends with its context was reported:\n%s", report)
	}

	release := make(chan struct{})
	defer close(release)
	b = leakcheck.Start(leakcheck.Timeout(50 * time.Millisecond))
	go blockedForever(release)
	ft = &fakeT{}
	b.Verify(ft)
	if report := ft.end(); !strings.Contains(report, "blockedForever") {
		t.Errorf("a goroutine left running was not reported:\n%s", report)
	}
}

// TestMainReports runs this test binary again with Run in its TestMain: a test that leaves a
// goroutine makes it fail, listing the goroutine; one that does not lets it pass.
func TestMainReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for _, c := range []struct {
		test     string
		wantFail bool
	}{
		{"TestHelperLeaks", true},
		{"TestHelperClean", false},
	} {
		t.Run(c.test, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^"+c.test+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LEAKCHECK_HELPER=1")
			out, err := cmd.CombinedOutput()
			if c.wantFail {
				if err == nil || !strings.Contains(string(out), "leakcheck_test.parkedByHelper") || !strings.Contains(string(out), "after the tests ended") {
					t.Errorf("a leaking test binary: %v, want exit status 1 and the goroutine listed:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Errorf("a clean test binary: %v, want success:\n%s", err, out)
			}
		})
	}
}

func parkedByHelper() { select {} }

func TestHelperLeaks(t *testing.T) {
	if os.Getenv("LEAKCHECK_HELPER") == "" {
		t.Skip("run by TestMainReports")
	}
	go parkedByHelper()
}

func TestHelperClean(t *testing.T) {
	if os.Getenv("LEAKCHECK_HELPER") == "" {
		t.Skip("run by TestMainReports")
	}
	var wg sync.WaitGroup
	wg.Go(func() { time.Sleep(10 * time.Millisecond) })
	wg.Wait()
}

func TestParse(t *testing.T) {
	const trace = `goroutine 7 [running]:
main.main()
	/src/main.go:10 +0x1d

goroutine 21 gp=0xc000102a80 m=nil [chan receive, 2 minutes]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	/go/src/runtime/proc.go:435 +0xce
net/http.(*persistConn).readLoop(0xc0001b2000)
	/go/src/net/http/transport.go:2395 +0xb6
...additional frames elided...
created by net/http.(*Transport).dialConn in goroutine 20
	/go/src/net/http/transport.go:1944 +0x174c

goroutine 33 [select, locked to thread]:
example.com/x.F[...](...)
	/src/x.go:3
example.com/x.(*T).run.func1({0xc00001, 0x3})
	/src/x.go:9 +0x25
created by example.com/x.New
	/src/x.go:12 +0x5a
`
	gs := leakcheck.Parse(trace)
	if len(gs) != 3 {
		t.Fatalf("parsed %d goroutines, want 3: %+v", len(gs), gs)
	}
	g := gs[1]
	if g.ID != 21 || g.State != "chan receive, 2 minutes" || g.Top() != "runtime.gopark" ||
		!g.Has("net/http.(*persistConn).readLoop") || g.CreatedBy != "net/http.(*Transport).dialConn" || g.Parent != 20 {
		t.Errorf("goroutine 21 parsed as %+v", g)
	}
	if !strings.HasPrefix(g.Stack, "goroutine 21 ") || !strings.HasSuffix(g.Stack, "+0x174c") {
		t.Errorf("goroutine 21's stack is %q", g.Stack)
	}
	g = gs[2]
	if g.ID != 33 || g.State != "select, locked to thread" || g.Top() != "example.com/x.F[...]" ||
		!g.Has("example.com/x.(*T).run.func1") || g.CreatedBy != "example.com/x.New" || g.Parent != 0 {
		t.Errorf("goroutine 33 parsed as %+v", g)
	}
	if gs[0].ID != 7 || gs[0].Top() != "main.main" || gs[0].CreatedBy != "" {
		t.Errorf("goroutine 7 parsed as %+v", gs[0])
	}
}

// TestAllSeesThisGoroutine checks the parse of a real trace of this process.
func TestAllSeesThisGoroutine(t *testing.T) {
	found := false
	for _, g := range leakcheck.All() {
		if g.Has("github.com/gatehouse/gatehouse/internal/leakcheck_test.TestAllSeesThisGoroutine") {
			found = true
			if !g.Has("testing.tRunner") || g.State != "running" {
				t.Errorf("this test's goroutine parsed as %+v", g)
			}
		}
	}
	if !found {
		t.Error("All does not list the calling goroutine")
	}
}
