package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.99) != 0 || h.count() != 0 {
		t.Fatalf("empty histogram: p99 %v, count %d", h.quantile(0.99), h.count())
	}
	r := rand.New(rand.NewPCG(1, 2))
	var xs []time.Duration
	for range 20000 {
		// Spread over nine orders of magnitude: 1 ns to about 1 s.
		v := time.Duration(float64(time.Second) * r.ExpFloat64() / float64(int64(1)<<r.IntN(30)))
		xs = append(xs, v)
		h.record(v)
	}
	slices.Sort(xs)
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := quantile(xs, q)
		got := h.quantile(q)
		if got < want || float64(got-want) > float64(want)/128+1 {
			t.Errorf("q %v: %v, exact %v: want at or at most 1/128 above", q, got, want)
		}
	}
	if h.maximum() != xs[len(xs)-1] || h.count() != uint64(len(xs)) {
		t.Errorf("max %v count %d, want %v and %d", h.maximum(), h.count(), xs[len(xs)-1], len(xs))
	}
	var above uint64
	for _, x := range xs {
		if x > time.Millisecond {
			above++
		}
	}
	// above counts by bucket: at most the values in 1 ms's own bucket differ.
	if got := h.above(time.Millisecond); got > above || above-got > 200 {
		t.Errorf("above(1ms) = %d, exactly %d", got, above)
	}
}

