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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Redis scenarios run their gatehouse on a redis-server of their own, started by the
// benchmark beside it. Around each measured run the benchmark reads the server's INFO
// commandstats, over a small RESP client of its own (no redis-cli, no module dependency), to
// report how many round trips to Redis, and how many commands, each request cost.

// redisServer is one redis-server process the benchmark started.
type redisServer struct {
	proc *child
	addr string // 127.0.0.1:PORT
	port int
}

// redisInstall says how to get redis-server.
const redisInstall = "apt-get install -y redis-server, or run scripts/bench.sh"

// startRedis starts redis-server on a free loopback port, with its data folder in dir and its
// log in dir/redis.log, persisting nothing, and waits until it answers PING.
func startRedis(ctx context.Context, cs *children, dir, name string, cpus cpuSet) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (%s)", redisInstall)
	}
	data := filepath.Join(dir, "redis-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// No --logfile: it logs to stdout, which start sends to dir/redis.log.
	path, args := cpus.command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--dir", data, "--save", "", "--appendonly", "no", "--daemonize", "no")
	proc, _, err := cs.start("redis-server "+name, filepath.Join(dir, "redis.log"), false, path, args...)
	if err != nil {
		return nil, err
	}
	r := &redisServer{proc: proc, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port}
	err = waitHTTP(ctx, proc, 20*time.Second, func() error {
		v, err := respDo(ctx, r.addr, "PING")
		if err != nil {
			return err
		}
		if v != "PONG" {
			return fmt.Errorf("PING answered %v", v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// commandStats reads the server's INFO commandstats.
func (r *redisServer) commandStats(ctx context.Context) (commandStats, error) {
	if r.proc.exited() {
		return nil, fmt.Errorf("%s has exited: %s", r.proc.name, r.proc.tail())
	}
	v, err := respDo(ctx, r.addr, "INFO", "commandstats")
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats from %s: %w", r.proc.name, err)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("INFO commandstats from %s answered %T, want a string", r.proc.name, v)
	}
	return parseCommandStats(s)
}

// redisServerVersion returns redis-server's version ("7.0.15"), or "" when it cannot tell.
func redisServerVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return ""
	}
	// "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=..."
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return ""
}

// respDo sends one command to the Redis server at addr on a connection of its own, and returns
// the reply (see readRESP). A Redis error reply is returned as an error.
func respDo(ctx context.Context, addr string, args ...string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(respCommand(args...)); err != nil {
		return nil, err
	}
	return readRESP(bufio.NewReader(conn))
}

// respCommand encodes a command as RESP: an array of bulk strings.
func respCommand(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

// respError is an error reply.
type respError string

func (e respError) Error() string { return "redis: " + string(e) }

// readRESP reads one RESP2 reply: a simple or bulk string as a string (a null bulk string or
// array as nil), an integer as int64, an array as []any. An error reply is a respError, returned
// as the error; one nested in an array is left in it as a value.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line != "" {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("malformed RESP line %q", line)
	}
	kind, rest := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return nil, respError(rest)
	case ':':
		return strconv.ParseInt(rest, 10, 64)
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("malformed RESP bulk length %q", rest)
		}
		if n == -1 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("reading a RESP bulk string of %d bytes: %w", n, err)
		}
		if string(buf[n:]) != "\r\n" {
			return nil, errors.New("RESP bulk string not ended by CRLF")
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("malformed RESP array length %q", rest)
		}
		if n == -1 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			v, err := readRESP(r)
			var re respError
			if errors.As(err, &re) {
				v, err = re, nil
			}
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown RESP reply type %q", kind)
}

// commandStats maps a command's name, as INFO commandstats spells it ("evalsha",
// "client|tracking" for a subcommand), to the number of times the server ran it.
type commandStats map[string]int64

// parseCommandStats reads the output of INFO commandstats: a line per command,
//
//	cmdstat_evalsha:calls=1234,usec=5678,usec_per_call=4.60,rejected_calls=0,failed_calls=0
//
// Other lines (the "# Commandstats" title, blank ones) are skipped.
func parseCommandStats(info string) (commandStats, error) {
	st := commandStats{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("malformed commandstats line %q", line)
		}
		found := false
		for _, f := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("commandstats line %q: %w", line, err)
				}
				st[strings.ToLower(name)] = n
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("commandstats line %q has no calls=", line)
		}
	}
	return st, nil
}

// The commands the gateway itself sends on the request path, each one a round trip: the rate
// limit and quota script (EVALSHA, or EVAL when the server did not know the script), and a
// session read, either a plain GET or a client-side cache fill (CLIENT CACHING YES, MULTI, PTTL,
// GET, EXEC sent together, counted by its MULTI).
var roundTripCommands = []string{"evalsha", "eval", "multi", "get"}

// benchOwnCommands are the benchmark's own: left out of every count.
var benchOwnCommands = []string{"info"}

// redisUse is what a gatehouse asked of its Redis server during one run, per request wrk
// completed.
type redisUse struct {
	// RoundTripsPerReq counts roundTripCommands. INFO commandstats counts the GET inside a cache
	// fill's MULTI as a GET too, so as many GETs as there were fills (PTTLs: the gateway sends
	// PTTL only inside a fill) are not counted again. The Lua script's own commands (TIME,
	// HMGET, HINCRBY, HSET, PEXPIREAT, ...) and PING (the health probe, once a second) are no
	// round trips of a request and are not counted.
	RoundTripsPerReq float64
	// CommandsPerReq counts every command the server ran, the script's own included, but the
	// benchmark's INFO.
	CommandsPerReq float64
	// CallsPerReq is each command's calls per request.
	CallsPerReq map[string]float64
	// CPUPerReq is redis-server's CPU time per request.
	CPUPerReq time.Duration
}

// redisUsage returns what the server ran between two readings of INFO commandstats, per request
// of the requests served meanwhile.
func redisUsage(before, after commandStats, requests int64) redisUse {
	u := redisUse{CallsPerReq: map[string]float64{}}
	if requests <= 0 {
		return u
	}
	delta := func(name string) int64 { return max(after[name]-before[name], 0) }
	var all int64
	for name := range after {
		if slices.Contains(benchOwnCommands, name) {
			continue
		}
		if d := delta(name); d > 0 {
			all += d
			u.CallsPerReq[name] = float64(d) / float64(requests)
		}
	}
	var trips int64
	for _, name := range roundTripCommands {
		trips += delta(name)
	}
	trips -= min(delta("pttl"), delta("get")) // the GETs inside cache fills
	u.RoundTripsPerReq = float64(trips) / float64(requests)
	u.CommandsPerReq = float64(all) / float64(requests)
	return u
}
