// Package gatewaytest runs a real gateway in the test process, on a loopback listener, in front
// of recording httptest upstreams, and checks its answers with declarative cases.
package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/echo"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// Secret is the Gateway API secret of test gateways.
const Secret = "test-secret-0123456789abcdef"

// Options configure a test gateway.
type Options struct {
	// Config adjusts the configuration after the test defaults are set.
	Config func(*config.Config)
	// APIs are written to app_path before the gateway starts.
	APIs []*apidef.APIDefinition
	// Policies, when set, is written to a policies file the gateway loads.
	Policies string
	// Now replaces the gateway's clock.
	Now func() time.Time
	// Redis, when set, is the address of a Redis server the gateway stores everything in,
	// sharing it with the other gateways given the same: a fleet. Notifications are signed
	// with NodeSecret.
	Redis string
	// AfterFirstBuild is gateway.Options.AfterFirstBuild.
	AfterFirstBuild func(*gateway.Gateway)
	// Unsettled makes Start return as soon as the gateway serves, without waiting for the
	// bundle downloads and plugin builds its first load started.
	Unsettled bool
}

// NodeSecret signs the notifications of test gateways on Redis.
const NodeSecret = "test-node-secret-0123456789abcdef"

// Gateway is a running test gateway.
type Gateway struct {
	t        testing.TB
	GW       *gateway.Gateway
	Server   *gateway.Server
	Config   *config.Config
	URL      string // the proxy listener, e.g. http://127.0.0.1:41234
	Client   *http.Client
	logs     *testkit.SyncBuffer
	AppPath  string
	stopOnce sync.Once
}

// Start starts a gateway for the test and stops it when the test ends. By default it listens on
// a random loopback port, serves the Gateway API on the same listener with Secret, hashes keys
// and uses the memory store.
func Start(t testing.TB, o Options) *Gateway {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ListenAddress = "127.0.0.1"
	cfg.ListenPort = 0
	cfg.ControlAPIPort = 0
	cfg.Secret = Secret
	cfg.AppPath = filepath.Join(dir, "apps")
	cfg.MiddlewarePath = filepath.Join(dir, "middleware")
	// An empty template directory of its own: the built-in error templates, and no warning
	// that template_path is missing.
	templates := filepath.Join(dir, "templates")
	cfg.TemplatePath = templates
	cfg.LogLevel = "debug"
	cfg.GracefulShutdownTimeoutDuration = 5
	// Every test gateway serves its metrics on a port of its own (Server.MetricsAddr).
	cfg.Prometheus.ListenAddress = "127.0.0.1:0"
	if o.Policies != "" {
		pf := filepath.Join(dir, "policies.json")
		if err := os.WriteFile(pf, []byte(o.Policies), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.Policies.PolicySource = "file"
		cfg.Policies.PolicyRecordName = pf
	}
	if o.Redis != "" {
		cfg.Storage.Type = "redis"
		cfg.Storage.Addrs = []string{o.Redis}
		cfg.NodeSecret = NodeSecret
	}
	if o.Config != nil {
		o.Config(cfg)
	}
	for _, d := range []string{cfg.AppPath, templates} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g := &Gateway{t: t, Config: cfg, AppPath: cfg.AppPath, logs: &testkit.SyncBuffer{}}
	for _, def := range o.APIs {
		g.WriteAPI(def)
	}
	log := slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version, Now: o.Now, AfterFirstBuild: o.AfterFirstBuild})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv, err := gw.Start()
	if err != nil {
		gw.Close()
		t.Fatalf("gateway.Start: %v", err)
	}
	g.GW, g.Server = gw, srv
	g.URL = "http://" + srv.Addr()
	g.Client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("gateway log (%s):\n%s", g.URL, g.logs.String())
		}
	})
	// Plugins built from source and bundles downloaded at start serve once they are ready: a
	// test starts from there, as a blocking reload would leave it. One that has not settled
	// within settleTimeout fails here, where the cause is, rather than on whatever request it
	// sends first.
	if o.Unsettled {
		return g
	}
	settleCtx, cancelSettle := context.WithTimeout(context.Background(), settleTimeout)
	defer cancelSettle()
	if res, err := gw.Settle(settleCtx); err != nil || len(res.Pending) > 0 {
		t.Fatalf("the gateway did not settle within %v: %v %v", settleTimeout, err, res.Pending)
	}
	return g
}

