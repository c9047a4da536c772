package oas

import (
	"encoding/json"

	"github.com/gatehouse/gatehouse/apidef"
)

// Extension is the x-tyk-api-gateway object of a Tyk OAS document, as far as Gatehouse reads
// it: the fields it maps onto the Classic model, and the switches of the features it refuses or
// ignores. Field names and JSON names follow Tyk's schema (x-tyk-api-gateway.json).
type Extension struct {
	Info           Info            `json:"info"`
	Upstream       Upstream        `json:"upstream"`
	Server         Server          `json:"server"`
	Middleware     *Middleware     `json:"middleware,omitempty"`
	ErrorOverrides *ErrorOverrides `json:"errorOverrides,omitempty"`
}

// ErrorOverrides is `errorOverrides`: Classic's error_overrides (value) and
// error_overrides_disabled (not enabled), with camelCase names.
type ErrorOverrides struct {
	Enabled bool                       `json:"enabled"`
	Value   map[string][]ErrorOverride `json:"value,omitempty"`
}

// ErrorOverride is one rule of errorOverrides.
type ErrorOverride struct {
	Match    *ErrorMatch   `json:"match,omitempty"`
	Response ErrorResponse `json:"response"`
}

// ErrorMatch is a rule's `match`.
type ErrorMatch struct {
	Flag           string `json:"flag,omitempty"`
	MessagePattern string `json:"messagePattern,omitempty"`
	BodyField      string `json:"bodyField,omitempty"`
	BodyValue      string `json:"bodyValue,omitempty"`
}

