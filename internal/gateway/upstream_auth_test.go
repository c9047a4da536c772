package gateway_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/sdk"
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
	if h := seen("/named/x", map[string]string{"Authorization": "Bearer the-client-s-own", "X-Upstream-Authorization": "forged", "X_Upstream_authorization": "forged too"}); h["X-Upstream-Authorization"] != basic || h["Authorization"] != "Bearer the-client-s-own" {
		t.Errorf("named: upstream saw X-Upstream-Authorization %q Authorization %q", h["X-Upstream-Authorization"], h["Authorization"])
	} else if v, ok := h["X_upstream_authorization"]; ok {
		t.Errorf("named: upstream saw the client's X_Upstream_Authorization %q beside the credentials", v)
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

// TestUpstreamBasicAuthStaysHidden: the upstream credentials reach no client and no record: a
// response body template reads the client's headers, not those sent upstream, and a detailed
// analytics record hides them where an upstream echoes them back.
func TestUpstreamBasicAuthStaysHidden(t *testing.T) {
	up := gt.NewUpstream(t) // echoes the request it got, headers included
	file, analytics := analyticsFile(t)
	const password = "upstream-pa55word"
	basic := base64.StdEncoding.EncodeToString([]byte("gateway:" + password))
	creds := apidef.UpstreamAuth{Enabled: true, BasicAuth: apidef.UpstreamBasicAuth{Enabled: true, Username: "gateway", Password: password}}
	tmpl := base64.StdEncoding.EncodeToString([]byte(`{"client_auth": "{{._tyk_context.headers_Authorization}}"}`))
	templated := withExtended(gt.API("templated", "/templated/", up.URL), apidef.ExtendedPathsSet{
		TransformResponse: []apidef.TemplateMeta{{Path: "/x", Method: "GET", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: tmpl}}},
	})
	templated.EnableContextVars, templated.UpstreamAuth = true, creds
	recorded := gt.API("recorded", "/recorded/", up.URL)
	recorded.EnableDetailedRecording, recorded.UpstreamAuth = true, creds
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{templated, recorded}, Config: analytics})

	gt.Check(t, gt.Case{Code: 200, BodyEquals: `{"client_auth": "Bearer the-client-s-own"}`},
		g.Do(gt.Case{Path: "/templated/x", Headers: map[string]string{"Authorization": "Bearer the-client-s-own"}}))

	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/recorded/x"}))
	records := readRecords(t, file, 2)
	if !slices.ContainsFunc(records, func(r sdk.AnalyticsRecord) bool { return r.APIID == "recorded" }) {
		t.Fatalf("no record of the API with detailed recording: %+v", records)
	}
	for _, r := range records {
		raw, _ := base64.StdEncoding.DecodeString(r.RawResponse)
		if r.APIID == "recorded" && (strings.Contains(string(raw), basic) || !strings.Contains(string(raw), "Basic [redacted]")) {
			t.Errorf("the record of the echoed request holds the upstream credentials:\n%s", raw)
		}
	}
}
