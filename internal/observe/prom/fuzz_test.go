package prom

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// FuzzLabelValues writes series whose label values are any bytes (an API id, a hook's function
// name and a load failure's reason are whatever a definition or a plugin says): the exposition
// must parse, and read the values back, invalid UTF-8 as U+FFFD.
func FuzzLabelValues(f *testing.F) {
	for _, s := range []string{"", "a", "a\"b\\c\nd", "bad\xff\xfe", "\r\t\x00}{=,#", "\\n", "\"", "é€𝄞", "\xed\xa0\x80"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, id, fn string) {
		o := New("v\"1\\\n")
		o.API(id).Request("GET", 200, time.Millisecond)
		o.Plugin(id, "pre", fn).Call(time.Microsecond, 0, false)
		var b bytes.Buffer
		if err := o.reg.writeText(&b, nil); err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(&b)
		if err != nil {
			t.Fatalf("id %q fn %q: the exposition does not parse: %v", id, fn, err)
		}
		want := map[string]string{
			"api_id": strings.ToValidUTF8(id, "\uFFFD"),
			"plugin": strings.ToValidUTF8(fn, "\uFFFD"),
			"hook":   "pre",
		}
		for _, name := range []string{"gatehouse_http_requests_total", "gatehouse_plugin_calls_total", "gatehouse_plugin_duration_seconds"} {
			ms := fams[name].GetMetric()
			if len(ms) != 1 {
				t.Fatalf("%s: %d series, want 1", name, len(ms))
			}
			for _, l := range ms[0].GetLabel() {
				if w, ok := want[l.GetName()]; ok && l.GetValue() != w {
					t.Errorf("%s: %s read back as %q, want %q", name, l.GetName(), l.GetValue(), w)
				}
			}
		}
		if v := fams["gatehouse_build_info"].GetMetric()[0].GetLabel()[0].GetValue(); v != "v\"1\\\n" {
			t.Errorf("version read back as %q", v)
		}
	})
}
