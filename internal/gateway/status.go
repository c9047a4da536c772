package gateway

import (
	"context"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/fleet"
	"github.com/gatehouse/gatehouse/internal/observe/prom"
	"github.com/gatehouse/gatehouse/internal/status"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// The Gateway makes the status page's report.
var _ status.Source = (*Gateway)(nil)

// maxReloadHistory is how many loads the status page lists.
const maxReloadHistory = 20

// reloadHistory keeps the last loads of the configuration, for the status page.
type reloadHistory struct {
	mu   sync.Mutex
	list []status.Reload // oldest first
}

func (h *reloadHistory) add(r status.Reload) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.list) == maxReloadHistory {
		h.list = append(h.list[:0], h.list[1:]...)
	}
	h.list = append(h.list, r)
}

func (h *reloadHistory) get() []status.Reload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.list)
}

// noteLoad records a load of the configuration: at start, or a reload.
func (g *Gateway) noteLoad(start time.Time, snap *snapshot, err error, first bool) {
	r := status.Reload{Time: start.UTC(), Duration: time.Since(start).Seconds(), Result: "ok", Start: first}
	if err != nil {
		r.Result, r.Error = "failed", err.Error()
	}
	if snap != nil {
		r.APIs, r.Problems = len(snap.apis), len(snap.problems)
	}
	g.history.add(r)
}

// Status makes the status page's report from the serving snapshot, the metrics and the
// stores. It reads what the request path already counts and adds nothing to it.
func (g *Gateway) Status(ctx context.Context) status.Report {
	snap := g.snap.Load()
	rep := status.Report{
		Time:    g.now().UTC(),
		Started: g.startedAt.UTC(),
		Version: g.version,
		Store:   g.storeName(),
		Metrics: g.prom != nil,
		APIs:    []status.API{},
		Plugins: []status.Plugin{},
		Bundles: []status.Bundle{},
		Reloads: g.history.get(),
	}
	var counts prom.Counts
	if g.prom != nil {
		// A failure to gather leaves what was read: the page shows what it has.
		counts, _ = g.prom.Counts()
		r := counts.Requests[""]
		rep.Unrouted = &status.Requests{Total: r.Total, Errors: r.Errors5xx}
	}

	// Why each API that serves does not serve as defined.
	reasons := map[string][]string{}
	kept := map[string]bool{}
	for _, is := range snap.issues {
		reasons[is.apiID] = append(reasons[is.apiID], is.String())
		kept[is.apiID] = kept[is.apiID] || is.kept
	}
	for _, f := range snap.hookFailures {
		reasons[f.hook.APIID] = append(reasons[f.hook.APIID], f.String())
	}
	for id, rt := range snap.apis {
		a := rt.status()
		a.HostsDown = g.hostsDown(rt)
		switch {
		case kept[id]:
			a.State = status.StatePrevious
		case rt.unavailable || len(rt.hooks.failures) > 0:
			a.State = status.StateFailed
		default:
			a.State = status.StateServed
		}
		a.Reasons = reasons[id]
		if g.prom != nil {
			r := counts.Requests[id]
			a.Requests = &status.Requests{Total: r.Total, Errors: r.Errors5xx}
		}
		rep.APIs = append(rep.APIs, a)
		rep.Plugins = append(rep.Plugins, pluginStatus(rt.hooks, counts, g.prom != nil)...)
	}
	for _, p := range snap.problems {
		a := status.API{ID: p.APIID, File: filepath.Base(p.File), State: status.StateRefused, Reasons: []string{p.Reason}}
		if strings.HasPrefix(p.File, "redis:") || p.File == "" {
			a.File = p.File
		}
		rep.APIs = append(rep.APIs, a)
	}
	for _, id := range snap.inactive {
		rep.APIs = append(rep.APIs, status.API{ID: id, State: status.StateInactive, Reasons: []string{"the definition sets active to false"}})
	}
	slices.SortStableFunc(rep.APIs, func(a, b status.API) int { return strings.Compare(a.ID, b.ID) })
	slices.SortStableFunc(rep.Plugins, func(a, b status.Plugin) int {
		return strings.Compare(a.APIID+"\x00"+a.Hook+"\x00"+a.Function, b.APIID+"\x00"+b.Hook+"\x00"+b.Function)
	})
	rep.Bundles = g.bundleStatus(snap)
	for _, r := range g.redisServers() {
		s := status.Redis{Block: r.block}
		if rtt, err := r.p.Probe(ctx); err != nil {
			s.Effect = r.effect
		} else {
			s.Up, s.RoundTripSeconds = true, rtt.Seconds()
		}
		rep.Redis = append(rep.Redis, s)
	}
	rep.Fleet = g.fleetStatus(ctx)
	return rep
}

