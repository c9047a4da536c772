package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
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

// writeProgress closes the connection of a response on which a write made no progress for d:
// a client that stops reading would otherwise hold its connection, and the upstream's, for as
// long as the upstream has more to send. The deadline is moved forward before each write (at
// most once a second), so a response may stream for as long as it makes progress; hard, when
// set, is write_timeout, which bounds the whole response and is never extended.
func writeProgress(h http.Handler, d, hard time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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

// progressWriter moves a connection's write deadline forward as a response is written.
type progressWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	d        time.Duration
	hard     time.Time
	set      time.Time // when the deadline was last moved
	hijacked bool
}

func (p *progressWriter) extend(force bool) {
	if p.hijacked {
		return // the connection belongs to the handler now
	}
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

// Flush, Hijack and Unwrap keep what the wrapped writer offers to plugins that assert it and to
// http.ResponseController.
func (p *progressWriter) Flush() {
	p.extend(false)
	_ = p.rc.Flush()
}

func (p *progressWriter) FlushError() error {
	p.extend(false)
	return p.rc.Flush()
}

// Hijack hands the connection over (an upgrade); the server clears its deadlines, and this
// writer no longer touches them.
func (p *progressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := p.rc.Hijack()
	p.hijacked = p.hijacked || err == nil
	return conn, brw, err
}

func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// clearWriteDeadline, as the server's ConnState hook, lifts the progress deadline from a
// connection that went idle, so that it cannot fall on what the server writes for the next
// request before the handler runs (a 400 for a malformed request, a 100 Continue).
func clearWriteDeadline(c net.Conn, s http.ConnState) {
	if s == http.StateIdle {
		_ = c.SetWriteDeadline(time.Time{})
	}
}

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

// limitListener holds at most cap(slots) connections open at once. At the bound, Accept waits
// for one to close, so new clients wait in the kernel's accept queue rather than take the file
// descriptors the gateway needs for upstreams; one that waits too long gives up on its own.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	closed   chan struct{}
	once     sync.Once
	log      *slog.Logger
	lastWarn atomic.Int64 // unix seconds of the last "at the bound" log line
}

// limitConnections bounds ln to max connections at once (no bound when max is 0).
func limitConnections(ln net.Listener, max int, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max), closed: make(chan struct{}), log: log}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if now := time.Now().Unix(); now-l.lastWarn.Load() >= 60 {
			l.lastWarn.Store(now)
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
