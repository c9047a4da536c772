// Package apidef holds the Tyk Classic API definition, the session (key) object, the policy and
// the plugin configuration types, with Tyk's Go field names and JSON tags, so that definitions and
// plugin code written for Tyk work unchanged.
//
// Plugins import this package, so it depends on the standard library alone.
package apidef

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Plugin drivers. Gatehouse runs only native Go plugins.
const (
	GoPluginDriver = "goplugin"
)

// APIDefinition is a Tyk Classic API definition. Gatehouse implements a documented subset of its
// fields; fields it does not know are accepted and ignored, and fields that enable a feature it
// does not implement make the definition refused (see Unsupported).
type APIDefinition struct {
	Name     string   `json:"name"`
	Slug     string   `json:"slug,omitempty"`
	APIID    string   `json:"api_id"`
	OrgID    string   `json:"org_id"`
	Active   bool     `json:"active"`
	Internal bool     `json:"internal,omitempty"`
	Domain   string   `json:"domain,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// EnableBatchRequestSupport serves POST <listen path>/tyk/batch, several requests to the
	// API in one (Tyk OAS: server.batchProcessing).
	EnableBatchRequestSupport bool `json:"enable_batch_request_support,omitempty"`
	// TagsDisabled makes segmented gateways read the API as untagged (Tyk OAS:
	// server.gatewayTags.enabled false), so that only gateways that are not segmented serve it
	// from the fleet's store; the tags still tag analytics records.
	TagsDisabled bool `json:"tags_disabled,omitempty"`
	// DomainDisabled makes the API ignore Domain and Certificates, served on every host, as
	// Tyk does (Tyk OAS: server.customDomain.enabled false); decoding clears them.
	DomainDisabled bool `json:"domain_disabled,omitempty"`
	// Certificates are server certificates the TLS listener serves besides tyk.conf's, chosen
	// by their own names (SNI) where tyk.conf's have none for the name: ids of the certificate
	// store or PEM files, each a certificate with its private key (Tyk OAS:
	// server.customDomain.certificates).
	Certificates []string `json:"certificates,omitempty"`

	ListenPort int    `json:"listen_port,omitempty"`
	Protocol   string `json:"protocol,omitempty"`

	Proxy ProxyConfig `json:"proxy"`

	UseKeylessAccess bool `json:"use_keyless"`
	UseStandardAuth  bool `json:"use_standard_auth,omitempty"`
	UseBasicAuth     bool `json:"use_basic_auth,omitempty"`
	EnableJWT        bool `json:"enable_jwt,omitempty"`
	UseOauth2        bool `json:"use_oauth2,omitempty"`
	// OAuthMeta configures Tyk's OAuth 2.0 server for an API with use_oauth2 (see OAuthMeta).
	OAuthMeta OAuthMeta `json:"oauth_meta,omitzero"`
	// Notifications are the OAuth server's key change notifications (see Notifications).
	Notifications           Notifications `json:"notifications,omitzero"`
	UseOpenID               bool          `json:"use_openid,omitempty"`
	EnableSignatureChecking bool          `json:"enable_signature_checking,omitempty"`
	UseMutualTLSAuth        bool          `json:"use_mutual_tls_auth,omitempty"`
	// ClientCertificates are the client certificates an API with use_mutual_tls_auth lets in:
	// PEM files, PEM text or SHA-256 fingerprints (Tyk: certificate-store ids, which end with
	// the fingerprint). A CA certificate lets in the certificates it issued.
	ClientCertificates      []string              `json:"client_certificates,omitempty"`
	ExternalOAuth           Toggle                `json:"external_oauth,omitzero"`
	CustomPluginAuthEnabled bool                  `json:"custom_plugin_auth_enabled,omitempty"`
	UseGoPluginAuth         bool                  `json:"use_go_plugin_auth,omitempty"`
	EnableCoProcessAuth     bool                  `json:"enable_coprocess_auth,omitempty"`
	Auth                    AuthConfig            `json:"auth"`
	AuthConfigs             map[string]AuthConfig `json:"auth_configs,omitempty"`
	StripAuthData           bool                  `json:"strip_auth_data,omitempty"`
	// BaseIdentityProvidedBy names, when several auth methods are on, the one whose session
	// the request carries (AuthToken, AuthJWTClaim, ...); see BaseIdentity.
	BaseIdentityProvidedBy string `json:"base_identity_provided_by,omitempty"`
	// SecurityRequirements is Tyk's list of alternative sets of auth methods; parsed only so
	// that a definition relying on it with several methods can be refused.
	SecurityRequirements json.RawMessage `json:"security_requirements,omitempty"`

	// HMAC request signatures (enable_signature_checking): the algorithms allowed (empty: all)
	// and the largest difference, in milliseconds, between the request's date and the
	// gateway's clock (0 or less: any); see docs/keys-and-limits.md.
	HmacAllowedAlgorithms []string `json:"hmac_allowed_algorithms,omitempty"`
	HmacAllowedClockSkew  float64  `json:"hmac_allowed_clock_skew,omitempty"`

	// JWT auth (enable_jwt), with Tyk's field names; see docs/middleware.md.
	JWTSigningMethod string `json:"jwt_signing_method,omitempty"`
	JWTSource        string `json:"jwt_source,omitempty"`
	// JWTJwksURIs are several JWKS (Tyk's jwt_jwks_uris, Tyk OAS jwksURIs): a token's kid is
	// looked up in each, in order; they take the place of jwt_source.
	JWTJwksURIs []JWKSURI `json:"jwt_jwks_uris,omitempty"`
	// JWTSubjectClaims, JWTBasePolicyClaims and JWTScopeClaims are Tyk OAS's subjectClaims,
	// basePolicyClaims and scopes.claims (Gatehouse's Classic names): claims tried in order,
	// the first the token holds used, in place of jwt_identity_base_field,
	// jwt_policy_field_name and jwt_scope_claim_name.
	JWTSubjectClaims        []string          `json:"jwt_subject_claims,omitempty"`
	JWTBasePolicyClaims     []string          `json:"jwt_base_policy_claims,omitempty"`
	JWTScopeClaims          []string          `json:"jwt_scope_claims,omitempty"`
	JWTIdentityBaseField    string            `json:"jwt_identity_base_field,omitempty"`
	JWTClientIDBaseField    string            `json:"jwt_client_base_field,omitempty"`
	JWTPolicyFieldName      string            `json:"jwt_policy_field_name,omitempty"`
	JWTDefaultPolicies      []string          `json:"jwt_default_policies,omitempty"`
	JWTScopeToPolicyMapping map[string]string `json:"jwt_scope_to_policy_mapping,omitempty"`
	JWTScopeClaimName       string            `json:"jwt_scope_claim_name,omitempty"`
	// Scopes is Tyk's newer place for the scope settings (scopes.jwt, scopes.oidc): when it
	// sets anything, JWT takes its scope claim and mapping from scopes.jwt alone
	// (JWTScopeSettings), as Tyk does.
	Scopes                     *Scopes `json:"scopes,omitempty"`
	JWTSkipKid                 bool    `json:"jwt_skip_kid,omitempty"`
	JWTExpiresAtValidationSkew uint64  `json:"jwt_expires_at_validation_skew,omitempty"`
	JWTIssuedAtValidationSkew  uint64  `json:"jwt_issued_at_validation_skew,omitempty"`
	JWTNotBeforeValidationSkew uint64  `json:"jwt_not_before_validation_skew,omitempty"`
	IDPClientIDMappingDisabled bool    `json:"idp_client_id_mapping_disabled,omitempty"`
	// JWTClaimValidation checks the token's iss, aud, sub, jti and other claims (Tyk OAS's
	// allowedIssuers, ..., customClaimValidation; Gatehouse's Classic name).
	JWTClaimValidation JWTClaimValidation `json:"jwt_claim_validation,omitzero"`

	// BasicAuth holds the settings of basic auth (use_basic_auth); see docs/keys-and-limits.md.
	BasicAuth BasicAuthConfig `json:"basic_auth,omitzero"`

	VersionDefinition VersionDefinition `json:"definition"`
	VersionData       VersionData       `json:"version_data"`

	// EventHandlers run webhooks and log lines on the API's events (docs/observability.md,
	// "Events").
	EventHandlers EventHandlers `json:"event_handlers,omitzero"`

	// UptimeTests are the checks of the upstream hosts that proxy.check_host_against_uptime_tests
	// has the load balancer consult (docs/api-definitions.md, "Uptime tests").
	UptimeTests UptimeTests `json:"uptime_tests,omitzero"`

	GlobalRateLimit  GlobalRateLimit `json:"global_rate_limit,omitzero"`
	CacheOptions     CacheOptions    `json:"cache_options,omitzero"`
	DisableRateLimit bool            `json:"disable_rate_limit,omitempty"`
	DisableQuota     bool            `json:"disable_quota,omitempty"`
	SessionLifetime  int64           `json:"session_lifetime,omitempty"`

	ConfigData         map[string]interface{} `json:"config_data,omitempty"`
	ConfigDataDisabled bool                   `json:"config_data_disabled,omitempty"`

	CustomMiddleware               MiddlewareSection     `json:"custom_middleware,omitzero"`
	CustomMiddlewareBundle         string                `json:"custom_middleware_bundle,omitempty"`
	CustomMiddlewareBundleDisabled bool                  `json:"custom_middleware_bundle_disabled,omitempty"`
	AnalyticsPlugin                AnalyticsPluginConfig `json:"analytics_plugin,omitzero"`

	// DoNotTrack keeps the API's requests out of analytics; EnableDetailedRecording puts the raw
	// request and response in its analytics records.
	DoNotTrack              bool `json:"do_not_track,omitempty"`
	EnableDetailedRecording bool `json:"enable_detailed_recording,omitempty"`
	// ExpireAnalyticsAfter is how many seconds a store may keep the API's analytics records
	// (their expireAt); 0 means 100 years, as in Tyk.
	ExpireAnalyticsAfter int64 `json:"expire_analytics_after,omitempty"`
	// TagHeaders name request headers whose values tag the API's analytics records, as
	// "<lower-case name>-<value>".
	TagHeaders []string `json:"tag_headers,omitempty"`
	// DetailedTracing gives each built-in step of the API's chain a span of its own, with
	// tracing on (opentelemetry).
	DetailedTracing bool `json:"detailed_tracing,omitempty"`

	// IP allow and block lists (see IPAllowListActive), and CORS.
	EnableIPWhiteListing    bool       `json:"enable_ip_whitelisting,omitempty"`
	AllowedIPs              []string   `json:"allowed_ips,omitempty"`
	EnableIPBlacklisting    bool       `json:"enable_ip_blacklisting,omitempty"`
	BlacklistedIPs          []string   `json:"blacklisted_ips,omitempty"`
	IPAccessControlDisabled bool       `json:"ip_access_control_disabled,omitempty"`
	CORS                    CORSConfig `json:"CORS,omitzero"`
	// UpstreamAuth holds credentials added to upstream requests (basic auth; OAuth is refused).
	UpstreamAuth UpstreamAuth `json:"upstream_auth,omitzero"`
	// Expiration is when a not-versioned API stops serving (ExpiresLayout, UTC; "" or "-1":
	// never): its requests then get 403. A versioned API's versions expire on their own.
	Expiration string `json:"expiration,omitempty"`
	// UpstreamCertificates maps an upstream host ("api.example.com", "*.example.com", either
	// with a port, or "*") to a PEM file holding the client certificate and private key presented to it (mutual TLS);
	// for a host it names, it wins over tyk.conf's security.certificates.upstream. Tyk maps to
	// certificate-store ids; Gatehouse has no store. UpstreamCertificatesDisabled leaves it
	// aside (tyk.conf's still apply).
	UpstreamCertificates         map[string]string `json:"upstream_certificates,omitempty"`
	UpstreamCertificatesDisabled bool              `json:"upstream_certificates_disabled,omitempty"`
	// PinnedPublicKeys maps an upstream host, as UpstreamCertificates does, to the public keys
	// one of which its certificate chain must hold: a comma-separated list of SHA-256
	// fingerprints of public keys (of their DER SubjectPublicKeyInfo) and PEM files of public
	// keys or certificates. For a host it names, it wins over tyk.conf's
	// security.pinned_public_keys. CertificatePinningDisabled leaves it aside.
	PinnedPublicKeys           map[string]string `json:"pinned_public_keys,omitempty"`
	CertificatePinningDisabled bool              `json:"certificate_pinning_disabled,omitempty"`
	// ResponseProcessors is Tyk's legacy list of response handlers: header_injector's options
	// apply (HeaderInjectors), response_body_transform changes nothing, others are refused.
	ResponseProcessors json.RawMessage `json:"response_processors,omitempty"`
	// RequestSigning signs the requests sent to the upstream (request_signing).
	RequestSigning RequestSigning `json:"request_signing,omitzero"`
	// ErrorOverrides rewrite the API's error answers (error_overrides), before tyk.conf's;
	// ErrorOverridesDisabled leaves them aside.
	ErrorOverrides         ErrorOverrides `json:"error_overrides,omitempty"`
	ErrorOverridesDisabled bool           `json:"error_overrides_disabled,omitempty"`

	// Fields below are parsed only so that a definition enabling them can be refused: they guard
	// or shape traffic and Gatehouse does not implement them.
	GraphQL           Toggle `json:"graphql,omitzero"`
	EnableContextVars bool   `json:"enable_context_vars,omitempty"`
	IsOAS             bool   `json:"is_oas,omitempty"`
}

// Toggle is the common shape of Tyk objects that are switched on by an `enable` or `enabled`
// flag. Gatehouse reads only the flag.
type Toggle struct {
	Enable  bool `json:"enable,omitempty"`
	Enabled bool `json:"enabled,omitempty"`
}

// On reports whether either flag is set.
func (t Toggle) On() bool { return t.Enable || t.Enabled }

// UnmarshalJSON decodes a definition, treating an absent `active` field as true: most Tyk Classic
// definitions written for files omit it, and Tyk serves them.
func (a *APIDefinition) UnmarshalJSON(data []byte) error {
	type plain APIDefinition
	p := plain{Active: true}
	if err := json.Unmarshal(data, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return fmt.Errorf("an API definition is a JSON object, not %s", te.Value)
		}
		return err
	}
	if p.DomainDisabled {
		p.Domain, p.Certificates = "", nil
	}
	*a = APIDefinition(p)
	return nil
}

// ProxyConfig says where an API listens and where it forwards.
type ProxyConfig struct {
	ListenPath          string   `json:"listen_path"`
	TargetURL           string   `json:"target_url"`
	StripListenPath     bool     `json:"strip_listen_path"`
	PreserveHostHeader  bool     `json:"preserve_host_header,omitempty"`
	EnableLoadBalancing bool     `json:"enable_load_balancing,omitempty"`
	Targets             []string `json:"target_list,omitempty"`
	DisableStripSlash   bool     `json:"disable_strip_slash,omitempty"`
	// CheckHostAgainstUptimeTests has the load balancer pass over the targets whose host the
	// API's uptime tests found down.
	CheckHostAgainstUptimeTests bool `json:"check_host_against_uptime_tests,omitempty"`
	// ServiceDiscovery takes the targets from a discovery service (Consul, etcd, Eureka, ...)
	// instead of target_url and target_list.
	ServiceDiscovery ServiceDiscovery `json:"service_discovery,omitzero"`
	// Transport overrides the gateway's upstream TLS settings (tyk.conf's proxy_ssl_* keys)
	// field by field, and names an outbound proxy.
	Transport struct {
		SSLInsecureSkipVerify bool     `json:"ssl_insecure_skip_verify,omitempty"`
		SSLCipherSuites       []string `json:"ssl_ciphers,omitempty"`
		// SSLMinVersion and SSLMaxVersion are Tyk's numbers (771 = TLS 1.2); 0 keeps the
		// gateway's.
		SSLMinVersion uint16 `json:"ssl_min_version,omitempty"`
		SSLMaxVersion uint16 `json:"ssl_max_version,omitempty"`
		// SSLForceCommonNameCheck checks the upstream's host against its certificate's common
		// name instead of its alternative names.
		SSLForceCommonNameCheck bool   `json:"ssl_force_common_name_check,omitempty"`
		ProxyURL                string `json:"proxy_url,omitempty"`
	} `json:"transport,omitzero"`
}

// AuthConfig says where the auth token of a request is found.
type AuthConfig struct {
	Name           string `json:"name,omitempty"`
	UseParam       bool   `json:"use_param,omitempty"`
	ParamName      string `json:"param_name,omitempty"`
	UseCookie      bool   `json:"use_cookie,omitempty"`
	CookieName     string `json:"cookie_name,omitempty"`
	DisableHeader  bool   `json:"disable_header,omitempty"`
	AuthHeaderName string `json:"auth_header_name"`
	UseCertificate bool   `json:"use_certificate,omitempty"`
	// ValidateSignature asks for a request signature alongside the token; Gatehouse does not
	// check signatures, so a definition that sets it is refused.
	ValidateSignature bool            `json:"validate_signature,omitempty"`
	Signature         json.RawMessage `json:"signature,omitempty"`
}

// VersionDefinition says how a request names the API version it wants.
type VersionDefinition struct {
	// Location is "header", "url-param" or "url".
	Location string `json:"location"`
	// Key is the header or query parameter name (default "x-api-version").
	Key string `json:"key"`
	// StripPath removes the version segment before proxying when Location is "url".
	StripPath bool `json:"strip_path,omitempty"`

	// VersionAPIs are the fields of versioning through separate APIs, read in the same JSON
	// object; nil when the definition sets none of them (a pointer: few definitions have
	// them, and every definition the gateway keeps decoded holds the field). APIs returns
	// them whatever.
	*VersionAPIs
}

// VersionAPIs is versioning through separate APIs (Tyk's base and child APIs): with Enabled,
// the API is the base. A request naming a version in Versions is served by that version's API
// (its id), through its whole chain, instead of this one; one naming Name (or "self"), this
// API's own, is served here. Default is the version a request naming none gets ("self": this
// API); FallbackToDefault serves a request naming an unknown version as Default.
type VersionAPIs struct {
	Enabled           bool              `json:"enabled,omitempty"`
	Name              string            `json:"name,omitempty"`
	Default           string            `json:"default,omitempty"`
	Versions          map[string]string `json:"versions,omitempty"`
	FallbackToDefault bool              `json:"fallback_to_default,omitempty"`
	// StripVersioningData removes the version's header, query parameter or URL segment
	// before the request goes on. URLVersioningPattern, for Location "url", is the regular
	// expression a first segment must match to be stripped.
	StripVersioningData  bool   `json:"strip_versioning_data,omitempty"`
	URLVersioningPattern string `json:"url_versioning_pattern,omitempty"`
}

// APIs returns the definition's versioning through separate APIs, the zero value when it sets
// none.
func (vd *VersionDefinition) APIs() VersionAPIs {
	if vd.VersionAPIs == nil {
		return VersionAPIs{}
	}
	return *vd.VersionAPIs
}

// SelfVersion is what Default names the base API itself by.
const SelfVersion = "self"

// VersionData holds the versions of an API.
type VersionData struct {
	NotVersioned   bool                   `json:"not_versioned"`
	DefaultVersion string                 `json:"default_version,omitempty"`
	Versions       map[string]VersionInfo `json:"versions"`
}

// VersionInfo is one version of an API.
type VersionInfo struct {
	Name             string            `json:"name"`
	Expires          string            `json:"expires,omitempty"`
	Paths            LegacyPaths       `json:"paths,omitzero"`
	UseExtendedPaths bool              `json:"use_extended_paths,omitempty"`
	ExtendedPaths    ExtendedPathsSet  `json:"extended_paths,omitzero"`
	GlobalHeaders    map[string]string `json:"global_headers,omitempty"`
	// GlobalHeadersRemove lists request headers removed before proxying.
	GlobalHeadersRemove []string `json:"global_headers_remove,omitempty"`
	GlobalSizeLimit     int64    `json:"global_size_limit,omitempty"`
	// GlobalSizeLimitDisabled turns GlobalSizeLimit off.
	GlobalSizeLimitDisabled bool `json:"global_size_limit_disabled,omitempty"`
	// GlobalEnforceTimeout ("5s") bounds how long the upstream may take for every request of
	// the version; see EnforceTimeout.
	GlobalEnforceTimeout         string `json:"global_enforce_timeout,omitempty"`
	GlobalEnforceTimeoutDisabled bool   `json:"global_enforce_timeout_disabled,omitempty"`
	OverrideTarget               string `json:"override_target,omitempty"`
	IgnoreEndpointCase           bool   `json:"ignore_endpoint_case,omitempty"`

	// GlobalHeadersDisabled turns GlobalHeaders and GlobalHeadersRemove off.
	GlobalHeadersDisabled bool `json:"global_headers_disabled,omitempty"`

	// GlobalResponseHeaders are set on every upstream response of the version, and
	// GlobalResponseHeadersRemove removed from it, unless GlobalResponseHeadersDisabled.
	GlobalResponseHeaders         map[string]string `json:"global_response_headers,omitempty"`
	GlobalResponseHeadersRemove   []string          `json:"global_response_headers_remove,omitempty"`
	GlobalResponseHeadersDisabled bool              `json:"global_response_headers_disabled,omitempty"`
}

// ExpiresLayout is the layout of VersionInfo.Expires.
const ExpiresLayout = "2006-01-02 15:04"

// LegacyPaths is the pre-extended-paths form of endpoint lists: plain path patterns.
type LegacyPaths struct {
	Ignored   []string `json:"ignored,omitempty"`
	WhiteList []string `json:"white_list,omitempty"`
	BlackList []string `json:"black_list,omitempty"`
}

// ExtendedPathsSet holds the per-endpoint settings of a version. Gatehouse implements `ignored`,
// `white_list`, `black_list` (with `reply` method actions), `mock_response`, `go_plugin`,
// `size_limits`, `hard_timeouts`, `circuit_breakers`, `method_transforms`, `validate_json`,
// `transform`, `transform_response`, `transform_headers`, `transform_response_headers`,
// `url_rewrites`, `rate_limit`, `cache` (paths whose GET, HEAD and OPTIONS responses are
// cached, with cache_options) and `advance_cache_config` (per-endpoint cache settings), and for
// analytics `track_endpoints` and `do_not_track_endpoints`. The other lists are parsed so that
// a version using them can be refused (see Unsupported).
type ExtendedPathsSet struct {
	Ignored   []EndPointMeta `json:"ignored,omitempty"`
	WhiteList []EndPointMeta `json:"white_list,omitempty"`
	BlackList []EndPointMeta `json:"black_list,omitempty"`
	GoPlugin  []GoPluginMeta `json:"go_plugin,omitempty"`

	MockResponse            []MockResponseMeta    `json:"mock_response,omitempty"`
	Cached                  []string              `json:"cache,omitempty"`
	AdvanceCacheConfig      []CacheMeta           `json:"advance_cache_config,omitempty"`
	Transform               []TemplateMeta        `json:"transform,omitempty"`
	TransformResponse       []TemplateMeta        `json:"transform_response,omitempty"`
	TransformJQ             []json.RawMessage     `json:"transform_jq,omitempty"`
	TransformJQResponse     []json.RawMessage     `json:"transform_jq_response,omitempty"`
	TransformHeader         []HeaderInjectionMeta `json:"transform_headers,omitempty"`
	TransformResponseHeader []HeaderInjectionMeta `json:"transform_response_headers,omitempty"`
	HardTimeouts            []HardTimeoutMeta     `json:"hard_timeouts,omitempty"`
	CircuitBreaker          []CircuitBreakerMeta  `json:"circuit_breakers,omitempty"`
	URLRewrite              []URLRewriteMeta      `json:"url_rewrites,omitempty"`
	Virtual                 []json.RawMessage     `json:"virtual,omitempty"`
	SizeLimit               []RequestSizeMeta     `json:"size_limits,omitempty"`
	MethodTransforms        []MethodTransformMeta `json:"method_transforms,omitempty"`
	TrackEndpoints          []TrackEndpointMeta   `json:"track_endpoints,omitempty"`
	DoNotTrackEndpoints     []TrackEndpointMeta   `json:"do_not_track_endpoints,omitempty"`
	ValidateJSON            []ValidatePathMeta    `json:"validate_json,omitempty"`
	ValidateRequest         []json.RawMessage     `json:"validate_request,omitempty"`
	Internal                []json.RawMessage     `json:"internal,omitempty"`
	PersistGraphQL          []json.RawMessage     `json:"persist_graphql,omitempty"`
	RateLimit               []RateLimitMeta       `json:"rate_limit,omitempty"`
}

// TrackEndpointMeta is an entry of `track_endpoints` (a matching request's analytics record
// carries the entry's path, with track_path set) or `do_not_track_endpoints` (a matching request
// makes no record).
type TrackEndpointMeta struct {
	Disabled bool   `json:"disabled,omitempty"`
	Path     string `json:"path"`
	Method   string `json:"method"`
}

// EndPointMeta is an entry of the `ignored`, `white_list` and `black_list` endpoint lists.
type EndPointMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method,omitempty"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	// MethodActions limits the entry to the methods it names. "no_action" makes it an ordinary
	// entry; "reply" answers the request with the action's code, data and headers (a Classic
	// mock reply) without reaching the upstream; other actions make the definition refused.
	MethodActions map[string]EndpointMethodMeta `json:"method_actions,omitempty"`
}

// EndpointMethodMeta is what an endpoint entry does for one method.
type EndpointMethodMeta struct {
	Action  string            `json:"action"`
	Code    int               `json:"code,omitempty"`
	Data    string            `json:"data,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// GoPluginMeta is a per-endpoint Go plugin (`extended_paths.go_plugin`).
type GoPluginMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	PluginPath string `json:"plugin_path"`
	SymbolName string `json:"func_name"`
}

