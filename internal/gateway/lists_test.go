package gateway_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

func TestEndpointLists(t *testing.T) {
	up := gt.NewUpstream(t)
	get := map[string]apidef.EndpointMethodMeta{"GET": {Action: "no_action"}}
	lists := gt.Keyed(gt.API("lists", "/lists/", up.URL))
	lists.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			Ignored:   []apidef.EndPointMeta{{Path: "/health", MethodActions: get}, {Path: "/public/{id}"}},
			BlackList: []apidef.EndPointMeta{{Path: "/health/internal"}, {Path: "/admin", IgnoreCase: true}, {Path: "/off", Disabled: true}},
		}}
	white := gt.API("white", "/white/", up.URL)
	white.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			WhiteList: []apidef.EndPointMeta{{Path: "/users/{id}", MethodActions: get}, {Path: "/files/*"}},
		}}
	legacy := gt.API("legacy", "/legacy/", up.URL)
	legacy.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", Paths: apidef.LegacyPaths{BlackList: []string{"/secret"}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{lists, white, legacy}})
	g.Run(t,
		gt.Case{Name: "ignored skips auth", Path: "/lists/health", Code: 200},
		gt.Case{Name: "ignored below", Path: "/lists/health/deep", Code: 200},
		gt.Case{Name: "ignored only for GET", Method: "POST", Path: "/lists/health", Code: 401},
		gt.Case{Name: "ignored with a variable", Path: "/lists/public/42", Code: 200},
		gt.Case{Name: "not ignored: segment boundary", Path: "/lists/healthz", Code: 401},
		gt.Case{Name: "black list beats ignored", Path: "/lists/health/internal", Code: 403, BodyMatch: "Requested endpoint is forbidden"},
		gt.Case{Name: "black list ignore_case", Path: "/lists/ADMIN/users", Code: 403},
		gt.Case{Name: "black list with matrix parameters", Path: "/lists/admin;x=1", Code: 403},
		gt.Case{Name: "disabled entry", Path: "/lists/off", Code: 401},
		gt.Case{Name: "white list allows", Path: "/white/users/7", Code: 200},
		gt.Case{Name: "white list method", Method: "DELETE", Path: "/white/users/7", Code: 403},
		gt.Case{Name: "white list wildcard", Path: "/white/files/a/b.txt", Code: 200},
		gt.Case{Name: "white list refuses the rest", Path: "/white/admin", Code: 403, BodyMatch: "Requested endpoint is forbidden"},
		gt.Case{Name: "white list variable is one segment", Path: "/white/users", Code: 403},
		gt.Case{Name: "legacy black list", Path: "/legacy/secret/x", Code: 403},
		gt.Case{Name: "legacy other path", Path: "/legacy/open", Code: 200},
	)
}

func TestVersions(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up, upV2 := gt.NewUpstream(t), gt.NewUpstream(t)
	versions := map[string]apidef.VersionInfo{
		"v1":  {Name: "v1", Expires: "2026-06-01 00:00"},
		"v2":  {Name: "v2", OverrideTarget: upV2.URL},
		"old": {Name: "old", Expires: "2025-01-01 00:00"},
	}
	byParam := gt.API("param", "/param/", up.URL)
	byParam.VersionDefinition = apidef.VersionDefinition{Location: "url-param", Key: "v"}
	byParam.VersionData = apidef.VersionData{Versions: versions}
	byURL := gt.API("url", "/url/", up.URL)
	byURL.VersionDefinition = apidef.VersionDefinition{Location: "url", StripPath: true}
	byURL.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: versions}
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{byParam, byURL}})
	g.Run(t,
		gt.Case{Name: "no version and no default", Path: "/param/x", Code: 403, BodyMatch: "Version information not found"},
		gt.Case{Name: "param v1", Path: "/param/x?v=v1", Code: 200, HeadersMatch: map[string]string{"X-Tyk-Api-Expires": "Mon, 01 Jun 2026 00:00:00 UTC"}},
		gt.Case{Name: "expired version", Path: "/param/x?v=old", Code: 403, BodyMatch: "Api Version has expired"},
		gt.Case{Name: "url version", Path: "/url/v2/x", Code: 200, HeadersNotPresent: []string{"X-Tyk-Api-Expires"}},
		gt.Case{Name: "url without a version uses the default", Path: "/url/other", Code: 200},
	)
	if seen, _ := up.Last(); seen.Path != "/other" {
		t.Errorf("default version saw %q, want /other (nothing but the listen path stripped)", seen.Path)
	}
	if seen, _ := upV2.Last(); seen.Path != "/x" {
		t.Errorf("v2 override target saw %q, want /x (version segment stripped)", seen.Path)
	}
	clock.Advance(200 * 24 * time.Hour)
	g.Run(t, gt.Case{Name: "v1 expires in time", Path: "/param/x?v=v1", Code: 403, BodyMatch: "expired"})
}

