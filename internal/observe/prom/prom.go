// Package prom is the Prometheus observer: the gateway's metrics on a registry of their own
// (never the global one, so that several gateways in one process, as in tests, keep apart),
// served in the text format by Handler. The metric names, types and labels are listed in
// docs/observability.md; keep the two together.
package prom

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	requestTime  *prometheus.HistogramVec
	upstreamTime *prometheus.HistogramVec
	refusals     *prometheus.CounterVec

	pluginCalls  *prometheus.CounterVec
	pluginTime   *prometheus.HistogramVec
	pluginErrors *prometheus.CounterVec
	pluginPanics *prometheus.CounterVec
	loadFailures *prometheus.CounterVec
	hooksFailed  prometheus.Gauge

	bundleDownloads *prometheus.CounterVec
	bundleInvalid   prometheus.Counter

	reloads        prometheus.Counter
	reloadFailures prometheus.Counter
	reloadTime     prometheus.Histogram

	redisCalls  *prometheus.CounterVec
	redisErrors *prometheus.CounterVec
	redisTime   prometheus.Histogram
	redisOps    sync.Map // op name → *redisOp

	mu   sync.Mutex
	apis map[string]*api

	// counts gathers what Counts reads.
	counts *prometheus.Registry
}

var _ observe.Observer = (*Observer)(nil)

// New returns an Observer with its metrics registered, the Go runtime and process collectors
// among them. version is reported by gatehouse_build_info.
func New(version string) *Observer {
	o := &Observer{reg: prometheus.NewRegistry(), apis: map[string]*api{}}
	f := factory{o.reg}
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
	o.bundleDownloads = f.counterVec("gatehouse_bundle_downloads_total",
		"Bundle downloads, by result (success: downloaded and verified; failure).", "result")
	o.bundleInvalid = f.counter("gatehouse_bundle_verification_failures_total",
		"Bundles, on disk or just downloaded, that failed their checksum, signature or manifest checks.")
	o.reloads = f.counter("gatehouse_reloads_total", "Reloads, successful or not.")
	o.reloadFailures = f.counter("gatehouse_reload_failures_total", "Reloads that failed; the previous configuration kept serving.")
	o.reloadTime = f.histogram("gatehouse_reload_duration_seconds", "Time a reload took.", reloadBuckets)
	o.redisCalls = f.counterVec("gatehouse_redis_round_trips_total",
		"Round trips to Redis, by operation.", "op")
	o.redisErrors = f.counterVec("gatehouse_redis_errors_total",
		"Round trips to Redis that failed (an error from Redis, the network or a time-out), by operation.", "op")
	o.redisTime = f.histogram("gatehouse_redis_round_trip_duration_seconds", "Time of a round trip to Redis.", redisBuckets)
	info := f.gaugeVec("gatehouse_build_info", "Always 1: the gateway's version.", "version")
	info.WithLabelValues(version).Set(1)
	o.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// The series that exist whatever happens start at 0, so that rate() sees their first
	// increase.
	for _, r := range []string{"success", "failure"} {
		o.bundleDownloads.WithLabelValues(r)
	}
	o.counts = o.statusRegistry()
	return o
}

// Handler serves the metrics in Prometheus's formats.
func (o *Observer) Handler() http.Handler {
	return promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
}

// Analytics registers the analytics counters, read from the analytics writer when scraped:
// records written (to the file or to Redis) and records dropped (the writer was behind, or
// Redis could not take them).
func (o *Observer) Analytics(written, dropped func() int64) {
	o.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_analytics_records_written_total",
			Help: "Analytics records written, to the analytics file or to the Redis list tyk-pump reads."},
			func() float64 { return float64(written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_analytics_records_dropped_total",
			Help: "Analytics records dropped: the writer was behind, or Redis was down or too slow to take them."},
			func() float64 { return float64(dropped()) }),
	)
}

// Registry is where the metrics are registered.
func (o *Observer) Registry() *prometheus.Registry { return o.reg }

// factory creates metrics registered on one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(v)
	return v
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(v)
	return v
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(v)
	return v
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// API returns the handle of an API, the same one for as long as the API is served, so that its
// children resolved on the first requests stay resolved across reloads.
func (o *Observer) API(apiID string) observe.API {
	o.mu.Lock()
	defer o.mu.Unlock()
	if a := o.apis[apiID]; a != nil {
		return a
	}
	a := &api{o: o, id: apiID, total: o.requestTime.WithLabelValues(apiID)}
	// Requests no API took reach no upstream and no limit: they get no such series.
	if apiID != "" {
		a.upstream = o.upstreamTime.WithLabelValues(apiID)
		for r := range a.refused {
			a.refused[r] = o.refusals.WithLabelValues(apiID, observe.Refusal(r).String())
		}
	}
	o.apis[apiID] = a
	return a
}