// CacheOptions is `cache_options`: the response cache of an API. With EnableCache, responses to
// safe requests (GET, HEAD, OPTIONS) are cached for CacheTimeout seconds: every such request
// with CacheAllSafeRequests, else those to a version's extended_paths.cache paths.
type CacheOptions struct {
	CacheTimeout               int64    `json:"cache_timeout,omitempty"`
	EnableCache                bool     `json:"enable_cache,omitempty"`
	CacheAllSafeRequests       bool     `json:"cache_all_safe_requests,omitempty"`
	CacheOnlyResponseCodes     []int    `json:"cache_response_codes,omitempty"`
	EnableUpstreamCacheControl bool     `json:"enable_upstream_cache_control,omitempty"`
	CacheControlTTLHeader      string   `json:"cache_control_ttl_header,omitempty"`
	CacheByHeaders             []string `json:"cache_by_headers,omitempty"`
}

// CacheMeta is an entry of `extended_paths.advance_cache_config`: requests with the method to the
// path are cached (a POST, PUT or PATCH too, keyed by its body, or by what CacheKeyRegex finds
// in it), with the entry's status codes and timeout (seconds) when set, else cache_options'.
type CacheMeta struct {
	Method                 string `json:"method"`
	Path                   string `json:"path"`
	CacheKeyRegex          string `json:"cache_key_regex,omitempty"`
	CacheOnlyResponseCodes []int  `json:"cache_response_codes,omitempty"`
	Timeout                int64  `json:"timeout,omitempty"`
}

