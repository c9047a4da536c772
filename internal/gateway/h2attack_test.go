package gateway_test

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/tlsconf/tlstest"
)

// These tests cover S40 (HTTP/2 rapid reset, CONTINUATION flood, HPACK bomb) and S20 over
// HTTP/2 (CONNECT and extended CONNECT) of the security and faults reference; see
// docs/coverage.md. The frames and the HPACK header blocks are written by hand (RFC 9113,
// RFC 7541: literals, indexing, no Huffman on the way out), as in
// TestH2ConnectionSpecificHeadersNotForwarded: golang.org/x/net is not a dependency, and Go's
// client sends none of this. None calls t.Parallel: they measure the whole process (goroutines,
// allocations) and load the machine; time bounds tell "at once" from "never", not fast from
// slow.

// HTTP/2 frame types, flags and error codes (RFC 9113 6, 7).
const (
	h2aTypeData         = 0x0
	h2aTypeHeaders      = 0x1
	h2aTypeRSTStream    = 0x3
	h2aTypeSettings     = 0x4
	h2aTypePing         = 0x6
	h2aTypeGoAway       = 0x7
	h2aTypeContinuation = 0x9

	h2aFlagEndStream  = 0x1
	h2aFlagAck        = 0x1
	h2aFlagEndHeaders = 0x4

	h2aCodeProtocol        = 0x1
	h2aCodeCancel          = 0x8
	h2aCodeCompression     = 0x9
	h2aCodeEnhanceYourCalm = 0xb

	// h2aMaxFrame is the largest frame payload a peer must accept before SETTINGS say more.
	h2aMaxFrame = 16384
)

var h2aCodeNames = map[uint32]string{0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR",
	0x3: "FLOW_CONTROL_ERROR", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM", 0x8: "CANCEL",
	0x9: "COMPRESSION_ERROR", 0xb: "ENHANCE_YOUR_CALM"}

func h2aCodeName(c uint32) string {
	if n, ok := h2aCodeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", c)
}

// h2aFrame encodes one frame.
func h2aFrame(typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	h := []byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(h, payload...)
}

// h2aRST is a RST_STREAM frame.
func h2aRST(stream, code uint32) []byte {
	return h2aFrame(h2aTypeRSTStream, 0, stream, binary.BigEndian.AppendUint32(nil, code))
}

// h2aInt is an HPACK integer with an n-bit prefix (RFC 7541 5.1); first holds the bits above it.
func h2aInt(first byte, prefix uint, n int) []byte {
	limit := 1<<prefix - 1
	if n < limit {
		return []byte{first | byte(n)}
	}
	out := []byte{first | byte(limit)}
	for n -= limit; n >= 128; n /= 128 {
		out = append(out, byte(n%128+128))
	}
	return append(out, byte(n))
}

// h2aString is an HPACK string literal, not Huffman-coded (RFC 7541 5.2).
func h2aString(s string) []byte { return append(h2aInt(0, 7, len(s)), s...) }

// h2aLiteral is a literal header field without indexing, with a new name (RFC 7541 6.2.2).
func h2aLiteral(name, value string) []byte {
	return append(append([]byte{0x00}, h2aString(name)...), h2aString(value)...)
}

// h2aIndexing is a literal header field with incremental indexing, with a new name (RFC 7541
// 6.2.1): the field is added to the dynamic table, at index 62.
func h2aIndexing(name, value string) []byte {
	return append(append([]byte{0x40}, h2aString(name)...), h2aString(value)...)
}

// h2aIndexed is an indexed header field (RFC 7541 6.1).
func h2aIndexed(i int) []byte { return h2aInt(0x80, 7, i) }

// h2aFields is a header block of literal fields.
func h2aFields(fields ...[2]string) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, h2aLiteral(f[0], f[1])...)
	}
	return b
}

// h2aGet is the header block of a GET of path, with an x-case header to find it upstream.
func h2aGet(scheme, path, marker string) []byte {
	return h2aFields([2]string{":method", "GET"}, [2]string{":scheme", scheme}, [2]string{":authority", "gw.test"},
		[2]string{":path", path}, [2]string{"x-case", marker})
}

// h2aConn is a client HTTP/2 connection written by hand: h2c with prior knowledge, or h2 over
// TLS chosen by ALPN.
type h2aConn struct {
	net.Conn
	br     *bufio.Reader
	scheme string
	wmu    sync.Mutex
}

// h2aDial opens a connection to addr (TLS trusting ca, or h2c when ca is nil) and sends the
// client preface and an empty SETTINGS frame.
func h2aDial(t *testing.T, addr string, ca *tlstest.CA) *h2aConn {
	t.Helper()
	var conn net.Conn
	var err error
	scheme := "http"
	if ca == nil {
		conn, err = net.DialTimeout("tcp", addr, 10*time.Second)
	} else {
		scheme = "https"
		var tc *tls.Conn
		tc, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
			&tls.Config{RootCAs: ca.Pool, NextProtos: []string{"h2"}})
		if err == nil && tc.ConnectionState().NegotiatedProtocol != "h2" {
			tc.Close()
			t.Fatalf("ALPN chose %q, not h2", tc.ConnectionState().NegotiatedProtocol)
		}
		conn = tc
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &h2aConn{Conn: conn, br: bufio.NewReaderSize(conn, 64<<10), scheme: scheme}
	if err := c.send(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2aFrame(h2aTypeSettings, 0, 0, nil)...)); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *h2aConn) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.Write(b)
	return err
}

