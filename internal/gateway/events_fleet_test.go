package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
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
