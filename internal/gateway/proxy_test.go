package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

func TestProxyForwarding(t *testing.T) {
	up := gt.NewUpstream(t)
	strip := gt.API("strip", "/strip/", up.URL+"/base")
	keep := gt.API("keep", "/keep", up.URL)
	keep.Proxy.StripListenPath = false
	host := gt.API("host", "/host/", up.URL)
	host.Proxy.PreserveHostHeader = true
	slashed := gt.API("slashed", "/slashed/", up.URL+"/base/")
	kept := gt.API("kept", "/kept/", up.URL+"/base/")
	kept.Proxy.DisableStripSlash = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{strip, keep, host, slashed, kept}})

	tests := []struct {
		name, path, host    string
		wantPath, wantQuery string
		wantHost            string
	}{
		{name: "strip and join target path", path: "/strip/users/1?x=1&y=2", wantPath: "/base/users/1", wantQuery: "x=1&y=2"},
		// Tyk's join: the target loses its trailing slash, unless disable_strip_slash keeps the
		// target as written for a request of exactly the listen path.
		{name: "listen path alone", path: "/strip", wantPath: "/base"},
		{name: "listen path with slash", path: "/strip/", wantPath: "/base"},
		{name: "target with slash", path: "/slashed/", wantPath: "/base"},
		{name: "request's trailing slash kept", path: "/slashed/x/", wantPath: "/base/x/"},
		{name: "disable_strip_slash, listen path", path: "/kept/", wantPath: "/base/"},
		{name: "disable_strip_slash, listen path alone", path: "/kept", wantPath: "/base/"},
		{name: "disable_strip_slash, sub-path", path: "/kept/x", wantPath: "/base/x"},
		{name: "no strip keeps full path", path: "/keep/a/b?q=%20z", wantPath: "/keep/a/b", wantQuery: "q=%20z"},
		{name: "double slashes merged", path: "/keep//a///b", wantPath: "/keep/a/b"},
		{name: "escaped utf-8 forwarded escaped", path: "/keep/caf%C3%A9", wantPath: "/keep/café"},
		{name: "preserve host", path: "/host/x", host: "api.example.test", wantPath: "/x", wantHost: "api.example.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := g.Do(gt.Case{Path: tc.path, Host: tc.host})
			if r.Code != http.StatusOK {
				t.Fatalf("status %d: %s", r.Code, r.Body)
			}
			seen, ok := up.Last()
			if !ok {
				t.Fatal("upstream received nothing")
			}
			if seen.Path != tc.wantPath {
				t.Errorf("upstream path = %q, want %q", seen.Path, tc.wantPath)
			}
			if seen.Query != tc.wantQuery {
				t.Errorf("upstream query = %q, want %q", seen.Query, tc.wantQuery)
			}
			wantHost := tc.wantHost
			if wantHost == "" {
				wantHost = strings.TrimPrefix(up.URL, "http://")
			}
			if seen.Host != wantHost {
				t.Errorf("upstream host = %q, want %q", seen.Host, wantHost)
			}
		})
	}
}

func TestProxyHeaders(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("h", "/h/", up.URL)
	def.VersionData.Versions["Default"] = apidef.VersionInfo{
		Name:                "Default",
		GlobalHeaders:       map[string]string{"X-Gateway-Injected": "yes"},
		GlobalHeadersRemove: []string{"X-Remove-Me"},
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})

	// S10: a client naming the injected header in Connection must not strip it; S11/S12: a
	// forged X-Forwarded-For is replaced; S13: an h2c upgrade is not forwarded.
	r, err := g.Raw("GET /h/x HTTP/1.1\r\nHost: gw.test\r\n" +
		"Connection: X-Gateway-Injected, Upgrade, HTTP2-Settings, Keep-Alive\r\n" +
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n" +
		"Keep-Alive: timeout=5\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.test\r\n" +
		"X-Remove-Me: 1\r\nTE: trailers\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusOK {
		t.Fatalf("status %d: %s", r.Code, r.Body)
	}
	seen, _ := up.Last()
	want := map[string]string{
		"X-Gateway-Injected": "yes",
		"X-Forwarded-For":    "127.0.0.1",
		"X-Forwarded-Host":   "gw.test",
		"X-Forwarded-Proto":  "http",
	}
	for k, v := range want {
		if got := seen.Headers[k]; got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Upgrade", "Http2-Settings", "Keep-Alive", "X-Remove-Me", "Connection"} {
		if v, ok := seen.Headers[k]; ok {
			t.Errorf("upstream received %s: %q; it must be removed", k, v)
		}
	}
}

