package config

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// DefaultOTelEndpoint is where spans go unless opentelemetry.endpoint says otherwise: an
// OpenTelemetry Collector's OTLP/HTTP port on this host. Tyk's default, localhost:4317, is the
// collector's gRPC port, which Gatehouse does not speak.
const DefaultOTelEndpoint = "localhost:4318"

// OpenTelemetryConfig is tyk.conf's opentelemetry block: the trace keys, at the block's root as
// Tyk has long read them (TracesConfig, embedded: encoding/json and the environment overrides
// see its keys as the block's own), and again under traces, Tyk 5.13's form. See
// docs/observability.md.
type OpenTelemetryConfig struct {
	TracesConfig
	// Traces is Tyk 5.13's form of the same keys, one level down; when traces.enabled is true
	// it is used instead of the keys above (see Effective).
	Traces TracesConfig `json:"traces"`
}

// TracesConfig is the trace keys of the opentelemetry block, at its root or under traces.
type TracesConfig struct {
	// Enabled traces requests (off by default, as in Tyk).
	Enabled bool `json:"enabled"`
	// Exporter is "http" (OTLP/HTTP with protobuf, the default). Tyk's "grpc" is refused: it
	// would link gRPC into the gateway, and so into every plugin's contract.
	Exporter string `json:"exporter"`
	// Endpoint is the collector: host:port (plain HTTP, spans POSTed to /v1/traces), or an
	// http:// or https:// URL (to /v1/traces when it has no path of its own).
	Endpoint string `json:"endpoint"`
	// Headers are sent with every export (an API key of a hosted collector).
	Headers map[string]string `json:"headers"`
	// ConnectionTimeout bounds one export, in seconds.
	ConnectionTimeout int `json:"connection_timeout"`
	// ResourceName is the service.name of the spans.
	ResourceName string `json:"resource_name"`
	// SpanProcessorType is "batch" (the default) or "simple" (each span exported on its own,
	// as soon as it ends). Both export beside the requests, never in their way.
	SpanProcessorType string `json:"span_processor_type"`
	// SpanBatchConfig sizes the queue and the batches.
	SpanBatchConfig SpanBatchConfig `json:"span_batch_config"`
	// ContextPropagation is "tracecontext" (W3C traceparent, the default) or "b3".
	ContextPropagation string `json:"context_propagation"`
	// Sampling decides which requests are recorded.
	Sampling SamplingConfig `json:"sampling"`
}

// Effective returns the trace settings in force: opentelemetry.traces when traces.enabled is
// true (Tyk's rule), a key it leaves out at its default, not the value at the block's root;
// else the keys at the block's root. prefix is where they were written ("opentelemetry." or
// "opentelemetry.traces."), for messages.
func (o OpenTelemetryConfig) Effective() (eff OpenTelemetryConfig, prefix string) {
	if !o.Traces.Enabled {
		o.Traces = TracesConfig{}
		return o, "opentelemetry."
	}
	t, d := o.Traces, defaultTraces()
	t.Exporter = cmp.Or(t.Exporter, d.Exporter)
	t.Endpoint = cmp.Or(t.Endpoint, d.Endpoint)
	t.ConnectionTimeout = cmp.Or(t.ConnectionTimeout, d.ConnectionTimeout)
	t.ResourceName = cmp.Or(t.ResourceName, d.ResourceName)
	t.SpanProcessorType = cmp.Or(t.SpanProcessorType, d.SpanProcessorType)
	b := &t.SpanBatchConfig
	b.MaxQueueSize = cmp.Or(b.MaxQueueSize, d.SpanBatchConfig.MaxQueueSize)
	b.MaxExportBatchSize = cmp.Or(b.MaxExportBatchSize, d.SpanBatchConfig.MaxExportBatchSize)
	b.BatchTimeout = cmp.Or(b.BatchTimeout, d.SpanBatchConfig.BatchTimeout)
	t.ContextPropagation = cmp.Or(t.ContextPropagation, d.ContextPropagation)
	t.Sampling.Type = cmp.Or(t.Sampling.Type, d.Sampling.Type)
	return OpenTelemetryConfig{TracesConfig: t}, "opentelemetry.traces."
}

