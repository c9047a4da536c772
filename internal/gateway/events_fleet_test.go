package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// hookReceiver is a webhook receiver that keeps what it got.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hook
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		h.mu.Lock()
		h.got = append(h.got, hook{r.Method, r.URL.Path, r.Header.Get("X-Hook-Secret"), body})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// at returns the webhooks that reached path.
func (h *hookReceiver) at(path string) []hook {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hook
	for _, x := range h.got {
		if x.path == path {
			out = append(out, x)
		}
	}
	return out
}

// settle waits until path has had n webhooks, then a moment more for any that should not come,
// and returns them all.
func (h *hookReceiver) settle(t *testing.T, path string, n int) []hook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.at(path)) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return h.at(path)
}

// TestWebhookEventTimeoutFleet: a webhook's event_timeout holds for the fleet, as in Tyk (which
// keeps its marks in Redis): the same event on two gateways sharing Redis is sent once within
// it; another event is sent.
func TestWebhookEventTimeoutFleet(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	recv := newHookReceiver(t)
	up, _ := countingUpstream(t)
	def := gt.Keyed(gt.API("evf", "/evf/", up.URL))
	def.EventHandlers.Events = map[string][]apidef.EventHandler{
		"AuthFailure": {{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(`{"method": "POST", "target_path": "` + recv.URL + `/auth", "event_timeout": 60}`)}},
	}
	nodes := fleetOf(t, srv.Addr, 2, def)
	bad := "nope-0123456789"
	if code := status(nodes[0], "/evf/a", bad); code != 403 {
		t.Fatalf("an unknown key: %d", code)
	}
	if got := recv.settle(t, "/auth", 1); len(got) != 1 {
		t.Fatalf("%d webhooks after the first failure, want 1", len(got))
	}
	for range 2 {
		status(nodes[1], "/evf/a", bad)
		status(nodes[0], "/evf/a", bad)
	}
	status(nodes[1], "/evf/b", bad)
	got := recv.settle(t, "/auth", 2)
	if len(got) != 2 || got[1].body["path"] != "/evf/b" {
		t.Errorf("webhooks %+v: want the first event once for the fleet within event_timeout, then /evf/b", got)
	}
}

// TestSystemEvents: the gateway's own event_handlers (tyk.conf) run on keys created, changed
// and deleted through the Gateway API (Tyk's TokenCreated, TokenUpdated, TokenDeleted), with
// Tyk's messages, the key's org and its hash, never the key; handlers for other events are
// noted and never run; a changed template is used from the next reload.
func TestSystemEvents(t *testing.T) {
	recv := newHookReceiver(t)
	hookAt := func(path, tmpl string) []apidef.EventHandler {
		meta := `{"method": "POST", "target_path": "` + recv.URL + path + `"`
		if tmpl != "" {
			meta += `, "template_path": "` + tmpl + `"`
		}
		return []apidef.EventHandler{{HandlerName: "eh_web_hook_handler", HandlerMeta: json.RawMessage(meta + `}`)}}
	}
	up, _ := countingUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("sys", "/sys/", up.URL))}, Config: func(c *config.Config) {
		c.EventHandlers.Events = map[string][]apidef.EventHandler{
			"TokenCreated": hookAt("/created", ""),
			"TokenUpdated": hookAt("/updated", "token.tmpl"),
			"TokenDeleted": hookAt("/deleted", ""),
			"AuthFailure":  hookAt("/auth", ""),
		}
	}})
	g.WriteFile("token.tmpl", []byte(`{"event": "{{.Type}}", "org": "{{.Meta.Org}}", "key": "{{.Meta.Key}}", "message": "{{.Meta.Message}}"}`))
	g.Reload()
	if !strings.Contains(g.Logs(), `event=AuthFailure`) {
		t.Error("a gateway handler of an API event is not noted in the log")
	}

	body := `{"org_id": "acme", "access_rights": {"sys": {"api_id": "sys", "versions": ["Default"]}}}`
	created := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: body})
	var answer struct {
		Key     string `json:"key"`
		KeyHash string `json:"key_hash"`
	}
	if err := json.Unmarshal([]byte(created.Body), &answer); err != nil || created.Code != 200 || answer.Key == "" || answer.KeyHash == "" {
		t.Fatalf("creating a key: %d %s", created.Code, created.Body)
	}
	c := recv.settle(t, "/created", 1)
	if len(c) != 1 || c[0].body["event"] != "TokenCreated" || c[0].body["message"] != "Key generated." || c[0].body["key"] != answer.KeyHash {
		t.Errorf("TokenCreated webhooks %+v: want one, Tyk's message, the key's hash %s", c, answer.KeyHash)
	}
	if status(g, "/sys/x", "wrong-0123456789") != 403 {
		t.Error("an unknown key was not refused")
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + answer.Key, Body: body}))
	u := recv.settle(t, "/updated", 1)
	if len(u) != 1 || u[0].body["event"] != "TokenUpdated" || u[0].body["org"] != "acme" || u[0].body["key"] != answer.KeyHash {
		t.Errorf("TokenUpdated webhooks %+v: want one, through token.tmpl, with the org and the key's hash", u)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + answer.Key}))
	d := recv.settle(t, "/deleted", 1)
	if len(d) != 1 || d[0].body["event"] != "TokenDeleted" || d[0].body["message"] != "Key deleted." || d[0].body["key"] != answer.KeyHash {
		t.Errorf("TokenDeleted webhooks %+v", d)
	}
	// A refused change fires nothing; neither does an API event at the gateway's handlers.
	g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + answer.Key, Body: body})
	if n := len(recv.settle(t, "/updated", 1)); n != 1 {
		t.Errorf("%d TokenUpdated webhooks after a PUT of a deleted key (404), want 1", n)
	}
	if a := recv.at("/auth"); len(a) != 0 {
		t.Errorf("the gateway's AuthFailure handler ran: %+v", a)
	}
	for _, hooks := range [][]hook{c, u, d} {
		for _, h := range hooks {
			if b, _ := json.Marshal(h.body); strings.Contains(string(b), answer.Key) {
				t.Errorf("a webhook carries the key itself: %s", b)
			}
		}
	}

	// The template changed: the next reload uses it.
	g.WriteFile("token.tmpl", []byte(`{"event": "{{.Type}}", "second": true}`))
	g.Reload()
	second := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"sys": {APIID: "sys", Versions: []string{"Default"}}}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + second, Body: body}))
	if u := recv.settle(t, "/updated", 2); len(u) != 2 || u[1].body["second"] != true {
		t.Errorf("TokenUpdated after the template changed: %+v", u)
	}
}