type h2aRead struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

// read reads one frame.
func (c *h2aConn) read() (h2aRead, error) {
	var h [9]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return h2aRead{}, err
	}
	f := h2aRead{typ: h[3], flags: h[4], stream: binary.BigEndian.Uint32(h[5:]) & 0x7fffffff,
		payload: make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))}
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return h2aRead{}, err
	}
	// Acknowledge the server's SETTINGS, unless a write is under way: a flood blocked on a
	// server that stopped reading must not block the reader too (Go's server does not require
	// the acknowledgement).
	if f.typ == h2aTypeSettings && f.flags&h2aFlagAck == 0 && c.wmu.TryLock() {
		_, _ = c.Write(h2aFrame(h2aTypeSettings, h2aFlagAck, 0, nil))
		c.wmu.Unlock()
	}
	return f, nil
}

// drain reads until the connection ends, for up to wait, and returns how it ended.
func (c *h2aConn) drain(wait time.Duration) error {
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, err := c.read(); err != nil {
			return err
		}
	}
}

// h2aTimeout reports whether err is a deadline passing, not the connection ending.
func h2aTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// h2aOutcome is what became of one stream.
type h2aOutcome struct {
	status    int    // the response's :status, 0 when none came (or it could not be read)
	data      []byte // the response's DATA
	reset     bool   // the server reset the stream
	resetCode uint32
	goAway    bool // the server sent GOAWAY
	goAwayErr uint32
	closed    error // how the connection ended, when it did before the stream
}

func (o h2aOutcome) String() string {
	switch {
	case o.status != 0:
		return fmt.Sprintf("answered %d (%q)", o.status, h2aShort(o.data))
	case o.reset:
		return "stream reset (" + h2aCodeName(o.resetCode) + ")"
	case o.goAway:
		return "connection refused (GOAWAY " + h2aCodeName(o.goAwayErr) + ")"
	case o.closed != nil:
		return fmt.Sprintf("connection closed (%v)", o.closed)
	}
	return "nothing"
}

// refused reports whether the server refused the request: an answer of 4xx, a reset stream, or
// a closed connection.
func (o h2aOutcome) refused() bool {
	return o.status >= 400 && o.status < 500 || o.status == 0 && (o.reset || o.goAway || o.closed != nil)
}

func h2aShort(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

// await reads frames until stream ends, is reset, or the connection ends, for up to wait.
func (c *h2aConn) await(stream uint32, wait time.Duration) (o h2aOutcome) {
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	for {
		f, err := c.read()
		if err != nil {
			o.closed = err
			return o
		}
		switch {
		case f.typ == h2aTypeGoAway && len(f.payload) >= 8:
			// After a graceful GOAWAY (NO_ERROR), streams up to the last one it names may still
			// be answered; after an error the connection is closing.
			o.goAway, o.goAwayErr = true, binary.BigEndian.Uint32(f.payload[4:])
			if o.goAwayErr != 0 || binary.BigEndian.Uint32(f.payload)&0x7fffffff < stream {
				return o
			}
		case f.stream != stream:
		case f.typ == h2aTypeRSTStream && len(f.payload) == 4:
			o.reset, o.resetCode = true, binary.BigEndian.Uint32(f.payload)
			return o
		case f.typ == h2aTypeHeaders && o.status == 0:
			o.status = h2aStatus(f.payload)
		case f.typ == h2aTypeData:
			o.data = append(o.data, f.payload...) // unpadded: the gateway sets no padding
		}
		if f.stream == stream && f.flags&h2aFlagEndStream != 0 && (f.typ == h2aTypeHeaders || f.typ == h2aTypeData) {
			return o
		}
	}
}

// h2aStatus reads the :status of a response header block as Go's server writes it first on a
// connection: an indexed static entry, or a literal naming :status by a static index (8 to 14)
// with a raw or Huffman-coded value. Anything else gives 0.
func h2aStatus(block []byte) int {
	static := map[int]int{8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
	readInt := func(prefix uint) (int, bool) {
		if len(block) == 0 {
			return 0, false
		}
		limit := 1<<prefix - 1
		n := int(block[0]) & limit
		block = block[1:]
		if n < limit {
			return n, true
		}
		for m := 0; len(block) > 0 && m < 28; m += 7 {
			b := block[0]
			block = block[1:]
			n += int(b&0x7f) << m
			if b&0x80 == 0 {
				return n, true
			}
		}
		return 0, false
	}
	for len(block) > 0 && block[0]&0xe0 == 0x20 { // dynamic table size updates
		if _, ok := readInt(5); !ok {
			return 0
		}
	}
	if len(block) == 0 {
		return 0
	}
	var name int
	var ok bool
	switch b := block[0]; {
	case b&0x80 != 0:
		i, _ := readInt(7)
		return static[i]
	case b&0xc0 == 0x40:
		name, ok = readInt(6)
	default: // without indexing (0000) or never indexed (0001)
		name, ok = readInt(4)
	}
	if !ok || name < 8 || name > 14 || len(block) == 0 { // the static entries named :status
		return 0
	}
	huffman := block[0]&0x80 != 0
	n, ok := readInt(7)
	if !ok || n > len(block) || n == 0 {
		return 0
	}
	value := string(block[:n])
	if huffman {
		value = h2aHuffmanDigits(block[:n])
	}
	status := 0
	for _, d := range value {
		if d < '0' || d > '9' {
			return 0
		}
		status = status*10 + int(d-'0')
	}
	return status
}

// h2aHuffmanDigits decodes a Huffman-coded string of digits (RFC 7541 Appendix B: '0'-'2'
// are the 5-bit codes 0-2, '3'-'9' the 6-bit codes 25-31), or gives "" for anything else.
func h2aHuffmanDigits(b []byte) string {
	bits := len(b) * 8
	at := func(i, n int) int { // n bits from bit i
		v := 0
		for k := i; k < i+n; k++ {
			v = v<<1 | int(b[k/8]>>(7-k%8)&1)
		}
		return v
	}
	var out []byte
	for i := 0; i < bits; {
		if rest := bits - i; rest < 8 && at(i, rest) == 1<<rest-1 {
			break // padding: the most significant bits of EOS
		}
		if bits-i >= 5 && at(i, 5) <= 2 {
			out = append(out, byte('0'+at(i, 5)))
			i += 5
			continue
		}
		if bits-i >= 6 && at(i, 6) >= 25 && at(i, 6) <= 31 {
			out = append(out, byte('3'+at(i, 6)-25))
			i += 6
			continue
		}
		return ""
	}
	return string(out)
}

// h2aGateway starts a gateway serving HTTP/2 in front of up at /t/: h2c on a plain listener
// when ca is nil, h2 over TLS otherwise. It returns the gateway and a client that speaks HTTP/2
// to it on connections of its own.
func h2aGateway(t *testing.T, up *gt.Upstream, ca *tlstest.CA, edit func(*config.HTTPServerOptions)) (*gt.Gateway, *http.Client, string) {
	t.Helper()
	var leaf *tlstest.Leaf
	if ca != nil {
		leaf = ca.Issue(t, "127.0.0.1")
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("t", "/t/", up.URL)}, Config: func(c *config.Config) {
		o := &c.HTTPServerOptions
		if ca == nil {
			o.EnableH2C = true
		} else {
			o.UseSSL, o.EnableHTTP2 = true, true
			o.Certificates = []config.CertificateFile{{CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}}
		}
		if edit != nil {
			edit(o)
		}
	}})
	if ca != nil {
		return g, ca.Client("", true), "https://" + g.Server.Addr()
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return g, &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 30 * time.Second}, g.URL
}

