// Package prom is the Prometheus observer: the gateway's metrics on a registry of their own
// (never a global one, so that several gateways in one process, as in tests, keep apart),
// served in Prometheus's text format by Handler, without a client library (see metric.go). The metric names, types and labels are listed in
// docs/observability.md; keep the two together.
package prom

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/observe"
)

// Buckets of the latency histograms, in seconds. A gateway's own time is in microseconds, an
// upstream's in milliseconds: the request buckets start at 0.5 ms, the plugin buckets at 10 µs.
var (
	requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	pluginBuckets  = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	redisBuckets   = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	reloadBuckets  = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

// Observer is an observe.Observer that keeps Prometheus metrics.
type Observer struct {
	reg registry

	requests     *vec[counter]
	requestTime  *vec[histogram]
	upstreamTime *vec[histogram]
	refusals     *vec[counter]

	pluginCalls  *vec[counter]
	pluginTime   *vec[histogram]
	pluginErrors *vec[counter]
	pluginPanics *vec[counter]
	loadFailures *vec[counter]
	hooksFailed  *gauge
	hostsDown    *gauge

	bundleDownloads *vec[counter]
	bundleInvalid   *counter

	reloads        *counter
	reloadFailures *counter
	reloadTime     *histogram

	redisCalls  *vec[counter]
	redisErrors *vec[counter]
	redisTime   *vec[histogram]

	mu   sync.Mutex
	apis map[string]*api
}

var _ observe.Observer = (*Observer)(nil)

// New returns an Observer with its metrics registered, the Go runtime's and the process's
// among them. version is reported by gatehouse_build_info.
func New(version string) *Observer {
	o := &Observer{apis: map[string]*api{}}
	f := &o.reg
	o.requests = f.counterVec("gatehouse_http_requests_total",
		"Requests served, by API (\"\" for requests no API took), method and status code.", "api_id", "method", "code")
	o.requestTime = f.histogramVec("gatehouse_http_request_duration_seconds",
		"Time from routing a request to the end of its response, by API.", requestBuckets, "api_id")
	o.upstreamTime = f.histogramVec("gatehouse_upstream_request_duration_seconds",
		"Time from sending a request upstream to the end of its response to the client (response hooks included), by API.", requestBuckets, "api_id")
	o.refusals = f.counterVec("gatehouse_limit_refusals_total",
		"Requests refused by a limit, by API and limit (rate_limit, api_rate_limit, quota).", "api_id", "limit")
	o.pluginCalls = f.counterVec("gatehouse_plugin_calls_total",
		"Calls of a plugin hook, by API, hook and function.", "api_id", "hook", "plugin")
	o.pluginTime = f.histogramVec("gatehouse_plugin_duration_seconds",
		"Time a plugin hook ran, by API, hook and function.", pluginBuckets, "api_id", "hook", "plugin")
	o.pluginErrors = f.counterVec("gatehouse_plugin_errors_total",
		"Calls of a plugin hook that answered with a status of 400 or more, by API, hook and function.", "api_id", "hook", "plugin")
	o.pluginPanics = f.counterVec("gatehouse_plugin_panics_total",
		"Calls of a plugin hook that panicked, by API, hook and function.", "api_id", "hook", "plugin")
	o.loadFailures = f.counterVec("gatehouse_plugin_load_failures_total",
		"Plugin hooks that could not be loaded, counted when the failure appears, by reason.", "reason")
	o.hooksFailed = f.gauge("gatehouse_plugin_hooks_failed",
		"Plugin hooks not loaded now; their APIs fail closed.")
	o.hostsDown = f.gauge("gatehouse_upstream_hosts_down",
		"Upstream hosts the uptime tests find down now; load balancers with check_host_against_uptime_tests pass over them.")
	o.bundleDownloads = f.counterVec("gatehouse_bundle_downloads_total",
		"Bundle downloads, by result (success: downloaded and verified; failure).", "result")
	o.bundleInvalid = f.counter("gatehouse_bundle_verification_failures_total",
		"Bundles, on disk or just downloaded, that failed their checksum, signature or manifest checks.")
	o.reloads = f.counter("gatehouse_reloads_total", "Reloads, successful or not.")
	o.reloadFailures = f.counter("gatehouse_reload_failures_total", "Reloads that failed; the previous configuration kept serving.")
	o.reloadTime = f.histogram("gatehouse_reload_duration_seconds", "Time a reload took.", reloadBuckets)
	o.redisCalls = f.counterVec("gatehouse_redis_round_trips_total",
		"Round trips to Redis, by client (storage, analytics_storage, cache_storage) and operation.", "redis", "op")
	o.redisErrors = f.counterVec("gatehouse_redis_errors_total",
		"Round trips to Redis that failed (an error from Redis, the network or a time-out), by client and operation.", "redis", "op")
	o.redisTime = f.histogramVec("gatehouse_redis_round_trip_duration_seconds", "Time of a round trip to Redis, by client.", redisBuckets, "redis")
	f.gaugeVec("gatehouse_build_info", "Always 1: the gateway's version.", "version").with(version).Set(1)
	// The Go runtime's and the process's families write their own headers.
	f.add(&family{name: "go_", write: func(t *text) { t.b = appendGo(t.b) }})
	f.add(&family{name: "process_", write: func(t *text) { t.b = appendProcess(t.b) }})
	// The series that exist whatever happens start at 0, so that rate() sees their first
	// increase.
	for _, r := range []string{"success", "failure"} {
		o.bundleDownloads.with(r)
	}
	return o
}

// Handler serves the metrics in Prometheus's text format, gzipped when the client accepts it
// (as Prometheus does). The text format is what every Prometheus server reads; a scraper that
// asks for the protobuf format first gets it too, labelled as text.
func (o *Observer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Add("Vary", "Accept-Encoding")
		buf := scrapeBuffers.Get().(*[]byte)
		defer scrapeBuffers.Put(buf) // never grown: writeText hands its text on at flushAt
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			_ = o.reg.writeText(w, *buf) // an error is the client's going away
			return
		}
		h.Set("Content-Encoding", "gzip")
		z := gzipWriters.Get().(*gzip.Writer)
		defer func() {
			z.Reset(io.Discard) // the pool must not keep this response (and its connection) alive
			gzipWriters.Put(z)
		}()
		z.Reset(w)
		if o.reg.writeText(z, *buf) == nil {
			_ = z.Close()
		}
	})
}

