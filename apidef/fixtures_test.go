package apidef_test

// Tests on our own Tyk-shaped fixtures (testdata/tyk), which run everywhere, CI included. They
// check what corpus_test.go checks on Tyk's own sample definitions when that corpus is beside
// the repository: every field Gatehouse reads decodes from Tyk's shapes, fields Gatehouse does
// not read are reported by IgnoredFields, and definitions enabling an unsupported feature are
// refused with the right reason.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

const fixtureDir = "testdata/tyk"

// readFixture returns the content of a file under testdata/tyk.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// decodeFixture decodes a definition fixture, which must be valid JSON of the right types.
func decodeFixture(tb testing.TB, name string) (*apidef.APIDefinition, []byte) {
	tb.Helper()
	raw := readFixture(tb, name)
	var a apidef.APIDefinition
	if err := json.Unmarshal(raw, &a); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return &a, raw
}

// compactJSON returns raw without insignificant space.
func compactJSON(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// check compares got with want (reflect.DeepEqual) and reports the difference under name.
func check(t *testing.T, name string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", name, got, want)
	}
}

// servedFixtures are definitions Gatehouse serves: valid, nothing unsupported. Each one's
// ignored fields are listed exactly, and check asserts what it decodes to.
var servedFixtures = []struct {
	file    string
	ignored []string
	check   func(t *testing.T, a *apidef.APIDefinition)
}{
	{
		// Keyed, two header-selected versions, every endpoint list Gatehouse implements, Go
		// plugin hooks at every stage, and the usual Tyk blocks Gatehouse does not read.
		file: "served/orders-keyed.json",
		ignored: []string{
			"custom_middleware.id_extractor.extractor_config",
			"graphql.execution_mode",
		},
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "name", a.Name, "Orders Service")
			check(t, "slug", a.Slug, "orders-service")
			check(t, "api_id", a.APIID, "orders-keyed")
			check(t, "org_id", a.OrgID, "acme-retail")
			check(t, "active", a.Active, true)
			check(t, "domain", a.Domain, "orders.acme.test")
			check(t, "tags", a.Tags, []string{"retail", "eu-west"})
			check(t, "protocol", a.Protocol, "http")
			check(t, "use_keyless", a.UseKeylessAccess, false)
			check(t, "use_standard_auth", a.UseStandardAuth, true)
			check(t, "auth.auth_header_name", a.Auth.AuthHeaderName, "X-Legacy-Key")
			check(t, "AuthTokenConfig", a.AuthTokenConfig(), apidef.AuthConfig{
				Name: "authToken", AuthHeaderName: "X-Orders-Key",
				UseParam: true, ParamName: "orders_key",
				UseCookie: true, CookieName: "orders_session",
				Signature: json.RawMessage(`{
        "algorithm": "",
        "header": "",
        "secret": "",
        "allowed_clock_skew": 0,
        "error_code": 0,
        "error_message": ""
      }`),
			})
			check(t, "auth_configs keys", slices.Sorted(mapKeys(a.AuthConfigs)), []string{"authToken", "jwt"})
			check(t, "strip_auth_data", a.StripAuthData, true)
			check(t, "definition", a.VersionDefinition, apidef.VersionDefinition{Location: "header", Key: "X-Orders-Version"})
			check(t, "version_data.not_versioned", a.VersionData.NotVersioned, false)
			check(t, "version_data.default_version", a.VersionData.DefaultVersion, "v2")
			check(t, "version names", slices.Sorted(mapKeys(a.VersionData.Versions)), []string{"v1", "v2"})

			v1 := a.VersionData.Versions["v1"]
			check(t, "v1.expires", v1.Expires, "2031-06-30 23:59")
			check(t, "v1.override_target", v1.OverrideTarget, "https://orders-legacy.acme.test/api")
			check(t, "v1.black_list", v1.ExtendedPaths.BlackList, []apidef.EndPointMeta{{
				Path: "/orders/{id}/refund",
				MethodActions: map[string]apidef.EndpointMethodMeta{
					"POST": {Action: "no_action", Code: 200, Headers: map[string]string{}},
				},
			}})

			v2 := a.VersionData.Versions["v2"]
			check(t, "v2.name", v2.Name, "v2")
			check(t, "v2.expires", v2.Expires, "-1")
			check(t, "v2.use_extended_paths", v2.UseExtendedPaths, true)
			check(t, "v2.ignore_endpoint_case", v2.IgnoreEndpointCase, true)
			check(t, "v2.global_headers", v2.GlobalHeaders, map[string]string{"X-Served-By": "gatehouse", "X-Region": "eu-west"})
			check(t, "v2.global_headers_remove", v2.GlobalHeadersRemove, []string{"X-Debug-Token"})
			check(t, "v2.global_size_limit", v2.GlobalSizeLimit, int64(1048576))
			ep := v2.ExtendedPaths
			check(t, "v2.ignored", ep.Ignored, []apidef.EndPointMeta{{Path: "/health", Method: "GET", IgnoreCase: true}})
			check(t, "v2.white_list", ep.WhiteList, []apidef.EndPointMeta{
				{Path: "/orders", MethodActions: map[string]apidef.EndpointMethodMeta{
					"GET":  {Action: "no_action", Code: 200, Headers: map[string]string{}},
					"POST": {Action: "no_action", Code: 200, Headers: map[string]string{}},
				}},
				{Disabled: true, Path: "/orders/export", Method: "GET"},
			})
			check(t, "v2.go_plugin", ep.GoPlugin, []apidef.GoPluginMeta{
				{Path: "/orders/{id}/invoice", Method: "GET", PluginPath: "plugins/invoice.so", SymbolName: "RenderInvoice"},
				{Disabled: true, Path: "/orders/{id}/label", Method: "GET", PluginPath: "plugins/labels.so", SymbolName: "PrintLabel"},
			})
			check(t, "v2 cache lists kept", []int{len(ep.Cached), len(ep.AdvanceCacheConfig)}, []int{1, 1})
			check(t, "v2.track_endpoints", ep.TrackEndpoints, []apidef.TrackEndpointMeta{{Path: "/orders", Method: "POST"}})
			check(t, "v2.do_not_track_endpoints", ep.DoNotTrackEndpoints, []apidef.TrackEndpointMeta{
				{Path: "/health", Method: "GET"}, {Disabled: true, Path: "/orders/export", Method: "GET"}})

			check(t, "proxy.listen_path", a.Proxy.ListenPath, "/orders/")
			check(t, "proxy.target_url", a.Proxy.TargetURL, "https://orders.internal.acme.test:8443/v2")
			check(t, "proxy.strip_listen_path", a.Proxy.StripListenPath, true)
			check(t, "proxy.target_list", a.Proxy.Targets, []string{})
			check(t, "global_rate_limit", a.GlobalRateLimit, apidef.GlobalRateLimit{Rate: 500, Per: 1})
			check(t, "session_lifetime", a.SessionLifetime, int64(86400))
			check(t, "config_data", a.ConfigData, map[string]any{
				"invoice_template": "eu-standard",
				"retry_budget":     float64(3),
				"features":         map[string]any{"pdf": true, "languages": []any{"en", "fr"}},
			})

			mw := a.CustomMiddleware
			check(t, "custom_middleware.driver", mw.Driver, apidef.GoPluginDriver)
			check(t, "custom_middleware.pre", mw.Pre, []apidef.MiddlewareDefinition{{Name: "StampRequestID", Path: "plugins/orders.so"}})
			check(t, "custom_middleware.post", mw.Post, []apidef.MiddlewareDefinition{{Name: "ScrubPII", Path: "plugins/orders.so", RawBodyOnly: true}})
			check(t, "custom_middleware.post_key_auth", mw.PostKeyAuth, []apidef.MiddlewareDefinition{{Name: "CheckCustomerTier", Path: "plugins/orders.so", RequireSession: true}})
			check(t, "custom_middleware.response", mw.Response, []apidef.MiddlewareDefinition{{Name: "AddCacheHints", Path: "plugins/orders.so"}})
			check(t, "custom_middleware.auth_check", mw.AuthCheck, apidef.MiddlewareDefinition{})
			check(t, "custom_middleware.id_extractor", [2]string{mw.IdExtractor.ExtractFrom, mw.IdExtractor.ExtractWith}, [2]string{"header", "value"})
			check(t, "custom_middleware enabled", mw.Enabled(), true)
			check(t, "CustomAuthEnabled", a.CustomAuthEnabled(), false)
			check(t, "analytics_plugin", a.AnalyticsPlugin, apidef.AnalyticsPluginConfig{
				Enabled: true, PluginPath: "plugins/orders-analytics.so", FuncName: "MaskCardNumbers",
			})
			check(t, "enable_detailed_recording", a.EnableDetailedRecording, true)
			check(t, "expire_analytics_after", a.ExpireAnalyticsAfter, int64(2592000))
			check(t, "tag_headers", a.TagHeaders, []string{"X-Customer-Tier"})
			check(t, "do_not_track", a.DoNotTrack, false)
			// Present but off: not refused; the allow list is enforced all the same, as in Tyk 5.14.
			check(t, "CORS", a.CORS, apidef.CORSConfig{AllowedOrigins: []string{"https://shop.acme.test"}, AllowedMethods: []string{"GET", "POST"}})
			check(t, "allowed_ips", a.AllowedIPs, []string{"10.20.0.0/16"})
			check(t, "IPAllowListActive", a.IPAllowListActive(), true)
			check(t, "graphql", a.GraphQL, apidef.Toggle{})
			check(t, "upstream_certificates", a.UpstreamCertificates, map[string]string{})
			check(t, "response_processors", string(a.ResponseProcessors), "[]")
		},
	},
	{
		// Custom auth plugin under all three of Tyk's names, legacy path lists, load balancing,
		// switched-off limits and a disabled bundle.
		file: "served/uptime-balanced.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "check_host_against_uptime_tests", a.Proxy.CheckHostAgainstUptimeTests, true)
			check(t, "check_list", a.UptimeTests.CheckList, []apidef.HostCheck{
				{URL: "http://ledger-a.globex.test:9000/health", Method: "POST", Headers: map[string]string{"X-Probe": "gateway"},
					Body: "eyJwaW5nIjogdHJ1ZX0=", Timeout: 2 * time.Second},
				{URL: "ledger-b.globex.test:9000", Protocol: "tcp", Timeout: time.Second,
					Commands: []apidef.CheckCommand{{Name: "send", Message: "PING\r\n"}, {Name: "expect", Message: "PONG"}}},
			})
			body, err := a.UptimeTests.CheckList[0].BodyBytes()
			check(t, "body (decoded)", string(body), `{"ping": true}`)
			check(t, "body error", err, error(nil))
			check(t, "expire_utime_after", a.UptimeTests.Config.ExpireUptimeAnalyticsAfter, int64(3600))
			check(t, "recheck_wait", a.UptimeTests.Config.RecheckWait, 12)
			check(t, "uptime service_discovery", a.UptimeTests.Config.ServiceDiscovery.UseDiscoveryService, false)
		},
	},
	{
		// Certificate auth in the legacy auth object: the key is the client certificate's.
		file: "served/certificate-auth.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "use_certificate", a.AuthTokenConfig().UseCertificate, true)
			check(t, "auth methods", a.AuthMethods(), []string{apidef.AuthToken})
		},
	},
	{
		file: "served/inventory-custom-auth.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "api_id", a.APIID, "inventory-custom-auth")
			check(t, "active (absent)", a.Active, true)
			check(t, "custom_plugin_auth_enabled", a.CustomPluginAuthEnabled, true)
			check(t, "use_go_plugin_auth", a.UseGoPluginAuth, true)
			check(t, "enable_coprocess_auth", a.EnableCoProcessAuth, true)
			check(t, "CustomAuthEnabled", a.CustomAuthEnabled(), true)
			check(t, "auth", a.Auth, apidef.AuthConfig{AuthHeaderName: "Authorization", DisableHeader: true})
			check(t, "AuthTokenConfig (legacy auth)", a.AuthTokenConfig(), a.Auth)
			check(t, "definition", a.VersionDefinition, apidef.VersionDefinition{Location: "url-param", Key: "inv_version"})
			v := a.VersionData.Versions["Default"]
			check(t, "paths", v.Paths, apidef.LegacyPaths{
				Ignored:   []string{"/inventory/ping"},
				WhiteList: []string{"/inventory/items", "/inventory/items/{sku}"},
				BlackList: []string{"/inventory/admin"},
			})
			check(t, "use_extended_paths", v.UseExtendedPaths, false)
			check(t, "proxy", [4]bool{a.Proxy.StripListenPath, a.Proxy.PreserveHostHeader, a.Proxy.DisableStripSlash, a.Proxy.EnableLoadBalancing}, [4]bool{false, true, true, true})
			check(t, "proxy.target_url", a.Proxy.TargetURL, "")
			check(t, "proxy.target_list", a.Proxy.Targets, []string{
				"http://inventory-a.internal.acme.test:8080",
				"http://inventory-b.internal.acme.test:8080",
				"https://inventory-c.internal.acme.test",
			})
			check(t, "global_rate_limit", a.GlobalRateLimit, apidef.GlobalRateLimit{Disabled: true})
			check(t, "disable_rate_limit", a.DisableRateLimit, true)
			check(t, "disable_quota", a.DisableQuota, true)
			check(t, "config_data", a.ConfigData, map[string]any{"warehouse": "north"})
			check(t, "config_data_disabled", a.ConfigDataDisabled, true)
			check(t, "auth_check", a.CustomMiddleware.AuthCheck, apidef.MiddlewareDefinition{Name: "VerifyWarehouseToken", Path: "plugins/warehouse-auth.so"})
			check(t, "pre (empty list)", a.CustomMiddleware.Pre, []apidef.MiddlewareDefinition{})
			check(t, "custom_middleware_bundle", a.CustomMiddlewareBundle, "inventory-bundle-1.4.0.zip")
			check(t, "custom_middleware_bundle_disabled", a.CustomMiddlewareBundleDisabled, true)
			check(t, "enable_context_vars", a.EnableContextVars, true)
		},
	},
	{
		// Every proxy.transport field: upstream TLS overrides and an outbound proxy.
		file: "served/egress-upstream-tls.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			tr := a.Proxy.Transport
			check(t, "proxy_url", tr.ProxyURL, "http://egress.globex.test:3128")
			check(t, "ssl_insecure_skip_verify", tr.SSLInsecureSkipVerify, true)
			check(t, "ssl_ciphers", tr.SSLCipherSuites, []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"})
			check(t, "ssl_min_version", tr.SSLMinVersion, uint16(771))
			check(t, "ssl_max_version", tr.SSLMaxVersion, uint16(772))
			check(t, "ssl_force_common_name_check", tr.SSLForceCommonNameCheck, true)
		},
	},
	{
		// JWT auth whose base policy may come from a client key (jwt_client_base_field).
		file: "served/jwt-client.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "enable_jwt", a.EnableJWT, true)
			check(t, "jwt_client_base_field", a.JWTClientIDBaseField, "azp")
			check(t, "jwt_policy_field_name", a.JWTPolicyFieldName, "pol")
		},
	},
	{
		// JWT auth with Tyk's newer scopes (scopes.jwt), which win over the older fields.
		file: "served/jwt-scopes.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "scopes", a.Scopes, &apidef.Scopes{
				JWT:  apidef.ScopeClaim{ScopeClaimName: "permissions", ScopeToPolicy: map[string]string{"orders:read": "gx-orders-read"}},
				OIDC: apidef.ScopeClaim{ScopeClaimName: "scp"},
			})
			claim, toPolicy := a.JWTScopeSettings()
			check(t, "the scope claim used", claim, "permissions")
			check(t, "the mapping used", toPolicy, map[string]string{"orders:read": "gx-orders-read"})
		},
	},
	{
		// JWT auth with several JWKS and claim lists (Tyk OAS's jwksURIs, subjectClaims,
		// basePolicyClaims, scopes.claims in their Classic form).
		file: "served/jwt-jwks.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "jwt_jwks_uris", a.JWTJwksURIs, []apidef.JWKSURI{{URL: "https://idp-a.globex.test/.well-known/jwks.json", CacheTimeout: 600}, {URL: "https://idp-b.globex.test/jwks"}})
			check(t, "jwt_subject_claims", a.JWTSubjectClaims, []string{"email", "sub"})
			check(t, "jwt_base_policy_claims", a.JWTBasePolicyClaims, []string{"tier", "pol"})
			check(t, "jwt_scope_claims", a.JWTScopeClaims, []string{"scp", "permissions"})
		},
	},
	{
		// JWT auth with an HMAC secret, the identity and policy claims and default policies.
		file: "served/jwt.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "enable_jwt", a.EnableJWT, true)
			check(t, "jwt_signing_method", a.JWTSigningMethod, "hmac")
			check(t, "jwt_source", a.JWTSource, "c2VjcmV0LWZvci1nbG9iZXg=")
			check(t, "jwt_identity_base_field", a.JWTIdentityBaseField, "sub")
			check(t, "jwt_policy_field_name", a.JWTPolicyFieldName, "pol")
			check(t, "jwt_default_policies", a.JWTDefaultPolicies, []string{"gx-default"})
			check(t, "jwt_scope_to_policy_mapping", a.JWTScopeToPolicyMapping, map[string]string{"orders:read": "gx-orders-read"})
			check(t, "jwt_scope_claim_name", a.JWTScopeClaimName, "scp")
			check(t, "jwt_skip_kid", a.JWTSkipKid, true)
			check(t, "skews", [3]uint64{a.JWTExpiresAtValidationSkew, a.JWTIssuedAtValidationSkew, a.JWTNotBeforeValidationSkew}, [3]uint64{5, 6, 7})
			check(t, "idp_client_id_mapping_disabled", a.IDPClientIDMappingDisabled, true)
			_, key, err := a.JWTSourceKind()
			check(t, "jwt_source decoded", string(key), "secret-for-globex")
			check(t, "jwt_source error", err, error(nil))
		},
	},
	{
		// HMAC request signatures; Tyk reads the header from auth_configs.hmac.
		file: "served/hmac.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "enable_signature_checking", a.EnableSignatureChecking, true)
			check(t, "hmac_allowed_algorithms", a.HmacAllowedAlgorithms, []string{"hmac-sha256", "hmac-sha512"})
			check(t, "hmac_allowed_clock_skew", a.HmacAllowedClockSkew, 500.0)
			check(t, "HMACTokenConfig", a.HMACTokenConfig(), apidef.AuthConfig{AuthHeaderName: "Authorization"})
			check(t, "AuthMethods", a.AuthMethods(), []string{apidef.AuthHMACKey})
		},
	},
	{
		// A custom domain with its own server certificate, by certificate-store id.
		file: "served/custom-domain.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "domain", a.Domain, "portal.globex.test")
			check(t, "certificates", a.Certificates, []string{"globex5d7d1ec29c2b8e4a0f6d3b1c9e7a5f3d1b9c7e5a3f1d9b7c5e3a1f9d7b5c3e1a"})
		},
	},
	{
		// domain_disabled: Tyk ignores the domain and its certificates; so does decoding.
		file: "served/domain-disabled.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "domain_disabled", a.DomainDisabled, true)
			check(t, "domain", a.Domain, "")
			check(t, "certificates", len(a.Certificates), 0)
		},
	},
	{
		// Upstream request signing: an HMAC over the date and a digest the request may not
		// carry (then left out of what is signed), in Authorization.
		file: "served/request-signing.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "request_signing", a.RequestSigning, apidef.RequestSigning{IsEnabled: true, Secret: "upstream-shared-secret",
				KeyID: "gx-key-1", Algorithm: "hmac-sha256", HeaderList: []string{"date", "digest"}})
			check(t, "signature header", a.RequestSigning.Header(), "Authorization")
		},
	},
	{
		// Error overrides (Tyk 5.13): a key failure answered 401 as RFC 7807 problem details,
		// and an upstream's 5xx by its JSON body.
		file: "served/error-overrides.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "keys", len(a.ErrorOverrides), 2)
			r := a.ErrorOverrides["403"][0]
			check(t, "403 flag", r.Match.Flag, "AKI")
			check(t, "403 response", r.Response.StatusCode, 401)
			check(t, "403 headers", r.Response.Headers, map[string]string{"WWW-Authenticate": "Bearer", "X-Tyk-Trace": ""})
			check(t, "403 message", r.Response.Message, "Authentication required")
			check(t, "5xx match", *a.ErrorOverrides["5xx"][0].Match, apidef.ErrorMatch{Flag: "URS", BodyField: "error.code", BodyValue: "OUT_OF_STOCK", MessagePattern: "(?i)stock"})
			check(t, "5xx template", a.ErrorOverrides["5xx"][0].Response.Template, "problem")
			check(t, "body", strings.Contains(r.Response.Body, "{{.StatusCode}}"), true)
		},
	},
	{
		// Switched off, the rules are neither checked nor used.
		file: "served/error-overrides-disabled.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "error_overrides_disabled", a.ErrorOverridesDisabled, true)
		},
	},
	{
		// Service discovery from Consul's catalog: a list of services, each address and port.
		file: "served/service-discovery.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			sd := a.Proxy.ServiceDiscovery
			check(t, "service_discovery", sd, apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul.globex.test:8500/v1/catalog/service/ledger",
				DataPath: "ServiceAddress", PortDataPath: "ServicePort", TargetPath: "/v1", UseTargetList: true, CacheTimeout: 30, EndpointReturnsList: true})
		},
	},
	{
		// From etcd: the target is JSON in a string of the answer (use_nested_query).
		file: "served/service-discovery-etcd.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			sd := a.Proxy.ServiceDiscovery
			check(t, "nested", [4]any{sd.UseNestedQuery, sd.ParentDataPath, sd.DataPath, sd.CacheDisabled}, [4]any{true, "node.value", "hostname", true})
		},
	},
	{
		// rsa-sha256 with the private key of a certificate store id, in a Signature header.
		file: "served/request-signing-rsa.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "certificate_id", a.RequestSigning.CertificateID, "globex5d7d1ec29c2b8e4a0f6d3b1c9e7a5f3d1b9c7e5a3f1d9b7c5e3a1f9d7b5c3e1a")
			check(t, "signature header", a.RequestSigning.Header(), "Signature")
			check(t, "header_list", len(a.RequestSigning.HeaderList), 0)
		},
	},
	{
		// RSA request signatures: each key's rsa_certificate_id names its public key in the
		// certificate store.
		file: "served/hmac-rsa.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "hmac_allowed_algorithms", a.HmacAllowedAlgorithms, []string{"rsa-sha256"})
			check(t, "AuthMethods", a.AuthMethods(), []string{apidef.AuthHMACKey})
		},
	},
	{
		// Several auth methods: basic auth, HMAC and the key check, the basic auth user the
		// base identity; security_requirements lists one set of methods, all of them.
		file: "served/multi-auth.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "AuthMethods", a.AuthMethods(), []string{apidef.AuthBasicUser, apidef.AuthHMACKey, apidef.AuthToken})
			check(t, "base_identity_provided_by", a.BaseIdentityProvidedBy, apidef.AuthBasicUser)
			check(t, "BaseIdentity", a.BaseIdentity(), apidef.AuthBasicUser)
		},
	},
	{
		// Basic auth with its cache settings; Tyk reads the header from auth_configs.basic.
		file: "served/basic-auth.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "use_basic_auth", a.UseBasicAuth, true)
			check(t, "basic_auth", a.BasicAuth, apidef.BasicAuthConfig{DisableCaching: true, CacheTTL: 30})
			check(t, "BasicAuthTokenConfig", a.BasicAuthTokenConfig(), apidef.AuthConfig{AuthHeaderName: "Authorization"})
		},
	},
	{
		// Basic auth reading the credentials from the body when the header has none.
		file: "served/basic-auth-body.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "basic_auth", a.BasicAuth, apidef.BasicAuthConfig{ExtractFromBody: true,
				BodyUserRegexp: "<user>(.*)</user>", BodyPasswordRegexp: "<password>(.*)</password>"})
		},
	},
	{
		// Keyless: the auth methods it names are not used, so not refused; hooks of another
		// driver that are all disabled, disabled endpoint entries and a commented-out
		// custom_middleware_ block are not refused either.
		file:    "served/catalogue-keyless.json",
		ignored: []string{"custom_middleware_"},
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "use_keyless", a.UseKeylessAccess, true)
			check(t, "enable_jwt (read, unused)", a.EnableJWT, true)
			check(t, "use_basic_auth (read, unused)", a.UseBasicAuth, true)
			check(t, "auth.use_certificate (read, unused)", a.Auth.UseCertificate, true)
			check(t, "definition", a.VersionDefinition, apidef.VersionDefinition{Location: "url", StripPath: true})
			check(t, "default_version", a.VersionData.DefaultVersion, "2024")
			check(t, "2023.expires", a.VersionData.Versions["2023"].Expires, "2026-12-31 00:00")
			check(t, "2023 disabled entries kept", len(a.VersionData.Versions["2023"].ExtendedPaths.MockResponse)+len(a.VersionData.Versions["2023"].ExtendedPaths.URLRewrite), 2)
			check(t, "custom_middleware.driver", a.CustomMiddleware.Driver, "python")
			check(t, "custom_middleware enabled", a.CustomMiddleware.Enabled(), false)
			check(t, "do_not_track", a.DoNotTrack, true)
			check(t, "CORS", a.CORS, apidef.CORSConfig{AllowedOrigins: []string{"*"}})
		},
	},
	{
		// The Classic half of Tyk's pair of files for an OAS API: valid on its own; the gateway
		// serves it only with its OAS document (gx-oas-oas.json) beside it.
		file: "served/oas-classic-half.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "is_oas", a.IsOAS, true)
			check(t, "api_id", a.APIID, "gx-oas")
		},
	},
	{
		file: "served/ip-allow-list.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "allowed_ips", a.AllowedIPs, []string{"192.0.2.10", "198.51.100.0/24"})
			check(t, "IPAllowListActive", a.IPAllowListActive(), true)
		},
	},
	{
		file: "served/ip-block-list.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "blacklisted_ips", a.BlacklistedIPs, []string{"203.0.113.7"})
			check(t, "IPBlockListActive", a.IPBlockListActive(), true)
		},
	},
	{
		file: "served/cors.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "CORS", a.CORS, apidef.CORSConfig{
				Enable: true, AllowedOrigins: []string{"https://app.globex.test"}, AllowedMethods: []string{"GET", "PUT"},
				AllowedHeaders: []string{"X-Globex-Key"}, AllowCredentials: true, MaxAge: 600,
			})
		},
	},
	{
		file: "served/size-limits.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "size_limits", a.VersionData.Versions["Default"].ExtendedPaths.SizeLimit,
				[]apidef.RequestSizeMeta{{Path: "/upload", Method: "PUT", SizeLimit: 2048}})
		},
	},
	{
		file: "served/cache.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "cache_options", a.CacheOptions, apidef.CacheOptions{
				CacheTimeout: 30, EnableCache: true, CacheAllSafeRequests: true, CacheOnlyResponseCodes: []int{200, 404},
				EnableUpstreamCacheControl: true, CacheControlTTLHeader: "X-Cache-TTL", CacheByHeaders: []string{"Accept-Language"},
			})
			check(t, "cache", a.VersionData.Versions["Default"].ExtendedPaths.Cached, []string{"/products", "/categories/{id}"})
			check(t, "advance_cache_config", a.VersionData.Versions["Default"].ExtendedPaths.AdvanceCacheConfig, []apidef.CacheMeta{
				{Method: "POST", Path: "/search", CacheKeyRegex: `"q":\s*"[^"]*"`, CacheOnlyResponseCodes: []int{200}, Timeout: 10},
			})
		},
	},
	{
		file: "served/endpoint-rate-limit.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "rate_limit", a.VersionData.Versions["Default"].ExtendedPaths.RateLimit, []apidef.RateLimitMeta{
				{Path: "/search", Method: "GET", Rate: 10, Per: 1},
				{Disabled: true, Path: "/export", Method: "POST", Rate: 1, Per: 60},
			})
		},
	},
	{
		file: "served/hard-timeouts.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "hard_timeouts", a.VersionData.Versions["Default"].ExtendedPaths.HardTimeouts,
				[]apidef.HardTimeoutMeta{{Path: "/reports", Method: "GET", TimeOut: 3}})
		},
	},
	{
		file: "served/circuit-breakers.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "circuit_breakers", a.VersionData.Versions["Default"].ExtendedPaths.CircuitBreaker,
				[]apidef.CircuitBreakerMeta{{Path: "/reports", Method: "GET", ThresholdPercent: 0.4, Samples: 20, ReturnToServiceAfter: 45}})
		},
	},
	{
		// Tyk 5.3's mock_response list: a reply, a case-insensitive one and a disabled one.
		file: "served/mock-response.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "mock_response", a.VersionData.Versions["Default"].ExtendedPaths.MockResponse, []apidef.MockResponseMeta{
				{Path: "/status", Method: "GET", Code: 200, Body: `{"ok":true}`, Headers: map[string]string{"Content-Type": "application/json"}},
				{Path: "/Health", Method: "HEAD", IgnoreCase: true, Code: 204},
				{Path: "/old", Method: "GET", Disabled: true},
			})
		},
	},
	{
		// The legacy form: method actions that reply, in a white list and a black list.
		file: "served/method-action-reply.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			ep := a.VersionData.Versions["Default"].ExtendedPaths
			check(t, "white_list[0]", ep.WhiteList[0].MethodActions["GET"], apidef.EndpointMethodMeta{
				Action: "reply", Code: 503, Data: `{"down":true}`, Headers: map[string]string{"Retry-After": "120"}})
			check(t, "black_list[0]", ep.BlackList[0].MethodActions["DELETE"], apidef.EndpointMethodMeta{Action: "reply", Code: 405, Data: "no", Headers: map[string]string{}})
		},
	},
	{
		// URL rewrites: a plain one, and one with a trigger testing every kind of option.
		file: "served/url-rewrites.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			rw := a.VersionData.Versions["Default"].ExtendedPaths.URLRewrite
			check(t, "url_rewrites[0]", rw[0], apidef.URLRewriteMeta{Path: "/v0/{rest}", Method: "GET", MatchPattern: "/v0/(.*)", RewriteTo: "/ledger/$1", Triggers: []apidef.RoutingTrigger{}})
			check(t, "url_rewrites[1].triggers", rw[1].Triggers, []apidef.RoutingTrigger{{On: "all", RewriteTo: "/payments/priority/$1", Options: apidef.RoutingTriggerOptions{
				HeaderMatches:         map[string]apidef.StringRegexMap{"X-Tier": {MatchRx: "^gold$"}},
				QueryValMatches:       map[string]apidef.StringRegexMap{"region": {MatchRx: "eu", Reverse: true}},
				PathPartMatches:       map[string]apidef.StringRegexMap{"id": {MatchRx: "^[0-9]+$"}},
				SessionMetaMatches:    map[string]apidef.StringRegexMap{"plan": {MatchRx: "pro"}},
				RequestContextMatches: map[string]apidef.StringRegexMap{"remote_addr": {MatchRx: `^10\.`}},
				PayloadMatches:        apidef.StringRegexMap{MatchRx: `"priority":\s*true`},
			}}})
			check(t, "url_rewrites[1] ignore_case", rw[1].IgnoreCase, true)
		},
	},
	{
		// Body transforms: a JSON request template (and a disabled one with the session), and
		// an XML response template from a file.
		file: "served/transform.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "transform", a.VersionData.Versions["Default"].ExtendedPaths.Transform, []apidef.TemplateMeta{
				{Path: "/ledger", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: "e3sgLn19"}},
				{Path: "/Ledger/old", Method: "PUT", IgnoreCase: true, Disabled: true, TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", EnableSession: true, TemplateSource: "e3sgLl90eWtfbWV0YSB9fQ=="}},
			})
		},
	},
	{
		file: "served/transform-response.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "transform_response", a.VersionData.Versions["Default"].ExtendedPaths.TransformResponse, []apidef.TemplateMeta{
				{Path: "/ledger", Method: "GET", TemplateData: apidef.TemplateData{Input: "xml", Mode: "file", TemplateSource: "templates/ledger.tmpl"}},
			})
		},
	},
	{
		file: "served/method-transforms.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "method_transforms", a.VersionData.Versions["Default"].ExtendedPaths.MethodTransforms,
				[]apidef.MethodTransformMeta{{Path: "/legacy-search", Method: "GET", ToMethod: "POST"}})
		},
	},
	{
		// Every traffic field Gatehouse reads: the IP lists (switched off by
		// ip_access_control_disabled but for the one whose flag is on), the whole CORS block,
		// the version's size and timeout switches and each per-endpoint list, disabled entries
		// included.
		file: "served/traffic-all-fields.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "IPAllowListActive", a.IPAllowListActive(), false)
			check(t, "IPBlockListActive", a.IPBlockListActive(), true)
			check(t, "CORS", a.CORS, apidef.CORSConfig{
				Enable: true, AllowedOrigins: []string{"https://*.globex.test", "https://partner.example"},
				AllowedMethods: []string{"GET", "POST"}, AllowedHeaders: []string{"Authorization", "X-Globex-Key"},
				ExposedHeaders: []string{"X-Request-Id"}, AllowCredentials: true, MaxAge: 300, OptionsPassthrough: true, Debug: true,
			})
			v := a.VersionData.Versions["Default"]
			d, err := v.EnforceTimeout()
			check(t, "EnforceTimeout (disabled)", [2]any{d, err}, [2]any{time.Duration(0), nil})
			check(t, "global_size_limit_disabled", v.GlobalSizeLimitDisabled, true)
			ep := v.ExtendedPaths
			check(t, "size_limits[0]", ep.SizeLimit[0], apidef.RequestSizeMeta{Path: "/upload", Method: "POST", SizeLimit: 4096, IgnoreCase: true})
			to, err := ep.HardTimeouts[0].Timeout()
			check(t, "hard_timeouts[0] (duration wins)", [2]any{to, err}, [2]any{1500 * time.Millisecond, nil})
			check(t, "circuit_breakers[0]", ep.CircuitBreaker[0], apidef.CircuitBreakerMeta{Path: "/reports", Method: "GET",
				ThresholdPercent: 0.5, Samples: 10, ReturnToServiceAfter: 30, DisableHalfOpenState: true, IgnoreCase: true})
			check(t, "method_transforms[0]", ep.MethodTransforms[0], apidef.MethodTransformMeta{Path: "/search", Method: "GET", ToMethod: "post", IgnoreCase: true})
			check(t, "disabled entries", [4]bool{ep.SizeLimit[1].Disabled, ep.HardTimeouts[1].Disabled, ep.CircuitBreaker[1].Disabled, ep.MethodTransforms[1].Disabled}, [4]bool{true, true, true, true})
		},
	},
	{
		// Keyed, with JSON Schema validation of request bodies: Tyk's default code, a draft-04
		// $schema, a case-insensitive entry and a disabled one.
		file: "served/validate-json.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			ep := a.VersionData.Versions["Default"].ExtendedPaths
			check(t, "validate_json", len(ep.ValidateJSON), 3)
			e := ep.ValidateJSON[0]
			e.Schema = compactJSON(t, e.Schema)
			check(t, "validate_json[0]", e, apidef.ValidatePathMeta{Path: "/ledger", Method: "POST",
				Schema: json.RawMessage(`{"type":"object","required":["amount"]}`), ErrorResponseCode: 422})
			check(t, "validate_json[1] ignore_case", [2]any{ep.ValidateJSON[1].IgnoreCase, ep.ValidateJSON[1].ErrorResponseCode}, [2]any{true, 0})
			check(t, "validate_json[2] disabled", ep.ValidateJSON[2].Disabled, true)
		},
	},
	{
		// Request header transforms with variables; a disabled entry's secret is not refused.
		file: "served/transform-headers.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "enable_context_vars", a.EnableContextVars, true)
			v := a.VersionData.Versions["Default"]
			check(t, "global_headers", v.GlobalHeaders, map[string]string{"X-Request-Id": "$tyk_context.request_id", "X-Tier": "$tyk_meta.tier"})
			check(t, "global_headers_remove", v.GlobalHeadersRemove, []string{"X-Debug"})
			check(t, "global_headers_disabled", v.GlobalHeadersDisabled, false)
			check(t, "transform_headers", v.ExtendedPaths.TransformHeader, []apidef.HeaderInjectionMeta{
				{Path: "/ledger", Method: "GET", AddHeaders: map[string]string{"X-Ledger": "on", "X-Client": "$tyk_context.remote_addr"}, DeleteHeaders: []string{"Cookie"}},
				{Path: "/Archive", Method: "GET", IgnoreCase: true, AddHeaders: map[string]string{"X-Archive": "1"}, DeleteHeaders: []string{}},
				{Path: "/old", Method: "GET", Disabled: true, AddHeaders: map[string]string{"X-Old": "$secret_env.OLD"}, DeleteHeaders: []string{}},
			})
		},
	},
	{
		file: "served/transform-response-headers.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			v := a.VersionData.Versions["Default"]
			check(t, "transform_response_headers", v.ExtendedPaths.TransformResponseHeader, []apidef.HeaderInjectionMeta{
				{Path: "/ledger", Method: "GET", AddHeaders: map[string]string{"Cache-Control": "no-store"}, DeleteHeaders: []string{"Server"}, ActOnResponse: true},
			})
			check(t, "global_response_headers_disabled", v.GlobalResponseHeadersDisabled, true)
			check(t, "global_headers_disabled", v.GlobalHeadersDisabled, true)
		},
	},
	{
		file: "served/global-response-headers.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			v := a.VersionData.Versions["Default"]
			check(t, "global_response_headers", v.GlobalResponseHeaders, map[string]string{"Strict-Transport-Security": "max-age=31536000", "X-Served-For": "$tyk_meta.team"})
			check(t, "global_response_headers_remove", v.GlobalResponseHeadersRemove, []string{"X-Powered-By"})
			check(t, "global_response_headers_disabled", v.GlobalResponseHeadersDisabled, false)
		},
	},
	{
		// A not-versioned API's expiration is served: its requests get 403 once it passed.
		file: "served/expiration.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "expiration", a.Expiration, "2027-03-01 12:00")
			check(t, "inert", a.Inert(), []string(nil))
		},
	},
	{
		// Upstream basic auth is served, in the header named.
		file: "served/upstream-basic-auth.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "basic auth on", a.UpstreamAuth.BasicAuthOn(), true)
			check(t, "username", a.UpstreamAuth.BasicAuth.Username, "gateway")
			check(t, "header", a.UpstreamAuth.BasicAuth.HeaderFor(), "X-Upstream-Authorization")
		},
	},
	{
		// Looping: target_url names another API (tyk://), served in process.
		file: "served/loop-target.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "loop target", apidef.IsLoopTarget(a.Proxy.TargetURL), true)
		},
	},
	{
		// An internal endpoint: reachable only by looping.
		file: "served/internal-endpoint.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "internal entries", len(a.VersionData.Versions["Default"].ExtendedPaths.Internal), 1)
		},
	},
	{
		// Tyk's OAuth 2.0 server: client credentials, with a login page for the authorize
		// endpoint and key change notifications.
		file: "served/oauth2.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "notifications", a.Notifications, apidef.Notifications{SharedSecret: "n0t1fy", OAuthKeyChangeURL: "https://hooks.globex.test/oauth"})
			check(t, "auth methods", a.AuthMethods(), []string{apidef.AuthOAuthKey})
			check(t, "oauth_meta", a.OAuthMeta, apidef.OAuthMeta{
				AllowedAccessTypes:    []string{"client_credentials"},
				AllowedAuthorizeTypes: []string{"token"},
				AuthLoginRedirect:     "https://login.globex.test/",
			})
		},
	},
	{
		// Tyk's static mutual TLS: a certificate-store id, whose fingerprint is read.
		file: "served/mutual-tls.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "use_mutual_tls_auth", a.UseMutualTLSAuth, true)
			check(t, "client_certificates", a.ClientCertificates, []string{"globex5f1e0c7d2a9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"})
		},
	},
	{
		// An internal API: reachable only by looping.
		file: "served/internal.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "internal", a.Internal, true)
		},
	},
	{
		// Tyk's legacy response processors: header_injector's options are read.
		file: "served/response-processors.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "header injectors", a.HeaderInjectors(), []apidef.HeaderInjectorOptions{
				{AddHeaders: map[string]string{"X-Globex": "1"}, RemoveHeaders: []string{"Server"}},
			})
		},
	},
	{
		// "active": false is read: valid, not refused, just not served.
		file: "served/archived-inactive.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "active", a.Active, false)
			check(t, "api_id", a.APIID, "returns-archived")
			check(t, "default_version", a.VersionData.DefaultVersion, "")
		},
	},
	{
		// Client certificates for upstream mutual TLS, by host and port (Tyk 5.14's keys) and
		// by domain.
		file: "served/upstream-certificates.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "upstream_certificates", a.UpstreamCertificates, map[string]string{
				"backend.globex.test:9000": "certs/globex-backend-client.pem", "*.globex.test": "certs/globex-client.pem"})
			check(t, "host and port", apidef.ForUpstreamHost("backend.globex.test", "9000", a.UpstreamCertificates), "certs/globex-backend-client.pem")
			check(t, "another port", apidef.ForUpstreamHost("backend.globex.test", "9001", a.UpstreamCertificates), "certs/globex-client.pem")
		},
	},
	{
		// Pinned public keys: a Tyk certificate-store id ending with a fingerprint, and a file.
		file: "served/pinned-public-keys.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			keys, err := apidef.PinnedKeys(apidef.ForUpstreamHost("backend.globex.test", "9000", a.PinnedPublicKeys))
			check(t, "pinned keys", keys, []string{"globex5d7d1ec2b4e84bc1f1e3a9a3c0f0ec4bd25d6e0e7a57d3b0a53d8e0e4ab2a91c", "certs/backend-pubkey.pem"})
			check(t, "error", err, nil)
			fp, ok := apidef.PinFingerprint(keys[0])
			check(t, "fingerprint", [2]any{fp, ok}, [2]any{"5d7d1ec2b4e84bc1f1e3a9a3c0f0ec4bd25d6e0e7a57d3b0a53d8e0e4ab2a91c", true})
			_, ok = apidef.PinFingerprint(keys[1])
			check(t, "a file is no fingerprint", ok, false)
		},
	},
	{
		// A base API serving its versions through other APIs (definition.enabled), the version
		// read from the URL.
		file: "served/version-apis-base.json",
		check: func(t *testing.T, a *apidef.APIDefinition) {
			check(t, "definition", a.VersionDefinition, apidef.VersionDefinition{Location: "url", Key: "x-api-version",
				VersionAPIs: &apidef.VersionAPIs{Enabled: true, Name: "v1", Default: "self", StripVersioningData: true,
					URLVersioningPattern: `^v\d+$`, FallbackToDefault: true,
					Versions: map[string]string{"v2": "gx-orders-v2", "v3": "gx-orders-v3"}}})
			check(t, "VersionsEnabled", a.VersionsEnabled(), true)
		},
	},
}

func mapKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestFixturesServed(t *testing.T) {
	for _, f := range servedFixtures {
		t.Run(f.file, func(t *testing.T) {
			a, raw := decodeFixture(t, f.file)
			if err := a.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if got := a.Unsupported(); len(got) != 0 {
				t.Errorf("Unsupported() = %q, want none", got)
			}
			if got := apidef.IgnoredFields(raw); !slices.Equal(got, f.ignored) {
				t.Errorf("IgnoredFields() = %q, want %q", got, f.ignored)
			}
			f.check(t, a)
		})
	}
}

// refusedFixtures are definitions that enable a feature Gatehouse does not implement, one
// feature each (but for several.json), with the exact reasons Unsupported must give.
var refusedFixtures = []struct {
	file string
	want []string
	// validContains, when set, is a substring of the Validate error the file also has.
	validContains string
}{
	{file: "refused/listen-port.json", want: []string{"a listen_port of its own"}},
	{file: "refused/protocol-tcp.json", want: []string{"a listen_port of its own", `protocol "tcp"`},
		validContains: "scheme must be http or https"},
	{file: "refused/openid.json", want: []string{"OpenID Connect (use_openid)"}},
	{file: "refused/external-oauth.json", want: []string{"external OAuth (external_oauth)"}},
	{file: "refused/token-signature.json", want: []string{"request signatures (auth_configs.authToken.validate_signature)"}},
	{file: "refused/graphql.json", want: []string{"GraphQL (graphql.enabled)"}},
	// Tyk adds credentials to upstream requests with upstream_auth.enabled: OAuth is refused.
	{file: "refused/upstream-oauth.json", want: []string{"upstream OAuth (upstream_auth.oauth)"}},
	{file: "refused/response-processor-header-transform.json", want: []string{`response_processors[0]: processor "header_transform" (only "header_injector" and "response_body_transform" are read)`}},
	{file: "refused/uptime-proxy-protocol.json", want: []string{
		"uptime_tests.check_list[0].enable_proxy_protocol (checks do not send a PROXY protocol header)",
		"uptime_tests.config.service_discovery (the check list is the definition's)",
	}},
	{file: "refused/coprocess-python.json", want: []string{`custom_middleware driver "python" (only "goplugin" is supported)`}},
	{file: "refused/coprocess-grpc-auth.json", want: []string{`custom_middleware driver "grpc" (only "goplugin" is supported)`}},
	{file: "refused/coprocess-js.json", want: []string{`custom_middleware driver "" (only "goplugin" is supported)`}},
	{file: "refused/transform-jq.json", want: []string{
		`version "Default": extended_paths.transform_jq`,
		`version "Default": extended_paths.transform_jq_response`,
	}},
	{file: "refused/virtual.json", want: []string{`version "Default": extended_paths.virtual`}},
	{file: "refused/validate-request.json", want: []string{`version "Default": extended_paths.validate_request`}},
	{file: "refused/persist-graphql.json", want: []string{`version "Default": extended_paths.persist_graphql`}},
	{file: "refused/several.json", want: []string{
		"CORS.enabled (Tyk's Classic field is CORS.enable)",
		"GraphQL (graphql.enabled)",
	}},
}

