package gateway_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// versionedAPIs returns a keyless base API on /orders/ (version "v1", its own) whose version
// "v2" is served by a keyed, internal API and "beta" by a keyless one reachable on its own
// listen path, each in front of an upstream of its own; set adjusts the base's definition block.
func versionedAPIs(t *testing.T, set func(*apidef.VersionDefinition)) (apis []*apidef.APIDefinition, base, v2, beta *gt.Upstream) {
	base, v2, beta = gt.NewUpstream(t), gt.NewUpstream(t), gt.NewUpstream(t)
	b := gt.API("orders", "/orders/", base.URL+"/base")
	b.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version", VersionAPIs: &apidef.VersionAPIs{
		Enabled: true, Name: "v1", Default: "self",
		Versions: map[string]string{"v2": "orders-v2", "beta": "orders-beta", "gone": "orders-gone"}}}
	if set != nil {
		set(&b.VersionDefinition)
	}
	c2 := gt.Keyed(gt.API("orders-v2", "/orders-v2/", v2.URL+"/v2"))
	c2.Internal = true
	cb := gt.API("orders-beta", "/orders-beta/", beta.URL+"/beta")
	return []*apidef.APIDefinition{b, c2, cb}, base, v2, beta
}

// TestVersionAPIs: a base API (definition.enabled) has the version a request names served by
// that version's API, through its whole chain (a keyed version refuses a request without its
// key, and lets in a key for it), with the path after the base's listen path; its own version
// and "self" are served by itself; unknown versions, and versions whose API is not loaded, get
// Tyk's 404; version APIs stay reachable on their own listen path unless internal.
func TestVersionAPIs(t *testing.T) {
	apis, base, v2, beta := versionedAPIs(t, nil)
	g := gt.Start(t, gt.Options{APIs: apis})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("orders-v2")})
	otherKey := g.CreateKey(&apidef.SessionState{AccessRights: access("orders")})
	hv := func(v string, more ...string) map[string]string {
		h := map[string]string{"x-api-version": v}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	g.Run(t,
		gt.Case{Name: "no version: the default, self", Path: "/orders/list", Code: http.StatusOK, BodyMatch: `"path": "/base/list"`},
		gt.Case{Name: "the base's own name", Path: "/orders/list", Headers: hv("v1"), Code: http.StatusOK, BodyMatch: `"path": "/base/list"`},
		gt.Case{Name: "self", Path: "/orders/list", Headers: hv("self"), Code: http.StatusOK, BodyMatch: `"path": "/base/list"`},
		gt.Case{Name: "keyed version without a key", Path: "/orders/list", Headers: hv("v2"), Code: http.StatusUnauthorized},
		gt.Case{Name: "keyed version, a key for the base only", Path: "/orders/list", Headers: hv("v2", "Authorization", otherKey), Code: http.StatusForbidden},
		gt.Case{Name: "keyed version with its key", Path: "/orders/list?a=1", Headers: hv("v2", "Authorization", key), Code: http.StatusOK, BodyMatch: `"path": "/v2/list"`},
		gt.Case{Name: "another version", Path: "/orders/items/7", Headers: hv("beta"), Code: http.StatusOK, BodyMatch: `"path": "/beta/items/7"`},
		gt.Case{Name: "unknown version", Path: "/orders/list", Headers: hv("v9"), Code: http.StatusNotFound, BodyMatch: `This API version does not seem to exist`},
		gt.Case{Name: "a version whose API is not loaded", Path: "/orders/list", Headers: hv("gone"), Code: http.StatusNotFound, BodyMatch: `This API version does not seem to exist`},
		gt.Case{Name: "an internal version API is not routed", Path: "/orders-v2/list", Headers: map[string]string{"Authorization": key}, Code: http.StatusNotFound},
		gt.Case{Name: "a public version API on its own path", Path: "/orders-beta/x", Code: http.StatusOK, BodyMatch: `"path": "/beta/x"`},
	)
	if r, ok := v2.Last(); !ok || r.Query != "a=1" || r.Headers["X-Api-Version"] != "v2" {
		t.Errorf("the version API's upstream got %+v, want the query and, without strip_versioning_data, the version header", r)
	}
	if n := len(base.Requests()); n != 3 {
		t.Errorf("the base's upstream got %d requests, want the 3 the base served", n)
	}
	if n := len(beta.Requests()); n != 2 {
		t.Errorf("beta's upstream got %d requests, want 2", n)
	}
	// Deleting a version's API takes it out of a Classic base's versions too.
	g.Run(t,
		gt.Case{Name: "delete beta's API", Admin: true, Method: "DELETE", Path: "/tyk/apis/orders-beta", Code: 200},
		gt.Case{Name: "the base no longer names it", Admin: true, Path: "/tyk/apis/orders", Code: 200,
			BodyMatch: `"v2": "orders-v2"`, BodyNotMatch: `orders-beta`},
	)
	// A request a version API served counts for it alone; the base counts what it served
	// and its refusals.
	scrapeMetrics(t, g).wantValues(t, "gatehouse_http_requests_total", map[string]float64{
		"api_id=orders,code=200,method=GET":      3,
		"api_id=orders,code=404,method=GET":      2,
		"api_id=orders-v2,code=401,method=GET":   1,
		"api_id=orders-v2,code=403,method=GET":   1,
		"api_id=orders-v2,code=200,method=GET":   1,
		"api_id=orders-beta,code=200,method=GET": 2,
		"api_id=,code=404,method=GET":            1,
	})
}

