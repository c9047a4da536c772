package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConf writes content to a config file in a fresh directory and returns its path.
func writeConf(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tyk.conf")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads a config that must be valid.
func mustLoad(t *testing.T, path string, environ []string) (*Config, []string) {
	t.Helper()
	c, warnings, err := Load(path, environ)
	if err != nil {
		t.Fatalf("Load(%q) error: %v", path, err)
	}
	return c, warnings
}

// wantErrContains fails unless err mentions every substring.
func wantErrContains(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestLoadNoFile(t *testing.T) {
	c, warnings := mustLoad(t, "", nil)
	want := Default()
	if c.ListenAddr() != want.ListenAddr() || c.AppPath != want.AppPath || c.Storage.Type != "memory" ||
		!reflect.DeepEqual(c.HTTPServerOptions, want.HTTPServerOptions) || c.LogLevel != "info" {
		t.Errorf("Load(\"\") = %+v, want the defaults %+v", c, want)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
}

func TestLoadFileOverrides(t *testing.T) {
	path := writeConf(t, `{
		"listen_address": "",
		"listen_port": 8181,
		"control_api_port": 0,
		"hash_keys": false,
		"secret": "s3cret-s3cret",
		"storage": {"type": "redis", "host": "redis", "port": 6379, "database": 2},
		"http_server_options": {"read_timeout": 0, "max_request_body_size": 0},
		"proxy_default_timeout": 2.5,
		"bundle_download_progress_timeout": 90,
		"graceful_shutdown_timeout_duration": 0,
		"log_level": "WARNING",
		"log_format": "default",
		"app_path": null
	}`)
	c, warnings := mustLoad(t, path, nil)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen_address explicit empty", c.ListenAddress, ""},
		{"listen_port", c.ListenPort, 8181},
		{"control_api_port explicit 0", c.ControlAPIPort, 0},
		{"control on main listener", c.ControlOnMainListener(), true},
		// Explicit false, overridden by the Redis store (TestRedisAlwaysHashesKeys).
		{"hash_keys explicit false with redis", c.HashKeys, true},
		{"secret", c.Secret, "s3cret-s3cret"},
		{"storage.type", c.Storage.Type, "redis"},
		{"storage.database", c.Storage.Database, 2},
		{"read_timeout explicit 0", c.HTTPServerOptions.ReadTimeout, 0},
		{"idle_timeout default kept", c.HTTPServerOptions.IdleTimeout, 120},
		{"max_request_body_size explicit 0", c.HTTPServerOptions.MaxRequestBodySize, int64(0)},
		{"proxy_default_timeout", c.ProxyDefaultTimeout, 2.5},
		{"bundle_download_progress_timeout", c.BundleProgressTimeout(), 90 * time.Second},
		{"graceful explicit 0", c.GracefulShutdownTimeoutDuration, 0},
		{"log_level normalised", c.LogLevel, "warn"},
		{"log_format normalised", c.LogFormat, "text"},
		{"null keeps default", c.AppPath, "apps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	want := "http_server_options.max_request_body_size is 0: request bodies are unlimited"
	if !slices.Contains(warnings, want) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	path := writeConf(t, `{
		"enable_jsvm": false,
		"analytics_config": {"type": "", "ignored_ips": [], "analytics_storage": {}},
		"storage": {"type": "memory", "optimisation_max_idle": 2000},
		"http_server_options": {"enable_websockets": true, "flush_interval": 5},
		"Listen_Port": 9000,
		"listen_address": "127.0.0.1"
	}`)
	c, warnings := mustLoad(t, path, nil)
	want := []string{
		`config key "Listen_Port" is used as "listen_port"; spell it "listen_port"`,
		`unknown config key "analytics_config.analytics_storage" ignored`,
		`unknown config key "enable_jsvm" ignored`,
		`unknown config key "http_server_options.flush_interval" ignored`,
		`unknown config key "storage.optimisation_max_idle" ignored`,
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warnings, want)
	}
	if c.ListenPort != 9000 {
		t.Errorf("listen_port = %d, want 9000 (matched case-insensitively, as encoding/json does)", c.ListenPort)
	}
	if !c.HTTPServerOptions.EnableWebSockets {
		t.Error("http_server_options.enable_websockets was not read")
	}
}

func TestLoadSyntaxAndTypeErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"trailing comma", "{\n  \"listen_port\": 8080,\n}\n",
			[]string{"line 3, column 1", "trailing comma", "line 2, column 22"}},
		{"template placeholder", "{\n  \"listen_port\": LISTEN_PORT\n}",
			[]string{"line 2, column 18", "invalid character 'L'"}},
		{"unterminated", "{\n  \"listen_port\": 8080\n", []string{"line 3, column 1", "unexpected end"}},
		{"after a multi-byte character", "{\"secret\": \"é\" \"x\": 1}", []string{"line 1, column 16"}},
		{"empty file", "", []string{"is empty"}},
		{"not an object", "[1, 2]", []string{"top-level value must be a JSON object, not a list"}},
		{"wrong types", `{"listen_port": "8080", "hash_keys": "yes", "storage": {"port": 1.5, "addrs": ["a:1", 2]},
			"proxy_default_timeout": "30", "policies": []}`,
			[]string{
				`listen_port must be a whole number, not the string "8080"`,
				`hash_keys must be true or false, not the string "yes"`,
				`storage.port must be a whole number, not the number 1.5`,
				`storage.addrs[1] must be a string, not the number 2`,
				`proxy_default_timeout must be a number, not the string "30"`,
				`policies must be an object, not a list`,
			}},
		{"integer overflow", `{"http_server_options": {"max_request_body_size": 9223372036854775808}}`,
			[]string{"http_server_options.max_request_body_size must be a whole number of at most 64 bits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConf(t, tt.content)
			c, _, err := Load(path, nil)
			if c != nil {
				t.Errorf("Load returned a config along with the error")
			}
			wantErrContains(t, err, append(tt.want, path)...)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.conf"), nil)
	wantErrContains(t, err, "reading config file", "nope.conf")
}

func TestLoadRelativePaths(t *testing.T) {
	path := writeConf(t, `{
		"app_path": "apps.d",
		"middleware_path": "./mw",
		"public_key_path": "keys/pub.pem",
		"policies": {"policy_source": "file", "policy_record_name": "policies.json"},
		"analytics_config": {"file_path": "logs/analytics.jsonl"}
	}`)
	dir := filepath.Dir(path)
	tests := []struct {
		name    string
		environ []string
		app     string
		mw      string
		key     string
		pol     string
		ana     string
	}{
		{"from file", nil, filepath.Join(dir, "apps.d"), filepath.Join(dir, "mw"),
			filepath.Join(dir, "keys/pub.pem"), filepath.Join(dir, "policies.json"), filepath.Join(dir, "logs/analytics.jsonl")},
		{"environment stays relative",
			[]string{"GATEHOUSE_APP_PATH=env-apps", "GATEHOUSE_POLICIES_POLICY_RECORD_NAME=p.json", "GATEHOUSE_ANALYTICS_CONFIG_FILE_PATH=a.jsonl"},
			"env-apps", filepath.Join(dir, "mw"), filepath.Join(dir, "keys/pub.pem"), "p.json", "a.jsonl"},
		{"absolute from environment", []string{"GATEHOUSE_MIDDLEWARE_PATH=/srv/mw"},
			filepath.Join(dir, "apps.d"), "/srv/mw", filepath.Join(dir, "keys/pub.pem"), filepath.Join(dir, "policies.json"), filepath.Join(dir, "logs/analytics.jsonl")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustLoad(t, path, tt.environ)
			for _, g := range []struct{ key, got, want string }{
				{"app_path", c.AppPath, tt.app},
				{"middleware_path", c.MiddlewarePath, tt.mw},
				{"public_key_path", c.PublicKeyPath, tt.key},
				{"policy_record_name", c.Policies.PolicyRecordName, tt.pol},
				{"analytics_config.file_path", c.AnalyticsConfig.FilePath, tt.ana},
			} {
				if g.got != g.want {
					t.Errorf("%s = %q, want %q", g.key, g.got, g.want)
				}
			}
		})
	}

	t.Run("template_path", func(t *testing.T) {
		p := writeConf(t, `{"template_path": "errors.d"}`)
		if c, _ := mustLoad(t, p, nil); c.TemplatePath != filepath.Join(filepath.Dir(p), "errors.d") {
			t.Errorf("template_path from the file = %q, want it relative to the file", c.TemplatePath)
		}
		if c, _ := mustLoad(t, writeConf(t, `{}`), nil); c.TemplatePath != DefaultTemplatePath {
			t.Errorf("template_path by default = %q, want %q (relative to the working directory)", c.TemplatePath, DefaultTemplatePath)
		}
	})
	t.Run("defaults stay relative", func(t *testing.T) {
		c, _ := mustLoad(t, writeConf(t, `{"listen_port": 8080}`), nil)
		if c.AppPath != "apps" || c.MiddlewarePath != "middleware" || c.AnalyticsConfig.FilePath != "analytics.jsonl" {
			t.Errorf("app_path, middleware_path, analytics_config.file_path = %q, %q, %q; want the relative defaults",
				c.AppPath, c.MiddlewarePath, c.AnalyticsConfig.FilePath)
		}
	})
	t.Run("absolute in file untouched", func(t *testing.T) {
		c, _ := mustLoad(t, writeConf(t, `{"app_path": "/etc/gatehouse/apps/"}`), nil)
		if c.AppPath != "/etc/gatehouse/apps/" {
			t.Errorf("app_path = %q, want it unchanged", c.AppPath)
		}
	})
	t.Run("record name is a path only for file policies", func(t *testing.T) {
		c, _ := mustLoad(t, writeConf(t, `{"policies": {"policy_record_name": "tyk_policies"}}`), nil)
		if c.Policies.PolicyRecordName != "tyk_policies" {
			t.Errorf("policy_record_name = %q, want it unchanged", c.Policies.PolicyRecordName)
		}
	})
	t.Run("file policy source from environment", func(t *testing.T) {
		c, _ := mustLoad(t, writeConf(t, `{"policies": {"policy_record_name": "pol.json"}}`),
			[]string{"GATEHOUSE_POLICIES_POLICY_SOURCE=file"})
		if !filepath.IsAbs(c.Policies.PolicyRecordName) || filepath.Base(c.Policies.PolicyRecordName) != "pol.json" {
			t.Errorf("policy_record_name = %q, want it resolved against the config directory", c.Policies.PolicyRecordName)
		}
	})
}

func TestLoadListenAddressNote(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		environ  []string
		wantNote bool
	}{
		{"file without listen_address", `{}`, nil, true},
		{"file with listen_address", `{"listen_address": ""}`, nil, false},
		{"environment sets it", `{}`, []string{"GATEHOUSE_LISTEN_ADDRESS=0.0.0.0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings := mustLoad(t, writeConf(t, tt.content), tt.environ)
			got := slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "listen_address is not set") })
			if got != tt.wantNote {
				t.Errorf("warnings = %q; want listen_address note: %v", warnings, tt.wantNote)
			}
		})
	}
}

