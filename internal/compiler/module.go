package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// skipDir reports whether a source directory is left out of a build copy and of the build id:
// version control folders, the compiler's own folders (plugin init's .gatehouse, the gateway's
// .plugin-builds) and vendor/, which the build does not use (vendorNote). Everything else is
// copied, hidden, '_' and testdata folders included: the go command builds no package from them,
// but go:embed reads them (`//go:embed all:static` takes static/.well-known, a pattern may name
// testdata), so a build without them would embed less than go build does.
func skipDir(name string) bool {
	switch name {
	case ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".fossil-settings", PackagesDir, ".plugin-builds", "vendor":
		return true
	}
	return false
}

// skipFile reports whether a source file is left out: built plugins, the file a build writes
// before checking it (output.so.gatehouse-plugin-build-*.tmp), and Fossil's checkout database.
func skipFile(name string) bool {
	return strings.HasSuffix(name, ".so") || (strings.Contains(name, ".so.gatehouse-plugin-build-") && strings.HasSuffix(name, ".tmp")) ||
		name == ".fslckout" || name == "_FOSSIL_"
}

// goPackageFile reports whether the go command would build the file rel (slash- or
// OS-separated, relative to a module's folder) into a package, as far as its name and folders
// go: not in a hidden, '_' or testdata folder, not itself hidden or '_'.
func goPackageFile(rel string) bool {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") || (i < len(parts)-1 && part == "testdata") {
			return false
		}
	}
	return true
}

// sourceFiles lists the files of a plugin's source folder that go into a build, relative and
// sorted: all but those skipDir and skipFile leave out (testdata, hidden and '_' folders
// included, for go:embed).
func sourceFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if skipFile(d.Name()) {
			return nil
		}
		if !d.Type().IsRegular() {
			// A link to a file counts as the file, as for the go command (a Kubernetes
			// ConfigMap mount holds nothing else); links to folders are not followed.
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	sort.Strings(files)
	return files, err
}

// SourceHash returns a hash of what a build of a plugin's source folder reads: the folder's file
// names and contents and, when its go.mod replaces modules with local folders, those folders'
// (see hashReplaced). Builds without a build id take it as their id, so any change to the source,
// in the folder or in a folder it replaces a module with, gives a new plugin path.
func SourceHash(dir string) (string, error) {
	files, err := sourceFiles(dir)
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%s holds no source files", dir)
	}
	h := sha256.New()
	if err := hashFiles(h, dir, files); err != nil {
		return "", err
	}
	if err := hashReplaced(h, dir); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFiles writes the names and contents of files (relative to dir) into h.
func hashFiles(h io.Writer, dir string, files []string) error {
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(f))
		in, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		_, err = io.Copy(h, in)
		in.Close()
		if err != nil {
			return err
		}
		h.Write([]byte{0})
	}
	return nil
}

// What the build id hashes of the folders a plugin's go.mod replaces modules with is bounded,
// all replaced folders together: a replace naming / or a huge tree must not read the disk at
// every reload. Past a bound the build id cannot be derived and the build is refused, saying so
// (errReplacedTooLarge); a build given its id (plugin build's second argument) hashes nothing.
var (
	maxReplacedEntries       = 20_000   // files and folders looked at
	maxReplacedBytes   int64 = 64 << 20 // contents hashed
)

// hashReplaced writes into h the local folders the go.mod of the plugin folder dir replaces
// modules with, which the build reads as they are (only the main module's replace directives
// count, as for the go command: those of a replaced module's own go.mod are ignored by the build,
// and their go.mod is hashed as a file). A folder's files are those the go command may read of
// the module, as for the plugin's folder (skipDir, skipFile: hidden, '_' and testdata folders
// count, as go:embed can read them), up to nested modules (a sub-folder with its own go.mod is
// not part of the module). A go.mod that does not parse adds nothing: the build reports it.
func hashReplaced(h io.Writer, dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return nil // no go.mod: no replace; an unreadable one failed the hash of the folder
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil
	}
	reps, err := localReplaces(f, dir)
	if err != nil {
		return err
	}
	budget := replacedBudget{entries: maxReplacedEntries, bytes: maxReplacedBytes}
	for _, r := range reps {
		files, err := moduleFiles(r, &budget)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "replace %s %s => %s\x00", r.old.Path, r.old.Version, r.written)
		if err := hashFiles(h, r.dir, files); err != nil {
			return fmt.Errorf("reading %s, which the plugin's go.mod replaces %s with: %w", r.dir, r.old.Path, err)
		}
	}
	return nil
}

