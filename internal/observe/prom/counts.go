package prom

import "math"

// Counts are the figures of the status page, read from the metrics: what the requests and
// plugin hooks already add to, so that the page costs a request nothing.
type Counts struct {
	// Requests are by api_id ("" for requests no API took).
	Requests map[string]Requests
	Plugins  map[PluginKey]PluginCounts
}

// Requests counts an API's requests: all of them, and those answered with a 5xx.
type Requests struct{ Total, Errors5xx float64 }

// PluginKey names a plugin hook's series.
type PluginKey struct{ APIID, Hook, Plugin string }

// PluginCounts are a plugin hook's calls, errors (a status of 400 or more) and panics, and the
// 99th percentile of its run time in seconds: the upper bound of the histogram bucket it falls
// in, +Inf above the last bucket, NaN before the first call.
type PluginCounts struct{ Calls, Errors, Panics, P99 float64 }

// Counts reads the request and plugin figures.
func (o *Observer) Counts() (Counts, error) {
	c := Counts{Requests: map[string]Requests{}, Plugins: map[PluginKey]PluginCounts{}}
	for _, s := range o.requests.series() {
		id, code := s.values[0], s.values[2]
		r := c.Requests[id]
		v := s.m.value()
		r.Total += v
		if len(code) == 3 && code[0] == '5' {
			r.Errors5xx += v
		}
		c.Requests[id] = r
	}
	plugin := func(v labelValues, set func(p *PluginCounts)) {
		k := PluginKey{v[0], v[1], v[2]}
		p, ok := c.Plugins[k]
		if !ok {
			p.P99 = math.NaN()
		}
		set(&p)
		c.Plugins[k] = p
	}
	for _, s := range o.pluginCalls.series() {
		plugin(s.values, func(p *PluginCounts) { p.Calls = s.m.value() })
	}
	for _, s := range o.pluginErrors.series() {
		plugin(s.values, func(p *PluginCounts) { p.Errors = s.m.value() })
	}
	for _, s := range o.pluginPanics.series() {
		plugin(s.values, func(p *PluginCounts) { p.Panics = s.m.value() })
	}
	for _, s := range o.pluginTime.series() {
		plugin(s.values, func(p *PluginCounts) { p.P99 = quantile(s.m, 0.99) })
	}
	return c, nil
}

// quantile returns the upper bound of the bucket holding the q-quantile of h's observations:
// +Inf when it is above the last bucket, NaN when there is none.
func quantile(h *histogram, q float64) float64 {
	cum, _ := h.snapshot(nil)
	n := cum[len(cum)-1]
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	for i, bound := range h.bounds {
		if cum[i] >= rank {
			return bound
		}
	}
	return math.Inf(1)
}
