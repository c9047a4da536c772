package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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

// TestSetRealtime: --realtime's switch puts every thread of a process under SCHED_FIFO and back.
func TestSetRealtime(t *testing.T) {
	if err := checkRealtime(); err != nil {
		t.Skipf("SCHED_FIFO is not allowed here: %v", err)
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// policy returns the process's scheduling policy (0 SCHED_OTHER, 1 SCHED_FIFO) and its
	// real-time priority, fields 41 and 40 of /proc/PID/stat.
	policy := func() (string, string) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(data)[strings.LastIndexByte(string(data), ')')+1:])
		return f[38], f[37]
	}
	for _, prio := range []int{realtimePriority, generatorPriority} {
		err := setRealtime(prio, cmd.Process.Pid)
		if pol, rt := policy(); err != nil || pol != "1" || rt != strconv.Itoa(prio) {
			t.Fatalf("after setRealtime(%d): policy %s, priority %s, %v; want 1 (SCHED_FIFO), %d", prio, pol, rt, err, prio)
		}
	}
	if err := setRealtime(0, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pol, rt := policy(); pol != "0" || rt != "0" {
		t.Fatalf("after setRealtime(0): policy %s, priority %s; want 0 (SCHED_OTHER), 0", pol, rt)
	}
	if err := setRealtime(realtimePriority, 1<<30); err == nil {
		t.Error("setRealtime of a process that does not exist succeeded")
	}
}