// h2aGetOK sends an ordinary GET through client and checks it is served over HTTP/2.
func h2aGetOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2) {
		err = fmt.Errorf("%d over %s", resp.StatusCode, resp.Proto)
	}
	return err
}

// h2aReached counts the requests the upstream received with the x-case marker.
func h2aReached(up *gt.Upstream, marker string) int {
	n := 0
	for _, r := range up.Requests() {
		if r.Headers["X-Case"] == marker {
			n++
		}
	}
	return n
}

// h2aGoroutines waits until the goroutine count is at most want, for up to wait, and returns
// it; with want < 0 it waits until the count stops changing instead.
func h2aGoroutines(want int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	last, same := runtime.NumGoroutine(), 0
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if want >= 0 && n <= want {
			return n
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		if want < 0 && same >= 10 {
			return n
		}
	}
	return runtime.NumGoroutine()
}

// h2aHandlerFunc is the function Go's HTTP/2 server runs each stream's handler in, one goroutine
// a stream, counted against MAX_CONCURRENT_STREAMS from its start until the connection's serve
// loop has its handler-done message: the handler has returned by then, but the goroutine may
// still be ending, so only those inside the gateway's own code are counted as handlers.
const h2aHandlerFunc = "net/http.(*http2serverConn).runHandler"

// h2aHandlers counts the goroutines running the gateway's handler for an HTTP/2 stream: with
// h2aHandlerFunc and a gatehouse function on their stacks. records and pcs are the caller's,
// reused between calls: a goroutine profile's records, and what each PC met so far lies in.
func h2aHandlers(records *[]runtime.StackRecord, pcs map[uintptr]int8) int {
	const other, runHandler, gatehouse = 0, 1, 2
	for {
		n, ok := runtime.GoroutineProfile(*records)
		if !ok {
			*records = make([]runtime.StackRecord, n+n/2+100)
			continue
		}
		count := 0
		for _, r := range (*records)[:n] {
			var saw [3]bool
			for _, pc := range r.Stack() {
				in, seen := pcs[pc]
				if !seen {
					in = other
					if f := runtime.FuncForPC(pc - 1); f != nil { // a return address: the call is before it
						switch name := f.Name(); {
						case name == h2aHandlerFunc:
							in = runHandler
						case strings.HasPrefix(name, "github.com/gatehouse/gatehouse/"):
							in = gatehouse
						}
					}
					pcs[pc] = in
				}
				saw[in] = true
			}
			if saw[runHandler] && saw[gatehouse] {
				count++
			}
		}
		return count
	}
}

