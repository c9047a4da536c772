package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The latency mode's load generator: an open loop at a constant rate, cheap enough to share a
// core with the upstream and leave the proxy under test what the percentiles measure.
//
//   - Request i has an intended send time, start + i×period, fixed before the run. Its latency
//     is measured from that time to the end of its answer, so a request that waits (for the
//     generator, or for a connection while every one is busy) counts its wait: no coordinated
//     omission.
//   - One goroutine sends. A timerfd (CLOCK_MONOTONIC, in Go's netpoller) wakes it at each
//     intended time with the kernel's timer precision; Go's own timers round waits under 1 ms up
//     to 1 ms when the process is idle, which would be the whole measurement.
//   - Each request's bytes are built once and written as they are to one of a pool of keep-alive
//     TCP connections, opened before the schedule starts, one request in flight on each; the most
//     recently freed connection is reused first, as a client with a warm pool would.
//   - One goroutine per connection reads answers with a minimal HTTP/1.1 parser (httpwire.go).
//   - Latencies go to a fixed-size log-linear histogram; nothing is allocated per request.
//   - The generator reports how late it started each send against its schedule (its own lag),
//     how many requests found every connection busy, and its CPU time.

// loadSpec is one constant-rate run.
type loadSpec struct {
	addr     string        // host:port
	request  []byte        // the whole request, written as it is
	rate     int           // requests per second
	duration time.Duration // length of the schedule
	conns    int           // keep-alive connections, opened before the schedule starts
	// drain is how long answers may take after the last send. The sender also waits for a free
	// connection at most until the end of the schedule plus drain: the requests it could not
	// send by then are errors, and the run ends (a peer that never answers does not hang it).
	drain time.Duration
	// beforeSend, when set, is called as the sender takes up request i (tests delay it with it).
	beforeSend func(i int)
}

// loadResult is what a run measured.
type loadResult struct {
	period     time.Duration // between two intended sends
	planned    int           // requests the schedule held
	sent       int           // requests written (or whose write failed)
	answered   int           // answers with a status in 200-399
	errors     int           // failed writes and connections, other statuses, answers not in at the end, requests not sent
	queued     int           // requests that found every connection busy and waited for one
	reconnects int           // connections opened again during the run
	latency    *histogram    // answered requests: intended send time to the end of the answer
	lag        *histogram    // every request: how late the sender took it up against its intended time
	span       time.Duration // the first intended send to the last answer
	cpu        time.Duration // the generator process's CPU time (user+system) during the run
	firstErr   error         // the first transport error, if any
}

// achieved returns the answered requests per second.
func (r *loadResult) achieved() float64 {
	if r.span <= 0 {
		return 0
	}
	return float64(r.answered) / r.span.Seconds()
}

// Connection states, beside the intended time (ns since the run's base, ≥ 0) of the request in
// flight.
const (
	connIdle   = -1
	connBroken = -2
)

// wireConn is one connection of the pool. A broken one is replaced by a new wireConn (and a new
// reader), so that a reader only ever touches its own connection's state.
type wireConn struct {
	nc    net.Conn
	br    *bufio.Reader
	state atomic.Int64
}

var (
	// errNoAnswer is a request's error when the run ended before its answer came.
	errNoAnswer = errors.New("no answer before the end of the run")
	// errNoConn is the error of the requests the sender could not send because every
	// connection stayed busy until the end of the run.
	errNoConn = errors.New("every connection busy until the end of the run")
)

// constRun is one run in progress.
type constRun struct {
	spec   loadSpec
	base   time.Time // intended times and answers are measured from here (monotonic)
	dialer net.Dialer

	mu      sync.Mutex
	free    []*wireConn // idle (or broken, for the sender to replace), most recently freed last
	waiting bool        // the sender waits for a connection
	avail   chan struct{}
	over    chan struct{} // closed when the sender stops waiting for a connection
	open    []*wireConn   // the connections whose reader still runs, to close at the end
	dials   int           // connections opened

	inflight   atomic.Int64
	closing    atomic.Bool // the run is over: connections are being closed
	answered   atomic.Int64
	errors     atomic.Int64
	lastAnswer atomic.Int64 // ns since base
	latency    histogram
	lag        histogram
	readers    sync.WaitGroup
	errOnce    sync.Once
	firstErr   error
}

