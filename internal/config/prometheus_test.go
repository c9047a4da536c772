package config

import (
	"strings"
	"testing"
)

func TestPrometheusKeys(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"tyk-pump's all interfaces", func(c *Config) { c.Prometheus.ListenAddress = ":9090" }, ""},
		{"a free port", func(c *Config) { c.Prometheus.ListenAddress = "127.0.0.1:0" }, ""},
		{"off ignores the rest", func(c *Config) { c.Prometheus = PrometheusConfig{Enabled: false, ListenAddress: "nonsense"} }, ""},
		{"no port", func(c *Config) { c.Prometheus.ListenAddress = "127.0.0.1" }, "is not host:port"},
		{"bad port", func(c *Config) { c.Prometheus.ListenAddress = "127.0.0.1:99999" }, "the port must be"},
		{"the proxy's address", func(c *Config) { c.Prometheus.ListenAddress = "127.0.0.1:8080" }, "a listener of their own"},
		{"the Gateway API's address", func(c *Config) { c.Prometheus.ListenAddress = "127.0.0.1:9696" }, "a listener of their own"},
		{"relative path", func(c *Config) { c.Prometheus.Path = "metrics" }, "must start with /"},
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

func TestPrometheusFromFileAndEnv(t *testing.T) {
	cfg, _, err := Load("", []string{"GATEHOUSE_PROMETHEUS_ENABLED=false", "GATEHOUSE_PROMETHEUS_PATH=/m"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Prometheus.Enabled || cfg.Prometheus.Path != "/m" || cfg.Prometheus.ListenAddress != DefaultPrometheusAddress {
		t.Errorf("prometheus from the environment: %+v", cfg.Prometheus)
	}
}
