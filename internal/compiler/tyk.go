package compiler

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/gatehouse/gatehouse/internal/version"
)

// Tyk's modules, which the compiler replaces by its own packages at their import paths.
const (
	TykModule  = "github.com/TykTechnologies/tyk"
	PumpModule = "github.com/TykTechnologies/tyk-pump"
	tykLog     = TykModule + "/log"
	tykOrg     = "github.com/TykTechnologies/"
)

// TykPackages are the packages of Tyk's plugin API the compiler provides, each with what it
// holds. Any other package of Tyk's modules is refused before compiling.
var TykPackages = map[string]string{
	TykModule + "/ctx":        "GetSession, SetSession, GetAuthToken, GetDefinition, GetOASDefinition, the Key constants",
	TykModule + "/user":       "SessionState, AccessDefinition, APILimit, Policy and their methods",
	TykModule + "/apidef":     "APIDefinition and the types of its fields plugins read",
	TykModule + "/apidef/oas": "OAS (the OpenAPI document with kin-openapi's field names: Info, Servers, Paths with Find/Value/Map/Len, operations) and XTykAPIGateway, in the standard library only",
	TykModule + "/header":     "the header constants",
	TykModule + "/headers":    "the header constants, under the package's name before late 2022",
	TykModule + "/request":    "RealIP: the client's address, as the gateway's IP lists decide it (trusted_proxies)",
	tykLog:                    "Get() and GetRaw(): a logrus logger whose lines go to the gateway's log",
	PumpModule + "/analytics": "AnalyticsRecord, for analytics plugins",
}

// tykHints say what to use instead of Tyk's packages plugins commonly import and the compiler
// does not provide.
var tykHints = map[string]string{
	TykModule + "/config":  "plugins read their settings from ctx.GetDefinition(r).ConfigData (the API's config_data)",
	TykModule + "/storage": "a key is read and stored with ctx.GetSession(r) and ctx.SetSession(r, s, true); keep other data in a store of the plugin's own",
	TykModule + "/gateway": "the gateway's internals are not reachable from a plugin: use ctx's functions (GetSession, SetSession, GetDefinition, GetAuthToken)",
}

// tykUse is what a plugin takes from Tyk's modules.
type tykUse struct {
	tyk, pump, log bool
	// required maps the Tyk modules the plugin's go.mod requires to the version it names.
	required map[string]string
	// unknown maps imports of Tyk's modules the compiler does not provide to a file using each.
	unknown map[string]string
}

func (u *tykUse) any() bool { return u != nil && (u.tyk || u.pump) }

// isTyk reports whether an import path or module path is one of Tyk's emulated modules.
func isTyk(p string) bool {
	return p == TykModule || strings.HasPrefix(p, TykModule+"/") || p == PumpModule || strings.HasPrefix(p, PumpModule+"/")
}

// scanTyk reads the plugin's go.mod (data, nil when it has none) and the imports of its Go files
// for what it takes from Tyk's modules. Test files count when tests is set.
func scanTyk(dir string, gomod []byte, tests bool) (*tykUse, error) {
	u := &tykUse{required: map[string]string{}, unknown: map[string]string{}}
	if gomod != nil {
		f, err := modfile.ParseLax("go.mod", gomod, nil)
		if err != nil {
			return nil, fmt.Errorf("the plugin's go.mod: %w", err)
		}
		for _, r := range f.Require {
			if isTyk(r.Mod.Path) {
				u.required[r.Mod.Path] = r.Mod.Version
			}
		}
	}
	files, err := sourceFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, rel := range files {
		if !strings.HasSuffix(rel, ".go") || !goPackageFile(rel) || (!tests && strings.HasSuffix(rel, "_test.go")) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, rel), nil, parser.ImportsOnly)
		if err != nil {
			return nil, fmt.Errorf("reading the imports of %s: %w", rel, err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil || !isTyk(p) {
				continue
			}
			if _, ok := TykPackages[p]; !ok {
				if _, seen := u.unknown[p]; !seen {
					u.unknown[p] = filepath.ToSlash(rel)
				}
				continue
			}
			if strings.HasPrefix(p, PumpModule) {
				u.pump = true
			} else {
				u.tyk = true
			}
			if p == tykLog {
				u.log = true
			}
		}
	}
	for m := range u.required {
		if m == PumpModule {
			u.pump = true
		} else {
			u.tyk = true
		}
	}
	return u, nil
}

