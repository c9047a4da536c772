package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/observe/accesslog"
)

// maxSeconds is the longest time, in whole seconds, that a time.Duration can hold.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// Validate returns every problem with c joined with errors.Join, or nil. Load calls it; it is
// exported for configurations built in code. It does not judge the secret: see SecretProblem.
func (c *Config) Validate() error {
	_, errs := c.check()
	return errors.Join(errs...)
}

// check returns the non-fatal notes and the problems with c.
func (c *Config) check() (notes []string, errs []error) {
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }

	// Listeners.
	checkPort(add, "listen_port", c.ListenPort, 1)
	checkPort(add, "control_api_port", c.ControlAPIPort, 0)
	checkListenHost(add, "listen_address", c.ListenAddress)
	checkListenHost(add, "control_api_hostname", c.ControlAPIHostname)
	if c.ControlAPIPort == c.ListenPort && c.ControlAPIHostname != c.ListenAddress &&
		(isWildcard(c.ListenAddress) || isWildcard(c.ControlAPIHostname)) {
		add("control_api_port %d is the same as listen_port, but control_api_hostname %q differs "+
			"from listen_address %q and one of them means all interfaces, so the two listeners "+
			"cannot both bind; set control_api_port to 0 to serve the Gateway API on the main "+
			"listener, or choose another port", c.ControlAPIPort, c.ControlAPIHostname, c.ListenAddress)
	}

	if c.MinTokenLength < 0 {
		add("min_token_length is %d: it is the shortest token, in bytes, that names a key; set 1 for no minimum, or 0 for Tyk's default, 3", c.MinTokenLength)
	}
	c.checkControlMutualTLS(add, note)
	c.checkStorage(add, note)
	c.checkPolicies(add, note)
	c.checkPrometheus(add)
	c.checkOpenTelemetry(add)
	if c.AccessLogs.Enabled {
		if _, err := accesslog.Parse(c.AccessLogs.Template); err != nil {
			add("access_logs.template: %v", err)
		}
	}
	if c.EnableSeparateCacheStore {
		s := c.CacheStorage
		switch s.Type {
		case "redis", "memory":
		default:
			add("enable_separate_cache_store is true, so cache_storage.type must be \"redis\" (another Redis the fleet shares) or \"memory\" (each gateway's own); it is %q", s.Type)
		}
		checkRedisBlock("cache_storage", s, s.Type == "redis", true, add, note)
		if s.FallbackToCachedSessions {
			note("cache_storage.fallback_to_cached_sessions does not apply: no key is read from the cache store")
		}
		if s.Type == "redis" && c.Storage.Type == "redis" && sameRedis(s, c.Storage) {
			note("cache_storage names the storage block's Redis: any client can add cached responses (each query string is one, up to 1 MiB), which then compete with keys and limits for its memory; give the cache a Redis of its own")
		}
	}
	// A Redis block whose timeout is 0 takes storage.timeout: checked even with the memory store.
	inherits := c.EnableSeparateCacheStore && c.CacheStorage.Type == "redis" && c.CacheStorage.Timeout == 0 ||
		c.SeparateAnalyticsStore() && c.AnalyticsStorage.Timeout == 0
	if inherits && c.Storage.Type != "redis" && (!(c.Storage.Timeout > 0) || c.Storage.Timeout > 60) {
		add("storage.timeout is %v, which cache_storage or analytics_storage takes (their timeout is 0); it must be greater than 0 and at most 60 seconds", c.Storage.Timeout)
	}
	if !c.EnableAnalytics && c.EnableSeparateAnalyticsStore {
		note("enable_separate_analytics_store is true but enable_analytics is false: analytics_storage is not used, as in Tyk (uptime analytics go to the storage block's Redis)")
	}
	if c.EnableAnalytics {
		c.checkAnalytics(add, note)
	}

	c.checkUptimeTests(add, note)
	c.noteUnsafeDynamicMTLS(note)
	if _, ok := parseLogLevel(c.LogLevel); !ok {
		add("log_level %q is not a known level; use debug, info, warn or error", c.LogLevel)
	}
	if _, ok := parseLogFormat(c.LogFormat); !ok {
		add("log_format %q is not a known format; use text or json", c.LogFormat)
	}

	// Timeouts and limits.
	const minHeaderBytes, maxHeaderBytes = 4 << 10, 16 << 20
	o := c.HTTPServerOptions
	for _, t := range []struct {
		key   string
		value int
	}{
		{"http_server_options.read_timeout", o.ReadTimeout},
		{"http_server_options.write_timeout", o.WriteTimeout},
		{"http_server_options.read_header_timeout", o.ReadHeaderTimeout},
		{"http_server_options.idle_timeout", o.IdleTimeout},
		{"http_server_options.write_progress_timeout", o.WriteProgressTimeout},
		{"graceful_shutdown_timeout_duration", c.GracefulShutdownTimeoutDuration},
		{"graceful_shutdown_delay_seconds", c.GracefulShutdownDelaySeconds},
	} {
		if t.value < 0 || int64(t.value) > maxSeconds {
			add("%s is %d; it must be a number of seconds between 0 (no limit) and %d", t.key, t.value, maxSeconds)
		}
	}
	if p := c.ProxyDefaultTimeout; !(p > 0) || p > float64(maxSeconds) {
		hint := ""
		if p == 0 {
			hint = " (Tyk reads 0 as its 30-second default; remove the key to get the default)"
		}
		add("proxy_default_timeout is %v; it must be a number of seconds greater than 0 and at most %d%s",
			p, maxSeconds, hint)
	}
	if b := c.BundleDownloadProgressTimeout; b <= 0 || int64(b) > maxSeconds {
		add("bundle_download_progress_timeout is %d; it must be a number of seconds greater than 0 "+
			"and at most %d (remove the key for the default, 30)", b, maxSeconds)
	}
	switch size := o.MaxRequestBodySize; {
	case size < 0:
		add("http_server_options.max_request_body_size is %d; it must be a number of bytes, "+
			"or 0 for no limit", size)
	case size == 0:
		note("http_server_options.max_request_body_size is 0: request bodies are unlimited")
	}

	if o.MaxConnections < -1 {
		add("http_server_options.max_connections is %d; it must be a number of connections, "+
			"0 for a bound derived from the open-file limit, or -1 for none", o.MaxConnections)
	}
	switch h := o.MaxHeaderBytes; {
	case h < 0 || h > maxHeaderBytes:
		add("http_server_options.max_header_bytes is %d; it must be a number of bytes up to %d, "+
			"or 0 for Go's limit of 1 MiB", h, maxHeaderBytes)
	case h > 0 && h < minHeaderBytes:
		add("http_server_options.max_header_bytes is %d; below %d bytes ordinary requests "+
			"(a cookie, a JWT) would be refused", h, minHeaderBytes)
	}

	switch c.RateLimitResponseHeaders {
	case "", "quotas", "rate_limits":
	default:
		add("rate_limit_response_headers is %q; it is \"quotas\" (the default: the headers describe the quota) "+
			"or \"rate_limits\" (the rate limit)", c.RateLimitResponseHeaders)
	}
	c.checkOverrideMessages(add, note)
	for _, err := range c.ErrorOverrides.Validate("error_overrides") {
		add("%v", err)
	}
	if code := c.OAuthErrorStatusCode; code != 0 && (code < 400 || code > 599) {
		add("oauth_error_status_code is %d; it must be an error status from 400 to 599, or 0 for 403", code)
	}
	c.checkSegment(add, note)
	if t := c.ServiceDiscovery.DefaultCacheTimeout; t < 0 {
		add("service_discovery.default_cache_timeout is %d; it is a number of seconds, or 0 for 120", t)
	}
	c.checkBundles(add, note)
	c.checkTrustedProxies(add)
	c.checkTLS(add, note)
	c.checkUpstreamTLS(add, note)

	if c.AppPath == "" {
		add("app_path is empty; set it to the directory that holds the API definition files")
	}
	if !validSegment(c.HealthCheckEndpointName) {
		add("health_check_endpoint_name %q must be a single path segment of letters, digits, "+
			"'.', '_' or '-' (for example \"hello\")", c.HealthCheckEndpointName)
	}
	for _, n := range []struct{ key, name string }{
		{"health_check_endpoint_name", c.HealthCheckEndpointName},
		{"readiness_check_endpoint_name", c.ReadinessCheckEndpointName},
	} {
		if n.name == "status" {
			note("%s is \"status\", the status page's path: the check is served there, the page is not "+
				"(its report stays at /tyk/status)", n.key)
		}
	}
	switch {
	case !validSegment(c.ReadinessCheckEndpointName):
		add("readiness_check_endpoint_name %q must be a single path segment of letters, digits, "+
			"'.', '_' or '-' (for example \"ready\")", c.ReadinessCheckEndpointName)
	case c.ReadinessCheckEndpointName == c.HealthCheckEndpointName:
		add("readiness_check_endpoint_name and health_check_endpoint_name are both %q; "+
			"the two checks need paths of their own", c.ReadinessCheckEndpointName)
	}
	return notes, errs
}

