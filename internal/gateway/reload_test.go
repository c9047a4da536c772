package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// TestReloadUnderLoad sends requests without pause through many reloads that add, change and
// remove APIs: not one may fail.
func TestReloadUnderLoad(t *testing.T) {
	up1, up2 := gt.NewUpstream(t), gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("steady", "/steady/", up1.URL)}})

	ctx, cancel := context.WithCancel(context.Background())
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := g.Client.Get(g.URL + "/steady/x")
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}()
	}
	const reloads = 30
	for i := 0; i < reloads; i++ {
		target := up1.URL
		if i%2 == 1 {
			target = up2.URL
		}
		g.WriteAPI(gt.API("steady", "/steady/", target))
		if i%3 == 0 {
			g.WriteAPI(gt.API(fmt.Sprintf("extra%d", i), fmt.Sprintf("/extra%d/", i), up1.URL))
		} else {
			os.Remove(filepath.Join(g.AppPath, fmt.Sprintf("extra%d.json", i-1)))
		}
		g.Reload()
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during %d reloads; first: %v", failed.Load(), sent.Load(), reloads, firstErr.Load())
	}
	if sent.Load() < 100 {
		t.Fatalf("only %d requests were sent; the test proves nothing", sent.Load())
	}
	if len(up1.Requests()) == 0 || len(up2.Requests()) == 0 {
		t.Errorf("reloads did not switch upstreams: %d and %d requests", len(up1.Requests()), len(up2.Requests()))
	}
	t.Logf("%d requests, %d reloads, 0 failures", sent.Load(), reloads)
}

// TestInFlightRequestsFinishOnTheOldSnapshot holds a request at the upstream while the API is
// pointed elsewhere: it completes from where it started, and new requests go to the new target.
func TestInFlightRequestsFinishOnTheOldSnapshot(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte("old"))
	}))
	t.Cleanup(old.Close)
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("new")) }))
	t.Cleanup(next.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", old.URL)}})

	done := make(chan gt.Response, 1)
	go func() { done <- g.Do(gt.Case{Path: "/a/slow"}) }()
	<-arrived
	g.WriteAPI(gt.API("a", "/a/", next.URL))
	g.Reload()
	gt.Check(t, gt.Case{Code: 200, BodyEquals: "new"}, g.Do(gt.Case{Path: "/a/x"}))
	close(release)
	gt.Check(t, gt.Case{Code: 200, BodyEquals: "old"}, <-done)
}

func TestBrokenDefinitionsAreSkippedAndReported(t *testing.T) {
	up := gt.NewUpstream(t)
	unsupported := gt.API("oidc", "/oidc/", up.URL)
	unsupported.UseKeylessAccess = false
	unsupported.UseOpenID = true
	// Two files with one api_id: neither serves.
	twice := gt.API("twice", "/twice/", up.URL)
	dup := gt.API("twice", "/other/", up.URL)
	// "clash" sorts before "good", but "good" was serving first: it keeps its listen path.
	clash := gt.API("clash", "/good", up.URL)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("good", "/good/", up.URL)}})
	g.WriteAPI(unsupported)
	g.WriteAPI(clash)
	g.WriteAPI(twice)
	g.WriteFile("zz-dup.json", mustJSON(t, dup))
	g.WriteFile("broken.json", []byte(`{"api_id": "broken", "proxy": {"listen_path": "/broken/",}}`))
	g.WriteFile("invalid.json", []byte(`{"api_id": "invalid", "proxy": {"listen_path": "no-slash", "target_url": "http://x"}}`))
	g.Reload()

	g.Run(t,
		gt.Case{Name: "good API serves", Path: "/good/x", Code: 200},
		gt.Case{Name: "unsupported auth is never served without it", Path: "/oidc/x", Code: 404},
		gt.Case{Name: "a repeated api_id serves neither", Path: "/twice/x", Code: 404},
		gt.Case{Name: "nor the other", Path: "/other/x", Code: 404},
		gt.Case{Name: "health names each problem", Admin: true, Path: "/hello", Code: 200, BodyMatch: `"status": "warn"`},
	)
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	for _, want := range []string{
		`"api:oidc"`, `OpenID Connect (use_openid)`,
		`"file:broken.json"`, `invalid JSON at line 1`,
		`"api:invalid"`, `listen_path`,
		`"api:twice"`, `zz-dup.json: api_id defined by more than one file: twice.json and zz-dup.json define api_id \"twice\"; none of them is served`,
		`"api:clash"`, `is already served by API \"good\"`,
	} {
		if !contains(h, want) {
			t.Errorf("/hello does not mention %s:\n%s", want, h)
		}
	}
	if n := countLines(g.Logs(), "API definition not loaded"); n != 6 {
		t.Errorf("logged %d load problems, want 6 (one per definition)", n)
	}
	g.Reload()
	if n := countLines(g.Logs(), "API definition not loaded"); n != 6 {
		t.Errorf("after a second reload, %d load problems logged; each must be logged once", n)
	}
}

