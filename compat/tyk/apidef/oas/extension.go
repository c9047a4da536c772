//go:build gatehouse_compat

package oas

import (
	"encoding/json"
	"time"

	"github.com/TykTechnologies/tyk/apidef"
)

// XTykAPIGateway is the x-tyk-api-gateway object: how the gateway serves the API. Its parts
// have Tyk's Go names and JSON names; what they do not model (errorOverrides, upstream
// authentication, service discovery, uptime tests, event handlers, most authentication
// methods, ...) is left out.
type XTykAPIGateway struct {
	Info       Info        `json:"info"`
	Upstream   Upstream    `json:"upstream"`
	Server     Server      `json:"server"`
	Middleware *Middleware `json:"middleware,omitempty"`
}

// Info names the API and says whether it is active.
type Info struct {
	ID         string      `json:"id,omitempty"`
	DBID       string      `json:"dbId,omitempty"`
	OrgID      string      `json:"orgId,omitempty"`
	Name       string      `json:"name"`
	Expiration string      `json:"expiration,omitempty"`
	State      State       `json:"state"`
	Versioning *Versioning `json:"versioning,omitempty"`
}

// State says whether the API is served, and only internally.
type State struct {
	Active   bool `json:"active"`
	Internal bool `json:"internal,omitempty"`
}

// Versioning links the API to others as its versions.
type Versioning struct {
	Enabled              bool          `json:"enabled"`
	Name                 string        `json:"name,omitempty"`
	Default              string        `json:"default"`
	Location             string        `json:"location"`
	Key                  string        `json:"key"`
	Versions             []VersionToID `json:"versions"`
	StripVersioningData  bool          `json:"stripVersioningData,omitempty"`
	UrlVersioningPattern string        `json:"urlVersioningPattern,omitempty"`
	FallbackToDefault    bool          `json:"fallbackToDefault,omitempty"`
}

// VersionToID names the API that serves a version.
type VersionToID struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Upstream is where the API's requests go.
type Upstream struct {
	URL                   string                 `json:"url"`
	RateLimit             *RateLimit             `json:"rateLimit,omitempty"`
	LoadBalancing         *LoadBalancing         `json:"loadBalancing,omitempty"`
	PreserveHostHeader    *PreserveHostHeader    `json:"preserveHostHeader,omitempty"`
	PreserveTrailingSlash *PreserveTrailingSlash `json:"preserveTrailingSlash,omitempty"`
}

// RateLimit is a rate limit: Rate requests Per period.
type RateLimit struct {
	Enabled bool             `json:"enabled"`
	Rate    int              `json:"rate"`
	Per     ReadableDuration `json:"per"`
}

// ReadableDuration is a duration written as Go writes one ("1m", "30s"). A value that does not
// parse reads as 0, as in Tyk.
type ReadableDuration time.Duration

// MarshalJSON writes the duration as "1m0s".
func (d ReadableDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1m"; a bad value is 0.
func (d *ReadableDuration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		v = 0
	}
	*d = ReadableDuration(v)
	return nil
}

// LoadBalancing spreads requests over weighted targets.
type LoadBalancing struct {
	Enabled              bool                  `json:"enabled"`
	SkipUnavailableHosts bool                  `json:"skipUnavailableHosts,omitempty"`
	Targets              []LoadBalancingTarget `json:"targets,omitempty"`
}

// LoadBalancingTarget is an upstream URL and its weight.
type LoadBalancingTarget struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// PreserveHostHeader keeps the client's Host header for the upstream.
type PreserveHostHeader struct {
	Enabled bool `json:"enabled"`
}

// PreserveTrailingSlash keeps a trailing slash of the request path.
type PreserveTrailingSlash struct {
	Enabled bool `json:"enabled"`
}

// Server is how clients reach the API.
type Server struct {
	ListenPath           ListenPath            `json:"listenPath"`
	Slug                 string                `json:"slug,omitempty"`
	Authentication       *Authentication       `json:"authentication,omitempty"`
	ClientCertificates   *ClientCertificates   `json:"clientCertificates,omitempty"`
	GatewayTags          *GatewayTags          `json:"gatewayTags,omitempty"`
	CustomDomain         *Domain               `json:"customDomain,omitempty"`
	DetailedActivityLogs *DetailedActivityLogs `json:"detailedActivityLogs,omitempty"`
	DetailedTracing      *DetailedTracing      `json:"detailedTracing,omitempty"`
	IPAccessControl      *IPAccessControl      `json:"ipAccessControl,omitempty"`
	Protocol             string                `json:"protocol,omitempty"`
	Port                 int                   `json:"port,omitempty"`
}