// TestVersionAPIsDefaults: with no default a request naming no version gets Tyk's 403; with
// fallback_to_default an unknown version is served by the default, the base or a version API.
func TestVersionAPIsDefaults(t *testing.T) {
	t.Run("no default", func(t *testing.T) {
		apis, _, _, _ := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.Default = "" })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t,
			gt.Case{Name: "no version", Path: "/orders/x", Code: http.StatusForbidden, BodyMatch: `Version information not found`},
			gt.Case{Name: "own version", Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "v1"}, Code: http.StatusOK},
		)
	})
	t.Run("fallback to a version API", func(t *testing.T) {
		apis, _, _, beta := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.Default, vd.FallbackToDefault = "beta", true })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t,
			gt.Case{Name: "unknown", Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "v9"}, Code: http.StatusOK, BodyMatch: `"path": "/beta/x"`},
			gt.Case{Name: "not loaded", Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "gone"}, Code: http.StatusOK, BodyMatch: `"path": "/beta/x"`},
			gt.Case{Name: "none", Path: "/orders/y", Code: http.StatusOK, BodyMatch: `"path": "/beta/y"`},
		)
		if n := len(beta.Requests()); n != 3 {
			t.Errorf("beta's upstream got %d requests, want 3", n)
		}
	})
	t.Run("fallback to self", func(t *testing.T) {
		apis, base, _, _ := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.FallbackToDefault = true })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t, gt.Case{Name: "unknown", Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "v9"}, Code: http.StatusOK, BodyMatch: `"path": "/base/x"`})
		if n := len(base.Requests()); n != 1 {
			t.Errorf("the base's upstream got %d requests, want 1", n)
		}
	})
	t.Run("fallback to a version API not loaded", func(t *testing.T) {
		apis, _, _, _ := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.Default, vd.FallbackToDefault = "gone", true })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t, gt.Case{Name: "unknown", Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "v9"}, Code: http.StatusInternalServerError})
		if !strings.Contains(g.Logs(), `the default version \"gone\" has no API loaded`) {
			t.Errorf("the log does not say why:\n%s", g.Logs())
		}
	})
}

