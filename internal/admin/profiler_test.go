package admin_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// profilerHandler is the Gateway API with the profiler on or off, over a memory store.
func profilerHandler(t *testing.T, on bool, writeTimeout time.Duration) *admin.Server {
	t.Helper()
	store := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	return admin.New(admin.Options{
		Secret:       testSecret,
		Backend:      newMemBackend(store),
		Sessions:     session.NewManager(store, true),
		Counters:     store,
		Logger:       slog.New(slog.DiscardHandler),
		Profiler:     on,
		WriteTimeout: writeTimeout,
	})
}

func profilerServer(t *testing.T, on bool, writeTimeout time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(profilerHandler(t, on, writeTimeout))
	t.Cleanup(srv.Close)
	return srv
}

// parseProfile fails the test unless body is a profile go tool pprof reads, and returns it.
func parseProfile(t *testing.T, what string, body []byte) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not a pprof profile (%v): %.200q", what, err, body)
	}
	return p
}

// TestProfilerOff: without enable_http_profiler nothing answers under /debug/pprof/, with the
// secret or without.
func TestProfilerOff(t *testing.T) {
	srv := profilerServer(t, false, 0)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		res, body := fetch(t, srv, path, testSecret)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the profiler off: %d %s, want 404", path, res.StatusCode, body)
		}
	}
}

// TestProfilerNeedsTheSecret: every profile path refuses a missing or wrong secret, the timed
// ones before they start (a wrong secret cannot hold the one CPU profile a process has).
func TestProfilerNeedsTheSecret(t *testing.T) {
	srv := profilerServer(t, true, 0)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2", "/debug/pprof/profile?seconds=5", "/debug/pprof/trace?seconds=5"} {
		for _, secret := range []string{"", "wrong-secret"} {
			start := time.Now()
			res, body := fetch(t, srv, path, secret)
			if res.StatusCode != http.StatusForbidden || bytes.Contains(body, []byte("goroutine")) {
				t.Errorf("GET %s with secret %q: %d %.100s, want 403", path, secret, res.StatusCode, body)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("GET %s with secret %q took %v: the profile ran before the secret was checked", path, secret, d)
			}
		}
	}
}

