package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/middleware/validate"
)

// TestValidationBodyCap: validate_json and OAS validateRequest read at most validate.MaxBody
// bytes of a body, below the server's max_request_body_size: a larger body gets 413 "Request is
// too large" and never reaches the upstream; one within the cap is validated and forwarded.
func TestValidationBodyCap(t *testing.T) {
	up := gt.NewUpstream(t)
	vj := withExtended(gt.API("vj-cap", "/vj-cap/", up.URL), apidef.ExtendedPathsSet{ValidateJSON: []apidef.ValidatePathMeta{
		{Path: "/people", Method: "POST", Schema: json.RawMessage(`{"type": "object", "required": ["name"]}`)}}})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{vj}})
	g.WriteFile("oas-cap.json", []byte(`{"openapi": "3.0.3", "info": {"title": "cap", "version": "1"},
	  "paths": {"/items": {"post": {"operationId": "add",
	    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"]}}}},
	    "responses": {"201": {"description": "added"}}}}},
	  "x-tyk-api-gateway": {"info": {"id": "oas-cap", "name": "cap", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"}, "server": {"listenPath": {"value": "/oas-cap/", "strip": true}},
	    "middleware": {"operations": {"add": {"validateRequest": {"enabled": true}}}}}}`))
	g.Reload()
	pad := func(n int) string {
		const obj = `{"name": "Ada"}`
		return obj + strings.Repeat(" ", n-len(obj))
	}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	tooLarge := jsonError("Request is too large")
	g.Run(t,
		gt.Case{Name: "validate_json over the cap", Method: "POST", Path: "/vj-cap/people", Body: pad(validate.MaxBody + 1), Headers: jsonCT, Code: 413, BodyMatch: tooLarge},
		gt.Case{Name: "validateRequest over the cap", Method: "POST", Path: "/oas-cap/items", Body: pad(validate.MaxBody + 1), Headers: jsonCT, Code: 413, BodyMatch: tooLarge},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d bodies over the cap", n)
	}
	g.Run(t,
		gt.Case{Name: "validate_json at the cap", Method: "POST", Path: "/vj-cap/people", Body: pad(validate.MaxBody), Headers: jsonCT, Code: 200},
		gt.Case{Name: "validateRequest at the cap", Method: "POST", Path: "/oas-cap/items", Body: pad(validate.MaxBody), Headers: jsonCT, Code: 200},
	)
	if n := len(up.Requests()); n != 2 {
		t.Errorf("the upstream received %d requests, want 2", n)
	}
	for _, r := range up.Requests() {
		if r.BodyLength != validate.MaxBody || !strings.HasPrefix(r.Body, `{"name": "Ada"}`) {
			t.Errorf("the upstream got a body of %d bytes starting %.20q, want %d", r.BodyLength, r.Body, validate.MaxBody)
		}
	}
}
