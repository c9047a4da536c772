package prom

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/observe"
)

func TestRequestLabels(t *testing.T) {
	o := New("test")
	a := o.API("a")
	for _, r := range []struct {
		method string
		code   int
	}{
		{"GET", 200}, {"GET", 0}, {"get", 200}, {"BREW", 418}, {"POST", 299}, {"DELETE", 599}, {"PUT", 207}, {"GET", -1}, {"GET", 1 << 20},
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
		{[]string{"a", "GET", "other"}, 2}, // codes no response has: counted, never a panic
	} {
		if got := o.requests.with(c.labels...).value(); got != c.want {
			t.Errorf("%v: %v, want %v", c.labels, got, c.want)
		}
	}
	if n := len(o.requests.series()); n != 7 {
		t.Errorf("%d request series, want 7", n)
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
	// a stays served; of its hooks, one is loaded still, the other is no more.
	o.Plugin("a", "pre", "Kept").Call(time.Microsecond, 0, false)
	o.Plugin("a", "pre", "Dropped").Call(time.Microsecond, 0, false)
	b := o.API("b")
	o.Retain(map[string]bool{"a": true}, map[observe.Hook]bool{{APIID: "a", Hook: "pre", Symbol: "Kept"}: true})
	// Requests still running on the old snapshot end after Retain, with a common code and a
	// rare one: they must not bring b's series back.
	b.Request("POST", 201, time.Millisecond)
	b.Request("GET", 418, time.Millisecond)
	var ids []string
	for _, s := range o.requests.series() {
		ids = append(ids, "gatehouse_http_requests_total:"+s.values[0])
	}
	for _, v := range []*vec[counter]{o.pluginCalls, o.pluginErrors, o.pluginPanics} {
		for _, s := range v.series() {
			ids = append(ids, "plugin:"+strings.Join(s.values[:], "/"))
		}
	}
	for _, s := range o.pluginTime.series() {
		ids = append(ids, "plugin_time:"+strings.Join(s.values[:], "/"))
	}
	if got := strings.Join(ids, " "); got != "gatehouse_http_requests_total: gatehouse_http_requests_total:a"+
		" plugin:a/pre/Kept plugin:a/pre/Kept plugin:a/pre/Kept plugin_time:a/pre/Kept" {
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
	redis, cache := o.Redis("storage"), o.Redis("cache_storage")
	redis("get", time.Microsecond, nil)
	redis("get", time.Microsecond, errors.New("x"))
	cache("get", time.Microsecond, errors.New("x"))
	o.BundleDownload(time.Millisecond, errors.New("x"))
	o.BundleVerifyFailed()
	o.PluginLoadFailed("symbol")
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"calls", o.pluginCalls.with("a", "post", "F").value(), 3},
		{"errors", o.pluginErrors.with("a", "post", "F").value(), 1},
		{"panics", o.pluginPanics.with("a", "post", "F").value(), 1},
		{"quota", o.refusals.with("a", "quota").value(), 2},
		{"reloads", o.reloads.value(), 2},
		{"reload failures", o.reloadFailures.value(), 1},
		{"redis", o.redisCalls.with("storage", "get").value(), 2},
		{"redis errors", o.redisErrors.with("storage", "get").value(), 1},
		{"cache redis", o.redisCalls.with("cache_storage", "get").value(), 1},
		{"cache redis errors", o.redisErrors.with("cache_storage", "get").value(), 1},
		{"bundle failures", o.bundleDownloads.with("failure").value(), 1},
		{"bundle invalid", o.bundleInvalid.value(), 1},
		{"load failures", o.loadFailures.with("symbol").value(), 1},
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
