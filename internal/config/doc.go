// Package config holds the gateway's static configuration: a JSON file with Tyk's tyk.conf key
// names, built-in defaults, environment overrides and validation.
//
// # Sources and precedence
//
// Load starts from the built-in defaults (Default), decodes the config file over them, applies
// environment overrides and then validates the result. A later source wins: a key in the file
// replaces the default, even when its value is an explicit zero, false or "" (a JSON null leaves
// the default in place), and an environment variable replaces both. Without a file (an empty
// path) the gateway runs on the defaults and the environment alone.
//
// # Keys and defaults
//
//	listen_address                      "127.0.0.1" ("" means all interfaces, Tyk's default)
//	listen_port                         8080
//	secret                              "" (see below)
//	secrets                             {} (named values for $secret_conf.<name> in header
//	                                    transforms and URL rewrites, as in Tyk)
//	rate_limit_response_headers         "quotas" ("rate_limits": X-RateLimit-* describe the
//	                                    key's rate limit, on 429s too, as in Tyk)
//	enable_rate_limit_smoothing         false (true: keys' and policies' rate limit
//	                                    smoothing applies, as in Tyk)
//	override_messages                   {} (Tyk's: {"auth.key_not_found": {"code": 401,
//	                                    "message": "..."}} changes the key check's refusals;
//	                                    auth.auth_field_missing and auth.key_not_found, and the
//	                                    OAuth check's oauth.auth_field_missing,
//	                                    oauth.auth_field_malformed, oauth.key_not_found and
//	                                    oauth.client_deleted)
//	error_overrides                     {} (Tyk's: {"403": [{"match": {"flag": "AKI"},
//	                                    "response": {"status_code": 401, "body": "..."}}]}
//	                                    rewrites every API's error answers, after an API's
//	                                    own; see docs/errors.md)
//	event_handlers.events               {} (Tyk's: {"events": {"TokenCreated": [{"handler_name":
//	                                    "eh_web_hook_handler", "handler_meta": {...}}]}}: the
//	                                    gateway's own handlers, run on TokenCreated,
//	                                    TokenUpdated and TokenDeleted; see
//	                                    docs/observability.md)
//	control_api_hostname                "127.0.0.1" ("" means all interfaces)
//	control_api_port                    9696 (0 serves the Gateway API on the main listener)
//	app_path                            "apps" (definitions are *.json regular files of at most
//	                                    64 MiB; others are reported and skipped)
//	middleware_path                     "middleware"
//	hash_keys                           true
//	min_token_length                    3 (bytes: a shorter token names no key on requests, the
//	                                    key treated as not found; the Gateway API creates no
//	                                    key by a shorter name; 0 means 3, as in Tyk)
//	oauth_token_expire                  3600 (seconds an OAuth 2.0 access token lives; 0: 3600)
//	oauth_refresh_token_expire          1209600 (seconds a refresh token lives; 0: 14 days)
//	oauth_error_status_code             403 (status of the OAuth endpoints' errors; 0: 403)
//	oauth_redirect_uri_separator        "" (splits a client's redirect_uri into several)
//	allow_master_keys                   false
//	enforce_org_quotas                  false (limit every API of an org_id by the org's
//	                                    session, /tyk/org/keys, as Tyk's OrganizationMonitor)
//	monitor.enable_trigger_monitors     false (Tyk's quota monitor: a webhook when a key's or
//	                                    org's quota use passes a trigger percentage)
//	monitor.configuration.target_path   "" (the monitor's webhook, as an eh_web_hook_handler's
//	                                    handler_meta: target_path, and
//	monitor.configuration.method        "GET",
//	monitor.configuration.template_path "" (Tyk's templates/monitor_template.json is built in),
//	monitor.configuration.header_map    {},
//	monitor.configuration.event_timeout 0,
//	monitor.configuration.disabled      false)
//	monitor.global_trigger_limit        0 (a percentage of every monitored quota that fires)
//	monitor.monitor_user_keys           false (monitor keys' quotas)
//	monitor.monitor_org_keys            false (monitor orgs' quotas, enforce_org_quotas)
//	enforce_org_data_age                false (an org session's data_expires is the expiry of
//	                                    its APIs' analytics records; a week without one)
//	enforce_org_data_detailed_logging   false (an org session's enable_detailed_recording decides
//	                                    whether its APIs' records are detailed)
//	experimental_process_org_off_thread false (noted: org limits are checked in line)
//	service_discovery.default_cache_timeout
//	                                    120 (seconds discovered targets are kept for an API
//	                                    whose service_discovery sets no cache_timeout; 0: 120)
//	uptime_tests.disable                false (true: run no uptime tests; no host is found down)
//	uptime_tests.config.time_wait       10 (seconds between two runs of each uptime check)
//	uptime_tests.config.failure_trigger_sample_size
//	                                    3 (failed checks in a row that mark a host down, and
//	                                    passed ones that mark it up)
//	uptime_tests.config.checker_pool_size
//	                                    50 (uptime checks running at once)
//	uptime_tests.poller_group           "" (with Redis: the gateways that share the checks)
//	uptime_tests.config.enable_uptime_analytics
//	                                    false (with Redis: each run recorded for tyk-pump)
//	trusted_proxies                     [] (addresses or CIDR ranges of proxies in front of the gateway:
//	                                    only from them does X-Forwarded-For name the client that IP
//	                                    allow and block lists check; a Gatehouse key)
//	storage.type                        "memory" (or "redis")
//	storage.host, storage.port          "localhost", 6379: the Redis server when addrs is empty
//	storage.addrs                       Redis servers as host:port (the Sentinels with master_name)
//	storage.master_name                 "" (set: find the master through Sentinel)
//	storage.sentinel_password           "" (the Sentinels' password)
//	storage.username, storage.password  Redis credentials
//	storage.database                    0
//	storage.enable_cluster              false (true: a Redis Cluster)
//	storage.use_ssl                     false (true: TLS to Redis, with the four keys below)
//	storage.ssl_insecure_skip_verify    false
//	storage.ca_file                     "" (CA certificates instead of the system's)
//	storage.cert_file, storage.key_file "" (a client certificate)
//	storage.tls_min_version             "1.2" (or "1.0", "1.1", "1.3")
//	storage.tls_max_version             "1.3"
//	storage.timeout                     1 second (fractions allowed, at most 60): bounds every
//	                                    call to Redis, so keyed requests fail closed within it
//	storage.optimisation_max_active     500 (connections per server for calls that cannot share
//	                                    the pipelined ones)
//	storage.fallback_to_cached_sessions false (true: while Redis is down, serve keys this gateway
//	                                    has seen, with limits counted on this gateway alone)
//	enable_separate_cache_store         false (true: cached responses go to cache_storage, not the
//	                                    store: with the Redis store they are shared in Redis)
//	cache_storage.type                  "" ("redis": another Redis; "memory": each gateway's own)
//	cache_storage.host, cache_storage.port, cache_storage.addrs, cache_storage.master_name,
//	cache_storage.sentinel_password, cache_storage.username, cache_storage.password,
//	cache_storage.database, cache_storage.enable_cluster, cache_storage.use_ssl,
//	cache_storage.ssl_insecure_skip_verify, cache_storage.ca_file, cache_storage.cert_file,
//	cache_storage.key_file, cache_storage.tls_min_version, cache_storage.tls_max_version,
//	cache_storage.optimisation_max_active
//	                                    as the storage block's keys, for the cache's Redis
//	cache_storage.timeout               0 (storage.timeout's)
//	cache_storage.fallback_to_cached_sessions
//	                                    does not apply (noted)
//	node_secret                         "" (signs notifications between gateways; "" uses secret)
//	db_app_conf_options.node_is_segmented
//	                                    false (true: serve only the fleet's shared definitions
//	                                    tagged with one of db_app_conf_options.tags)
//	db_app_conf_options.tags            [] (this gateway's tags, compared exactly)
//	suppress_redis_signal_reload        false (true: ignore notifications from other gateways)
//	policies.policy_source              "" (no policies) or "file"
//	policies.policy_record_name         the policies file when policy_source is "file" (a
//	                                    regular file of at most 64 MiB)
//	http_server_options.read_timeout           120 seconds
//	http_server_options.write_timeout          0 (no limit, so streaming responses work)
//	http_server_options.read_header_timeout    10 seconds
//	http_server_options.idle_timeout           120 seconds
//	http_server_options.max_request_body_size  104857600 bytes (100 MiB; 0 means unlimited)
//	http_server_options.max_header_bytes       65536 bytes (request line and headers; 0 means Go's 1 MiB)
//	http_server_options.write_progress_timeout 60 seconds without a byte written closes the connection (0: none)
//	http_server_options.max_connections        0 (half the open-file limit, less a reserve; -1: no bound)
//	http_server_options.use_ssl                false (true: the listeners serve TLS; see docs/tls.md)
//	http_server_options.certificates           [] ([{"domain_name", "cert_file", "key_file"}], chosen by SNI;
//	                                           from the environment, a JSON list)
//	http_server_options.ssl_certificates       [] (PEM files each holding a certificate and its key)
//	http_server_options.min_version            0 = 771 (TLS 1.2); Tyk's numbers, 769 to 772
//	http_server_options.max_version            0 = 772 (TLS 1.3)
//	http_server_options.ssl_ciphers            [] (Go's defaults; else Go cipher-suite names, TLS 1.2 only)
//	http_server_options.enable_http2           false (true: offer h2 to TLS clients; HTTP/1.1 stays)
//	http_server_options.enable_h2c             false (true: cleartext HTTP/2 on a listener without TLS)
//	http_server_options.enable_websockets      false (true: WebSocket upgrades tunnel to the upstream; off, as in Tyk, they go as plain requests)
//	http_server_options.enable_path_suffix_matching false (true: grants (ignored, white_list, allowed_urls) cover the paths they match whole, none below them)
//	http_server_options.enable_path_prefix_matching false (accepted, as Tyk's; grants are always anchored at the start of the path)
//	proxy_default_timeout               30 seconds (fractions allowed; must be more than 0)
//	proxy_ssl_insecure_skip_verify      false (true: no upstream certificate is checked)
//	proxy_ssl_min_version               0 = 771 (TLS 1.2); Tyk's numbers 769-772
//	proxy_ssl_max_version               0 = 772 (TLS 1.3)
//	proxy_ssl_ciphers                   [] (Go's suites; else Go names, TLS 1.2 and below)
//	proxy_ssl_disable_renegotiation     false (upstreams may renegotiate TLS 1.2, as in Tyk)
//	proxy_ssl_ca_file                   "" (CA certificates trusted for upstreams besides the system's)
//	proxy_enable_http2                  false (true: HTTP/2 to TLS upstreams that offer it)
//	security.certificates.upstream      {} (upstream host, "*.domain", either with a port, or "*"
//	                                    -> PEM file with a client certificate and its key, or an
//	                                    id of the certificate store, for mutual TLS; an API's
//	                                    upstream_certificates win)
//	security.pinned_public_keys         {} (upstream host, as above -> comma-separated SHA-256
//	                                    fingerprints of public keys and PEM files of public keys
//	                                    or certificates; the upstream's chain must hold one; an
//	                                    API's pinned_public_keys win)
//	security.control_api_use_mutual_tls false (true: the Gateway API's own listener serves only
//	                                    clients with a certificate of the list below; needs use_ssl)
//	security.certificates.control_api   [] (PEM files or certificate-store ids of the client
//	                                    certificates themselves)
//	security.allow_unsafe_dynamic_mtls_token
//	                                    false (not followed: certificate auth reads no token)
//	security.certificates.apis          [] (client certificates every API with use_mutual_tls_auth
//	                                    lets in: PEM files, PEM text or SHA-256 fingerprints)
//	security.enable_certificate_binding false (read, changes nothing: keys' certificate bindings
//	                                    are always checked)
//	security.private_certificate_encoding_secret "" (encrypts the certificate store's private
//	                                    keys; "" = secret, as in Tyk)
//	graceful_shutdown_timeout_duration  30 seconds
//	graceful_shutdown_delay_seconds     0 (seconds served after a stop signal, /ready
//	                                    answering 503, before new connections are refused)
//	enable_bundle_downloader            false
//	bundle_base_url                     "" (http, https or file URL)
//	bundle_insecure_skip_verify         false
//	bundle_download_progress_timeout    30 (seconds a bundle server may stay silent during a
//	                                    download: to answer, then between two reads of the
//	                                    bundle; a download that progresses is not cut by it,
//	                                    only by the bound on an attempt, the time the 256 MiB
//	                                    size cap takes at 64 KiB/s, about 68 minutes)
//	public_key_path                     "" (key that downloaded bundles must be signed with)
//	bundle_allow_unsealed               false (true: with public_key_path, accept signed bundles
//	                                    without a gatehouse_seal, as Tyk's tooling builds them;
//	                                    their hooks and file names are not authenticated)
//	log_level                           "info" (debug, info, warn or warning, error)
//	log_format                          "text" (text or json; Tyk's "default" means text)
//	health_check_endpoint_name          "hello"
//	readiness_check_endpoint_name       "ready"
//	template_path                       "templates" (Tyk's error templates: error.json, error.xml,
//	                                    error_<code>.json|xml; missing: the built-in ones)
//	enable_http_profiler                false (true: Go's profiles at /debug/pprof/ on the
//	                                    Gateway API's listener, with the secret; docs/observability.md)
//	fail_on_plugin_load_error           false (true: a plugin that cannot load stops the start
//	                                    or the reload instead of failing only its API closed)
//	enable_analytics                    false (true: one analytics record per request)
//	analytics_config.file_path          "analytics.jsonl" (memory store: records, one JSON
//	                                    object per line; with Redis they go to the list
//	                                    analytics-tyk-system-analytics that tyk-pump reads)
//	analytics_config.enable_detailed_recording false (raw request and response in records)
//	analytics_config.ignored_ips        [] (client addresses that produce no record)
//	analytics_config.pool_size          0 (Redis writers; 0: the number of CPUs)
//	analytics_config.records_buffer_size 1000 (records waiting for the writers; at least 1000)
//	analytics_config.storage_expiration_time 60 (TTL of the Redis list when it has none; -1: none)
//	analytics_config.enable_multiple_analytics_keys false (spread over ten lists, _0 to _9)
//	analytics_config.serializer_type    "msgpack" (Tyk's "protobuf" is refused)
//	analytics_config.type               "" (Tyk's "rpc", MDCB forwarding, is refused)
//	enable_separate_analytics_store     false (true, with enable_analytics: records and uptime
//	                                    analytics go to the Redis of analytics_storage)
//	analytics_storage.type              "" (must be "redis" with enable_separate_analytics_store)
//	analytics_storage.host, analytics_storage.port, analytics_storage.addrs,
//	analytics_storage.master_name, analytics_storage.sentinel_password,
//	analytics_storage.username, analytics_storage.password, analytics_storage.database,
//	analytics_storage.enable_cluster, analytics_storage.use_ssl,
//	analytics_storage.ssl_insecure_skip_verify, analytics_storage.ca_file,
//	analytics_storage.cert_file, analytics_storage.key_file, analytics_storage.tls_min_version,
//	analytics_storage.tls_max_version, analytics_storage.optimisation_max_active
//	                                    as the storage block's keys, for the analytics Redis
//	analytics_storage.timeout           0 (storage.timeout's)
//	analytics_storage.fallback_to_cached_sessions
//	                                    does not apply (noted)
//	analytics_config.enable_geo_ip      false (not supported: geo stays empty; noted)
//	analytics_config.geo_ip_db_path     "" (read for Tyk's sake, unused)
//	analytics_config.purge_interval     0 (for Tyk's rpc forwarding; unused)
//	analytics_config.normalise_urls.enabled false (rewrite the path records carry)
//	analytics_config.normalise_urls.normalise_uuids   false (UUIDs become {uuid})
//	analytics_config.normalise_urls.normalise_ulids   false (ULIDs become {ulid})
//	analytics_config.normalise_urls.normalise_numbers false (/ and digits become /{id})
//	analytics_config.normalise_urls.custom_patterns   [] (Go regular expressions; matches become {var})
//	prometheus.enabled                  true (serve Prometheus metrics on a listener of their own)
//	prometheus.listen_address           "127.0.0.1:9697" (host:port of the metrics listener)
//	prometheus.path                     "/metrics"
//	access_logs.enabled                 false (true: one line per request, message "access")
//	access_logs.template                [] (the fields of a line; empty: all of them)
//	opentelemetry.enabled               false (true: trace requests, export spans over OTLP/HTTP)
//	opentelemetry.exporter              "http" (Tyk's "grpc" is refused)
//	opentelemetry.endpoint              "localhost:4318" (host:port, or an http(s) URL)
//	opentelemetry.headers               {} (sent with every export)
//	opentelemetry.connection_timeout    1 (seconds an export may take)
//	opentelemetry.resource_name         "gatehouse" (the spans' service.name)
//	opentelemetry.span_processor_type   "batch" (or "simple": each span exported on its own)
//	opentelemetry.span_batch_config.max_queue_size          2048 (spans waiting; more are dropped)
//	opentelemetry.span_batch_config.max_export_batch_size   512
//	opentelemetry.span_batch_config.batch_timeout           5 (seconds)
//	opentelemetry.context_propagation   "tracecontext" (or "b3")
//	opentelemetry.sampling.type         "AlwaysOn" (or "AlwaysOff", "TraceIDRatioBased")
//	opentelemetry.sampling.rate         0 (TraceIDRatioBased's fraction; 0 means 0.5)
//	opentelemetry.sampling.parent_based false (true: follow the client's sampled flag)
//	opentelemetry.traces.enabled        false (Tyk 5.13's form: true makes the traces block,
//	                                    its missing keys at their defaults, replace the keys
//	                                    above)
//	opentelemetry.traces.{exporter, ...}: each key below is the one above without "traces."
//	  opentelemetry.traces.exporter
//	  opentelemetry.traces.endpoint
//	  opentelemetry.traces.headers
//	  opentelemetry.traces.connection_timeout
//	  opentelemetry.traces.resource_name
//	  opentelemetry.traces.span_processor_type
//	  opentelemetry.traces.span_batch_config.max_queue_size
//	  opentelemetry.traces.span_batch_config.max_export_batch_size
//	  opentelemetry.traces.span_batch_config.batch_timeout
//	  opentelemetry.traces.context_propagation
//	  opentelemetry.traces.sampling.type
//	  opentelemetry.traces.sampling.rate
//	  opentelemetry.traces.sampling.parent_based
//
// Load normalises log_level and log_format to lower case and canonical spellings ("warning"
// becomes "warn", "default" and "" become "text", "" becomes "info").
//
// # Unknown keys
//
// Tyk configs carry many keys Gatehouse does not use. Each unknown key, nested ones included
// (for example storage.optimisation_max_idle), gives one warning naming its dotted path and is
// otherwise ignored; unknown keys are never fatal. A key that matches a known one only when case
// is ignored is used, as encoding/json does, with a warning giving the exact spelling.
//
// # Environment overrides
//
// Every key has an environment variable: GATEHOUSE_ followed by its key path joined with "_"
// and upper-cased, for example GATEHOUSE_LISTEN_PORT, GATEHOUSE_SECRET,
// GATEHOUSE_STORAGE_HOST and GATEHOUSE_HTTP_SERVER_OPTIONS_MAX_REQUEST_BODY_SIZE. EnvVars lists
// them all. Booleans take the values strconv.ParseBool accepts (1, t, true, 0, f, false, ...);
// lists such as GATEHOUSE_STORAGE_ADDRS are comma-separated. A set but empty variable sets an
// empty string or list; for a number or boolean it is an error. A value that does not parse is
// a validation error naming the variable, and a GATEHOUSE_ variable that matches no key gives a
// warning, so typos do not go unnoticed.
//
// # Relative paths
//
// A relative app_path, middleware_path, public_key_path, analytics_config.file_path,
// storage.ca_file, storage.cert_file, storage.key_file, proxy_ssl_ca_file, a file of
// security.certificates.upstream, security.certificates.control_api or security.certificates.apis, of
// security.pinned_public_keys, or (when policy_source is "file")
// policies.policy_record_name written in the config file is resolved
// against the directory of the config file, so a config and its files can move together. Relative paths from the
// defaults or the environment stay relative to the gateway's working directory.
//
// # Validation
//
// Load reports every problem at once, joined with errors.Join, each naming the key, the bad
// value and what is allowed. Syntax errors name the file, line and column (trailing commas,
// which some Tyk samples carry, are invalid JSON and are reported, not repaired); type errors
// name every key holding a value of the wrong type. The rules are:
//
//   - listen_port is 1-65535 and control_api_port 0-65535; listen_address and
//     control_api_hostname are "", an IP address or a host name. A control_api_port equal to
//     listen_port on the same host means the main listener; on a different host where one of
//     them is all interfaces, the two cannot both bind and that is an error.
//   - storage.type is "memory" or "redis"; redis needs storage.host and storage.port, or
//     storage.addrs (each host:port), which master_name needs for its Sentinels;
//     storage.database is 0 or more (0 with a cluster); storage.timeout is more than 0 and at
//     most 60; cert_file and key_file come together; the TLS versions are known and in order.
//   - policies.policy_source is "" or "file", and "file" needs policy_record_name. Tyk's
//     "mongo", "service" and "rpc" sources are not supported.
//   - log_level and log_format are in the sets above.
//   - When enable_analytics is true: analytics_config.file_path is not empty (memory store);
//     serializer_type is msgpack; type is empty (no MDCB forwarding); pool_size and
//     records_buffer_size are not negative; ignored_ips are addresses.
//   - When prometheus.enabled is true, prometheus.listen_address is host:port, not the address
//     of another listener, and prometheus.path starts with /.
//   - When opentelemetry.enabled is true, exporter is "http", endpoint is host:port or an
//     http(s) URL without credentials, connection_timeout is 1-600, span_processor_type is
//     "batch" or "simple", the batch sizes are positive (a batch no larger than the queue),
//     context_propagation is "tracecontext" or "b3", sampling.type is known and sampling.rate
//     is from 0 to 1.
//   - When access_logs.enabled is true, access_logs.template names only known fields
//     (api_id, api_key, client_ip, host, method, path, protocol, remote_addr,
//     upstream_address, upstream_latency, latency_total, user_agent, status).
//   - The HTTP server timeouts, graceful_shutdown_timeout_duration and
//     graceful_shutdown_delay_seconds are 0 or more,
//     max_request_body_size is 0 or more, max_header_bytes is 0 or between 4 KiB and 16 MiB,
//     and proxy_default_timeout and bundle_download_progress_timeout are more than 0.
//   - When enable_bundle_downloader is true, bundle_base_url is an http, https or file URL
//     without a user name or password. As in Tyk, an empty bundle_base_url is accepted with a
//     warning: bundles cannot be downloaded, and APIs that need one do not load.
//   - app_path is not empty, and health_check_endpoint_name and
//     readiness_check_endpoint_name are two different single path segments of letters,
//     digits, '.', '_' and '-'.
//
// Non-fatal notes are returned as warnings: an unlimited request body size, an empty
// bundle_base_url, downloaded bundles without a signature check, disabled TLS verification for
// bundle downloads, a policy_record_name without a policy_source, and a config file without
// listen_address (Tyk would listen on all interfaces; Gatehouse listens on loopback only).
//
// The secret is not validated here. SecretProblem says whether it is usable (not empty and not
// TykSampleSecret, the secret published in Tyk's samples) and the Gateway API decides what to do
// about it.
package config
