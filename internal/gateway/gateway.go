// Package gateway wires every piece together. It builds an immutable snapshot of the serving
// state (the router and one compiled chain per API) from the API definitions, policies and
// configuration, swaps it atomically on reload, and serves requests from whichever snapshot was
// current when they arrived, so a reload never fails a request in flight.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/erroroverride"
	"github.com/gatehouse/gatehouse/internal/errtmpl"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/fleet"
	"github.com/gatehouse/gatehouse/internal/hdrname"
	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/middleware/basicauth"
	"github.com/gatehouse/gatehouse/internal/middleware/cache"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/iplist"
	"github.com/gatehouse/gatehouse/internal/middleware/jwt"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/observe"
	"github.com/gatehouse/gatehouse/internal/observe/accesslog"
	"github.com/gatehouse/gatehouse/internal/observe/prom"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// Options configure a Gateway.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Version is reported by /hello.
	Version string
	// Extra holds definitions served besides those in app_path (the built-in example). They
	// cannot be changed through the Gateway API.
	Extra []apistore.Entry
	// Store replaces the store the configuration names (tests).
	Store storage.Store
	// Now replaces the clock (tests).
	Now func() time.Time
	// AfterFirstBuild, when set, is called by New once the first snapshot is built, before it
	// serves (tests).
	AfterFirstBuild func(*Gateway)
}

