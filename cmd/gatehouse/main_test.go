package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// binary is the gatehouse binary built once for this test binary.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a running gatehouse process.
type proc struct {
	cmd    *exec.Cmd
	out    *testkit.SyncBuffer
	addr   string
	exited chan error
}

// errPortTaken is a start that failed because its port was taken.
var errPortTaken = errors.New("the port was taken")

// startProc runs gatehouse with the environment and arguments setup gives for a port that was
// free, and waits until it listens there. The process binds the port itself (listen_port cannot
// be 0), so another may take it first: the start is then tried again with another port.
func startProc(t *testing.T, setup func(port int) (env []string, args []string)) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		env, args := setup(port)
		p, err := tryStartProc(t, port, env, args)
		if err == nil {
			return p
		}
		if errors.Is(err, errPortTaken) && attempt < 5 {
			t.Logf("port %d was taken before gatehouse listened on it; trying another", port)
			continue
		}
		t.Fatal(err)
	}
}

func tryStartProc(t *testing.T, port int, env, args []string) (*proc, error) {
	t.Helper()
	p := &proc{out: &testkit.SyncBuffer{}, addr: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan error, 1)}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = t.TempDir() // what the gateway writes (middleware/) stays out of the tree
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gatehouse output:\n%s", p.out.String())
		}
	})
	// It says when it listens: a connection to the port could reach whoever took it.
	// The quickstart compiles its example plugin before listening: the first time, that takes
	// as long as a cold Go build.
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if out := p.out.String(); strings.Contains(out, "gateway listening") && strings.Contains(out, p.addr) {
			return p, nil
		}
		select {
		case err := <-p.exited:
			out := p.out.String()
			if strings.Contains(out, "address already in use") {
				return nil, fmt.Errorf("%w: %s", errPortTaken, out)
			}
			return nil, fmt.Errorf("gatehouse exited early (%v):\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("gatehouse did not listen on %s:\n%s", p.addr, p.out.String())
}

func (p *proc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("gatehouse did not exit")
		return nil
	}
}

// TestQuickstartExample runs the README's quickstart: built-in defaults plus the example.
func TestQuickstartExample(t *testing.T) {
	p := startProc(t, func(port int) ([]string, []string) {
		return []string{fmt.Sprintf("GATEHOUSE_LISTEN_PORT=%d", port), "GATEHOUSE_CONTROL_API_PORT=0"}, []string{"start", "--example"}
	})
	// The gateway listens at once; the example plugin is compiled beside it, and meanwhile the
	// API answers 503 saying so. The first build takes as long as a cold Go build.
	code, body := p.get(t, "/example/get?hello=world")
	for deadline := time.Now().Add(3 * time.Minute); code == 503 && time.Now().Before(deadline); {
		if !strings.Contains(body, "its plugin is being built") {
			t.Fatalf("example API while its plugin builds: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
		code, body = p.get(t, "/example/get?hello=world")
	}
	if code != 200 || !strings.Contains(body, `"uri": "/get?hello=world"`) {
		t.Fatalf("example API: %d %s", code, body)
	}
	// The example plugin, compiled from source at start, added the API's greeting.
	if !strings.Contains(body, `"X-Greeting": "hello from Gatehouse"`) {
		t.Errorf("the example plugin did not run:\n%s", body)
	}
	code, body = p.get(t, "/hello")
	if code != 200 || !strings.Contains(body, `"gateway_api"`) {
		t.Errorf("/hello without a secret should say why the Gateway API is off: %d %s", code, body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

// TestGracefulShutdown sends SIGTERM while requests are in flight: new connections are refused
// while they are, they all complete, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	arrived := make(chan struct{}, 10)
	// The upstream holds the requests until new connections have been refused.
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "done")
	}))
	defer up.Close()
	defer let()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	writeAPI(t, apps, "slow", "/slow/", up.URL)
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps"})
		return nil, []string{"start", "--conf", conf}
	})

	const n = 5
	var wg sync.WaitGroup
	results := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get("http://" + p.addr + "/slow/x")
			if err != nil {
				results <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
	}
	for i := 0; i < n; i++ {
		<-arrived
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	// The process stops accepting once it has handled the signal: wait for that, with the
	// requests still held.
	refused := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("new connections are still accepted 20s after SIGTERM")
	}
	let()
	wg.Wait()
	close(results)
	for r := range results {
		if r != "200 done" {
			t.Errorf("in-flight request ended with %q", r)
		}
	}
	if err := p.wait(t); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
}