// ListenPath is the path prefix the API is served under.
type ListenPath struct {
	Value string `json:"value"`
	Strip bool   `json:"strip,omitempty"`
}

// Authentication says how clients authenticate. SecuritySchemes holds each scheme's settings as
// the document has them.
type Authentication struct {
	Enabled                bool                        `json:"enabled"`
	StripAuthorizationData bool                        `json:"stripAuthorizationData,omitempty"`
	BaseIdentityProvider   string                      `json:"baseIdentityProvider,omitempty"`
	SecuritySchemes        map[string]interface{}      `json:"securitySchemes,omitempty"`
	Custom                 *CustomPluginAuthentication `json:"custom,omitempty"`
}

// CustomPluginAuthentication is authentication by a plugin (custom_middleware.auth_check).
type CustomPluginAuthentication struct {
	Enabled bool                  `json:"enabled"`
	Config  *AuthenticationPlugin `json:"config,omitempty"`
}

// AuthenticationPlugin names the auth plugin's function.
type AuthenticationPlugin struct {
	Enabled        bool   `json:"enabled"`
	FunctionName   string `json:"functionName"`
	Path           string `json:"path"`
	RawBodyOnly    bool   `json:"rawBodyOnly,omitempty"`
	RequireSession bool   `json:"requireSession,omitempty"`
}

// ClientCertificates is the mutual TLS allow list.
type ClientCertificates struct {
	Enabled   bool     `json:"enabled"`
	Allowlist []string `json:"allowlist"`
}

// GatewayTags are the API's segment tags.
type GatewayTags struct {
	Enabled bool     `json:"enabled"`
	Tags    []string `json:"tags"`
}

// Domain is the API's custom domain.
type Domain struct {
	Enabled      bool     `json:"enabled"`
	Name         string   `json:"name"`
	Certificates []string `json:"certificates,omitempty"`
}

// DetailedActivityLogs records request and response bodies in analytics.
type DetailedActivityLogs struct {
	Enabled bool `json:"enabled"`
}

// DetailedTracing enables detailed tracing.
type DetailedTracing struct {
	Enabled bool `json:"enabled"`
}

// IPAccessControl is the API's IP allow and block lists.
type IPAccessControl struct {
	Enabled bool     `json:"enabled"`
	Allow   []string `json:"allow,omitempty"`
	Block   []string `json:"block,omitempty"`
}

// Middleware is the API's middleware: global, and per operation (by operationId).
type Middleware struct {
	Global     *Global    `json:"global,omitempty"`
	Operations Operations `json:"operations,omitempty"`
}

// Global is the middleware of every request.
type Global struct {
	PluginConfig              *PluginConfig             `json:"pluginConfig,omitempty"`
	CORS                      *CORS                     `json:"cors,omitempty"`
	PrePlugin                 *PrePlugin                `json:"prePlugin,omitempty"`
	PrePlugins                CustomPlugins             `json:"prePlugins,omitempty"`
	PostAuthenticationPlugin  *PostAuthenticationPlugin `json:"postAuthenticationPlugin,omitempty"`
	PostAuthenticationPlugins CustomPlugins             `json:"postAuthenticationPlugins,omitempty"`
	PostPlugin                *PostPlugin               `json:"postPlugin,omitempty"`
	PostPlugins               CustomPlugins             `json:"postPlugins,omitempty"`
	ResponsePlugin            *ResponsePlugin           `json:"responsePlugin,omitempty"`
	ResponsePlugins           CustomPlugins             `json:"responsePlugins,omitempty"`
	Cache                     *Cache                    `json:"cache,omitempty"`
	TransformRequestHeaders   *TransformHeaders         `json:"transformRequestHeaders,omitempty"`
	TransformResponseHeaders  *TransformHeaders         `json:"transformResponseHeaders,omitempty"`
	ContextVariables          *ContextVariables         `json:"contextVariables,omitempty"`
	IgnoreCase                *IgnoreCase               `json:"ignoreCase,omitempty"`
	TrafficLogs               *TrafficLogs              `json:"trafficLogs,omitempty"`
	RequestSizeLimit          *GlobalRequestSizeLimit   `json:"requestSizeLimit,omitempty"`
	SkipRateLimit             bool                      `json:"skipRateLimit,omitempty"`
	SkipQuota                 bool                      `json:"skipQuota,omitempty"`
	SkipQuotaReset            bool                      `json:"skipQuotaReset,omitempty"`
}

