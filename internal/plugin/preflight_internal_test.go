package plugin

import (
	"bytes"
	"debug/elf"
	"debug/plan9obj"
	"encoding/binary"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// The pre-flight check reads a plugin file's build information and its package hashes. These
// tests craft the files: a small ELF file holding a .go.buildinfo section written from a
// debug.BuildInfo (as the Go linker lays it out), and a symbol table with the symbols the Go
// linker gives a plugin (go:link.thispluginpath, go:link.pkgname.N, go:link.pkglinkhash.N) or a
// plugin-capable binary (go:link.pkghashbytes.PKG). The gateway's side is a host value. Real
// plugins built by plugintest go through the same check in plugin_test.go and the gateway's
// tests; here every branch gets an input of its own without a 20 s build.

// The fixes a refused file's error ends with.
const (
	fixRebuild = "fix: rebuild the plugin with this gateway's own compiler, `gatehouse plugin build`, which copies the gateway's Go version, build settings and module versions"
	fixNotGo   = "fix: point the hook at a Go plugin built with -buildmode=plugin (gatehouse plugin build does this)"
)

const (
	gatewayModule = "github.com/gatehouse/gatehouse"
	pluginModule  = "example.com/myplugin"
)

// Link-time package hashes.
var (
	hashRuntime = "\x0a\x14\xfe\x19\x3f\xfc\xaf\xc0"
	hashHTTP    = "\xf6\x77\x86\x71\xc6\x70\x37\xd1"
	hashSDK     = "\x11\x22\x33\x44\x55\x66\x77\x88"
	hashOther   = "\xde\xad\xbe\xef\xde\xad\xbe\xef"
)

// settings returns build settings: a build for this target with -trimpath and cgo, in mode,
// changed by edits ("" removes a setting).
func settings(mode string, edits map[string]string) []debug.BuildSetting {
	m := map[string]string{
		"-buildmode": mode, "-compiler": "gc", "-trimpath": "true", "CGO_ENABLED": "1",
		"GOOS": runtime.GOOS, "GOARCH": runtime.GOARCH,
	}
	if runtime.GOARCH == "amd64" {
		m["GOAMD64"] = "v1"
	}
	maps.Copy(m, edits)
	var out []debug.BuildSetting
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != "" {
			out = append(out, debug.BuildSetting{Key: k, Value: m[k]})
		}
	}
	return out
}

// gatewayInfo is the gateway's build information: its module, two dependencies and settings.
func gatewayInfo(edits map[string]string, deps ...*debug.Module) *debug.BuildInfo {
	if deps == nil {
		deps = []*debug.Module{
			{Path: "golang.org/x/net", Version: "v0.30.0", Sum: "h1:net30="},
			{Path: "github.com/redis/go-redis/v9", Version: "v9.7.0", Sum: "h1:redis97="},
		}
	}
	return &debug.BuildInfo{
		Path:     gatewayModule + "/cmd/gatehouse",
		Main:     debug.Module{Path: gatewayModule, Version: "v1.2.0"},
		Deps:     deps,
		Settings: settings("exe", edits),
	}
}

// pluginInfo is a plugin's build information: built against the gateway's source in a
// workspace (so the gateway's module is (devel)) and sharing golang.org/x/net with it.
func pluginInfo(edits map[string]string, deps ...*debug.Module) *debug.BuildInfo {
	if deps == nil {
		deps = []*debug.Module{
			{Path: gatewayModule, Version: "(devel)"},
			{Path: "golang.org/x/net", Version: "v0.30.0", Sum: "h1:net30="},
		}
	}
	return &debug.BuildInfo{
		Path:     pluginModule,
		Main:     debug.Module{Path: pluginModule, Version: "(devel)"},
		Deps:     deps,
		Settings: settings("plugin", edits),
	}
}

// gateway returns a host built as info whose packages have these hashes.
func gateway(info *debug.BuildInfo) *host {
	return &host{info: info, hashes: map[string][]byte{
		"runtime":                   []byte(hashRuntime),
		"net/http":                  []byte(hashHTTP),
		gatewayModule + "/sdk":      []byte(hashSDK),
		"golang.org/x/net/http2":    []byte(hashOther),
		"github.com/redis/go-redis": []byte(hashOther),
	}}
}

// buildInfoBlob lays out a binary's build information as the Go linker does (since Go 1.18):
// a 32-byte header with the magic and the inline-strings flag, then the Go version and the
// module information, each prefixed with its length, the latter between cmd/go's sentinels.
func buildInfoBlob(goVersion string, info *debug.BuildInfo) []byte {
	b := []byte("\xff Go buildinf:")
	b = append(b, 8, 2)
	b = append(b, make([]byte, 16)...)
	b = binary.AppendUvarint(b, uint64(len(goVersion)))
	b = append(b, goVersion...)
	mod := ""
	if info != nil {
		mod = "0w\xaf\x0c\x92t\b\x02A\xe1\xc1\a\xe6\xd6\x18\xe6" + info.String() + "\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
	}
	b = binary.AppendUvarint(b, uint64(len(mod)))
	return append(b, mod...)
}

// sym is a symbol of a crafted ELF file, with its data.
type sym struct {
	name string
	data string
	// undef gives the symbol no section; outside points it past its section's end.
	undef, outside bool
	// stored, when set, is the string the string table holds for the symbol, which ends with
	// its name: a linker may store a name as the tail of a longer one.
	stored string
	// copies, when set, is how many entries the symbol table holds for the symbol, all naming
	// the same string.
	copies int
}

// pluginSyms returns the symbols a plugin with path pp has for pkgs (package → link hash).
func pluginSyms(pp string, pkgs map[string]string) []sym {
	syms := []sym{{name: "go:link.thispluginpath", data: pp}}
	for i, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		n := string(rune('0' + i))
		syms = append(syms, sym{name: "go:link.pkgname." + n, data: pkg}, sym{name: "go:link.pkglinkhash." + n, data: pkgs[pkg]})
	}
	return append(syms, sym{name: "main.Version", data: "\x01"})
}

