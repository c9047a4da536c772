package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCollectorRoom: gatehouse start gives the collector GOGC=200 once its live heap passes
// 4 MiB (here 5,000 APIs, about 9 MiB), and leaves a GOGC set in the environment alone.
func TestCollectorRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 5,000 APIs twice")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer up.Close()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	for i := range 5000 {
		writeAPI(t, apps, fmt.Sprintf("api-%04d", i), fmt.Sprintf("/api-%04d/", i), up.URL)
	}
	// serve sends requests, whose garbage makes the collector run, until the output has want
	// or n requests were sent.
	serve := func(p *proc, want string, n int) bool {
		for i := 0; i < n; i++ {
			if strings.Contains(p.out.String(), want) {
				return true
			}
			if code, body := p.get(t, "/api-0001/"); code != 200 {
				t.Fatalf("GET /api-0001/: %d %s", code, body)
			}
		}
		time.Sleep(100 * time.Millisecond) // the last cycle's cleanup runs on its own goroutine
		return strings.Contains(p.out.String(), want)
	}
	start := func(env ...string) *proc {
		return startProc(t, func(port int) ([]string, []string) {
			conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps",
				"prometheus": map[string]any{"enabled": false}})
			// An empty GOGC is Go's default, as if unset: it overrides one the tests run under.
			return append([]string{"GOGC=", "GOMEMLIMIT="}, env...), []string{"start", "--conf", conf}
		})
	}

	t.Run("default", func(t *testing.T) {
		p := start()
		if !serve(p, "GOGC=200", 5000) || !strings.Contains(p.out.String(), "collector: GOGC set for the live heap") {
			t.Fatalf("no line says GOGC was set to 200 after 5,000 requests with 5,000 APIs:\n%s", p.out)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		p := start("GOGC=100")
		if !strings.Contains(p.out.String(), "GOGC is set in the environment") {
			t.Errorf("no line says the environment's GOGC is kept:\n%s", p.out)
		}
		if serve(p, "GOGC set for", 2000) {
			t.Errorf("gatehouse changed GOGC though the environment sets it:\n%s", p.out)
		}
	})
}