// SpanBatchConfig is opentelemetry.span_batch_config.
type SpanBatchConfig struct {
	// MaxQueueSize is how many ended spans wait for export; past it, spans are dropped (and
	// counted), never waited for.
	MaxQueueSize int `json:"max_queue_size"`
	// MaxExportBatchSize is the most spans sent in one export.
	MaxExportBatchSize int `json:"max_export_batch_size"`
	// BatchTimeout is the longest a span waits for its batch to fill, in seconds.
	BatchTimeout int `json:"batch_timeout"`
}

// SamplingConfig is opentelemetry.sampling.
type SamplingConfig struct {
	// Type is "AlwaysOn" (the default), "AlwaysOff" or "TraceIDRatioBased".
	Type string `json:"type"`
	// Rate is the fraction of traces recorded with TraceIDRatioBased, from 0 to 1; as in Tyk,
	// 0 means the default, 0.5.
	Rate float64 `json:"rate"`
	// ParentBased follows the decision of the client's traceparent when there is one.
	ParentBased bool `json:"parent_based"`
}

// Sampler types.
const (
	SamplerAlwaysOn   = "AlwaysOn"
	SamplerAlwaysOff  = "AlwaysOff"
	SamplerRatioBased = "TraceIDRatioBased"
)

// defaultOpenTelemetry is the block's defaults: Tyk's, except the exporter (http), its port
// (4318) and the service name.
func defaultOpenTelemetry() OpenTelemetryConfig {
	return OpenTelemetryConfig{TracesConfig: defaultTraces()}
}

// defaultTraces is the trace keys' defaults (see defaultOpenTelemetry).
func defaultTraces() TracesConfig {
	return TracesConfig{
		Exporter:           "http",
		Endpoint:           DefaultOTelEndpoint,
		ConnectionTimeout:  1,
		ResourceName:       "gatehouse",
		SpanProcessorType:  "batch",
		SpanBatchConfig:    SpanBatchConfig{MaxQueueSize: 2048, MaxExportBatchSize: 512, BatchTimeout: 5},
		ContextPropagation: "tracecontext",
		Sampling:           SamplingConfig{Type: SamplerAlwaysOn},
	}
}

// SamplingRate returns the fraction of traces a TraceIDRatioBased sampler records: the rate,
// or 0.5 when it is 0 (Tyk's reading).
func (s SamplingConfig) SamplingRate() float64 {
	if s.Rate == 0 {
		return 0.5
	}
	return s.Rate
}

