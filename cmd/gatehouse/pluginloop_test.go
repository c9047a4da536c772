package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// offlineEnv is an environment in which the go command can fetch nothing: no proxy, and an
// empty module cache, so that whatever works in it needs nothing but the gatehouse binary and
// the Go toolchain.
func offlineEnv(t *testing.T) []string {
	return []string{"GOPROXY=off", "GOMODCACHE=" + t.TempDir(), "GOFLAGS=-mod=mod -modcacherw", "GOTOOLCHAIN=local", "GOWORK=off"}
}

// runIn runs a command in dir with env added and returns its exit code and output.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestPluginAuthorLoop is the plugin author's loop of docs/building-plugins.md, offline: plugin
// init (and init --tyk) makes a folder in which go vet, go test and what an editor asks (go
// list -m all) work with no proxy and an empty module cache; plugin test runs its tests with the
// gateway's settings, plugin build builds it, a gateway serves a request through both plugins;
// then the native plugin is edited, tested, built again over the file the API names, and the
// gateway serves the new code after a reload, without a restart.
func TestPluginAuthorLoop(t *testing.T) {
	work := t.TempDir()
	env := offlineEnv(t)
	mw := filepath.Join(work, "middleware")
	so := func(name string) string { return filepath.Join(mw, name+".so") }

	for _, name := range []string{"native", "tyk"} {
		dir := filepath.Join(work, name)
		args := []string{"plugin", "init", name}
		if name == "tyk" {
			args = []string{"plugin", "init", "--tyk", name}
		}
		if code, out := runIn(t, work, env, binary, args...); code != 0 || !strings.Contains(out, "made a plugin in") {
			t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		for _, goArgs := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}, {"list", "-m", "all"}} {
			if code, out := runIn(t, dir, env, "go", goArgs...); code != 0 {
				t.Fatalf("%s: go %s offline: exit %d\n%s", name, strings.Join(goArgs, " "), code, out)
			}
		}
		if code, out := runIn(t, dir, env, binary, "plugin", "test"); code != 0 || !strings.Contains(out, "ok  \tgatehouse.plugin/"+name) {
			t.Fatalf("%s: plugin test: exit %d\n%s", name, code, out)
		}
		if code, out := runIn(t, dir, env, binary, "plugin", "build", name+".so", "--out", mw); code != 0 || !strings.Contains(out, "loads into this gateway") {
			t.Fatalf("%s: plugin build: exit %d\n%s", name, code, out)
		}
		// Run again, as after a gateway upgrade: the packages are refreshed, the code kept.
		if code, out := runIn(t, work, env, binary, args...); code != 0 || !strings.Contains(out, "refreshed") {
			t.Fatalf("%s again: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	// Extra arguments reach go test.
	code, out := runIn(t, filepath.Join(work, "native"), env, binary, "plugin", "test", "--", "-run", "TestAddGreeting/default", "-v")
	if code != 0 || !strings.Contains(out, "--- PASS: TestAddGreeting/default") || strings.Contains(out, "from_config_data") {
		t.Fatalf("plugin test -- -run ... -v: exit %d\n%s", code, out)
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Greeting"))
	}))
	defer up.Close()
	apps := filepath.Join(work, "apps")
	os.Mkdir(apps, 0o755)
	// The Tyk plugin's API is not at /tyk/, the Gateway API's path.
	for _, api := range []struct {
		id, plugin string
		config     map[string]any
	}{{"native", "native", nil}, {"tyk-style", "tyk", map[string]any{"greeting": "bonjour"}}} {
		def := apidef.APIDefinition{APIID: api.id, Name: api.id, Active: true, UseKeylessAccess: true, ConfigData: api.config,
			Proxy: apidef.ProxyConfig{ListenPath: "/" + api.id + "/", TargetURL: up.URL, StripListenPath: true},
			CustomMiddleware: apidef.MiddlewareSection{Driver: "goplugin",
				Post: []apidef.MiddlewareDefinition{{Name: "AddGreeting", Path: so(api.plugin)}}}}
		b, _ := json.Marshal(def)
		if err := os.WriteFile(filepath.Join(apps, api.id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, work, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": apps})
		return nil, []string{"start", "--conf", conf}
	})
	if code, body := p.get(t, "/native/x"); code != 200 || body != "hello" {
		t.Errorf("native plugin: %d %q", code, body)
	}
	if code, body := p.get(t, "/tyk-style/x"); code != 200 || body != "bonjour" {
		t.Errorf("Tyk plugin: %d %q", code, body)
	}

	// Edit, test, build over the file the API names, reload: the new code serves.
	native := filepath.Join(work, "native")
	edit := func(file, old, new string) {
		t.Helper()
		p := filepath.Join(native, file)
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q (%v)", file, old, err)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
	edit("main.go", `greeting := "hello"`, `greeting := "hello v2"`)
	if code, out := runIn(t, native, env, binary, "plugin", "test"); code != 1 || !strings.Contains(out, `X-Greeting = "hello v2", want "hello"`) {
		t.Fatalf("plugin test of the edit before its test: exit %d\n%s", code, out)
	}
	edit("main_test.go", `want: "hello"`, `want: "hello v2"`)
	if code, out := runIn(t, native, env, binary, "plugin", "test"); code != 0 {
		t.Fatalf("plugin test after the edit: exit %d\n%s", code, out)
	}
	if code, out := runIn(t, native, env, binary, "plugin", "build", "native.so", "--out", mw); code != 0 {
		t.Fatalf("plugin build after the edit: exit %d\n%s", code, out)
	}
	if code, body := p.get(t, "/native/x"); code != 200 || body != "hello" {
		t.Errorf("before the reload: %d %q", code, body)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		code, body := p.get(t, "/native/x")
		if code == 200 && body == "hello v2" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the new build never served: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := p.get(t, "/tyk-style/x"); code != 200 || body != "bonjour" {
		t.Errorf("Tyk plugin after the reload: %d %q", code, body)
	}
}
