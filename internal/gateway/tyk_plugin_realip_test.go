package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestTykPluginRealIP: a Tyk plugin importing Tyk's request package builds unchanged, and
// request.RealIP gives the address the gateway's IP lists decide on: X-Forwarded-For's from a
// trusted proxy, the peer's otherwise (whatever X-Forwarded-For or X-Real-IP a client sends).
func TestTykPluginRealIP(t *testing.T) {
	so := buildTyk(t, tykPluginDir, true)
	up := gt.NewUpstream(t)
	seen := gt.API("seen", "/seen/", up.URL)
	seen.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "ClientRealIP")}
	listed := gt.API("listed", "/listed/", up.URL)
	listed.EnableIPWhiteListing, listed.AllowedIPs = true, []string{"203.0.113.7"}
	listed.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "ClientRealIP")}
	apis := []*apidef.APIDefinition{seen, listed}
	realIP := func(ip string) map[string]string { return map[string]string{"X-Real-Ip-Seen": ip} }
	xff := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

	t.Run("trusted peer", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
		g.Run(t,
			gt.Case{Name: "no X-Forwarded-For", Path: "/seen/x", Code: 200, HeadersMatch: realIP("127.0.0.1")},
			gt.Case{Name: "X-Forwarded-For", Path: "/seen/x", Headers: xff("203.0.113.7"), Code: 200, HeadersMatch: realIP("203.0.113.7")},
			gt.Case{Name: "the rightmost untrusted hop", Path: "/seen/x", Headers: xff("198.51.100.9, 203.0.113.7"), Code: 200,
				HeadersMatch: realIP("203.0.113.7")},
			gt.Case{Name: "the allow list lets that address in", Path: "/listed/x", Headers: xff("198.51.100.9, 203.0.113.7"), Code: 200,
				HeadersMatch: realIP("203.0.113.7")},
			gt.Case{Name: "the allow list refuses the peer", Path: "/listed/x", Code: 403},
		)
	})
	t.Run("untrusted peer", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t,
			gt.Case{Name: "X-Forwarded-For is not believed", Path: "/seen/x", Headers: xff("203.0.113.7"), Code: 200, HeadersMatch: realIP("127.0.0.1")},
			gt.Case{Name: "nor X-Real-IP", Path: "/seen/x", Headers: map[string]string{"X-Real-IP": "203.0.113.7"}, Code: 200,
				HeadersMatch: realIP("127.0.0.1")},
			gt.Case{Name: "nor by the allow list", Path: "/listed/x", Headers: xff("203.0.113.7"), Code: 403},
		)
	})
}
