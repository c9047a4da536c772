package gateway_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAnalyticsTagHeadersNoCredentials: tag_headers naming headers that carry credentials (the
// API's auth header, Authorization, Cookie, Proxy-Authorization, X-Tyk-Authorization) tag the
// record "<header>-[redacted]", never with the value; other headers keep theirs (Go's client
// does not send Proxy-Authorization to a server that is not a proxy, so it is not sent). Detailed
// recording is off, so only the tags could leak.
func TestAnalyticsTagHeadersNoCredentials(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("tagged", "/tagged/", up.URL))
	api.Auth.AuthHeaderName = "X-Api-Key"
	api.TagHeaders = []string{"X-Team", "x-api-key", "Authorization", "Cookie", "Proxy-Authorization", "X-Tyk-Authorization"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	key := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 60, AccessRights: access("tagged")})
	secrets := map[string]string{
		"X-Api-Key":           key,
		"Authorization":       "Bearer upstream-secret-1",
		"Cookie":              "sid=upstream-secret-2",
		"X-Tyk-Authorization": "upstream-secret-4",
	}
	headers := map[string]string{"X-Team": "blue"}
	for k, v := range secrets {
		headers[k] = v
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/tagged/x", Headers: headers}))

	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	tags := records[0].Tags
	for _, want := range []string{"x-team-blue", "x-api-key-[redacted]", "authorization-[redacted]", "cookie-[redacted]",
		"x-tyk-authorization-[redacted]"} {
		if !slices.Contains(tags, want) {
			t.Errorf("tags %q lack %q", tags, want)
		}
	}
	for name, v := range secrets {
		for _, tag := range tags {
			if strings.Contains(tag, strings.TrimPrefix(v, "Bearer ")) {
				t.Errorf("tag %q holds the value of %s", tag, name)
			}
		}
	}
}
