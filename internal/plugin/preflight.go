package plugin

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/version"
)

// Mismatch is one way a plugin file differs from the running gateway.
type Mismatch struct {
	// What differs: "go version", "build setting -race", "module golang.org/x/net",
	// "package net/http", ...
	What string `json:"what"`
	// Plugin and Gateway are the two values.
	Plugin  string `json:"plugin"`
	Gateway string `json:"gateway"`
}

// Report is what the pre-flight check found out about a plugin file without opening it.
type Report struct {
	File       string     `json:"file"`
	PluginPath string     `json:"plugin_path,omitempty"`
	GoVersion  string     `json:"go_version,omitempty"`
	Mismatches []Mismatch `json:"mismatches,omitempty"`
	// Notes say what could not be compared, and why.
	Notes []string `json:"notes,omitempty"`

	// brings lists the packages of the plugin that the gateway binary does not link, which
	// come into the process with the plugin (its main package among them); nil when the
	// gateway's packages are unknown.
	brings []string
	// bringHashes are the link-time hashes of the packages of brings.
	bringHashes map[string]string
	// modules are the modules the plugin was built with, each as "path version" (a replacement's
	// as it replaced it), by module path: what a package conflict names.
	modules map[string]string
}

// modulesOf returns the modules of a build (Report.modules).
func modulesOf(info *debug.BuildInfo) map[string]string {
	out := make(map[string]string, len(info.Deps))
	for _, m := range info.Deps {
		v := m.Path + " " + m.Version
		if m.Replace != nil {
			v += " => " + strings.TrimSpace(m.Replace.Path+" "+m.Replace.Version)
		}
		out[m.Path] = v
	}
	return out
}

// moduleOf returns the module a package of the plugin is in, as "path version", "" when its
// build information names none (the plugin's own main module among them).
func (r *Report) moduleOf(pkg string) string {
	best := ""
	for m := range r.modules {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return ""
	}
	return r.modules[best]
}

// OK reports whether the file can load into this gateway.
func (r *Report) OK() bool { return len(r.Mismatches) == 0 }

// Err returns nil when the file can load, else an error with a readable diff and what to do.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return &MismatchError{Report: r}
}

// MismatchError is a plugin file refused by the pre-flight check.
type MismatchError struct{ Report *Report }

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s cannot load into this gateway; it differs from it in:", e.Report.File)
	for _, m := range e.Report.Mismatches {
		fmt.Fprintf(&b, "\n  - %s: plugin %s, gateway %s", m.What, orNone(m.Plugin), orNone(m.Gateway))
	}
	b.WriteString("\n" + e.Report.Fix())
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Fix says how to get a file that loads.
func (r *Report) Fix() string {
	for _, m := range r.Mismatches {
		if m.What == "file" {
			return "fix: point the hook at a Go plugin built with -buildmode=plugin (gatehouse plugin build does this)"
		}
	}
	return "fix: rebuild the plugin with this gateway's own compiler, `gatehouse plugin build`, which copies the gateway's Go version, build settings and module versions"
}

// host is what the running binary was built with.
type host struct {
	info   *debug.BuildInfo
	hashes map[string][]byte // package path → link-time hash, from the binary's symbol table
	note   string            // why hashes is empty, when it is
}

var hostOnce = sync.OnceValue(func() *host {
	h := &host{info: HostBuildInfo()}
	exe, err := os.Executable()
	if err != nil {
		h.note = "cannot find the gateway binary: " + err.Error()
		return h
	}
	h.hashes, err = hostPackageHashes(exe)
	if err != nil {
		h.note = err.Error()
	}
	return h
})

// Check compares a plugin file with the running gateway without opening it: Go version, target,
// build settings, module versions, and the per-package hashes the Go runtime itself compares
// when it opens a plugin. Opening a file that fails this would fail too, and Go would then refuse
// that path until the process restarts.
func Check(file string) (*Report, error) {
	return check(file, hostOnce())
}

