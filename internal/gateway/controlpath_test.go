package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestControlPathsCanonical: with the Gateway API on the proxy listener, a path that reaches it
// only after decoding or cleaning (a dot segment, an encoded slash, merged slashes) gets the
// gateway's 400, as on any API, not a redirect or a plain-text 404 from the API's router; a key
// with escaped characters is still addressed.
func TestControlPathsCanonical(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("public", "/public/", up.URL)}})
	for _, path := range []string{"/tyk/../public/x", "/tyk/%2e%2e/public/x", "/tyk%2fapis", "/tyk//apis", "/tyk/./apis"} {
		r, err := g.Raw("GET " + path + " HTTP/1.1\r\nHost: x\r\nX-Tyk-Authorization: " + g.Config.Secret + "\r\nConnection: close\r\n\r\n")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		gt.Check(t, gt.Case{Code: 400, BodyMatch: `"error"`}, r)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
	gt.Check(t, gt.Case{Code: 404, BodyMatch: "Key not found|not found"}, g.Do(gt.Case{Admin: true, Path: "/tyk/keys/a%20b"}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Path: "/tyk/apis"}))
}
