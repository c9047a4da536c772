package main

import (
	"slices"
	"testing"
)

func TestCPUSetCommand(t *testing.T) {
	proxy, load := pinnings(true)
	tests := []struct {
		name     string
		set      cpuSet
		wantPath string
		wantArgs []string
	}{
		{"unpinned", cpuSet{}, "wrk", []string{"-t1", "URL"}},
		{"proxy", proxy, "taskset", []string{"-c", "0", "env", "GOMAXPROCS=1", "wrk", "-t1", "URL"}},
		{"load", load, "taskset", []string{"-c", "1", "wrk", "-t1", "URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, args := tc.set.command("wrk", "-t1", "URL")
			if path != tc.wantPath || !slices.Equal(args, tc.wantArgs) {
				t.Errorf("command = %s %q, want %s %q", path, args, tc.wantPath, tc.wantArgs)
			}
		})
	}
	if p, l := pinnings(false); p != (cpuSet{}) || l != (cpuSet{}) {
		t.Errorf("pinnings(false) = %+v, %+v, want zero values", p, l)
	}
}
