package prom

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse/internal/observe"
)

func TestRequestLabels(t *testing.T) {
	o := New("test")
	a := o.API("a")
	for _, r := range []struct {
		method string
		code   int
	}{
		{"GET", 200}, {"GET", 0}, {"get", 200}, {"BREW", 418}, {"POST", 299}, {"DELETE", 599}, {"PUT", 207},
	} {
		a.Request(r.method, r.code, time.Millisecond)
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"a", "GET", "200"}, 2},
		{[]string{"a", "OTHER", "200"}, 1},
		{[]string{"a", "OTHER", "418"}, 1},
		{[]string{"a", "POST", "2xx"}, 1},
		{[]string{"a", "DELETE", "5xx"}, 1},
		{[]string{"a", "PUT", "207"}, 1},
	} {
		if got := value(o.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("%v: %v, want %v", c.labels, got, c.want)
		}
	}
	if n := count(o.requests); n != 6 {
		t.Errorf("%d request series, want 6", n)
	}
	if o.API("a") != a {
		t.Error("an API's handle is not kept")
	}
}

func TestRetainDropsRemovedAPIs(t *testing.T) {
	o := New("test")
	o.API("a").Request("GET", 200, time.Millisecond)
	o.API("b").Request("GET", 200, time.Millisecond)
	o.API("").Request("GET", 404, time.Millisecond)
	o.Plugin("b", "pre", "F").Call(time.Microsecond, 0, false)
	b := o.API("b")
	o.Retain(map[string]bool{"a": true})
	// Requests still running on the old snapshot end after Retain, with a common code and a
	// rare one: they must not bring b's series back.
	b.Request("POST", 201, time.Millisecond)
	b.Request("GET", 418, time.Millisecond)
	fams, err := o.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range fams {
		if f.GetName() != "gatehouse_http_requests_total" && f.GetName() != "gatehouse_plugin_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "api_id" {
					ids = append(ids, f.GetName()+":"+l.GetValue())
				}
			}
		}
	}
	if got := strings.Join(ids, " "); got != "gatehouse_http_requests_total: gatehouse_http_requests_total:a" {
		t.Errorf("series after Retain(a): %s", got)
	}
}

func TestPluginAndEvents(t *testing.T) {
	o := New("test")
	p := o.Plugin("a", "post", "F")
	p.Call(time.Microsecond, 0, false)
	p.Call(time.Microsecond, 403, false)
	p.Call(time.Microsecond, 500, true)
	a := o.API("a")
	a.Refused(observe.Quota)
	a.Refused(observe.Quota)
	o.Reload(time.Millisecond, nil)
	o.Reload(time.Millisecond, errors.New("x"))
	o.Redis("get", time.Microsecond, nil)
	o.Redis("get", time.Microsecond, errors.New("x"))
	o.BundleDownload(time.Millisecond, errors.New("x"))
	o.BundleVerifyFailed()
	o.PluginLoadFailed("symbol")
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"calls", value(o.pluginCalls.WithLabelValues("a", "post", "F")), 3},
		{"errors", value(o.pluginErrors.WithLabelValues("a", "post", "F")), 1},
		{"panics", value(o.pluginPanics.WithLabelValues("a", "post", "F")), 1},
		{"quota", value(o.refusals.WithLabelValues("a", "quota")), 2},
		{"reloads", value(o.reloads), 2},
		{"reload failures", value(o.reloadFailures), 1},
		{"redis", value(o.redisCalls.WithLabelValues("get")), 2},
		{"redis errors", value(o.redisErrors.WithLabelValues("get")), 1},
		{"bundle failures", value(o.bundleDownloads.WithLabelValues("failure")), 1},
		{"bundle invalid", value(o.bundleInvalid), 1},
		{"load failures", value(o.loadFailures.WithLabelValues("symbol")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// BenchmarkRequest is what a request costs the observer once its series exist.
func BenchmarkRequest(b *testing.B) {
	a := New("test").API("a")
	b.ReportAllocs()
	for b.Loop() {
		a.Request("GET", 200, time.Millisecond)
	}
}

func BenchmarkPluginCall(b *testing.B) {
	p := New("test").Plugin("a", "post", "F")
	b.ReportAllocs()
	for b.Loop() {
		p.Call(time.Microsecond, 0, false)
	}
}

// value reads a counter's or gauge's value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.GetCounter().GetValue()
	}
	return d.GetGauge().GetValue()
}

// count returns the number of series a collector has.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
