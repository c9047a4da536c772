// Command testlog reads `go test -json` from stdin and writes what a person reading a CI log
// needs: each package's result line, the whole output of every test that failed, output that
// belongs to no test (a panic, a data race, the race detector's own failure), and, for a
// package that failed, the tests that were under way when it did. A test binary that dies (a
// timeout, the race detector giving up) names no failing test: the tests under way are then the
// only lead. It exits 1 when anything failed.
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
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// pkgState is what is known of one package's run.
type pkgState struct {
	// running are the tests started and not ended, with whether each is paused (a parallel
	// test waiting for its turn).
	running map[string]bool
	// output holds the lines of each top-level test under way and its subtests, in order,
	// written only if it fails.
	output map[string][]string
}

// tailLines is how many of its last lines a test under way when its package died shows.
const tailLines = 40

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
	state := func(p string) *pkgState {
		s := pkgs[p]
		if s == nil {
			s = &pkgState{running: map[string]bool{}, output: map[string][]string{}}
			pkgs[p] = s
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
					w.WriteString(e.Output)
				}
			case "fail":
				failed = true
				s.report(w, e.Package, "failed")
			}
			if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
				delete(pkgs, e.Package)
			}
			w.Flush()
			continue
		}
		root, _, _ := strings.Cut(e.Test, "/")
		switch e.Action {
		case "run", "cont":
			s.running[e.Test] = false
		case "pause":
			s.running[e.Test] = true
		case "output":
			if verbose {
				w.WriteString(e.Output)
			} else {
				s.output[root] = append(s.output[root], e.Output)
			}
		case "pass", "skip", "fail":
			delete(s.running, e.Test)
			failed = failed || e.Action == "fail"
			if e.Test != root {
				break // its lines are written with its top-level test's
			}
			if e.Action == "fail" {
				for _, l := range s.output[root] {
					w.WriteString(l)
				}
			}
			delete(s.output, root)
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	// A stream cut short (go test killed) leaves packages without their result line.
	for p, s := range pkgs {
		if len(s.running) > 0 {
			failed = true
			s.report(w, p, "ended without a result")
		}
	}
	return failed, nil
}

// report writes, for package p that how (failed, ...), the tests under way and the last lines
// of each.
func (s *pkgState) report(w *bufio.Writer, p, how string) {
	names := s.under()
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(w, "testlog: %s %s while these tests were under way: %s\n", p, how, strings.Join(names, ", "))
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
		fmt.Fprintf(w, "testlog: the last lines of %s:\n", r)
		for _, l := range lines[max(0, len(lines)-tailLines):] {
			w.WriteString(l)
		}
	}
}

// under returns the tests under way, sorted, paused ones marked.
func (s *pkgState) under() []string {
	var names []string
	for t, paused := range s.running {
		if paused {
			t += " (paused)"
		}
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}