// A scrape's buffer and compressor (about 1 MB, whatever the level) are kept for the next
// scrape, for as long as the collector lets a sync.Pool keep them.
var (
	scrapeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, flushAt+flushAt/2); return &b }}
	gzipWriters   = sync.Pool{New: func() any {
		z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the text, names and labels repeated, compresses well at any level
		return z
	}}
)

// acceptsGzip reports whether Accept-Encoding lists gzip with a quality above 0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			if len(q) >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=' { // q is case-insensitive
				q = q[2:]
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// Analytics registers the analytics counters, read from the analytics writer when scraped:
// records written (to the file or to Redis) and records dropped (the writer was behind, or
// Redis could not take them).
func (o *Observer) Analytics(written, dropped func() int64) {
	o.reg.counterFunc("gatehouse_analytics_records_written_total",
		"Analytics records written, to the analytics file or to the Redis list tyk-pump reads.",
		func() float64 { return float64(written()) })
	o.reg.counterFunc("gatehouse_analytics_records_dropped_total",
		"Analytics records dropped: the writer was behind, or Redis was down or too slow to take them.",
		func() float64 { return float64(dropped()) })
}

// Fleet registers the fleet's counters, read when scraped: notifications from other gateways
// refused (bad signature, replayed or too old), and messages on the notification channel dropped
// unread for their size (refused may be nil: without a node secret none is read).
func (o *Observer) Fleet(refused func() int64, dropped func() int64) {
	if refused != nil {
		o.reg.counterFunc("gatehouse_fleet_notifications_refused_total",
			"Notifications from other gateways refused: a bad signature, a replay, or a time too far from this gateway's clock.",
			func() float64 { return float64(refused()) })
	}
	o.reg.counterFunc("gatehouse_fleet_messages_dropped_total",
		"Messages on the fleet's notification channel dropped unread for being larger than any a gateway sends.",
		func() float64 { return float64(dropped()) })
}

