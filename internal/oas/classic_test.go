package oas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// base is the smallest document Gatehouse serves: keyless, one operation.
const base = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/users": {"get": {"operationId": "listUsers"}, "post": {"operationId": "createUser"}},
    "/users/{id}": {"get": {"operationId": "getUser"}, "delete": {"operationId": "deleteUser"}}
  },
  "components": {"securitySchemes": {
    "tok": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "q": {"type": "apiKey", "in": "query", "name": "api_key"},
    "c": {"type": "apiKey", "in": "cookie", "name": "session"},
    "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "basic": {"type": "http", "scheme": "basic"},
    "digest": {"type": "http", "scheme": "digest"},
    "oauth": {"type": "oauth2", "flows": {}},
    "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://idp.test/.well-known/openid-configuration"},
    "mtls": {"type": "mutualTLS"}
  }},
  "x-tyk-api-gateway": {
    "info": {"id": "t", "name": "t", "state": {"active": true}},
    "upstream": {"url": "http://up.test"},
    "server": {"listenPath": {"value": "/t/", "strip": true}}
  }
}`

// doc returns base with the values at the dotted paths set (a path starting with "x." is inside
// x-tyk-api-gateway), each value given as JSON.
func doc(t *testing.T, set map[string]string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range set {
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			t.Fatalf("value of %s: %v", path, err)
		}
		path = strings.Replace(path, "x.", ExtensionKey+".", 1)
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		if val == nil {
			delete(cur, parts[len(parts)-1])
		} else {
			cur[parts[len(parts)-1]] = val
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func classic(t *testing.T, raw []byte) (*apidef.APIDefinition, *Document) {
	t.Helper()
	d, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	def, err := d.Classic()
	if err != nil {
		t.Fatalf("Classic: %v", err)
	}
	return def, d
}

func version(def *apidef.APIDefinition) apidef.VersionInfo {
	return def.VersionData.Versions[VersionName]
}

func TestClassicMapping(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]string
		check func(t *testing.T, def *apidef.APIDefinition)
	}{
		{
			name: "info and state",
			set: map[string]string{"x.info": `{"id": "orders", "name": "Orders", "orgId": "acme", "dbId": "x",
				"state": {"active": false, "internal": true}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := [5]any{"orders", "Orders", "acme", false, true}
				if got := [5]any{def.APIID, def.Name, def.OrgID, def.Active, def.Internal}; got != want {
					t.Errorf("info = %v, want %v", got, want)
				}
				if !def.IsOAS || !def.VersionData.NotVersioned || len(def.VersionData.Versions) != 1 {
					t.Errorf("is_oas %v, version_data %+v", def.IsOAS, def.VersionData)
				}
			},
		},
		{
			name: "absent state is inactive, as in Tyk",
			set:  map[string]string{"x.info.state": `null`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Active {
					t.Error("active with no state")
				}
			},
		},
		{
			name: "listen path and strip",
			set:  map[string]string{"x.server.listenPath": `{"value": "/a/b/", "strip": false}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Proxy.ListenPath != "/a/b/" || def.Proxy.StripListenPath {
					t.Errorf("proxy = %+v", def.Proxy)
				}
			},
		},
		{
			name: "custom domain enabled",
			set:  map[string]string{"x.server.customDomain": `{"enabled": true, "name": "api.test"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Domain != "api.test" {
					t.Errorf("domain = %q", def.Domain)
				}
			},
		},
		{
			name: "custom domain disabled",
			set:  map[string]string{"x.server.customDomain": `{"enabled": false, "name": "api.test"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Domain != "" {
					t.Errorf("domain = %q, want none", def.Domain)
				}
			},
		},
		{
			name: "batch processing",
			set:  map[string]string{"x.server.batchProcessing": `{"enabled": true}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.EnableBatchRequestSupport {
					t.Error("enable_batch_request_support not set")
				}
			},
		},
		{
			name: "gateway tags enabled",
			set:  map[string]string{"x.server.gatewayTags": `{"enabled": true, "tags": ["eu", "edge"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !slices.Equal(def.Tags, []string{"eu", "edge"}) || def.TagsDisabled {
					t.Errorf("tags %q, tags_disabled %v", def.Tags, def.TagsDisabled)
				}
			},
		},
		{
			name: "gateway tags disabled",
			set:  map[string]string{"x.server.gatewayTags": `{"enabled": false, "tags": ["eu"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !slices.Equal(def.Tags, []string{"eu"}) || !def.TagsDisabled {
					t.Errorf("tags %q, tags_disabled %v, want [eu] disabled (as Tyk maps them)", def.Tags, def.TagsDisabled)
				}
			},
		},
		{
			name: "load balancing repeats targets by weight",
			set: map[string]string{"x.upstream.loadBalancing": `{"enabled": true, "targets": [
				{"url": "http://a.test", "weight": 3}, {"url": "http://b.test", "weight": 1}, {"url": "http://c.test", "weight": 0}]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := []string{"http://a.test", "http://a.test", "http://a.test", "http://b.test"}
				if !def.Proxy.EnableLoadBalancing || !slices.Equal(def.Proxy.Targets, want) {
					t.Errorf("load balancing %v, targets %q, want %q", def.Proxy.EnableLoadBalancing, def.Proxy.Targets, want)
				}
			},
		},
		{
			name: "uptime tests and skipping hosts down",
			set: map[string]string{"x.upstream.loadBalancing": `{"enabled": true, "skipUnavailableHosts": true, "targets": [
				{"url": "http://a.test", "weight": 1}, {"url": "http://b.test", "weight": 1}]}`,
				"x.upstream.uptimeTests": `{"enabled": true, "tests": [
					{"url": "http://a.test/health", "timeout": "2s", "method": "HEAD", "headers": {"X-Probe": "gw"}, "body": "e30="},
					{"url": "tcp://b.test:9000", "commands": [{"name": "send", "message": "PING"}, {"name": "expect", "message": "PONG"}]},
					{"url": "c.test:6379", "protocol": "tcp"}], "logRetentionPeriod": "720h"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if got := def.UptimeTests.Config.ExpireUptimeAnalyticsAfter; got != 720*3600 {
					t.Errorf("logRetentionPeriod 720h mapped to expire_utime_after %d, want %d", got, 720*3600)
				}
				if !def.Proxy.CheckHostAgainstUptimeTests {
					t.Error("skipUnavailableHosts did not map to check_host_against_uptime_tests")
				}
				want := []apidef.HostCheck{
					{URL: "http://a.test/health", Timeout: 2 * time.Second, Method: "HEAD", Headers: map[string]string{"X-Probe": "gw"}, Body: "e30="},
					{URL: "tcp://b.test:9000", Protocol: "tcp", Commands: []apidef.CheckCommand{{Name: "send", Message: "PING"}, {Name: "expect", Message: "PONG"}}},
					{URL: "c.test:6379", Protocol: "tcp"},
				}
				if !reflect.DeepEqual(def.UptimeTests.CheckList, want) {
					t.Errorf("check_list = %+v, want %+v", def.UptimeTests.CheckList, want)
				}
			},
		},
		{
			name: "uptime tests disabled",
			set:  map[string]string{"x.upstream.uptimeTests": `{"enabled": false, "tests": [{"url": "http://a.test/health"}]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if len(def.UptimeTests.CheckList) != 0 {
					t.Errorf("check_list = %+v, want none", def.UptimeTests.CheckList)
				}
			},
		},
		{
			name: "load balancing with no targets is off",
			set:  map[string]string{"x.upstream.loadBalancing": `{"enabled": true, "targets": []}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Proxy.EnableLoadBalancing || def.Proxy.TargetURL != "http://up.test" {
					t.Errorf("proxy = %+v", def.Proxy)
				}
			},
		},
		{
			name: "preserve trailing slash and host header",
			set: map[string]string{"x.upstream.preserveTrailingSlash": `{"enabled": true}`,
				"x.upstream.preserveHostHeader": `{"enabled": true}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.Proxy.DisableStripSlash || !def.Proxy.PreserveHostHeader {
					t.Errorf("proxy = %+v", def.Proxy)
				}
			},
		},
		{
			name: "upstream rate limit",
			set:  map[string]string{"x.upstream.rateLimit": `{"enabled": true, "rate": 10, "per": "1m"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if want := (apidef.GlobalRateLimit{Rate: 10, Per: 60}); def.GlobalRateLimit != want {
					t.Errorf("global_rate_limit = %+v, want %+v", def.GlobalRateLimit, want)
				}
			},
		},
		{
			name: "upstream rate limit disabled",
			set:  map[string]string{"x.upstream.rateLimit": `{"enabled": false, "rate": 10, "per": "bad"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.GlobalRateLimit.Disabled {
					t.Errorf("global_rate_limit = %+v, want disabled", def.GlobalRateLimit)
				}
			},
		},
		{
			name: "upstream TLS transport and outbound proxy",
			set: map[string]string{"x.upstream.tlsTransport": `{"insecureSkipVerify": true, "ciphers": ["TLS_AES_128_GCM_SHA256"],
				"minVersion": "1.2", "maxVersion": "1.3", "forceCommonNameCheck": true}`,
				"x.upstream.proxy": `{"enabled": true, "url": "http://egress.test:3128"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				tr := def.Proxy.Transport
				if !tr.SSLInsecureSkipVerify || !slices.Equal(tr.SSLCipherSuites, []string{"TLS_AES_128_GCM_SHA256"}) ||
					tr.SSLMinVersion != 771 || tr.SSLMaxVersion != 772 || !tr.SSLForceCommonNameCheck || tr.ProxyURL != "http://egress.test:3128" {
					t.Errorf("proxy.transport = %+v", tr)
				}
			},
		},
		{
			name: "no authentication is keyless",
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.UseKeylessAccess {
					t.Error("not keyless")
				}
			},
		},
		{
			name: "authentication disabled is keyless, whatever it names",
			set: map[string]string{"security": `[{"jwt": []}]`,
				"x.server.authentication": `{"enabled": false, "securitySchemes": {"jwt": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.UseKeylessAccess || len(def.Unsupported()) > 0 {
					t.Errorf("keyless %v, unsupported %q", def.UseKeylessAccess, def.Unsupported())
				}
			},
		},
		{
			name: "token in a header",
			set: map[string]string{"security": `[{"tok": []}]`,
				"x.server.authentication": `{"enabled": true, "stripAuthorizationData": true, "securitySchemes": {"tok": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.AuthConfig{Name: "authToken", AuthHeaderName: "X-Api-Key"}
				if def.UseKeylessAccess || !def.UseStandardAuth || !def.StripAuthData || !reflect.DeepEqual(def.AuthTokenConfig(), want) {
					t.Errorf("keyless %v standard %v strip %v auth %+v, want %+v", def.UseKeylessAccess, def.UseStandardAuth, def.StripAuthData, def.AuthTokenConfig(), want)
				}
			},
		},
		{
			name: "token in the query",
			set: map[string]string{"security": `[{"q": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"q": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.AuthConfig{Name: "authToken", DisableHeader: true, UseParam: true, ParamName: "api_key"}
				if got := def.AuthTokenConfig(); !reflect.DeepEqual(got, want) {
					t.Errorf("auth = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "token in a cookie, and Tyk's extra header source",
			set: map[string]string{"security": `[{"c": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"c": {"enabled": true, "header": {"enabled": true, "name": "X-Alt"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.AuthConfig{Name: "authToken", AuthHeaderName: "X-Alt", UseCookie: true, CookieName: "session"}
				if got := def.AuthTokenConfig(); !reflect.DeepEqual(got, want) {
					t.Errorf("auth = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "basic auth with its caching settings and credentials from the body",
			set: map[string]string{"security": `[{"basic": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"basic": {"enabled": true, "disableCaching": true, "cacheTTL": 30, "extractCredentialsFromBody": {"enabled": true, "userRegexp": "u=(.*)", "passwordRegexp": "p=(.*)"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.BasicAuthConfig{DisableCaching: true, CacheTTL: 30, ExtractFromBody: true, BodyUserRegexp: "u=(.*)", BodyPasswordRegexp: "p=(.*)"}
				if !def.UseBasicAuth || def.BasicAuth != want {
					t.Errorf("use_basic_auth %v, basic_auth %+v; want %+v", def.UseBasicAuth, def.BasicAuth, want)
				}
				if got := def.Unsupported(); len(got) != 0 {
					t.Errorf("Unsupported() = %q", got)
				}
				if err := def.Validate(); err != nil {
					t.Errorf("Validate() = %v", err)
				}
			},
		},
		{
			name: "legacy mode reads only the first requirement",
			set: map[string]string{"security": `[{"tok": []}, {"jwt": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"tok": {"enabled": true}, "jwt": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.EnableJWT || def.AuthTokenConfig().AuthHeaderName != "X-Api-Key" {
					t.Errorf("enable_jwt %v, auth %+v", def.EnableJWT, def.AuthTokenConfig())
				}
			},
		},
		{
			name: "of two token schemes the enabled one is used",
			set: map[string]string{"security": `[{"q": [], "tok": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"q": {"enabled": false}, "tok": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if got := def.AuthTokenConfig(); got.AuthHeaderName != "X-Api-Key" || got.UseParam {
					t.Errorf("auth = %+v", got)
				}
			},
		},
		{
			name: "JWT, basic, OAuth and OpenID map to the Classic flags the Classic checks refuse",
			set: map[string]string{"security": `[{"jwt": [], "basic": [], "oauth": [], "oidc": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"jwt": {"enabled": true}, "basic": {"enabled": true}, "oauth": {"enabled": true}, "oidc": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.EnableJWT || !def.UseBasicAuth || !def.UseOauth2 || !def.UseOpenID {
					t.Errorf("jwt %v basic %v oauth %v oidc %v", def.EnableJWT, def.UseBasicAuth, def.UseOauth2, def.UseOpenID)
				}
				want := []string{"OAuth 2.0 (use_oauth2) together with other auth methods", "OpenID Connect (use_openid)"}
				got := def.Unsupported()
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("Unsupported() = %q, want %q", got, want)
				}
			},
		},
		{
			name: "OAuth 2.0: Tyk's OAuth server, its grants from the flows, as Tyk maps them",
			set: map[string]string{"security": `[{"oauth": []}]`,
				"components.securitySchemes.oauth": `{"type": "oauth2", "flows": {
					"implicit": {"authorizationUrl": "/oauth/authorize", "scopes": {}},
					"password": {"tokenUrl": "/oauth/token", "scopes": {}},
					"clientCredentials": {},
					"authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token", "scopes": {}}}}`,
				"x.server.authentication": `{"enabled": true, "stripAuthorizationData": true, "securitySchemes": {"oauth": {"enabled": true,
					"header": {"enabled": true, "name": "X-Token"}, "query": {"enabled": true, "name": "access_token"},
					"allowedAuthorizeTypes": ["code", "token"], "refreshToken": true, "authLoginRedirect": "https://login.test/in",
					"notifications": {"sharedSecret": "s3", "onKeyChangeUrl": "https://hooks.test/keys"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.OAuthMeta{
					AllowedAccessTypes:    []string{"refresh_token", "authorization_code", "client_credentials", "password", "__implicit"},
					AllowedAuthorizeTypes: []string{"code", "token"},
					AuthLoginRedirect:     "https://login.test/in",
				}
				if !def.UseOauth2 || def.UseStandardAuth || def.UseKeylessAccess || !reflect.DeepEqual(def.OAuthMeta, want) {
					t.Errorf("use_oauth2 %v, standard %v, keyless %v, oauth_meta %+v; want %+v", def.UseOauth2, def.UseStandardAuth, def.UseKeylessAccess, def.OAuthMeta, want)
				}
				if n := (apidef.Notifications{SharedSecret: "s3", OAuthKeyChangeURL: "https://hooks.test/keys"}); def.Notifications != n {
					t.Errorf("notifications %+v, want %+v", def.Notifications, n)
				}
				ac := def.OAuthTokenConfig()
				if ac.DisableHeader || ac.AuthHeaderName != "X-Token" || !ac.UseParam || ac.ParamName != "access_token" || ac.UseCookie {
					t.Errorf("auth_configs.oauth = %+v", ac)
				}
				if !def.StripAuthData {
					t.Error("stripAuthorizationData not mapped")
				}
				if got := def.Unsupported(); len(got) != 0 {
					t.Errorf("Unsupported() = %q", got)
				}
				if err := def.Validate(); err != nil {
					t.Errorf("Validate() = %v", err)
				}
			},
		},
		{
			name: "OAuth 2.0 without flows or a header object: no grant, the header not read, as in Tyk",
			set: map[string]string{"security": `[{"oauth": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "cookie": {"enabled": true, "name": "tok"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.UseOauth2 || len(def.OAuthMeta.AllowedAccessTypes) != 0 || len(def.OAuthMeta.AllowedAuthorizeTypes) != 0 {
					t.Errorf("use_oauth2 %v, oauth_meta %+v", def.UseOauth2, def.OAuthMeta)
				}
				if ac := def.OAuthTokenConfig(); !ac.DisableHeader || !ac.UseCookie || ac.CookieName != "tok" {
					t.Errorf("auth_configs.oauth = %+v", ac)
				}
			},
		},
		{
			name: "OAuth 2.0 switched off keeps its settings and leaves the API keyed, as in Tyk",
			set: map[string]string{"security": `[{"oauth": []}]`,
				"components.securitySchemes.oauth": `{"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}}`,
				"x.server.authentication":          `{"enabled": true, "securitySchemes": {"oauth": {"enabled": false, "refreshToken": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.UseOauth2 || def.UseKeylessAccess || !slices.Equal(def.OAuthMeta.AllowedAccessTypes, []string{"refresh_token", "client_credentials"}) {
					t.Errorf("use_oauth2 %v, keyless %v, oauth_meta %+v", def.UseOauth2, def.UseKeylessAccess, def.OAuthMeta)
				}
			},
		},
		{
			name: "of two oauth2 schemes the one switched on is mapped",
			set: map[string]string{"security": `[{"on2": [], "off": []}]`,
				"components.securitySchemes.on2": `{"type": "oauth2", "flows": {"clientCredentials": {}}}`,
				"components.securitySchemes.off": `{"type": "oauth2", "flows": {"password": {}, "implicit": {}}}`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {
					"on2": {"enabled": true, "header": {"enabled": true, "name": "Authorization"}, "allowedAuthorizeTypes": ["code"]},
					"off": {"enabled": false, "query": {"enabled": true, "name": "t"}, "allowedAuthorizeTypes": ["token"],
						"notifications": {"sharedSecret": "s", "onKeyChangeUrl": "https://hooks.test/"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.UseOauth2 || !slices.Equal(def.OAuthMeta.AllowedAccessTypes, []string{"client_credentials"}) ||
					!slices.Equal(def.OAuthMeta.AllowedAuthorizeTypes, []string{"code"}) || def.Notifications != (apidef.Notifications{}) {
					t.Errorf("use_oauth2 %v, oauth_meta %+v, notifications %+v", def.UseOauth2, def.OAuthMeta, def.Notifications)
				}
				if ac := def.OAuthTokenConfig(); ac.DisableHeader || ac.UseParam {
					t.Errorf("auth_configs.oauth = %+v", ac)
				}
			},
		},
		{
			name: "external OAuth is not taken for Tyk's OAuth server",
			set: map[string]string{"security": `[{"oauth": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {
					"oauth": {"enabled": true, "providers": [{"introspection": {"enabled": true}}]}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.UseOauth2 {
					t.Error("use_oauth2 set for a scheme whose tokens another server issues")
				}
			},
		},
		{
			name: "OAS-native OAuth 2.0 is not taken for Tyk's OAuth server",
			set: map[string]string{"security": `[{"oauth": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "scopeCheck": {"enabled": true}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.UseOauth2 {
					t.Error("use_oauth2 set for a scheme whose tokens another server issues")
				}
			},
		},
		{
			name: "HMAC with its header, algorithms and clock skew, and the base identity",
			set: map[string]string{"security": `[{"tok": []}]`,
				"x.server.authentication": `{"enabled": true, "baseIdentityProvider": "hmac_key", "securitySchemes": {"tok": {"enabled": true}},
					"hmac": {"enabled": true, "header": {"enabled": true, "name": "Signature"}, "allowedAlgorithms": ["hmac-sha256"], "allowedClockSkew": 1500}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.EnableSignatureChecking || !slices.Equal(def.HmacAllowedAlgorithms, []string{"hmac-sha256"}) || def.HmacAllowedClockSkew != 1500 {
					t.Errorf("hmac %v algorithms %q skew %v", def.EnableSignatureChecking, def.HmacAllowedAlgorithms, def.HmacAllowedClockSkew)
				}
				if got := def.HMACTokenConfig(); got.AuthHeaderName != "Signature" || got.DisableHeader {
					t.Errorf("auth_configs.hmac = %+v", got)
				}
				if got := def.AuthTokenConfig(); got.AuthHeaderName != "X-Api-Key" {
					t.Errorf("auth_configs.authToken = %+v", got)
				}
				if def.BaseIdentity() != apidef.AuthHMACKey || !slices.Equal(def.AuthMethods(), []string{apidef.AuthHMACKey, apidef.AuthToken}) {
					t.Errorf("methods %q, base %q", def.AuthMethods(), def.BaseIdentity())
				}
				if u := def.Unsupported(); len(u) != 0 {
					t.Errorf("Unsupported() = %q", u)
				}
			},
		},
		{
			name: "a JWT scheme Tyk does not enable is not used",
			set: map[string]string{"security": `[{"jwt": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"jwt": {"enabled": false}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.EnableJWT || def.UseKeylessAccess {
					t.Errorf("jwt %v keyless %v: want token auth at its default place", def.EnableJWT, def.UseKeylessAccess)
				}
			},
		},
		{
			name: "token with client certificate (certificate auth) and signature (refused) map to Classic",
			set: map[string]string{"security": `[{"tok": []}]`,
				"x.server.authentication": `{"enabled": true, "securitySchemes": {"tok": {"enabled": true, "enableClientCertificate": true, "signatureValidation": {"enabled": true}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if c := def.AuthTokenConfig(); !c.UseCertificate || !c.ValidateSignature || len(def.Unsupported()) != 1 {
					t.Errorf("auth %+v, unsupported %q", c, def.Unsupported())
				}
			},
		},
		{
			name: "certificateAuth is the key check by client certificate",
			set:  map[string]string{"x.server.authentication": `{"enabled": true, "certificateAuth": {"enabled": true}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if c := def.AuthTokenConfig(); !c.UseCertificate || !def.UseStandardAuth || def.UseKeylessAccess || len(def.Unsupported()) != 0 {
					t.Errorf("auth %+v, standard %v, keyless %v, unsupported %q", c, def.UseStandardAuth, def.UseKeylessAccess, def.Unsupported())
				}
			},
		},
		{
			name: "custom auth plugin",
			set: map[string]string{"x.server.authentication": `{"enabled": true, "custom": {"enabled": true,
				"config": {"enabled": true, "functionName": "Auth", "path": "a.so", "idExtractor": {"enabled": true, "source": "header", "with": "value"}}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.MiddlewareDefinition{Name: "Auth", Path: "a.so"}
				if !def.CustomAuthEnabled() || def.CustomMiddleware.AuthCheck != want || def.CustomMiddleware.IdExtractor.ExtractFrom != "header" {
					t.Errorf("custom auth %v, auth_check %+v, extractor %+v", def.CustomAuthEnabled(), def.CustomMiddleware.AuthCheck, def.CustomMiddleware.IdExtractor)
				}
			},
		},
		{
			name: "custom key lifetime",
			set:  map[string]string{"x.server.authentication": `{"enabled": true, "customKeyLifetime": {"enabled": true, "value": "1h30m"}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.SessionLifetime != 5400 {
					t.Errorf("session_lifetime = %d", def.SessionLifetime)
				}
			},
		},
		{
			name: "plugin config: driver, bundle, data",
			set: map[string]string{"x.middleware.global.pluginConfig": `{"driver": "goplugin",
				"bundle": {"enabled": false, "path": "b.zip"}, "data": {"enabled": false, "value": {"k": "v"}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.CustomMiddleware.Driver != "goplugin" || def.CustomMiddlewareBundle != "b.zip" || !def.CustomMiddlewareBundleDisabled ||
					!reflect.DeepEqual(def.ConfigData, map[string]any{"k": "v"}) || !def.ConfigDataDisabled {
					t.Errorf("driver %q bundle %q disabled %v config_data %v disabled %v", def.CustomMiddleware.Driver,
						def.CustomMiddlewareBundle, def.CustomMiddlewareBundleDisabled, def.ConfigData, def.ConfigDataDisabled)
				}
			},
		},
		{
			name: "global plugin lists, plural",
			set: map[string]string{"x.middleware.global": `{
				"prePlugins": [{"enabled": true, "functionName": "A", "path": "p.so"}, {"enabled": false, "functionName": "B", "path": "p.so"}],
				"postAuthenticationPlugins": [{"enabled": true, "functionName": "C", "path": "p.so", "requireSession": true}],
				"postPlugins": [{"enabled": true, "functionName": "D", "path": "p.so", "rawBodyOnly": true}],
				"responsePlugins": [{"enabled": true, "functionName": "E", "path": "p.so"}]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				cm := def.CustomMiddleware
				want := apidef.MiddlewareSection{
					Pre:         []apidef.MiddlewareDefinition{{Name: "A", Path: "p.so"}, {Name: "B", Path: "p.so", Disabled: true}},
					PostKeyAuth: []apidef.MiddlewareDefinition{{Name: "C", Path: "p.so", RequireSession: true}},
					Post:        []apidef.MiddlewareDefinition{{Name: "D", Path: "p.so", RawBodyOnly: true}},
					Response:    []apidef.MiddlewareDefinition{{Name: "E", Path: "p.so"}},
				}
				if !reflect.DeepEqual(cm, want) {
					t.Errorf("custom_middleware = %+v, want %+v", cm, want)
				}
			},
		},
		{
			name: "singular plugin forms, used only when the plural is absent",
			set: map[string]string{"x.middleware.global": `{
				"prePlugin": {"plugins": [{"enabled": true, "functionName": "OldPre", "path": "p.so"}]},
				"postPlugin": {"plugins": [{"enabled": true, "functionName": "OldPost", "path": "p.so"}]},
				"postPlugins": [],
				"postAuthenticationPlugin": {"plugins": [{"enabled": true, "functionName": "OldAuth", "path": "p.so"}]},
				"responsePlugin": {"plugins": [{"enabled": true, "functionName": "OldResp", "path": "p.so"}]},
				"responsePlugins": [{"enabled": true, "functionName": "NewResp", "path": "p.so"}]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				cm := def.CustomMiddleware
				names := func(l []apidef.MiddlewareDefinition) []string {
					var out []string
					for _, d := range l {
						out = append(out, d.Name)
					}
					return out
				}
				got := [][]string{names(cm.Pre), names(cm.PostKeyAuth), names(cm.Post), names(cm.Response)}
				want := [][]string{{"OldPre"}, {"OldAuth"}, nil, {"NewResp"}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("hooks = %q, want %q (an empty plural list wins over the singular form)", got, want)
				}
			},
		},
		{
			name: "global request headers, size limit, ignore case, traffic logs, skips",
			set: map[string]string{"x.middleware.global": `{
				"transformRequestHeaders": {"enabled": true, "remove": ["X-Debug"], "add": [{"name": "X-Via", "value": "gh"}]},
				"requestSizeLimit": {"enabled": true, "value": 1024},
				"ignoreCase": {"enabled": true},
				"trafficLogs": {"enabled": true, "tagHeaders": ["X-Team"], "plugins": [{"enabled": true, "functionName": "Rec", "path": "a.so"}]},
				"contextVariables": {"enabled": true},
				"skipRateLimit": true, "skipQuota": true}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				v := version(def)
				if !reflect.DeepEqual(v.GlobalHeaders, map[string]string{"X-Via": "gh"}) || !slices.Equal(v.GlobalHeadersRemove, []string{"X-Debug"}) ||
					v.GlobalSizeLimit != 1024 || !v.IgnoreEndpointCase {
					t.Errorf("version = %+v", v)
				}
				if !slices.Equal(def.TagHeaders, []string{"X-Team"}) {
					t.Errorf("tag_headers = %q, want [X-Team]", def.TagHeaders)
				}
				if def.DoNotTrack || def.AnalyticsPlugin != (apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: "a.so", FuncName: "Rec"}) ||
					!def.EnableContextVars || !def.DisableRateLimit || !def.DisableQuota {
					t.Errorf("do_not_track %v analytics %+v context %v skips %v %v", def.DoNotTrack, def.AnalyticsPlugin, def.EnableContextVars, def.DisableRateLimit, def.DisableQuota)
				}
			},
		},
		{
			name: "no traffic logs: not recorded, as in Tyk",
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.DoNotTrack {
					t.Error("do_not_track is false without trafficLogs")
				}
			},
		},
		{
			name: "operations: allow, block, ignoreAuthentication, postPlugins, longest path first",
			set: map[string]string{"x.middleware.operations": `{
				"listUsers": {"allow": {"enabled": true}, "ignoreAuthentication": {"enabled": true, "ignoreCase": true}},
				"getUser": {"allow": {"enabled": true}, "postPlugins": [{"enabled": true, "functionName": "First", "path": "p.so"}, {"enabled": true, "functionName": "Second", "path": "p.so"}]},
				"deleteUser": {"block": {"enabled": true}, "allow": {"enabled": false}, "postPlugins": [{"enabled": false, "name": "Old", "path": "p.so"}]},
				"missing": {"block": {"enabled": true}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				ep := version(def).ExtendedPaths
				// Grants are the operation's path exactly; refusals match anywhere, as Classic ones.
				wantWhite := []apidef.EndPointMeta{{Path: "^/users/{id}$", Method: "GET"}, {Path: "^/users$", Method: "GET"}}
				wantBlack := []apidef.EndPointMeta{{Path: "/users/{id}", Method: "DELETE"}}
				wantIgnored := []apidef.EndPointMeta{{Path: "^/users$", Method: "GET", IgnoreCase: true}}
				wantPlugins := []apidef.GoPluginMeta{
					{Path: "/users/{id}", Method: "GET", PluginPath: "p.so", SymbolName: "First"},
					{Path: "/users/{id}", Method: "DELETE", PluginPath: "p.so", SymbolName: "Old", Disabled: true},
				}
				if !reflect.DeepEqual(ep.WhiteList, wantWhite) || !reflect.DeepEqual(ep.BlackList, wantBlack) ||
					!reflect.DeepEqual(ep.Ignored, wantIgnored) || !reflect.DeepEqual(ep.GoPlugin, wantPlugins) {
					t.Errorf("extended_paths:\nwhite %+v\nwant  %+v\nblack %+v\nwant  %+v\nignored %+v\nwant    %+v\ngo_plugin %+v\nwant      %+v",
						ep.WhiteList, wantWhite, ep.BlackList, wantBlack, ep.Ignored, wantIgnored, ep.GoPlugin, wantPlugins)
				}
			},
		},
		{
			name: "IP access control enabled: lists copied and enforced",
			set:  map[string]string{"x.server.ipAccessControl": `{"enabled": true, "allow": ["10.0.0.0/8", "192.0.2.1"], "block": ["10.0.0.66"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.IPAccessControlDisabled || !slices.Equal(def.AllowedIPs, []string{"10.0.0.0/8", "192.0.2.1"}) ||
					!slices.Equal(def.BlacklistedIPs, []string{"10.0.0.66"}) || !def.EnableIPWhiteListing || !def.EnableIPBlacklisting ||
					!def.IPAllowListActive() || !def.IPBlockListActive() {
					t.Errorf("disabled %v allowed %q (%v) blocked %q (%v)", def.IPAccessControlDisabled, def.AllowedIPs, def.EnableIPWhiteListing, def.BlacklistedIPs, def.EnableIPBlacklisting)
				}
			},
		},
		{
			name: "IP access control block list only",
			set:  map[string]string{"x.server.ipAccessControl": `{"enabled": true, "block": ["2001:db8::/32"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.IPAllowListActive() || !def.IPBlockListActive() || def.EnableIPWhiteListing || !def.EnableIPBlacklisting {
					t.Errorf("allow active %v block active %v flags %v %v", def.IPAllowListActive(), def.IPBlockListActive(), def.EnableIPWhiteListing, def.EnableIPBlacklisting)
				}
			},
		},
		{
			name: "IP access control disabled: lists kept but not enforced, as in Tyk",
			set:  map[string]string{"x.server.ipAccessControl": `{"enabled": false, "allow": ["10.0.0.0/8"], "block": ["bogus"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.IPAccessControlDisabled || !slices.Equal(def.AllowedIPs, []string{"10.0.0.0/8"}) || def.EnableIPWhiteListing ||
					def.IPAllowListActive() || def.IPBlockListActive() {
					t.Errorf("disabled %v allowed %q active %v %v", def.IPAccessControlDisabled, def.AllowedIPs, def.IPAllowListActive(), def.IPBlockListActive())
				}
			},
		},
		{
			name: "IP access control enabled without lists restricts nothing, as in Tyk",
			set:  map[string]string{"x.server.ipAccessControl": `{"enabled": true}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.IPAccessControlDisabled || def.IPAllowListActive() || def.IPBlockListActive() || def.EnableIPWhiteListing || def.EnableIPBlacklisting {
					t.Errorf("%+v", def)
				}
			},
		},
		{
			name: "no IP access control",
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.IPAccessControlDisabled || def.AllowedIPs != nil || def.BlacklistedIPs != nil {
					t.Errorf("disabled %v allowed %q blocked %q", def.IPAccessControlDisabled, def.AllowedIPs, def.BlacklistedIPs)
				}
			},
		},
		{
			name: "CORS",
			set: map[string]string{"x.middleware.global.cors": `{"enabled": true, "maxAge": 600, "allowCredentials": true,
				"exposedHeaders": ["X-Total"], "allowedHeaders": ["Authorization"], "optionsPassthrough": true, "debug": true,
				"allowedOrigins": ["https://*.acme.test"], "allowedMethods": ["GET", "PUT"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.CORSConfig{Enable: true, MaxAge: 600, AllowCredentials: true, ExposedHeaders: []string{"X-Total"},
					AllowedHeaders: []string{"Authorization"}, OptionsPassthrough: true, Debug: true,
					AllowedOrigins: []string{"https://*.acme.test"}, AllowedMethods: []string{"GET", "PUT"}}
				if !reflect.DeepEqual(def.CORS, want) {
					t.Errorf("CORS = %+v\nwant   %+v", def.CORS, want)
				}
			},
		},
		{
			name: "CORS disabled",
			set:  map[string]string{"x.middleware.global.cors": `{"enabled": false, "allowedOrigins": ["https://a.test"]}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.CORS.On() || !slices.Equal(def.CORS.AllowedOrigins, []string{"https://a.test"}) {
					t.Errorf("CORS = %+v", def.CORS)
				}
			},
		},
		{
			name: "upstream timeout",
			set:  map[string]string{"x.upstream.enforceTimeout": `{"enabled": true, "duration": "2.5s"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				v := version(def)
				if d, err := v.EnforceTimeout(); err != nil || d != 2500*time.Millisecond {
					t.Errorf("EnforceTimeout() = %v, %v (global_enforce_timeout %q)", d, err, v.GlobalEnforceTimeout)
				}
			},
		},
		{
			name: "upstream timeout disabled",
			set:  map[string]string{"x.upstream.enforceTimeout": `{"enabled": false, "duration": "2s"}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				v := version(def)
				if d, _ := v.EnforceTimeout(); d != 0 || !v.GlobalEnforceTimeoutDisabled {
					t.Errorf("EnforceTimeout() = %v, disabled %v", d, v.GlobalEnforceTimeoutDisabled)
				}
			},
		},
		{
			name: "operations: size limit, timeout, circuit breaker, method transform",
			set: map[string]string{"x.middleware.operations": `{
				"createUser": {"requestSizeLimit": {"enabled": true, "value": 512}, "transformRequestMethod": {"enabled": true, "toMethod": "put"}},
				"getUser": {"enforceTimeout": {"enabled": true, "value": 3}, "circuitBreaker": {"enabled": true, "threshold": 0.5, "sampleSize": 20, "coolDownPeriod": 30, "halfOpenStateEnabled": true}},
				"deleteUser": {"enforceTimeout": {"enabled": true, "duration": "1.5s"}, "circuitBreaker": {"enabled": false, "threshold": 0.2, "sampleSize": 5, "coolDownPeriod": 1},
					"requestSizeLimit": {"enabled": false, "value": 1}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				ep := version(def).ExtendedPaths
				wantSize := []apidef.RequestSizeMeta{
					{Path: "/users/{id}", Method: "DELETE", SizeLimit: 1, Disabled: true},
					{Path: "/users", Method: "POST", SizeLimit: 512},
				}
				wantTimeouts := []apidef.HardTimeoutMeta{
					{Path: "/users/{id}", Method: "GET", TimeOut: 3},
					{Path: "/users/{id}", Method: "DELETE", Duration: "1.5s"},
				}
				wantBreakers := []apidef.CircuitBreakerMeta{
					{Path: "/users/{id}", Method: "GET", ThresholdPercent: 0.5, Samples: 20, ReturnToServiceAfter: 30},
					{Path: "/users/{id}", Method: "DELETE", ThresholdPercent: 0.2, Samples: 5, ReturnToServiceAfter: 1, DisableHalfOpenState: true, Disabled: true},
				}
				wantMethods := []apidef.MethodTransformMeta{{Path: "/users", Method: "POST", ToMethod: "put"}}
				if !reflect.DeepEqual(ep.SizeLimit, wantSize) || !reflect.DeepEqual(ep.HardTimeouts, wantTimeouts) ||
					!reflect.DeepEqual(ep.CircuitBreaker, wantBreakers) || !reflect.DeepEqual(ep.MethodTransforms, wantMethods) {
					t.Errorf("extended_paths:\nsize %+v\nwant %+v\ntimeouts %+v\nwant     %+v\nbreakers %+v\nwant     %+v\nmethods %+v\nwant    %+v",
						ep.SizeLimit, wantSize, ep.HardTimeouts, wantTimeouts, ep.CircuitBreaker, wantBreakers, ep.MethodTransforms, wantMethods)
				}
			},
		},
		{
			name: "operations: trackEndpoint and doNotTrackEndpoint",
			set: map[string]string{"x.middleware.operations": `{
				"getUser": {"trackEndpoint": {"enabled": true}},
				"createUser": {"doNotTrackEndpoint": {"enabled": true}},
				"listUsers": {"trackEndpoint": {"enabled": false}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				ep := version(def).ExtendedPaths
				wantTrack := []apidef.TrackEndpointMeta{{Path: "/users/{id}", Method: "GET"}, {Path: "/users", Method: "GET", Disabled: true}}
				wantUntrack := []apidef.TrackEndpointMeta{{Path: "/users", Method: "POST"}}
				if !reflect.DeepEqual(ep.TrackEndpoints, wantTrack) || !reflect.DeepEqual(ep.DoNotTrackEndpoints, wantUntrack) {
					t.Errorf("track_endpoints %+v, want %+v; do_not_track_endpoints %+v, want %+v", ep.TrackEndpoints, wantTrack, ep.DoNotTrackEndpoints, wantUntrack)
				}
			},
		},
		{
			name: "operations: body transforms",
			set: map[string]string{"x.middleware.operations": `{
				"createUser": {"transformRequestBody": {"enabled": true, "format": "json", "body": "e3sgLm5hbWUgfX0="}},
				"getUser": {"transformResponseBody": {"enabled": true, "format": "xml", "path": "templates/user.tmpl"}},
				"deleteUser": {"transformRequestBody": {"enabled": false, "format": "json", "body": "e30="}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				ep := version(def).ExtendedPaths
				wantReq := []apidef.TemplateMeta{
					{Path: "/users/{id}", Method: "DELETE", Disabled: true, TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: "e30=", EnableSession: true}},
					{Path: "/users", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: "e3sgLm5hbWUgfX0=", EnableSession: true}},
				}
				wantRes := []apidef.TemplateMeta{
					{Path: "/users/{id}", Method: "GET", TemplateData: apidef.TemplateData{Input: "xml", Mode: "file", TemplateSource: "templates/user.tmpl", EnableSession: true}},
				}
				if !reflect.DeepEqual(ep.Transform, wantReq) || !reflect.DeepEqual(ep.TransformResponse, wantRes) {
					t.Errorf("transform %+v\nwant      %+v\ntransform_response %+v\nwant               %+v", ep.Transform, wantReq, ep.TransformResponse, wantRes)
				}
				if u := def.Unsupported(); len(u) != 0 {
					t.Errorf("Unsupported() = %q", u)
				}
			},
		},
		{
			name: "operations: URL rewrite with triggers",
			set: map[string]string{"x.middleware.operations": `{
				"getUser": {"urlRewrite": {"enabled": true, "pattern": "/users/(\\d+)", "rewriteTo": "/people/$1", "triggers": [
					{"condition": "all", "rewriteTo": "/vip/$1", "rules": [
						{"in": "header", "name": "X-Tier", "pattern": "gold"},
						{"in": "query", "name": "debug", "pattern": "1", "negate": true},
						{"in": "path", "name": "id", "pattern": "^7"},
						{"in": "sessionMetadata", "name": "plan", "pattern": "pro"},
						{"in": "requestContext", "name": "remote_addr", "pattern": "^10\\."},
						{"in": "requestBody", "pattern": "vip"}]}]}}}`},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := []apidef.URLRewriteMeta{{Path: "/users/{id}", Method: "GET", MatchPattern: `/users/(\d+)`, RewriteTo: "/people/$1",
					Triggers: []apidef.RoutingTrigger{{On: "all", RewriteTo: "/vip/$1", Options: apidef.RoutingTriggerOptions{
						HeaderMatches:         map[string]apidef.StringRegexMap{"X-Tier": {MatchRx: "gold"}},
						QueryValMatches:       map[string]apidef.StringRegexMap{"debug": {MatchRx: "1", Reverse: true}},
						PathPartMatches:       map[string]apidef.StringRegexMap{"id": {MatchRx: "^7"}},
						SessionMetaMatches:    map[string]apidef.StringRegexMap{"plan": {MatchRx: "pro"}},
						RequestContextMatches: map[string]apidef.StringRegexMap{"remote_addr": {MatchRx: `^10\.`}},
						PayloadMatches:        apidef.StringRegexMap{MatchRx: "vip"},
					}}}}}
				if got := version(def).ExtendedPaths.URLRewrite; !reflect.DeepEqual(got, want) {
					t.Errorf("url_rewrites %+v\nwant         %+v", got, want)
				}
			},
		},
		{
			name: "upstream authentication maps to upstream_auth",
			set: map[string]string{
				"x.upstream.authentication": `{"enabled": true, "basicAuth": {"enabled": true, "username": "gw", "password": "pw", "header": {"enabled": true, "name": "X-Up-Auth"}}, "oauth": {"enabled": true}}`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.UpstreamAuth{Enabled: true,
					BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "gw", Password: "pw", Header: apidef.UpstreamAuthHdr{Enabled: true, Name: "X-Up-Auth"}},
					OAuth:     apidef.Toggle{Enabled: true}}
				if def.UpstreamAuth != want {
					t.Errorf("upstream_auth %+v, want %+v", def.UpstreamAuth, want)
				}
				if got := def.Unsupported(); !slices.Contains(got, "upstream OAuth (upstream_auth.oauth)") {
					t.Errorf("Unsupported() = %q, want upstream OAuth refused", got)
				}
			},
		},
		{
			name: "errorOverrides maps to error_overrides",
			set: map[string]string{
				"x.errorOverrides": `{"enabled": false, "value": {"5xx": [{"match": {"flag": "URS", "messagePattern": "stock", "bodyField": "error.code", "bodyValue": "X"},
					"response": {"statusCode": 409, "body": "{}", "message": "m", "template": "t", "headers": {"Retry-After": "5"}}}], "403": [{"response": {}}]}}`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.ErrorOverrides{
					"5xx": {{Match: &apidef.ErrorMatch{Flag: "URS", MessagePattern: "stock", BodyField: "error.code", BodyValue: "X"},
						Response: apidef.ErrorResponse{StatusCode: 409, Body: "{}", Message: "m", Template: "t", Headers: map[string]string{"Retry-After": "5"}}}},
					"403": {{}},
				}
				if !reflect.DeepEqual(def.ErrorOverrides, want) || !def.ErrorOverridesDisabled {
					t.Errorf("error_overrides %+v (disabled %v), want %+v, disabled", def.ErrorOverrides, def.ErrorOverridesDisabled, want)
				}
			},
		},
		{
			// Tyk signs with requestSigning.enabled whatever authentication.enabled says.
			name: "upstream request signing maps to request_signing",
			set: map[string]string{
				"x.upstream.authentication": `{"enabled": false, "requestSigning": {"enabled": true, "signatureHeader": "Signature", "algorithm": "rsa-sha256",
					"keyId": "gw-1", "headers": ["(request-target)", "date"], "secret": "", "certificateId": "acme0123"}}`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.RequestSigning{IsEnabled: true, SignatureHeader: "Signature", Algorithm: "rsa-sha256", KeyID: "gw-1",
					HeaderList: []string{"(request-target)", "date"}, CertificateID: "acme0123"}
				if !reflect.DeepEqual(def.RequestSigning, want) {
					t.Errorf("request_signing %+v, want %+v", def.RequestSigning, want)
				}
			},
		},
		{
			name: "info.versioning maps to the definition block",
			set: map[string]string{
				"x.info.versioning": `{"enabled": true, "name": "v1", "default": "self", "location": "url-param", "key": "version",
					"versions": [{"name": "v2", "id": "orders-v2"}, {"name": "beta", "id": "b1"}, {"name": "beta", "id": "b2"}],
					"stripVersioningData": true, "urlVersioningPattern": "^v", "fallbackToDefault": true}`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				want := apidef.VersionDefinition{Location: "url-param", Key: "version", VersionAPIs: &apidef.VersionAPIs{
					Enabled: true, Name: "v1", Default: "self",
					Versions: map[string]string{"v2": "orders-v2", "beta": "b2"}, StripVersioningData: true,
					URLVersioningPattern: "^v", FallbackToDefault: true}}
				if !reflect.DeepEqual(def.VersionDefinition, want) {
					t.Errorf("definition %+v, want %+v", def.VersionDefinition, want)
				}
				if !def.VersionData.NotVersioned {
					t.Error("an OAS API's own versions are not versioned")
				}
			},
		},
		{
			name: "upstream mutualTLS and certificatePinning switched off keep their maps, disabled",
			set: map[string]string{
				"x.upstream.mutualTLS":          `{"enabled": false, "domainToCertificateMapping": [{"domain": "up.test", "certificate": "c1"}]}`,
				"x.upstream.certificatePinning": `{"enabled": false, "domainToPublicKeysMapping": [{"domain": "*", "publicKeys": ["k1"]}]}`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if !def.UpstreamCertificatesDisabled || def.UpstreamCertificates["up.test"] != "c1" ||
					!def.CertificatePinningDisabled || def.PinnedPublicKeys["*"] != "k1" {
					t.Errorf("certs %v (off %v) pinned %v (off %v), want both kept and disabled", def.UpstreamCertificates,
						def.UpstreamCertificatesDisabled, def.PinnedPublicKeys, def.CertificatePinningDisabled)
				}
			},
		},
		{
			name: "features with a Classic equivalent map to it",
			set: map[string]string{
				"x.middleware.global.transformResponseHeaders": `{"enabled": true, "add": [{"name": "X", "value": "y"}]}`,
				"x.server.clientCertificates":                  `{"enabled": true, "allowlist": ["acme-ca.pem"]}`,
				"x.upstream.mutualTLS":                         `{"enabled": true, "domainToCertificateMapping": [{"domain": "up.test", "certificate": "c1"}]}`,
				"x.upstream.certificatePinning":                `{"enabled": true, "domainToPublicKeysMapping": [{"domain": "up.test", "publicKeys": ["k1", "k2"]}]}`,
				"x.upstream.loadBalancing":                     `{"enabled": true, "targets": []}`,
				"x.upstream.serviceDiscovery": `{"enabled": true, "queryEndpoint": "http://consul:8500/v1/catalog/service/up", "dataPath": "Address",
					"portDataPath": "ServicePort", "useTargetList": true, "endpointReturnsList": true, "cacheTimeout": 9, "cache": {"enabled": false, "timeout": 30},
					"targetPath": "/v1", "useNestedQuery": false, "parentDataPath": ""}`,
				"x.info.expiration": `"2030-01-01 00:00"`,
				"x.server.port":     `9000`,
			},
			check: func(t *testing.T, def *apidef.APIDefinition) {
				if def.Expiration != "2030-01-01 00:00" {
					t.Errorf("expiration %q, want info.expiration's (served)", def.Expiration)
				}
				got := def.Unsupported()
				slices.Sort(got)
				want := []string{"a listen_port of its own"}
				// Load balancing with no targets of its own stays on with service discovery.
				if !def.Proxy.EnableLoadBalancing {
					t.Errorf("loadBalancing with service discovery and no targets: load balancing off")
				}
				// Service discovery is served; cache, when present, wins over cacheTimeout.
				if sd := def.Proxy.ServiceDiscovery; sd != (apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul:8500/v1/catalog/service/up",
					DataPath: "Address", PortDataPath: "ServicePort", UseTargetList: true, EndpointReturnsList: true, CacheDisabled: true, CacheTimeout: 30, TargetPath: "/v1"}) {
					t.Errorf("service_discovery %+v", sd)
				}
				// Response header transforms are served: global_response_headers.
				if h := def.VersionData.Versions["Default"].GlobalResponseHeaders; !reflect.DeepEqual(h, map[string]string{"X": "y"}) {
					t.Errorf("global_response_headers = %v", h)
				}
				// Client certificates are refused on a keyless API too: Tyk checks them there
				// (static mTLS), and Gatehouse does not implement them.
				if !def.UseMutualTLSAuth || !slices.Equal(def.ClientCertificates, []string{"acme-ca.pem"}) {
					t.Errorf("server.clientCertificates: use_mutual_tls_auth %v, client_certificates %q", def.UseMutualTLSAuth, def.ClientCertificates)
				}
				if !slices.Equal(got, want) {
					t.Errorf("Unsupported() =\n%q\nwant\n%q", got, want)
				}
				if !reflect.DeepEqual(def.PinnedPublicKeys, map[string]string{"up.test": "k1,k2"}) || def.CertificatePinningDisabled ||
					!reflect.DeepEqual(def.UpstreamCertificates, map[string]string{"up.test": "c1"}) || def.UpstreamCertificatesDisabled || !def.UseMutualTLSAuth {
					t.Errorf("pinned %v (off %v) certs %v (off %v) mtls %v", def.PinnedPublicKeys, def.CertificatePinningDisabled,
						def.UpstreamCertificates, def.UpstreamCertificatesDisabled, def.UseMutualTLSAuth)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, d := classic(t, doc(t, tc.set))
			if err := def.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			tc.check(t, def)
			_ = d
		})
	}
}

func TestClassicErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{name: "no id", set: map[string]string{"x.info.id": `""`}, want: []string{"x-tyk-api-gateway.info.id: missing"}},
		{name: "no name, url, listen path", set: map[string]string{"x.info.name": `null`, "x.upstream.url": `null`, "x.server.listenPath": `null`},
			want: []string{"info.name: missing", "upstream.url: missing", "server.listenPath.value: missing"}},
		{name: "two oauth2 schemes switched on", set: map[string]string{"security": `[{"oauth": [], "o2": []}]`,
			"components.securitySchemes.o2": `{"type": "oauth2", "flows": {}}`,
			"x.server.authentication":       `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true}, "o2": {"enabled": true}}}`},
			want: []string{`"o2" and "oauth" are both oauth2 schemes switched on`}},
		{name: "an OAuth flow that is no object", set: map[string]string{"security": `[{"oauth": []}]`,
			"components.securitySchemes.oauth": `{"type": "oauth2", "flows": {"clientCredentials": {}, "password": false}}`,
			"x.server.authentication":          `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true}}}`},
			want: []string{"components.securitySchemes.oauth.flows.password: an OAuth flow object is expected, not false"}},
		{name: "bad rate per", set: map[string]string{"x.upstream.rateLimit": `{"enabled": true, "rate": 1, "per": "soon"}`},
			want: []string{`upstream.rateLimit.per: "soon" is not a positive duration`}},
		{name: "bad key lifetime", set: map[string]string{"x.server.authentication": `{"enabled": true, "customKeyLifetime": {"enabled": true, "value": "0s"}}`},
			want: []string{"customKeyLifetime.value"}},
		{name: "unknown TLS version", set: map[string]string{"x.upstream.tlsTransport": `{"minVersion": "TLS1.2"}`},
			want: []string{`upstream.tlsTransport.minVersion: "TLS1.2" is not one of 1.0, 1.1, 1.2, 1.3`}},
		{name: "upstream timeout enabled without a duration", set: map[string]string{"x.upstream.enforceTimeout": `{"enabled": true}`},
			want: []string{"upstream.enforceTimeout.duration: missing"}},
		{name: "uptime test timeout", set: map[string]string{"x.upstream.uptimeTests": `{"enabled": true, "tests": [{"url": "http://a.test", "timeout": "soon"}]}`},
			want: []string{`upstream.uptimeTests.tests[0].timeout: "soon" is not a duration`}},
		{name: "uptime log retention", set: map[string]string{"x.upstream.uptimeTests": `{"enabled": true, "tests": [{"url": "http://a.test"}], "logRetentionPeriod": "a month"}`},
			want: []string{`upstream.uptimeTests.logRetentionPeriod: "a month" is not a duration`}},
		{name: "uptime log retention too long", set: map[string]string{"x.upstream.uptimeTests": `{"enabled": true, "tests": [{"url": "http://a.test"}], "logRetentionPeriod": "900000h"}`},
			want: []string{`upstream.uptimeTests.logRetentionPeriod: "900000h" is more than 100 years`}},
		{name: "absurd weight", set: map[string]string{"x.upstream.loadBalancing": `{"enabled": true, "targets": [{"url": "http://a.test", "weight": 1e9}]}`},
			want: []string{"weight: 1e+09 is not between 0 and 1000"}},
		{name: "url rewrite rule on an unknown input", set: map[string]string{"x.middleware.operations": `{"getUser": {"urlRewrite": {"enabled": true, "pattern": "x", "rewriteTo": "/y",
			"triggers": [{"condition": "any", "rewriteTo": "/z", "rules": [{"in": "cookie", "name": "a", "pattern": "b"}]}]}}}`},
			want: []string{`middleware.operations.getUser.urlRewrite: triggers[0].rules[0].in: "cookie" is not query`}},
		{name: "url rewrite rules on the same header", set: map[string]string{"x.middleware.operations": `{"getUser": {"urlRewrite": {"enabled": true, "pattern": "x", "rewriteTo": "/y",
			"triggers": [{"condition": "any", "rewriteTo": "/z", "rules": [{"in": "header", "name": "A", "pattern": "1"}, {"in": "header", "name": "A", "pattern": "2"}]}]}}}`},
			want: []string{`triggers[0].rules[1]: a second header rule on "A"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(doc(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Classic()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"not JSON", `{"openapi": "3.0.3",}`, "line 1"},
		{"no openapi", `{"x-tyk-api-gateway": {}}`, "openapi: missing"},
		{"swagger 2", `{"openapi": "2.0", "x-tyk-api-gateway": {}}`, `"2.0" is not 3.0.x or 3.1.x`},
		{"no extension", `{"openapi": "3.0.3", "paths": {}}`, "x-tyk-api-gateway: missing"},
		{"extension in another case", `{"openapi": "3.0.3", "X-Tyk-Api-Gateway": {}}`, "x-tyk-api-gateway: missing"},
		{"wrong type", `{"openapi": "3.0.3", "x-tyk-api-gateway": {"info": {"state": {"active": "yes"}}}}`, "info.state.active: want bool"},
		{"bad path item", `{"openapi": "3.0.3", "paths": {"/a": []}, "x-tyk-api-gateway": {}}`, `paths["/a"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestIsDocument(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"openapi": "3.0.3"}`:                  true,
		`{"x-tyk-api-gateway": {}}`:             true,
		`{"api_id": "a", "is_oas": true}`:       false,
		`not json`:                              false,
		`{"openapi": "3.0.3",}`:                 true,
		`{"info": {"title": "a"}, "paths": {}}`: false,
	} {
		if got := IsDocument([]byte(raw)); got != want {
			t.Errorf("IsDocument(%s) = %v, want %v", raw, got, want)
		}
	}
}

// TestFixtures maps the hand-written documents of testdata.
func TestFixtures(t *testing.T) {
	read := func(name string) (*apidef.APIDefinition, *Document) {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return classic(t, raw)
	}

	def, d := read("orders.json")
	if err := def.Validate(); err != nil {
		t.Errorf("orders: Validate: %v", err)
	}
	if u := append(def.Unsupported(), d.Unsupported()...); len(u) > 0 {
		t.Errorf("orders: unsupported %q", u)
	}
	if def.APIID != "orders" || def.Domain != "api.acme.test" || !def.EnableDetailedRecording || def.DoNotTrack ||
		def.GlobalRateLimit != (apidef.GlobalRateLimit{Rate: 100, Per: 60}) || !def.Proxy.DisableStripSlash ||
		def.AuthTokenConfig().AuthHeaderName != "X-Order-Key" || !def.StripAuthData {
		t.Errorf("orders mapped to %+v", def)
	}
	ep := version(def).ExtendedPaths
	if len(ep.Ignored) != 1 || ep.Ignored[0].Path != "^/health$" || len(ep.BlackList) != 1 || ep.BlackList[0].Path != "/admin/stats" ||
		len(ep.GoPlugin) != 1 || ep.GoPlugin[0].SymbolName != "PerOperation" || ep.GoPlugin[0].Path != "/orders/{id}" {
		t.Errorf("orders extended_paths = %+v", ep)
	}
	inert := strings.Join(d.Inert(), "\n")
	for _, w := range []string{"middleware.operations.archivedOrders (no operation in paths", "getOrder.postPlugins after the first"} {
		if !strings.Contains(inert, w) {
			t.Errorf("orders: Inert() lacks %q:\n%s", w, inert)
		}
	}
	if ig := d.Ignored(); len(ig) > 0 {
		t.Errorf("orders: Ignored() = %q", ig)
	}

	def, d = read("catalogue-legacy-plugins.json")
	if u := append(def.Unsupported(), d.Unsupported()...); len(u) > 0 {
		t.Errorf("catalogue: unsupported %q", u)
	}
	if want := []string{"http://cat-a.test:8080", "http://cat-a.test:8080", "http://cat-b.test:8080"}; !slices.Equal(def.Proxy.Targets, want) {
		t.Errorf("catalogue targets %q, want %q", def.Proxy.Targets, want)
	}
	cm := def.CustomMiddleware
	if def.CustomMiddlewareBundle != "catalogue-bundle.zip" || def.CustomMiddlewareBundleDisabled || !def.UseKeylessAccess ||
		len(cm.Pre) != 1 || cm.Pre[0].Name != "OldPre" || len(cm.PostKeyAuth) != 1 || !cm.PostKeyAuth[0].Disabled ||
		len(cm.Post) != 1 || cm.Post[0].Name != "NewPost" || len(cm.Response) != 1 || !cm.Response[0].RawBodyOnly {
		t.Errorf("catalogue plugins %+v bundle %q", cm, def.CustomMiddlewareBundle)
	}
	if wl := version(def).ExtendedPaths.WhiteList; len(wl) != 2 || wl[0].Path != "^/items/{sku}$" || !wl[0].IgnoreCase || wl[1].Path != "^/items$" {
		t.Errorf("catalogue white_list %+v", wl)
	}
}

func TestOperations(t *testing.T) {
	d, err := Parse(doc(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []Operation{
		{ID: "getUser", Method: "GET", Path: "/users/{id}"},
		{ID: "deleteUser", Method: "DELETE", Path: "/users/{id}"},
		{ID: "listUsers", Method: "GET", Path: "/users"},
		{ID: "createUser", Method: "POST", Path: "/users"},
	}
	if got := d.Operations(); !slices.Equal(got, want) {
		t.Errorf("Operations() = %+v, want %+v", got, want)
	}
	if got := d.OperationsByID("deleteUser"); len(got) != 1 || got[0].Method != "DELETE" {
		t.Errorf("OperationsByID(deleteUser) = %+v", got)
	}
}

// TestClassicTrafficChecks: a traffic setting that cannot be applied as written maps to the
// Classic field that the Classic checks refuse, so the OAS API is refused with the reason.
func TestClassicTrafficChecks(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{name: "malformed IP entry", set: map[string]string{"x.server.ipAccessControl": `{"enabled": true, "block": ["10.0.0.300"]}`},
			want: `blacklisted_ips[0]: "10.0.0.300" is not an IP address`},
		{name: "two wildcards in an origin", set: map[string]string{"x.middleware.global.cors": `{"enabled": true, "allowedOrigins": ["https://*.*.test"]}`},
			want: "CORS.allowed_origins[0]"},
		{name: "bad upstream timeout", set: map[string]string{"x.upstream.enforceTimeout": `{"enabled": true, "duration": "soon"}`},
			want: `global_enforce_timeout: "soon" is not a positive duration`},
		{name: "operation timeout of 0", set: map[string]string{"x.middleware.operations": `{"getUser": {"enforceTimeout": {"enabled": true, "value": 0}}}`},
			want: "hard_timeouts[0]: timeout is 0"},
		{name: "breaker threshold out of range", set: map[string]string{"x.middleware.operations": `{"getUser": {"circuitBreaker": {"enabled": true, "threshold": 40, "sampleSize": 10, "coolDownPeriod": 5}}}`},
			want: "circuit_breakers[0]: threshold_percent is 40"},
		{name: "unknown method", set: map[string]string{"x.middleware.operations": `{"getUser": {"transformRequestMethod": {"enabled": true, "toMethod": "FETCH"}}}`},
			want: `method_transforms[0]: to_method "FETCH"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, _ := classic(t, doc(t, tc.set))
			err := def.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestErrorOverridesStrict: a field errorOverrides' rules do not have (Classic's snake_case
// names among them) refuses the document rather than being dropped, which would make a rule for
// some errors one for every error of its code.
func TestErrorOverridesStrict(t *testing.T) {
	for _, v := range []string{
		`{"enabled": true, "value": {"403": [{"match": {"message_pattern": "x"}, "response": {}}]}}`,
		`{"enabled": true, "value": {"403": [{"response": {"status_code": 401}}]}}`,
	} {
		_, err := Parse(doc(t, map[string]string{"x.errorOverrides": v}))
		if err == nil || !strings.Contains(err.Error(), "unknown field") || !strings.Contains(err.Error(), "the fields are") {
			t.Errorf("%s: %v, want the unknown field refused", v, err)
		}
	}
}

// TestEventHandlersMapped: server.eventHandlers become Classic event_handlers as Tyk's ExtractTo
// makes them: by trigger, in order, enabled as the negated disabled, cooldownPeriod in seconds,
// headers as a map; custom handlers under Tyk's JavaScript handler name; other types left out.
func TestEventHandlersMapped(t *testing.T) {
	d, err := Parse(doc(t, map[string]string{"x.server.eventHandlers": `[
		{"enabled": true, "trigger": "AuthFailure", "type": "webhook", "name": "alerts", "url": "https://hooks.test/a",
		 "method": "POST", "cooldownPeriod": "1m30s", "bodyTemplate": "templates/a.json",
		 "headers": [{"name": "X-Token", "value": "t1"}]},
		{"enabled": false, "trigger": "AuthFailure", "type": "log", "logPrefix": "auth"},
		{"enabled": true, "trigger": "HostDown", "type": "custom", "functionName": "onDown", "path": "e.js"},
		{"enabled": true, "trigger": "HostUp", "type": "sms"},
		{"enabled": true, "trigger": "KeyExpired", "type": "webhook", "url": "http://hooks.test/k", "cooldownPeriod": "later"}]`}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := d.Classic()
	if err != nil {
		t.Fatal(err)
	}
	ev := def.EventHandlers.Events
	if len(ev) != 3 || len(ev["AuthFailure"]) != 2 || len(ev["HostDown"]) != 1 || len(ev["KeyExpired"]) != 1 {
		t.Fatalf("events = %+v, want AuthFailure (2), HostDown, KeyExpired", ev)
	}
	wh, err := apidef.DecodeWebHook(ev["AuthFailure"][0].HandlerMeta)
	if ev["AuthFailure"][0].HandlerName != apidef.WebHookHandler || err != nil || wh.Disabled || wh.Method != "POST" ||
		wh.TargetPath != "https://hooks.test/a" || wh.EventTimeout != 90 || wh.TemplatePath != "templates/a.json" ||
		wh.HeaderMap["X-Token"] != "t1" {
		t.Errorf("webhook = %q %+v (%v)", ev["AuthFailure"][0].HandlerName, wh, err)
	}
	if !strings.Contains(string(ev["AuthFailure"][0].HandlerMeta), `"name":"alerts"`) {
		t.Errorf("webhook meta %s lacks its name", ev["AuthFailure"][0].HandlerMeta)
	}
	lg, err := apidef.DecodeLog(ev["AuthFailure"][1].HandlerMeta)
	if ev["AuthFailure"][1].HandlerName != apidef.LogHandler || err != nil || !lg.Disabled || lg.Prefix != "auth" {
		t.Errorf("log = %q %+v (%v)", ev["AuthFailure"][1].HandlerName, lg, err)
	}
	if h := ev["HostDown"][0]; h.HandlerName != "eh_dynamic_handler" || !strings.Contains(string(h.HandlerMeta), `"method_name":"onDown"`) {
		t.Errorf("custom = %q %s", h.HandlerName, h.HandlerMeta)
	}
	if wh, _ := apidef.DecodeWebHook(ev["KeyExpired"][0].HandlerMeta); wh.EventTimeout != 0 || wh.Method != "GET" {
		t.Errorf("a cooldown that does not parse, no method: %+v, want no cool-down and GET", wh)
	}
	// What never runs is reported, by the Classic checks or the document's.
	if !slices.ContainsFunc(def.Inert(), func(s string) bool { return strings.Contains(s, "eh_dynamic_handler") }) {
		t.Errorf("the JavaScript handler is not reported: inert %q", def.Inert())
	}

	d, err = Parse(doc(t, map[string]string{"x.server.eventHandlers": `{"enabled": true}`}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = d.Classic(); err == nil || !strings.Contains(err.Error(), "server.eventHandlers") {
		t.Errorf("not a list: %v, want an error naming server.eventHandlers", err)
	}
}

// TestCompliantRequirements: in compliant mode every top-level security requirement, then
// server.authentication.security's, maps to Classic security_requirements (any one set, every
// scheme of it), by auth_configs name; in legacy mode only the first is read, with none.
func TestCompliantRequirements(t *testing.T) {
	schemes := `{"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
		"key2": {"type": "apiKey", "in": "query", "name": "k"}, "basic": {"type": "http", "scheme": "basic"},
		"oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://idp.test/.well-known/openid-configuration"}}`
	auth := func(mode, extra string) string {
		return `{"enabled": true, "securityProcessingMode": "` + mode + `", "securitySchemes": {"jwt": {"enabled": true, "source": "c2VjcmV0"},
			"key": {"enabled": true}, "key2": {"enabled": true}, "basic": {"enabled": false}}, "hmac": {"enabled": true}` + extra + `}`
	}
	for _, tc := range []struct {
		name, security, auth string
		want                 string // security_requirements, or the error's words
		err                  bool
	}{
		{"key or JWT, or HMAC", `[{"jwt": []}, {"key": []}]`, auth("compliant", `, "security": [["hmac"]]`), `[["jwt"],["authToken"],["hmac"]]`, false},
		{"both, or HMAC from Tyk's own list", `[{"jwt": [], "key": []}]`, auth("compliant", `, "security": [["hmac"]]`), `[["jwt","authToken"],["hmac"]]`, false},
		{"legacy: none", `[{"jwt": []}, {"key": []}]`, auth("legacy", ""), ``, false},
		{"two apiKey schemes", `[{"key": []}, {"key2": []}]`, auth("compliant", ""), `name "key" and "key2", both authToken schemes`, true},
		{"a scheme switched off", `[{"basic": []}]`, auth("compliant", ""), `names "basic", which is not enabled`, true},
		{"an unknown name", `[{"key": []}]`, auth("compliant", `, "security": [["nope"]]`), `names "nope", which is no scheme`, true},
		{"a scheme type not served", `[{"key": [], "oidc": []}]`, auth("compliant", ""), `names "oidc", a scheme of type "openIdConnect"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(doc(t, map[string]string{"security": tc.security, "components.securitySchemes": schemes, "x.server.authentication": tc.auth}))
			if err != nil {
				t.Fatal(err)
			}
			def, err := d.Classic()
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want one saying %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(def.SecurityRequirements); got != tc.want {
				t.Errorf("security_requirements = %s, want %s", got, tc.want)
			}
			if err := def.Validate(); err != nil && tc.want != "" {
				t.Errorf("the Classic definition is refused: %v", err)
			}
		})
	}
}

// TestOperationPattern: an operation's Classic pattern, compiled as the endpoint lists compile a
// grant, matches its path exactly: parameters one segment each, other characters literally.
func TestOperationPattern(t *testing.T) {
	for _, c := range []struct {
		path      string
		match, no []string
	}{
		{"/users/{id}", []string{"/users/1", "/users/abc"}, []string{"/users", "/users/", "/users/1/secrets", "/users/1/"}},
		{"/status.json", []string{"/status.json"}, []string{"/statusXjson", "/status.json/x"}},
		{"/a(b|c)/{x}.txt", []string{"/a(b|c)/f.txt"}, []string{"/ab/f.txt", "/a(b|c)/fXtxt", "/a(b|c)/f/g.txt"}},
		{"/files/*", []string{"/files/*"}, []string{"/files/a", "/files/a/b"}},
		{"/r/{id:[0-9]+}", []string{"/r/7", "/r/x"}, []string{"/r/7/8"}},
		{"/odd/{unclosed", []string{"/odd/{unclosed"}, []string{"/odd/x"}},
		{"/n/{a{b}/c", []string{"/n/x/c"}, []string{"/n/x/y/c"}},
	} {
		pat := (Operation{Path: c.path}).Pattern()
		p, err := endpoint.Compile(pat, nil, false)
		if err != nil {
			t.Errorf("%s: %s does not compile: %v", c.path, pat, err)
			continue
		}
		for _, m := range c.match {
			if !p.Match("GET", m) {
				t.Errorf("%s (%s) does not match %s", c.path, pat, m)
			}
		}
		for _, m := range c.no {
			if p.Match("GET", m) {
				t.Errorf("%s (%s) matches %s", c.path, pat, m)
			}
		}
	}
}
