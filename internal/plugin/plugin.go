// Package plugin opens native Go plugins (.so files built with -buildmode=plugin) safely:
//
//   - A hook's path resolves first to `{name}_{gateway version}_{GOOS}_{GOARCH}.so` beside it,
//     then to the path as given; a relative path is relative to the loader's base directory
//     (middleware_path), not to the working directory.
//   - Before Go's plugin.Open ever sees a file, Check compares it with the running gateway (Go
//     version, target, build settings, module versions, and the per-package hashes the Go
//     runtime compares) and refuses a mismatch with a readable diff. Go remembers a failed open
//     of a path until the process restarts, so a file that would fail is never opened.
//   - Each distinct file content is copied to a content-addressed cache and opened from there:
//     a file rebuilt in place is a new file to Go (never the old code served silently), and an
//     unchanged file that failed is not retried. The copy is hashed as it is written and must
//     have the content first hashed (a file changing meanwhile is refused, and not remembered as
//     failed: the content first hashed can still load), once per content
//     per process; a file found in the cache is never trusted. The cache directory
//     must be writable by the gateway's user only (it is created so, and refused otherwise): the
//     copy is checked, then opened by name. A content the cache could not take (refused, or the
//     copy not written) is not remembered as failed either: it is tried again once the cache is
//     fixed.
//   - Cache files of contents not loaded in this process are removed at start and at each
//     reload (PruneCache), once a grace period has passed.
//   - A file whose plugin path (its main package's module path) is already loaded from other
//     content is refused with what to do: Go cannot load two plugins with the same path.
//   - A plugin whose initialisation panicked leaves the package that panicked linked into the
//     process with its initialisation unfinished, which Go cannot run again: a later plugin
//     containing it would stop the process ("recursive call during initialization"). Such a
//     plugin is refused before Go opens it, until the gateway restarts. When the panic's stack
//     does not show the package, every package the plugin brought (that the gateway does not
//     link, and no plugin loaded before brought) is taken as unfinished.
//   - A missing symbol or a symbol of the wrong type is reported with the exported symbols the
//     file does have, and their types.
//
// Builds without cgo (or for platforms without plugin support) compile a stub that refuses every
// plugin with ErrUnsupported.
package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnsupported is returned by builds that cannot load Go plugins.
var ErrUnsupported = errors.New("this build cannot load Go plugins: gatehouse was built with CGO_ENABLED=0 or for a platform without plugin support; rebuild it with CGO_ENABLED=1 on linux, darwin or freebsd")

// ErrNotFound is returned when no candidate file of a hook exists.
var ErrNotFound = errors.New("plugin file not found")

// Loader opens plugins for a gateway: it resolves hook paths against its base directory and
// opens files through the process-wide registry.
type Loader struct {
	baseDir  string
	cacheDir string
	version  string
	log      *slog.Logger
}

// registry holds every plugin file this process opened or refused. It is process-wide because
// Go's own plugin table is: a plugin opened by one gateway in the process is loaded for all.
var registry = struct {
	// opening is held while a content is opened (copied to the cache, checked, opened by Go,
	// its init functions run): one at a time, since two plugins bringing one package must not
	// initialise it at once (Go would stop the process), and the checks against what earlier
	// plugins brought (byPlugin, pkgHashes, poisoned, loadedPkgs, read and written under it
	// alone) must see them all. mu guards the maps read by every open (byHash, known) and is
	// held only briefly: a content already opened or refused is answered while another's
	// init runs. Lock order: opening, then mu.
	opening  sync.Mutex
	mu       sync.Mutex
	byHash   map[string]*entry
	byPlugin map[string]string // plugin path → content hash of the file loaded under it
	known    map[string]known  // file → its content hash, while its identity is unchanged
	// Packages that came into the process with plugins, not linked by the gateway: those of
	// plugins that loaded, and those whose initialisation panicked (→ the entry of the plugin
	// that brought them).
	loadedPkgs map[string]bool
	poisoned   map[string]*entry
	// pkgHashes are the link-time hashes of the packages plugins brought into the process, as
	// the first plugin opened with each brought it (→ that plugin's entry): the Go runtime
	// compares a later plugin's copy of the package with that one.
	pkgHashes map[string]pkgCopy
}{byHash: map[string]*entry{}, byPlugin: map[string]string{}, known: map[string]known{},
	loadedPkgs: map[string]bool{}, poisoned: map[string]*entry{}, pkgHashes: map[string]pkgCopy{}}

