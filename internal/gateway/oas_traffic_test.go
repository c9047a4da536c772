package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestOASTraffic serves a Tyk OAS API with the traffic middleware mapped onto Classic: an IP
// block list, CORS, a per-operation size limit and a method transform. What they refuse never
// reaches the upstream.
func TestOASTraffic(t *testing.T) {
	up := gt.NewUpstream(t)
	doc := `{"openapi": "3.0.3", "info": {"title": "Shop", "version": "1"},
	  "paths": {"/items": {"get": {"operationId": "listItems"}, "post": {"operationId": "addItem"}}},
	  "x-tyk-api-gateway": {
	    "info": {"id": "shop", "name": "Shop", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `", "enforceTimeout": {"enabled": true, "duration": "5s"}},
	    "server": {"listenPath": {"value": "/shop/", "strip": true},
	      "ipAccessControl": {"enabled": true, "block": ["192.0.2.66"]}},
	    "middleware": {
	      "global": {"cors": {"enabled": true, "allowedOrigins": ["https://app.example"], "allowedMethods": ["GET", "POST"], "maxAge": 60}},
	      "operations": {"addItem": {
	        "requestSizeLimit": {"enabled": true, "value": 10},
	        "transformRequestMethod": {"enabled": true, "toMethod": "PUT"}}}}}}`
	// The test client is a trusted proxy, so X-Forwarded-For names the client.
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
	g.WriteFile("shop.json", []byte(doc))
	g.Reload()

	g.Run(t,
		gt.Case{Name: "blocked client", Path: "/shop/items", Headers: map[string]string{"X-Forwarded-For": "192.0.2.66"},
			Code: 403, BodyEquals: "{\n    \"error\": \"access from this IP has been disallowed\"\n}"},
		gt.Case{Name: "preflight answered by the gateway", Method: "OPTIONS", Path: "/shop/items",
			Headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
			Code:    204, BodyEmpty: true, HeadersMatch: map[string]string{
				"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "POST", "Access-Control-Max-Age": "60"}},
		gt.Case{Name: "body over the operation's limit", Method: "POST", Path: "/shop/items", Body: "0123456789A",
			Code: 413, BodyEquals: "{\n    \"error\": \"Request is too large\"\n}"},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream saw %d requests; refused ones must not reach it", n)
	}

	g.Run(t,
		gt.Case{Name: "method transformed", Method: "POST", Path: "/shop/items", Body: "0123456789",
			Headers: map[string]string{"Origin": "https://app.example"}, Code: 200,
			HeadersMatch: map[string]string{"Access-Control-Allow-Origin": "https://app.example"}},
	)
	if seen, _ := up.Last(); seen.Method != "PUT" || seen.Path != "/items" {
		t.Errorf("upstream saw %s %s, want PUT /items", seen.Method, seen.Path)
	}
	g.Run(t,
		gt.Case{Name: "other operation untouched", Path: "/shop/items", Body: "", Code: 200},
	)
	if seen, _ := up.Last(); seen.Method != "GET" {
		t.Errorf("upstream saw %s, want GET", seen.Method)
	}
	if n := len(up.Requests()); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2", n)
	}
}