// Gateway is a running gateway's state.
type Gateway struct {
	// staleWrites lets a plugin's dropped session write (goplugin.Env.StaleWrites) be logged
	// once a minute, over all APIs and reloads.
	staleWrites *logevery.Gate
	// batchSlots are the batch requests being served (batch.go, maxBatches).
	batchSlots chan struct{}
	cfg        *config.Config
	log        *slog.Logger
	version    string
	now        func() time.Time
	store      storage.Store
	// sharedMu is the local half of lockShared.
	sharedMu sync.Mutex
	// certStore is the certificate store (/tyk/certs), in store; certReads what readCert read
	// in the current reload.
	certStore *certstore.Store
	certReads certReads
	sessions  *session.Manager
	apis      *apistore.Dir
	// defs remembers the definitions decoded by the last reload (reuse.go).
	defs  *apistore.Memo
	extra []apistore.Entry
	// transports are the upstream transports, shared by the APIs whose settings match.
	transports *transports
	patterns   *endpoint.PatternCache
	// sender sends the APIs' webhooks (event_handlers).
	sender *events.Sender
	// systemEvents are the gateway's own event handlers (event_handlers in its configuration),
	// made again at a reload when a webhook's template file changed.
	systemEvents atomic.Pointer[events.Handlers]
	// monitorHook is the quota monitor's webhook (monitor.configuration), nil when off; made
	// again at a reload when its template file changed.
	monitorHook atomic.Pointer[events.WebHook]
	// uptime runs the APIs' uptime tests; nil with uptime_tests.disable.
	uptime *uptime.Checker
	// jwtTokens are the JWT APIs' verified tokens; jwks their JWKS, kept across reloads.
	jwtTokens *jwt.Cache
	jwks      *jwt.JWKSSets
	// basicFailures counts failed basic auth checks per username, for every API and reload.
	basicFailures *basicauth.Limiter
	// wsWarned is set once a WebSocket upgrade has been refused and logged (websocketRefused).
	wsWarned atomic.Bool
	// trusted are the proxies whose X-Forwarded-For names the client (trusted_proxies).
	trusted []netip.Prefix
	// secrets resolves $secret_env and $secret_conf in header transforms and URL rewrites.
	secrets *secrets.Resolver
	// viaKey names APIs in the Via header of what they forward (see loop.go), and listenPort
	// is the proxy listener's port once bound.
	viaKey     []byte
	listenPort atomic.Int32
	// upstreamLog is the reverse proxies' error log, one for every upstream, and
	// limitAnyBody the request size step of every API without size_limits entries.
	upstreamLog  *log.Logger
	limitAnyBody func(http.ResponseWriter, *http.Request, *chain.Context) error
	plugins      *plugin.Loader
	// opens opens plugins for reloads within a budget; a slow init goes on beside (opening.go).
	opens     *opener
	sources   *sources
	bundles   *bundle.Store
	analytics recordSink // nil unless enable_analytics
	// analyticsStore is the Redis of analytics_storage (enable_separate_analytics_store),
	// where records and uptime analytics go; nil without it.
	analyticsStore *redis.Store
	// analyticsIgnored are analytics_config.ignored_ips: their requests produce no record.
	analyticsIgnored map[netip.Addr]struct{}
	// upClaims, upSpace and upHolder share the uptime checks and their events with a fleet
	// (nil upClaims: not shared); hostEvents counts the event claims under way, which Close
	// waits for.
	upClaims   storage.Claims
	upSpace    string
	upHolder   string
	hostEvents sync.WaitGroup
	// controlCerts are the Gateway API's client certificates (security.certificates.control_api)
	// as last read; nil without security.control_api_use_mutual_tls.
	controlCerts atomic.Pointer[controlCertSet]
	// analyticsPaths normalises the records' paths (analytics_config.normalise_urls); nil
	// leaves them as requested.
	analyticsPaths *analytics.Normaliser
	// lastPrune is when pruneTransports last ran (Unix ns of the gateway's clock); pruneTimer
	// runs the one that waits for its turn, none once pruneClosed (discovery.go).
	lastPrune   atomic.Int64
	pruneMu     sync.Mutex
	pruneTimer  *time.Timer
	pruneClosed bool
	// analyticsHooks holds a token for each analytics plugin call running (maxAnalyticsHooks).
	analyticsHooks chan struct{}
	hooksWaited    sync.Once // waitAnalyticsHooks runs once, whatever closes the gateway
	// obs receives metrics (nil when prometheus.enabled is off), and prom serves them.
	obs  observe.Observer
	prom *prom.Observer
	// unrouted is obs's handle for requests no API took.
	unrouted observe.API
	// access writes the access log (access_logs); nil when it is off.
	access *accesslog.Logger
	// tracer traces requests (opentelemetry); nil when it is off. stopTrace stops it once.
	tracer    *tracing.Tracer
	stopTrace sync.Once
	// local counts limits on this node alone where the shared store cannot be reached (an
	// API's global_rate_limit while Redis is down); nil with the memory store.
	local      *memory.Store
	closeLocal func() error
	// fallbackLimits, with storage.fallback_to_cached_sessions, counts keys' limits on this
	// node while Redis is down; nil otherwise.
	fallbackLimits storage.Limits
	// throttled counts the requests waiting for a key's throttling, over every API.
	throttled atomic.Int64

	// With Redis: the definitions the fleet shares, and the notifications node (nil without
	// a node secret); stopFleet ends its subscription.
	shared *apistore.Shared
	// respCache holds the APIs' cached responses (cache_options): respLocal, this gateway's
	// memory, or respShared, a Redis the fleet shares (the store's, or cacheStore).
	respCache  cache.Backend
	respLocal  *cache.Store
	respShared *cache.Shared
	// cacheStore is the Redis of cache_storage (respShared's); nil for a cache in memory.
	cacheStore *redis.Store
	// cacheFlushes holds a token for each shared-cache flush another gateway asked for that
	// is under way (fleet.go).
	cacheFlushes chan struct{}
	// sawFleetMark: this gateway read the fleet's mark in Redis (fleetmark.go); markID is the
	// id of the mark it last read or wrote (nil until it knows one).
	sawFleetMark atomic.Bool
	markID       atomic.Pointer[string]
	// deletedPruned is when this gateway last dropped old deletion notes (Unix nanoseconds).
	deletedPruned atomic.Int64
	// sessionsForStore is sessions, for the store's goroutines, which start before it is set.
	sessionsForStore atomic.Pointer[session.Manager]
	fleet            *fleet.Node
	stopFleet        func()

	snap    atomic.Pointer[snapshot]
	reloads *reloader
	// history holds the last loads of the configuration, and startedAt when the gateway
	// started, for the status page.
	history   reloadHistory
	startedAt time.Time

	// certs are the listeners' TLS certificates (nil without use_ssl), re-read on reload,
	// and tlsOpts their versions and cipher suites.
	certs   *tlsconf.Certs
	tlsOpts tlsconf.Options

	authReplies authReplies // the key check's refusals (override_messages)
	// notifier sends the OAuth APIs' key change notifications.
	notifier *oauth.Notifier
	// errs writes error answers through the error templates of template_path.
	errs chain.ErrorWriter
	// errOverrides are tyk.conf's error_overrides, nil without; sharedErrs writes the error
	// answers of the APIs without rules of their own through them (erroroverrides.go).
	errOverrides *erroroverride.Set
	sharedErrs   *overrideWriter
	// stopping is set when the gateway is told to stop: /ready answers 503 from then on.
	stopping atomic.Bool
	// settled is set once a snapshot served with no API waiting for its first plugin build or
	// bundle download: until then /ready answers 503 (settle).
	settled atomic.Bool

	mu              sync.Mutex
	started         bool // New has returned
	upWhileStarting bool // the store connected before that
	lastReloadErr   error
	adminProblem    string // why the Gateway API is not running, "" when it is
	certProblem     string // why the last re-read of the certificates failed, "" when it did not
}

