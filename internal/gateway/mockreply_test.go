package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// Classic mock replies answer without the upstream, before auth (as Tyk's VersionCheck) but
// after the IP lists; black lists still refuse, and a white list of replies refuses the rest.
func TestClassicMockReplies(t *testing.T) {
	up := gt.NewUpstream(t)
	def := withExtended(gt.Keyed(gt.API("mocks", "/mocks/", up.URL)), apidef.ExtendedPathsSet{
		WhiteList: []apidef.EndPointMeta{
			{Path: "/maintenance", MethodActions: map[string]apidef.EndpointMethodMeta{
				"GET": {Action: "reply", Code: 503, Data: `{"down":true}`, Headers: map[string]string{"retry-after": "120", "Content-Length": "1"}}}},
			{Path: "/orders", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}}},
			{Path: "/status", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}}},
		},
		BlackList: []apidef.EndPointMeta{{Path: "/orders/secret", Method: "GET"}},
		MockResponse: []apidef.MockResponseMeta{
			{Path: "/status", Method: "GET", Code: 200, Body: "all good", Headers: map[string]string{"Content-Type": "text/plain"}},
			{Path: "/orders/secret", Method: "GET", Code: 200, Body: "leak"},
			{Path: "/empty", Method: "GET", Code: 204, Body: "dropped"},
		},
	})
	blocked := withExtended(gt.API("mocks-blocked", "/mocks-blocked/", up.URL), apidef.ExtendedPathsSet{
		MockResponse: []apidef.MockResponseMeta{{Path: "/status", Method: "GET", Code: 200, Body: "all good"}},
	})
	blocked.EnableIPBlacklisting, blocked.BlacklistedIPs = true, []string{"127.0.0.0/8"}
	badCode := withExtended(gt.API("mocks-bad", "/mocks-bad/", up.URL), apidef.ExtendedPathsSet{
		MockResponse: []apidef.MockResponseMeta{{Path: "/x", Method: "GET"}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, blocked, badCode}})
	g.Run(t,
		gt.Case{Name: "method action reply, no key needed", Path: "/mocks/maintenance", Code: 503, BodyEquals: `{"down":true}`,
			HeadersMatch: map[string]string{"Retry-After": "120", "Content-Length": "13"}},
		gt.Case{Name: "mock_response", Path: "/mocks/status", Code: 200, BodyEquals: "all good", HeadersMatch: map[string]string{"Content-Type": "text/plain"}},
		gt.Case{Name: "no body with 204", Path: "/mocks/empty", Code: 204, BodyEmpty: true},
		gt.Case{Name: "other method of a reply entry is off the white list", Method: "POST", Path: "/mocks/maintenance", Code: 403,
			BodyMatch: "Requested endpoint is forbidden"},
		gt.Case{Name: "black list wins over a mock", Path: "/mocks/orders/secret", Code: 403, BodyNotMatch: "leak"},
		gt.Case{Name: "white-listed path still needs a key", Path: "/mocks/orders", Code: 401},
		gt.Case{Name: "IP block list comes first", Path: "/mocks-blocked/status", Code: 403, BodyMatch: "access from this IP has been disallowed"},
		gt.Case{Name: "code 0 refuses the definition", Path: "/mocks-bad/x", Code: 404},
	)
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests, want 0", n)
	}
	if logs := g.Logs(); !contains(logs, "mock_response[0]: code 0 is not a final HTTP status") {
		t.Errorf("log lacks the refusal of code 0:\n%s", logs)
	}
}