func TestRedisAlwaysHashesKeys(t *testing.T) {
	c, warnings, err := Load("", []string{"GATEHOUSE_STORAGE_TYPE=redis", "GATEHOUSE_HASH_KEYS=false"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.HashKeys {
		t.Error("hash_keys stayed false with the Redis store: raw keys would be written to Redis")
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "hash_keys is false") {
		t.Errorf("no warning says hash_keys was overridden: %q", warnings)
	}
	c, _, err = Load("", []string{"GATEHOUSE_HASH_KEYS=false"})
	if err != nil || c.HashKeys {
		t.Errorf("with the memory store hash_keys false is kept: %v, %v", c.HashKeys, err)
	}
}

// TestLoadStorageTimeoutZero: tyk.conf files often carry "timeout": 0, which Tyk reads as its
// default; so does Gatehouse (with its own default), saying so, from the file or the environment.
func TestLoadStorageTimeoutZero(t *testing.T) {
	path := writeConf(t, `{"listen_address": "127.0.0.1", "storage": {"type": "redis", "host": "localhost", "port": 6379, "timeout": 0}}`)
	for _, tc := range []struct {
		name    string
		path    string
		environ []string
	}{
		{"file", path, nil},
		{"environment", "", []string{"GATEHOUSE_STORAGE_TIMEOUT=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, warnings := mustLoad(t, tc.path, tc.environ)
			if got, want := c.StorageTimeout(), Default().StorageTimeout(); got != want {
				t.Errorf("storage timeout = %v, want the default %v", got, want)
			}
			if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "storage.timeout is 0, which means the default") }) {
				t.Errorf("no warning about storage.timeout 0 in %q", warnings)
			}
		})
	}
}

