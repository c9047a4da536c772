package gateway_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// TestClientForwardingHeadersRemoved (S12): what a client says of the hops before the gateway
// (Forwarded, any X-Forwarded-*, X-Real-Ip, also spelled with underscores) reaches neither a
// plugin nor the upstream; the upstream gets the gateway's own X-Forwarded-For, -Host and
// -Proto. Other headers, X-Tyk-* included, pass as sent.
func TestClientForwardingHeadersRemoved(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	def := gt.API("fw", "/fw/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "HeaderNames")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})

	r, err := g.Raw("GET /fw/x HTTP/1.1\r\nHost: gw.test\r\n" +
		"Forwarded: for=6.6.6.6;host=evil.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\n" +
		"X-Forwarded-Proto: https\r\nX-Forwarded-Prefix: /admin\r\nX-Forwarded-Port: 443\r\nX-Real-IP: 6.6.6.6\r\n" +
		"X_Forwarded_For: 6.6.6.6\r\nx-forwarded-server: evil\r\nX-Tyk-Plugin: kept\r\nX-Client: kept\r\nConnection: close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	gt.Check(t, gt.Case{Code: 200}, r)
	saw := r.Header.Get("X-Plugin-Saw")
	if !strings.Contains(saw, "X-Client") || !strings.Contains(saw, "X-Tyk-Plugin") {
		t.Fatalf("the plugin did not see the client's other headers: %q", saw)
	}
	for _, h := range strings.Split(saw, ",") {
		if n := strings.ToLower(strings.ReplaceAll(h, "_", "-")); n == "forwarded" || n == "x-real-ip" || strings.HasPrefix(n, "x-forwarded-") {
			t.Errorf("a pre hook saw the client's %s", h)
		}
	}
	seen, ok := up.Last()
	if !ok {
		t.Fatal("nothing reached the upstream")
	}
	want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "gw.test", "X-Forwarded-Proto": "http", "X-Tyk-Plugin": "kept", "X-Client": "kept"}
	for k, v := range want {
		if got := seen.Headers[k]; got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	for k, v := range seen.Headers {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if n == "forwarded" || n == "x-real-ip" || strings.HasPrefix(n, "x-forwarded-") && want[k] == "" {
			t.Errorf("the upstream received the client's %s: %q", k, v)
		}
	}
}

// TestAnalyticsIPIgnoresForgedXFF (S11): the analytics record's ip_address is the client's
// socket address, never what the client put in X-Forwarded-For.
func TestAnalyticsIPIgnoresForgedXFF(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("ip", "/ip/", up.URL)}, Config: analytics})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/ip/x", Headers: map[string]string{"X-Forwarded-For": "6.6.6.6, 7.7.7.7", "X-Real-IP": "6.6.6.6"}}))
	records := readRecords(t, file, 1)
	if len(records) != 1 || records[0].IPAddress != "127.0.0.1" {
		t.Fatalf("records %+v, want one with ip_address 127.0.0.1", records)
	}
}
