package sizelimit

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

func TestCompile(t *testing.T) {
	l, err := Compile(map[string]apidef.VersionInfo{
		"v1": {UseExtendedPaths: true, IgnoreEndpointCase: true, ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{
			{Path: "/upload", Method: "POST", SizeLimit: 10},
			{Path: "/off", Method: "POST", SizeLimit: 1, Disabled: true},
			{Path: "/empty", Method: "PUT", SizeLimit: 0},
		}}},
		// Without use_extended_paths Tyk ignores the entries.
		"v2": {ExtendedPaths: apidef.ExtendedPathsSet{SizeLimit: []apidef.RequestSizeMeta{{Path: "/upload", Method: "POST", SizeLimit: 1}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version, method, path string
		want                  int64
		ok                    bool
	}{
		{"v1", "POST", "/UPLOAD", 10, true},
		{"v1", "POST", "/off", 0, false},
		{"v1", "PUT", "/empty", 0, true},
		{"v2", "POST", "/upload", 0, false},
	} {
		got, ok := l.Lookup(tc.version, tc.method, endpoint.Readings(tc.path))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s %s %s = %d, %v; want %d, %v", tc.version, tc.method, tc.path, got, ok, tc.want, tc.ok)
		}
	}
	if l, err := Compile(map[string]apidef.VersionInfo{"v": {UseExtendedPaths: true}}); l != nil || err != nil {
		t.Errorf("no entries: %v, %v; want nil, nil", l, err)
	}
}
