package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// accessGateway starts a gateway logging JSON to buf at level (metrics off), with the access log
// set by al, and returns its address.
func accessGateway(t *testing.T, buf *testkit.SyncBuffer, level slog.Level, al config.AccessLogsConfig, defs ...*apidef.APIDefinition) string {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ListenAddress, cfg.ListenPort, cfg.ControlAPIPort = "127.0.0.1", 0, 0
	cfg.Secret = gt.Secret
	cfg.HashKeys = true
	cfg.Prometheus.Enabled = false
	cfg.AccessLogs = al
	cfg.AppPath, cfg.MiddlewarePath = filepath.Join(dir, "apps"), filepath.Join(dir, "middleware")
	if err := os.MkdirAll(cfg.AppPath, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, def := range defs {
		if err := os.WriteFile(filepath.Join(cfg.AppPath, def.APIID+".json"), mustJSON(t, def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv, err := gw.Start()
	if err != nil {
		gw.Close()
		t.Fatalf("gateway.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = gw.Close()
	})
	return srv.Addr()
}

// accessLines returns the access lines in buf, each decoded, without time.
func accessLines(t *testing.T, buf *testkit.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a line is not one JSON record: %v\n%q", err, sc.Text())
		}
		if m["msg"] == "access" {
			delete(m, "time")
			out = append(out, m)
		}
	}
	return out
}

// send sends a request and returns the status, reading the whole answer.
func accessSend(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func accessRequest(t *testing.T, method, url string, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// checkLine compares a line with want exactly, but for the latencies: want names them with -1,
// and the line must carry them as a number of milliseconds of 0 or more.
func checkLine(t *testing.T, name string, got, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if v == -1.0 {
			if f, ok := got[k].(float64); !ok || f < 0 {
				t.Errorf("%s: %s = %v, want a latency in milliseconds", name, k, got[k])
			}
			continue
		}
		if got[k] != v {
			t.Errorf("%s: %s = %#v, want %#v", name, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected field %s = %v", name, k, got[k])
		}
	}
}

// TestAccessLog sends known requests (keyless, keyed with the key in a header and in the query,
// a plugin refusal, an upstream error, no API) and checks each line's fields exactly; the raw
// key and the query appear nowhere in the log.
func TestAccessLog(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there now: the upstream errs

	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.Auth.UseParam, keyed.Auth.ParamName = true, "api_key"
	refuse := gt.API("refuse", "/refuse/", up.URL)
	refuse.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginReturningError")}
	var buf testkit.SyncBuffer
	addr := accessGateway(t, &buf, slog.LevelInfo, config.AccessLogsConfig{Enabled: true},
		gt.API("open", "/open/", up.URL), keyed, refuse, gt.API("down", "/down/", downURL))
	base := "http://" + addr

	key := createAccessKey(t, base, "keyed")
	const secret = "s3cr3t-in-query"
	ua := map[string]string{"User-Agent": "access-test/1"}
	cases := []struct {
		name string
		req  *http.Request
		code int
		want map[string]any
	}{
		{"keyless", accessRequest(t, "GET", base+"/open/a/b?"+secret+"=1", ua), 200, map[string]any{
			"api_id": "open", "path": "/open/a/b", "upstream_address": up.URL + "/a/b", "status": 200.0,
		}},
		{"keyed, key in a header", accessRequest(t, "POST", base+"/keyed/x", map[string]string{"User-Agent": "access-test/1", "Authorization": key}), 200, map[string]any{
			"api_id": "keyed", "method": "POST", "path": "/keyed/x", "api_key": session.HashKey(key),
			"upstream_address": up.URL + "/x", "status": 200.0,
		}},
		{"keyed, key in the query", accessRequest(t, "GET", base+"/keyed/y?api_key="+key+"&"+secret+"=2", ua), 200, map[string]any{
			"api_id": "keyed", "path": "/keyed/y", "api_key": session.HashKey(key),
			"upstream_address": up.URL + "/y", "status": 200.0,
		}},
		{"keyed, the key in the path too", accessRequest(t, "GET", base+"/keyed/keys/"+key+"/p", map[string]string{"User-Agent": "access-test/1", "Authorization": key}), 200, map[string]any{
			"api_id": "keyed", "path": "/keyed/keys/[redacted]/p", "api_key": session.HashKey(key),
			"upstream_address": up.URL + "/keys/[redacted]/p", "status": 200.0,
		}},
		{"keyed, wrong key", accessRequest(t, "GET", base+"/keyed/z", map[string]string{"User-Agent": "access-test/1", "Authorization": "nope-" + secret}), 403, map[string]any{
			"api_id": "keyed", "path": "/keyed/z", "status": 403.0,
		}},
		{"plugin refusal", accessRequest(t, "GET", base+"/refuse/r", ua), 418, map[string]any{
			"api_id": "refuse", "path": "/refuse/r", "status": 418.0,
		}},
		{"upstream error", accessRequest(t, "GET", base+"/down/d?"+secret+"=3", ua), 502, map[string]any{
			"api_id": "down", "path": "/down/d", "upstream_address": downURL + "/d", "status": 502.0,
		}},
		{"no API", accessRequest(t, "GET", base+"/nowhere?"+secret+"=4", ua), 404, map[string]any{
			"api_id": "", "path": "/nowhere", "status": 404.0,
		}},
	}
	for _, c := range cases {
		if got := accessSend(t, c.req); got != c.code {
			t.Fatalf("%s: status %d, want %d", c.name, got, c.code)
		}
	}
	lines := accessLines(t, &buf)
	if len(lines) != len(cases) {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(cases), buf.String())
	}
	for i, c := range cases {
		want := map[string]any{
			"level": "INFO", "msg": "access", "method": "GET", "host": addr, "protocol": "HTTP/1.1",
			"client_ip": "127.0.0.1", "user_agent": "access-test/1", "latency_total": -1.0,
		}
		for k, v := range c.want {
			want[k] = v
		}
		if _, ok := want["upstream_address"]; ok {
			want["upstream_latency"] = -1.0
		}
		got := lines[i]
		ra, _ := got["remote_addr"].(string)
		if host, _, err := net.SplitHostPort(ra); err != nil || host != "127.0.0.1" {
			t.Errorf("%s: remote_addr = %q, want 127.0.0.1:port", c.name, ra)
		}
		want["remote_addr"] = ra
		checkLine(t, c.name, got, want)
	}
	log := buf.String()
	for _, bad := range []string{key, secret} {
		if strings.Contains(log, bad) {
			t.Errorf("the log holds %q:\n%s", bad, log)
		}
	}
}

// createAccessKey stores a key for apiID through the Gateway API at base.
func createAccessKey(t *testing.T, base, apiID string) string {
	t.Helper()
	s := apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{apiID: {APIID: apiID, APIName: apiID}}}
	req, err := http.NewRequest("POST", base+"/tyk/keys/create", strings.NewReader(string(mustJSON(t, s))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Tyk-Authorization", gt.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Key string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Key == "" || resp.StatusCode != 200 {
		t.Fatalf("creating a key: %d %v", resp.StatusCode, err)
	}
	return out.Key
}

// TestAccessLogTemplate: a template's fields, and only them.
func TestAccessLogTemplate(t *testing.T) {
	up := gt.NewUpstream(t)
	var buf testkit.SyncBuffer
	addr := accessGateway(t, &buf, slog.LevelInfo,
		config.AccessLogsConfig{Enabled: true, Template: []string{"status", "method", "api_key", "upstream_latency"}},
		gt.API("open", "/open/", up.URL))
	accessSend(t, accessRequest(t, "DELETE", "http://"+addr+"/open/x", nil))
	accessSend(t, accessRequest(t, "GET", "http://"+addr+"/none", nil))
	lines := accessLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", len(lines), buf.String())
	}
	checkLine(t, "proxied", lines[0], map[string]any{"level": "INFO", "msg": "access", "status": 200.0, "method": "DELETE", "upstream_latency": -1.0})
	checkLine(t, "no API", lines[1], map[string]any{"level": "INFO", "msg": "access", "status": 404.0, "method": "GET"})
}

// TestAccessLogOff: off (the default), or below the logger's level, no line is written.
func TestAccessLogOff(t *testing.T) {
	up := gt.NewUpstream(t)
	for _, c := range []struct {
		name  string
		level slog.Level
		al    config.AccessLogsConfig
	}{
		{"off", slog.LevelDebug, config.AccessLogsConfig{Template: []string{"status"}}},
		{"on, logger at warn", slog.LevelWarn, config.AccessLogsConfig{Enabled: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf testkit.SyncBuffer
			addr := accessGateway(t, &buf, c.level, c.al, gt.API("open", "/open/", up.URL))
			for _, p := range []string{"/open/x", "/none"} {
				accessSend(t, accessRequest(t, "GET", "http://"+addr+p, nil))
			}
			if n := len(accessLines(t, &buf)); n != 0 {
				t.Errorf("%d access lines:\n%s", n, buf.String())
			}
		})
	}
}

// TestAccessLogHostile: CR, LF and ESC in the path (a client sends them encoded: Go refuses
// them raw in a request line or header with 400 before the gateway sees the request), and a
// forged record and line separators in the user agent, cannot split, forge or colour the line;
// the values come back whole from the JSON. accesslog's own tests put CR, LF and ESC in the
// user agent itself, with both handlers.
func TestAccessLogHostile(t *testing.T) {
	up := gt.NewUpstream(t)
	var buf testkit.SyncBuffer
	addr := accessGateway(t, &buf, slog.LevelInfo, config.AccessLogsConfig{Enabled: true, Template: []string{"path", "user_agent", "host"}},
		gt.API("open", "/open/", up.URL))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uaValue := "ua\u2028\u2029\"}{\"msg\":\"forged\"} level=ERROR msg=forged"
	fmt.Fprintf(conn, "GET /open/a%%0d%%0a%%1b[31m HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", uaValue)
	_, _ = io.Copy(io.Discard, conn)
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b\u2028\u2029") {
		t.Errorf("a raw CR, ESC or line separator reached the log: %q", out)
	}
	lines := accessLines(t, &buf)
	for _, l := range lines {
		if l["msg"] == "forged" {
			t.Errorf("a forged record: %v", l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d access lines, want 1:\n%s", len(lines), out)
	}
	if lines[0]["user_agent"] != uaValue || lines[0]["host"] != "gw.test" {
		t.Errorf("line %v, want the user agent %q kept whole", lines[0], uaValue)
	}
	if p, _ := lines[0]["path"].(string); p != "/open/a\r\n\x1b[31m" && p != "/open/a%0d%0a%1b[31m" {
		t.Errorf("path %q", p)
	}
}

// TestAccessLogBatch: a batch gets an access line of its own, for its API, beside the lines of
// the requests it carries.
func TestAccessLogBatch(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("b", "/b/", up.URL)
	def.EnableBatchRequestSupport = true
	var buf testkit.SyncBuffer
	addr := accessGateway(t, &buf, slog.LevelInfo, config.AccessLogsConfig{Enabled: true}, def)
	req, err := http.NewRequest("POST", "http://"+addr+"/b/tyk/batch", strings.NewReader(`{"requests": [{"relative_url": "x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if code := accessSend(t, req); code != 200 {
		t.Fatalf("batch: %d", code)
	}
	var paths []string
	deadline := time.Now().Add(5 * time.Second)
	for len(paths) < 2 && time.Now().Before(deadline) {
		paths = paths[:0]
		for _, l := range accessLines(t, &buf) {
			if l["api_id"] != "b" {
				t.Errorf("a line of another API: %v", l)
			}
			paths = append(paths, fmt.Sprintf("%s %v %v", l["method"], l["path"], l["status"]))
		}
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(paths)
	if want := []string{"GET /b/x 200", "POST /b/tyk/batch 200"}; !slices.Equal(paths, want) {
		t.Errorf("access lines %q, want %q", paths, want)
	}
}