func TestFixturesRefused(t *testing.T) {
	for _, f := range refusedFixtures {
		t.Run(f.file, func(t *testing.T) {
			a, _ := decodeFixture(t, f.file)
			if got := a.Unsupported(); !slices.Equal(got, f.want) {
				t.Errorf("Unsupported() = %q, want %q", got, f.want)
			}
			err := a.Validate()
			switch {
			case f.validContains == "" && err != nil:
				t.Errorf("Validate() = %v, want nil (the file is refused for its feature alone)", err)
			case f.validContains != "" && (err == nil || !strings.Contains(err.Error(), f.validContains)):
				t.Errorf("Validate() = %v, want an error containing %q", err, f.validContains)
			}
			if !a.Active {
				t.Errorf("Active = false, want true (absent in the file)")
			}
		})
	}
}

// invalidFixtures fail to decode (decodeErr) or fail Validate (validate: one substring per
// expected problem, all problems listed).
var invalidFixtures = []struct {
	file      string
	decodeErr string
	validate  []string
}{
	{file: "invalid/missing-api-id.json", validate: []string{"api_id: missing"}},
	{file: "invalid/listen-path-pattern.json", validate: []string{`proxy.listen_path: "/reports/{year}/" holds '{'`}},
	{file: "invalid/unknown-default-version.json", validate: []string{`version_data.default_version: "v3" is not among the versions`}},
	{file: "invalid/versions-without-location.json", validate: []string{`definition.location: "" is not one of header, url-param, url`}},
	{file: "invalid/bad-expires.json", validate: []string{`version_data.versions["Default"].expires: "end of Q3" is not a date like "2006-01-02 15:04"`}},
	{file: "invalid/empty-target-list.json", validate: []string{"proxy.target_list: load balancing is enabled but the list is empty"}},
	{file: "invalid/half-rate-limit.json", validate: []string{"global_rate_limit: per is 0; with a rate of 100 it must be a positive number of seconds (a rate of 0 sets no limit)"}},
	{file: "invalid/nameless-param.json", validate: []string{"auth: use_param is set but neither param_name nor auth_header_name names the parameter"}},
	{file: "invalid/trailing-comma.json", decodeErr: "invalid character '}' looking for beginning of object key string"},
	{file: "invalid/wrong-type.json", decodeErr: "use_keyless of type bool"},
	{file: "invalid/version-apis-bad.json", validate: []string{
		`definition.location: "path" is not one of header, url-param, url`,
		`definition.versions: "v1" is this API's own version`,
		`definition.versions["v2"]: "gx-orders-bad" is this API itself`,
		`definition.versions["v3"]: names no API`,
		`definition.default: "v9" is neither`,
		`definition.url_versioning_pattern: error parsing regexp`,
	}},
	{file: "invalid/pinned-public-keys-bad.json", validate: []string{
		`upstream_certificates["*"]: is empty`,
		`upstream_certificates: the key "backend.globex.test:99999" has a port that is not a number from 1 to 65535`,
		`pinned_public_keys["*.globex.test"]: lists no public key`,
		`pinned_public_keys: the key "Backend.globex.test" is not "*", a host name`,
		`pinned_public_keys: the key "https://backend.globex.test" is not`,
	}},
}