type replacedBudget struct {
	entries int
	bytes   int64
}

// errReplacedTooLarge is a replaced folder past the bounds on what the build id hashes.
type errReplacedTooLarge struct{ r localReplace }

func (e *errReplacedTooLarge) Error() string {
	return fmt.Sprintf("the plugin's go.mod replaces %s with %s (%s), and the folders it replaces modules with hold more than %d files and folders or %d MiB: "+
		"the build id, which must change whenever what the build reads changes, is not derived from that much. Point the replace at the module's own folder "+
		"(a sub-folder with its own go.mod is left out), or give `gatehouse plugin build` a build id",
		e.r.old.Path, e.r.written, e.r.dir, maxReplacedEntries, maxReplacedBytes>>20)
}

// moduleFiles lists the files of a replaced module's folder that hashReplaced hashes, relative
// and sorted, counting them against b.
func moduleFiles(r localReplace, b *replacedBudget) ([]string, error) {
	// The go command follows a replace naming a link to a folder; WalkDir does not.
	root, err := filepath.EvalSymlinks(r.dir)
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if b.entries--; b.entries < 0 {
			return &errReplacedTooLarge{r}
		}
		if d.IsDir() {
			if p == root {
				return nil
			}
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Lstat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if skipFile(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			// A link to a file counts as the file, as in the plugin's folder.
			if fi.Mode()&fs.ModeSymlink == 0 {
				return nil
			}
			if fi, err = os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		}
		if b.bytes -= fi.Size(); b.bytes < 0 {
			return &errReplacedTooLarge{r}
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		var big *errReplacedTooLarge
		if errors.As(err, &big) {
			return nil, err
		}
		return nil, fmt.Errorf("reading %s, which the plugin's go.mod replaces %s with: %w", r.dir, r.old.Path, err)
	}
	sort.Strings(files)
	return files, nil
}

// localReplace is a replace directive of a plugin's go.mod that names a local folder.
type localReplace struct {
	old     module.Version // the module replaced (and its version, when the directive names one)
	written string         // the folder as go.mod names it
	dir     string         // the folder, absolute: a relative one resolved against the plugin's folder
	rep     *modfile.Replace
}

// localReplaces returns the replace directives of f, the go.mod of the plugin folder src, that
// name local folders, leaving out those the build drops (of the gateway's module and Tyk's,
// which the workspace provides). A folder that does not exist, or holds no go.mod, is an error
// naming it as go.mod does and where it was looked for: the go command would name the build's
// temporary copy.
func localReplaces(f *modfile.File, src string) ([]localReplace, error) {
	var out []localReplace
	for _, r := range f.Replace {
		if r.New.Version != "" || !modfile.IsDirectoryPath(r.New.Path) || r.Old.Path == gatehouse.ModulePath || isTyk(r.Old.Path) {
			continue
		}
		lr := localReplace{old: r.Old, written: r.New.Path, dir: filepath.FromSlash(r.New.Path), rep: r}
		where := ""
		if !filepath.IsAbs(lr.dir) {
			lr.dir = filepath.Join(src, lr.dir)
			where = ", relative to the plugin's folder " + src
		}
		fi, err := os.Stat(lr.dir)
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("the plugin's go.mod replaces %s with %s, a folder that does not exist (looked for at %s%s)", r.Old.Path, lr.written, lr.dir, where)
		case err != nil:
			return nil, fmt.Errorf("the plugin's go.mod replaces %s with %s (%s%s): %w", r.Old.Path, lr.written, lr.dir, where, err)
		case !fi.IsDir():
			return nil, fmt.Errorf("the plugin's go.mod replaces %s with %s, which is not a folder (looked for at %s%s)", r.Old.Path, lr.written, lr.dir, where)
		}
		if _, err := os.Stat(filepath.Join(lr.dir, "go.mod")); err != nil {
			return nil, fmt.Errorf("the plugin's go.mod replaces %s with %s, whose folder %s holds no go.mod: a replacement must be a module (go mod init %s there)", r.Old.Path, lr.written, lr.dir, r.Old.Path)
		}
		out = append(out, lr)
	}
	return out, nil
}

