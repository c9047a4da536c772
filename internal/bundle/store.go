package bundle

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// ErrPending is returned for a bundle that is being downloaded for the first time: it is ready at
// a later reload, which the Store asks for when the download ends.
var ErrPending = errors.New("the bundle is being downloaded")

// Bundle is a verified bundle on disk.
type Bundle struct {
	Name string
	// Dir is the bundle's folder, absolute: the Store makes its own folder absolute, so that
	// the hook paths Merge makes and the keys of Hashes are the same paths.
	Dir      string
	Manifest *apidef.BundleManifest
	// Hashes maps each listed file's path (in Dir) to its SHA-256 as verified: a file must
	// still have it when it is loaded.
	Hashes map[string]string
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// Dir is where bundles are kept, one folder each (middleware_path/bundles).
	Dir string
	// Fetcher downloads bundles; nil when downloading is off, with NoFetch saying why.
	Fetcher *Fetcher
	NoFetch string
	// Key verifies signatures; nil verifies checksums only.
	Key *rsa.PublicKey
	// AllowUnsealed accepts, with Key, a signed bundle without a gatehouse_seal (built by Tyk's
	// tooling), whose hooks and file names nothing authenticates (bundle_allow_unsealed).
	AllowUnsealed bool
	Limits        Limits
	Log           *slog.Logger
	// OnChange is called, on its own goroutine, when a background download ends.
	OnChange func()
	// RetryAfter is how long a failed download is not retried.
	RetryAfter time.Duration
	// OnDownload, when set, is called at the end of every download with its time and error
	// (nil when the bundle was downloaded and verified).
	OnDownload func(d time.Duration, err error)
	// OnInvalid, when set, is called whenever a bundle, on disk or just downloaded, fails
	// verification.
	OnInvalid func()
	// KeepUnused is how many downloaded bundles no API uses Prune keeps whatever their age (the
	// most recently used), for a quick return to an earlier version; 0 uses DefaultKeepUnused, a
	// negative value keeps none. UnusedFor is how long a bundle must have gone unused before
	// Prune removes it; 0 uses DefaultUnusedFor, a negative value none.
	KeepUnused int
	UnusedFor  time.Duration
}

// DefaultKeepUnused is how many downloaded bundles no API uses stay on disk whatever their age,
// and DefaultUnusedFor how long the others stay after their last use.
const (
	DefaultKeepUnused = 3
	DefaultUnusedFor  = 7 * 24 * time.Hour
)

// downloadedDir, inside the store's folder, holds an empty file for each bundle the store
// downloaded (bundle names never start with '.'): Prune removes those folders only, never one
// placed by hand.
const downloadedDir = ".downloaded"