// TestProfilerProfiles: the index lists the profiles; each named one is what go tool pprof
// reads (or text with debug); a CPU profile and a trace run for the seconds asked.
func TestProfilerProfiles(t *testing.T) {
	srv := profilerServer(t, true, 0)

	res, body := fetch(t, srv, "/debug/pprof/", testSecret)
	if res.StatusCode != 200 {
		t.Fatalf("index: %d %s", res.StatusCode, body)
	}
	for _, want := range []string{"/debug/pprof/heap", "/debug/pprof/goroutine", "/debug/pprof/allocs", "/debug/pprof/profile", "/debug/pprof/trace"} {
		if !bytes.Contains(body, []byte(want+" ")) {
			t.Errorf("the index does not list %s:\n%s", want, body)
		}
	}

	res, body = fetch(t, srv, "/debug/pprof/heap?gc=1", testSecret)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("heap: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	heap := parseProfile(t, "heap", body)
	if len(heap.Sample) == 0 || heap.SampleType[len(heap.SampleType)-1].Type != "inuse_space" {
		t.Errorf("heap profile: %d samples, types %v", len(heap.Sample), heap.SampleType)
	}

	// The goroutine profile as text holds this test's own stack.
	res, body = fetch(t, srv, "/debug/pprof/goroutine?debug=2", testSecret)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") ||
		!bytes.Contains(body, []byte("TestProfilerProfiles")) {
		t.Errorf("goroutine?debug=2: %d %s: %.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	start := time.Now()
	res, body = fetch(t, srv, "/debug/pprof/profile?seconds=1", testSecret)
	if res.StatusCode != 200 {
		t.Fatalf("profile: %d %s", res.StatusCode, body)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="profile"` {
		t.Errorf("CPU profile: Content-Disposition %q", cd)
	}
	cpu := parseProfile(t, "CPU profile", body)
	if took := time.Since(start); took < time.Second || cpu.DurationNanos < int64(900*time.Millisecond) {
		t.Errorf("a 1 s CPU profile took %v and covers %v", took, time.Duration(cpu.DurationNanos))
	}
	if cpu.SampleType[len(cpu.SampleType)-1].Type != "cpu" {
		t.Errorf("CPU profile sample types %v", cpu.SampleType)
	}

	res, body = fetch(t, srv, "/debug/pprof/trace?seconds=1", testSecret)
	if res.StatusCode != 200 || !bytes.HasPrefix(body, []byte("go 1.")) {
		t.Errorf("trace: %d, %d bytes starting %.20q; want Go's trace header", res.StatusCode, len(body), body)
	}
}

// TestProfilerBadRequests: unknown profiles and bad parameters get a JSON error saying what
// to ask for, and nothing starts.
func TestProfilerBadRequests(t *testing.T) {
	srv := profilerServer(t, true, 10*time.Second)
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/debug/pprof/nope", 404, "lists them"},
		{"/debug/pprof/heap?debug=7", 400, "debug must be"},
		{"/debug/pprof/heap?gc=maybe", 400, "gc must be"},
		{"/debug/pprof/profile?seconds=0", 400, "from 1 to 300"},
		{"/debug/pprof/profile?seconds=301", 400, "from 1 to 300"},
		{"/debug/pprof/trace?seconds=1.5", 400, "from 1 to 300"},
		{"/debug/pprof/profile?seconds=10", 400, "write_timeout"},
		{"/debug/pprof/trace?seconds=30", 400, "write_timeout"},
	} {
		res, body := fetch(t, srv, c.path, testSecret)
		if res.StatusCode != c.code || !bytes.Contains(body, []byte(c.want)) || !bytes.Contains(body, []byte(`"status":"error"`)) {
			t.Errorf("GET %s: %d %s, want %d with %q", c.path, res.StatusCode, body, c.code, c.want)
		}
	}
	res, _ := fetch(t, srv, "/debug/pprof/heap", "")
	if res.StatusCode != 403 {
		t.Errorf("heap without the secret: %d", res.StatusCode)
	}
}

// TestProfilerOneAtATime: while a CPU profile runs (here the test's own, as gatehouse start
// --cpuprofile would hold it) another gets 409 and a message saying why, at once.
func TestProfilerOneAtATime(t *testing.T) {
	srv := profilerServer(t, true, 0)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Fatalf("the test's own CPU profile: %v", err)
	}
	start := time.Now()
	res, body := fetch(t, srv, "/debug/pprof/profile?seconds=5", testSecret)
	pprof.StopCPUProfile()
	if res.StatusCode != http.StatusConflict || !bytes.Contains(body, []byte("already running")) ||
		res.Header.Get("Content-Disposition") != "" || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("a second CPU profile: %d %v %s, want a JSON 409", res.StatusCode, res.Header, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the refusal took %v", d)
	}
}

// TestProfilerClientGone: a profile whose client goes away stops then, not after the seconds it
// asked for: the next one can start at once.
func TestProfilerClientGone(t *testing.T) {
	srv := profilerServer(t, true, 0)
	for _, name := range []string{"profile", "trace"} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/debug/pprof/"+name+"?seconds=300", nil)
		req.Header.Set("X-Tyk-Authorization", testSecret)
		if res, err := srv.Client().Do(req); err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil {
				t.Fatalf("%s: a 300 s profile ended within 300 ms", name)
			}
		}
		cancel()
		// The server notices the closed connection and stops the first; the second then runs.
		deadline := time.Now().Add(5 * time.Second)
		for {
			res, body := fetch(t, srv, "/debug/pprof/"+name+"?seconds=1", testSecret)
			if res.StatusCode == 200 {
				break
			}
			if res.StatusCode != http.StatusConflict || time.Now().After(deadline) {
				t.Fatalf("%s after the first's client left: %d %s", name, res.StatusCode, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stalledWriter is a client that stopped reading: every write waits until the write deadline
// passes, and forever without one.
type stalledWriter struct {
	header   http.Header
	mu       sync.Mutex
	deadline time.Time
}

func (s *stalledWriter) Header() http.Header { return s.header }
func (s *stalledWriter) WriteHeader(int)     {}
func (s *stalledWriter) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	return nil
}

func (s *stalledWriter) Write(p []byte) (int, error) {
	for {
		s.mu.Lock()
		dl := s.deadline
		s.mu.Unlock()
		if !dl.IsZero() && time.Now().After(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProfilerStalledClient: with no write timeout on the listener, a client that stops reading
// a CPU profile or a trace holds it only for a bounded time: a write that waits too long ends
// the answer, and a trace then stops, long before the seconds asked.
func TestProfilerStalledClient(t *testing.T) {
	defer admin.SetProfileWriteStall(200 * time.Millisecond)()
	h := profilerHandler(t, true, 0)
	// A CPU profile writes only once it has run: its stall comes at the end. A trace writes as
	// it runs: the stall ends it there.
	for name, seconds := range map[string]string{"profile": "1", "trace": "60"} {
		req := httptest.NewRequest("GET", "/debug/pprof/"+name+"?seconds="+seconds, nil)
		req.Header.Set("X-Tyk-Authorization", testSecret)
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(&stalledWriter{header: http.Header{}}, req)
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("a %s s %s to a client that stopped reading still held after 15 s", seconds, name)
		}
	}
}

// TestProfilerRefusals: without the secret every method and path under the profiler gets the
// same 403 (nothing tells that it is on); with it, only GET without a body reads a profile, and a
// HEAD or a body is refused at once rather than running a profile.
func TestProfilerRefusals(t *testing.T) {
	srv := profilerServer(t, true, 0)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, secret, body string) (int, http.Header, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if secret != "" {
			req.Header.Set("X-Tyk-Authorization", secret)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/debug/pprof"}, {"POST", "/debug/pprof/heap"}, {"DELETE", "/debug/pprof/"}, {"HEAD", "/debug/pprof/profile"},
	} {
		if code, _, body := do(c.method, c.path, "", ""); code != http.StatusForbidden {
			t.Errorf("%s %s without the secret: %d %s, want 403", c.method, c.path, code, body)
		}
	}
	if code, h, _ := do("GET", "/debug/pprof", testSecret, ""); code != http.StatusMovedPermanently || h.Get("Location") != "/debug/pprof/" {
		t.Errorf("GET /debug/pprof: %d to %q, want 301 to /debug/pprof/", code, h.Get("Location"))
	}
	start := time.Now()
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"HEAD", "/debug/pprof/profile?seconds=5", "", http.StatusMethodNotAllowed},
		{"POST", "/debug/pprof/trace?seconds=5", "", http.StatusMethodNotAllowed},
		{"GET", "/debug/pprof/profile?seconds=5", "x=1", http.StatusBadRequest},
	} {
		if code, _, body := do(c.method, c.path, testSecret, c.body); code != c.code {
			t.Errorf("%s %s (body %q): %d %s, want %d", c.method, c.path, c.body, code, body, c.code)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the refusals took %v: a profile ran", d)
	}
}

// TestProfilerOneTraceAtATime: while a trace runs (the test's own), another gets 409 at once.
func TestProfilerOneTraceAtATime(t *testing.T) {
	srv := profilerServer(t, true, 0)
	if err := trace.Start(io.Discard); err != nil {
		t.Fatalf("the test's own trace: %v", err)
	}
	res, body := fetch(t, srv, "/debug/pprof/trace?seconds=5", testSecret)
	trace.Stop()
	if res.StatusCode != http.StatusConflict || !bytes.Contains(body, []byte("already running")) {
		t.Errorf("a second trace: %d %s, want 409", res.StatusCode, body)
	}
}
