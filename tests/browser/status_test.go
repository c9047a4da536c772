// Package browser tests the status page in a real browser: headless Chromium, driven through
// the DevTools protocol (chromedp), against a real gatehouse binary serving the example API and
// its Go plugin.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// RequireEnv, when set (CI sets it), makes the test fail rather than skip when Chromium is
// missing.
const RequireEnv = "GATEHOUSE_REQUIRE_CHROMIUM"

// ScreenshotEnv, when set to a file name, makes TestStatusPage write a screenshot of the page
// there (scripts/status-screenshot.sh).
const ScreenshotEnv = "GATEHOUSE_STATUS_SCREENSHOT"

// secret is the test gateway's Gateway API secret.
const secret = "browser-test-secret-0123456789abcdef"

// hostileName is the name of an API added through the Gateway API: it must show as text.
const hostileName = `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>`

// chromium returns the browser to drive: GATEHOUSE_CHROMIUM, else chromium on the PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium is not installed; install it (apt-get install -y chromium) or set GATEHOUSE_CHROMIUM to a Chromium or Chrome binary"
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s, and %s is set", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// repoRoot is the gatehouse module, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "gatehouse")); err != nil {
		t.Fatalf("the gatehouse module is not at %s: %v", root, err)
	}
	return root
}

// binDir holds the gatehouse binary the tests build, once per test binary.
var (
	binDir   string
	binOnce  sync.Once
	binErr   error
	binBuilt string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildGateway builds the gatehouse binary as users do (go build -trimpath), once, and checks
// that it links nothing of the browser tests.
func buildGateway(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "gatehouse-browser-"); binErr != nil {
			return
		}
		binBuilt = filepath.Join(binDir, "gatehouse")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binBuilt, "./cmd/gatehouse")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("%w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("building gatehouse: %v", binErr)
	}
	bin := binBuilt
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/gatehouse/gatehouse") {
		t.Fatalf("go version -m does not list the gatehouse module:\n%s", out)
	}
	for _, m := range []string{"chromedp", "cdproto", "go-json-experiment"} {
		if strings.Contains(string(out), m) {
			t.Errorf("the gateway binary links %s, a test-only module:\n%s", m, out)
		}
	}
	return bin
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

// syncBuffer collects the gateway's log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gateway is a running `gatehouse start --example`.
type gateway struct {
	proxy, control string // base URLs
}