func TestFixturesInvalid(t *testing.T) {
	for _, f := range invalidFixtures {
		t.Run(f.file, func(t *testing.T) {
			var a apidef.APIDefinition
			err := json.Unmarshal(readFixture(t, f.file), &a)
			if f.decodeErr != "" {
				if err == nil || !strings.Contains(err.Error(), f.decodeErr) {
					t.Errorf("Unmarshal error = %v, want one containing %q", err, f.decodeErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			errs := joinedErrors(a.Validate())
			if len(errs) != len(f.validate) {
				t.Fatalf("Validate() = %q, want %d problem(s): %q", errs, len(f.validate), f.validate)
			}
			for i, want := range f.validate {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, errs[i], want)
				}
			}
			if got := a.Unsupported(); len(got) != 0 {
				t.Errorf("Unsupported() = %q, want none", got)
			}
		})
	}
}

// TestFixturesAllListed keeps the fixture tables and testdata/tyk in step: a definition added to
// testdata but to no table would be checked by nothing.
func TestFixturesAllListed(t *testing.T) {
	listed := map[string]bool{}
	for _, f := range servedFixtures {
		listed[f.file] = true
	}
	for _, f := range refusedFixtures {
		listed[f.file] = true
	}
	for _, f := range invalidFixtures {
		listed[f.file] = true
	}
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range files {
		rel, _ := filepath.Rel(fixtureDir, f)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "keys/") {
			continue
		}
		found[rel] = true
		if !listed[rel] {
			t.Errorf("%s is in testdata but in no fixture table", rel)
		}
	}
	for f := range listed {
		if !found[f] {
			t.Errorf("%s is listed but not in testdata", f)
		}
	}
}

