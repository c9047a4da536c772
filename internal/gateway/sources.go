package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/plugin"
)

const (
	// sourceTimeout bounds one source plugin build.
	sourceTimeout = 10 * time.Minute
	// buildRetry is how long an unchanged folder whose build failed waits before it is built
	// again; a changed folder is built at once.
	buildRetry = time.Minute
	// maxParallelBuilds bounds the source builds running at once: each is a Go build.
	maxParallelBuilds = 2
)

// buildPending is the error of a hook whose source plugin, the folder dir, is being built, with
// the channel closed when its build ends (a pendingWork).
type buildPending struct {
	dir  string
	done <-chan struct{}
}

func (b *buildPending) Error() string { return "plugin source " + b.dir + " is being built" }

// sources compiles plugins that hooks name by their source folder, with the plugin compiler of
// this binary, in the background: a build never runs inside a reload. A folder not built yet
// starts a build and reports a *buildPending (its API keeps its previous version, or answers 503);
// when the build ends, the gateway reloads by itself.
//
// Each build goes to a folder named by its build id, which the compiler derives from the source:
// a folder that did not change is not built again (across restarts too, as builds are kept in
// middleware_path), and one that changed gets a new plugin path, so a reload serves the new code.
// One folder is never built twice at once, and at most maxParallelBuilds build together. A build
// that failed is tried again at once when the folder changes, else after buildRetry (the cause
// may be outside the source: a timeout, a missing C compiler).
type sources struct {
	dir      func() string // where builds go: named by the gateway's fingerprint, computed at the first build
	version  string
	log      *slog.Logger
	now      func() time.Time
	onChange func() // called, on its own goroutine, when a build ends
	slots    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	built   map[string]bool         // files built or checked by this process
	running map[string]*buildRun    // by source folder
	failed  map[string]buildFailure // by source folder
}

type buildRun struct {
	id   string
	done chan struct{}
}

type buildFailure struct {
	id  string
	err error
	at  time.Time
}

func newSources(middlewarePath, version string, log *slog.Logger, now func() time.Time, onChange func()) *sources {
	// Builds are kept per gateway fingerprint: a build made by another gatehouse binary (an
	// older version, other settings) would not load into this one. The fingerprint hashes the
	// source embedded in the binary (about 300 KB), so it is computed by the first build, not
	// by every start: a gateway without source plugins never reads those pages.
	dir := sync.OnceValue(func() string {
		fp, err := compiler.Fingerprint()
		if err != nil {
			fp = "unknown"
		}
		dir := filepath.Join(middlewarePath, ".plugin-builds", fp)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		return dir
	})
	ctx, cancel := context.WithCancel(context.Background())
	return &sources{
		dir: dir, version: version, log: log, now: now,
		onChange: onChange, slots: make(chan struct{}, maxParallelBuilds), ctx: ctx, cancel: cancel,
		built: map[string]bool{}, running: map[string]*buildRun{}, failed: map[string]buildFailure{},
	}
}

// close stops the builds running and waits for them.
func (s *sources) close() {
	s.cancel()
	s.wg.Wait()
}