// elfFile describes a crafted ELF file.
type elfFile struct {
	buildInfo []byte // the .go.buildinfo section; nil for none
	syms      []sym  // nil for no symbol table (a stripped file)
	dynamic   bool   // the symbols in .dynsym instead of .symtab
	// compressed marks the symbol table compressed (SHF_COMPRESSED), which it is not.
	compressed bool
}

// write writes the file into a new temporary directory and returns its path.
func (spec elfFile) write(t *testing.T) string {
	t.Helper()
	const base = 0x400000
	type section struct {
		name string
		hdr  elf.Section64
		data []byte
	}
	sections := []*section{{}}
	shstr := []byte{0}
	add := func(name string, typ elf.SectionType, flags elf.SectionFlag, data []byte) (*section, int) {
		s := &section{name: name, data: data, hdr: elf.Section64{Name: uint32(len(shstr)), Type: uint32(typ), Flags: uint64(flags), Addralign: 8}}
		shstr = append(append(shstr, name...), 0)
		sections = append(sections, s)
		return s, len(sections) - 1
	}
	// Section contents start after the ELF header and the one program header; each section is
	// placed (offset and address) as it is added.
	off := uint64(64 + 56)
	place := func(s *section) {
		off = (off + 15) &^ 15
		s.hdr.Off, s.hdr.Size = off, uint64(len(s.data))
		if elf.SectionFlag(s.hdr.Flags)&elf.SHF_ALLOC != 0 {
			s.hdr.Addr = base + off
		}
		off += uint64(len(s.data))
	}
	if spec.buildInfo != nil {
		s, _ := add(".go.buildinfo", elf.SHT_PROGBITS, elf.SHF_ALLOC|elf.SHF_WRITE, spec.buildInfo)
		place(s)
	}
	if spec.syms != nil {
		var data []byte
		at := make([]uint64, len(spec.syms))
		for i, sy := range spec.syms {
			for len(data)%8 != 0 {
				data = append(data, 0)
			}
			at[i] = uint64(len(data))
			data = append(data, sy.data...)
		}
		ds, dataIndex := add(".data", elf.SHT_PROGBITS, elf.SHF_ALLOC|elf.SHF_WRITE, data)
		place(ds)
		strtab := []byte{0}
		var symtab bytes.Buffer
		must(t, binary.Write(&symtab, binary.LittleEndian, elf.Sym64{})) // the null symbol
		for i, sy := range spec.syms {
			stored := sy.name
			if sy.stored != "" {
				stored = sy.stored
			}
			s := elf.Sym64{Name: uint32(len(strtab) + len(stored) - len(sy.name)), Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_OBJECT),
				Shndx: uint16(dataIndex), Value: ds.hdr.Addr + at[i], Size: uint64(len(sy.data))}
			strtab = append(append(strtab, stored...), 0)
			if sy.undef {
				s.Shndx = uint16(elf.SHN_UNDEF)
			}
			if sy.outside {
				s.Value = ds.hdr.Addr + ds.hdr.Size
			}
			for range max(sy.copies, 1) {
				must(t, binary.Write(&symtab, binary.LittleEndian, s))
			}
		}
		symName, symType, strName := ".symtab", elf.SHT_SYMTAB, ".strtab"
		if spec.dynamic {
			symName, symType, strName = ".dynsym", elf.SHT_DYNSYM, ".dynstr"
		}
		var flags elf.SectionFlag
		if spec.compressed {
			flags = elf.SHF_COMPRESSED
		}
		ss, _ := add(symName, symType, flags, symtab.Bytes())
		place(ss)
		strs, strIndex := add(strName, elf.SHT_STRTAB, 0, strtab)
		place(strs)
		ss.hdr.Link, ss.hdr.Info, ss.hdr.Entsize = uint32(strIndex), 1, elf.Sym64Size
	}
	shs, shstrIndex := add(".shstrtab", elf.SHT_STRTAB, 0, nil)
	shs.data = shstr
	place(shs)
	shoff := (off + 7) &^ 7

	var f bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Shoff: shoff, Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64,
		Shnum: uint16(len(sections)), Shstrndx: uint16(shstrIndex),
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	must(t, binary.Write(&f, binary.LittleEndian, hdr))
	// One read-only segment mapping the sections' contents: debug/buildinfo reads through it.
	must(t, binary.Write(&f, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R),
		Vaddr: base, Paddr: base, Filesz: off, Memsz: off, Align: 16}))
	for _, s := range sections[1:] {
		f.Write(make([]byte, int(s.hdr.Off)-f.Len()))
		f.Write(s.data)
	}
	f.Write(make([]byte, int(shoff)-f.Len()))
	for _, s := range sections {
		must(t, binary.Write(&f, binary.LittleEndian, s.hdr))
	}
	return writeFile(t, "plugin.so", f.Bytes())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(file, data, 0o644))
	return file
}

// plugin writes a crafted plugin built with goVersion as info, with the package hashes pkgs.
func plugin(t *testing.T, goVersion string, info *debug.BuildInfo, pkgs map[string]string) string {
	t.Helper()
	return elfFile{buildInfo: buildInfoBlob(goVersion, info), syms: pluginSyms(pluginModule, pkgs)}.write(t)
}

// samePackages are a plugin's packages, compiled as the gateway's are, and one of its own.
func samePackages() map[string]string {
	return map[string]string{"runtime": hashRuntime, "net/http": hashHTTP, gatewayModule + "/sdk": hashSDK, pluginModule: hashOther}
}

// otherPackages are samePackages with net/http and the sdk compiled differently.
func otherPackages() map[string]string {
	m := samePackages()
	m["net/http"], m[gatewayModule+"/sdk"] = hashOther, hashOther
	return m
}

// refused returns the error a user gets for file with these mismatches (one per line) and fix.
func refused(file, fix string, lines ...string) string {
	return file + " cannot load into this gateway; it differs from it in:\n  - " + strings.Join(lines, "\n  - ") + "\n" + fix
}

