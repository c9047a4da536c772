package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Limits on what one connection may hold: the size of a request's header block, and how long a
// response write may make no progress.

// MsgHeaderTooLarge is what a request over max_header_bytes gets.
const MsgHeaderTooLarge = "Request Header Fields Too Large"

// headerLimit answers 431 to a request whose line and header fields exceed max bytes, counted as
// they were sent. Go's server enforces the same limit while reading (with 4 KiB of slack, and a
// plain-text answer of its own), so that memory stays bounded; this check makes the limit exact
// and the answer the gateway's.
func headerLimit(h http.Handler, max int) http.Handler {
	if max <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerSize(r) > max {
			w.Header().Set("Connection", "close")
			chain.WriteError(w, http.StatusRequestHeaderFieldsTooLarge, MsgHeaderTooLarge)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// headerSize is the size of r's request line and header fields as sent (Go moves Host out of the
// header map).
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// write_progress_timeout: a response on which a write made no progress for d closes its
// connection. A client that stops reading would otherwise hold its connection, and the
// upstream's, for as long as the upstream has more to send; a response may stream for as long
// as it makes progress. write_timeout, when set, stays a hard bound on the whole response: Go's
// server sets it as the connection's write deadline when it reads a request, and the progress
// deadline never goes past it.
//
// The deadline lives on the connection (progressConn, from progressListener), not on each
// response: a write moves it forward only when it would otherwise fall within d - slack of now,
// so a kept-alive connection moves it about once a second whatever its request rate, instead of
// several times per request (each move modifies a runtime timer). Every byte the server writes
// passes through the connection's Write, so a stale deadline (one that passed while the
// connection was idle) is moved before it can cut anything: the next response, a 100 Continue
// or a 400 for a malformed request. A hijacked connection (an upgrade) is left alone from the
// moment it is handed over (the ConnState hook releaseHijacked). With HTTP/2, the connection's
// deadline bounds the writes of all its streams together, and writeProgress bounds each
// stream's response as well, since a stream can stall on flow control while its connection
// makes progress.

// progressSlack is the most a write's allowance may fall short of write_progress_timeout: a
// write that blocks is cut between d - progressSlack and d after it began (between d/2 and d
// when d is under two seconds).
const progressSlack = time.Second

// progressListener wraps the connections ln accepts so that a write that makes no progress for
// d fails (no wrapping when d is 0).
func progressListener(ln net.Listener, d time.Duration) net.Listener {
	if d <= 0 {
		return ln
	}
	return &progressLn{Listener: ln, d: d}
}

type progressLn struct {
	net.Listener
	d time.Duration
}

func (l *progressLn) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &progressConn{Conn: c, d: l.d, slack: min(progressSlack, l.d/2)}, nil
}

// monoEpoch is the origin of progressConn's monotonic clock readings.
var monoEpoch = time.Now()

// mono reads the monotonic clock, in nanoseconds since monoEpoch.
func mono() int64 { return int64(time.Since(monoEpoch)) }

// noRenew is progressConn.renew when no write needs to move the deadline: it is at the hard
// bound, or the connection was hijacked.
const noRenew = math.MaxInt64

// progressConn keeps a connection's write deadline at most d ahead of its last write, and never
// past the deadline set through SetWriteDeadline (the server's write_timeout, or a handler's
// own through http.ResponseController).
type progressConn struct {
	net.Conn
	d, slack time.Duration
	// renew is the mono() time from which a write must move the deadline first; 0 until the
	// first write. The fast path of Write reads only this.
	renew atomic.Int64

	mu       sync.Mutex // held while the deadline moves; guards what follows
	hard     time.Time  // the deadline set through SetWriteDeadline; zero for none
	set      time.Time  // the write deadline the connection has now; zero for none
	hijacked bool       // handed over: never touched again
}

// Write moves the write deadline when it is due, then writes.
func (c *progressConn) Write(b []byte) (int, error) {
	if mono() >= c.renew.Load() {
		c.move()
	}
	return c.Conn.Write(b)
}

// move sets the write deadline d from now, or at the hard bound if that comes first.
func (c *progressConn) move() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hijacked {
		return
	}
	dl := time.Now().Add(c.d)
	if !c.hard.IsZero() && c.hard.Before(dl) {
		dl = c.hard
	}
	if !dl.Equal(c.set) {
		_ = c.Conn.SetWriteDeadline(dl)
		c.set = dl
	}
	c.schedule()
}

// schedule works out renew from set and hard (c.mu held): at once when there is no deadline or
// it is past the hard bound; never while it is the hard bound; otherwise when the deadline
// comes within d - slack.
func (c *progressConn) schedule() {
	switch {
	case c.hijacked || !c.hard.IsZero() && c.set.Equal(c.hard):
		c.renew.Store(noRenew)
	case c.set.IsZero() || !c.hard.IsZero() && c.set.After(c.hard):
		c.renew.Store(0)
	default:
		c.renew.Store(int64(c.set.Sub(monoEpoch) - (c.d - c.slack)))
	}
}