// New builds a gateway and its first snapshot. It fails when the snapshot cannot be built at all
// (an unreadable app_path or policies file); definitions that fail on their own are reported by
// Health and the others load.
func New(o Options) (*Gateway, error) {
	if o.Config == nil {
		return nil, errors.New("gateway: no configuration")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{
		batchSlots:  make(chan struct{}, maxBatches),
		cfg:         o.Config,
		log:         o.Logger,
		version:     o.Version,
		now:         o.Now,
		store:       o.Store,
		apis:        apistore.New(o.Config.AppPath),
		defs:        &apistore.Memo{},
		extra:       o.Extra,
		patterns:    &endpoint.PatternCache{Exact: o.Config.HTTPServerOptions.EnablePathSuffixMatching},
		trusted:     o.Config.TrustedProxyPrefixes(),
		viaKey:      newViaKey(o.Config.NotificationSecret()),
		authReplies: newAuthReplies(o.Config),
		notifier:    oauth.NewNotifier(o.Logger),
		staleWrites: &logevery.Gate{Every: time.Minute},

		upstreamLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	g.sender = events.NewSender(g.log, nil, g.now)
	// The Gateway API's writes read app_path through the reloads' memo: at 10,000 APIs,
	// decoding every file costs a write 0.2-0.4 s of CPU.
	g.apis.UseMemo(g.defs)
	tmpl, terr := errtmpl.Load(o.Config.TemplatePath)
	if terr != nil {
		return nil, terr
	}
	switch {
	case len(tmpl.Files) > 0:
		o.Logger.Info("error templates read", "template_path", o.Config.TemplatePath, "files", tmpl.Files)
	case tmpl.Missing && o.Config.TemplatePath != config.DefaultTemplatePath:
		o.Logger.Warn("template_path does not exist: error answers use the built-in templates", "template_path", o.Config.TemplatePath)
	}
	g.errs = tmpl
	if g.errOverrides, terr = erroroverride.Compile(o.Config.ErrorOverrides, o.Config.TemplatePath); terr != nil {
		return nil, terr
	}
	if g.errOverrides != nil {
		g.sharedErrs = &overrideWriter{gw: g.errOverrides, next: g.errs}
	}
	g.startedAt = o.Now()
	g.limitAnyBody = g.limitBody(nil)
	if o.Config.Prometheus.Enabled {
		g.prom = prom.New(o.Version)
		g.obs = g.prom
		g.unrouted = g.obs.API("")
	}
	if o.Config.AccessLogs.Enabled {
		al, err := accesslog.New(o.Logger, o.Config.AccessLogs.Template)
		if err != nil {
			return nil, fmt.Errorf("access_logs: %w", err)
		}
		g.access = al
	}
	if err := g.startTracing(); err != nil {
		return nil, fmt.Errorf("opentelemetry: %w", err)
	}
	var err error
	if g.store == nil {
		st, err := openStore(o.Config, o.Now, o.Logger, func(first bool) { g.storeUp(first) }, g.forgetStorageKeys, g.obs)
		if err != nil {
			g.stopTracing()
			return nil, err
		}
		g.store = st
	}
	if g.analyticsStore, err = openAnalyticsStore(o.Config, o.Logger, g.obs); err != nil {
		g.closeSinks()
		return nil, err
	}
	if err = g.openResponseCache(); err != nil {
		g.closeSinks()
		return nil, err
	}
	g.uptime = g.newUptimeChecker()
	// Certificates are named by file or by id of the store, which the transports and the
	// listeners' certificates read from now on: the store is waited for first.
	connected := g.waitForStore()
	g.waitForOwnStores()
	g.certStore = certstore.New(g.store, o.Config.CertificateSecret(), o.Now, o.Config.Storage.Type == "redis")
	trs, terr := newTransports(o.Config, o.Logger, g.readCert)
	if terr != nil {
		g.closeSinks()
		return nil, terr
	}
	g.transports = trs
	waited, err := g.loadCerts()
	if err != nil {
		g.closeSinks()
		return nil, err
	}
	// Redis answered by now when the listeners' certificates made the start wait for it.
	connected = connected || waited
	if o.Config.Storage.Type == "redis" {
		local := memory.New(memory.WithClock(o.Now))
		g.local, g.closeLocal = local, local.Close
		g.shared = &apistore.Shared{Docs: g.store, Set: sharedAPIsSet}
		// A webhook's event_timeout holds for the fleet, as in Tyk.
		g.sender.ShareMarks(g.store, o.Config.StorageTimeout())
	}
	g.noteSystemEvents()
	if o.Config.ExperimentalProcessOrgOffThread {
		g.log.Info("experimental_process_org_off_thread is noted: org limits are checked in line, one call to the store per request as for keys")
	}
	g.setSystemEvents()
	g.setMonitor()
	g.sessions = session.NewManager(g.store, o.Config.HashKeys)
	g.sessions.SetMinTokenLength(o.Config.TokenMinLength())
	g.jwtTokens, g.jwks = jwt.NewCache(0), jwt.NewJWKSSets()
	g.secrets = secrets.New(o.Config.Secrets, os.Getenv)
	g.basicFailures = basicauth.NewLimiter(0)
	g.sessionsForStore.Store(g.sessions)
	if o.Config.Storage.Type == "redis" && o.Config.Storage.FallbackToCachedSessions {
		g.sessions.ServeCachedWhenUnavailable()
		g.fallbackLimits = g.local
	}
	g.plugins = plugin.NewLoader(plugin.Options{BaseDir: o.Config.MiddlewarePath, Version: o.Version, Logger: o.Logger})
	// Plugins log through the sdk (Tyk's log.Get() among them) to this gateway's log.
	reqctx.SetLogger(o.Logger)
	g.sources = newSources(o.Config.MiddlewarePath, o.Version, o.Logger, o.Now, func() {
		_ = g.Reload(context.Background(), false)
	})
	g.opens = newOpener(func() { _ = g.Reload(context.Background(), false) })
	if o.Config.FailOnPluginLoadError {
		// A plugin that fails must stop the start (or the reload): each waits for its plugins'
		// init functions, however long they take, as it cannot tell otherwise.
		g.opens.budget.Store(int64(unboundedOpenBudget))
	}
	if g.bundles, err = newBundleStore(g); err != nil {
		g.closeSinks()
		return nil, err
	}
	g.reloads = newReloader(g.reload)
	if o.Config.EnableAnalytics {
		if err := g.openAnalytics(); err != nil {
			g.reloads.stop(stuckReload)
			g.bundles.Close()
			g.closeSinks()
			return nil, err
		}
	}
	buildStart := time.Now()
	g.transports.begin()
	snap, err := g.build(nil)
	g.noteLoad(buildStart, snap, err, true)
	g.plugins.PruneCache()
	if o.AfterFirstBuild != nil {
		o.AfterFirstBuild(g)
	}
	if err == nil {
		g.snap.Store(snap)
		g.settle(snap)
		g.transports.retain(snap)
	}
	g.transports.end()
	if err == nil {
		g.setUptime(snap)
		g.setServerCerts(snap)
		// The reloads asked for meanwhile (a source plugin built, a bundle downloaded while
		// the first snapshot was built) run now, from this snapshot. Run during the first
		// build, a reload built a snapshot beside it, and this one, stored after, replaced it:
		// what the reload loaded did not serve until the next one.
		g.reloads.start()
		err = g.startFleet(connected)
	}
	if err != nil {
		g.reloads.stop(stuckReload)
		if g.uptime != nil {
			g.uptime.Close()
		}
		g.sources.close()
		g.bundles.Close()
		g.closeSinks()
		return nil, err
	}
	g.markStarted()
	return g, nil
}

// Close releases the gateway's resources: the store, the analytics file and idle upstream
// connections. Go plugins stay loaded: Go cannot unload them.
func (g *Gateway) Close() error {
	if g.stopFleet != nil {
		g.stopFleet()
	}
	if !g.reloads.stop(stuckReload) {
		g.log.Error("stopping: a reload has not ended, and is left behind (a plugin whose init never returns, or a load that hangs); Go cannot stop it", "running", g.reloads.running(time.Now()).Round(time.Second))
	}
	g.stopPrunes()
	if g.uptime != nil {
		g.uptime.Close()
	}
	g.hostEvents.Wait() // each bounded by storage.timeout; no more start once the checker closed
	g.notifier.Close()
	g.sender.Close()
	g.sources.close()
	g.bundles.Close()
	g.transports.close()
	return g.closeSinks()
}

func (g *Gateway) closeSinks() error {
	var errs []error
	if g.analytics != nil {
		g.waitAnalyticsHooks(hooksCloseTimeout)
		errs = append(errs, g.analytics.Close())
	}
	if g.analyticsStore != nil {
		errs = append(errs, g.analyticsStore.Close())
	}
	if g.respShared != nil {
		g.respShared.Wait() // the responses being kept, each bounded by the store's timeout
		for range cap(g.cacheFlushes) {
			g.cacheFlushes <- struct{}{} // and the flushes other gateways asked for
		}
	}
	if g.cacheStore != nil {
		errs = append(errs, g.cacheStore.Close())
	}
	errs = append(errs, g.store.Close())
	g.stopTracing()
	if g.closeLocal != nil {
		errs = append(errs, g.closeLocal())
	}
	return errors.Join(errs...)
}

// startTime is when a request's timing starts: now when something measures requests (metrics,
// the access log), else the zero time, so that a gateway measuring nothing reads no clock.
func (g *Gateway) startTime() time.Time {
	if g.obs != nil || g.access != nil {
		return time.Now()
	}
	return time.Time{}
}

// ServeHTTP serves one proxied request: canonicalise the path, route it, run the API's chain.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.startTime()
	if r.Method == http.MethodConnect {
		chain.WriteError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		g.unroutedDone(r, http.StatusMethodNotAllowed, start)
		return
	}
	raw, err := router.RawPath(r)
	if err != nil {
		g.badRequest(w, r, err, start)
		return
	}
	canon, err := router.Canonicalize(raw)
	if err != nil {
		g.badRequest(w, r, err, start)
		return
	}
	if tooManyParams(r.URL.RawQuery) {
		g.badRequest(w, r, errors.New("too many query parameters"), start)
		return
	}
	snap := g.snap.Load()
	api, listenPath, ok := snap.router.Match(r.Host, canon)
	if !ok {
		chain.WriteError(w, http.StatusNotFound, chain.MsgNotFound)
		g.unroutedDone(r, http.StatusNotFound, start)
		return
	}
	if api.rare != nil && api.rare.batch && r.Method == http.MethodPost && isBatchPath(canon, listenPath) {
		g.serveBatch(w, r, api, listenPath, start)
		return
	}
	g.serveAPI(w, r, api, listenPath, canon, start, nil, nil)
}

// serveAPI serves a request api took, routed by listenPath (canon is its canonical path). A
// looped request (looping.go) comes with loop set and from, the context of the API that
// looped it.
func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request, api *apiRuntime, listenPath, canon string, start time.Time, loop *chain.Loop, from *chain.Context) {
	if api.rare != nil && api.rare.vrouter != nil {
		g.serveVersion(w, r, api, listenPath, canon, start, loop, from)
		return
	}
	g.serveChain(w, r, api, listenPath, canon, start, loop, from, nil)
}