// TestShutdownDelay: with graceful_shutdown_delay_seconds, a stopping gateway answers /ready
// with 503 at once and goes on serving for the delay (a load balancer's time to take it out),
// then refuses new connections and exits with status 0.
func TestShutdownDelay(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	writeAPI(t, apps, "fast", "/fast/", up.URL)
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps",
			"graceful_shutdown_delay_seconds": 3})
		return nil, []string{"start", "--conf", conf}
	})
	get := func(path string) (int, string, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + p.addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get("/ready"); err != nil || code != 200 {
		t.Fatalf("/ready before the signal: %d %s %v", code, body, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	signalled := time.Now()
	var code int
	var body string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if code, body, err = get("/ready"); err != nil || code == http.StatusServiceUnavailable {
			break
		}
	}
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "Gateway is shutting down") {
		t.Fatalf("/ready after SIGTERM: %d %s %v, want 503 Gateway is shutting down while the delay runs", code, body, err)
	}
	if code, body, err := get("/fast/x"); err != nil || code != 200 || body != "ok" {
		t.Errorf("a request during the delay: %d %q %v, want 200 ok", code, body, err)
	}
	refused := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, _, err := get("/fast/x"); err != nil {
			refused = true
			break
		}
	}
	if !refused {
		t.Error("new connections are still accepted 20s after SIGTERM with a delay of 3s")
	} else if d := time.Since(signalled); d < 2*time.Second {
		t.Errorf("new connections refused %v after SIGTERM, before the delay of 3s ended", d)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
}

// TestCPUProfile: start --cpuprofile writes a profile (gzip-compressed protobuf, as
// runtime/pprof writes it) and --trace an execution trace when the gateway stops.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "run.trace")
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0})
		return nil, []string{"start", "--conf", conf, "--cpuprofile", prof, "--trace", tr}
	})
	for i := 0; i < 20; i++ {
		if resp, err := http.Get("http://" + p.addr + "/nothing-here"); err == nil {
			resp.Body.Close()
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v, want status 0", err)
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("%s is not a pprof profile (%d bytes)", prof, len(data))
	}
	data, err = os.ReadFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	if head := fmt.Sprintf("go %s trace", strings.TrimPrefix(runtime.Version(), "go")); !bytes.HasPrefix(data, []byte(head[:len("go 1.NN")])) || len(data) < 1024 {
		t.Fatalf("%s is not an execution trace (%d bytes, starting %q)", tr, len(data), data[:min(len(data), 16)])
	}

	// A profile that cannot be written stops the start with a clear error.
	out, err := exec.Command(binary, "start", "--cpuprofile", filepath.Join(dir, "no", "such", "dir", "cpu.prof")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot write the CPU profile") {
		t.Errorf("start with an unwritable profile: err %v, output %q", err, out)
	}
	out, err = exec.Command(binary, "start", "--trace", filepath.Join(dir, "no", "such", "dir", "run.trace")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot write the execution trace") {
		t.Errorf("start with an unwritable trace: err %v, output %q", err, out)
	}
}

// TestSIGHUPReloads adds an API file and sends SIGHUP: the API serves without a restart.
func TestSIGHUPReloads(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	defer up.Close()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": apps})
		return nil, []string{"start", "--conf", conf}
	})
	if code, _ := p.get(t, "/new/x"); code != 404 {
		t.Fatalf("before the reload: %d", code)
	}
	writeAPI(t, apps, "new", "/new/", up.URL)
	p.cmd.Process.Signal(syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if code, body := p.get(t, "/new/x"); code == 200 && body == "up" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the API added before SIGHUP never served")
}

func TestInvalidConfigListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, map[string]any{
		"listen_port": 70000, "storage": map[string]any{"type": "mongo"}, "log_level": "loud", "some_tyk_key": true,
	})
	var out bytes.Buffer
	cmd := exec.Command(binary, "start", "--conf", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, out.String())
	}
	for _, want := range []string{"listen_port", "storage.type", "log_level"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not mention %s:\n%s", want, out.String())
		}
	}
}

func TestVersionCommand(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "gatehouse v") || !strings.Contains(string(out), "-trimpath=true") {
		t.Errorf("version output:\n%s", out)
	}
	// The modules a plugin must match are listed with the versions the binary was built with.
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, m := range info.Deps {
		if m.Path == "github.com/redis/rueidis" && !strings.Contains(string(out), "          github.com/redis/rueidis "+m.Version+"\n") {
			t.Errorf("version output does not list %s %s:\n%s", m.Path, m.Version, out)
		}
	}
}

func writeConf(t *testing.T, dir string, conf map[string]any) string {
	t.Helper()
	b, _ := json.MarshalIndent(conf, "", "  ")
	path := filepath.Join(dir, "gatehouse.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeAPI(t *testing.T, dir, id, listen, target string) {
	t.Helper()
	def := apidef.APIDefinition{
		APIID: id, Name: id, Active: true, UseKeylessAccess: true,
		Proxy: apidef.ProxyConfig{ListenPath: listen, TargetURL: target, StripListenPath: true},
	}
	b, _ := json.Marshal(def)
	if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNoCgoBuildFailsPluginAPIsClosed builds gatehouse with CGO_ENABLED=0: it builds and runs,
// and APIs with plugins answer 500 saying the build cannot load plugins.
func TestNoCgoBuildFailsPluginAPIsClosed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatehouse-nocgo")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") }))
	defer up.Close()
	dir := t.TempDir()
	apps := filepath.Join(dir, "apps")
	os.Mkdir(apps, 0o755)
	writeAPI(t, apps, "plain", "/plain/", up.URL)
	def := apidef.APIDefinition{APIID: "plugged", Active: true, UseKeylessAccess: true,
		Proxy:            apidef.ProxyConfig{ListenPath: "/plugged/", TargetURL: up.URL},
		CustomMiddleware: apidef.MiddlewareSection{Driver: "goplugin", Pre: []apidef.MiddlewareDefinition{{Name: "Hook", Path: "hook.so"}}}}
	b, _ := json.Marshal(def)
	os.WriteFile(filepath.Join(apps, "plugged.json"), b, 0o644)
	saved := binary
	binary = bin
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps", "secret": pluginlessSecret})
		return nil, []string{"start", "--conf", conf}
	})
	binary = saved
	if code, body := p.get(t, "/plain/x"); code != 200 || body != "up" {
		t.Errorf("API without plugins: %d %s", code, body)
	}
	if code, body := p.get(t, "/plugged/x"); code != 500 || !strings.Contains(body, "plugin") {
		t.Errorf("API with a plugin: %d %s", code, body)
	}
	// The reason names the plugin's file: /hello gives it with the secret.
	if _, body := adminDo(t, p, pluginlessSecret, "GET", "/hello", ""); !strings.Contains(body, "this build cannot load Go plugins") {
		t.Errorf("/hello does not say why:\n%s", body)
	}
}

const pluginlessSecret = "pluginless-secret-0123456789abcdef"

const hotPlugin = `package main

import "net/http"

// Version sets X-Plugin-Version.
func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Plugin-Version", "v1") }

func main() {}
`