// SetWriteDeadline sets the hard bound. It becomes the connection's deadline only when it is
// no later than a write's allowance (now + d) and earlier than the deadline the connection has:
// a later one (the server's write_timeout, set when it reads a request; a TLS handshake's) is
// only the bound that moves never pass, and the next write sets the progress deadline under it.
// None (the server lifts its own after every response, and after a TLS handshake) leaves the
// progress deadline as it is, and the next write due moves it before it can cut anything.
//
// So the deadline the connection has is never more than d past the moment it was set, and set
// equals hard only when hard is that close: no write can move the deadline past it then.
func (c *progressConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hijacked {
		return c.Conn.SetWriteDeadline(t)
	}
	c.hard = t
	var err error
	if !t.IsZero() && (c.set.IsZero() || t.Before(c.set)) && !t.After(time.Now().Add(c.d)) {
		err = c.Conn.SetWriteDeadline(t)
		c.set = t
	}
	c.schedule()
	return err
}

// SetDeadline is SetReadDeadline and SetWriteDeadline (Go's server calls it only to lift both
// when it hands a connection over; releaseHijacked then lifts the progress deadline).
func (c *progressConn) SetDeadline(t time.Time) error {
	return errors.Join(c.Conn.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// release hands the connection over: its write deadline is lifted and never touched again.
func (c *progressConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hijacked {
		return
	}
	c.hijacked = true
	c.renew.Store(noRenew)
	if !c.set.IsZero() {
		_ = c.Conn.SetWriteDeadline(time.Time{})
		c.set = time.Time{}
	}
}

// progressChunk is how much of a ReadFrom is written under one move of the deadline: as much
// as one Write of a copy loop.
const progressChunk = 32 << 10

// ReadFrom keeps the underlying connection's ReadFrom (sendfile or splice) for a file or a
// connection, a chunk at a time, the deadline moved before each. Anything else is copied
// through Write with a pooled buffer: the TCP connection's own fallback would allocate a
// buffer per call, so per chunk.
func (c *progressConn) ReadFrom(r io.Reader) (n int64, err error) {
	if !spliceable(r) {
		buf := proxy.BufferPool.Get()
		defer proxy.BufferPool.Put(buf)
		return io.CopyBuffer(writeOnly{c}, r, buf)
	}
	lr := &io.LimitedReader{R: r}
	for {
		if mono() >= c.renew.Load() {
			c.move()
		}
		lr.N = progressChunk
		m, err := io.Copy(c.Conn, lr)
		n += m
		if err != nil || lr.N > 0 {
			return n, err
		}
	}
}

// spliceable reports whether the kernel can copy from r to a TCP connection by itself: a file
// or a connection, maybe behind an io.LimitedReader.
func spliceable(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	switch r.(type) {
	case *os.File, *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}

// writeOnly hides a writer's ReadFrom from io.CopyBuffer.
type writeOnly struct{ io.Writer }

// CloseWrite keeps the underlying connection's half-close (see limitConn.CloseWrite).
func (c *progressConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// releaseHijacked, as the server's ConnState hook, lets go of a connection that a handler
// hijacked (an upgrade): its deadlines are the handler's from then on.
func releaseHijacked(c net.Conn, s http.ConnState) {
	if s != http.StateHijacked {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if pc, ok := c.(*progressConn); ok {
		pc.release()
	}
}

// writeProgress bounds each HTTP/2 stream's response the same way, per stream (a stream that
// stalls on flow control makes no progress though its connection may): the deadline, the
// stream's own, moves forward before each write (at most once a second) and never past hard
// (write_timeout). HTTP/1 requests pass straight through: their connection's progressConn
// bounds them.
func writeProgress(h http.Handler, d, hard time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor < 2 {
			h.ServeHTTP(w, r)
			return
		}
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		if hard > 0 {
			pw.hard = time.Now().Add(hard)
		}
		h.ServeHTTP(pw, r)
		// What the server writes after the handler returns (the buffered end of the body)
		// gets the same allowance.
		pw.extend(true)
	})
}

// progressWriter moves an HTTP/2 stream's write deadline forward as a response is written.
type progressWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	d    time.Duration
	hard time.Time
	set  time.Time // when the deadline was last moved
}

func (p *progressWriter) extend(force bool) {
	now := time.Now()
	if !force && now.Sub(p.set) < time.Second {
		return
	}
	p.set = now
	dl := now.Add(p.d)
	if !p.hard.IsZero() && p.hard.Before(dl) {
		dl = p.hard
	}
	_ = p.rc.SetWriteDeadline(dl)
}

func (p *progressWriter) WriteHeader(code int) {
	p.extend(false)
	p.ResponseWriter.WriteHeader(code)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.extend(false)
	return p.ResponseWriter.Write(b)
}

// Flush, FlushError and Unwrap keep what the wrapped writer offers to plugins that assert it
// and to http.ResponseController (HTTP/2 has no Hijack).
func (p *progressWriter) Flush() {
	p.extend(false)
	_ = p.rc.Flush()
}

func (p *progressWriter) FlushError() error {
	p.extend(false)
	return p.rc.Flush()
}

func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// connReserve is how many open files the derived connection bound leaves for what is not a
// client: upstream connections beyond one per client, Redis, plugin and bundle files, logs.
const connReserve = 256

// maxConnections resolves http_server_options.max_connections: n when positive, no bound (0)
// for -1, and for 0 half the open-file limit less connReserve, since each client connection
// may hold an upstream connection too.
func maxConnections(n int) int {
	switch {
	case n > 0:
		return n
	case n < 0:
		return 0
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return max(64, (int(min(lim.Cur, 1<<30))-connReserve)/2)
}

// requestLimit bounds the requests HTTP/2 clients have in flight beyond the first of each
// connection. Over HTTP/1 a connection carries one request at a time, so the connection bound
// (max_connections, which counts on one upstream connection for each) bounds the requests too;
// over HTTP/2 one connection carries up to maxStreams at once, each proxied on an upstream
// connection of its own: without a bound, 80 connections of 250 streams held open took every
// file descriptor the process had, the Gateway API's listener's included. The first request in
// flight on a connection is always served (the connection's slot covers it), so HTTP/1 clients,
// health checks and each HTTP/2 connection's one request are never refused by this; the others
// share a pool of max_connections, past which a stream gets 503 with Retry-After at once. A
// client holding the pool thus slows other HTTP/2 clients down to one request at a time a
// connection, and refuses nobody outright.
type requestLimit struct {
	next  http.Handler
	extra atomic.Int64 // streams beyond their connection's first, in flight
	max   int64
	log   *slog.Logger
	warn  logevery.Gate
}

// limitRequests bounds the requests beyond the first of each connection h serves at once to max
// (no bound when max is 0).
func limitRequests(h http.Handler, max int, log *slog.Logger) http.Handler {
	if max <= 0 {
		return h
	}
	return &requestLimit{next: h, max: int64(max), log: log, warn: logevery.Gate{Every: time.Minute}}
}

func (l *requestLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor < 2 {
		l.next.ServeHTTP(w, r) // one request at a time a connection: the connection bound holds
		return
	}
	conn := reqctx.ConnOf(r)
	if conn != nil {
		n := conn.Streams.Add(1)
		defer conn.Streams.Add(-1)
		if n == 1 {
			l.next.ServeHTTP(w, r) // the connection's first: its slot covers it
			return
		}
	}
	if l.extra.Add(1) > l.max {
		l.extra.Add(-1)
		if held, ok := l.warn.Allow(time.Now()); ok {
			l.log.Warn("HTTP/2 requests refused with 503: as many beyond each connection's first are in flight as http_server_options.max_connections allows; raise the open-file limit or max_connections if this is legitimate traffic",
				"max_connections", l.max, "refused_since_last_said", held)
		}
		w.Header().Set("Retry-After", "1")
		chain.WriteError(w, http.StatusServiceUnavailable, "the gateway is serving as many requests as it can hold; retry shortly")
		return
	}
	defer l.extra.Add(-1)
	l.next.ServeHTTP(w, r)
}

// maxStreams is how many requests a client may have in flight on one HTTP/2 connection (Go's
// default is 250; RFC 9113 asks for no fewer than 100).
const maxStreams = 100

// limitListener holds at most cap(slots) connections open at once. At the bound, Accept waits
// for one to close, so new clients wait in the kernel's accept queue rather than take the file
// descriptors the gateway needs for upstreams; one that waits too long gives up on its own.
type limitListener struct {
	net.Listener
	slots  chan struct{}
	closed chan struct{}
	once   sync.Once
	log    *slog.Logger
	warn   logevery.Gate // the "at the bound" log line, once a minute
}

// limitConnections bounds ln to max connections at once (no bound when max is 0).
func limitConnections(ln net.Listener, max int, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), closed: make(chan struct{}), log: log, warn: logevery.Gate{Every: time.Minute}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if _, ok := l.warn.Allow(time.Now()); ok {
			l.log.Warn("the listener holds http_server_options.max_connections connections: new ones wait until one closes",
				"addr", l.Addr().String(), "max_connections", cap(l.slots))
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, l: l}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is closed, once.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}

// CloseWrite lets Go's server half-close the connection after an error answer, so the client
// reads the answer before the connection goes (without it, unread request bytes make the close
// a reset).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the TCP connection's own ReadFrom (splice or sendfile from the upstream's
// connection) on the response path.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }
