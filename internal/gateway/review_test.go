package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// TestAccessRightVersions follows Tyk: on a versioned API the key must name the version; on a
// not-versioned API the versions it names do not matter.
func TestAccessRightVersions(t *testing.T) {
	up := gt.NewUpstream(t)
	versioned := gt.Keyed(gt.API("v", "/v/", up.URL))
	versioned.VersionDefinition = apidef.VersionDefinition{Location: "header"}
	versioned.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: map[string]apidef.VersionInfo{"v1": {Name: "v1"}, "v2": {Name: "v2"}}}
	plain := gt.Keyed(gt.API("p", "/p/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{versioned, plain}})
	none := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"v": {APIID: "v"}, "p": {APIID: "p", Versions: []string{"v9"}}}})
	auth := map[string]string{"Authorization": none}
	g.Run(t,
		gt.Case{Name: "versioned API, no versions listed", Path: "/v/x", Headers: auth, Code: 403},
		gt.Case{Name: "not-versioned API, other versions listed", Path: "/p/x", Headers: auth, Code: 200},
	)
}

// TestKeyLifetimeFromAPIs keeps a key as long as the longest session_lifetime of its APIs.
func TestKeyLifetimeFromAPIs(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	short := gt.Keyed(gt.API("short", "/short/", up.URL))
	short.SessionLifetime = 60
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{short}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("short")})
	auth := map[string]string{"Authorization": key}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/short/x", Headers: auth}))
	clock.Advance(61 * time.Second)
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/short/x", Headers: auth}))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key}))
}

// TestAPILimitDoesNotUseQuota refuses requests at the API-wide limit without counting them
// against the key's quota.
func TestAPILimitDoesNotUseQuota(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("gq", "/gq/", up.URL))
	def.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1, Per: 60}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	key := g.CreateKey(&apidef.SessionState{QuotaMax: 5, QuotaRenewalRate: 3600, AccessRights: access("gq")})
	auth := map[string]string{"Authorization": key}
	g.Run(t,
		gt.Case{Name: "first", Path: "/gq/x", Headers: auth, Code: 200},
		gt.Case{Name: "API limit", Path: "/gq/x", Headers: auth, Code: 429},
		gt.Case{Name: "API limit again", Path: "/gq/x", Headers: auth, Code: 429},
		gt.Case{Name: "quota only counted the first", Admin: true, Path: "/tyk/keys/" + key, BodyMatch: `"quota_remaining": 4`},
	)
}

// TestGatewayAPIReturnsDefinitionsAsStored keeps fields Gatehouse does not read.
func TestGatewayAPIReturnsDefinitionsAsStored(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	g.WriteFile("u.json", []byte(`{"api_id": "u", "proxy": {"listen_path": "/u/", "target_url": "`+up.URL+`"}, "use_keyless": true, "uptime_tests": {"check_list": [{"url": "x"}]}}`))
	g.Run(t,
		gt.Case{Name: "get", Admin: true, Path: "/tyk/apis/u", Code: 200, BodyMatch: `"uptime_tests"`},
		gt.Case{Name: "list", Admin: true, Path: "/tyk/apis", Code: 200, BodyMatch: `"uptime_tests"`},
	)
}

// TestEditedAPIDoesNotTakeAnotherListenPath: an API that changes its listen path to one another
// API serves is the newcomer there, whatever the file names.
func TestEditedAPIDoesNotTakeAnotherListenPath(t *testing.T) {
	up1, up2 := gt.NewUpstream(t), gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("zz", "/shared/", up1.URL), gt.API("bb", "/other/", up2.URL)}})
	g.WriteAPI(gt.API("bb", "/shared/", up2.URL))
	g.Reload()
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/shared/x"}))
	if len(up1.Requests()) != 1 || len(up2.Requests()) != 0 {
		t.Errorf("the edited API took the listen path: %d and %d requests", len(up1.Requests()), len(up2.Requests()))
	}
	gt.Check(t, gt.Case{BodyMatch: `"api:bb"(?s:.*)already served by API \\"zz\\"`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
}

// TestBadKeysRefused refuses keys whose numbers would overflow, or whose allowed URLs do not
// compile, instead of storing a key that fails every request.
func TestBadKeysRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}})
	for name, body := range map[string]string{
		"huge rate":        `{"rate": 1e19, "per": 1, "access_rights": {"a": {"api_id": "a"}}}`,
		"huge per":         `{"rate": 1, "per": 1e12, "access_rights": {"a": {"api_id": "a"}}}`,
		"huge renewal":     `{"quota_max": 1, "quota_renewal_rate": 9300000000, "access_rights": {"a": {"api_id": "a"}}}`,
		"huge API limit":   `{"access_rights": {"a": {"api_id": "a", "limit": {"rate": 1, "per": 1e15}}}}`,
		"bad URL":          `{"access_rights": {"a": {"api_id": "a", "allowed_urls": [{"url": "/x(", "methods": ["GET"]}]}}}`,
		"custom limit key": `{"rate": 10, "per": 1, "meta_data": {"rate_limit_pattern": "$tyk_context.remote_addr"}, "access_rights": {"a": {"api_id": "a"}}}`,
	} {
		g.Run(t, gt.Case{Name: name, Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: body, Code: 400})
	}
}

// TestKeysNeverLogged sends keys where a careless log line would show them.
func TestKeysNeverLogged(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("a", "/a/", up.URL))
	def.Auth.UseParam, def.Auth.ParamName = true, "tok"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	secret := "raw-key-that-must-not-be-logged"
	g.Do(gt.Case{Path: "/tyk/keys/" + secret, Headers: map[string]string{"X-Tyk-Authorization": "wrong"}})
	g.Raw("GET /a/%2e%2e/x?tok=" + secret + " HTTP/1.1\r\nHost: x\r\n\r\n")
	g.Do(gt.Case{Path: "/a/x?tok=" + secret})
	if strings.Contains(g.Logs(), secret) {
		t.Errorf("a raw key reached the logs:\n%s", g.Logs())
	}
}

func TestStripAuthDataKeepsTheQuery(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.Keyed(gt.API("a", "/a/", up.URL))
	def.Auth.UseParam, def.Auth.ParamName, def.StripAuthData = true, "tok", true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("a")})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x?z=2&tok=" + key + "&a=1&b=%20"}))
	seen, _ := up.Last()
	if seen.Query != "z=2&a=1&b=%20" {
		t.Errorf("upstream query %q, want z=2&a=1&b=%%20 (order and escapes kept)", seen.Query)
	}
}
