package apidef_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestUnsupported(t *testing.T) {
	withVersion := func(v apidef.VersionInfo) func(a *apidef.APIDefinition) {
		return func(a *apidef.APIDefinition) {
			a.VersionData.Versions = map[string]apidef.VersionInfo{"v1": v}
		}
	}
	entry := []json.RawMessage{json.RawMessage(`{"path":"/x","method":"GET"}`)}
	disabledEntry := []json.RawMessage{json.RawMessage(`{"path":"/x","method":"GET","disabled":true}`)}
	hook := []apidef.MiddlewareDefinition{{Name: "Hook", Path: "/p.so"}}

	tests := []struct {
		name   string
		modify func(a *apidef.APIDefinition)
		want   []string
	}{
		{name: "plain definition", modify: func(a *apidef.APIDefinition) {}},
		{name: "listen_port", modify: func(a *apidef.APIDefinition) { a.ListenPort = 8081 }, want: []string{"a listen_port of its own"}},
		{name: "protocol http ok", modify: func(a *apidef.APIDefinition) { a.Protocol = "http" }},
		{name: "protocol tcp", modify: func(a *apidef.APIDefinition) { a.Protocol = "tcp" }, want: []string{`protocol "tcp"`}},
		{name: "protocol tls", modify: func(a *apidef.APIDefinition) { a.Protocol = "tls" }, want: []string{`protocol "tls"`}},
		// An OAS API maps to the Classic model with is_oas set; one that has no OAS document is
		// refused by the gateway, which knows whether it has one.
		{name: "is_oas", modify: func(a *apidef.APIDefinition) { a.IsOAS = true }},

		{name: "basic auth is supported", modify: func(a *apidef.APIDefinition) {
			a.UseBasicAuth, a.BasicAuth.DisableCaching, a.BasicAuth.CacheTTL = true, true, 5
		}},
		{name: "basic auth from the body is supported", modify: func(a *apidef.APIDefinition) { a.UseBasicAuth, a.BasicAuth.ExtractFromBody = true, true }},
		{name: "basic auth with standard auth is supported", modify: func(a *apidef.APIDefinition) { a.UseBasicAuth, a.UseStandardAuth = true, true }},
		{name: "basic auth with an auth plugin", modify: func(a *apidef.APIDefinition) { a.UseBasicAuth, a.UseGoPluginAuth = true, true }, want: []string{"a custom auth plugin together with basic auth, HMAC signatures or JWT"}},
		{name: "hmac with an auth plugin", modify: func(a *apidef.APIDefinition) { a.EnableSignatureChecking, a.CustomPluginAuthEnabled = true, true }, want: []string{"a custom auth plugin together with basic auth, HMAC signatures or JWT"}},
		{name: "an auth plugin with standard auth replaces the key check", modify: func(a *apidef.APIDefinition) { a.UseStandardAuth, a.CustomPluginAuthEnabled = true, true }},
		{name: "several methods with security_requirements", modify: func(a *apidef.APIDefinition) {
			a.UseBasicAuth, a.UseStandardAuth, a.SecurityRequirements = true, true, json.RawMessage(`[["basic"],["authToken"]]`)
		}, want: []string{"security_requirements on a Classic API with several auth methods (Tyk reads them for Tyk OAS APIs in compliant securityProcessingMode only, and a Classic API requires every method it enables)"}},
		{name: "several methods with security_requirements on an OAS API", modify: func(a *apidef.APIDefinition) {
			a.UseBasicAuth, a.UseStandardAuth, a.IsOAS, a.SecurityRequirements = true, true, true, json.RawMessage(`[["basic"],["authToken"]]`)
		}},
		{name: "several methods with security_requirements naming them all", modify: func(a *apidef.APIDefinition) {
			a.UseBasicAuth, a.UseStandardAuth, a.SecurityRequirements = true, true, json.RawMessage(`[["authToken", "basic"]]`)
		}},
		{name: "several methods with security_requirements naming some", modify: func(a *apidef.APIDefinition) {
			a.UseBasicAuth, a.UseStandardAuth, a.SecurityRequirements = true, true, json.RawMessage(`[["basic"]]`)
		}, want: []string{"security_requirements on a Classic API with several auth methods (Tyk reads them for Tyk OAS APIs in compliant securityProcessingMode only, and a Classic API requires every method it enables)"}},
		{name: "one method with security_requirements", modify: func(a *apidef.APIDefinition) {
			a.UseStandardAuth, a.SecurityRequirements = true, json.RawMessage(`[["authToken"]]`)
		}},
		{name: "jwt one-to-one is supported", modify: func(a *apidef.APIDefinition) { a.EnableJWT = true }},
		{name: "jwt with a source is supported", modify: func(a *apidef.APIDefinition) { a.EnableJWT, a.JWTSource = true, "c2VjcmV0" }},
		{name: "jwt client keys are supported", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTSource, a.JWTClientIDBaseField = true, "c2VjcmV0", "cid"
		}},
		{name: "jwt with standard auth is supported", modify: func(a *apidef.APIDefinition) { a.EnableJWT, a.JWTSource, a.UseStandardAuth = true, "c2VjcmV0", true }},
		{name: "oauth2 with key auth", modify: func(a *apidef.APIDefinition) { a.UseOauth2, a.UseStandardAuth = true, true },
			want: []string{"OAuth 2.0 (use_oauth2) together with other auth methods"}},
		{name: "openid", modify: func(a *apidef.APIDefinition) { a.UseOpenID = true }, want: []string{"OpenID Connect (use_openid)"}},
		{name: "hmac is supported", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"hmac-sha256", "hmac-sha512"}
		}},
		{name: "hmac with rsa", modify: func(a *apidef.APIDefinition) {
			a.EnableSignatureChecking, a.HmacAllowedAlgorithms = true, []string{"hmac-sha256", "rsa-sha256", "rsa-sha512"}
		}, want: []string{`RSA request signatures (hmac_allowed_algorithms "rsa-sha512")`}},
		{name: "mutual tls is served", modify: func(a *apidef.APIDefinition) { a.UseMutualTLSAuth = true }},
		{name: "external oauth enable", modify: func(a *apidef.APIDefinition) { a.ExternalOAuth.Enable = true }, want: []string{"external OAuth (external_oauth)"}},
		{name: "external oauth enabled", modify: func(a *apidef.APIDefinition) { a.ExternalOAuth.Enabled = true }, want: []string{"external OAuth (external_oauth)"}},
		{name: "certificate auth is served", modify: func(a *apidef.APIDefinition) { a.Auth.UseCertificate = true }},
		{name: "certificate auth in auth_configs is served", modify: func(a *apidef.APIDefinition) {
			a.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {UseCertificate: true}}
		}},
		{name: "token signature", modify: func(a *apidef.APIDefinition) {
			a.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {ValidateSignature: true}}
		}, want: []string{"request signatures (auth_configs.authToken.validate_signature)"}},
		{name: "keyless does not flag auth methods", modify: func(a *apidef.APIDefinition) {
			a.UseKeylessAccess = true
			a.UseBasicAuth = true
			a.EnableJWT = true
			a.UseOauth2 = true
			a.UseOpenID = true
			a.EnableSignatureChecking = true
			a.ExternalOAuth.Enabled = true
			a.Auth.UseCertificate = true
		}},
		// Tyk's static mTLS, served, on keyless APIs too.
		{name: "keyless with mutual tls is served", modify: func(a *apidef.APIDefinition) {
			a.UseKeylessAccess = true
			a.UseMutualTLSAuth = true
		}},
		{name: "keyless still flags traffic features", modify: func(a *apidef.APIDefinition) {
			a.UseKeylessAccess = true
			a.EnableJWT = true
			a.GraphQL.Enabled = true
		}, want: []string{"GraphQL (graphql.enabled)"}},

		{name: "ip allow list is supported", modify: func(a *apidef.APIDefinition) { a.EnableIPWhiteListing, a.AllowedIPs = true, []string{"10.0.0.0/8"} }},
		{name: "ip block list is supported", modify: func(a *apidef.APIDefinition) { a.EnableIPBlacklisting, a.BlacklistedIPs = true, []string{"10.0.0.1"} }},
		{name: "cors is supported", modify: func(a *apidef.APIDefinition) { a.CORS.Enable = true }},
		{name: "cors enabled is not Tyk's field", modify: func(a *apidef.APIDefinition) { a.CORS.Enabled = true }, want: []string{"CORS.enabled (Tyk's Classic field is CORS.enable)"}},
		{name: "graphql", modify: func(a *apidef.APIDefinition) { a.GraphQL.Enabled = true }, want: []string{"GraphQL (graphql.enabled)"}},
		{name: "request signing is supported", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s"}
		}},
		{name: "upstream basic auth", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth.Enabled, a.UpstreamAuth.BasicAuth = true, apidef.UpstreamBasicAuth{Enabled: true, Username: "u"}
		}},
		{name: "upstream oauth", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth.Enabled, a.UpstreamAuth.OAuth.Enabled = true, true
		}, want: []string{"upstream OAuth (upstream_auth.oauth)"}},
		{name: "upstream oauth switched off", modify: func(a *apidef.APIDefinition) { a.UpstreamAuth.OAuth.Enabled = true }},
		{name: "upstream certificates and pinned public keys are served", modify: func(a *apidef.APIDefinition) {
			a.UpstreamCertificates = map[string]string{"*": "client.pem"}
			a.PinnedPublicKeys = map[string]string{"example.com": "key.pem"}
		}},
		{name: "response processors read", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`[{"name": "header_injector", "options": {"add_headers": {"X-A": "1"}}}, {"name": "response_body_transform"}]`)
		}},
		{name: "response processors not read", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`[{"name": "header_injector"}, {"name": "header_transform", "options": {"rev_proxy_header_cleanup": {}}}]`)
		}, want: []string{`response_processors[1]: processor "header_transform" (only "header_injector" and "response_body_transform" are read)`}},
		{name: "response processors empty", modify: func(a *apidef.APIDefinition) { a.ResponseProcessors = json.RawMessage(`[]`) }},
		{name: "expiration", modify: func(a *apidef.APIDefinition) { a.Expiration = "2030-01-01 00:00" }},
		{name: "service discovery is supported", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul:8500/v1/catalog/service/x", DataPath: "Address"}
		}},
		// Implemented since upstream TLS: an outbound proxy and skipping verification are served.
		{name: "outbound proxy", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.ProxyURL = "http://proxy:3128" }},
		{name: "insecure skip verify", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.SSLInsecureSkipVerify = true }},

		// custom middleware driver
		{name: "goplugin driver with hooks", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hook}
		}},
		{name: "python driver with hooks", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{Driver: "python", Post: hook}
		}, want: []string{`custom_middleware driver "python" (only "goplugin" is supported)`}},
		{name: "empty driver with hooks", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{Response: hook}
		}, want: []string{`custom_middleware driver "" (only "goplugin" is supported)`}},
		{name: "grpc driver with auth_check", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{Driver: "grpc", AuthCheck: apidef.MiddlewareDefinition{Name: "Auth"}}
		}, want: []string{`custom_middleware driver "grpc" (only "goplugin" is supported)`}},
		{name: "python driver without hooks", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{Driver: "python"}
		}},
		{name: "python driver with only disabled hooks", modify: func(a *apidef.APIDefinition) {
			a.CustomMiddleware = apidef.MiddlewareSection{
				Driver:    "python",
				Pre:       []apidef.MiddlewareDefinition{{Name: "A", Disabled: true}},
				AuthCheck: apidef.MiddlewareDefinition{Name: "B", Disabled: true},
			}
		}},

		// extended paths
		{name: "mock_response is supported", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{MockResponse: []apidef.MockResponseMeta{{Path: "/m", Method: "GET", Code: 200}}}})},
		{name: "body transforms are supported", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST"}}, TransformResponse: []apidef.TemplateMeta{{Path: "/x", Method: "POST"}}}})},
		{name: "transform_jq", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{TransformJQ: entry}}), want: []string{`version "v1": extended_paths.transform_jq`}},
		{name: "transform_jq_response", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{TransformJQResponse: entry}}), want: []string{`version "v1": extended_paths.transform_jq_response`}},
		{name: "header transforms are supported", modify: withVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
			TransformHeader:         []apidef.HeaderInjectionMeta{{Path: "/x", Method: "GET", AddHeaders: map[string]string{"X-A": "$tyk_context.request_id $tyk_meta.tier"}}},
			TransformResponseHeader: []apidef.HeaderInjectionMeta{{Path: "/x", Method: "GET", DeleteHeaders: []string{"Server"}}},
		}})},
		{name: "secret variable in an endpoint header", modify: withVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
			TransformHeader: []apidef.HeaderInjectionMeta{{Path: "/x", Method: "GET", AddHeaders: map[string]string{"X-A": "Bearer $secret_vault.kv/token"}}},
		}}), want: []string{`version "v1": extended_paths.transform_headers[0].add_headers["X-A"]: secret variable $secret_vault (only $secret_env and $secret_conf are read)`}},
		{name: "environment and configuration secrets are read", modify: withVersion(apidef.VersionInfo{UseExtendedPaths: true,
			GlobalHeaders: map[string]string{"X-B": "$secret_conf.b $secret_env.C"},
			ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y?k=$secret_env.KEY"}}},
		})},
		{name: "secret variable in a disabled entry", modify: withVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
			TransformHeader: []apidef.HeaderInjectionMeta{{Disabled: true, Path: "/x", Method: "GET", AddHeaders: map[string]string{"X-A": "$secret_conf.k"}}},
		}})},
		{name: "rate limit context variable", modify: withVersion(apidef.VersionInfo{GlobalResponseHeaders: map[string]string{"X-Left": "$tyk_context.rate_limit_remaining"}}),
			want: []string{`version "v1": global_response_headers["X-Left"]: context variable $tyk_context.rate_limit_*`}},
		{name: "trace id context variable in disabled globals", modify: withVersion(apidef.VersionInfo{GlobalHeadersDisabled: true, GlobalHeaders: map[string]string{"X-T": "$tyk_context.tyk_trace_id"}})},
		{name: "url_rewrites are supported", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y"}}}})},
		{name: "virtual", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{Virtual: entry}}), want: []string{`version "v1": extended_paths.virtual`}},
		{name: "traffic entries are supported", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			SizeLimit:        []apidef.RequestSizeMeta{{Path: "/x", Method: "POST", SizeLimit: 10}},
			HardTimeouts:     []apidef.HardTimeoutMeta{{Path: "/x", Method: "GET", TimeOut: 1}},
			CircuitBreaker:   []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 1}},
			MethodTransforms: []apidef.MethodTransformMeta{{Path: "/x", Method: "GET", ToMethod: "POST"}},
			ValidateJSON:     []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"type": "object"}`)}},
			RateLimit:        []apidef.RateLimitMeta{{Path: "/x", Method: "GET", Rate: 1, Per: 1}},
		}})},
		{name: "validate_request", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{ValidateRequest: entry}}), want: []string{`version "v1": extended_paths.validate_request`}},
		{name: "internal endpoints are served", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{Internal: entry}})},
		{name: "persist_graphql", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{PersistGraphQL: entry}}), want: []string{`version "v1": extended_paths.persist_graphql`}},
		{name: "disabled extended entries do not count", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			MockResponse: []apidef.MockResponseMeta{{Disabled: true}}, Transform: []apidef.TemplateMeta{{Disabled: true}},
			URLRewrite: []apidef.URLRewriteMeta{{Disabled: true}}, Virtual: disabledEntry,
		}})},
		{name: "one enabled among disabled counts", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			Virtual: append(append([]json.RawMessage{}, disabledEntry...), entry...),
		}}), want: []string{`version "v1": extended_paths.virtual`}},
		{name: "undecodable entry counts as enabled", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			Virtual: []json.RawMessage{json.RawMessage(`"not an object"`)},
		}}), want: []string{`version "v1": extended_paths.virtual`}},
		{name: "several lists in order", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			Internal: entry, Virtual: entry, URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y"}},
		}}), want: []string{
			`version "v1": extended_paths.virtual`,
		}},

		// method actions
		{name: "method action reply is supported", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			WhiteList: []apidef.EndPointMeta{{Path: "/mock", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "reply", Code: 200}}}},
			Ignored:   []apidef.EndPointMeta{{Path: "/i", MethodActions: map[string]apidef.EndpointMethodMeta{"POST": {Action: "reply"}}}},
			BlackList: []apidef.EndPointMeta{{Path: "/b", MethodActions: map[string]apidef.EndpointMethodMeta{"PUT": {Action: "reply"}}}},
		}})},
		{name: "method action other than reply", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{{Path: "/b", MethodActions: map[string]apidef.EndpointMethodMeta{"PUT": {Action: "redirect"}}}},
		}}), want: []string{`version "v1": endpoint "/b" method PUT action "redirect" (only no_action and reply are supported)`}},
		{name: "method action no_action", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			WhiteList: []apidef.EndPointMeta{{Path: "/ok", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}, "POST": {Action: ""}}}},
		}})},
		{name: "method action reply on disabled entry", modify: withVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			WhiteList: []apidef.EndPointMeta{{Path: "/mock", Disabled: true, MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "reply"}}}},
		}})},

		{name: "global response headers are supported", modify: withVersion(apidef.VersionInfo{GlobalResponseHeaders: map[string]string{"X-A": "1"}, GlobalResponseHeadersRemove: []string{"Server"}})},
		{name: "global request headers are supported", modify: withVersion(apidef.VersionInfo{GlobalHeaders: map[string]string{"X-A": "1"}, GlobalHeadersRemove: []string{"X-B"}})},

		{name: "several top-level features in order", modify: func(a *apidef.APIDefinition) {
			a.Internal = true
			a.EnableJWT = true
			a.CORS.Enabled = true
			a.Expiration = "x"
		}, want: []string{
			"CORS.enabled (Tyk's Classic field is CORS.enable)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validDef()
			tc.modify(a)
			got := a.Unsupported()
			if !slices.Equal(got, tc.want) {
				t.Errorf("Unsupported() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnsupportedEveryVersion(t *testing.T) {
	a := validDef()
	a.VersionData.Versions = map[string]apidef.VersionInfo{
		"v1": {ExtendedPaths: apidef.ExtendedPathsSet{Virtual: []json.RawMessage{json.RawMessage(`{}`)}}},
		"v2": {ExtendedPaths: apidef.ExtendedPathsSet{Virtual: []json.RawMessage{json.RawMessage(`{}`)}}},
		"v3": {},
	}
	got := a.Unsupported()
	slices.Sort(got)
	want := []string{`version "v1": extended_paths.virtual`, `version "v2": extended_paths.virtual`}
	if !slices.Equal(got, want) {
		t.Errorf("Unsupported() = %q, want %q", got, want)
	}
}

func TestUnsupportedFromJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{
			name: "cors enable via json is supported",
			raw:  `{"CORS": {"enable": true, "allowed_origins": ["*"]}}`,
		},
		{
			name: "graphql disabled via json",
			raw:  `{"graphql": {"enabled": false, "execution_mode": "proxyOnly"}}`,
		},
		{
			name: "disabled mock response via json",
			raw:  `{"version_data": {"versions": {"Default": {"extended_paths": {"mock_response": [{"disabled": true, "path": "/x"}]}}}}}`,
		},
		{
			name: "enabled virtual endpoint via json",
			raw:  `{"version_data": {"versions": {"Default": {"extended_paths": {"virtual": [{"path": "/x"}]}}}}}`,
			want: []string{`version "Default": extended_paths.virtual`},
		},
		{
			name: "coprocess driver with hooks via json",
			raw:  `{"use_keyless": true, "custom_middleware": {"driver": "otto", "pre": [{"name": "a"}]}}`,
			want: []string{`custom_middleware driver "otto" (only "goplugin" is supported)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a apidef.APIDefinition
			if err := json.Unmarshal([]byte(tc.raw), &a); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got := a.Unsupported(); !slices.Equal(got, tc.want) {
				t.Errorf("Unsupported() = %q, want %q", got, tc.want)
			}
		})
	}
}