// UnsupportedTykError names the packages or parts of Tyk's plugin API a plugin uses that the
// compiler does not provide.
type UnsupportedTykError struct {
	// Uses are the packages ("github.com/TykTechnologies/tyk/config (main.go)") or names
	// ("ctx.GetOASDefinition") not provided.
	Uses []string
	// Output is the compiler's output, when the names come from it.
	Output string
}

func (e *UnsupportedTykError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the plugin uses parts of Tyk's plugin API that Gatehouse does not provide (it emulates Tyk %s):", version.TykAPI)
	for _, u := range e.Uses {
		b.WriteString("\n  - " + u)
	}
	b.WriteString("\nGatehouse provides these of Tyk's packages:")
	pkgs := make([]string, 0, len(TykPackages))
	for p := range TykPackages {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\n  %s: %s", p, TykPackages[p])
	}
	b.WriteString("\nsee docs/tyk-plugins.md for what differs and what is not provided")
	if e.Output != "" {
		b.WriteString("\n\nthe compiler said:\n" + e.Output)
	}
	return b.String()
}

// check refuses imports of Tyk packages the compiler does not provide.
func (u *tykUse) check() error {
	if len(u.unknown) == 0 {
		return nil
	}
	var uses []string
	for p, file := range u.unknown {
		use := fmt.Sprintf("package %s (imported by %s): not provided", p, file)
		if hint := tykHints[p]; hint != "" {
			use += "; " + hint
		}
		uses = append(uses, use)
	}
	sort.Strings(uses)
	return &UnsupportedTykError{Uses: uses}
}

// describe says what the build does for Tyk's modules.
func (u *tykUse) describe() string {
	var named []string
	for m, v := range u.required {
		named = append(named, m+" "+v)
	}
	sort.Strings(named)
	s := "Tyk plugin: built against Gatehouse's packages for Tyk's plugin API (Tyk " + version.TykAPI + ")"
	if len(named) > 0 {
		s += ", in place of " + strings.Join(named, " and ") + " from go.mod"
	}
	if u.log {
		s += "; log.Get() needs github.com/sirupsen/logrus, from the module cache or proxy"
	}
	return s
}

// dropTyk takes Tyk's modules out of the plugin's go.mod (the workspace provides them), with
// the requirements only Tyk needed: indirect ones of Tyk's organisation.
func dropTyk(f *modfile.File) {
	for _, r := range f.Replace {
		if isTyk(r.Old.Path) {
			_ = f.DropReplace(r.Old.Path, r.Old.Version)
		}
	}
	for _, r := range f.Require {
		if isTyk(r.Mod.Path) || (r.Indirect && strings.HasPrefix(r.Mod.Path, tykOrg)) {
			_ = f.DropRequire(r.Mod.Path)
		}
	}
}

// compatModules are the workspace folders of the modules a build with u needs, with their
// module paths.
func (u *tykUse) modules() [][2]string {
	var out [][2]string
	if u == nil {
		return nil
	}
	if u.tyk {
		out = append(out, [2]string{"tyk", TykModule})
		if u.log {
			out = append(out, [2]string{"tyk/log", tykLog})
		}
	}
	if u.pump {
		out = append(out, [2]string{"tyk-pump", PumpModule})
	}
	return out
}

// buildLine keeps the compatibility packages out of the gateway's own builds; it is dropped
// when they are written for a plugin.
const buildLine = "//go:build gatehouse_compat\n\n"