// Store keeps bundles on disk, verified on every use, and downloads missing ones in the
// background so that a slow or dead bundle server never holds up a reload.
type Store struct {
	o  StoreOptions
	mu sync.Mutex
	// pending holds the downloads running, each with a channel closed when it ends.
	pending map[string]chan struct{}
	failed  map[string]failure
	// last is the end of each bundle's last download, for the status page.
	last map[string]Download
	// inUse are the bundles in use at the last Prune: one no longer in use was used until now.
	inUse map[string]bool
	// unbound are the bundles verified with a seal that does not bind their name (an earlier
	// release's), already warned of: once per bundle, not at every reload.
	unbound map[string]bool

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type failure struct {
	err   error
	at    time.Time
	count int // failures in a row: the wait before the next attempt doubles with each
}

// maxRetryWait caps the wait between attempts at a bundle that keeps failing.
const maxRetryWait = 5 * time.Minute

func (f failure) wait(base time.Duration) time.Duration {
	w := base
	for i := 1; i < f.count && w < maxRetryWait; i++ {
		w *= 2
	}
	return min(w, maxRetryWait)
}

// NewStore returns a Store.
func NewStore(o StoreOptions) *Store {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Limits.MaxEntries == 0 {
		o.Limits = DefaultLimits
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = 5 * time.Second
	}
	if o.KeepUnused == 0 {
		o.KeepUnused = DefaultKeepUnused
	}
	if o.UnusedFor == 0 {
		o.UnusedFor = DefaultUnusedFor
	}
	// Hook paths are made absolute inside bundle folders; a relative store folder would be
	// joined to middleware_path a second time by the loader.
	if abs, err := filepath.Abs(o.Dir); err == nil {
		o.Dir = abs
	}
	// Files left by downloads a stopped process did not finish.
	if stale, err := filepath.Glob(filepath.Join(o.Dir, downloadPrefix+"*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{o: o, pending: map[string]chan struct{}{}, failed: map[string]failure{}, last: map[string]Download{},
		unbound: map[string]bool{}, ctx: ctx, cancel: cancel}
}

// Close stops downloads and waits for them, and closes the connections kept for the next one.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
	if s.o.Fetcher != nil {
		s.o.Fetcher.CloseIdleConnections()
	}
}

// Get returns the bundle named name, verified (checksum always; signature and seal with a
// key). A bundle not on disk is downloaded in the background: Get then returns ErrPending or,
// for a bundle whose download failed, that failure (while it waits to be tried again and while it
// is). A bundle on disk that fails verification is removed (and downloaded again when it can be)
// and its error returned: it is never used. While a bundle's download runs, Get reads nothing of
// its folder and reports the download the same way.
func (s *Store) Get(name string) (*Bundle, error) {
	if err := CheckBundleName(name); err != nil {
		return nil, err
	}
	// The folder is the full name: "auth.zip" and "auth" are two bundles.
	dir := filepath.Join(s.o.Dir, name)
	for try := 0; ; try++ {
		// While a download of name runs, the folder is the download's: extracted, then
		// verified, then removed if it fails. Verifying it beside the download, and removing it,
		// would make the download fail on a missing file and report that instead of its own
		// verdict. Only Get starts downloads, so once none runs the folder looked at is a cached
		// one.
		s.mu.Lock()
		if s.pending[name] != nil {
			defer s.mu.Unlock()
			return nil, s.startLocked(name, dir)
		}
		ended := s.last[name].At
		_, err := os.Stat(dir)
		s.mu.Unlock()
		if err != nil {
			return nil, s.start(name, dir)
		}
		b, err := s.verify(name, dir)
		if err == nil {
			return b, nil
		}
		if cachedInvalid != nil {
			cachedInvalid(name)
		}
		// Another Get may have found the same folder invalid meanwhile, removed it and
		// downloaded the bundle again: the folder there now (or the download still running) is
		// not the one verified, and removing it would throw away a verified bundle, or make its
		// download fail on a missing file. Only the folder verified is removed: the one there
		// while no download ran or ended. (A folder's identity would not tell: a new one may
		// get the inode of the one removed.)
		s.mu.Lock()
		if s.pending[name] != nil {
			defer s.mu.Unlock()
			return nil, s.startLocked(name, dir)
		}
		if !s.last[name].At.Equal(ended) {
			s.mu.Unlock()
			if try == 0 {
				continue // downloaded since: look at what the download left
			}
			return nil, err
		}
		os.RemoveAll(dir)
		s.startLocked(name, dir)
		s.mu.Unlock()
		s.o.Log.Error("a cached bundle failed verification and is removed", "bundle", name, "error", err)
		if s.o.OnInvalid != nil {
			s.o.OnInvalid()
		}
		return nil, err
	}
}

func (s *Store) verify(name, dir string) (*Bundle, error) {
	m, err := ReadManifest(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", name, err)
	}
	if err := CheckManifest(m); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", name, err)
	}
	if m.CustomMiddleware.Driver != apidef.GoPluginDriver {
		return nil, fmt.Errorf("bundle %s: driver %q; Gatehouse runs %q bundles only", name, m.CustomMiddleware.Driver, apidef.GoPluginDriver)
	}
	if err := CheckContents(dir, m); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", name, err)
	}
	files, err := VerifyFiles(m, dir, name, s.o.Key, s.o.AllowUnsealed)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", name, err)
	}
	s.noteBinding(name, m)
	hashes := make(map[string]string, len(files))
	for f, h := range files {
		hashes[filepath.Join(dir, filepath.FromSlash(f))] = h
	}
	return &Bundle{Name: name, Dir: dir, Manifest: m, Hashes: hashes}, nil
}

