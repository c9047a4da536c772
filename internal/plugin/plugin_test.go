package plugin_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/version"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const hotDir = "internal/plugintest/testdata/hot"

// hot builds the hot test plugin under its own module path, reporting version v.
func hot(t *testing.T, modulePath, v string) []byte {
	t.Helper()
	data, err := os.ReadFile(plugintest.BuildModule(t, hotDir, modulePath, map[string]string{`"v1"`: `"` + v + `"`}))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t *testing.T, file string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// version runs the hot plugin's Version hook and returns what it reports.
func runVersion(t *testing.T, p *plugin.Plugin) string {
	t.Helper()
	fn, err := p.RequestHook("Version")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	fn(rec, httptest.NewRequest("GET", "/", nil))
	return rec.Header().Get("X-Plugin-Version")
}

// TestCacheFileNeverTrustedByName plants another plugin of the same size under the cache name of
// a genuine file: loading the genuine file runs the genuine code, never the planted one.
func TestCacheFileNeverTrustedByName(t *testing.T) {
	genuine := hot(t, "example.com/hot/genuine", "genuine")
	planted := hot(t, "example.com/hot/planted", "planted")
	// Same size: trailing bytes do not change what an ELF file loads.
	for len(genuine) < len(planted) {
		genuine = append(genuine, 0)
	}
	for len(planted) < len(genuine) {
		planted = append(planted, 0)
	}
	dir := t.TempDir()
	file := write(t, filepath.Join(dir, "genuine.so"), genuine)
	sum := sha256.Sum256(genuine)
	cache := filepath.Join(dir, "cache")
	write(t, filepath.Join(cache, hex.EncodeToString(sum[:])+".so"), planted)
	if err := os.Chmod(cache, 0o700); err != nil {
		t.Fatal(err)
	}

	l := plugin.NewLoader(plugin.Options{BaseDir: dir, CacheDir: cache, Version: version.Version})
	p, err := l.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := runVersion(t, p); got != "genuine" {
		t.Fatalf("the loaded code reports %q: the file planted in the cache was loaded", got)
	}
	if p.PluginPath() != "example.com/hot/genuine" {
		t.Errorf("plugin path %s", p.PluginPath())
	}

	// A cache directory others can write to is refused: they could swap a file between its
	// check and its load.
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	l = plugin.NewLoader(plugin.Options{BaseDir: dir, CacheDir: shared, Version: version.Version})
	// The loader remembers every content it saw, for the process's life: the directory's name
	// makes this one new to it on each run of the test (-count).
	_, err = l.OpenFile(write(t, filepath.Join(dir, "other.so"), []byte("content never opened before "+dir)))
	if err == nil || !strings.Contains(err.Error(), "chmod go-w "+shared) {
		t.Errorf("a world-writable cache: %v", err)
	}
}

// TestSameContentTwoPaths opens one content from two paths: each Plugin names its own file, in
// File() and in its errors.
func TestSameContentTwoPaths(t *testing.T) {
	data := hot(t, "example.com/hot/twopaths", "two")
	dir := t.TempDir()
	a := write(t, filepath.Join(dir, "a.so"), data)
	b := write(t, filepath.Join(dir, "b.so"), data)
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, Version: version.Version})
	pa, err := l.OpenFile(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := l.OpenFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if pa.File() != a || pb.File() != b {
		t.Errorf("File() = %s and %s, want %s and %s", pa.File(), pb.File(), a, b)
	}
	_, err = pb.RequestHook("Nope")
	if err == nil || !strings.Contains(err.Error(), b) || strings.Contains(err.Error(), a) {
		t.Errorf("the error for b.so names another file: %v", err)
	}
	if runVersion(t, pb) != "two" {
		t.Error("b.so does not run its code")
	}

	// A content that failed names the file asked for, and the one it failed as. (New to the
	// process on each run of the test: the loader remembers the contents it refused.)
	bad := []byte("not a plugin " + dir)
	c := write(t, filepath.Join(dir, "c.so"), bad)
	d := write(t, filepath.Join(dir, "d.so"), bad)
	if _, err := l.OpenFile(c); err == nil {
		t.Fatal("c.so opened")
	}
	if _, err := l.OpenFile(d); err == nil || !strings.HasPrefix(err.Error(), d+" has the content of "+c) || !strings.Contains(err.Error(), "not a Go binary") {
		t.Errorf("d.so: %v", err)
	}
}