func TestProxyLoadBalancing(t *testing.T) {
	a, b := gt.NewUpstream(t), gt.NewUpstream(t)
	def := gt.API("lb", "/lb/", "")
	def.Proxy.EnableLoadBalancing = true
	def.Proxy.Targets = []string{a.URL, b.URL}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	for i := 0; i < 10; i++ {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/lb/x"}))
	}
	if na, nb := len(a.Requests()), len(b.Requests()); na != 5 || nb != 5 {
		t.Errorf("round robin sent %d and %d requests, want 5 and 5", na, nb)
	}
}

// refusingAddr returns a loopback address where nothing listens, nor can start listening until
// the test ends: its port is held by one end of a connection, which binds it without listening
// (a port picked free and let go could be taken by another process meanwhile).
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	addr := client.LocalAddr().String()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s accepts connections", addr)
	}
	return addr
}

func TestProxyUpstreamFailures(t *testing.T) {
	closed := "http://" + refusingAddr(t)

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })

	g := gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{gt.API("down", "/down/", closed), gt.API("slow", "/slow/", slow.URL)},
		Config: func(c *config.Config) {
			c.ProxyDefaultTimeout = 0.3
		},
	})
	g.Run(t,
		gt.Case{Name: "upstream down gives 502", Path: "/down/x", Code: http.StatusBadGateway,
			BodyMatch: `"error": "There was a problem proxying the request"`},
		gt.Case{Name: "upstream timeout gives 504", Path: "/slow/x", Code: http.StatusGatewayTimeout,
			BodyMatch: `"error": "Upstream service reached hard timeout."`},
	)
}

func TestProxyBodyLimit(t *testing.T) {
	up := gt.NewUpstream(t)
	small := gt.API("small", "/small/", up.URL)
	small.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", GlobalSizeLimit: 10}
	g := gt.Start(t, gt.Options{
		APIs:   []*apidef.APIDefinition{gt.API("big", "/big/", up.URL), small},
		Config: func(c *config.Config) { c.HTTPServerOptions.MaxRequestBodySize = 1000 },
	})
	g.Run(t,
		gt.Case{Name: "under the limit", Method: "POST", Path: "/big/x", Body: strings.Repeat("a", 1000), Code: 200,
			BodyMatch: `"body_length": 1000`},
		gt.Case{Name: "declared length over the limit", Method: "POST", Path: "/big/x", Body: strings.Repeat("a", 1001), Code: 413,
			BodyMatch: `"error": "Request is too large"`},
		gt.Case{Name: "version limit is smaller", Method: "POST", Path: "/small/x", Body: strings.Repeat("a", 11), Code: 413},
	)
	before := len(up.Requests())
	// A chunked body declares no length: it is cut while streaming.
	chunk := strings.Repeat("b", 600)
	raw := fmt.Sprintf("POST /big/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk, len(chunk), chunk)
	r, err := g.Raw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed body over the limit: status %d, want 413: %s", r.Code, r.Body)
	}
	for _, seen := range up.Requests()[before:] {
		if seen.BodyLength > 1000 {
			t.Errorf("upstream received %d bytes, more than the limit", seen.BodyLength)
		}
	}
}