// build returns the .so built from the source folder dir when it is ready; otherwise it starts
// a build in the background (unless one runs) and returns a *buildPending, or the error of a
// failed build that is not due to be tried again.
func (s *sources) build(dir string) (string, error) {
	o := compiler.Options{SrcDir: dir, OutDir: s.dir(), PerBuildDir: true, Name: buildName(dir), Version: s.version}
	file, id, err := compiler.Plan(o)
	if err != nil {
		return "", fmt.Errorf("building plugin source %s: %w", dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(file); err == nil {
		if s.built[file] {
			return file, nil
		}
		// A build kept from an earlier run is used only if it still loads into this gateway.
		rep, err := plugin.Check(file)
		if err == nil {
			err = rep.Err()
		}
		if err == nil {
			s.built[file] = true
			s.keep(dir, file)
			return file, nil
		}
		s.log.Warn("a kept plugin build does not load into this gateway; building it again", "source", dir, "file", file, "reason", err)
	}
	// A build of the folder running (of this version or an older one: the reload its end
	// brings builds this one) is not started twice.
	if run := s.running[dir]; run != nil {
		return "", &buildPending{dir: dir, done: run.done}
	}
	if f, ok := s.failed[dir]; ok && f.id == id {
		if next := f.at.Add(buildRetry); s.now().Before(next) {
			return "", fmt.Errorf("%w (the folder is built again when it changes, or at %s)", f.err, next.UTC().Format(time.RFC3339))
		}
	}
	run := &buildRun{id: id, done: make(chan struct{})}
	s.running[dir] = run
	s.wg.Add(1)
	o.BuildID = id
	go s.run(dir, o, run)
	return "", &buildPending{dir: dir, done: run.done}
}

// run builds one folder, at most maxParallelBuilds at once, and reports the end.
func (s *sources) run(dir string, o compiler.Options, run *buildRun) {
	defer s.wg.Done()
	var err error
	var file string
	select {
	case s.slots <- struct{}{}:
		file, err = s.compile(dir, o)
		<-s.slots
	case <-s.ctx.Done():
		err = s.ctx.Err()
	}
	s.mu.Lock()
	delete(s.running, dir)
	if err != nil {
		s.failed[dir] = buildFailure{id: run.id, err: err, at: s.now()}
	} else {
		delete(s.failed, dir)
		s.built[file] = true
		s.keep(dir, file)
	}
	s.mu.Unlock()
	close(run.done)
	if s.ctx.Err() == nil && s.onChange != nil {
		s.onChange()
	}
}

func (s *sources) compile(dir string, o compiler.Options) (string, error) {
	start := time.Now()
	s.log.Info("building plugin from source (the first build of a folder takes a while)", "source", dir, "build_id", o.BuildID)
	ctx, cancel := context.WithTimeout(s.ctx, sourceTimeout)
	defer cancel()
	res, err := compiler.Build(ctx, o)
	if err != nil {
		err = fmt.Errorf("building plugin source %s: %w", dir, err)
		s.log.Error("plugin build from source failed; its API fails closed", "source", dir, "error", err)
		return "", err
	}
	s.log.Info("plugin built from source", "source", dir, "file", res.File, "plugin_path", res.PluginPath, "took", time.Since(start).Round(time.Millisecond))
	return res.File, nil
}

// buildName is the plugin name a source folder builds as: its name, with what a file name
// of the compiler cannot hold (a space, say) replaced by '-', so that a folder named
// "my plugin" builds, as "my-plugin".
func buildName(dir string) string {
	b := []byte(filepath.Base(dir))
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' && i > 0) {
			b[i] = '-'
		}
	}
	if len(b) == 0 || b[0] == '-' || b[0] == '_' {
		b = append([]byte("plugin"), b...)
	}
	return string(b)
}

// sourceSuffix names the file beside a kept build that records the folder it was built from.
const sourceSuffix = ".source"

// keep records which folder file was built from, and removes the folder's other builds: each
// edit of a source folder is a new build, and without this they would pile up in
// middleware_path, one per edit. A removed build that this process loaded stays mapped; one a
// later edit brings back (a reverted change) is built again. Builds of other folders, of other
// gatehouse binaries (other fingerprints) and builds older than these records are left alone.
// s.mu is held.
func (s *sources) keep(dir, file string) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.WriteFile(file+sourceSuffix, []byte(dir), 0o644); err != nil {
		s.log.Warn("could not record a plugin build's source; its older builds are kept", "source", dir, "error", err)
		return
	}
	records, _ := filepath.Glob(filepath.Join(s.dir(), "*", "*"+sourceSuffix))
	for _, rec := range records {
		built := strings.TrimSuffix(rec, sourceSuffix)
		if from, err := os.ReadFile(rec); err != nil || string(from) != dir {
			continue
		}
		// Paths are compared as files: one path may be relative, the other not.
		if same, err := sameFile(built, file); same || err != nil && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		delete(s.built, built)
		err := os.Remove(built)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			err = os.Remove(rec)
		}
		if err != nil {
			s.log.Warn("could not remove an older build of a source plugin", "source", dir, "file", built, "error", err)
			continue
		}
		_ = os.Remove(filepath.Dir(built)) // its build folder, when nothing else is in it
		s.log.Info("removed an older build of a source plugin", "source", dir, "file", built)
	}
}

// sameFile reports whether the paths old and current name one file, whatever their form;
// the error is old's when it cannot be read (os.ErrNotExist: it is gone).
func sameFile(old, current string) (bool, error) {
	fo, err := os.Stat(old)
	if err != nil {
		return false, err
	}
	fc, err := os.Stat(current)
	if err != nil {
		return true, err // nothing is removed without knowing
	}
	return os.SameFile(fo, fc), nil
}
