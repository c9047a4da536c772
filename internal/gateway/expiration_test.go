package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// TestAPIExpiration: a not-versioned API serves until its expiration (UTC), then answers every
// request with Tyk's 403, before its endpoint lists and plugins; a versioned API's expiration
// changes nothing (its versions expire on their own, as in Tyk), and the log says so.
func TestAPIExpiration(t *testing.T) {
	t.Parallel()
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	expiring := gt.API("expiring", "/expiring/", up.URL)
	expiring.Expiration = "2026-03-01 12:00"
	expiring.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/open", Method: "GET", MethodActions: map[string]apidef.EndpointMethodMeta{
			"GET": {Action: apidef.ActionReply, Code: 200, Data: "mocked"}}}},
			BlackList: []apidef.EndPointMeta{{Path: "/admin", Method: "GET"}}}}}
	versioned := gt.API("versioned", "/versioned/", up.URL)
	versioned.Expiration = "2026-03-01 12:00"
	versioned.VersionData.NotVersioned = false
	versioned.VersionData.DefaultVersion = "v1"
	versioned.VersionData.Versions = map[string]apidef.VersionInfo{"v1": {Name: "v1"}}
	// A not-versioned API's version does not expire, as in Tyk (its expiration does): noted.
	versionDate := gt.API("version-date", "/version-date/", up.URL)
	versionDate.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", Expires: "2026-01-01 00:00"}}
	never := gt.API("never", "/never/", up.URL)
	never.Expiration = "-1"
	// Dates beyond what Unix nanoseconds hold, and the Unix epoch itself, are dates too.
	far := gt.API("far", "/far/", up.URL)
	far.Expiration = "2300-01-01 00:00"
	epoch := gt.API("epoch", "/epoch/", up.URL)
	epoch.Expiration = "1970-01-01 00:00"
	old := gt.API("old", "/old/", up.URL)
	old.Expiration = "1600-01-01 00:00"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{expiring, versioned, versionDate, never, far, epoch, old}, Now: clock.Now})

	const expired = "API has expired, please check documentation or contact administrator"
	// Before, responses say when (Tyk's X-Tyk-Api-Expires), but for the lists' refusals and
	// mock replies.
	g.Run(t,
		gt.Case{Name: "before", Path: "/expiring/x", Code: 200, HeadersMatch: map[string]string{"X-Tyk-Api-Expires": "Sun, 01 Mar 2026 12:00:00 UTC"}},
		gt.Case{Name: "mock reply before", Path: "/expiring/open", Code: 200, BodyEquals: "mocked", HeadersNotPresent: []string{"X-Tyk-Api-Expires"}},
		gt.Case{Name: "black list before", Path: "/expiring/admin", Code: 403, HeadersNotPresent: []string{"X-Tyk-Api-Expires"}},
		gt.Case{Name: "a not-versioned API's version date", Path: "/version-date/x", Code: 200, HeadersNotPresent: []string{"X-Tyk-Api-Expires"}},
	)
	clock.Advance(time.Minute)
	g.Run(t,
		gt.Case{Name: "at the expiration", Path: "/expiring/x", Code: 403, BodyMatch: jsonError(expired)},
		gt.Case{Name: "mock reply after", Path: "/expiring/open", Code: 403, BodyMatch: jsonError(expired)},
		gt.Case{Name: "versioned", Path: "/versioned/x", Code: 200},
		gt.Case{Name: "never", Path: "/never/x", Code: 200},
		gt.Case{Name: "in 2300", Path: "/far/x", Code: 200},
		gt.Case{Name: "at the epoch", Path: "/epoch/x", Code: 403, BodyMatch: jsonError(expired)},
		gt.Case{Name: "in 1600", Path: "/old/x", Code: 403, BodyMatch: jsonError(expired)},
	)
	for _, note := range []string{"expiration (the API is versioned", `expires (the API is not versioned`} {
		if logs := g.Logs(); !strings.Contains(logs, note) {
			t.Errorf("no log of %q:\n%s", note, logs)
		}
	}
}
