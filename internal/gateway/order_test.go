package gateway_test

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// Issue 12's Classic middleware sits in the chain where Tyk runs it: mock replies right after
// the version's lists (and the IP lists), before CORS and auth; body transforms after auth,
// limits and validate_json, then header transforms, URL rewrites and the method transform.
func TestChainOrder(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.Keyed(gt.API("ordered", "/ordered/", up.URL)), apidef.ExtendedPathsSet{
		MockResponse:     []apidef.MockResponseMeta{{Path: "/m", Method: "GET", Code: 200}},
		ValidateJSON:     []apidef.ValidatePathMeta{{Path: "/v", Method: "POST", Schema: []byte(`{"type": "object"}`)}},
		Transform:        []apidef.TemplateMeta{{Path: "/t", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "blob", TemplateSource: base64.StdEncoding.EncodeToString([]byte("{}"))}}},
		TransformHeader:  []apidef.HeaderInjectionMeta{{Path: "/h", Method: "GET", AddHeaders: map[string]string{"X-A": "1"}}},
		URLRewrite:       []apidef.URLRewriteMeta{{Path: "/r", Method: "GET", MatchPattern: "/r", RewriteTo: "/s"}},
		MethodTransforms: []apidef.MethodTransformMeta{{Path: "/x", Method: "GET", ToMethod: "POST"}},
	})
	def.EnableIPBlacklisting, def.BlacklistedIPs = true, []string{"192.0.2.1"}
	def.CORS = apidef.CORSConfig{Enable: true}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	steps := g.GW.ChainSteps("ordered")
	if steps == nil {
		t.Fatalf("the API does not serve:\n%s", g.Logs())
	}
	order := []string{"version", "ip_access", "mock_reply", "request_size", "cors", "auth_key", "access_rights",
		"rate_limit_quota", "validate_json", "transform_body", "transform_headers", "url_rewrite", "method_transform"}
	last := -1
	for _, name := range order {
		i := slices.Index(steps, name)
		if i < 0 {
			t.Fatalf("no %q step in %q", name, steps)
		}
		if i <= last {
			t.Errorf("%q is at %d, before the step listed ahead of it: %q", name, i, steps)
		}
		last = i
	}
}