// GlobalRateLimit limits all requests to an API, whoever sends them.
type GlobalRateLimit struct {
	Disabled bool    `json:"disabled,omitempty"`
	Rate     float64 `json:"rate"`
	Per      float64 `json:"per"`
}

// MiddlewareSection is `custom_middleware`: the plugin hooks of an API (also the hook section of
// a bundle manifest).
type MiddlewareSection struct {
	Pre         []MiddlewareDefinition `json:"pre"`
	Post        []MiddlewareDefinition `json:"post"`
	PostKeyAuth []MiddlewareDefinition `json:"post_key_auth"`
	AuthCheck   MiddlewareDefinition   `json:"auth_check"`
	Response    []MiddlewareDefinition `json:"response"`
	// TrafficLogs, in a bundle manifest, is the analytics hook (it becomes the API's
	// analytics_plugin).
	TrafficLogs MiddlewareDefinition `json:"traffic_logs,omitzero"`
	Driver      string               `json:"driver"`
	IdExtractor struct {
		ExtractFrom string `json:"extract_from,omitempty"`
		ExtractWith string `json:"extract_with,omitempty"`
	} `json:"id_extractor,omitzero"`
}

// Enabled reports whether the section declares at least one hook that is not disabled.
func (m MiddlewareSection) Enabled() bool {
	if m.AuthCheck.Name != "" && !m.AuthCheck.Disabled {
		return true
	}
	for _, list := range [][]MiddlewareDefinition{m.Pre, m.Post, m.PostKeyAuth, m.Response} {
		for _, d := range list {
			if !d.Disabled {
				return true
			}
		}
	}
	return false
}