// startGateway runs gatehouse on free loopback ports, with the Gateway API on a listener of its
// own and the extra environment env, until the test ends. With example it serves the example
// API and returns once the example plugin, compiled from source at start, serves; without, once
// /hello answers.
func startGateway(t *testing.T, bin string, example bool, env ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	proxyPort, controlPort := freePort(t), freePort(t)
	args := []string{"start"}
	if example {
		args = append(args, "--example")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_SECRET="+secret,
		"GATEHOUSE_LISTEN_ADDRESS=127.0.0.1",
		fmt.Sprintf("GATEHOUSE_LISTEN_PORT=%d", proxyPort),
		"GATEHOUSE_CONTROL_API_HOSTNAME=127.0.0.1",
		fmt.Sprintf("GATEHOUSE_CONTROL_API_PORT=%d", controlPort),
		"GATEHOUSE_PROMETHEUS_LISTEN_ADDRESS=127.0.0.1:0",
		"GATEHOUSE_APP_PATH="+filepath.Join(dir, "apps"),
		"GATEHOUSE_MIDDLEWARE_PATH="+filepath.Join(dir, "middleware"),
	)
	cmd.Env = append(cmd.Env, env...)
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	g := &gateway{proxy: fmt.Sprintf("http://127.0.0.1:%d", proxyPort), control: fmt.Sprintf("http://127.0.0.1:%d", controlPort)}
	deadline := time.Now().Add(4 * time.Minute) // the example plugin is compiled at start
	for {
		select {
		case err := <-exited:
			t.Fatalf("the gateway exited: %v\n%s", err, logs.String())
		default:
		}
		probe := g.control + "/hello"
		if example {
			probe = g.proxy + "/example/get"
		}
		if res, err := http.Get(probe); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 && (!example || res.Header.Get("X-Served-By") == "gatehouse-example-plugin") {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not serve within 4 minutes\n%s", logs.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// admin sends a Gateway API request with the secret.
func (g *gateway) admin(t *testing.T, method, path string, body any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, g.control+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Tyk-Authorization", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, out)
	}
}

// send sends n requests through the example API.
func (g *gateway) send(t *testing.T, n int) {
	t.Helper()
	for range n {
		res, err := http.Get(g.proxy + "/example/get")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET /example/get: %d", res.StatusCode)
		}
	}
}

// TestStatusPage loads /status in Chromium, logs in with a wrong secret and then the right
// one, and checks what the page shows: the example API's listen path, its plugin's function
// with a call count matching the requests sent, an API name with markup shown as text, a
// request rate; and that the secret never appears in the URL or a cookie.
func TestStatusPage(t *testing.T) {
	browser := chromium(t)
	bin := buildGateway(t)
	g := startGateway(t, bin, true)

	// An API whose name is markup, stored and loaded through the Gateway API.
	g.admin(t, "POST", "/tyk/apis", map[string]any{
		"name": hostileName, "api_id": "hostile", "org_id": "default", "active": true, "use_keyless": true,
		"proxy":        map[string]any{"listen_path": "/hostile/", "target_url": "http://127.0.0.1:9", "strip_listen_path": true},
		"version_data": map[string]any{"not_versioned": true, "versions": map[string]any{"Default": map[string]any{"name": "Default"}}},
	})
	g.admin(t, "GET", "/tyk/reload?block=true", nil)
	// The start already sent one request (startGateway's check), and perhaps more while the
	// plugin was being built, each answered by the plugin once it served; count from the
	// report, then send a known number more.
	const sent = 7
	before := reportCalls(t, g)
	g.send(t, sent)
	if res, err := http.Get(g.proxy + "/nowhere"); err != nil || res.StatusCode != 404 {
		t.Fatalf("GET /nowhere: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	want := before + sent

	br := openBrowser(t, browser)
	ctx, step, eval, poll, dialogs := br.ctx, br.step, br.eval, br.poll, &br.dialogs

	step("loading /status", chromedp.Navigate(g.control+"/status"), chromedp.WaitVisible(chromedp.ID("secret")))

	// A wrong secret: an error, no data, nothing kept.
	step("logging in with a wrong secret",
		chromedp.SendKeys(chromedp.ID("secret"), "not-the-secret"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("login-error")))
	if msg := eval(`document.getElementById("login-error").textContent`); !strings.Contains(msg, "Wrong secret") {
		t.Errorf("after a wrong secret the page says %q", msg)
	}
	if v := eval(`String(document.getElementById("report").hidden) + " " + String(sessionStorage.length)`); v != "true 0" {
		t.Errorf("after a wrong secret: report hidden and storage length %q, want \"true 0\"", v)
	}

	// The secret.
	step("logging in",
		chromedp.SendKeys(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("report")))
	poll("the example API's row", `document.querySelector("#apis tbody").textContent.includes("/example/")`)

	if s := eval(`document.querySelector("#redis tbody").textContent`); !strings.Contains(s, "uses no Redis: the memory store") {
		t.Errorf("the Redis table of a gateway on the memory store: %q", s)
	}
	apis := eval(`document.querySelector("#apis tbody").innerText`)
	for _, s := range []string{"Gatehouse example", "/example/", "example", "keyless", "served", hostileName, "/hostile/"} {
		if !strings.Contains(apis, s) {
			t.Errorf("the APIs table does not show %q:\n%s", s, apis)
		}
	}
	// The hostile name is one text node, shown as written; nothing of it became an element or
	// ran.
	if v := eval(`Array.from(document.querySelectorAll("#apis tbody tr")).map(r => r.cells[0].textContent).filter(n => n.startsWith("<img")).join("|")`); v != hostileName {
		t.Errorf("the hostile API's name cell is %q, want %q", v, hostileName)
	}
	if v := eval(`String(document.querySelectorAll("#report img, #report script").length) + " " + String(window.pwned)`); v != "0 undefined" {
		t.Errorf("markup in an API name made elements or ran: %q", v)
	}

	// The plugin's row: function, hook, and the calls counted, as many as requests sent.
	pluginRow := `Array.from(document.querySelectorAll("#plugins tbody tr")).find(r => r.cells[2] && r.cells[2].textContent.startsWith("AddGreeting"))`
	poll("the plugin's call count", fmt.Sprintf(`(() => { const r = %s; return r && r.cells[7].textContent === %q; })()`, pluginRow, fmt.Sprint(want)))
	if v := eval(`(() => { const r = ` + pluginRow + `; return [r.cells[0].textContent, r.cells[1].textContent, r.cells[8].textContent, r.cells[9].textContent].join("|"); })()`); v != "example|post|0|0" {
		t.Errorf("the plugin row (api|hook|errors|panics) is %q, want example|post|0|0", v)
	}
	if v := eval(`(() => { const r = ` + pluginRow + `; return r.cells[4].textContent; })()`); !strings.Contains(v, "sha256 ") {
		t.Errorf("the plugin's build cell is %q, want its plugin path and sha256", v)
	}
	if v := eval(`document.getElementById("updated").textContent`); !strings.HasSuffix(v, "requests no API took (404, refused before routing): 1") {
		t.Errorf("the page's head line %q does not count the requests no API took", v)
	}
	if v := eval(`document.querySelector("#reloads tbody").textContent`); !strings.Contains(v, "(start)") || !strings.Contains(v, "ok") {
		t.Errorf("the reloads table: %q, want the start and a reload", v)
	}

	// Live rates: requests sent while the page polls show as a rate above 0.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if res, err := http.Get(g.proxy + "/example/get"); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	exampleRow := `Array.from(document.querySelectorAll("#apis tbody tr")).find(r => r.cells[1].textContent === "example")`
	poll("a request rate", `(() => { const r = `+exampleRow+`; return r && parseFloat(r.cells[6].textContent) > 0; })()`)
	close(stop)
	<-done

	// The secret is in no URL, cookie or the page's text; it stays in sessionStorage.
	loc := eval(`location.href`)
	if strings.Contains(loc, secret) || loc != g.control+"/status" {
		t.Errorf("the page's URL is %q", loc)
	}
	if v := eval(`document.cookie + "|" + String(document.body.innerText.includes(` + fmt.Sprintf("%q", secret) + `))`); v != "|false" {
		t.Errorf("cookie and secret in the text: %q", v)
	}

	if file := os.Getenv(ScreenshotEnv); file != "" {
		shot(t, ctx, file)
	}

	// Reloading keeps the session; logging out forgets the secret.
	step("reloading the page", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("report")))
	step("logging out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("secret")))
	if v := eval(`String(sessionStorage.length)`); v != "0" {
		t.Errorf("after logging out sessionStorage holds %s items", v)
	}
	dialogs.Range(func(k, _ any) bool {
		t.Errorf("a dialog opened: %v", k)
		return true
	})
}

// tab is a headless Chromium tab and the test's ways of driving it.
type tab struct {
	t       *testing.T
	ctx     context.Context
	dialogs sync.Map // messages of the JavaScript dialogs that opened
}

// openBrowser starts Chromium for the test, with one tab.
func openBrowser(t *testing.T, browser string) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // root in CI containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1360, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser without a deadline (it lives as long as ctx), then bound each step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	tb := &tab{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			tb.dialogs.Store(d.Message, true)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// step runs actions, failing the test with what when they fail.
func (tb *tab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	sctx, scancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer scancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression, a string.
func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	sctx, scancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer scancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// poll waits until a JavaScript expression is true.
func (tb *tab) poll(what, expr string) {
	tb.t.Helper()
	sctx, scancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer scancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		tb.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// login loads the status page at base and logs in with the secret.
func (tb *tab) login(base string) {
	tb.t.Helper()
	tb.step("loading /status", chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.ID("secret")))
	tb.step("logging in",
		chromedp.SendKeys(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("report")))
}

// reportCalls returns the example plugin's calls as the report says.
func reportCalls(t *testing.T, g *gateway) int {
	t.Helper()
	req, _ := http.NewRequest("GET", g.control+"/tyk/status", nil)
	req.Header.Set("X-Tyk-Authorization", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rep struct {
		Plugins []struct {
			Function string   `json:"function"`
			Calls    *float64 `json:"calls"`
		} `json:"plugins"`
	}
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Plugins {
		if p.Function == "AddGreeting" && p.Calls != nil {
			return int(*p.Calls)
		}
	}
	t.Fatalf("the report has no calls for AddGreeting: %+v", rep.Plugins)
	return 0
}

// shot writes a PNG of the page's top to file.
func shot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	data, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot written to %s (%d bytes)", file, len(data))
}

// startRedis runs a redis-server on a free loopback port until the test ends and returns its
// address. Without redis-server the test skips, unless GATEHOUSE_REQUIRE_REDIS is set.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not on the PATH: install it to run this test (apt-get install redis-server)"
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") != "" {
			t.Fatalf("%s, and GATEHOUSE_REQUIRE_REDIS is set", msg)
		}
		t.Skip(msg)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", t.TempDir())
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s:\n%s", addr, logs.String())
		}
	}
}

