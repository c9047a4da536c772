package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/fleet"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// ready asks g's readiness check and returns its status, with the message of a 503.
func ready(t *testing.T, g *gt.Gateway) (int, string) {
	t.Helper()
	r := g.Do(gt.Case{Path: "/ready"})
	switch r.Code {
	case http.StatusOK:
		var h admin.Health
		if err := json.Unmarshal([]byte(r.Body), &h); err != nil || h.Status == "" {
			t.Fatalf("/ready 200 without the health document: %s", r.Body)
		}
		return r.Code, ""
	case http.StatusServiceUnavailable:
		var body struct{ Status, Message string }
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body.Status != "error" {
			t.Fatalf("/ready 503 not in Tyk's shape: %s", r.Body)
		}
		return r.Code, body.Message
	}
	t.Fatalf("/ready: %d %s", r.Code, r.Body)
	return 0, ""
}

func wantReady(g *gt.Gateway, t *testing.T, want string) func() string {
	return func() string {
		code, msg := ready(t, g)
		if (want == "") != (code == http.StatusOK) || msg != want {
			return "/ready " + http.StatusText(code) + " " + msg
		}
		return ""
	}
}

// TestReadiness: /ready is the health document (200) on a running gateway, the readiness path
// is configurable and cannot be taken by an API, and once the gateway is told to stop it
// answers Tyk's 503 while the gateway serves on.
func TestReadiness(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}})
	if msg := wantReady(g, t, "")(); msg != "" {
		t.Errorf("a running gateway: %s", msg)
	}
	// An API cannot take the readiness check's path where the check is served.
	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, gt.API("r", "/ready/", up.URL)))})
	if r.Code != http.StatusBadRequest {
		t.Errorf("an API at /ready/: %d %s, want 400", r.Code, r.Body)
	}
	g.GW.Stopping()
	if msg := wantReady(g, t, "Gateway is shutting down")(); msg != "" {
		t.Errorf("a stopping gateway: %s", msg)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/x"}))
	if h := health(t, g); h.Status != admin.StatusPass {
		t.Errorf("/hello of a stopping gateway: %q, want pass", h.Status)
	}

	renamed := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.ReadinessCheckEndpointName = "status-ready" },
		APIs: []*apidef.APIDefinition{gt.API("ready", "/ready/", up.URL)}})
	gt.Check(t, gt.Case{Code: 200}, renamed.Do(gt.Case{Path: "/status-ready"}))
	gt.Check(t, gt.Case{Code: 200, Body: "path=/"}, renamed.Do(gt.Case{Path: "/ready/"}))
}

// TestReadinessWithRedis: a gateway whose Redis does not answer, or that never read the
// definitions the fleet shares there, is not ready (Tyk's messages), while /hello answers 200;
// it is ready once it serves them.
func TestReadinessWithRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)
	// The fleet's definitions cannot be read: their key holds a string.
	srv.Pipe(t, [][]string{{"SET", "gatehouse-apis", "not a hash"}})
	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: withTimeout,
		APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}})
	if msg := wantReady(g, t, "A successful API reload did not happen")(); msg != "" {
		t.Errorf("the fleet's definitions never read: %s", msg)
	}
	wantDatastore(t, g, admin.StatusPass)
	// Nothing tells the gateway that the key was mended: it tries again on its own, every
	// fleet.AnnounceEvery.
	srv.Pipe(t, [][]string{{"DEL", "gatehouse-apis"}, {"HSET", "gatehouse-apis", "shared", string(mustJSON(t, gt.API("shared", "/shared/", up.URL)))}})
	within(t, fleet.AnnounceEvery+recovery, "/ready once the fleet's definitions can be read", wantReady(g, t, ""))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/shared/x"}))

	srv.Kill()
	waitRedisFails(t, g)
	if msg := wantReady(g, t, "Redis connection not available")(); msg != "" {
		t.Errorf("Redis down: %s", msg)
	}
	srv.Restart()
	within(t, recovery, "/ready once Redis is back", wantReady(g, t, ""))
}