// PluginConfig is the plugins' driver, bundle and configuration data (config_data).
type PluginConfig struct {
	Driver apidef.MiddlewareDriver `json:"driver,omitempty"`
	Bundle *PluginBundle           `json:"bundle,omitempty"`
	Data   *PluginConfigData       `json:"data,omitempty"`
}

// PluginBundle is the API's plugin bundle.
type PluginBundle struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path"`
}

// PluginConfigData is the configuration data plugins read (config_data).
type PluginConfigData struct {
	Enabled bool                   `json:"enabled"`
	Value   map[string]interface{} `json:"value"`
}

// CustomPlugins is a list of plugin functions of one hook.
type CustomPlugins []CustomPluginDefinition

// CustomPluginDefinition names a plugin function.
type CustomPluginDefinition struct {
	Enabled        bool   `json:"enabled"`
	FunctionName   string `json:"functionName"`
	Path           string `json:"path"`
	RawBodyOnly    bool   `json:"rawBodyOnly,omitempty"`
	RequireSession bool   `json:"requireSession,omitempty"`
}

// PrePlugin is the old, singular form of prePlugins.
type PrePlugin struct {
	Plugins CustomPlugins `json:"plugins"`
}

// PostAuthenticationPlugin is the old, singular form of postAuthenticationPlugins.
type PostAuthenticationPlugin struct {
	Plugins CustomPlugins `json:"plugins"`
}

// PostPlugin is the old, singular form of postPlugins.
type PostPlugin struct {
	Plugins CustomPlugins `json:"plugins"`
}

// ResponsePlugin is the old, singular form of responsePlugins.
type ResponsePlugin struct {
	Plugins CustomPlugins `json:"plugins"`
}

// CORS is the API's CORS policy.
type CORS struct {
	Enabled            bool     `json:"enabled"`
	MaxAge             int      `json:"maxAge,omitempty"`
	AllowCredentials   bool     `json:"allowCredentials,omitempty"`
	ExposedHeaders     []string `json:"exposedHeaders,omitempty"`
	AllowedHeaders     []string `json:"allowedHeaders,omitempty"`
	OptionsPassthrough bool     `json:"optionsPassthrough,omitempty"`
	Debug              bool     `json:"debug,omitempty"`
	AllowedOrigins     []string `json:"allowedOrigins,omitempty"`
	AllowedMethods     []string `json:"allowedMethods,omitempty"`
}

// Cache is the API's response cache.
type Cache struct {
	Enabled                    bool     `json:"enabled"`
	Timeout                    int64    `json:"timeout,omitempty"`
	CacheAllSafeRequests       bool     `json:"cacheAllSafeRequests,omitempty"`
	CacheResponseCodes         []int    `json:"cacheResponseCodes,omitempty"`
	CacheByHeaders             []string `json:"cacheByHeaders,omitempty"`
	EnableUpstreamCacheControl bool     `json:"enableUpstreamCacheControl,omitempty"`
	ControlTTLHeaderName       string   `json:"controlTTLHeaderName,omitempty"`
}

// TransformHeaders removes and adds headers.
type TransformHeaders struct {
	Enabled bool     `json:"enabled"`
	Remove  []string `json:"remove,omitempty"`
	Add     Headers  `json:"add,omitempty"`
}

// Headers is a list of headers.
type Headers []Header

// Header is a header's name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ContextVariables makes request context variables available to middleware.
type ContextVariables struct {
	Enabled bool `json:"enabled"`
}

// IgnoreCase matches paths case-insensitively.
type IgnoreCase struct {
	Enabled bool `json:"enabled"`
}

// TrafficLogs is the API's analytics.
type TrafficLogs struct {
	Enabled               bool                   `json:"enabled"`
	TagHeaders            []string               `json:"tagHeaders,omitempty"`
	CustomRetentionPeriod ReadableDuration       `json:"customRetentionPeriod,omitempty"`
	Plugins               CustomAnalyticsPlugins `json:"plugins,omitempty"`
}