// status describes a compiled API.
func (rt *apiRuntime) status() status.API {
	return status.API{ID: rt.id, Name: rt.name, ListenPath: rt.listenPath, Domain: rt.domain, Auth: rt.auth, Upstream: rt.upstream}
}

// upstreamOf is the status page's upstream of def: its target, or its load-balanced targets,
// with any password in them hidden (a target may carry the upstream's basic auth).
func upstreamOf(def *apidef.APIDefinition) string {
	if sd := def.Proxy.ServiceDiscovery; sd.UseDiscoveryService {
		return "discovered from " + shownEndpoint(sd.QueryEndpoint)
	}
	if def.Proxy.EnableLoadBalancing && len(def.Proxy.Targets) > 0 {
		out := make([]string, len(def.Proxy.Targets))
		for i, t := range def.Proxy.Targets {
			out[i] = redactTarget(t)
		}
		return strings.Join(out, ", ")
	}
	return redactTarget(def.Proxy.TargetURL)
}

// redactTarget is target with its password replaced by "xxxxx"; one that does not parse, yet
// holds an '@', is shown as its host part only.
func redactTarget(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		if i := strings.LastIndexByte(target, '@'); i >= 0 {
			return "(redacted)@" + target[i+1:]
		}
		return target
	}
	return u.Redacted()
}

// authKind names how clients of an API get in: its auth methods in the order they run.
func authKind(def *apidef.APIDefinition) string {
	methods := def.AuthMethods()
	if len(methods) == 0 {
		return "keyless"
	}
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = m
		if n, ok := authNames[m]; ok {
			names[i] = n
		}
	}
	return strings.Join(names, ", ")
}

// authNames are the status page's names of the auth methods.
var authNames = map[string]string{
	apidef.AuthToken:     "auth token",
	apidef.AuthBasicUser: "basic",
	apidef.AuthHMACKey:   "hmac",
	apidef.AuthJWTClaim:  "jwt",
	apidef.AuthCustom:    "auth_check plugin",
	apidef.AuthOAuthKey:  "oauth2",
}

// pluginStatus describes an API's plugin hooks, loaded or not, with their counts.
func pluginStatus(h *apiHooks, counts prom.Counts, metrics bool) []status.Plugin {
	if h == nil {
		return nil
	}
	var out []status.Plugin
	withCounts := func(p status.Plugin) status.Plugin {
		if !metrics || p.Error != "" {
			return p
		}
		c, ok := counts.Plugins[prom.PluginKey{APIID: p.APIID, Hook: p.Hook, Plugin: p.Function}]
		if !ok {
			return p
		}
		p.Calls, p.Errors, p.Panics = &c.Calls, &c.Errors, &c.Panics
		switch {
		case math.IsInf(c.P99, 1):
			p.P99 = new(float64)
			*p.P99 = -1
		case !math.IsNaN(c.P99):
			p.P99 = &c.P99
		}
		return p
	}
	for _, l := range h.loaded {
		p := status.Plugin{APIID: l.hook.APIID, Hook: l.hook.Phase, Function: l.hook.Symbol, File: l.hook.File}
		if l.p != nil {
			p.PluginPath, p.SHA256, p.Loaded = l.p.PluginPath(), l.p.SHA256(), l.p.Loaded().UTC()
		}
		out = append(out, withCounts(p))
	}
	for _, f := range h.failures {
		out = append(out, status.Plugin{APIID: f.hook.APIID, Hook: f.hook.Phase, Function: f.hook.Symbol, File: f.hook.File, Error: f.err.Error()})
	}
	return out
}