// resolveReplaces points the relative replace directives of the go.mod of the build copy in
// pluginDir at the folders they name beside the plugin's own folder src: the copy sits in a
// temporary workspace, where "../lib" would name nothing. Directives naming folders that do not
// exist are refused, naming them (localReplaces).
func resolveReplaces(pluginDir, src string) error {
	gomod := filepath.Join(pluginDir, "go.mod")
	data, err := os.ReadFile(gomod)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	f, err := parseModFile(data)
	if err != nil {
		return err
	}
	reps, err := localReplaces(f, src)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range reps {
		if filepath.IsAbs(filepath.FromSlash(r.written)) {
			continue
		}
		// The directive's line is edited in place: f.AddReplace would also merge it with the
		// module's other replace directives.
		tok := r.rep.Syntax.Token
		for i := range tok {
			if tok[i] == "=>" && i+1 < len(tok) {
				tok[i+1] = modfile.AutoQuote(r.dir)
				r.rep.New.Path = r.dir
				changed = true
				break
			}
		}
	}
	if !changed {
		return nil
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(gomod, out, 0o644)
}

// copySource copies a plugin's source folder into dst: the files sourceFiles lists.
func copySource(src, dst string) error {
	files, err := sourceFiles(src)
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		out := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeFS writes a file system (the gateway's embedded source) into dst.
func writeFS(fsys fs.FS, dst string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}

// Conflict is a module the plugin needs at a newer version than the gateway was built with.
type Conflict struct {
	Module  string
	Plugin  string
	Gateway string
	// Via is, for a version the plugin's go.mod does not ask for but one of its requirements
	// pulls in, the chain of requirements that asks for it, from the plugin's own requirement:
	// "golang.org/x/term@v0.48.0 -> golang.org/x/sys@v0.50.0".
	Via string
}

// ConflictError lists the shared modules a plugin needs newer than the gateway has.
type ConflictError struct{ Conflicts []Conflict }

func (e *ConflictError) Error() string {
	var b strings.Builder
	b.WriteString("the plugin needs newer or replaced versions of modules the gateway is built with; a plugin must use the gateway's versions of shared modules:")
	direct := false
	var via []Conflict
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  - %s: plugin wants %s, gateway has %s", c.Module, c.Plugin, c.Gateway)
		if c.Via == "" {
			direct = true
			continue
		}
		fmt.Fprintf(&b, " (not in the plugin's go.mod: pulled in by %s)", c.Via)
		via = append(via, c)
	}
	if direct {
		b.WriteString("\nfix: require the gateway's versions in the plugin's go.mod (go get module@version) and drop replace directives of these modules, or use a gatehouse built with the newer ones")
	}
	for _, c := range via {
		first, _, _ := strings.Cut(c.Via, " -> ")
		mod, ver, ok := strings.Cut(first, "@")
		if !ok {
			fmt.Fprintf(&b, "\nthis gatehouse's own module %s asks for %s %s, newer than the gateway was built with: a fault of this gatehouse; please report it", mod, c.Module, c.Plugin)
			continue
		}
		fmt.Fprintf(&b, "\nfix: require an older version of %s than %s, one whose requirements the gateway's versions satisfy (it must not need %s newer than %s; "+
			"`go mod graph` in the plugin's folder lists what each module requires), or use a gatehouse built with %s %s or newer",
			mod, ver, c.Module, c.Gateway, c.Module, c.Plugin)
	}
	return b.String()
}

// conflicts compares a plugin's requirements with the gateway's modules.
func conflicts(f *modfile.File, gw *Gateway) error {
	var out []Conflict
	for _, r := range f.Require {
		if have, newer := gw.newerThanLinked(r.Mod.Path, r.Mod.Version); newer {
			out = append(out, Conflict{Module: r.Mod.Path, Plugin: r.Mod.Version, Gateway: have})
		}
	}
	// A replacement of a shared module would build the gateway's packages from it too, in the
	// plugin: unless it names the gateway's own version, the plugin could not load.
	for _, r := range f.Replace {
		have, ok := gw.Modules[r.Old.Path]
		if !ok || r.Old.Path == gw.ModulePath || (r.New.Path == r.Old.Path && r.New.Version == have) {
			continue
		}
		to := r.New.Path
		if r.New.Version != "" {
			to += " " + r.New.Version
		}
		out = append(out, Conflict{Module: r.Old.Path, Plugin: "replace => " + to, Gateway: have})
	}
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Module < out[j].Module })
	return &ConflictError{Conflicts: out}
}