// pkgCopy is the copy of a package a plugin brought into the process.
type pkgCopy struct {
	hash string
	from *entry
	// module is the module the package is in, in the plugin that brought it (Report.moduleOf).
	module string
}

// Options configure a Loader.
type Options struct {
	// BaseDir is where relative hook paths are resolved (middleware_path).
	BaseDir string
	// CacheDir is where opened files are copied by content hash; default BaseDir/.plugin-cache.
	CacheDir string
	// Version is the gateway version in versioned file names.
	Version string
	Logger  *slog.Logger
}

// NewLoader returns a Loader.
func NewLoader(o Options) *Loader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.BaseDir, ".plugin-cache")
	}
	return &Loader{
		baseDir:  o.BaseDir,
		cacheDir: o.CacheDir,
		version:  o.Version,
		log:      o.Logger,
	}
}

// entry is one file content, opened or refused.
type entry struct {
	hash        string
	file        string // the first file this content was opened from
	cached      string // the content-addressed copy opened
	pluginPath  string
	lib         library
	err         error
	symbols     []SymbolInfo // set once, by Plugin.Symbols
	symbolsOnce sync.Once
	loaded      time.Time // when it was opened (or refused)
}

// Plugin is an opened plugin file. Files of the same content share one loaded plugin, but each
// Plugin names the file it was opened from.
type Plugin struct {
	e    *entry
	file string
}

// File returns the file the plugin was opened from.
func (p *Plugin) File() string { return p.file }

// PluginPath returns the plugin's path (its main package's import path).
func (p *Plugin) PluginPath() string { return p.e.pluginPath }

// SHA256 returns the hex SHA-256 of the content loaded.
func (p *Plugin) SHA256() string { return p.e.hash }

// Loaded returns when this content was opened in this process (Go cannot unload it: it stays
// loaded from then on, and later opens of the same content share it).
func (p *Plugin) Loaded() time.Time { return p.e.loaded }

// VersionedName returns the file name the compiler gives a plugin named name for this gateway:
// `{name}_{version}_{GOOS}_{GOARCH}.so`.
func VersionedName(name, version, goos, goarch string) string {
	return fmt.Sprintf("%s_%s_%s_%s.so", strings.TrimSuffix(name, ".so"), version, goos, goarch)
}

// IsVersionedName reports whether file (a base name) is VersionedName(name, version, goos,
// goarch) for some non-empty version, GOOS and GOARCH: the file the compiler writes for a plugin
// named name, for this gateway or another. name may end in ".so" (a hook path's base name).
func IsVersionedName(file, name string) bool {
	rest, ok := strings.CutPrefix(file, strings.TrimSuffix(name, ".so")+"_")
	if !ok {
		return false
	}
	if rest, ok = strings.CutSuffix(rest, ".so"); !ok {
		return false
	}
	// GOOS and GOARCH hold no '_'; the version may.
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return false
	}
	j := strings.LastIndexByte(rest[:i], '_')
	return j > 0 && i-j > 1 && i < len(rest)-1
}

// Candidates returns the files a hook path may name, in the order Resolve tries them:
// `{name}_{version}_{GOOS}_{GOARCH}.so` beside it, the same without the "v" of the version, and
// the path as given. A relative path is relative to base (or the loader's base directory when
// base is "").
func (l *Loader) Candidates(base, path string) []string {
	if base == "" {
		base = l.baseDir
	}
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	dir, file := filepath.Split(p)
	name := strings.TrimSuffix(file, ".so")
	return []string{
		filepath.Join(dir, VersionedName(name, l.version, runtime.GOOS, runtime.GOARCH)),
		filepath.Join(dir, VersionedName(name, strings.TrimPrefix(l.version, "v"), runtime.GOOS, runtime.GOARCH)),
		p,
	}
}

// Resolve returns the file a hook path names: the first of its Candidates that is a regular
// file.
func (l *Loader) Resolve(base, path string) (string, error) {
	return l.ResolveAmong(base, path, "", func(c string) bool {
		fi, err := os.Stat(c)
		return err == nil && fi.Mode().IsRegular()
	})
}

// ResolveAmong returns the first of a hook path's Candidates that has reports present: the
// resolution Resolve makes on disk, made among a set of files (a bundle's, verified: the gateway
// opens no other file of a bundle). where, when set, says what that set is in the error when none
// is (ErrNotFound).
func (l *Loader) ResolveAmong(base, path, where string, has func(file string) bool) (string, error) {
	candidates := l.Candidates(base, path)
	for _, c := range candidates {
		if has(c) {
			return c, nil
		}
	}
	if where != "" {
		where = " " + where
	}
	return "", fmt.Errorf("%w%s: tried %s", ErrNotFound, where, strings.Join(candidates, ", "))
}