// bundleStatus describes the bundles the served APIs name.
func (g *Gateway) bundleStatus(snap *snapshot) []status.Bundle {
	failed := map[string]string{}
	for _, is := range snap.issues {
		if is.kind == "bundle" {
			failed[is.apiID] = is.err.Error()
		}
	}
	byName := map[string]*status.Bundle{}
	var names []string
	for id, rt := range snap.apis {
		for _, name := range rt.bundles {
			b := byName[name]
			if b == nil {
				b = &status.Bundle{Name: name, State: "verified", Signature: "checksum only (no public_key_path)"}
				if g.bundles.Signed() {
					b.Signature = "signature verified"
				}
				if d, ok := g.bundles.LastDownload(name); ok {
					b.LastDownload = d.At.UTC()
					if d.Err != nil {
						b.LastDownloadError = d.Err.Error()
					}
				}
				byName[name] = b
				names = append(names, name)
			}
			b.APIs = append(b.APIs, id)
			if why, ok := failed[id]; ok && strings.Contains(why, name) {
				b.State, b.Error = "failed", why
				if g.bundles.Pending(name) != nil {
					b.State = "downloading"
				}
			}
		}
	}
	slices.Sort(names)
	out := make([]status.Bundle, 0, len(names))
	for _, n := range names {
		b := byName[n]
		slices.Sort(b.APIs)
		if b.State != "verified" && b.Signature != "" {
			b.Signature = "not verified: " + b.Signature
		}
		out = append(out, *b)
	}
	return out
}

// fleetStatus describes the fleet with the Redis store; nil with the memory store.
func (g *Gateway) fleetStatus(ctx context.Context) *status.Fleet {
	if g.cfg.Storage.Type != "redis" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StorageTimeout())
	defer cancel()
	f := &status.Fleet{Nodes: []status.Node{}}
	if d, ok := g.store.(interface{ DroppedMessages() int64 }); ok {
		f.Dropped = d.DroppedMessages()
	}
	if p, ok := g.store.(storage.Prober); ok {
		_, err := p.Probe(ctx)
		f.StoreUp = err == nil
	}
	if g.uptime != nil {
		if sh, ok := g.uptime.Stats(); ok {
			f.Uptime = &status.UptimeShare{PollerGroup: g.cfg.UptimeTests.PollerGroup, Checks: sh.Checks, RunHere: sh.Here, Gateways: sh.Gateways, Alone: sh.Alone}
		}
	}
	if g.fleet == nil {
		return f
	}
	f.Node = g.fleet.ID()
	f.Listening = !g.cfg.SuppressRedisSignalReload
	f.Rejected = g.fleet.Rejected()
	heard := map[string]fleet.Peer{}
	for _, p := range g.fleet.Peers() {
		heard[p.Node] = p
	}
	nodes, unverified, unread, err := g.fleet.Nodes(ctx, g.store)
	if err != nil {
		f.Error = err.Error()
	}
	f.Unverified, f.Unread = unverified, unread
	now := g.now()
	for _, a := range nodes {
		n := status.Node{Node: a.Node, Self: a.Node == f.Node, Version: a.Version, Hostname: a.Hostname, APIs: a.APIs,
			Tags: a.Tags, Started: time.UnixMilli(a.Started).UTC(), LastSeen: time.UnixMilli(a.Time).UTC()}
		n.Stale = now.Sub(n.LastSeen) > fleet.StaleAfter
		if p, ok := heard[a.Node]; ok {
			n.LastNotification, n.LastNotificationTime = p.LastCommand, p.LastSeen.UTC()
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f
}
