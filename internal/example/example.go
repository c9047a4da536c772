// Package example is the quickstart: an echo upstream on a loopback port and an API in front of
// it with a Go plugin at its post hook, compiled from source when the API loads, served by
// `gatehouse start --example` on the gateway's built-in defaults.
package example

import (
	"embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/echo"
)

// ListenPath is where the example API listens.
const ListenPath = "/example/"

//go:embed plugin/main.go
var pluginSource embed.FS

// WritePlugin writes the example plugin's source into a new folder under dir and returns it.
func WritePlugin(dir string) (string, error) {
	src, err := pluginSource.ReadFile("plugin/main.go")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "example-plugin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("writing the example plugin: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "main.go"), src, 0o644); err != nil {
		return "", fmt.Errorf("writing the example plugin: %w", err)
	}
	return out, nil
}

// Upstream is the running echo upstream.
type Upstream struct {
	srv *http.Server
	ln  net.Listener
}

// StartUpstream starts the echo upstream on a free loopback port.
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the example upstream: %w", err)
	}
	u := &Upstream{ln: ln, srv: &http.Server{Handler: echo.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// URL returns the upstream's base URL.
func (u *Upstream) URL() string { return "http://" + u.ln.Addr().String() }

// Close stops the upstream.
func (u *Upstream) Close() error { return u.srv.Close() }

// Definitions returns the example API definitions, in front of the upstream at target, with the
// plugin source folder pluginDir at the post hook.
func Definitions(target, pluginDir string) ([]apistore.Entry, error) {
	def := &apidef.APIDefinition{
		Name:             "Gatehouse example",
		APIID:            "example",
		OrgID:            "default",
		Active:           true,
		UseKeylessAccess: true,
		Proxy: apidef.ProxyConfig{
			ListenPath:      ListenPath,
			TargetURL:       target,
			StripListenPath: true,
		},
		VersionData: apidef.VersionData{
			NotVersioned: true,
			Versions:     map[string]apidef.VersionInfo{"Default": {Name: "Default"}},
		},
		ConfigData: map[string]interface{}{"greeting": "hello from Gatehouse"},
		CustomMiddleware: apidef.MiddlewareSection{
			Driver: apidef.GoPluginDriver,
			Post:   []apidef.MiddlewareDefinition{{Name: "AddGreeting", Path: pluginDir}},
		},
	}
	raw, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return nil, err
	}
	return []apistore.Entry{apistore.NewEntry("built-in example", raw, def)}, nil
}