// TestHistogramOverflow: values past the last bucket's range (2^40 ns, 18 minutes) share that
// bucket; their quantiles are still never below the true ones.
func TestHistogramOverflow(t *testing.T) {
	var h histogram
	h.record(time.Millisecond)
	big := time.Duration(1) << 42
	h.record(big)
	h.record(big + 1)
	if got := h.quantile(0.5); got < big {
		t.Errorf("p50 of 1ms, %v and %v: %v, below the true %v", big, big+1, got, big)
	}
	if got := h.quantile(1); got != big+1 {
		t.Errorf("p100: %v, want the maximum %v", got, big+1)
	}
	if got := h.above(time.Second); got != 2 {
		t.Errorf("above(1s) = %d, want 2", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 258, 511, 512, 1e3, 1e6, 1e9, 1 << 39, 1<<40 - 1, 1 << 40, 1 << 62} {
		i := bucketOf(v)
		if i < prev || i >= histBuckets {
			t.Errorf("bucketOf(%d) = %d after %d", v, i, prev)
		}
		prev = i
		if v < 1<<40 && (bucketHigh(i) < v || (i > 0 && bucketHigh(i-1) >= v)) {
			t.Errorf("%d in bucket %d, which holds (%d, %d]", v, i, bucketHigh(i-1), bucketHigh(i))
		}
	}
	if bucketOf(-5) != 0 {
		t.Errorf("a negative value's bucket %d, want 0", bucketOf(-5))
	}
}

func TestReadResponse(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
	cases := []struct {
		name, in  string
		status    int
		close     bool
		wantError bool
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello" + next, status: 200},
		{name: "chunked", in: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\n" + next, status: 201},
		{name: "chunked upper-case hex", in: "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n" + next, status: 200},
		{name: "interim 100 then final", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + next, status: 200},
		{name: "204 without body", in: "HTTP/1.1 204 No Content\r\n\r\n" + next, status: 204},
		{name: "bare LF line ends", in: "HTTP/1.1 502 Bad Gateway\nContent-Length: 2\n\nno" + next, status: 502},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", status: 200, close: true},
		{name: "HTTP/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, close: true},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nthe rest of the stream", status: 200, close: true},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantError: true},
		{name: "status not digits", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantError: true},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", wantError: true},
		{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantError: true},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantError: true},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantError: true},
		{name: "chunk longer than said", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", wantError: true},
		{name: "other transfer coding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantError: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantError: true},
		{name: "space before the colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc", wantError: true},
		{name: "trailer without colon", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbroken\r\n\r\n", wantError: true},
		{name: "head cut short", in: "HTTP/1.1 200 OK\r\nContent-Len", wantError: true},
		{name: "head line over the buffer", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", wantError: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 4096)
			h, err := readResponse(br)
			if tc.wantError {
				if err == nil {
					t.Fatalf("read %+v, want an error", h)
				}
				return
			}
			if err != nil || h.status != tc.status || h.close != tc.close {
				t.Fatalf("status %d close %v err %v, want %d %v", h.status, h.close, err, tc.status, tc.close)
			}
			if tc.close {
				return
			}
			// The body was consumed exactly: the next response parses.
			if h, err := readResponse(br); err != nil || h.status != 200 {
				t.Fatalf("the response after: %+v, %v", h, err)
			}
			if rest, _ := io.ReadAll(br); len(rest) != 0 {
				t.Fatalf("left unread: %q", rest)
			}
		})
	}
}

// repeatReader reads as prefix followed by line repeated up to n bytes in all, then EOF: a peer
// that sends head lines without end. read counts the bytes it gave.
type repeatReader struct {
	prefix, line string
	n, read      int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.read < r.n {
		var c byte
		if r.read < len(r.prefix) {
			c = r.prefix[r.read]
		} else {
			c = r.line[(r.read-len(r.prefix))%len(r.line)]
		}
		p[k] = c
		k++
		r.read++
	}
	return k, nil
}

// TestReadResponseEndlessHead: a peer that sends header lines, trailers or interim answers
// without end gets an error once a head is past 1 MiB (or past 5 interim answers), not a
// reader that keeps reading for as long as it sends.
func TestReadResponseEndlessHead(t *testing.T) {
	const endless = 64 << 20
	for _, tc := range []struct{ name, prefix, line string }{
		{"header lines", "HTTP/1.1 200 OK\r\n", "X-Bench-A: 1\r\n"},
		{"trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n", "X-Trailer: 1\r\n"},
		{"interim answers", "", "HTTP/1.1 100 Continue\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &repeatReader{prefix: tc.prefix, line: tc.line, n: endless}
			_, err := readResponse(bufio.NewReaderSize(r, 4096))
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || r.read > maxHeadBytes+8192 {
				t.Errorf("%v after reading %d bytes; want an error before 1 MiB and a bit", err, r.read)
			}
		})
	}
	// Header lines are still read up to the limit.
	r := &repeatReader{prefix: "HTTP/1.1 204 No Content\r\n", line: "X-A: 1\r\n", n: maxHeadBytes / 2}
	r.n -= (r.n - len(r.prefix)) % len(r.line)
	br := bufio.NewReader(io.MultiReader(r, strings.NewReader("\r\n")))
	if h, err := readResponse(br); err != nil || h.status != 204 {
		t.Errorf("a head of half a MiB: %+v, %v", h, err)
	}
}

// TestReadResponseAllocs: parsing an answer allocates nothing, chunked or not.
func TestReadResponseAllocs(t *testing.T) {
	msg := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nDate: x\r\n\r\n" + strings.Repeat("b", 100) +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("c", 100) + "\r\n0\r\n\r\n"
	sr := strings.NewReader(msg)
	br := bufio.NewReaderSize(sr, 4096)
	var h histogram
	allocs := testing.AllocsPerRun(200, func() {
		sr.Reset(msg)
		br.Reset(sr)
		for range 2 {
			if _, err := readResponse(br); err != nil {
				t.Fatal(err)
			}
			h.record(time.Microsecond)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per two answers parsed and recorded, want 0", allocs)
	}
}

func TestBuildRequest(t *testing.T) {
	b, err := buildRequest("127.0.0.1:80", "/bench/", "Authorization:  k1 ")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(b))))
	if err != nil {
		t.Fatalf("%q does not parse: %v", b, err)
	}
	if req.Method != "GET" || req.URL.Path != "/bench/" || req.Host != "127.0.0.1:80" || req.Header.Get("Authorization") != "k1" {
		t.Errorf("parsed %s %s host %s header %v", req.Method, req.URL, req.Host, req.Header)
	}
	for _, bad := range [][3]string{
		{"h:1", "/a", "no colon"}, {"h:1", "/a", "X: a\r\nInjected: 1"}, {"h:1", "a", ""}, {"h:1", "/a b", ""}, {"", "/", ""}, {"h:1", "/", ": v"},
	} {
		if _, err := buildRequest(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("buildRequest(%q, %q, %q) succeeded", bad[0], bad[1], bad[2])
		}
	}
}