// Open resolves path and opens the file it names.
func (l *Loader) Open(base, path string) (*Plugin, error) {
	if !supported {
		return nil, ErrUnsupported
	}
	file, err := l.Resolve(base, path)
	if err != nil {
		return nil, err
	}
	return l.OpenFile(file)
}

// OpenFile opens a plugin file, or returns why it cannot be opened. The result for a given
// content is remembered, success or failure, for the life of the process.
func (l *Loader) OpenFile(file string) (*Plugin, error) {
	return l.OpenFileVerified(file, "")
}

// ErrPathLoaded is matched by the error for a file whose plugin path is already loaded from
// other content: a rebuild that kept its plugin path, which Go cannot load beside the first.
var ErrPathLoaded = errors.New("plugin path already loaded")

// pathLoadedError is ErrPathLoaded saying which file and which loaded plugin, and what to do.
type pathLoadedError struct{ msg string }

func (e *pathLoadedError) Error() string        { return e.msg }
func (e *pathLoadedError) Is(target error) bool { return target == ErrPathLoaded }

// ErrPackageLoaded is matched by the error for a file containing a package that an earlier plugin
// brought into the process compiled differently: Go loads one copy of a package per process, and
// would refuse the file ("plugin was built with a different version of package").
var ErrPackageLoaded = errors.New("a package of the plugin is loaded already, compiled differently")

// PackageLoadedError is ErrPackageLoaded naming the package and the plugin that brought it.
type PackageLoadedError struct {
	File    string // the plugin refused
	Package string // the package it contains compiled differently
	Earlier string // the plugin that brought the package in
	// Module and EarlierModule are the package's module in each ("path version"; "" unknown).
	Module, EarlierModule string
}

func (e *PackageLoadedError) Is(target error) bool { return target == ErrPackageLoaded }

func (e *PackageLoadedError) Error() string {
	modules := ""
	if e.Module != e.EarlierModule && e.Module != "" && e.EarlierModule != "" {
		modules = fmt.Sprintf(" (module %s there, %s here)", e.EarlierModule, e.Module)
	}
	return fmt.Sprintf("%s cannot load beside the plugins loaded in this process: it contains package %s compiled differently from the copy %s brought in%s, "+
		"and Go loads one copy of a package per process, never unloading it. A plugin's own packages get a new path with each build id, "+
		"those of other modules do not: when the package is of a module its go.mod replaces with a local folder, an edit there changed what "+
		"other packages see of it (its exported API, constants, inlined functions), and restarting the gateway loads this build; "+
		"when two plugins use different versions of one module, build them with the same version",
		e.File, e.Package, e.Earlier, modules)
}

// ErrChanged is returned when a file no longer has the content it was verified with.
var ErrChanged = errors.New("the plugin file changed after it was verified")

// OpenFileVerified opens a plugin file whose content must have the SHA-256 want (hex; "" takes
// any). What is hashed is what is checked and opened, so a file swapped after verification is
// refused, never loaded: the file is hashed as it is read, and a new content is read a second
// time into the cache, hashed again as it is written there, and refused if the two differ. Both
// reads stream through a small buffer: a plugin is tens of megabytes, which the gateway would
// otherwise hold in its heap, and keep in its resident memory, for each content it opens.
//
// A file is not read again while its identity (inode, size, modification and change times) is
// the one it had when it was last hashed, provided that was settled then (see settled): its
// content is the one already opened or refused. A file overwritten in place gets a new change
// time, so it is read, hashed and opened as the new content it is.
func (l *Loader) OpenFileVerified(file, want string) (*Plugin, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading plugin: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading plugin: %w", err)
	}
	id, identified := identify(fi)
	if identified {
		registry.mu.Lock()
		k, ok := registry.known[file]
		registry.mu.Unlock()
		if ok && k.id == id {
			if err := verify(file, k.hash, want); err != nil {
				return nil, err
			}
			e, _ := opened(k.hash)
			return e.plugin(file)
		}
	}

	start := time.Now()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading plugin: %w", err)
	}
	hashed.Add(1)
	hash := hex.EncodeToString(h.Sum(nil))
	if err := verify(file, hash, want); err != nil {
		return nil, err
	}

	e, err := l.openContent(file, hash, f)
	if err != nil {
		return nil, err
	}
	if identified && settled(f, id, start) {
		registry.mu.Lock()
		registry.known[file] = known{id: id, hash: hash}
		registry.mu.Unlock()
	}
	return e.plugin(file)
}

