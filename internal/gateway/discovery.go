package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/discovery"
)

// Service discovery (proxy.service_discovery): an API's targets are read from a discovery
// service's answer, kept for cache_timeout, and read again, in the background, by the first
// request after that; the request that finds none yet waits for the first answer (at most
// discoveryTimeout). Until a first answer, and when the service never answers, target_url
// serves; once it has answered, a failed or empty answer keeps the targets last found, as in
// Tyk.

// discoveryTimeout bounds a request to a discovery service.
const discoveryTimeout = 5 * time.Second

// discoveryRetry is how long after a failed first read the next read is tried, in the
// background.
const discoveryRetry = 5 * time.Second

// discoveryReads bounds the discovery services' answers read and decoded at once, over every
// API (the wait for an answer's head takes no slot): an answer is decoded in memory.
var discoveryReads = make(chan struct{}, 4)

// discoveryClient reads discovery services; it follows no more than a few redirects.
var discoveryClient = &http.Client{Transport: http.DefaultTransport, CheckRedirect: func(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return http.ErrUseLastResponse
	}
	return nil
}}

// discovered forwards an API's requests to the targets its discovery service names.
type discovered struct {
	g        *Gateway
	apiID    string
	endpoint string // query_endpoint as logged: no user, password or query
	sd       apidef.ServiceDiscovery
	protocol string
	ttl      time.Duration
	// build makes the proxy to a set of targets.
	build    func([]string) (handler, error)
	fallback handler
	// waiting serves the requests that come while the first read runs: fallback's, made once.
	waiting discoveredTargets
	cur     atomic.Pointer[discoveredTargets]
	// reading: a read is under way; first serialises the first read.
	reading atomic.Bool
	first   sync.Mutex
}

// discoveredTargets are the targets of one answer, and the proxy to them.
type discoveredTargets struct {
	up      handler
	targets []string
	// next is when the targets are to be read again.
	next time.Time
}

func (g *Gateway) newDiscovered(def *apidef.APIDefinition, fallback handler, build func([]string) (handler, error)) *discovered {
	sd := def.Proxy.ServiceDiscovery
	ttl := time.Duration(sd.CacheTimeout) * time.Second
	switch {
	case sd.CacheDisabled:
		// Tyk asks the service on every request; once a second bounds what the gateway sends it.
		ttl = time.Second
	case ttl <= 0 && g.cfg.ServiceDiscovery.DefaultCacheTimeout > 0:
		ttl = time.Duration(g.cfg.ServiceDiscovery.DefaultCacheTimeout) * time.Second
	case ttl <= 0:
		ttl = apidef.DefaultDiscoveryCacheTimeout * time.Second
	}
	d := &discovered{g: g, apiID: def.APIID, endpoint: shownEndpoint(sd.QueryEndpoint), sd: sd, protocol: def.Protocol, ttl: ttl, build: build, fallback: fallback,
		waiting: discoveredTargets{up: fallback}}
	d.inherit(def)
	return d
}

// inherit starts an API compiled again (its definition edited, the policies changed, a plugin
// reloaded) with the targets its previous compile had found, when it reads the same service
// the same way: without it, every request until the first read would get the stand-in.
func (d *discovered) inherit(def *apidef.APIDefinition) {
	prev := d.g.servingDiscovered(def.APIID)
	if prev == nil || prev.sd != d.sd || prev.protocol != d.protocol {
		return
	}
	t := prev.cur.Load()
	if t == nil || t.targets == nil {
		return
	}
	if up, err := d.build(t.targets); err == nil {
		d.cur.Store(&discoveredTargets{up: up, targets: t.targets, next: t.next})
	}
}

// servingDiscovered returns the discovered targets of the API serving as apiID, nil when it has
// none. The versions without a target of their own share it; those with one do not discover.
func (g *Gateway) servingDiscovered(apiID string) *discovered {
	snap := g.snap.Load()
	if snap == nil {
		return nil
	}
	rt, ok := snap.apis[apiID]
	if !ok {
		return nil
	}
	for i := range rt.versions {
		if d, ok := rt.versions[i].upstream.(*discovered); ok {
			return d
		}
	}
	return nil
}

// shownEndpoint is a discovery service's address as logs and the status page show it: without
// its user, password or query (Consul's ?token=).
func shownEndpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "query_endpoint"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// rereadOnTrip wraps a breaker callback of an API with service discovery: a breaker that trips
// has the targets read again (in the background, by the next request that reaches them), as in
// Tyk, since the failing host may be gone from the service.
func (g *Gateway) rereadOnTrip(apiID string, next func(bool, string)) func(bool, string) {
	return func(tripped bool, endpoint string) {
		if next != nil {
			next(tripped, endpoint)
		}
		if d := g.servingDiscovered(apiID); tripped && d != nil {
			d.expire()
		}
	}
}

// expire has the targets read again by the next request.
func (d *discovered) expire() {
	if t := d.cur.Load(); t != nil {
		d.cur.CompareAndSwap(t, &discoveredTargets{up: t.up, targets: t.targets})
	}
}