// want is what a check must report.
type want struct {
	mismatches []Mismatch
	notes      []string
	err        string // the user's error; "" for a file that can load
	pluginPath string
	goVersion  string
}

func checkReport(t *testing.T, file string, h *host, w want) {
	t.Helper()
	r, err := check(file, h)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if r.File != file || r.PluginPath != w.pluginPath || r.GoVersion != w.goVersion {
		t.Errorf("file %q, plugin path %q, go version %q; want %q, %q, %q", r.File, r.PluginPath, r.GoVersion, file, w.pluginPath, w.goVersion)
	}
	if !reflect.DeepEqual(r.Mismatches, w.mismatches) {
		t.Errorf("mismatches:\n got %q\nwant %q", r.Mismatches, w.mismatches)
	}
	if !reflect.DeepEqual(r.Notes, w.notes) {
		t.Errorf("notes:\n got %q\nwant %q", r.Notes, w.notes)
	}
	if r.OK() != (w.err == "") {
		t.Errorf("OK() = %v", r.OK())
	}
	got := ""
	if err := r.Err(); err != nil {
		got = err.Error()
		var me *MismatchError
		if !errors.As(err, &me) || me.Report != r {
			t.Errorf("Err() is a %T, not a *MismatchError of the report", err)
		}
	}
	if got != w.err {
		t.Errorf("the user reads:\n%s\nwant:\n%s", got, w.err)
	}
}

func otherValue(v, a, b string) string {
	if v == a {
		return b
	}
	return a
}

// TestCheckNotAPlugin: files that are not Go plugins are refused with what they are and the
// fix of pointing at a Go plugin, before anything else is compared.
func TestCheckNotAPlugin(t *testing.T) {
	gw := gateway(gatewayInfo(nil))
	fileMismatch := func(plugin string) []Mismatch {
		return []Mismatch{{What: "file", Plugin: plugin, Gateway: "a Go plugin"}}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		want func(file string) want
	}{
		{name: "a shell script", file: filepath.Join("testdata", "preflight", "not-a-plugin.sh"), want: func(file string) want {
			return want{mismatches: fileMismatch("not a Go binary (unrecognized file format)"),
				err: refused(file, fixNotGo, "file: plugin not a Go binary (unrecognized file format), gateway a Go plugin")}
		}},
		{name: "an ELF file without Go build information", file: elfFile{syms: pluginSyms(pluginModule, samePackages())}.write(t), want: func(file string) want {
			return want{mismatches: fileMismatch("not a Go binary (not a Go executable)"),
				err: refused(file, fixNotGo, "file: plugin not a Go binary (not a Go executable), gateway a Go plugin")}
		}},
		{name: "a Go shared library", file: plugin(t, runtime.Version(), pluginInfo(map[string]string{"-buildmode": "c-shared"}), samePackages()), want: func(file string) want {
			return want{goVersion: runtime.Version(),
				mismatches: []Mismatch{{What: "file", Plugin: "built with -buildmode=c-shared", Gateway: "a Go plugin (-buildmode=plugin)"}},
				err:        refused(file, fixNotGo, "file: plugin built with -buildmode=c-shared, gateway a Go plugin (-buildmode=plugin)")}
		}},
		{name: "no build mode recorded", file: plugin(t, runtime.Version(), pluginInfo(map[string]string{"-buildmode": ""}), samePackages()), want: func(file string) want {
			return want{goVersion: runtime.Version(),
				mismatches: []Mismatch{{What: "file", Plugin: "built with -buildmode=(none)", Gateway: "a Go plugin (-buildmode=plugin)"}},
				err:        refused(file, fixNotGo, "file: plugin built with -buildmode=(none), gateway a Go plugin (-buildmode=plugin)")}
		}},
		// A real file: this test binary, a Go program.
		{name: "a Go program", file: exe, want: func(file string) want {
			return want{goVersion: runtime.Version(),
				mismatches: []Mismatch{{What: "file", Plugin: "built with -buildmode=exe", Gateway: "a Go plugin (-buildmode=plugin)"}},
				err:        refused(file, fixNotGo, "file: plugin built with -buildmode=exe, gateway a Go plugin (-buildmode=plugin)")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkReport(t, tc.file, gw, tc.want(tc.file))
		})
	}
}

// TestCheckMissingFile: a file that cannot be read is an error, not a report.
func TestCheckMissingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing.so")
	r, err := check(file, gateway(gatewayInfo(nil)))
	if r != nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), file) {
		t.Errorf("check = %v, %v; want no report and an error naming the file", r, err)
	}
}

// TestCheckTarget: a plugin for another OS or architecture is refused with both targets, and
// nothing else is compared (its Go version differs too, here).
func TestCheckTarget(t *testing.T) {
	gw := gateway(gatewayInfo(nil))
	here := runtime.GOOS + "/" + runtime.GOARCH
	goos, goarch := otherValue(runtime.GOOS, "windows", "linux"), otherValue(runtime.GOARCH, "arm64", "amd64")
	for _, tc := range []struct {
		name       string
		edits      map[string]string
		pluginSide string
	}{
		{name: "OS", edits: map[string]string{"GOOS": goos}, pluginSide: goos + "/" + runtime.GOARCH},
		{name: "architecture", edits: map[string]string{"GOARCH": goarch}, pluginSide: runtime.GOOS + "/" + goarch},
		{name: "both", edits: map[string]string{"GOOS": goos, "GOARCH": goarch}, pluginSide: goos + "/" + goarch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := plugin(t, "go1.21.0", pluginInfo(tc.edits), otherPackages())
			checkReport(t, file, gw, want{goVersion: "go1.21.0",
				mismatches: []Mismatch{{What: "target", Plugin: tc.pluginSide, Gateway: here}},
				err:        refused(file, fixRebuild, "target: plugin "+tc.pluginSide+", gateway "+here)})
		})
	}
}

