package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// startRaw serves the raw upstream on 127.0.0.1 until the test ends, and returns its address.
// serveRaw must then return nil, having closed every connection.
func startRaw(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveRaw(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("serveRaw: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestRawUpstream: the raw upstream answers like benchkit.UpstreamHandler, through a real
// client and through the bare proxy, and refuses what it cannot frame.
func TestRawUpstream(t *testing.T) {
	addr := startRaw(t)
	url := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	get := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	req, _ := http.NewRequest("GET", url+"/bench/", nil)
	if resp, body := get(req); resp.StatusCode != 200 || body != string(rawAnswer[len(rawAnswer)-100:]) || len(body) != 100 {
		t.Errorf("GET: %d %q", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("POST", url+"/bench/verify?x=1", strings.NewReader("the body"))
	req.Header.Set("X-Bench-Post", "1")
	req.Header.Set("x-bench-pre", "1")
	req.Header.Set("X-Other", "1")
	resp, _ := get(req)
	if got := resp.Header.Get("X-Upstream-Saw"); resp.StatusCode != 200 || got != "X-Bench-Post,X-Bench-Pre" {
		t.Errorf("verify: %d, saw %q", resp.StatusCode, got)
	}
	if got, want := resp.Header.Get(benchkit.HeaderUpstreamBody), benchkit.BodyDigest([]byte("the body")); got != want {
		t.Errorf("verify: body digest %q, want %q", got, want)
	}
	// Two pipelined requests on one connection get two answers; garbage gets a 400 and a close.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nnot http\r\n\r\n")
	br := bufio.NewReader(c)
	for i, want := range []int{200, 200, 400} {
		h, err := readResponse(br)
		if err != nil || h.status != want {
			t.Fatalf("answer %d: %d, %v; want %d", i, h.status, err, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the 400 the connection is still open: %v", err)
	}

	// A chunked request body is refused, not misread, and the connection closed.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = io.WriteString(c2, "POST /bench/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	br = bufio.NewReader(c2)
	if h, err := readResponse(br); err != nil || h.status != http.StatusNotImplemented || !h.close {
		t.Errorf("a chunked request body: %d (close %v), %v; want 501 and a close", h.status, h.close, err)
	}
}

// TestRawUpstreamPartialPipelined: a complete request followed by the first bytes of the next
// one, and then a pause: the first is answered before the rest of the second comes, rather than
// held until it does (a client waiting for that answer would wait forever).
func TestRawUpstreamPartialPipelined(t *testing.T) {
	c, err := net.Dial("tcp", startRaw(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only what tells a hang from an answer; not a bound on the time the answer takes.
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo"); err != nil {
		t.Fatal(err)
	}
	if h, err := readResponse(br); err != nil || h.status != 200 {
		t.Fatalf("the complete request: %d, %v; want its answer before the rest of the next one", h.status, err)
	}
	if _, err := io.WriteString(c, "st: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if h, err := readResponse(br); err != nil || h.status != 200 {
		t.Fatalf("the second request: %d, %v", h.status, err)
	}
}

// TestRawUpstreamEndlessHead: a request whose head does not end (here X-Bench-* header lines to
// the verify path, whose names the upstream collects) is refused with a 431 and a close once
// past 1 MiB; the upstream does not read, nor collect, for as long as the client sends.
func TestRawUpstreamEndlessHead(t *testing.T) {
	c, err := net.Dial("tcp", startRaw(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only what tells a hang from an answer; not a bound on the time the answer takes.
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	head := &repeatReader{prefix: "GET /bench/verify HTTP/1.1\r\nHost: x\r\n", line: "X-Bench-A: 1\r\n", n: 3 * maxHeadBytes}
	go func() { _, _ = io.Copy(c, head) }() // stops when the upstream closes the connection
	h, err := readResponse(bufio.NewReader(c))
	// The upstream closes with the rest of the head unread, so its answer may be lost to the
	// reset that follows: a reset is a refusal too, a timeout is not.
	if !errors.Is(err, syscall.ECONNRESET) && (err != nil || h.status != http.StatusRequestHeaderFieldsTooLarge || !h.close) {
		t.Errorf("an endless head: %d (close %v), %v; want a 431 and a close", h.status, h.close, err)
	}
}

// TestRawUpstreamBehindBareProxy: the latency mode's chain, end to end: the load generator
// through the bare proxy (a real httputil.ReverseProxy) to the raw upstream.
func TestRawUpstreamBehindBareProxy(t *testing.T) {
	addr := startRaw(t)
	target, _ := url.Parse("http://" + addr)
	rp := benchkit.BareProxy(target)
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	defer rp.Transport.(*http.Transport).CloseIdleConnections()
	res, err := generate(context.Background(), loadSpecFor(t, hostOf(proxy.URL), "/bench/", "Authorization: k", 500, 400*time.Millisecond, 8))
	if err != nil {
		t.Fatal(err)
	}
	if res.answered != 200 || res.errors != 0 || res.latency.count() != 200 {
		t.Errorf("answered %d errors %d (%v) recorded %d, want 200 answered", res.answered, res.errors, res.firstErr, res.latency.count())
	}
}

// TestNoAllocationPerRequest: a run of the generator against the raw upstream, both in this
// process, allocates per connection, not per request: the whole process's allocations over
// 2,000 requests stay far below one per request.
func TestNoAllocationPerRequest(t *testing.T) {
	addr := startRaw(t)
	spec := loadSpecFor(t, addr, "/bench/", "Authorization: k", 2000, time.Second, 4)
	if _, err := generate(context.Background(), spec); err != nil { // warm up
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	res, err := generate(context.Background(), spec)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	allocs := m1.Mallocs - m0.Mallocs
	t.Logf("%d allocations for %d requests", allocs, res.sent)
	if res.answered != 2000 || allocs > uint64(res.sent)/4 {
		t.Errorf("%d allocations for %d requests (%d answered), want far fewer than one per request", allocs, res.sent, res.answered)
	}
}
