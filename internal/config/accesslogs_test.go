package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAccessLogsKeys(t *testing.T) {
	cfg := Default()
	if cfg.AccessLogs.Enabled {
		t.Error("access_logs is on by default")
	}
	cfg.AccessLogs.Template = []string{"request_uri"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("a template is checked while access_logs is off: %v", err)
	}
	cfg.AccessLogs.Enabled = true
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), `access_logs.template: unknown field "request_uri"`) ||
		!strings.Contains(err.Error(), "api_key, client_ip, host") {
		t.Errorf("unknown template field: %v", err)
	}
	cfg.AccessLogs.Template = []string{"status", "api_key"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("known fields: %v", err)
	}
}

func TestAccessLogsFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tyk.conf")
	conf := `{"listen_address": "127.0.0.1", "access_logs": {"enabled": true, "template": ["client_ip", "status"]}}`
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.AccessLogs.Enabled || !slices.Equal(cfg.AccessLogs.Template, []string{"client_ip", "status"}) {
		t.Errorf("access_logs from the file: %+v", cfg.AccessLogs)
	}
	cfg, _, err = Load(file, []string{"GATEHOUSE_ACCESS_LOGS_TEMPLATE=method,path,status"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.AccessLogs.Template, []string{"method", "path", "status"}) {
		t.Errorf("access_logs.template from the environment: %q", cfg.AccessLogs.Template)
	}
	_, _, err = Load(file, []string{"GATEHOUSE_ACCESS_LOGS_TEMPLATE=method,query"})
	if err == nil || !strings.Contains(err.Error(), `unknown field "query"`) {
		t.Errorf("unknown field from the environment: %v", err)
	}
	cfg, _, err = Load("", []string{"GATEHOUSE_ACCESS_LOGS_ENABLED=true"})
	if err != nil || !cfg.AccessLogs.Enabled || len(cfg.AccessLogs.Template) != 0 {
		t.Errorf("access_logs.enabled from the environment: %+v, %v", cfg.AccessLogs, err)
	}
}