// runCmd runs the gatehouse binary and returns its exit code and output.
func runCmd(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestPluginCommands builds a plugin twice with Tyk's arguments, checks it, and loads both
// builds side by side; and refuses a file built without the gateway's settings.
func TestPluginCommands(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(hotPlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	suffix := "_" + version.Version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".so"
	code, out := runCmd(t, src, "plugin", "build", "plugin.so")
	first := filepath.Join(src, "plugin"+suffix)
	if code != 0 || !strings.Contains(out, "==> compiling") || !strings.Contains(out, "loads into this gateway") {
		t.Fatalf("plugin build: exit %d\n%s", code, out)
	}
	other := t.TempDir()
	code, out = runCmd(t, other, "plugin", "build", "plugin.so", "build2", "--src", src, "--out", other)
	second := filepath.Join(other, "plugin"+suffix)
	if code != 0 {
		t.Fatalf("plugin build with an id: exit %d\n%s", code, out)
	}

	code, out = runCmd(t, src, "plugin", "check", first)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("plugin check: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, src, "plugin", "check", "--json", first)
	var rep struct {
		OK         bool   `json:"ok"`
		PluginPath string `json:"plugin_path"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || !rep.OK || !strings.HasPrefix(rep.PluginPath, "gatehouse.plugin/plugin_") {
		t.Errorf("plugin check --json: exit %d, %v\n%s", code, err, out)
	}

	code, out = runCmd(t, src, "plugin", "load", "-f", first+","+second, "-s", "Version")
	if code != 0 || strings.Count(out, "loaded ok") != 2 || !strings.Contains(out, "fits pre, auth_check") {
		t.Errorf("plugin load of two builds: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, src, "plugin", "load", "-f", first, "-s", "Nope")
	if code != 1 || !strings.Contains(out, "Version func(http.ResponseWriter, *http.Request)") {
		t.Errorf("plugin load of a missing symbol: exit %d\n%s", code, out)
	}

	// A file built by plain go build, without -trimpath, is refused, saying so.
	plain := filepath.Join(t.TempDir(), "plain.so")
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/plain\n\ngo 1.26\n"), 0o644)
	b := exec.Command("go", "build", "-buildmode=plugin", "-o", plain, ".")
	b.Dir = src
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("plain build: %v\n%s", err, out)
	}
	code, out = runCmd(t, src, "plugin", "check", plain)
	if code != 1 || !strings.Contains(out, "build setting -trimpath: plugin false, gateway true") || !strings.Contains(out, "gatehouse plugin build") {
		t.Errorf("plugin check of a plain build: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, src, "plugin", "check", "--json", plain)
	if code != 1 || !strings.Contains(out, `"ok": false`) || !strings.Contains(out, `"what": "build setting -trimpath"`) {
		t.Errorf("plugin check --json of a plain build: exit %d\n%s", code, out)
	}
}

// TestBundleBuild packs bundles with the CLI: signed with -k, unsigned with -y, refused without
// either when there is no terminal, and refused with clear errors for bad manifests.
func TestBundleBuild(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "plugin.so"), []byte("not really a plugin"), 0o644)
	manifest := func(name string, m map[string]any) string {
		p := filepath.Join(dir, name)
		b, _ := json.Marshal(m)
		os.WriteFile(p, b, 0o644)
		return p
	}
	hooks := map[string]any{"driver": "goplugin", "pre": []map[string]any{{"name": "Hook", "path": "lib/plugin.so"}}}
	good := manifest("manifest.json", map[string]any{"file_list": []string{"lib/plugin.so"}, "custom_middleware": hooks})

	keyFile := filepath.Join(dir, "key.pem")
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)

	code, out := runCmd(t, dir, "bundle", "build", "-m", good, "-o", filepath.Join(dir, "signed.zip"), "-k", keyFile)
	if code != 0 || !strings.Contains(out, "signed and sealed") {
		t.Fatalf("signed build: exit %d\n%s", code, out)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "signed.zip"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if strings.Join(names, ",") != "lib/,lib/plugin.so,manifest.json" {
		t.Errorf("zip entries %v", names)
	}
	// The seal binds the name the bundle is written as: the one a gateway asks for.
	if !strings.Contains(out, "for the name signed.zip") {
		t.Errorf("signed build does not name what it sealed: %s", out)
	}
	if m := zippedManifest(t, filepath.Join(dir, "signed.zip")); m.Seal == nil || m.Seal.Name != "signed.zip" {
		t.Errorf("the seal binds %+v, want the name signed.zip", m.Seal)
	}
	code, out = runCmd(t, dir, "bundle", "build", "-m", good, "-o", filepath.Join(dir, "my bundle.zip"), "-k", keyFile)
	if code != 1 || !strings.Contains(out, `"my bundle.zip"`) || !strings.Contains(out, "-o") {
		t.Errorf("signed build under a name no gateway can ask for: exit %d\n%s", code, out)
	}
	// Tyk's usual manifest: the hook names p1.so, file_list its versioned file only.
	os.WriteFile(filepath.Join(dir, "lib", "p1_v0.1.0_linux_amd64.so"), []byte("not really a plugin"), 0o644)
	tykStyle := manifest("tyk.json", map[string]any{"file_list": []string{"lib/p1_v0.1.0_linux_amd64.so"},
		"custom_middleware": map[string]any{"driver": "goplugin", "pre": []map[string]any{{"name": "Hook", "path": "lib/p1.so"}}}})
	if code, out := runCmd(t, dir, "bundle", "build", "-m", tykStyle, "-o", filepath.Join(dir, "tyk.zip"), "-k", keyFile); code != 0 {
		t.Errorf("a hook whose versioned file is listed: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, dir, "bundle", "build", "-m", good, "-o", filepath.Join(dir, "unsigned.zip"), "-y")
	if code != 0 || !strings.Contains(out, "unsigned") {
		t.Errorf("unsigned build with -y: exit %d\n%s", code, out)
	}
	code, out = runCmd(t, dir, "bundle", "build", "-m", good, "-o", filepath.Join(dir, "asked.zip"))
	if code != 1 || !strings.Contains(out, "no terminal") {
		t.Errorf("unsigned build without a terminal: exit %d\n%s", code, out)
	}
	for name, m := range map[string]map[string]any{
		"missing-file": {"file_list": []string{"lib/plugin.so", "lib/missing.so"}, "custom_middleware": hooks},
		"no-hooks":     {"file_list": []string{"lib/plugin.so"}, "custom_middleware": map[string]any{"driver": "goplugin"}},
		"no-driver":    {"file_list": []string{"lib/plugin.so"}, "custom_middleware": map[string]any{"pre": []map[string]any{{"name": "Hook", "path": "lib/plugin.so"}}}},
		"unlisted":     {"file_list": []string{}, "custom_middleware": hooks},
	} {
		code, out := runCmd(t, dir, "bundle", "build", "-m", manifest(name+".json", m), "-o", filepath.Join(dir, name+".zip"), "-y")
		want := map[string]string{"missing-file": "lib/missing.so", "no-hooks": "no hooks defined", "no-driver": "no driver specified", "unlisted": "not in file_list"}[name]
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want an error mentioning %q\n%s", name, code, want, out)
		}
	}
}

// zippedManifest reads the manifest of a bundle.
func zippedManifest(t *testing.T, file string) *apidef.BundleManifest {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m apidef.BundleManifest
	if err := json.NewDecoder(f).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestPluginBuildTerminated: `gatehouse plugin build` stopped with SIGTERM (docker stop, kill, a
// CI job cancelled) while it compiles exits with an error and leaves nothing in the temporary
// folder: neither its workspace nor the go command's work folder.
func TestPluginBuildTerminated(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(hotPlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cmd := exec.Command(binary, "plugin", "build", "plugin.so")
	cmd.Dir = src
	// An empty build cache makes the compile long enough to be stopped in the middle.
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOCACHE="+t.TempDir())
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "==> compiling") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the build did not reach compiling within a minute:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // the compilers are running
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("exit 0 after SIGTERM in the middle of a build:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 30 s after SIGTERM:\n%s", out)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in the temporary folder: %s", e.Name())
	}
	if _, err := os.Stat(filepath.Join(src, "plugin_"+version.Version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".so")); err == nil {
		t.Error("a stopped build wrote its output")
	}
}