// openContent returns the entry of the content hash, read from f (the file named file),
// opening it when this process has not: one content at a time, under registry.opening, while
// contents already opened or refused are answered under registry.mu alone, without waiting
// for an open under way (whose init functions may run long, or for ever).
func (l *Loader) openContent(file, hash string, f *os.File) (*entry, error) {
	if e, ok := opened(hash); ok {
		return e, nil
	}
	registry.opening.Lock()
	defer registry.opening.Unlock()
	if e, ok := opened(hash); ok { // opened while this call waited
		return e, nil
	}
	e := &entry{hash: hash, file: file, loaded: time.Now()}
	e.err = l.open(e, f)
	var ce *cacheError
	if errors.Is(e.err, ErrChanged) || errors.As(e.err, &ce) {
		// The file changed while it was read, or the cache could not take the copy: what
		// failed is that read or the cache, not the content hashed, which must stay
		// loadable (a rollback to it, another API using it, or once the cache is fixed).
		l.log.Error("plugin not loaded", "file", file, "error", e.err)
		return nil, e.err
	}
	registry.mu.Lock()
	registry.byHash[hash] = e
	if e.err == nil {
		registry.byPlugin[e.pluginPath] = hash
	}
	registry.mu.Unlock()
	if e.err != nil {
		l.log.Error("plugin not loaded", "file", file, "error", e.err)
	} else {
		l.log.Info("plugin loaded", "file", file, "plugin_path", e.pluginPath, "sha256", hash[:12])
	}
	return e, nil
}

// opened returns the entry of a content this process opened or refused, under registry.mu.
func opened(hash string) (*entry, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	e, ok := registry.byHash[hash]
	return e, ok
}

// verify returns ErrChanged when want is set and the content's hash is not it.
func verify(file, hash, want string) error {
	if want != "" && hash != want {
		return fmt.Errorf("%s: %w (sha256 %s, verified %s)", file, ErrChanged, hash[:12], want[:min(12, len(want))])
	}
	return nil
}

// plugin returns the entry opened from file, or why it could not be opened.
func (e *entry) plugin(file string) (*Plugin, error) {
	switch {
	case e.err != nil && file != e.file:
		return nil, fmt.Errorf("%s has the content of %s, which could not be loaded: %w", file, e.file, e.err)
	case e.err != nil:
		return nil, e.err
	}
	return &Plugin{e: e, file: file}, nil
}

// known is the content hash of a file when it had identity id.
type known struct {
	id   fileID
	hash string
}

// fileID is what identifies a file's content without reading it. Writing to a file sets its
// change time to the current time, and no user can set it back.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // Unix nanoseconds
}

// racyMargin is how long before a read a file must have last changed for its identity to vouch
// for its content: longer than the timestamp granularity of any file system (2 s on FAT), so
// that a change after the read cannot leave the times as they were.
var racyMargin = 5 * time.Second

// beforeCopy, when set (by tests), is called between the two reads of a new content.
var beforeCopy func(file string)

// hashed counts the files read and hashed, for tests.
var hashed atomic.Int64

// settled reports whether the file f, read from start on, had identity id throughout, and
// had last changed well before: then a later change of content shows in its identity.
func settled(f *os.File, id fileID, start time.Time) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	after, ok := identify(fi)
	limit := start.Add(-racyMargin).UnixNano()
	return ok && after == id && id.mtime < limit && id.ctime < limit
}

