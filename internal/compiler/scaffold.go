package compiler

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// PackagesDir is the folder of a plugin made by Scaffold that holds the gateway's public
// packages (and Tyk's, for a Tyk plugin), which its go.mod points to with replace directives.
const PackagesDir = ".gatehouse"

// ScaffoldOptions describe a plugin folder to make or refresh.
type ScaffoldOptions struct {
	// Dir is the folder; it is created when missing.
	Dir string
	// Tyk makes a Tyk-style plugin (Tyk's import paths); a folder made with it keeps Tyk's
	// packages on later runs without it.
	Tyk bool
	// Module is the new plugin's module path; empty means gatehouse.plugin/{folder name}.
	Module string
	// Version is the gateway version, written beside the packages.
	Version string
	// Gateway is the build whose packages are written; nil means the running binary.
	Gateway *Gateway
}

// ScaffoldResult says what Scaffold did.
type ScaffoldResult struct {
	Dir string
	// Refreshed is set when the folder was made before: only the packages and the replace
	// directives were rewritten.
	Refreshed bool
	// Previous is the gateway version the packages came from before a refresh, when known.
	Previous string
	// Tyk is set when the folder has Tyk's packages.
	Tyk bool
	// Wrote lists the files written outside PackagesDir, relative to Dir.
	Wrote []string
	// Changed says what was changed in an existing go.mod.
	Changed []string
}

// scaffoldModules are the modules a plugin folder gets, as {folder in PackagesDir, module path}.
func scaffoldModules(gw *Gateway, tyk bool) [][2]string {
	mods := [][2]string{{"gatehouse", gw.ModulePath}}
	if tyk {
		mods = append(mods, [2]string{"tyk", TykModule}, [2]string{"tyk/log", tykLog}, [2]string{"tyk-pump", PumpModule})
	}
	return mods
}

// Scaffold makes a plugin folder that builds, tests and works in an editor offline: a go.mod
// whose replace directives point the gateway's module (and Tyk's, with Tyk) at the packages
// written out of the binary into PackagesDir, a hook in main.go and its test in main_test.go.
// Run again on a folder it made (one whose go.mod replaces the gateway's module with
// PackagesDir), it rewrites only the packages and its own replace directives, so that the
// folder follows a gateway upgrade. It refuses any other folder that holds files.
func Scaffold(o ScaffoldOptions) (*ScaffoldResult, error) {
	gw := o.Gateway
	if gw == nil {
		var err error
		if gw, err = Running(); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	res := &ScaffoldResult{Dir: dir, Tyk: o.Tyk}
	// A refresh removes and writes under .gatehouse and rewrites go.mod: through a symbolic
	// link (a cloned folder can hold one) that would reach files outside the folder.
	for _, name := range []string{"go.mod", PackagesDir} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link: plugin init writes there, so it refuses a link that could lead outside %s; replace it with a plain file or folder", filepath.Join(dir, name), dir)
		}
	}
	gomodPath := filepath.Join(dir, "go.mod")
	gomod, err := os.ReadFile(gomodPath)
	switch {
	case err == nil:
		f, err := modfile.Parse(gomodPath, gomod, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", gomodPath, err)
		}
		if !madeByScaffold(f, gw) {
			return nil, fmt.Errorf("%s holds a go.mod that `gatehouse plugin init` did not write (it has no `replace %s => ./%s/gatehouse`): "+
				"plugin init makes a new folder or refreshes one it made. Make a new folder with `gatehouse plugin init DIR` and move your code into it, "+
				"or build and test this one as it is with `gatehouse plugin build` and `gatehouse plugin test`", dir, gw.ModulePath, PackagesDir)
		}
		res.Refreshed = true
		res.Tyk = o.Tyk || hasReplace(f, TykModule)
		res.Previous = previousVersion(dir)
	case errors.Is(err, fs.ErrNotExist):
		if err := checkEmpty(dir); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mods := scaffoldModules(gw, res.Tyk)
	if err := writePackages(gw, filepath.Join(dir, PackagesDir), res.Tyk, o.Version); err != nil {
		return nil, fmt.Errorf("writing the gateway's packages: %w", err)
	}
	goLine := goVersionLine(gw.GoVersion) + ".0"
	if res.Refreshed {
		changed, err := refreshGoMod(gomodPath, gomod, gw, mods, res.Tyk, goLine)
		if err != nil {
			return nil, err
		}
		res.Changed = changed
		return res, nil
	}
	module := o.Module
	if module == "" {
		module = "gatehouse.plugin/" + sanitizeModuleElem(filepath.Base(dir))
	}
	if err := checkModulePath(module); err != nil {
		return nil, err
	}
	mainSrc, testSrc := nativeMain, nativeTest
	if res.Tyk {
		mainSrc, testSrc = tykMain, tykTest
	}
	files := []struct{ name, data string }{
		{"go.mod", newGoMod(module, goLine, gw, mods, res.Tyk)},
		{"main.go", mainSrc},
		{"main_test.go", testSrc},
		{".gitignore", gitignore},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if f.name == ".gitignore" {
			if _, err := os.Stat(p); err == nil {
				continue // the author's
			}
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return nil, err
		}
		res.Wrote = append(res.Wrote, f.name)
	}
	return res, nil
}

