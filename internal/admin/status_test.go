package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/status"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// fixedStatus is a status.Source with a fixed report, counting the reports made.
type fixedStatus struct {
	rep   status.Report
	calls int
}

func (f *fixedStatus) Status(context.Context) status.Report { f.calls++; return f.rep }

func statusServer(t *testing.T, src status.Source) *httptest.Server {
	t.Helper()
	store := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	o := admin.Options{
		Secret:   testSecret,
		Backend:  newMemBackend(store),
		Sessions: session.NewManager(store, true),
		Counters: store,
		Logger:   slog.New(slog.DiscardHandler),
	}
	if src != nil {
		o.Status = src
	}
	srv := httptest.NewServer(admin.New(o))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, srv *httptest.Server, path, secret string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if secret != "" {
		req.Header.Set("X-Tyk-Authorization", secret)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestStatusRoutes: the page needs no secret (it holds no data); its report needs the secret,
// like every /tyk/ path, and is never cached.
func TestStatusRoutes(t *testing.T) {
	src := &fixedStatus{rep: status.Report{Version: "v-test", Store: "memory", Time: time.Unix(1_700_000_000, 0).UTC(),
		APIs: []status.API{{ID: "a", Name: "<script>alert(1)</script>", State: status.StateServed}}}}
	srv := statusServer(t, src)

	for _, p := range []string{status.PagePath, status.ScriptPath, status.StylePath} {
		res, _ := fetch(t, srv, p, "")
		if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != status.ContentSecurityPolicy {
			t.Errorf("GET %s: %d, policy %q", p, res.StatusCode, res.Header.Get("Content-Security-Policy"))
		}
	}
	for _, secret := range []string{"", "wrong", testSecret + "x"} {
		res, body := fetch(t, srv, "/tyk/status", secret)
		if res.StatusCode != 403 || src.calls != 0 {
			t.Errorf("GET /tyk/status with secret %q: %d %s (%d reports made)", secret, res.StatusCode, body, src.calls)
		}
	}
	res, body := fetch(t, srv, "/tyk/status", testSecret)
	if res.StatusCode != 200 || src.calls != 1 {
		t.Fatalf("GET /tyk/status: %d %s", res.StatusCode, body)
	}
	for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("GET /tyk/status: %s %q, want %q", h, got, want)
		}
	}
	var got status.Report
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "v-test" || len(got.APIs) != 1 || got.APIs[0].Name != "<script>alert(1)</script>" {
		t.Errorf("report: %+v", got)
	}
	// Only GET.
	req, _ := http.NewRequest("POST", srv.URL+"/tyk/status", nil)
	req.Header.Set("X-Tyk-Authorization", testSecret)
	if res, err := srv.Client().Do(req); err != nil || res.StatusCode == 200 {
		t.Errorf("POST /tyk/status: %v %v", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
}

// TestStatusRoutesOff: without a status source there is neither page nor report.
func TestStatusRoutesOff(t *testing.T) {
	srv := statusServer(t, nil)
	for _, p := range []string{status.PagePath, "/tyk/status"} {
		if res, _ := fetch(t, srv, p, testSecret); res.StatusCode != 404 {
			t.Errorf("GET %s without a status source: %d, want 404", p, res.StatusCode)
		}
	}
}
