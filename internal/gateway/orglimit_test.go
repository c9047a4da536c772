package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/middleware/orglimit"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// orgAPIs are a keyless and a keyed API of org acme, a keyless API of another org and one of
// no org.
func orgAPIs(upstream string) []*apidef.APIDefinition {
	open := gt.API("acme-open", "/acme-open/", upstream)
	keyed := gt.Keyed(gt.API("acme-keyed", "/acme-keyed/", upstream))
	other := gt.API("zeta", "/zeta/", upstream)
	none := gt.API("none", "/none/", upstream)
	open.OrgID, keyed.OrgID, other.OrgID, none.OrgID = "acme", "acme", "zeta", ""
	return []*apidef.APIDefinition{open, keyed, other, none}
}

func enforceOrgQuotas(c *config.Config) { c.EnforceOrgQuotas = true }

// TestOrgLimits: with enforce_org_quotas, every API of an org shares the rate limit, quota and
// state of the org's session (/tyk/org/keys), keyless and keyed alike, with Tyk's 403s and
// events; other orgs' APIs, and an org without a session, are not limited; the Gateway API
// reads, lists, resets and deletes org sessions, and refuses broken ones.
func TestOrgLimits(t *testing.T) {
	recv := newHookReceiver(t)
	up, _ := countingUpstream(t)
	apis := orgAPIs(up.URL)
	apis[0].EventHandlers.Events = map[string][]apidef.EventHandler{
		"OrgQuotaExceeded":     {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/quota"}`)}},
		"OrgRateLimitExceeded": {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/rate"}`)}},
	}
	g := gt.Start(t, gt.Options{APIs: apis, Config: enforceOrgQuotas})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("acme-keyed")})
	org := func(method, path, body string) gt.Response {
		return g.Do(gt.Case{Admin: true, Method: method, Path: path, Body: body})
	}
	call := func(path string) gt.Response {
		c := gt.Case{Path: path}
		if strings.HasPrefix(path, "/acme-keyed/") {
			c.Headers = map[string]string{"Authorization": key}
		}
		return g.Do(c)
	}

	// No session: nothing is limited.
	for range 5 {
		gt.Check(t, gt.Case{Code: 200}, call("/acme-open/x"))
	}
	gt.Check(t, gt.Case{Code: 404, BodyMatch: "Org not found"}, org("GET", "/tyk/org/keys/acme", ""))

	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "added"`}, org("POST", "/tyk/org/keys/acme", `{"quota_max": 3, "quota_renewal_rate": 3600}`))
	for i, p := range []string{"/acme-open/a", "/acme-keyed/b", "/acme-open/c"} {
		if r := call(p); r.Code != 200 {
			t.Fatalf("request %d of the org's quota of 3 (%s): %d %s", i+1, p, r.Code, r.Body)
		}
	}
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgQuota}, call("/acme-keyed/d"))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgQuota}, call("/acme-open/e"))
	gt.Check(t, gt.Case{Code: 200}, call("/zeta/x"))
	gt.Check(t, gt.Case{Code: 200}, call("/none/x"))
	if q := recv.settle(t, "/quota", 1); len(q) != 1 || q[0].body["key"] != "acme" || q[0].body["message"] != "Organisation quota has been exceeded" || q[0].body["event"] != "OrgQuotaExceeded" {
		t.Errorf("OrgQuotaExceeded webhooks (the keyless API's, once): %+v", q)
	}

	// Read back; a change keeps the count, reset_quota starts it afresh.
	got := org("GET", "/tyk/org/keys/acme", "")
	var sess apidef.SessionState
	if err := json.Unmarshal([]byte(got.Body), &sess); err != nil || got.Code != 200 || sess.QuotaMax != 3 || sess.OrgID != "acme" {
		t.Errorf("GET the org session: %d %s", got.Code, got.Body)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"keys": \[`}, org("GET", "/tyk/org/keys", ""))
	if r := org("GET", "/tyk/org/keys", ""); !strings.Contains(r.Body, `"acme"`) {
		t.Errorf("the org list: %s", r.Body)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "modified"`}, org("PUT", "/tyk/org/keys/acme", `{"quota_max": 4, "quota_renewal_rate": 3600}`))
	gt.Check(t, gt.Case{Code: 200}, call("/acme-open/f"))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgQuota}, call("/acme-open/g"))
	gt.Check(t, gt.Case{Code: 200}, org("PUT", "/tyk/org/keys/acme?reset_quota=1", `{"quota_max": 4, "quota_renewal_rate": 3600}`))
	gt.Check(t, gt.Case{Code: 200}, call("/acme-open/h"))

	// A rate limit.
	gt.Check(t, gt.Case{Code: 200}, org("PUT", "/tyk/org/keys/acme", `{"rate": 2, "per": 3600}`))
	gt.Check(t, gt.Case{Code: 200}, call("/acme-open/i"))
	gt.Check(t, gt.Case{Code: 200}, call("/acme-keyed/j"))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgRateLimit}, call("/acme-open/k"))
	if r := recv.settle(t, "/rate", 1); len(r) != 1 || r[0].body["key"] != "acme" || r[0].body["event"] != "OrgRateLimitExceeded" {
		t.Errorf("OrgRateLimitExceeded webhooks: %+v", r)
	}

	// Inactive: every API of the org is refused.
	gt.Check(t, gt.Case{Code: 200}, org("PUT", "/tyk/org/keys/acme", `{"is_inactive": true}`))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgInactive}, call("/acme-keyed/l"))
	gt.Check(t, gt.Case{Code: 200}, call("/zeta/x"))

	// Broken sessions and ids are refused, and change nothing.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "not valid"}, org("PUT", "/tyk/org/keys/acme", `{"rate": 5, "per": 0}`))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "not valid"}, org("PUT", "/tyk/org/keys/acme", `{"rate": `))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "is not the org"}, org("PUT", "/tyk/org/keys/acme", `{"org_id": "zeta"}`))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "an org id is"}, org("PUT", "/tyk/org/keys/"+strings.Repeat("o", 300), `{}`))
	gt.Check(t, gt.Case{Code: 403, BodyMatch: orglimit.MsgInactive}, call("/acme-open/m"))

	// An API whose org_id can name no org session (Tyk would find none): served, not limited,
	// said in the log.
	spaced := gt.API("spaced", "/spaced/", up.URL)
	spaced.OrgID = "Acme Corp"
	g.WriteAPI(spaced)
	g.Reload()
	gt.Check(t, gt.Case{Code: 200}, call("/spaced/x"))
	if !strings.Contains(g.Logs(), "cannot name an org session") {
		t.Error("an org_id that names no org session is not said in the log")
	}

	// Deleted: not limited.
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`}, org("DELETE", "/tyk/org/keys/acme", ""))
	gt.Check(t, gt.Case{Code: 404, BodyMatch: "Org not found"}, org("DELETE", "/tyk/org/keys/acme", ""))
	for range 3 {
		gt.Check(t, gt.Case{Code: 200}, call("/acme-open/n"))
	}
}