// serveChain runs api's chain on a request it serves (serveAPI); vc, for a base API, is the
// version choice it serves the request with.
func (g *Gateway) serveChain(w http.ResponseWriter, r *http.Request, api *apiRuntime, listenPath, canon string, start time.Time, loop *chain.Loop, from *chain.Context, vc *versionChoice) {
	// Everything the gateway keeps for the request is one struct from a pool; on an API with
	// plugins, what a plugin can reach is one allocation of the request's own instead
	// (pluginRequest; see docs/request-path.md).
	rq := requests.Get().(*request)
	defer g.finish(api, r, rq, start)
	c := &rq.c
	st, rec := &rq.st, &rq.rec
	var pr *pluginRequest
	if api.plugins {
		pr = new(pluginRequest)
		st, rec = &pr.State, &pr.rec
		c.HookWriter = &pr.hook
	}
	if api.obs != nil || api.access != nil || api.trace != nil {
		rec.ResponseWriter = w
		w = rec
		rq.w = rec
		if api.trace != nil {
			rq.span = api.trace.Start(r, canon)
			if id := rq.span.TraceID(); id != "" {
				w.Header().Set(tracing.TraceIDHeader, id)
				c.TraceID = id
			}
		}
	}
	if why := loopRefusal(r.Header, api.via); why != "" {
		g.refuseLoop(w, r, api.id, why)
		rq.served = true
		return
	}
	// The client address is decided before the client's X-Forwarded-For is removed: it counts
	// when the peer is a trusted proxy.
	var client netip.Addr
	switch {
	case loop != nil:
		// The client's X-Forwarded-For is gone (sanitizeForwarded): the looping API's
		// reading of it stands.
		client = from.ClientIP
	case api.needClientIP:
		client = iplist.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), g.trusted)
	}
	if sanitizeHopByHop(r.Header, g.cfg.HTTPServerOptions.EnableWebSockets) {
		g.websocketRefused(api.id)
	}
	sanitizeForwarded(r.Header)
	r.URL.Path, r.URL.RawPath = canon, ""
	st.API = api.full
	if api.oas != nil {
		st.OAS = api.oas.Raw
	}
	c.State = st
	c.Errors = g.errs
	if api.errs != nil {
		c.Errors = api.errs
	}
	if loop != nil {
		c.Loop = loop
		// The looping API's key comes along: with it, this API skips its key lookup and
		// limits (chain.Context.SkipsLimits), as in Tyk.
		if fs := from.State; fs != nil && fs.Session != nil && !loop.CheckLimits {
			loop.Carried = chain.IdentityOf(from)
			loop.Carried.Take(c)
		}
	}
	c.FullPath, c.ListenPath, c.Path, c.ClientIP = canon, listenPath, relative(canon, listenPath), client
	st.ClientIP = client // sdk.ClientIP: an API with plugins decides it (needClientIP)
	if vc != nil {
		c.Refusal = vc.refusal
		if vc.segment != "" {
			// The base's own version named in the URL: what follows it is the endpoint.
			c.VersionSegment = vc.segment
			c.Path = "/" + strings.TrimPrefix(strings.TrimPrefix(c.Path, "/"+vc.segment), "/")
		}
	}
	st.Gateway = c
	if rq.span != nil {
		st.Span = rq.span
	}
	in := r
	switch {
	case pr != nil:
		r = pr.Attach(r)
	case loop == nil && rq.setConn(r, st):
		// An HTTP/1 request on an API without plugins: its connection's context carries the
		// state until finish, and the request is not copied.
	default:
		r = reqctx.With(r, st)
	}
	if api.track == nil {
		api.chain.Serve(w, r, c)
	} else {
		api.track.serve(w, r, c, api.chain.Serve)
	}
	// An upgraded connection's copying may outlive the handler: its request is not reused.
	rq.served = len(in.Header["Upgrade"]) == 0
}

// request is what the gateway keeps for one request an API took: its chain context and, on an
// API without plugins, the state it shares with plugins and (with metrics, the access log or
// tracing on) the writer that notes its status. It comes from a pool and goes back to it once
// served (finish).
type request struct {
	c   chain.Context
	st  reqctx.State
	rec statusWriter
	// w is the writer that notes the status (rec, or the pluginRequest's); nil when nothing
	// needs the status.
	w *statusWriter
	// span is the request's server span; nil when tracing is off. The span is its own
	// allocation (exported after the request), never part of the pooled memory.
	span *tracing.Span
	// served is set once the chain returned normally: only then may the request be reused.
	served bool
	// conn is the connection context carrying st while the request is served (setConn); nil
	// when the request's own context carries it.
	conn *reqctx.Conn
}

// setConn makes r's connection context carry st, when it can (reqctx.ConnFor): an HTTP/1
// request through the gateway's own server. finish ends it.
func (rq *request) setConn(r *http.Request, st *reqctx.State) bool {
	rq.conn = reqctx.ConnFor(r)
	if rq.conn == nil {
		return false
	}
	rq.conn.Set(st)
	return true
}

// pluginRequest is what a request of an API with plugin hooks keeps apart from its pooled
// request: everything a plugin can reach, which a plugin may keep after its hook returned (in a
// goroutine of its own, or a value it stores), so it is never reused: the request's context with
// the state the sdk reads (reqctx.Holder), the writer hooks are handed, and the status writer
// under it. One allocation per request.
type pluginRequest struct {
	reqctx.Holder
	rec  statusWriter
	hook reqctx.Writer
}

