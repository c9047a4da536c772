package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpenTelemetryKeys(t *testing.T) {
	on := func(f func(o *OpenTelemetryConfig)) func(*Config) {
		return func(c *Config) {
			c.OpenTelemetry.Enabled = true
			f(&c.OpenTelemetry)
		}
	}
	for _, c := range []struct {
		name string
		set  func(*Config)
		want string // "" for valid
	}{
		{"defaults, off", func(*Config) {}, ""},
		{"defaults, on", on(func(*OpenTelemetryConfig) {}), ""},
		{"off ignores the rest", func(c *Config) { c.OpenTelemetry.Exporter, c.OpenTelemetry.Sampling.Rate = "grpc", 7 }, ""},
		{"grpc refused", on(func(o *OpenTelemetryConfig) { o.Exporter = "grpc" }), "OpenTelemetry Collector"},
		{"unknown exporter", on(func(o *OpenTelemetryConfig) { o.Exporter = "zipkin" }), `exporter "zipkin" is not a known exporter`},
		{"https URL", on(func(o *OpenTelemetryConfig) { o.Endpoint = "https://otlp.example.com/v1/traces" }), ""},
		{"no port", on(func(o *OpenTelemetryConfig) { o.Endpoint = "localhost" }), "must be host:port"},
		{"other scheme", on(func(o *OpenTelemetryConfig) { o.Endpoint = "ftp://h:1" }), "must be host:port"},
		{"password in URL", on(func(o *OpenTelemetryConfig) { o.Endpoint = "http://u:secret@h:4318" }), "user name or password"},
		{"header with newline", on(func(o *OpenTelemetryConfig) { o.Headers = map[string]string{"x-key": "a\nb"} }), "not a valid header"},
		// net/http refuses to send these, so every export would fail.
		{"header name not a token", on(func(o *OpenTelemetryConfig) { o.Headers = map[string]string{"x(key)": "k"} }), "not a valid header"},
		{"header name not ASCII", on(func(o *OpenTelemetryConfig) { o.Headers = map[string]string{"x-clé": "k"} }), "not a valid header"},
		{"header value with a control character", on(func(o *OpenTelemetryConfig) { o.Headers = map[string]string{"x-key": "a\x01b"} }), "not a valid header"},
		{"header value with a tab", on(func(o *OpenTelemetryConfig) { o.Headers = map[string]string{"X-Honeycomb-Team": "a\tb"} }), ""},
		{"zero timeout", on(func(o *OpenTelemetryConfig) { o.ConnectionTimeout = 0 }), "connection_timeout is 0"},
		{"simple processor", on(func(o *OpenTelemetryConfig) { o.SpanProcessorType = "simple" }), ""},
		{"unknown processor", on(func(o *OpenTelemetryConfig) { o.SpanProcessorType = "sync" }), "span_processor_type"},
		{"batch larger than queue", on(func(o *OpenTelemetryConfig) { o.SpanBatchConfig.MaxExportBatchSize = 4096 }), "max_export_batch_size is 4096"},
		{"b3", on(func(o *OpenTelemetryConfig) { o.ContextPropagation = "b3" }), ""},
		{"custom propagation", on(func(o *OpenTelemetryConfig) { o.ContextPropagation = "custom" }), "is not supported"},
		{"ratio", on(func(o *OpenTelemetryConfig) { o.Sampling = SamplingConfig{Type: SamplerRatioBased, Rate: 0.25} }), ""},
		{"rate above 1", on(func(o *OpenTelemetryConfig) { o.Sampling = SamplingConfig{Type: SamplerRatioBased, Rate: 1.5} }), "sampling.rate is 1.5"},
		{"negative rate", on(func(o *OpenTelemetryConfig) { o.Sampling = SamplingConfig{Type: SamplerRatioBased, Rate: -0.1} }), "sampling.rate is -0.1"},
		{"unknown sampler", on(func(o *OpenTelemetryConfig) { o.Sampling.Type = "Sometimes" }), `sampling.type "Sometimes"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			c.set(cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestOpenTelemetryTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"localhost:4318":                     "http://localhost:4318/v1/traces",
		"http://collector:4318":              "http://collector:4318/v1/traces",
		"https://otlp.example.com/":          "https://otlp.example.com/v1/traces",
		"https://otlp.example.com/custom/v1": "https://otlp.example.com/custom/v1",
	} {
		if got := (TracesConfig{Endpoint: in}).TracesURL(); got != want {
			t.Errorf("TracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenTelemetryFromFileAndEnv: a tyk.conf block loads as written, defaults fill what it
// leaves out, and GATEHOUSE_OPENTELEMETRY_* override it.
func TestOpenTelemetryFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tyk.conf")
	conf := `{"opentelemetry": {"enabled": true, "exporter": "http", "endpoint": "collector:4318",
		"headers": {"x-api-key": "k"}, "resource_name": "edge", "context_propagation": "b3",
		"sampling": {"type": "TraceIDRatioBased", "rate": 0.1, "parent_based": true}}}`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.OpenTelemetry
	if !o.Enabled || o.Endpoint != "collector:4318" || o.Headers["x-api-key"] != "k" || o.ResourceName != "edge" ||
		o.ContextPropagation != "b3" || o.Sampling != (SamplingConfig{Type: SamplerRatioBased, Rate: 0.1, ParentBased: true}) ||
		o.ConnectionTimeout != 1 || o.SpanProcessorType != "batch" || o.SpanBatchConfig.MaxQueueSize != 2048 {
		t.Errorf("opentelemetry from the file: %+v", o)
	}
	cfg, _, err = Load(path, []string{"GATEHOUSE_OPENTELEMETRY_SAMPLING_RATE=0.75",
		"GATEHOUSE_OPENTELEMETRY_HEADERS=authorization=Bearer t,x-tenant=a", "GATEHOUSE_OPENTELEMETRY_SPAN_PROCESSOR_TYPE=simple"})
	if err != nil {
		t.Fatal(err)
	}
	o = cfg.OpenTelemetry
	if o.Sampling.Rate != 0.75 || o.Headers["authorization"] != "Bearer t" || o.Headers["x-tenant"] != "a" || o.SpanProcessorType != "simple" {
		t.Errorf("opentelemetry from the environment: %+v", o)
	}
	_, _, err = Load(path, []string{"GATEHOUSE_OPENTELEMETRY_EXPORTER=grpc"})
	if err == nil || !strings.Contains(err.Error(), `opentelemetry.exporter "grpc" is not supported`) {
		t.Errorf("grpc from the environment: %v", err)
	}
	_, _, err = Load(path, []string{"GATEHOUSE_OPENTELEMETRY_SAMPLING_RATE=lots"})
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_OPENTELEMETRY_SAMPLING_RATE") {
		t.Errorf("a rate that is not a number: %v", err)
	}
}

// TestOpenTelemetryTracesBlock: Tyk 5.13's opentelemetry.traces wins when traces.enabled is
// true, its missing keys at their defaults (not the root's), and errors name its keys.
func TestOpenTelemetryTracesBlock(t *testing.T) {
	dir := t.TempDir()
	load := func(conf string, env ...string) (*Config, error) {
		t.Helper()
		path := filepath.Join(dir, "tyk.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := Load(path, env)
		return cfg, err
	}
	cfg, err := load(`{"opentelemetry": {"enabled": false, "endpoint": "root:4318", "connection_timeout": 9,
		"traces": {"enabled": true, "endpoint": "traces:4318", "sampling": {"type": "TraceIDRatioBased", "rate": 0.2}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	eff, prefix := cfg.OpenTelemetry.Effective()
	if !eff.Enabled || eff.Endpoint != "traces:4318" || eff.ConnectionTimeout != 1 || eff.Exporter != "http" ||
		eff.SpanBatchConfig.MaxQueueSize != 2048 || eff.Sampling != (SamplingConfig{Type: SamplerRatioBased, Rate: 0.2}) ||
		prefix != "opentelemetry.traces." {
		t.Errorf("effective settings from traces: %+v (%s)", eff, prefix)
	}
	cfg, err = load(`{"opentelemetry": {"enabled": true, "endpoint": "root:4318", "traces": {"enabled": false, "endpoint": "traces:4318"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if eff, prefix := cfg.OpenTelemetry.Effective(); !eff.Enabled || eff.Endpoint != "root:4318" || prefix != "opentelemetry." {
		t.Errorf("effective settings from the root: %+v (%s)", eff, prefix)
	}
	_, err = load(`{"opentelemetry": {"traces": {"enabled": true, "exporter": "grpc", "sampling": {"type": "TraceIDRatioBased", "rate": 2}}}}`)
	if err == nil || !strings.Contains(err.Error(), `opentelemetry.traces.exporter "grpc" is not supported`) ||
		!strings.Contains(err.Error(), "opentelemetry.traces.sampling.rate is 2") {
		t.Errorf("errors in traces: %v", err)
	}
	cfg, err = load(`{}`, "GATEHOUSE_OPENTELEMETRY_TRACES_ENABLED=true", "GATEHOUSE_OPENTELEMETRY_TRACES_ENDPOINT=env:4318")
	if err != nil {
		t.Fatal(err)
	}
	if eff, _ := cfg.OpenTelemetry.Effective(); !eff.Enabled || eff.Endpoint != "env:4318" {
		t.Errorf("traces from the environment: %+v", eff)
	}
}

// TestOpenTelemetryRootKeysChecked: the trace keys at the block's root (an embedded struct) are
// checked like any other: known keys without a warning, an unknown one warned about, a value of
// the wrong type refused, a key in the wrong case used and warned about.
func TestOpenTelemetryRootKeysChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tyk.conf")
	write := func(conf string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"listen_address": "127.0.0.1", "opentelemetry": {"enabled": true, "endpoint": "c:4318", "span_batch_config": {"batch_timeout": 2},
		"Resource_Name": "edge", "bogus": 1, "traces": {"enabled": false}}}`)
	cfg, warnings, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(warnings, "\n")
	if len(warnings) != 2 || !strings.Contains(joined, `"opentelemetry.bogus"`) || !strings.Contains(joined, `"opentelemetry.resource_name"`) {
		t.Errorf("warnings: %q; want one for opentelemetry.bogus and one for Resource_Name", warnings)
	}
	if o := cfg.OpenTelemetry; !o.Enabled || o.Endpoint != "c:4318" || o.SpanBatchConfig.BatchTimeout != 2 || o.ResourceName != "edge" {
		t.Errorf("opentelemetry: %+v", o)
	}
	write(`{"opentelemetry": {"enabled": true, "connection_timeout": "soon"}}`)
	if _, _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "opentelemetry.connection_timeout") {
		t.Errorf("a timeout that is not a number: %v", err)
	}
	for _, v := range EnvVars() {
		if strings.Contains(v, "TRACESCONFIG") {
			t.Errorf("environment variable %s names the embedded struct", v)
		}
	}
	if !slices.Contains(EnvVars(), "GATEHOUSE_OPENTELEMETRY_CONNECTION_TIMEOUT") {
		t.Error("no GATEHOUSE_OPENTELEMETRY_CONNECTION_TIMEOUT")
	}
}
