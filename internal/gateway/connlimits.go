package gateway

import (
	"bufio"
	"net"
	"net/http"
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
