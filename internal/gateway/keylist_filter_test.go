package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/session"
)

// listKeys answers GET /tyk/keys with query (e.g. "?filter=org1"), sorted.
func listKeys(t *testing.T, g *gt.Gateway, query string) []string {
	t.Helper()
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys" + query})
	var out struct {
		Keys []string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Body), &out); r.Code != 200 || err != nil || out.Keys == nil {
		t.Fatalf("GET /tyk/keys%s: %d %s", query, r.Code, r.Body)
	}
	sort.Strings(out.Keys)
	return out.Keys
}

// TestKeyListFilter: GET /tyk/keys?filter= lists only the keys whose stored name begins with
// the filter, as Tyk's does: a script written for Tyk that revokes one org's keys with
// ?filter=<org> must not be given every tenant's. With hash_keys (the default, and always
// with Redis) the filter is hashed as a key name is, as in Tyk: it lists the key it names.
func TestKeyListFilter(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
		g := gt.Start(t, store)
		org1 := g.CreateKey(&apidef.SessionState{OrgID: "org1", AccessRights: access("a")})
		org2 := g.CreateKey(&apidef.SessionState{OrgID: "org2", AccessRights: access("a")})
		if all := listKeys(t, g, ""); len(all) != 2 {
			t.Fatalf("every key: %q", all)
		}
		if got := listKeys(t, g, "?filter=org1"); len(got) != 0 {
			t.Errorf("?filter=org1 with hashed keys = %q, want none (the filter is hashed: no key is named org1)", got)
		}
		if got, want := listKeys(t, g, "?filter="+url.QueryEscape(org1)), []string{session.HashKey(org1)}; !slices.Equal(got, want) {
			t.Errorf("?filter=<org1's key> = %q, want its hash %q", got, want)
		}
		if got := listKeys(t, g, "?filter="+session.HashKey(org2)[:10]); len(got) != 0 {
			t.Errorf("?filter=<start of a hash> = %q, want none", got)
		}
	})
	t.Run("by name", func(t *testing.T) {
		up := gt.NewUpstream(t)
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))},
			Config: func(c *config.Config) { c.HashKeys = false }})
		var org1, org2 []string
		for range 2 {
			org1 = append(org1, g.CreateKey(&apidef.SessionState{OrgID: "org1", AccessRights: access("a")}))
			org2 = append(org2, g.CreateKey(&apidef.SessionState{OrgID: "org2", AccessRights: access("a")}))
		}
		// A key in Tyk's base64 JSON form, naming its org, created by name.
		tykKey := base64.StdEncoding.EncodeToString([]byte(`{"org":"org1","id":"5f8f8c1e4c8a4f3b","h":"sha256"}`))
		if strings.ContainsAny(tykKey, "/+") {
			t.Fatalf("pick another id: %s does not fit in a path", tykKey)
		}
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + tykKey,
			Body: `{"org_id": "org1", "access_rights": {"a": {"api_id": "a"}}}`}))
		want1 := append(slices.Clone(org1), tykKey)
		sort.Strings(want1)
		sort.Strings(org2)
		if got := listKeys(t, g, "?filter=org1"); !slices.Equal(got, want1) {
			t.Errorf("?filter=org1 = %q, want %q", got, want1)
		}
		if got := listKeys(t, g, "?filter=org2"); !slices.Equal(got, org2) {
			t.Errorf("?filter=org2 = %q, want %q", got, org2)
		}
		if got := listKeys(t, g, "?filter=org3"); len(got) != 0 {
			t.Errorf("?filter=org3 = %q, want none", got)
		}
		if got := listKeys(t, g, "?filter="); len(got) != 5 {
			t.Errorf("?filter= (empty) = %q, want every key", got)
		}
	})
}
