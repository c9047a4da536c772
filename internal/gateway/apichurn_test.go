package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAPIChurnMemory creates APIs through the Gateway API, each with an api_id and listen path
// never used before (and metrics, analytics, CORS, endpoint lists, event handlers and an uptime
// check on), serves a request on
// each, deletes it and reloads, hundreds of times: once the gateway has warmed up, the heap it
// holds must not grow with the APIs it has seen come and go.
func TestAPIChurnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates and deletes hundreds of APIs")
	}
	// An upstream that keeps nothing of what it serves (gt.NewUpstream keeps every request).
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	_, analytics := analyticsFile(t)
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.Prometheus.Enabled = true
		analytics(c)
	}})
	n := 0
	round := func() {
		n++
		id := fmt.Sprintf("churn-%05d", n)
		def := gt.API(id, "/"+id+"/", up.URL)
		def.EnableDetailedRecording = true
		def.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://" + id + ".example"}}
		v := def.VersionData.Versions["Default"]
		v.UseExtendedPaths = true
		v.ExtendedPaths.BlackList = []apidef.EndPointMeta{{Path: "/blocked-" + id, Method: "GET"}}
		def.VersionData.Versions["Default"] = v
		// Event handlers and an uptime check of its own: a webhook's slots, marks and template,
		// and the checker's state, must go with the API.
		def.UptimeTests.CheckList = []apidef.HostCheck{{URL: up.URL + "/health-" + id}}
		def.EventHandlers.Events = map[string][]apidef.EventHandler{
			"HostDown":    {{HandlerName: apidef.WebHookHandler, HandlerMeta: json.RawMessage(`{"target_path": "` + up.URL + `/hook", "event_timeout": 60}`)}},
			"AuthFailure": {{HandlerName: apidef.LogHandler, HandlerMeta: json.RawMessage(`{"prefix": "` + id + `"}`)}},
		}
		body, err := json.Marshal(def)
		if err != nil {
			t.Fatal(err)
		}
		gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/apis", Body: string(body)}))
		g.Reload()
		gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Path: "/" + id + "/x"}))
		gt.Check(t, gt.Case{Code: http.StatusForbidden}, g.Do(gt.Case{Path: "/" + id + "/blocked-" + id}))
		gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/apis/" + id}))
		g.Reload()
		gt.Check(t, gt.Case{Code: http.StatusNotFound}, g.Do(gt.Case{Path: "/" + id + "/x"}))
	}
	const warm, measured = 50, 300
	for range warm {
		round()
	}
	before := benchkit.LiveHeapStats()
	for range measured {
		round()
	}
	grew := benchkit.LiveHeapStats().Sub(before)
	perObjects := float64(grew.Objects) / measured
	t.Logf("after %d more APIs created and deleted: %+d bytes, %+d objects (%.1f objects per API)",
		measured, grew.Bytes, grew.Objects, perObjects)
	// A compiled API holds about 25 heap objects (TestAPIMemory): keeping even a small part of
	// each one deleted shows here. The bytes are not checked: the test's own log buffer grows
	// by a few lines per API (in a handful of objects).
	if perObjects > 3 {
		t.Errorf("the heap grows by %.1f objects per API created and deleted, want none", perObjects)
	}
}