// checkOverrideMessages refuses a status that is not an error's, and notes names that change
// nothing here.
func (c *Config) checkOverrideMessages(add, note func(string, ...any)) {
	for _, id := range slices.Sorted(maps.Keys(c.OverrideMessages)) {
		if code := c.OverrideMessages[id].Code; code != 0 && (code < 400 || code > 599) {
			add("override_messages.%s.code is %d; it must be an error status from 400 to 599, or 0 to keep %s's", id, code, id)
		}
		switch {
		case slices.Contains(answered, id):
		case slices.Contains(tykErrorsNotAnswered, id):
			note("override_messages.%s changes nothing: Gatehouse has no certificate auth, which makes that refusal in Tyk", id)
		default:
			note("override_messages.%s changes nothing: Gatehouse knows %s", id, strings.Join(answered, ", "))
		}
	}
}

// checkPort reports a port outside lowest..65535.
func checkPort(add func(string, ...any), key string, port, lowest int) {
	if port < lowest || port > 65535 {
		add("%s is %d; it must be between %d and 65535", key, port, lowest)
	}
}

// checkListenHost reports a listener host that is neither "", an IP address nor a host name.
func checkListenHost(add func(string, ...any), key, host string) {
	if host == "" || validHost(host) {
		return
	}
	hint := ""
	if strings.HasPrefix(host, "[") {
		hint = " (write IPv6 addresses without brackets)"
	}
	add("%s %q is neither an IP address nor a host name%s; use an address such as 127.0.0.1 "+
		"or ::1, a host name, or \"\" for all interfaces", key, host, hint)
}