// loadSpecFor returns a spec of GET /path on srv's address.
func loadSpecFor(t *testing.T, addr, path, header string, rate int, d time.Duration, conns int) loadSpec {
	t.Helper()
	req, err := buildRequest(addr, path, header)
	if err != nil {
		t.Fatal(err)
	}
	return loadSpec{addr: addr, request: req, rate: rate, duration: d, conns: conns, drain: 5 * time.Second}
}

func hostOf(url string) string { return strings.TrimPrefix(url, "http://") }

// tcpServer listens on 127.0.0.1 and calls handle with each connection it accepts, on a
// goroutine of its own; the connection stays open after handle returns, until the test ends,
// when the listener and every connection are closed. It returns the listener's address.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			if closed {
				c.Close()
			}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestGenerateFraming: answers framed by Content-Length, chunked coding and the end of the
// connection are all read, from a real net/http server and a raw one; statuses outside 200-399
// are errors; every request carries the header.
func TestGenerateFraming(t *testing.T) {
	var n, withHeader atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		if r.Header.Get("Authorization") == "k" {
			withHeader.Add(1)
		}
		switch r.URL.Path {
		case "/chunked":
			_, _ = io.WriteString(w, "first part")
			w.(http.Flusher).Flush() // no length known: chunked
			_, _ = io.WriteString(w, "second part")
		case "/mixed":
			if k%4 == 0 {
				http.Error(w, "no", http.StatusBadGateway)
				return
			}
			_, _ = io.WriteString(w, "ok")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()

	for _, path := range []string{"/length", "/chunked"} {
		n.Store(0)
		withHeader.Store(0)
		res, err := generate(context.Background(), loadSpecFor(t, hostOf(srv.URL), path, "Authorization: k", 500, 400*time.Millisecond, 4))
		if err != nil {
			t.Fatal(err)
		}
		if res.planned != 200 || res.sent != 200 || res.answered != 200 || res.errors != 0 || res.latency.count() != 200 {
			t.Errorf("%s: planned %d sent %d answered %d errors %d (%v) recorded %d, want 200 answered", path, res.planned, res.sent,
				res.answered, res.errors, res.firstErr, res.latency.count())
		}
		if n.Load() != 200 || withHeader.Load() != 200 {
			t.Errorf("%s: the server got %d requests, %d with the header, want 200", path, n.Load(), withHeader.Load())
		}
		if res.reconnects != 0 {
			t.Errorf("%s: %d reconnects on keep-alive connections", path, res.reconnects)
		}
	}

	n.Store(0)
	res, err := generate(context.Background(), loadSpecFor(t, hostOf(srv.URL), "/mixed", "", 500, 400*time.Millisecond, 4))
	if err != nil {
		t.Fatal(err)
	}
	if res.answered+res.errors != 200 || res.errors != 50 || res.latency.count() != 150 {
		t.Errorf("/mixed: answered %d, errors %d, recorded %d; want 150, 50 (the 502s) and 150", res.answered, res.errors, res.latency.count())
	}

	// A server that ends every answer by closing the connection: the sender opens new ones.
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nbody until close")
				return
			}
		}
	})
	res, err = generate(context.Background(), loadSpecFor(t, addr, "/", "", 200, 250*time.Millisecond, 2))
	if err != nil {
		t.Fatal(err)
	}
	if res.answered != 50 || res.errors != 0 || res.reconnects < 48 {
		t.Errorf("close-delimited: answered %d errors %d (%v) reconnects %d; want 50, 0 and at least 48", res.answered, res.errors, res.firstErr, res.reconnects)
	}
}