// TestOrgLimitsOff: without enforce_org_quotas, org sessions limit nothing.
func TestOrgLimitsOff(t *testing.T) {
	up, _ := countingUpstream(t)
	g := gt.Start(t, gt.Options{APIs: orgAPIs(up.URL)})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"is_inactive": true}`}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/acme-open/x"}))
}

// TestOrgLimitsFleet: an org's quota holds for the fleet: of requests spread over two gateways
// sharing Redis, exactly quota_max pass; a session written through one gateway limits the
// other at once.
func TestOrgLimitsFleet(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up, _ := countingUpstream(t)
	var nodes []*gt.Gateway
	for range 2 {
		nodes = append(nodes, gt.Start(t, gt.Options{Redis: srv.Addr, APIs: orgAPIs(up.URL), Config: enforceOrgQuotas}))
	}
	gt.Check(t, gt.Case{Code: 200}, nodes[0].Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"quota_max": 10, "quota_renewal_rate": 3600}`}))
	passed := 0
	for i := range 30 {
		if nodes[i%2].Do(gt.Case{Path: "/acme-open/x"}).Code == 200 {
			passed++
		}
	}
	if passed != 10 {
		t.Errorf("%d of 30 requests over two gateways passed the org's quota of 10", passed)
	}
	gt.Check(t, gt.Case{Code: 200}, nodes[1].Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/org/keys/acme", Body: `{"is_inactive": true}`}))
	within(t, 5*time.Second, "node 0 seeing the org made inactive", func() string {
		if r := nodes[0].Do(gt.Case{Path: "/acme-open/x"}); !strings.Contains(r.Body, orglimit.MsgInactive) {
			return r.Body
		}
		return ""
	})
}