// TestCheckGoVersion: a plugin built by another Go release is refused for it, even when every
// package hash matches; the other differences are listed with it.
func TestCheckGoVersion(t *testing.T) {
	t.Run("alone", func(t *testing.T) {
		file := plugin(t, "go1.25.3", pluginInfo(nil), samePackages())
		checkReport(t, file, gateway(gatewayInfo(nil)), want{goVersion: "go1.25.3", pluginPath: pluginModule,
			mismatches: []Mismatch{{What: "go version", Plugin: "go1.25.3", Gateway: runtime.Version()}},
			err:        refused(file, fixRebuild, "go version: plugin go1.25.3, gateway "+runtime.Version())})
	})
	t.Run("with a module and the packages", func(t *testing.T) {
		file := plugin(t, "go1.25.3", pluginInfo(nil,
			&debug.Module{Path: "golang.org/x/net", Version: "v0.29.0", Sum: "h1:net29="}), otherPackages())
		checkReport(t, file, gateway(gatewayInfo(nil)), want{goVersion: "go1.25.3", pluginPath: pluginModule,
			mismatches: []Mismatch{
				{What: "go version", Plugin: "go1.25.3", Gateway: runtime.Version()},
				{What: "module golang.org/x/net", Plugin: "v0.29.0", Gateway: "v0.30.0"},
				{What: "package " + gatewayModule + "/sdk", Plugin: "compiled differently", Gateway: "this gateway's build"},
				{What: "package net/http", Plugin: "compiled differently", Gateway: "this gateway's build"},
			},
			err: refused(file, fixRebuild,
				"go version: plugin go1.25.3, gateway "+runtime.Version(),
				"module golang.org/x/net: plugin v0.29.0, gateway v0.30.0",
				"package "+gatewayModule+"/sdk: plugin compiled differently, gateway this gateway's build",
				"package net/http: plugin compiled differently, gateway this gateway's build")})
	})
}

// TestCheckPackageHashes: the link-time hashes of the packages plugin and gateway share decide,
// as they do for the Go runtime; packages only the plugin has, and package names without a
// hash, are not compared.
func TestCheckPackageHashes(t *testing.T) {
	gw := gateway(gatewayInfo(nil))
	t.Run("all shared packages match", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(nil), samePackages())
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule})
	})
	t.Run("a package the gateway does not have", func(t *testing.T) {
		pkgs := samePackages()
		pkgs["example.com/only/in/plugin"] = hashOther
		file := plugin(t, runtime.Version(), pluginInfo(nil), pkgs)
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule})
	})
	t.Run("a package name without its hash", func(t *testing.T) {
		syms := pluginSyms(pluginModule, samePackages())
		syms = append(syms, sym{name: "go:link.pkgname.9", data: "net/http"}) // the hash of index 9 is missing
		file := elfFile{buildInfo: buildInfoBlob(runtime.Version(), pluginInfo(nil)), syms: syms}.write(t)
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule})
	})
	t.Run("two packages differ", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(nil), otherPackages())
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
			mismatches: []Mismatch{
				{What: "package " + gatewayModule + "/sdk", Plugin: "compiled differently", Gateway: "this gateway's build"},
				{What: "package net/http", Plugin: "compiled differently", Gateway: "this gateway's build"},
			},
			err: refused(file, fixRebuild,
				"package "+gatewayModule+"/sdk: plugin compiled differently, gateway this gateway's build",
				"package net/http: plugin compiled differently, gateway this gateway's build")})
	})
}

// TestCheckBuildSettings: settings that differ explain a refusal when packages differ, and are
// only noted when every shared package matches. Every setting of BuildSettings is compared; the
// others (-ldflags, -buildmode aside, VCS stamps) are not.
func TestCheckBuildSettings(t *testing.T) {
	gw := gateway(gatewayInfo(nil))
	pkgLines := []string{
		"package " + gatewayModule + "/sdk: plugin compiled differently, gateway this gateway's build",
		"package net/http: plugin compiled differently, gateway this gateway's build",
	}
	pkgMismatches := []Mismatch{
		{What: "package " + gatewayModule + "/sdk", Plugin: "compiled differently", Gateway: "this gateway's build"},
		{What: "package net/http", Plugin: "compiled differently", Gateway: "this gateway's build"},
	}

	t.Run("-trimpath dropped, packages differ", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(map[string]string{"-trimpath": ""}), otherPackages())
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
			mismatches: append([]Mismatch{{What: "build setting -trimpath", Plugin: "false", Gateway: "true"}}, pkgMismatches...),
			err:        refused(file, fixRebuild, append([]string{"build setting -trimpath: plugin false, gateway true"}, pkgLines...)...)})
	})
	t.Run("-race added, packages match", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(map[string]string{"-race": "true"}), samePackages())
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
			notes: []string{"build setting -race differs (plugin true, gateway false) but every shared package matches"}})
	})
	t.Run("-tags only in the gateway", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(nil), otherPackages())
		checkReport(t, file, gateway(gatewayInfo(map[string]string{"-tags": "netgo"})), want{goVersion: runtime.Version(), pluginPath: pluginModule,
			mismatches: append([]Mismatch{{What: "build setting -tags", Plugin: "", Gateway: "netgo"}}, pkgMismatches...),
			err:        refused(file, fixRebuild, append([]string{"build setting -tags: plugin (none), gateway netgo"}, pkgLines...)...)})
	})
	t.Run("settings not compared", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(map[string]string{"-ldflags": "-X main.v=1", "vcs.revision": "abc", "DefaultGODEBUG": "x=1"}), otherPackages())
		checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
			mismatches: pkgMismatches, err: refused(file, fixRebuild, pkgLines...)})
	})
	// Every setting that changes the code shared packages compile to, listed here rather than
	// read from BuildSettings, so that dropping one from it fails.
	for _, key := range []string{
		"-trimpath", "-race", "-msan", "-asan", "-tags", "-gcflags", "-asmflags",
		"CGO_ENABLED", "GOEXPERIMENT", "GOFIPS140", "GOAMD64", "GOARM64", "GOARM", "GO386", "GOPPC64", "GORISCV64",
	} {
		t.Run("compared "+key, func(t *testing.T) {
			i := slices.IndexFunc(BuildSettings, func(s BuildSetting) bool { return s.Key == key })
			if i < 0 {
				t.Fatalf("%s is not among the BuildSettings", key)
			}
			s := BuildSettings[i]
			value := "x"
			if s.Bool {
				value = "true"
			}
			// Set on the plugin's side only, the gateway having none (false for a flag).
			gwInfo := gatewayInfo(map[string]string{s.Key: ""})
			gwValue := ""
			if s.Bool {
				gwValue = "false"
			}
			file := plugin(t, runtime.Version(), pluginInfo(map[string]string{s.Key: value}), samePackages())
			if len(s.Archs) > 0 {
				// A level the gateway's cannot be shown to cover is refused (below).
				m := Mismatch{What: "build setting " + s.Key, Plugin: value, Gateway: gwValue}
				checkReport(t, file, gateway(gwInfo), want{goVersion: runtime.Version(), pluginPath: pluginModule,
					mismatches: []Mismatch{m},
					notes:      []string{"build setting " + s.Key + ": the plugin may use instructions that the CPUs this gateway is built for lack (plugin " + value + ", gateway (none)), which would crash the gateway"},
					err:        refused(file, fixRebuild, "build setting "+s.Key+": plugin "+value+", gateway (none)")})
				return
			}
			checkReport(t, file, gateway(gwInfo), want{goVersion: runtime.Version(), pluginPath: pluginModule,
				notes: []string{"build setting " + s.Key + " differs (plugin " + value + ", gateway " + orNone(gwValue) + ") but every shared package matches"}})
		})
	}
}