// h2aAllocated is the bytes allocated on the heap by the whole process so far.
func h2aAllocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// h2aBoth runs fn over h2c and over h2 with TLS.
func h2aBoth(t *testing.T, fn func(t *testing.T, ca *tlstest.CA)) {
	t.Run("h2c", func(t *testing.T) { fn(t, nil) })
	t.Run("h2 over TLS", func(t *testing.T) { fn(t, tlstest.NewCA(t)) })
}

// TestH2RapidReset (S40, CVE-2023-44487): one connection opens 10,000 streams, each a GET
// through the gateway followed at once by its RST_STREAM, then a PING. What Go's server does
// (since 1.21.3): it runs at most MaxConcurrentStreams (the gateway's 100, sent in its SETTINGS)
// handlers per connection and queues the streams above that; a queued stream that is reset never
// runs; and when more than 4×100 streams wait for a handler it closes the connection with GOAWAY
// ENHANCE_YOUR_CALM. A reset stream's handler has its context cancelled, and the gateway's
// stops there. Here the handlers keep up, so Go reads every stream and answers the PING
// (Go 1.26.8: about a quarter of the streams reach the upstream, and a few hundred goroutines
// come and go). The test asserts that ordinary requests on other connections are served
// throughout; that the abusive connection is closed by the server (GOAWAY ENHANCE_YOUR_CALM or
// EOF) or, when it is not, that fewer than three quarters of the streams reached the upstream
// (a server that ignored RST_STREAM would forward all of them); that the handler goroutines
// never exceed MAX_CONCURRENT_STREAMS (and the ordinary client's one); and that the process's
// goroutines come back to where they were. The process's goroutine count during the attack is
// only logged: the upstream connections of cancelled requests are torn down by goroutines of
// their own (the transport's two, the upstream's one) that end when the scheduler gets to them,
// so their number depends on the machine's load, not on the server's defence.
func TestH2RapidReset(t *testing.T) {
	h2aBoth(t, func(t *testing.T, ca *tlstest.CA) {
		const streams = 10000
		up := gt.NewUpstream(t)
		g, client, base := h2aGateway(t, up, ca, nil)
		if err := h2aGetOK(client, base+"/t/warm-up"); err != nil {
			t.Fatalf("an ordinary request before the attack: %v", err)
		}
		client.CloseIdleConnections()
		up.CloseClientConnections()
		goroutines := h2aGoroutines(-1, 5*time.Second)
		allocated := h2aAllocated()

		c := h2aDial(t, g.Server.Addr(), ca)
		block := h2aGet(c.scheme, "/t/rapid-reset", "rapid-reset")
		type ended struct {
			sawGoAway    bool
			goAway, code uint32
			maxStreams   uint32 // SETTINGS_MAX_CONCURRENT_STREAMS, 0 when not sent
			err          error
			pingAck      bool
			answers      int
		}
		done := make(chan ended, 1)
		go func() {
			var e ended
			defer func() { done <- e }()
			c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			for {
				f, err := c.read()
				if err != nil {
					e.err = err
					return
				}
				switch f.typ {
				case h2aTypeSettings:
					for p := f.payload; len(p) >= 6; p = p[6:] {
						if binary.BigEndian.Uint16(p) == 0x3 {
							e.maxStreams = binary.BigEndian.Uint32(p[2:])
						}
					}
				case h2aTypeGoAway:
					if len(f.payload) >= 8 {
						e.sawGoAway = true
						e.goAway, e.code = binary.BigEndian.Uint32(f.payload)&0x7fffffff, binary.BigEndian.Uint32(f.payload[4:])
					}
				case h2aTypeHeaders:
					e.answers++
				case h2aTypePing:
					if f.flags&h2aFlagAck != 0 && string(f.payload) == "rst-done" {
						e.pingAck = true
						return
					}
				}
			}
		}()

		// Ordinary requests on connections of their own, all through the attack.
		var (
			served, failed         atomic.Int64
			slowest, peak, handled atomic.Int64
			stop                   = make(chan struct{})
			wg                     sync.WaitGroup
		)
		wg.Go(func() {
			var records []runtime.StackRecord
			pcs := map[uintptr]int8{}
			for {
				if n := int64(runtime.NumGoroutine()); n > peak.Load() {
					peak.Store(n)
				}
				if n := int64(h2aHandlers(&records, pcs)); n > handled.Load() {
					handled.Store(n)
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if err := h2aGetOK(client, base+"/t/ordinary"); err != nil {
					if failed.Add(1) <= 3 {
						t.Errorf("an ordinary request during the attack: %v", err)
					}
				} else {
					served.Add(1)
				}
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})

		start := time.Now()
		sent, writeErr := 0, error(nil)
		var batch []byte
		for i := range streams {
			id := uint32(2*i + 1)
			batch = append(batch, h2aFrame(h2aTypeHeaders, h2aFlagEndStream|h2aFlagEndHeaders, id, block)...)
			batch = append(batch, h2aRST(id, h2aCodeCancel)...)
			if (i+1)%100 == 0 || i == streams-1 {
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if writeErr = c.send(batch); writeErr != nil {
					break
				}
				sent, batch = i+1, batch[:0]
			}
		}
		if writeErr == nil {
			// PING is answered in order: its ACK means every stream before it was read.
			writeErr = c.send(h2aFrame(h2aTypePing, 0, 0, []byte("rst-done")))
		}
		var e ended
		select {
		case e = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the abusive connection neither answered the PING nor was closed within 2 minutes")
		}
		took := time.Since(start)
		c.Close()
		close(stop)
		wg.Wait()

		// Requests the gateway started before their RST was read may still be on their way.
		time.Sleep(500 * time.Millisecond)
		reached := h2aReached(up, "rapid-reset")
		goAway := "no GOAWAY"
		if e.sawGoAway {
			goAway = fmt.Sprintf("GOAWAY %s, last stream %d", h2aCodeName(e.code), e.goAway)
		}
		t.Logf("%d of %d streams sent in %v (write error: %v); the server (MAX_CONCURRENT_STREAMS %d): %s, read error %v, PING answered %v, %d response HEADERS; %d reached the upstream; at most %d handler goroutines, %d goroutines more than before; %d ordinary requests served meanwhile, the slowest in %v",
			sent, streams, took, writeErr, e.maxStreams, goAway, e.err, e.pingAck, e.answers, reached,
			handled.Load(), peak.Load()-int64(goroutines), served.Load(), time.Duration(slowest.Load()))
		switch {
		case e.maxStreams != 100:
			t.Errorf("the server allows %d concurrent streams a connection (0: no limit sent), want the gateway's 100", e.maxStreams)
		case e.pingAck && reached >= streams*3/4:
			t.Errorf("the server read all %d streams and %d reached the upstream: resets cancel nothing", streams, reached)
		case !e.pingAck && e.sawGoAway && e.code != h2aCodeEnhanceYourCalm:
			t.Errorf("the connection was closed with GOAWAY %s, want ENHANCE_YOUR_CALM", h2aCodeName(e.code))
		case !e.pingAck && (e.err == nil || h2aTimeout(e.err)):
			t.Errorf("the connection was neither closed nor did it answer the PING: %v", e.err)
		}
		// The abusive connection's handlers, at most MAX_CONCURRENT_STREAMS, and the ordinary
		// client's: one request at a time, whose handler goroutine may not have ended yet when
		// its next one starts.
		if limit := int64(e.maxStreams) + 2; handled.Load() > limit {
			t.Errorf("%d handler goroutines at once during the attack, more than %d (MAX_CONCURRENT_STREAMS %d and the ordinary client's)", handled.Load(), limit, e.maxStreams)
		}
		if handled.Load() == 0 {
			t.Errorf("no goroutine was seen running the gateway's handler under %s: the count measures nothing", h2aHandlerFunc)
		}
		if served.Load() == 0 || failed.Load() > 0 {
			t.Errorf("ordinary requests during the attack: %d served, %d failed", served.Load(), failed.Load())
		}
		if d := time.Duration(slowest.Load()); d > 10*time.Second {
			t.Errorf("an ordinary request during the attack took %v", d)
		}
		if err := h2aGetOK(client, base+"/t/after"); err != nil {
			t.Errorf("an ordinary request after the attack: %v", err)
		}

		client.CloseIdleConnections()
		up.CloseClientConnections()
		// A deadline, not a delay: on a loaded machine the torn-down connections' goroutines
		// take their time to end.
		if n := h2aGoroutines(goroutines+10, time.Minute); n > goroutines+10 {
			t.Errorf("%d goroutines after the attack, %d before it", n, goroutines)
		}
		t.Logf("%d MiB allocated by the process during the attack", (h2aAllocated()-allocated)>>20)
	})
}

// TestH2ContinuationFlood (S40, CVE-2023-45288): a HEADERS frame without END_HEADERS followed
// by CONTINUATION frames of valid header fields, 64 MiB of them, a thousand times
// max_header_bytes (64 KiB). Go's server counts the decoded fields against MaxHeaderBytes
// (set from max_header_bytes, plus 320 bytes) and closes the connection with GOAWAY
// PROTOCOL_ERROR at the first CONTINUATION after the limit, without decoding it: the client
// cannot write the whole flood, the process allocates a small part of it, nothing reaches the
// upstream, and the gateway serves on. The same frames with a small block and END_HEADERS on
// the last CONTINUATION are forwarded (control).
func TestH2ContinuationFlood(t *testing.T) {
	h2aBoth(t, func(t *testing.T, ca *tlstest.CA) {
		up := gt.NewUpstream(t)
		g, client, base := h2aGateway(t, up, ca, nil)
		if got := g.Config.HTTPServerOptions.MaxHeaderBytes; got != config.DefaultMaxHeaderBytes {
			t.Fatalf("max_header_bytes is %d, want the default %d", got, config.DefaultMaxHeaderBytes)
		}
		// A CONTINUATION payload of header fields, each 1,011 bytes of HPACK, 16 to a frame.
		var fields []byte
		for i := range 16 {
			fields = append(fields, h2aLiteral(fmt.Sprintf("x-flood-%02d", i), strings.Repeat("f", 998))...)
		}
		if len(fields) > h2aMaxFrame {
			t.Fatalf("a CONTINUATION payload of %d bytes", len(fields))
		}

		t.Run("control", func(t *testing.T) {
			c := h2aDial(t, g.Server.Addr(), ca)
			out := h2aFrame(h2aTypeHeaders, h2aFlagEndStream, 1, h2aGet(c.scheme, "/t/x", "continuation-control"))
			out = append(out, h2aFrame(h2aTypeContinuation, 0, 1, fields)...)
			out = append(out, h2aFrame(h2aTypeContinuation, h2aFlagEndHeaders, 1, fields)...)
			if err := c.send(out); err != nil {
				t.Fatal(err)
			}
			if o := c.await(1, 30*time.Second); o.status != 200 || h2aReached(up, "continuation-control") != 1 {
				t.Fatalf("a header block in two CONTINUATION frames (32 KiB): %v, %d reached the upstream", o, h2aReached(up, "continuation-control"))
			}
		})

		t.Run("flood", func(t *testing.T) {
			const total = 64 << 20
			frames := total / len(fields)
			c := h2aDial(t, g.Server.Addr(), ca)
			if err := c.send(h2aFrame(h2aTypeHeaders, h2aFlagEndStream, 1, h2aGet(c.scheme, "/t/x", "continuation-flood"))); err != nil {
				t.Fatal(err)
			}
			var batch []byte
			for range 16 {
				batch = append(batch, h2aFrame(h2aTypeContinuation, 0, 1, fields)...)
			}
			allocated := h2aAllocated()
			start := time.Now()
			var written atomic.Int64
			writeErr := make(chan error, 1)
			go func() {
				c.SetWriteDeadline(time.Now().Add(time.Minute))
				for n := 0; n < frames; n += 16 {
					if err := c.send(batch); err != nil {
						writeErr <- err
						return
					}
					written.Add(int64(len(batch)))
				}
				writeErr <- nil
			}()
			o := c.await(1, time.Minute)
			took := time.Since(start)
			end := o.closed
			if end == nil {
				end = c.drain(30 * time.Second)
			}
			werr := <-writeErr
			grew := h2aAllocated() - allocated
			t.Logf("%v after %v, then the connection ended (%v); %d KiB of %d MiB written (%v); %d KiB allocated by the process meanwhile",
				o, took, end, written.Load()>>10, total>>20, werr, grew>>10)
			switch {
			case o.status != 0 || o.reset:
				t.Errorf("the stream was %v: the server read the whole flood", o)
			case !o.goAway && o.closed == nil:
				t.Errorf("the connection is still open: %v", o)
			case o.goAway && o.goAwayErr != h2aCodeProtocol:
				t.Errorf("GOAWAY %s, want PROTOCOL_ERROR", h2aCodeName(o.goAwayErr))
			}
			if took > 15*time.Second {
				t.Errorf("the connection was refused after %v", took)
			}
			if h2aTimeout(end) {
				t.Errorf("the connection is still open 30 s after the GOAWAY")
			}
			if werr == nil {
				t.Errorf("all %d MiB of CONTINUATION were written: the server read them", total>>20)
			}
			if grew > 16<<20 {
				t.Errorf("%d MiB allocated while %d MiB of CONTINUATION were offered", grew>>20, total>>20)
			}
			if n := h2aReached(up, "continuation-flood"); n != 0 {
				t.Errorf("%d flood requests reached the upstream", n)
			}
			if err := h2aGetOK(client, base+"/t/after"); err != nil {
				t.Errorf("an ordinary request after the flood: %v", err)
			}
		})
	})
}

// TestH2HPACKBomb (S40, CVE-2022-41717 and kin): a 16 KiB header block that adds one 4,000-byte
// field to the HPACK dynamic table and then refers to it 12,000 times, 48 MB once decoded. Go's
// server stops keeping fields once their size passes MaxHeaderBytes (from max_header_bytes)
// and answers 431 itself: the gateway's handler never runs, nothing reaches the upstream, and
// the process allocates a small part of the decoded size. A dynamic table size update above
// the 4,096 bytes the server allows is a COMPRESSION_ERROR. The same block with 4 references
// is forwarded (control).
func TestH2HPACKBomb(t *testing.T) {
	h2aBoth(t, func(t *testing.T, ca *tlstest.CA) {
		up := gt.NewUpstream(t)
		g, client, base := h2aGateway(t, up, ca, nil)
		bomb := func(scheme, marker string, refs int) []byte {
			b := h2aGet(scheme, "/t/x", marker)
			b = append(b, h2aIndexing("x-bomb", strings.Repeat("b", 4000))...) // 4,038 bytes in the table
			for range refs {
				b = append(b, h2aIndexed(62)...)
			}
			return b
		}

		t.Run("control", func(t *testing.T) {
			c := h2aDial(t, g.Server.Addr(), ca)
			if err := c.send(h2aFrame(h2aTypeHeaders, h2aFlagEndStream|h2aFlagEndHeaders, 1, bomb(c.scheme, "bomb-control", 4))); err != nil {
				t.Fatal(err)
			}
			if o := c.await(1, 30*time.Second); o.status != 200 || h2aReached(up, "bomb-control") != 1 {
				t.Fatalf("a header block with 5 copies of a 4,000-byte field: %v, %d reached the upstream", o, h2aReached(up, "bomb-control"))
			}
		})

		t.Run("bomb", func(t *testing.T) {
			const refs = 12000
			c := h2aDial(t, g.Server.Addr(), ca)
			block := bomb(c.scheme, "bomb", refs)
			if len(block) > h2aMaxFrame {
				t.Fatalf("a header block of %d bytes", len(block))
			}
			allocated := h2aAllocated()
			start := time.Now()
			if err := c.send(h2aFrame(h2aTypeHeaders, h2aFlagEndStream|h2aFlagEndHeaders, 1, block)); err != nil {
				t.Fatal(err)
			}
			o := c.await(1, time.Minute)
			took := time.Since(start)
			grew := h2aAllocated() - allocated
			t.Logf("%d bytes of HPACK, %d MB decoded: %v after %v; %d KiB allocated by the process meanwhile",
				len(block), (refs+1)*4006/1000000, o, took, grew>>10)
			if !o.refused() || o.status != 0 && o.status != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("the bomb was %v, want 431 or a connection error", o)
			}
			if took > 15*time.Second {
				t.Errorf("refused after %v", took)
			}
			if grew > 16<<20 {
				t.Errorf("%d MiB allocated for a header block of %d KiB", grew>>20, len(block)>>10)
			}
			if n := h2aReached(up, "bomb"); n != 0 {
				t.Errorf("%d bombs reached the upstream", n)
			}
			if err := h2aGetOK(client, base+"/t/after"); err != nil {
				t.Errorf("an ordinary request after the bomb: %v", err)
			}
		})

		t.Run("table size above the limit", func(t *testing.T) {
			c := h2aDial(t, g.Server.Addr(), ca)
			block := append(h2aInt(0x20, 5, 1<<30), h2aGet(c.scheme, "/t/x", "table-size")...)
			if err := c.send(h2aFrame(h2aTypeHeaders, h2aFlagEndStream|h2aFlagEndHeaders, 1, block)); err != nil {
				t.Fatal(err)
			}
			o := c.await(1, 30*time.Second)
			if o.status != 0 || !o.goAway && (o.closed == nil || h2aTimeout(o.closed)) || o.goAway && o.goAwayErr != h2aCodeCompression {
				t.Errorf("a dynamic table of 1 GiB asked for: %v, want GOAWAY COMPRESSION_ERROR", o)
			}
			if n := h2aReached(up, "table-size"); n != 0 {
				t.Errorf("%d requests reached the upstream", n)
			}
		})
	})
}

// TestH2Connect (S20 over HTTP/2): CONNECT (RFC 9113 8.5: :method and :authority only) to the
// upstream's own address, with or without a tunnelled request in DATA after it, is answered 405
// by the gateway; a CONNECT that also has :scheme and :path is malformed, and Go resets the
// stream; an extended CONNECT (RFC 8441, :protocol) is reset by Go, which neither advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL nor accepts :protocol unless GODEBUG=http2xconnect=1 (then
// the gateway's 405 answers it). In no case does anything reach the upstream; a GET on the same
// connection kind does (control).
func TestH2Connect(t *testing.T) {
	h2aBoth(t, func(t *testing.T, ca *tlstest.CA) {
		up := gt.NewUpstream(t)
		g, _, _ := h2aGateway(t, up, ca, nil)
		upAddr := strings.TrimPrefix(up.URL, "http://")
		for _, tt := range []struct {
			name   string
			fields [][2]string
			data   string // sent in DATA after the HEADERS, as through a tunnel
			want   string // "405", "reset", "405 or reset", or "200" for the control
		}{
			{"GET (control)", [][2]string{{":method", "GET"}, {":scheme", "SCHEME"}, {":authority", "gw.test"}, {":path", "/t/x"}}, "", "200"},
			{"CONNECT to the upstream", [][2]string{{":method", "CONNECT"}, {":authority", upAddr}}, "", "405"},
			{"CONNECT to the gateway", [][2]string{{":method", "CONNECT"}, {":authority", "gw.test:443"}}, "", "405"},
			{"CONNECT to a metadata address", [][2]string{{":method", "CONNECT"}, {":authority", "169.254.169.254:80"}}, "", "405"},
			{"CONNECT with a tunnelled request", [][2]string{{":method", "CONNECT"}, {":authority", upAddr}},
				"GET /t/x HTTP/1.1\r\nHost: " + upAddr + "\r\nX-Case: CASE\r\n\r\n", "405"},
			{"CONNECT with :scheme and :path", [][2]string{{":method", "CONNECT"}, {":scheme", "SCHEME"}, {":authority", upAddr}, {":path", "/t/x"}}, "", "reset"},
			{"extended CONNECT", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "SCHEME"}, {":authority", "gw.test"}, {":path", "/t/x"},
				{"sec-websocket-version", "13"}}, "", "405 or reset"},
			{"extended CONNECT with a tunnelled request", [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "SCHEME"}, {":authority", "gw.test"}, {":path", "/t/x"}},
				"GET /t/x HTTP/1.1\r\nHost: gw.test\r\nX-Case: CASE\r\n\r\n", "405 or reset"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := h2aDial(t, g.Server.Addr(), ca)
				marker := "connect-" + strings.NewReplacer(" ", "-", ":", "", "(", "", ")", "").Replace(tt.name)
				var block []byte
				for _, f := range append(tt.fields, [2]string{"x-case", marker}) {
					block = append(block, h2aLiteral(f[0], strings.ReplaceAll(f[1], "SCHEME", c.scheme))...)
				}
				var out []byte
				if tt.data == "" {
					out = h2aFrame(h2aTypeHeaders, h2aFlagEndStream|h2aFlagEndHeaders, 1, block)
				} else {
					out = h2aFrame(h2aTypeHeaders, h2aFlagEndHeaders, 1, block)
					out = append(out, h2aFrame(h2aTypeData, h2aFlagEndStream, 1, []byte(strings.ReplaceAll(tt.data, "CASE", marker)))...)
				}
				if err := c.send(out); err != nil {
					t.Fatal(err)
				}
				o := c.await(1, 30*time.Second)
				reached := h2aReached(up, marker)
				t.Logf("%v; %d reached the upstream", o, reached)
				if tt.want == "200" {
					if o.status != 200 || reached != 1 {
						t.Fatalf("the control was %v and reached the upstream %d times", o, reached)
					}
					return
				}
				if reached != 0 {
					t.Errorf("reached the upstream %d times (%v)", reached, o)
				}
				is405 := o.status == http.StatusMethodNotAllowed && strings.Contains(string(o.data), "Method Not Allowed")
				isReset := o.status == 0 && o.reset && o.resetCode == h2aCodeProtocol
				switch {
				case tt.want == "405" && !is405,
					tt.want == "reset" && !isReset,
					tt.want == "405 or reset" && !is405 && !isReset:
					t.Errorf("%v, want %s", o, tt.want)
				}
				if !o.refused() {
					t.Errorf("not refused: %v", o)
				}
			})
		}
	})
}

