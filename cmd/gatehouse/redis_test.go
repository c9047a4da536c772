package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
)

// adminDo calls the Gateway API of a gatehouse serving it on its proxy port.
func adminDo(t *testing.T, p *proc, secret, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("X-Tyk-Authorization", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStartOnRedis runs the binary on a tyk.conf-style storage block, over TLS with a client
// certificate and a password, as an operator would write it: the files are read, the gateway
// connects, /hello reports the datastore, and a key created through the Gateway API works.
func TestStartOnRedis(t *testing.T) {
	certs := redistest.NewTLS(t)
	srv := redistest.Start(t, redistest.Options{TLS: certs, TLSClientAuth: true, Password: "redis-pass"})
	dir := t.TempDir()
	const secret = "start-on-redis-secret-0123456789"
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{
			"listen_port": port, "control_api_port": 0, "secret": secret, "node_secret": "fleet-secret-0123456789",
			"app_path": dir + "/apps",
			"storage": map[string]any{
				"type": "redis", "host": "127.0.0.1", "port": srv.Port, "password": "redis-pass", "timeout": 2,
				"use_ssl": true, "ca_file": certs.CA, "cert_file": certs.ClientCert, "key_file": certs.ClientKey,
				"optimisation_max_idle": 100, // a Tyk key Gatehouse ignores with a warning
			},
		})
		return nil, []string{"start", "--conf", conf}
	})
	code, body := p.get(t, "/hello")
	var h struct {
		Status  string
		Details map[string]struct{ Status, Output string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || h.Details["redis"].Status != "pass" {
		t.Fatalf("/hello on Redis: %d %s", code, body)
	}
	if !strings.Contains(h.Details["redis"].Output, "round trip") {
		t.Errorf("/hello does not report the round-trip time: %s", body)
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "upstream") }))
	defer up.Close()
	def := `{"api_id": "k", "name": "k", "use_keyless": false, "active": true,
		"proxy": {"listen_path": "/k/", "target_url": "` + up.URL + `", "strip_listen_path": true},
		"version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}`
	if code, body := adminDo(t, p, secret, "POST", "/tyk/apis", def); code != 200 {
		t.Fatalf("POST /tyk/apis: %d %s", code, body)
	}
	if code, body := adminDo(t, p, secret, "GET", "/tyk/reload/group", ""); code != 200 {
		t.Fatalf("group reload: %d %s", code, body)
	}
	code, body = adminDo(t, p, secret, "POST", "/tyk/keys/create", `{"access_rights": {"k": {"api_id": "k"}}}`)
	var key struct{ Key string }
	if code != 200 || json.Unmarshal([]byte(body), &key) != nil {
		t.Fatalf("creating a key: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+p.addr+"/k/", nil)
		req.Header.Set("Authorization", key.Key)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a keyed request through the API stored in Redis: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := p.out.String(); strings.Contains(out, "redis-pass") || strings.Contains(out, key.Key) {
		t.Errorf("the log holds the Redis password or the raw key:\n%s", out)
	}
	if !strings.Contains(p.out.String(), "storage.optimisation_max_idle") {
		t.Errorf("the ignored Tyk key was not reported:\n%s", p.out.String())
	}
}

// TestStartOnRedisBadCA: a storage.ca_file that cannot be read stops the start with the key
// named, rather than connecting without the check the operator asked for.
func TestStartOnRedisBadCA(t *testing.T) {
	dir := t.TempDir()
	conf := writeConf(t, dir, map[string]any{
		"listen_port": freePort(t), "app_path": dir + "/apps",
		"storage": map[string]any{"type": "redis", "use_ssl": true, "ca_file": dir + "/missing.pem"},
	})
	out, err := exec.Command(binary, "start", "--conf", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "storage.ca_file") {
		t.Errorf("start with a missing CA file: %v\n%s", err, out)
	}
}

// TestStartWithAnalyticsStore starts the binary on the memory store with its analytics in a Redis
// of their own (enable_separate_analytics_store), reached over TLS with a client certificate
// and a password: /hello reports it, a request's record lands in its list, and a CA file that
// cannot be read stops the start naming analytics_storage.
func TestStartWithAnalyticsStore(t *testing.T) {
	certs := redistest.NewTLS(t)
	srv := redistest.Start(t, redistest.Options{TLS: certs, TLSClientAuth: true, Password: "pump-pass"})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	dir := t.TempDir()
	writeAPI(t, dir, "open", "/open/", up.URL)
	store := map[string]any{
		"type": "redis", "host": "127.0.0.1", "port": srv.Port, "password": "pump-pass",
		"use_ssl": true, "ca_file": certs.CA, "cert_file": certs.ClientCert, "key_file": certs.ClientKey,
	}
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{
			"listen_port": port, "control_api_port": 0, "secret": "analytics-store-secret-0123456789",
			"app_path": dir, "enable_analytics": true, "enable_separate_analytics_store": true,
			"analytics_storage": store,
		})
		return nil, []string{"start", "--conf", conf}
	})
	code, body := p.get(t, "/hello")
	var h struct {
		Details map[string]struct{ Status, Output string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || h.Details["analytics_redis"].Status != "pass" {
		t.Fatalf("/hello with the analytics Redis: %d %s", code, body)
	}
	if code, _ := p.get(t, "/open/x"); code != 200 {
		t.Fatalf("GET /open/x: %d", code)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := redistest.CLI(t, srv.Addr, "--tls", "--cacert", certs.CA, "--cert", certs.ClientCert, "--key", certs.ClientKey,
			"-a", "pump-pass", "--no-auth-warning", "LLEN", "analytics-tyk-system-analytics")
		if strings.TrimSpace(n) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the analytics list holds %q records, want 1\n%s", n, p.out.String())
		}
	}
	if strings.Contains(p.out.String(), "pump-pass") {
		t.Errorf("the log holds the analytics Redis's password:\n%s", p.out.String())
	}

	store["ca_file"] = dir + "/missing.pem"
	conf := writeConf(t, t.TempDir(), map[string]any{
		"listen_port": freePort(t), "app_path": dir, "enable_analytics": true,
		"enable_separate_analytics_store": true, "analytics_storage": store,
	})
	out, err := exec.Command(binary, "start", "--conf", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "analytics_storage.ca_file") {
		t.Errorf("start with a missing analytics CA file: %v\n%s", err, out)
	}
}

func TestEchoCommand(t *testing.T) {
	cmd := exec.Command(binary, "echo", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "echo upstream listening on ")
	if err != nil || !ok {
		t.Fatalf("first line %q (%v)", line, err)
	}
	resp, err := http.Get(url + "/some/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"uri": "/some/path?q=1"`) {
		t.Errorf("echo answered %d %s", resp.StatusCode, body)
	}
}
