package oas

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{name: "plain document"},
		{name: "versioning is served", set: map[string]string{"x.info.versioning": `{"enabled": true, "name": "v1"}`}},
		{name: "upstream request signing and timeout served", set: map[string]string{"x.upstream.authentication": `{"enabled": true, "requestSigning": {"enabled": true}}`, "x.upstream.enforceTimeout": `{"enabled": true, "duration": "1s"}`}},
		{name: "upstream basic auth served", set: map[string]string{"x.upstream.authentication": `{"enabled": true, "basicAuth": {"enabled": true, "username": "u", "password": "p"}}`}},
		{name: "compliant mode", set: map[string]string{"security": `[{"tok": []}]`,
			"x.server.authentication": `{"enabled": true, "securityProcessingMode": "compliant", "securitySchemes": {"tok": {"enabled": true}}}`}},
		{name: "compliant mode on a keyless API", set: map[string]string{
			"x.server.authentication": `{"enabled": false, "securityProcessingMode": "compliant"}`}},
		{name: "certificate auth and resource metadata", set: map[string]string{
			"x.server.authentication": `{"enabled": true, "certificateAuth": {"enabled": true}, "protectedResourceMetadata": {"enabled": true}}`},
			want: []string{"OAuth protected resource metadata (server.authentication.protectedResourceMetadata)"}},
		{name: "Tyk's OAuth 2.0 server is served", set: map[string]string{"security": `[{"oauth": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "providers": [], "refreshToken": true}}}`}},
		{name: "external OAuth", set: map[string]string{"security": `[{"oauth": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "providers": [{"jwt": {"enabled": true}}]}}}`},
			want: []string{`external OAuth (security scheme "oauth" with providers; Classic's external_oauth, which Gatehouse does not serve either: JWT auth with jwksURIs validates such tokens)`}},
		{name: "external OAuth with providers that are not a list", set: map[string]string{"security": `[{"oauth": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "providers": {"jwt": {}}}}}`},
			want: []string{`external OAuth (security scheme "oauth" with providers; Classic's external_oauth, which Gatehouse does not serve either: JWT auth with jwksURIs validates such tokens)`}},
		{name: "OAS-native OAuth 2.0", set: map[string]string{"security": `[{"oauth": ["read"]}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true, "scopeCheck": {"enabled": false}}}}`},
			want: []string{`OAS-native OAuth 2.0 with scopeCheck (security scheme "oauth"; JWT auth with jwksURIs and scopes validates such tokens)`}},
		{name: "external OAuth switched off", set: map[string]string{"security": `[{"oauth": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": false, "providers": [{"jwt": {"enabled": true}}]}}}`}},
		{name: "mutualTLS scheme", set: map[string]string{"security": `[{"mtls": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"mtls": {"enabled": true}}}`},
			want: []string{`a mutualTLS security scheme ("mtls"; server.clientCertificates with its allowlist is served)`}},
		{name: "unknown http scheme enabled", set: map[string]string{"security": `[{"digest": []}]`,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"digest": {"enabled": true}}}`},
			want: []string{`security scheme "digest" of type "http digest"`}},
		{name: "CORS and IP access control are served", set: map[string]string{"x.middleware.global.cors": `{"enabled": true}`,
			"x.server.ipAccessControl": `{"enabled": true, "allow": ["10.0.0.0/8"]}`}},
		{name: "error overrides are served", set: map[string]string{"x.errorOverrides": `{"enabled": true, "value": {"403": [{"match": {"flag": "AKI"}, "response": {"statusCode": 401}}]}}`}},
		{name: "MCP", set: map[string]string{"x.middleware.mcpTools": `{"t": {"allow": {"enabled": true}}}`},
			want: []string{"MCP proxies (middleware.mcpTools, mcpResources, mcpPrompts)"}},
		{name: "validateRequest and mockResponse are served", set: map[string]string{"x.middleware.operations": `{
			"getUser": {"validateRequest": {"enabled": true}},
			"listUsers": {"mockResponse": {"enabled": true, "code": 200}}}`}},
		{name: "validateRequest switched off", set: map[string]string{"x.middleware.operations": `{"getUser": {"validateRequest": {"enabled": false}}}`}},
		{name: "operation middleware Gatehouse does not implement", set: map[string]string{"x.middleware.operations": `{
			"getUser": {"urlRewrite": {"enabled": true}, "transformRequestBody": {"enabled": true}, "internal": {"enabled": true},
				"circuitBreaker": {"enabled": true}, "enforceTimeout": {"enabled": true}, "virtualEndpoint": {"enabled": true},
				"requestSizeLimit": {"enabled": true}, "rateLimit": {"enabled": true}, "transformRequestMethod": {"enabled": true},
				"transformResponseBody": {"enabled": true}, "scopeCheck": {"enabled": true}, "exchange": {"enabled": true},
				"cache": {"enabled": true}, "trackEndpoint": {"enabled": true}}}`},
			want: []string{
				"middleware.operations.getUser.virtualEndpoint",
				"middleware.operations.getUser.scopeCheck",
				"middleware.operations.getUser.exchange",
			}},
		{name: "traffic operation middleware is served", set: map[string]string{"x.middleware.operations": `{
			"getUser": {"circuitBreaker": {"enabled": true, "threshold": 0.5, "sampleSize": 10, "coolDownPeriod": 5},
				"enforceTimeout": {"enabled": true, "value": 3}, "requestSizeLimit": {"enabled": true, "value": 10},
				"transformRequestMethod": {"enabled": true, "toMethod": "POST"}}}`}},
		{name: "an operation no path has is ignored, as in Tyk", set: map[string]string{"x.middleware.operations": `{"nowhere": {"urlRewrite": {"enabled": true}, "validateRequest": {"enabled": true}}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse(doc(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Unsupported(); !slices.Equal(got, tc.want) {
				t.Errorf("Unsupported() =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestInertAndIgnored(t *testing.T) {
	raw := doc(t, map[string]string{
		"security":                      `[{"tok": []}, {"q": []}]`,
		"x.server.authentication":       `{"enabled": true, "baseIdentityProvider": "auth_token", "securitySchemes": {"tok": {"enabled": true}}}`,
		"x.server.gatewayTags":          `{"enabled": true, "tags": ["edge"]}`,
		"x.server.eventHandlers":        `[{"enabled": true, "type": "webhook"}, {"enabled": true, "type": "sms"}, {"type": "webhook", "cooldownPeriod": "soon"}, {"type": "webhook", "cooldownPeriod": "-5s", "headers": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}]}]`,
		"x.upstream.uptimeTests":        `{"enabled": true, "tests": [{"url": "http://x"}], "logRetentionPeriod": "1h"}`,
		"x.middleware.global.cache":     `{"enabled": true, "timeout": 60}`,
		"x.middleware.global.futureKey": `{"enabled": true}`,
		"x.server.listenPath.extra":     `"x"`,
		"x.server.ipAccessControl":      `{"enabled": false, "allow": ["10.0.0.1"]}`,
		"x.upstream.somethingNew":       `false`,
		"x.upstream.loadBalancing":      `{"enabled": false, "skipUnavailableHosts": true, "targets": []}`,
	})
	d, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	inert := strings.Join(d.Inert(), "\n")
	// baseIdentityProvider is read: it maps to base_identity_provided_by; gatewayTags to tags;
	// logRetentionPeriod to expire_utime_after.
	for _, mapped := range []string{"baseIdentityProvider", "gatewayTags", "logRetentionPeriod"} {
		if strings.Contains(inert, mapped) {
			t.Errorf("Inert() names %s, which is mapped:\n%s", mapped, inert)
		}
	}
	for _, w := range []string{"upstream.loadBalancing.skipUnavailableHosts", "server.eventHandlers[1] of type \"sms\"", "server.eventHandlers[2].cooldownPeriod \"soon\"", "server.eventHandlers[3].cooldownPeriod \"-5s\" (negative", "server.eventHandlers[3].headers: X-A more than once",
		"security requirements after the first", "middleware.global.cache"} {
		if !strings.Contains(inert, w) {
			t.Errorf("Inert() lacks %q:\n%s", w, inert)
		}
	}
	want := []string{"x-tyk-api-gateway.middleware.global.futureKey", "x-tyk-api-gateway.server.listenPath.extra"}
	if got := d.Ignored(); !slices.Equal(got, want) {
		t.Errorf("Ignored() = %q, want %q", got, want)
	}
}

// corpusDir returns Tyk's OAS examples beside the project (../shared/corpus/tyk/oas from the
// module root), skipping the test when they are absent.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found; skipping the Tyk OAS corpus")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus", "tyk", "oas", "apps")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("Tyk OAS corpus not found at %s; skipping", corpus)
	}
	return corpus
}

// TestCorpus reads Tyk's own OAS examples: each OpenAPI document either maps (and is served or
// refused with reasons) or fails with an error that says what is missing; Classic companion
// files are not OAS documents.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	want := map[string]string{
		// Tyk's swagger.yml example, the body of POST /tyk/apis/oas: it has no id (the Gateway
		// API makes one), which a file in app_path needs.
		"swagger.yml__components__examples__oasExample.json": "error:info.id: missing",
		// Templates with an empty extension: no id, name, url or listen path.
		"apidef__oas__testdata__empty-x-tyk-ext-oas-template.json":     "error:info.id: missing",
		"apidef__oas__testdata__non-empty-x-tyk-ext-oas-template.json": "error:info.id: missing",
		// An operation-level URL rewrite, mapped onto Classic url_rewrites.
		"apidef__oas__testdata__urlRewrite.json": "served",
		// Keyless, ignoreAuthentication on overlapping paths, context variables, traffic logs.
		"apidef__oas__testdata__urlSorting.json": "served",
		// Plain OpenAPI, the body of an import.
		"apidef__oas__testdata__petstore-no-responses.json": "parse:x-tyk-api-gateway: missing",
		// JWT and token in compliant mode.
		"ci__tests__tracing__apps__test-multiauth-oas.json": "served",
		"ci__tests__metrics__apps__test-mcpapi-mcp.json":    "refused:MCP proxies",
		// Classic companions.
		"ci__tests__tracing__apps__test-multiauth.json": "classic",
		"ci__tests__metrics__apps__test-mcpapi.json":    "classic",
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s (%v)", dir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome(raw)
			w, ok := want[name]
			if !ok {
				t.Logf("new corpus file: %s", got)
				return
			}
			kind, detail, _ := strings.Cut(w, ":")
			gkind, gdetail, _ := strings.Cut(got, ":")
			if gkind != kind || !strings.Contains(gdetail, detail) {
				t.Errorf("outcome %q, want %q", got, w)
			}
		})
	}
}