// madeByScaffold reports whether a go.mod is one Scaffold wrote: it replaces the gateway's
// module with the folder in PackagesDir.
func madeByScaffold(f *modfile.File, gw *Gateway) bool {
	for _, r := range f.Replace {
		if r.Old.Path == gw.ModulePath && path.Clean(r.New.Path) == PackagesDir+"/gatehouse" {
			return true
		}
	}
	return false
}

func hasReplace(f *modfile.File, mod string) bool {
	for _, r := range f.Replace {
		if r.Old.Path == mod {
			return true
		}
	}
	return false
}

// checkEmpty refuses a folder that holds anything but hidden entries (.git, an editor's
// settings).
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if e.Name() == PackagesDir || !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	if len(names) > 3 {
		names = append(names[:3], "...")
	}
	return fmt.Errorf("%s is not empty (%s) and is not a plugin folder `gatehouse plugin init` made (it has no go.mod): "+
		"give plugin init a new or empty folder; an existing plugin builds and tests as it is with `gatehouse plugin build` and `gatehouse plugin test`",
		dir, strings.Join(names, ", "))
}

func checkModulePath(p string) error {
	if err := module.CheckImportPath(p); err != nil {
		return fmt.Errorf("module path %q: %w", p, err)
	}
	return nil
}

// replaceComment heads the replace directives in a new go.mod.
const replaceComment = "// " + PackagesDir + "/ holds the gateway's packages, written by `gatehouse plugin init`;\n" +
	"// run it again after upgrading gatehouse. `gatehouse plugin build` and `gatehouse plugin test`\n" +
	"// ignore these lines: they build against the gatehouse binary's own packages.\n"

func newGoMod(module, goLine string, gw *Gateway, mods [][2]string, tyk bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\n", module, goLine)
	if tyk {
		fmt.Fprintf(&b, "require (\n\t%s v0.0.0\n\t%s v0.0.0\n)\n\n", TykModule, gw.ModulePath)
	} else {
		fmt.Fprintf(&b, "require %s v0.0.0\n\n", gw.ModulePath)
	}
	b.WriteString(replaceComment)
	if len(mods) == 1 {
		fmt.Fprintf(&b, "replace %s => ./%s/%s\n", mods[0][1], PackagesDir, mods[0][0])
		return b.String()
	}
	b.WriteString("replace (\n")
	for _, m := range mods {
		fmt.Fprintf(&b, "\t%s => ./%s/%s\n", m[1], PackagesDir, m[0])
	}
	b.WriteString(")\n")
	return b.String()
}

