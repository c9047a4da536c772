package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests       int64
	RequestsPerSec float64
	// Percentiles from --latency, by percent (50, 75, 90, 99).
	Percentiles map[int]time.Duration
	// Non2xx3xx counts responses with a status outside 200-399.
	Non2xx3xx int64
	// Socket errors by kind.
	Connect, Read, Write, Timeout int64
}

// SocketErrors is the sum of wrk's socket error counts.
func (r wrkResult) SocketErrors() int64 { return r.Connect + r.Read + r.Write + r.Timeout }

// ErrorKinds names the run's errors by kind, "" when there were none: a round's errors are told
// apart on its progress line (a gateway's 502s from a socket closed under wrk, or its timeouts).
func (r wrkResult) ErrorKinds() string {
	if r.Non2xx3xx+r.SocketErrors() == 0 {
		return ""
	}
	return fmt.Sprintf("non-2xx/3xx %d, socket: connect %d, read %d, write %d, timeout %d", r.Non2xx3xx, r.Connect, r.Read, r.Write, r.Timeout)
}

var (
	rePct      = regexp.MustCompile(`^(\d+(?:\.\d+)?)%\s+(\S+)$`)
	reRequests = regexp.MustCompile(`^(\d+) requests in (\S+), (\S+) read$`)
	reSocket   = regexp.MustCompile(`^Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)$`)
	reNon2xx   = regexp.MustCompile(`^Non-2xx or 3xx responses: (\d+)$`)
	reRPS      = regexp.MustCompile(`^Requests/sec:\s+(\S+)$`)
)

// parseWrk reads wrk's text report (run with --latency).
func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{Percentiles: map[int]time.Duration{}}
	var haveRPS, haveReqs, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case line == "Latency Distribution":
			inDist = true
		case inDist && rePct.MatchString(line):
			m := rePct.FindStringSubmatch(line)
			pct, perr := strconv.ParseFloat(m[1], 64)
			d, derr := parseWrkDuration(m[2])
			if err = errors.Join(perr, derr); err == nil {
				r.Percentiles[int(pct)] = d
			}
		case reRequests.MatchString(line):
			inDist = false
			r.Requests, err = strconv.ParseInt(reRequests.FindStringSubmatch(line)[1], 10, 64)
			haveReqs = true
		case reSocket.MatchString(line):
			m := reSocket.FindStringSubmatch(line)
			r.Connect, _ = strconv.ParseInt(m[1], 10, 64)
			r.Read, _ = strconv.ParseInt(m[2], 10, 64)
			r.Write, _ = strconv.ParseInt(m[3], 10, 64)
			r.Timeout, _ = strconv.ParseInt(m[4], 10, 64)
		case reNon2xx.MatchString(line):
			r.Non2xx3xx, _ = strconv.ParseInt(reNon2xx.FindStringSubmatch(line)[1], 10, 64)
		case reRPS.MatchString(line):
			r.RequestsPerSec, err = strconv.ParseFloat(reRPS.FindStringSubmatch(line)[1], 64)
			haveRPS = true
		default:
			if inDist && line != "" {
				inDist = false
			}
		}
		if err != nil {
			return r, fmt.Errorf("wrk output line %q: %w", line, err)
		}
	}
	switch {
	case !haveRPS:
		return r, errors.New("wrk output has no Requests/sec line")
	case !haveReqs:
		return r, errors.New("wrk output has no request count line")
	case r.Requests > 0 && (r.Percentiles[50] == 0 || r.Percentiles[99] == 0):
		return r, errors.New("wrk output has no latency distribution (run it with --latency)")
	}
	return r, nil
}

// parseWrkDuration reads wrk's times: a number and a unit (us, ms, s, m, h).
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("wrk time %q: %w", s, err)
		}
		return time.Duration(f * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("wrk time %q has no known unit", s)
}

// wrkRun is one load run.
type wrkRun struct {
	URL         string
	Header      string // "Name: value", or ""
	Script      string // a wrk Lua script file (method, body), or ""
	Duration    time.Duration
	Threads     int
	Connections int
	CPUs        cpuSet // where wrk runs (--pinned)
}

// runWrk runs wrk and returns its parsed report and the CPU time wrk itself used.
func runWrk(ctx context.Context, w wrkRun) (wrkResult, time.Duration, error) {
	args := []string{
		"-t" + strconv.Itoa(w.Threads),
		"-c" + strconv.Itoa(w.Connections),
		"-d" + strconv.Itoa(max(1, int(w.Duration.Round(time.Second)/time.Second))) + "s",
		"--latency",
	}
	if w.Header != "" {
		args = append(args, "-H", w.Header)
	}
	if w.Script != "" {
		args = append(args, "-s", w.Script)
	}
	args = append(args, w.URL)
	path, cargs := w.CPUs.command("wrk", args...)
	cmd := exec.CommandContext(ctx, path, cargs...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return wrkResult{}, 0, ctx.Err()
		}
		return wrkResult{}, 0, fmt.Errorf("wrk %s: %v: %s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	res, err := parseWrk(out.String())
	if err != nil {
		return res, cpu, fmt.Errorf("%w:\n%s", err, out.String())
	}
	return res, cpu, nil
}

// wrkVersion returns wrk's version line ("wrk 4.1.0 [epoll] ...").
func wrkVersion() string {
	// wrk -v prints its version and usage, and exits with status 1.
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	first, _, _ = strings.Cut(first, " [") // drop "[epoll] Copyright ..."
	return strings.TrimSpace(first)
}