// TestGenerateReconnectsKeepNothing: a connection that closes is forgotten with its read buffer
// (16 KiB): against a server that closes the connection after every answer, the generator's
// heap does not grow with the connections it opened over the run.
func TestGenerateReconnectsKeepNothing(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
				return
			}
		}
	})
	spec := loadSpecFor(t, addr, "/", "", 500, time.Second, 2)
	const first = 50
	var heap0, heap1 uint64
	spec.beforeSend = func(i int) {
		switch i {
		case first:
			heap0 = benchkit.LiveHeap()
		case 499:
			heap1 = benchkit.LiveHeap()
		}
	}
	res, err := generate(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.answered != 500 || res.errors != 0 || res.reconnects < 450 {
		t.Fatalf("answered %d errors %d (%v) reconnects %d; want 500, 0 and a reconnect per answer", res.answered, res.errors, res.firstErr, res.reconnects)
	}
	// The test's server keeps its side of each connection until the test ends: a few hundred
	// bytes each. A read buffer kept per connection would be 16 KiB each.
	grown := int64(heap1) - int64(heap0)
	t.Logf("heap grew %d bytes over %d connections opened", grown, 499-first)
	if grown > 4<<10*(499-first) {
		t.Errorf("heap grew %d bytes over %d connections opened and closed: about %d each, want far below 16 KiB",
			grown, 499-first, grown/(499-first))
	}
}