// isWildcard reports whether a listener host means all interfaces.
func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || (err == nil && a.IsUnspecified())
}

// validHost reports whether s is an IP address (IPv6 zones allowed) or a host name.
func validHost(s string) bool { return apidef.ValidHost(s) }

// validSegment reports whether s is one URL path segment of [A-Za-z0-9._-], other than . and ..
func validSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '.' && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// checkStorage validates the storage section.
func (c *Config) checkStorage(add func(string, ...any), note func(string, ...any)) {
	s := c.Storage
	switch s.Type {
	case "memory":
	case "redis":
	default:
		add("storage.type %q is not supported; use \"memory\" or \"redis\"", s.Type)
	}
	checkRedisBlock("storage", s, s.Type == "redis", false, add, note)
	if s.Type != "redis" {
		return
	}
	if s.FallbackToCachedSessions {
		note("storage.fallback_to_cached_sessions is true: while Redis is down, keys this gateway has " +
			"seen are served from its memory, with rate limits and quotas counted on this gateway " +
			"alone (so the fleet may let through more than a key's limits, and a key changed while " +
			"this gateway did not hear of it may be served as it was)")
	}
	switch ns := c.NotificationSecret(); {
	case strings.TrimSpace(c.NodeSecret) == TykSampleSecret || strings.TrimSpace(c.NodeSecret) == "" && strings.TrimSpace(c.Secret) == TykSampleSecret:
		fallthrough
	case ns == "":
		note(NoNotificationSecret)
	case len(ns) < 16:
		note("the secret notifications are signed with is %d characters long: any client of Redis can "+
			"record signed notifications and try to guess it offline; use a long random node_secret "+
			"(openssl rand -hex 32)", len(ns))
	}
	if c.NotificationSecret() != "" && c.NodeSecret == "" {
		note("node_secret is empty, so notifications between gateways are signed with secret; " +
			"every node sharing Redis must then have the same secret")
	}
}

// sameRedis reports whether two blocks name the same Redis server (the same first address, or
// the same host and port): its databases share its memory.
func sameRedis(a, b StorageConfig) bool {
	addr := func(s StorageConfig) string {
		if len(s.Addrs) > 0 {
			return s.Addrs[0]
		}
		return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	}
	return addr(a) == addr(b)
}

