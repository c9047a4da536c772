package prom

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse/gatehouse/internal/observe"
)

// scrape serves o's metrics through Handler with the Accept-Encoding given and parses the body
// with Prometheus's own text parser (a test-only module).
func scrape(t *testing.T, o *Observer, acceptEncoding string) (map[string]*dto.MetricFamily, http.Header) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	o.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	var body io.Reader = rec.Body
	if rec.Header().Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = z
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return fams, rec.Header()
}

func TestExpositionParses(t *testing.T) {
	o := New("v1.2.3")
	hostile := "a\"b\\c\nd"
	a := o.API(hostile)
	a.Request("GET", 200, 700*time.Microsecond) // the 1 ms bucket
	a.Request("GET", 200, time.Millisecond)     // on the 1 ms bound: in its bucket
	a.Request("GET", 200, time.Minute)          // above the last bound
	o.Analytics(func() int64 { return 7 }, func() int64 { return 0 })

	fams, h := scrape(t, o, "")
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	if h.Get("Content-Encoding") != "" {
		t.Errorf("gzipped without Accept-Encoding")
	}
	for name, want := range map[string]dto.MetricType{
		"gatehouse_http_requests_total":             dto.MetricType_COUNTER,
		"gatehouse_http_request_duration_seconds":   dto.MetricType_HISTOGRAM,
		"gatehouse_reload_duration_seconds":         dto.MetricType_HISTOGRAM,
		"gatehouse_plugin_hooks_failed":             dto.MetricType_GAUGE,
		"gatehouse_build_info":                      dto.MetricType_GAUGE,
		"gatehouse_bundle_downloads_total":          dto.MetricType_COUNTER,
		"gatehouse_analytics_records_written_total": dto.MetricType_COUNTER,
		"go_gc_duration_seconds":                    dto.MetricType_SUMMARY,
		"go_goroutines":                             dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes_total":             dto.MetricType_COUNTER,
		"process_cpu_seconds_total":                 dto.MetricType_COUNTER,
		"process_resident_memory_bytes":             dto.MetricType_GAUGE,
	} {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != want {
			t.Errorf("%s is a %v, want %v", name, f.GetType(), want)
		}
	}
	// Families without a series are left out, as client_golang did.
	for _, name := range []string{"gatehouse_plugin_calls_total", "gatehouse_redis_round_trips_total", "gatehouse_plugin_load_failures_total"} {
		if fams[name] != nil {
			t.Errorf("%s written with no series", name)
		}
	}

	req := fams["gatehouse_http_requests_total"].GetMetric()
	if len(req) != 1 || req[0].GetCounter().GetValue() != 3 {
		t.Fatalf("requests: %v", req)
	}
	got := map[string]string{}
	for _, l := range req[0].GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	if got["api_id"] != hostile || got["method"] != "GET" || got["code"] != "200" {
		t.Errorf("labels read back as %q", got)
	}

	hist := fams["gatehouse_http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 3 {
		t.Errorf("histogram count %d, want 3", hist.GetSampleCount())
	}
	if s := hist.GetSampleSum(); s < 60.0017 || s > 60.0018 {
		t.Errorf("histogram sum %v, want 60.0017", s)
	}
	var bounds []float64
	for _, b := range hist.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		want := uint64(0)
		switch {
		case math.IsInf(b.GetUpperBound(), 1):
			want = 3
		case b.GetUpperBound() >= 0.001:
			want = 2
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if !slices.Equal(bounds, append(slices.Clone(requestBuckets), math.Inf(1))) {
		t.Errorf("bounds %v, want %v", bounds, requestBuckets)
	}
	if v := fams["gatehouse_analytics_records_written_total"].GetMetric()[0].GetCounter().GetValue(); v != 7 {
		t.Errorf("analytics written %v, want 7", v)
	}
	if v := fams["go_goroutines"].GetMetric()[0].GetGauge().GetValue(); v < 1 {
		t.Errorf("go_goroutines %v", v)
	}
	if v := fams["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(); v < 1<<20 {
		t.Errorf("process_resident_memory_bytes %v", v)
	}
	if v := fams["go_memstats_heap_sys_bytes"].GetMetric()[0].GetGauge().GetValue(); v < 1<<20 {
		t.Errorf("go_memstats_heap_sys_bytes %v", v)
	}
}

// TestRuntimeFamilies checks that the go_* and process_* families are those client_golang's
// default collectors served (its v1.25.0, read from a gateway that linked it), so that
// dashboards built on them keep working.
func TestRuntimeFamilies(t *testing.T) {
	want := []string{
		"go_gc_duration_seconds", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
		"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_buck_hash_sys_bytes",
		"go_memstats_frees_total", "go_memstats_gc_sys_bytes", "go_memstats_heap_alloc_bytes",
		"go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
		"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_last_gc_time_seconds",
		"go_memstats_mallocs_total", "go_memstats_mcache_inuse_bytes", "go_memstats_mcache_sys_bytes",
		"go_memstats_mspan_inuse_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_next_gc_bytes",
		"go_memstats_other_sys_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_stack_sys_bytes",
		"go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
		"process_cpu_seconds_total", "process_max_fds", "process_network_receive_bytes_total",
		"process_network_transmit_bytes_total", "process_open_fds", "process_resident_memory_bytes",
		"process_start_time_seconds", "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
	}
	runtime.GC()
	fams, _ := scrape(t, New("test"), "")
	var got []string
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			got = append(got, name)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("runtime families:\n got %v\nwant %v", got, want)
	}
	if v := fams["go_sched_gomaxprocs_threads"].GetMetric()[0].GetGauge().GetValue(); v != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("go_sched_gomaxprocs_threads %v, want %d", v, runtime.GOMAXPROCS(0))
	}
	if v := fams["go_info"].GetMetric()[0].GetLabel()[0].GetValue(); v != runtime.Version() {
		t.Errorf("go_info version %q", v)
	}
	now := float64(time.Now().Unix())
	if v := fams["go_memstats_last_gc_time_seconds"].GetMetric()[0].GetGauge().GetValue(); v > now+1 || v < now-60 {
		t.Errorf("go_memstats_last_gc_time_seconds %v just after a collection, now %v", v, now)
	}
	start := fams["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue()
	if start > now+1 || start < now-24*3600 {
		t.Errorf("process_start_time_seconds %v, now %v", start, now)
	}
}