func (l *Loader) open(e *entry, f *os.File) error {
	if !supported {
		return ErrUnsupported
	}
	// Everything from here works on the content-addressed copy of the content hashed above, so
	// the file checked is the file opened.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &cacheError{fmt.Errorf("reading plugin: %w", err)}
	}
	if beforeCopy != nil {
		beforeCopy(e.file)
	}
	cached, err := l.cacheCopy(e.hash, f)
	if err != nil {
		if !errors.Is(err, ErrChanged) {
			err = &cacheError{err}
		}
		return err
	}
	e.cached = cached
	rep, err := Check(cached)
	if err != nil {
		return fmt.Errorf("checking plugin: %w", err)
	}
	rep.File = e.file
	if err := rep.Err(); err != nil {
		return err
	}
	e.pluginPath = rep.PluginPath
	if prev, ok := registry.byPlugin[e.pluginPath]; ok && e.pluginPath != "" {
		return &pathLoadedError{fmt.Sprintf("%s: plugin path %q is already loaded from %s (other content); Go cannot load two plugins with the same path in one process. "+
			"Rebuild this one with a new build id (gatehouse plugin build NAME NEW_BUILD_ID; without a build id, any change to its source gives one), point the API at the new file and reload, or restart the gateway",
			e.file, e.pluginPath, registry.byHash[prev].file)}
	}
	brings := rep.brings
	if brings == nil && e.pluginPath != "" {
		brings = []string{e.pluginPath} // the gateway's packages are unknown: its own at least
	}
	for _, pkg := range brings {
		if bad, ok := registry.poisoned[pkg]; ok {
			return &PoisonedError{File: e.file, Package: pkg, Panicked: bad.file, Reason: bad.err}
		}
	}
	for _, pkg := range rep.brings {
		if have, ok := registry.pkgHashes[pkg]; ok && have.hash != rep.bringHashes[pkg] {
			return &PackageLoadedError{File: e.file, Package: pkg, Earlier: have.from.file, Module: rep.moduleOf(pkg), EarlierModule: have.module}
		}
	}
	// Once Go has linked the file in (it loaded, or its initialisation panicked), its copies of
	// packages new to the process are those later plugins are compared with.
	brought := func() {
		for _, pkg := range rep.brings {
			if _, ok := registry.pkgHashes[pkg]; !ok {
				registry.pkgHashes[pkg] = pkgCopy{hash: rep.bringHashes[pkg], from: e, module: rep.moduleOf(pkg)}
			}
		}
	}
	lib, err := openLibrary(cached)
	if err != nil {
		err = fmt.Errorf("opening %s: %w", e.file, err)
		var ip *initPanicError
		if errors.As(err, &ip) {
			brought()
			// Go linked the plugin's packages into the process (for good: it cannot unload
			// them) and left the initialisation of the one that panicked in progress; the
			// runtime initialises packages one after the other, so the others have finished or
			// not started, and a later plugin runs those that had not. When the stack does not
			// show which package panicked, every package the plugin brought is taken as
			// unfinished, but for those a plugin loaded before brought, which finished.
			e.err = err
			bad := brings
			if slices.Contains(brings, ip.pkg) {
				bad = []string{ip.pkg}
			}
			for _, pkg := range bad {
				if !registry.loadedPkgs[pkg] {
					registry.poisoned[pkg] = e
				}
			}
			// Its module is loaded under its plugin path all the same: another content with
			// that path is refused as if this one had loaded, before Go refuses it.
			if e.pluginPath != "" {
				registry.byPlugin[e.pluginPath] = e.hash
			}
		}
		return err
	}
	for _, pkg := range brings {
		registry.loadedPkgs[pkg] = true
	}
	brought()
	e.lib = lib
	return nil
}

// initPanicError is a panic in a plugin's init functions.
type initPanicError struct {
	value string
	stack []byte
	pkg   string // the package whose initialisation panicked, "" when not known
}

func (e *initPanicError) Error() string {
	return fmt.Sprintf("the plugin panicked while initialising: %s\n%s", e.value, e.stack)
}

// initPackage returns the package of an init function's symbol name ("example.com/a/b.init",
// "example.com/a/b.init.0"), "" when it is no init function. The symbol escapes the dots (and
// a few other bytes) of the path's last element as %xx.
func initPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/') + 1
	dot := strings.IndexByte(fn[slash:], '.')
	if dot < 0 {
		return ""
	}
	pkg, name := fn[:slash+dot], fn[slash+dot+1:]
	if n, ok := strings.CutPrefix(name, "init."); name != "init" && (!ok || n == "" || strings.Trim(n, "0123456789") != "") {
		return ""
	}
	if p, err := url.PathUnescape(pkg); err == nil {
		pkg = p
	}
	return pkg
}

// PoisonedError refuses a plugin containing a package whose initialisation panicked, in
// another plugin, earlier in this process.
type PoisonedError struct {
	File     string // the plugin refused
	Package  string // the package it shares with the plugin that panicked
	Panicked string // the plugin whose initialisation panicked
	Reason   error  // why that plugin failed
}

func (e *PoisonedError) Error() string {
	reason, _, _ := strings.Cut(e.Reason.Error(), "\n") // without the stack
	return fmt.Sprintf("%s cannot load in this process: it contains package %s, whose initialisation panicked earlier in this process "+
		"when it came in with %s (%s). Go cannot unload the package nor run its initialisation again, and would stop the gateway "+
		"if this plugin were opened. Fix what made the initialisation panic, then restart the gateway to load this plugin",
		e.File, e.Package, e.Panicked, reason)
}

