package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/session"
)

// holdServer is the slow work of SlowSetSession: each call to its URL tells started and waits
// for release, so that the test changes the key while the hook holds its copy of the session.
type holdServer struct {
	URL     string
	started chan struct{}
	release chan struct{}
}

func newHoldServer(t *testing.T) *holdServer {
	h := &holdServer{started: make(chan struct{}, 1), release: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.started <- struct{}{}
		select {
		case <-h.release:
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// during sends a request with key through the API whose post_key_auth hook is SlowSetSession
// and runs change while the hook holds the session it read; it returns the request's answer.
func (h *holdServer) during(t *testing.T, g *gt.Gateway, path, key string, change func()) gt.Response {
	t.Helper()
	done := make(chan gt.Response, 1)
	go func() {
		done <- g.Do(gt.Case{Path: path, Headers: map[string]string{"Authorization": key, "X-Hold-URL": h.URL}})
	}()
	select {
	case <-h.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the hook did not start its slow work")
	}
	change()
	h.release <- struct{}{}
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not finish")
	}
	return gt.Response{}
}

// TestTykPluginSetSessionKeepsGatewayAPIChanges: a Tyk plugin's ctx.SetSession(r, s, true) of
// the key the request read is stored, but never over a change the Gateway API made while the
// hook ran: a key deleted stays deleted, access rights replaced stay replaced.
func TestTykPluginSetSessionKeepsGatewayAPIChanges(t *testing.T) {
	so := buildTyk(t, tykPluginDir, true)
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		slow := gt.Keyed(gt.API("slow", "/slow/", up.URL))
		slow.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", PostKeyAuth: hooks(so, "SlowSetSession")}
		other := gt.Keyed(gt.API("other", "/other/", up.URL))
		store.APIs = []*apidef.APIDefinition{slow, other}
		g := gt.Start(t, store)
		hold := newHoldServer(t)
		admin := func(method, key, body string) gt.Response {
			return g.Do(gt.Case{Admin: true, Method: method, Path: "/tyk/keys/" + key, Body: body})
		}
		stored := func(key string) *apidef.SessionState {
			t.Helper()
			res := admin(http.MethodGet, key, "")
			if res.Code != http.StatusOK {
				t.Fatalf("GET /tyk/keys/%s: %d %s", key, res.Code, res.Body)
			}
			var s apidef.SessionState
			if err := json.Unmarshal([]byte(res.Body), &s); err != nil {
				t.Fatal(err)
			}
			return &s
		}

		// An ordinary SetSession stores the hook's meta data.
		plain := g.CreateKey(&apidef.SessionState{OrgID: "default", AccessRights: access("slow")})
		if res := hold.during(t, g, "/slow/x", plain, func() {}); res.Code != http.StatusOK {
			t.Fatalf("request: %d %s", res.Code, res.Body)
		}
		if got := stored(plain).MetaData["plan"]; got != "gold" {
			t.Errorf("meta data plan = %v after SetSession(r, s, true), want gold", got)
		}
		// And a second one, over what the first stored.
		if res := hold.during(t, g, "/slow/x", plain, func() {}); res.Code != http.StatusOK {
			t.Fatalf("second request: %d %s", res.Code, res.Body)
		}

		// A key deleted while the hook ran stays deleted; the request itself is answered.
		deleted := g.CreateKey(&apidef.SessionState{OrgID: "default", AccessRights: access("slow")})
		res := hold.during(t, g, "/slow/x", deleted, func() {
			if res := admin(http.MethodDelete, deleted, ""); res.Code != http.StatusOK {
				t.Fatalf("DELETE: %d %s", res.Code, res.Body)
			}
		})
		if res.Code != http.StatusOK {
			t.Errorf("the request whose key was deleted meanwhile: %d %s, want 200", res.Code, res.Body)
		}
		if res := admin(http.MethodGet, deleted, ""); res.Code != http.StatusNotFound {
			t.Errorf("GET of the deleted key after the hook: %d %s, want 404", res.Code, res.Body)
		}
		g.Run(t, gt.Case{Name: "the deleted key lets nothing in", Path: "/slow/x", Headers: map[string]string{"Authorization": deleted}, Code: 403})

		// Access rights replaced while the hook ran stay replaced.
		moved := g.CreateKey(&apidef.SessionState{OrgID: "default", AccessRights: access("slow")})
		res = hold.during(t, g, "/slow/x", moved, func() {
			body, _ := json.Marshal(&apidef.SessionState{OrgID: "default", AccessRights: access("other")})
			if res := admin(http.MethodPut, moved, string(body)); res.Code != http.StatusOK {
				t.Fatalf("PUT: %d %s", res.Code, res.Body)
			}
		})
		if res.Code != http.StatusOK {
			t.Errorf("the request whose key changed meanwhile: %d %s, want 200", res.Code, res.Body)
		}
		s := stored(moved)
		if _, ok := s.AccessRights["slow"]; ok || len(s.AccessRights) != 1 {
			t.Errorf("access rights after the hook: %v, want only other's (the PUT's)", s.AccessRights)
		}
		if _, ok := s.MetaData["plan"]; ok {
			t.Errorf("the hook's meta data was stored over the PUT: %v", s.MetaData)
		}
		g.Run(t,
			gt.Case{Name: "the PUT's access rights hold", Path: "/other/x", Headers: map[string]string{"Authorization": moved}, Code: 200},
			gt.Case{Name: "the old access right is gone", Path: "/slow/x", Headers: map[string]string{"Authorization": moved}, Code: 403})

		logs := g.Logs()
		if n := strings.Count(logs, "SetSession(r, s, true) not stored"); n != 1 {
			t.Errorf("%d log lines of a dropped write, want 1 (once a minute):\n%s", n, logs)
		}
		if !strings.Contains(logs, "key_hash="+session.HashKey(deleted)) {
			t.Errorf("the log line of the dropped write does not name the key's hash:\n%s", logs)
		}
		for _, key := range []string{deleted, moved} {
			if strings.Contains(logs, key) {
				t.Errorf("the log names the key %s itself", key)
			}
		}
	})
}