// TestStatusPageFleet: two gateways on one Redis; the status page of one lists both nodes, itself
// marked, with the group reload it heard from the other.
func TestStatusPageFleet(t *testing.T) {
	browser := chromium(t)
	redis := startRedis(t)
	bin := buildGateway(t)
	env := []string{"GATEHOUSE_STORAGE_TYPE=redis", "GATEHOUSE_STORAGE_ADDRS=" + redis, "GATEHOUSE_NODE_SECRET=browser-test-node-secret-0123456789"}
	// a keeps the response cache in the same Redis (cache_storage) and its analytics records in
	// one that does not answer (analytics_storage): the status page tells the three apart.
	a := startGateway(t, bin, false, append(env,
		"GATEHOUSE_ENABLE_SEPARATE_CACHE_STORE=true", "GATEHOUSE_CACHE_STORAGE_TYPE=redis", "GATEHOUSE_CACHE_STORAGE_ADDRS="+redis,
		"GATEHOUSE_ENABLE_ANALYTICS=true", "GATEHOUSE_ENABLE_SEPARATE_ANALYTICS_STORE=true", "GATEHOUSE_ANALYTICS_STORAGE_TYPE=redis",
		fmt.Sprintf("GATEHOUSE_ANALYTICS_STORAGE_ADDRS=127.0.0.1:%d", freePort(t)))...)
	b := startGateway(t, bin, false, env...)
	// An API with an uptime check, shared through Redis: one of the two gateways runs it.
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(health.Close)
	b.admin(t, "POST", "/tyk/apis", map[string]any{"api_id": "checked", "name": "checked", "use_keyless": true, "active": true,
		"proxy":        map[string]any{"listen_path": "/checked/", "target_url": health.URL},
		"version_data": map[string]any{"not_versioned": true, "versions": map[string]any{"Default": map[string]any{"name": "Default"}}},
		"uptime_tests": map[string]any{"check_list": []any{map[string]any{"url": health.URL + "/health"}}}})
	b.admin(t, "GET", "/tyk/reload/group", nil)

	br := openBrowser(t, browser)
	br.login(a.control)
	br.poll("both nodes, with the other's group reload",
		`document.querySelectorAll("#nodes tbody tr").length === 2 && document.querySelector("#nodes tbody").textContent.includes("GroupReload")`)
	host, _ := os.Hostname()
	rows := br.eval(`Array.from(document.querySelectorAll("#nodes tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent).join("|")).join("\n")`)
	self := 0
	for _, r := range strings.Split(rows, "\n") {
		cells := strings.Split(r, "|")
		if len(cells) != 8 || cells[1] != host || !strings.HasPrefix(cells[2], "v") || cells[5] != "0" && cells[5] != "1" || cells[6] != "all" {
			t.Errorf("node row %q: want 8 cells, host %q, a version, 0 or 1 APIs (as last announced) and segment all", r, host)
			continue
		}
		if strings.HasSuffix(cells[0], "this node") {
			self++
			if cells[7] != "" {
				t.Errorf("this node's row shows a notification heard from itself: %q", r)
			}
		} else if !strings.HasPrefix(cells[7], "GroupReload at ") {
			t.Errorf("the other node's row %q does not show its group reload", r)
		}
	}
	if self != 1 {
		t.Errorf("%d rows marked this node, want 1:\n%s", self, rows)
	}
	if s := br.eval(`document.getElementById("summary").textContent + " / " + document.getElementById("fleet").querySelector("p").textContent`); !strings.Contains(s, "redis store") || !strings.Contains(s, "Redis answers") || !strings.Contains(s, "notifications heard") {
		t.Errorf("the page's summary and fleet line: %q", s)
	}
	redisRows := `Array.from(document.querySelectorAll("#redis tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent).join("|")).join("\n")`
	br.poll("the three Redis servers", redisRows+`.split("\n").length === 3`)
	rows = br.eval(redisRows)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^storage\|answers\|[0-9.]+ (µs|ms)$`),
		regexp.MustCompile(`(?m)^analytics_storage\|does not answeranalytics records are dropped and counted, requests are served as ever\|–$`),
		regexp.MustCompile(`(?m)^cache_storage\|answers\|[0-9.]+ (µs|ms)$`),
	} {
		if !want.MatchString(rows) {
			t.Errorf("the Redis table has no row matching %s:\n%s", want, rows)
		}
	}
	br.poll("the uptime check shared", `document.getElementById("fleet").querySelector("p").textContent.includes("uptime checks run here: ")`)
	if s := br.eval(`document.getElementById("fleet").querySelector("p").textContent`); !strings.Contains(s, " of 1") {
		t.Errorf("the fleet line's uptime checks: %q", s)
	}
}
