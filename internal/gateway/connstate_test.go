package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// connStateGateway starts a gateway with two keyless APIs, /a/ and /b/, in front of one echo
// upstream under different target paths, so that the path the upstream receives says which
// request's state the proxy read (a request that carried none would be forwarded with its
// listen path, unstripped).
func connStateGateway(t *testing.T, h2c bool) *gt.Gateway {
	t.Helper()
	up := gt.NewUpstream(t)
	return gt.Start(t, gt.Options{
		APIs: []*apidef.APIDefinition{gt.API("a", "/a/", up.URL+"/ua"), gt.API("b", "/b/", up.URL+"/ub")},
		Config: func(c *config.Config) {
			c.HTTPServerOptions.EnableH2C = h2c
		},
	})
}

// connStateCase is request i's path and the path the upstream must receive for it.
func connStateCase(i int) (path, want string) {
	if i%2 == 0 {
		return fmt.Sprintf("/a/%d", i), fmt.Sprintf("/ua/%d", i)
	}
	return fmt.Sprintf("/b/%d", i), fmt.Sprintf("/ub/%d", i)
}

// TestConnStateHTTP1: requests served one after the other on one kept-alive HTTP/1.1
// connection, whose context carries each request's state in turn (reqctx.Conn), are each
// forwarded with their own state: alternating between two APIs, the upstream gets every
// request's own path below its own API's target, never the previous request's.
func TestConnStateHTTP1(t *testing.T) {
	g := connStateGateway(t, false)
	conn, err := net.DialTimeout("tcp", g.Server.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	for i := range 20 {
		path, want := connStateCase(i)
		if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: gw\r\n\r\n", path); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: status %d, close %v: %s", i, resp.StatusCode, resp.Close, body)
		}
		var seen echo.Request
		if err := json.Unmarshal(body, &seen); err != nil {
			t.Fatalf("request %d: %v: %s", i, err, body)
		}
		if seen.Path != want {
			t.Errorf("request %d for %s: the upstream got %s, want %s", i, path, seen.Path, want)
		}
	}
}

// TestConnStateHTTP2: HTTP/2 streams, served side by side on one connection, never share its
// context's state: each carries its own (run with -race, which catches any write to the
// connection's).
func TestConnStateHTTP2(t *testing.T) {
	g := connStateGateway(t, true)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			path, want := connStateCase(i)
			resp, err := client.Get(g.URL + path)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var seen echo.Request
			if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
				errs <- fmt.Errorf("%s: %w", path, err)
				return
			}
			if resp.ProtoMajor != 2 || seen.Path != want {
				errs <- fmt.Errorf("%s over %s: the upstream got %s, want %s", path, resp.Proto, seen.Path, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
