package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/internal/plugin"
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
	// Compat holds the packages at Tyk's import paths (compat/tyk, compat/tyk-pump) that Tyk
	// plugins are built against.
	Compat fs.FS
}

// Running describes the running binary.
func Running() (*Gateway, error) {
	info := plugin.HostBuildInfo()
	if info == nil {
		return nil, errors.New("this binary has no build information, so a plugin cannot be matched to it; build gatehouse with `go build -trimpath ./cmd/gatehouse`")
	}
	g := &Gateway{
		GoVersion:  runtime.Version(),
		Settings:   plugin.SettingMap(info.Settings),
		Modules:    map[string]string{},
		ModulePath: gatehouse.ModulePath,
		Source:     gatehouse.Source,
		Compat:     gatehouse.Compat,
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

// buildFlags returns the go build flags that build a plugin with the gateway's build settings.
func (g *Gateway) buildFlags(goarch string) []string {
	flags, _ := plugin.CodeFlags(g.Settings, goarch)
	return append([]string{"-buildmode=plugin"}, flags...)
}

// buildEnv returns the environment that builds a plugin for a target with the gateway's build
// settings.
func (g *Gateway) buildEnv(goos, goarch string) []string {
	_, env := plugin.CodeFlags(g.Settings, goarch)
	return append([]string{"GOOS=" + goos, "GOARCH=" + goarch}, env...)
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
	fmt.Fprintf(h, "GOOS=%s\nGOARCH=%s\n", g.Settings["GOOS"], g.Settings["GOARCH"])
	for _, s := range plugin.BuildSettings {
		fmt.Fprintf(h, "%s=%s\n", s.Key, g.Settings[s.Key])
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