// requests holds the requests (request) not in use.
var requests = sync.Pool{New: func() any { return new(request) }}

// finish counts and logs the end of a request (with metrics or the access log on), and hands
// the request back to the pool when its chain returned normally (a panic leaves it to the
// garbage collector). r is the client's request as it arrived. It runs deferred, so that a
// request whose chain panicked is still counted.
func (g *Gateway) finish(api *apiRuntime, r *http.Request, rq *request, start time.Time) {
	if rq.w != nil {
		g.requestDone(api, r, rq, start)
	}
	if rq.conn != nil {
		// Before the handler returns, after a panic too: the connection's next request, or
		// anything that reads this one's context after it (nothing should), finds no state.
		rq.conn.Set(nil)
	}
	if hw := rq.c.HookWriter; hw != nil {
		// A plugin may have kept the writer its hook was handed: once the handler returns,
		// net/http hands this response's buffers to another request, so its writes must stop
		// here (after a panic too).
		hw.End()
	}
	if !rq.served {
		return
	}
	if st := rq.c.State; st != nil && st != &rq.st {
		// A plugin may still hold the state (a pluginRequest's): it must not lead to the chain
		// context, which the next request gets.
		st.Gateway = nil
	}
	*rq = request{}
	requests.Put(rq)
}

func (g *Gateway) badRequest(w http.ResponseWriter, r *http.Request, err error, start time.Time) {
	// The query is left out of the log: it may carry a key.
	target, _, _ := strings.Cut(r.RequestURI, "?")
	g.log.Debug("request refused", "status", http.StatusBadRequest, "method", r.Method, "target", target, "error", err)
	// The reason names only what is wrong with the request itself, so it is safe to show.
	chain.WriteError(w, http.StatusBadRequest, err.Error())
	g.unroutedDone(r, http.StatusBadRequest, start)
}

// unroutedDone counts (and logs, with the access log on) a request that no API took.
func (g *Gateway) unroutedDone(r *http.Request, code int, start time.Time) {
	g.answeredDone(g.unrouted, g.access, "", r, code, start)
}

