package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/observe/accesslog"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// What clients of an API get while what it needs is not available.
const (
	MsgBundleUnavailable = "This API is unavailable: its plugin bundle could not be loaded"
	MsgPluginBuilding    = "This API is unavailable: its plugin is being built"
	MsgPluginLoading     = "This API is unavailable: its plugin is being loaded"
)

// apiIssue is an API whose bundle is not available, or which waits for a source plugin being
// built, and what serves meanwhile.
type apiIssue struct {
	apiID string
	kind  string // "bundle", "build", "load" or "plugin"
	err   error  // names the bundle or the folder
	kept  bool   // the previous version keeps serving
	// wait holds channels closed when the work the API waits for ends (nil when it waits for
	// nothing: a bundle that failed).
	wait []<-chan struct{}
}

func (b apiIssue) String() string {
	what := "the API answers 503 until it is available"
	if b.kept {
		what = "the previous version of the API keeps serving"
	}
	return fmt.Sprintf("%v; %s", b.err, what)
}

// bundlesInUse are the bundles snap asked for and those its APIs run (an API's earlier version
// kept serving while its new bundle downloads runs the earlier bundle): their folders stay.
func bundlesInUse(snap *snapshot) map[string]bool {
	in := maps.Clone(snap.bundles)
	if in == nil {
		in = map[string]bool{}
	}
	for _, rt := range snap.apis {
		for _, name := range rt.bundles {
			in[name] = true
		}
	}
	return in
}

// pendingBundle is bundle.ErrPending for one bundle, naming it.
type pendingBundle string

func (p pendingBundle) Error() string        { return "bundle " + string(p) + " is being downloaded" }
func (p pendingBundle) Is(target error) bool { return target == bundle.ErrPending }

// bundleMemo remembers what the Store returned for each bundle during one snapshot build: APIs
// sharing a bundle verify it once per reload, and every reload verifies it again.
type bundleMemo struct {
	store *bundle.Store
	got   map[string]bundleResult
}

type bundleResult struct {
	b   *bundle.Bundle
	err error
}

func (g *Gateway) newBundleMemo() *bundleMemo {
	return &bundleMemo{store: g.bundles, got: map[string]bundleResult{}}
}

// get returns the verified bundle named name, or why it is not available, naming it.
func (m *bundleMemo) get(name string) (*bundle.Bundle, error) {
	r, ok := m.got[name]
	if !ok {
		r.b, r.err = m.store.Get(name)
		if errors.Is(r.err, bundle.ErrPending) {
			r.err = pendingBundle(name)
		}
		m.got[name] = r
	}
	return r.b, r.err
}

// compileWithBundles compiles a definition, with its bundles' hooks when it names bundles. A
// bundle that is not available (downloading, failed, tampered), a source plugin being built, or
// a plugin that cannot load beside an earlier build keeps the API's previous version serving
// when it may (previousServes); otherwise the API answers 503 (or, for a plugin that cannot
// load, fails closed as any hook that cannot load makes it). Each is reported, with what to
// wait for.
func (g *Gateway) compileWithBundles(def *apidef.APIDefinition, doc *oas.Document, pols policy.Set, deps [32]byte, prev *snapshot, bundles *bundleMemo) (*apiRuntime, *apiIssue, error) {
	names := bundle.Names(def.CustomMiddlewareBundle)
	if def.CustomMiddlewareBundleDisabled || len(names) == 0 {
		rt, err := g.compile(def, doc, pols, nil)
		if err != nil || !rt.plugins {
			return rt, nil, err
		}
		written := sansPlugins(def, doc, deps)
		rt.keepSansPlugins(written)
		return g.unlessPluginsWait(def, written, rt, prev)
	}
	written := sansPlugins(def, doc, deps)
	withBundles, pins, err := g.applyBundles(def, names, bundles)
	if err == nil {
		rt, cerr := g.compile(withBundles, doc, pols, pins)
		if cerr != nil {
			return rt, nil, cerr
		}
		rt.keepSansPlugins(written)
		// A bundle file that changed between verification and loading is a bundle failure,
		// not a plugin one: the previous verified version may keep serving.
		for _, f := range rt.hooks.failures {
			if errors.Is(f.err, plugin.ErrChanged) {
				err = fmt.Errorf("bundle %s: %w", def.CustomMiddlewareBundle, f.err)
			}
		}
		if err == nil {
			return g.unlessPluginsWait(def, written, rt, prev)
		}
	}
	issue := &apiIssue{apiID: def.APIID, kind: "bundle", err: err}
	var pb pendingBundle
	if errors.As(err, &pb) {
		if ch := g.bundles.Pending(string(pb)); ch != nil {
			issue.wait = append(issue.wait, ch)
		}
	}
	if old, ok := g.previousServes(def.APIID, written, prev, "bundle not available", "bundle", def.CustomMiddlewareBundle, "error", err); ok {
		issue.kept = true
		return old, issue, nil
	}
	return g.unavailable(def, MsgBundleUnavailable, err), issue, nil
}

