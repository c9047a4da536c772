package gateway_test

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAnalyticsNormaliseURLs: with analytics_config.normalise_urls, records carry the path with
// UUIDs, numbers and custom patterns replaced, as Tyk writes them, and the raw path as requested.
func TestAnalyticsNormaliseURLs(t *testing.T) {
	up := gt.NewUpstream(t)
	file, on := analyticsFile(t)
	def := gt.API("shop", "/shop/", up.URL)
	v := def.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.TrackEndpoints = []apidef.TrackEndpointMeta{{Path: "/tracked/7", Method: "GET"}}
	def.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		on(c)
		nu := &c.AnalyticsConfig.NormaliseUrls
		nu.Enabled, nu.NormaliseUUIDs, nu.NormaliseNumbers = true, true, true
		nu.CustomPatterns = []string{`ord_[a-z]+`}
	}})
	paths := []string{"/shop/users/42/orders/ord_abc", "/shop/carts/123e4567-e89b-12d3-a456-426614174000", "/shop/plain", "/shop/tracked/7"}
	for _, p := range paths {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: p}))
	}
	var got, raw []string
	for _, r := range readRecords(t, file, len(paths)) {
		got, raw = append(got, r.Path), append(raw, r.RawPath)
	}
	slices.Sort(got)
	slices.Sort(raw)
	// A track_endpoints entry's path stands for the request's, normalised too, as in Tyk.
	want := []string{"/shop/carts/{uuid}", "/shop/plain", "/shop/users/{id}/orders/{var}", "/tracked/{id}"}
	if !slices.Equal(got, want) {
		t.Errorf("paths recorded %q, want %q", got, want)
	}
	wantRaw := slices.Clone(paths)
	slices.Sort(wantRaw)
	if !slices.Equal(raw, wantRaw) {
		t.Errorf("raw paths recorded %q, want %q", raw, wantRaw)
	}
}