// checkRedisBlock checks a block of Redis connection keys (storage, analytics_storage) named
// name. The server's address and number are checked whatever the block is for; the rest only when
// used. zeroTimeout says a timeout of 0 is allowed (it means storage.timeout).
func checkRedisBlock(name string, s StorageConfig, used, zeroTimeout bool, add func(string, ...any), note func(string, ...any)) {
	if used {
		switch {
		case len(s.Addrs) > 0:
		case s.Host == "" && s.Port == 0:
			add("%s.type is \"redis\" but no server is set; set %s.host and %s.port, or %s.addrs", name, name, name, name)
		case s.Port == 0:
			add("%s.type is \"redis\" and %s.host is %q, but %s.port is not set; "+
				"set it (Redis listens on 6379 unless told otherwise)", name, name, s.Host, name)
		case s.Host == "":
			add("%s.type is \"redis\" and %s.port is %d, but %s.host is not set; "+
				"set it to the Redis server's host name or address", name, name, s.Port, name)
		}
	}
	if s.Host != "" && !validHost(s.Host) {
		add("%s.host %q is neither an IP address nor a host name", name, s.Host)
	}
	if s.Port != 0 {
		checkPort(add, name+".port", s.Port, 1)
	}
	for i, a := range s.Addrs {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			add("%s.addrs[%d] %q is not a host:port address with a port between 1 and 65535", name, i, a)
		}
	}
	if s.Database < 0 {
		add("%s.database is %d; it must be 0 or more", name, s.Database)
	}
	if !used {
		return
	}
	if s.MasterName != "" && len(s.Addrs) == 0 {
		add("%s.master_name is set, so %s.addrs must list the Sentinels (host:port)", name, name)
	}
	if s.MasterName != "" && s.EnableCluster {
		note("%s.master_name and %s.enable_cluster are both set; as in Tyk, Sentinel "+
			"(master_name) is used and enable_cluster is ignored", name, name)
	}
	if s.Database != 0 && s.EnableCluster && s.MasterName == "" {
		add("%s.database is %d, but a Redis Cluster has only database 0; remove %s.database", name, s.Database, name)
	}
	switch {
	case zeroTimeout && s.Timeout == 0:
	case !(s.Timeout > 0) || s.Timeout > 60:
		if zeroTimeout {
			add("%s.timeout is %v; it must be 0 (storage.timeout) or a number of seconds greater than 0 and at most 60", name, s.Timeout)
		} else {
			add("%s.timeout is %v; it must be a number of seconds greater than 0 and at most 60 "+
				"(keyed requests fail closed this long after Redis stops answering)", name, s.Timeout)
		}
	}
	if s.OptimisationMaxActive < 0 {
		add("%s.optimisation_max_active is %d; it must be 0 or more", name, s.OptimisationMaxActive)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		add("%s.cert_file and %s.key_file go together: set both for a client certificate, or neither", name, name)
	}
	lo, okLo := parseTLSVersion(s.TLSMinVersion, "1.2")
	hi, okHi := parseTLSVersion(s.TLSMaxVersion, "1.3")
	if !okLo {
		add("%s.tls_min_version %q is not a TLS version; use 1.2 or 1.3 (or 1.0, 1.1)", name, s.TLSMinVersion)
	}
	if !okHi {
		add("%s.tls_max_version %q is not a TLS version; use 1.2 or 1.3 (or 1.0, 1.1)", name, s.TLSMaxVersion)
	}
	if okLo && okHi && lo > hi {
		add("%s.tls_min_version %q is above %s.tls_max_version %q", name, s.TLSMinVersion, name, s.TLSMaxVersion)
	}
	if !s.UseSSL && (s.CAFile != "" || s.CertFile != "" || s.SSLInsecureSkipVerify) {
		note("%s.ca_file, cert_file, key_file and ssl_insecure_skip_verify apply only with "+
			"%s.use_ssl, which is false: the connection to Redis is not encrypted", name, name)
	}
	if s.UseSSL && s.SSLInsecureSkipVerify {
		note("%s.ssl_insecure_skip_verify is true: the Redis server's certificate is not checked", name)
	}
}

