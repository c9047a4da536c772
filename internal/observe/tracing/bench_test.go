package tracing_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// BenchmarkRequestSpans is tracing's own cost of one request as the gateway traces it: the
// server span (continuing no client trace), the upstream span with its traceparent injected,
// both ended, and their share of the batches exported to a collector that takes and discards
// them (in this process, one POST per 512 spans). sampled records every request; unsampled
// none (always_off), what a request left out by a sampler costs.
//
//	go test -run XXX -bench RequestSpans -benchmem ./internal/observe/tracing
//
// cpu-ns/op is the process's CPU time per request, the exporting goroutine's and the
// collector's included; ns/op leaves out what they do on another CPU.
func BenchmarkRequestSpans(b *testing.B) {
	for _, c := range []struct {
		name    string
		sampler string
	}{{"sampled", config.SamplerAlwaysOn}, {"unsampled", config.SamplerAlwaysOff}} {
		b.Run(c.name, func(b *testing.B) {
			sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
			}))
			b.Cleanup(sink.Close)
			cfg := otelConfig(strings.TrimPrefix(sink.URL, "http://"))
			cfg.SpanBatchConfig.BatchTimeout = 1
			cfg.Sampling.Type = c.sampler
			tr := newTracer(b, cfg)
			api := tr.API(def, "/orders/")
			r := httptest.NewRequest(http.MethodGet, "http://gw.example/orders/items", nil)
			r.Header.Set("User-Agent", "bench")
			r.Header.Set("Accept", "*/*")
			r.Header.Set("X-Forwarded-For", "192.0.2.1")
			target, _ := url.Parse("http://127.0.0.1:8080/items")
			// The upstream's headers, as the proxy makes them; each request's traceparent
			// replaces the last.
			out := r.Header.Clone()
			b.ReportAllocs()
			cpu := testkit.ProcessCPU(b)
			for b.Loop() {
				s := api.Start(r, "/orders/items")
				u := s.Upstream(http.MethodGet, out)
				u.EndUpstream(target, 200)
				s.EndRequest(200)
			}
			b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
