package config

// Tests on our own Tyk-style tyk.conf fixtures (testdata/tyk), which run everywhere, CI
// included. They check what corpus_test.go checks on Tyk's sample configs when that corpus is
// beside the repository: Tyk's keys that Gatehouse reads decode to the right values, the keys it
// does not read are reported as warnings and are never fatal, and what Gatehouse cannot do
// (Dashboard or MDCB policies, invalid storage settings, broken JSON) is refused with the reason.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const confFixtures = "testdata/tyk"

// fixtureAbs returns the absolute path of a file under testdata/tyk, and its directory.
func fixtureAbs(t *testing.T, name string) (path, dir string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(confFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return path, filepath.Dir(path)
}

var unknownKeyWarning = regexp.MustCompile(`^unknown config key "([^"]+)" ignored$`)

// unknownKeys returns the keys the warnings report as unknown, in order.
func unknownKeys(warnings []string) []string {
	var keys []string
	for _, w := range warnings {
		if m := unknownKeyWarning.FindStringSubmatch(w); m != nil {
			keys = append(keys, m[1])
		}
	}
	return keys
}

// otherWarnings returns the warnings that are not about unknown keys.
func otherWarnings(warnings []string) []string {
	var out []string
	for _, w := range warnings {
		if !unknownKeyWarning.MatchString(w) {
			out = append(out, w)
		}
	}
	return out
}

const listenAddressNote = `listen_address is not set, so the gateway listens on 127.0.0.1 only ` +
	`(Tyk listens on all interfaces); set listen_address to "" to listen on all interfaces`

const nodeSecretNote = "node_secret is empty, so notifications between gateways are signed with " +
	"secret; every node sharing Redis must then have the same secret"

// loadingFixtures are Tyk-style configs that load. unknown lists exactly the keys reported as
// ignored; notes lists exactly the other warnings (substrings); check asserts decoded values.
var loadingFixtures = []struct {
	file    string
	unknown []string
	notes   []string
	check   func(t *testing.T, c *Config, dir string)
}{
	{
		// Tyk's standalone shape: Redis by host and port, policies from a file, the sample
		// secret, the bundle downloader on without a base URL, and many keys Gatehouse ignores.
		file: "standalone.conf",
		unknown: []string{
			"allow_insecure_configs", "close_connections", "coprocess_options", "enable_jsvm",
			"enable_non_transactional_rate_limiter", "enable_redis_rolling_limiter",
			"enable_sentinel_rate_limiter", "force_global_session_lifetime", "global_session_lifetime",
			"health_check", "jwt_ssl_insecure_skip_verify",
			"max_idle_connections_per_host", "storage.optimisation_max_idle",
			"tyk_js_path", "use_db_app_configs",
		},
		notes: []string{
			listenAddressNote,
			NoNotificationSecret,
			"enable_bundle_downloader is true but bundle_base_url is empty",
		},
		check: func(t *testing.T, c *Config, dir string) {
			check(t, "listen_address (Gatehouse default)", c.ListenAddress, "127.0.0.1")
			check(t, "listen_port", c.ListenPort, 8181)
			check(t, "control (defaults)", c.ControlAddr(), "127.0.0.1:9696")
			check(t, "app_path (relative to the file)", c.AppPath, filepath.Join(dir, "apps"))
			check(t, "middleware_path", c.MiddlewarePath, filepath.Join(dir, "middleware"))
			check(t, "template_path (absolute)", c.TemplatePath, "/srv/gateway/templates")
			check(t, "storage", c.Storage, storageWith(func(s *StorageConfig) {
				s.Type, s.Host, s.Port, s.Password, s.Database = "redis", "cache-primary", 6380, "r3dis-pass", 2
				s.OptimisationMaxActive = 2500
			}))
			check(t, "policies.policy_source", c.Policies.PolicySource, "file")
			check(t, "PolicyFile", c.PolicyFile(), filepath.Join(dir, "policies", "policies.json"))
			check(t, "hash_keys", c.HashKeys, true)
			check(t, "allow_master_keys", c.AllowMasterKeys, false)
			check(t, "enable_analytics", c.EnableAnalytics, false)
			check(t, "enable_bundle_downloader", c.EnableBundleDownloader, true)
			check(t, "bundle_base_url", c.BundleBaseURL, "")
			check(t, "log_level (warning)", c.LogLevel, "warn")
			check(t, "log_format (default)", c.LogFormat, "text")
			wantOpts := Default().HTTPServerOptions
			wantOpts.EnableWebSockets = true // the only key of the file's http_server_options
			check(t, "http_server_options (defaults)", c.HTTPServerOptions, wantOpts)
			if c.SecretProblem() == "" {
				t.Error("SecretProblem() = \"\" for Tyk's published sample secret")
			}
			check(t, "NotificationSecret", c.NotificationSecret(), "")
		},
	},
	{
		// Redis through Sentinel over TLS, with enable_cluster also set (Sentinel wins, as in
		// Tyk), analytics (to Redis, so file_path is noted as unused), signed bundles from https, and
		// its own Gateway API listener.
		file:    "sentinel.conf",
		unknown: []string{"dns_cache", "storage.optimisation_max_idle"},
		notes: []string{
			"storage.master_name and storage.enable_cluster are both set; as in Tyk, Sentinel (master_name) is used and enable_cluster is ignored",
			"storage.ssl_insecure_skip_verify is true: the Redis server's certificate is not checked",
			`policies.policy_record_name is "tyk_policies" but policies.policy_source is empty, so no policies are loaded`,
			`analytics_config.file_path is not used with Redis: records go to the Redis list tyk-pump reads`,
			"bundle_insecure_skip_verify is true: the bundle server's TLS certificate is not checked",
		},
		check: func(t *testing.T, c *Config, dir string) {
			check(t, "listen_address (explicitly all)", c.ListenAddress, "")
			check(t, "ListenAddr", c.ListenAddr(), ":8443")
			check(t, "ControlAddr", c.ControlAddr(), "10.0.4.12:9797")
			check(t, "uptime_tests.config.checker_pool_size", c.UptimeTests.Config.CheckerPoolSize, 20)
			check(t, "ControlOnMainListener", c.ControlOnMainListener(), false)
			check(t, "app_path (absolute)", c.AppPath, "/etc/gateway/apps")
			check(t, "storage", c.Storage, storageWith(func(s *StorageConfig) {
				s.Type = "redis"
				s.Addrs = []string{"sentinel-a.cache.internal:26379", "sentinel-b.cache.internal:26379", "10.0.9.3:26379"}
				s.MasterName, s.SentinelPassword = "gateway-master", "s3ntinel-pass"
				s.Username, s.Password = "gateway", "r3dis-acl-pass"
				s.EnableCluster, s.UseSSL, s.SSLInsecureSkipVerify = true, true, true
				s.CAFile = filepath.Join(dir, "tls", "redis-ca.pem")
				s.CertFile = filepath.Join(dir, "tls", "gateway.pem")
				s.KeyFile = filepath.Join(dir, "tls", "gateway-key.pem")
				s.TLSMinVersion, s.TLSMaxVersion = "1.2", "1.3"
				s.Timeout, s.OptimisationMaxActive = 2.5, 300
			}))
			check(t, "StorageTimeout", c.StorageTimeout().String(), "2.5s")
			lo, hi := c.Storage.TLSVersions()
			check(t, "Storage.TLSVersions", [2]uint16{lo, hi}, [2]uint16{0x0303, 0x0304})
			check(t, "NotificationSecret", c.NotificationSecret(), "9e7c5a3f1d2b4c6e8a0f2d4b6c8e0a2f4d6b8c0e2a4f6d8b")
			check(t, "SecretProblem", c.SecretProblem(), "")
			check(t, "enable_analytics", c.EnableAnalytics, true)
			check(t, "analytics_config.file_path", c.AnalyticsConfig.FilePath, filepath.Join(dir, "var", "analytics.jsonl"))
			check(t, "policies", c.Policies, PoliciesConfig{PolicyRecordName: "tyk_policies"})
			check(t, "PolicyFile", c.PolicyFile(), "")
			check(t, "bundles", [3]any{c.EnableBundleDownloader, c.BundleBaseURL, c.BundleInsecureSkipVerify},
				[3]any{true, "https://bundles.example.test/gateway/", true})
			check(t, "public_key_path", c.PublicKeyPath, filepath.Join(dir, "keys", "bundle-signing.pub"))
			check(t, "fail_on_plugin_load_error", c.FailOnPluginLoadError, true)
			check(t, "log_level (DEBUG)", c.LogLevel, "debug")
			check(t, "log_format", c.LogFormat, "json")
		},
	},
	{
		// A Redis Cluster by addresses (an IPv6 one included), hash_keys false (overridden),
		// Gatehouse's own listener and limit keys beside Tyk's, and Tyk's error_overrides.
		file: "cluster.conf",
		unknown: []string{
			"hash_key_function",
			"http_server_options.flush_interval",
			"http_server_options.server_name",
		},
		notes: []string{
			"storage.fallback_to_cached_sessions is true",
			"the secret notifications are signed with is 10 characters long",
			"http_server_options.max_request_body_size is 0: request bodies are unlimited",
			`health_check_endpoint_name is "status", the status page's path`,
			`hash_keys is false, but with storage.type "redis" keys are always stored under their SHA-256`,
		},
		check: func(t *testing.T, c *Config, dir string) {
			check(t, "ListenAddr", c.ListenAddr(), "0.0.0.0:8080")
			check(t, "ControlOnMainListener (port 0)", c.ControlOnMainListener(), true)
			check(t, "error_overrides 403 flag", c.ErrorOverrides["403"][0].Match.Flag, "AKI")
			check(t, "error_overrides 403 status", c.ErrorOverrides["403"][0].Response.StatusCode, 401)
			check(t, "ControlAddr", c.ControlAddr(), "0.0.0.0:8080")
			check(t, "storage", c.Storage, storageWith(func(s *StorageConfig) {
				s.Type = "redis"
				s.Addrs = []string{
					"redis-0.cluster.internal:6379", "redis-1.cluster.internal:6379",
					"redis-2.cluster.internal:6379", "[fd00::10]:6379",
				}
				s.EnableCluster, s.Timeout, s.OptimisationMaxActive, s.FallbackToCachedSessions = true, 1, 0, true
			}))
			check(t, "hash_keys (forced with redis)", c.HashKeys, true)
			check(t, "allow_master_keys", c.AllowMasterKeys, true)
			check(t, "suppress_redis_signal_reload", c.SuppressRedisSignalReload, true)
			check(t, "access_logs", c.AccessLogs, AccessLogsConfig{Enabled: true})
			// The file's values over the defaults (for the keys it does not set).
			wantOpts := Default().HTTPServerOptions
			wantOpts.ReadTimeout, wantOpts.WriteTimeout, wantOpts.ReadHeaderTimeout = 60, 0, 5
			wantOpts.IdleTimeout, wantOpts.MaxRequestBodySize = 90, 0
			wantOpts.Certificates = []CertificateFile{} // "certificates": [], no TLS
			wantOpts.EnableWebSockets = true
			check(t, "http_server_options", c.HTTPServerOptions, wantOpts)
			check(t, "ProxyTimeout", c.ProxyTimeout().String(), "15s")
			check(t, "GraceTimeout", c.GraceTimeout().String(), "5s")
			check(t, "health_check_endpoint_name", c.HealthCheckEndpointName, "status")
			check(t, "app_path", c.AppPath, filepath.Join(dir, "apps"))
			check(t, "policies (none)", c.PolicyFile(), "")
		},
	},
	{
		// Records and uptime analytics to a Redis of their own (enable_separate_analytics_store),
		// over TLS with a CA beside the file, and the storage block's timeout; cached responses
		// to another (enable_separate_cache_store).
		file:    "separate-stores.conf",
		unknown: []string{"analytics_storage.optimisation_max_idle"},
		check: func(t *testing.T, c *Config, dir string) {
			check(t, "SeparateAnalyticsStore", c.SeparateAnalyticsStore(), true)
			check(t, "analytics_storage", c.AnalyticsStorage, StorageConfig{
				Type: "redis", Addrs: []string{"redis-analytics.internal:6380"},
				Username: "pump", Password: "analytics-pass", Database: 3,
				UseSSL: true, CAFile: filepath.Join(dir, "tls", "analytics-ca.pem"), TLSMinVersion: "1.3",
				OptimisationMaxActive: 50,
			})
			check(t, "AnalyticsStorageTimeout (storage's)", c.AnalyticsStorageTimeout().String(), "2s")
			lo, hi := c.AnalyticsStorage.TLSVersions()
			check(t, "AnalyticsStorage.TLSVersions", [2]uint16{lo, hi}, [2]uint16{0x0304, 0x0304})
			check(t, "storage.host", c.Storage.Host, "redis-keys.internal")
			check(t, "ResponseCacheStore", c.ResponseCacheStore(), "redis")
			check(t, "cache_storage", c.CacheStorage, StorageConfig{Type: "redis", Host: "redis-cache.internal", Port: 6381, Timeout: 0.5})
			check(t, "CacheStorageTimeout", c.CacheStorageTimeout().String(), "500ms")
		},
	},
}

// failingFixtures are Tyk-style configs that must be refused: err lists substrings of the
// error, unknown the keys still reported as ignored.
var failingFixtures = []struct {
	file string
	// namesFile says the error names the file (decoding errors do; checks of the merged
	// configuration, which may come from the environment too, do not).
	namesFile bool
	err       []string
	unknown   []string
}{
	{
		file:    "mongo-policies.conf",
		err:     []string{`policies.policy_source "mongo" (Tyk Dashboard or MDCB) is not supported`, `set policy_source to "file"`},
		unknown: []string{"db_app_conf_options.connection_string", "use_db_app_configs"},
	},
	{
		file:    "rpc-policies.conf",
		err:     []string{`policies.policy_source "rpc" (Tyk Dashboard or MDCB) is not supported`},
		unknown: []string{"slave_options"},
	},
	{
		file:      "trailing-comma.conf",
		namesFile: true,
		err: []string{
			"invalid JSON at line 9, column 3", "invalid character '}' looking for beginning of object key string",
			"JSON does not allow a trailing comma; remove the comma at line 8, column 17",
		},
	},
	{
		// A template whose placeholders were never substituted.
		file:      "placeholder.conf",
		namesFile: true,
		err:       []string{"invalid JSON at line 8, column 13", "invalid character 'R' looking for beginning of value"},
	},
	{
		file:    "cluster-database.conf",
		err:     []string{"storage.database is 3, but a Redis Cluster has only database 0; remove storage.database"},
		unknown: []string{"storage.optimisation_max_idle"},
	},
	{
		file:      "port-as-string.conf",
		namesFile: true,
		err: []string{
			`listen_port must be a whole number, not the string "8080"`,
			`storage.port must be a whole number, not the string "6379"`,
		},
		unknown: []string{"enable_jsvm", "storage.optimisation_max_idle"},
	},
	{
		file: "sentinel-without-addrs.conf",
		err: []string{
			"storage.master_name is set, so storage.addrs must list the Sentinels (host:port)",
			"storage.timeout is -1; it must be a number of seconds greater than 0 and at most 60",
		},
	},
}

func TestFixturesLoad(t *testing.T) {
	for _, f := range loadingFixtures {
		t.Run(f.file, func(t *testing.T) {
			path, dir := fixtureAbs(t, f.file)
			c, warnings := mustLoad(t, path, nil)
			if got := unknownKeys(warnings); !slices.Equal(got, f.unknown) {
				t.Errorf("unknown keys reported = %q\nwant %q", got, f.unknown)
			}
			other := otherWarnings(warnings)
			if len(other) != len(f.notes) {
				t.Errorf("other warnings = %q\nwant %d matching %q", other, len(f.notes), f.notes)
			} else {
				for i, want := range f.notes {
					if !strings.Contains(other[i], want) {
						t.Errorf("warning %d = %q, want it to contain %q", i, other[i], want)
					}
				}
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() of the loaded config = %v", err)
			}
			f.check(t, c, dir)
		})
	}
}

func TestFixturesRefused(t *testing.T) {
	for _, f := range failingFixtures {
		t.Run(f.file, func(t *testing.T) {
			path, _ := fixtureAbs(t, f.file)
			c, warnings, err := Load(path, nil)
			if c != nil {
				t.Errorf("Load returned a config with its error")
			}
			want := f.err
			if f.namesFile {
				want = append([]string{"config file " + path + ": "}, want...)
			}
			wantErrContains(t, err, want...)
			if got := unknownKeys(warnings); !slices.Equal(got, f.unknown) {
				t.Errorf("unknown keys reported = %q, want %q", got, f.unknown)
			}
		})
	}
}

// TestFixturesUnknownKeysChangeNothing: the keys reported as unknown are ignored, not fatal, and
// change nothing. Each fixture, loaded with those keys removed (from a copy in the same
// directory, so that relative paths resolve alike), gives the same configuration or the same
// error, with no unknown key reported.
func TestFixturesUnknownKeysChangeNothing(t *testing.T) {
	var files []string
	for _, f := range loadingFixtures {
		files = append(files, f.file)
	}
	for _, f := range failingFixtures {
		if len(f.unknown) > 0 && !f.namesFile {
			files = append(files, f.file)
		}
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(confFixtures, file))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			orig := filepath.Join(dir, "tyk.conf")
			if err := os.WriteFile(orig, data, 0o600); err != nil {
				t.Fatal(err)
			}
			c1, w1, err1 := Load(orig, nil)
			keys := unknownKeys(w1)
			if len(keys) == 0 {
				t.Fatal("the fixture reports no unknown key")
			}
			stripped := filepath.Join(dir, "stripped.conf")
			if err := os.WriteFile(stripped, withoutKeys(t, data, keys), 0o600); err != nil {
				t.Fatal(err)
			}
			c2, w2, err2 := Load(stripped, nil)
			if got := unknownKeys(w2); len(got) != 0 {
				t.Errorf("after removing them, unknown keys reported = %q", got)
			}
			if !reflect.DeepEqual(c1, c2) {
				t.Errorf("unknown keys changed the config:\nwith:    %+v\nwithout: %+v", c1, c2)
			}
			if e1, e2 := errString(err1), errString(err2); e1 != e2 {
				t.Errorf("unknown keys changed the error:\nwith:    %s\nwithout: %s", e1, e2)
			}
			if !slices.Equal(otherWarnings(w1), otherWarnings(w2)) {
				t.Errorf("unknown keys changed the other warnings:\nwith:    %q\nwithout: %q", otherWarnings(w1), otherWarnings(w2))
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// withoutKeys returns the JSON object data with the dotted keys removed.
func withoutKeys(t *testing.T, data []byte, keys []string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		parts := strings.Split(k, ".")
		obj := root
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			if !ok {
				t.Fatalf("cannot reach %q", k)
			}
			obj = next
		}
		if _, ok := obj[parts[len(parts)-1]]; !ok {
			t.Fatalf("no key %q", k)
		}
		delete(obj, parts[len(parts)-1])
	}
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFixturesEnvironmentOverTyk: GATEHOUSE_* variables override a Tyk-style file's values,
// and a path from the environment stays relative to the working directory.
func TestFixturesEnvironmentOverTyk(t *testing.T) {
	path, _ := fixtureAbs(t, "standalone.conf")
	c, warnings := mustLoad(t, path, []string{
		"GATEHOUSE_SECRET=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		"GATEHOUSE_STORAGE_HOST=cache-replica",
		"GATEHOUSE_STORAGE_ADDRS=cache-a:6379, cache-b:6379",
		"GATEHOUSE_POLICIES_POLICY_RECORD_NAME=conf/policies.json",
		"GATEHOUSE_STORAGE_OPTIMISATION_MAX_IDLE=10",
	})
	check(t, "secret", c.Secret, "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
	check(t, "SecretProblem", c.SecretProblem(), "")
	check(t, "storage.host", c.Storage.Host, "cache-replica")
	check(t, "storage.addrs", c.Storage.Addrs, []string{"cache-a:6379", "cache-b:6379"})
	check(t, "storage.port (from the file)", c.Storage.Port, 6380)
	check(t, "policy file (from the environment, as given)", c.PolicyFile(), "conf/policies.json")
	found := slices.ContainsFunc(warnings, func(w string) bool {
		return strings.HasPrefix(w, "environment variable GATEHOUSE_STORAGE_OPTIMISATION_MAX_IDLE matches no config key")
	})
	if !found {
		t.Errorf("warnings lack the unknown variable; got %q", warnings)
	}
}

// TestFixturesAllListed keeps the tables and testdata/tyk in step.
func TestFixturesAllListed(t *testing.T) {
	listed := map[string]bool{}
	for _, f := range loadingFixtures {
		listed[f.file] = true
	}
	for _, f := range failingFixtures {
		listed[f.file] = true
	}
	files, err := filepath.Glob(filepath.Join(confFixtures, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is in testdata but in no fixture table", f)
		}
		delete(listed, filepath.Base(f))
	}
	for f := range listed {
		t.Errorf("%s is listed but not in testdata", f)
	}
}

// storageWith returns the default storage block changed by set: what a file setting some of
// its keys gives.
func storageWith(set func(s *StorageConfig)) StorageConfig {
	s := Default().Storage
	set(&s)
	return s
}

// check compares got with want (reflect.DeepEqual) and reports the difference under name.
func check(t *testing.T, name string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", name, got, want)
	}
}
