package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// BenchmarkServe measures a request through the whole server, as the load benchmark does but in
// one process: a raw HTTP/1.1 client on one kept-alive loopback connection, the proxy's own
// http.Server and listener (for gatehouse, Gateway.Start with the default http_server_options:
// write_progress_timeout, the header limit, the connection limit), and the loopback upstream.
//
//	go test -trimpath -run XXX -bench 'BenchmarkServe' -benchmem -count 5 ./internal/gateway
//
// The client allocates nothing, so allocs/op is what the server, the proxy and the upstream
// allocate per request, and the bare proxy's figure is the baseline for the gateway's. cpu-ns/op
// is the process's CPU time (user and system, every goroutine) per request, steadier than ns/op
// on a shared machine since a request is a round trip across three goroutines.
func BenchmarkServe(b *testing.B) {
	up := httptest.NewServer(benchkit.UpstreamHandler())
	b.Cleanup(up.Close)
	b.Run("bare-proxy", func(b *testing.B) {
		o := config.Default().HTTPServerOptions
		sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
		srv := &http.Server{Handler: bareProxy(b, up.URL), ReadHeaderTimeout: sec(o.ReadHeaderTimeout), ReadTimeout: sec(o.ReadTimeout),
			WriteTimeout: sec(o.WriteTimeout), IdleTimeout: sec(o.IdleTimeout)}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		benchServeConn(b, ln.Addr().String(), benchkit.ListenPath)
	})
	b.Run("keyless", func(b *testing.B) {
		addr := startBenchServer(b, up.URL)
		benchServeConn(b, addr, benchkit.ListenPath)
	})
	// apis-10000 is keyless with 9,999 more keyless APIs loaded (the load benchmark's
	// scenario): what it costs beyond keyless is the collector marking the larger heap, in
	// gc-cpu-ns/op.
	b.Run("apis-10000", func(b *testing.B) {
		addr := startBenchServerWith(b, up.URL, 9999, nil)
		benchServeConn(b, addr, benchkit.ListenPath)
	})
	// keyless-org is keyless with enforce_org_quotas and a session for the API's org with a
	// rate limit and a quota far above the load: the org's session read and its limits counted
	// (in the memory store) on every request.
	b.Run("keyless-org", func(b *testing.B) {
		addr := startBenchServerWith(b, up.URL, 0, func(cfg *config.Config) { cfg.EnforceOrgQuotas = true })
		req, _ := http.NewRequest("POST", "http://"+addr+"/tyk/org/keys/default", bytes.NewReader([]byte(`{"rate": 1000000000, "per": 1, "quota_max": 1000000000000, "quota_renewal_rate": 3600}`)))
		req.Header.Set("X-Tyk-Authorization", gt.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("storing the org session: %v %v", resp, err)
		}
		resp.Body.Close()
		benchServeConn(b, addr, benchkit.ListenPath)
	})
	// keyless-otel is keyless with every request traced (a server and an upstream span),
	// exported to a collector in this process that discards them: its CPU, one POST per
	// batch of 512 spans, is in cpu-ns/op too.
	b.Run("keyless-otel", func(b *testing.B) {
		sink := otlpSink(b)
		addr := startBenchServerWith(b, up.URL, 0, func(cfg *config.Config) {
			cfg.OpenTelemetry.Enabled, cfg.OpenTelemetry.Endpoint = true, sink
		})
		benchServeConn(b, addr, benchkit.ListenPath)
	})
}

// maxServeKeylessAllocs bounds a keyless request's allocations through the whole server
// (BenchmarkServe/keyless: the client allocates nothing; the server, the gateway and the
// upstream do). The bare proxy's server allocates 101 to 102 times per request in the same
// benchmark; the gateway's 102 before its write progress deadline moved to the connection, 100
// before the connection's context carried the request's state (reqctx.Conn).
const maxServeKeylessAllocs = 98

// TestAllocsServeKeyless is TestAllocsKeyless through the listener and http.Server the gateway
// configures (the connection wrappers, the ConnState hook, the handlers around the gateway), so
// that an allocation added there per request fails too.
func TestAllocsServeKeyless(t *testing.T) {
	up := httptest.NewServer(benchkit.UpstreamHandler())
	defer up.Close()
	got := steadyAllocs(connRequests(t, startBenchServer(t, up.URL), benchkit.ListenPath))
	t.Logf("%.2f allocations per request over %d requests (limit %d)", got, allocRequests, maxServeKeylessAllocs)
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector; scripts/test.sh runs this test without -race")
	}
	if got > maxServeKeylessAllocs+0.5 {
		t.Errorf("a keyless request through the server allocates %.2f times, more than the %d it did; see where with "+
			"go test -run XXX -bench 'BenchmarkServe/keyless$' -memprofile mem.out ./internal/gateway", got, maxServeKeylessAllocs)
	}
}