// MiddlewareDefinition is one plugin hook: the exported function Name in the file Path.
type MiddlewareDefinition struct {
	Disabled       bool   `json:"disabled,omitempty"`
	Name           string `json:"name"`
	Path           string `json:"path"`
	RequireSession bool   `json:"require_session,omitempty"`
	RawBodyOnly    bool   `json:"raw_body_only,omitempty"`
}

// AnalyticsPluginConfig names the function that sees each request's analytics record.
type AnalyticsPluginConfig struct {
	Enabled    bool   `json:"enable"`
	PluginPath string `json:"plugin_path"`
	FuncName   string `json:"func_name"`
}

// CustomAuthEnabled reports whether the definition asks for an `auth_check` plugin to replace the
// built-in key check, under any of the names Tyk accepts.
func (a *APIDefinition) CustomAuthEnabled() bool {
	return !a.UseKeylessAccess && (a.CustomPluginAuthEnabled || a.UseGoPluginAuth || a.EnableCoProcessAuth)
}

// AuthTokenConfig returns where the auth token is read from: `auth_configs.authToken` when
// present, else the legacy `auth` object, as in Tyk.
func (a *APIDefinition) AuthTokenConfig() AuthConfig {
	c, _ := a.authTokenConfig()
	return c
}

// OAuthTokenConfig returns where the OAuth 2.0 access token is read (auth_configs.oauth; the
// Authorization header when it is absent: as in Tyk, the legacy auth object is not read).
func (a *APIDefinition) OAuthTokenConfig() AuthConfig {
	return a.AuthConfigs[ConfigOAuth]
}

