package proxy_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/proxy"
)

// TestJoinPath: Tyk's rule for joining a target's path and the forwarded path, with and without
// disable_strip_slash.
func TestJoinPath(t *testing.T) {
	tests := []struct {
		target, sub string
		keep        bool
		want        string
	}{
		{"", "/", false, ""},
		{"", "/x", false, "/x"},
		{"/base", "/", false, "/base"},
		{"/base/", "/", false, "/base"},
		{"/base/", "", false, "/base"},
		{"/base/", "/x", false, "/base/x"},
		{"/base/", "/x/", false, "/base/x/"},
		{"/base", "/x/y", false, "/base/x/y"},
		{"/base/", "/", true, "/base/"},
		{"/base/", "", true, "/base/"},
		{"/base", "/", true, "/base"},
		{"", "/", true, ""},
		{"/base/", "/x", true, "/base/x"},
		{"/base/", "/x/", true, "/base/x/"},
	}
	for _, tc := range tests {
		if got := proxy.JoinPath(tc.target, tc.sub, tc.keep); got != tc.want {
			t.Errorf("JoinPath(%q, %q, %v) = %q, want %q", tc.target, tc.sub, tc.keep, got, tc.want)
		}
	}
}