// noteBinding warns, once per bundle, of a bundle verified with a seal of a version that does not
// bind its name: it loads, as it did with the release that sealed it, but any bundle signed by
// the same key could have been served in its place.
func (s *Store) noteBinding(name string, m *apidef.BundleManifest) {
	if s.o.Key == nil || m.Seal == nil {
		return
	}
	s.mu.Lock()
	bound, warned := m.Seal.Version >= NameBoundSeal, s.unbound[name]
	if bound {
		delete(s.unbound, name)
	} else {
		s.unbound[name] = true
	}
	s.mu.Unlock()
	if !bound && !warned {
		s.o.Log.Warn("bundle sealed by an earlier release: its seal is not bound to its name, so another bundle signed by the same key "+
			"could be served in its place; rebuild it with `gatehouse bundle build -k KEY -o "+name+"`",
			"bundle", name, "seal_version", m.Seal.Version)
	}
}

// start begins a background download of name into dir unless one runs or failed recently,
// and returns what the caller should report meanwhile: ErrPending for a first download; for a
// bundle that failed, its last failure, also while it is tried again. A retry that fails the same
// way then changes nothing the gateway shows (and asks for no reload), and one that ends
// differently calls OnChange.
func (s *Store) start(name, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(name, dir)
}

// startLocked is start with s.mu held.
func (s *Store) startLocked(name, dir string) error {
	if s.o.Fetcher == nil {
		return fmt.Errorf("bundle %s is not on disk and cannot be downloaded: %s", name, s.o.NoFetch)
	}
	f, failed := s.failed[name]
	if s.pending[name] == nil && (!failed || time.Since(f.at) >= f.wait(s.o.RetryAfter)) {
		s.pending[name] = make(chan struct{})
		s.wg.Add(1)
		go s.download(name, dir)
	}
	if failed {
		return f.err
	}
	return ErrPending
}

// afterExtract, when set (by tests), is called by a download between extracting a bundle into
// its folder and verifying it there.
var afterExtract func(name string)

// cachedInvalid, when set (by tests), is called by Get when a bundle found on disk failed
// verification, before it is removed.
var cachedInvalid func(name string)

func (s *Store) download(name, dir string) {
	defer s.wg.Done()
	start := time.Now()
	err := func() error {
		if err := os.MkdirAll(s.o.Dir, 0o755); err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		file, size, err := s.o.Fetcher.FetchFile(s.ctx, s.o.Dir, name)
		if err != nil {
			return err
		}
		defer func() {
			file.Close()
			os.Remove(file.Name())
		}()
		if err := ExtractFrom(file, size, dir, s.o.Limits); err != nil {
			return fmt.Errorf("bundle %s: %w", name, err)
		}
		if afterExtract != nil {
			afterExtract(name)
		}
		if _, err := s.verify(name, dir); err != nil {
			os.RemoveAll(dir)
			if s.o.OnInvalid != nil {
				s.o.OnInvalid()
			}
			return err
		}
		s.markDownloaded(name)
		return nil
	}()
	if s.o.OnDownload != nil && s.ctx.Err() == nil {
		s.o.OnDownload(time.Since(start), err)
	}
	s.mu.Lock()
	done := s.pending[name]
	delete(s.pending, name)
	prev, failedBefore := s.failed[name]
	s.last[name] = Download{At: time.Now(), Err: err}
	changed := true
	if err != nil {
		f := failure{err: err, at: time.Now(), count: 1}
		if failedBefore {
			f.count = prev.count + 1
			// The same failure again changes nothing the gateway shows: no reload for it.
			changed = prev.err.Error() != err.Error()
		}
		s.failed[name] = f
	} else {
		delete(s.failed, name)
	}
	s.mu.Unlock()
	// Closed once what the gateway sees of the bundle has changed, so that a waiter's next
	// look (a reload) finds the result.
	defer close(done)
	if s.ctx.Err() != nil {
		return
	}
	if err != nil {
		s.o.Log.Error("bundle download failed", "bundle", name, "error", err)
	} else {
		s.o.Log.Info("bundle downloaded and verified", "bundle", name, "took", time.Since(start).Round(time.Millisecond))
	}
	if changed && s.o.OnChange != nil {
		s.o.OnChange()
	}
}