// authTokenConfig is AuthTokenConfig with the key it came from, for messages.
func (a *APIDefinition) authTokenConfig() (AuthConfig, string) {
	if c, ok := a.AuthConfigs[ConfigAuthToken]; ok {
		return c, "auth_configs.authToken"
	}
	return a.Auth, "auth"
}

// IsZero reports whether no list holds an entry, so that `extended_paths: {"ignored": []}` and an
// absent `extended_paths` encode alike.
func (e ExtendedPathsSet) IsZero() bool {
	return len(e.Ignored)+len(e.WhiteList)+len(e.BlackList)+len(e.GoPlugin)+
		len(e.MockResponse)+len(e.Cached)+len(e.AdvanceCacheConfig)+len(e.Transform)+
		len(e.TransformResponse)+len(e.TransformJQ)+len(e.TransformJQResponse)+
		len(e.TransformHeader)+len(e.TransformResponseHeader)+len(e.HardTimeouts)+
		len(e.CircuitBreaker)+len(e.URLRewrite)+len(e.Virtual)+len(e.SizeLimit)+
		len(e.MethodTransforms)+len(e.TrackEndpoints)+len(e.DoNotTrackEndpoints)+
		len(e.ValidateJSON)+len(e.ValidateRequest)+len(e.Internal)+len(e.PersistGraphQL)+
		len(e.RateLimit) == 0
}