// NoNotificationSecret says why a gateway on Redis neither sends nor accepts notifications.
const NoNotificationSecret = "this gateway neither sends nor accepts notifications (group reloads) " +
	"through Redis: they are signed with node_secret (or, without it, secret), so that no other client " +
	"of Redis can forge them, and that is empty or Tyk's public sample value; set node_secret to the " +
	"same long random value on every node (for example the output of \"openssl rand -hex 32\")"

// TLSVersions maps tyk.conf's TLS version names to crypto/tls's numbers.
var TLSVersions = map[string]uint16{"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}

// parseTLSVersion returns the number of a TLS version name, def when it is empty.
func parseTLSVersion(v, def string) (uint16, bool) {
	if v == "" {
		v = def
	}
	n, ok := TLSVersions[v]
	return n, ok
}

// TLSVersions returns the block's tls_min_version and tls_max_version as crypto/tls numbers.
func (s StorageConfig) TLSVersions() (lo, hi uint16) {
	lo, _ = parseTLSVersion(s.TLSMinVersion, "1.2")
	hi, _ = parseTLSVersion(s.TLSMaxVersion, "1.3")
	return lo, hi
}

// checkPolicies validates the policies section.
func (c *Config) checkPolicies(add func(string, ...any), note func(string, ...any)) {
	p := c.Policies
	const use = "set policy_source to \"file\" and policy_record_name to the policies JSON " +
		"file, or policy_source to \"\" for no policies"
	switch p.PolicySource {
	case "":
		if p.PolicyRecordName != "" {
			note("policies.policy_record_name is %q but policies.policy_source is empty, so no "+
				"policies are loaded", p.PolicyRecordName)
		}
	case "file":
		if p.PolicyRecordName == "" {
			add("policies.policy_source is \"file\" but policies.policy_record_name is empty; " +
				"set it to the policies JSON file")
		}
	case "mongo", "service", "rpc":
		add("policies.policy_source %q (Tyk Dashboard or MDCB) is not supported: Gatehouse "+
			"reads policies only from a file; %s", p.PolicySource, use)
	default:
		add("policies.policy_source %q is not a known policy source; %s", p.PolicySource, use)
	}
}

// checkBundles validates the bundle downloader settings.
func (c *Config) checkBundles(add func(string, ...any), note func(string, ...any)) {
	if !c.EnableBundleDownloader {
		return
	}
	if c.BundleBaseURL == "" {
		// Tyk accepts this (its own sample configs ship it) and skips any API with a bundle.
		note("enable_bundle_downloader is true but bundle_base_url is empty, so bundles cannot " +
			"be downloaded and APIs that need one are not loaded; set bundle_base_url to an " +
			"http, https or file URL")
		return
	}
	u, err := url.Parse(c.BundleBaseURL)
	if err != nil {
		add("bundle_base_url is not a valid URL: %v", err)
		return
	}
	bad := false
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "http", "https":
		if u.Host == "" {
			add("bundle_base_url %q has no host; use a URL such as https://bundles.example.com/", u.Redacted())
			bad = true
		}
		if scheme == "https" && c.BundleInsecureSkipVerify {
			note("bundle_insecure_skip_verify is true: the bundle server's TLS certificate is not checked")
		}
	case "file":
		if u.Path == "" {
			add("bundle_base_url %q has no path; use a URL such as file:///var/lib/bundles/", u.Redacted())
			bad = true
		}
	default:
		add("bundle_base_url %q has scheme %q; use http, https or file", u.Redacted(), u.Scheme)
		bad = true
	}
	if u.User != nil {
		add("bundle_base_url %q contains a user name or password, which would end up in logs; "+
			"serve the bundles without credentials in the URL", u.Redacted())
		bad = true
	}
	if !bad && c.PublicKeyPath == "" {
		note("public_key_path is empty, so downloaded bundles are not checked for a signature")
	}
	if !bad && c.PublicKeyPath != "" && c.BundleAllowUnsealed {
		note("bundle_allow_unsealed is true: signed bundles without a gatehouse_seal load, and their hooks and file names are not authenticated")
	}
}

