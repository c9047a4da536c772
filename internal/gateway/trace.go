package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
)

// traceShutdown bounds how long closing the gateway waits for the last spans to be exported.
const traceShutdown = 5 * time.Second

// startTracing starts OpenTelemetry tracing when opentelemetry.enabled (or
// opentelemetry.traces.enabled) says so.
func (g *Gateway) startTracing() error {
	o, _ := g.cfg.OpenTelemetry.Effective()
	if !o.Enabled {
		return nil
	}
	tr, err := tracing.New(o, g.version, g.log, tracing.WithNodeTags(g.cfg.Segment()))
	if err != nil {
		return err
	}
	g.tracer = tr
	g.log.Info("tracing requests with OpenTelemetry", "url", o.TracesURL(), "propagation", o.ContextPropagation,
		"sampling", o.Sampling.String(), "span_processor", o.SpanProcessorType)
	return nil
}

// stopTracing exports the spans still queued, within traceShutdown; only the first call does.
// A collector that cannot take them is logged, not an error of the shutdown: it must not change
// the gateway's exit status.
func (g *Gateway) stopTracing() {
	if g.tracer == nil {
		return
	}
	g.stopTrace.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), traceShutdown)
		defer cancel()
		err := g.tracer.Shutdown(ctx)
		if d := g.tracer.Dropped(); d > 0 || err != nil {
			g.log.Warn("some spans were never exported: the collector was unreachable, slow, or refused them",
				"dropped", g.tracer.Dropped(), "error", err)
		}
	})
}

// traceAPI returns the tracing handle of an API, nil when tracing is off.
func (g *Gateway) traceAPI(def *apidef.APIDefinition) *tracing.API {
	if g.tracer == nil {
		return nil
	}
	return g.tracer.API(def, def.Proxy.ListenPath)
}

// Tracer returns the gateway's tracer, nil when tracing is off.
func (g *Gateway) Tracer() *tracing.Tracer { return g.tracer }

// writtenStatus is the status written through w, found on the gateway's status-noting writers
// it wraps; 0 when none was written or none notes it.
func writtenStatus(w http.ResponseWriter) int {
	for w != nil {
		switch v := w.(type) {
		case *statusWriter:
			return v.status
		case *recorder:
			return v.status
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return 0
		}
	}
	return 0
}
