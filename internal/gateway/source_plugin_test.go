package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

const sourcePlugin = `package main

import "net/http"

func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Plugin-Version", "one") }

func main() {}
`

// TestSourcePlugin names a folder of Go source as a hook's path: the gateway compiles it when the
// API loads, and after an edit a reload serves the new code. A folder that does not compile fails
// its API closed with the compiler's error.
func TestSourcePlugin(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	up := gt.NewUpstream(t)
	var mw string
	def := gt.API("src", "/src/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("myplugin", "Version")}
	broken := gt.API("broken", "/broken/", up.URL)
	// A folder name the compiler cannot use as a file name is made one ("broken-plugin").
	broken.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("broken plugin", "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, broken}, Config: func(c *config.Config) {
		mw = c.MiddlewarePath
		for dir, src := range map[string]string{"myplugin": sourcePlugin, "broken plugin": "package main\n\nfunc main() { undefined() }\n"} {
			writeSourcePlugin(t, filepath.Join(mw, dir), src)
		}
		// A file where the build of myplugin goes, left by an earlier run, that does not load:
		// it is built again, never used.
		if file, err := plannedBuild(mw, "myplugin"); err == nil {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte("not a plugin"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}})
	if gw.Settings["-trimpath"] != "true" {
		// Plugins built by the compiler load only into a binary built with -trimpath.
		gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/src/x"}))
		gt.Check(t, gt.Case{BodyMatch: "built without -trimpath"}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
		t.Skip("the test binary was built without -trimpath (checked: the API fails closed saying so); run with -trimpath to check source plugins")
	}
	g.Run(t,
		gt.Case{Name: "compiled from source", Path: "/src/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "one"}},
		gt.Case{Name: "a folder that does not compile fails closed", Path: "/broken/x", Code: 500},
		gt.Case{Name: "the compiler's error is reported", Admin: true, Path: "/hello", BodyMatch: `undefined: undefined`},
	)
	first, err := plannedBuild(mw, "myplugin")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(sourcePlugin, `"one"`, `"two"`, 1)
	if err := os.WriteFile(filepath.Join(mw, "myplugin", "main.go"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	g.ReloadAndWait()
	g.Run(t, gt.Case{Name: "edited and reloaded", Path: "/src/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "two"}})
	// The first build is removed once the second is made: builds do not pile up, one per edit.
	second, err := plannedBuild(mw, "myplugin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(first)); !os.IsNotExist(err) {
		t.Errorf("the build of the first version is kept after the second was built (%v)", err)
	}
	if _, err := os.Stat(second); err != nil {
		t.Errorf("the build being served: %v", err)
	}
	// Unchanged, it is not built again.
	g.ReloadAndWait()
	if n := strings.Count(g.Logs(), `msg="plugin built from source" source=`+filepath.Join(mw, "myplugin")); n != 2 {
		t.Errorf("the source was built %d times, want 2 (once per version)", n)
	}
	if !strings.Contains(g.Logs(), "a kept plugin build does not load into this gateway; building it again") {
		t.Error("the unusable kept build was not reported")
	}
}

// TestSourcePluginRetriesFailedBuild fails a source build for a cause outside the source (no C
// compiler). An unchanged folder is built again at most once a minute, and /hello says when; a
// changed one at once. Once the cause is gone, the next try builds it.
func TestSourcePluginRetriesFailedBuild(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the test binary was built without -trimpath: the compiler refuses it (see TestSourcePlugin)")
	}
	clock := storagetest.NewManualClock(time.Now())
	up := gt.NewUpstream(t)
	def := gt.API("retry", "/retry/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("retryplugin", "Version")}
	t.Setenv("CC", filepath.Join(t.TempDir(), "no-such-cc"))
	var src string
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		src = filepath.Join(c.MiddlewarePath, "retryplugin")
		writeSourcePlugin(t, src, strings.Replace(sourcePlugin, `"one"`, `"retried"`, 1))
	}})
	builds := func() int { return strings.Count(g.Logs(), `msg="building plugin from source`) }
	g.Run(t,
		gt.Case{Name: "the build fails", Path: "/retry/x", Code: 500},
		gt.Case{Name: "for want of a C compiler", Admin: true, Path: "/hello", BodyMatch: `no-such-cc`},
		gt.Case{Name: "and says when it is tried again", Admin: true, Path: "/hello", BodyMatch: `the folder is built again when it changes, or at `},
	)
	t.Setenv("CC", "")
	g.ReloadAndWait()
	if n := builds(); n != 1 {
		t.Errorf("an unchanged failing folder was built %d times within a minute, want 1", n)
	}
	gt.Check(t, gt.Case{Code: 500}, g.Do(gt.Case{Path: "/retry/x"}))
	clock.Advance(time.Minute)
	g.ReloadAndWait()
	g.Run(t, gt.Case{Name: "a minute later it is built", Path: "/retry/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "retried"}})

	// A changed folder that fails is built again at once when it changes again.
	writeSourcePlugin(t, src, "package main\n\nfunc main() { undefined() }\n")
	g.ReloadAndWait()
	writeSourcePlugin(t, src, "package main\n\nfunc main() { alsoUndefined() }\n")
	g.ReloadAndWait()
	gt.Check(t, gt.Case{BodyMatch: `undefined: alsoUndefined`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
	if n := builds(); n != 4 {
		t.Errorf("%d builds, want 4: a changed folder is built at once", n)
	}
}

func writeSourcePlugin(t *testing.T, dir, src string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// plannedBuild returns where the gateway builds the source folder name of middleware_path.
func plannedBuild(mw, name string) (string, error) {
	fp, err := compiler.Fingerprint()
	if err != nil {
		return "", err
	}
	file, _, err := compiler.Plan(compiler.Options{SrcDir: filepath.Join(mw, name), OutDir: filepath.Join(mw, ".plugin-builds", fp),
		PerBuildDir: true, Name: name, Version: version.Version})
	return file, err
}

// gatedCC writes a C compiler that waits for the gate file to exist before running gcc, so that
// a test holds a plugin build for as long as it wants, and returns the gate.
func gatedCC(t *testing.T) (cc, gate string) {
	t.Helper()
	dir := t.TempDir()
	gate = filepath.Join(dir, "open")
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is needed to build plugins")
	}
	cc = filepath.Join(dir, "gated-cc")
	script := "#!/bin/sh\nwhile [ ! -e '" + gate + "' ]; do sleep 0.05; done\nexec '" + gcc + "' \"$@\"\n"
	if err := os.WriteFile(cc, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cc, gate
}

// TestSourceBuildAside holds a source plugin's build: reloads never wait for it, an API added
// meanwhile serves at once, the building API answers 503 saying why, the folder is built once
// however many reloads ask for it, and a blocking reload returns only when the plugin serves
// (or, with a short timeout, says what is still pending).
func TestSourceBuildAside(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the test binary was built without -trimpath: the compiler refuses it (see TestSourcePlugin)")
	}
	cc, gate := gatedCC(t)
	t.Setenv("CC", cc)
	up := gt.NewUpstream(t)
	var mw string
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("quick", "/quick/", up.URL)}, Config: func(c *config.Config) {
		mw = c.MiddlewarePath
	}})
	slow := gt.API("slow", "/slow/", up.URL)
	slow.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("slowplugin", "Version")}
	writeSourcePlugin(t, filepath.Join(mw, "slowplugin"), strings.Replace(sourcePlugin, `"one"`, `"slow"`, 1))
	g.WriteAPI(slow)

	start := time.Now()
	g.Reload()
	g.Run(t,
		gt.Case{Name: "the building API answers 503", Path: "/slow/x", Code: 503, BodyMatch: "its plugin is being built"},
		gt.Case{Name: "/hello says so", Admin: true, Path: "/hello", BodyMatch: `slowplugin is being built; the API answers 503 until it is available`},
	)
	g.WriteAPI(gt.API("added", "/added/", up.URL))
	g.Reload()
	g.Run(t, gt.Case{Name: "an API added during the build serves at once", Path: "/added/x", Code: 200})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("two reloads took %v with a build held: they waited for it", d)
	}

	// A blocking reload with a short timeout says what it could not wait for.
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=0.5"})
	gt.Check(t, gt.Case{Code: 202, BodyMatch: `"status": "pending"(?s:.*)slowplugin is being built`}, r)
	gt.Check(t, gt.Case{Code: 400, BodyMatch: "timeout"}, g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=-1"}))

	// Let the build go: a blocking reload returns once the plugin serves.
	blocked := make(chan blockingReply, 1)
	go func() { blocked <- blockingReload(g, 300) }()
	time.Sleep(200 * time.Millisecond)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	reply := <-blocked
	if reply.err != nil {
		t.Fatal(reply.err)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"status": "ok"`}, reply.r)
	g.Run(t, gt.Case{Name: "right after the blocking reload the plugin serves", Path: "/slow/x", Code: 200,
		HeadersMatch: map[string]string{"X-Plugin-Version": "slow"}})
	if n := strings.Count(g.Logs(), `msg="building plugin from source`); n != 1 {
		t.Errorf("the folder was built %d times, want once however many reloads asked", n)
	}

	// An edit of the plugin alone: its previous version serves while the edit builds.
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	writeSourcePlugin(t, filepath.Join(mw, "slowplugin"), strings.Replace(sourcePlugin, `"one"`, `"slow-two"`, 1))
	g.Reload()
	g.Run(t, gt.Case{Name: "the previous version serves while an edit builds", Path: "/slow/x", Code: 200,
		HeadersMatch: map[string]string{"X-Plugin-Version": "slow"}})
	// The definition changed besides its plugin (keyless to keyed) while it builds: the previous
	// version is the previous definition, and never serves as it was; the API answers 503 until
	// the build ends, then asks for a key.
	g.WriteAPI(gt.Keyed(slow))
	g.Reload()
	g.Run(t, gt.Case{Name: "a definition changed besides its plugin answers 503 while it builds", Path: "/slow/x", Code: 503, BodyMatch: "its plugin is being built"})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if reply := blockingReload(g, 300); reply.err != nil {
		t.Fatal(reply.err)
	}
	g.Run(t, gt.Case{Name: "once built, the new definition asks for a key", Path: "/slow/x", Code: 401})
}

type blockingReply struct {
	r   gt.Response
	err error
}

// blockingReload calls GET /tyk/reload?block=true with a timeout of secs, with a client that
// waits as long (the test client gives up after 30 s), from any goroutine.
func blockingReload(g *gt.Gateway, secs int) blockingReply {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/tyk/reload?block=true&timeout=%d", g.URL, secs), nil)
	if err != nil {
		return blockingReply{err: err}
	}
	req.Header.Set("X-Tyk-Authorization", gt.Secret)
	client := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return blockingReply{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return blockingReply{r: gt.Response{Code: resp.StatusCode, Header: resp.Header, Body: string(body)}, err: err}
}

// TestSourcePluginReplacedFolder: a source plugin whose go.mod replaces a module with a local
// folder (replace example.com/lib => /abs/lib) is built again when that folder changes, not
// only when its own folder does: the build id covers what the build reads of replaced folders,
// so a reload (and a restart) builds the edit. Go loads one copy of a package per process: an
// edit that keeps what other packages see of lib serves at once; one that changes it (an
// exported function added) cannot load beside the copy loaded, and the previous version keeps
// serving, with /hello saying why and that a restart loads it. A replaced folder that goes away
// is named as go.mod names it.
func TestSourcePluginReplacedFolder(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the test binary was built without -trimpath: the compiler refuses it (see TestSourcePlugin)")
	}
	dir := t.TempDir()
	// The module path is new to each run of the test (-count): Go loads a package once per process.
	mod := fmt.Sprintf("example.com/lib%d", plugintest.Run(t))
	plug, lib := filepath.Join(dir, "replplug"), filepath.Join(dir, "lib")
	libSource := func(v, more string) string {
		return "package lib\n\n//go:noinline\nfunc Version() string { return \"" + v + "\" }\n" + more
	}
	for name, body := range map[string]string{
		"replplug/go.mod": "module example.com/replplug\n\ngo 1.26\n\nrequire " + mod + " v0.0.0\n\nreplace " + mod + " => " + lib + "\n",
		"replplug/main.go": `package main

import (
	"net/http"

	"` + mod + `"
)

func Version(rw http.ResponseWriter, r *http.Request) { rw.Header().Set("X-Plugin-Version", lib.Version()) }

func main() {}
`,
		"lib/go.mod": "module " + mod + "\n\ngo 1.26\n",
		"lib/lib.go": libSource("lib-one", ""),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	editLib := func(src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(lib, "lib.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	version := func(name, want string) gt.Case {
		return gt.Case{Name: name, Path: "/repl/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": want}}
	}
	up := gt.NewUpstream(t)
	def := gt.API("repl", "/repl/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Post: hooks(plug, "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	g.Run(t, version("built with the replaced folder", "lib-one"))

	editLib(libSource("lib-two", ""))
	g.ReloadAndWait()
	g.Run(t, version("an edit of the replaced folder serves after a reload", "lib-two"))
	if n := strings.Count(g.Logs(), `msg="plugin built from source" source=`+plug); n != 2 {
		t.Errorf("the source was built %d times, want 2 (once per version of lib)", n)
	}

	editLib(libSource("lib-three", "\nfunc Extra() {}\n"))
	g.ReloadAndWait()
	g.Run(t,
		version("an edit changing lib's exported API keeps the previous version serving", "lib-two"),
		gt.Case{Name: "and says why", Admin: true, Path: "/hello", BodyMatch: `contains package ` + mod + ` compiled differently(?s:.*)restarting the gateway loads this build(?s:.*)the previous version of the API keeps serving`},
	)
	if strings.Contains(g.Logs(), "plugin was built with a different version of package") {
		t.Error("Go opened the file and refused it: the loader must refuse it first")
	}

	if err := os.RemoveAll(lib); err != nil {
		t.Fatal(err)
	}
	g.ReloadAndWait()
	gt.Check(t, gt.Case{BodyMatch: "replaces " + mod + " with " + lib + ", a folder that does not exist"}, g.Do(gt.Case{Admin: true, Path: "/hello"}))
}

// slowInitPlugin builds a plugin whose init takes 3 s, of a module path of its own (name): Go
// runs a plugin's init once per process.
func slowInitPlugin(t *testing.T, name string) string {
	return plugintest.BuildModule(t, hotDir, fmt.Sprintf("example.com/hot/%s%d", name, plugintest.Run(t)), map[string]string{
		`import "net/http"`: "import (\n\t\"net/http\"\n\t\"time\"\n)",
		`func main() {}`:    "func init() { time.Sleep(3 * time.Second) }\n\nfunc main() {}",
	})
}

// TestBlockingReloadOutlastedBySlowInit: a plugin whose init takes seconds, within the reload's
// budget for opening plugins, holds the reload that opens it. A blocking reload whose timeout
// ends first answers 202 naming the reload itself as pending (it answered 200 "ok" while the
// new configuration did not serve yet); once the reload ends, the API serves.
func TestBlockingReloadOutlastedBySlowInit(t *testing.T) {
	so := slowInitPlugin(t, "slowinit")
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	g.GW.SetOpenBudget(time.Minute)
	def := gt.API("slowinit", "/slowinit/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Version")}
	g.WriteAPI(def)
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=1"})
	gt.Check(t, gt.Case{Code: 202, BodyMatch: `"status": "pending"(?s:.*)the reload itself: it has run for`}, r)
	g.ReloadAndWait()
	g.Run(t, gt.Case{Name: "once the reload ended, the API serves", Path: "/slowinit/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}})
}

// TestSlowInitBesideTheReload: a plugin whose init outlasts the reload's budget is opened beside
// the reload. Its init waits for a gate the test opens: the reload ends without it (and so does
// a second one), an API added in the same reload serves at once, the plugin's API answers 503
// saying its plugin is being loaded (it had no previous version), and when the init returns the
// gateway reloads by itself and the plugin serves.
func TestSlowInitBesideTheReload(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "open")
	slow := plugintest.BuildModule(t, hotDir, fmt.Sprintf("example.com/hot/gatedinit%d", plugintest.Run(t)), map[string]string{
		`import "net/http"`: "import (\n\t\"net/http\"\n\t\"os\"\n\t\"time\"\n)",
		`func main() {}`:    "func init() {\n\tfor {\n\t\tif _, err := os.Stat(" + strconv.Quote(gate) + "); err == nil {\n\t\t\treturn\n\t\t}\n\t\ttime.Sleep(20 * time.Millisecond)\n\t}\n}\n\nfunc main() {}",
	})
	openGate := func() {
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	up := gt.NewUpstream(t)
	// An API whose plugin was opened before the slow one: it reloads as usual meanwhile, a policy
	// change included (its plugin is answered without waiting for the other's init).
	// zloaded, compiled after the slow one (APIs compile in the order of their ids), too: the
	// budget the slow init spent does not make it pending.
	loaded := gt.API("loaded", "/loaded/", up.URL)
	loaded.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(plugintest.Build(t, hotDir), "Version")}
	zloaded := gt.API("zloaded", "/zloaded/", up.URL)
	zloaded.CustomMiddleware = loaded.CustomMiddleware
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{loaded, zloaded}, Policies: `{"p": {"rate": 10, "per": 1, "access_rights": {"loaded": {"api_id": "loaded"}}}}`})
	g.GW.SetOpenBudget(200 * time.Millisecond)
	def := gt.API("slowinit", "/slowinit/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(slow, "Version")}
	g.WriteAPI(def)
	g.WriteAPI(gt.API("quick", "/quick/", up.URL))
	reloadUnheld := func(what string) {
		t.Helper()
		// On failure the gate opens first, so that the held reload ends for the cleanup.
		t.Cleanup(openGate)
		testkit.Within(t, 30*time.Second, what+" (it must not wait for the plugin's init)", func() struct{} { g.Reload(); return struct{}{} })
	}
	reloadUnheld("the reload")
	g.Run(t,
		gt.Case{Name: "an API added in the same reload serves at once", Path: "/quick/x", Code: 200},
		gt.Case{Name: "the plugin's API answers 503 meanwhile", Path: "/slowinit/x", Code: 503, BodyMatch: "its plugin is being loaded"},
		gt.Case{Name: "an API after it whose plugin was opened before serves", Path: "/zloaded/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}},
		gt.Case{Name: "/hello says why", Admin: true, Path: "/hello", BodyMatch: `is being loaded \(its init functions, or those of a plugin opened before it, have not returned yet\); the API answers 503 until it is available`},
	)
	g.WriteAPI(gt.API("later", "/later/", up.URL))
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(`{"p": {"rate": 20, "per": 1, "access_rights": {"loaded": {"api_id": "loaded"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	reloadUnheld("a later reload")
	g.Run(t,
		gt.Case{Name: "a later reload is not held either", Path: "/later/x", Code: 200},
		gt.Case{Name: "an API whose plugin was opened before serves on, compiled again", Path: "/loaded/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}},
		gt.Case{Name: "and one compiled after the slow one", Path: "/zloaded/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}},
	)
	openGate()
	deadline := time.Now().Add(30 * time.Second)
	for g.Do(gt.Case{Path: "/slowinit/x"}).Code != 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	g.Run(t, gt.Case{Name: "once its init returned, the gateway reloaded by itself", Path: "/slowinit/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "v1"}})
}