// Retain drops the series of APIs no longer served (requests no API took are always kept):
// an API that comes back starts its counters again, which Prometheus reads as a reset.
func (o *Observer) Retain(ids map[string]bool) {
	o.mu.Lock()
	var gone []string
	for id, a := range o.apis {
		if id != "" && !ids[id] {
			gone = append(gone, id)
			// Requests still running on the old snapshot must not make its series again.
			a.gone.Store(true)
			delete(o.apis, id)
		}
	}
	o.mu.Unlock()
	for _, id := range gone {
		l := prometheus.Labels{"api_id": id}
		o.requests.DeletePartialMatch(l)
		o.requestTime.DeletePartialMatch(l)
		o.upstreamTime.DeletePartialMatch(l)
		o.refusals.DeletePartialMatch(l)
		o.pluginCalls.DeletePartialMatch(l)
		o.pluginTime.DeletePartialMatch(l)
		o.pluginErrors.DeletePartialMatch(l)
		o.pluginPanics.DeletePartialMatch(l)
	}
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
	total    prometheus.Observer
	upstream prometheus.Observer
	refused  [observe.NumRefusals]prometheus.Counter
	// codes holds the request counters by method and common status code, made on first use
	// (an API that gets no request costs one pointer).
	codes atomic.Pointer[codeTable]
	// gone is set once Retain dropped the API's series.
	gone atomic.Bool
}

// detached counts what a request of an API no longer served adds: nothing registers it.
var detached = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_detached"})

type codeTable [numMethods][len(commonCodes)]atomic.Pointer[counterRef]

type counterRef struct{ c prometheus.Counter }

func (a *api) Request(method string, code int, total time.Duration) {
	a.counter(observe.MethodIndex(method), code).Inc()
	a.total.Observe(total.Seconds())
}

func (a *api) counter(m, code int) prometheus.Counter {
	if code == 0 {
		code = http.StatusOK // nothing written: Go answers 200
	}
	slot := 0
	if code < len(codeSlot) {
		slot = int(codeSlot[code])
	}
	if a.gone.Load() {
		return detached
	}
	if slot == 0 {
		return a.o.requests.WithLabelValues(a.id, observe.Methods[m], codeLabel(code))
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
	ref := &counterRef{a.o.requests.WithLabelValues(a.id, observe.Methods[m], strconv.Itoa(code))}
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
	return &plugin{
		calls:  o.pluginCalls.WithLabelValues(apiID, hook, symbol),
		time:   o.pluginTime.WithLabelValues(apiID, hook, symbol),
		errors: o.pluginErrors.WithLabelValues(apiID, hook, symbol),
		panics: o.pluginPanics.WithLabelValues(apiID, hook, symbol),
	}
}

type plugin struct {
	calls, errors, panics prometheus.Counter
	time                  prometheus.Observer
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

func (o *Observer) PluginLoadFailed(reason string) { o.loadFailures.WithLabelValues(reason).Inc() }

func (o *Observer) PluginsFailed(n int) { o.hooksFailed.Set(float64(n)) }

func (o *Observer) BundleDownload(_ time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	o.bundleDownloads.WithLabelValues(result).Inc()
}

func (o *Observer) BundleVerifyFailed() { o.bundleInvalid.Inc() }

func (o *Observer) Reload(d time.Duration, err error) {
	o.reloads.Inc()
	if err != nil {
		o.reloadFailures.Inc()
	}
	o.reloadTime.Observe(d.Seconds())
}

func (o *Observer) Redis(op string, d time.Duration, err error) {
	var r *redisOp
	if v, ok := o.redisOps.Load(op); ok {
		r = v.(*redisOp)
	} else {
		v, _ := o.redisOps.LoadOrStore(op, &redisOp{o.redisCalls.WithLabelValues(op), o.redisErrors.WithLabelValues(op)})
		r = v.(*redisOp)
	}
	r.calls.Inc()
	if err != nil {
		r.errors.Inc()
	}
	o.redisTime.Observe(d.Seconds())
}

// redisOp holds the series of one Redis operation (a fixed set of names, so kept for good).
type redisOp struct{ calls, errors prometheus.Counter }