// TestOverrideMessages: Tyk's override_messages change the key check's refusals, from the file
// or the environment (a JSON object); a status that is not an error's is refused, and names
// that change nothing in Gatehouse are noted.
func TestOverrideMessages(t *testing.T) {
	c, warnings := mustLoad(t, writeConf(t, `{"override_messages": {
		"auth.auth_field_missing": {"code": 400, "message": "Send an API key"},
		"auth.key_not_found": {"message": "Unknown key"},
		"oauth.key_not_found": {"code": 401},
		"auth.cert_required": {"code": 401},
		"auth.typo": {"message": "x"}}}`), nil)
	if code, msg := c.Reply(ErrAuthFieldMissing, 401, "Authorization field missing"); code != 400 || msg != "Send an API key" {
		t.Errorf("auth.auth_field_missing: %d %q", code, msg)
	}
	if code, msg := c.Reply(ErrAuthKeyNotFound, 403, "Access to this API has been disallowed"); code != 403 || msg != "Unknown key" {
		t.Errorf("auth.key_not_found with a message only: %d %q, want the default status kept", code, msg)
	}
	if code, msg := c.Reply(ErrOAuthKeyNotFound, 403, "Key not authorised"); code != 401 || msg != "Key not authorised" {
		t.Errorf("oauth.key_not_found with a code only: %d %q", code, msg)
	}
	for _, id := range []string{"auth.cert_required", "auth.typo"} {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "override_messages."+id+" changes nothing") }) {
			t.Errorf("no note that override_messages.%s changes nothing: %q", id, warnings)
		}
	}
	if slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, "override_messages.auth.key_not_found") || strings.Contains(w, "override_messages.oauth.key_not_found")
	}) {
		t.Errorf("a note for a name Gatehouse answers: %q", warnings)
	}

	c, _ = mustLoad(t, "", []string{`GATEHOUSE_OVERRIDE_MESSAGES={"auth.key_not_found": {"code": 401, "message": "No such key"}}`})
	if code, msg := c.Reply(ErrAuthKeyNotFound, 403, "x"); code != 401 || msg != "No such key" {
		t.Errorf("from the environment: %d %q", code, msg)
	}

	for _, env := range []string{`{"auth.key_not_found": {"code": 401}} trailing`, `{"auth.key_not_found": {"code": 401}} {}`, `{"auth.key_not_found": {"code": 401}}]`} {
		if _, _, err := Load("", []string{"GATEHOUSE_OVERRIDE_MESSAGES=" + env}); err == nil {
			t.Errorf("GATEHOUSE_OVERRIDE_MESSAGES=%s loaded; want refused: text after the JSON", env)
		}
	}

	for _, bad := range []string{`{"auth.key_not_found": {"code": 200}}`, `{"auth.auth_field_missing": {"code": 302}}`, `{"auth.key_not_found": {"code": 600}}`} {
		_, _, err := Load(writeConf(t, `{"override_messages": `+bad+`}`), nil)
		if err == nil || !strings.Contains(err.Error(), "it must be an error status from 400 to 599") {
			t.Errorf("%s: %v, want refused", bad, err)
		}
	}
}
