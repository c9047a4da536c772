package apidef_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestHostCheckTimeout: a check's timeout is read as Tyk's Classic nanoseconds or as a duration
// string (Tyk OAS's form), and one out of range is refused when decoded.
func TestHostCheckTimeout(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want time.Duration
		err  string
	}{
		{`{"url": "http://a", "timeout": 2000000000}`, 2 * time.Second, ""},
		{`{"url": "http://a", "timeout": "1.5s"}`, 1500 * time.Millisecond, ""},
		{`{"url": "http://a"}`, 0, ""},
		{`{"url": "http://a", "timeout": null}`, 0, ""},
		{`{"url": "http://a", "timeout": -1}`, 0, "out of range"},
		{`{"url": "http://a", "timeout": 1e18}`, 0, "out of range"},
		{`{"url": "http://a", "timeout": "soon"}`, 0, "soon"},
	} {
		var h apidef.HostCheck
		err := json.Unmarshal([]byte(tc.raw), &h)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one naming %q", tc.raw, err, tc.err)
		case tc.err == "" && (err != nil || h.Timeout != tc.want || h.URL != "http://a"):
			t.Errorf("%s: %+v, %v; want timeout %v", tc.raw, h, err, tc.want)
		}
	}
}