// newerThanLinked reports whether v is a version of the module path newer than the one the
// gateway links, with the gateway's: a plugin built with it would not load.
func (g *Gateway) newerThanLinked(path, v string) (have string, newer bool) {
	have, ok := g.Modules[path]
	if !ok || path == g.ModulePath || !semver.IsValid(have) || !semver.IsValid(v) {
		return have, false
	}
	return have, semver.Compare(v, have) > 0
}

// builtConflicts finds, among the modules of the packages a build compiles (the output of go
// list -deps: one "path version" a line, the version the build selected; the workspace's own
// modules have none), those the gateway links that the build selects newer than the gateway
// has: their packages would differ from the gateway's, and the plugin would not load. The
// plugin's go.mod lines themselves are checked before (conflicts); here the requirements of its
// requirements are caught too.
func builtConflicts(listed string, gw *Gateway) []Conflict {
	seen := map[string]bool{}
	var out []Conflict
	for _, line := range strings.Split(listed, "\n") {
		p, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || seen[p] {
			continue
		}
		seen[p] = true
		if have, newer := gw.newerThanLinked(p, v); newer {
			out = append(out, Conflict{Module: p, Plugin: v, Gateway: have})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Module < out[j].Module })
	return out
}

// explainConflicts sets each conflict's Via from the module graph of the build workspace (the
// output of go mod graph: one "module[@version] requirement@version" a line): the shortest
// chain of requirements from the plugin's module root (its path in the workspace) to the
// version selected, or, when the plugin's requirements do not lead there, from the workspace's
// other modules (the gateway's own, the Tyk compatibility modules: a fault of this gatehouse).
func explainConflicts(cs []Conflict, graph, root string) {
	edges := map[string][]string{}
	var mains []string
	for _, line := range strings.Split(graph, "\n") {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if _, seen := edges[from]; !seen && !strings.Contains(from, "@") {
			mains = append(mains, from)
		}
		edges[from] = append(edges[from], to)
	}
	for i := range cs {
		c := &cs[i]
		target := c.Module + "@" + c.Plugin
		if chain := requirementChain(edges, []string{root}, target); len(chain) > 2 {
			c.Via = strings.Join(chain[1:], " -> ")
		} else if chain == nil {
			if chain = requirementChain(edges, mains, target); chain != nil {
				c.Via = strings.Join(chain, " -> ")
			}
		}
	}
}

// requirementChain returns the shortest chain of requirements in edges from one of starts to
// target, starts and target included; nil when there is none.
func requirementChain(edges map[string][]string, starts []string, target string) []string {
	parent := map[string]string{}
	queue := append([]string{}, starts...)
	for _, s := range starts {
		parent[s] = ""
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == target {
			var chain []string
			for ; n != ""; n = parent[n] {
				chain = append([]string{n}, chain...)
			}
			return chain
		}
		for _, m := range edges[n] {
			if _, seen := parent[m]; !seen {
				parent[m] = n
				queue = append(queue, m)
			}
		}
	}
	return nil
}

