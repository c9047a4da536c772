package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/version"
)

// These tests cover the fault cases R4, R5, S41, S42, R9 and R10 of the security and faults
// reference (see docs/coverage.md). None calls t.Parallel: several measure the whole process
// (goroutines, heap), and all of them load the machine. Bounds on time are generous on purpose:
// they tell "at once" from "after a timeout of tens of seconds", not fast from slow.

// TestUpstreamRefusedFailsFast (R4): an upstream that refuses connections, or accepts one and
// hangs up without answering, gives 502 at once, and each request costs the upstream one
// connection: the gateway neither retries (a retry storm multiplies the load on an upstream that
// is already failing) nor waits for a timeout. An unresolvable name is not tested: the machine
// has no network, and what its resolver does with an unknown name, and how long it takes, is the
// resolver's behaviour, not the gateway's.
func TestUpstreamRefusedFailsFast(t *testing.T) {
	refused := "http://" + refusingAddr(t)
	hangup, accepted := fgHangupUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("down", "/down/", refused),
		gt.API("hangup", "/hangup/", hangup),
	}})
	// proxy_default_timeout stays at its default of 30 s: a 502 that waited for it would show.
	const n = 5
	for _, api := range []string{"down", "hangup"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			for range n {
				start := time.Now()
				r := g.Do(gt.Case{Method: method, Path: "/" + api + "/x", Body: "payload"})
				d := time.Since(start)
				gt.Check(t, gt.Case{Code: http.StatusBadGateway, BodyMatch: `"error": "There was a problem proxying the request"`}, r)
				if d > 10*time.Second {
					t.Errorf("%s %s: the 502 took %v, want it at once", method, api, d)
				}
			}
		}
	}
	// The upstream that hangs up counts its connections: one per request, GET included (the
	// transport may retry an idempotent request, and must not here: every connection was new).
	if got := accepted.Load(); got != 2*n {
		t.Errorf("the upstream that hangs up was connected to %d times for %d requests: the gateway retried", got, 2*n)
	}
	logs := g.Logs()
	for _, api := range []string{"down", "hangup"} {
		if got := countLines(logs, `msg="upstream request failed" api_id=`+api+" "); got != 2*n {
			t.Errorf("%s: %d upstream failures logged for %d requests, want one each", api, got, 2*n)
		}
	}
}

// fgHangupUpstream returns the URL of an upstream that reads each request and closes the
// connection without answering, and the count of connections it accepted.
func fgHangupUpstream(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.Copy(io.Discard, req.Body)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String(), &accepted
}

// TestUpstreamSlowHangReset (R5): an upstream that sends no headers within
// proxy_default_timeout gives 504; one that dies in the middle of its body leaves the client
// with a broken response (the connection closed before the body's end), never with one that
// looks complete, whether the body had a declared length or was chunked; and one that trickles
// its body, a byte every 200 ms for 2 s, twice proxy_default_timeout, is passed on whole: the
// timeout bounds the wait for headers, not a stream that makes progress.
func TestUpstreamSlowHangReset(t *testing.T) {
	const total = 10000
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sleep":
			select {
			case <-time.After(10 * time.Second):
				_, _ = io.WriteString(w, "too late")
			case <-r.Context().Done():
			}
		case "/half-length", "/half-chunked":
			if r.URL.Path == "/half-length" {
				w.Header().Set("Content-Length", strconv.Itoa(total))
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(bytes.Repeat([]byte("h"), total/2))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err) // the test's own upstream is broken
			}
			conn.Close()
		case "/trickle":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for i := range 10 {
				time.Sleep(200 * time.Millisecond)
				_, _ = w.Write([]byte{byte('0' + i)})
				w.(http.Flusher).Flush()
			}
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("r5", "/r5/", up.URL)},
		Config: func(c *config.Config) { c.ProxyDefaultTimeout = 1 }})

	t.Run("no headers in time gives 504", func(t *testing.T) {
		start := time.Now()
		r := g.Do(gt.Case{Path: "/r5/sleep"})
		gt.Check(t, gt.Case{Code: http.StatusGatewayTimeout, BodyMatch: `"error": "Upstream service reached hard timeout."`}, r)
		t.Logf("504 after %v", time.Since(start))
	})
	for _, mode := range []string{"half-length", "half-chunked"} {
		t.Run("reset mid-body, "+mode, func(t *testing.T) {
			resp, err := g.Client.Get(g.URL + "/r5/" + mode)
			if err != nil {
				// Refusing the response outright is a fair answer too.
				t.Logf("the request failed: %v", err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("the client got a complete-looking %d with %d bytes (Content-Length %q) from an upstream that died after %d of %d",
					resp.StatusCode, len(body), resp.Header.Get("Content-Length"), total/2, total)
			}
			t.Logf("status %d, %d bytes, then %v", resp.StatusCode, len(body), err)
		})
	}
	t.Run("trickle passes whole", func(t *testing.T) {
		start := time.Now()
		r := g.Do(gt.Case{Path: "/r5/trickle"})
		gt.Check(t, gt.Case{Code: http.StatusOK, BodyEquals: "0123456789"}, r)
		t.Logf("2 s stream passed in %v", time.Since(start))
	})
	// The gateway serves on: a failed response broke one connection, nothing else.
	gt.Check(t, gt.Case{Code: http.StatusOK, BodyEquals: "ok"}, g.Do(gt.Case{Path: "/r5/ok"}))
}

