package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestHealthPublic: /hello and /ready are public (no secret; on the proxy port too when the
// Gateway API shares it), so without the secret they say what is wrong by kind and status, and
// never name an API, a plugin's path, a file, or the bundle server's URL; with the secret (the
// Gateway API's check) they give the whole document, as before.
func TestHealthPublic(t *testing.T) {
	up := gt.NewUpstream(t)
	plugged := gt.API("internal-payments-v2", "/pay/", up.URL)
	plugged.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("/opt/secret-plugins/fraud_check_v3.so", "Pre")}
	bundled := bundleAPI("c1", up.URL, "b1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plugged, bundled, gt.API("fine", "/fine/", up.URL)},
		Config: func(c *config.Config) { c.EnableBundleDownloader, c.BundleBaseURL = true, "http://127.0.0.1:1/" }})
	eventually(t, "the bundle's failure is reported", func() bool {
		return strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "downloading bundle b1.zip from")
	})
	eventually(t, "/ready answers 200", func() bool { return g.Do(gt.Case{Path: "/ready"}).Code == 200 })

	secrets := []string{"internal-payments-v2", "secret-plugins", "fraud_check_v3", "/opt", "127.0.0.1", "b1.zip", `"c1`, "plugin file not found", "connection refused"}
	for _, path := range []string{"/hello", "/ready"} {
		for _, c := range []gt.Case{{Path: path}, {Path: path, Headers: map[string]string{"X-Tyk-Authorization": "wrong"}}} {
			r := g.Do(c)
			for _, s := range secrets {
				if strings.Contains(r.Body, s) {
					t.Errorf("%s without the secret (%v) says %q:\n%s", path, c.Headers, s, r.Body)
				}
			}
			var h admin.Health
			if err := json.Unmarshal([]byte(r.Body), &h); err != nil || r.Code != 200 {
				t.Fatalf("%s: %d %v: %s", path, r.Code, err, r.Body)
			}
			if h.Status != admin.StatusWarn || h.Version == "" || h.Description == "" {
				t.Errorf("%s without the secret: status %q version %q description %q, want warn and Tyk's shape", path, h.Status, h.Version, h.Description)
			}
			for _, kind := range []string{"plugin", "bundle"} {
				d := h.Details[kind]
				if d.Status != admin.StatusWarn || d.ComponentType != kind || d.Time == "" || !strings.Contains(d.Output, "1 "+kind+" components (1 warn)") {
					t.Errorf("%s without the secret: details.%s = %+v, want a warn counting one", path, kind, d)
				}
			}
			for k := range h.Details {
				if strings.Contains(k, ":") {
					t.Errorf("%s without the secret names component %q", path, k)
				}
			}
			if d := h.Details["store"]; d.Output != "memory" {
				t.Errorf("%s without the secret: details.store = %+v, want its public output", path, d)
			}
		}
		full := g.Do(gt.Case{Admin: true, Path: path}).Body
		for _, want := range []string{`"plugin:internal-payments-v2:pre:Pre"`, "/opt/secret-plugins/fraud_check_v3.so: plugin file not found", `"bundle:c1"`, "downloading bundle b1.zip from http://127.0.0.1:1/b1.zip"} {
			if !strings.Contains(full, want) {
				t.Errorf("%s with the secret lacks %q:\n%s", path, want, full)
			}
		}
	}
}