// Download is the end of a bundle's download: when, and why it failed (nil when the bundle was
// downloaded and verified).
type Download struct {
	At  time.Time
	Err error
}

// LastDownload returns the end of the last download of name by this Store, ok false when there
// was none (the bundle was on disk, or is being downloaded for the first time).
func (s *Store) LastDownload(name string) (d Download, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok = s.last[name]
	return d, ok
}

// Retain forgets what the Store remembers of the bundles not in names (the end of their last
// download, a failure's wait before the next attempt, the warning given for a seal that does not
// bind the name), unless a download of one runs: without
// it, each bundle name ever asked for (APIs created and deleted with new names) would be kept for
// the process's life. The folders on disk are Prune's. The gateway calls it after each reload
// with the names its APIs asked for.
func (s *Store) Retain(names map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.last {
		if !names[name] && s.pending[name] == nil {
			delete(s.last, name)
		}
	}
	for name := range s.failed {
		if !names[name] && s.pending[name] == nil {
			delete(s.failed, name)
		}
	}
	for name := range s.unbound {
		if !names[name] && s.pending[name] == nil {
			delete(s.unbound, name)
		}
	}
}

// markDownloaded notes that the store downloaded name, now: Prune may remove its folder once no
// API uses it. Without the note (it could not be written) the folder stays, as one placed by
// hand does.
func (s *Store) markDownloaded(name string) {
	marks := filepath.Join(s.o.Dir, downloadedDir)
	if err := os.MkdirAll(marks, 0o755); err != nil {
		s.o.Log.Warn("bundle: could not note the download; its folder stays when no API uses it", "bundle", name, "error", err)
		return
	}
	if err := os.WriteFile(filepath.Join(marks, name), nil, 0o644); err != nil {
		s.o.Log.Warn("bundle: could not note the download; its folder stays when no API uses it", "bundle", name, "error", err)
	}
}

// Prune removes the folders of downloaded bundles that no API has used for UnusedFor (inUse:
// the bundles the APIs serving and the ones asked for name now), but the KeepUnused most
// recently used, so that a gateway whose APIs move from bundle to bundle (each release a new
// name) does not fill its disk, while a bundle unused for a while (an API switched off, or
// stored in a Redis that did not answer at a start) stays. A bundle's note (.downloaded/NAME)
// holds its last use: Prune sets it for every bundle in use. Folders the store did not download
// (placed by hand, or downloaded before Gatehouse noted downloads) stay, and so does a bundle
// being downloaded; with downloading off nothing is removed (it could not come back). A plugin
// already loaded from a removed folder goes on running; a bundle named again is downloaded
// again. It returns the names removed.
func (s *Store) Prune(inUse map[string]bool) []string {
	if s.o.Fetcher == nil {
		return nil
	}
	marks := filepath.Join(s.o.Dir, downloadedDir)
	entries, err := os.ReadDir(marks)
	if err != nil {
		return nil
	}
	now := time.Now()
	type unused struct {
		name string
		at   time.Time
	}
	var cands []unused
	s.mu.Lock()
	for _, e := range entries {
		name := e.Name()
		if CheckBundleName(name) != nil || s.pending[name] != nil {
			continue
		}
		mark := filepath.Join(marks, name)
		if inUse[name] {
			_ = os.Chtimes(mark, now, now) // its last use
			continue
		}
		if s.inUse[name] {
			// In use until this reload, however long ago the one before was.
			_ = os.Chtimes(mark, now, now)
		}
		if _, err := os.Lstat(filepath.Join(s.o.Dir, name)); errors.Is(err, fs.ErrNotExist) {
			// Removed by hand: a folder placed there later under the name is not the store's.
			os.Remove(mark)
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		cands = append(cands, unused{name, info.ModTime()})
	}
	s.inUse = maps.Clone(inUse)
	s.mu.Unlock()
	// Only reloads ask for bundles (Get), one at a time, and Prune runs in one: no download of
	// a candidate can start while its folder is removed.
	slices.SortFunc(cands, func(a, b unused) int { return b.at.Compare(a.at) }) // most recently used first
	var removed []string
	for i, c := range cands {
		if i < s.o.KeepUnused || now.Sub(c.at) < s.o.UnusedFor {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.o.Dir, c.name)); err != nil {
			s.o.Log.Warn("bundle: could not remove the folder of a bundle no API uses", "bundle", c.name, "error", err)
			continue
		}
		os.Remove(filepath.Join(marks, c.name))
		removed = append(removed, c.name)
	}
	if len(removed) > 0 {
		s.mu.Lock()
		for _, name := range removed {
			delete(s.last, name)
			delete(s.failed, name)
			delete(s.unbound, name)
		}
		s.mu.Unlock()
		s.o.Log.Info("removed the folders of downloaded bundles no API used for a while", "bundles", removed, "unused_for", s.o.UnusedFor)
	}
	return removed
}

// Dir returns the folder bundles are kept in, absolute: each bundle's folder is inside.
func (s *Store) Dir() string { return s.o.Dir }

// Signed reports whether bundles must carry a signature that verifies (public_key_path is
// set); without, only their checksum is checked.
func (s *Store) Signed() bool { return s.o.Key != nil }

// Pending returns a channel closed when the download of name now running ends, or nil when
// none runs.
func (s *Store) Pending(name string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.pending[name]; ch != nil {
		return ch
	}
	return nil
}

// Names splits an API's custom_middleware_bundle: one name, or a comma-separated list.
func Names(field string) []string {
	var out []string
	for _, n := range strings.Split(field, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Merge combines the hook sections of bundles, in order: arrays are concatenated; at most one
// bundle may set auth_check or traffic_logs; every hook path is joined to its bundle's folder
// (absolute, see Bundle.Dir), giving the very paths Bundle.Hashes holds.
func Merge(bundles []*Bundle) (apidef.MiddlewareSection, error) {
	out := apidef.MiddlewareSection{Driver: apidef.GoPluginDriver}
	in := func(b *Bundle, d apidef.MiddlewareDefinition) apidef.MiddlewareDefinition {
		if d.Path != "" {
			d.Path = filepath.Join(b.Dir, filepath.FromSlash(d.Path))
		}
		return d
	}
	authFrom, logsFrom := "", ""
	for _, b := range bundles {
		cm := b.Manifest.CustomMiddleware
		for _, d := range cm.Pre {
			out.Pre = append(out.Pre, in(b, d))
		}
		for _, d := range cm.PostKeyAuth {
			out.PostKeyAuth = append(out.PostKeyAuth, in(b, d))
		}
		for _, d := range cm.Post {
			out.Post = append(out.Post, in(b, d))
		}
		for _, d := range cm.Response {
			out.Response = append(out.Response, in(b, d))
		}
		if cm.AuthCheck.Name != "" {
			if authFrom != "" {
				return out, fmt.Errorf("bundles %s and %s both set auth_check; an API has one", authFrom, b.Name)
			}
			authFrom, out.AuthCheck = b.Name, in(b, cm.AuthCheck)
		}
		if cm.TrafficLogs.Name != "" {
			if logsFrom != "" {
				return out, fmt.Errorf("bundles %s and %s both set traffic_logs; an API has one", logsFrom, b.Name)
			}
			logsFrom, out.TrafficLogs = b.Name, in(b, cm.TrafficLogs)
		}
	}
	return out, nil
}