// unlessPluginsWait returns rt, compiled from def with its plugins, or what serves instead when
// its plugins are not ready: the API's previous version while a hook's plugin is loaded
// already (keepOnPathLoaded) or a source plugin is being built or a plugin loaded beside the
// reload (whilePending), when it may.
func (g *Gateway) unlessPluginsWait(def *apidef.APIDefinition, written [32]byte, rt *apiRuntime, prev *snapshot) (*apiRuntime, *apiIssue, error) {
	if old, issue := g.keepOnPathLoaded(def, written, rt, prev); issue != nil {
		return old, issue, nil
	}
	return g.whilePending(def, written, rt, prev)
}

// sansPlugins is a digest of what an API is compiled from, its plugins aside: its definition
// as written without custom_middleware and custom_middleware_bundle, its Tyk OAS document (doc,
// nil for a Classic API) without its global plugins (oas.Document.SansPlugins: request
// validation and mocks are compiled from the document), and what compiling reads besides
// (deps: the policies, the upstream TLS files). Two versions of an API with one digest differ
// in their plugins alone.
func sansPlugins(def *apidef.APIDefinition, doc *oas.Document, deps [32]byte) [32]byte {
	cp := *def
	cp.CustomMiddlewareBundle = ""
	cp.CustomMiddleware = apidef.MiddlewareSection{}
	data, err := json.Marshal(&cp)
	if err != nil {
		// Never equal to another version's: no previous version serves for this one.
		return sha256.Sum256(fmt.Appendf(nil, "unencodable %p", def))
	}
	h := sha256.New()
	h.Write(data)
	h.Write(deps[:])
	if doc != nil {
		d := doc.SansPlugins()
		h.Write(d[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// keepSansPlugins records, in an API with plugins, the digest of what it was compiled from
// without them (sansPlugins): what a later version of it is compared with (previousServes).
func (rt *apiRuntime) keepSansPlugins(written [32]byte) {
	if rt.rare == nil {
		rt.rare = &apiRare{}
	}
	rt.rare.sansPlugins = written
}

// previousServes returns the API's previous version when it may serve in place of a new version
// whose plugins are not ready (a bundle not available, a source plugin being built, a plugin
// opened beside the reload, a plugin that cannot load beside an earlier build): when it serves,
// and the new version (written, its sansPlugins) differs from what it was compiled from in its
// plugins alone, and no file it was made from changed since. The previous version is the
// previous definition, policies and files: a change to any of them (keyless to keyed, an access
// list, a policy's rights, a validateRequest) never serves as it was before the change. An API
// that had no plugins has no digest to compare: its previous version does not serve for a
// version with plugins. what and args say, in the log, what is not ready.
func (g *Gateway) previousServes(id string, written [32]byte, prev *snapshot, what string, args ...any) (*apiRuntime, bool) {
	old, ok := prevAPI(prev, id)
	if !ok || old.unavailable {
		return nil, false
	}
	args = append([]any{"api_id", id}, args...)
	if old.rare == nil || old.rare.sansPlugins != written || g.filesChanged(old) {
		g.log.Warn(what+"; what the API is compiled from (its definition, document, policies or files) changed besides its plugins, so its previous version does not serve meanwhile", args...)
		return nil, false
	}
	g.log.Warn(what+"; the previous version of the API keeps serving", args...)
	return old, true
}

// keepOnPathLoaded returns the API's previous version, with the issue to report, when a hook of
// the new one could not load because its plugin path is loaded already (a rebuild that kept
// its build id: Go cannot load it beside the first), or a package it contains is loaded
// already, compiled differently (an edit of a module its go.mod replaces with a local folder
// that changed the package's exported API), and the previous version may serve
// (previousServes) with all its hooks loaded: a hot update that cannot load never takes down
// what works. Nil otherwise, and with fail_on_plugin_load_error: the new version fails closed
// as any hook that cannot load makes it (or, with that setting, the reload fails).
func (g *Gateway) keepOnPathLoaded(def *apidef.APIDefinition, written [32]byte, rt *apiRuntime, prev *snapshot) (*apiRuntime, *apiIssue) {
	if g.cfg.FailOnPluginLoadError {
		// The hook's failure must stop the reload, as any plugin that cannot load does.
		return nil, nil
	}
	for _, f := range rt.hooks.failures {
		if !errors.Is(f.err, plugin.ErrPathLoaded) && !errors.Is(f.err, plugin.ErrPackageLoaded) {
			continue
		}
		if old, ok := prevAPI(prev, def.APIID); ok && len(old.hooks.failures) > 0 {
			return nil, nil
		}
		old, ok := g.previousServes(def.APIID, written, prev, "a plugin of the new version cannot be loaded", "error", f.err)
		if !ok {
			return nil, nil
		}
		return old, &apiIssue{apiID: def.APIID, kind: "plugin", err: f.err, kept: true}
	}
	return nil, nil
}

// whilePending returns rt, or when any of its hooks waits for work beside the reload (a source
// plugin being built, a plugin whose init has not returned within the reload's budget), what
// serves meanwhile: the API's previous version when it may (previousServes), else a stand-in
// answering 503.
func (g *Gateway) whilePending(def *apidef.APIDefinition, written [32]byte, rt *apiRuntime, prev *snapshot) (*apiRuntime, *apiIssue, error) {
	var issue *apiIssue
	for _, f := range rt.hooks.failures {
		var pending pendingWork
		if !errors.As(f.err, &pending) {
			continue
		}
		if issue == nil {
			issue = &apiIssue{apiID: def.APIID, kind: "build", err: pending}
			if _, loading := pending.(*openPending); loading {
				issue.kind = "load"
			}
		}
		issue.wait = append(issue.wait, pending.doneCh())
	}
	if issue == nil {
		return rt, nil, nil
	}
	what, msg := "a source plugin is being built", MsgPluginBuilding
	if issue.kind == "load" {
		what, msg = "a plugin is being loaded beside the reload (its init functions took longer than the reload waits)", MsgPluginLoading
	}
	if old, ok := g.previousServes(def.APIID, written, prev, what, "error", issue.err); ok {
		issue.kept = true
		return old, issue, nil
	}
	return g.unavailable(def, msg, issue.err), issue, nil
}

// applyBundles returns def with the hooks of its verified bundles: the bundles' hook sections
// replace the definition's (as in Tyk), and relative per-endpoint and analytics plugin paths
// resolve inside the first bundle's folder.
func (g *Gateway) applyBundles(def *apidef.APIDefinition, names []string, memo *bundleMemo) (*apidef.APIDefinition, map[string]string, error) {
	var bundles []*bundle.Bundle
	pins := map[string]string{}
	for _, n := range names {
		b, err := memo.get(n)
		if err != nil {
			return nil, nil, err
		}
		bundles = append(bundles, b)
		for f, h := range b.Hashes {
			pins[f] = h
		}
	}
	merged, err := bundle.Merge(bundles)
	if err != nil {
		return nil, nil, err
	}
	// A copy deep enough that nothing shared with the stored definition changes.
	var out apidef.APIDefinition
	data, err := json.Marshal(def)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, nil, err
	}
	out.CustomMiddleware = merged
	base := bundles[0].Dir
	if tl := merged.TrafficLogs; tl.Name != "" && !tl.Disabled {
		out.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: tl.Path, FuncName: tl.Name}
	} else if p := out.AnalyticsPlugin.PluginPath; p != "" && !filepath.IsAbs(p) {
		out.AnalyticsPlugin.PluginPath = filepath.Join(base, p)
	}
	for name, v := range out.VersionData.Versions {
		for i, gp := range v.ExtendedPaths.GoPlugin {
			if gp.PluginPath != "" && !filepath.IsAbs(gp.PluginPath) {
				v.ExtendedPaths.GoPlugin[i].PluginPath = filepath.Join(base, gp.PluginPath)
			}
		}
		out.VersionData.Versions[name] = v
	}
	return &out, pins, nil
}

// unavailable is the stand-in for an API whose bundle or plugin is not available: every request
// gets 503 with msg.
func (g *Gateway) unavailable(def *apidef.APIDefinition, msg string, cause error) *apiRuntime {
	rt := &apiRuntime{hooks: noHooks, unavailable: true, obs: g.apiObs(def.APIID), access: g.access,
		trace: g.traceAPI(def), needClientIP: g.access.Has(accesslog.ClientIP)}
	rt.describe(def)
	rt.chain = *chain.New([]chain.Step{{Name: "unavailable", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		return chain.Errorf(http.StatusServiceUnavailable, msg, cause)
	}}}, rt.forward, g.render(def.APIID, def.OrgID, rt.obs, nil))
	return rt
}