// TestVersionAPIsLocations: the version is read from a query parameter or the first path
// segment as well; strip_versioning_data takes it out of what goes on (the header, the
// parameter, the segment), and url_versioning_pattern limits which segments are taken out.
func TestVersionAPIsLocations(t *testing.T) {
	t.Run("url-param", func(t *testing.T) {
		apis, _, _, beta := versionedAPIs(t, func(vd *apidef.VersionDefinition) {
			vd.Location, vd.Key, vd.StripVersioningData = "url-param", "version", true
		})
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t, gt.Case{Path: "/orders/x?z=1&sig=a%2Fb%20c&flag&version=beta&b=2&versio%6E=x", Code: http.StatusOK, BodyMatch: `"path": "/beta/x"`})
		// The version parameter goes, in both spellings; the others stay byte for byte, in order.
		if r, _ := beta.Last(); r.Query != "z=1&sig=a%2Fb%20c&flag&b=2" {
			t.Errorf("query at the version API's upstream %q, want the version parameter stripped and the rest as sent", r.Query)
		}
	})
	t.Run("strip_path strips URL segments only", func(t *testing.T) {
		apis, _, _, beta := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.StripPath = true })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t, gt.Case{Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "beta"}, Code: http.StatusOK})
		if r, _ := beta.Last(); r.Headers["X-Api-Version"] != "beta" {
			t.Errorf("the version header %q at the upstream, want it kept: strip_path is for url locations", r.Headers["X-Api-Version"])
		}
	})
	t.Run("header stripped", func(t *testing.T) {
		apis, base, _, beta := versionedAPIs(t, func(vd *apidef.VersionDefinition) { vd.StripVersioningData = true })
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t,
			gt.Case{Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "beta", "X_Api_Version": "v9"}, Code: http.StatusOK},
			gt.Case{Path: "/orders/x", Headers: map[string]string{"X-Api-Version": "v1"}, Code: http.StatusOK},
		)
		for name, u := range map[string]*gt.Upstream{"beta": beta, "base": base} {
			r, _ := u.Last()
			for k, v := range r.Headers {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "x-api-version") {
					t.Errorf("%s's upstream got the version header %s: %q, want it stripped in every spelling", name, k, v)
				}
			}
		}
	})
	t.Run("url", func(t *testing.T) {
		apis, _, _, _ := versionedAPIs(t, func(vd *apidef.VersionDefinition) {
			vd.Location, vd.StripVersioningData, vd.URLVersioningPattern = "url", true, `^(v\d+|beta)$`
			vd.FallbackToDefault = true
		})
		g := gt.Start(t, gt.Options{APIs: apis})
		key := g.CreateKey(&apidef.SessionState{AccessRights: access("orders-v2")})
		g.Run(t,
			gt.Case{Name: "a version API", Path: "/orders/beta/items/7", Code: http.StatusOK, BodyMatch: `"path": "/beta/items/7"`},
			gt.Case{Name: "the keyed one", Path: "/orders/v2/items", Headers: map[string]string{"Authorization": key}, Code: http.StatusOK, BodyMatch: `"path": "/v2/items"`},
			gt.Case{Name: "the base's own, stripped", Path: "/orders/v1/items", Code: http.StatusOK, BodyMatch: `"path": "/base/items"`},
			gt.Case{Name: "no version segment: the fallback keeps the path", Path: "/orders/items/7", Code: http.StatusOK, BodyMatch: `"path": "/base/items/7"`},
			gt.Case{Name: "a dot segment after the version: refused before routing", Path: "/orders/beta/%2e%2e/x", Code: http.StatusBadRequest},
		)
	})
	t.Run("url, version not matching the pattern", func(t *testing.T) {
		apis, _, _, _ := versionedAPIs(t, func(vd *apidef.VersionDefinition) {
			vd.Location, vd.StripVersioningData, vd.URLVersioningPattern = "url", true, `^v\d+$`
		})
		g := gt.Start(t, gt.Options{APIs: apis})
		g.Run(t, gt.Case{Path: "/orders/beta/x", Code: http.StatusOK, BodyMatch: `"path": "/beta/beta/x"`})
	})
}

// TestVersionAPIsRefused: definitions that cannot work are refused with the reason.
func TestVersionAPIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*apidef.VersionDefinition)
		want string
	}{
		{"no location", func(vd *apidef.VersionDefinition) { vd.Location = "" }, `definition.location: "" is not one of header, url-param, url`},
		{"itself as a version", func(vd *apidef.VersionDefinition) { vd.Versions["v3"] = "orders" }, `definition.versions["v3"]: "orders" is this API itself`},
		{"self as a version", func(vd *apidef.VersionDefinition) { vd.Versions["v3"] = "Self" }, `definition.versions["v3"]: "Self" is this API itself`},
		{"own name as a version", func(vd *apidef.VersionDefinition) { vd.Versions["v1"] = "orders-beta" }, `"v1" is this API's own version`},
		{"unknown default", func(vd *apidef.VersionDefinition) { vd.Default = "v7" }, `definition.default: "v7" is neither`},
		{"bad pattern", func(vd *apidef.VersionDefinition) { vd.URLVersioningPattern = "(" }, `definition.url_versioning_pattern`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apis, _, _, _ := versionedAPIs(t, tc.set)
			g := gt.Start(t, gt.Options{APIs: apis})
			g.Run(t,
				gt.Case{Name: "not served", Path: "/orders/x", Code: http.StatusNotFound},
				gt.Case{Name: "health says why", Admin: true, Path: "/hello", Code: http.StatusOK, BodyMatch: regexp.QuoteMeta(strings.ReplaceAll(tc.want, `"`, `\"`))},
			)
		})
	}
}

