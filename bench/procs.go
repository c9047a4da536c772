package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the benchmark started: an upstream, the bare proxy or a gatehouse.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stderr (and stdout, once its address is read)
	done chan struct{}
	err  error // Wait's result, valid once done is closed
}

// Pid returns the process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// tail returns the end of the child's log, for error messages.
func (c *child) tail() string {
	data, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// children tracks every process started, so that all of them are stopped on exit.
type children struct {
	mu   sync.Mutex
	list []*child
}

// start runs path with args, its output appended to logPath. With wantAddr the child must print
// "listening on ADDR" as its first line on stdout, and start returns ADDR.
func (cs *children) start(name, logPath string, wantAddr bool, path string, args ...string) (*child, string, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Stderr = logf
	// Its own process group, so that Ctrl-C reaches the benchmark alone, which then stops the
	// children in order; Pdeathsig kills them should the benchmark die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if wantAddr {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, "", err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	if !wantAddr {
		go func() { c.err = cmd.Wait(); close(c.done) }()
		return c, "", nil
	}
	lines := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		r := bufio.NewReader(stdout)
		if line, err := r.ReadString('\n'); err == nil || line != "" {
			lines <- strings.TrimSpace(line)
		}
		close(lines)
		_, _ = io.Copy(io.Discard, r) // nothing more is expected; never block the child
	}()
	go func() {
		// Wait closes the pipe, so it must not run before the reader has seen EOF.
		<-drained
		c.err = cmd.Wait()
		close(c.done)
	}()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening on ")
		if !ok || !found {
			return c, "", fmt.Errorf("%s did not report its address (got %q): %s", name, line, c.tail())
		}
		return c, addr, nil
	case <-time.After(30 * time.Second):
		return c, "", fmt.Errorf("%s did not start within 30s: %s", name, c.tail())
	}
}

// stopAll stops every child: SIGTERM, then SIGKILL after a grace period.
func (cs *children) stopAll() {
	cs.mu.Lock()
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for _, c := range list {
		if !c.exited() {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(5 * time.Second)
	for _, c := range list {
		select {
		case <-c.done:
		case <-deadline:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// peakRSS returns a process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return statusKB(string(data), "VmHWM:")
}

// resident is what a process has in memory now, by kind, from /proc/PID/status: Anon is its own
// memory (heap, stacks, data it wrote), File the pages of files it maps (its binary's code and
// read-only data, shared libraries), which the page cache holds and shares, and Shmem shared
// memory. Their sum is VmRSS.
type resident struct {
	Anon, File, Shmem int64
}

// readResident returns a process's resident memory by kind.
func readResident(pid int) (resident, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return resident{}, err
	}
	return parseResident(string(data))
}

func parseResident(status string) (resident, error) {
	anon, err1 := statusKB(status, "RssAnon:")
	file, err2 := statusKB(status, "RssFile:")
	shmem, err3 := statusKB(status, "RssShmem:")
	return resident{Anon: anon, File: file, Shmem: shmem}, errors.Join(err1, err2, err3)
}

// max returns, kind by kind, the larger of r and o.
func (r resident) max(o resident) resident {
	return resident{Anon: max(r.Anon, o.Anon), File: max(r.File, o.File), Shmem: max(r.Shmem, o.Shmem)}
}

// statusKB returns a field of /proc/PID/status given in kB, in bytes.
func statusKB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s in /proc status: %w", field, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux the benchmark
// targets (reading sysconf(_SC_CLK_TCK) would need cgo).
const clockTick = 10 * time.Millisecond

// cpuTime returns the user plus system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(data))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/PID/stat line. The command
// name (field 2) may hold spaces and parentheses, so fields are counted from its closing ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat line")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	// f[0] is field 3 (state), so field 14 is f[11] and field 15 is f[12].
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * clockTick, nil
}

// waitHTTP polls check until it succeeds, the context ends or the child exits.
func waitHTTP(ctx context.Context, c *child, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if errors.Is(last, errNotHealthy) {
			return fmt.Errorf("%s: %w", c.name, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v: %v: %s", c.name, timeout, last, c.tail())
		case <-c.done:
			return fmt.Errorf("%s exited (%v): %s", c.name, c.err, c.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