// Transports returns what the API forwards on: target_url's, and the current targets'. A reload
// keeps them (transports.retain).
func (d *discovered) Transports() []http.RoundTripper {
	var out []http.RoundTripper
	if f, ok := d.fallback.(transported); ok {
		out = append(out, f.Transports()...)
	}
	if t := d.cur.Load(); t != nil && t.up != d.fallback {
		if u, ok := t.up.(transported); ok {
			out = append(out, u.Transports()...)
		}
	}
	return out
}

func (d *discovered) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := d.cur.Load()
	if t == nil {
		t = d.firstRead()
	} else if d.g.now().After(t.next) && d.reading.CompareAndSwap(false, true) {
		go func() {
			defer d.reading.Store(false)
			d.read()
		}()
	}
	t.up.ServeHTTP(w, r)
}

// firstRead reads the targets once, for the first request before any answer; the requests that
// come while it reads are served by target_url.
func (d *discovered) firstRead() *discoveredTargets {
	if !d.first.TryLock() {
		return &d.waiting
	}
	defer d.first.Unlock()
	if t := d.cur.Load(); t != nil {
		return t
	}
	d.reading.Store(true)
	defer d.reading.Store(false)
	d.read()
	return d.cur.Load()
}

// read asks the discovery service and keeps what it answers; a failure keeps what there was
// (target_url's proxy before any answer), to be read again after discoveryRetry.
func (d *discovered) read() {
	now := d.g.now()
	old := d.cur.Load()
	keep := func(err error) {
		// Go's errors quote the URL, which may hold credentials (Consul's ?token=).
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = d.endpoint
		}
		if old == nil || old.targets == nil || !now.Before(old.next) {
			d.g.log.Warn("service discovery: the discovery service gave no targets; the API keeps its last ones (target_url until it first answers)",
				"api_id", d.apiID, "query_endpoint", d.endpoint, "error", err)
		}
		t := &discoveredTargets{up: d.fallback, next: now.Add(discoveryRetry)}
		if old != nil {
			t.up, t.targets = old.up, old.targets
		}
		d.cur.Store(t)
	}
	answer, release, err := discovery.Fetch(context.Background(), discoveryClient, d.sd.QueryEndpoint, discoveryTimeout, discoveryReads)
	defer release()
	if err != nil {
		keep(err)
		return
	}
	targets, err := discovery.Targets(d.sd, answer, d.protocol)
	if err != nil {
		keep(err)
		return
	}
	if old != nil && slices.Equal(old.targets, targets) {
		d.cur.Store(&discoveredTargets{up: old.up, targets: old.targets, next: now.Add(d.ttl)})
		return
	}
	// The new targets' transports serve no snapshot until they are stored: no prune drops
	// them meanwhile.
	if !d.adopt(targets, now, keep) {
		return
	}
	d.g.pruneTransports()
}

// adopt builds the proxy to targets and serves it; a build that fails is kept (keep). The new
// targets' transports serve no snapshot until they are stored: no prune drops them meanwhile.
func (d *discovered) adopt(targets []string, now time.Time, keep func(error)) bool {
	d.g.transports.begin()
	defer d.g.transports.end()
	up, err := d.build(targets)
	if err != nil {
		keep(err)
		return false
	}
	if d.g.log.Enabled(context.Background(), slog.LevelInfo) {
		d.g.log.Info("service discovery: targets", "api_id", d.apiID, "targets", targets)
	}
	d.cur.Store(&discoveredTargets{up: up, targets: targets, next: now.Add(d.ttl)})
	return true
}

// Targets that discovery replaced keep their transports (a transport per host with
// ssl_force_common_name_check, pinned keys or a client certificate for the host) until they
// are pruned: at most once per transportPruneEvery (by the gateway's clock), a prune that comes
// sooner waiting for its turn, so that APIs whose targets change often cost one pass over the
// snapshot per period.
const transportPruneEvery = 30 * time.Second

// pruneTransports drops the transports of targets no API forwards to any more, once discovered
// targets changed.
func (g *Gateway) pruneTransports() {
	now := g.now().UnixNano()
	last := g.lastPrune.Load()
	if wait := time.Duration(last + int64(transportPruneEvery) - now); last != 0 && wait > 0 {
		g.schedulePrune(wait)
		return
	}
	if !g.lastPrune.CompareAndSwap(last, now) {
		return
	}
	if snap := g.snap.Load(); snap != nil && !g.transports.prune(snap) {
		// A build is under way: its retain, or its own prune, settles the transports.
		g.lastPrune.Store(last)
	}
}

// schedulePrune has pruneTransports run again after wait, unless a run is scheduled already or
// the gateway is closing.
func (g *Gateway) schedulePrune(wait time.Duration) {
	g.pruneMu.Lock()
	defer g.pruneMu.Unlock()
	if g.pruneTimer != nil || g.pruneClosed {
		return
	}
	g.pruneTimer = time.AfterFunc(wait, func() {
		g.pruneMu.Lock()
		g.pruneTimer = nil
		closed := g.pruneClosed
		g.pruneMu.Unlock()
		if !closed {
			g.pruneTransports()
		}
	})
}

// stopPrunes stops a scheduled prune, at Close.
func (g *Gateway) stopPrunes() {
	g.pruneMu.Lock()
	defer g.pruneMu.Unlock()
	g.pruneClosed = true
	if g.pruneTimer != nil {
		g.pruneTimer.Stop()
		g.pruneTimer = nil
	}
}