// TestCheckCPULevel: a plugin built for a newer CPU level than the gateway's (GOAMD64=v3 in a v1
// gateway) shares every package hash, so the runtime would load it, and its code could then
// crash the gateway on a machine the gateway runs on: it is refused. One built for an older
// level runs wherever the gateway does, and only gets a note.
func TestCheckCPULevel(t *testing.T) {
	gw := gateway(gatewayInfo(map[string]string{"GOAMD64": "v2"}))
	newer := plugin(t, runtime.Version(), pluginInfo(map[string]string{"GOAMD64": "v3"}), samePackages())
	checkReport(t, newer, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
		mismatches: []Mismatch{{What: "build setting GOAMD64", Plugin: "v3", Gateway: "v2"}},
		notes:      []string{"build setting GOAMD64: the plugin may use instructions that the CPUs this gateway is built for lack (plugin v3, gateway v2), which would crash the gateway"},
		err:        refused(newer, fixRebuild, "build setting GOAMD64: plugin v3, gateway v2")})
	older := plugin(t, runtime.Version(), pluginInfo(map[string]string{"GOAMD64": "v1"}), samePackages())
	checkReport(t, older, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
		notes: []string{"build setting GOAMD64 differs (plugin v1, gateway v2) but every shared package matches"}})
}

// TestCheckModules: modules both use at different versions (or sums) explain a refusal; modules
// only the plugin uses and the gateway's own module (which a plugin built in a workspace records
// as (devel)) are not compared; a replacement counts as the module it replaces it with.
func TestCheckModules(t *testing.T) {
	net := func(version, sum string) *debug.Module {
		return &debug.Module{Path: "golang.org/x/net", Version: version, Sum: sum}
	}
	redis := &debug.Module{Path: "github.com/redis/go-redis/v9", Version: "v9.7.0", Sum: "h1:redis97="}
	self := &debug.Module{Path: gatewayModule, Version: "(devel)"}
	replaced := func(m, by *debug.Module) *debug.Module {
		c := *m
		c.Replace = by
		return &c
	}
	pkgs := []Mismatch{
		{What: "package " + gatewayModule + "/sdk", Plugin: "compiled differently", Gateway: "this gateway's build"},
		{What: "package net/http", Plugin: "compiled differently", Gateway: "this gateway's build"},
	}
	for _, tc := range []struct {
		name          string
		plugin, gwMod []*debug.Module
		want          []Mismatch // the modules' mismatches, before the packages'
	}{
		{name: "same versions", plugin: []*debug.Module{self, net("v0.30.0", "h1:net30=")}},
		{name: "another version", plugin: []*debug.Module{self, net("v0.29.0", "h1:net29=")},
			want: []Mismatch{{What: "module golang.org/x/net", Plugin: "v0.29.0", Gateway: "v0.30.0"}}},
		{name: "another sum at the same version", plugin: []*debug.Module{net("v0.30.0", "h1:tampered=")},
			want: []Mismatch{{What: "module golang.org/x/net", Plugin: "v0.30.0", Gateway: "v0.30.0"}}},
		{name: "no sum on one side", plugin: []*debug.Module{net("v0.30.0", "")}},
		{name: "sorted by path", plugin: []*debug.Module{net("v0.31.0", "h1:net31="), {Path: redis.Path, Version: "v9.6.0"}},
			want: []Mismatch{
				{What: "module github.com/redis/go-redis/v9", Plugin: "v9.6.0", Gateway: "v9.7.0"},
				{What: "module golang.org/x/net", Plugin: "v0.31.0", Gateway: "v0.30.0"},
			}},
		{name: "a module only the plugin uses", plugin: []*debug.Module{{Path: "example.com/extra", Version: "v1.0.0"}}},
		{name: "the gateway's own module", plugin: []*debug.Module{{Path: gatewayModule, Version: "v0.0.0-20250101000000-abcdef123456"}}},
		{name: "replaced alike on both sides",
			plugin: []*debug.Module{replaced(net("v0.30.0", "h1:net30="), net("v0.31.0", "h1:net31="))},
			gwMod:  []*debug.Module{replaced(net("v0.30.0", "h1:net30="), net("v0.31.0", "h1:net31=")), redis}},
		{name: "replaced in the gateway only",
			plugin: []*debug.Module{net("v0.30.0", "h1:net30=")},
			gwMod:  []*debug.Module{replaced(net("v0.30.0", "h1:net30="), net("v0.31.0", "h1:net31=")), redis},
			want:   []Mismatch{{What: "module golang.org/x/net", Plugin: "v0.30.0", Gateway: "v0.31.0"}}},
		{name: "replaced in the plugin only",
			plugin: []*debug.Module{replaced(net("v0.30.0", "h1:net30="), net("v0.29.0", "h1:net29="))},
			want:   []Mismatch{{What: "module golang.org/x/net", Plugin: "v0.29.0", Gateway: "v0.30.0"}}},
		{name: "replaced by a fork claiming the same version",
			plugin: []*debug.Module{replaced(net("v0.30.0", "h1:net30="), &debug.Module{Path: "example.com/fork/net", Version: "v0.30.0", Sum: "h1:fork="})},
			want:   []Mismatch{{What: "module golang.org/x/net", Plugin: "replaced by example.com/fork/net v0.30.0", Gateway: "v0.30.0"}}},
		{name: "replaced by a local directory",
			plugin: []*debug.Module{replaced(net("v0.30.0", "h1:net30="), &debug.Module{Path: "../net"})},
			want:   []Mismatch{{What: "module golang.org/x/net", Plugin: "replaced by the directory ../net", Gateway: "v0.30.0"}}},
		{name: "the gateway's replacement by a fork, not in the plugin",
			plugin: []*debug.Module{net("v0.30.0", "h1:net30=")},
			gwMod:  []*debug.Module{replaced(net("v0.30.0", "h1:net30="), &debug.Module{Path: "example.com/fork/net", Version: "v0.30.0"}), redis},
			want:   []Mismatch{{What: "module golang.org/x/net", Plugin: "v0.30.0", Gateway: "replaced by example.com/fork/net v0.30.0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := gateway(gatewayInfo(nil, tc.gwMod...))
			file := plugin(t, runtime.Version(), pluginInfo(nil, tc.plugin...), otherPackages())
			mismatches := append(slices.Clip(tc.want), pkgs...)
			var lines []string
			for _, m := range mismatches {
				lines = append(lines, m.What+": plugin "+m.Plugin+", gateway "+m.Gateway)
			}
			checkReport(t, file, gw, want{goVersion: runtime.Version(), pluginPath: pluginModule,
				mismatches: mismatches, err: refused(file, fixRebuild, lines...)})
		})
	}
	t.Run("noted when the packages match", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(nil, net("v0.29.0", "h1:net29=")), samePackages())
		checkReport(t, file, gateway(gatewayInfo(nil)), want{goVersion: runtime.Version(), pluginPath: pluginModule,
			notes: []string{"module golang.org/x/net differs (plugin v0.29.0, gateway v0.30.0) but every shared package matches"}})
	})
}