// CustomAnalyticsPlugins are the API's analytics plugins.
type CustomAnalyticsPlugins []CustomPluginDefinition

// GlobalRequestSizeLimit bounds the size of every request body.
type GlobalRequestSizeLimit struct {
	Enabled bool  `json:"enabled"`
	Value   int64 `json:"value"`
}

// Operations maps operationIds to their middleware.
type Operations map[string]*Operation

// Operation is the middleware of one operation.
type Operation struct {
	Allow                    *Allowance              `json:"allow,omitempty"`
	Block                    *Allowance              `json:"block,omitempty"`
	IgnoreAuthentication     *Allowance              `json:"ignoreAuthentication,omitempty"`
	Internal                 *Internal               `json:"internal,omitempty"`
	TransformRequestMethod   *TransformRequestMethod `json:"transformRequestMethod,omitempty"`
	TransformRequestHeaders  *TransformHeaders       `json:"transformRequestHeaders,omitempty"`
	TransformResponseHeaders *TransformHeaders       `json:"transformResponseHeaders,omitempty"`
	TrackEndpoint            *TrackEndpoint          `json:"trackEndpoint,omitempty"`
	DoNotTrackEndpoint       *TrackEndpoint          `json:"doNotTrackEndpoint,omitempty"`
	PostPlugins              EndpointPostPlugins     `json:"postPlugins,omitempty"`
	EnforceTimeout           *EnforceTimeout         `json:"enforceTimeout,omitempty"`
	ValidateRequest          *ValidateRequest        `json:"validateRequest,omitempty"`
	MockResponse             *MockResponse           `json:"mockResponse,omitempty"`
	RequestSizeLimit         *RequestSizeLimit       `json:"requestSizeLimit,omitempty"`
	RateLimit                *RateLimitEndpoint      `json:"rateLimit,omitempty"`
}

// Allowance switches an allow, block or ignore-authentication rule on.
type Allowance struct {
	Enabled    bool `json:"enabled"`
	IgnoreCase bool `json:"ignoreCase,omitempty"`
}

// Internal makes an operation reachable only from inside the gateway.
type Internal struct {
	Enabled bool `json:"enabled"`
}

// TransformRequestMethod changes the request's method.
type TransformRequestMethod struct {
	Enabled  bool   `json:"enabled"`
	ToMethod string `json:"toMethod"`
}

// TrackEndpoint switches analytics for an operation.
type TrackEndpoint struct {
	Enabled bool `json:"enabled"`
}

// EndpointPostPlugins are an operation's plugins (the first enabled one runs).
type EndpointPostPlugins []EndpointPostPlugin

// EndpointPostPlugin names an operation's plugin function.
type EndpointPostPlugin struct {
	Enabled      bool   `json:"enabled"`
	Name         string `json:"name,omitempty"`
	FunctionName string `json:"functionName"`
	Path         string `json:"path"`
}

// EnforceTimeout bounds an operation's upstream time, in seconds.
type EnforceTimeout struct {
	Enabled bool `json:"enabled"`
	Value   int  `json:"value"`
}

// ValidateRequest validates requests against the operation's OpenAPI description.
type ValidateRequest struct {
	Enabled           bool `json:"enabled"`
	ErrorResponseCode int  `json:"errorResponseCode,omitempty"`
}

// MockResponse answers the operation without the upstream.
type MockResponse struct {
	Enabled         bool             `json:"enabled"`
	Code            int              `json:"code,omitempty"`
	Body            string           `json:"body,omitempty"`
	Headers         Headers          `json:"headers,omitempty"`
	FromOASExamples *FromOASExamples `json:"fromOASExamples,omitempty"`
}

// FromOASExamples answers with an example of the OpenAPI description.
type FromOASExamples struct {
	Enabled     bool   `json:"enabled"`
	Code        int    `json:"code,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	ExampleName string `json:"exampleName,omitempty"`
}

// RequestSizeLimit bounds the size of an operation's request body.
type RequestSizeLimit struct {
	Enabled bool  `json:"enabled"`
	Value   int64 `json:"value"`
}

// RateLimitEndpoint is an operation's own rate limit.
type RateLimitEndpoint RateLimit
