package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
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
	broken.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("brokenplugin", "Version")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, broken}, Config: func(c *config.Config) {
		mw = c.MiddlewarePath
		for dir, src := range map[string]string{"myplugin": sourcePlugin, "brokenplugin": "package main\n\nfunc main() { undefined() }\n"} {
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
		gt.Check(t, gt.Case{BodyMatch: "built without -trimpath"}, g.Do(gt.Case{Path: "/hello"}))
		t.Skip("the test binary was built without -trimpath (checked: the API fails closed saying so); run with -trimpath to check source plugins")
	}
	g.Run(t,
		gt.Case{Name: "compiled from source", Path: "/src/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "one"}},
		gt.Case{Name: "a folder that does not compile fails closed", Path: "/broken/x", Code: 500},
		gt.Case{Name: "the compiler's error is reported", Path: "/hello", BodyMatch: `undefined: undefined`},
	)
	edited := strings.Replace(sourcePlugin, `"one"`, `"two"`, 1)
	if err := os.WriteFile(filepath.Join(mw, "myplugin", "main.go"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Run(t, gt.Case{Name: "edited and reloaded", Path: "/src/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "two"}})
	// Unchanged, it is not built again.
	g.Reload()
	if n := strings.Count(g.Logs(), `msg="plugin built from source" source=`+filepath.Join(mw, "myplugin")); n != 2 {
		t.Errorf("the source was built %d times, want 2 (once per version)", n)
	}
	if !strings.Contains(g.Logs(), "a kept plugin build does not load into this gateway; building it again") {
		t.Error("the unusable kept build was not reported")
	}
}

// TestSourcePluginRetriesFailedBuild fails a source build for a cause outside the source (no C
// compiler): once the cause is gone, the next reload builds it.
func TestSourcePluginRetriesFailedBuild(t *testing.T) {
	gw, err := compiler.Running()
	if err != nil {
		t.Fatal(err)
	}
	if gw.Settings["-trimpath"] != "true" {
		t.Skip("the test binary was built without -trimpath: the compiler refuses it (see TestSourcePlugin)")
	}
	up := gt.NewUpstream(t)
	def := gt.API("retry", "/retry/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks("retryplugin", "Version")}
	t.Setenv("CC", filepath.Join(t.TempDir(), "no-such-cc"))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		writeSourcePlugin(t, filepath.Join(c.MiddlewarePath, "retryplugin"), strings.Replace(sourcePlugin, `"one"`, `"retried"`, 1))
	}})
	g.Run(t,
		gt.Case{Name: "the build fails", Path: "/retry/x", Code: 500},
		gt.Case{Name: "for want of a C compiler", Path: "/hello", BodyMatch: `no-such-cc`},
	)
	t.Setenv("CC", "")
	g.Reload()
	g.Run(t, gt.Case{Name: "the next reload builds it", Path: "/retry/x", Code: 200, HeadersMatch: map[string]string{"X-Plugin-Version": "retried"}})
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
