package gateway_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/version"
)

// The benchmarks of the compiled chain, one per scenario of the load benchmark (bench/), beside a
// bare httputil.ReverseProxy in front of the same upstream:
//
//	go test -run XXX -bench . -benchmem ./internal/gateway/
//
// Each serves httptest requests through the handler in-process (Gateway.ServeHTTP into a
// ResponseRecorder, no listener in front), to a loopback upstream answering 100 bytes with
// keep-alive; what the gateway costs per request is its ns/op and allocs/op over bare-proxy's.
// Setup (10,000 APIs, 100,000 keys, building the plugin) runs before b.Loop, which times only
// the loop.

// benchCase is one scenario: a single API at /bench/ unless apis says how many to load.
type benchCase struct {
	name    string
	keyed   bool
	hooks   []string // of the benchmark plugin: pre, post, response
	apis    int      // APIs loaded; the requests go to one in the middle
	keys    int      // keys stored; the requests carry one in the middle
	meta    int      // fields of 1 KiB in the key's meta data
	reloads bool     // reload back to back while the requests run
	metrics bool     // Prometheus metrics on (off in the other cases, as in bench/)
	access  bool     // the access log on, every line written (JSON, to io.Discard)
	jwt     bool     // enable_jwt (HMAC) with a default policy; requests carry one HS256 token
	otel    bool     // OpenTelemetry tracing on, every request sampled, spans to a local sink
}

var benchCases = []benchCase{
	{name: "keyless"},
	{name: "keyless-metrics", metrics: true},
	{name: "keyless-accesslog", access: true},
	{name: "keyless-otel", otel: true},
	{name: "keyed", keyed: true},
	{name: "keyed-accesslog", keyed: true, access: true},
	{name: "plugin-pre", hooks: []string{"pre"}},
	{name: "plugin-post", hooks: []string{"post"}},
	{name: "plugin-post-metrics", hooks: []string{"post"}, metrics: true},
	{name: "plugin-response", hooks: []string{"response"}},
	{name: "all-hooks", keyed: true, hooks: []string{"pre", "post", "response"}},
	{name: "apis-10000", apis: 10000},
	{name: "keys-100000", keyed: true, keys: 100000},
	{name: "keyed-large", keyed: true, meta: 1000},
	{name: "reloads", reloads: true},
	{name: "jwt", jwt: true},
}

// The jwt case's secret and policy, as in the load benchmark's jwt scenario.
const (
	benchJWTSecret = "gatehouse-bench-hmac-secret-0123456789"
	benchJWTPolicy = "bench-jwt"
)

// benchJWT makes def a JWT API (HMAC, the secret in jwt_source, sessions from benchJWTPolicy)
// and returns the policies file granting it and the header of the one token the requests send,
// signed by hand (hs256).
func benchJWT(b testing.TB, def *apidef.APIDefinition) (policies, header string) {
	benchkit.Keyed(def)
	def.UseStandardAuth = false
	def.EnableJWT = true
	def.JWTSigningMethod = apidef.JWTHMAC
	def.JWTSource = base64.StdEncoding.EncodeToString([]byte(benchJWTSecret))
	def.JWTDefaultPolicies = []string{benchJWTPolicy}
	sess := benchkit.Session(def.APIID)
	pols, err := json.Marshal(map[string]*apidef.Policy{benchJWTPolicy: {
		ID: benchJWTPolicy, Name: benchJWTPolicy, OrgID: sess.OrgID, Active: true,
		Rate: sess.Rate, Per: sess.Per, QuotaMax: sess.QuotaMax, QuotaRenewalRate: sess.QuotaRenewalRate,
		AccessRights: sess.AccessRights,
	}})
	if err != nil {
		b.Fatal(err)
	}
	return string(pols), "Bearer " + hs256([]byte(benchJWTSecret), nil, map[string]any{"sub": "bench-user", "iat": 1700000000})
}

func BenchmarkGateway(b *testing.B) {
	up := httptest.NewServer(benchkit.UpstreamHandler())
	b.Cleanup(up.Close)
	b.Run("bare-proxy", func(b *testing.B) {
		benchServe(b, bareProxy(b, up.URL), benchkit.ListenPath, "", nil)
	})
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) { benchGateway(b, up.URL, c) })
	}
}

func benchGateway(b *testing.B, upstream string, c benchCase) {
	gw, path, key := newBenchCase(b, upstream, c)
	if c.reloads {
		defer reloadContinuously(b, gw)()
	}
	benchServe(b, gw, path, key, c.hooks)
}

