package oas

import (
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestOperationHeaderTransforms: an operation's transformRequestHeaders and
// transformResponseHeaders become Classic transform_headers and transform_response_headers
// entries for its path and method (switched off ones kept, disabled, as Tyk's ExtractTo does),
// and are no longer refused.
func TestOperationHeaderTransforms(t *testing.T) {
	def, d := classic(t, doc(t, map[string]string{"x.middleware.operations": `{
		"getUser": {
			"transformRequestHeaders": {"enabled": true, "remove": ["X-Debug"], "add": [{"name": "X-Via", "value": "$tyk_meta.team"}]},
			"transformResponseHeaders": {"enabled": true, "remove": ["Server"], "add": [{"name": "Cache-Control", "value": "no-store"}]}},
		"listUsers": {"transformRequestHeaders": {"enabled": false, "add": [{"name": "X-Off", "value": "1"}]}}}`}))
	if u := d.Unsupported(); len(u) != 0 {
		t.Fatalf("refused: %q", u)
	}
	ep := version(def).ExtendedPaths
	wantReq := []apidef.HeaderInjectionMeta{
		{Path: "/users/{id}", Method: "GET", DeleteHeaders: []string{"X-Debug"}, AddHeaders: map[string]string{"X-Via": "$tyk_meta.team"}},
		{Disabled: true, Path: "/users", Method: "GET", DeleteHeaders: []string{}, AddHeaders: map[string]string{"X-Off": "1"}},
	}
	wantResp := []apidef.HeaderInjectionMeta{
		{Path: "/users/{id}", Method: "GET", DeleteHeaders: []string{"Server"}, AddHeaders: map[string]string{"Cache-Control": "no-store"}, ActOnResponse: true},
	}
	norm := func(es []apidef.HeaderInjectionMeta) []apidef.HeaderInjectionMeta {
		for i := range es {
			if es[i].DeleteHeaders == nil {
				es[i].DeleteHeaders = []string{}
			}
		}
		return es
	}
	if got := norm(ep.TransformHeader); !reflect.DeepEqual(got, wantReq) {
		t.Errorf("transform_headers:\n got %+v\nwant %+v", got, wantReq)
	}
	if got := norm(ep.TransformResponseHeader); !reflect.DeepEqual(got, wantResp) {
		t.Errorf("transform_response_headers:\n got %+v\nwant %+v", got, wantResp)
	}
}
