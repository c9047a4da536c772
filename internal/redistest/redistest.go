// Package redistest runs real redis-server processes for tests: a standalone server (with a
// password, TLS or an append-only file when asked), a Sentinel watching one, and a Cluster. Each
// listens on a free loopback port, in a folder of the test's, and is killed when the test ends.
// Tests can kill, pause (SIGSTOP), resume and restart a server to see what the gateway does.
//
// Without redis-server on the PATH the tests that need it are skipped with the command that
// installs it, unless GATEHOUSE_REQUIRE_REDIS is set (CI sets it), which makes them fail instead:
// a machine that is meant to run them must never skip them silently.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv, when set, turns a missing redis-server into a test failure.
const RequireEnv = "GATEHOUSE_REQUIRE_REDIS"

const install = "install it to run these tests (Debian or Ubuntu: apt-get install redis-server)"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 20 * time.Second

// Binary returns the path of redis-server, or skips (or, with RequireEnv, fails) the test.
func Binary(t testing.TB) string {
	t.Helper()
	return lookPath(t, "redis-server")
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is not on the PATH and %s is set: %s", name, RequireEnv, install)
	}
	t.Skipf("%s is not on the PATH: %s", name, install)
	return ""
}

// Options configure a standalone server.
type Options struct {
	// Password is required of clients (requirepass).
	Password string
	// TLS makes the server listen with TLS only, with certificates from NewTLS.
	TLS *TLS
	// AppendOnly persists every write before answering (appendonly, appendfsync always), so a
	// killed server restarts with everything it acknowledged.
	AppendOnly bool
	// Args are more redis-server arguments, e.g. "--cluster-enabled", "yes".
	Args []string
	// Port is the port to listen on; 0 picks a free one.
	Port int
	// TLSClientAuth requires clients to present a certificate signed by the CA (with TLS).
	TLSClientAuth bool
}

// Server is a redis-server process.
type Server struct {
	t    testing.TB
	bin  string
	Dir  string
	Port int
	// Addr is 127.0.0.1:Port.
	Addr string
	args []string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a standalone redis-server and waits until it accepts connections.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	// A free port is free when FreePort looks; another process can take it before
	// redis-server binds it. With a port of our own choosing, try again on a new one.
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			port = FreePort(t)
		}
		s, err := newServer(t, o, port)
		if err == nil {
			t.Cleanup(s.Kill)
			return s
		}
		if o.Port != 0 || !errors.Is(err, errAddrInUse) || attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("redistest: %v; trying another port", err)
	}
}

// errAddrInUse marks a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

func newServer(t testing.TB, o Options, port int) (*Server, error) {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), Dir: t.TempDir(), Port: port}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	s.log = filepath.Join(s.Dir, "redis.log")
	s.args = []string{
		"--bind", "127.0.0.1", "--dir", s.Dir, "--logfile", s.log, "--save", "", "--daemonize", "no",
		"--protected-mode", "no",
	}
	if o.TLS != nil {
		s.args = append(s.args, "--port", "0", "--tls-port", strconv.Itoa(s.Port),
			"--tls-cert-file", o.TLS.ServerCert, "--tls-key-file", o.TLS.ServerKey,
			"--tls-ca-cert-file", o.TLS.CA, "--tls-auth-clients", map[bool]string{true: "yes", false: "optional"}[o.TLSClientAuth])
	} else {
		s.args = append(s.args, "--port", strconv.Itoa(s.Port))
	}
	if o.Password != "" {
		s.args = append(s.args, "--requirepass", o.Password)
	}
	if o.AppendOnly {
		s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
	}
	s.args = append(s.args, o.Args...)
	if err := s.tryStart("Ready to accept connections"); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the server and waits for want in its log.
func (s *Server) start(want string) {
	s.t.Helper()
	if err := s.tryStart(want); err != nil {
		s.t.Fatal(err)
	}
}

// tryStart runs the server and waits for want in its log; an error wraps errAddrInUse when the
// server could not bind its port.
func (s *Server) tryStart(want string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("redis-server on %s is already running", s.Addr)
	}
	// A restart must not see the last run's lines.
	_ = os.Remove(s.log)
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		data, _ := os.ReadFile(s.log)
		if bytes.Contains(data, []byte(want)) {
			break
		}
		select {
		case <-exited:
			err := fmt.Errorf("redis-server %s exited at start: %s\n%s\n%s", strings.Join(s.args, " "), cmd.ProcessState, out.String(), data)
			if bytes.Contains(data, []byte("Address already in use")) || bytes.Contains(out.Bytes(), []byte("Address already in use")) {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s did not log %q within %v:\n%s", s.Addr, want, startTimeout, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it to exit. It does
// nothing when the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server must be able to die
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Pause stops the server with SIGSTOP: connections stay open, nothing is answered.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redis-server on %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling redis-server: %v", err)
	}
}

// Restart starts a killed server again on the same port and folder (so with an append-only
// file, with its data).
func (s *Server) Restart() {
	s.t.Helper()
	s.start("Ready to accept connections")
}

// RestartWith starts a killed server again on the same port and folder with more arguments
// (kept for later restarts too), and returns once its log has want: "Loading RDB produced by"
// returns while it still reads its dataset, answering LOADING.
func (s *Server) RestartWith(want string, args ...string) {
	s.t.Helper()
	s.mu.Lock()
	s.args = append(s.args[:len(s.args):len(s.args)], args...)
	s.mu.Unlock()
	s.start(want)
}

