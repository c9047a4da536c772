package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/goplugin"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// apiHooks are an API's plugin hooks, loaded and ready for its chain. A hook that could not be
// loaded is present as a step that fails closed, and listed in failures.
type apiHooks struct {
	pre, postKeyAuth, post []chain.Step
	auth                   *chain.Step
	endpoints              *goplugin.Endpoints
	response               *goplugin.Response
	// responseFailed stands in for response hooks that could not be loaded: it runs before the
	// upstream is called, so the upstream never sees a request whose answer cannot be processed.
	responseFailed []chain.Step
	analytics      plugin.AnalyticsFunc
	analyticsHook  goplugin.Hook
	analyticsErr   error
	failures       []hookFailure
	// loaded are the hooks that were loaded, with their plugin, for the status page.
	loaded []loadedHook
	// env is what the request hooks share; nil without hooks.
	env *goplugin.Env
}

// loadedHook is a hook that was loaded and the plugin it comes from.
type loadedHook struct {
	hook goplugin.Hook
	p    *plugin.Plugin
}

// any reports whether the API has a plugin hook of any kind, loaded or not.
func (h *apiHooks) any() bool {
	return len(h.pre) > 0 || len(h.postKeyAuth) > 0 || len(h.post) > 0 || h.auth != nil || h.endpoints != nil ||
		h.response != nil || len(h.responseFailed) > 0 || h.analytics != nil || h.analyticsErr != nil || len(h.failures) > 0
}

// hookFailure is a hook that could not be loaded.
type hookFailure struct {
	hook goplugin.Hook
	err  error
}

func (f hookFailure) key() string {
	return fmt.Sprintf("plugin:%s:%s:%s", f.hook.APIID, f.hook.Phase, f.hook.Symbol)
}

func (f hookFailure) String() string {
	return fmt.Sprintf("API %q %s hook %q from %s: %v", f.hook.APIID, f.hook.Phase, f.hook.Symbol, f.hook.File, f.err)
}