// TestFailedReloadKeepsServing breaks the policies file: the reload fails, the old snapshot keeps
// serving, and /hello says so until a reload succeeds.
func TestFailedReloadKeepsServing(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{Policies: `{}`, APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}})
	pf := g.Config.Policies.PolicyRecordName
	if err := os.WriteFile(pf, []byte(`{not json`), 0o644); err != nil {
		t.Fatal(err)
	}
	g.WriteAPI(gt.API("b", "/b/", up.URL))
	if err := g.GW.Reload(context.Background(), true); err == nil {
		t.Fatal("reload with a broken policies file succeeded")
	}
	g.Run(t,
		gt.Case{Name: "old snapshot serves", Path: "/a/x", Code: 200},
		gt.Case{Name: "new API not served", Path: "/b/x", Code: 404},
		gt.Case{Name: "health reports the failed reload", Admin: true, Path: "/hello", BodyMatch: `"reload"(?s:.*)the last reload failed`},
	)
	os.WriteFile(pf, []byte(`{}`), 0o644)
	g.Reload()
	g.Run(t,
		gt.Case{Name: "new API after a good reload", Path: "/b/x", Code: 200},
		gt.Case{Name: "health is clear again", Admin: true, Path: "/hello", BodyMatch: `"status": "pass"`},
	)
}

