package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/version"
)

// killerPlugin misbehaves outside the hook's own goroutine, where the gateway's recovery cannot
// reach, when the request asks for it.
const killerPlugin = `package main

import (
	"net/http"
	"os"
)

// Killer starts a goroutine that panics (X-Kill: panic) or calls os.Exit(3) (X-Kill: exit), and
// waits for it; without X-Kill it does nothing.
func Killer(rw http.ResponseWriter, r *http.Request) {
	how := r.Header.Get("X-Kill")
	if how == "" {
		return
	}
	go func() {
		if how == "exit" {
			os.Exit(3)
		}
		panic("killer plugin goroutine: " + r.URL.Path)
	}()
	<-make(chan struct{})
}

func main() {}
`

// buildKiller builds killerPlugin with the gatehouse binary, as a user would, and returns the file.
func buildKiller(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(killerPlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd(t, dir, "plugin", "build", "killer.so", "--out", dir); code != 0 {
		t.Fatalf("plugin build: exit %d\n%s", code, out)
	}
	return filepath.Join(dir, "killer_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so")
}

// TestPluginGoroutineKillsProcess covers S35, a limitation this test documents rather than hides:
// a panic in a goroutine a plugin starts cannot be recovered (Go recovers only on the panicking
// goroutine, and the gateway's recovery runs on the hook's), so it ends the process with Go's
// panic exit status 2 and the panic message and the goroutine's stack, naming the plugin's
// function, on stderr; a plugin calling os.Exit ends it with that status. Neither goes through
// the graceful shutdown: the request in flight gets no response, and the log has no "shutting
// down" line. The request before it was served, and a supervisor that restarts the process on
// failure (systemd Restart=on-failure; docs/plugins.md) brings the API back: the test plays the
// supervisor and starts the same configuration again.
func TestPluginGoroutineKillsProcess(t *testing.T) {
	so := buildKiller(t) // once: the subtests share it
	var served atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "up")
	}))
	defer up.Close()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	def := apidef.APIDefinition{APIID: "killer", Name: "killer", Active: true, UseKeylessAccess: true,
		Proxy:            apidef.ProxyConfig{ListenPath: "/killer/", TargetURL: up.URL, StripListenPath: true},
		CustomMiddleware: apidef.MiddlewareSection{Driver: "goplugin", Pre: []apidef.MiddlewareDefinition{{Name: "Killer", Path: so}}}}
	b, _ := json.Marshal(def)
	if err := os.WriteFile(filepath.Join(apps, "killer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() *proc {
		return startProc(t, func(port int) ([]string, []string) {
			conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps"})
			return nil, []string{"start", "--conf", conf}
		})
	}
	client := &http.Client{Timeout: 30 * time.Second}

	for _, tc := range []struct {
		how  string
		code int
		// want are patterns the output must hold after the gateway started.
		want []string
	}{
		{how: "panic", code: 2, want: []string{
			`(?m)^panic: killer plugin goroutine: /killer/x$`,
			`(?m)^goroutine \d+ \[running\]:$`,
			// The goroutine Killer started, named by the plugin's module path (unique per build)
			// and its file, and where Killer started it.
			`(?m)^gatehouse\.plugin/killer_\w+\.Killer\.func1\(\)\n\s+gatehouse\.plugin/killer_\w+/main\.go:\d+ `,
			`(?m)^created by gatehouse\.plugin/killer_\w+\.Killer in goroutine \d+$`,
		}},
		{how: "exit", code: 3},
	} {
		t.Run(tc.how, func(t *testing.T) {
			p := start()
			resp, err := client.Get("http://" + p.addr + "/killer/x")
			if err != nil {
				t.Fatalf("control request: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "up" {
				t.Fatalf("control request: %d %q", resp.StatusCode, body)
			}
			before := served.Load()
			listening := len(p.out.String())

			req, _ := http.NewRequest("GET", "http://"+p.addr+"/killer/x", nil)
			req.Header.Set("X-Kill", tc.how)
			if resp, err := client.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Errorf("the killing request was answered: %d %q", resp.StatusCode, b)
			}
			var exitErr error
			select {
			case exitErr = <-p.exited:
			case <-time.After(30 * time.Second):
				t.Fatal("the process is still running 30s after the plugin's goroutine failed")
			}
			if got := exitCode(exitErr); got != tc.code {
				t.Errorf("exit: %v (status %d), want status %d", exitErr, got, tc.code)
			}
			out := p.out.String()[listening:]
			for _, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(out) {
					t.Errorf("the output after the start does not match %s:\n%s", w, out)
				}
			}
			for _, never := range []string{"shutting down", "plugin panicked; the request gets 500"} {
				if strings.Contains(out, never) {
					t.Errorf("the output holds %q: the failure was handled as if it could be:\n%s", never, out)
				}
			}
			if n := served.Load() - before; n != 0 {
				t.Errorf("the upstream received %d requests after the control request", n)
			}

			// The supervisor restarts the process: the same configuration serves again.
			again := start()
			if code, body := again.get(t, "/killer/x"); code != 200 || body != "up" {
				t.Errorf("after a restart: %d %q", code, body)
			}
			if code, _ := again.get(t, "/hello"); code != 200 {
				t.Errorf("/hello after a restart: %d", code)
			}
		})
	}
}
