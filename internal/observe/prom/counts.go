package prom

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

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

// statusRegistry registers, a second time, the collectors Counts reads, so that reading them
// never runs the Go runtime and process collectors.
func (o *Observer) statusRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(o.requests, o.pluginCalls, o.pluginTime, o.pluginErrors, o.pluginPanics)
	return r
}

// Counts reads the request and plugin figures.
func (o *Observer) Counts() (Counts, error) {
	fams, err := o.counts.Gather()
	c := Counts{Requests: map[string]Requests{}, Plugins: map[PluginKey]PluginCounts{}}
	if err != nil {
		return c, err
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			l := labels(m)
			switch f.GetName() {
			case "gatehouse_http_requests_total":
				r := c.Requests[l["api_id"]]
				v := m.GetCounter().GetValue()
				r.Total += v
				if code := l["code"]; len(code) == 3 && code[0] == '5' {
					r.Errors5xx += v
				}
				c.Requests[l["api_id"]] = r
			case "gatehouse_plugin_calls_total", "gatehouse_plugin_errors_total", "gatehouse_plugin_panics_total", "gatehouse_plugin_duration_seconds":
				k := PluginKey{l["api_id"], l["hook"], l["plugin"]}
				p, ok := c.Plugins[k]
				if !ok {
					p.P99 = math.NaN()
				}
				switch f.GetName() {
				case "gatehouse_plugin_calls_total":
					p.Calls = m.GetCounter().GetValue()
				case "gatehouse_plugin_errors_total":
					p.Errors = m.GetCounter().GetValue()
				case "gatehouse_plugin_panics_total":
					p.Panics = m.GetCounter().GetValue()
				default:
					p.P99 = quantile(m.GetHistogram(), 0.99)
				}
				c.Plugins[k] = p
			}
		}
	}
	return c, nil
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// quantile returns the upper bound of the bucket holding the q-quantile of h's observations:
// +Inf when it is above the last bucket, NaN when there is none.
func quantile(h *dto.Histogram, q float64) float64 {
	n := h.GetSampleCount()
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() >= rank {
			return b.GetUpperBound()
		}
	}
	return math.Inf(1)
}