// TestUnchangedFileNotRehashed opens a file again and again: it is read and hashed again only
// while it may still change unseen (just written), or when it did change, in place included.
func TestUnchangedFileNotRehashed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("files are identified by their change time on linux only; elsewhere every open hashes")
	}
	dir := t.TempDir()
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, Version: version.Version})
	file := write(t, filepath.Join(dir, "x.so"), []byte("not a plugin "+t.Name()))
	opens := func(n int) int64 {
		t.Helper()
		before := plugin.Hashed()
		for range n {
			if _, err := l.OpenFile(file); err == nil || !strings.Contains(err.Error(), "not a Go binary") {
				t.Fatalf("open: %v", err)
			}
		}
		return plugin.Hashed() - before
	}
	if n := opens(2); n != 2 {
		t.Errorf("a file just written was hashed %d times in 2 opens; its times cannot vouch for it yet", n)
	}
	// As if the file had been written long ago.
	plugin.SetRacyMargin(t, -time.Hour)
	if n := opens(3); n != 1 {
		t.Errorf("an unchanged file was hashed %d times in 3 opens, want 1", n)
	}
	// Overwritten in place: the same inode, another content, which is what loads.
	before := plugin.Hashed()
	if err := os.WriteFile(file, hot(t, "example.com/hot/inplace", "in place"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := l.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := runVersion(t, p); got != "in place" || plugin.Hashed()-before != 1 {
		t.Errorf("after an overwrite in place: version %q, hashed %d times", got, plugin.Hashed()-before)
	}
}

// TestChangedWhileReadIsNotRemembered changes a plugin file between the read that hashes it and
// the read that copies it to the cache: that load fails with ErrChanged, and the content first
// hashed is not remembered as refused, so the file restored to it loads (a rollback, or another
// API using the same file, is not refused until the process restarts).
func TestChangedWhileReadIsNotRemembered(t *testing.T) {
	// A plugin is opened once per process, and the loader then serves its content without
	// reading it again: each run of the test (-count) needs a plugin of its own.
	data := hot(t, fmt.Sprintf("example.com/hot/changed%d", plugintest.Run(t)), "changed")
	dir := t.TempDir()
	file := write(t, filepath.Join(dir, "changed.so"), data)
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, CacheDir: filepath.Join(dir, "cache"), Version: version.Version})

	plugin.SetBeforeCopy(t, func(string) {
		if err := os.WriteFile(file, append(slices.Clone(data), 0), 0o644); err != nil {
			t.Error(err)
		}
	})
	if p, err := l.OpenFile(file); !errors.Is(err, plugin.ErrChanged) {
		t.Fatalf("a file changed between its two reads: %v, %v; want ErrChanged", p, err)
	}
	plugin.SetBeforeCopy(t, nil)

	write(t, file, data)
	p, err := l.OpenFile(file)
	if err != nil {
		t.Fatalf("the file restored to the content first hashed: %v", err)
	}
	if got := runVersion(t, p); got != "changed" {
		t.Errorf("version %q", got)
	}
}

// TestSymbolsConcurrent asks for a plugin's symbols from several goroutines at once, as two
// gateways (or two APIs) naming a missing hook of the same file do: the list is worked out once
// and shared, and -race finds no unguarded write.
func TestSymbolsConcurrent(t *testing.T) {
	dir := t.TempDir()
	// Not the genuine plugin of TestCacheFileNeverTrustedByName, which pads it to another
	// content when its build is shorter than the planted one's: Go loads one content per plugin
	// path. TestSameContentTwoPaths opens this one as built.
	file := write(t, filepath.Join(dir, "hot.so"), hot(t, "example.com/hot/twopaths", "two"))
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, Version: version.Version})
	p, err := l.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	lists := make([][]plugin.SymbolInfo, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := p.RequestHook("NoSuchHook"); err == nil || !strings.Contains(err.Error(), "Version") {
				t.Errorf("a missing hook's error does not list the file's symbols: %v", err)
			}
			lists[i] = p.Symbols()
		})
	}
	wg.Wait()
	for i, l := range lists {
		if !slices.ContainsFunc(l, func(s plugin.SymbolInfo) bool { return s.Name == "Version" }) {
			t.Errorf("goroutine %d got symbols %v, want Version among them", i, l)
		}
	}
}