// newBenchCase builds the gateway of case c in front of upstream (not started: the requests go
// to its ServeHTTP) and returns it, with the path the requests ask for and the key they carry.
func newBenchCase(b testing.TB, upstream string, c benchCase) (gw *gateway.Gateway, path, key string) {
	var so string
	if len(c.hooks) > 0 {
		so = plugintest.Build(b, benchkit.PluginPkg)
	}
	api := func(id, listenPath string) *apidef.APIDefinition {
		def := benchkit.API(id, listenPath, upstream)
		if c.keyed {
			benchkit.Keyed(def)
		}
		return benchkit.WithHooks(def, so, c.hooks...)
	}
	path, apiID := benchkit.ListenPath, benchkit.APIID
	defs := []*apidef.APIDefinition{api(apiID, path)}
	if c.apis > 1 {
		defs = make([]*apidef.APIDefinition, c.apis)
		for i := range defs {
			defs[i] = api(fmt.Sprintf("api-%05d", i), fmt.Sprintf("/api-%05d/", i))
		}
		apiID, path = defs[c.apis/2].APIID, defs[c.apis/2].Proxy.ListenPath
	}

	store := memory.New()
	policies := ""
	if c.jwt {
		policies, key = benchJWT(b, defs[0])
	}
	if c.keyed {
		start := time.Now()
		key = storeBenchKeys(b, session.NewManager(store, true), apiID, max(c.keys, 1), c.meta)
		if c.keys > 1 {
			b.Logf("stored %d keys in %v", c.keys, time.Since(start).Round(time.Millisecond))
		}
	}
	start := time.Now()
	otelEndpoint := ""
	if c.otel {
		otelEndpoint = otlpSink(b)
	}
	gw = newBenchGateway(b, defs, store, policies, c.metrics, c.access, otelEndpoint)
	if c.apis > 1 {
		b.Logf("loaded %d APIs in %v", c.apis, time.Since(start).Round(time.Millisecond))
	}
	return gw, path, key
}

// reloadContinuously reloads gw back to back, waiting for each reload, until the function it
// returns is called; that function fails the benchmark if a reload failed and reports how many
// ran. Requests that fail while it runs fail the benchmark in benchServe.
func reloadContinuously(b *testing.B, gw *gateway.Gateway) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var (
		reloads  int
		firstErr error
	)
	go func() {
		defer close(done)
		for {
			err := gw.Reload(ctx, true)
			if ctx.Err() != nil {
				return // cut short by the end of the benchmark, not a failure
			}
			reloads++
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if firstErr != nil {
			b.Errorf("a reload failed during the benchmark: %v", firstErr)
		}
		b.ReportMetric(float64(reloads), "reloads")
	}
}

// otlpSink starts an OTLP/HTTP collector that reads and drops what it gets, and returns its
// host:port.
func otlpSink(b testing.TB) string {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	return strings.TrimPrefix(sink.URL, "http://")
}

// benchConfig returns the configuration the gateway benchmarks share, and the temporary
// directory under which its app_path (made) and middleware_path are: the test secret, logging at
// warn like the load benchmark's gatehouse, no Prometheus.
func benchConfig(b testing.TB) (*config.Config, string) {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.AppPath = filepath.Join(dir, "apps")
	cfg.MiddlewarePath = filepath.Join(dir, "middleware")
	cfg.Secret = gt.Secret
	cfg.LogLevel = "warn"
	cfg.Prometheus.Enabled = false
	if err := os.MkdirAll(cfg.AppPath, 0o755); err != nil {
		b.Fatal(err)
	}
	return cfg, dir
}

// bareProxy returns the bare reverse proxy the benchmarks compare against, to upstream; its idle
// connections are closed when b ends.
func bareProxy(b *testing.B, upstream string) *httputil.ReverseProxy {
	target, err := url.Parse(upstream)
	if err != nil {
		b.Fatal(err)
	}
	rp := benchkit.BareProxy(target)
	b.Cleanup(rp.Transport.(*http.Transport).CloseIdleConnections)
	return rp
}