// ErrorResponse is a rule's `response`.
type ErrorResponse struct {
	StatusCode int               `json:"statusCode,omitempty"`
	Body       string            `json:"body,omitempty"`
	Message    string            `json:"message,omitempty"`
	Template   string            `json:"template,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// UnmarshalJSON refuses fields a rule does not have (Classic's snake_case names among them): a
// misspelt match field dropped would make a rule for some errors one for every error of its code.
func (m *ErrorMatch) UnmarshalJSON(data []byte) error {
	type plain ErrorMatch
	return apidef.DecodeStrict(data, (*plain)(m), "flag, messagePattern, bodyField, bodyValue")
}

// UnmarshalJSON refuses fields it does not know, as ErrorMatch does.
func (r *ErrorResponse) UnmarshalJSON(data []byte) error {
	type plain ErrorResponse
	return apidef.DecodeStrict(data, (*plain)(r), "statusCode, body, message, template, headers")
}

// UnmarshalJSON refuses fields it does not know, as ErrorMatch does.
func (o *ErrorOverride) UnmarshalJSON(data []byte) error {
	type plain ErrorOverride
	return apidef.DecodeStrict(data, (*plain)(o), "match, response")
}

// classic returns the rules in Classic's form.
func (e *ErrorOverrides) classic() apidef.ErrorOverrides {
	if len(e.Value) == 0 {
		return nil
	}
	out := make(apidef.ErrorOverrides, len(e.Value))
	for k, rules := range e.Value {
		for _, r := range rules {
			c := apidef.ErrorOverride{Response: apidef.ErrorResponse{StatusCode: r.Response.StatusCode, Body: r.Response.Body,
				Message: r.Response.Message, Template: r.Response.Template, Headers: r.Response.Headers}}
			if m := r.Match; m != nil {
				c.Match = &apidef.ErrorMatch{Flag: m.Flag, MessagePattern: m.MessagePattern, BodyField: m.BodyField, BodyValue: m.BodyValue}
			}
			out[k] = append(out[k], c)
		}
	}
	return out
}

// Feature is an extension object switched on by its `enabled` flag. For the features Gatehouse
// refuses or ignores it reads only the flag: the rest of such an object is not reported as
// ignored field by field.
type Feature struct {
	Enabled bool `json:"enabled"`
}

// ClientCertificates is `server.clientCertificates`: Classic's use_mutual_tls_auth and
// client_certificates.
type ClientCertificates struct {
	Enabled   bool     `json:"enabled"`
	Allowlist []string `json:"allowlist,omitempty"`
}

// Info is `info`: the API's identity and state.
type Info struct {
	ID         string      `json:"id"`
	DBID       string      `json:"dbId"`
	OrgID      string      `json:"orgId"`
	Name       string      `json:"name"`
	Expiration string      `json:"expiration"`
	State      State       `json:"state"`
	Versioning *Versioning `json:"versioning,omitempty"`
}

// VersionRef is an entry of `info.versioning.versions`: the API serving a version.
type VersionRef struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Versioning is `info.versioning`: this API as the base of versions served by other APIs
// (Classic's definition.enabled and the fields beside it).
type Versioning struct {
	Enabled              bool         `json:"enabled"`
	Name                 string       `json:"name,omitempty"`
	Default              string       `json:"default,omitempty"`
	Location             string       `json:"location,omitempty"`
	Key                  string       `json:"key,omitempty"`
	Versions             []VersionRef `json:"versions,omitempty"`
	StripVersioningData  bool         `json:"stripVersioningData,omitempty"`
	URLVersioningPattern string       `json:"urlVersioningPattern,omitempty"`
	FallbackToDefault    bool         `json:"fallbackToDefault,omitempty"`
}

// State is `info.state`.
type State struct {
	Active   bool `json:"active"`
	Internal bool `json:"internal"`
}

// Upstream is `upstream`: where the API forwards, and how.
type Upstream struct {
	URL                   string              `json:"url"`
	ServiceDiscovery      *ServiceDiscovery   `json:"serviceDiscovery,omitempty"`
	UptimeTests           *UptimeTests        `json:"uptimeTests,omitempty"`
	MutualTLS             *MutualTLS          `json:"mutualTLS,omitempty"`
	CertificatePinning    *CertificatePinning `json:"certificatePinning,omitempty"`
	RateLimit             *RateLimit          `json:"rateLimit,omitempty"`
	Authentication        *UpstreamAuth       `json:"authentication,omitempty"`
	LoadBalancing         *LoadBalancing      `json:"loadBalancing,omitempty"`
	PreserveHostHeader    *Feature            `json:"preserveHostHeader,omitempty"`
	PreserveTrailingSlash *Feature            `json:"preserveTrailingSlash,omitempty"`
	TLSTransport          *TLSTransport       `json:"tlsTransport,omitempty"`
	Proxy                 *UpstreamProxy      `json:"proxy,omitempty"`
	EnforceTimeout        *GlobalTimeout      `json:"enforceTimeout,omitempty"`
}

// ServiceDiscovery is `upstream.serviceDiscovery`, Classic's proxy.service_discovery.
type ServiceDiscovery struct {
	Enabled        bool   `json:"enabled"`
	QueryEndpoint  string `json:"queryEndpoint,omitempty"`
	DataPath       string `json:"dataPath,omitempty"`
	UseNestedQuery bool   `json:"useNestedQuery,omitempty"`
	ParentDataPath string `json:"parentDataPath,omitempty"`
	PortDataPath   string `json:"portDataPath,omitempty"`
	UseTargetList  bool   `json:"useTargetList,omitempty"`
	CacheTimeout   int64  `json:"cacheTimeout,omitempty"`
	Cache          *struct {
		Enabled bool  `json:"enabled"`
		Timeout int64 `json:"timeout,omitempty"`
	} `json:"cache,omitempty"`
	TargetPath          string `json:"targetPath,omitempty"`
	EndpointReturnsList bool   `json:"endpointReturnsList,omitempty"`
}

// UpstreamAuth is `upstream.authentication`: credentials added to upstream requests. Basic
// auth maps to Classic's upstream_auth, request signing to its request_signing; OAuth is
// refused.
type UpstreamAuth struct {
	Enabled        bool                    `json:"enabled"`
	BasicAuth      *UpstreamBasicAuth      `json:"basicAuth,omitempty"`
	OAuth          *Feature                `json:"oauth,omitempty"`
	RequestSigning *UpstreamRequestSigning `json:"requestSigning,omitempty"`
}

// UpstreamRequestSigning is `upstream.authentication.requestSigning`, Classic's
// request_signing.
type UpstreamRequestSigning struct {
	Enabled         bool     `json:"enabled"`
	SignatureHeader string   `json:"signatureHeader,omitempty"`
	Algorithm       string   `json:"algorithm,omitempty"`
	KeyID           string   `json:"keyId,omitempty"`
	Headers         []string `json:"headers,omitempty"`
	Secret          string   `json:"secret,omitempty"`
	CertificateID   string   `json:"certificateId,omitempty"`
}

// UpstreamBasicAuth is `upstream.authentication.basicAuth`.
type UpstreamBasicAuth struct {
	Enabled  bool        `json:"enabled"`
	Header   *AuthSource `json:"header,omitempty"`
	Username string      `json:"username"`
	Password string      `json:"password"`
}

// GlobalTimeout is `upstream.enforceTimeout`: how long the upstream may take for every request
// of the API, a Go duration such as "5s".
type GlobalTimeout struct {
	Enabled  bool   `json:"enabled"`
	Duration string `json:"duration"`
}

// MutualTLS is `upstream.mutualTLS`: client certificates presented to upstreams, by domain.
type MutualTLS struct {
	Enabled                    bool `json:"enabled"`
	DomainToCertificateMapping []struct {
		Domain      string `json:"domain"`
		Certificate string `json:"certificate"`
	} `json:"domainToCertificateMapping"`
}

// CertificatePinning is `upstream.certificatePinning`: upstream public keys pinned by domain.
type CertificatePinning struct {
	Enabled                   bool `json:"enabled"`
	DomainToPublicKeysMapping []struct {
		Domain     string   `json:"domain"`
		PublicKeys []string `json:"publicKeys"`
	} `json:"domainToPublicKeysMapping"`
}

// RateLimit is `upstream.rateLimit` (and an operation's `rateLimit`): `rate` requests per `per`,
// a Go duration such as "1m".
type RateLimit struct {
	Enabled bool    `json:"enabled"`
	Rate    float64 `json:"rate"`
	Per     string  `json:"per"`
}

// LoadBalancing is `upstream.loadBalancing`.
// UptimeTests is `upstream.uptimeTests`: Classic's uptime_tests.
type UptimeTests struct {
	Enabled              bool         `json:"enabled"`
	Tests                []UptimeTest `json:"tests,omitempty"`
	ServiceDiscovery     *Feature     `json:"serviceDiscovery,omitempty"`
	HostDownRetestPeriod string       `json:"hostDownRetestPeriod,omitempty"`
	LogRetentionPeriod   string       `json:"logRetentionPeriod,omitempty"`
}

// UptimeTest is one of `upstream.uptimeTests.tests`: a check_list entry, its timeout a
// duration ("2s") and its protocol the URL's scheme when that is tcp or tls.
type UptimeTest struct {
	URL                 string            `json:"url"`
	Protocol            string            `json:"protocol,omitempty"`
	Timeout             string            `json:"timeout,omitempty"`
	Method              string            `json:"method,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	Body                string            `json:"body,omitempty"`
	EnableProxyProtocol bool              `json:"enableProxyProtocol,omitempty"`
	Commands            []struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"commands,omitempty"`
}

type LoadBalancing struct {
	Enabled              bool `json:"enabled"`
	SkipUnavailableHosts bool `json:"skipUnavailableHosts"`
	Targets              []struct {
		URL    string  `json:"url"`
		Weight float64 `json:"weight"`
	} `json:"targets"`
}

// TLSTransport is `upstream.tlsTransport`.
type TLSTransport struct {
	InsecureSkipVerify   bool     `json:"insecureSkipVerify"`
	Ciphers              []string `json:"ciphers"`
	MinVersion           string   `json:"minVersion"`
	MaxVersion           string   `json:"maxVersion"`
	ForceCommonNameCheck bool     `json:"forceCommonNameCheck"`
}

// UpstreamProxy is `upstream.proxy`: an outbound proxy to reach the upstream through.
type UpstreamProxy struct {
	Enabled bool   `json:"enabled"`
	URL     string `json:"url"`
}

// Server is `server`: where and how the API is served.
type Server struct {
	ListenPath           ListenPath          `json:"listenPath"`
	Slug                 string              `json:"slug"`
	Authentication       *Authentication     `json:"authentication,omitempty"`
	ClientCertificates   *ClientCertificates `json:"clientCertificates,omitempty"`
	GatewayTags          *GatewayTags        `json:"gatewayTags,omitempty"`
	CustomDomain         *CustomDomain       `json:"customDomain,omitempty"`
	DetailedActivityLogs *Feature            `json:"detailedActivityLogs,omitempty"`
	DetailedTracing      *Feature            `json:"detailedTracing,omitempty"`
	EventHandlers        json.RawMessage     `json:"eventHandlers,omitempty"`
	ContextVariables     *Feature            `json:"contextVariables,omitempty"`
	IPAccessControl      *IPAccessControl    `json:"ipAccessControl,omitempty"`
	BatchProcessing      *Feature            `json:"batchProcessing,omitempty"`
	Port                 int                 `json:"port"`
	Protocol             string              `json:"protocol"`
}

// ListenPath is `server.listenPath`.
type ListenPath struct {
	Value string `json:"value"`
	Strip bool   `json:"strip"`
}

// GatewayTags is `server.gatewayTags`.
type GatewayTags struct {
	Enabled bool     `json:"enabled"`
	Tags    []string `json:"tags"`
}

// CustomDomain is `server.customDomain`.
type CustomDomain struct {
	Enabled      bool     `json:"enabled"`
	Name         string   `json:"name"`
	Certificates []string `json:"certificates"`
}

// IPAccessControl is `server.ipAccessControl`.
type IPAccessControl struct {
	Enabled bool     `json:"enabled"`
	Allow   []string `json:"allow"`
	Block   []string `json:"block"`
}

// Authentication is `server.authentication`.
type Authentication struct {
	Enabled                bool   `json:"enabled"`
	StripAuthorizationData bool   `json:"stripAuthorizationData"`
	BaseIdentityProvider   string `json:"baseIdentityProvider"`
	// SecuritySchemes holds Tyk's settings of the OpenAPI security schemes, by the names of
	// components.securitySchemes; each is read according to the OpenAPI scheme's type.
	SecuritySchemes           map[string]json.RawMessage `json:"securitySchemes,omitempty"`
	SecurityProcessingMode    string                     `json:"securityProcessingMode"`
	Security                  json.RawMessage            `json:"security,omitempty"`
	HMAC                      *HMACAuth                  `json:"hmac,omitempty"`
	OIDC                      *Feature                   `json:"oidc,omitempty"`
	Custom                    *CustomAuth                `json:"custom,omitempty"`
	CustomKeyLifetime         *KeyLifetime               `json:"customKeyLifetime,omitempty"`
	ProtectedResourceMetadata *Feature                   `json:"protectedResourceMetadata,omitempty"`
	CertificateAuth           *Feature                   `json:"certificateAuth,omitempty"`
}

// TokenScheme is Tyk's side of an OpenAPI apiKey security scheme: token auth.
type TokenScheme struct {
	Enabled bool `json:"enabled"`
	AuthSources
	EnableClientCertificate bool     `json:"enableClientCertificate"`
	SignatureValidation     *Feature `json:"signatureValidation,omitempty"`
}

// HMACAuth is `server.authentication.hmac`: HMAC request signatures.
type HMACAuth struct {
	Enabled bool `json:"enabled"`
	AuthSources
	AllowedAlgorithms []string `json:"allowedAlgorithms,omitempty"`
	AllowedClockSkew  float64  `json:"allowedClockSkew,omitempty"`
}

// AuthSources are the places Tyk's side of an auth method reads its credential from, besides
// the OpenAPI scheme's own `in` and `name`. Embedded, their fields are the method's `header`,
// `query` and `cookie`.
type AuthSources struct {
	Header *AuthSource `json:"header,omitempty"`
	Query  *AuthSource `json:"query,omitempty"`
	Cookie *AuthSource `json:"cookie,omitempty"`
}

// apply sets the sources on ac: a source present is switched on or off with its name, and one
// absent leaves ac as it was (so that a method without a `header` object, whose ac starts with
// DisableHeader, does not read the header).
func (s AuthSources) apply(ac apidef.AuthConfig) apidef.AuthConfig {
	if h := s.Header; h != nil {
		ac.DisableHeader, ac.AuthHeaderName = !h.Enabled, h.Name
	}
	if q := s.Query; q != nil {
		ac.UseParam, ac.ParamName = q.Enabled, q.Name
	}
	if c := s.Cookie; c != nil {
		ac.UseCookie, ac.CookieName = c.Enabled, c.Name
	}
	return ac
}

// AuthSource is a place an auth token may be read from.
type AuthSource struct {
	Enabled bool   `json:"enabled"`
	Name    string `json:"name"`
}

// CustomAuth is `server.authentication.custom`: an auth plugin.
type CustomAuth struct {
	Enabled bool        `json:"enabled"`
	Config  *AuthPlugin `json:"config,omitempty"`
	AuthSources
}

// AuthPlugin is `server.authentication.custom.config`.
type AuthPlugin struct {
	Enabled        bool         `json:"enabled"`
	FunctionName   string       `json:"functionName"`
	Path           string       `json:"path"`
	RawBodyOnly    bool         `json:"rawBodyOnly"`
	RequireSession bool         `json:"requireSession"`
	IDExtractor    *IDExtractor `json:"idExtractor,omitempty"`
}

// IDExtractor is `server.authentication.custom.config.idExtractor`.
type IDExtractor struct {
	Enabled bool            `json:"enabled"`
	Source  string          `json:"source"`
	With    string          `json:"with"`
	Config  json.RawMessage `json:"config,omitempty"`
}

// KeyLifetime is `server.authentication.customKeyLifetime`.
type KeyLifetime struct {
	Enabled         bool   `json:"enabled"`
	Value           string `json:"value"`
	RespectValidity bool   `json:"respectValidity"`
}

// Middleware is `middleware`.
type Middleware struct {
	Global *Global `json:"global,omitempty"`
	// Operations holds the middleware of OpenAPI operations, by operationId.
	Operations map[string]*OperationMiddleware `json:"operations,omitempty"`
	// The middleware of MCP proxies, which Gatehouse does not implement.
	MCPTools     json.RawMessage `json:"mcpTools,omitempty"`
	MCPResources json.RawMessage `json:"mcpResources,omitempty"`
	MCPPrompts   json.RawMessage `json:"mcpPrompts,omitempty"`
}

// Global is `middleware.global`.
type Global struct {
	PluginConfig *PluginConfig `json:"pluginConfig,omitempty"`
	CORS         *CORS         `json:"cors,omitempty"`

	PrePlugins                []Plugin `json:"prePlugins"`
	PostAuthenticationPlugins []Plugin `json:"postAuthenticationPlugins"`
	PostPlugins               []Plugin `json:"postPlugins"`
	ResponsePlugins           []Plugin `json:"responsePlugins"`
	// The older singular forms, used only when the plural one is absent.
	PrePlugin                *PluginList `json:"prePlugin,omitempty"`
	PostAuthenticationPlugin *PluginList `json:"postAuthenticationPlugin,omitempty"`
	PostPlugin               *PluginList `json:"postPlugin,omitempty"`
	ResponsePlugin           *PluginList `json:"responsePlugin,omitempty"`

	Cache                    *GlobalCache      `json:"cache,omitempty"`
	TransformRequestHeaders  *TransformHeaders `json:"transformRequestHeaders,omitempty"`
	TransformResponseHeaders *TransformHeaders `json:"transformResponseHeaders,omitempty"`
	ContextVariables         *Feature          `json:"contextVariables,omitempty"`
	IgnoreCase               *Feature          `json:"ignoreCase,omitempty"`
	TrafficLogs              *TrafficLogs      `json:"trafficLogs,omitempty"`
	RequestSizeLimit         *SizeLimit        `json:"requestSizeLimit,omitempty"`
	SkipRateLimit            bool              `json:"skipRateLimit"`
	SkipQuota                bool              `json:"skipQuota"`
	SkipQuotaReset           bool              `json:"skipQuotaReset"`
}

// GlobalCache is `middleware.global.cache`: the Classic `cache_options`.
type GlobalCache struct {
	Enabled                    bool     `json:"enabled"`
	Timeout                    int64    `json:"timeout,omitempty"`
	CacheAllSafeRequests       bool     `json:"cacheAllSafeRequests,omitempty"`
	CacheResponseCodes         []int    `json:"cacheResponseCodes,omitempty"`
	CacheByHeaders             []string `json:"cacheByHeaders,omitempty"`
	EnableUpstreamCacheControl bool     `json:"enableUpstreamCacheControl,omitempty"`
	ControlTTLHeaderName       string   `json:"controlTTLHeaderName,omitempty"`
}

// OperationCache is an operation's `cache`: a Classic `advance_cache_config` entry.
type OperationCache struct {
	Enabled            bool   `json:"enabled"`
	CacheByRegex       string `json:"cacheByRegex,omitempty"`
	CacheResponseCodes []int  `json:"cacheResponseCodes,omitempty"`
	Timeout            int64  `json:"timeout,omitempty"`
}

// CORS is `middleware.global.cors`: the Classic `CORS` block.
type CORS struct {
	Enabled            bool     `json:"enabled"`
	MaxAge             int      `json:"maxAge"`
	AllowCredentials   bool     `json:"allowCredentials"`
	ExposedHeaders     []string `json:"exposedHeaders"`
	AllowedHeaders     []string `json:"allowedHeaders"`
	OptionsPassthrough bool     `json:"optionsPassthrough"`
	Debug              bool     `json:"debug"`
	AllowedOrigins     []string `json:"allowedOrigins"`
	AllowedMethods     []string `json:"allowedMethods"`
}

// PluginConfig is `middleware.global.pluginConfig`.
type PluginConfig struct {
	Driver string `json:"driver"`
	Bundle *struct {
		Enabled bool   `json:"enabled"`
		Path    string `json:"path"`
	} `json:"bundle,omitempty"`
	Data *struct {
		Enabled bool           `json:"enabled"`
		Value   map[string]any `json:"value"`
	} `json:"data,omitempty"`
}

// Plugin is one plugin hook of a global plugin list.
type Plugin struct {
	Enabled        bool   `json:"enabled"`
	FunctionName   string `json:"functionName"`
	Path           string `json:"path"`
	RawBodyOnly    bool   `json:"rawBodyOnly"`
	RequireSession bool   `json:"requireSession"`
}

// PluginList is the older singular form of a plugin list: {"plugins": [...]}.
type PluginList struct {
	Plugins []Plugin `json:"plugins"`
}

// TransformHeaders is `transformRequestHeaders` / `transformResponseHeaders`.
type TransformHeaders struct {
	Enabled bool     `json:"enabled"`
	Remove  []string `json:"remove"`
	Add     []Header `json:"add"`
}

// Header is a header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TrafficLogs is `middleware.global.trafficLogs`: analytics.
type TrafficLogs struct {
	Enabled               bool     `json:"enabled"`
	TagHeaders            []string `json:"tagHeaders"`
	CustomRetentionPeriod string   `json:"customRetentionPeriod"`
	Plugins               []struct {
		Enabled      bool   `json:"enabled"`
		FunctionName string `json:"functionName"`
		Path         string `json:"path"`
	} `json:"plugins"`
}

// SizeLimit is `requestSizeLimit` (global, and an operation's): the largest request body, in
// bytes.
type SizeLimit struct {
	Enabled bool  `json:"enabled"`
	Value   int64 `json:"value"`
}

// OperationMiddleware is `middleware.operations.<operationId>`.
type OperationMiddleware struct {
	Allow                *Allowance `json:"allow,omitempty"`
	Block                *Allowance `json:"block,omitempty"`
	IgnoreAuthentication *Allowance `json:"ignoreAuthentication,omitempty"`
	// PostPlugins is a per-endpoint plugin; as in Tyk only the first element is used.
	PostPlugins     []EndpointPlugin `json:"postPlugins"`
	ValidateRequest *ValidateRequest `json:"validateRequest,omitempty"`
	MockResponse    *MockResponse    `json:"mockResponse,omitempty"`

	TransformRequestMethod *MethodTransform `json:"transformRequestMethod,omitempty"`
	CircuitBreaker         *CircuitBreaker  `json:"circuitBreaker,omitempty"`
	EnforceTimeout         *Timeout         `json:"enforceTimeout,omitempty"`
	RequestSizeLimit       *SizeLimit       `json:"requestSizeLimit,omitempty"`

	TransformRequestHeaders  *TransformHeaders `json:"transformRequestHeaders,omitempty"`
	TransformResponseHeaders *TransformHeaders `json:"transformResponseHeaders,omitempty"`

	Internal              *Feature        `json:"internal,omitempty"`
	TransformRequestBody  *TransformBody  `json:"transformRequestBody,omitempty"`
	TransformResponseBody *TransformBody  `json:"transformResponseBody,omitempty"`
	VirtualEndpoint       *Feature        `json:"virtualEndpoint,omitempty"`
	URLRewrite            *URLRewrite     `json:"urlRewrite,omitempty"`
	RateLimit             *RateLimit      `json:"rateLimit,omitempty"`
	ScopeCheck            *Feature        `json:"scopeCheck,omitempty"`
	Exchange              *Feature        `json:"exchange,omitempty"`
	Cache                 *OperationCache `json:"cache,omitempty"`
	TrackEndpoint         *Feature        `json:"trackEndpoint,omitempty"`
	DoNotTrackEndpoint    *Feature        `json:"doNotTrackEndpoint,omitempty"`
}

// URLRewrite is an operation's `urlRewrite`: Classic `url_rewrites`.
type URLRewrite struct {
	Enabled   bool                `json:"enabled"`
	Pattern   string              `json:"pattern"`
	RewriteTo string              `json:"rewriteTo"`
	Triggers  []URLRewriteTrigger `json:"triggers,omitempty"`
}

// URLRewriteTrigger is a trigger of an operation's urlRewrite: Classic `triggers[]`, its rules
// the options.
type URLRewriteTrigger struct {
	Condition string           `json:"condition"`
	Rules     []URLRewriteRule `json:"rules,omitempty"`
	RewriteTo string           `json:"rewriteTo"`
}

// URLRewriteRule is one rule of a trigger: In is query, path, header, sessionMetadata,
// requestContext or requestBody.
type URLRewriteRule struct {
	In      string `json:"in"`
	Name    string `json:"name,omitempty"`
	Pattern string `json:"pattern"`
	Negate  bool   `json:"negate,omitempty"`
}

// TransformBody is an operation's `transformRequestBody` or `transformResponseBody`: Classic
// `transform` or `transform_response`. The template is Body (base64) or, without one, the file
// Path.
type TransformBody struct {
	Enabled bool   `json:"enabled"`
	Format  string `json:"format"`
	Path    string `json:"path,omitempty"`
	Body    string `json:"body,omitempty"`
}

// MethodTransform is an operation's `transformRequestMethod`: Classic `method_transforms`.
type MethodTransform struct {
	Enabled  bool   `json:"enabled"`
	ToMethod string `json:"toMethod"`
}

// CircuitBreaker is an operation's `circuitBreaker`: Classic `circuit_breakers`.
type CircuitBreaker struct {
	Enabled              bool    `json:"enabled"`
	Threshold            float64 `json:"threshold"`
	SampleSize           int64   `json:"sampleSize"`
	CoolDownPeriod       int     `json:"coolDownPeriod"`
	HalfOpenStateEnabled bool    `json:"halfOpenStateEnabled"`
}

// Timeout is an operation's `enforceTimeout`: Classic `hard_timeouts`, `value` in seconds or
// `duration` ("1.5s", wins when set).
type Timeout struct {
	Enabled  bool   `json:"enabled"`
	Value    int    `json:"value"`
	Duration string `json:"duration"`
}

// Allowance is `allow`, `block` and `ignoreAuthentication`.
type Allowance struct {
	Enabled    bool `json:"enabled"`
	IgnoreCase bool `json:"ignoreCase"`
}

// EndpointPlugin is an element of an operation's `postPlugins`. Older documents name the
// function `name`.
type EndpointPlugin struct {
	Enabled      bool   `json:"enabled"`
	FunctionName string `json:"functionName"`
	Name         string `json:"name"`
	Path         string `json:"path"`
}

// ValidateRequest is an operation's `validateRequest`: the request is checked against the
// operation's parameters and body schema; failures get ErrorResponseCode (Tyk's default 422).
type ValidateRequest struct {
	Enabled           bool `json:"enabled"`
	ErrorResponseCode int  `json:"errorResponseCode"`
}

// MockResponse is an operation's `mockResponse`: the gateway answers without the upstream.
type MockResponse struct {
	Enabled         bool     `json:"enabled"`
	Code            int      `json:"code"`
	Body            string   `json:"body"`
	Headers         []Header `json:"headers"`
	FromOASExamples *struct {
		Enabled     bool   `json:"enabled"`
		Code        int    `json:"code"`
		ContentType string `json:"contentType"`
		ExampleName string `json:"exampleName"`
	} `json:"fromOASExamples,omitempty"`
}