// startBenchServer starts a gateway with one keyless API in front of upstream, on a loopback
// listener, with the default http_server_options and logging at warn, and returns its address.
func startBenchServer(b testing.TB, upstream string) string {
	return startBenchServerWith(b, upstream, 0, nil)
}

// startBenchServerWith is startBenchServer with more keyless APIs loaded beside the one it
// serves (listen paths /api-00000/ and on, upstream unreachable), and the configuration
// changed by edit when it is not nil.
func startBenchServerWith(b testing.TB, upstream string, more int, edit func(*config.Config)) string {
	cfg, _ := benchConfig(b)
	if edit != nil {
		edit(cfg)
	}
	for i := range more {
		id := fmt.Sprintf("api-%05d", i)
		data, err := json.Marshal(benchkit.API(id, "/"+id+"/", "http://127.0.0.1:9"))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.AppPath, id+".json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg.ListenAddress, cfg.ListenPort = "127.0.0.1", 0
	cfg.ControlAPIHostname, cfg.ControlAPIPort = "127.0.0.1", 0
	data, err := json.Marshal(benchkit.API(benchkit.APIID, benchkit.ListenPath, upstream))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.AppPath, benchkit.APIID+".json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version})
	if err != nil {
		b.Fatalf("gateway.New: %v", err)
	}
	srv, err := gw.Start()
	if err != nil {
		gw.Close()
		b.Fatalf("gateway.Start: %v", err)
	}
	b.Cleanup(func() {
		srv.Shutdown(b.Context())
		gw.Close()
		if b.Failed() {
			b.Logf("gateway log:\n%s", logs.String())
		}
	})
	return srv.Addr()
}

// benchServeConn sends GET path to addr on one kept-alive connection, warmUpRequests times
// and then b.N times, checking each answer's status and body length, and reports the
// process's CPU time per request.
func benchServeConn(b *testing.B, addr, path string) {
	roundTrip := connRequests(b, addr, path)
	b.ReportAllocs()
	cpu, gc := testkit.ProcessCPU(b), readGC()
	for b.Loop() {
		roundTrip()
	}
	b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	end := readGC()
	b.ReportMetric(float64(end.cpu-gc.cpu)/float64(b.N), "gc-cpu-ns/op")
	b.ReportMetric(float64(end.cycles-gc.cycles)*float64(end.scan)/float64(b.N), "gc-scan-B/op")
}

// gcState is what runtime/metrics says of the collector's work so far.
type gcState struct {
	// cpu is the CPU time the collector has used, as the runtime estimates it at each cycle's
	// end, without its idle workers: those run only on a CPU nothing else wanted, which a
	// round trip on one connection leaves often and a loaded proxy never does. It follows
	// the machine's load.
	cpu time.Duration
	// cycles is the number of completed cycles and scan the bytes the last one could scan
	// (heap, stacks, globals): cycles times scan is the marking work, which follows only what
	// the program allocates and holds.
	cycles, scan uint64
}

func readGC() gcState {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/scan/total:bytes"}}
	metrics.Read(s)
	return gcState{cpu: time.Duration((s[0].Value.Float64() - s[1].Value.Float64()) * float64(time.Second)),
		cycles: s[2].Value.Uint64(), scan: s[3].Value.Uint64()}
}

// connRequests dials addr and sends GET path on that one kept-alive connection
// warmUpRequests times (the upstream connection, the pools), then returns the function that
// sends one more, failing b unless the answer is a 200 with benchkit.Body's length. The
// connection is closed when b ends.
func connRequests(b testing.TB, addr, path string) (roundTrip func()) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	br := bufio.NewReaderSize(conn, 16<<10)
	roundTrip = func() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readRawResponse(br); err != nil {
			b.Fatal(err)
		}
	}
	for range warmUpRequests {
		roundTrip()
	}
	return roundTrip
}

var (
	crlf          = []byte("\r\n")
	contentLength = []byte("content-length:")
	status200     = []byte("HTTP/1.1 200 ")
)

// readRawResponse reads one response from br without allocating: it must be a 200 with
// benchkit.Body's length.
func readRawResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, status200) {
		return fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if bytes.Equal(line, crlf) {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, err = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			if err != nil {
				return err
			}
		}
	}
	if n != len(benchkit.Body) {
		return fmt.Errorf("content length %d, want %d", n, len(benchkit.Body))
	}
	_, err = br.Discard(n)
	return err
}