// newBenchGateway builds a gateway over defs and store, logging at warn like the load
// benchmark's gatehouse; it is not started: the benchmark calls its ServeHTTP. With
// otelEndpoint it traces every request and exports there.
func newBenchGateway(b testing.TB, defs []*apidef.APIDefinition, store *memory.Store, policies string, metrics, access bool, otelEndpoint string) *gateway.Gateway {
	cfg, dir := benchConfig(b)
	cfg.Prometheus.Enabled = metrics
	cfg.AccessLogs.Enabled = access
	if otelEndpoint != "" {
		cfg.OpenTelemetry.Enabled, cfg.OpenTelemetry.Endpoint = true, otelEndpoint
	}
	if policies != "" {
		cfg.Policies.PolicySource = "file"
		cfg.Policies.PolicyRecordName = filepath.Join(dir, "policies.json")
		if err := os.WriteFile(cfg.Policies.PolicyRecordName, []byte(policies), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, def := range defs {
		data, err := json.Marshal(def)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.AppPath, def.APIID+".json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if access {
		// The access lines at info, encoded as JSON and dropped; the rest as in the other cases.
		log = slog.New(levelSplit{info: slog.NewJSONHandler(io.Discard, nil), rest: log.Handler()})
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version, Store: store})
	if err != nil {
		b.Fatalf("gateway.New: %v", err)
	}
	b.Cleanup(func() {
		gw.Close()
		if b.Failed() {
			b.Logf("gateway log:\n%s", logs.String())
		}
	})
	if h := gw.Health(context.Background()); h.Status != "pass" {
		b.Fatalf("the gateway is not healthy: %+v\n%s", h.Details, logs.String())
	}
	return gw
}

// levelSplit sends the access lines to info and every other record to rest.
type levelSplit struct{ info, rest slog.Handler }

func (h levelSplit) Enabled(ctx context.Context, l slog.Level) bool {
	return l == slog.LevelInfo || h.rest.Enabled(ctx, l)
}

func (h levelSplit) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && r.Message == "access" {
		return h.info.Handle(ctx, r)
	}
	if h.rest.Enabled(ctx, r.Level) {
		return h.rest.Handle(ctx, r)
	}
	return nil
}

func (h levelSplit) WithAttrs(as []slog.Attr) slog.Handler {
	return levelSplit{h.info.WithAttrs(as), h.rest.WithAttrs(as)}
}

func (h levelSplit) WithGroup(name string) slog.Handler {
	return levelSplit{h.info.WithGroup(name), h.rest.WithGroup(name)}
}

// storeBenchKeys stores n keys with access to apiID straight into the store (the Gateway API
// would take seconds for 100,000), with a rate limit and quota that never trip, and returns the
// one in the middle.
func storeBenchKeys(b testing.TB, m *session.Manager, apiID string, n, meta int) string {
	s := benchkit.Session(apiID)
	s.DateCreated = time.Now().UTC()
	if meta > 0 {
		s.MetaData = benchkit.LargeMetaData(meta)
	}
	ctx := context.Background()
	for i := range n {
		if err := m.Put(ctx, session.ID{Key: fmt.Sprintf("bench-key-%06d", i)}, s, 0); err != nil {
			b.Fatal(err)
		}
	}
	return fmt.Sprintf("bench-key-%06d", n/2)
}

// benchServe checks one request through h, and that the plugin's hooks ran, warms up (see
// benchRequests), then times requests to path.
func benchServe(b *testing.B, h http.Handler, path, key string, hooks []string) {
	serve := benchRequests(b, h, path, key, hooks)
	b.ReportAllocs()
	for b.Loop() { // the timer starts here: setup is not measured
		serve()
	}
}

// benchRequests checks one request through h, and that the plugin's hooks ran, then serves
// warmUpRequests requests to path, and returns the function that serves one more, failing b
// unless it is answered 200.
func benchRequests(b testing.TB, h http.Handler, path, key string, hooks []string) (serve func()) {
	wantSaw, wantRespHook := benchkit.HookSigns(hooks)
	do := func(p string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, p, nil)
		if key != "" {
			r.Header["Authorization"] = []string{key}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	verify := strings.TrimSuffix(path, "/") + benchkit.VerifyPath
	w := do(verify)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), benchkit.Body) {
		b.Fatalf("GET %s: %d %q", verify, w.Code, w.Body.String())
	}
	if got := w.Header().Get("X-Upstream-Saw"); got != wantSaw {
		b.Fatalf("the upstream saw X-Bench headers %q, want %q", got, wantSaw)
	}
	if got := w.Header().Get("X-Bench-Response") == "1"; got != wantRespHook {
		b.Fatalf("response hook header present: %v, want %v", got, wantRespHook)
	}
	serve = func() {
		if w := do(path); w.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
		}
	}
	for range warmUpRequests {
		serve()
	}
	return serve
}

// warmUpRequests are served before a benchmark or an allocation count starts, so that what
// only the first requests do (the upstream connection, filling the pools, a path's first
// lookup) is not counted, however few requests are (-benchtime 1x).
const warmUpRequests = 1000