// TestCheckUnreadableHashes: when the package hashes cannot be compared, the check says why in
// a note and refuses on any other difference, since opening a file Go refuses would poison its
// path for the life of the process; with no other difference, the file may load.
func TestCheckUnreadableHashes(t *testing.T) {
	info := pluginInfo(nil)
	blob := buildInfoBlob(runtime.Version(), info)
	raceBlob := buildInfoBlob(runtime.Version(), pluginInfo(map[string]string{"-race": "true"}))
	// A Plan 9 a.out whose build information says linux: readable, but not an ELF file.
	plan9 := func(blob []byte) []byte {
		var b bytes.Buffer
		must(t, binary.Write(&b, binary.BigEndian, [8]uint32{plan9obj.Magic386, 0, uint32(len(blob))}))
		return append(b.Bytes(), blob...)
	}
	bareHost := gateway(gatewayInfo(nil))
	bareHost.hashes, bareHost.note = nil, "the gateway binary records no package hashes (it cannot load plugins)"

	syms := pluginSyms(pluginModule, samePackages())
	withSym := func(name string, change func(*sym)) []sym {
		out := slices.Clone(syms)
		for i := range out {
			if out[i].name == name {
				change(&out[i])
			}
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		file       func(blob []byte) string
		h          *host
		note       string
		pluginPath string
		prefix     bool // note is a prefix: the rest is debug/elf's own wording
	}{
		{name: "stripped plugin", file: func(blob []byte) string { return elfFile{buildInfo: blob}.write(t) },
			note: "package hashes not compared: reading the plugin's symbols: no symbol section"},
		{name: "no plugin path", file: func(blob []byte) string {
			return elfFile{buildInfo: blob, syms: []sym{{name: "main.Version", data: "x"}}}.write(t)
		}, note: "package hashes not compared: the file has no plugin path symbol: it is not a Go plugin, or it was stripped"},
		{name: "a hash without data", file: func(blob []byte) string {
			return elfFile{buildInfo: blob, syms: withSym("go:link.pkglinkhash.0", func(s *sym) { s.undef = true })}.write(t)
		}, note: "package hashes not compared: symbol go:link.pkglinkhash.0 has no data section"},
		{name: "a package name outside its section", file: func(blob []byte) string {
			return elfFile{buildInfo: blob, syms: withSym("go:link.pkgname.1", func(s *sym) { s.outside = true })}.write(t)
		}, note: "package hashes not compared: symbol go:link.pkgname.1 lies outside its section"},
		{name: "the plugin path outside its section", file: func(blob []byte) string {
			return elfFile{buildInfo: blob, syms: withSym("go:link.thispluginpath", func(s *sym) { s.outside = true })}.write(t)
		}, note: "package hashes not compared: symbol go:link.thispluginpath lies outside its section"},
		{name: "the gateway records no hashes", file: func(blob []byte) string {
			return elfFile{buildInfo: blob, syms: syms}.write(t)
		}, h: bareHost, pluginPath: pluginModule,
			note: "package hashes not compared: the gateway binary records no package hashes (it cannot load plugins)"},
		{name: "not an ELF file", file: func(blob []byte) string { return writeFile(t, "plan9.so", plan9(blob)) },
			note: "package hashes not compared: not an ELF file: ", prefix: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = gateway(gatewayInfo(nil))
			}
			check1 := func(file string, w want) {
				t.Helper()
				if tc.prefix {
					r, err := check(file, h)
					if err != nil {
						t.Fatal(err)
					}
					if len(r.Notes) != 1 || !strings.HasPrefix(r.Notes[0], tc.note) {
						t.Fatalf("notes %q, want one starting %q", r.Notes, tc.note)
					}
					w.notes = r.Notes
				}
				checkReport(t, file, h, w)
			}
			t.Run("no other difference", func(t *testing.T) {
				check1(tc.file(blob), want{goVersion: runtime.Version(), pluginPath: tc.pluginPath, notes: []string{tc.note}})
			})
			t.Run("a build setting differs", func(t *testing.T) {
				file := tc.file(raceBlob)
				check1(file, want{goVersion: runtime.Version(), pluginPath: tc.pluginPath, notes: []string{tc.note},
					mismatches: []Mismatch{{What: "build setting -race", Plugin: "true", Gateway: "false"}},
					err:        refused(file, fixRebuild, "build setting -race: plugin true, gateway false")})
			})
			t.Run("the Go version differs", func(t *testing.T) {
				file := tc.file(buildInfoBlob("go1.24.0", info))
				check1(file, want{goVersion: "go1.24.0", pluginPath: tc.pluginPath, notes: []string{tc.note},
					mismatches: []Mismatch{{What: "go version", Plugin: "go1.24.0", Gateway: runtime.Version()}},
					err:        refused(file, fixRebuild, "go version: plugin go1.24.0, gateway "+runtime.Version())})
			})
		})
	}
}