// TestProxyStreamsBothWays checks that nothing is buffered: the upstream reads the start of a
// request body the client has not finished sending, and the client reads the first event of a
// response the upstream has not finished writing.
func TestProxyStreamsBothWays(t *testing.T) {
	gotFirstLine := make(chan string, 1)
	clientHasFirstEvent := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			br := bufio.NewReader(r.Body)
			line, _ := br.ReadString('\n')
			gotFirstLine <- line
			rest, _ := io.ReadAll(br)
			fmt.Fprintf(w, "%d more bytes", len(rest))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-clientHasFirstEvent:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("stream", "/stream/", up.URL)}})

	t.Run("request body", func(t *testing.T) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", g.URL+"/stream/upload", pr)
		done := make(chan gt.Response, 1)
		go func() {
			resp, err := g.Client.Do(req)
			if err != nil {
				t.Error(err)
				done <- gt.Response{}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- gt.Response{Code: resp.StatusCode, Body: string(b)}
		}()
		io.WriteString(pw, "first line\n")
		select {
		case line := <-gotFirstLine:
			if line != "first line\n" {
				t.Fatalf("upstream read %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream did not get the start of the body while the client was still sending: something buffers")
		}
		io.WriteString(pw, strings.Repeat("x", 100000))
		pw.Close()
		gt.Check(t, gt.Case{Code: 200, BodyEquals: "100000 more bytes"}, <-done)
	})

	t.Run("response body", func(t *testing.T) {
		resp, err := g.Client.Get(g.URL + "/stream/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			first <- line
		}()
		select {
		case line := <-first:
			if line != "data: one\n" {
				t.Fatalf("first event line = %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the first event did not arrive before the upstream finished: something buffers")
		}
		close(clientHasFirstEvent)
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest of the stream = %q", rest)
		}
	})
}

// TestProxyKeepsUpstreamConnectionsAfterBodies: requests with bodies, which the upstream reads
// whole before it answers at length, all get their whole response, over upstream connections
// kept alive: each dropped connection shows as one more the upstream accepts, beyond one per
// client. The transport reads a body once more after its declared length, and Go's server
// closes the body when the response headers go out (golang/go#40747); a read failing there made
// the transport drop the upstream connection, now and then cutting the response streaming over
// it. That race is narrow (this loop hit it in about one run in ten);
// TestLimitedBodyStaysEnded in internal/proxy pins its cause.
func TestProxyKeepsUpstreamConnectionsAfterBodies(t *testing.T) {
	const size, clients, requests = 64 << 10, 4, 100
	payload := strings.Repeat("x", size)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n != size {
			http.Error(w, fmt.Sprintf("got %d bytes", n), http.StatusBadRequest)
			return
		}
		io.WriteString(w, payload)
	}))
	var accepted atomic.Int64
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("bodies", "/bodies/", up.URL)}})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range requests {
				resp, err := g.Client.Post(g.URL+"/bodies/upload", "text/plain", strings.NewReader(payload))
				if err != nil {
					t.Errorf("client %d, request %d: %v", c, i, err)
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != size || err != nil {
					t.Errorf("client %d, request %d: status %d, %d of %d bytes, %v", c, i, resp.StatusCode, n, size, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A connection goes back to the transport's idle pool just after its response body is
	// read, on the transport's own goroutine: a client's next request can come through first
	// and dial one more (net/http, ~1 run in 10 on a busy machine). A gateway that dropped its
	// upstream connections would dial one per request, hundreds here.
	if n := accepted.Load(); n > 2*clients {
		t.Errorf("the upstream accepted %d connections for %d clients sending %d requests one at a time: the gateway dropped upstream connections", n, clients, clients*requests)
	}
}

func TestRoutingAndMethods(t *testing.T) {
	api, admin, root := gt.NewUpstream(t), gt.NewUpstream(t), gt.NewUpstream(t)
	dom := gt.NewUpstream(t)
	domDef := gt.API("dom", "/api/", dom.URL)
	domDef.Domain = "tenant.example.test"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		gt.API("api", "/api/", api.URL),
		gt.API("api-admin", "/api-admin/", admin.URL),
		gt.API("root", "/", root.URL),
		domDef,
	}})
	check := func(path, host string, want *gt.Upstream) {
		t.Helper()
		before := len(want.Requests())
		r := g.Do(gt.Case{Path: path, Host: host})
		if r.Code != 200 || len(want.Requests()) != before+1 {
			t.Errorf("%s (host %q): status %d, and it did not reach the expected upstream", path, host, r.Code)
		}
	}
	check("/api/x", "", api)
	check("/api-admin/x", "", admin)
	check("/api-adminx", "", root)
	check("/apix/y", "", root)
	check("/api/x", "TENANT.example.test:8080", dom)
	check("/api/x", "other.test", api)

	r, err := g.Raw("CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: status %d, want 405", r.Code)
	}
}

