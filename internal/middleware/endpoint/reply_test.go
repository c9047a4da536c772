package endpoint_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

func TestListsReplies(t *testing.T) {
	reply := func(code int, data string) map[string]apidef.EndpointMethodMeta {
		return map[string]apidef.EndpointMethodMeta{"GET": {Action: "reply", Code: code, Data: data}}
	}
	v := &apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		WhiteList: []apidef.EndPointMeta{
			{Path: "/maintenance", MethodActions: reply(503, "down")},
			{Path: "/orders", MethodActions: map[string]apidef.EndpointMethodMeta{
				"GET": {Action: "no_action"}, "POST": {Action: "reply", Code: 201, Data: "made"}}},
			{Path: "/off", Disabled: true, MethodActions: reply(200, "off")},
		},
		BlackList: []apidef.EndPointMeta{
			{Path: "/admin", MethodActions: map[string]apidef.EndpointMethodMeta{"DELETE": {Action: "reply", Code: 405, Data: "no"}}},
			{Path: "/secret", Method: "GET"},
		},
		MockResponse: []apidef.MockResponseMeta{
			{Path: "/status", Method: "GET", Code: 200, Body: "ok"},
			{Path: "/Health", Method: "HEAD", IgnoreCase: true, Code: 204},
			{Path: "/secret/mock", Method: "GET", Code: 200, Body: "never"},
			{Path: "/gone", Method: "GET", Code: 200, Disabled: true},
		},
	}}
	l, err := endpoint.CompileVersion(v, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path string
		wantBody           string // "" with wantRefused false: forwarded
		wantRefused        bool
	}{
		{name: "white list reply", method: "GET", path: "/maintenance", wantBody: "down"},
		{name: "reply below the entry", method: "GET", path: "/maintenance/x", wantBody: "down"},
		{name: "reply on a segment boundary only", method: "GET", path: "/maintenance-x", wantRefused: true},
		{name: "other method of a reply-only entry is not white-listed", method: "POST", path: "/maintenance", wantRefused: true},
		{name: "no_action method of a mixed entry", method: "GET", path: "/orders"},
		{name: "reply method of a mixed entry", method: "POST", path: "/orders", wantBody: "made"},
		{name: "black list reply answers", method: "DELETE", path: "/admin", wantBody: "no"},
		{name: "black list reply-only entry refuses no other method", method: "GET", path: "/admin", wantRefused: true},
		{name: "mock_response", method: "GET", path: "/status", wantBody: "ok"},
		{name: "mock_response ignore_case", method: "HEAD", path: "/health", wantBody: ""},
		{name: "black list wins over a reply", method: "GET", path: "/secret/mock", wantRefused: true},
		{name: "disabled reply", method: "GET", path: "/gone", wantRefused: true},
		{name: "disabled list reply", method: "GET", path: "/off", wantRefused: true},
		{name: "matrix reading still replies", method: "GET", path: "/status;x=1/", wantBody: "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, i, err := l.Check(tc.method, endpoint.Readings(tc.path), false)
			if tc.wantRefused {
				if err == nil {
					t.Fatalf("Check = reply %d, nil error; want refused", i)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check error = %v", err)
			}
			got := ""
			if i >= 0 {
				got = l.Reply[i].Body
			}
			if tc.name == "mock_response ignore_case" {
				if i < 0 || l.Reply[i].Code != 204 {
					t.Fatalf("Check reply = %d, want the 204 entry", i)
				}
				return
			}
			if got != tc.wantBody || (tc.wantBody == "") != (i < 0) {
				t.Errorf("Check reply = %d (%q), want body %q", i, got, tc.wantBody)
			}
		})
	}
}

// A white list whose entries all reply is still a white list: other endpoints stay refused.
func TestListsReplyOnlyWhiteList(t *testing.T) {
	l, err := endpoint.CompileVersion(&apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		WhiteList: []apidef.EndPointMeta{{Path: "/mock", MethodActions: map[string]apidef.EndpointMethodMeta{"GET": {Action: "reply", Code: 200}}}},
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Check("GET", endpoint.Readings("/anything"), false); err == nil {
		t.Error("GET /anything passed a white list holding only a reply")
	}
	if _, i, err := l.Check("GET", endpoint.Readings("/mock"), false); err != nil || i != 0 {
		t.Errorf("GET /mock = reply %d, %v; want reply 0", i, err)
	}
}