func TestHandlerGzip(t *testing.T) {
	o := New("test")
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"gzip;Q=0", false}, // the q of a weight is case-insensitive (RFC 9110, 12.4.2)
		{"gzip;q=0.000, identity", false},
		{"br;q=1, gzip;q=0.001", true},
		{"identity", false},
		{"", false},
	} {
		_, h := scrape(t, o, c.accept)
		if got := h.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", c.accept, got, c.gzip)
		}
	}
}

func TestRegistryOrderAndDuplicates(t *testing.T) {
	var r registry
	r.counter("b_total", "B.").Inc()
	r.counter("a_total", "A.")
	dup := r.counter("a_total", "A again.") // ignored: the first family of the name is written
	dup.Inc()
	text := string(r.appendText(nil))
	want := "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n"
	if text != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", text, want)
	}
}

// BenchmarkScrape is what one scrape of a gateway with 100 APIs costs, gzipped as Prometheus
// asks (-benchmem: the compressor is most of it).
func BenchmarkScrape(b *testing.B) {
	o := New("test")
	for i := range 100 {
		a := o.API("api-" + strconv.Itoa(i))
		a.Request("GET", 200, time.Millisecond)
		a.Upstream(time.Millisecond)
	}
	h := o.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// writeSizes records the size of each Write.
type writeSizes struct {
	bytes.Buffer
	sizes []int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestLargeExpositionStreams checks that a scrape of many APIs is handed on in pieces of about
// flushAt (the text is never held whole) and still reads back whole.
func TestLargeExpositionStreams(t *testing.T) {
	o := New("test")
	const apis = 2000
	for i := range apis {
		o.API("api-"+strconv.Itoa(i)).Request("GET", 200, time.Millisecond)
	}
	var w writeSizes
	if err := o.reg.writeText(&w, nil); err != nil {
		t.Fatal(err)
	}
	if len(w.sizes) < 10 {
		t.Errorf("%d writes for %d bytes: the text was held whole", len(w.sizes), w.Len())
	}
	for _, n := range w.sizes {
		if n > flushAt+8<<10 {
			t.Errorf("a write of %d bytes, past flushAt (%d) by more than a series", n, flushAt)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&w.Buffer)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gatehouse_http_requests_total", "gatehouse_http_request_duration_seconds", "gatehouse_limit_refusals_total"} {
		want := apis
		if name == "gatehouse_limit_refusals_total" {
			want = apis * int(observe.NumRefusals)
		}
		if n := len(fams[name].GetMetric()); n != want {
			t.Errorf("%s: %d series, want %d", name, n, want)
		}
	}
}

// TestConcurrentScrapes runs requests, reloads (Retain) and scrapes at once (for -race), then
// checks that the API kept throughout counted every request.
func TestConcurrentScrapes(t *testing.T) {
	o := New("test")
	keep := o.API("keep")
	const workers, each = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			other := "other-" + strconv.Itoa(w)
			for i := range each {
				keep.Request("GET", 200, time.Millisecond)
				o.API(other).Request("POST", 418, time.Millisecond)
				if i%100 == 0 {
					o.Retain(map[string]bool{"keep": true}, nil)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			var w writeSizes
			if err := o.reg.writeText(&w, nil); err != nil {
				t.Error(err)
				return
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			if _, err := p.TextToMetricFamilies(&w.Buffer); err != nil {
				t.Errorf("a scrape during updates does not parse: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if got := o.requests.with("keep", "GET", "200").value(); got != workers*each {
		t.Errorf("keep counted %v requests, want %d", got, workers*each)
	}
	cum, _ := o.requestTime.with("keep").snapshot(nil)
	if got := cum[len(cum)-1]; got != workers*each {
		t.Errorf("keep's histogram counted %d requests, want %d", got, workers*each)
	}
}

// A label value that is not UTF-8 (an API id is whatever its definition says) must not make
// the whole scrape unreadable: it is written with U+FFFD in place of its invalid bytes.
func TestExpositionInvalidUTF8(t *testing.T) {
	o := New("v1.2.3")
	o.API("bad\xff\xfeid").Request("GET", 200, time.Millisecond)
	fams, _ := scrape(t, o, "")
	req := fams["gatehouse_http_requests_total"].GetMetric()
	if len(req) != 1 {
		t.Fatalf("requests: %v", req)
	}
	for _, l := range req[0].GetLabel() {
		if l.GetName() == "api_id" && l.GetValue() != "bad\uFFFDid" {
			t.Errorf("api_id read back as %q, want %q", l.GetValue(), "bad\uFFFDid")
		}
	}
}

// failingWriter is a response whose client goes away after n bytes.
type failingWriter struct {
	h http.Header
	n int
}

func (w *failingWriter) Header() http.Header { return w.h }
func (w *failingWriter) WriteHeader(int)     {}
func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, io.ErrClosedPipe
	}
	w.n -= len(p)
	return len(p), nil
}

// TestScrapeAfterClientLeft: a client that goes away in the middle of a gzipped scrape leaves
// its compressor and buffer in their pools with a write error and a half-written stream; the
// scrapes after it, which get them again, must be whole.
func TestScrapeAfterClientLeft(t *testing.T) {
	o := New("test")
	for i := range 500 { // a text of several flushAt
		o.API("api-"+strconv.Itoa(i)).Request("GET", 200, time.Millisecond)
	}
	h := o.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	for _, n := range []int{0, 10, flushAt / 4} {
		h.ServeHTTP(&failingWriter{h: http.Header{}, n: n}, req)
		fams, _ := scrape(t, o, "gzip")
		if got := len(fams["gatehouse_http_requests_total"].GetMetric()); got != 500 {
			t.Errorf("after a client left at byte %d: %d request series, want 500", n, got)
		}
	}
}

// TestScrapeClientDisconnects scrapes a real server and goes away after the first bytes, many
// times, while others scrape whole: nothing hangs or crashes, and the whole scrapes parse.
func TestScrapeClientDisconnects(t *testing.T) {
	o := New("test")
	for i := range 200 {
		o.API("api-"+strconv.Itoa(i)).Request("GET", 200, time.Millisecond)
	}
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	get := func(whole bool) error {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client leaves it as it is
		res, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if !whole {
			_, err = io.ReadFull(res.Body, make([]byte, 16))
			return err
		}
		z, err := gzip.NewReader(res.Body)
		if err != nil {
			return err
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(z)
		if err != nil {
			return err
		}
		if got := len(fams["gatehouse_http_requests_total"].GetMetric()); got != 200 {
			return fmt.Errorf("%d request series, want 200", got)
		}
		return nil
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 4 {
				if err := get((w+i)%2 == 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFamilyEndingAtItsHeaderLength: a family whose samples were handed on (past flushAt) and
// whose last ones then fill exactly as many bytes as its header did must be written whole: a
// family with no series has its header taken back, which is told from the length left.
func TestFamilyEndingAtItsHeaderLength(t *testing.T) {
	var r registry
	v := r.counterVec("a_total", "A.", "k")
	head := len(header(nil, "a_total", "A.", "counter"))
	line := func(value string) int { return len(sample(nil, "a_total", v.labels, &labelValues{value}, "", 0)) }
	// Series "s00000"... of equal lines up to the first flush, then one last series ("z...",
	// written last) whose line is as long as the header.
	n := 0
	for size := head; size < flushAt; size += line("s00000") {
		v.with(fmt.Sprintf("s%05d", n))
		n++
	}
	last := "z" + strings.Repeat("z", head-line("z"))
	if line(last) != head {
		t.Fatalf("the last line is %d bytes, the header %d", line(last), head)
	}
	v.with(last)
	var w writeSizes
	if err := r.writeText(&w, nil); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(w.Bytes()))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	if got := len(fams["a_total"].GetMetric()); got != n+1 {
		t.Errorf("%d series written, want %d", got, n+1)
	}
}