// TestMalformedChunkedBody: a request body whose chunked framing is broken is the client's
// fault: 400 with Tyk's body, and not an upstream failure (502) in the log. With and without a
// body size limit.
func TestMalformedChunkedBody(t *testing.T) {
	for _, limit := range []int64{0, 1 << 20} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			up := gt.NewUpstream(t)
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL)},
				Config: func(c *config.Config) { c.HTTPServerOptions.MaxRequestBodySize = limit }})
			r, err := g.Raw("POST /a/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5\r\nhello\r\nzz-not-hex\r\nmore\r\n0\r\n\r\n")
			if err != nil {
				t.Fatal(err)
			}
			gt.Check(t, gt.Case{Code: 400, BodyMatch: `"error": "Bad Request"`}, r)
			if strings.Contains(g.Logs(), "upstream request failed") {
				t.Error("a malformed client body was logged as an upstream failure")
			}
		})
	}
}

// TestLoopsRefused: a definition targeting its own API on the gateway's listener is refused
// when it loads; one API sending to another on the same gateway goes through; a loop the
// definitions make together (a to b, b to a) is cut when the request comes back to a, with 508,
// so that one request costs three hops, not a connection per hop until the gateway runs out; and
// a request that passed through too many gateway APIs is refused.
func TestLoopsRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("real", "/real/", up.URL)}})
	self := gt.API("self", "/self/", g.URL+"/self")
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `a loop: target .* is this gateway's own listener`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, self))}))
	g.WriteAPI(self)
	g.WriteAPI(gt.API("a", "/a/", g.URL+"/b"))
	g.WriteAPI(gt.API("b", "/b/", g.URL+"/a"))
	g.WriteAPI(gt.API("front", "/front/", g.URL+"/real"))
	g.Reload()
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"api:self"(?s:.*)a loop`}, g.Do(gt.Case{Admin: true, Path: "/hello"}))

	// Chaining is not a loop: front forwards to real on the same listener.
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/front/x"}))
	if seen, ok := up.Last(); !ok || strings.Count(seen.Headers["Via"], "gatehouse-") != 2 {
		t.Errorf("the upstream saw Via %q, want an entry for each of the two APIs", seen.Headers["Via"])
	}

	start := time.Now()
	r := g.Do(gt.Case{Path: "/a/x"})
	gt.Check(t, gt.Case{Code: 508, BodyMatch: "Loop detected"}, r)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the loop took %v to be cut", d)
	}
	logs := g.Logs()
	if n := strings.Count(logs, "request refused: a loop"); n != 1 {
		t.Errorf("the loop was refused %d times, want once (when it came back to a)", n)
	}
	if !strings.Contains(logs, "api_id=a") {
		t.Errorf("the refusal does not name the API the loop came back to:\n%s", logs)
	}

	// Through other gateways: the count of Gatehouse hops is bounded.
	var via []string
	for i := range maxHops {
		via = append(via, fmt.Sprintf("1.1 gatehouse-other%02d", i))
	}
	gt.Check(t, gt.Case{Code: 508}, g.Do(gt.Case{Path: "/real/x", Headers: map[string]string{"Via": strings.Join(via, ", ")}}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/real/x", Headers: map[string]string{"Via": strings.Join(via[1:], ", ")}}))
	if seen, ok := up.Last(); !ok || !strings.HasPrefix(seen.Headers["Via"], "1.1 gatehouse-other01, ") || strings.Count(seen.Headers["Via"], "gatehouse-") != maxHops {
		t.Errorf("the upstream saw Via %q, want the client's entries and the gateway's", seen.Headers["Via"])
	}
}

// maxHops is the gateway's bound on Gatehouse hops (loop.go).
const maxHops = 10