// pluginModule prepares the plugin copy's go.mod: it creates one when the folder has none, gives
// the module its unique path (rewriting the plugin's imports of itself), and drops whatever it
// says of the gateway module, which the workspace provides. It returns the new module path.
func pluginModule(dir, name, id string, gw *Gateway, goVersion string) (string, *modfile.File, error) {
	gomod := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomod)
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(fmt.Sprintf("module gatehouse.plugin/%s\n\ngo %s\n", sanitizeModuleElem(name), goVersion))
	} else if err != nil {
		return "", nil, err
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return "", nil, fmt.Errorf("the plugin's go.mod: %w", err)
	}
	if f.Module == nil {
		return "", nil, errors.New("the plugin's go.mod has no module line")
	}
	old := f.Module.Mod.Path
	// A plugin's module in the gateway's (or Tyk's) path would have its imports of the
	// gateway's packages read as its own.
	for _, taken := range []string{gw.ModulePath, "github.com/TykTechnologies/tyk"} {
		if old == taken || strings.HasPrefix(old, taken+"/") {
			return "", nil, fmt.Errorf("the plugin's go.mod names module %q, inside %s, which the gateway provides: rename the plugin's module (its first line, module example.com/myplugin)", old, taken)
		}
	}
	unique := old + "_" + id
	if id == "" {
		unique = old // a test run: the plugin is not loaded, and keeps its own path
	}
	if err := module.CheckImportPath(unique); err != nil {
		return "", nil, fmt.Errorf("module path %q with build id %q: %w", old, id, err)
	}
	if err := f.AddModuleStmt(unique); err != nil {
		return "", nil, err
	}
	// The gateway module is the workspace's copy of the embedded source, whatever the plugin's
	// go.mod says of it. It must be a workspace module, not a replacement: -trimpath names the
	// files of a replaced module with its version, so its packages would not match the gateway's.
	for _, r := range f.Replace {
		if r.Old.Path == gw.ModulePath {
			_ = f.DropReplace(r.Old.Path, r.Old.Version)
		}
	}
	_ = f.DropRequire(gw.ModulePath)
	// Tyk's modules are the workspace's compatibility packages, whatever version go.mod names.
	dropTyk(f)
	// Toolchain lines would make the go command switch toolchains behind the compiler's back.
	f.DropToolchainStmt()
	if f.Go == nil {
		_ = f.AddGoStmt(goVersion)
	} else if gwv := strings.TrimPrefix(gw.GoVersion, "go"); semver.IsValid("v"+gwv) && semver.Compare("v"+f.Go.Version, "v"+gwv) > 0 {
		// A newer patch release of the gateway's Go changes nothing in the language: the line
		// is lowered, as Tyk's compiler does. A newer language version is refused, saying so.
		if semver.MajorMinor("v"+f.Go.Version) != semver.MajorMinor("v"+gwv) {
			return "", nil, fmt.Errorf("the plugin's go.mod says go %s, newer than the Go this gatehouse was built with (%s): lower it (go mod edit -go=%s) or use a gatehouse built with Go %s or later",
				f.Go.Version, gw.GoVersion, goVersion, f.Go.Version)
		}
		_ = f.AddGoStmt(gwv)
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(gomod, out, 0o644); err != nil {
		return "", nil, err
	}
	if unique == old {
		return unique, f, nil
	}
	// The modules go.mod names, whose paths may lie under the plugin's own (a monorepo's
	// github.com/acme/mono/common): their packages keep their paths.
	var others []string
	for _, r := range f.Require {
		others = append(others, r.Mod.Path)
	}
	for _, r := range f.Replace {
		others = append(others, r.Old.Path)
	}
	if err := rewriteImports(dir, old, unique, others); err != nil {
		return "", nil, err
	}
	return unique, f, nil
}

// sanitizeModuleElem makes a plugin name usable as a module path element.
func sanitizeModuleElem(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "plugin"
	}
	return b.String()
}