// check compares file with h. A panic while it reads the file (a hostile file that the parsers
// of the standard library, or this package, fail on) is returned as an error: the check runs on
// the reload path, where nothing else would recover it and the gateway would stop.
func check(file string, h *host) (_ *Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s could not be read as a Go plugin: reading it panicked: %v", file, p)
		}
	}()
	r := &Report{File: file}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := buildinfo.Read(f)
	if err != nil {
		r.Mismatches = append(r.Mismatches, Mismatch{What: "file", Plugin: "not a Go binary (" + err.Error() + ")", Gateway: "a Go plugin"})
		return r, nil
	}
	r.GoVersion = info.GoVersion
	r.Notes = append(r.Notes, tykNotes(info)...)
	r.modules = modulesOf(info)
	settings := SettingMap(info.Settings)
	if mode := settings["-buildmode"]; mode != "plugin" {
		r.Mismatches = append(r.Mismatches, Mismatch{What: "file", Plugin: "built with -buildmode=" + orNone(mode), Gateway: "a Go plugin (-buildmode=plugin)"})
		return r, nil
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		r.Mismatches = append(r.Mismatches, Mismatch{What: "target", Plugin: goos + "/" + goarch, Gateway: runtime.GOOS + "/" + runtime.GOARCH})
		return r, nil
	}
	if info.GoVersion != runtime.Version() {
		r.Mismatches = append(r.Mismatches, Mismatch{What: "go version", Plugin: info.GoVersion, Gateway: runtime.Version()})
	}
	// Differences in build settings and module versions explain a mismatch; the package hashes
	// decide it, as they do for the Go runtime.
	var causes []Mismatch
	if h.info == nil {
		r.Notes = append(r.Notes, "build settings and modules not compared: the gateway binary has no build information")
	} else {
		causes = append(compareSettings(settings, SettingMap(h.info.Settings)), compareModules(info, h.info)...)
	}
	differ, err := differingPackages(f, h, r)
	switch {
	case err != nil:
		// Without hashes, any difference is taken as fatal: opening a file that fails would
		// poison its path for the life of the process.
		r.Notes = append(r.Notes, "package hashes not compared: "+err.Error())
		r.Mismatches = append(r.Mismatches, causes...)
	case len(differ) > 0:
		r.Mismatches = append(r.Mismatches, causes...)
		for _, pkg := range differ {
			r.Mismatches = append(r.Mismatches, Mismatch{What: "package " + pkg, Plugin: "compiled differently", Gateway: "this gateway's build"})
		}
	default:
		for _, c := range causes {
			if cpuLevel(c.What) && !lowerLevel(c.Plugin, c.Gateway) {
				// The runtime would load it, but its code may use instructions the machines
				// the gateway runs on lack: it would crash the gateway there, not refuse.
				r.Mismatches = append(r.Mismatches, c)
				r.Notes = append(r.Notes, fmt.Sprintf("%s: the plugin may use instructions that the CPUs this gateway is built for lack (plugin %s, gateway %s), which would crash the gateway", c.What, orNone(c.Plugin), orNone(c.Gateway)))
				continue
			}
			r.Notes = append(r.Notes, fmt.Sprintf("%s differs (plugin %s, gateway %s) but every shared package matches", c.What, orNone(c.Plugin), orNone(c.Gateway)))
		}
	}
	return r, nil
}

// differingPackages returns the packages plugin and gateway share whose link-time hashes differ,
// and records the plugin path in r.
func differingPackages(f *os.File, h *host, r *Report) ([]string, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("not an ELF file: %w", err)
	}
	defer ef.Close()
	pp, pkgs, err := pluginSymbols(ef)
	if err != nil {
		return nil, err
	}
	r.PluginPath = pp
	if h.hashes == nil {
		return nil, errors.New(h.note)
	}
	var differ []string
	for pkg, want := range pkgs {
		got, ok := h.hashes[pkg]
		switch {
		case !ok:
			r.brings = append(r.brings, pkg)
			if r.bringHashes == nil {
				r.bringHashes = map[string]string{}
			}
			r.bringHashes[pkg] = string(want)
		case string(got) != string(want):
			differ = append(differ, pkg)
		}
	}
	sort.Strings(differ)
	sort.Strings(r.brings)
	return differ, nil
}