// TestGenerateNoCoordinatedOmission is the coordinated-omission test: on a single connection,
// one answer in the run takes 200 ms. A closed loop would send nothing during that time and
// count one slow request; the constant-rate schedule keeps the 40 requests meant for those
// 200 ms, which wait for the connection, and their latency counts from their intended send
// times, so about 20 of them took over 100 ms.
func TestGenerateNoCoordinatedOmission(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 50 {
			time.Sleep(200 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	res, err := generate(context.Background(), loadSpecFor(t, hostOf(srv.URL), "/", "", 200, 2*time.Second, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.answered != 400 || res.errors != 0 {
		t.Fatalf("answered %d, errors %d (%v), want 400 and 0", res.answered, res.errors, res.firstErr)
	}
	slow := res.latency.above(100 * time.Millisecond)
	t.Logf("p50 %v p99 %v max %v; %d over 100ms, %d queued, send lag p99 %v", res.latency.quantile(0.5), res.latency.quantile(0.99),
		res.latency.maximum(), slow, res.queued, res.lag.quantile(0.99))
	if slow < 15 {
		t.Errorf("%d requests over 100 ms, want about 20: the wait behind the slow answer is not counted", slow)
	}
	if res.latency.maximum() < 200*time.Millisecond {
		t.Errorf("max %v, want at least the slow answer's 200ms", res.latency.maximum())
	}
	// About 40 wait for the connection; fewer only if the sender itself was held up through
	// most of the 200 ms, so the bound is loose.
	if res.queued < 1 {
		t.Errorf("%d requests waited for the connection, want about 40", res.queued)
	}
	// Those requests were taken up late, and the sender's lag says so.
	if lagged := res.lag.above(50 * time.Millisecond); lagged < 10 {
		t.Errorf("%d sends over 50 ms late, want about 30", lagged)
	}
}

// TestGenerateLagCounts: when the sender itself is held up (here by the test, for 100 ms at the
// 100th request), the requests meant for that time are sent late, the lag histogram shows it,
// and their latency, measured from the intended send time, includes it though the server
// answers at once.
func TestGenerateLagCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	spec := loadSpecFor(t, hostOf(srv.URL), "/", "", 200, time.Second, 8)
	spec.beforeSend = func(i int) {
		if i == 100 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	res, err := generate(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.answered != 200 || res.errors != 0 {
		t.Fatalf("answered %d, errors %d (%v)", res.answered, res.errors, res.firstErr)
	}
	// Requests 100 to 119 were meant for the 100 ms held: 10 of them over 50 ms late.
	lagged, slow := res.lag.above(50*time.Millisecond), res.latency.above(50*time.Millisecond)
	t.Logf("lag p99 %v max %v, %d sends over 50ms late, %d latencies over 50ms", res.lag.quantile(0.99), res.lag.maximum(), lagged, slow)
	if lagged < 8 || slow < 8 {
		t.Errorf("%d sends and %d latencies over 50 ms, want about 10 of each", lagged, slow)
	}
	if res.lag.maximum() < 100*time.Millisecond || res.lag.count() != 200 {
		t.Errorf("lag max %v over %d sends, want at least 100ms over 200", res.lag.maximum(), res.lag.count())
	}
}

// TestGenerateUnanswered: requests a server never answers are errors when the run ends, and the
// run ends after its drain time.
func TestGenerateUnanswered(t *testing.T) {
	addr := tcpServer(t, func(net.Conn) {}) // reads nothing, answers nothing
	spec := loadSpecFor(t, addr, "/", "", 100, 100*time.Millisecond, 20)
	spec.drain = 100 * time.Millisecond
	res, err := generate(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.sent != 10 || res.answered != 0 || res.errors != 10 || res.firstErr != errNoAnswer {
		t.Errorf("sent %d answered %d errors %d (%v), want 10 sent and 10 errors: no answer", res.sent, res.answered, res.errors, res.firstErr)
	}
}

// TestGenerateDeadPeer: a server that reads requests and never answers, with fewer connections
// than requests. Every connection is soon busy for good; the run must still end by itself after
// its schedule and drain time, not wait for a free connection forever, and count the requests
// it could not send as errors.
func TestGenerateDeadPeer(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	spec := loadSpecFor(t, addr, "/", "", 100, 100*time.Millisecond, 2)
	spec.drain = 100 * time.Millisecond
	// Not a bound on how long the run takes: only what tells a hang from an end.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := generate(ctx, spec)
	if err != nil {
		t.Fatalf("generate: %v; want the run to end by itself", err)
	}
	if res.planned != 10 || res.sent != 2 || res.answered != 0 || res.errors != 10 || res.firstErr == nil {
		t.Errorf("planned %d sent %d answered %d errors %d (%v); want 10 planned, 2 sent on the 2 connections, 10 errors",
			res.planned, res.sent, res.answered, res.errors, res.firstErr)
	}
}

func TestGenerateRefusesBadSpecs(t *testing.T) {
	if _, err := generate(context.Background(), loadSpec{addr: "127.0.0.1:1", request: []byte("x"), rate: 0, duration: time.Second, conns: 1}); err == nil {
		t.Error("rate 0 accepted")
	}
	// Nothing listens on the address: an error, not a run of failures.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := generate(context.Background(), loadSpecFor(t, addr, "/", "", 10, time.Second, 1)); err == nil {
		t.Errorf("a run against %s, where nothing listens, succeeded", addr)
	}
}

func TestGenerateStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := generate(ctx, loadSpecFor(t, hostOf(srv.URL), "/", "", 100, time.Hour, 2))
		done <- err
	}()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("err %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("generate did not stop with its context")
	}
}

// BenchmarkReadResponse measures the generator's parsing of one answer (the raw upstream's),
// which it does per request: no allocation.
func BenchmarkReadResponse(b *testing.B) {
	sr := bytes.NewReader(rawAnswer)
	br := bufio.NewReaderSize(sr, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		sr.Reset(rawAnswer)
		br.Reset(sr)
		if _, err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistogramRecord measures recording one latency.
func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	d := time.Duration(0)
	for b.Loop() {
		d += 997
		h.record(d % time.Second)
	}
}