// TestCheckGatewayWithoutBuildInfo: a gateway binary without build information compares no
// settings or modules, says so, and still decides by the package hashes.
func TestCheckGatewayWithoutBuildInfo(t *testing.T) {
	h := gateway(nil)
	note := "build settings and modules not compared: the gateway binary has no build information"
	t.Run("packages match", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(map[string]string{"-race": "true"}), samePackages())
		checkReport(t, file, h, want{goVersion: runtime.Version(), pluginPath: pluginModule, notes: []string{note}})
	})
	t.Run("packages differ", func(t *testing.T) {
		file := plugin(t, runtime.Version(), pluginInfo(map[string]string{"-race": "true"}), otherPackages())
		checkReport(t, file, h, want{goVersion: runtime.Version(), pluginPath: pluginModule, notes: []string{note},
			mismatches: []Mismatch{
				{What: "package " + gatewayModule + "/sdk", Plugin: "compiled differently", Gateway: "this gateway's build"},
				{What: "package net/http", Plugin: "compiled differently", Gateway: "this gateway's build"},
			},
			err: refused(file, fixRebuild,
				"package "+gatewayModule+"/sdk: plugin compiled differently, gateway this gateway's build",
				"package net/http: plugin compiled differently, gateway this gateway's build")})
	})
}