// Log returns what the server logged.
func (s *Server) Log() string {
	data, _ := os.ReadFile(s.log)
	return string(data)
}

// Stat returns the number of calls of a command the server has counted since it started or
// since ResetStats (INFO commandstats), e.g. Stat(t, "evalsha").
func (s *Server) Stat(t testing.TB, command string) int {
	t.Helper()
	for line := range strings.SplitSeq(CLI(t, s.Addr, "info", "commandstats"), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "cmdstat_"+command {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
	}
	return 0
}

// Keys returns the keys matching the glob pattern (redis-cli --scan).
func (s *Server) Keys(t testing.TB, pattern string) []string {
	t.Helper()
	return strings.Fields(CLI(t, s.Addr, "--scan", "--pattern", pattern))
}

// ResetStats zeroes the server's command counts (CONFIG RESETSTAT).
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	CLI(t, s.Addr, "config", "resetstat")
}

// Sleep makes the server busy for d (DEBUG SLEEP: start it with --enable-debug-command yes) and
// returns once it is, seen as a PING on a new connection going unanswered, with a channel closed
// when the sleep is over.
func (s *Server) Sleep(t testing.TB, d time.Duration) <-chan struct{} {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(lookPath(t, "redis-cli"), "-h", host, "-p", port, "debug", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-cli debug sleep: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := cmd.Wait(); err != nil {
			t.Errorf("redis-cli debug sleep: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			t.Fatalf("DEBUG SLEEP %v ended before the server was seen busy", d)
		default:
		}
		if !answersWithin(s.Addr, 20*time.Millisecond) {
			return done
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("the server at %s never became busy after DEBUG SLEEP", s.Addr)
	return done
}

// Script starts a Lua script on the server (EVAL with no keys, through redis-cli) and returns
// a channel closed when redis-cli returns: when the script ends or is killed (SCRIPT KILL). A
// script that outlasts the server's busy-reply-threshold makes it answer other clients BUSY.
func (s *Server) Script(t testing.TB, lua string) <-chan struct{} {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(lookPath(t, "redis-cli"), "-h", host, "-p", port, "eval", lua, "0")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-cli eval: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cmd.Wait() // a killed script is an error answer; redis-cli still exits 0 or 1
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return done
}

// answersWithin reports whether a PING on a new connection to addr is answered within d.
func answersWithin(addr string, d time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true // not busy: gone, which the caller sees otherwise
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	var b [1]byte
	_, err = c.Read(b[:])
	return err == nil
}

// FreePort returns a loopback port nothing listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// CLI runs redis-cli against addr with args and returns its output.
func CLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lookPath(t, "redis-cli"), append([]string{"-h", host, "-p", port}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Pipe sends commands to the server through redis-cli --pipe (the RESP protocol on its input,
// every reply read before it returns): bulk loading from another process, so that what a test
// measures in its own process holds nothing of it.
func (s *Server) Pipe(t testing.TB, commands [][]string) {
	t.Helper()
	var in bytes.Buffer
	for _, c := range commands {
		fmt.Fprintf(&in, "*%d\r\n", len(c))
		for _, arg := range c {
			fmt.Fprintf(&in, "$%d\r\n%s\r\n", len(arg), arg)
		}
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lookPath(t, "redis-cli"), "-h", host, "-p", port, "--pipe")
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0,") {
		t.Fatalf("redis-cli --pipe of %d commands: %v\n%s", len(commands), err, out)
	}
}

// Sentinel is a redis-server in Sentinel mode watching one master.
type Sentinel struct {
	*Server
	// MasterName is the name the master is watched under.
	MasterName string
}

// StartSentinel starts a Sentinel watching master under the name masterName. With password, it
// asks clients for it (the gateway's storage.sentinel_password).
func StartSentinel(t testing.TB, master *Server, masterName, password string) *Sentinel {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), Dir: t.TempDir()}
	s.Port = FreePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	s.log = filepath.Join(s.Dir, "sentinel.log")
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nprotected-mode no\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %[4]s 1000\n"+
		"sentinel failover-timeout %[4]s 5000\n", s.Port, s.Dir, s.log, masterName, master.Port)
	if password != "" {
		conf += "requirepass " + password + "\n"
	}
	file := filepath.Join(s.Dir, "sentinel.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.args = []string{file, "--sentinel"}
	s.start("+monitor master " + masterName)
	t.Cleanup(s.Kill)
	return &Sentinel{Server: s, MasterName: masterName}
}

// Cluster is a Redis Cluster of masters with no replicas.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// StartCluster starts n cluster-enabled servers (n ≥ 3), joins them into one cluster with the
// 16384 slots split between them, and waits until the cluster is ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, Start(t, Options{Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
		}}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	CLI(t, c.Nodes[0].Addr, append(args, "--cluster-replicas", "0", "--cluster-yes")...)
	deadline := time.Now().Add(startTimeout)
	for {
		ok := true
		for _, node := range c.Nodes {
			if !strings.Contains(CLI(t, node.Addr, "cluster", "info"), "cluster_state:ok") {
				ok = false
			}
		}
		if ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster on %v is not ok after %v", c.Addrs(), startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
