package apidef_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestDecodeWebHook: a webhook's settings are checked; a bad one leaves the handler out.
func TestDecodeWebHook(t *testing.T) {
	for _, tc := range []struct {
		meta, err string
	}{
		{`{"target_path": "https://hooks.test/a", "method": "post", "header_map": {"X-A": "1", "X-B": "2"}}`, ""},
		{`{"target_path": "file:///etc/passwd"}`, "absolute http or https URL"},
		{`{"target_path": "https://hooks.test/a", "header_map": {"X-A": "1\r\nX-Evil: 1"}}`, "not a header a request may carry"},
		{`{"target_path": "https://hooks.test/a", "header_map": {"X-A": "1", "x-a": "2"}}`, `name the same header`},
		{`{"disabled": true, "target_path": ""}`, ""},
	} {
		m, err := apidef.DecodeWebHook([]byte(tc.meta))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.meta, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err %v, want %q", tc.meta, err, tc.err)
		case tc.err == "" && !m.Disabled && m.Method != "POST":
			t.Errorf("%s: method %q, want POST", tc.meta, m.Method)
		}
	}
}
