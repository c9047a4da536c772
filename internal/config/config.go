package config

import (
	"github.com/gatehouse/gatehouse/apidef"

	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// TykSampleSecret is the secret shipped in Tyk's sample configuration files. It is public, so a
// gateway that uses it has an unprotected Gateway API.
const TykSampleSecret = "352d20ee67be67f6340b4c0605b044b7"

// DefaultMaxRequestBodySize is the request body limit used when max_request_body_size is not set.
const DefaultMaxRequestBodySize int64 = 100 << 20

// Config is the gateway's static configuration. JSON keys follow Tyk's tyk.conf.
type Config struct {
	// ListenAddress is the proxy listener's host; "" means all interfaces.
	ListenAddress string `json:"listen_address"`
	// ListenPort is the proxy listener's port.
	ListenPort int `json:"listen_port"`
	// Secret authenticates Gateway API calls; see SecretProblem.
	Secret string `json:"secret"`
	// Secrets are named values that header transforms and URL rewrite targets use as
	// $secret_conf.<name>, as in Tyk (for example an upstream's credentials kept out of API
	// definitions).
	Secrets map[string]string `json:"secrets"`
	// RateLimitResponseHeaders is what X-RateLimit-Limit, -Remaining and -Reset describe on
	// keyed responses: "quotas" (the default, "" too) or "rate_limits" (the key's rate limit,
	// on 429s too), as in Tyk.
	RateLimitResponseHeaders string `json:"rate_limit_response_headers"`
	// EnableRateLimitSmoothing applies the smoothing of keys' and policies' rate limits
	// (apidef.RateLimitSmoothing), as Tyk does with it; without it smoothing changes nothing.
	EnableRateLimitSmoothing bool `json:"enable_rate_limit_smoothing"`
	// OverrideMessages change the status and message of the refusals Tyk names (Tyk's
	// override_messages), by name: see Reply.
	OverrideMessages map[string]TykError `json:"override_messages"`
	// ErrorOverrides rewrite the error answers of every API (Tyk's error_overrides), after an
	// API's own: see apidef.ErrorOverrides.
	ErrorOverrides apidef.ErrorOverrides `json:"error_overrides"`
	// EventHandlers are the gateway's own event handlers (Tyk's system events: keys created,
	// changed and deleted through the Gateway API), in an API's event_handlers shape.
	EventHandlers apidef.EventHandlers `json:"event_handlers"`
	// ControlAPIHostname is the Gateway API listener's host; "" means all interfaces.
	ControlAPIHostname string `json:"control_api_hostname"`
	// ControlAPIPort is the Gateway API listener's port; 0 serves the Gateway API on the main
	// listener.
	ControlAPIPort int `json:"control_api_port"`
	// AppPath is the directory of API definition files.
	AppPath string `json:"app_path"`
	// MiddlewarePath is the directory of plugins and downloaded bundles.
	MiddlewarePath string `json:"middleware_path"`
	// TemplatePath is the directory of Tyk's error templates (error.json, error_<code>.xml,
	// ...; internal/errtmpl); one that does not exist leaves the built-in ones.
	TemplatePath string `json:"template_path"`
	// HashKeys stores keys under a hash of the key rather than the key itself.
	HashKeys bool `json:"hash_keys"`
	// MinTokenLength is Tyk's min_token_length: a token shorter than this many bytes names no
	// key on requests (the key is treated as not found, whatever the auth method), and the
	// Gateway API does not create a key by such a name. 0 means Tyk's default, 3: see
	// TokenMinLength.
	MinTokenLength int `json:"min_token_length"`
	// OAuthTokenExpire is how long an OAuth 2.0 access token lives, in seconds (0: 3600).
	OAuthTokenExpire int64 `json:"oauth_token_expire"`
	// OAuthRefreshExpire is how long an OAuth 2.0 refresh token lives, in seconds (0: 14 days).
	OAuthRefreshExpire int64 `json:"oauth_refresh_token_expire"`
	// OAuthErrorStatusCode is the status of the OAuth 2.0 endpoints' errors (0: 403).
	OAuthErrorStatusCode int `json:"oauth_error_status_code"`
	// OAuthRedirectURISeparator splits an OAuth client's redirect_uri into several ("": one).
	OAuthRedirectURISeparator string `json:"oauth_redirect_uri_separator"`
	// ServiceDiscovery holds the service discovery defaults.
	ServiceDiscovery ServiceDiscoveryConfig `json:"service_discovery"`
	// UptimeTests configures the checks of the APIs' uptime_tests (internal/uptime).
	UptimeTests UptimeTestsConfig `json:"uptime_tests"`
	// AllowMasterKeys lets a key without access rights reach every API.
	AllowMasterKeys bool `json:"allow_master_keys"`
	// EnforceOrgQuotas limits every API of an org_id by the org's session (/tyk/org/keys): its
	// rate limit, quota and is_inactive, as Tyk's OrganizationMonitor.
	EnforceOrgQuotas bool `json:"enforce_org_quotas"`
	// Monitor is Tyk's quota monitor: a webhook told when a key's or an org's quota use passes
	// a trigger percentage.
	Monitor MonitorConfig `json:"monitor"`
	// EnforceOrgDataAge makes an org session's data_expires the expiry of its APIs' analytics
	// records, as in Tyk (a week for an org without a session).
	EnforceOrgDataAge bool `json:"enforce_org_data_age"`
	// EnforceOrgDataDetailLogging makes an org session's enable_detailed_recording decide
	// whether its APIs' analytics records hold the raw request and response, as in Tyk (over
	// analytics_config.enable_detailed_recording; an API's or key's own setting still wins).
	EnforceOrgDataDetailLogging bool `json:"enforce_org_data_detailed_logging"`
	// ExperimentalProcessOrgOffThread is Tyk's way of checking org limits beside the request;
	// Gatehouse checks them in line (one call to the store, as for keys) and notes the setting.
	ExperimentalProcessOrgOffThread bool `json:"experimental_process_org_off_thread"`
	// Storage selects the key and counter store.
	Storage StorageConfig `json:"storage"`
	// NodeSecret signs the notifications gateways sharing a Redis store send each other
	// (group reloads, key changes); every node must have the same. Empty: Secret is used.
	NodeSecret string `json:"node_secret"`
	// DBAppConfOptions is Tyk's db_app_conf_options: with node_is_segmented, this gateway
	// serves only the fleet's shared definitions tagged with one of its tags (see Segment).
	DBAppConfOptions DBAppConfOptions `json:"db_app_conf_options"`
	// SuppressRedisSignalReload stops this gateway listening to notifications from others.
	SuppressRedisSignalReload bool `json:"suppress_redis_signal_reload"`
	// Policies selects where security policies come from.
	Policies PoliciesConfig `json:"policies"`
	// HTTPServerOptions tunes the proxy listener.
	HTTPServerOptions HTTPServerOptions `json:"http_server_options"`
	// ProxyDefaultTimeout is the upstream timeout in seconds; see ProxyTimeout.
	ProxyDefaultTimeout float64 `json:"proxy_default_timeout"`
	// ProxySSLInsecureSkipVerify skips the check of every upstream's TLS certificate.
	ProxySSLInsecureSkipVerify bool `json:"proxy_ssl_insecure_skip_verify"`
	// ProxySSLMinVersion and ProxySSLMaxVersion bound the TLS version spoken to upstreams, in
	// Tyk's numbers (769 = TLS 1.0 ... 772 = TLS 1.3); 0 means 1.2 and 1.3. See UpstreamTLS.
	ProxySSLMinVersion int `json:"proxy_ssl_min_version"`
	ProxySSLMaxVersion int `json:"proxy_ssl_max_version"`
	// ProxySSLCiphers are the cipher suites offered to upstreams up to TLS 1.2, by Go name;
	// empty means Go's defaults.
	ProxySSLCiphers []string `json:"proxy_ssl_ciphers"`
	// ProxySSLDisableRenegotiation refuses the renegotiation an upstream asks for (TLS 1.2);
	// as in Tyk, it is allowed by default.
	ProxySSLDisableRenegotiation bool `json:"proxy_ssl_disable_renegotiation"`
	// ProxySSLCAFile holds CA certificates upstream certificates may chain to, besides the
	// system's (Gatehouse's own key: Tyk uses its certificate store).
	ProxySSLCAFile string `json:"proxy_ssl_ca_file"`
	// ProxyEnableHTTP2 speaks HTTP/2 to TLS upstreams that offer it; h2c:// targets always
	// speak cleartext HTTP/2.
	ProxyEnableHTTP2 bool `json:"proxy_enable_http2"`
	// Security holds certificate settings.
	Security SecurityConfig `json:"security"`
	// GracefulShutdownTimeoutDuration is how many seconds in-flight requests get at shutdown.
	GracefulShutdownTimeoutDuration int `json:"graceful_shutdown_timeout_duration"`
	// GracefulShutdownDelaySeconds is how many seconds the gateway keeps serving after a stop
	// signal, with the readiness check answering 503, before it stops accepting connections:
	// time for a load balancer to stop sending it traffic.
	GracefulShutdownDelaySeconds int `json:"graceful_shutdown_delay_seconds"`
	// EnableBundleDownloader allows fetching plugin bundles from BundleBaseURL.
	EnableBundleDownloader bool `json:"enable_bundle_downloader"`
	// BundleBaseURL is where bundles are fetched from (http, https or file).
	BundleBaseURL string `json:"bundle_base_url"`
	// BundleInsecureSkipVerify disables TLS certificate checks for https bundle downloads.
	BundleInsecureSkipVerify bool `json:"bundle_insecure_skip_verify"`
	// BundleDownloadProgressTimeout is how many seconds a bundle server may stay silent during
	// a download: to answer, and between two reads of the bundle. A download that keeps
	// progressing is not cut by it (a Gatehouse key; Tyk has none). See BundleProgressTimeout.
	BundleDownloadProgressTimeout int `json:"bundle_download_progress_timeout"`
	// PublicKeyPath is the PEM public key that downloaded bundles must be signed with.
	PublicKeyPath string `json:"public_key_path"`
	// BundleAllowUnsealed accepts, with PublicKeyPath, signed bundles without Gatehouse's
	// gatehouse_seal (those Tyk's tooling builds): their files' contents are verified, their hooks
	// and file names are not, as in Tyk. A Gatehouse key; by default such a bundle is refused.
	BundleAllowUnsealed bool `json:"bundle_allow_unsealed"`
	// LogLevel is debug, info, warn or error (Load normalises "warning" to "warn").
	LogLevel string `json:"log_level"`
	// LogFormat is text or json (Load normalises Tyk's "default" to "text").
	LogFormat string `json:"log_format"`
	// TrustedProxies are the addresses and CIDR ranges of the proxies in front of the gateway
	// (a Gatehouse key: Tyk believes X-Forwarded-For from anyone). Only from one of them does
	// X-Forwarded-For decide the client address IP allow and block lists check; see
	// TrustedProxyPrefixes.
	TrustedProxies []string `json:"trusted_proxies"`
	// HealthCheckEndpointName is the health endpoint's path segment, as in /hello.
	HealthCheckEndpointName string `json:"health_check_endpoint_name"`
	// ReadinessCheckEndpointName is the readiness endpoint's path segment, as in /ready.
	ReadinessCheckEndpointName string `json:"readiness_check_endpoint_name"`
	// EnableHTTPProfiler serves Go's profiles (CPU, heap, goroutines, execution trace) under
	// /debug/pprof/ on the Gateway API's listener, behind the secret like the /tyk/ paths.
	EnableHTTPProfiler bool `json:"enable_http_profiler"`
	// FailOnPluginLoadError makes a plugin that cannot load stop the gateway from starting (and
	// a reload from taking effect) instead of failing only its API closed.
	FailOnPluginLoadError bool `json:"fail_on_plugin_load_error"`
	// EnableAnalytics records one analytics record per request, handed to the API's analytics
	// plugin and then written to AnalyticsConfig.FilePath.
	EnableAnalytics bool            `json:"enable_analytics"`
	AnalyticsConfig AnalyticsConfig `json:"analytics_config"`
	// EnableSeparateAnalyticsStore, with EnableAnalytics, writes analytics records and uptime
	// analytics to the Redis of AnalyticsStorage instead of the storage block's, as Tyk does:
	// tyk-pump reads them there, and their traffic stays off the Redis keys and limits live on.
	EnableSeparateAnalyticsStore bool `json:"enable_separate_analytics_store"`
	// AnalyticsStorage is that Redis, with the keys of the storage block (type "redis";
	// fallback_to_cached_sessions does not apply). A timeout of 0 is storage.timeout's.
	AnalyticsStorage StorageConfig `json:"analytics_storage"`
	// EnableSeparateCacheStore keeps the APIs' cached responses (cache_options) in the store
	// CacheStorage describes: a Redis the fleet shares (type "redis"), or each gateway's own
	// memory (type "memory", the default without it).
	EnableSeparateCacheStore bool `json:"enable_separate_cache_store"`
	// CacheStorage is that store, with the keys of the storage block (type "redis" or
	// "memory"; fallback_to_cached_sessions does not apply). A timeout of 0 is storage.timeout's.
	CacheStorage StorageConfig `json:"cache_storage"`
	// Prometheus serves the gateway's metrics on a listener of their own; the keys are those of
	// tyk-pump's Prometheus pump. See docs/observability.md.
	Prometheus PrometheusConfig `json:"prometheus"`
	// AccessLogs writes one line per request through the gateway's logger, as Tyk's
	// access_logs does. See docs/observability.md.
	AccessLogs AccessLogsConfig `json:"access_logs"`
	// OpenTelemetry traces requests and exports the spans over OTLP/HTTP, with tyk.conf's
	// keys. See docs/observability.md.
	OpenTelemetry OpenTelemetryConfig `json:"opentelemetry"`
}

// AccessLogsConfig is tyk.conf's access_logs block.
type AccessLogsConfig struct {
	// Enabled writes the lines (off by default, as in Tyk).
	Enabled bool `json:"enabled"`
	// Template names the fields of a line (accesslog.Names); empty means all of them.
	Template []string `json:"template"`
}

// DefaultPrometheusAddress is where metrics are served unless prometheus.listen_address says
// otherwise: loopback, beside the Gateway API's 9696.
const DefaultPrometheusAddress = "127.0.0.1:9697"

// PrometheusConfig is the metrics listener, named as tyk-pump's Prometheus pump names it.
type PrometheusConfig struct {
	// Enabled serves the metrics (on by default, on loopback).
	Enabled bool `json:"enabled"`
	// ListenAddress is the listener's host:port; a port of 0 picks a free one.
	ListenAddress string `json:"listen_address"`
	// Path is where the metrics are served, /metrics by default.
	Path string `json:"path"`
}

// SecurityConfig is tyk.conf's security block, in the part Gatehouse reads.
type SecurityConfig struct {
	// ControlAPIUseMutualTLS makes the Gateway API's listener require a client certificate,
	// one of those listed in Certificates.ControlAPI, in the TLS handshake and on every
	// request. It needs use_ssl and a control_api_port of the Gateway API's own.
	ControlAPIUseMutualTLS bool               `json:"control_api_use_mutual_tls"`
	Certificates           CertificatesConfig `json:"certificates"`
	// AllowUnsafeDynamicMTLSToken is Tyk's way back to its older dynamic mTLS, where a
	// certificate's key could be sent as a token without the certificate; Gatehouse never reads
	// a token for certificate auth (noted).
	AllowUnsafeDynamicMTLSToken bool `json:"allow_unsafe_dynamic_mtls_token"`
	// PinnedPublicKeys maps an upstream host ("api.example.com", "*.example.com", either with
	// a port, or "*") to the public keys one of which its certificate chain must hold: a
	// comma-separated list of SHA-256 fingerprints of public keys and PEM files of public keys
	// or certificates. An API's own pinned_public_keys win for the hosts they name.
	PinnedPublicKeys map[string]string `json:"pinned_public_keys"`
	// EnableCertificateBinding is read and changes nothing: a key's
	// mtls_static_certificate_bindings are always checked (Tyk ignores them unless it is set).
	EnableCertificateBinding bool `json:"enable_certificate_binding"`
	// PrivateCertificateEncodingSecret encrypts the private keys of the certificate store
	// (/tyk/certs); empty: Secret does, as in Tyk. Every gateway sharing the store needs the
	// same, and changing it makes the keys stored before unreadable.
	PrivateCertificateEncodingSecret string `json:"private_certificate_encoding_secret"`
}

// CertificatesConfig names certificates by use.
type CertificatesConfig struct {
	// Upstream maps an upstream host name ("api.example.com", "*.example.com", either with a
	// port, or "*" for any) to a PEM file holding the client certificate and its private key presented to that
	// upstream (mutual TLS). Tyk maps to certificate-store ids; Gatehouse has no store.
	Upstream map[string]string `json:"upstream"`
	// ControlAPI are PEM files of the client certificates allowed to call the Gateway API with
	// control_api_use_mutual_tls: each certificate itself, as in Tyk (a CA listed here does not
	// admit the certificates it issued). Tyk names certificate-store ids.
	ControlAPI []string `json:"control_api"`
	// APIs are client certificates every API with use_mutual_tls_auth lets in, besides its
	// own client_certificates: PEM files, PEM text or SHA-256 fingerprints.
	APIs []string `json:"apis"`
}

// AnalyticsConfig is tyk.conf's analytics_config block, in the part Gatehouse reads, and where
// records go: with the Redis store, to the Redis list tyk-pump reads (the keys below are Tyk's);
// with the memory store, to FilePath. See docs/observability.md.
type AnalyticsConfig struct {
	// FilePath is the file records are appended to, one JSON object per line (memory store).
	FilePath string `json:"file_path"`
	// Type "rpc" forwards records to MDCB in Tyk; Gatehouse refuses it.
	Type string `json:"type"`
	// IgnoredIPs are client addresses whose requests produce no record (exact addresses).
	IgnoredIPs []string `json:"ignored_ips"`
	// EnableDetailedRecording puts the raw request and response (credentials redacted, bodies
	// bounded) in every API's records; an API can also set it for itself.
	EnableDetailedRecording bool `json:"enable_detailed_recording"`
	// EnableGeoIP and GeoIPDBPath look the client address up in a MaxMind database in Tyk;
	// Gatehouse has no lookup, and records carry an empty geo.
	EnableGeoIP bool   `json:"enable_geo_ip"`
	GeoIPDBPath string `json:"geo_ip_db_path"`
	// PoolSize is the number of workers writing to Redis; 0 means the number of CPUs.
	PoolSize int `json:"pool_size"`
	// RecordsBufferSize is how many records may wait for the workers (at least 1000, the
	// default); each worker writes up to RecordsBufferSize/PoolSize records at once.
	RecordsBufferSize int `json:"records_buffer_size"`
	// StorageExpirationTime is the TTL, in seconds, set on the Redis list when it has none, so
	// that it does not grow for ever when no tyk-pump reads it; 0 means 60, -1 never.
	StorageExpirationTime int `json:"storage_expiration_time"`
	// EnableMultipleAnalyticsKeys spreads records over ten lists (the list name with _0 to _9).
	EnableMultipleAnalyticsKeys bool `json:"enable_multiple_analytics_keys"`
	// SerializerType is "msgpack" (or "", the same); Tyk's "protobuf" is refused.
	SerializerType string `json:"serializer_type"`
	// PurgeInterval is for rpc forwarding in Tyk; Gatehouse ignores it.
	PurgeInterval float64 `json:"purge_interval"`
	// NormaliseUrls rewrites the path analytics records carry (not their raw path), as Tyk
	// does: UUIDs to {uuid}, ULIDs to {ulid}, numbers after a slash to {id}, custom patterns'
	// matches to {var}.
	NormaliseUrls struct {
		Enabled          bool     `json:"enabled"`
		NormaliseUUIDs   bool     `json:"normalise_uuids"`
		NormaliseULIDs   bool     `json:"normalise_ulids"`
		NormaliseNumbers bool     `json:"normalise_numbers"`
		CustomPatterns   []string `json:"custom_patterns"`
	} `json:"normalise_urls"`
}

// AnalyticsTTL returns storage_expiration_time as a duration: 60 s when it is 0, and 0 (no
// TTL) when it is negative.
func (a AnalyticsConfig) AnalyticsTTL() time.Duration {
	switch {
	case a.StorageExpirationTime == 0:
		return time.Minute
	case a.StorageExpirationTime < 0:
		return 0
	}
	return time.Duration(a.StorageExpirationTime) * time.Second
}

// StorageConfig selects the store for keys, rate limits, quotas and, with Redis, what a fleet
// of gateways shares. The keys are tyk.conf's storage block.
type StorageConfig struct {
	// Type is "memory" (single node) or "redis".
	Type string `json:"type"`
	// Host is the Redis host, used with Port when Addrs is empty.
	Host string `json:"host"`
	// Port is the Redis port.
	Port int `json:"port"`
	// Addrs lists Redis servers as host:port; when set it takes precedence over Host and Port.
	// A standalone client uses the first; a cluster client starts from any; with MasterName
	// they are the Sentinels.
	Addrs []string `json:"addrs"`
	// MasterName, when set, makes the gateway find the Redis master through Sentinel, under
	// this name; it wins over EnableCluster, as in Tyk.
	MasterName string `json:"master_name"`
	// SentinelPassword authenticates to the Sentinels.
	SentinelPassword string `json:"sentinel_password"`
	// Username is the Redis ACL user name.
	Username string `json:"username"`
	// Password is the Redis password.
	Password string `json:"password"`
	// Database is the Redis database number (not with a cluster).
	Database int `json:"database"`
	// EnableCluster talks to a Redis Cluster.
	EnableCluster bool `json:"enable_cluster"`
	// UseSSL connects to Redis with TLS; the next five keys apply only then.
	UseSSL bool `json:"use_ssl"`
	// SSLInsecureSkipVerify skips the check of the Redis server's certificate.
	SSLInsecureSkipVerify bool `json:"ssl_insecure_skip_verify"`
	// CAFile holds the CA certificates the server's certificate is checked against, instead
	// of the system's.
	CAFile string `json:"ca_file"`
	// CertFile and KeyFile are the client certificate, for Redis servers that require one.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// TLSMinVersion and TLSMaxVersion bound the TLS version: "1.2" and "1.3" by default.
	TLSMinVersion string `json:"tls_min_version"`
	TLSMaxVersion string `json:"tls_max_version"`
	// Timeout bounds connecting and every call to Redis, in seconds (fractions allowed): a
	// keyed request fails closed with 503 at most this long after Redis stops answering.
	Timeout float64 `json:"timeout"`
	// OptimisationMaxActive is the size of the pool of connections per Redis server kept for
	// calls that cannot share a connection; ordinary calls share a few pipelined connections.
	OptimisationMaxActive int `json:"optimisation_max_active"`
	// FallbackToCachedSessions keeps keyed traffic going while Redis is down, for keys this
	// gateway has seen, with rate limits and quotas counted on this gateway alone. Off by
	// default: see docs/fleet.md for what it trades.
	FallbackToCachedSessions bool `json:"fallback_to_cached_sessions"`
}

// StorageTimeout returns storage.timeout as a duration.
func (c *Config) StorageTimeout() time.Duration {
	return time.Duration(c.Storage.Timeout * float64(time.Second))
}

// ResponseCacheStore returns where the APIs' cached responses are kept: "memory" (each
// gateway's own, bounded) unless enable_separate_cache_store names a Redis for them in
// cache_storage ("redis"). Tyk keeps them in the storage block's Redis; Gatehouse does not by
// default, since any client can add entries (each query string is one), which would compete
// with keys and limits for that Redis's memory.
func (c *Config) ResponseCacheStore() string {
	if c.EnableSeparateCacheStore && c.CacheStorage.Type == "redis" {
		return "redis"
	}
	return "memory"
}

// CacheStorageTimeout returns cache_storage.timeout as a duration, storage.timeout's when it
// is 0.
func (c *Config) CacheStorageTimeout() time.Duration { return c.timeoutOr(c.CacheStorage) }

// timeoutOr returns a Redis block's timeout, storage.timeout's when it is 0.
func (c *Config) timeoutOr(s StorageConfig) time.Duration {
	if s.Timeout == 0 {
		return c.StorageTimeout()
	}
	return time.Duration(s.Timeout * float64(time.Second))
}

// SeparateAnalyticsStore reports whether analytics go to analytics_storage: with
// enable_analytics and enable_separate_analytics_store both on, as in Tyk.
func (c *Config) SeparateAnalyticsStore() bool {
	return c.EnableAnalytics && c.EnableSeparateAnalyticsStore
}

// AnalyticsStorageTimeout returns analytics_storage.timeout as a duration, storage.timeout's
// when it is 0.
func (c *Config) AnalyticsStorageTimeout() time.Duration { return c.timeoutOr(c.AnalyticsStorage) }

// NotificationSecret returns the secret notifications between gateways are signed with:
// node_secret, or the Gateway API secret when node_secret is empty; "" when that is empty or
// Tyk's published sample secret, which anyone can sign with.
func (c *Config) NotificationSecret() string {
	s := strings.TrimSpace(c.NodeSecret)
	if s == "" {
		s = strings.TrimSpace(c.Secret)
	}
	if s == TykSampleSecret {
		return ""
	}
	return s
}

// CertificateSecret returns the secret the certificate store's private keys are encrypted
// under: security.private_certificate_encoding_secret, or secret without it.
func (c *Config) CertificateSecret() string {
	if c.Security.PrivateCertificateEncodingSecret != "" {
		return c.Security.PrivateCertificateEncodingSecret
	}
	return c.Secret
}

// PoliciesConfig selects where security policies come from.
type PoliciesConfig struct {
	// PolicySource is "" (no policies) or "file".
	PolicySource string `json:"policy_source"`
	// PolicyRecordName is the policies file when PolicySource is "file".
	PolicyRecordName string `json:"policy_record_name"`
}

// HTTPServerOptions tunes the proxy listener. Times are in seconds; 0 means no limit.
type HTTPServerOptions struct {
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout int `json:"read_timeout"`
	// WriteTimeout bounds writing a response; the default 0 keeps streaming responses alive.
	WriteTimeout int `json:"write_timeout"`
	// ReadHeaderTimeout bounds reading the request headers.
	ReadHeaderTimeout int `json:"read_header_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for the next request.
	IdleTimeout int `json:"idle_timeout"`
	// MaxRequestBodySize is the largest request body in bytes; 0 means unlimited.
	MaxRequestBodySize int64 `json:"max_request_body_size"`
	// MaxHeaderBytes bounds a request's line and header fields, in bytes; larger requests get
	// 431. 0 means Go's own limit of 1 MiB.
	MaxHeaderBytes int `json:"max_header_bytes"`
	// WriteProgressTimeout closes a connection on which a response write made no progress for
	// this many seconds (a client that stopped reading), however long the response streams.
	WriteProgressTimeout int `json:"write_progress_timeout"`
	// MaxConnections bounds the client connections each listener holds at once; past it, new
	// connections wait in the kernel's accept queue until one closes. 0 derives the bound from
	// the process's open-file limit (half of it, less a reserve for upstreams, Redis and files);
	// -1 means no bound.
	MaxConnections int `json:"max_connections"`

	// UseSSL makes the proxy listener (and a separate Gateway API listener) serve TLS, with
	// the certificates below; see docs/tls.md.
	UseSSL bool `json:"use_ssl"`
	// Certificates are certificate and key files, each chosen for its DomainName and for the
	// names the certificate carries.
	Certificates []CertificateFile `json:"certificates"`
	// SSLCertificates are PEM files each holding a certificate and its key. Tyk also accepts
	// certificate-store IDs here; Gatehouse has no certificate store.
	SSLCertificates []string `json:"ssl_certificates"`
	// MinVersion and MaxVersion bound the TLS version with Tyk's numbers (771 = TLS 1.2);
	// 0 means TLS 1.2 and 1.3 respectively. See TLSVersions.
	MinVersion int `json:"min_version"`
	MaxVersion int `json:"max_version"`
	// SSLCiphers limits the TLS 1.2 cipher suites to these Go names; empty: Go's defaults.
	SSLCiphers []string `json:"ssl_ciphers"`
	// EnableHTTP2 offers HTTP/2 to TLS clients (h2 by ALPN); HTTP/1.1 is always served.
	EnableHTTP2 bool `json:"enable_http2"`
	// EnableH2C serves cleartext HTTP/2 (prior knowledge) on a listener without TLS. Gatehouse
	// only: Tyk serves h2c on every plain listener.
	EnableH2C bool `json:"enable_h2c"`
	// EnableWebSockets lets a WebSocket upgrade through: after the API's chain passes the
	// handshake, the connection becomes a tunnel to the upstream. Off (Tyk's default), the
	// upgrade is removed and the request forwarded as a plain one, as Tyk does.
	EnableWebSockets bool `json:"enable_websockets"`
	// EnablePathSuffixMatching makes what endpoint lists and keys' allowed URLs grant (ignored,
	// white_list, mock replies, allowed_urls) cover the paths they match whole, none below them:
	// `/users` grants `/users`, not `/users/1`. Refusals still match anywhere in the path.
	EnablePathSuffixMatching bool `json:"enable_path_suffix_matching"`
	// EnablePathPrefixMatching is Tyk's: grants are always anchored at the start of the path
	// in Gatehouse, so it changes nothing; refusals match anywhere (the safe side). Read so
	// that a Tyk configuration setting it is not warned about.
	EnablePathPrefixMatching bool `json:"enable_path_prefix_matching"`
}

// CertificateFile is one entry of http_server_options.certificates.
type CertificateFile struct {
	// DomainName is a server name (SNI) the certificate is served for.
	DomainName string `json:"domain_name"`
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string `json:"cert_file"`
	// KeyFile is the PEM private key.
	KeyFile string `json:"key_file"`
}

// DefaultMaxHeaderBytes is the header limit used when max_header_bytes is not set, near common
// gateways' (Envoy 60 KiB, nginx 8–32 KiB) and far below Go's 1 MiB.
const DefaultMaxHeaderBytes = 64 << 10

// DefaultMinTokenLength is min_token_length's default, Tyk's, and what 0 means.
const DefaultMinTokenLength = 3

// TokenMinLength returns the shortest token, in bytes, that names a key: min_token_length, or
// Tyk's default 3 for 0.
func (c *Config) TokenMinLength() int {
	if c.MinTokenLength == 0 {
		return DefaultMinTokenLength
	}
	return c.MinTokenLength
}

// DefaultTemplatePath is template_path's default, relative to the working directory.
const DefaultTemplatePath = "templates"

// Default returns the built-in configuration: loopback listeners, the memory store, no policies.
func Default() *Config {
	return &Config{
		ListenAddress:      "127.0.0.1",
		ListenPort:         8080,
		ControlAPIHostname: "127.0.0.1",
		ControlAPIPort:     9696,
		AppPath:            "apps",
		MiddlewarePath:     "middleware",
		TemplatePath:       DefaultTemplatePath,
		HashKeys:           true,
		MinTokenLength:     DefaultMinTokenLength,
		Storage:            StorageConfig{Type: "memory", Host: "localhost", Port: 6379, Timeout: 1, OptimisationMaxActive: 500},
		HTTPServerOptions: HTTPServerOptions{
			ReadTimeout:          120,
			ReadHeaderTimeout:    10,
			IdleTimeout:          120,
			MaxRequestBodySize:   DefaultMaxRequestBodySize,
			MaxHeaderBytes:       DefaultMaxHeaderBytes,
			WriteProgressTimeout: 60,
		},
		ProxyDefaultTimeout:             30,
		GracefulShutdownTimeoutDuration: 30,
		BundleDownloadProgressTimeout:   30,
		LogLevel:                        "info",
		LogFormat:                       "text",
		HealthCheckEndpointName:         "hello",
		ReadinessCheckEndpointName:      "ready",
		AnalyticsConfig:                 AnalyticsConfig{FilePath: "analytics.jsonl"},
		Prometheus:                      PrometheusConfig{Enabled: true, ListenAddress: DefaultPrometheusAddress, Path: "/metrics"},
		OpenTelemetry:                   defaultOpenTelemetry(),
	}
}

// ListenAddr returns the proxy listener's address as host:port, bracketing IPv6 hosts.
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.ListenAddress, strconv.Itoa(c.ListenPort))
}

// ControlAddr returns the Gateway API listener's address as host:port. When the Gateway API is
// served on the main listener (see ControlOnMainListener) it returns ListenAddr.
func (c *Config) ControlAddr() string {
	if c.ControlOnMainListener() {
		return c.ListenAddr()
	}
	return net.JoinHostPort(c.ControlAPIHostname, strconv.Itoa(c.ControlAPIPort))
}

// ControlOnMainListener reports whether the Gateway API shares the proxy listener. That is the
// case when control_api_port is 0 (Tyk's meaning), or when it names exactly the same host and
// port as the proxy listener, since two listeners cannot bind the same address.
func (c *Config) ControlOnMainListener() bool {
	return c.ControlAPIPort == 0 ||
		(c.ControlAPIPort == c.ListenPort && c.ControlAPIHostname == c.ListenAddress)
}

// ProxyTimeout returns proxy_default_timeout as a duration.
func (c *Config) ProxyTimeout() time.Duration {
	return time.Duration(c.ProxyDefaultTimeout * float64(time.Second))
}

// BundleProgressTimeout returns bundle_download_progress_timeout as a duration.
func (c *Config) BundleProgressTimeout() time.Duration {
	return time.Duration(c.BundleDownloadProgressTimeout) * time.Second
}

// GraceTimeout returns graceful_shutdown_timeout_duration as a duration; 0 means in-flight
// requests are not waited for.
func (c *Config) GraceTimeout() time.Duration {
	return time.Duration(c.GracefulShutdownTimeoutDuration) * time.Second
}

// HealthPath returns the health check's path, /hello by default.
func (c *Config) HealthPath() string { return "/" + orDefault(c.HealthCheckEndpointName, "hello") }

// ReadyPath returns the readiness check's path, /ready by default.
func (c *Config) ReadyPath() string { return "/" + orDefault(c.ReadinessCheckEndpointName, "ready") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RateHeaders reports whether X-RateLimit-* describe the key's rate limit rather than its
// quota (rate_limit_response_headers "rate_limits").
func (c *Config) RateHeaders() bool { return c.RateLimitResponseHeaders == "rate_limits" }

// TykError is a refusal's status and message, as override_messages sets them (0 or "" keeps
// the default).
type TykError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// The refusals that override_messages can change in Gatehouse, by Tyk's names: the key check's
// (auth_token), for a request without a key and for a key that is not one; and the OAuth 2.0
// bearer token check's, for a request without a token, a token not sent as "Bearer <token>",
// a token that is not a key's and one whose client was deleted.
const (
	ErrAuthFieldMissing    = "auth.auth_field_missing"
	ErrAuthKeyNotFound     = "auth.key_not_found"
	ErrOAuthFieldMissing   = "oauth.auth_field_missing"
	ErrOAuthFieldMalformed = "oauth.auth_field_malformed"
	ErrOAuthKeyNotFound    = "oauth.key_not_found"
	ErrOAuthClientDeleted  = "oauth.client_deleted"
)

// answered are the names of the refusals override_messages changes here.
var answered = []string{ErrAuthFieldMissing, ErrAuthKeyNotFound, ErrOAuthFieldMissing, ErrOAuthFieldMalformed, ErrOAuthKeyNotFound, ErrOAuthClientDeleted}

// tykErrorsNotAnswered are the names Tyk's override_messages also knows, of refusals Gatehouse
// never makes: certificate auth is not implemented.
var tykErrorsNotAnswered = []string{
	"auth.cert_not_found", "auth.cert_expired", "auth.key_is_invalid", "auth.cert_required",
	"auth.cert_mismatch",
}

// Reply returns the status and message of the refusal Tyk names id: the default given,
// changed by override_messages.
func (c *Config) Reply(id string, status int, message string) (int, string) {
	o := c.OverrideMessages[id]
	if o.Code != 0 {
		status = o.Code
	}
	if o.Message != "" {
		message = o.Message
	}
	return status, message
}

// ShutdownDelay returns graceful_shutdown_delay_seconds as a duration.
func (c *Config) ShutdownDelay() time.Duration {
	return time.Duration(c.GracefulShutdownDelaySeconds) * time.Second
}

// SlogLevel returns log_level as a slog level. An empty or unknown level gives slog.LevelInfo;
// Load rejects unknown levels, so that happens only for hand-built configs.
func (c *Config) SlogLevel() slog.Level {
	l, _ := parseLogLevel(c.LogLevel)
	return l
}

// SecretProblem returns "" when the secret can protect the Gateway API, or otherwise a sentence
// saying why not and how to fix it. Load does not call it: the Gateway API decides what to do.
func (c *Config) SecretProblem() string {
	const fix = `set "secret" in the config file or the GATEHOUSE_SECRET environment variable ` +
		`to a long random value (for example the output of "openssl rand -hex 32")`
	switch {
	case strings.TrimSpace(c.Secret) == "":
		return "the secret is empty, so Gateway API requests cannot be authenticated; " + fix + "."
	case strings.TrimSpace(c.Secret) == TykSampleSecret:
		return "the secret is Tyk's published sample secret, which anyone can look up; " + fix + "."
	}
	return ""
}

// parseLogLevel maps a log_level value (any case) to a slog level and reports whether it is
// known. "" is Tyk's way of asking for the default, info.
func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, true
	case "", "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// parseLogFormat maps a log_format value (any case) to "text" or "json" and reports whether it
// is known. "" and Tyk 5.6's "default" mean text.
func parseLogFormat(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "text", "default":
		return "text", true
	case "json":
		return "json", true
	}
	return "", false
}

// normalise rewrites log_level and log_format to their canonical spellings so that the rest of
// the gateway compares against one value. Unknown values are left for validation to report.
func (c *Config) normalise() {
	if l, ok := parseLogLevel(c.LogLevel); ok {
		c.LogLevel = strings.ToLower(l.String())
	}
	if f, ok := parseLogFormat(c.LogFormat); ok {
		c.LogFormat = f
	}
}

// PolicyFile returns the policies file when policies come from a file, else "".
func (c *Config) PolicyFile() string {
	if c.Policies.PolicySource == "file" {
		return c.Policies.PolicyRecordName
	}
	return ""
}

// MonitorConfig is Tyk's monitor block (quota monitors).
type MonitorConfig struct {
	// EnableTriggerMonitors turns the monitor on.
	EnableTriggerMonitors bool `json:"enable_trigger_monitors"`
	// Configuration is the webhook the monitor sends to: an eh_web_hook_handler's handler_meta.
	Configuration apidef.WebHookMeta `json:"configuration"`
	// GlobalTriggerLimit is a percentage of every monitored quota that fires (0: none); a
	// session's own monitor.trigger_limits fire too.
	GlobalTriggerLimit float64 `json:"global_trigger_limit"`
	// MonitorUserKeys and MonitorOrgKeys say whose quotas are monitored: keys', orgs' (with
	// enforce_org_quotas).
	MonitorUserKeys bool `json:"monitor_user_keys"`
	MonitorOrgKeys  bool `json:"monitor_org_keys"`
}

// DBAppConfOptions is the part of Tyk's db_app_conf_options Gatehouse reads: a segmented node
// loads only the definitions tagged for it. Tyk applies it to what its Dashboard or MDCB sends;
// Gatehouse to what the fleet shares through Redis. The other keys (connection_string, ...)
// name Tyk's Dashboard and are reported as unknown.
type DBAppConfOptions struct {
	NodeIsSegmented bool     `json:"node_is_segmented"`
	Tags            []string `json:"tags"`
}

// Segment returns the tags of a segmented gateway, nil when it is not segmented. Such a gateway
// serves a definition the fleet shares only when the definition's tags (unless tags_disabled)
// hold one of these, compared exactly; app_path's definitions all load, as in Tyk.
func (c *Config) Segment() []string {
	if !c.DBAppConfOptions.NodeIsSegmented {
		return nil
	}
	return c.DBAppConfOptions.Tags
}

// ServiceDiscoveryConfig is Tyk's service_discovery block.
type ServiceDiscoveryConfig struct {
	// DefaultCacheTimeout is how many seconds discovered targets are kept for an API whose
	// service_discovery sets no cache_timeout (0: 120, as in Tyk).
	DefaultCacheTimeout int `json:"default_cache_timeout"`
}

// UptimeTestsConfig is Tyk's uptime_tests block: how the APIs' uptime tests run.
type UptimeTestsConfig struct {
	// Disable runs no uptime tests: no host is ever found down.
	Disable bool `json:"disable"`
	// PollerGroup names the gateways, sharing a Redis store, that share the checks between
	// them (each check run by one of them); "" is a group too. Alone, it changes nothing.
	PollerGroup string `json:"poller_group"`
	Config      struct {
		// FailureTriggerSampleSize is how many failures in a row mark a host down, and passes in
		// a row mark it up again (0: 3).
		FailureTriggerSampleSize int `json:"failure_trigger_sample_size"`
		// TimeWait is the seconds between two runs of each check (0: 10).
		TimeWait int `json:"time_wait"`
		// CheckerPoolSize bounds the checks running at once (0: 50).
		CheckerPoolSize int `json:"checker_pool_size"`
		// EnableUptimeAnalytics records each run of a check, by the gateway that ran it, in the
		// Redis list tyk-pump reads (host-checker:tyk-uptime-analytics); nothing without Redis.
		EnableUptimeAnalytics bool `json:"enable_uptime_analytics"`
	} `json:"config"`
}
