package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAppliedPoliciesFollowChanges: the session a key's policies give is kept between its
// requests (auth.AdoptStored), but a reload that changes a policy applies the new one from the
// next request on, and so does an update of the key naming other policies; a reload that
// recompiles one API and reuses another keeps both on the same policies.
func TestAppliedPoliciesFollowChanges(t *testing.T) {
	up := gt.NewUpstream(t)
	a := gt.Keyed(gt.API("a", "/a/", up.URL))
	b := gt.Keyed(gt.API("b", "/b/", up.URL))
	policies := func(rate, quota int) string {
		p := map[string]any{
			"p": map[string]any{"rate": rate, "per": 60, "quota_max": quota, "quota_renewal_rate": 3600,
				"access_rights": map[string]any{"a": map[string]any{"api_id": "a"}, "b": map[string]any{"api_id": "b"}}},
			"q": map[string]any{"rate": 100, "per": 60, "quota_max": 300, "quota_renewal_rate": 3600,
				"access_rights": map[string]any{"a": map[string]any{"api_id": "a"}, "b": map[string]any{"api_id": "b"}}},
		}
		data, _ := json.Marshal(p)
		return string(data)
	}
	g := gt.Start(t, gt.Options{Policies: policies(2, 100), APIs: []*apidef.APIDefinition{a, b}})
	key := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"p"}})
	auth := map[string]string{"Authorization": key}
	limit := func(n string) map[string]string { return map[string]string{"X-RateLimit-Limit": n} }

	g.Run(t,
		gt.Case{Name: "first", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: limit("100")},
		gt.Case{Name: "second", Path: "/b/x", Headers: auth, Code: 200, HeadersMatch: limit("100")},
		gt.Case{Name: "third: the policy's rate of 2 a minute", Path: "/a/x", Headers: auth, Code: 429},
	)

	// The policy now allows 5 a minute and a quota of 200.
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(policies(5, 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "after the reload: the new rate", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: limit("200")},
		gt.Case{Name: "after the reload, other API", Path: "/b/x", Headers: auth, Code: 200, HeadersMatch: limit("200")},
	)

	// A reload that recompiles b only (a is reused): both serve the same policies.
	b.Name = "b renamed"
	g.WriteAPI(b)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "reused API: the fifth request of 5", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: limit("200")},
		gt.Case{Name: "recompiled API: the sixth", Path: "/b/x", Headers: auth, Code: 429},
	)

	// The key now names q: its quota, and its rate of 100 a minute.
	body, _ := json.Marshal(&apidef.SessionState{ApplyPolicies: []string{"q"}})
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/keys/" + key, Body: string(body)}); r.Code != 200 {
		t.Fatalf("updating the key: %d %s", r.Code, r.Body)
	}
	g.Run(t,
		gt.Case{Name: "after the key's update", Path: "/a/x", Headers: auth, Code: 200, HeadersMatch: limit("300")},
		gt.Case{Name: "after the key's update, other API", Path: "/b/x", Headers: auth, Code: 200, HeadersMatch: limit("300")},
	)
}