// Stop shuts the gateway down, as at the end of the test; it may be called earlier, and more
// than once.
func (g *Gateway) Stop() {
	g.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Server.Shutdown(ctx)
		_ = g.GW.Close()
		g.Client.CloseIdleConnections()
	})
}

// Logs returns what the gateway logged so far.
func (g *Gateway) Logs() string { return g.logs.String() }

// WriteAPI writes a definition to app_path as {api_id}.json (it serves after a reload).
func (g *Gateway) WriteAPI(def *apidef.APIDefinition) {
	g.t.Helper()
	data, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		g.t.Fatal(err)
	}
	g.WriteFile(def.APIID+".json", data)
}

// WriteFile writes a file into app_path.
func (g *Gateway) WriteFile(name string, data []byte) {
	g.t.Helper()
	if err := os.WriteFile(filepath.Join(g.AppPath, name), data, 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// settleTimeout bounds how long a test gateway waits for plugin builds and bundle downloads.
const settleTimeout = 5 * time.Minute

// Reload reloads the gateway and waits until the new snapshot serves (not for the plugin
// builds and bundle downloads it started: see ReloadAndWait).
func (g *Gateway) Reload() {
	g.t.Helper()
	if err := g.GW.Reload(context.Background(), true); err != nil {
		g.t.Fatalf("reload: %v", err)
	}
}

// ReloadAndWait reloads the gateway and waits until the new snapshot serves with the plugin
// builds and bundle downloads it started, as GET /tyk/reload?block=true does.
func (g *Gateway) ReloadAndWait() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	res, err := g.GW.ReloadAndWait(ctx)
	if err != nil {
		g.t.Fatalf("reload: %v", err)
	}
	if len(res.Pending) > 0 {
		g.t.Fatalf("reload: still pending after %v: %v", settleTimeout, res.Pending)
	}
}

// CreateKey stores a key through the Gateway API and returns it.
func (g *Gateway) CreateKey(s *apidef.SessionState) string {
	g.t.Helper()
	body, _ := json.Marshal(s)
	resp := g.Do(Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/create", Body: string(body)})
	if resp.Code != http.StatusOK {
		g.t.Fatalf("creating key: %d %s", resp.Code, resp.Body)
	}
	var out struct{ Key string }
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || out.Key == "" {
		g.t.Fatalf("creating key: reply %s", resp.Body)
	}
	return out.Key
}

// Case is one request and what its answer must be. Zero fields are not checked.
type Case struct {
	Name    string
	Method  string // default GET
	Path    string // path and query, sent as written
	Host    string
	Headers map[string]string
	Body    string
	// Admin sends X-Tyk-Authorization with the secret.
	Admin bool

	Code int
	// BodyMatch and BodyNotMatch are regular expressions.
	BodyMatch    string
	BodyNotMatch string
	// BodyEquals must equal the whole body when set (use BodyEmpty for an empty body).
	BodyEquals string
	BodyEmpty  bool
	// HeadersMatch maps header names to the exact first value wanted.
	HeadersMatch map[string]string
	// HeadersNotPresent lists headers that must be absent.
	HeadersNotPresent []string
}

// Response is a received answer.
type Response struct {
	Code   int
	Header http.Header
	Body   string
}

// Do sends a case's request and returns the answer, without checking it.
func (g *Gateway) Do(c Case) Response {
	g.t.Helper()
	method := c.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequest(method, g.URL+c.Path, body)
	if err != nil {
		g.t.Fatalf("%s: building request: %v", c.Name, err)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	if c.Admin {
		req.Header.Set("X-Tyk-Authorization", Secret)
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		g.t.Fatalf("%s: %s %s: %v", c.Name, method, c.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s: reading body: %v", c.Name, err)
	}
	return Response{Code: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

// Run sends each case and checks its answer.
func (g *Gateway) Run(t *testing.T, cases ...Case) {
	t.Helper()
	for i, c := range cases {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("%d_%s_%s", i, c.Method, c.Path)
		}
		t.Run(name, func(t *testing.T) {
			Check(t, c, g.Do(c))
		})
	}
}

// Check checks a response against a case's expectations.
func Check(t testing.TB, c Case, r Response) {
	t.Helper()
	if c.Code != 0 && r.Code != c.Code {
		t.Errorf("status = %d, want %d; body: %s", r.Code, c.Code, r.Body)
	}
	if c.BodyMatch != "" && !bodyMatches(c.BodyMatch, r.Body) {
		t.Errorf("body does not match %q:\n%s", c.BodyMatch, r.Body)
	}
	if c.BodyNotMatch != "" && bodyMatches(c.BodyNotMatch, r.Body) {
		t.Errorf("body matches %q and must not:\n%s", c.BodyNotMatch, r.Body)
	}
	if c.BodyEquals != "" && r.Body != c.BodyEquals {
		t.Errorf("body = %q, want %q", r.Body, c.BodyEquals)
	}
	if c.BodyEmpty && r.Body != "" {
		t.Errorf("body = %q, want it empty", r.Body)
	}
	for k, v := range c.HeadersMatch {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range c.HeadersNotPresent {
		if vs, ok := r.Header[http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("header %s = %q, want it absent", k, vs)
		}
	}
}

// Raw sends raw bytes over a new connection and reads one response, for requests a Go client
// would refuse or rewrite (dot segments, fragments, malformed framing).
func (g *Gateway) Raw(raw string) (Response, error) {
	conn, err := net.DialTimeout("tcp", g.Server.Addr(), 5*time.Second)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		return Response{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Response{Code: resp.StatusCode, Header: resp.Header, Body: string(data)}, err
}

// Upstream is an echo upstream that records every request it receives.
type Upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []echo.Request
}

// NewUpstream starts a recording echo upstream, closed when the test ends.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{}
	h := echo.Handler()
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bytes.Buffer{}
		cw := &captureWriter{ResponseWriter: w, buf: rec}
		h.ServeHTTP(cw, r)
		var seen echo.Request
		if json.Unmarshal(rec.Bytes(), &seen) == nil {
			u.mu.Lock()
			u.seen = append(u.seen, seen)
			u.mu.Unlock()
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// Requests returns what the upstream received so far.
func (u *Upstream) Requests() []echo.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]echo.Request(nil), u.seen...)
}

// Last returns the last request the upstream received; ok is false when none came.
func (u *Upstream) Last() (echo.Request, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return echo.Request{}, false
	}
	return u.seen[len(u.seen)-1], true
}

type captureWriter struct {
	http.ResponseWriter
	buf *bytes.Buffer
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	return c.ResponseWriter.Write(p)
}

// API returns a keyless, not versioned definition in front of target that strips its listen
// path, for tests to adjust. It is the benchmarks' definition too (benchkit.API).
func API(id, listenPath, target string) *apidef.APIDefinition {
	return benchkit.API(id, listenPath, target)
}

// Keyed returns def changed to require a key from the Authorization header (benchkit.Keyed).
func Keyed(def *apidef.APIDefinition) *apidef.APIDefinition { return benchkit.Keyed(def) }

// EachStore runs fn as a subtest per store: "memory", and "redis" with a redis-server of its
// own (skipped, or failed in CI, where redis-server is missing: see redistest). fn starts its
// gateways with the Options it is given, adding its own settings, so that one test checks the
// same behaviour on both stores.
func EachStore(t *testing.T, fn func(t *testing.T, store Options)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) { fn(t, Options{}) })
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{})
		fn(t, Options{Redis: srv.Addr})
	})
}

// bodyMatches reports whether the pattern matches body as sent or, for a JSON body, as
// indented with two spaces: patterns may be written against either form (the Gateway API
// answers compact JSON, as Tyk's does; `"status": "ok"` reads better in a test).
func bodyMatches(pattern, body string) bool {
	re := regexp.MustCompile(pattern)
	if re.MatchString(body) {
		return true
	}
	var b bytes.Buffer
	if len(body) < 1<<20 && json.Valid([]byte(body)) && json.Indent(&b, []byte(body), "", "  ") == nil {
		return re.Match(b.Bytes())
	}
	return false
}