// checkAnalytics checks analytics_config, when enable_analytics is on.
func (c *Config) checkAnalytics(add func(string, ...any), note func(string, ...any)) {
	a := c.AnalyticsConfig
	if c.Storage.Type != "redis" && !c.EnableSeparateAnalyticsStore && strings.TrimSpace(a.FilePath) == "" {
		add("enable_analytics is true but analytics_config.file_path is empty; name the file records are appended to")
	}
	switch strings.ToLower(a.SerializerType) {
	case "", "msgpack":
	case "protobuf":
		add("analytics_config.serializer_type \"protobuf\" is not supported; use \"msgpack\" (tyk-pump reads both)")
	default:
		add("analytics_config.serializer_type %q is not a serializer; use \"msgpack\"", a.SerializerType)
	}
	if c.EnableSeparateAnalyticsStore {
		s := c.AnalyticsStorage
		if s.Type != "redis" {
			add("enable_separate_analytics_store is true, so analytics_storage.type must be \"redis\" (it is %q): records go to that Redis, where tyk-pump reads them", s.Type)
		}
		checkRedisBlock("analytics_storage", s, s.Type == "redis", true, add, note)
		if s.FallbackToCachedSessions {
			note("analytics_storage.fallback_to_cached_sessions does not apply: no key is read from the analytics Redis")
		}
	}
	if a.Type != "" {
		add("analytics_config.type %q is not supported: Gatehouse has no MDCB (rpc) forwarding; remove it to write records to Redis", a.Type)
	}
	if a.PoolSize < 0 || a.PoolSize > 1024 {
		add("analytics_config.pool_size is %d; it must be between 0 (the number of CPUs) and 1024", a.PoolSize)
	}
	if a.RecordsBufferSize < 0 || a.RecordsBufferSize > 10_000_000 {
		add("analytics_config.records_buffer_size is %d; it must be between 0 (1000) and 10000000", a.RecordsBufferSize)
	}
	if a.StorageExpirationTime < -1 {
		add("analytics_config.storage_expiration_time is %d; use seconds, 0 for 60, or -1 for no expiry", a.StorageExpirationTime)
	}
	for _, ip := range a.IgnoredIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			add("analytics_config.ignored_ips: %q is not an IP address (ranges are not supported, as in Tyk)", ip)
		}
	}
	if a.EnableGeoIP {
		note("analytics_config.enable_geo_ip is not supported: records carry an empty geo")
	}
	if nu := a.NormaliseUrls; nu.Enabled {
		for i, p := range nu.CustomPatterns {
			if _, err := analytics.CompilePattern(p); err != nil {
				add("analytics_config.normalise_urls.custom_patterns[%d] %v", i, err)
			}
		}
		if !nu.NormaliseUUIDs && !nu.NormaliseULIDs && !nu.NormaliseNumbers && len(nu.CustomPatterns) == 0 {
			note("analytics_config.normalise_urls is enabled but asks for nothing: set normalise_uuids, normalise_ulids, normalise_numbers or custom_patterns")
		}
	}
	if (c.Storage.Type == "redis" || c.EnableSeparateAnalyticsStore) && strings.TrimSpace(a.FilePath) != "" && a.FilePath != Default().AnalyticsConfig.FilePath {
		note("analytics_config.file_path is not used with Redis: records go to the Redis list tyk-pump reads")
	}
}