// TestSlowClientsCutOff (S41): 200 slowloris connections, each sending a byte of an endless
// header every 300 ms, are closed by the server once read_header_timeout (1 s) has passed, and
// 20 clients sending a body a byte every 300 ms are cut off by read_timeout (2 s, on another
// gateway, so that each timeout is shown to work alone: with read_timeout unset Go bounds headers
// by it too). Meanwhile ordinary requests to both gateways are served, each well within a
// generous bound. (A client that stops reading a response is TestWriteProgress.)
func TestSlowClientsCutOff(t *testing.T) {
	up := gt.NewUpstream(t)
	apis := []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}
	// read_timeout stays at its default of 120 s here: only read_header_timeout can cut.
	hdr := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) { c.HTTPServerOptions.ReadHeaderTimeout = 1 }})
	body := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		c.HTTPServerOptions.ReadHeaderTimeout = 1
		c.HTTPServerOptions.ReadTimeout = 2
	}})
	const (
		slowloris = 200
		slowBody  = 20
		cutBound  = 15 * time.Second // a cut must come well before this; the timeouts are 1 and 2 s
	)

	// Ordinary traffic to both gateways for as long as slow clients are connected.
	stop := make(chan struct{})
	var (
		ordinaryWG sync.WaitGroup
		served     atomic.Int64
		slowest    atomic.Int64
	)
	ordinaryWG.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			g := []*gt.Gateway{hdr, body}[i%2]
			start := time.Now()
			code, err := fgGet(g.Client, g.URL+"/a/x")
			d := time.Since(start)
			if err != nil || code != http.StatusOK {
				t.Errorf("an ordinary request during the attack: %d, %v", code, err)
				continue
			}
			if d > 5*time.Second {
				t.Errorf("an ordinary request during the attack took %v", d)
			}
			served.Add(1)
			if int64(d) > slowest.Load() {
				slowest.Store(int64(d))
			}
		}
	})

	var conns []*fgSlowConn
	for range slowloris {
		conns = append(conns, fgDialSlow(t, hdr, "GET /a/x HTTP/1.1\r\nHost: gw\r\nX-Slow: ", cutBound+5*time.Second))
	}
	for range slowBody {
		conns = append(conns, fgDialSlow(t, body, "POST /a/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n", cutBound+5*time.Second))
	}
	// A byte to each connection still open every 300 ms: never idle, never done.
	dripDone := make(chan struct{})
	go func() {
		defer close(dripDone)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			open := 0
			for _, c := range conns {
				select {
				case <-c.closed:
				default:
					open++
					_, _ = c.conn.Write([]byte("x"))
				}
			}
			if open == 0 {
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	for _, c := range conns {
		<-c.closed // each reader ends by its own deadline at the latest
	}
	close(stop)
	<-dripDone
	ordinaryWG.Wait()

	var (
		maxHdr, maxBody time.Duration
		bodyAnswer      string
	)
	for i, c := range conns {
		kind, timeout := "slowloris", "read_header_timeout"
		if i >= slowloris {
			kind, timeout = "slow body", "read_timeout"
		}
		switch {
		case c.err != nil:
			t.Errorf("%s connection %d: not closed by the server after %v (%s not applied): %v", kind, i, c.after, timeout, c.err)
			continue
		case c.after > cutBound:
			t.Errorf("%s connection %d: closed only after %v", kind, i, c.after)
		}
		if i < slowloris {
			maxHdr = max(maxHdr, c.after)
			if len(c.got) > 0 {
				t.Errorf("slowloris connection %d got an answer to a request it never finished: %q", i, c.got)
			}
		} else {
			maxBody = max(maxBody, c.after)
			bodyAnswer = firstLine(c.got)
			// The client is at fault: an answer, if any, must say so, not blame the upstream.
			if len(c.got) > 0 && !bytes.HasPrefix(c.got, []byte("HTTP/1.1 4")) {
				t.Errorf("slow body connection %d: answered %q", i, firstLine(c.got))
			}
		}
	}
	t.Logf("slowloris closed within %v, slow bodies within %v (answered %q); %d ordinary requests served meanwhile, the slowest in %v",
		maxHdr, maxBody, bodyAnswer, served.Load(), time.Duration(slowest.Load()))
	if served.Load() < 4 {
		t.Errorf("only %d ordinary requests were served during the attack", served.Load())
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

// fgSlowConn is a connection of a slow client and what became of it.
type fgSlowConn struct {
	conn   net.Conn
	closed chan struct{}
	// Set when closed is closed: what the server sent, how long after the dial the connection
	// ended, and err when it did not end by the server's doing (the reader's own deadline).
	got   []byte
	after time.Duration
	err   error
}

// fgDialSlow connects to g, sends start, and reads until the server closes the connection or
// wait passes.
func fgDialSlow(t *testing.T, g *gt.Gateway, start string, wait time.Duration) *fgSlowConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", g.Server.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	began := time.Now()
	if _, err := io.WriteString(conn, start); err != nil {
		t.Fatal(err)
	}
	c := &fgSlowConn{conn: conn, closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		_ = conn.SetReadDeadline(began.Add(wait))
		got, err := io.ReadAll(conn)
		c.got, c.after = got, time.Since(began)
		if err != nil && !isReset(err) {
			c.err = err
		}
	}()
	return c
}

// fgGet sends a GET and reads the whole answer.
func fgGet(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// TestOversizedRequests (S42): 20,000 small headers (over max_header_bytes, 64 KiB by default,
// however small each is) get 431; a 64 KiB URL gets 431 too, as the limit counts the request
// line, while a 32 KiB one is served; and a 200 MB chunked body, streamed from a generator, to
// an API under a 10 MB max_request_body_size gets 413 without the gateway ever holding the body:
// the live heap, measured with the body half sent and after the answer, grows by less than
// 3 MiB. (A 2 MB header block is TestHeaderLimit.)
func TestOversizedRequests(t *testing.T) {
	up := gt.NewUpstream(t)
	// An upstream that counts the body bytes it receives and keeps none of them.
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(fgCounter{&received}, r.Body)
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(sink.Close)
	const limit = 10 << 20
	g := gt.Start(t, gt.Options{
		APIs:   []*apidef.APIDefinition{gt.API("h", "/h/", up.URL), gt.API("big", "/big/", sink.URL)},
		Config: func(c *config.Config) { c.HTTPServerOptions.MaxRequestBodySize = limit },
	})
	if g.Config.HTTPServerOptions.MaxHeaderBytes != 64<<10 {
		t.Fatalf("max_header_bytes is %d; this test is written for the default of 64 KiB", g.Config.HTTPServerOptions.MaxHeaderBytes)
	}

	t.Run("20000 headers", func(t *testing.T) {
		var head strings.Builder
		head.WriteString("GET /h/x HTTP/1.1\r\nHost: gw\r\n")
		for i := range 20000 {
			fmt.Fprintf(&head, "X-H%d: 1\r\n", i)
		}
		head.WriteString("\r\n")
		before := len(up.Requests())
		code, answer, err := fgExchange(g, head.String(), nil)
		if err != nil {
			t.Fatalf("%d bytes of headers: %v", head.Len(), err)
		}
		t.Logf("%d bytes of headers: %d %q", head.Len(), code, answer)
		if code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%d bytes of headers: %d, want 431", head.Len(), code)
		}
		if len(up.Requests()) > before {
			t.Error("the request reached the upstream")
		}
	})

	t.Run("long URLs", func(t *testing.T) {
		for _, tc := range []struct {
			size int
			code int
		}{{32 << 10, http.StatusOK}, {64 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
			before := len(up.Requests())
			r, err := g.Raw("GET /h/" + strings.Repeat("u", tc.size) + " HTTP/1.1\r\nHost: gw\r\n\r\n")
			if err != nil {
				t.Fatalf("%d-byte URL: %v", tc.size, err)
			}
			reached := len(up.Requests()) > before
			if r.Code != tc.code {
				t.Errorf("%d-byte URL: %d, want %d: %.200s", tc.size, r.Code, tc.code, r.Body)
			}
			if tc.code == http.StatusOK && !reached {
				t.Errorf("%d-byte URL: not forwarded", tc.size)
			}
			if tc.code != http.StatusOK {
				gt.Check(t, gt.Case{BodyMatch: `"error": "Request Header Fields Too Large"`}, r)
				if reached {
					t.Errorf("%d-byte URL: reached the upstream", tc.size)
				}
			}
		}
	})

	t.Run("200 MB chunked body", func(t *testing.T) {
		// What a first request allocates once (pools, connections) is left out of the count.
		gt.Check(t, gt.Case{Code: http.StatusOK, BodyEquals: "5"}, g.Do(gt.Case{Method: "POST", Path: "/big/x", Body: "hello"}))
		g.Client.CloseIdleConnections()
		received.Store(0)
		base := benchkit.LiveHeap()

		const (
			total = 200 << 20
			half  = 8 << 20 // sent before the first measure: under the limit, all of it forwarded
		)
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		frame := append(append(fmt.Appendf(nil, "%x\r\n", len(chunk)), chunk...), "\r\n"...)
		halfSent, goOn := make(chan struct{}), make(chan struct{})
		var sent atomic.Int64
		body := func(w io.Writer) error {
			for sent.Load() < total {
				if sent.Load() == half {
					close(halfSent)
					<-goOn
				}
				if _, err := w.Write(frame); err != nil {
					return err // the gateway stopped reading: expected once it has answered
				}
				sent.Add(int64(len(chunk)))
			}
			_, err := io.WriteString(w, "0\r\n\r\n")
			return err
		}
		type result struct {
			code int
			body string
			err  error
		}
		res := make(chan result, 1)
		go func() {
			code, b, err := fgExchange(g, "POST /big/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n", body)
			res <- result{code, b, err}
		}()
		var early *result
		select {
		case <-halfSent:
		case r := <-res:
			early = &r
		case <-time.After(30 * time.Second):
			close(goOn)
			t.Fatal("8 MB of body were not sent within 30 s")
		}
		if early != nil {
			t.Fatalf("answered before 8 MB of body were sent: %d %q %v", early.code, early.body, early.err)
		}
		// A gateway that streams has passed most of it on by now; one that buffers holds it.
		for deadline := time.Now().Add(5 * time.Second); received.Load() < half/2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		mid := benchkit.LiveHeap()
		midReceived := received.Load()
		close(goOn)
		var r result
		select {
		case r = <-res:
		case <-time.After(60 * time.Second):
			t.Fatal("no answer within 60 s of sending the rest of the body")
		}
		if r.err != nil {
			t.Fatalf("after %d MiB sent: %v", sent.Load()>>20, r.err)
		}
		gt.Check(t, gt.Case{Code: http.StatusRequestEntityTooLarge, BodyMatch: `"error": "Request is too large"`}, gt.Response{Code: r.code, Body: r.body})
		end := benchkit.LiveHeap()
		t.Logf("live heap %d KiB, with 8 MiB sent %+d KiB (the upstream had %d KiB), after the answer %+d KiB; %d MiB sent, %d KiB reached the upstream",
			base>>10, (int64(mid)-int64(base))>>10, midReceived>>10, (int64(end)-int64(base))>>10, sent.Load()>>20, received.Load()>>10)
		const growth = 3 << 20
		if d := int64(mid) - int64(base); d > growth {
			t.Errorf("with 8 MiB of body sent the live heap had grown by %d KiB: the body is held, not streamed", d>>10)
		}
		if d := int64(end) - int64(base); d > growth {
			t.Errorf("after the answer the live heap had grown by %d KiB", d>>10)
		}
		if got := received.Load(); got > limit {
			t.Errorf("the upstream received %d bytes, more than the limit of %d", got, limit)
		}
	})
}

// fgCounter counts the bytes written to it.
type fgCounter struct{ n *atomic.Int64 }

func (c fgCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// fgExchange sends head, then what body writes (when not nil), on a new connection to g, and
// reads the answer while it is still sending: a server may answer a request it refuses before it
// is all sent, and close the connection. Errors of the writer are ignored.
func fgExchange(g *gt.Gateway, head string, body func(io.Writer) error) (int, string, error) {
	conn, err := net.DialTimeout("tcp", g.Server.Addr(), 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := io.WriteString(conn, head); err != nil || body == nil {
			return
		}
		_ = body(conn)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		<-wrote
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close() // the writer stops
	<-wrote
	return resp.StatusCode, string(b), err
}

// fgGoroutines waits until the goroutine count is at most want, for up to wait, and returns it.
// With want < 0 it waits until the count stops changing instead.
func fgGoroutines(want int, wait time.Duration) int {
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

// TestPanicStormStaysFlat (R9): a pre hook that panics on every request, hit 2,000 times from 4
// clients: every answer is Tyk's 500, each panic is logged once, nothing reaches the upstream,
// and the goroutine count and the live heap after the last few hundred requests are where they
// were after the first few hundred. The gateway logs each panic with its stack: it logs to a
// counter here, not to the memory buffer of gt.Start, which would grow with the storm.
func TestPanicStormStaysFlat(t *testing.T) {
	so := plugintest.Build(t, faultsPkg)
	up := gt.NewUpstream(t)
	def := gt.API("storm", "/storm/", up.URL)
	def.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "Panic")}
	url, logged := fgQuietGateway(t, def)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(client.CloseIdleConnections)

	var bad atomic.Int64
	storm := func(n int) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					resp, err := client.Get(url + "/storm/x")
					if err != nil {
						if bad.Add(1) <= 3 {
							t.Errorf("a request: %v", err)
						}
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), `"error": "Internal Server Error"`) {
						if bad.Add(1) <= 3 {
							t.Errorf("answer %d %q, want Tyk's 500", resp.StatusCode, b)
						}
					}
				}
			})
		}
		wg.Wait()
	}
	settle := func(want int) (int, uint64) {
		client.CloseIdleConnections()
		n := fgGoroutines(want, 10*time.Second)
		return n, benchkit.LiveHeap()
	}
	const first, middle, last = 300, 1400, 300
	start := time.Now()
	storm(first)
	g1, h1 := settle(-1)
	storm(middle)
	storm(last)
	g2, h2 := settle(g1)
	t.Logf("%d requests in %v; after the first %d: %d goroutines, %d KiB live heap; after the last %d: %d goroutines, %+d KiB",
		first+middle+last, time.Since(start), first, g1, h1>>10, last, g2, (int64(h2)-int64(h1))>>10)
	if n := bad.Load(); n > 0 {
		t.Errorf("%d answers were not Tyk's 500", n)
	}
	if n := logged("plugin panicked; the request gets 500 and the gateway keeps serving"); n != first+middle+last {
		t.Errorf("%d panics logged for %d requests", n, first+middle+last)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
	if g2 > g1+5 {
		t.Errorf("goroutines went from %d to %d over %d panics", g1, g2, middle+last)
	}
	if d := int64(h2) - int64(h1); d > 1<<20 {
		t.Errorf("the live heap grew by %d KiB over %d panics (%d bytes each)", d>>10, middle+last, d/(middle+last))
	}
}