// TracesURL returns the URL spans are POSTed to, from endpoint; Validate has checked it.
func (o TracesConfig) TracesURL() string {
	e := strings.TrimSpace(o.Endpoint)
	if !strings.Contains(e, "://") {
		return "http://" + e + "/v1/traces"
	}
	u, err := url.Parse(e)
	if err != nil {
		return e
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String()
}

// checkOpenTelemetry checks the trace settings in force (Effective), when tracing is on.
func (c *Config) checkOpenTelemetry(add func(string, ...any)) {
	o, prefix := c.OpenTelemetry.Effective()
	if !o.Enabled {
		return
	}
	// Messages name the key as it was written: at the root or under traces.
	add = func(add func(string, ...any)) func(string, ...any) {
		return func(format string, args ...any) {
			add(strings.ReplaceAll(format, "opentelemetry.", prefix), args...)
		}
	}(add)
	switch strings.ToLower(strings.TrimSpace(o.Exporter)) {
	case "http":
	case "grpc":
		add("opentelemetry.exporter %q is not supported: Gatehouse exports OTLP over HTTP only, "+
			"because the gRPC exporter would link gRPC into the gateway and so into every plugin's "+
			"build; set exporter to \"http\" and point endpoint at a collector's OTLP/HTTP port "+
			"(4318), or run an OpenTelemetry Collector that receives OTLP/HTTP and forwards over gRPC", o.Exporter)
	default:
		add("opentelemetry.exporter %q is not a known exporter; use \"http\"", o.Exporter)
	}
	checkOTelEndpoint(add, o.Endpoint)
	for k, v := range o.Headers {
		if !apidef.IsToken(k) || !headerValue(v) {
			add("opentelemetry.headers: %q is not a valid header name and value", k)
		}
	}
	if o.ConnectionTimeout <= 0 || o.ConnectionTimeout > 600 {
		add("opentelemetry.connection_timeout is %d; it must be a number of seconds from 1 to 600", o.ConnectionTimeout)
	}
	switch o.SpanProcessorType {
	case "batch", "simple":
	default:
		add("opentelemetry.span_processor_type %q is not known; use \"batch\" or \"simple\"", o.SpanProcessorType)
	}
	b := o.SpanBatchConfig
	if b.MaxQueueSize <= 0 || b.MaxQueueSize > 1<<20 {
		add("opentelemetry.span_batch_config.max_queue_size is %d; it must be from 1 to %d", b.MaxQueueSize, 1<<20)
	}
	if b.MaxExportBatchSize <= 0 || b.MaxExportBatchSize > b.MaxQueueSize {
		add("opentelemetry.span_batch_config.max_export_batch_size is %d; it must be from 1 to max_queue_size (%d)", b.MaxExportBatchSize, b.MaxQueueSize)
	}
	if b.BatchTimeout <= 0 || b.BatchTimeout > 3600 {
		add("opentelemetry.span_batch_config.batch_timeout is %d; it must be a number of seconds from 1 to 3600", b.BatchTimeout)
	}
	switch o.ContextPropagation {
	case "tracecontext", "b3":
	case "custom", "composite":
		add("opentelemetry.context_propagation %q is not supported; use \"tracecontext\" or \"b3\"", o.ContextPropagation)
	default:
		add("opentelemetry.context_propagation %q is not known; use \"tracecontext\" or \"b3\"", o.ContextPropagation)
	}
	s := o.Sampling
	switch s.Type {
	case SamplerAlwaysOn, SamplerAlwaysOff:
	case SamplerRatioBased:
		if !(s.Rate >= 0 && s.Rate <= 1) {
			add("opentelemetry.sampling.rate is %v; it must be a fraction from 0 to 1 (0 means the default, 0.5)", s.Rate)
		}
	default:
		add("opentelemetry.sampling.type %q is not known; use %q, %q or %q", s.Type, SamplerAlwaysOn, SamplerAlwaysOff, SamplerRatioBased)
	}
}

// headerValue reports whether v can be a header field value net/http sends: no control
// character but tab.
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkOTelEndpoint checks that the collector's endpoint is host:port or an http(s) URL.
func checkOTelEndpoint(add func(string, ...any), e string) {
	e = strings.TrimSpace(e)
	const want = "it must be host:port (for example %q) or an http:// or https:// URL"
	if !strings.Contains(e, "://") {
		host, port, err := net.SplitHostPort(e)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			add("opentelemetry.endpoint %q: "+want, e, DefaultOTelEndpoint)
		}
		return
	}
	u, err := url.Parse(e)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		add("opentelemetry.endpoint %q: "+want, e, DefaultOTelEndpoint)
	case u.User != nil:
		add("opentelemetry.endpoint %q carries a user name or password; send credentials with opentelemetry.headers", u.Redacted())
	}
}

// String names the sampler as the configuration does, for the start-up log line.
func (s SamplingConfig) String() string {
	if s.Type == SamplerRatioBased {
		return fmt.Sprintf("%s(%v, parent_based=%v)", s.Type, s.SamplingRate(), s.ParentBased)
	}
	return fmt.Sprintf("%s(parent_based=%v)", s.Type, s.ParentBased)
}