func outcome(raw []byte) string {
	if !IsDocument(raw) {
		return "classic"
	}
	d, err := Parse(raw)
	if err != nil {
		return "parse:" + err.Error()
	}
	def, err := d.Classic()
	if err != nil {
		return "error:" + err.Error()
	}
	if err := def.Validate(); err != nil {
		return "invalid:" + err.Error()
	}
	if u := append(def.Unsupported(), d.Unsupported()...); len(u) > 0 {
		return "refused:" + strings.Join(u, "; ")
	}
	return "served"
}

// TestInertOAuthScopes: the scopes a security requirement lists for an oauth2 scheme are said
// to change nothing (Tyk's OAuth server does not check them); without scopes nothing is said.
func TestInertOAuthScopes(t *testing.T) {
	for _, tc := range []struct {
		security string
		want     bool
	}{{`[{"oauth": ["read", "write"]}]`, true}, {`[{"oauth": []}]`, false}} {
		d, err := Parse(doc(t, map[string]string{"security": tc.security,
			"x.server.authentication": `{"enabled": true, "securitySchemes": {"oauth": {"enabled": true}}}`}))
		if err != nil {
			t.Fatal(err)
		}
		inert := strings.Join(d.Inert(), "\n")
		if got := strings.Contains(inert, `the scopes the security requirements list for "oauth"`); got != tc.want {
			t.Errorf("%s: Inert() says the scopes change nothing: %v, want %v\n%s", tc.security, got, tc.want, inert)
		}
	}
}