// TestOrgDataAge: with enforce_org_data_age, an API's analytics records expire after its org
// session's data_expires; after a week for an org without a session (Tyk's default); after the
// API's own expire_analytics_after when the session sets none.
func TestOrgDataAge(t *testing.T) {
	up, _ := countingUpstream(t)
	file, analytics := analyticsFile(t)
	apis := orgAPIs(up.URL)
	apis[0].ExpireAnalyticsAfter = 100
	g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		analytics(c)
		c.EnforceOrgDataAge = true
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"data_expires": 3600}`}))
	start := time.Now()
	g.Do(gt.Case{Path: "/acme-open/x"})
	g.Do(gt.Case{Path: "/zeta/x"})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/org/keys/acme", Body: `{"rate": 100, "per": 1}`}))
	g.Do(gt.Case{Path: "/acme-open/y"})
	recs := readRecords(t, file, 3)
	want := map[string]time.Duration{"/acme-open/x": time.Hour, "/zeta/x": 7 * 24 * time.Hour, "/acme-open/y": 100 * time.Second}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for _, r := range recs {
		age, ok := want[r.Path]
		if !ok {
			t.Errorf("a record of %s", r.Path)
			continue
		}
		if got := r.ExpireAt.Sub(start); got < age-time.Minute || got > age+time.Minute {
			t.Errorf("%s expires after %v, want %v", r.Path, got.Round(time.Second), age)
		}
	}
}

// TestQuotaMonitor: Tyk's quota monitor sends TriggerExceeded to monitor.configuration's webhook
// (Tyk's monitor template built in) when a key's quota use reaches a trigger of its own, then
// global_trigger_limit; and when an org's does; each trigger once within event_timeout; a key's
// hash, never the key; an org's with no key.
func TestQuotaMonitor(t *testing.T) {
	recv := newHookReceiver(t)
	up, _ := countingUpstream(t)
	keyed := gt.Keyed(gt.API("mk", "/mk/", up.URL))
	org := gt.API("mo", "/mo/", up.URL)
	org.OrgID = "acme"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keyed, org}, Config: func(c *config.Config) {
		c.EnforceOrgQuotas = true
		c.Monitor.EnableTriggerMonitors, c.Monitor.MonitorUserKeys, c.Monitor.MonitorOrgKeys = true, true, true
		c.Monitor.GlobalTriggerLimit = 80
		c.Monitor.Configuration = apidef.WebHookMeta{Method: "POST", TargetPath: recv.URL + "/monitor", EventTimeout: 60, HeaderMap: map[string]string{"X-Hook-Secret": "m0n"}}
	}})
	key := g.CreateKey(&apidef.SessionState{QuotaMax: 10, QuotaRenewalRate: 3600, OrgID: "k-org", Monitor: apidef.Monitor{TriggerLimits: []float64{50}}, AccessRights: access("mk")})
	var hash string
	for i := range 10 {
		if r := g.Do(gt.Case{Path: "/mk/x", Headers: map[string]string{"Authorization": key}}); r.Code != 200 {
			t.Fatalf("keyed request %d: %d", i+1, r.Code)
		}
		if n := len(recv.at("/monitor")); i == 3 && n != 0 {
			t.Fatalf("a trigger fired at 40%% of the quota")
		}
		if i == 4 {
			got := recv.settle(t, "/monitor", 1)
			if len(got) != 1 || got[0].body["trigger_limit"] != "50" || got[0].body["event"] != "TriggerExceeded" || got[0].body["message"] != "Quota trigger reached" || got[0].body["org"] != "k-org" || got[0].secret != "m0n" {
				t.Fatalf("at 50%% of the quota: %+v", got)
			}
			hash, _ = got[0].body["key"].(string)
		}
	}
	got := recv.settle(t, "/monitor", 2)
	if len(got) != 2 || got[1].body["trigger_limit"] != "80" {
		t.Errorf("after 100%% of the quota: %+v, want the 50 %% trigger, then the global 80 %% once", got)
	}
	if len(hash) != 64 || strings.Contains(hash, key) || strings.Contains(key, hash) {
		t.Errorf("the monitor's key %q: want the key's hash", hash)
	}

	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"quota_max": 5, "quota_renewal_rate": 3600}`}))
	for range 5 {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/mo/x"}))
	}
	got = recv.settle(t, "/monitor", 3)
	if len(got) != 3 || got[2].body["org"] != "acme" || got[2].body["key"] != "" || got[2].body["trigger_limit"] != "80" {
		t.Errorf("the org's quota past 80 %%: %+v", got)
	}
}

