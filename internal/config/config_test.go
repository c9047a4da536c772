package config

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen_address", c.ListenAddress, "127.0.0.1"},
		{"listen_port", c.ListenPort, 8080},
		{"secret", c.Secret, ""},
		{"control_api_hostname", c.ControlAPIHostname, "127.0.0.1"},
		{"control_api_port", c.ControlAPIPort, 9696},
		{"app_path", c.AppPath, "apps"},
		{"middleware_path", c.MiddlewarePath, "middleware"},
		{"hash_keys", c.HashKeys, true},
		{"min_token_length", c.MinTokenLength, 3},
		{"TokenMinLength", c.TokenMinLength(), 3},
		{"allow_master_keys", c.AllowMasterKeys, false},
		{"storage.type", c.Storage.Type, "memory"},
		{"policies.policy_source", c.Policies.PolicySource, ""},
		{"read_timeout", c.HTTPServerOptions.ReadTimeout, 120},
		{"write_timeout", c.HTTPServerOptions.WriteTimeout, 0},
		{"read_header_timeout", c.HTTPServerOptions.ReadHeaderTimeout, 10},
		{"idle_timeout", c.HTTPServerOptions.IdleTimeout, 120},
		{"max_request_body_size", c.HTTPServerOptions.MaxRequestBodySize, int64(100 << 20)},
		{"proxy_default_timeout", c.ProxyDefaultTimeout, 30.0},
		{"bundle_download_progress_timeout", c.BundleProgressTimeout(), 30 * time.Second},
		{"graceful_shutdown_timeout_duration", c.GracefulShutdownTimeoutDuration, 30},
		{"log_level", c.LogLevel, "info"},
		{"log_format", c.LogFormat, "text"},
		{"health_check_endpoint_name", c.HealthCheckEndpointName, "hello"},
		{"readiness_check_endpoint_name", c.ReadinessCheckEndpointName, "ready"},
		{"graceful_shutdown_delay_seconds", c.GracefulShutdownDelaySeconds, 0},
		{"fail_on_plugin_load_error", c.FailOnPluginLoadError, false},
		{"enable_analytics", c.EnableAnalytics, false},
		{"analytics_config.file_path", c.AnalyticsConfig.FilePath, "analytics.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Config)
		listen     string
		control    string
		onMainPort bool
	}{
		{"defaults", func(*Config) {}, "127.0.0.1:8080", "127.0.0.1:9696", false},
		{"all interfaces", func(c *Config) { c.ListenAddress, c.ControlAPIHostname = "", "" }, ":8080", ":9696", false},
		{"ipv6", func(c *Config) { c.ListenAddress, c.ControlAPIHostname = "::1", "fe80::1%eth0" },
			"[::1]:8080", "[fe80::1%eth0]:9696", false},
		{"control port 0", func(c *Config) { c.ControlAPIPort = 0 }, "127.0.0.1:8080", "127.0.0.1:8080", true},
		{"same host and port", func(c *Config) { c.ControlAPIPort = 8080 }, "127.0.0.1:8080", "127.0.0.1:8080", true},
		{"same port other host", func(c *Config) { c.ControlAPIPort, c.ControlAPIHostname = 8080, "10.0.0.1" },
			"127.0.0.1:8080", "10.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			if got := c.ListenAddr(); got != tt.listen {
				t.Errorf("ListenAddr() = %q, want %q", got, tt.listen)
			}
			if got := c.ControlAddr(); got != tt.control {
				t.Errorf("ControlAddr() = %q, want %q", got, tt.control)
			}
			if got := c.ControlOnMainListener(); got != tt.onMainPort {
				t.Errorf("ControlOnMainListener() = %v, want %v", got, tt.onMainPort)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name  string
		proxy float64
		grace int
		wantP time.Duration
		wantG time.Duration
	}{
		{"defaults", 30, 30, 30 * time.Second, 30 * time.Second},
		{"fraction and zero", 1.5, 0, 1500 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.ProxyDefaultTimeout, c.GracefulShutdownTimeoutDuration = tt.proxy, tt.grace
			if got := c.ProxyTimeout(); got != tt.wantP {
				t.Errorf("ProxyTimeout() = %v, want %v", got, tt.wantP)
			}
			if got := c.GraceTimeout(); got != tt.wantG {
				t.Errorf("GraceTimeout() = %v, want %v", got, tt.wantG)
			}
		})
	}
}

func TestSlogLevel(t *testing.T) {
	tests := []struct {
		level string
		want  slog.Level
	}{
		{"debug", slog.LevelDebug},
		{"info", slog.LevelInfo},
		{"", slog.LevelInfo},
		{"warn", slog.LevelWarn},
		{"warning", slog.LevelWarn},
		{"WARNING", slog.LevelWarn},
		{"error", slog.LevelError},
		{"bogus", slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			c := Default()
			c.LogLevel = tt.level
			if got := c.SlogLevel(); got != tt.want {
				t.Errorf("SlogLevel() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSecretProblem(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		want   []string // substrings; none means no problem
	}{
		{"empty", "", []string{"empty", "secret", "GATEHOUSE_SECRET"}},
		{"blank", "   ", []string{"empty"}},
		{"tyk sample", TykSampleSecret, []string{"sample", "secret", "GATEHOUSE_SECRET"}},
		{"good", "b7c1d0e4a9f24c6f8e3d2a1b0c9f8e7d", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Secret = tt.secret
			got := c.SecretProblem()
			if tt.want == nil {
				if got != "" {
					t.Errorf("SecretProblem() = %q, want \"\"", got)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("SecretProblem() = %q, want it to mention %q", got, w)
				}
			}
			if !strings.HasSuffix(got, ".") {
				t.Errorf("SecretProblem() = %q, want a full sentence", got)
			}
		})
	}
}

// TestDocListsEveryKey keeps the package documentation's key list in step with Config: every
// key (as the environment overrides derive them) must be named in doc.go.
func TestDocListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves() {
		if !strings.Contains(string(doc), l.key()) {
			t.Errorf("doc.go does not document the key %s; add it to \"Keys and defaults\"", l.key())
		}
	}
}

// TestTokenMinLength: min_token_length 0 is Tyk's default, 3.
func TestTokenMinLength(t *testing.T) {
	for set, want := range map[int]int{0: 3, 1: 1, 3: 3, 8: 8} {
		c := Default()
		c.MinTokenLength = set
		if got := c.TokenMinLength(); got != want {
			t.Errorf("min_token_length %d: TokenMinLength() = %d, want %d", set, got, want)
		}
	}
}