// fgQuietGateway starts a gateway like gt.Start does, serving def, with a logger that counts
// records by message and keeps nothing. It returns the gateway's URL and the count of a message.
func fgQuietGateway(t *testing.T, def *apidef.APIDefinition) (string, func(msg string) int) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ListenAddress, cfg.ListenPort, cfg.ControlAPIPort = "127.0.0.1", 0, 0
	cfg.Secret = gt.Secret
	cfg.AppPath, cfg.MiddlewarePath = filepath.Join(dir, "apps"), filepath.Join(dir, "middleware")
	if err := os.MkdirAll(cfg.AppPath, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.AppPath, def.APIID+".json"), mustJSON(t, def), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &fgCountingHandler{counts: map[string]int{}}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(h), Version: version.Version})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv, err := gw.Start()
	if err != nil {
		gw.Close()
		t.Fatalf("gateway.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = gw.Close()
	})
	return "http://" + srv.Addr(), h.count
}

// fgCountingHandler is a slog.Handler that counts records by message.
type fgCountingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *fgCountingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *fgCountingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}

func (h *fgCountingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *fgCountingHandler) WithGroup(string) slog.Handler      { return h }

func (h *fgCountingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

// TestManyIdleConnections (R10): 2,000 keep-alive connections, each served one request and then
// left idle, are all held (a second request on a sample of them is served), ordinary requests
// are served meanwhile, and once they are closed the goroutine count comes back to where it was.
// There is no max-connections setting to test: see docs/coverage.md.
func TestManyIdleConnections(t *testing.T) {
	const idle = 2000
	fgRaiseNoFile(t, 2*idle+1024) // both ends of each connection are in this process
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)}})
	gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Path: "/a/x"}))
	g.Client.CloseIdleConnections()
	base := fgGoroutines(-1, 5*time.Second)

	// The idle connections ask for /hello, which the gateway answers itself: the upstream's
	// connections (and their goroutines) stay as the ordinary requests leave them.
	type idleConn struct {
		net.Conn
		br *bufio.Reader
	}
	ask := func(c *idleConn) error {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || resp.Close) {
			err = fmt.Errorf("answer %d, close %v", resp.StatusCode, resp.Close)
		}
		return err
	}
	conns := make([]*idleConn, idle)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	start := time.Now()
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < idle; i = int(next.Add(1) - 1) {
				conn, err := net.DialTimeout("tcp", g.Server.Addr(), 10*time.Second)
				if err == nil {
					c := &idleConn{Conn: conn, br: bufio.NewReader(conn)}
					conns[i] = c
					err = ask(c)
				}
				if err != nil && failed.Add(1) <= 3 {
					t.Errorf("connection %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d connections failed", failed.Load(), idle)
	}
	held := runtime.NumGoroutine() - base
	t.Logf("%d keep-alive connections opened and served in %v; %d more goroutines", idle, time.Since(start), held)
	if held < idle-50 {
		// The server keeps a goroutine per open connection (the slack is for background
		// goroutines that came and went): fewer means it dropped connections.
		t.Errorf("%d goroutines more with %d connections open: the server does not hold them all", held, idle)
	}

	for range 50 {
		start := time.Now()
		gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Path: "/a/x"}))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("an ordinary request with %d idle connections open took %v", idle, d)
		}
	}
	for i := 0; i < idle; i += 10 {
		if err := ask(conns[i]); err != nil {
			t.Errorf("idle connection %d, asked again: %v", i, err)
		}
	}

	for i, c := range conns {
		c.Close()
		conns[i] = nil
	}
	g.Client.CloseIdleConnections()
	if n := fgGoroutines(base+5, 20*time.Second); n > base+5 {
		t.Errorf("with every connection closed there are %d goroutines, %d before they were opened", n, base)
	}
}

// fgRaiseNoFile makes sure this process may open need files, raising RLIMIT_NOFILE for the
// test's duration if it must, and skips the test when the limit cannot be raised.
func fgRaiseNoFile(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("needs %d open files, and RLIMIT_NOFILE cannot be read: %v", need, err)
	}
	if lim.Cur >= need {
		return
	}
	old, raised := lim, lim
	raised.Cur = need
	raised.Max = max(raised.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		t.Skipf("needs %d open files; RLIMIT_NOFILE is %d (hard %d) and cannot be raised: %v", need, old.Cur, old.Max, err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Logf("restoring RLIMIT_NOFILE: %v", err)
		}
	})
}