func TestFixtureKeys(t *testing.T) {
	decode := func(t *testing.T, name string) *apidef.SessionState {
		t.Helper()
		var s apidef.SessionState
		if err := json.Unmarshal(readFixture(t, name), &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return &s
	}

	t.Run("partner-key", func(t *testing.T) {
		s := decode(t, "keys/partner-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		check(t, "last_check", s.LastCheck, int64(1718000000))
		check(t, "allowance", s.Allowance, 120.0)
		check(t, "rate/per", [2]float64{s.Rate, s.Per}, [2]float64{120, 60})
		check(t, "smoothing", s.Smoothing, apidef.RateLimitSmoothing{Enabled: true, Threshold: 30, Trigger: 0.5, Step: 10, Delay: 30})
		check(t, "throttle (Tyk's -1: off)", [2]any{s.ThrottleInterval, s.ThrottleRetryLimit}, [2]any{-1.0, -1})
		check(t, "quota", [4]int64{s.QuotaMax, s.QuotaRenews, s.QuotaRemaining, s.QuotaRenewalRate}, [4]int64{50000, 1719000000, 48211, 2592000})
		check(t, "expires", s.Expires, int64(1893456000))
		check(t, "date_created", s.DateCreated, time.Date(2024, 3, 5, 10, 11, 12, 500000000, time.UTC))
		check(t, "org_id", s.OrgID, "acme-retail")
		check(t, "apply_policies", s.ApplyPolicies, []string{"gold-partners"})
		check(t, "apply_policy_id", s.ApplyPolicyID, "")
		check(t, "PolicyIDs", s.PolicyIDs(), []string{"gold-partners"})
		check(t, "is_inactive", s.IsInactive, false)
		check(t, "data_expires", s.DataExpires, int64(604800))
		check(t, "session_lifetime", s.SessionLifetime, int64(2592000))
		check(t, "enable_detailed_recording", s.EnableDetailedRecording, true)
		check(t, "tags", s.Tags, []string{"partner", "northwind"})
		check(t, "alias", s.Alias, "northwind-prod")
		check(t, "last_updated", s.LastUpdated, "1718000123")
		check(t, "meta_data", s.MetaData, map[string]any{
			"partner": "Northwind", "tier": float64(2),
			"contacts": []any{"ops@northwind.test"}, "limits": map[string]any{"burst": true},
		})
		check(t, "access_rights", s.AccessRights, map[string]apidef.AccessDefinition{
			"orders-keyed": {
				APIName:  "Orders Service",
				APIID:    "orders-keyed",
				Versions: []string{"v1", "v2"},
				AllowedURLs: []apidef.AccessSpec{
					{URL: "/orders", Methods: []string{"GET", "POST"}},
					{URL: "/orders/{id}", Methods: []string{"GET"}},
				},
				Limit: &apidef.APILimit{Rate: 10, Per: 1, ThrottleInterval: -1, ThrottleRetryLimit: -1, QuotaMax: 1000, QuotaRenews: 1719000500, QuotaRemaining: 990, QuotaRenewalRate: 86400},
			},
			"catalogue-keyless": {
				APIName:     "Public Catalogue",
				APIID:       "catalogue-keyless",
				Versions:    []string{"2024"},
				AllowedURLs: []apidef.AccessSpec{},
			},
		})
		lim, perAPI := s.LimitFor("orders-keyed")
		check(t, "LimitFor(orders-keyed)", [2]any{lim.Rate, perAPI}, [2]any{10.0, true})
		lim, perAPI = s.LimitFor("catalogue-keyless")
		check(t, "LimitFor(catalogue-keyless)", [3]any{lim.Rate, lim.QuotaMax, perAPI}, [3]any{120.0, int64(50000), false})
	})

	t.Run("basic-auth-user", func(t *testing.T) {
		s := decode(t, "keys/basic-auth-user.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		// bcrypt (cost 10) of "correct horse battery", as the Gateway API stores it.
		check(t, "basic_auth_data", s.BasicAuthData, apidef.BasicAuthData{
			Password: "$2a$10$M6lVbDec//cD2Y3VkbtsCuk2.nLmMqg0HtpthVzEJbpa4kX8wB9yC", HashType: "bcrypt"})
	})

	t.Run("jwt-one-to-one", func(t *testing.T) {
		s := decode(t, "keys/jwt-one-to-one.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		check(t, "jwt_data", s.JWTData, apidef.JWTData{Secret: "a-per-key-hmac-secret"})
	})

	t.Run("oauth-token", func(t *testing.T) {
		s := decode(t, "keys/oauth-token.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		check(t, "oauth_client_id", s.OauthClientID, "7d1e2f0c3b4a45968877665544332211")
	})

	t.Run("legacy-policy-key", func(t *testing.T) {
		s := decode(t, "keys/legacy-policy-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		check(t, "PolicyIDs", s.PolicyIDs(), []string{"bronze-legacy"})
		check(t, "quota_max", s.QuotaMax, int64(-1))
		check(t, "is_inactive", s.IsInactive, true)
		check(t, "access_rights", s.AccessRights, map[string]apidef.AccessDefinition(nil))
	})

	t.Run("endpoint-limits-key", func(t *testing.T) {
		// Tyk's per-endpoint limits decode as typed entries, and a copy owns its own.
		s := decode(t, "keys/endpoint-limits-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		want := []apidef.EndpointLimit{{Path: "/orders", Methods: []apidef.EndpointMethodLimit{
			{Name: "GET", Limit: apidef.RateLimit{Rate: 5, Per: 60}}, {Name: "POST", Limit: apidef.RateLimit{Rate: 1, Per: 60}}}}}
		check(t, "endpoints", s.AccessRights["orders-keyed"].Endpoints, want)
		c := s.AccessRights["orders-keyed"].Clone()
		c.Endpoints[0].Methods[0].Limit.Rate = 500
		check(t, "endpoints after the copy changed", s.AccessRights["orders-keyed"].Endpoints, want)
		if l, ok := s.AccessRights["orders-keyed"].Endpoints[0].Method("post"); !ok || l.Rate != 1 {
			t.Errorf(`Method("post") = %v, %v; want rate 1`, l, ok)
		}
	})

	t.Run("endpoint-limits-refused", func(t *testing.T) {
		// Every broken entry is reported, naming where it is.
		var s apidef.SessionState
		if err := json.Unmarshal([]byte(`{"access_rights": {"a": {"api_id": "a", "endpoints": [
			{"path": "", "methods": [{"name": "GET", "limit": {"rate": 1, "per": 0}}]},
			{"path": "/x", "methods": []},
			{"path": "/y", "methods": [{"name": "GE T", "limit": {"rate": 2e9, "per": 1}}]}]}}}`), &s); err != nil {
			t.Fatal(err)
		}
		errs := joinedErrors(s.Validate())
		for _, want := range []string{
			`access_rights["a"].endpoints[0].path is empty`,
			`access_rights["a"].endpoints[0].methods[0].limit.per is 0`,
			`access_rights["a"].endpoints[1].methods is empty`,
			`access_rights["a"].endpoints[2].methods[0].name "GE T" is not an HTTP method`,
			`access_rights["a"].endpoints[2].methods[0].limit.rate 2e+09 is more than`,
		} {
			found := false
			for _, e := range errs {
				found = found || strings.HasPrefix(e.Error(), want)
			}
			if !found {
				t.Errorf("Validate() = %v, want an error starting %q", errs, want)
			}
		}
		if len(errs) != 5 {
			t.Errorf("Validate() gave %d errors, want 5: %v", len(errs), errs)
		}
	})

	t.Run("endpoint-limits-bounded", func(t *testing.T) {
		// Entries are compiled and matched per request: their number and size are bounded.
		ok := apidef.EndpointLimit{Path: "/x", Methods: []apidef.EndpointMethodLimit{{Name: "GET", Limit: apidef.RateLimit{Rate: 1, Per: 1}}}}
		many := make([]apidef.EndpointLimit, apidef.MaxEndpointLimits+1)
		for i := range many {
			many[i] = ok
		}
		long := ok
		long.Path = "/" + strings.Repeat("a", apidef.MaxEndpointPathLength)
		methods := ok
		methods.Methods = make([]apidef.EndpointMethodLimit, apidef.MaxEndpointMethods+1)
		for i := range methods.Methods {
			methods.Methods[i] = apidef.EndpointMethodLimit{Name: fmt.Sprintf("M%d", i), Limit: apidef.RateLimit{Rate: 1, Per: 1}}
		}
		for _, tc := range []struct {
			eps  []apidef.EndpointLimit
			want string
		}{
			{many, `access_rights["a"].endpoints has 101 entries; at most 100 are allowed`},
			{[]apidef.EndpointLimit{ok, long}, `access_rights["a"].endpoints[1].path is 1025 bytes long; at most 1024 are allowed`},
			{[]apidef.EndpointLimit{methods}, `access_rights["a"].endpoints[0].methods has 17 entries; at most 16 are allowed`},
		} {
			s := apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"a": {APIID: "a", Endpoints: tc.eps}}}
			if err := s.Validate(); err == nil || err.Error() != tc.want {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		}
		s := apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"a": {APIID: "a", Endpoints: many[:apidef.MaxEndpointLimits]}}}
		if err := s.Validate(); err != nil {
			t.Errorf("%d entries: %v", apidef.MaxEndpointLimits, err)
		}
	})

	t.Run("certificate-key", func(t *testing.T) {
		// Certificate auth: the key of the certificate with this store id.
		s := decode(t, "keys/certificate-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
		check(t, "certificate", s.Certificate, "globexd2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26")
		for _, bad := range []string{"globex", strings.Repeat("A", 64), "globex " + strings.Repeat("a", 64)} {
			b := apidef.SessionState{Certificate: bad}
			if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "not an id of the certificate store") {
				t.Errorf("certificate %q: Validate() = %v", bad, err)
			}
		}
	})

	t.Run("certificate-bound-key", func(t *testing.T) {
		// Tyk's certificate ids (<org id><SHA-256 fingerprint>) bind the key; a copy owns its own.
		s := decode(t, "keys/certificate-bound-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
		want := []string{"acme-retail7f3c9a1e0b5d4c2f8e6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d11"}
		check(t, "mtls_static_certificate_bindings", s.MtlsStaticCertificateBindings, want)
		if fp, ok := apidef.CertificateFingerprint(want[0]); !ok || fp != want[0][len("acme-retail"):] {
			t.Errorf("CertificateFingerprint = %q, %v", fp, ok)
		}
		c := s.Clone()
		c.MtlsStaticCertificateBindings[0] = "changed"
		check(t, "bindings after the copy changed", s.MtlsStaticCertificateBindings, want)
		for _, bad := range []string{"cert-id", strings.Repeat("g", 64), strings.Repeat("a", 63)} {
			b := apidef.SessionState{MtlsStaticCertificateBindings: []string{bad}}
			if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "mtls_static_certificate_bindings[0]") {
				t.Errorf("binding %q: Validate() = %v", bad, err)
			}
		}
	})

	t.Run("rsa-signing-key", func(t *testing.T) {
		s := decode(t, "keys/rsa-signing-key.json")
		if err := s.Validate(); err != nil {
			t.Errorf("Validate() = %v", err)
		}
		check(t, "enable_http_signature_validation", s.EnableHTTPSignatureValidation, true)
		check(t, "rsa_certificate_id", s.RSACertificateID, "globex5d7d1ec29c2b8e4a0f6d3b1c9e7a5f3d1b9c7e5a3f1d9b7c5e3a1f9d7b5c3e1a")
		for _, bad := range []string{"certs/key.pem", strings.Repeat("a", 63), "a b" + strings.Repeat("a", 64), strings.Repeat("A", 64), "org*" + strings.Repeat("a", 64), "org\t" + strings.Repeat("a", 64)} {
			b := apidef.SessionState{RSACertificateID: bad}
			if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "rsa_certificate_id") {
				t.Errorf("rsa_certificate_id %q: Validate() = %v", bad, err)
			}
		}
	})

	t.Run("too-fast-key", func(t *testing.T) {
		s := decode(t, "keys/too-fast-key.json")
		errs := joinedErrors(s.Validate())
		want := []string{
			"rate 5e+09 is more than 1e+09",
			"smoothing.trigger -1 must be a number from 0 to 1e+09",
			"smoothing.threshold and step must be at most 1e+09",
			"smoothing.delay 4000000000 is more than 3153600000 seconds",
			"quota_renewal_rate 4000000000 is more than 3153600000 seconds",
			"session_lifetime 5000000000 is more than 3153600000 seconds",
			`access_rights["orders-keyed"].limit.per 9e+09 is more than 3153600000 seconds`,
			`access_rights["orders-keyed"].limit.smoothing.trigger 2e+09 must be a number from 0 to 1e+09`,
		}
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, want) {
			t.Errorf("Validate() = %q, want %q", got, want)
		}
	})
}