// API returns the handle of an API, the same one for as long as the API is served, so that its
// children resolved on the first requests stay resolved across reloads.
func (o *Observer) API(apiID string) observe.API {
	o.mu.Lock()
	defer o.mu.Unlock()
	if a := o.apis[apiID]; a != nil {
		return a
	}
	a := &api{o: o, id: apiID, total: o.requestTime.with(apiID)}
	// Requests no API took reach no upstream and no limit: they get no such series.
	if apiID != "" {
		a.upstream = o.upstreamTime.with(apiID)
		for r := range a.refused {
			a.refused[r] = o.refusals.with(apiID, observe.Refusal(r).String())
		}
	}
	o.apis[apiID] = a
	return a
}

// Retain drops the series of APIs no longer served (requests no API took are always kept),
// and of plugin hooks no longer loaded: an API or hook that comes back starts its counters
// again, which Prometheus reads as a reset. It holds o.mu throughout, so that a handle taken
// meanwhile (the Gateway API checks a definition while a reload runs) waits, and resolves
// series Retain is not about to drop. The series are looked through once, whatever the number
// of APIs dropped: a reload that drops thousands of APIs must not look through them all for
// each.
func (o *Observer) Retain(ids map[string]bool, hooks map[observe.Hook]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	gone := false
	for id, a := range o.apis {
		if id == "" || ids[id] {
			continue
		}
		// Requests still running on the old snapshot must not make its series again: one that
		// is resolving a series finishes first (and its series is dropped below), the others
		// see gone.
		a.mu.Lock()
		a.gone.Store(true)
		a.mu.Unlock()
		delete(o.apis, id)
		gone = true
	}
	// api_id is the first label of each; a plugin's hook and function the next two.
	notServed := func(k labelValues) bool { return k[0] != "" && !ids[k[0]] }
	if gone {
		o.requests.deleteFunc(notServed)
		o.requestTime.deleteFunc(notServed)
		o.upstreamTime.deleteFunc(notServed)
		o.refusals.deleteFunc(notServed)
	}
	// Hooks change with their API served throughout: their few series are looked through at
	// each reload.
	notLoaded := func(k labelValues) bool { return !hooks[observe.Hook{APIID: k[0], Hook: k[1], Symbol: k[2]}] }
	o.pluginCalls.deleteFunc(notLoaded)
	o.pluginTime.deleteFunc(notLoaded)
	o.pluginErrors.deleteFunc(notLoaded)
	o.pluginPanics.deleteFunc(notLoaded)
}

// commonCodes are the status codes whose request counters an API keeps resolved; others are
// looked up by label when they happen.
var commonCodes = [...]int{200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408,
	413, 429, 431, 500, 502, 503, 504}

// codeSlot maps a status code to its place in commonCodes plus one; 0 for the others.
var codeSlot = func() (s [600]uint8) {
	for i, c := range commonCodes {
		s[c] = uint8(i + 1)
	}
	return s
}()

const numMethods = len(observe.Methods)

// api is one API's handle.
type api struct {
	o        *Observer
	id       string
	total    *histogram
	upstream *histogram
	refused  [observe.NumRefusals]*counter
	// codes holds the request counters by method and common status code, made on first use
	// (an API that gets no request costs one pointer).
	codes atomic.Pointer[codeTable]
	// gone is set once Retain dropped the API's series; mu makes resolving a series and
	// Retain's setting gone one before the other.
	gone atomic.Bool
	mu   sync.RWMutex
}

// detached counts what a request of an API no longer served adds: nothing registers it.
var detached = new(counter)

type codeTable [numMethods][len(commonCodes)]atomic.Pointer[counterRef]

type counterRef struct{ c *counter }

func (a *api) Request(method string, code int, total time.Duration) {
	a.counter(observe.MethodIndex(method), code).Inc()
	a.total.Observe(total.Seconds())
}

func (a *api) counter(m, code int) *counter {
	if code == 0 {
		code = http.StatusOK // nothing written: Go answers 200
	}
	slot := 0
	if code >= 0 && code < len(codeSlot) {
		slot = int(codeSlot[code])
	}
	if a.gone.Load() {
		return detached
	}
	if slot != 0 {
		if t := a.codes.Load(); t != nil {
			if ref := t[m][slot-1].Load(); ref != nil {
				return ref.c
			}
		}
	}
	return a.resolve(m, code, slot)
}

// testHookResolve, when set, runs as a request starts resolving its counter, its API found
// served.
var testHookResolve func()