// writeCompat writes the compatibility modules u needs from the embedded compat folder into
// ws, test files included when tests is set.
func writeCompat(compat fs.FS, ws string, u *tykUse, tests bool) error {
	if compat == nil {
		return errors.New("this gatehouse carries no Tyk compatibility packages")
	}
	write := func(src, dst string, skipLog bool) error {
		return fs.WalkDir(compat, src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
			if d.IsDir() {
				if skipLog && rel == "log" {
					return fs.SkipDir
				}
				return nil
			}
			name := path.Base(p)
			switch {
			case name == "go.mod.txt":
				rel = path.Join(path.Dir(rel), "go.mod")
			case name == "go.sum.txt":
				rel = path.Join(path.Dir(rel), "go.sum")
			case !strings.HasSuffix(name, ".go"), !tests && strings.HasSuffix(name, "_test.go"):
				return nil
			}
			data, err := fs.ReadFile(compat, p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(name, ".go") {
				if !bytes.HasPrefix(data, []byte(buildLine)) {
					return fmt.Errorf("compat file %s does not start with %q", p, buildLine)
				}
				data = data[len(buildLine):]
			}
			out := filepath.Join(dst, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, data, 0o644)
		})
	}
	if u.tyk {
		if err := write("compat/tyk", filepath.Join(ws, "tyk"), !u.log); err != nil {
			return err
		}
	}
	if u.pump {
		if err := write("compat/tyk-pump", filepath.Join(ws, "tyk-pump"), false); err != nil {
			return err
		}
	}
	return nil
}

var (
	// undefinedName matches "undefined: ctx.GetOASDefinition".
	undefinedName = lazyRegexp(`undefined: (ctx|user|apidef|oas|header|headers|log|analytics|request)\.(\w+)`)
	// missingMember matches "has no field or method Geo" on a type of the compat packages (or
	// sdk's analytics record, which tyk-pump's is).
	missingMember = lazyRegexp(`\(type \*?((?:user|apidef|oas|analytics|sdk)\.\w+) has no field or method (\w+)`)
	// unknownField matches "unknown field Geo in struct literal of type analytics.Latency".
	unknownField = lazyRegexp(`unknown field (\w+) in struct literal of type \*?((?:user|apidef|oas|analytics|sdk)\.\w+)`)
	// oldSetSession matches the four-argument SetSession of Tyk before 4.0.1, with its place.
	oldSetSession = lazyRegexp(`(?m)^(?:\S*?([^\s/]+\.go):(\d+):\d+: )?(?:cannot use .* as bool value in argument to ctx\.SetSession|too many arguments in call to ctx\.SetSession)`)
)

// explainTyk turns a failed compile of a Tyk plugin into an error naming the parts of Tyk's API
// it uses that the compiler does not provide, or returns nil when the failure is something
// else.
func explainTyk(output string) error {
	seen := map[string]bool{}
	var uses []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			uses = append(uses, s)
		}
	}
	for _, m := range undefinedName().FindAllStringSubmatch(output, -1) {
		add(m[1] + "." + m[2] + ": not provided")
	}
	for _, m := range missingMember().FindAllStringSubmatch(output, -1) {
		add(tykTypeName(m[1]) + "." + m[2] + ": not provided")
	}
	for _, m := range unknownField().FindAllStringSubmatch(output, -1) {
		add(tykTypeName(m[2]) + "." + m[1] + ": not provided")
	}
	for _, m := range oldSetSession().FindAllStringSubmatch(output, -1) {
		at := ""
		if m[1] != "" {
			at = " (" + m[1] + ":" + m[2] + ")"
		}
		add("ctx.SetSession(r, session, token, scheduleUpdate)" + at + ": the four-argument form is Tyk's API before 4.0.1, " +
			"which Go cannot offer beside today's (no overloading); write `session.KeyID = token` and call `ctx.SetSession(r, session, scheduleUpdate)`")
	}
	if len(uses) == 0 {
		return nil
	}
	return &UnsupportedTykError{Uses: uses, Output: output}
}

// tykTypeName names a type as the plugin wrote it: tyk-pump's analytics record is sdk's.
func tykTypeName(t string) string {
	if rest, ok := strings.CutPrefix(t, "sdk."); ok {
		return "analytics." + rest
	}
	return t
}