// refreshGoMod points the replace directives of a go.mod Scaffold wrote at PackagesDir again,
// adds the requirements of the gateway's module (and Tyk's) when they are missing, and raises
// the go line to the gateway's; nothing else of the file changes. It returns what it changed.
func refreshGoMod(p string, data []byte, gw *Gateway, mods [][2]string, tyk bool, goLine string) ([]string, error) {
	f, err := modfile.Parse(p, data, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var changed []string
	for _, m := range mods {
		want := "./" + PackagesDir + "/" + m[0]
		ok := false
		for _, r := range f.Replace {
			if r.Old.Path == m[1] && r.Old.Version == "" && r.New.Path == want && r.New.Version == "" {
				ok = true
			}
		}
		if ok {
			continue
		}
		for _, r := range f.Replace {
			if r.Old.Path == m[1] {
				_ = f.DropReplace(r.Old.Path, r.Old.Version)
			}
		}
		if err := f.AddReplace(m[1], "", want, ""); err != nil {
			return nil, err
		}
		changed = append(changed, "replace "+m[1]+" => "+want)
	}
	required := []string{gw.ModulePath}
	if tyk {
		required = append(required, TykModule)
	}
	for _, mod := range required {
		found := false
		for _, r := range f.Require {
			found = found || r.Mod.Path == mod
		}
		if !found {
			f.AddNewRequire(mod, "v0.0.0", false)
			changed = append(changed, "require "+mod+" v0.0.0")
		}
	}
	if f.Go == nil || versionLess(f.Go.Version, goLine) {
		if err := f.AddGoStmt(goLine); err != nil {
			return nil, err
		}
		changed = append(changed, "go "+goLine)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	f.SortBlocks()
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, err
	}
	return changed, os.WriteFile(p, out, 0o644)
}

// versionLess compares Go versions such as "1.26" and "1.26.0".
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscanf(pa[i], "%d", &x)
		}
		if i < len(pb) {
			fmt.Sscanf(pb[i], "%d", &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// versionFile, in PackagesDir, names the gateway the packages came from.
const versionFile = "VERSION"

func previousVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, PackagesDir, versionFile))
	if err != nil {
		return ""
	}
	return strings.Fields(string(data) + " ")[0]
}

// writePackages replaces the contents of PackagesDir with the gateway's public packages (and
// the Tyk compatibility modules, with tyk). Files are read-only: they are rewritten, never
// edited.
func writePackages(gw *Gateway, dst string, tyk bool, version string) error {
	for _, sub := range []string{"gatehouse", "tyk", "tyk-pump"} {
		if err := os.RemoveAll(filepath.Join(dst, sub)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	gwDir := filepath.Join(dst, "gatehouse")
	err := fs.WalkDir(gw.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, "_test.go") || p == "go.sum" {
			return nil
		}
		data, err := fs.ReadFile(gw.Source, p)
		if err != nil {
			return err
		}
		if p == "go.mod" {
			// The public packages import only the standard library and each other: the
			// gateway's requirements are left out, so that nothing (go mod tidy, go list -m
			// all, an editor) looks for them in the module cache or the proxy.
			if data, err = bareGoMod(data); err != nil {
				return err
			}
		}
		return writeReadOnly(filepath.Join(gwDir, filepath.FromSlash(p)), data)
	})
	if err != nil {
		return err
	}
	if tyk {
		if err := writeCompat(gw.Compat, dst, &tykUse{tyk: true, pump: true, log: true}, false); err != nil {
			return err
		}
		if err := readOnlyTree(filepath.Join(dst, "tyk")); err != nil {
			return err
		}
		if err := readOnlyTree(filepath.Join(dst, "tyk-pump")); err != nil {
			return err
		}
	}
	readme := fmt.Sprintf(packagesReadme, version, gw.GoVersion)
	if err := os.WriteFile(filepath.Join(dst, "README.md"), []byte(readme), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, versionFile), []byte(version+" "+gw.GoVersion+"\n"), 0o644)
}

// bareGoMod keeps a go.mod's module and go lines.
func bareGoMod(data []byte) ([]byte, error) {
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil, err
	}
	out := "module " + f.Module.Mod.Path + "\n"
	if f.Go != nil {
		out += "\ngo " + f.Go.Version + "\n"
	}
	return []byte(out), nil
}

