package config

import (
	"slices"
	"strings"
	"testing"
)

func TestValidateListsEveryProblem(t *testing.T) {
	path := writeConf(t, `{
		"listen_address": "not a host!",
		"listen_port": 0,
		"control_api_port": 70000,
		"control_api_hostname": "[::1]",
		"app_path": "",
		"storage": {"type": "redis", "database": -1, "addrs": ["nohostport"]},
		"policies": {"policy_source": "mongo", "policy_record_name": "tyk_policies"},
		"http_server_options": {"read_timeout": -1, "idle_timeout": -5, "max_request_body_size": -1},
		"proxy_default_timeout": 0,
		"graceful_shutdown_timeout_duration": -2,
		"enable_bundle_downloader": true,
		"bundle_base_url": "ftp://user:pw@example.com/bundles",
		"log_level": "verbose",
		"log_format": "xml",
		"health_check_endpoint_name": "health/check",
		"oauth_error_status_code": 1000,
		"min_token_length": -1,
		"enable_analytics": true,
		"analytics_config": {"normalise_urls": {"enabled": true, "custom_patterns": ["ok", "([", "x*"]}},
		"uptime_tests": {"poller_group": "{eu}", "config": {"failure_trigger_sample_size": -1, "time_wait": 86400, "checker_pool_size": -3}}
	}`)
	_, _, err := Load(path, nil)
	for _, want := range []string{
		`listen_address "not a host!" is neither an IP address nor a host name`,
		"listen_port is 0; it must be between 1 and 65535",
		"control_api_port is 70000; it must be between 0 and 65535",
		`control_api_hostname "[::1]" is neither an IP address nor a host name (write IPv6 addresses without brackets)`,
		"app_path is empty",
		"storage.database is -1; it must be 0 or more",
		`storage.addrs[0] "nohostport" is not a host:port address`,
		`policies.policy_source "mongo" (Tyk Dashboard or MDCB) is not supported`,
		`set policy_source to "file"`,
		"http_server_options.read_timeout is -1",
		"http_server_options.idle_timeout is -5",
		"http_server_options.max_request_body_size is -1",
		"proxy_default_timeout is 0; it must be a number of seconds greater than 0",
		"graceful_shutdown_timeout_duration is -2",
		`has scheme "ftp"; use http, https or file`,
		"contains a user name or password",
		`log_level "verbose" is not a known level; use debug, info, warn or error`,
		`log_format "xml" is not a known format; use text or json`,
		`health_check_endpoint_name "health/check" must be a single path segment`,
		"oauth_error_status_code is 1000; it must be an error status from 400 to 599",
		"min_token_length is -1: it is the shortest token, in bytes, that names a key; set 1 for no minimum, or 0 for Tyk's default, 3",
		"uptime_tests.config.failure_trigger_sample_size -1 must be from 0",
		"uptime_tests.config.time_wait 86400 must be a number of seconds from 0",
		"uptime_tests.config.checker_pool_size -3 must be from 0",
		`uptime_tests.poller_group "{eu}" may not hold braces`,
		`analytics_config.normalise_urls.custom_patterns[1] "([" is not a regular expression`,
		`analytics_config.normalise_urls.custom_patterns[2] "x*" can match an empty string`,
	} {
		wantErrContains(t, err, want)
	}
	if err != nil && strings.Contains(err.Error(), ":pw@") {
		t.Errorf("error %q reveals the bundle_base_url password", err)
	}
}