func TestFixturePolicies(t *testing.T) {
	// Tyk's policies.json: an object of policies by id.
	var pols map[string]apidef.Policy
	if err := json.Unmarshal(readFixture(t, "policies.json"), &pols); err != nil {
		t.Fatal(err)
	}
	check(t, "ids", slices.Sorted(mapKeys(pols)), []string{"bronze-legacy", "gold-partners"})

	gold := pols["gold-partners"]
	check(t, "gold", gold, apidef.Policy{
		MID:              "65f1c0ffee00000000000001",
		ID:               "gold-partners",
		Name:             "Gold partners",
		OrgID:            "acme-retail",
		Rate:             1000,
		Per:              60,
		Smoothing:        apidef.RateLimitSmoothing{Enabled: true, Threshold: 200, Trigger: 0.8, Step: 100, Delay: 10},
		QuotaMax:         1000000,
		QuotaRenewalRate: 2592000,
		// Tyk's -1: no throttling.
		ThrottleInterval:   -1,
		ThrottleRetryLimit: -1,
		AccessRights: map[string]apidef.AccessDefinition{
			"orders-keyed": {
				APIName:     "Orders Service",
				APIID:       "orders-keyed",
				Versions:    []string{"v2"},
				AllowedURLs: []apidef.AccessSpec{{URL: "/orders", Methods: []string{"GET"}}},
				Limit: &apidef.APILimit{Rate: 50, Per: 1, QuotaMax: 20000, QuotaRenewalRate: 86400,
					Smoothing: apidef.RateLimitSmoothing{Threshold: 10, Trigger: 1, Step: 5, Delay: 5}},
			},
		},
		Active:       true,
		Tags:         []string{"partners", "gold"},
		KeyExpiresIn: 31536000,
		MetaData:     map[string]any{"owner": "partnerships", "review": map[string]any{"quarterly": true}},
		Partitions:   apidef.PolicyPartitions{Quota: true, RateLimit: true, ACL: true, PerAPI: true},
	})

	bronze := pols["bronze-legacy"]
	check(t, "bronze id (absent: the map key names it)", bronze.ID, "")
	check(t, "bronze limits", [3]float64{bronze.Rate, bronze.Per, float64(bronze.QuotaMax)}, [3]float64{-1, -1, -1})
	check(t, "bronze inactive", [2]bool{bronze.Active, bronze.IsInactive}, [2]bool{false, true})
	check(t, "bronze versions", bronze.AccessRights["catalogue-keyless"].Versions, []string{"2023", "2024"})
	check(t, "bronze partitions", bronze.Partitions, apidef.PolicyPartitions{Complexity: true})
}

