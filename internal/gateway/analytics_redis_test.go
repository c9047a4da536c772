package gateway_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// msgpackStrings is a msgpack array of short strings (fixarray of fixstr), as a record's Tags.
func msgpackStrings(ss ...string) []byte {
	b := []byte{0x90 | byte(len(ss))}
	for _, s := range ss {
		b = append(b, 0xa0|byte(len(s)))
		b = append(b, s...)
	}
	return b
}

// TestAnalyticsPluginBeforeRedis: with the Redis store, the API's analytics plugin (a real .so)
// changes the record before it is written to the list tyk-pump reads, and Tyk's org- and api-
// tags come after its own; a plugin that panics drops its record. tests/pump decodes whole
// records with tyk-pump's decoder; this checks the plugin's part, which needs plugins built in
// this module.
func TestAnalyticsPluginBeforeRedis(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	faults := plugintest.Build(t, faultsPkg)
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	tagged := gt.API("tagged", "/tagged/", up.URL)
	tagged.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: so, FuncName: "MyAnalyticsPluginAddTag"}
	panics := gt.API("panics", "/panics/", up.URL)
	panics.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: faults, FuncName: "PanicAnalytics"}
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{tagged, panics}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
		c.AnalyticsConfig.PoolSize = 1 // one writer: records reach the list in order
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/panics/x"}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/tagged/x"}))

	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var vals []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		vals, err = c.Do(ctx, c.B().Lrange().Key("analytics-tyk-system-analytics").Start(0).Stop(-1).Build()).AsStrSlice()
		if err == nil && len(vals) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record in Redis: %v", err)
		}
	}
	if len(vals) != 1 {
		t.Fatalf("%d records, want only the tagged API's: a panicking plugin's record is dropped", len(vals))
	}
	want := append([]byte("\xa4Tags"), msgpackStrings("TEST", "org-default", "api-tagged")...)
	if !bytes.Contains([]byte(vals[0]), want) {
		t.Errorf("the record's tags are not TEST, org-default, api-tagged:\n%q", vals[0])
	}
}
