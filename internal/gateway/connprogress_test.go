package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// The write progress deadline lives on the connection and moves only about once a second (see
// connlimits.go). These tests hold it to what the per-response version did: it still cuts a
// client that stops reading on a kept-alive connection, a deadline that passed while the
// connection was idle never cuts the next answer (a response, a 100 Continue, a 400), and a
// hijacked connection is left alone. Each runs over plain TCP and over TLS, where a write that
// times out leaves the connection unusable.

// progressEdge is one way of reaching the gateway: its configuration and a dialer.
type progressEdge struct {
	name   string
	config func(*config.Config)
	dial   func(t *testing.T, addr string) net.Conn
}

// progressEdges returns a plain and a TLS edge, each with write_progress_timeout 1 s.
func progressEdges(t *testing.T) []progressEdge {
	ca := certtest.NewCA(t, "gateway CA")
	dir := t.TempDir()
	cert := ca.Localhost(t)
	certFile := certtest.WriteFile(t, dir, "cert.pem", cert.CertPEM)
	keyFile := certtest.WriteFile(t, dir, "key.pem", cert.KeyPEM)
	progress := func(c *config.Config) { c.HTTPServerOptions.WriteProgressTimeout = 1 }
	return []progressEdge{
		{name: "plain", config: progress, dial: func(t *testing.T, addr string) net.Conn {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}},
		{name: "TLS", config: func(c *config.Config) {
			progress(c)
			c.HTTPServerOptions.UseSSL = true
			c.HTTPServerOptions.Certificates = []config.CertificateFile{{DomainName: "localhost", CertFile: certFile, KeyFile: keyFile}}
		}, dial: func(t *testing.T, addr string) net.Conn {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{ServerName: "localhost", RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}},
	}
}

// idleLongerThanProgress is an idle pause after which a deadline set by the last answer (1 s
// ahead) has passed.
const idleLongerThanProgress = 1500 * time.Millisecond

// TestWriteProgressIdleConnection: on a kept-alive connection that stayed idle past the last
// answer's deadline, the next request is answered in full, and so are a 100 Continue and the
// server's own 400 for a malformed request, which Go writes before any handler runs.
func TestWriteProgressIdleConnection(t *testing.T) {
	up := gt.NewUpstream(t)
	for _, e := range progressEdges(t) {
		t.Run(e.name, func(t *testing.T) {
			g := gt.Start(t, gt.Options{Config: e.config, APIs: []*apidef.APIDefinition{gt.API("p", "/p/", up.URL)}})
			conn := e.dial(t, g.Server.Addr())
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			get := func(step string) {
				t.Helper()
				fmt.Fprintf(conn, "GET /p/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d, %v", step, resp.StatusCode, err)
				}
			}
			get("first request")
			time.Sleep(idleLongerThanProgress)
			get("a request after an idle pause longer than write_progress_timeout")

			// A body announced with Expect: 100-continue: the interim answer comes first.
			time.Sleep(idleLongerThanProgress)
			fmt.Fprintf(conn, "POST /p/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
			line, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
				t.Fatalf("Expect: 100-continue after an idle pause: %q, %v", line, err)
			}
			if _, err := br.ReadString('\n'); err != nil { // the blank line that ends it
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "hello")
			// Another 100 may come before the answer, which RFC 9110 (15.2) allows: the
			// upstream's own, forwarded, when the transport stopped waiting for it (after
			// proxy.Transport's ExpectContinueTimeout, on a loaded machine) and read the body,
			// which made the gateway's server send its 100 first.
			resp, err := http.ReadResponse(br, nil)
			for i := 0; err == nil && resp.StatusCode == http.StatusContinue && i < 2; i++ {
				resp, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatalf("the answer after 100 Continue: %v", err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("the answer after 100 Continue: %d, %v", resp.StatusCode, err)
			}

			// A malformed request: Go's server answers 400 itself and closes.
			time.Sleep(idleLongerThanProgress)
			fmt.Fprintf(conn, "GET /p/x HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n")
			line, err = br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 400 ") {
				t.Fatalf("a malformed request after an idle pause: %q, %v; want the server's 400", line, err)
			}
		})
	}
}

// TestWriteProgressKeptAlive: a client that stops reading in the middle of its second response
// on a kept-alive connection, after an idle pause, loses the connection, and the upstream
// request is cancelled (TestWriteProgress is the same for a first request).
func TestWriteProgressKeptAlive(t *testing.T) {
	aborted := make(chan error, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/endless" {
			io.WriteString(w, "short")
			return
		}
		writeEndlessly(w, r, aborted)
	}))
	t.Cleanup(up.Close)
	for _, e := range progressEdges(t) {
		t.Run(e.name, func(t *testing.T) {
			g := gt.Start(t, gt.Options{Config: e.config, APIs: []*apidef.APIDefinition{gt.API("s", "/s/", up.URL)}})
			conn := e.dial(t, g.Server.Addr())
			_ = conn.SetDeadline(time.Now().Add(90 * time.Second))
			br := bufio.NewReader(conn)
			fmt.Fprintf(conn, "GET /s/short HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || string(body) != "short" {
				t.Fatalf("first response: %q, %v", body, err)
			}
			time.Sleep(idleLongerThanProgress)
			fmt.Fprintf(conn, "GET /s/endless HTTP/1.1\r\nHost: localhost\r\n\r\n")
			// Read the status line, then stop reading.
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				t.Fatalf("second response: %q, %v", line, err)
			}
			select {
			case err := <-aborted:
				t.Logf("the upstream request ended: %v", err)
			case <-time.After(60 * time.Second):
				t.Fatal("a client that stopped reading still holds the upstream after 60 s")
			}
			// The gateway closed the connection: after what was buffered, reading ends (over
			// TLS without a close_notify, since the write that timed out broke the session).
			if _, err := io.Copy(io.Discard, br); err != nil && !isReset(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("the gateway did not close the connection of the client that stopped reading: %v", err)
			}
		})
	}
}

