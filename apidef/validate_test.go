package apidef_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// validDef returns a definition that passes Validate; each case changes one thing.
func validDef() *apidef.APIDefinition {
	return &apidef.APIDefinition{
		Name:   "Test",
		APIID:  "my-api_1.v2",
		OrgID:  "default",
		Active: true,
		Proxy: apidef.ProxyConfig{
			ListenPath: "/api/",
			TargetURL:  "http://upstream:8080/base",
		},
		Auth: apidef.AuthConfig{AuthHeaderName: "Authorization"},
		VersionData: apidef.VersionData{
			NotVersioned: true,
			Versions: map[string]apidef.VersionInfo{
				"Default": {Name: "Default"},
			},
		},
	}
}

// joinedErrors returns the individual errors of an errors.Join result.
func joinedErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidate(t *testing.T) {
	twoVersions := func(a *apidef.APIDefinition) {
		a.VersionData.NotVersioned = false
		a.VersionData.Versions = map[string]apidef.VersionInfo{
			"v1": {Name: "v1"},
			"v2": {Name: "v2"},
		}
	}
	oneVersion := func(v apidef.VersionInfo) func(a *apidef.APIDefinition) {
		return func(a *apidef.APIDefinition) {
			a.VersionData.Versions = map[string]apidef.VersionInfo{"v1": v}
		}
	}
	tests := []struct {
		name   string
		modify func(a *apidef.APIDefinition)
		// want is a substring of the single error expected; "" means valid.
		want string
	}{
		{name: "valid base", modify: func(a *apidef.APIDefinition) {}},

		// jwt_jwks_uris
		{name: "several JWKS", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTSigningMethod = true, "rsa"
			a.JWTJwksURIs = []apidef.JWKSURI{{URL: "https://a.test/jwks", CacheTimeout: 60}, {URL: "http://b.test/jwks"}}
		}},
		{name: "JWKS with an HMAC method", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTJwksURIs = true, []apidef.JWKSURI{{URL: "https://a.test/jwks"}}
		}, want: "jwt_jwks_uris: JWKS keys need jwt_signing_method rsa or ecdsa"},
		{name: "a JWKS that is no URL", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTSigningMethod, a.JWTJwksURIs = true, "ecdsa", []apidef.JWKSURI{{URL: "file:///etc/keys"}}
		}, want: `jwt_jwks_uris[0].url: "file:///etc/keys" is not an http(s) URL`},
		{name: "a negative JWKS cache timeout", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTSigningMethod, a.JWTJwksURIs = true, "rsa", []apidef.JWKSURI{{URL: "https://a.test/jwks", CacheTimeout: -1}}
		}, want: "jwt_jwks_uris[0].cache_timeout: -1 is negative"},
		{name: "too many JWKS", modify: func(a *apidef.APIDefinition) {
			a.EnableJWT, a.JWTSigningMethod = true, "rsa"
			for range apidef.MaxJWKSURIs + 1 {
				a.JWTJwksURIs = append(a.JWTJwksURIs, apidef.JWKSURI{URL: "https://a.test/jwks"})
			}
		}, want: "jwt_jwks_uris: 11 URLs, at most 10"},

		// uptime_tests
		{name: "uptime checks", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "http://a.test/health", Headers: map[string]string{"X-Probe": "gw"}, Body: "e30="},
				{URL: "h2c://grpc.test:9000/health"}, {URL: "db.test:5432", Protocol: "tcp", Commands: []apidef.CheckCommand{{Name: "send", Message: "x"}}}}
		}},
		{name: "uptime header value with a line break", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "http://a.test", Headers: map[string]string{"X-A": "a\r\nb"}}}
		}, want: `uptime_tests.check_list[0]: header "X-A": a value may not hold CR, LF or NUL`},
		{name: "uptime relative URL", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "/health"}}
		}, want: `uptime_tests.check_list[0]: url "/health" must be an absolute http, https or h2c URL`},
		{name: "uptime body not base64", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "http://a.test", Body: "{not base64}"}}
		}, want: `uptime_tests.check_list[0]: body is not base64`},
		{name: "uptime tcp without a port", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "db.test", Protocol: "tcp"}}
		}, want: `must name a host and port`},
		{name: "uptime unknown command", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "db.test:1", Protocol: "tls", Commands: []apidef.CheckCommand{{Name: "shout"}}}}
		}, want: `commands[0].name "shout" must be send or expect`},
		{name: "uptime unknown protocol", modify: func(a *apidef.APIDefinition) {
			a.UptimeTests.CheckList = []apidef.HostCheck{{URL: "db.test:1", Protocol: "udp"}}
		}, want: `protocol "udp" is not http, https, tcp or tls`},

		// use_oauth2
		{name: "oauth grants", modify: func(a *apidef.APIDefinition) {
			a.UseOauth2, a.OAuthMeta.AllowedAccessTypes, a.OAuthMeta.AllowedAuthorizeTypes = true, []string{"client_credentials", "password"}, []string{"code", "token"}
			a.Notifications.OAuthKeyChangeURL = "https://hooks.test/oauth"
		}},
		{name: "oauth assertion grant", modify: func(a *apidef.APIDefinition) {
			a.UseOauth2, a.OAuthMeta.AllowedAccessTypes = true, []string{"assertion"}
		}, want: `oauth_meta.allowed_access_types[0]: "assertion" is not one of`},
		{name: "oauth unknown response type", modify: func(a *apidef.APIDefinition) {
			a.UseOauth2, a.OAuthMeta.AllowedAuthorizeTypes = true, []string{"id_token"}
		}, want: `oauth_meta.allowed_authorize_types[0]: "id_token"`},
		{name: "oauth notification URL", modify: func(a *apidef.APIDefinition) {
			a.UseOauth2, a.Notifications.OAuthKeyChangeURL = true, "ftp://hooks.test/x"
		}, want: "notifications.oauth_on_keychange_url"},

		// upstream_auth
		{name: "upstream basic auth", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u", Password: "p"}}
		}},
		{name: "upstream basic auth without a user", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Password: "p"}}
		}, want: "upstream_auth.basic_auth.username: missing"},
		{name: "upstream basic auth user with a colon", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "a:b"}}
		}, want: "cannot hold ':'"},
		{name: "upstream basic auth password with CR LF", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u", Password: "p\r\nX-Evil: 1"}}
		}, want: "holds CR, LF or NUL"},
		{name: "upstream basic auth in Proxy-Authorization", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u", HeaderName: "Proxy-Authorization"}}
		}, want: "hop-by-hop"},
		{name: "upstream basic auth header not a name", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u", HeaderName: "X Auth"}}
		}, want: `"X Auth" is not a header name`},
		{name: "upstream basic auth in Connection", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u", Header: apidef.UpstreamAuthHdr{Enabled: true, Name: "connection"}}}
		}, want: "hop-by-hop"},
		{name: "upstream basic auth switched off is not checked", modify: func(a *apidef.APIDefinition) {
			a.UpstreamAuth = apidef.UpstreamAuth{BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, HeaderName: "X Auth"}}
		}},

		// proxy.service_discovery: settings that can find no target are refused.
		{name: "service discovery", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul:8500/v1/catalog/service/x",
				EndpointReturnsList: true, UseTargetList: true, DataPath: "ServiceAddress", PortDataPath: "ServicePort", TargetPath: "/v1"}
		}},
		{name: "service discovery without an endpoint", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "consul:8500", DataPath: "x"}
		}, want: "query_endpoint: \"consul:8500\" is not an http:// or https:// URL"},
		{name: "service discovery without a data path", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul"}
		}, want: "data_path: missing"},
		{name: "service discovery nested without a parent", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://etcd", DataPath: "x", UseNestedQuery: true}
		}, want: "use_nested_query reads the JSON"},
		{name: "service discovery target list of an object without a parent", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://eureka", DataPath: "x", UseTargetList: true}
		}, want: "use_target_list on an answer that is an object"},
		{name: "service discovery target path with a query", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul", DataPath: "x", TargetPath: "/v1?x=1"}
		}, want: "target_path"},
		{name: "service discovery with a looped target_url", modify: func(a *apidef.APIDefinition) {
			a.Proxy.TargetURL = "tyk://other/"
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul", DataPath: "x"}
		}, want: "loops to an API"},
		{name: "service discovery with load balancing and no targets", modify: func(a *apidef.APIDefinition) {
			a.Proxy.TargetURL, a.Proxy.EnableLoadBalancing = "", true
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul", DataPath: "x"}
		}},
		{name: "service discovery with a bad target_url", modify: func(a *apidef.APIDefinition) {
			a.Proxy.TargetURL, a.Proxy.EnableLoadBalancing = "ftp://x", true
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://consul", DataPath: "x"}
		}, want: "proxy.target_url"},
		{name: "service discovery switched off is not checked", modify: func(a *apidef.APIDefinition) {
			a.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{QueryEndpoint: "nope"}
		}},

		// request_signing: what Tyk answers 500 to every request with is refused.
		{name: "request signing hmac", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha512", Secret: "s", HeaderList: []string{"(request-target)", "Date", "x-tenant"}}
		}},
		{name: "request signing rsa", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "rsa-sha256", CertificateID: "certs/sign.pem", SignatureHeader: "X-Signature"}
		}},
		{name: "request signing switched off is not checked", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{Algorithm: "md5"}
		}},
		{name: "request signing without a key id", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, Algorithm: "hmac-sha256", Secret: "s"}
		}, want: "request_signing.key_id: missing"},
		{name: "request signing key id with a quote", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: `k",signature="x`, Algorithm: "hmac-sha256", Secret: "s"}
		}, want: "cannot stand between the quotes"},
		{name: "request signing key id with CR LF", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k\r\nX-Evil: 1", Algorithm: "hmac-sha256", Secret: "s"}
		}, want: "cannot stand between the quotes"},
		{name: "request signing without an algorithm", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Secret: "s"}
		}, want: "request_signing.algorithm: missing"},
		{name: "request signing unknown algorithm", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-md5", Secret: "s"}
		}, want: `request_signing.algorithm: "hmac-md5" is not one of`},
		{name: "request signing algorithm left out of hmac_allowed_algorithms", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha1", Secret: "s"}
			a.HmacAllowedAlgorithms = []string{"hmac-sha256"}
		}, want: "is not among hmac_allowed_algorithms"},
		{name: "request signing hmac without a secret", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", CertificateID: "c.pem"}
		}, want: "request_signing.secret: missing"},
		{name: "request signing rsa without a certificate", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "rsa-sha256", Secret: "s"}
		}, want: "request_signing.certificate_id: missing"},
		{name: "request signing header list with a bad name", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", HeaderList: []string{"date", "x tenant"}}
		}, want: `request_signing.header_list[1]: "x tenant" is not a header name`},
		{name: "request signing header list signing the signature", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", HeaderList: []string{"authorization"}}
		}, want: "it cannot sign itself"},
		{name: "request signing in a hop-by-hop header", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", SignatureHeader: "Connection"}
		}, want: "request_signing.signature_header: \"Connection\" is a hop-by-hop"},
		{name: "request signing key id with DEL", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k\x7f", Algorithm: "hmac-sha256", Secret: "s"}
		}, want: "cannot stand between the quotes"},
		{name: "request signing header list with x-aux-date", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", HeaderList: []string{"(request-target)", "X-Aux-Date"}}
		}, want: "x-aux-date is the client's date"},
		{name: "request signing header list too long", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", HeaderList: make([]string, 101)}
			for i := range a.RequestSigning.HeaderList {
				a.RequestSigning.HeaderList[i] = "x-h"
			}
		}, want: "header_list: more than 100 names"},
		{name: "request signing in a header that is no name", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", SignatureHeader: "X Sig"}
		}, want: `request_signing.signature_header: "X Sig" is not a header name`},
		{name: "request signing in x-aux-date", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", SignatureHeader: "X-Aux-Date"}
		}, want: "date header"},
		{name: "request signing in the date", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s", SignatureHeader: "date"}
		}, want: "date header"},
		{name: "request signing where upstream basic auth goes", modify: func(a *apidef.APIDefinition) {
			a.RequestSigning = apidef.RequestSigning{IsEnabled: true, KeyID: "k", Algorithm: "hmac-sha256", Secret: "s"}
			a.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "u"}}
		}, want: "upstream_auth.basic_auth puts its credentials in \"Authorization\" too"},

		// expiration
		{name: "expiration", modify: func(a *apidef.APIDefinition) { a.Expiration = "2030-01-01 00:00" }},
		{name: "expiration never", modify: func(a *apidef.APIDefinition) { a.Expiration = "-1" }},
		{name: "expiration not a date", modify: func(a *apidef.APIDefinition) { a.Expiration = "2030-01-01T00:00:00Z" }, want: `expiration: "2030-01-01T00:00:00Z" is not a date like "2006-01-02 15:04"`},

		// response_processors
		{name: "response processors not a list", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`{"name": "header_injector"}`)
		}, want: "response_processors: json: cannot unmarshal object"},
		{name: "header injector options of the wrong shape", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`[{"name": "header_injector", "options": {"add_headers": ["X-A"]}}]`)
		}, want: "response_processors[0] (header_injector).options"},
		{name: "response processors an empty object", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`{}`)
		}, want: "response_processors: json: cannot unmarshal object"},
		{name: "header injector options a list", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`[{"name": "header_injector", "options": []}]`)
		}, want: "response_processors[0] (header_injector).options"},
		{name: "header injector null options", modify: func(a *apidef.APIDefinition) {
			a.ResponseProcessors = json.RawMessage(`[{"name": "header_injector", "options": null}, {"name": "response_body_transform", "options": {"x": 1}}]`)
		}},

		// api_id
		{name: "api_id missing", modify: func(a *apidef.APIDefinition) { a.APIID = "" }, want: "api_id: missing"},
		{name: "api_id 128 chars ok", modify: func(a *apidef.APIDefinition) { a.APIID = strings.Repeat("a", 128) }},
		{name: "api_id 129 chars", modify: func(a *apidef.APIDefinition) { a.APIID = strings.Repeat("a", 129) }, want: "api_id: longer than 128 characters"},
		{name: "api_id leading dot", modify: func(a *apidef.APIDefinition) { a.APIID = ".hidden" }, want: `api_id: ".hidden" must not start with a dot`},
		{name: "api_id lone dot", modify: func(a *apidef.APIDefinition) { a.APIID = "." }, want: "must not start with a dot"},
		{name: "api_id dotdot", modify: func(a *apidef.APIDefinition) { a.APIID = ".." }, want: "must not start with a dot"},
		{name: "api_id inner dot ok", modify: func(a *apidef.APIDefinition) { a.APIID = "a.b" }},
		{name: "api_id all allowed classes", modify: func(a *apidef.APIDefinition) { a.APIID = "AZaz09-_." }},
		{name: "api_id slash", modify: func(a *apidef.APIDefinition) { a.APIID = "a/b" }, want: "may hold only letters, digits"},
		{name: "api_id backslash", modify: func(a *apidef.APIDefinition) { a.APIID = `a\b` }, want: "may hold only letters, digits"},
		{name: "api_id space", modify: func(a *apidef.APIDefinition) { a.APIID = "a b" }, want: "may hold only letters, digits"},
		{name: "api_id colon", modify: func(a *apidef.APIDefinition) { a.APIID = "a:b" }, want: "may hold only letters, digits"},
		{name: "api_id non-ascii letter", modify: func(a *apidef.APIDefinition) { a.APIID = "caf\u00e9" }, want: "may hold only letters, digits"},
		{name: "api_id NUL", modify: func(a *apidef.APIDefinition) { a.APIID = "a\x00b" }, want: "may hold only letters, digits"},

		// listen path
		{name: "listen_path missing", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "" }, want: "proxy.listen_path: missing"},
		{name: "listen_path root ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/" }},
		{name: "listen_path no trailing slash ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/b" }},
		{name: "listen_path plain punctuation ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a.b/c-d_e~f/" }},
		{name: "listen_path exactly 1024 ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/" + strings.Repeat("a", 1023) }},
		{name: "listen_path 1025 refused", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/" + strings.Repeat("a", 1024) }, want: "proxy.listen_path: longer than 1024 characters"},
		{name: "listen_path relative", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "api/" }, want: `proxy.listen_path: "api/" must start with '/'`},
		{name: "listen_path space", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a b/" }, want: "holds ' '"},
		{name: "listen_path tab", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a\tb/" }, want: `holds '\t'`},
		{name: "listen_path NUL", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a\x00b/" }, want: `holds '\x00'`},
		{name: "listen_path DEL", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a\x7fb/" }, want: `holds '\x7f'`},
		{name: "listen_path percent", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a%2fb/" }, want: "holds '%'"},
		{name: "listen_path question", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a?b" }, want: "holds '?'"},
		{name: "listen_path hash", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a#b" }, want: "holds '#'"},
		{name: "listen_path open brace", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/{id" }, want: "holds '{'"},
		{name: "listen_path close brace", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/id}" }, want: "holds '}'"},
		{name: "listen_path star", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/*" }, want: "holds '*'"},
		{name: "listen_path backslash", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = `/a\b` }, want: `holds '\\'`},
		{name: "listen_path double quote", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = `/a"b` }, want: `holds '"'`},
		{name: "listen_path less", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a<b" }, want: "holds '<'"},
		{name: "listen_path greater", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a>b" }, want: "holds '>'"},
		{name: "listen_path pipe", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a|b" }, want: "holds '|'"},
		{name: "listen_path caret", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a^b" }, want: "holds '^'"},
		{name: "listen_path backquote", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a`b" }, want: "holds '`'"},
		{name: "listen_path double slash", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "//" }, want: "has an empty, '.' or '..' segment"},
		{name: "listen_path triple slash", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "///" }, want: "has an empty, '.' or '..' segment"},
		// Only one trailing slash may be dropped: "/a//" ends in an empty segment.
		{name: "listen_path one trailing slash ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/" }},
		{name: "listen_path two trailing slashes", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a//" }, want: `proxy.listen_path: "/a//" has an empty, '.' or '..' segment`},
		{name: "listen_path inner empty segment", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a//b/" }, want: "has an empty, '.' or '..' segment"},
		{name: "listen_path dot segment", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/./b" }, want: "has an empty, '.' or '..' segment"},
		{name: "listen_path trailing dot", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/." }, want: "has an empty, '.' or '..' segment"},
		{name: "listen_path dotdot segment", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a/../b/" }, want: "has an empty, '.' or '..' segment"},
		{name: "listen_path dots inside segment ok", modify: func(a *apidef.APIDefinition) { a.Proxy.ListenPath = "/a..b/...c/" }},

		// target URL
		{name: "target_url missing", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "" }, want: "proxy.target_url: missing"},
		{name: "target_url https with port ok", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "https://example.com:8443/p" }},
		{name: "target_url tyk with a path", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "tyk://self/path" }, want: `proxy.target_url: "tyk://self/path": a looping target_url takes no path or query`},
		{name: "target_url tyk with a query", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "tyk://other?check_limits=true" }, want: "takes no path or query"},
		{name: "target_url tyk with a port", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "tyk://other:80" }, want: "names an API"},
		{name: "target_url tyk without an API", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "tyk:///x" }, want: "names an API"},
		{name: "target_url ftp", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "ftp://example.com/" }, want: `proxy.target_url: "ftp://example.com/": scheme must be http or https`},
		{name: "target_url no scheme", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "example.com/path" }, want: "scheme must be http or https"},
		{name: "target_url host:port without scheme", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "localhost:8080" }, want: "scheme must be http or https"},
		{name: "target_url h2c", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "h2c://grpc.example.com:50051" }},
		{name: "proxy_url http", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.ProxyURL = "http://user:pw@egress:3128" }},
		{name: "proxy_url socks5", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.ProxyURL = "socks5://egress:1080" }},
		{name: "proxy_url bad scheme", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.ProxyURL = "ftp://egress" }, want: `proxy.transport.proxy_url: scheme "ftp": use http, https or socks5`},
		{name: "proxy_url no host", modify: func(a *apidef.APIDefinition) { a.Proxy.Transport.ProxyURL = "egress:3128" }, want: "proxy.transport.proxy_url"},
		{name: "target_url no host", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "http:///path" }, want: `proxy.target_url: "http:///path" has no host`},
		{name: "target_url query", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "http://example.com/?a=1" }, want: "a target URL may not carry a query or fragment"},
		{name: "target_url fragment", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "http://example.com/#frag" }, want: "a target URL may not carry a query or fragment"},
		{name: "target_url unparsable", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "http://[::1" }, want: "is not a URL"},
		{name: "target_url unparsable no scheme", modify: func(a *apidef.APIDefinition) { a.Proxy.TargetURL = "://x" }, want: `proxy.target_url: "://x" is not a URL`},

		// load balancing
		{name: "load balancing empty list", modify: func(a *apidef.APIDefinition) { a.Proxy.EnableLoadBalancing = true }, want: "proxy.target_list: load balancing is enabled but the list is empty"},
		{name: "load balancing valid list ignores target_url", modify: func(a *apidef.APIDefinition) {
			a.Proxy.EnableLoadBalancing = true
			a.Proxy.TargetURL = ""
			a.Proxy.Targets = []string{"http://a:1", "https://b"}
		}},
		{name: "load balancing bad entry indexed", modify: func(a *apidef.APIDefinition) {
			a.Proxy.EnableLoadBalancing = true
			a.Proxy.Targets = []string{"http://a:1", "tyk://b"}
		}, want: `proxy.target_list[1]: "tyk://b": looping (tyk://) is supported in proxy.target_url and URL rewrites only`},
		{name: "load balancing off ignores target_list", modify: func(a *apidef.APIDefinition) {
			a.Proxy.Targets = []string{"ftp://nope"}
		}},

		// auth param / cookie names
		{name: "use_param without names", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseParam: true}
		}, want: "auth: use_param is set but neither param_name nor auth_header_name names the parameter"},
		{name: "use_param with param_name", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseParam: true, ParamName: "key"}
		}},
		{name: "use_param with auth_header_name", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseParam: true, AuthHeaderName: "key"}
		}},
		{name: "use_cookie without names", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseCookie: true}
		}, want: "auth: use_cookie is set but neither cookie_name nor auth_header_name names the cookie"},
		{name: "use_cookie with cookie_name", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseCookie: true, CookieName: "session"}
		}},
		{name: "use_param without names on keyless", modify: func(a *apidef.APIDefinition) {
			a.UseKeylessAccess = true
			a.Auth = apidef.AuthConfig{UseParam: true, UseCookie: true}
		}},
		{name: "auth_configs authToken takes precedence", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseParam: true, ParamName: "key"}
			a.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {UseCookie: true}}
		}, want: "auth: use_cookie is set"},
		{name: "auth_configs authToken fixes legacy auth", modify: func(a *apidef.APIDefinition) {
			a.Auth = apidef.AuthConfig{UseParam: true}
			a.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {UseParam: true, ParamName: "k"}}
		}},

		// global rate limit
		{name: "global_rate_limit zero ok", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{} }},
		{name: "global_rate_limit positive ok", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 10, Per: 60} }},
		{name: "global_rate_limit rate without per", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 10} }, want: "global_rate_limit: per is 0; with a rate of 10 it must be a positive number of seconds (a rate of 0 sets no limit)"},
		// One rule with keys (apidef.CheckRate): a rate of 0 or less sets no limit, whatever per says.
		{name: "global_rate_limit per without rate", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Per: 60} }},
		{name: "global_rate_limit negative", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: -1, Per: -1} }},
		{name: "global_rate_limit negative rate positive per", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: -5, Per: 1} }},
		{name: "global_rate_limit negative per", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 5, Per: -1} }, want: "global_rate_limit: per is -1"},
		{name: "global_rate_limit per below a millisecond", modify: func(a *apidef.APIDefinition) { a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1, Per: 1e-10} }, want: "global_rate_limit: per 1e-10 is less than 0.001 seconds"},
		{name: "global_rate_limit disabled not checked", modify: func(a *apidef.APIDefinition) {
			a.GlobalRateLimit = apidef.GlobalRateLimit{Disabled: true, Rate: 10}
		}},

		{name: "global_rate_limit at the bounds ok", modify: func(a *apidef.APIDefinition) {
			a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: apidef.MaxRate, Per: apidef.MaxPeriod}
		}},
		{name: "global_rate_limit rate above MaxRate", modify: func(a *apidef.APIDefinition) {
			a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: apidef.MaxRate + 1, Per: 1}
		}, want: "global_rate_limit: rate 1.000000001e+09 is more than 1e+09"},
		{name: "global_rate_limit per above MaxPeriod", modify: func(a *apidef.APIDefinition) {
			a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1, Per: apidef.MaxPeriod + 1}
		}, want: "global_rate_limit: per 3.153600001e+09 is more than 3153600000 seconds"},
		{name: "global_rate_limit disabled above the bounds not checked", modify: func(a *apidef.APIDefinition) {
			a.GlobalRateLimit = apidef.GlobalRateLimit{Disabled: true, Rate: apidef.MaxRate * 10, Per: apidef.MaxPeriod * 10}
		}},

		{name: "session_lifetime negative", modify: func(a *apidef.APIDefinition) { a.SessionLifetime = -1 }, want: "session_lifetime: must be between 0 and"},
		{name: "session_lifetime at MaxPeriod ok", modify: func(a *apidef.APIDefinition) { a.SessionLifetime = apidef.MaxPeriod }},
		{name: "session_lifetime above MaxPeriod", modify: func(a *apidef.APIDefinition) { a.SessionLifetime = apidef.MaxPeriod + 1 }, want: "session_lifetime: must be between 0 and 3153600000 seconds"},

		// domain
		{name: "domain with port ok", modify: func(a *apidef.APIDefinition) { a.Domain = "api.example.com:8080" }},
		{name: "domain wildcard", modify: func(a *apidef.APIDefinition) { a.Domain = "*.example.com" }, want: `domain: "*.example.com" may hold only a host name`},
		{name: "domain pattern", modify: func(a *apidef.APIDefinition) { a.Domain = "{sub}.example.com" }, want: "patterns are not supported"},

		// versions
		{name: "no versions ok", modify: func(a *apidef.APIDefinition) { a.VersionData = apidef.VersionData{} }},
		{name: "several versions need location", modify: twoVersions, want: `definition.location: "" is not one of header, url-param, url`},
		{name: "several versions bad location", modify: func(a *apidef.APIDefinition) {
			twoVersions(a)
			a.VersionDefinition.Location = "query"
		}, want: `definition.location: "query" is not one of header, url-param, url`},
		{name: "several versions header", modify: func(a *apidef.APIDefinition) {
			twoVersions(a)
			a.VersionDefinition.Location = "header"
		}},
		{name: "several versions url-param", modify: func(a *apidef.APIDefinition) {
			twoVersions(a)
			a.VersionDefinition.Location = "url-param"
		}},
		{name: "several versions url", modify: func(a *apidef.APIDefinition) {
			twoVersions(a)
			a.VersionDefinition.Location = "url"
		}},
		{name: "several versions not_versioned need no location", modify: func(a *apidef.APIDefinition) {
			twoVersions(a)
			a.VersionData.NotVersioned = true
		}},
		{name: "one version versioned needs no location", modify: func(a *apidef.APIDefinition) {
			a.VersionData.NotVersioned = false
			a.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {Name: "v1"}}
		}},
		{name: "default_version present", modify: func(a *apidef.APIDefinition) { a.VersionData.DefaultVersion = "Default" }},
		{name: "default_version absent", modify: func(a *apidef.APIDefinition) { a.VersionData.DefaultVersion = "v9" }, want: `version_data.default_version: "v9" is not among the versions`},
		{name: "default_version is case-sensitive", modify: func(a *apidef.APIDefinition) { a.VersionData.DefaultVersion = "default" }, want: `"default" is not among the versions`},
		{name: "expires valid", modify: oneVersion(apidef.VersionInfo{Expires: "3000-01-02 15:04"})},
		{name: "expires -1", modify: oneVersion(apidef.VersionInfo{Expires: "-1"})},
		{name: "expires date only", modify: oneVersion(apidef.VersionInfo{Expires: "2030-01-02"}), want: `version_data.versions["v1"].expires: "2030-01-02" is not a date like "2006-01-02 15:04"`},
		{name: "expires RFC3339", modify: oneVersion(apidef.VersionInfo{Expires: "2030-01-02T15:04:05Z"}), want: `versions["v1"].expires`},
		{name: "expires with seconds", modify: oneVersion(apidef.VersionInfo{Expires: "2030-01-02 15:04:05"}), want: `versions["v1"].expires`},
		{name: "expires garbage", modify: oneVersion(apidef.VersionInfo{Expires: "never"}), want: `versions["v1"].expires: "never"`},
		{name: "override_target valid", modify: oneVersion(apidef.VersionInfo{OverrideTarget: "https://v1.example.com"})},
		{name: "override_target tyk", modify: oneVersion(apidef.VersionInfo{OverrideTarget: "tyk://other"}), want: `version_data.versions["v1"].override_target: "tyk://other": looping (tyk://) is supported in proxy.target_url and URL rewrites only`},
		{name: "override_target bad scheme", modify: oneVersion(apidef.VersionInfo{OverrideTarget: "ws://x"}), want: `versions["v1"].override_target: "ws://x": scheme must be http or https`},
		{name: "override_target query", modify: oneVersion(apidef.VersionInfo{OverrideTarget: "http://x/?q"}), want: `versions["v1"].override_target`},
		{name: "global_size_limit negative", modify: oneVersion(apidef.VersionInfo{GlobalSizeLimit: -1}), want: `version_data.versions["v1"].global_size_limit: must not be negative`},

		// traffic
		{name: "allowed_ips malformed", modify: func(a *apidef.APIDefinition) {
			a.EnableIPWhiteListing, a.AllowedIPs = true, []string{"10.0.0.1", "10.0.0.0/40"}
		}, want: `allowed_ips[1]: "10.0.0.0/40" is not a CIDR range`},
		{name: "blacklisted_ips malformed without flag", modify: func(a *apidef.APIDefinition) { a.BlacklistedIPs = []string{"localhost"} }, want: `blacklisted_ips[0]: "localhost" is not an IP address or CIDR range`},
		{name: "switched-off list not checked", modify: func(a *apidef.APIDefinition) {
			a.BlacklistedIPs, a.IPAccessControlDisabled = []string{"localhost"}, true
		}},
		{name: "allow list enabled but empty", modify: func(a *apidef.APIDefinition) { a.EnableIPWhiteListing = true }, want: "enable_ip_whitelisting is set but the list is empty"},
		{name: "block list enabled but empty", modify: func(a *apidef.APIDefinition) { a.EnableIPBlacklisting = true }, want: "enable_ip_blacklisting is set but the list is empty"},
		{name: "CORS origin with two wildcards", modify: func(a *apidef.APIDefinition) {
			a.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://*.*.example"}}
		}, want: "more than one '*'"},
		{name: "global_enforce_timeout bad", modify: oneVersion(apidef.VersionInfo{GlobalEnforceTimeout: "soon"}), want: `version_data.versions["v1"].global_enforce_timeout: "soon" is not a positive duration`},
		{name: "global_enforce_timeout disabled not checked", modify: oneVersion(apidef.VersionInfo{GlobalEnforceTimeout: "soon", GlobalEnforceTimeoutDisabled: true})},
		{name: "size_limits negative", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{{Path: "/x", Method: "POST", SizeLimit: -1}}}}), want: `extended_paths.size_limits[0]: size_limit must not be negative`},
		{name: "size_limits without method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{{Path: "/x", SizeLimit: 1}}}}), want: `extended_paths.size_limits[0]: method is missing`},
		{name: "rate_limit without per", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{RateLimit: []apidef.RateLimitMeta{{Path: "/x", Method: "GET", Rate: 5}}}}), want: `extended_paths.rate_limit[0]: per is 0; with a rate of 5 it must be a positive number of seconds`},
		{name: "rate_limit without method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{RateLimit: []apidef.RateLimitMeta{{Path: "/x", Rate: 5, Per: 1}}}}), want: `extended_paths.rate_limit[0]`},
		{name: "rate_limit disabled is not checked", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{RateLimit: []apidef.RateLimitMeta{{Disabled: true, Path: "/x", Rate: 5}}}})},
		{name: "hard_timeouts zero", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{HardTimeouts: []apidef.HardTimeoutMeta{{Path: "/x", Method: "GET"}}}}), want: `extended_paths.hard_timeouts[0]: timeout is 0`},
		{name: "hard_timeouts bad duration", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{HardTimeouts: []apidef.HardTimeoutMeta{{Path: "/x", Method: "GET", TimeOut: 1, Duration: "x"}}}}), want: `duration "x" is not a positive duration`},
		{name: "circuit_breakers threshold", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{CircuitBreaker: []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 50, Samples: 1, ReturnToServiceAfter: 1}}}}), want: `threshold_percent is 50`},
		{name: "circuit_breakers samples", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{CircuitBreaker: []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 0.5, ReturnToServiceAfter: 1}}}}), want: `samples is 0`},
		{name: "circuit_breakers return_to_service_after", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{CircuitBreaker: []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 0.5, Samples: 1}}}}), want: `return_to_service_after must be at least 1 second`},
		{name: "method_transforms to_method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{MethodTransforms: []apidef.MethodTransformMeta{{Path: "/x", Method: "GET", ToMethod: "HEAD"}}}}), want: `to_method "HEAD" is not one of GET, POST, PUT, DELETE, OPTIONS, PATCH`},
		{name: "method_transforms without path", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{MethodTransforms: []apidef.MethodTransformMeta{{Method: "GET", ToMethod: "POST"}}}}), want: `extended_paths.method_transforms[0]: path is missing`},
		{name: "disabled entries not checked", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{{Disabled: true, SizeLimit: -1}}, HardTimeouts: []apidef.HardTimeoutMeta{{Disabled: true}}, CircuitBreaker: []apidef.CircuitBreakerMeta{{Disabled: true}}, MethodTransforms: []apidef.MethodTransformMeta{{Disabled: true}}}})},
		{name: "validate_json valid", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"type": "object"}`), ErrorResponseCode: 400}}}})},
		{name: "validate_json draft-04 $schema", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"$schema": "http://json-schema.org/draft-04/schema#"}`)}}}})},
		{name: "validate_json without schema", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST"}}}}), want: `extended_paths.validate_json[0]: schema is missing`},
		{name: "validate_json null schema", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`null`)}}}}), want: `schema is missing`},
		{name: "validate_json schema not an object", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`true`)}}}}), want: `validate_json[0]: schema is not a JSON object`},
		{name: "validate_json other draft", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{"$schema": "http://json-schema.org/draft-07/schema#"}`)}}}}), want: `schema.$schema is "http://json-schema.org/draft-07/schema#"; Tyk accepts only`},
		{name: "validate_json error code not an error", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST", Schema: json.RawMessage(`{}`), ErrorResponseCode: 200}}}}), want: `error_response_code 200 is not an error status`},
		{name: "validate_json without method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Schema: json.RawMessage(`{}`)}}}}), want: `validate_json[0]: method is missing`},
		{name: "validate_json disabled not checked", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{{Disabled: true}}}})},
		{name: "mock_response code 0", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{MockResponse: []apidef.MockResponseMeta{{Path: "/x", Method: "GET"}}}}), want: `extended_paths.mock_response[0]: code 0 is not a final HTTP status`},
		{name: "mock_response without method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{MockResponse: []apidef.MockResponseMeta{{Path: "/x", Code: 200}}}}), want: `mock_response[0]: method is missing`},
		{name: "reply code out of range", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{WhiteList: []apidef.EndPointMeta{{Path: "/x", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "reply", Code: 1000}}}}}}), want: `white_list[0].method_actions.GET: code 1000 is not a final HTTP status`},
		{name: "no_action code not checked", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{WhiteList: []apidef.EndPointMeta{{Path: "/x", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}}}}}})},
		{name: "url_rewrites valid", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "/x/(.*)", RewriteTo: "/y/$1?a=$tyk_context.path"}}}})},
		{name: "url_rewrites bad regexp", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "(", RewriteTo: "/y"}}}}), want: `url_rewrites[0].match_pattern: "(" is not a valid regular expression`},
		{name: "url_rewrites bad trigger regexp", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y", Triggers: []apidef.RoutingTrigger{{On: "any", RewriteTo: "/z", Options: apidef.RoutingTriggerOptions{HeaderMatches: map[string]apidef.StringRegexMap{"X-A": {MatchRx: "[a"}}}}}}}}}), want: `url_rewrites[0].triggers[0].options.header_matches["X-A"].match_rx: "[a" is not a valid regular expression`},
		{name: "url_rewrites trigger on", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y", Triggers: []apidef.RoutingTrigger{{On: "some", RewriteTo: "/z"}}}}}}), want: `triggers[0].on: "some" is not "any" or "all"`},
		{name: "url_rewrites env and conf secrets", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y?k=$secret_env.KEY&c=$secret_conf.c"}}}})},
		{name: "url_rewrites file secret", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y?k=$secret_env.KEY&f=$secret_file.k"}}}}),
			want: `secret variable $secret_file is not read by Gatehouse (only $secret_env and $secret_conf are)`},
		{name: "url_rewrites tyk self", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://$1/y"}}}}), want: `must be written out, not taken from the request`},
		// A looping target's control parameters refuse the definition when it is validated, not
		// only when the API compiles.
		{name: "url_rewrites tyk controls", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?method=post&loop_limit=100&check_limits=true"}}}})},
		{name: "url_rewrites tyk loop_limit too high", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?loop_limit=500"}}}}), want: `version_data.versions["v1"].extended_paths.url_rewrites[0].rewrite_to: "tyk://self/y?loop_limit=500": loop_limit "500": want a number from 1 to 100`},
		{name: "url_rewrites tyk loop_limit zero", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?loop_limit=0"}}}}), want: `loop_limit "0": want a number from 1 to 100`},
		{name: "url_rewrites tyk unknown control", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?page=2"}}}}), want: `version_data.versions["v1"].extended_paths.url_rewrites[0].rewrite_to: "tyk://self/y?page=2": query parameter "page": a looping target's query holds only method, loop_limit and check_limits`},
		{name: "url_rewrites tyk bad method", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?method=G%20T"}}}}), want: `version_data.versions["v1"].extended_paths.url_rewrites[0].rewrite_to: "tyk://self/y?method=G%20T": method "G T" is not an HTTP method`},
		{name: "url_rewrites tyk check_limits", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?check_limits=yes"}}}}), want: `check_limits "yes": want true or false`},
		{name: "url_rewrites tyk bad query", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?loop_limit=%zz"}}}}), want: `the query of a looping target: invalid URL escape`},
		{name: "url_rewrites tyk controls from the request", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?loop_limit=$tyk_context.headers_X_N"}}}}), want: `takes no variables: the request must not choose them`},
		{name: "url_rewrites trigger tyk loop_limit", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "/y", Triggers: []apidef.RoutingTrigger{{On: "any", RewriteTo: "tyk://self/z?loop_limit=500"}}}}}}), want: `version_data.versions["v1"].extended_paths.url_rewrites[0].triggers[0].rewrite_to: "tyk://self/z?loop_limit=500": loop_limit "500"`},
		{name: "url_rewrites disabled tyk controls not checked", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Disabled: true, Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "tyk://self/y?loop_limit=500"}}}})},
		{name: "url_rewrites host from the request", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "/x/(.*)", RewriteTo: "http://$1/y"}}}}), want: `the host of an absolute target must be written out`},
		{name: "url_rewrites absolute target", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x", RewriteTo: "https://other.example/y"}}}}), want: `absolute targets (a host other than the API's upstream) are not supported`},
		{name: "url_rewrites empty target", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{URLRewrite: []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", MatchPattern: "x"}}}}), want: `url_rewrites[0].rewrite_to: missing`},
		{name: "transform valid blob", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: "e3sgLmEgfX0="}}}}})},
		{name: "transform bad base64", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: "{{ .a }}"}}}}}), want: `transform[0].template_data: template_source is not base64`},
		{name: "transform input type", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{TransformResponse: []apidef.TemplateMeta{{Path: "/x", Method: "GET", TemplateData: apidef.TemplateData{Input: "yaml", Mode: "blob"}}}}}), want: `transform_response[0].template_data: input_type "yaml" is not`},
		{name: "transform file escaping", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "../../etc/passwd"}}}}}), want: `must be a clean relative path inside the template folder`},
		{name: "transform absolute file", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "/etc/passwd"}}}}}), want: `must be a clean relative path`},
		{name: "transform mode", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "inline"}}}}}), want: `template_mode "inline" is not`},
		{name: "entries without use_extended_paths not checked", modify: oneVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{HardTimeouts: []apidef.HardTimeoutMeta{{Path: "/x"}}}})},
		{name: "guards without use_extended_paths", modify: oneVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{{SizeLimit: -1}}}}),
			want: `version_data.versions["v1"]: extended_paths.size_limits would not apply, because the version does not set use_extended_paths (Tyk ignores them too, logging "Legacy path detected! Upgrade to extended."): set "use_extended_paths": true in the version`},
		{name: "every guard without use_extended_paths", modify: oneVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{{Path: "/admin"}}, WhiteList: []apidef.EndPointMeta{{Path: "/public"}},
			Internal: []json.RawMessage{json.RawMessage(`{"path": "/ops"}`)}, ValidateJSON: []apidef.ValidatePathMeta{{Path: "/x", Method: "POST"}},
			SizeLimit: []apidef.RequestSizeMeta{{Path: "/x", Method: "POST", SizeLimit: 10}}, RateLimit: []apidef.RateLimitMeta{{Path: "/x", Method: "GET", Rate: 1, Per: 1}},
			Ignored: []apidef.EndPointMeta{{Path: "/health"}}}}),
			want: `extended_paths.black_list, extended_paths.white_list, extended_paths.internal, extended_paths.validate_json, extended_paths.size_limits, extended_paths.rate_limit would not apply`},
		{name: "disabled guards without use_extended_paths", modify: oneVersion(apidef.VersionInfo{ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{{Path: "/admin", Disabled: true}}, Internal: []json.RawMessage{json.RawMessage(`{"path": "/ops", "disabled": true}`)}}})},
		{name: "legacy black_list with use_extended_paths", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, Paths: apidef.LegacyPaths{BlackList: []string{"/admin"}}}),
			want: `version_data.versions["v1"]: paths.white_list and paths.black_list would not apply, because the version sets use_extended_paths`},
		{name: "legacy white_list with use_extended_paths", modify: oneVersion(apidef.VersionInfo{UseExtendedPaths: true, Paths: apidef.LegacyPaths{WhiteList: []string{"/public"}}}),
			want: `paths.white_list and paths.black_list would not apply`},
		{name: "legacy lists without use_extended_paths", modify: oneVersion(apidef.VersionInfo{Paths: apidef.LegacyPaths{BlackList: []string{"/admin"}, WhiteList: []string{"/public"}}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validDef()
			tc.modify(a)
			err := a.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tc.want)
			}
			if errs := joinedErrors(err); len(errs) != 1 {
				t.Errorf("Validate() reported %d problems, want 1: %v", len(errs), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	a := validDef()
	a.APIID = ".x"
	a.Proxy.ListenPath = "no-slash"
	a.Proxy.TargetURL = "tyk://x/path"
	a.Auth = apidef.AuthConfig{UseCookie: true}
	a.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1}
	a.SessionLifetime = -5
	a.VersionData = apidef.VersionData{
		DefaultVersion: "v3",
		Versions: map[string]apidef.VersionInfo{
			"v1": {Expires: "tomorrow"},
			"v2": {OverrideTarget: "ftp://x"},
		},
	}
	err := a.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want every problem")
	}
	want := []string{
		"api_id:",
		"proxy.listen_path:",
		"proxy.target_url:",
		"auth: use_cookie",
		"global_rate_limit:",
		"session_lifetime:",
		"definition.location:",
		"version_data.default_version:",
		`versions["v1"].expires`,
		`versions["v2"].override_target`,
	}
	errs := joinedErrors(err)
	if len(errs) != len(want) {
		t.Errorf("Validate() reported %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() does not report %q:\n%v", w, err)
		}
	}
}

func TestValidateTargetURLWrapsParseError(t *testing.T) {
	err := apidef.ValidateTargetURL("http://[::1")
	if err == nil {
		t.Fatal("ValidateTargetURL(http://[::1) = nil, want error")
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("ValidateTargetURL error %q does not wrap the url.Parse error", err)
	}
}

// TestExtendedPathsOffInert: a version without use_extended_paths whose extended_paths hold only
// entries that do not guard traffic is served, and each such list is named as having no effect,
// with what to do; a version with the flag, or with disabled entries only, names nothing.
func TestExtendedPathsOffInert(t *testing.T) {
	a := validDef()
	a.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {ExtendedPaths: apidef.ExtendedPathsSet{
		Ignored:         []apidef.EndPointMeta{{Path: "/health"}},
		TransformHeader: []apidef.HeaderInjectionMeta{{Path: "/x", Method: "GET", DeleteHeaders: []string{"X-Secret"}}},
		URLRewrite:      []apidef.URLRewriteMeta{{Path: "/x", Method: "GET", Disabled: true}},
	}}}
	if err := a.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	want := `version_data.versions["v1"].extended_paths.ignored, extended_paths.transform_headers (the version does not set use_extended_paths, so, as in Tyk, no extended_paths entry applies: set "use_extended_paths": true to apply them)`
	if !slices.Contains(a.Inert(), want) {
		t.Errorf("Inert() = %q, want it to hold %q", a.Inert(), want)
	}
	v := a.VersionData.Versions["v1"]
	v.UseExtendedPaths = true
	a.VersionData.Versions["v1"] = v
	if slices.ContainsFunc(a.Inert(), func(s string) bool { return strings.Contains(s, "use_extended_paths") }) {
		t.Errorf("with use_extended_paths, Inert() = %q", a.Inert())
	}
	// The reverse: with the flag, a legacy paths.ignored has no effect (it opens, not guards).
	v.Paths.Ignored = []string{"/health"}
	a.VersionData.Versions["v1"] = v
	if err := a.Validate(); err != nil {
		t.Fatalf("Validate() with a legacy ignored list = %v, want nil", err)
	}
	if want := `version_data.versions["v1"].paths.ignored (the version sets use_extended_paths, so, as in Tyk, the legacy lists do not apply: use extended_paths.ignored)`; !slices.Contains(a.Inert(), want) {
		t.Errorf("Inert() = %q, want it to hold %q", a.Inert(), want)
	}
}