func writeReadOnly(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o444)
}

func readOnlyTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o444)
	})
}

const packagesReadme = `# Written by gatehouse plugin init: do not edit

The packages a plugin imports, as the gatehouse binary %s (%s) carries them, so that
go build, go vet, go test and your editor resolve them with no network. The plugin's go.mod
points at them with replace directives. Run ` + "`gatehouse plugin init`" + ` in the plugin's folder again
after upgrading gatehouse: it rewrites this folder and nothing else of yours.

` + "`gatehouse plugin build`" + ` and ` + "`gatehouse plugin test`" + ` do not read this folder: they build against the
binary's own packages, with its build settings, which is what the plugin loads with.
`

const gitignore = `*.so
/.gatehouse/
`

const nativeMain = `// Command plugin is a Gatehouse Go plugin: its exported functions run at the hooks an API
// definition names. Build it with ` + "`gatehouse plugin build plugin.so`" + `.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"
)

// AddGreeting is a request hook (pre, auth_check, post_key_auth, post or per endpoint): it adds
// the header X-Greeting to the request, with the API's config_data "greeting" when it is set.
// Writing nothing lets the request go on.
func AddGreeting(rw http.ResponseWriter, r *http.Request) {
	greeting := "hello"
	if def := sdk.GetDefinition(r); def != nil {
		if g, ok := def.ConfigData["greeting"].(string); ok {
			greeting = g
		}
	}
	r.Header.Set("X-Greeting", greeting)
}

func main() {}
`

const nativeTest = `package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/sdk/sdktest"
)

func TestAddGreeting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		want   string
	}{
		{name: "default", want: "hello"},
		{name: "from config_data", config: map[string]any{"greeting": "bonjour"}, want: "bonjour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sdktest.NewRequest("GET", "/my-api/get", nil, sdktest.WithConfigData(tc.config))
			res := sdktest.Run(AddGreeting, r)
			if !res.Continue {
				t.Fatalf("the request did not go on: %+v", res)
			}
			if got := res.Request.Header.Get("X-Greeting"); got != tc.want {
				t.Errorf("X-Greeting = %q, want %q", got, tc.want)
			}
		})
	}
}
`

const tykMain = `// Command plugin is a Go plugin written against Tyk's plugin API, which Gatehouse provides.
// Build it with ` + "`gatehouse plugin build plugin.so`" + `.
package main

import (
	"net/http"

	"github.com/TykTechnologies/tyk/ctx"
)

// AddGreeting is a request hook (pre, auth_check, post_key_auth, post or per endpoint): it adds
// the header X-Greeting to the request, with the API's config_data "greeting" when it is set.
// Writing nothing lets the request go on.
func AddGreeting(rw http.ResponseWriter, r *http.Request) {
	greeting := "hello"
	if def := ctx.GetDefinition(r); def != nil {
		if g, ok := def.ConfigData["greeting"].(string); ok {
			greeting = g
		}
	}
	r.Header.Set("X-Greeting", greeting)
}

func main() {}
`

const tykTest = `package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/sdk/sdktest"
)

// The hooks of a Tyk plugin run in go test with Gatehouse's sdktest: it makes the request the
// gateway hands a plugin, which Tyk's ctx functions read.
func TestAddGreeting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]any
		want   string
	}{
		{name: "default", want: "hello"},
		{name: "from config_data", config: map[string]any{"greeting": "bonjour"}, want: "bonjour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sdktest.NewRequest("GET", "/my-api/get", nil, sdktest.WithConfigData(tc.config))
			res := sdktest.Run(AddGreeting, r)
			if !res.Continue {
				t.Fatalf("the request did not go on: %+v", res)
			}
			if got := res.Request.Header.Get("X-Greeting"); got != tc.want {
				t.Errorf("X-Greeting = %q, want %q", got, tc.want)
			}
		})
	}
}
`