// TestWriteProgressLeavesUpgradesAlone: once a connection is upgraded (hijacked), the progress
// deadline no longer applies to it: a WebSocket client that does not read for longer than
// write_progress_timeout, while the upstream has megabytes for it, still gets all of them. The
// connection answered a request first, so it had a deadline when it was handed over.
func TestWriteProgressLeavesUpgradesAlone(t *testing.T) {
	var upgrades atomic.Int32
	up := startWSEchoUpstream(t, &upgrades)
	for _, e := range progressEdges(t) {
		t.Run(e.name, func(t *testing.T) {
			cfg := func(c *config.Config) { e.config(c); c.HTTPServerOptions.EnableWebSockets = true }
			g := gt.Start(t, gt.Options{Config: cfg, APIs: []*apidef.APIDefinition{gt.API("ws", "/ws/", up.URL)}})
			c := e.dial(t, g.Server.Addr())
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			fmt.Fprintf(c, "GET /ws/echo HTTP/1.1\r\nHost: localhost\r\n\r\n") // not an upgrade: the upstream's 400
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || br.Buffered() != 0 {
				t.Fatalf("the request before the upgrade: %d, %d bytes more", resp.StatusCode, br.Buffered())
			}
			conn := wsHandshake(t, c, "localhost", "/ws/echo")
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))

			// 32 frames of 1 MiB, more than the sockets between the gateway and the client
			// buffer: the gateway's writes to the client block while it does not read.
			const frames = 32
			msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
			sent := make(chan error, 1)
			go func() {
				for range frames {
					if err := writeWSFrame(conn, wsText, msg, true); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			time.Sleep(2 * idleLongerThanProgress)
			for i := range frames {
				op, got, err := readWSFrame(conn.r)
				if err != nil {
					t.Fatalf("echo %d of %d, after not reading for %v: %v", i+1, frames, 2*idleLongerThanProgress, err)
				}
				if op != wsText || !bytes.Equal(got, msg) {
					t.Fatalf("echo %d: opcode %d, %d bytes", i+1, op, len(got))
				}
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteTimeoutStaysHard: with write_timeout set beside write_progress_timeout, a response
// that keeps making progress is still cut at write_timeout: the progress deadline moves forward
// as the response streams, but never past the server's own deadline.
func TestWriteTimeoutStaysHard(t *testing.T) {
	const ticks = 10
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range ticks {
			if _, err := fmt.Fprintf(w, "tick %d\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("s", "/s/", up.URL)}, Config: func(c *config.Config) {
		c.HTTPServerOptions.WriteTimeout = 1
		c.HTTPServerOptions.WriteProgressTimeout = 60
	}})
	resp, err := g.Client.Get(g.URL + "/s/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), "tick"); err == nil && n == ticks {
		t.Fatalf("a 3 s stream was served whole (%d ticks) under write_timeout 1 s", n)
	} else {
		t.Logf("cut after %d of %d ticks: %v", n, ticks, err)
	}
}

// TestWriteProgressFirstRequestUnderWriteTimeout: with write_timeout (30 s) longer than
// write_progress_timeout (1 s), a client that stops reading on its connection's first request
// loses the connection, and the upstream its request, within a few seconds, not at
// write_timeout. Go's server sets write_timeout as the write deadline when it reads the request
// (and, over TLS, sets it for the handshake and lifts it after): that deadline stays a bound,
// never the connection's deadline, while it is further than write_progress_timeout.
func TestWriteProgressFirstRequestUnderWriteTimeout(t *testing.T) {
	for _, edge := range progressEdges(t) {
		t.Run(edge.name, func(t *testing.T) {
			aborted := make(chan error, 1)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeEndlessly(w, r, aborted)
			}))
			t.Cleanup(up.Close)
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("s", "/s/", up.URL)}, Config: func(c *config.Config) {
				edge.config(c)
				c.HTTPServerOptions.WriteTimeout = 30
			}})
			conn := edge.dial(t, g.Server.Addr())
			br := bufio.NewReader(conn)
			start := time.Now()
			fmt.Fprintf(conn, "GET /s/endless HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				t.Fatalf("response: %q, %v", line, err)
			}
			select {
			case err := <-aborted:
				if took := time.Since(start); took > 5*time.Second {
					t.Fatalf("the upstream request ended after %v (%v), want ~1-2 s (write_progress_timeout 1 s)", took, err)
				}
			case <-time.After(12 * time.Second):
				t.Fatal("a client that stopped reading on its first request still holds the upstream after 12 s (write_progress_timeout 1 s)")
			}
		})
	}
}