// TestOASVersionAPIs: a Tyk OAS base API (info.versioning), created through the Gateway API,
// sends a version to a Classic API and another to an OAS one, and GET .../versions lists the
// base then its versions as Tyk does, leaving out a version whose API is not stored.
func TestOASVersionAPIs(t *testing.T) {
	up, upV2 := gt.NewUpstream(t), gt.NewUpstream(t)
	v2 := gt.API("cat-v2", "/cat-v2/", upV2.URL+"/v2")
	v2.Internal, v2.Expiration = true, "2031-01-01 00:00"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{v2}})
	doc := func(id, name, listen, versioning string) string {
		d := strings.NewReplacer("LISTEN", listen, "UPSTREAM", up.URL+"/"+id).Replace(catalogueDoc)
		d = strings.Replace(d, `"info": {"name": "Catalogue", "state": {"active": true}}`,
			`"info": {"id": "`+id+`", "name": "`+name+`", "state": {"active": true}`+versioning+`}`, 1)
		return d
	}
	g.Run(t,
		gt.Case{Name: "the OAS version", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: doc("cat-v3", "Catalogue v3", "/cat-v3/", ""), Code: 200},
		gt.Case{Name: "the base", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: doc("cat", "Catalogue", "/cat/", `, "versioning": {"enabled": true, "name": "v1", "default": "v3", "location": "url-param", "key": "v",
				"stripVersioningData": true, "versions": [{"name": "v2", "id": "cat-v2"}, {"name": "v3", "id": "cat-v3"}, {"name": "v4", "id": "cat-v4"}]}`),
			Code: 200},
	)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "no version: the default, an OAS API", Path: "/cat/ping", Code: 200, BodyEquals: "pong"},
		gt.Case{Name: "v3 upstream", Path: "/cat/other?v=v3", Code: 200, BodyMatch: `"path": "/cat-v3/other"`},
		gt.Case{Name: "the Classic version", Path: "/cat/x?v=v2", Code: 200, BodyMatch: `"path": "/v2/x"`},
		gt.Case{Name: "the base's own", Path: "/cat/x?v=v1", Code: 200, BodyMatch: `"path": "/cat/x"`},
		gt.Case{Name: "a version not stored", Path: "/cat/x?v=v4", Code: 404},
		gt.Case{Name: "versions", Admin: true, Path: "/tyk/apis/oas/cat/versions", Code: 200,
			BodyMatch: `(?s)"id": "cat",.*"versionName": "v1",.*"isDefaultVersion": false.*"id": "cat-v2",.*"versionName": "v2",.*"internal": true,.*"expirationDate": "2031-01-01 00:00",.*"isDefaultVersion": false.*"id": "cat-v3",.*"versionName": "v3",.*"isDefaultVersion": true\s*}\s*\]`},
		gt.Case{Name: "versions, internal only", Admin: true, Path: "/tyk/apis/oas/cat/versions?accessType=internal", Code: 200,
			BodyMatch: `(?s)^\{\s*"status": "success",\s*"apis": \[\s*\{\s*"id": "cat-v2"[^\]]*\]\s*\}\s*$`},
		gt.Case{Name: "versions, by version name", Admin: true, Path: "/tyk/apis/oas/cat/versions?searchText=V3", Code: 200,
			BodyMatch: `"versionName": "v3"`, BodyNotMatch: `"versionName": "v[12]"`},
	)

	// Linking through the Gateway API, as Tyk's query parameters do.
	g.Run(t,
		gt.Case{Name: "link: no version name", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 422, BodyMatch: `The new version name is required`},
		gt.Case{Name: "link: no such base", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=nope&new_version_name=v5",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `nope is not a valid Base API version`},
		gt.Case{Name: "link: a Classic base", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat-v2&new_version_name=v5",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `cat-v2 is not a valid Base API version: Gatehouse links versions to Tyk OAS base APIs only`},
		gt.Case{Name: "link: the base's own name", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=v1",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `is the base API's own version name`},
		gt.Case{Name: "link: a base without a version name", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat-v3&new_version_name=v5",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `you need to provide a version name for the new Base API: cat-v3`},
		gt.Case{Name: "link: a version name with a slash and a NUL", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=..%2F%00x",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `new_version_name .{1,16}x.{1,4}: a version name is`},
		gt.Case{Name: "link: a base version name that is a dot segment", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=v5&base_api_version_name=..",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 400, BodyMatch: `base_api_version_name .{1,4}\.\..{1,4}: a version name is`},
		gt.Case{Name: "nothing was created by the refusals", Admin: true, Path: "/tyk/apis/oas/cat-v5", Code: 404},
		gt.Case{Name: "link", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=v5&set_default=true",
			Body: doc("cat-v5", "Catalogue v5", "/cat-v5/", ""), Code: 200},
		gt.Case{Name: "the base lists it, as its default", Admin: true, Path: "/tyk/apis/oas/cat/versions", Code: 200,
			BodyMatch: `(?s)"id": "cat-v5",.*"versionName": "v5",.*"isDefaultVersion": true`},
		gt.Case{Name: "a new base", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat-v3&base_api_version_name=three&new_version_name=six",
			Body: doc("cat-v6", "Catalogue v6", "/cat-v6/", ""), Code: 200},
		gt.Case{Name: "link: a version name another API serves", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=v2",
			Body: doc("cat-v7", "Catalogue v7", "/cat-v7/", ""), Code: 400, BodyMatch: `its version \\"v2\\" is served by API \\"cat-v2\\"`},
		gt.Case{Name: "link: a base that would be refused", Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=cat&new_version_name=v7&base_api_version_name=v2",
			Body: doc("cat-v7", "Catalogue v7", "/cat-v7/", ""), Code: 400, BodyMatch: `cannot take the version: .*\\"v2\\" is this API's own version`},
		gt.Case{Name: "nothing was created by those", Admin: true, Path: "/tyk/apis/oas/cat-v7", Code: 404},
	)
	// Links made at once are all kept: each reads and writes the base in turn.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("cat-c%d", i)
			r := g.Do(gt.Case{Admin: true, Method: "POST", Path: fmt.Sprintf("/tyk/apis/oas?base_api_id=cat&new_version_name=c%d", i),
				Body: doc(id, "Catalogue "+id, "/"+id+"/", "")})
			if r.Code != 200 {
				t.Errorf("link %s: %d %s", id, r.Code, r.Body)
			}
		}()
	}
	wg.Wait()
	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/oas/cat/versions"}); strings.Count(r.Body, `"versionName":"c`) != 8 {
		t.Errorf("after 8 links at once the base lists %d of them:\n%s", strings.Count(r.Body, `"versionName":"c`), r.Body)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "no version: the new default", Path: "/cat/x", Code: 200, BodyMatch: `"path": "/cat-v5/x"`},
		gt.Case{Name: "the earlier versions stay", Path: "/cat/x?v=v2", Code: 200, BodyMatch: `"path": "/v2/x"`},
		gt.Case{Name: "the new base: its own version by default, in a header", Path: "/cat-v3/x", Code: 200, BodyMatch: `"path": "/cat-v3/x"`},
		gt.Case{Name: "the new base's version", Path: "/cat-v3/x", Headers: map[string]string{"X-Api-Version": "six"}, Code: 200, BodyMatch: `"path": "/cat-v6/x"`},
	)

	// Deleting a version's API takes it out of its base; the base's default, when it was that
	// version, becomes the base's own.
	g.Run(t,
		gt.Case{Name: "delete the default version's API", Admin: true, Method: "DELETE", Path: "/tyk/apis/oas/cat-v5", Code: 200},
		gt.Case{Name: "the base no longer lists it", Admin: true, Path: "/tyk/apis/oas/cat/versions", Code: 200,
			BodyMatch: `(?s)"id": "cat",.*"versionName": "v1",\s*"internal": false,\s*"expirationDate": "",\s*"isDefaultVersion": true`, BodyNotMatch: `cat-v5`},
		gt.Case{Name: "delete a Classic version's API", Admin: true, Method: "DELETE", Path: "/tyk/apis/cat-v2", Code: 200},
	)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "no version: the base's own now", Path: "/cat/x", Code: 200, BodyMatch: `"path": "/cat/x"`},
		gt.Case{Name: "the deleted Classic version", Path: "/cat/x?v=v2", Code: 404},
		gt.Case{Name: "the base's document lists neither", Admin: true, Path: "/tyk/apis/oas/cat", Code: 200, BodyNotMatch: `cat-v5|cat-v2`},
	)
}

