package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/leakcheck"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// These tests start a gateway, put it through its background work, stop it and check that
// nothing it started still runs. They do not call t.Parallel: a leak check sees the whole
// process (see leakcheck). Servers the gateway talks to are started before the baseline and
// stay up until the check: a connection the gateway forgot to close is then still open, and
// both its ends show.

// stopChecked stops g (with a bound: a stop that hangs is a failure of its own) and checks that
// every goroutine started since base has ended, idle HTTP connections included.
func stopChecked(t *testing.T, g *gt.Gateway, base *leakcheck.Baseline) {
	t.Helper()
	stopped := make(chan struct{})
	go func() { defer close(stopped); g.Stop() }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatalf("the gateway did not stop within a minute; goroutines:\n%s", leakcheck.Report(base.Leaked(), 0))
	}
	base.Verify(t)
}

// TestNoLeakReloadsBundlesShutdown reloads a gateway many times, with requests in flight, while
// it downloads bundles, then stops it in the middle of a reload.
func TestNoLeakReloadsBundlesShutdown(t *testing.T) {
	leakcheck.Check(t)
	first, second := versionPlugin(t, "first"), versionPlugin(t, "second")
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", first, "Version", nil))
	srv.put("app-v2.zip", ourBundle(t, "app-v2.zip", second, "Version", nil))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")

	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, gt.API("plain", "/plain/", up.URL)}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "first" {
		t.Fatalf("after start: status %d version %q, want the first bundle serving", code, v)
	}

	// Reloads, blocking and not, with requests going on.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if r := g.Do(gt.Case{Path: "/plain/x"}); r.Code != 200 {
					t.Errorf("a request during reloads: %d %s", r.Code, r.Body)
					return
				}
			}
		})
	}
	for i := range 20 {
		g.WriteAPI(gt.API(fmt.Sprintf("extra%d", i%3), fmt.Sprintf("/extra%d/", i%3), up.URL))
		if i%2 == 0 {
			g.Reload()
		} else if err := g.GW.Reload(context.Background(), false); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()

	// A bundle downloaded by a reload: its connection to the bundle server is idle now.
	def.CustomMiddlewareBundle = "app-v2.zip"
	g.WriteAPI(def)
	g.ReloadAndWait()
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "second" {
		t.Fatalf("after the blocking reload: status %d version %q, want the second bundle", code, v)
	}
	// And a reload asked for just before the stop.
	if err := g.GW.Reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	stopChecked(t, g, base)
}

// TestNoLeakShutdownDuringDownload stops a gateway while a bundle download is held by the
// server: the download is abandoned, its connection closed.
func TestNoLeakShutdownDuringDownload(t *testing.T) {
	leakcheck.Check(t)
	first := versionPlugin(t, "first")
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", first, "Version", nil))
	up := gt.NewUpstream(t)

	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	release := srv.holdRequests()
	defer release()
	g.WriteAPI(bundleAPI("app", up.URL, "app-v1.zip"))
	g.Reload()
	eventually(t, "the download of app-v1.zip is held", func() bool { return srv.held.Load() == 1 })
	gt.Check(t, gt.Case{Code: http.StatusServiceUnavailable}, g.Do(gt.Case{Path: "/app/x"}))
	stopChecked(t, g, base)
}