// TestReloadsCoalesce checks the reloader's promise: every reload request is served by a rebuild
// that starts after it (so the caller sees every change it made before asking), and requests that
// come together share rebuilds.
//
// Each caller writes a definition of its own, asks for a reload and, once the reload returns,
// must find that definition serving: a rebuild that started before the caller asked would not
// have read it. Rebuilds are counted through a test hook around the rebuild function.
func TestReloadsCoalesce(t *testing.T) {
	// served checks that API id, written before its caller asked for the reload that has just
	// returned, serves: the echo upstream answers for it, with the listen path stripped.
	served := func(g *gt.Gateway, id string) error {
		r := g.Do(gt.Case{Path: "/" + id + "/" + id})
		var seen echo.Request
		if r.Code != http.StatusOK || json.Unmarshal([]byte(r.Body), &seen) != nil || seen.Path != "/"+id {
			return fmt.Errorf("API %s, written before the reload, does not serve after it: status %d, body %.200s",
				id, r.Code, strings.Join(strings.Fields(r.Body), " "))
		}
		return nil
	}

	// A burst: callers that ask at the same time share rebuilds, and each finds its change.
	t.Run("burst", func(t *testing.T) {
		up := gt.NewUpstream(t)
		g := gt.Start(t, gt.Options{})
		var rebuilds atomic.Int64
		g.GW.WrapRebuild(func(rebuild func() error) func() error {
			return func() error { rebuilds.Add(1); return rebuild() }
		})
		const callers = 50
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			id := fmt.Sprintf("burst%d", i)
			g.WriteAPI(gt.API(id, "/"+id+"/", up.URL))
			wg.Go(func() {
				<-start
				if err := g.GW.Reload(context.Background(), true); err != nil {
					t.Errorf("caller %d: reload: %v", i, err)
					return
				}
				if err := served(g, id); err != nil {
					t.Errorf("caller %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := rebuilds.Load(); n < 1 || n >= callers {
			t.Errorf("%d rebuilds for %d concurrent reload requests; they must coalesce", n, callers)
		}
		t.Logf("%d callers, %d rebuilds", callers, rebuilds.Load())
	})

	// Callers that ask while a rebuild is running are not served by it, since it may have read
	// the definitions before they wrote theirs: they all share the next one. The first rebuild is
	// held, after it has read everything, until all the later callers wait.
	t.Run("asked during a rebuild", func(t *testing.T) {
		up := gt.NewUpstream(t)
		g := gt.Start(t, gt.Options{})
		var rebuilds atomic.Int64
		built, release := make(chan struct{}), make(chan struct{})
		g.GW.WrapRebuild(func(rebuild func() error) func() error {
			return func() error {
				err := rebuild()
				if rebuilds.Add(1) == 1 {
					close(built)
					<-release
				}
				return err
			}
		})
		// The callers report to errs rather than to t, so that none can outlive the test
		// through t if it ends early.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []string
		caller := func(i int) {
			id := fmt.Sprintf("late%d", i)
			g.WriteAPI(gt.API(id, "/"+id+"/", up.URL))
			wg.Go(func() {
				err := g.GW.Reload(context.Background(), true)
				if err == nil {
					err = served(g, id)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("caller %d: %v", i, err))
					mu.Unlock()
				}
			})
		}
		caller(0)
		select {
		case <-built:
		case <-time.After(time.Minute):
			close(release)
			t.Fatal("the first reload request started no rebuild within a minute")
		}
		const later = 10
		for i := 1; i <= later; i++ {
			caller(i)
		}
		// No timing here: wait, as long as it takes, until every later request is queued
		// behind the held rebuild, then let that rebuild finish.
		deadline := time.Now().Add(time.Minute)
		for g.GW.PendingReloads() < later && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		pending := g.GW.PendingReloads()
		close(release)
		wg.Wait()
		for _, e := range errs {
			t.Error(e)
		}
		if pending != later {
			t.Fatalf("%d reload requests were queued behind the running rebuild, want %d", pending, later)
		}
		// One rebuild for the first caller, one for all the callers that asked during it.
		if n := rebuilds.Load(); n != 2 {
			t.Errorf("%d rebuilds for 1 reload request and %d made during its rebuild, want 2", n, later)
		}
	})
}

// TestReloadKeptBundleLogsIgnoredFields checks that a new definition whose bundle is not
// available (so the previous version keeps serving) still has the fields Gatehouse ignores
// logged: keeping the previous version must not make the new definition look already seen.
func TestReloadKeptBundleLogsIgnoredFields(t *testing.T) {
	key, pub := keyPair(t)
	v1 := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle1", nil)
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", v1, "Version", key))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
	}})
	eventually(t, "v1 serves", func() bool { _, v := versionOf(g, "/app/x"); return v == "v1" })

	srv.down.Store(true)
	def.CustomMiddlewareBundle = "app-v2.zip"
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteFile("app.json", bytes.Replace(raw, []byte("{"), []byte(`{"gatehouse_test_ignored": "x", `), 1))
	g.Reload()
	if !strings.Contains(g.Logs(), "fields=gatehouse_test_ignored") {
		t.Error("the new definition's ignored field was not logged while the previous version kept serving")
	}
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "v1" {
		t.Errorf("status %d version %q, want v1 still serving", code, v)
	}
}
