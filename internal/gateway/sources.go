package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/compiler"
)

// sourceTimeout bounds one source plugin build.
const sourceTimeout = 10 * time.Minute

// sources compiles plugins that hooks name by their source folder, with the plugin compiler of
// this binary, and keeps each build by the hash of its source: a folder that did not change is
// not built again (across restarts too, as builds are kept in middleware_path), and one that
// changed gets a new plugin path, so a reload serves the new code.
type sources struct {
	dir     string // where builds go
	version string
	log     *slog.Logger

	mu     sync.Mutex
	builds map[string]sourceBuild // by source hash
}

type sourceBuild struct {
	file string
	err  error
}

func newSources(middlewarePath, version string, log *slog.Logger) *sources {
	// Builds are kept per gateway fingerprint: a build made by another gatehouse binary (an
	// older version, other settings) would not load into this one.
	fp, err := compiler.Fingerprint()
	if err != nil {
		fp = "unknown"
	}
	return &sources{dir: filepath.Join(middlewarePath, ".plugin-builds", fp), version: version, log: log, builds: map[string]sourceBuild{}}
}

// build returns the .so built from the source folder dir.
func (s *sources) build(dir string) (string, error) {
	hash, err := compiler.SourceHash(dir)
	if err != nil {
		return "", fmt.Errorf("reading plugin source %s: %w", dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.builds[hash]; ok {
		return b.file, b.err
	}
	id := hash[:12]
	name := filepath.Base(dir)
	// Each build has a folder of its own, named by its id: builds of a changed source sit side
	// by side, as loaded plugins must.
	file := filepath.Join(s.dir, id, compiler.FileName(name, s.version, runtime.GOOS, runtime.GOARCH))
	b := sourceBuild{}
	if _, err := os.Stat(file); err == nil {
		b.file = file
	} else {
		start := time.Now()
		s.log.Info("building plugin from source (the first build of a folder takes a while)", "source", dir, "build_id", id)
		ctx, cancel := context.WithTimeout(context.Background(), sourceTimeout)
		res, err := compiler.Build(ctx, compiler.Options{
			SrcDir: dir, OutDir: filepath.Dir(file), Name: name, BuildID: id, Version: s.version,
		})
		cancel()
		if err != nil {
			b.err = fmt.Errorf("building plugin source %s: %w", dir, err)
		} else {
			b.file = res.File
			s.log.Info("plugin built from source", "source", dir, "file", res.File, "plugin_path", res.PluginPath, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	s.builds[hash] = b
	return b.file, b.err
}
