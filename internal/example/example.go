// Package example is the quickstart: an echo upstream on a loopback port and an API in front of
// it, served by `gatehouse start --example` on the gateway's built-in defaults.
package example

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/echo"
)

// ListenPath is where the example API listens.
const ListenPath = "/example/"

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

// Definitions returns the example API definitions, in front of the upstream at target.
func Definitions(target string) ([]apistore.Entry, error) {
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
	}
	raw, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return nil, err
	}
	return []apistore.Entry{{File: "built-in example", Raw: raw, Def: def}}, nil
}
