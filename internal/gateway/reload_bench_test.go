package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// BenchmarkReload10000 times a blocking reload (Gateway.Reload with wait, as GET
// /tyk/reload?block=true) of a gateway serving 10,000 keyless APIs from app_path, as the load
// benchmark's apis-10000 and reloads-10000 scenarios do:
//
//	go test -trimpath -run XXX -bench Reload10000 -benchmem ./internal/gateway/
//
// start: a gateway's first load (gateway.New); unchanged: nothing changed since the last reload; one-changed: one definition's file changes
// before each reload; gateway-api-put: a PUT of one definition through the Gateway API, without
// a reload; policies-changed: the policies file changes before each reload, so every
// API is compiled again (what a start costs, less the first decode of every file). Each reload
// includes the reloader's debounce (10 ms).
func BenchmarkReload10000(b *testing.B) {
	const n = 10000
	up := httptest.NewServer(benchkit.UpstreamHandler())
	b.Cleanup(up.Close)
	cfg, dir := benchConfig(b)
	cfg.Policies.PolicySource = "file"
	cfg.Policies.PolicyRecordName = filepath.Join(dir, "policies.json")
	writePolicy := func(rate int) {
		data := fmt.Sprintf(`{"p": {"rate": %d, "per": 1, "access_rights": {"api-00000": {"api_id": "api-00000"}}}}`, rate)
		if err := os.WriteFile(cfg.Policies.PolicyRecordName, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writePolicy(1)
	writeAPI := func(i int, target string) {
		data, err := json.Marshal(benchkit.API(fmt.Sprintf("api-%05d", i), fmt.Sprintf("/api-%05d/", i), target))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.AppPath, fmt.Sprintf("api-%05d.json", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		writeAPI(i, up.URL)
	}
	var logs bytes.Buffer
	newGateway := func(b *testing.B) *gateway.Gateway { return reloadGateway(b, cfg, &logs) }
	// start: gateway.New, which loads every definition and builds the first snapshot, as
	// gatehouse start does before it opens its listeners.
	b.Run("start", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			gw := newGateway(b)
			if h := gw.Health(context.Background()); h.Status != "pass" {
				b.Fatalf("the gateway is not healthy: %+v\n%s", h.Details, logs.String())
			}
			gw.Close()
		}
	})
	gw := newGateway(b)
	b.Cleanup(func() { gw.Close() })
	ctx := context.Background()
	reload := func(b *testing.B) { reloadOrFail(b, gw, &logs) }
	check := func(b *testing.B) {
		if h := gw.Health(ctx); h.Status != "pass" {
			b.Fatalf("the gateway is not healthy: %+v\n%s", h.Details, logs.String())
		}
		r := httptest.NewRequest("GET", fmt.Sprintf("/api-%05d/", n/2), nil)
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("GET /api-%05d/: %d %s", n/2, w.Code, w.Body)
		}
	}
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			reload(b)
		}
		check(b)
	})
	b.Run("one-changed", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			i++
			writeAPI(n/2, fmt.Sprintf("%s/v%d", up.URL, i%2))
			reload(b)
		}
		check(b)
	})
	// gateway-api-put: a PUT /tyk/apis/{id} of one definition (Gateway.SaveAPI, what the
	// handler calls): its checks and compile, then the store's read of app_path for the
	// conflict checks and the write. No reload.
	b.Run("gateway-api-put", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			i++
			def := benchkit.API(fmt.Sprintf("api-%05d", n/2), fmt.Sprintf("/api-%05d/", n/2), fmt.Sprintf("%s/v%d", up.URL, i%2))
			raw, err := json.Marshal(def)
			if err != nil {
				b.Fatal(err)
			}
			if err := gw.SaveAPI(ctx, def, raw, false); err != nil {
				b.Fatalf("SaveAPI: %v", err)
			}
		}
	})
	b.Run("policies-changed", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			i++
			writePolicy(1 + i%2)
			reload(b)
		}
		check(b)
	})
}

// cpuPerOp reports, when the function it returns is called, the process's CPU time (user and
// system, the garbage collector's included) per iteration: on a shared machine a steadier
// figure than the wall time of ns/op.
func cpuPerOp(b *testing.B) (stop func()) {
	before := testkit.ProcessCPU(b)
	return func() {
		b.ReportMetric(float64((testkit.ProcessCPU(b)-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkReloadPolicies10000 times a blocking reload of a gateway with one keyed API and
// 10,000 policies in its policies file, each granting it (Tyk teams keep a policy per plan or
// tenant): unchanged, nothing changed since the last reload; one-changed, one policy's quota
// changes before each reload (the file is rewritten, decoded again, and the keyed API compiled
// again).
//
//	go test -trimpath -run XXX -bench ReloadPolicies10000 -benchmem ./internal/gateway/
func BenchmarkReloadPolicies10000(b *testing.B) {
	const n = 10000
	up := httptest.NewServer(benchkit.UpstreamHandler())
	b.Cleanup(up.Close)
	cfg, dir := benchConfig(b)
	cfg.Policies.PolicySource = "file"
	cfg.Policies.PolicyRecordName = filepath.Join(dir, "policies.json")
	policies := func(quota int) []byte {
		pols := make(map[string]any, n)
		for i := range n {
			id := fmt.Sprintf("plan-%05d", i)
			q := 100000
			if i == 0 {
				q = quota
			}
			pols[id] = map[string]any{"id": id, "name": id, "org_id": "default", "rate": 1000, "per": 60,
				"quota_max": q, "quota_renewal_rate": 3600, "tags": []string{"plan"}, "meta_data": map[string]any{"tier": i % 3},
				"access_rights": map[string]any{"api-00000": map[string]any{"api_id": "api-00000", "versions": []string{"Default"}}}}
		}
		data, err := json.Marshal(pols)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	versions := [][]byte{policies(1), policies(2)}
	writePolicies := func(v int) {
		if err := os.WriteFile(cfg.Policies.PolicyRecordName, versions[v], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writePolicies(0)
	def := benchkit.API("api-00000", "/api-00000/", up.URL)
	def.UseKeylessAccess = false
	data, err := json.Marshal(def)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.AppPath, "api-00000.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	var logs bytes.Buffer
	gw := reloadGateway(b, cfg, &logs)
	b.Cleanup(func() { gw.Close() })
	reload := func(b *testing.B) {
		reloadOrFail(b, gw, &logs)
		if !gw.PolicyExists("plan-09999") {
			b.Fatalf("the policies are not loaded\n%s", logs.String())
		}
	}
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			reload(b)
		}
	})
	b.Run("one-changed", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			i++
			writePolicies(i % 2)
			reload(b)
		}
	})
}

// reloadGateway starts a gateway on cfg over a memory store, as gatehouse start does before it
// listens, its warnings written to logs.
func reloadGateway(b *testing.B, cfg *config.Config, logs *bytes.Buffer) *gateway.Gateway {
	gw, err := gateway.New(gateway.Options{Config: cfg, Version: version.Version, Store: memory.New(),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	return gw
}

// reloadOrFail reloads gw and waits for the new snapshot, as GET /tyk/reload?block=true does.
func reloadOrFail(b *testing.B, gw *gateway.Gateway, logs *bytes.Buffer) {
	if err := gw.Reload(context.Background(), true); err != nil {
		b.Fatalf("reload: %v\n%s", err, logs.String())
	}
}