// compareSettings lists the BuildSettings plugin and gateway have different values of.
func compareSettings(plugin, gw map[string]string) []Mismatch {
	var out []Mismatch
	for _, s := range BuildSettings {
		if p, g := s.value(plugin), s.value(gw); p != g {
			out = append(out, Mismatch{What: "build setting " + s.Key, Plugin: p, Gateway: g})
		}
	}
	return out
}

// cpuLevel reports whether what names a build setting that picks the instructions code may use
// (GOAMD64 and the like: BuildSettings with Archs).
func cpuLevel(what string) bool {
	for _, s := range BuildSettings {
		if len(s.Archs) > 0 && what == "build setting "+s.Key {
			return true
		}
	}
	return false
}

// lowerLevel reports whether a microarchitecture level (GOAMD64's v1 to v4) is known to be
// below another, so that code built for it runs wherever the other's does. Levels it cannot
// order (GOARM64's and the others') are not.
func lowerLevel(plugin, gw string) bool {
	p, okp := amd64Level(plugin)
	g, okg := amd64Level(gw)
	return okp && okg && p < g
}

func amd64Level(v string) (int, bool) {
	if len(v) != 2 || v[0] != 'v' || v[1] < '1' || v[1] > '4' {
		return 0, false
	}
	return int(v[1] - '0'), true
}

// compareModules lists the modules plugin and gateway both use at different versions. The
// gateway's own module is left to the package hashes: a plugin built against the gateway's
// source in a workspace records it as (devel) whatever the gateway's version.
func compareModules(plugin, gw *debug.BuildInfo) []Mismatch {
	have := map[string]*debug.Module{}
	for _, m := range gw.Deps {
		have[m.Path] = m
	}
	var out []Mismatch
	// Modules are matched by the path they are required as; what is compared is what each side
	// built with, the replacement where there is one: a fork or a local copy of a module the
	// gateway links is another module, whatever version it claims.
	for _, dep := range plugin.Deps {
		g, ok := have[dep.Path]
		if !ok || dep.Path == gw.Main.Path {
			continue
		}
		pm, gm := effective(dep), effective(g)
		if pm.Path != gm.Path || pm.Version != gm.Version || (gm.Sum != "" && pm.Sum != "" && gm.Sum != pm.Sum) {
			out = append(out, Mismatch{What: "module " + dep.Path, Plugin: describeModule(dep, pm), Gateway: describeModule(g, gm)})
		}
	}
	slices.SortFunc(out, func(a, b Mismatch) int { return strings.Compare(a.What, b.What) })
	return out
}

// describeModule names what a side built a required module with: its version, or the module
// that replaced it (a local directory has no version).
func describeModule(required, built *debug.Module) string {
	switch {
	case built.Path == required.Path:
		return built.Version
	case built.Version == "":
		return "replaced by the directory " + built.Path
	default:
		return "replaced by " + built.Path + " " + built.Version
	}
}

func effective(m *debug.Module) *debug.Module {
	if m.Replace != nil {
		return m.Replace
	}
	return m
}

// pluginSymbols reads, from a plugin's symbol table, its plugin path and the link-time hash it
// expects for each package: what runtime.plugin_lastmoduleinit compares with the host's.
func pluginSymbols(f *elf.File) (pluginPath string, hashes map[string][]byte, err error) {
	names := map[string]string{}
	links := map[string][]byte{}
	err = linkSymbols(f, elf.SHT_SYMTAB, func(s elf.Symbol) error {
		switch {
		case s.Name == "go:link.thispluginpath":
			b, err := symbolData(f, s)
			if err != nil {
				return err
			}
			pluginPath = string(b)
		case strings.HasPrefix(s.Name, "go:link.pkgname."):
			b, err := symbolData(f, s)
			if err != nil {
				return err
			}
			names[strings.TrimPrefix(s.Name, "go:link.pkgname.")] = string(b)
		case strings.HasPrefix(s.Name, "go:link.pkglinkhash."):
			b, err := symbolData(f, s)
			if err != nil {
				return err
			}
			links[strings.TrimPrefix(s.Name, "go:link.pkglinkhash.")] = b
		}
		return nil
	})
	if errors.Is(err, elf.ErrNoSymbols) {
		return "", nil, fmt.Errorf("reading the plugin's symbols: %w", err)
	}
	if err != nil {
		return "", nil, err
	}
	if pluginPath == "" {
		return "", nil, errors.New("the file has no plugin path symbol: it is not a Go plugin, or it was stripped")
	}
	hashes = make(map[string][]byte, len(names))
	for i, name := range names {
		if h, ok := links[i]; ok {
			hashes[name] = h
		}
	}
	return pluginPath, hashes, nil
}

