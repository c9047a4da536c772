package gateway_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestUpstreamBasicAuth: upstream_auth.basic_auth puts "Basic base64(user:password)" in every
// upstream request, in Authorization or the header named, replacing what the client sent there
// (a client's own credentials, or the gateway key when it is not stripped); the client's other
// headers pass; the password is never logged.
func TestUpstreamBasicAuth(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	const password = "upstream-pa55word"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("gateway:"+password))
	plain := gt.API("plain", "/plain/", up.URL)
	plain.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "gateway", Password: password}}
	named := gt.API("named", "/named/", up.URL)
	named.UpstreamAuth = apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "gateway", Password: password,
		Header: apidef.UpstreamAuthHdr{Enabled: true, Name: "x-upstream-authorization"}}}
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.UpstreamAuth = plain.UpstreamAuth
	off := gt.API("off", "/off/", up.URL)
	off.UpstreamAuth = apidef.UpstreamAuth{BasicAuth: plain.UpstreamAuth.BasicAuth} // basic_auth on, upstream_auth off
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{plain, named, keyed, off}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("keyed")})

	seen := func(path string, headers map[string]string) map[string]string {
		t.Helper()
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: path, Headers: headers}))
		r, _ := up.Last()
		return r.Headers
	}
	if h := seen("/plain/x", map[string]string{"Authorization": "Bearer the-client-s-own", "X-Other": "kept"}); h["Authorization"] != basic || h["X-Other"] != "kept" {
		t.Errorf("plain: upstream saw Authorization %q X-Other %q, want %q and kept", h["Authorization"], h["X-Other"], basic)
	}
	if h := seen("/named/x", map[string]string{"Authorization": "Bearer the-client-s-own", "X-Upstream-Authorization": "forged"}); h["X-Upstream-Authorization"] != basic || h["Authorization"] != "Bearer the-client-s-own" {
		t.Errorf("named: upstream saw X-Upstream-Authorization %q Authorization %q", h["X-Upstream-Authorization"], h["Authorization"])
	}
	if h := seen("/keyed/x", map[string]string{"Authorization": key}); h["Authorization"] != basic {
		t.Errorf("keyed: upstream saw Authorization %q, want the upstream credentials, not the key", h["Authorization"])
	}
	if h := seen("/off/x", map[string]string{"Authorization": "Bearer the-client-s-own"}); h["Authorization"] != "Bearer the-client-s-own" {
		t.Errorf("upstream_auth off: upstream saw Authorization %q, want the client's", h["Authorization"])
	}
	if strings.Contains(g.Logs(), password) || strings.Contains(g.Logs(), basic[len("Basic "):]) {
		t.Errorf("the logs hold the upstream password")
	}
}