func TestFixtureBundleManifests(t *testing.T) {
	var m apidef.BundleManifest
	if err := json.Unmarshal(readFixture(t, "manifest.json"), &m); err != nil {
		t.Fatal(err)
	}
	check(t, "file_list", m.FileList, []string{"orders.so", "orders-analytics.so"})
	check(t, "driver", m.CustomMiddleware.Driver, apidef.GoPluginDriver)
	check(t, "pre", m.CustomMiddleware.Pre, []apidef.MiddlewareDefinition{{Name: "StampRequestID", Path: "orders.so"}})
	check(t, "traffic_logs", m.CustomMiddleware.TrafficLogs, apidef.MiddlewareDefinition{Name: "MaskCardNumbers", Path: "orders-analytics.so"})
	check(t, "checksum", m.Checksum, "9f5e2c41b0a7d3e8c6f1a2b4d5e6f708")
	check(t, "seal", m.Seal, (*apidef.BundleSeal)(nil))

	var sealed apidef.BundleManifest
	if err := json.Unmarshal(readFixture(t, "manifest-sealed.json"), &sealed); err != nil {
		t.Fatal(err)
	}
	check(t, "auth_check", sealed.CustomMiddleware.AuthCheck, apidef.MiddlewareDefinition{Name: "VerifyWarehouseToken", Path: "warehouse-auth.so"})
	check(t, "signature", sealed.Signature, "c2lnbmVkLWJ5LXRoZS1vbGQtYnVuZGxlcg==")
	check(t, "gatehouse_seal", sealed.Seal, &apidef.BundleSeal{
		Version:   1,
		Files:     map[string]string{"warehouse-auth.so": "4f2a0b6c8d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b0c2d4e6f8a0b1c3d5e7f90"},
		Signature: "c2VhbGVkLWJ5LWdhdGVob3VzZQ==",
	})

	var bound apidef.BundleManifest
	if err := json.Unmarshal(readFixture(t, "manifest-sealed-v3.json"), &bound); err != nil {
		t.Fatal(err)
	}
	check(t, "gatehouse_seal version 3", bound.Seal, &apidef.BundleSeal{
		Version:   3,
		Name:      "warehouse-auth-7.zip",
		Files:     map[string]string{"warehouse-auth.so": "4f2a0b6c8d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b0c2d4e6f8a0b1c3d5e7f90"},
		Signature: "c2VhbGVkLWJ5LWdhdGVob3VzZQ==",
	})
}

