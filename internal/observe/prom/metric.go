package prom

import (
	"bytes"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// The metrics are the package's own, written in Prometheus's text format (0.0.4) without a
// client library: client_golang links google.golang.org/protobuf's runtime, expvar,
// runtime/metrics's collector and procfs into every gateway, metrics on or off, and a binary
// that loads plugins keeps every exported method of every type it links
// (docs/performance-log.md, A smaller binary). What the gateway needs is small: counters, gauges
// and histograms with at most three labels, resolved once and then updated with atomics.

// counter is a monotonic count.
type counter struct{ n atomic.Uint64 }

func (c *counter) Inc() { c.n.Add(1) }

func (c *counter) value() float64 { return float64(c.n.Load()) }

// gauge is a value that is set.
type gauge struct{ bits atomic.Uint64 }

func (g *gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

func (g *gauge) value() float64 { return math.Float64frombits(g.bits.Load()) }

// histogram counts observations in buckets of upper bounds (counts[i] for bounds[i], the last
// for +Inf; not cumulative) and sums them.
type histogram struct {
	bounds  []float64
	counts  []atomic.Uint64
	sumBits atomic.Uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds v: to the first bucket whose bound is at least v, +Inf's when none is (NaN
// too).
func (h *histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// snapshot returns the cumulative bucket counts (the last is the count; in buf when it has
// room) and the sum. Each
// count is read once, so the buckets always add up to the count; the sum may lag them by an
// observation in progress.
func (h *histogram) snapshot(buf []uint64) (cumulative []uint64, sum float64) {
	cumulative = slices.Grow(buf[:0], len(h.counts))[:len(h.counts)]
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		cumulative[i] = n
	}
	return cumulative, math.Float64frombits(h.sumBits.Load())
}

// maxLabels is the most labels a metric has here.
const maxLabels = 3

// labelValues are a series' label values, in the order of its family's label names; unused
// places are "". An array, so that looking a series up allocates nothing.
type labelValues [maxLabels]string

// vec is a family's series by label values, made on first use.
type vec[M any] struct {
	labels []string
	make   func() *M
	mu     sync.RWMutex
	m      map[labelValues]*M
}

func newVec[M any](make func() *M, labels ...string) *vec[M] {
	if len(labels) > maxLabels {
		panic("prom: more than maxLabels labels") // a programming error, found by every test
	}
	return &vec[M]{labels: labels, make: make, m: map[labelValues]*M{}}
}

// with returns the series of values (as many as the family has labels), made if it is new.
func (v *vec[M]) with(values ...string) *M {
	var k labelValues
	copy(k[:], values)
	v.mu.RLock()
	m := v.m[k]
	v.mu.RUnlock()
	if m != nil {
		return m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if m = v.m[k]; m == nil {
		m = v.make()
		v.m[k] = m
	}
	return m
}

// deleteFunc drops the series whose label values drop reports.
func (v *vec[M]) deleteFunc(drop func(labelValues) bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.m {
		if drop(k) {
			delete(v.m, k)
		}
	}
}

// series returns the family's series sorted by label values.
func (v *vec[M]) series() []labelled[M] {
	v.mu.RLock()
	out := make([]labelled[M], 0, len(v.m))
	for k, m := range v.m {
		out = append(out, labelled[M]{k, m})
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b labelled[M]) int {
		for i := range a.values {
			if c := strings.Compare(a.values[i], b.values[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

type labelled[M any] struct {
	values labelValues
	m      *M
}

// Text format.

// contentType is the text format's, which every Prometheus server reads.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// header appends a family's HELP and TYPE lines.
func header(b []byte, name, help, kind string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendEscaped(b, help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, kind...)
	return append(b, '\n')
}

// sample appends one line: name, the labels (names[i]="values[i]", then extra, already
// formatted, as le="0.5"), and the value.
func sample(b []byte, name string, names []string, values *labelValues, extra string, v float64) []byte {
	b = append(b, name...)
	if len(names) > 0 || extra != "" {
		b = append(b, '{')
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, n...)
			b = append(b, `="`...)
			b = appendEscaped(b, values[i], true)
			b = append(b, '"')
		}
		if extra != "" {
			if len(names) > 0 {
				b = append(b, ',')
			}
			b = append(b, extra...)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendEscaped escapes a backslash and a line feed, and in a label value a double quote, as
// the text format wants; bytes that are not UTF-8 become U+FFFD, since one such byte makes a
// scraper refuse the whole exposition.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// bucketLabel is a bucket's le="..." label.
func bucketLabel(bound float64) string {
	return `le="` + string(appendFloat(nil, bound)) + `"`
}

// family is a metric family the registry writes: write appends its samples to t.b.
type family struct {
	name, help, kind string
	write            func(t *text)
}

// text is an exposition being written: b holds what is not yet handed to w; flushes counts
// the times it was.
type text struct {
	w       io.Writer
	b       []byte
	err     error
	flushes int
}

// flushAt is the size past which text hands what it holds to its writer, so that a scrape of
// many APIs never holds its whole text.
const flushAt = 32 << 10

// maybeFlush hands b to w once it is flushAt long; call it between samples.
func (t *text) maybeFlush() {
	if len(t.b) >= flushAt {
		t.flush()
	}
}

func (t *text) flush() {
	if t.err == nil {
		_, t.err = t.w.Write(t.b)
	}
	t.b = t.b[:0]
	t.flushes++
}

// registry is a set of families, written sorted by name; a family with no series is left out.
type registry struct {
	mu   sync.Mutex
	fams []*family
}

// add registers f; a second family of the same name is ignored.
func (r *registry) add(f *family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearchFunc(r.fams, f.name, func(e *family, name string) int { return strings.Compare(e.name, name) })
	if !found {
		r.fams = slices.Insert(r.fams, i, f)
	}
}

// writeText writes the exposition of every family to w, through buf.
func (r *registry) writeText(w io.Writer, buf []byte) error {
	r.mu.Lock()
	fams := slices.Clone(r.fams)
	r.mu.Unlock()
	t := &text{w: w, b: buf[:0]}
	for _, f := range fams {
		if f.kind == "" { // a collector of several families writes its own headers
			f.write(t)
			continue
		}
		n := len(t.b)
		t.b = header(t.b, f.name, f.help, f.kind)
		m, flushes := len(t.b), t.flushes
		// A family with no series flushes nothing (flushes come after a sample): its header
		// is still in b, and taken back. One whose samples were handed on may end with b as
		// long as its header left it: that is its last samples.
		if f.write(t); len(t.b) == m && t.flushes == flushes {
			t.b = t.b[:n]
		}
	}
	t.flush()
	return t.err
}

// appendText appends the exposition of every family to b.
func (r *registry) appendText(b []byte) []byte {
	var out bytes.Buffer
	out.Write(b)
	_ = r.writeText(&out, nil) // a bytes.Buffer takes everything
	return out.Bytes()
}

func (r *registry) counterVec(name, help string, labels ...string) *vec[counter] {
	return scalarVec[counter](r, name, help, "counter", labels...)
}

func (r *registry) gaugeVec(name, help string, labels ...string) *vec[gauge] {
	return scalarVec[gauge](r, name, help, "gauge", labels...)
}

// scalarVec registers a family of kind whose series are one value each (a counter or a gauge).
func scalarVec[M any, P interface {
	*M
	value() float64
}](r *registry, name, help, kind string, labels ...string) *vec[M] {
	v := newVec(func() *M { return new(M) }, labels...)
	r.add(&family{name, help, kind, func(t *text) {
		for _, s := range v.series() {
			t.b = sample(t.b, name, v.labels, &s.values, "", P(s.m).value())
			t.maybeFlush()
		}
	}})
	return v
}

func (r *registry) histogramVec(name, help string, bounds []float64, labels ...string) *vec[histogram] {
	v := newVec(func() *histogram { return newHistogram(bounds) }, labels...)
	les := make([]string, len(bounds)+1)
	for i, bound := range bounds {
		les[i] = bucketLabel(bound)
	}
	les[len(bounds)] = `le="+Inf"`
	bucket, sumName, count := name+"_bucket", name+"_sum", name+"_count"
	r.add(&family{name, help, "histogram", func(t *text) {
		var cum []uint64
		for _, s := range v.series() {
			var sum float64
			cum, sum = s.m.snapshot(cum)
			for i, n := range cum {
				t.b = sample(t.b, bucket, v.labels, &s.values, les[i], float64(n))
			}
			t.b = sample(t.b, sumName, v.labels, &s.values, "", sum)
			t.b = sample(t.b, count, v.labels, &s.values, "", float64(cum[len(cum)-1]))
			t.maybeFlush()
		}
	}})
	return v
}

// counter, gauge and histogram register a family of one series without labels.

func (r *registry) counter(name, help string) *counter { return r.counterVec(name, help).with() }

func (r *registry) gauge(name, help string) *gauge { return r.gaugeVec(name, help).with() }

func (r *registry) histogram(name, help string, bounds []float64) *histogram {
	return r.histogramVec(name, help, bounds).with()
}

// counterFunc registers a counter read from f when written.
func (r *registry) counterFunc(name, help string, f func() float64) {
	r.add(&family{name, help, "counter", func(t *text) {
		t.b = sample(t.b, name, nil, nil, "", f())
	}})
}
