package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// moduleRoot returns the folder of the gatehouse checkout the working directory is in, as the go
// command sees it.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/gatehouse/gatehouse").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("run the benchmark from inside the gatehouse checkout (go list -m github.com/gatehouse/gatehouse: %v)", err)
	}
	return dir, nil
}

// run runs a command in dir and returns its combined output as the error's text on failure.
func run(ctx context.Context, dir string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// buildGatehouse builds the gatehouse binary from the checkout at root.
func buildGatehouse(ctx context.Context, root, out string) error {
	return run(ctx, root, "go", "build", "-trimpath", "-o", out, "./cmd/gatehouse")
}

// buildPlugin compiles the benchmark plugin of the checkout at root into dir with the binary's
// own `gatehouse plugin build`; it returns the .so file.
func buildPlugin(ctx context.Context, bin, root, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := run(ctx, dir, bin, "plugin", "build", "benchplugin.so", "--src", filepath.Join(root, filepath.FromSlash(benchkit.PluginPkg)), "--out", dir); err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.so"))
	if err != nil || len(files) != 1 {
		return "", fmt.Errorf("plugin build wrote %d .so files in %s, want 1", len(files), dir)
	}
	return files[0], nil
}

// gatehouseConfig is the part of tyk.conf the benchmark sets.
type gatehouseConfig struct {
	ListenAddress      string `json:"listen_address"`
	ListenPort         int    `json:"listen_port"`
	ControlAPIHostname string `json:"control_api_hostname"`
	ControlAPIPort     int    `json:"control_api_port"`
	Secret             string `json:"secret"`
	AppPath            string `json:"app_path"`
	MiddlewarePath     string `json:"middleware_path"`
	LogLevel           string `json:"log_level"`
	HashKeys           bool   `json:"hash_keys"`
	// NodeSecret signs notifications between gateways on Redis.
	NodeSecret string `json:"node_secret,omitempty"`
	Storage    struct {
		Type    string  `json:"type"`
		Host    string  `json:"host,omitempty"`
		Port    int     `json:"port,omitempty"`
		Timeout float64 `json:"timeout,omitempty"` // seconds
	} `json:"storage"`
	Prometheus struct {
		Enabled       bool   `json:"enabled"`
		ListenAddress string `json:"listen_address,omitempty"`
	} `json:"prometheus"`
	OpenTelemetry struct {
		Enabled  bool   `json:"enabled"`
		Endpoint string `json:"endpoint,omitempty"`
	} `json:"opentelemetry"`
	Policies struct {
		PolicySource     string `json:"policy_source,omitempty"`
		PolicyRecordName string `json:"policy_record_name,omitempty"`
	} `json:"policies"`
}

// gatehouse is one running gatehouse process.
type gatehouse struct {
	proc    *child
	url     string // proxy listener, http://127.0.0.1:PORT
	control string // Gateway API, http://127.0.0.1:PORT
	secret  string
	client  *http.Client
	apps    string // app_path
	// listening is the time from the process's start to its proxy listener accepting
	// connections, with every API loaded.
	listening time.Duration
}

// startGatehouse writes a config, the definitions and files (more files of app_path, by name)
// into dir, and policies (by id, none if empty) into a policies file, and starts bin on them, on the
// memory store, or on the Redis server at 127.0.0.1:redisPort when redisPort is not 0. With
// profile, gatehouse writes a CPU profile of its whole run to dir/cpu.prof when it stops. It runs
// on cpus (--pinned), with env (GOGC, GOMEMLIMIT: the GC scenarios) added to its environment.
// With otelSink (host:port), it traces every request and exports there.
func startGatehouse(ctx context.Context, cs *children, bin, dir, name string, defs []*apidef.APIDefinition, files map[string][]byte, policies map[string]*apidef.Policy, redisPort int, profile, metrics bool, otelSink string, cpus cpuSet, env []string) (*gatehouse, error) {
	apps := filepath.Join(dir, "apps")
	if err := os.MkdirAll(apps, 0o755); err != nil {
		return nil, err
	}
	for f, data := range files {
		if err := os.WriteFile(filepath.Join(apps, f), data, 0o644); err != nil {
			return nil, err
		}
	}
	for _, def := range defs {
		data, err := json.Marshal(def)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(apps, def.APIID+".json"), data, 0o644); err != nil {
			return nil, err
		}
	}
	port, err1 := freePort()
	ctl, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	cfg := gatehouseConfig{
		ListenAddress: "127.0.0.1", ListenPort: port,
		ControlAPIHostname: "127.0.0.1", ControlAPIPort: ctl,
		Secret:  hex.EncodeToString(secret[:]),
		AppPath: apps, MiddlewarePath: filepath.Join(dir, "middleware"),
		LogLevel: "warn", HashKeys: true,
	}
	cfg.Storage.Type = "memory"
	if len(policies) > 0 {
		data, err := json.Marshal(policies)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, "policies.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return nil, err
		}
		cfg.Policies.PolicySource, cfg.Policies.PolicyRecordName = "file", file
	}
	if metrics {
		cfg.Prometheus.Enabled, cfg.Prometheus.ListenAddress = true, "127.0.0.1:0"
	}
	if otelSink != "" {
		cfg.OpenTelemetry.Enabled, cfg.OpenTelemetry.Endpoint = true, otelSink
	}
	if redisPort != 0 {
		cfg.Storage.Type, cfg.Storage.Host, cfg.Storage.Port, cfg.Storage.Timeout = "redis", "127.0.0.1", redisPort, 1
		cfg.NodeSecret = cfg.Secret
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	confPath := filepath.Join(dir, "gatehouse.json")
	if err := os.WriteFile(confPath, data, 0o600); err != nil {
		return nil, err
	}
	args := []string{"start", "--conf", confPath}
	if profile {
		args = append(args, "--cpuprofile", filepath.Join(dir, "cpu.prof"))
	}
	path := bin
	if len(env) > 0 {
		// env(1) execs gatehouse in the same process, as taskset does: the pid read stays its.
		path, args = "env", append(append(append([]string(nil), env...), bin), args...)
	}
	path, args = cpus.command(path, args...)
	t0 := time.Now()
	proc, _, err := cs.start("gatehouse "+name, filepath.Join(dir, "gatehouse.log"), false, path, args...)
	if err != nil {
		return nil, err
	}
	g := &gatehouse{
		proc:    proc,
		url:     fmt.Sprintf("http://127.0.0.1:%d", port),
		control: fmt.Sprintf("http://127.0.0.1:%d", ctl),
		secret:  cfg.Secret,
		client:  &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		apps:    apps,
	}
	// gatehouse builds its first snapshot, every API loaded, before it opens its listeners:
	// once the proxy port accepts a connection, it serves.
	if g.listening, err = waitListening(ctx, proc, fmt.Sprintf("127.0.0.1:%d", port), t0); err != nil {
		return nil, err
	}
	err = waitHTTP(ctx, proc, 3*time.Minute, func() error {
		code, body, err := g.admin(ctx, http.MethodGet, "/hello", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/hello: %d %s", code, body)
		}
		var h struct{ Status string }
		if json.Unmarshal(body, &h) != nil || h.Status != "pass" {
			// Something failed to load; no point waiting.
			return fmt.Errorf("%w: /hello: %s", errNotHealthy, body)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// waitListening waits, polling every 5 ms, until addr accepts a TCP connection, and returns the
// time since t0.
func waitListening(ctx context.Context, c *child, addr string, t0 time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s not listening on %s: %v: %s", c.name, addr, err, c.tail())
		case <-c.done:
			return 0, fmt.Errorf("%s exited (%v): %s", c.name, c.err, c.tail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// errNotHealthy is a /hello that answers but reports a problem: waiting will not fix it.
var errNotHealthy = errors.New("gatehouse is not healthy")

// admin calls the Gateway API.
func (g *gatehouse) admin(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.control+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Tyk-Authorization", g.secret)
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// putKeys stores keys through POST /tyk/keys/{key}, with several clients at once.
func (g *gatehouse) putKeys(ctx context.Context, keys []string, s *apidef.SessionState, workers int) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(keys)) || ctx.Err() != nil {
					return
				}
				code, reply, err := g.admin(ctx, http.MethodPost, "/tyk/keys/"+keys[i], body)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("POST /tyk/keys/{key}: %d %s", code, reply)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(len(keys))) // stop everyone
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(firstErr, ctx.Err())
}

// reloadStats counts the reloads made during a run, and how long each took (the round trip of
// GET /tyk/reload?block=true).
type reloadStats struct {
	Reloads int64 `json:"reloads"`
	Failed  int64 `json:"failed"`
	// PerSecond is Reloads over the time the runs lasted; P50Ms and MaxMs are the median and
	// the longest reload.
	PerSecond float64 `json:"per_second"`
	P50Ms     float64 `json:"p50_ms"`
	MaxMs     float64 `json:"max_ms"`
	// ChangedOne: before each reload one API's file (not the one under load) was rewritten.
	ChangedOne bool `json:"changed_one,omitempty"`

	took []time.Duration
	wall time.Duration
}

// add counts o's reloads in st.
func (st *reloadStats) add(o *reloadStats) {
	st.Reloads += o.Reloads
	st.Failed += o.Failed
	st.ChangedOne = st.ChangedOne || o.ChangedOne
	st.took = append(st.took, o.took...)
	st.wall += o.wall
	st.summarise()
}

// summarise sets the rate and the times from what was counted.
func (st *reloadStats) summarise() {
	if st.wall > 0 {
		st.PerSecond = round3(float64(st.Reloads) / st.wall.Seconds())
	}
	if len(st.took) == 0 {
		return
	}
	took := slices.Clone(st.took)
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return round3(float64(d.Microseconds()) / 1000) }
	st.P50Ms, st.MaxMs = ms(took[len(took)/2]), ms(took[len(took)-1])
}

// hammerReloads calls GET /tyk/reload?block=true back to back until ctx ends. With changeOne,
// the file of the API changeOne names is rewritten before each reload, alternately with and
// without a trailing newline, so that every reload decodes and compiles one changed definition.
func (g *gatehouse) hammerReloads(ctx context.Context, changeOne string) reloadStats {
	st := reloadStats{ChangedOne: changeOne != ""}
	var file string
	var orig []byte
	if changeOne != "" {
		file = filepath.Join(g.apps, changeOne+".json")
		var err error
		if orig, err = os.ReadFile(file); err != nil {
			st.Failed++
			return st
		}
		defer os.WriteFile(file, orig, 0o644)
	}
	t0 := time.Now()
	for ctx.Err() == nil {
		if file != "" {
			data := orig
			if st.Reloads%2 == 0 {
				data = append(slices.Clip(orig), '\n')
			}
			if err := os.WriteFile(file, data, 0o644); err != nil {
				st.Failed++
				break
			}
		}
		start := time.Now()
		code, _, err := g.admin(ctx, http.MethodGet, "/tyk/reload?block=true", nil)
		if ctx.Err() != nil {
			break // cut short by the end of the run, not a failure
		}
		st.Reloads++
		st.took = append(st.took, time.Since(start))
		if err != nil || code/100 != 2 {
			st.Failed++
		}
	}
	st.wall = time.Since(t0)
	st.summarise()
	return st
}

// check sends one request through the proxy and returns its status and headers.
func check(ctx context.Context, client *http.Client, url, header string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if err := setHeader(req.Header, header); err != nil {
		return 0, nil, err
	}
	return send(client, req)
}

// setHeader sets header, a scenario's "Name: value" or "" for none, in h.
func setHeader(h http.Header, header string) error {
	if header == "" {
		return nil
	}
	name, value, ok := strings.Cut(header, ":")
	if !ok {
		return fmt.Errorf("header %q is not Name: value", header)
	}
	h.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// send sends req, reads its answer's body to the end and returns the status and headers.
func send(client *http.Client, req *http.Request) (int, http.Header, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, nil
}

// postJSON POSTs body as JSON to url and returns the status and headers of the answer.
func postJSON(ctx context.Context, client *http.Client, url, body string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return send(client, req)
}
