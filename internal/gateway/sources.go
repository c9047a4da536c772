package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/plugin"
)

// sourceTimeout bounds one source plugin build.
const sourceTimeout = 10 * time.Minute

// sources compiles plugins that hooks name by their source folder, with the plugin compiler of
// this binary. Each build goes to a folder named by its build id, which the compiler derives from
// the source: a folder that did not change is not built again (across restarts too, as builds
// are kept in middleware_path), and one that changed gets a new plugin path, so a reload serves
// the new code. A build that failed is tried again at the next reload: the cause (a timeout, a
// toolchain download, a C compiler installed since) may be gone.
type sources struct {
	dir     string // where builds go
	version string
	log     *slog.Logger

	mu    sync.Mutex
	built map[string]bool // files built or checked by this process
}

func newSources(middlewarePath, version string, log *slog.Logger) *sources {
	// Builds are kept per gateway fingerprint: a build made by another gatehouse binary (an
	// older version, other settings) would not load into this one.
	fp, err := compiler.Fingerprint()
	if err != nil {
		fp = "unknown"
	}
	return &sources{dir: filepath.Join(middlewarePath, ".plugin-builds", fp), version: version, log: log, built: map[string]bool{}}
}

// build returns the .so built from the source folder dir.
func (s *sources) build(dir string) (string, error) {
	o := compiler.Options{SrcDir: dir, OutDir: s.dir, PerBuildDir: true, Name: filepath.Base(dir), Version: s.version}
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
			return file, nil
		}
		s.log.Warn("a kept plugin build does not load into this gateway; building it again", "source", dir, "file", file, "reason", err)
	}
	start := time.Now()
	s.log.Info("building plugin from source (the first build of a folder takes a while)", "source", dir, "build_id", id)
	ctx, cancel := context.WithTimeout(context.Background(), sourceTimeout)
	defer cancel()
	o.BuildID = id
	res, err := compiler.Build(ctx, o)
	if err != nil {
		return "", fmt.Errorf("building plugin source %s: %w", dir, err)
	}
	s.built[res.File] = true
	s.log.Info("plugin built from source", "source", dir, "file", res.File, "plugin_path", res.PluginPath, "took", time.Since(start).Round(time.Millisecond))
	return res.File, nil
}