// buildRequest returns the bytes of a GET of path on host, with header ("Name: value" or "").
func buildRequest(host, path, header string) ([]byte, error) {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n") || strings.ContainsAny(host, " \r\n/") || host == "" {
		return nil, fmt.Errorf("bad request target %q on %q", path, host)
	}
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: gatehouse-bench\r\n")
	if header != "" {
		name, value, ok := strings.Cut(header, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n:") || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("header %q is not Name: value", header)
		}
		b.WriteString(name + ": " + value + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String()), nil
}

// generate runs spec: it opens the connections, sends requests on the schedule, waits up to
// spec.drain for the last answers, and closes every connection. Requests not answered by then
// count as errors.
func generate(ctx context.Context, spec loadSpec) (*loadResult, error) {
	if spec.rate <= 0 || spec.rate > 1e8 || spec.duration <= 0 || spec.conns <= 0 || len(spec.request) == 0 {
		return nil, fmt.Errorf("bad load: rate %d/s for %v on %d connections", spec.rate, spec.duration, spec.conns)
	}
	period := time.Second / time.Duration(spec.rate)
	res := &loadResult{period: period, planned: int(spec.duration / period)}
	g := &constRun{spec: spec, avail: make(chan struct{}, 1), over: make(chan struct{}), dialer: net.Dialer{Timeout: 5 * time.Second}}
	g.base = time.Now()
	defer g.closeAll()
	for range spec.conns {
		c, err := g.dial(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", spec.addr, err)
		}
		g.free = append(g.free, c)
	}

	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	// Non-blocking, so os.NewFile puts it in the netpoller: Read parks the goroutine, not a thread.
	timer := os.NewFile(uintptr(tfd), "timerfd")
	defer timer.Close()
	stop := context.AfterFunc(ctx, func() { _ = timer.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	const startDelay = 2 * time.Millisecond
	// The kernel's ticks come at or just after the intended times computed from start (the
	// clock is read before the timer is set), never before.
	start := time.Since(g.base) + startDelay
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(startDelay)), Interval: unix.NsecToTimespec(int64(period))}
	if err := unix.TimerfdSettime(tfd, 0, &its, nil); err != nil {
		return nil, fmt.Errorf("timerfd_settime: %w", err)
	}
	overTimer := time.AfterFunc(time.Until(g.base.Add(start+spec.duration+spec.drain)), func() { close(g.over) })
	defer overTimer.Stop()

	var ticks [8]byte
	next := 0
schedule:
	for next < res.planned {
		if _, err := timer.Read(ticks[:]); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("reading the timerfd: %w", err)
		}
		for next < res.planned {
			intended := start + time.Duration(next)*period
			now := time.Since(g.base)
			if intended > now {
				break
			}
			if spec.beforeSend != nil {
				spec.beforeSend(next)
				now = time.Since(g.base)
			}
			g.lag.record(now - intended)
			if err := g.send(ctx, intended, res); errors.Is(err, errNoConn) {
				// Every connection stayed busy to the end: the rest of the schedule is lost.
				g.fail(err)
				g.errors.Add(int64(res.planned - next))
				break schedule
			} else if err != nil {
				return nil, err
			}
			next++
			res.sent++
		}
	}
	_ = unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{}, nil)

	// Wait for the answers still in flight, then close everything: a request still unanswered
	// counts as an error when its reader sees its connection closed.
	deadline := time.Now().Add(spec.drain)
	for g.inflight.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil && next == res.planned {
		time.Sleep(time.Millisecond)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.closing.Store(true)
	g.closeAll()
	g.readers.Wait()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)

	res.answered, res.errors = int(g.answered.Load()), int(g.errors.Load())
	res.latency, res.lag = &g.latency, &g.lag
	if last := time.Duration(g.lastAnswer.Load()); last > start {
		res.span = last - start
	}
	res.cpu = time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	g.mu.Lock()
	res.reconnects = g.dials - spec.conns
	res.firstErr = g.firstErr
	g.mu.Unlock()
	return res, nil
}

// send writes one request intended at intended on a free connection, waiting for one when all
// are busy. Errors on the connection are counted, not returned; the error returned ends the run.
func (g *constRun) send(ctx context.Context, intended time.Duration, res *loadResult) error {
	for {
		c, waited, err := g.acquire(ctx)
		if err != nil {
			return err
		}
		if waited {
			res.queued++
		}
		if !c.state.CompareAndSwap(connIdle, int64(intended)) {
			// Its reader saw it fail or close while it was idle: open a new one.
			c.nc.Close()
			nc, err := g.dial(ctx)
			if err != nil {
				g.fail(err)
				g.errors.Add(1)
				g.release(c) // tried again on the next request
				return nil
			}
			c = nc
			if !c.state.CompareAndSwap(connIdle, int64(intended)) {
				g.release(c)
				continue
			}
		}
		g.inflight.Add(1)
		if _, err := c.nc.Write(g.spec.request); err != nil {
			if c.state.CompareAndSwap(int64(intended), connBroken) {
				g.fail(err)
				g.errors.Add(1)
				g.inflight.Add(-1)
				c.nc.Close()
				g.release(c)
			}
		}
		return nil
	}
}

