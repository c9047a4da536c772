package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Gateway describes the gateway build plugins must match: its Go version, build settings and
// module versions, and the source of the packages plugins link against.
type Gateway struct {
	GoVersion string
	// Settings are the binary's build settings (-trimpath, -race, -tags, CGO_ENABLED, GOAMD64...).
	Settings map[string]string
	// Modules maps the module paths the gateway was built with to their versions.
	Modules map[string]string
	// ModulePath is the gateway's own module path, and Source its packages' source (go.mod at
	// the root).
	ModulePath string
	Source     fs.FS
}

// Running describes the running binary.
func Running() (*Gateway, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, errors.New("this binary has no build information, so a plugin cannot be matched to it; build gatehouse with `go build -trimpath ./cmd/gatehouse`")
	}
	g := &Gateway{
		GoVersion:  runtime.Version(),
		Settings:   map[string]string{},
		Modules:    map[string]string{},
		ModulePath: gatehouse.ModulePath,
		Source:     gatehouse.Source,
	}
	for _, s := range info.Settings {
		g.Settings[s.Key] = s.Value
	}
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		g.Modules[m.Path] = m.Version
	}
	return g, nil
}

// checkBuildable says why plugins cannot be built for this gateway, if they cannot.
func (g *Gateway) checkBuildable() error {
	if g.Settings["-trimpath"] != "true" {
		return errors.New("this gatehouse was built without -trimpath: its packages carry the file paths of the machine that built them, " +
			"which no plugin build can reproduce. Rebuild it with -trimpath (`go build -trimpath ./cmd/gatehouse`, or `go run -trimpath ./cmd/gatehouse ...`) and build the plugin with that binary")
	}
	if g.Settings["CGO_ENABLED"] != "1" {
		return errors.New("this gatehouse was built with CGO_ENABLED=0 and cannot load plugins; rebuild it with CGO_ENABLED=1 (and gcc installed)")
	}
	return nil
}

// buildFlags returns the go build flags that reproduce the gateway's build settings.
func (g *Gateway) buildFlags() []string {
	flags := []string{"-buildmode=plugin", "-trimpath"}
	for _, k := range []string{"-race", "-msan", "-asan"} {
		if g.Settings[k] == "true" {
			flags = append(flags, k)
		}
	}
	if tags := g.Settings["-tags"]; tags != "" {
		flags = append(flags, "-tags="+tags)
	}
	return flags
}

// buildEnv returns the environment settings that reproduce the gateway's, for a target.
func (g *Gateway) buildEnv(goos, goarch string) []string {
	env := []string{"CGO_ENABLED=1", "GOOS=" + goos, "GOARCH=" + goarch}
	if goarch == runtime.GOARCH {
		for _, k := range []string{"GOAMD64", "GOARM64", "GOARM", "GO386"} {
			if v := g.Settings[k]; v != "" {
				env = append(env, k+"="+v)
			}
		}
	}
	if v := g.Settings["GOEXPERIMENT"]; v != "" {
		env = append(env, "GOEXPERIMENT="+v)
	}
	return env
}

func (g *Gateway) String() string {
	return fmt.Sprintf("%s %s", g.GoVersion, g.buildFlags())
}

// Fingerprint identifies what a plugin must match: the Go version, the build settings that
// change compiled code, module versions and the embedded source. Two binaries with the same
// fingerprint load the same plugins.
func Fingerprint() (string, error) {
	g, err := Running()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, g.GoVersion)
	for _, k := range []string{"-trimpath", "-race", "-msan", "-asan", "-tags", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GOEXPERIMENT"} {
		fmt.Fprintf(h, "%s=%s\n", k, g.Settings[k])
	}
	mods := make([]string, 0, len(g.Modules))
	for p, v := range g.Modules {
		mods = append(mods, p+"@"+v)
	}
	sort.Strings(mods)
	fmt.Fprintln(h, strings.Join(mods, " "))
	err = fs.WalkDir(g.Source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(g.Source, p)
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}