// answeredDone counts in obs and logs in access (either nil: not) a request the gateway
// answered code itself, outside an API's chain, as apiID's ("" for no API's).
func (g *Gateway) answeredDone(obs observe.API, access *accesslog.Logger, apiID string, r *http.Request, code int, start time.Time) {
	total := time.Since(start)
	if obs != nil {
		obs.Request(r.Method, code, total)
	}
	if access.Enabled(r.Context()) {
		e := accessEntry(r, total)
		e.APIID, e.Path, e.Status = apiID, r.URL.Path, code
		if access.Has(accesslog.ClientIP) {
			e.ClientIP = iplist.ClientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), g.trusted)
		}
		access.Log(r.Context(), &e)
	}
}

// requestDone counts and logs the end of a request an API took: r is the client's request as
// it arrived, rq what the gateway kept of it.
func (g *Gateway) requestDone(api *apiRuntime, r *http.Request, rq *request, start time.Time) {
	total := time.Since(start)
	if rq.span != nil {
		rq.span.EndRequest(rq.w.status)
	}
	if api.obs != nil {
		api.obs.Request(r.Method, rq.w.status, total)
	}
	if api.access.Enabled(r.Context()) {
		c := &rq.c
		e := accessEntry(r, total)
		// The key, when the path carries it too, is hidden there as detailed records hide it:
		// the log has its hash only.
		e.APIID, e.KeyHash, e.ClientIP, e.Path, e.Status = api.id, c.KeyHash, c.ClientIP, hideKeysInPath(c.FullPath, c.State.Token), rq.w.status
		e.TraceID = c.TraceID
		if c.UpstreamURL != nil {
			e.Upstream, e.UpstreamTime = c.UpstreamURL, c.UpstreamTime
			if p := hideKeysInPath(c.UpstreamURL.Path, c.State.Token); p != c.UpstreamURL.Path {
				u := *c.UpstreamURL
				u.Path, u.RawPath = p, hideKeysInPath(c.UpstreamURL.EscapedPath(), c.State.Token)
				e.Upstream = &u
			}
		}
		api.access.Log(r.Context(), &e)
	}
}

// accessEntry is what the access log says of every request: never its query (the path fields
// come without it), nor a raw key.
func accessEntry(r *http.Request, total time.Duration) accesslog.Entry {
	return accesslog.Entry{
		Host:       r.Host,
		Method:     r.Method,
		Protocol:   r.Proto,
		RemoteAddr: r.RemoteAddr,
		UserAgent:  r.UserAgent(),
		Total:      total,
	}
}

// maxQueryParams is below Go's own limit, so parameters beyond it can never be hidden from the
// checks that parsed the query while still reaching the upstream.
const maxQueryParams = 1000

func tooManyParams(q string) bool {
	return q != "" && strings.Count(q, "&")+strings.Count(q, ";") >= maxQueryParams
}

// relative returns path with the listen path lp removed, starting with '/'.
func relative(path, lp string) string {
	if lp == "/" {
		return path
	}
	rest := path[len(lp):]
	if rest == "" {
		return "/"
	}
	return rest
}

// hopByHop are the headers that describe one connection, not the request (RFC 9110 7.6.1).
var hopByHop = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding"}

// sanitizeHopByHop removes hop-by-hop headers, and the headers the client names in Connection,
// before any step or plugin sees the request. Doing it here rather than in the proxy means a
// client cannot make the proxy drop a header the gateway added (by naming it in Connection), and
// plugins see what the upstream will see. The only upgrade kept is WebSocket, and only with
// websockets (http_server_options.enable_websockets): an `Upgrade: h2c` forwarded by
// ReverseProxy would open a tunnel past every check of the chain. It reports whether a WebSocket
// upgrade was asked for and removed because websockets are off.
func sanitizeHopByHop(h http.Header, websockets bool) (refused bool) {
	// These names are canonical, so a direct lookup is what Get does, without canonicalising
	// each name again on every request.
	conn := h["Connection"]
	up := firstValue(h, "Upgrade")
	websocket := up != "" && strings.EqualFold(strings.TrimSpace(up), "websocket")
	if len(conn) == 0 && up == "" && firstValue(h, "Te") == "" && firstValue(h, "Keep-Alive") == "" &&
		firstValue(h, "Proxy-Connection") == "" && firstValue(h, "Proxy-Authorization") == "" && firstValue(h, "Trailer") == "" {
		return false // the common case: nothing to remove
	}
	upgradeListed := false
	for _, v := range conn {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if strings.EqualFold(tok, "upgrade") {
				upgradeListed = true
				continue
			}
			if tok != "" {
				h.Del(tok)
			}
		}
	}
	te := h.Get("Te")
	for _, k := range hopByHop {
		h.Del(k)
	}
	h.Del("Connection")
	h.Del("Upgrade")
	h.Del("Http2-Settings")
	if strings.EqualFold(strings.TrimSpace(te), "trailers") {
		h.Set("Te", "trailers") // the one TE value ReverseProxy forwards, for gRPC
	}
	if websocket && upgradeListed {
		if !websockets {
			return true
		}
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", up)
	}
	return false
}