// TestDispatchKeepsEncodedPaths: a request a base API hands to a version API, or an API loops
// to another, reaches that API's endpoint lists and upstream with its path decoded once, as
// it would directly: %2541 stays %41 (never "A"), and %25 stays a percent sign.
func TestDispatchKeepsEncodedPaths(t *testing.T) {
	apis, _, _, _ := versionedAPIs(t, nil)
	apis = append(apis, gt.API("looper", "/looper/", "tyk://orders-beta"))
	apis[2].VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{BlackList: []apidef.EndPointMeta{{Path: "/a%41", Method: "GET"}}}}
	g := gt.Start(t, gt.Options{APIs: apis})
	beta := map[string]string{"X-Api-Version": "beta"}
	for _, via := range []struct {
		name, prefix string
		headers      map[string]string
	}{{"directly", "/orders-beta", nil}, {"through the base", "/orders", beta}, {"looped", "/looper", nil}} {
		g.Run(t,
			gt.Case{Name: via.name + ": %2541", Path: via.prefix + "/x%2541", Headers: via.headers, Code: http.StatusOK, BodyMatch: `"uri": "/beta/x%2541"`},
			gt.Case{Name: via.name + ": %25", Path: via.prefix + "/100%25", Headers: via.headers, Code: http.StatusOK, BodyMatch: `"uri": "/beta/100%25"`},
			// The black list entry /a%41 is met by /a%2541 (decoded once, as directly), not by
			// /a%41 (/aA): decoded twice, /a%2541 would have passed it.
			gt.Case{Name: via.name + ": the black list sees one decoding", Path: via.prefix + "/a%2541", Headers: via.headers, Code: http.StatusForbidden},
			gt.Case{Name: via.name + ": another path", Path: via.prefix + "/a%41", Headers: via.headers, Code: http.StatusOK},
		)
	}
}