// TestCacheRefusalIsNotRemembered: a content refused for the cache's sake (a cache directory
// others can write to), not its own, is looked at again once the cache is fixed, as the error
// asks, rather than refused until the process restarts.
func TestCacheRefusalIsNotRemembered(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, CacheDir: cache, Version: version.Version})
	// New to the process on each run of the test: the loader remembers the contents it refused.
	file := write(t, filepath.Join(dir, "p.so"), []byte("not a plugin either "+dir))
	_, err := l.OpenFile(file)
	if err == nil || !strings.Contains(err.Error(), "chmod go-w "+cache) {
		t.Fatalf("a world-writable cache: %v", err)
	}
	if err := os.Chmod(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = l.OpenFile(file)
	if err == nil || strings.Contains(err.Error(), "writable by other users") {
		t.Fatalf("after chmod go-w: %v; want the content's own verdict (not a plugin)", err)
	}
	t.Logf("after chmod go-w: %v", err)
}

// TestRaceMapping: only a race build for linux/amd64 asks to be mapped low, each slot at its own
// address below the Go heap's arenas, and the compiler's slots never fall among the test
// plugins' first ones.
func TestRaceMapping(t *testing.T) {
	race := map[string]string{"-race": "true"}
	for _, c := range []struct {
		settings    map[string]string
		goos, goarc string
	}{
		{map[string]string{"-race": "false"}, "linux", "amd64"},
		{map[string]string{}, "linux", "amd64"},
		{race, "linux", "arm64"},
		{race, "darwin", "amd64"},
	} {
		if f := plugin.RaceMapping(c.settings, c.goos, c.goarc, 1); f != nil {
			t.Errorf("%v %s/%s: %q, want no flag", c.settings, c.goos, c.goarc, f)
		}
	}
	seen := map[string]bool{}
	for _, slot := range []uint64{0, 1, 1279, 1280, 2559} {
		f := plugin.RaceMapping(race, "linux", "amd64", slot)
		if len(f) != 1 || !strings.HasPrefix(f[0], "-ldflags=-extldflags=-Wl,-Ttext-segment=0x") {
			t.Fatalf("slot %d: %q", slot, f)
		}
		addr, err := strconv.ParseUint(strings.TrimPrefix(f[0], "-ldflags=-extldflags=-Wl,-Ttext-segment="), 0, 64)
		if err != nil || addr < 0x10_0000_0000 || addr+0x1000_0000 > 0xc0_0000_0000 {
			t.Errorf("slot %d: address %#x (%v), want within [64 GiB, 768 GiB)", slot, addr, err)
		}
		if seen[f[0]] {
			t.Errorf("slot %d: %s given twice", slot, f[0])
		}
		seen[f[0]] = true
	}
	if a, b := plugin.RaceMapping(race, "linux", "amd64", 2560), plugin.RaceMapping(race, "linux", "amd64", 0); a[0] != b[0] {
		t.Errorf("slots past the last wrap around: %q, %q", a, b)
	}
	for _, p := range []string{"example.com/a", "example.com/b", "gatehouse-plugin/x_123"} {
		if s := plugin.NamedSlot(p); s < 1280 || s >= 2560 {
			t.Errorf("NamedSlot(%q) = %d, want in the upper half [1280, 2560)", p, s)
		}
	}
	if plugin.NamedSlot("example.com/a") == plugin.NamedSlot("example.com/b") {
		t.Error("two plugin paths share a slot")
	}
}

