package gateway

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestAuthKind names an API's auth methods as the status page shows them.
func TestAuthKind(t *testing.T) {
	for _, c := range []struct {
		name string
		def  apidef.APIDefinition
		want string
	}{
		{"keyless", apidef.APIDefinition{UseKeylessAccess: true, UseStandardAuth: true}, "keyless"},
		{"key", apidef.APIDefinition{}, "auth token"},
		{"jwt", apidef.APIDefinition{EnableJWT: true}, "jwt"},
		{"basic and key", apidef.APIDefinition{UseBasicAuth: true, UseStandardAuth: true}, "basic, auth token"},
		{"hmac and jwt", apidef.APIDefinition{EnableSignatureChecking: true, EnableJWT: true}, "hmac, jwt"},
		{"plugin", apidef.APIDefinition{UseGoPluginAuth: true, UseStandardAuth: true}, "auth_check plugin"},
	} {
		if got := authKind(&c.def); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestUpstreamRedacted: the status page shows an upstream's user, never its password.
func TestUpstreamRedacted(t *testing.T) {
	def := apidef.APIDefinition{Proxy: apidef.ProxyConfig{TargetURL: "http://svc:s3cret@10.0.0.1:8080/base"}}
	if got := upstreamOf(&def); got != "http://svc:xxxxx@10.0.0.1:8080/base" {
		t.Errorf("target: %q", got)
	}
	def.Proxy.EnableLoadBalancing = true
	def.Proxy.Targets = []string{"http://a:pw1@h1", "http://h2", "http://b:pw%zz@h3"}
	if got := upstreamOf(&def); strings.Contains(got, "pw") || !strings.Contains(got, "http://h2") || !strings.Contains(got, "a:xxxxx@h1") {
		t.Errorf("targets: %q", got)
	}
	// Service discovery: the service, without its credentials or query.
	def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: true, QueryEndpoint: "http://u:pw@consul:8500/v1/catalog/service/x?token=t0k"}
	if got := upstreamOf(&def); got != "discovered from http://consul:8500/v1/catalog/service/x" {
		t.Errorf("discovered: %q", got)
	}
}
