package uptime

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// health is an upstream whose /health answers status (200 until changed) and records what it
// was sent.
type health struct {
	*httptest.Server
	status atomic.Int32
	got    atomic.Pointer[http.Request]
	body   atomic.Pointer[string]
}

func newHealth(t *testing.T) *health {
	t.Helper()
	h := &health{}
	h.status.Store(200)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := string(b)
		h.body.Store(&s)
		h.got.Store(r)
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.Close)
	return h
}

// settle runs one round and waits until its checks have reported.
func (c *Checker) settle(t *testing.T) {
	t.Helper()
	c.round(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		busy := false
		for _, s := range c.checks {
			busy = busy || s.running
		}
		c.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the round's checks did not report within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	h, err := HostOf(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDownAfterThresholdUpAfterThreshold: a host is down after Threshold failures in a row (a
// pass between them starts the count again) and up after Threshold passes in a row.
func TestDownAfterThresholdUpAfterThreshold(t *testing.T) {
	h := newHealth(t)
	c := New(Options{Threshold: 3})
	c.Set([]Check{{APIID: "a", URL: h.URL + "/health", Timeout: 5 * time.Second}})
	host := hostOf(t, h.URL)
	step := func(status int, wantDown bool, what string) {
		t.Helper()
		h.status.Store(int32(status))
		c.settle(t)
		if got := c.Down(host); got != wantDown {
			t.Fatalf("%s: Down = %v, want %v", what, got, wantDown)
		}
	}
	step(200, false, "passing")
	step(500, false, "one failure")
	step(503, false, "two failures")
	step(200, false, "a pass starts the count again")
	step(500, false, "one failure again")
	step(500, false, "two failures again")
	step(500, true, "three failures in a row")
	step(500, true, "still failing")
	step(200, true, "one pass")
	step(500, true, "a failure starts the passes again")
	step(200, true, "one pass again")
	step(200, true, "two passes")
	step(200, false, "three passes in a row")
	if hs := c.DownHosts(); len(hs) != 0 {
		t.Errorf("DownHosts = %v", hs)
	}
}

// TestCheckRequest: an HTTP check sends its method, headers and body; a 200 reached through a
// redirect passes; any other status fails, 2xx and 3xx included.
func TestCheckRequest(t *testing.T) {
	h := newHealth(t)
	ch := Check{URL: h.URL + "/health", Method: "POST", Header: http.Header{"X-Probe": {"gw"}}, Body: []byte(`{"ping":1}`), Timeout: 5 * time.Second}
	if err := Run(t.Context(), ch); err != nil {
		t.Fatalf("Run = %v", err)
	}
	r := h.got.Load()
	if r.Method != "POST" || r.Header.Get("X-Probe") != "gw" || *h.body.Load() != `{"ping":1}` || r.URL.Path != "/health" {
		t.Errorf("the upstream got %s %s, X-Probe %q, body %q", r.Method, r.URL.Path, r.Header.Get("X-Probe"), *h.body.Load())
	}
	for _, status := range []int{204, 301, 404, 500} {
		h.status.Store(int32(status))
		if err := Run(t.Context(), Check{URL: h.URL, Timeout: 5 * time.Second}); err == nil {
			t.Errorf("status %d passed", status)
		}
	}
	h.status.Store(200)
	redirect := httptest.NewServer(http.RedirectHandler(h.URL+"/health", http.StatusFound))
	defer redirect.Close()
	if err := Run(t.Context(), Check{URL: redirect.URL, Timeout: 5 * time.Second}); err != nil {
		t.Errorf("a redirect to a 200: %v", err)
	}
}

// TestCheckTimeout: a check answered later than its timeout fails, in about the timeout.
func TestCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	err := Run(t.Context(), Check{URL: slow.URL, Timeout: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("a check answered after its timeout passed")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the check took %v with a timeout of 100ms", d)
	}
}

// TestConnectionCheck: a tcp check connects and runs its commands; a wrong answer, a closed
// port and an unknown command fail.
func TestConnectionCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				if line == "PING\r\n" {
					_, _ = io.WriteString(conn, "PONG")
				} else {
					_, _ = io.WriteString(conn, "NOPE")
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	ok := Check{URL: addr, Protocol: "tcp", Timeout: time.Second, Commands: []Command{{"send", "PING\r\n"}, {"expect", "PONG"}}}
	if err := Run(t.Context(), ok); err != nil {
		t.Errorf("the check failed: %v", err)
	}
	ok.URL = "tcp://" + addr
	if err := Run(t.Context(), ok); err != nil {
		t.Errorf("written with its scheme: %v", err)
	}
	wrong := Check{URL: addr, Protocol: "tcp", Timeout: time.Second, Commands: []Command{{"send", "HELLO\r\n"}, {"expect", "PONG"}}}
	if err := Run(t.Context(), wrong); err == nil {
		t.Error("a wrong answer passed")
	}
	unknown := Check{URL: addr, Protocol: "tcp", Timeout: time.Second, Commands: []Command{{"shout", "x"}}}
	if err := Run(t.Context(), unknown); err == nil {
		t.Error("an unknown command passed")
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	if err := Run(t.Context(), Check{URL: closedAddr, Protocol: "tcp", Timeout: time.Second}); err == nil {
		t.Error("a closed port passed")
	}
}

// TestSetKeepsState: a reload keeping a check keeps what it found (a host down stays down); a
// check dropped takes its host's down state with it; two checks of one host mark it down when
// either fails.
func TestSetKeepsState(t *testing.T) {
	a, b := newHealth(t), newHealth(t)
	c := New(Options{Threshold: 1})
	checks := []Check{{APIID: "x", URL: a.URL + "/health", Timeout: 5 * time.Second}, {APIID: "x", URL: b.URL + "/health", Timeout: 5 * time.Second},
		{APIID: "y", URL: b.URL + "/other", Timeout: 5 * time.Second}}
	c.Set(checks)
	b.status.Store(500)
	c.settle(t)
	if !c.Down(hostOf(t, b.URL)) || c.Down(hostOf(t, a.URL)) {
		t.Fatalf("after a failing round: a down %v, b down %v", c.Down(hostOf(t, a.URL)), c.Down(hostOf(t, b.URL)))
	}
	c.Set(checks) // a reload, nothing changed
	if !c.Down(hostOf(t, b.URL)) {
		t.Fatal("a reload forgot that b is down")
	}
	c.Set(checks[:1]) // b's checks removed
	if c.Down(hostOf(t, b.URL)) {
		t.Fatal("a host no check speaks for is still down")
	}
}

// TestHostOf: a check and a target speak for the same host whatever the case and whether the
// default port is written.
func TestHostOf(t *testing.T) {
	for _, tc := range []struct{ raw, protocol, want string }{
		{"http://Svc.Example/health", "", "svc.example:80"},
		{"http://svc.example:80", "", "svc.example:80"},
		{"https://svc.example/x", "", "svc.example:443"},
		{"h2c://svc.example", "", "svc.example:80"},
		{"http://[::1]:8080/x", "", "[::1]:8080"},
		{"db.internal:5432", "tcp", "db.internal:5432"},
		{"tls://db.internal:6380", "tls", "db.internal:6380"},
	} {
		got, err := HostOf(tc.raw, tc.protocol)
		if err != nil || got != tc.want {
			t.Errorf("HostOf(%q, %q) = %q, %v; want %q", tc.raw, tc.protocol, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/relative", "db.internal", "ftp://x/"} {
		if got, err := HostOf(bad, ""); err == nil {
			t.Errorf("HostOf(%q) = %q, want an error", bad, got)
		}
	}
}

// TestStartClose: the loop runs rounds on its own and Close stops it; Close without Start
// returns at once.
func TestStartClose(t *testing.T) {
	h := newHealth(t)
	h.status.Store(500)
	c := New(Options{Threshold: 2, Interval: 20 * time.Millisecond})
	c.Set([]Check{{URL: h.URL, Timeout: 5 * time.Second}})
	c.Start()
	c.Start() // twice: one loop
	deadline := time.Now().Add(5 * time.Second)
	for !c.Down(hostOf(t, h.URL)) {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not mark the failing host down within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	c.Close()
	idle := New(Options{})
	done := make(chan struct{})
	go func() { idle.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Close without Start blocked")
	}
}

// TestCloseEndsChecksInFlight: Close ends a check still waiting for its answer and returns once
// it has: nothing of the checker outlives it.
func TestCloseEndsChecksInFlight(t *testing.T) {
	arrived, ended := make(chan struct{}), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(ended)
	}))
	defer hang.Close()
	c := New(Options{})
	c.Set([]Check{{URL: hang.URL, Timeout: time.Minute}})
	c.Start()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the check did not arrive")
	}
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a check in flight", d)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the check's request was still open after Close")
	}
	if c.Down(hostOf(t, hang.URL)) {
		t.Error("a check ended by Close counted as a failure")
	}
}