// TestURLVersionAndLists checks that with the version in the URL, endpoint lists match the path
// after the version segment, however the path is forwarded: what is checked is what is sent.
func TestURLVersionAndLists(t *testing.T) {
	up := gt.NewUpstream(t)
	v1 := apidef.VersionInfo{Name: "v1", UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		BlackList: []apidef.EndPointMeta{{Path: "/admin"}},
		WhiteList: []apidef.EndPointMeta{{Path: "/users/{id}"}, {Path: "/admin"}},
	}}
	mk := func(id string, stripListen, stripVersion bool) *apidef.APIDefinition {
		d := gt.API(id, "/"+id+"/", up.URL)
		d.Proxy.StripListenPath = stripListen
		d.VersionDefinition = apidef.VersionDefinition{Location: "url", StripPath: stripVersion}
		d.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: map[string]apidef.VersionInfo{"v1": v1}}
		return d
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{mk("both", true, true), mk("keep", false, true), mk("full", false, false)}})
	for _, api := range []string{"both", "keep", "full"} {
		g.Run(t,
			gt.Case{Name: api + " black list through the version", Path: "/" + api + "/v1/admin", Code: 403},
			gt.Case{Name: api + " black list without the version", Path: "/" + api + "/admin", Code: 403},
			gt.Case{Name: api + " white list through the version", Path: "/" + api + "/v1/users/7", Code: 200},
			gt.Case{Name: api + " not on the white list", Path: "/" + api + "/v1/orders", Code: 403},
		)
	}
	paths := map[string]bool{}
	for _, r := range up.Requests() {
		paths[r.Path] = true
	}
	for _, want := range []string{"/users/7", "/keep/users/7", "/full/v1/users/7"} {
		if !paths[want] {
			t.Errorf("upstream paths %v lack %s", paths, want)
		}
	}
}

// TestVersionsStripVersioningData: strip_versioning_data on an API's own versions removes the
// header (in its '_' spelling too) or query parameter that names the version, the rest of the
// query byte for byte, and the URL segment, as Tyk's getVersionFromRequest does.
func TestVersionsStripVersioningData(t *testing.T) {
	up := gt.NewUpstream(t)
	versions := map[string]apidef.VersionInfo{"v1": {Name: "v1"}, "v2": {Name: "v2"}}
	strip := &apidef.VersionAPIs{StripVersioningData: true}
	byHeader := gt.API("header", "/header/", up.URL)
	byHeader.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "X-Api-Version", VersionAPIs: strip}
	byHeader.VersionData = apidef.VersionData{Versions: versions}
	byParam := gt.API("param", "/param/", up.URL)
	byParam.VersionDefinition = apidef.VersionDefinition{Location: "url-param", Key: "v", VersionAPIs: strip}
	byParam.VersionData = apidef.VersionData{Versions: versions}
	byURL := gt.API("url", "/url/", up.URL)
	byURL.VersionDefinition = apidef.VersionDefinition{Location: "url", VersionAPIs: strip}
	byURL.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: versions}
	// A loop back into the API still finds the version (Tyk keeps the name it read).
	loopV2 := rewriteTo("/loop", "loop", "tyk://self/x")
	loopV2.Name = "v2"
	looping := gt.API("looping", "/looping/", up.URL)
	looping.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "X-Api-Version", VersionAPIs: strip}
	looping.VersionData = apidef.VersionData{Versions: map[string]apidef.VersionInfo{"v1": {Name: "v1"}, "v2": loopV2}}
	// url_versioning_pattern: only segments it matches are stripped.
	patterned := gt.API("pat", "/pat/", up.URL)
	patterned.VersionDefinition = apidef.VersionDefinition{Location: "url", VersionAPIs: &apidef.VersionAPIs{StripVersioningData: true, URLVersioningPattern: `^v[0-9]+$`}}
	patterned.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: map[string]apidef.VersionInfo{"v1": {Name: "v1"}, "beta": {Name: "beta"}}}
	kept := gt.API("kept", "/kept/", up.URL)
	kept.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "X-Api-Version"}
	kept.VersionData = apidef.VersionData{Versions: versions}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{byHeader, byParam, byURL, kept, looping, patterned}})

	g.Run(t, gt.Case{Path: "/header/x", Headers: map[string]string{"X-Api-Version": "v2", "X_Api_Version": "v2"}, Code: 200})
	if seen, _ := up.Last(); seen.Headers["X-Api-Version"] != "" || seen.Headers["X_Api_Version"] != "" {
		t.Errorf("header: the upstream got the version header: %v", seen.Headers)
	}
	g.Run(t, gt.Case{Path: "/param/x?a=%2f&v=v2&b=1", Code: 200})
	if seen, _ := up.Last(); seen.Query != "a=%2f&b=1" {
		t.Errorf("param: the upstream got the query %q, want a=%%2f&b=1", seen.Query)
	}
	g.Run(t, gt.Case{Path: "/url/v2/x", Code: 200})
	if seen, _ := up.Last(); seen.Path != "/x" {
		t.Errorf("url: the upstream got %q, want /x", seen.Path)
	}
	g.Run(t, gt.Case{Path: "/looping/loop", Headers: map[string]string{"X-Api-Version": "v2"}, Code: 200})
	if seen, _ := up.Last(); seen.Path != "/x" || seen.Headers["X-Api-Version"] != "" {
		t.Errorf("a loop back into the API: the upstream got %q with %v, want /x without the header", seen.Path, seen.Headers)
	}
	g.Run(t, gt.Case{Path: "/pat/beta/x", Code: 200})
	if seen, _ := up.Last(); seen.Path != "/beta/x" {
		t.Errorf("a version the pattern does not match: the upstream got %q, want /beta/x", seen.Path)
	}
	g.Run(t, gt.Case{Path: "/pat/v1/x", Code: 200})
	if seen, _ := up.Last(); seen.Path != "/x" {
		t.Errorf("a version the pattern matches: the upstream got %q, want /x", seen.Path)
	}
	g.Run(t, gt.Case{Path: "/kept/x", Headers: map[string]string{"X-Api-Version": "v1"}, Code: 200})
	if seen, _ := up.Last(); seen.Headers["X-Api-Version"] != "v1" {
		t.Errorf("without strip_versioning_data the header goes on: %v", seen.Headers)
	}
}
