package config

import (
	"slices"
	"strings"
	"testing"
)

func TestEnvOverrides(t *testing.T) {
	file := writeConf(t, `{"listen_address": "127.0.0.1", "listen_port": 8181, "hash_keys": true,
		"storage": {"type": "redis", "host": "file-redis", "port": 6379}}`)
	tests := []struct {
		name    string
		path    string
		environ []string
		check   func(*Config) (got, want any)
	}{
		{"top-level int beats file", file, []string{"GATEHOUSE_LISTEN_PORT=9000"},
			func(c *Config) (any, any) { return c.ListenPort, 9000 }},
		{"secret", "", []string{"GATEHOUSE_SECRET=from-env"},
			func(c *Config) (any, any) { return c.Secret, "from-env" }},
		{"nested string beats file", file, []string{"GATEHOUSE_STORAGE_HOST=env-redis"},
			func(c *Config) (any, any) { return c.Storage.Host, "env-redis" }},
		{"list", "", []string{"GATEHOUSE_STORAGE_TYPE=redis", "GATEHOUSE_STORAGE_ADDRS= r1:6379, ,r2:6380 "},
			func(c *Config) (any, any) { return strings.Join(c.Storage.Addrs, "|"), "r1:6379|r2:6380" }},
		{"bool false", "", []string{"GATEHOUSE_HASH_KEYS=false"},
			func(c *Config) (any, any) { return c.HashKeys, false }},
		{"bool 1", "", []string{"GATEHOUSE_ALLOW_MASTER_KEYS=1"},
			func(c *Config) (any, any) { return c.AllowMasterKeys, true }},
		{"int64 deep", "", []string{"GATEHOUSE_HTTP_SERVER_OPTIONS_MAX_REQUEST_BODY_SIZE=1048576"},
			func(c *Config) (any, any) { return c.HTTPServerOptions.MaxRequestBodySize, int64(1 << 20) }},
		{"float", "", []string{"GATEHOUSE_PROXY_DEFAULT_TIMEOUT=0.25"},
			func(c *Config) (any, any) { return c.ProxyDefaultTimeout, 0.25 }},
		{"policy source", "", []string{"GATEHOUSE_POLICIES_POLICY_SOURCE=file", "GATEHOUSE_POLICIES_POLICY_RECORD_NAME=p.json"},
			func(c *Config) (any, any) {
				return c.Policies.PolicySource + ":" + c.Policies.PolicyRecordName, "file:p.json"
			}},
		{"empty string means all interfaces", file, []string{"GATEHOUSE_LISTEN_ADDRESS="},
			func(c *Config) (any, any) { return c.ListenAddress, "" }},
		{"first entry wins, as with os.Getenv", "", []string{"GATEHOUSE_LISTEN_PORT=9001", "GATEHOUSE_LISTEN_PORT=9002"},
			func(c *Config) (any, any) { return c.ListenPort, 9001 }},
		{"other variables ignored", "", []string{"PATH=/bin", "TYK_GW_LISTENPORT=1", "GATEHOUSE_LISTEN_PORT=9003"},
			func(c *Config) (any, any) { return c.ListenPort, 9003 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustLoad(t, tt.path, tt.environ)
			if got, want := tt.check(c); got != want {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestEnvBadValues(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"int", []string{"GATEHOUSE_LISTEN_PORT=eighty"}, []string{`GATEHOUSE_LISTEN_PORT="eighty" is not a whole number`}},
		{"empty int", []string{"GATEHOUSE_STORAGE_DATABASE="}, []string{`GATEHOUSE_STORAGE_DATABASE="" is not a whole number`}},
		{"bool", []string{"GATEHOUSE_HASH_KEYS=yes"}, []string{`GATEHOUSE_HASH_KEYS="yes" is not a boolean`}},
		{"float", []string{"GATEHOUSE_PROXY_DEFAULT_TIMEOUT=30s"}, []string{`GATEHOUSE_PROXY_DEFAULT_TIMEOUT="30s" is not a number`}},
		{"parses but invalid", []string{"GATEHOUSE_PROXY_DEFAULT_TIMEOUT=NaN"}, []string{"proxy_default_timeout is NaN"}},
		{"several with validation", []string{"GATEHOUSE_LISTEN_PORT=x", "GATEHOUSE_HASH_KEYS=maybe", "GATEHOUSE_STORAGE_TYPE=etcd"},
			[]string{"GATEHOUSE_LISTEN_PORT", "GATEHOUSE_HASH_KEYS", `storage.type "etcd" is not supported`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Load("", tt.environ)
			if c != nil {
				t.Errorf("Load returned a config along with the error")
			}
			wantErrContains(t, err, tt.want...)
		})
	}
}

func TestEnvUnknownVariable(t *testing.T) {
	_, warnings := mustLoad(t, "", []string{"GATEHOUSE_LISTEN_PROT=9000", "GATEHOUSE_ZZZZZZZZZZZZZZZZZZZZZZ=1"})
	want := []string{
		"environment variable GATEHOUSE_LISTEN_PROT matches no config key and is ignored (did you mean GATEHOUSE_LISTEN_PORT?)",
		"environment variable GATEHOUSE_ZZZZZZZZZZZZZZZZZZZZZZ matches no config key and is ignored",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", warnings, want)
	}
}

func TestEnvVars(t *testing.T) {
	vars := EnvVars()
	for _, want := range []string{
		"GATEHOUSE_LISTEN_PORT", "GATEHOUSE_SECRET", "GATEHOUSE_STORAGE_HOST", "GATEHOUSE_STORAGE_ADDRS",
		"GATEHOUSE_HTTP_SERVER_OPTIONS_MAX_REQUEST_BODY_SIZE", "GATEHOUSE_POLICIES_POLICY_SOURCE",
	} {
		if !slices.Contains(vars, want) {
			t.Errorf("EnvVars() lacks %s", want)
		}
	}
	if !slices.IsSorted(vars) {
		t.Errorf("EnvVars() is not sorted: %q", vars)
	}
	if len(slices.Compact(slices.Clone(vars))) != len(vars) {
		t.Errorf("EnvVars() has duplicates (two keys map to one variable): %q", vars)
	}
	// Every variable must be settable without a type error.
	for _, v := range vars {
		c := Default()
		value := "1"
		if v == "GATEHOUSE_HTTP_SERVER_OPTIONS_CERTIFICATES" {
			value = "[]" // a JSON list of objects, as in Tyk
		}
		if v == "GATEHOUSE_OVERRIDE_MESSAGES" || v == "GATEHOUSE_ERROR_OVERRIDES" || v == "GATEHOUSE_EVENT_HANDLERS_EVENTS" {
			value = "{}" // a JSON object of objects, or of lists
		}
		if v == "GATEHOUSE_SECURITY_PINNED_PUBLIC_KEYS" {
			value = `{"*": "a.pem, b.pem"}` // a map as a JSON object: its values hold commas
		}
		if v == "GATEHOUSE_SECURITY_CERTIFICATES_UPSTREAM" || v == "GATEHOUSE_MONITOR_CONFIGURATION_HEADER_MAP" || v == "GATEHOUSE_OPENTELEMETRY_HEADERS" || v == "GATEHOUSE_OPENTELEMETRY_TRACES_HEADERS" || v == "GATEHOUSE_SECRETS" {
			value = "*=client.pem" // a map, as KEY=VALUE pairs
		}
		if res := applyEnv(c, []string{v + "=" + value}); len(res.errs) > 0 || len(res.warnings) > 0 {
			t.Errorf("%s=%s: errors %v, warnings %q", v, value, res.errs, res.warnings)
		}
	}
}

// TestTykEnvWarned: Tyk's TYK_GW_* variables are not read, but a Tyk deployment carries its
// settings (TLS, the secret) in them: one warning names them and says what to set instead,
// rather than the gateway starting without them in silence.
func TestTykEnvWarned(t *testing.T) {
	c, warnings := mustLoad(t, "", []string{
		"TYK_GW_HTTPSERVEROPTIONS_USESSL=true",
		"TYK_GW_SECRET=s3cr3t-from-tyk-env",
		"TYK_GW_SECRET=second",
		"PATH=/bin",
	})
	if c.HTTPServerOptions.UseSSL {
		t.Fatal("TYK_GW_ variables are read now: this test's premise is gone")
	}
	var got []string
	for _, w := range warnings {
		if strings.Contains(w, "TYK_GW_") {
			got = append(got, w)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "TYK_GW_HTTPSERVEROPTIONS_USESSL, TYK_GW_SECRET are Tyk's and are not read") ||
		!strings.Contains(got[0], "GATEHOUSE_HTTP_SERVER_OPTIONS_USE_SSL") {
		t.Errorf("want one warning naming both TYK_GW_ variables and the GATEHOUSE_ form; warnings: %q", warnings)
	}
}

// TestEnvSecretsNotEchoed: a secrets variable that does not parse is an error that names it,
// never its value (the error reaches the log).
func TestEnvSecretsNotEchoed(t *testing.T) {
	res := applyEnv(Default(), []string{"GATEHOUSE_SECRETS=db=hunter2,oops", "GATEHOUSE_STORAGE_PORT=notaport",
		"GATEHOUSE_OPENTELEMETRY_HEADERS=authorization=Bearer hunter2,x-team"})
	if len(res.errs) != 3 {
		t.Fatalf("errors %v, want three", res.errs)
	}
	for _, err := range res.errs {
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the secret: %v", err)
		}
		if strings.Contains(err.Error(), "GATEHOUSE_STORAGE_PORT") && !strings.Contains(err.Error(), "notaport") {
			t.Errorf("a value that is no secret is no longer shown: %v", err)
		}
	}
}
