//go:build gatehouse_compat

// Package apidef is Gatehouse's rendering of Tyk's Classic API definition types, with the fields
// plugins read (ctx.GetDefinition). The JSON names are Tyk's, which are Gatehouse's: a
// definition converts by its JSON form.
package apidef

import "encoding/json"

// MiddlewareDriver names the language of an API's custom middleware.
type MiddlewareDriver string

// The middleware drivers.
const (
	OttoDriver     MiddlewareDriver = "otto"
	PythonDriver   MiddlewareDriver = "python"
	LuaDriver      MiddlewareDriver = "lua"
	GrpcDriver     MiddlewareDriver = "grpc"
	GoPluginDriver MiddlewareDriver = "goplugin"
)

// AuthTypeEnum names an auth method.
type AuthTypeEnum string

// The auth methods.
const (
	AuthToken     AuthTypeEnum = "auth_token"
	JWTClaim      AuthTypeEnum = "jwt_claim"
	BasicAuthUser AuthTypeEnum = "basic_auth_user"
	HMACKey       AuthTypeEnum = "hmac_key"
	CustomAuth    AuthTypeEnum = "custom_auth"
	OAuthKey      AuthTypeEnum = "oauth_key"
	OIDCUser      AuthTypeEnum = "oidc_user"
	UnsetAuth     AuthTypeEnum = ""
)

// APIDefinition is a Classic API definition.
type APIDefinition struct {
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name"`
	Slug     string   `json:"slug"`
	APIID    string   `json:"api_id"`
	OrgID    string   `json:"org_id"`
	Active   bool     `json:"active"`
	Internal bool     `json:"internal"`
	IsOAS    bool     `json:"is_oas,omitempty"`
	Domain   string   `json:"domain"`
	Tags     []string `json:"tags"`

	ListenPort int    `json:"listen_port"`
	Protocol   string `json:"protocol"`

	Proxy ProxyConfig `json:"proxy"`

	UseKeylessAccess        bool                  `json:"use_keyless"`
	UseStandardAuth         bool                  `json:"use_standard_auth"`
	UseBasicAuth            bool                  `json:"use_basic_auth"`
	EnableJWT               bool                  `json:"enable_jwt"`
	UseOauth2               bool                  `json:"use_oauth2"`
	UseOpenID               bool                  `json:"use_openid"`
	EnableSignatureChecking bool                  `json:"enable_signature_checking"`
	UseMutualTLSAuth        bool                  `json:"use_mutual_tls_auth"`
	CustomPluginAuthEnabled bool                  `json:"custom_plugin_auth_enabled"`
	UseGoPluginAuth         bool                  `json:"use_go_plugin_auth"`
	EnableCoProcessAuth     bool                  `json:"enable_coprocess_auth"`
	Auth                    AuthConfig            `json:"auth"`
	AuthConfigs             map[string]AuthConfig `json:"auth_configs"`
	StripAuthData           bool                  `json:"strip_auth_data"`

	VersionDefinition VersionDefinition `json:"definition"`
	VersionData       VersionData       `json:"version_data"`

	GlobalRateLimit  GlobalRateLimit `json:"global_rate_limit"`
	DisableRateLimit bool            `json:"disable_rate_limit"`
	DisableQuota     bool            `json:"disable_quota"`
	SessionLifetime  int64           `json:"session_lifetime"`

	ConfigData         map[string]interface{} `json:"config_data"`
	ConfigDataDisabled bool                   `json:"config_data_disabled"`
	TagHeaders         []string               `json:"tag_headers"`

	CustomMiddleware       MiddlewareSection     `json:"custom_middleware"`
	CustomMiddlewareBundle string                `json:"custom_middleware_bundle"`
	AnalyticsPlugin        AnalyticsPluginConfig `json:"analytics_plugin"`

	EnableContextVars       bool       `json:"enable_context_vars"`
	DoNotTrack              bool       `json:"do_not_track"`
	EnableDetailedRecording bool       `json:"enable_detailed_recording"`
	DetailedTracing         bool       `json:"detailed_tracing"`
	ExpireAnalyticsAfter    int64      `json:"expire_analytics_after"`
	CORS                    CORSConfig `json:"CORS"`
}

// ProxyConfig says where an API listens and forwards to.
type ProxyConfig struct {
	PreserveHostHeader  bool     `json:"preserve_host_header"`
	ListenPath          string   `json:"listen_path"`
	TargetURL           string   `json:"target_url"`
	DisableStripSlash   bool     `json:"disable_strip_slash"`
	StripListenPath     bool     `json:"strip_listen_path"`
	EnableLoadBalancing bool     `json:"enable_load_balancing"`
	Targets             []string `json:"target_list"`
}

// AuthConfig says where a credential is read from.
type AuthConfig struct {
	Name              string `json:"name"`
	UseParam          bool   `json:"use_param"`
	ParamName         string `json:"param_name"`
	UseCookie         bool   `json:"use_cookie"`
	CookieName        string `json:"cookie_name"`
	DisableHeader     bool   `json:"disable_header"`
	AuthHeaderName    string `json:"auth_header_name"`
	UseCertificate    bool   `json:"use_certificate"`
	ValidateSignature bool   `json:"validate_signature"`
}

// VersionDefinition says where the version of a request is read from.
type VersionDefinition struct {
	Enabled             bool   `json:"enabled"`
	Name                string `json:"name"`
	Default             string `json:"default"`
	Location            string `json:"location"`
	Key                 string `json:"key"`
	StripPath           bool   `json:"strip_path"`
	StripVersioningData bool   `json:"strip_versioning_data"`
}