func TestValidateCases(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"all interfaces", func(c *Config) { c.ListenAddress, c.ControlAPIHostname = "", "" }, ""},
		{"host names", func(c *Config) { c.ListenAddress, c.ControlAPIHostname = "gw.example.com.", "tyk_gateway" }, ""},
		{"ipv6 with zone", func(c *Config) { c.ListenAddress = "fe80::1%eth0" }, ""},
		{"malformed ipv4", func(c *Config) { c.ListenAddress = "999.1.1.1" }, "listen_address"},
		{"port too high", func(c *Config) { c.ListenPort = 65536 }, "listen_port is 65536"},
		{"control port 0", func(c *Config) { c.ControlAPIPort = 0 }, ""},
		{"control port clash", func(c *Config) { c.ListenAddress, c.ControlAPIPort = "", 8080 },
			"control_api_port 8080 is the same as listen_port"},
		{"storage type", func(c *Config) { c.Storage.Type = "" }, `storage.type "" is not supported; use "memory" or "redis"`},
		{"redis without server", func(c *Config) { c.Storage.Type, c.Storage.Host, c.Storage.Port = "redis", "", 0 },
			"set storage.host and storage.port, or storage.addrs"},
		{"redis without a port", func(c *Config) { c.Storage.Type, c.Storage.Host, c.Storage.Port = "redis", "cache", 0 },
			`storage.host is "cache", but storage.port is not set; set it (Redis listens on 6379`},
		{"redis without a host", func(c *Config) { c.Storage.Type, c.Storage.Host, c.Storage.Port = "redis", "", 6380 },
			"storage.port is 6380, but storage.host is not set"},
		{"redis on the defaults", func(c *Config) { c.Storage.Type = "redis" }, ""},
		{"sentinel without sentinels", func(c *Config) { c.Storage.Type, c.Storage.MasterName = "redis", "mymaster" },
			"storage.master_name is set, so storage.addrs must list the Sentinels"},
		{"sentinel", func(c *Config) {
			c.Storage.Type, c.Storage.MasterName, c.Storage.Addrs = "redis", "mymaster", []string{"s1:26379"}
		}, ""},
		{"cluster database", func(c *Config) { c.Storage.Type, c.Storage.EnableCluster, c.Storage.Database = "redis", true, 1 },
			"a Redis Cluster has only database 0"},
		{"redis timeout zero", func(c *Config) { c.Storage.Type, c.Storage.Timeout = "redis", 0 }, "storage.timeout is 0"},
		{"redis timeout negative", func(c *Config) { c.Storage.Type, c.Storage.Timeout = "redis", -1 }, "storage.timeout is -1"},
		{"redis timeout fraction", func(c *Config) { c.Storage.Type, c.Storage.Timeout = "redis", 0.25 }, ""},
		{"redis pool negative", func(c *Config) { c.Storage.Type, c.Storage.OptimisationMaxActive = "redis", -1 },
			"optimisation_max_active is -1"},
		{"redis cert without key", func(c *Config) { c.Storage.Type, c.Storage.UseSSL, c.Storage.CertFile = "redis", true, "c.pem" },
			"storage.cert_file and storage.key_file go together"},
		{"redis tls version", func(c *Config) { c.Storage.Type, c.Storage.TLSMinVersion = "redis", "1.4" },
			`storage.tls_min_version "1.4" is not a TLS version`},
		{"redis tls versions reversed", func(c *Config) {
			c.Storage.Type, c.Storage.TLSMinVersion, c.Storage.TLSMaxVersion = "redis", "1.3", "1.2"
		}, `storage.tls_min_version "1.3" is above storage.tls_max_version "1.2"`},
		{"redis host and port", func(c *Config) { c.Storage.Type, c.Storage.Host, c.Storage.Port = "redis", "redis", 6379 }, ""},
		{"redis addrs", func(c *Config) { c.Storage.Type, c.Storage.Addrs = "redis", []string{"r1:6379", "[::1]:6380"} }, ""},
		{"redis addr bad port", func(c *Config) { c.Storage.Type, c.Storage.Addrs = "redis", []string{"r1:0"} }, "storage.addrs[0]"},
		{"storage port range", func(c *Config) { c.Storage.Port = 99999 }, "storage.port is 99999"},
		{"file policies", func(c *Config) { c.Policies = PoliciesConfig{"file", "policies.json"} }, ""},
		{"file policies without name", func(c *Config) { c.Policies.PolicySource = "file" }, "policy_record_name is empty"},
		{"service policies", func(c *Config) { c.Policies.PolicySource = "service" }, `"service" (Tyk Dashboard or MDCB) is not supported`},
		{"rpc policies", func(c *Config) { c.Policies.PolicySource = "rpc" }, `"rpc" (Tyk Dashboard or MDCB) is not supported`},
		{"unknown policies", func(c *Config) { c.Policies.PolicySource = "s3" }, `"s3" is not a known policy source`},
		{"analytics with the default file", func(c *Config) { c.EnableAnalytics = true }, ""},
		{"analytics without a file", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.FilePath = true, "" },
			"enable_analytics is true but analytics_config.file_path is empty"},
		{"analytics with a blank file", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.FilePath = true, "  " },
			"analytics_config.file_path is empty"},
		{"no file needed without analytics", func(c *Config) { c.AnalyticsConfig.FilePath = "" }, ""},
		{"analytics on redis needs no file", func(c *Config) {
			c.EnableAnalytics, c.Storage.Type, c.AnalyticsConfig.FilePath = true, "redis", ""
		}, ""},
		{"analytics msgpack", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.SerializerType = true, "msgpack" }, ""},
		{"analytics protobuf", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.SerializerType = true, "protobuf" },
			`analytics_config.serializer_type "protobuf" is not supported`},
		{"analytics serializer unknown", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.SerializerType = true, "json" },
			`analytics_config.serializer_type "json" is not a serializer`},
		{"analytics rpc", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.Type = true, "rpc" },
			`analytics_config.type "rpc" is not supported`},
		{"analytics pool negative", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.PoolSize = true, -1 },
			"analytics_config.pool_size is -1"},
		{"analytics buffer negative", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.RecordsBufferSize = true, -5 },
			"analytics_config.records_buffer_size is -5"},
		{"analytics expiry never", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.StorageExpirationTime = true, -1 }, ""},
		{"analytics expiry below -1", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.StorageExpirationTime = true, -2 },
			"analytics_config.storage_expiration_time is -2"},
		{"analytics ignored ips", func(c *Config) {
			c.EnableAnalytics, c.AnalyticsConfig.IgnoredIPs = true, []string{"10.0.0.1", "::1"}
		}, ""},
		{"analytics ignored range", func(c *Config) {
			c.EnableAnalytics, c.AnalyticsConfig.IgnoredIPs = true, []string{"10.0.0.0/8"}
		}, `analytics_config.ignored_ips: "10.0.0.0/8" is not an IP address`},
		{"analytics separate store without type", func(c *Config) { c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true },
			`analytics_storage.type must be "redis" (it is "")`},
		{"analytics separate store", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "analytics.internal", Port: 6380}
		}, ""},
		{"analytics separate store, memory store", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore, c.AnalyticsConfig.FilePath = true, true, ""
			c.AnalyticsStorage = StorageConfig{Type: "redis", Addrs: []string{"10.0.0.7:6379"}}
		}, ""},
		{"analytics separate store without server", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis"}
		}, "analytics_storage.type is \"redis\" but no server is set; set analytics_storage.host"},
		{"analytics separate store bad addr", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Addrs: []string{"nohost"}}
		}, `analytics_storage.addrs[0] "nohost" is not a host:port address`},
		{"analytics separate store timeout", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "a", Port: 1, Timeout: 61}
		}, "analytics_storage.timeout is 61; it must be 0 (storage.timeout)"},
		{"analytics separate store tls", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "a", Port: 1, TLSMinVersion: "1.3", TLSMaxVersion: "1.2"}
		}, `analytics_storage.tls_min_version "1.3" is above analytics_storage.tls_max_version "1.2"`},
		{"analytics separate store cluster database", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Addrs: []string{"a:1"}, EnableCluster: true, Database: 2}
		}, "analytics_storage.database is 2, but a Redis Cluster has only database 0"},
		{"separate cache store without type", func(c *Config) { c.EnableSeparateCacheStore = true },
			`cache_storage.type must be "redis" (another Redis the fleet shares) or "memory" (each gateway's own); it is ""`},
		{"separate cache store in memory", func(c *Config) {
			c.EnableSeparateCacheStore, c.CacheStorage.Type = true, "memory"
		}, ""},
		{"separate cache store without server", func(c *Config) {
			c.EnableSeparateCacheStore, c.CacheStorage.Type = true, "redis"
		}, `cache_storage.type is "redis" but no server is set`},
		{"separate cache store inherits a bad storage.timeout", func(c *Config) {
			c.EnableSeparateCacheStore = true
			c.CacheStorage = StorageConfig{Type: "redis", Host: "c", Port: 6379}
			c.Storage.Timeout = -5
		}, "storage.timeout is -5, which cache_storage or analytics_storage takes"},
		{"analytics store inherits a bad storage.timeout", func(c *Config) {
			c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "c", Port: 6379}
			c.Storage.Timeout = 0
		}, "storage.timeout is 0, which cache_storage or analytics_storage takes"},
		{"separate cache store bad timeout", func(c *Config) {
			c.EnableSeparateCacheStore = true
			c.CacheStorage = StorageConfig{Type: "redis", Host: "c", Port: 6379, Timeout: -1}
		}, "cache_storage.timeout is -1"},
		{"analytics off: separate store unused", func(c *Config) {
			c.EnableSeparateAnalyticsStore = true
			c.AnalyticsStorage = StorageConfig{Type: "memcached"}
		}, ""},
		{"analytics separate store off: block unchecked", func(c *Config) {
			c.EnableAnalytics = true
			c.AnalyticsStorage = StorageConfig{Type: "memcached"}
		}, ""},
		{"analytics keys unchecked when off", func(c *Config) { c.AnalyticsConfig.SerializerType = "protobuf" }, ""},
		{"log aliases", func(c *Config) { c.LogLevel, c.LogFormat = "WARNING", "default" }, ""},
		{"proxy timeout fraction", func(c *Config) { c.ProxyDefaultTimeout = 0.1 }, ""},
		{"proxy timeout negative", func(c *Config) { c.ProxyDefaultTimeout = -1 }, "proxy_default_timeout is -1"},
		{"proxy timeout overflow", func(c *Config) { c.ProxyDefaultTimeout = 1e300 }, "proxy_default_timeout"},
		{"write timeout", func(c *Config) { c.HTTPServerOptions.WriteTimeout = -1 }, "write_timeout is -1"},
		{"read header timeout", func(c *Config) { c.HTTPServerOptions.ReadHeaderTimeout = -1 }, "read_header_timeout is -1"},
		{"bundles https", func(c *Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "https://b.example.com/x/" }, ""},
		{"bundles file", func(c *Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "file:///srv/bundles" }, ""},
		{"bundles no host", func(c *Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "https:///x" }, "has no host"},
		{"bundles relative", func(c *Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "bundles/" }, `has scheme ""`},
		{"bundle url ignored when disabled", func(c *Config) { c.BundleBaseURL = "gopher://x" }, ""},
		{"bundle progress timeout", func(c *Config) { c.BundleDownloadProgressTimeout = 120 }, ""},
		{"bundle progress timeout zero", func(c *Config) { c.BundleDownloadProgressTimeout = 0 }, "bundle_download_progress_timeout is 0; it must be a number of seconds greater than 0"},
		{"bundle progress timeout negative", func(c *Config) { c.BundleDownloadProgressTimeout = -5 }, "bundle_download_progress_timeout is -5"},
		{"health dot dot", func(c *Config) { c.HealthCheckEndpointName = ".." }, "health_check_endpoint_name"},
		{"health empty", func(c *Config) { c.HealthCheckEndpointName = "" }, "health_check_endpoint_name"},
		{"health ok", func(c *Config) { c.HealthCheckEndpointName = "health-check_v1.0" }, ""},
		{"ready slash", func(c *Config) { c.ReadinessCheckEndpointName = "a/b" }, "readiness_check_endpoint_name"},
		{"ready empty", func(c *Config) { c.ReadinessCheckEndpointName = "" }, "readiness_check_endpoint_name"},
		{"ready same as health", func(c *Config) { c.ReadinessCheckEndpointName = "hello" }, "need paths of their own"},
		{"ready ok", func(c *Config) { c.ReadinessCheckEndpointName = "status-ready" }, ""},
		{"ready status page", func(c *Config) { c.ReadinessCheckEndpointName = "status" }, ""},
		{"shutdown delay negative", func(c *Config) { c.GracefulShutdownDelaySeconds = -1 }, "graceful_shutdown_delay_seconds is -1"},
		{"shutdown delay", func(c *Config) { c.GracefulShutdownDelaySeconds = 5 }, ""},
		{"rate limit headers", func(c *Config) { c.RateLimitResponseHeaders = "rate_limits" }, ""},
		{"rate limit headers quotas", func(c *Config) { c.RateLimitResponseHeaders = "quotas" }, ""},
		{"rate limit headers unknown", func(c *Config) { c.RateLimitResponseHeaders = "ratelimits" }, `rate_limit_response_headers is "ratelimits"`},
		{"segmented without tags", func(c *Config) { c.Storage.Type = "redis"; c.DBAppConfOptions.NodeIsSegmented = true }, "node_is_segmented is true but tags is empty"},
		{"segment tag empty", func(c *Config) {
			c.Storage.Type = "redis"
			c.DBAppConfOptions = DBAppConfOptions{NodeIsSegmented: true, Tags: []string{"eu", ""}}
		}, `db_app_conf_options.tags[1] is ""`},
		{"segment tag spaced", func(c *Config) {
			c.Storage.Type = "redis"
			c.DBAppConfOptions = DBAppConfOptions{NodeIsSegmented: true, Tags: []string{" eu"}}
		}, `db_app_conf_options.tags[0] is " eu"`},
		{"segmented", func(c *Config) {
			c.Storage.Type = "redis"
			c.DBAppConfOptions = DBAppConfOptions{NodeIsSegmented: true, Tags: []string{"eu", "edge"}}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			wantErrContains(t, err, tt.want)
		})
	}
}

