package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestKeylessMutualTLSRefused: Tyk checks client certificates on keyless APIs too (its "static
// mTLS": use_keyless with use_mutual_tls_auth in Classic, server.clientCertificates without
// authentication in OAS), answering 403 to a client without an allow-listed certificate. On a
// listener without TLS no certificate can come, so such a definition is refused: never served
// to everyone (TestMutualTLS serves them over TLS).
func TestKeylessMutualTLSRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	classic := gt.API("static-mtls", "/static-mtls/", up.URL)
	classic.UseKeylessAccess = true
	classic.UseMutualTLSAuth = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{classic}})
	g.WriteFile("oas-mtls.json", []byte(`{
  "openapi": "3.0.3",
  "info": {"title": "mtls", "version": "1"},
  "paths": {},
  "x-tyk-api-gateway": {
    "info": {"id": "oas-mtls", "name": "oas-mtls", "state": {"active": true}},
    "upstream": {"url": "`+up.URL+`"},
    "server": {
      "listenPath": {"value": "/oas-mtls/", "strip": true},
      "clientCertificates": {"enabled": true, "allowlist": ["cert-id"]}
    }
  }
}`))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "Classic keyless with use_mutual_tls_auth", Path: "/static-mtls/x", Code: 404},
		gt.Case{Name: "OAS clientCertificates without authentication", Path: "/oas-mtls/x", Code: 404},
		gt.Case{Name: "/hello says why", Admin: true, Path: "/hello", Code: 200, BodyMatch: `use_mutual_tls_auth needs TLS on the listener`},
	)
	if n := len(up.Requests()); n != 0 {
		t.Errorf("the upstream received %d requests from clients without a certificate", n)
	}
}