// TestOrgLimitsLooped: a request looped between APIs of one org is counted once, keyless or
// keyed in front; with check_limits=true, again.
func TestOrgLimitsLooped(t *testing.T) {
	up, _ := countingUpstream(t)
	core := gt.API("core", "/core/", up.URL)
	front := gt.API("front", "/front/", "tyk://core")
	again := gt.API("again", "/again/", up.URL)
	again.VersionData.Versions = map[string]apidef.VersionInfo{"Default": rewriteTo("/x", "x", "tyk://core/x?check_limits=true")}
	for _, a := range []*apidef.APIDefinition{core, front, again} {
		a.OrgID = "acme"
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{core, front, again}, Config: enforceOrgQuotas})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"quota_max": 4, "quota_renewal_rate": 3600}`}))
	var got []int
	for range 5 {
		got = append(got, g.Do(gt.Case{Path: "/front/x"}).Code)
	}
	if want := []int{200, 200, 200, 200, 403}; !slices.Equal(got, want) {
		t.Errorf("a keyless API looping to one of its org: %v, want %v (each request counted once)", got, want)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/org/keys/acme?reset_quota=1", Body: `{"quota_max": 4, "quota_renewal_rate": 3600}`}))
	got = got[:0]
	for range 3 {
		got = append(got, g.Do(gt.Case{Path: "/again/x"}).Code)
	}
	if want := []int{200, 200, 403}; !slices.Equal(got, want) {
		t.Errorf("looping with check_limits=true: %v, want %v (counted at each API)", got, want)
	}
}

// TestOrgLimitsRedisDown: with storage.fallback_to_cached_sessions, while Redis is down an org
// known to have no session is not limited (its APIs keep serving), as an org with one is served
// from its last session; without the fallback both answer 503.
func TestOrgLimitsRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up, _ := countingUpstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: orgAPIs(up.URL), Config: func(c *config.Config) {
		c.EnforceOrgQuotas = true
		c.Storage.FallbackToCachedSessions = true
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"quota_max": 100, "quota_renewal_rate": 3600}`}))
	// A session this gateway wrote is read past its node-local copy for a second (the
	// session manager's writtenWindow); only a read through that copy is served in a fallback.
	time.Sleep(1100 * time.Millisecond)
	for _, p := range []string{"/acme-open/x", "/zeta/x"} {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: p}))
	}
	srv.Kill()
	within(t, 5*time.Second, "serving both orgs with Redis down", func() string {
		for _, p := range []string{"/acme-open/y", "/zeta/y"} {
			if r := g.Do(gt.Case{Path: p}); r.Code != 200 {
				return p + ": " + r.Body
			}
		}
		return ""
	})
}
