package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/admin"
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
				if w.Code != http.StatusMethodNotAllowed {
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
						t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, w.Code, w.Body, err)
					}
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
				if code, _ := get("POST", p); code != http.StatusMethodNotAllowed {
					t.Errorf("POST %s: %d, want 405", p, code)
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
