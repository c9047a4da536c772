package endpoint_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// TestPatternCacheKeepsKindsApart: one path cached as an allowed URL (anchored) and as a
// per-endpoint limit's path (anywhere) compiles twice, each as its kind, in either order; a nil
// cache compiles the same.
func TestPatternCacheKeepsKindsApart(t *testing.T) {
	for _, order := range []string{"grant first", "anywhere first"} {
		t.Run(order, func(t *testing.T) {
			pc := &endpoint.PatternCache{}
			if order == "anywhere first" {
				if _, err := pc.Anywhere("/orders"); err != nil {
					t.Fatal(err)
				}
			}
			grant, err := pc.Get(apidef.AccessSpec{URL: "/orders"})
			if err != nil {
				t.Fatal(err)
			}
			anywhere, err := pc.Anywhere("/orders")
			if err != nil {
				t.Fatal(err)
			}
			if grant.Match("GET", "/v2/orders") {
				t.Error("the allowed URL matches /v2/orders: it was compiled to match anywhere")
			}
			if !anywhere.Match("GET", "/v2/orders") {
				t.Error("the endpoint limit's path does not match /v2/orders: it was compiled anchored")
			}
		})
	}
	var nilCache *endpoint.PatternCache
	if p, err := nilCache.Anywhere("/orders"); err != nil || !p.Match("POST", "/v2/orders") {
		t.Errorf("nil cache: %v, %v", p, err)
	}
	if _, err := nilCache.Anywhere("/x/("); err == nil {
		t.Error("a broken path compiled")
	}
}