// IsZero reports whether no list holds an entry.
func (p LegacyPaths) IsZero() bool {
	return len(p.Ignored)+len(p.WhiteList)+len(p.BlackList) == 0
}

// IsZero reports whether the section declares nothing: no hook, no driver, no extractor.
func (m MiddlewareSection) IsZero() bool {
	return len(m.Pre)+len(m.Post)+len(m.PostKeyAuth)+len(m.Response) == 0 &&
		m.AuthCheck == (MiddlewareDefinition{}) && m.TrafficLogs == (MiddlewareDefinition{}) && m.Driver == "" && m.IdExtractor.ExtractFrom == "" && m.IdExtractor.ExtractWith == ""
}

// BundleManifest is a plugin bundle's manifest.json, as Tyk's bundler writes it, with
// Gatehouse's seal beside (Tyk ignores the field).
type BundleManifest struct {
	FileList         []string          `json:"file_list"`
	CustomMiddleware MiddlewareSection `json:"custom_middleware"`
	Checksum         string            `json:"checksum"`
	Signature        string            `json:"signature"`
	// Seal signs what Tyk's signature leaves out: the hook configuration, the file names, each
	// file's own hash and (from seal version 3) the bundle's own name. A gateway that verifies
	// bundles requires it to verify when present.
	Seal *BundleSeal `json:"gatehouse_seal,omitempty"`
}

