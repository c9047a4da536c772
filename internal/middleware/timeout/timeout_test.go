package timeout

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

func TestCompile(t *testing.T) {
	to, err := Compile(map[string]apidef.VersionInfo{
		"v1": {UseExtendedPaths: true, GlobalEnforceTimeout: "5s", ExtendedPaths: apidef.ExtendedPathsSet{HardTimeouts: []apidef.HardTimeoutMeta{
			{Path: "/reports", Method: "GET", TimeOut: 3},
			{Path: "/fast", Method: "GET", TimeOut: 3, Duration: "250ms"},
			{Path: "/off", Method: "GET", TimeOut: 1, Disabled: true},
		}}},
		"v2": {GlobalEnforceTimeout: "5s", GlobalEnforceTimeoutDisabled: true},
		"v3": {},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version, method, path string
		want                  time.Duration
	}{
		{"v1", "GET", "/reports/1", 3 * time.Second},
		{"v1", "GET", "/fast", 250 * time.Millisecond},
		{"v1", "HEAD", "/fast", 250 * time.Millisecond}, // a HEAD no entry names: its GET's
		{"v1", "POST", "/reports", 5 * time.Second},     // the version's timeout
		{"v1", "GET", "/off", 5 * time.Second},
		{"v2", "GET", "/x", 0},
		{"v3", "GET", "/x", 0},
	} {
		if got := to.For(tc.version, tc.method, endpoint.Readings(tc.path)); got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.version, tc.method, tc.path, got, tc.want)
		}
	}
	if to, err := Compile(map[string]apidef.VersionInfo{"v": {}}); to != nil || err != nil {
		t.Errorf("no timeouts: %v, %v; want nil, nil", to, err)
	}
	_, err = Compile(map[string]apidef.VersionInfo{"v": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		HardTimeouts: []apidef.HardTimeoutMeta{{Path: "/x", Method: "GET"}}}}})
	if err == nil || !strings.Contains(err.Error(), "timeout is 0") {
		t.Errorf("a zero timeout: %v, want an error", err)
	}
}