// acquire takes the most recently freed connection, waiting for one if none is free, until the
// run is over (errNoConn).
func (g *constRun) acquire(ctx context.Context) (c *wireConn, waited bool, err error) {
	for {
		g.mu.Lock()
		if n := len(g.free); n > 0 {
			c = g.free[n-1]
			g.free = g.free[:n-1]
			g.mu.Unlock()
			return c, waited, nil
		}
		g.waiting = true
		g.mu.Unlock()
		waited = true
		select {
		case <-g.avail:
		case <-ctx.Done():
			return nil, waited, ctx.Err()
		case <-g.over:
			return nil, waited, errNoConn
		}
	}
}

// release puts c back on the free list.
func (g *constRun) release(c *wireConn) {
	g.mu.Lock()
	g.free = append(g.free, c)
	wake := g.waiting
	g.waiting = false
	g.mu.Unlock()
	if wake {
		select {
		case g.avail <- struct{}{}:
		default:
		}
	}
}

// dial opens a connection and starts its reader.
func (g *constRun) dial(ctx context.Context) (*wireConn, error) {
	nc, err := g.dialer.DialContext(ctx, "tcp", g.spec.addr)
	if err != nil {
		return nil, err
	}
	c := &wireConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	c.state.Store(connIdle)
	g.mu.Lock()
	g.open = append(g.open, c)
	g.dials++
	g.mu.Unlock()
	g.readers.Add(1)
	go g.read(c)
	return c, nil
}

// read reads c's answers until the connection fails or closes; it closes c then and forgets
// it, so that a run that replaces connections does not keep every one it opened (and its read
// buffer).
func (g *constRun) read(c *wireConn) {
	defer g.readers.Done()
	defer g.forget(c)
	for {
		h, err := readResponse(c.br)
		now := time.Since(g.base)
		if err == nil {
			intended := c.state.Load()
			if intended < 0 {
				g.fail(errors.New("an answer to no request"))
				g.errors.Add(1)
			} else {
				// Claim the request before counting it: a sender whose write failed at the same
				// moment has counted it as an error and released the connection (its
				// CompareAndSwap from intended won), and it must be counted and released once.
				next := int64(connIdle)
				if h.close {
					next = connBroken
				}
				if !c.state.CompareAndSwap(intended, next) {
					c.nc.Close()
					return
				}
				g.inflight.Add(-1)
				if h.status >= 200 && h.status < 400 {
					g.latency.record(now - time.Duration(intended))
					g.answered.Add(1)
				} else {
					g.errors.Add(1)
				}
				g.lastAnswer.Store(int64(now))
				if next == connIdle {
					g.release(c)
					continue
				}
				c.nc.Close()
				g.release(c) // the sender opens a new one when it takes it
				return
			}
		}
		// The connection failed or was closed. A request in flight on it has failed; an idle
		// connection is found broken by the sender, which replaces it.
		prev := c.state.Swap(connBroken)
		c.nc.Close()
		if g.closing.Load() {
			err = errNoAnswer
		}
		if prev >= 0 {
			g.fail(err)
			g.errors.Add(1)
			g.inflight.Add(-1)
			g.release(c)
		}
		return
	}
}

// forget drops c, closed, from the connections to close at the end.
func (g *constRun) forget(c *wireConn) {
	g.mu.Lock()
	if i := slices.Index(g.open, c); i >= 0 {
		g.open = slices.Delete(g.open, i, i+1)
	}
	g.mu.Unlock()
}

// fail keeps the first transport error of the run, for the report.
func (g *constRun) fail(err error) {
	if err == nil {
		return
	}
	g.mu.Lock()
	if g.firstErr == nil {
		g.firstErr = err
	}
	g.mu.Unlock()
}

// closeAll closes every connection of the run.
func (g *constRun) closeAll() {
	g.mu.Lock()
	open := slices.Clone(g.open)
	g.mu.Unlock()
	for _, c := range open {
		c.nc.Close()
	}
}