// TestCheckAgainstThisBinary runs the public Check, against the running test binary's own
// build information and package hashes, on a crafted plugin built like it but for one package.
func TestCheckAgainstThisBinary(t *testing.T) {
	if !supported {
		t.Skip("this binary cannot load plugins, so it records no package hashes")
	}
	info := HostBuildInfo()
	if info == nil {
		t.Skip("the test binary has no build information")
	}
	p := *info
	p.Path, p.Main = pluginModule, debug.Module{Path: pluginModule, Version: "(devel)"}
	p.Settings = nil
	for _, s := range info.Settings {
		if s.Key == "-buildmode" {
			s.Value = "plugin"
		}
		p.Settings = append(p.Settings, s)
	}
	host := hostOnce()
	if host.hashes == nil {
		t.Fatalf("no package hashes in the test binary: %s", host.note)
	}
	pkgs := map[string]string{"runtime": hashOther, pluginModule: hashOther}
	for _, pkg := range []string{"net/http", "errors"} {
		pkgs[pkg] = string(host.hashes[pkg])
	}
	file := plugin(t, runtime.Version(), &p, pkgs)
	r, err := Check(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mismatch{{What: "package runtime", Plugin: "compiled differently", Gateway: "this gateway's build"}}
	if !reflect.DeepEqual(r.Mismatches, want) || r.Notes != nil || r.PluginPath != pluginModule {
		t.Errorf("report %+v, want only package runtime to differ", r)
	}
	if got, want := r.Err().Error(), refused(file, fixRebuild, "package runtime: plugin compiled differently, gateway this gateway's build"); got != want {
		t.Errorf("the user reads:\n%s\nwant:\n%s", got, want)
	}
}

// TestHostPackageHashes reads a gateway binary's package hashes: from its dynamic symbols, else
// its symbol table, and says why when it cannot.
func TestHostPackageHashes(t *testing.T) {
	hashSyms := []sym{
		{name: "go:link.pkghashbytes.runtime", data: hashRuntime},
		{name: "go:link.pkghashbytes.net/http", data: hashHTTP},
		{name: "main.main", data: "\x90"},
	}
	wantHashes := map[string][]byte{"runtime": []byte(hashRuntime), "net/http": []byte(hashHTTP)}
	outside := slices.Clone(hashSyms)
	outside[1].outside = true
	// Names stored as the tail of a longer string, a long name (names past maxLinkName are
	// refused: see TestLinkNamesLimits), and a string that holds the prefix but names no symbol.
	long := "go:link.pkghashbytes.example.com/" + strings.Repeat("p", 3<<10)
	odd := []sym{
		{name: "main.decoy", data: "\x90", stored: "xgo:link.pkghashbytes.decoy.main.decoy"},
		{name: "go:link.pkghashbytes.runtime", data: hashRuntime, stored: "type:go:link.pkghashbytes.runtime"},
		{name: long, data: hashHTTP},
		{name: "go:link.pkghashbytes.net/http", data: hashHTTP, stored: "go:link.pkghashbytes.go:link.pkghashbytes.net/http"},
	}
	wantOdd := map[string][]byte{"runtime": []byte(hashRuntime), "net/http": []byte(hashHTTP), strings.TrimPrefix(long, "go:link.pkghashbytes."): []byte(hashHTTP)}
	for _, tc := range []struct {
		name string
		file func(t *testing.T) string
		want map[string][]byte
		err  string
	}{
		{name: "dynamic symbols", file: elfFile{syms: hashSyms, dynamic: true}.write, want: wantHashes},
		{name: "symbol table only", file: elfFile{syms: hashSyms}.write, want: wantHashes},
		{name: "names in the tails of strings, and long", file: elfFile{syms: odd, dynamic: true}.write, want: wantOdd},
		{name: "no symbols", file: elfFile{}.write, err: "the gateway binary has no symbol table: no symbol section"},
		{name: "no hashes", file: elfFile{syms: hashSyms[2:], dynamic: true}.write,
			err: "the gateway binary records no package hashes (it cannot load plugins)"},
		{name: "a hash outside its section", file: elfFile{syms: outside, dynamic: true}.write,
			err: "symbol go:link.pkghashbytes.net/http lies outside its section"},
		{name: "not an ELF file", file: func(t *testing.T) string {
			return filepath.Join("testdata", "preflight", "not-a-plugin.sh")
		}, err: "reading the gateway binary: bad magic number '[35 33 47 98]' in record at byte 0x0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hostPackageHashes(tc.file(t))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || got != nil {
					t.Errorf("got %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := hostPackageHashes(filepath.Join(t.TempDir(), "gatehouse"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "reading the gateway binary: ") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("this binary", func(t *testing.T) {
		if !supported {
			t.Skip("this binary cannot load plugins, so it records no package hashes")
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		got, err := hostPackageHashes(exe)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range []string{"runtime", "net/http", "plugin"} {
			if len(got[pkg]) == 0 {
				t.Errorf("no hash for %s among %d packages", pkg, len(got))
			}
		}
	})
}

// TestLinkSymbolsOfThisBinary reads this test binary's go:link. symbols the streaming way and
// checks them against debug/elf's decoding of every symbol, and that the streaming way allocates
// a small part of what that decoding does (the point of it: see linkSymbols).
func TestLinkSymbolsOfThisBinary(t *testing.T) {
	if !supported {
		t.Skip("this binary cannot load plugins, so it records no package hashes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct {
		name        string
		info, other byte
		section     elf.SectionIndex
		value, size uint64
	}
	for _, tc := range []struct {
		typ  elf.SectionType
		read func() ([]elf.Symbol, error)
	}{{elf.SHT_DYNSYM, f.DynamicSymbols}, {elf.SHT_SYMTAB, f.Symbols}} {
		all, err := tc.read()
		if errors.Is(err, elf.ErrNoSymbols) {
			continue // go test strips the symbol table
		}
		if err != nil {
			t.Fatal(err)
		}
		var want, got []key
		for _, s := range all {
			if strings.HasPrefix(s.Name, linkPrefix) {
				want = append(want, key{s.Name, s.Info, s.Other, s.Section, s.Value, s.Size})
			}
		}
		err = linkSymbols(f, tc.typ, func(s elf.Symbol) error {
			got = append(got, key{s.Name, s.Info, s.Other, s.Section, s.Value, s.Size})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%v: streaming read %d go:link. symbols, debug/elf %d; they differ", tc.typ, len(got), len(want))
		}
	}

	allocated := func(fn func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		fn()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	decoded := allocated(func() { _, _ = f.DynamicSymbols() })
	streamed := allocated(func() { _, _ = hostPackageHashes(exe) })
	t.Logf("decoding every dynamic symbol allocates %d KiB, reading the package hashes %d KiB", decoded>>10, streamed>>10)
	if streamed*4 > decoded {
		t.Errorf("reading the package hashes allocated %d bytes, not much less than decoding every dynamic symbol (%d)", streamed, decoded)
	}
}

// TestPackageConflictNamesModules: a package two plugins bring compiled differently is named
// with its module in each (the longest module path holding it), when they differ.
func TestPackageConflictNamesModules(t *testing.T) {
	r := &Report{modules: modulesOf(&debug.BuildInfo{Deps: []*debug.Module{
		{Path: "github.com/pkg/errors", Version: "v0.8.1"},
		{Path: "github.com/pkg", Version: "v1.0.0"},
		{Path: "example.com/lib", Version: "v0.0.0", Replace: &debug.Module{Path: "../lib"}},
		{Path: "github.com/pkg/errorsplus", Version: "v0.1.0"},
	}})}
	for pkg, want := range map[string]string{
		"github.com/pkg/errors":          "github.com/pkg/errors v0.8.1",
		"github.com/pkg/errors/internal": "github.com/pkg/errors v0.8.1",
		"github.com/pkg/other":           "github.com/pkg v1.0.0",
		"example.com/lib":                "example.com/lib v0.0.0 => ../lib",
		"example.com/library":            "",
	} {
		if got := r.moduleOf(pkg); got != want {
			t.Errorf("moduleOf(%s) = %q, want %q", pkg, got, want)
		}
	}
	e := &PackageLoadedError{File: "b.so", Package: "github.com/pkg/errors", Earlier: "a.so",
		Module: "github.com/pkg/errors v0.9.1", EarlierModule: "github.com/pkg/errors v0.8.1"}
	if want := "compiled differently from the copy a.so brought in (module github.com/pkg/errors v0.8.1 there, github.com/pkg/errors v0.9.1 here)"; !strings.Contains(e.Error(), want) {
		t.Errorf("the error lacks %q:\n%s", want, e.Error())
	}
	e.Module = e.EarlierModule
	if strings.Contains(e.Error(), "(module ") {
		t.Errorf("the same module in both is named as a difference:\n%s", e.Error())
	}
}