// checkPrometheus checks the metrics listener's keys, when it is on.
func (c *Config) checkPrometheus(add func(string, ...any)) {
	p := c.Prometheus
	if !p.Enabled {
		return
	}
	host, port, err := net.SplitHostPort(p.ListenAddress)
	if err != nil {
		add("prometheus.listen_address %q is not host:port (for example %q): %v", p.ListenAddress, DefaultPrometheusAddress, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		add("prometheus.listen_address %q: the port must be a number from 0 to 65535", p.ListenAddress)
	} else {
		checkListenHost(add, "prometheus.listen_address", host)
		if n != 0 && (p.ListenAddress == c.ListenAddr() || p.ListenAddress == c.ControlAddr()) {
			add("prometheus.listen_address %q is the address of the proxy or Gateway API listener; metrics need a listener of their own", p.ListenAddress)
		}
	}
	if !strings.HasPrefix(p.Path, "/") {
		add("prometheus.path %q must start with /", p.Path)
	}
}

// noteUnsafeDynamicMTLS notes security.allow_unsafe_dynamic_mtls_token, which Gatehouse does
// not follow.
func (c *Config) noteUnsafeDynamicMTLS(note func(string, ...any)) {
	if c.Security.AllowUnsafeDynamicMTLSToken {
		note("security.allow_unsafe_dynamic_mtls_token is not followed: certificate auth (use_certificate) takes the client certificate only, never the key's name as a token, which anyone who has seen the certificate could compute")
	}
}

// checkControlMutualTLS validates security.control_api_use_mutual_tls and the certificates it
// admits. Tyk can ask for client certificates on a listener it shares with APIs (per SNI name);
// Gatehouse asks for them only on a Gateway API listener of its own.
func (c *Config) checkControlMutualTLS(add func(string, ...any), note func(string, ...any)) {
	const key = "security.control_api_use_mutual_tls"
	files := c.Security.Certificates.ControlAPI
	if !c.Security.ControlAPIUseMutualTLS {
		if len(files) > 0 {
			note("security.certificates.control_api is set but %s is false, so the Gateway API asks for no client certificate", key)
		}
		return
	}
	if !c.HTTPServerOptions.UseSSL {
		add("%s is true but http_server_options.use_ssl is false: client certificates are asked for in the TLS handshake; "+
			"set use_ssl with a certificate for the listeners", key)
	}
	if c.ControlOnMainListener() {
		add("%s is true but the Gateway API shares the proxy's listener; set control_api_port to a port of its own "+
			"(Gatehouse asks for client certificates only there)", key)
	}
	if len(files) == 0 {
		add("%s is true but security.certificates.control_api lists no certificate; give the PEM files of the "+
			"client certificates allowed to call the Gateway API", key)
	}
	for i, f := range files {
		if strings.TrimSpace(f) == "" {
			add("security.certificates.control_api[%d] is empty; give the path of a PEM file holding a client certificate", i)
		}
	}
}

// checkUptimeTests checks the uptime_tests block.
func (c *Config) checkUptimeTests(add func(string, ...any), note func(string, ...any)) {
	u := c.UptimeTests
	if n := u.Config.FailureTriggerSampleSize; n < 0 || n > 100 {
		add("uptime_tests.config.failure_trigger_sample_size %d must be from 0 (the default, 3) to 100", n)
	}
	if n := u.Config.TimeWait; n < 0 || n > 3600 {
		add("uptime_tests.config.time_wait %d must be a number of seconds from 0 (the default, 10) to 3600", n)
	}
	if n := u.Config.CheckerPoolSize; n < 0 || n > 10000 {
		add("uptime_tests.config.checker_pool_size %d must be from 0 (the default, 50) to 10000", n)
	}
	switch {
	case strings.ContainsAny(u.PollerGroup, "{}"):
		add("uptime_tests.poller_group %q may not hold braces", u.PollerGroup)
	case u.PollerGroup != "" && c.Storage.Type != "redis":
		note("uptime_tests.poller_group is not used without Redis: a gateway alone runs its uptime tests itself")
	}
	if u.Config.EnableUptimeAnalytics && c.Storage.Type != "redis" && !c.SeparateAnalyticsStore() {
		note("uptime_tests.config.enable_uptime_analytics records nothing without Redis: tyk-pump reads uptime analytics from Redis")
	}
}

// checkSegment checks db_app_conf_options: a segmented gateway needs tags, or it would serve
// none of the fleet's definitions.
func (c *Config) checkSegment(add, note func(string, ...any)) {
	o := c.DBAppConfOptions
	for i, t := range o.Tags {
		if (strings.TrimSpace(t) != t || t == "") && o.NodeIsSegmented {
			add("db_app_conf_options.tags[%d] is %q; a tag is a non-empty word without spaces around it", i, t)
		}
	}
	switch {
	case o.NodeIsSegmented && len(o.Tags) == 0:
		add("db_app_conf_options.node_is_segmented is true but tags is empty, so this gateway would serve " +
			"none of the definitions the fleet shares; list the tags it serves, or set node_is_segmented to false")
	case o.NodeIsSegmented && c.Storage.Type != "redis":
		note("db_app_conf_options.node_is_segmented changes nothing without storage.type \"redis\": " +
			"it chooses among the definitions a fleet shares through Redis, and every definition in app_path loads")
	case !o.NodeIsSegmented && len(o.Tags) > 0:
		note("db_app_conf_options.tags changes nothing without node_is_segmented: this gateway serves every " +
			"definition the fleet shares")
	}
}