// TestFixturesCoverEveryField checks that the fixtures exercise every field Gatehouse parses:
// for each struct type reachable from the definition, session, policy and bundle manifest
// types, each JSON field holds a non-zero value in at least one decoded fixture. A field added
// to those types without a fixture setting it in Tyk's shape fails here.
func TestFixturesCoverEveryField(t *testing.T) {
	covered := map[fieldRef]bool{}
	decodeInto := func(name string, v any) {
		if err := json.Unmarshal(readFixture(t, name), v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		markCovered(reflect.ValueOf(v).Elem(), covered)
	}
	for _, f := range servedFixtures {
		decodeInto(f.file, new(apidef.APIDefinition))
	}
	for _, f := range refusedFixtures {
		decodeInto(f.file, new(apidef.APIDefinition))
	}
	for _, f := range invalidFixtures {
		if f.decodeErr == "" {
			decodeInto(f.file, new(apidef.APIDefinition))
		}
	}
	keys, err := filepath.Glob(filepath.Join(fixtureDir, "keys", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rel, _ := filepath.Rel(fixtureDir, k)
		decodeInto(rel, new(apidef.SessionState))
	}
	decodeInto("policies.json", new(map[string]apidef.Policy))
	decodeInto("manifest.json", new(apidef.BundleManifest))
	decodeInto("manifest-sealed.json", new(apidef.BundleManifest))
	decodeInto("manifest-sealed-v3.json", new(apidef.BundleManifest))

	seen := map[reflect.Type]bool{}
	var missing []string
	for _, root := range []reflect.Type{
		reflect.TypeFor[apidef.APIDefinition](),
		reflect.TypeFor[apidef.SessionState](),
		reflect.TypeFor[apidef.Policy](),
		reflect.TypeFor[apidef.BundleManifest](),
	} {
		missing = append(missing, uncovered(root, covered, seen)...)
	}
	if len(missing) > 0 {
		t.Errorf("no fixture sets these fields (add them, in Tyk's shape, to a fixture):\n  %s", strings.Join(missing, "\n  "))
	}
}

// fieldRef names one field of a struct type.
type fieldRef struct {
	t reflect.Type
	i int
}

// jsonField reports whether a struct field is read from JSON.
func jsonField(f reflect.StructField) bool {
	return f.IsExported() && f.Tag.Get("json") != "-"
}

// nonZero reports whether v holds something: a non-empty list or map, or a non-zero value.
func nonZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	}
	return !v.IsZero()
}

// markCovered records every struct field holding a non-zero value anywhere in v.
func markCovered(v reflect.Value, covered map[fieldRef]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			markCovered(v.Elem(), covered)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if !jsonField(t.Field(i)) {
				continue
			}
			if nonZero(v.Field(i)) {
				covered[fieldRef{t, i}] = true
			}
			markCovered(v.Field(i), covered)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			markCovered(v.Index(i), covered)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			markCovered(it.Value(), covered)
		}
	}
}

// uncovered lists the JSON fields of the struct types reachable from t that covered lacks.
func uncovered(t reflect.Type, covered map[fieldRef]bool, seen map[reflect.Type]bool) []string {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return uncovered(t.Elem(), covered, seen)
	case reflect.Struct:
	default:
		return nil
	}
	if seen[t] || t == reflect.TypeFor[time.Time]() {
		return nil
	}
	seen[t] = true
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !jsonField(f) {
			continue
		}
		if !covered[fieldRef{t, i}] {
			name := t.Name()
			if name == "" {
				name = t.String()
			}
			out = append(out, name+"."+f.Name)
		}
		out = append(out, uncovered(f.Type, covered, seen)...)
	}
	return out
}