// TestFleetLinksVersionsTogether: gateways of a fleet linking versions to one base API at once
// keep every version: each link reads, changes and writes the base's document, under the
// fleet's lock.
func TestFleetLinksVersionsTogether(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	nodes := fleetOf(t, srv.Addr, 2)
	doc := func(id, listen, versioning string) string {
		d := strings.NewReplacer("LISTEN", listen, "UPSTREAM", up.URL).Replace(catalogueDoc)
		return strings.Replace(d, `"info": {"name": "Catalogue", "state": {"active": true}}`,
			`"info": {"id": "`+id+`", "name": "`+id+`", "state": {"active": true}`+versioning+`}`, 1)
	}
	gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas",
		Body: doc("base", "/base/", `, "versioning": {"enabled": true, "name": "v0", "default": "self", "location": "header", "key": "x-v"}`)}))
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("v%d", i+1)
			r := nodes[i%2].Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas?base_api_id=base&new_version_name=" + id,
				Body: doc("base-"+id, "/base-"+id+"/", "")})
			if r.Code != 200 {
				t.Errorf("linking %s: %d %s", id, r.Code, r.Body)
			}
		}()
	}
	wg.Wait()
	r := nodes[1].Do(gt.Case{Admin: true, Path: "/tyk/apis/oas/base"})
	for i := range n {
		if id := fmt.Sprintf(`"id":"base-v%d"`, i+1); !strings.Contains(r.Body, id) {
			t.Errorf("the base lost version v%d:\n%s", i+1, r.Body)
		}
	}
}