// hostPackageHashes reads the link-time hash of every package of a binary that can load
// plugins (the linker records them when the binary imports package plugin).
func hostPackageHashes(exe string) (map[string][]byte, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("reading the gateway binary: %w", err)
	}
	defer f.Close()
	out := map[string][]byte{}
	collect := func(s elf.Symbol) error {
		if pkg, ok := strings.CutPrefix(s.Name, "go:link.pkghashbytes."); ok {
			b, err := symbolData(f, s)
			if err != nil {
				return err
			}
			out[pkg] = b
		}
		return nil
	}
	// A binary that can load plugins exports these symbols dynamically, so they are there even
	// when the binary is stripped (go test strips test binaries).
	err = linkSymbols(f, elf.SHT_DYNSYM, collect)
	if errors.Is(err, elf.ErrNoSymbols) {
		err = linkSymbols(f, elf.SHT_SYMTAB, collect)
		if errors.Is(err, elf.ErrNoSymbols) {
			return nil, fmt.Errorf("the gateway binary has no symbol table: %w", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the gateway binary records no package hashes (it cannot load plugins)")
	}
	return out, nil
}

// maxSymbolData is the most symbolData reads of one symbol: the symbols the pre-flight check
// reads hold a hash, a package path or a plugin path.
const maxSymbolData = 64 << 10

// symbolData reads the data of symbol s. The bounds are checked without adding addresses and
// sizes, which a hostile file can make wrap around.
func symbolData(f *elf.File, s elf.Symbol) ([]byte, error) {
	if int(s.Section) <= 0 || int(s.Section) >= len(f.Sections) {
		return nil, fmt.Errorf("symbol %s has no data section", s.Name)
	}
	sect := f.Sections[s.Section]
	if s.Value < sect.Addr || s.Size > sect.Size || s.Value-sect.Addr > sect.Size-s.Size {
		return nil, fmt.Errorf("symbol %s lies outside its section", s.Name)
	}
	if s.Size > maxSymbolData {
		return nil, fmt.Errorf("symbol %s holds %d bytes, more than the %d it may", s.Name, s.Size, maxSymbolData)
	}
	b := make([]byte, s.Size)
	if _, err := sect.ReadAt(b, int64(s.Value-sect.Addr)); err != nil {
		return nil, fmt.Errorf("reading symbol %s: %w", s.Name, err)
	}
	return b, nil
}

// tykNotes says which Tyk plugin API a plugin built from Tyk plugin source was built against.
func tykNotes(info *debug.BuildInfo) []string {
	var notes []string
	for _, m := range info.Deps {
		if m.Path != "github.com/TykTechnologies/tyk" && m.Path != "github.com/TykTechnologies/tyk-pump" {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Version == "(devel)" || m.Version == "" {
			notes = append(notes, fmt.Sprintf("a Tyk plugin: %s is Gatehouse's emulation of Tyk's plugin API (this gateway emulates Tyk %s)", m.Path, version.TykAPI))
		} else {
			notes = append(notes, fmt.Sprintf("links %s %s itself, not Gatehouse's emulation of it: its ctx calls will not see the gateway's sessions; build it with `gatehouse plugin build`", m.Path, m.Version))
		}
	}
	return notes
}