// BundleSeal is Gatehouse's signature over a whole bundle manifest.
type BundleSeal struct {
	Version int `json:"version"`
	// Name is the name the bundle was built as (`gatehouse bundle build -o NAME`), the one
	// gateways ask the bundle server for: from version 3 the seal signs it, and a gateway refuses
	// the bundle under any other name. Empty in earlier versions.
	Name string `json:"name,omitempty"`
	// Files maps each file of file_list to the hex SHA-256 of its content.
	Files map[string]string `json:"files"`
	// Signature is the base64 RSA PKCS#1 v1.5 signature, over SHA-256, of the sealed content.
	Signature string `json:"signature"`
}

// Scopes is Tyk's `scopes`: for JWT and for OpenID Connect, the claim holding a token's scopes
// and the policy each scope gives.
type Scopes struct {
	JWT  ScopeClaim `json:"jwt,omitzero"`
	OIDC ScopeClaim `json:"oidc,omitzero"`
}

// ScopeClaim is one auth method's scope settings in Tyk's `scopes`.
type ScopeClaim struct {
	ScopeClaimName string            `json:"scope_claim_name,omitempty"`
	ScopeToPolicy  map[string]string `json:"scope_to_policy,omitempty"`
}

func (c ScopeClaim) empty() bool { return c.ScopeClaimName == "" && len(c.ScopeToPolicy) == 0 }

// JWTScopeSettings returns the scope claim and the scope-to-policy mapping JWT auth uses, read
// as Tyk reads them: scopes.jwt's when scopes sets anything (even scopes.oidc alone, which
// leaves JWT with no mapping), else jwt_scope_claim_name and jwt_scope_to_policy_mapping.
func (a *APIDefinition) JWTScopeSettings() (claim string, toPolicy map[string]string) {
	if s := a.Scopes; s != nil && (!s.JWT.empty() || !s.OIDC.empty()) {
		return s.JWT.ScopeClaimName, s.JWT.ScopeToPolicy
	}
	return a.JWTScopeClaimName, a.JWTScopeToPolicyMapping
}