// resolve returns the request counter a.counter has not at hand: a rare code's, looked up by
// label, or a common code's on its first use. It is looked up under a.mu, with gone checked
// again: Retain dropping the API's series between a check and the look-up would have it made
// again, never to be dropped.
func (a *api) resolve(m, code, slot int) *counter {
	if testHookResolve != nil {
		testHookResolve()
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.gone.Load() {
		return detached
	}
	if slot == 0 {
		return a.o.requests.with(a.id, observe.Methods[m], codeLabel(code))
	}
	t := a.codes.Load()
	if t == nil {
		t = new(codeTable)
		if !a.codes.CompareAndSwap(nil, t) {
			t = a.codes.Load()
		}
	}
	p := &t[m][slot-1]
	if ref := p.Load(); ref != nil {
		return ref.c
	}
	ref := &counterRef{a.o.requests.with(a.id, observe.Methods[m], strconv.Itoa(code))}
	p.Store(ref)
	return ref.c
}

// codeLabel is a status code as labelled: its digits when HTTP names it, else its class
// ("2xx"), so that an upstream inventing codes cannot add series without bound.
func codeLabel(code int) string {
	if http.StatusText(code) != "" {
		return strconv.Itoa(code)
	}
	if code >= 100 && code < 1000 {
		return strconv.Itoa(code/100) + "xx"
	}
	return "other"
}

func (a *api) Upstream(d time.Duration) {
	if a.upstream != nil {
		a.upstream.Observe(d.Seconds())
	}
}

func (a *api) Refused(r observe.Refusal) {
	if r < observe.NumRefusals && a.refused[r] != nil {
		a.refused[r].Inc()
	}
}

// Plugin returns the handle of a plugin hook, its series resolved now.
func (o *Observer) Plugin(apiID, hook, symbol string) observe.Plugin {
	o.mu.Lock() // as API: a Retain running now finishes dropping first
	defer o.mu.Unlock()
	return &plugin{
		calls:  o.pluginCalls.with(apiID, hook, symbol),
		time:   o.pluginTime.with(apiID, hook, symbol),
		errors: o.pluginErrors.with(apiID, hook, symbol),
		panics: o.pluginPanics.with(apiID, hook, symbol),
	}
}

type plugin struct {
	calls, errors, panics *counter
	time                  *histogram
}

func (p *plugin) Call(d time.Duration, code int, panicked bool) {
	p.calls.Inc()
	p.time.Observe(d.Seconds())
	switch {
	case panicked:
		p.panics.Inc()
	case code >= 400:
		p.errors.Inc()
	}
}

func (o *Observer) PluginLoadFailed(reason string) { o.loadFailures.with(reason).Inc() }

func (o *Observer) PluginsFailed(n int) { o.hooksFailed.Set(float64(n)) }

// UpstreamHostsDown implements observe.Observer.
func (o *Observer) UpstreamHostsDown(n int) { o.hostsDown.Set(float64(n)) }

func (o *Observer) BundleDownload(_ time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	o.bundleDownloads.with(result).Inc()
}

func (o *Observer) BundleVerifyFailed() { o.bundleInvalid.Inc() }

func (o *Observer) Reload(d time.Duration, err error) {
	o.reloads.Inc()
	if err != nil {
		o.reloadFailures.Inc()
	}
	o.reloadTime.Observe(d.Seconds())
}

// Redis implements observe.Observer: each client's series apart.
func (o *Observer) Redis(client string) func(op string, d time.Duration, err error) {
	c := &redisClient{o: o, name: client, time: o.redisTime.with(client)}
	return c.roundTrip
}

// redisClient holds the series of one Redis client.
type redisClient struct {
	o    *Observer
	name string
	time *histogram
	ops  sync.Map // op name → *redisOp
}

func (c *redisClient) roundTrip(op string, d time.Duration, err error) {
	var r *redisOp
	if v, ok := c.ops.Load(op); ok {
		r = v.(*redisOp)
	} else {
		v, _ := c.ops.LoadOrStore(op, &redisOp{c.o.redisCalls.with(c.name, op), c.o.redisErrors.with(c.name, op)})
		r = v.(*redisOp)
	}
	r.calls.Inc()
	if err != nil {
		r.errors.Inc()
	}
	c.time.Observe(d.Seconds())
}

// redisOp holds the series of one Redis operation (a fixed set of names, so kept for good).
type redisOp struct{ calls, errors *counter }
