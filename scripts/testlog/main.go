// Command testlog reads `go test -json` from stdin and writes what a person reading a CI log
// needs, one package at a time as `go test` groups it: each package's result line, the whole
// output of every test that failed, output that belongs to no test, every line from the first
// sign of a crash on (a data race report, a panic, a timeout's dump, the race detector's own
// failure: test2json may file them under a test that passes), every skipped test with its
// reason (a test that did not run is not one that passed), and, for a package that failed, the
// tests that were under way when it did, with their last lines. A test binary that dies
// names no failing test: the tests under way are then the lead. It exits 1 when anything
// failed.
//
// scripts/test.sh pipes the suite through it; `-v` writes every line, as `go test -v` would.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// pkgState is what is known of one package's run.
type pkgState struct {
	name string
	// running are the tests started and not ended, with whether each is paused (a parallel
	// test waiting for its turn).
	running map[string]bool
	// output holds the lines of each top-level test under way and its subtests, in order,
	// written only if it fails; through marks the top-level tests whose lines are all written
	// (a crash began in them).
	output  map[string][]string
	through map[string]bool
	// said is the last line each test under way wrote of its own (not go test's framing): a
	// skipped test's reason. skipped lists the package's skipped tests with theirs.
	said    map[string]string
	skipped []string
	// log is what the package writes when it ends.
	log []string
}

// tailLines is how many of its last lines a test under way when its package died shows.
const tailLines = 40

// crashMarks begin the lines that are written whatever test they are filed under, with every
// line after them in that test.
var crashMarks = []string{"WARNING: DATA RACE", "panic: ", "fatal error: ", "ThreadSanitizer", "SIGQUIT", "SIGSEGV", "SIGABRT"}

func main() {
	verbose := flag.Bool("v", false, "write every line, as go test -v does")
	flag.Parse()
	failed, err := run(os.Stdin, os.Stdout, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testlog:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// run copies in (go test -json) to out as the package comment says, and reports whether
// anything failed.
func run(in io.Reader, out io.Writer, verbose bool) (failed bool, err error) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	pkgs := map[string]*pkgState{}
	var order []string // packages in the order they started, for a stream cut short
	state := func(p string) *pkgState {
		s := pkgs[p]
		if s == nil {
			s = &pkgState{name: p, running: map[string]bool{}, output: map[string][]string{}, through: map[string]bool{}, said: map[string]string{}}
			pkgs[p] = s
			order = append(order, p)
		}
		return s
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go vet's or the linker's own words): as it came.
			fmt.Fprintf(w, "%s\n", line)
			w.Flush()
			continue
		}
		switch e.Action {
		case "build-output":
			w.WriteString(e.Output)
			continue
		case "build-fail":
			failed = true
			continue
		}
		s := state(e.Package)
		if e.Test == "" {
			switch e.Action {
			case "output":
				// The binary's own "PASS", which go test shows only with -v.
				if verbose || e.Output != "PASS\n" {
					s.log = append(s.log, e.Output)
				}
			case "pass", "fail", "skip":
				if e.Action == "fail" {
					failed = true
					s.report("failed")
				}
				if len(s.skipped) > 0 {
					// Every skip is told, with its reason: a test that did not run is not a
					// test that passed.
					s.log = append(s.log, fmt.Sprintf("testlog: %d skipped in %s: %s\n", len(s.skipped), s.name, strings.Join(s.skipped, "; ")))
				}
				s.write(w)
				delete(pkgs, e.Package)
			}
			continue
		}
		root, _, _ := strings.Cut(e.Test, "/")
		switch e.Action {
		case "run", "cont":
			s.running[e.Test] = false
		case "pause":
			s.running[e.Test] = true
		case "output":
			if l := strings.TrimSpace(e.Output); l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- ") {
				s.said[e.Test] = l
			}
			switch {
			case verbose || s.through[root]:
				s.log = append(s.log, e.Output)
			case crashed(e.Output):
				// From here on, every line of the test is written, with the ones before.
				s.through[root] = true
				s.log = append(append(s.log, s.output[root]...), e.Output)
				delete(s.output, root)
			default:
				s.output[root] = append(s.output[root], e.Output)
			}
		case "pass", "skip", "fail":
			delete(s.running, e.Test)
			if e.Action == "skip" {
				s.skipped = append(s.skipped, fmt.Sprintf("%s (%s)", e.Test, s.said[e.Test]))
			}
			delete(s.said, e.Test)
			failed = failed || e.Action == "fail"
			if e.Test != root {
				break // its lines are written with its top-level test's
			}
			if e.Action == "fail" {
				s.log = append(s.log, s.output[root]...)
			}
			delete(s.output, root)
			delete(s.through, root)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	// A stream cut short (go test killed) leaves packages without their result line.
	for _, p := range order {
		s, ok := pkgs[p]
		if !ok {
			continue
		}
		if len(s.running) > 0 {
			failed = true
			s.report("ended without a result")
		}
		s.write(w)
	}
	return failed, nil
}

// crashed reports whether a line begins a crash's report.
func crashed(line string) bool {
	for _, m := range crashMarks {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	return false
}

// write writes the package's log and forgets it.
func (s *pkgState) write(w *bufio.Writer) {
	for _, l := range s.log {
		w.WriteString(l)
	}
	s.log = nil
	w.Flush()
}

// report adds to the log, for a package that how (failed, ...), the tests under way and the
// last lines of each not written already.
func (s *pkgState) report(how string) {
	var names []string
	for t, paused := range s.running {
		if paused {
			t += " (paused)"
		}
		names = append(names, t)
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	s.log = append(s.log, fmt.Sprintf("testlog: %s %s while these tests were under way: %s\n", s.name, how, strings.Join(names, ", ")))
	roots := make([]string, 0, len(s.output))
	for r := range s.output {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	for _, r := range roots {
		lines := s.output[r]
		if len(lines) == 0 {
			continue
		}
		s.log = append(s.log, fmt.Sprintf("testlog: the last lines of %s:\n", r))
		s.log = append(s.log, lines[max(0, len(lines)-tailLines):]...)
	}
}