// loadHooks loads the plugin hooks a definition declares. Disabled entries are skipped.
//
// pins maps files of verified bundles to the SHA-256 they were verified with: such a file is
// loaded only if it still has it.
func (g *Gateway) loadHooks(def *apidef.APIDefinition, pols policy.Set, pins map[string]string) *apiHooks {
	h := &apiHooks{}
	env := &goplugin.Env{
		Sessions:  g.sessions,
		Policies:  pols,
		Lifetime:  time.Duration(def.SessionLifetime) * time.Second,
		BodyLimit: g.cfg.HTTPServerOptions.MaxRequestBodySize,
		Log:       g.log,

		StaleWrites: g.staleWrites,
	}
	h.env = env
	cm := def.CustomMiddleware
	// request loads a request hook into the step made by step; a hook that cannot be loaded is
	// a step that fails closed.
	request := func(phase string, d apidef.MiddlewareDefinition, step func(goplugin.Hook, plugin.RequestFunc) chain.Step) chain.Step {
		hook := goplugin.Hook{APIID: def.APIID, Phase: phase, Symbol: d.Name}
		fn, p, file, err := g.requestHook(d.Path, d.Name, pins)
		if err == nil {
			hook.Obs = g.pluginObs(def.APIID, phase, d.Name)
		}
		hook.File = file
		if err != nil {
			h.failures = append(h.failures, hookFailure{hook, err})
			return goplugin.Failed(hook, err)
		}
		h.loaded = append(h.loaded, loadedHook{hook, p})
		return step(hook, fn)
	}
	plain := func(hook goplugin.Hook, fn plugin.RequestFunc) chain.Step {
		return (&goplugin.Request{Hook: hook, Fn: fn, Env: env}).Step()
	}
	for _, d := range enabled(cm.Pre) {
		h.pre = append(h.pre, request("pre", d, plain))
	}
	if !def.UseKeylessAccess {
		for _, d := range enabled(cm.PostKeyAuth) {
			h.postKeyAuth = append(h.postKeyAuth, request("post_key_auth", d, plain))
		}
	}
	for _, d := range enabled(cm.Post) {
		h.post = append(h.post, request("post", d, plain))
	}
	if a := cm.AuthCheck; def.CustomAuthEnabled() && a.Name != "" && a.Path != "" && !a.Disabled {
		step := request("auth_check", a, func(hook goplugin.Hook, fn plugin.RequestFunc) chain.Step {
			return (&goplugin.Auth{Hook: hook, Fn: fn, Env: env}).Step()
		})
		h.auth = &step
	}
	for _, d := range enabled(cm.Response) {
		hook := goplugin.Hook{APIID: def.APIID, Phase: "response", Symbol: d.Name, File: d.Path}
		p, file, err := g.openHook(d.Path, pins)
		hook.File = file
		var fn plugin.ResponseFunc
		if err == nil {
			if fn, err = p.ResponseHook(d.Name); err != nil {
				err = &loadError{"symbol", err}
			}
		}
		if err != nil {
			h.failures = append(h.failures, hookFailure{hook, err})
			h.responseFailed = append(h.responseFailed, goplugin.Failed(hook, err))
			continue
		}
		if h.response == nil {
			h.response = &goplugin.Response{Log: g.log}
		}
		hook.Obs = g.pluginObs(def.APIID, "response", d.Name)
		h.loaded = append(h.loaded, loadedHook{hook, p})
		h.response.Hooks = append(h.response.Hooks, goplugin.ResponseHook{Hook: hook, Fn: fn})
	}
	h.loadEndpoints(g, def, env, pins)
	if ap := def.AnalyticsPlugin; ap.Enabled && ap.PluginPath != "" && ap.FuncName != "" {
		h.analyticsHook = goplugin.Hook{APIID: def.APIID, Phase: "analytics", Symbol: ap.FuncName, File: ap.PluginPath}
		p, file, err := g.openHook(ap.PluginPath, pins)
		h.analyticsHook.File = file
		if err == nil {
			if h.analytics, err = p.AnalyticsHook(ap.FuncName); err != nil {
				err = &loadError{"symbol", err}
			} else {
				h.analyticsHook.Obs = g.pluginObs(def.APIID, "analytics", ap.FuncName)
				h.loaded = append(h.loaded, loadedHook{h.analyticsHook, p})
			}
		}
		if err != nil {
			h.analyticsErr = err
			h.failures = append(h.failures, hookFailure{h.analyticsHook, err})
		}
	}
	if !h.any() && len(h.loaded) == 0 {
		return noHooks
	}
	return h
}

// noHooks are the hooks of every API that declares none. They are shared, so never changed.
var noHooks = &apiHooks{}

// loadEndpoints loads the per-endpoint plugins of every version, in declared order.
func (h *apiHooks) loadEndpoints(g *Gateway, def *apidef.APIDefinition, env *goplugin.Env, pins map[string]string) {
	for name, v := range def.VersionData.Versions {
		for _, gp := range v.ExtendedPaths.GoPlugin {
			if gp.Disabled {
				continue
			}
			hook := goplugin.Hook{APIID: def.APIID, Phase: "endpoint", Symbol: gp.SymbolName, File: gp.PluginPath}
			eh := goplugin.EndpointHook{Hook: hook}
			var methods []string
			if gp.Method != "" {
				methods = []string{gp.Method}
			}
			pat, err := endpoint.CompileAnywhere(gp.Path, methods, v.IgnoreEndpointCase)
			if err == nil {
				eh.Pattern = pat
				var p *plugin.Plugin
				eh.Fn, p, eh.Hook.File, err = g.requestHook(gp.PluginPath, gp.SymbolName, pins)
				if err == nil {
					eh.Hook.Obs = g.pluginObs(def.APIID, "endpoint", gp.SymbolName)
					h.loaded = append(h.loaded, loadedHook{eh.Hook, p})
				}
			} else {
				// The pattern decides which requests the plugin guards; without it every
				// request of the version fails closed.
				eh.Pattern, _ = endpoint.CompileAnywhere("/", nil, false)
				err = &loadError{"pattern", err}
			}
			if err != nil {
				eh.LoadErr = err
				h.failures = append(h.failures, hookFailure{eh.Hook, err})
			}
			if h.endpoints == nil {
				h.endpoints = &goplugin.Endpoints{ByVersion: map[string][]goplugin.EndpointHook{}, Env: env}
			}
			h.endpoints.ByVersion[name] = append(h.endpoints.ByVersion[name], eh)
		}
	}
}

func enabled(list []apidef.MiddlewareDefinition) []apidef.MiddlewareDefinition {
	var out []apidef.MiddlewareDefinition
	for _, d := range list {
		if !d.Disabled {
			out = append(out, d)
		}
	}
	return out
}

// openHook opens the plugin a hook names, returning the file chosen: a .so file, or a folder of
// Go source, compiled first (see sourcePlugin).
//
// For an API with bundles (pins not nil), a path resolves first among the files its bundles list
// (pins): to its versioned name, else to itself, as a path resolves on disk (plugin.Candidates),
// and the file chosen opens only with the content it was verified with. A path in the bundles'
// folder that names no listed file is refused: no file of a bundle folder is opened unless a
// verified file_list holds it.
func (g *Gateway) openHook(path string, pins map[string]string) (*plugin.Plugin, string, error) {
	if path == "" {
		return nil, "", errors.New("the hook names no plugin file")
	}
	// Within the reload's budget (opener): a plugin whose init takes longer is opened beside
	// the reload.
	return g.opens.open(openKey(path, pins), path, func() (*plugin.Plugin, string, error) {
		return g.openHookNow(path, pins)
	})
}

// openHookNow is openHook's work, in the reload or beside it.
func (g *Gateway) openHookNow(path string, pins map[string]string) (*plugin.Plugin, string, error) {
	if pins != nil {
		file, err := g.plugins.ResolveAmong("", path, "in the file_list of the API's bundles", func(f string) bool {
			_, ok := pins[f]
			return ok
		})
		if err == nil {
			// A file of a verified bundle: exactly that file, with exactly the verified content.
			p, err := g.plugins.OpenFileVerified(file, pins[file])
			if err != nil {
				return nil, file, err
			}
			return p, file, nil
		}
		if inDir(g.bundles.Dir(), g.absPluginPath(path)) {
			return nil, path, err
		}
	}
	dir := path
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(g.cfg.MiddlewarePath, dir)
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		file, err := g.sources.build(dir)
		if err != nil {
			return nil, dir, &loadError{"build", err}
		}
		p, err := g.plugins.OpenFile(file)
		if err != nil {
			return nil, file, err
		}
		return p, file, nil
	}
	p, err := g.plugins.Open("", path)
	if err != nil {
		return nil, path, err
	}
	return p, p.File(), nil
}

// absPluginPath is path as the loader reads it: relative to middleware_path.
func (g *Gateway) absPluginPath(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	abs, err := filepath.Abs(filepath.Join(g.cfg.MiddlewarePath, path))
	if err != nil {
		return filepath.Join(g.cfg.MiddlewarePath, path)
	}
	return abs
}

// inDir reports whether path lies inside dir (both absolute and clean).
func inDir(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (g *Gateway) requestHook(path, symbol string, pins map[string]string) (plugin.RequestFunc, *plugin.Plugin, string, error) {
	p, file, err := g.openHook(path, pins)
	if err != nil {
		return nil, nil, file, err
	}
	if symbol == "" {
		return nil, nil, file, &loadError{"symbol", errors.New("the hook names no function")}
	}
	fn, err := p.RequestHook(symbol)
	if err != nil {
		return nil, nil, file, &loadError{"symbol", err}
	}
	return fn, p, file, nil
}