// websocketRefused logs, once per process, that a WebSocket upgrade went as a plain request
// because http_server_options.enable_websockets is off: the client gets the upstream's answer to
// a request without an upgrade, which does not say why.
func (g *Gateway) websocketRefused(apiID string) {
	if g.wsWarned.CompareAndSwap(false, true) {
		g.log.Warn("a WebSocket upgrade was forwarded as a plain request because http_server_options.enable_websockets is off; "+
			"set it to true to let WebSockets through (logged once)", "api_id", apiID)
	}
}

// firstValue is h.Get(key) for a canonical key.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// sanitizeForwarded removes what a client says of the hops before the gateway (Forwarded,
// X-Forwarded-*, X-Real-Ip, also spelled with underscores, which some servers read as
// dashes) before any step or plugin sees the request: the gateway is where the request
// entered, and the proxy sets X-Forwarded-For, -Host and -Proto itself. A client-sent
// X-Forwarded-Prefix or X-Real-Ip would otherwise reach plugins and the upstream as if the
// gateway vouched for it.
func sanitizeForwarded(h http.Header) {
	for k := range h {
		if hdrname.Same(k, "forwarded") || hdrname.Same(k, "x-real-ip") || len(k) > len("x-forwarded-") && hdrname.Same(k[:len("x-forwarded-")], "x-forwarded-") {
			delete(h, k)
		}
	}
}

// render writes a failed step's response and logs it once: server-side failures as errors,
// refusals at debug level (they are the gateway doing its job).
func (g *Gateway) render(apiID, orgID string, obs observe.API, evs events.Handlers) chain.Renderer {
	return func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
		status := chain.StatusOf(err)
		if obs != nil {
			countRefusal(obs, err)
		}
		if evs != nil {
			g.fireRequestEvent(evs, apiID, orgID, r, c, step, err)
		}
		if sp, ok := c.State.Span.(*tracing.Span); ok {
			sp.Failed(err)
		}
		level := slog.LevelDebug
		// A store that cannot be reached is logged once by the store, not on every request.
		if status >= 500 && !errors.Is(err, storage.ErrUnavailable) {
			level = slog.LevelError
		}
		if g.log.Enabled(r.Context(), level) {
			attrs := []slog.Attr{
				slog.String("api_id", apiID),
				slog.String("step", step),
				slog.Int("status", status),
				slog.String("method", r.Method),
				slog.String("path", c.FullPath),
				slog.String("error", err.Error()),
			}
			if c.KeyHash != "" {
				attrs = append(attrs, slog.String("key_hash", c.KeyHash[:12]))
			}
			g.log.LogAttrs(r.Context(), level, "request failed", attrs...)
		}
		chain.Render(w, r, err)
	}
}

// newBundleStore sets up bundles from the configuration: the downloader when enabled, and the
// verification key when public_key_path is set (a key that cannot be read stops the start).
func newBundleStore(g *Gateway) (*bundle.Store, error) {
	cfg := g.cfg
	o := bundle.StoreOptions{
		Dir: filepath.Join(cfg.MiddlewarePath, "bundles"),
		Log: g.log,
		OnChange: func() {
			_ = g.Reload(context.Background(), false)
		},
	}
	if g.obs != nil {
		o.OnDownload, o.OnInvalid = g.obs.BundleDownload, g.obs.BundleVerifyFailed
	}
	switch {
	case !cfg.EnableBundleDownloader:
		o.NoFetch = "enable_bundle_downloader is off"
	case cfg.BundleBaseURL == "":
		o.NoFetch = "bundle_base_url is not set"
	default:
		f, err := bundle.NewFetcher(bundle.FetchOptions{
			BaseURL:            cfg.BundleBaseURL,
			InsecureSkipVerify: cfg.BundleInsecureSkipVerify,
			ProgressTimeout:    cfg.BundleProgressTimeout(),
		})
		if err != nil {
			return nil, err
		}
		o.Fetcher = f
	}
	if cfg.PublicKeyPath != "" {
		key, err := bundle.LoadPublicKey(cfg.PublicKeyPath)
		if err != nil {
			return nil, fmt.Errorf("public_key_path: %w", err)
		}
		o.Key, o.AllowUnsealed = key, cfg.BundleAllowUnsealed
	}
	return bundle.NewStore(o), nil
}
