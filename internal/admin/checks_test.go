package admin_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestChecks: /hello and /ready answer GET without the secret and 405 to other methods;
// /ready is the health document while the backend is ready, and Tyk's 503 with the reason
// while it is not. The same holds for the handler serving the checks alone.
func TestChecks(t *testing.T) {
	s := newTestServer(t, true)
	alone := admin.CheckHandler(s.backend, "", "status-ready")
	for _, tc := range []struct {
		name  string
		h     http.Handler
		ready string
	}{{"gateway api", s.h, "/ready"}, {"alone", alone, "/status-ready"}} {
		t.Run(tc.name, func(t *testing.T) {
			get := func(method, path string) (int, map[string]any) {
				t.Helper()
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
				var body map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, w.Code, w.Body, err)
				}
				return w.Code, body
			}
			s.backend.notReady = ""
			if code, body := get("GET", "/hello"); code != 200 || body["status"] != "pass" {
				t.Errorf("GET /hello: %d %v", code, body)
			}
			if code, body := get("GET", tc.ready); code != 200 || body["status"] != "pass" {
				t.Errorf("GET %s while ready: %d %v", tc.ready, code, body)
			}
			for _, p := range []string{"/hello", tc.ready} {
				for _, m := range []string{"POST", "HEAD", "DELETE"} {
					w := httptest.NewRecorder()
					tc.h.ServeHTTP(w, httptest.NewRequest(m, p, nil))
					if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" {
						t.Errorf("%s %s: %d Allow %q, want 405 Allow GET", m, p, w.Code, w.Header().Get("Allow"))
					}
					if m == "POST" && !strings.Contains(w.Body.String(), `"message":"Method Not Allowed"`) {
						t.Errorf("POST %s: body %q, want Tyk's JSON", p, w.Body)
					}
				}
			}
			s.backend.notReady = "Gateway is shutting down"
			code, body := get("GET", tc.ready)
			if code != http.StatusServiceUnavailable || body["status"] != "error" || body["message"] != "Gateway is shutting down" {
				t.Errorf("GET %s while not ready: %d %v, want 503 with Tyk's shape", tc.ready, code, body)
			}
			if code, _ := get("GET", "/hello"); code != 200 {
				t.Errorf("GET /hello while not ready: %d, want 200", code)
			}
		})
	}
	if code, _ := func() (int, string) {
		w := httptest.NewRecorder()
		alone.ServeHTTP(w, httptest.NewRequest("GET", "/ready", nil))
		return w.Code, w.Body.String()
	}(); code != http.StatusNotFound {
		t.Errorf("GET /ready with readiness_check_endpoint_name status-ready: %d, want 404", code)
	}
}

// TestCheckNamedStatus: a check named "status" (Tyk configurations name /hello so) takes the
// status page's path rather than making the Gateway API fail to start; the report stays.
func TestCheckNamedStatus(t *testing.T) {
	store := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	for _, o := range []admin.Options{{HealthPath: "status"}, {ReadyPath: "status"}} {
		o.Secret, o.Backend, o.Status = testSecret, newMemBackend(store), &fixedStatus{}
		o.Sessions, o.Counters, o.Logger = session.NewManager(store, true), store, slog.New(slog.DiscardHandler)
		h := admin.New(o)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/status", nil))
		var body map[string]any
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body["status"] != "pass" {
			t.Errorf("GET /status with a check named status: %d %q, want the check", w.Code, w.Body)
		}
		w = httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/tyk/status", nil)
		r.Header.Set("X-Tyk-Authorization", testSecret)
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("GET /tyk/status: %d, want the report", w.Code)
		}
	}
}