// TestInitPanicPoisonsItsPackages loads usea while the init of the package shared, which the
// gateway does not link, panics: usea fails. Go has linked shared into the process with its
// initialisation left in progress, so useb, which imports shared too, must be refused before Go
// opens it (Go would stop the process: "recursive call during initialization"), with what to do.
// A plugin without shared still loads.
func TestInitPanicPoisonsItsPackages(t *testing.T) {
	usea := plugintest.Build(t, "internal/plugintest/testdata/usea")
	useb := plugintest.Build(t, "internal/plugintest/testdata/useb")
	other := hot(t, "example.com/hot/after-init-panic", "after")
	dir := t.TempDir()
	flag := write(t, filepath.Join(dir, "panic-flag"), nil)
	t.Setenv("GATEHOUSE_TEST_SHARED_PANIC", flag)
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, Version: version.Version})

	_, err := l.OpenFile(usea)
	if err == nil || !strings.Contains(err.Error(), "panicked while initialising") {
		t.Fatalf("usea: %v; want its init panic", err)
	}
	// Only the package that panicked is left unfinished: the runtime initialises packages one
	// after the other, and usea's own had not started.
	const testdata = "github.com/gatehouse/gatehouse/internal/plugintest/testdata/"
	if !plugin.Poisoned(testdata+"shared") || plugin.Poisoned(testdata+"usea") {
		t.Errorf("poisoned: shared %v, usea %v; want shared only", plugin.Poisoned(testdata+"shared"), plugin.Poisoned(testdata+"usea"))
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	_, err = l.OpenFile(useb)
	if err == nil {
		t.Fatal("useb loaded, after its package shared panicked while initialising")
	}
	for _, want := range []string{
		useb,
		"github.com/gatehouse/gatehouse/internal/plugintest/testdata/shared",
		"panicked while initialising",
		usea,
		"restart the gateway",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("useb's error lacks %q:\n%v", want, err)
		}
	}
	p, err := l.OpenFile(write(t, filepath.Join(dir, "other.so"), other))
	if err != nil {
		t.Fatalf("a plugin without the package that panicked: %v", err)
	}
	if v := runVersion(t, p); v != "after" {
		t.Errorf("version %q", v)
	}
	// usec shares with usea the package zlater, whose initialisation had not started when
	// shared's panicked: it loads, and zlater is initialised.
	p, err = l.OpenFile(plugintest.Build(t, "internal/plugintest/testdata/usec"))
	if err != nil {
		t.Fatalf("usec, without the package that panicked: %v", err)
	}
	fn, err := p.RequestHook("Hook")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	fn(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Get("X-Zlater"); got != "ready" {
		t.Errorf("usec sees zlater.Ready %q, want \"ready\"", got)
	}
}

// TestPruneCache: the cache keeps the copies of contents loaded in this process, and of contents
// too recent to be sure no other process sharing it is about to open them; it loses the rest
// once old (a refused content, a content of an ended process, a half-written copy), and keeps
// files that are not its own.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	l := plugin.NewLoader(plugin.Options{BaseDir: dir, CacheDir: cache, Version: version.Version})
	data := hot(t, "example.com/hot/pruned-cache", "kept")
	// Loaded by an earlier run of the test in this process, the content is not copied here:
	// its copy is planted, as an earlier process would have left it.
	sum := sha256.Sum256(data)
	write(t, filepath.Join(cache, hex.EncodeToString(sum[:])+".so"), data)
	p, err := l.OpenFile(write(t, filepath.Join(dir, "loaded.so"), data))
	if err != nil {
		t.Fatal(err)
	}
	// New to the process on each run of the test: the loader remembers the contents it refused.
	refused := []byte("not a plugin " + dir)
	if _, err := l.OpenFile(write(t, filepath.Join(dir, "refused.so"), refused)); err == nil {
		t.Fatal("a file that is no plugin was loaded")
	}
	name := func(data []byte) string {
		sum := sha256.Sum256(data)
		return hex.EncodeToString(sum[:]) + ".so"
	}
	old := write(t, filepath.Join(cache, name([]byte("a release of an ended process "+dir))), []byte("old"))
	recent := write(t, filepath.Join(cache, name([]byte("written by another gateway just now "+dir))), []byte("recent"))
	partial := write(t, filepath.Join(cache, ".tmp-123.so"), []byte("half"))
	foreign := write(t, filepath.Join(cache, "notes.so"), []byte("not the cache's"))
	loaded, refusedCopy := filepath.Join(cache, p.SHA256()+".so"), filepath.Join(cache, name(refused))
	long := time.Now().Add(-24 * time.Hour)
	for _, f := range []string{loaded, refusedCopy, old, partial, foreign} {
		if err := os.Chtimes(f, long, long); err != nil {
			t.Fatal(err)
		}
	}

	if n := l.PruneCache(); n != 3 {
		t.Errorf("PruneCache removed %d files, want 3", n)
	}
	for f, want := range map[string]bool{loaded: true, recent: true, foreign: true, refusedCopy: false, old: false, partial: false} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
	if v := runVersion(t, p); v != "kept" {
		t.Errorf("the loaded plugin reports %q", v)
	}
	if _, err := l.OpenFile(filepath.Join(dir, "refused.so")); err == nil || !strings.Contains(err.Error(), "not a Go binary") {
		t.Errorf("the refused content, again: %v; want its verdict", err)
	}
	if _, err := os.Stat(refusedCopy); err == nil {
		t.Error("the refused content was copied to the cache again")
	}
}