// TestH2RequestsInFlightBounded: over HTTP/2 one connection carries many requests at once, each
// proxied on an upstream connection of its own, so the connection bound no longer bounds the
// file descriptors: 80 connections of 250 streams held open once took every one the process
// had, the Gateway API's listener's included. Each connection's first request in flight is
// covered by its connection's slot; the others share a pool of max_connections, past which a
// stream gets a 503 with Retry-After at once, and the bound is logged. With the pool held, a new
// HTTP/2 connection's first request and HTTP/1 requests are still served; once the held ones
// end, the pool is free again.
func TestH2RequestsInFlightBounded(t *testing.T) {
	h2aBoth(t, func(t *testing.T, ca *tlstest.CA) {
		const bound, sent = 5, 20
		release := make(chan struct{})
		var reached atomic.Int32
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/held") {
				reached.Add(1)
				<-release
			}
		}))
		t.Cleanup(up.Close)
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		t.Cleanup(free)
		g, client, base := h2aGateway(t, &gt.Upstream{Server: up}, ca, func(o *config.HTTPServerOptions) { o.MaxConnections = bound })
		// One connection, made before the requests start (a transport dials one a request
		// while it does not know the server speaks HTTP/2).
		if err := h2aGetOK(client, base+"/t/warm-up"); err != nil {
			t.Fatal(err)
		}
		get := func(c *http.Client, path string, codes chan<- int) {
			resp, err := c.Get(base + path)
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				codes <- -1
				return
			}
			codes <- resp.StatusCode
		}
		codes := make(chan int, sent)
		for range sent {
			go get(client, "/t/held", codes)
		}
		const admitted = bound + 1 // the connection's first, and the pool
		for range sent - admitted {
			if code := <-codes; code != http.StatusServiceUnavailable {
				t.Errorf("a request past the bound: %d (0: failed, -1: a 503 without Retry-After)", code)
			}
		}
		within(t, 10*time.Second, "the admitted requests at the upstream", func() string {
			if n := reached.Load(); n != admitted {
				return fmt.Sprintf("%d reached", n)
			}
			return ""
		})
		if !strings.Contains(g.Logs(), "max_connections") {
			t.Errorf("the bound was not logged:\n%s", g.Logs())
		}
		// The pool held: another connection's first request, and HTTP/1, are served.
		var other *http.Client
		if ca != nil {
			other = ca.Client("", true)
		} else {
			p := new(http.Protocols)
			p.SetUnencryptedHTTP2(true)
			other = &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 30 * time.Second}
		}
		otherCode := make(chan int, 1)
		go get(other, "/t/held-other", otherCode)
		within(t, 10*time.Second, "another connection's first request at the upstream", func() string {
			if n := reached.Load(); n != admitted+1 {
				return fmt.Sprintf("%d reached", n)
			}
			return ""
		})
		h1 := &http.Client{Timeout: 30 * time.Second}
		if ca != nil {
			h1 = ca.Client("", false)
		}
		if resp, err := h1.Get(base + "/t/plain"); err != nil || resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
			t.Errorf("an HTTP/1 request with the pool held: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		free()
		for range admitted {
			if code := <-codes; code != http.StatusOK {
				t.Errorf("a held request ended with %d", code)
			}
		}
		if code := <-otherCode; code != http.StatusOK {
			t.Errorf("the other connection's request ended with %d", code)
		}
		if err := h2aGetOK(client, base+"/t/after"); err != nil {
			t.Errorf("a request once the held ones ended: %v", err)
		}
	})
}