// VersionData lists an API's versions.
type VersionData struct {
	NotVersioned   bool                   `json:"not_versioned"`
	DefaultVersion string                 `json:"default_version"`
	Versions       map[string]VersionInfo `json:"versions"`
}

// VersionInfo is one version of an API.
type VersionInfo struct {
	Name                        string            `json:"name"`
	Expires                     string            `json:"expires"`
	UseExtendedPaths            bool              `json:"use_extended_paths"`
	ExtendedPaths               ExtendedPathsSet  `json:"extended_paths"`
	GlobalHeaders               map[string]string `json:"global_headers"`
	GlobalHeadersRemove         []string          `json:"global_headers_remove"`
	GlobalResponseHeaders       map[string]string `json:"global_response_headers"`
	GlobalResponseHeadersRemove []string          `json:"global_response_headers_remove"`
	IgnoreEndpointCase          bool              `json:"ignore_endpoint_case"`
	GlobalSizeLimit             int64             `json:"global_size_limit"`
	OverrideTarget              string            `json:"override_target"`
}

// ExtendedPathsSet holds a version's per-endpoint settings. Entries Gatehouse keeps as raw JSON
// are given as such.
type ExtendedPathsSet struct {
	Ignored   []EndPointMeta `json:"ignored,omitempty"`
	WhiteList []EndPointMeta `json:"white_list,omitempty"`
	BlackList []EndPointMeta `json:"black_list,omitempty"`
	GoPlugin  []GoPluginMeta `json:"go_plugin,omitempty"`

	MockResponse     []json.RawMessage `json:"mock_response,omitempty"`
	Transform        []json.RawMessage `json:"transform,omitempty"`
	TransformHeader  []json.RawMessage `json:"transform_headers,omitempty"`
	URLRewrite       []json.RawMessage `json:"url_rewrites,omitempty"`
	Virtual          []json.RawMessage `json:"virtual,omitempty"`
	SizeLimit        []json.RawMessage `json:"size_limits,omitempty"`
	MethodTransforms []json.RawMessage `json:"method_transforms,omitempty"`
	TrackEndpoints   []json.RawMessage `json:"track_endpoints,omitempty"`
	RateLimit        []json.RawMessage `json:"rate_limit,omitempty"`
}

// EndPointMeta is an endpoint of an ignored, white or black list.
type EndPointMeta struct {
	Disabled      bool                          `json:"disabled"`
	Path          string                        `json:"path"`
	Method        string                        `json:"method"`
	IgnoreCase    bool                          `json:"ignore_case"`
	MethodActions map[string]EndpointMethodMeta `json:"method_actions,omitempty"`
}

// EndpointMethodMeta is what an endpoint does for one method.
type EndpointMethodMeta struct {
	Action  string            `json:"action"`
	Code    int               `json:"code"`
	Data    string            `json:"data"`
	Headers map[string]string `json:"headers"`
}

// GoPluginMeta is a per-endpoint Go plugin.
type GoPluginMeta struct {
	Disabled   bool   `json:"disabled"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	PluginPath string `json:"plugin_path"`
	SymbolName string `json:"func_name"`
}

// GlobalRateLimit limits an API as a whole.
type GlobalRateLimit struct {
	Disabled bool    `json:"disabled"`
	Rate     float64 `json:"rate"`
	Per      float64 `json:"per"`
}

// RateLimitSmoothing is Tyk's rate-limit smoothing setting, carried to and from the gateway's
// sessions (apidef.RateLimitSmoothing).
type RateLimitSmoothing struct {
	Enabled   bool    `json:"enabled"`
	Threshold int64   `json:"threshold"`
	Trigger   float64 `json:"trigger"`
	Step      int64   `json:"step"`
	Delay     int64   `json:"delay"`
}

// MiddlewareSection lists an API's custom middleware.
type MiddlewareSection struct {
	Pre         []MiddlewareDefinition `json:"pre"`
	Post        []MiddlewareDefinition `json:"post"`
	PostKeyAuth []MiddlewareDefinition `json:"post_key_auth"`
	AuthCheck   MiddlewareDefinition   `json:"auth_check"`
	Response    []MiddlewareDefinition `json:"response"`
	Driver      MiddlewareDriver       `json:"driver"`
	IdExtractor MiddlewareIdExtractor  `json:"id_extractor"`
}

// MiddlewareDefinition is one hook.
type MiddlewareDefinition struct {
	Disabled       bool   `json:"disabled"`
	Name           string `json:"name"`
	Path           string `json:"path"`
	RequireSession bool   `json:"require_session"`
	RawBodyOnly    bool   `json:"raw_body_only"`
}

// MiddlewareIdExtractor is the co-process ID extractor (not used by Go plugins).
type MiddlewareIdExtractor struct {
	Disabled        bool                   `json:"disabled"`
	ExtractFrom     string                 `json:"extract_from"`
	ExtractWith     string                 `json:"extract_with"`
	ExtractorConfig map[string]interface{} `json:"extractor_config"`
}

// AnalyticsPluginConfig is the API's analytics plugin.
type AnalyticsPluginConfig struct {
	Enabled    bool   `json:"enable"`
	PluginPath string `json:"plugin_path"`
	FuncName   string `json:"func_name"`
}

// CORSConfig is an API's CORS setting.
type CORSConfig struct {
	Enable             bool     `json:"enable"`
	AllowedOrigins     []string `json:"allowed_origins"`
	AllowedMethods     []string `json:"allowed_methods"`
	AllowedHeaders     []string `json:"allowed_headers"`
	ExposedHeaders     []string `json:"exposed_headers"`
	AllowCredentials   bool     `json:"allow_credentials"`
	MaxAge             int      `json:"max_age"`
	OptionsPassthrough bool     `json:"options_passthrough"`
	Debug              bool     `json:"debug"`
}
