package main

import (
	"os"
	"strings"
	"testing"
)

// TestBenchRefusesBadFlags: a flag value out of its range is refused (exit status 2) before
// anything runs. Every case also names a scenario that does not exist, so that a value let
// through ends at that check instead of starting a benchmark, and shows as a failure: the
// refusal must not be the scenario's.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--rate-fraction", "0"},
		{"--rate-fraction", "1.5"},
		{"--rate-fraction", "NaN"},
		{"--rate", "-1"},
		{"--rate", "2000000"},
		{"--rounds", "0"},
		{"--duration", "500ms"},
		{"--max-send-lag", "0s"},
		{"--upstream", "nginx"},
		{"--realtime"},
	} {
		code, stderr := runCmdBench(t, append(args, "--scenarios", "no-such-scenario"))
		if code != 2 || strings.Contains(stderr, "no-such-scenario") {
			t.Errorf("bench %s: exit status %d, stderr %q; want 2, refused for the flag", strings.Join(args, " "), code, stderr)
		}
	}
}

// runCmdBench runs cmdBench with args and returns its exit status and what it wrote to stderr.
func runCmdBench(t *testing.T, args []string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	code := cmdBench(args)
	os.Stderr = saved
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}
