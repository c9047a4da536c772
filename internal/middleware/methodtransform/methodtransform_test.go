package methodtransform

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

func TestStep(t *testing.T) {
	tr, err := Compile(map[string]apidef.VersionInfo{"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		MethodTransforms: []apidef.MethodTransformMeta{
			{Path: "/search", Method: "GET", ToMethod: "post"},
			{Path: "/off", Method: "GET", ToMethod: "PUT", Disabled: true},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/search", "POST"},
		{"GET", "/api/search/x", "POST"},
		{"DELETE", "/search", ""},
		{"GET", "/off", ""},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		c := &chain.Context{Version: "v1", Readings: endpoint.Readings(tc.path)}
		if err := tr.Step().Run(httptest.NewRecorder(), r, c); err != nil {
			t.Fatal(err)
		}
		if c.Method != tc.want || r.Method != tc.method {
			t.Errorf("%s %s: forward with %q (request %s), want %q and the request untouched", tc.method, tc.path, c.Method, r.Method, tc.want)
		}
		// The response steps match with the client's method, even once the request carries
		// the forwarded one.
		if tc.want != "" {
			r.Method = tc.want
		}
		if got := c.ResponseMethod(r); got != tc.method {
			t.Errorf("%s %s: ResponseMethod = %q, want the client's %q", tc.method, tc.path, got, tc.method)
		}
	}
}

func TestCompileRefusesUnknownMethod(t *testing.T) {
	_, err := Compile(map[string]apidef.VersionInfo{"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		MethodTransforms: []apidef.MethodTransformMeta{{Path: "/x", Method: "GET", ToMethod: "TRACE"}}}}})
	if err == nil || !strings.Contains(err.Error(), `to_method "TRACE"`) {
		t.Errorf("Compile = %v, want a refusal of TRACE", err)
	}
}