// cacheCopy writes data to the content-addressed cache and returns its path. It always writes:
// a file already there under that name is never trusted, whatever its size, as the cache outlives
// the process and anyone able to write there could have planted it. The registry calls this once
// per content per process, so a content is written once per process.
//
// The file written is the file checked and opened, by name: between the check and the open,
// only someone who can write to the cache directory could swap it. The directory is created
// private to the gateway's user, and a directory others can write to is refused.
func (l *Loader) cacheCopy(hash string, src io.Reader) (string, error) {
	if err := os.MkdirAll(l.cacheDir, 0o700); err != nil {
		return "", fmt.Errorf("creating the plugin cache: %w", err)
	}
	fi, err := os.Stat(l.cacheDir)
	if err != nil {
		return "", fmt.Errorf("creating the plugin cache: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("the plugin cache %s is writable by other users (mode %s), who could swap a plugin between its check and its load; "+
			"make it writable by the gateway's user only (chmod go-w %s)", l.cacheDir, fi.Mode().Perm(), l.cacheDir)
	}
	dst := filepath.Join(l.cacheDir, hash+".so")
	tmp, err := os.CreateTemp(l.cacheDir, ".tmp-*.so")
	if err != nil {
		return "", fmt.Errorf("writing the plugin cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing the plugin cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing the plugin cache: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hash {
		return "", fmt.Errorf("%w: it changed while it was read (sha256 %s, then %s); write plugins aside and rename them into place", ErrChanged, hash[:12], got[:12])
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("writing the plugin cache: %w", err)
	}
	return dst, nil
}

// cacheGrace is how long a cache file whose content this process has not loaded is kept: a
// gateway process sharing the cache directory may be between writing it and opening it.
var cacheGrace = 10 * time.Minute

// PruneCache removes the files of the loader's cache whose content is not loaded in this
// process: contents refused, opened by a process that has ended, or copies left half-written,
// once they are cacheGrace old. Loaded contents stay (Go has them mapped, and reads their symbols
// from there); a content refused is remembered, never copied again. The gateway calls it at
// start and at each reload, so that the cache does not fill the disk with every release ever
// opened; while a plugin is being opened it does nothing. It returns how many files it removed.
func (l *Loader) PruneCache() int {
	entries, err := os.ReadDir(l.cacheDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.log.Warn("the plugin cache could not be read to prune it", "dir", l.cacheDir, "error", err)
		}
		return 0
	}
	// No copy is written meanwhile, in this process. A plugin being opened holds the lock for
	// as long as its init functions run, which may be long, or for ever: the prune is then
	// left to a later call rather than wait (a reload must not wait for a plugin's init).
	if !registry.opening.TryLock() {
		l.log.Debug("a plugin is being opened; the plugin cache is pruned later")
		return 0
	}
	defer registry.opening.Unlock()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	limit := time.Now().Add(-cacheGrace)
	removed := 0
	for _, d := range entries {
		name := d.Name()
		hash, ok := strings.CutSuffix(name, ".so")
		if !ok || !d.Type().IsRegular() {
			continue
		}
		if !strings.HasPrefix(name, ".tmp-") {
			if _, err := hex.DecodeString(hash); err != nil || len(hash) != 2*sha256.Size {
				continue // not a file of the cache's
			}
			if e := registry.byHash[hash]; e != nil && e.lib != nil {
				continue
			}
		}
		fi, err := d.Info()
		if err != nil || fi.ModTime().After(limit) {
			continue
		}
		if err := os.Remove(filepath.Join(l.cacheDir, name)); err != nil {
			l.log.Warn("a plugin cache file could not be removed", "file", filepath.Join(l.cacheDir, name), "error", err)
			continue
		}
		removed++
	}
	if removed > 0 {
		l.log.Info("removed plugin cache files of contents not loaded in this process", "dir", l.cacheDir, "files", removed)
	}
	return removed
}

// cacheError is a failure to put a content in the cache (its directory refused, or the copy
// not written), which says nothing of the content: it is not remembered as the content's
// verdict, so that the content is looked at again once the cache is fixed, as the error asks.
type cacheError struct{ err error }

func (e *cacheError) Error() string { return e.err.Error() }
func (e *cacheError) Unwrap() error { return e.err }

// library is an opened plugin, as Go's plugin package gives it.
type library interface {
	Lookup(symbol string) (any, error)
}