func TestValidateNotes(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // a substring of one note; "" means no notes
	}{
		{"defaults", func(*Config) {}, ""},
		{"unlimited body", func(c *Config) { c.HTTPServerOptions.MaxRequestBodySize = 0 }, "request bodies are unlimited"},
		{"bundles without base url", func(c *Config) { c.EnableBundleDownloader = true }, "bundle_base_url is empty"},
		{"bundles unsigned", func(c *Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "https://b.example.com" },
			"not checked for a signature"},
		{"bundles insecure", func(c *Config) {
			c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, "https://b.example.com", "k.pem"
			c.BundleInsecureSkipVerify = true
		}, "TLS certificate is not checked"},
		{"record name without source", func(c *Config) { c.Policies.PolicyRecordName = "x" }, "no policies are loaded"},
		{"segmented without redis", func(c *Config) { c.DBAppConfOptions = DBAppConfOptions{NodeIsSegmented: true, Tags: []string{"eu"}} },
			"node_is_segmented changes nothing without storage.type"},
		{"tags without segmenting", func(c *Config) { c.DBAppConfOptions.Tags = []string{"eu"} }, "tags changes nothing without node_is_segmented"},
		{"poller group without redis", func(c *Config) { c.UptimeTests.PollerGroup = "eu" }, "poller_group is not used without Redis"},
		{"normalise_urls asking nothing", func(c *Config) { c.EnableAnalytics, c.AnalyticsConfig.NormaliseUrls.Enabled = true, true }, "normalise_urls is enabled but asks for nothing"},
		{"unsafe dynamic mTLS", func(c *Config) { c.Security.AllowUnsafeDynamicMTLSToken = true }, "allow_unsafe_dynamic_mtls_token is not followed"},
		{"uptime analytics without redis", func(c *Config) { c.UptimeTests.Config.EnableUptimeAnalytics = true }, "enable_uptime_analytics records nothing without Redis"},
		{"cache in the store's Redis", func(c *Config) {
			c.Storage.Type, c.NodeSecret = "redis", "0b7e4c1a9f2d8e6b3c5a7f9d1e2b4c6a"
			c.EnableSeparateCacheStore = true
			c.CacheStorage = StorageConfig{Type: "redis", Host: "localhost", Port: 6379}
		}, "cache_storage names the storage block's Redis"},
		{"cache in a Redis of its own", func(c *Config) {
			c.Storage.Type, c.NodeSecret = "redis", "0b7e4c1a9f2d8e6b3c5a7f9d1e2b4c6a"
			c.EnableSeparateCacheStore = true
			c.CacheStorage = StorageConfig{Type: "redis", Host: "cache.internal", Port: 6379}
		}, ""},
		{"cache in another database of the store's Redis", func(c *Config) {
			c.Storage.Type, c.NodeSecret = "redis", "0b7e4c1a9f2d8e6b3c5a7f9d1e2b4c6a"
			c.EnableSeparateCacheStore = true
			c.CacheStorage = StorageConfig{Type: "redis", Host: "localhost", Port: 6379, Database: 1}
		}, "cache_storage names the storage block's Redis"},
		{"uptime analytics to an analytics Redis", func(c *Config) {
			c.UptimeTests.Config.EnableUptimeAnalytics, c.EnableAnalytics, c.EnableSeparateAnalyticsStore = true, true, true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "a", Port: 6379}
		}, ""},
		{"separate store without analytics", func(c *Config) {
			c.EnableSeparateAnalyticsStore = true
			c.AnalyticsStorage = StorageConfig{Type: "redis", Host: "a", Port: 6379}
		}, "analytics_storage is not used, as in Tyk"},
		{"poller group with redis", func(c *Config) {
			c.UptimeTests.PollerGroup, c.Storage.Type, c.NodeSecret = "eu", "redis", "0b7e4c1a9f2d8e6b3c5a7f9d1e2b4c6a"
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			notes, errs := c.check()
			if len(errs) > 0 {
				t.Fatalf("check() errors: %v", errs)
			}
			if tt.want == "" {
				if len(notes) > 0 {
					t.Errorf("notes = %q, want none", notes)
				}
				return
			}
			if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, tt.want) }) {
				t.Errorf("notes = %q, want one mentioning %q", notes, tt.want)
			}
		})
	}
}

func TestNotificationSecret(t *testing.T) {
	for _, c := range []struct {
		name, node, secret, want, note string
	}{
		{"node_secret", "a-long-node-secret-value", "admin-secret-0123456789", "a-long-node-secret-value", ""},
		{"falls back to secret", "", "admin-secret-0123456789", "admin-secret-0123456789", "signed with secret"},
		{"neither", "", "", "", "neither sends nor accepts"},
		{"sample node_secret", TykSampleSecret, "admin-secret-0123456789", "", "neither sends nor accepts"},
		{"sample secret", "", TykSampleSecret, "", "neither sends nor accepts"},
		{"short", "short", "", "short", "try to guess it offline"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			cfg.Storage.Type, cfg.NodeSecret, cfg.Secret = "redis", c.node, c.secret
			if got := cfg.NotificationSecret(); got != c.want {
				t.Errorf("NotificationSecret() = %q, want %q", got, c.want)
			}
			notes, errs := cfg.check()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if c.note != "" && !strings.Contains(strings.Join(notes, "\n"), c.note) {
				t.Errorf("notes %q do not say %q", notes, c.note)
			}
		})
	}
}
