package proxy_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// rawUpstream listens on 127.0.0.1 and answers every request it reads with reply (raw bytes,
// as the upstream wrote them), then closes the connection; a nil reply reads the request and
// holds the connection, unanswered, until the test ends.
func rawUpstream(t *testing.T, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				if reply == nil {
					<-done
					return
				}
				c.Write(reply)
			})
		}
	})
	return "http://" + ln.Addr().String()
}

// gateway serves an Upstream to target as the gateway does: the request carries a chain
// context, and the client's header already holds one of the gateway's own. The upstream's
// response header must come within timeout.
func gateway(t *testing.T, target string, timeout time.Duration) *httptest.Server {
	t.Helper()
	u, err := proxy.New(proxy.Options{
		APIID:     "edge",
		Targets:   []string{target},
		Transport: proxy.NewTransport(proxy.TransportOptions{ResponseHeaderTimeout: timeout}),
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Gateway", "1")
		c := &chain.Context{ForwardPath: r.URL.Path}
		u.ServeHTTP(w, reqctx.With(r, &reqctx.State{Gateway: c}))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestUpstreamResponseHopByHop: what an upstream names in its response's Connection header, and
// the hop-by-hop headers, never reach the client, though the proxy moves the upstream's header
// map into the client's; the other headers, repeated ones included, and the trailers do.
func TestUpstreamResponseHopByHop(t *testing.T) {
	up := rawUpstream(t, []byte("HTTP/1.1 200 OK\r\n"+
		"Connection: X-Internal, keep-alive\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\n"+
		"X-Kept: one\r\nX-Kept: two\r\nContent-Type: text/plain\r\n"+
		"Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"))
	gw := gateway(t, up, time.Minute)
	res, err := http.Get(gw.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != "hello" || res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q, %v", res.StatusCode, body, err)
	}
	for _, k := range []string{"X-Internal", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v, ok := res.Header[k]; ok {
			t.Errorf("the client got the hop-by-hop header %s: %q", k, v)
		}
	}
	if c := res.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "x-internal") {
		t.Errorf("the client got the upstream's Connection header %q", c)
	}
	if got := res.Header.Values("X-Kept"); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("X-Kept = %q, want [one two]", got)
	}
	if res.Header.Get("X-Gateway") != "1" || res.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("header %v: the gateway's own or the Content-Type is missing", res.Header)
	}
	if got := res.Trailer.Get("X-Sum"); got != "42" {
		t.Errorf("trailer X-Sum = %q, want 42 (trailers %v)", got, res.Trailer)
	}
}

// TestUpstreamBadResponses: an upstream that answers with a malformed response, a header larger
// than the transport reads, nothing at all, or too late gets the client a clean 502 or 504; one
// that ends its body early gets the client a response cut off, never one that looks whole.
func TestUpstreamBadResponses(t *testing.T) {
	huge := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", proxy.MaxResponseHeaderBytes+1) + "\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name  string
		reply []byte
		code  int
	}{
		{"a malformed header line", []byte("HTTP/1.1 200 OK\r\nthis is no header\r\nContent-Length: 2\r\n\r\nok"), http.StatusBadGateway},
		{"not HTTP", []byte("\x00\xff\xfe garbage\r\n\r\n"), http.StatusBadGateway},
		{"a malformed status line", []byte("HTTP/1.1 abc OK\r\n\r\n"), http.StatusBadGateway},
		{"a header over the transport's limit", []byte(huge), http.StatusBadGateway},
		{"closed without an answer", []byte{}, http.StatusBadGateway},
		{"no answer in time", nil, http.StatusGatewayTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := time.Minute // the 1 MiB header takes a while under the race detector
			if tc.reply == nil {
				timeout = 100 * time.Millisecond
			}
			gw := gateway(t, rawUpstream(t, tc.reply), timeout)
			res, err := http.Get(gw.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.code {
				t.Errorf("status %d, want %d (body %q)", res.StatusCode, tc.code, body)
			}
			if strings.Contains(string(body), "garbage") || strings.Contains(string(body), "aaaa") {
				t.Errorf("the upstream's bytes reached the client: %q", body[:min(len(body), 100)])
			}
		})
	}
	t.Run("a large header under the limit", func(t *testing.T) {
		// Many large fields, as cookies and security policies make them, short of the limit
		// by less than the status line and the fields' names: the client gets them all.
		value := strings.Repeat("v", 64<<10)
		var reply strings.Builder
		reply.WriteString("HTTP/1.1 200 OK\r\n")
		for range (proxy.MaxResponseHeaderBytes - 4<<10) / len(value) {
			reply.WriteString("Set-Cookie: " + value + "\r\n")
		}
		reply.WriteString("Content-Length: 2\r\n\r\nok")
		gw := gateway(t, rawUpstream(t, []byte(reply.String())), time.Minute)
		res, err := http.Get(gw.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if n := len(res.Header.Values("Set-Cookie")); res.StatusCode != http.StatusOK || string(body) != "ok" || n != 15 {
			t.Errorf("status %d, body %q, %d Set-Cookie fields; want 200, ok and 15", res.StatusCode, body, n)
		}
	})
	t.Run("a body cut short", func(t *testing.T) {
		gw := gateway(t, rawUpstream(t, []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")), time.Minute)
		// The gateway aborts the connection: before the client saw the header (it was still
		// buffered), or in the middle of the body.
		res, err := http.Get(gw.URL + "/x")
		if err != nil {
			t.Logf("the request failed: %v", err)
			return
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("the client read %q as a whole response of status %d", body, res.StatusCode)
		} else {
			t.Logf("reading the body failed: %v", err)
		}
	})
}