// rewriteImports changes the plugin's imports of its own module from old to unique, touching only
// the import strings of the files the go command builds. An import belongs to the longest module path it lies in, as for the go
// command: one under another module of go.mod's (others) whose path is longer than old, a
// module nested under the plugin's path, is that module's and is left alone, as are the files
// of folders holding a go.mod of their own (nested modules, not part of the plugin's).
func rewriteImports(dir, old, unique string, others []string) error {
	within := func(ip, mod string) bool { return ip == mod || strings.HasPrefix(ip, mod+"/") }
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir {
				if _, err := os.Lstat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		// Files the go command builds no package from (in hidden, '_' or testdata folders,
		// hidden or '_' themselves) are left as they are: go:embed may read them.
		if rel, err := filepath.Rel(dir, p); err != nil || !strings.HasSuffix(p, ".go") || !goPackageFile(rel) {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("reading the imports of %s: %w", filepath.Base(p), err)
		}
		type edit struct {
			start, end int
			text       string
		}
		var edits []edit
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil || !within(ip, old) {
				continue
			}
			nested := false
			for _, m := range others {
				if len(m) > len(old) && within(ip, m) {
					nested = true
					break
				}
			}
			if nested {
				continue
			}
			start := fset.Position(imp.Path.Pos()).Offset
			end := fset.Position(imp.Path.End()).Offset
			edits = append(edits, edit{start, end, strconv.Quote(unique + strings.TrimPrefix(ip, old))})
		}
		if len(edits) == 0 {
			return nil
		}
		var b strings.Builder
		last := 0
		for _, e := range edits {
			b.Write(src[last:e.start])
			b.WriteString(e.text)
			last = e.end
		}
		b.Write(src[last:])
		return os.WriteFile(p, []byte(b.String()), 0o644)
	})
}

// writeWorkspace writes the go.work that joins the gateway's source, the plugin and the extra
// module folders (Tyk's compatibility modules).
func writeWorkspace(ws, goVersion string, extra ...string) (string, error) {
	p := filepath.Join(ws, "go.work")
	var b strings.Builder
	fmt.Fprintf(&b, "go %s\n\nuse (\n\t./gateway\n\t./plugin\n", goVersion)
	for _, d := range extra {
		fmt.Fprintf(&b, "\t./%s\n", d)
	}
	b.WriteString(")\n")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// withGatewayReplace runs fn with the plugin's go.mod pointing at the gateway's source (and the
// compat modules, as {folder, module path} in the workspace) through replace directives, for the
// commands that do not work in a workspace (go get, go mod tidy), and takes the directives out
// again afterwards.
func withGatewayReplace(pluginDir string, gw *Gateway, compat [][2]string, fn func() error) error {
	gomod := filepath.Join(pluginDir, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return err
	}
	f, err := parseModFile(data)
	if err != nil {
		return err
	}
	if err := f.AddRequire(gw.ModulePath, "v0.0.0"); err != nil {
		return err
	}
	if err := f.AddReplace(gw.ModulePath, "", "../gateway", ""); err != nil {
		return err
	}
	for _, m := range compat {
		if err := f.AddRequire(m[1], "v0.0.0"); err != nil {
			return err
		}
		if err := f.AddReplace(m[1], "", "../"+m[0], ""); err != nil {
			return err
		}
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(gomod, out, 0o644); err != nil {
		return err
	}
	runErr := fn()
	if data, err = os.ReadFile(gomod); err != nil {
		return errors.Join(runErr, err)
	}
	if f, err = parseModFile(data); err != nil {
		return errors.Join(runErr, err)
	}
	_ = f.DropReplace(gw.ModulePath, "")
	_ = f.DropRequire(gw.ModulePath)
	dropTyk(f)
	f.Cleanup()
	if out, err = f.Format(); err != nil {
		return errors.Join(runErr, err)
	}
	return errors.Join(runErr, os.WriteFile(gomod, out, 0o644))
}

// goVersionLine returns the language version for a new go.mod: the gateway toolchain's major
// and minor, as in "1.26".
func goVersionLine(goVersion string) string {
	v := strings.TrimPrefix(goVersion, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}

func parseModFile(data []byte) (*modfile.File, error) {
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil, fmt.Errorf("the plugin's go.mod: %w", err)
	}
	return f, nil
}