// TestReloadRunsOnlyNewChecks: a reload adding a check runs that check at once, not every
// other one again, which would shorten the failures-in-a-row grace of a host to the reloads'
// pace.
func TestReloadRunsOnlyNewChecks(t *testing.T) {
	fresh := newHealth(t)
	var hits atomic.Int32
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	}))
	defer counted.Close()
	c := New(Options{Interval: time.Hour, Threshold: 3})
	defer c.Close()
	old := Check{URL: counted.URL, Timeout: 5 * time.Second}
	c.Set([]Check{old})
	c.Start()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first round", func() bool { return hits.Load() == 1 })
	for i := range 5 {
		added := Check{URL: fresh.URL + "/n" + strconv.Itoa(i), Timeout: 5 * time.Second}
		checks := []Check{old, added}
		c.Set(checks)
		waitFor("the added check", func() bool {
			r := fresh.got.Load()
			return r != nil && r.URL.Path == "/n"+strconv.Itoa(i)
		})
	}
	time.Sleep(50 * time.Millisecond)
	if n := hits.Load(); n != 1 {
		t.Errorf("the old check ran %d times in an hour's interval over 5 reloads, want 1", n)
	}
	if c.Down(hostOf(t, counted.URL)) {
		t.Error("reloads marked a host down before its third failure")
	}
}

// TestDifferentChecksOfOneURL: two checks of one URL that send different requests are two
// checks; either failing marks the host down.
func TestDifferentChecksOfOneURL(t *testing.T) {
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Deep") == "yes" {
			w.WriteHeader(503)
		}
	}))
	defer h.Close()
	c := New(Options{Threshold: 1})
	shallow := Check{APIID: "a", URL: h.URL, Timeout: 5 * time.Second}
	deep := Check{APIID: "b", URL: h.URL, Header: http.Header{"X-Deep": {"yes"}}, Timeout: 5 * time.Second}
	c.Set([]Check{shallow, shallow, deep})
	c.mu.Lock()
	n := len(c.checks)
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d checks kept, want 2 (the same check twice is one)", n)
	}
	c.settle(t)
	if !c.Down(hostOf(t, h.URL)) {
		t.Error("the failing check of the URL did not mark its host down")
	}
}