// TestNoLeakShutdownDuringSourceBuild stops a gateway while a source plugin is being built (its
// C compiler held): the build is stopped and nothing of it is left running in the gateway.
func TestNoLeakShutdownDuringSourceBuild(t *testing.T) {
	leakcheck.Check(t)
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the test binary was built without -trimpath: the compiler refuses it (see TestSourcePlugin)")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is needed to build plugins")
	}
	// A C compiler that notes its process id, then waits for a gate that never opens.
	dir := t.TempDir()
	gate, pids := filepath.Join(dir, "open"), filepath.Join(dir, "pids")
	cc := filepath.Join(dir, "gated-cc")
	script := "#!/bin/sh\necho $$ >> '" + pids + "'\nwhile [ ! -e '" + gate + "' ]; do sleep 0.05; done\nexec '" + gcc + "' \"$@\"\n"
	if err := os.WriteFile(cc, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// End the compilers the stop left running (see below) before their folder goes.
	t.Cleanup(func() {
		for _, p := range running(pids) {
			_ = p.Kill()
		}
	})
	t.Setenv("CC", cc)
	up := gt.NewUpstream(t)
	def := gt.API("held", "/held/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("heldplugin", "Version")}

	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	g := gt.Start(t, gt.Options{})
	writeSourcePlugin(t, filepath.Join(g.Config.MiddlewarePath, "heldplugin"), sourcePlugin)
	// Not at start, which would wait for the build: a reload starts it aside.
	g.WriteAPI(def)
	g.Reload()
	gt.Check(t, gt.Case{Code: http.StatusServiceUnavailable, BodyMatch: "its plugin is being built"}, g.Do(gt.Case{Path: "/held/x"}))
	// Stop once the go command has reached the C compiler: a build in progress.
	eventually(t, "the build runs the C compiler", func() bool { _, err := os.Stat(pids); return err == nil })
	stopChecked(t, g, base)

	// The go command is killed; what it started is not (its process group is the gateway's).
	// Known, reported on the issue: say so without failing, until the compiler stops the
	// whole build.
	for _, p := range running(pids) {
		t.Logf("known issue: the C compiler (pid %d) the stopped build started is still running", p.Pid)
	}
}

// running returns the processes listed in the file of pids that still run.
func running(pids string) []*os.Process {
	data, _ := os.ReadFile(pids)
	var out []*os.Process
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestNoLeakFleetShutdown stops gateways of a fleet (Redis store, signed notifications) after
// they have exchanged notifications: their Redis clients and subscriptions end.
func TestNoLeakFleetShutdown(t *testing.T) {
	leakcheck.Check(t)
	srv := redistest.Start(t, redistest.Options{})
	up := gt.NewUpstream(t)

	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	a := gt.Start(t, gt.Options{Redis: srv.Addr})
	b := gt.Start(t, gt.Options{Redis: srv.Addr})
	// A definition created through one node serves on the other: a notification went across.
	def := string(mustJSON(t, gt.API("shared", "/shared/", up.URL)))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: def}))
	gt.Check(t, gt.Case{Code: 200}, a.Do(gt.Case{Admin: true, Path: "/tyk/reload/group"}))
	within(t, 30*time.Second, "the shared API on the other node", wantStatus(b, "/shared/x", "", 200))
	key := a.CreateKey(&apidef.SessionState{AccessRights: access("shared")})
	gt.Check(t, gt.Case{Code: 200}, b.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key}))
	b.Stop()
	stopChecked(t, a, base)
}

// TestNoLeakShutdownDuringUptimeCheck stops a gateway while an uptime check waits for its
// answer, after reloads that add and drop checks: the check is ended, its connection closed.
func TestNoLeakShutdownDuringUptimeCheck(t *testing.T) {
	leakcheck.Check(t)
	arrived := make(chan struct{}, 100)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer hang.Close()
	quick := newBackend(t, "quick")

	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	g := gt.Start(t, gt.Options{Config: func(c *config.Config) { c.UptimeTests.Config.TimeWait = 1 }})
	for i := range 5 {
		def := balanced("up", true, quick)
		def.UptimeTests.CheckList[0].URL += "?round=" + strconv.Itoa(i) // a new check each reload
		g.WriteAPI(def)
		g.Reload()
	}
	held := balanced("held", true, quick)
	held.UptimeTests.CheckList = []apidef.HostCheck{{URL: hang.URL + "/health", Timeout: time.Minute}}
	g.WriteAPI(held)
	g.Reload()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the held check did not arrive")
	}
	stopChecked(t, g, base)
}
