package gateway_test

// Host header games (S14) and CONNECT (S20), sent as raw bytes to a gateway in front of recording
// upstreams.

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// hostDomain is the domain the "dom" API is bound to.
const hostDomain = "tenant.example.test"

// TestSecurityHostHeader covers S14. The gateway serves "dom" at /api/ bound to
// tenant.example.test (upstream D) and "api" at /api/ for every other host (upstream A).
//
// Go refuses a missing Host on HTTP/1.1, more than one Host, and a Host holding a byte that
// cannot appear in a host (space, '/', '@', a control byte, UTF-8) with 400 before any handler
// runs, and closes the connection: the refused rows send a pipelined request after their own and
// check that exactly one response came back, that the connection was closed, and that no upstream
// received anything. The accepted rows check which API served them: the domain matches its
// lower-case name with the surrounding whitespace Go trims (RFC 9110 5.5 OWS), one trailing dot
// and any port removed, and nothing else; X-Forwarded-Host is never used for routing. An
// absolute-form request-target's authority is the request's host (RFC 9112 3.2.2: the Host
// header is then ignored), as Go sets r.Host.
func TestSecurityHostHeader(t *testing.T) {
	a, d := gt.NewUpstream(t), gt.NewUpstream(t)
	dom := gt.API("dom", "/api/", d.URL)
	dom.Domain = hostDomain
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("api", "/api/", a.URL), dom}})
	// pipelined would reach D if the bytes after a refused request were read as a request.
	pipelined := "GET /api/smuggled HTTP/1.1\r\nHost: " + hostDomain + "\r\nConnection: close\r\n\r\n"

	tests := []struct {
		name string
		raw  string // the whole request, sent byte for byte
		// reach is "A" or "D", the upstream that must receive exactly this request; empty for a
		// refusal (400), which no upstream may see.
		reach string
	}{
		{name: "control: domain", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "\r\n\r\n", reach: "D"},
		{name: "control: other host", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\n\r\n", reach: "A"},

		// Refused by Go with 400, the connection closed.
		{name: "missing Host on HTTP/1.1", raw: "GET /api/x HTTP/1.1\r\n\r\n"},
		{name: "missing Host with absolute-form target", raw: "GET http://" + hostDomain + "/api/x HTTP/1.1\r\n\r\n"},
		{name: "two equal Host headers", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "\r\nHost: " + hostDomain + "\r\n\r\n"},
		{name: "two different Host headers, domain first", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "\r\nHost: other.test\r\n\r\n"},
		{name: "two different Host headers, domain last", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\nHost: " + hostDomain + "\r\n\r\n"},
		{name: "second Host in another case", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\nhOST: " + hostDomain + "\r\n\r\n"},
		{name: "space inside Host", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + " other.test\r\n\r\n"},
		{name: "Host folded onto a second line", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\n " + hostDomain + "\r\n\r\n"},
		{name: "slash in Host", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "/x\r\n\r\n"},
		{name: "userinfo in Host", raw: "GET /api/x HTTP/1.1\r\nHost: evil@" + hostDomain + "\r\n\r\n"},
		{name: "UTF-8 in Host", raw: "GET /api/x HTTP/1.1\r\nHost: tenant.example.t\u0435st\r\n\r\n"},
		{name: "NUL in Host", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "\x00\r\n\r\n"},
		{name: "ESC in Host", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "\x1b\r\n\r\n"},

		// Normalised spellings of the domain match it.
		{name: "trailing space", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + " \r\n\r\n", reach: "D"},
		{name: "tabs around", raw: "GET /api/x HTTP/1.1\r\nHost:\t" + hostDomain + "\t\r\n\r\n", reach: "D"},
		{name: "no space after the colon", raw: "GET /api/x HTTP/1.1\r\nHost:" + hostDomain + "\r\n\r\n", reach: "D"},
		{name: "upper case", raw: "GET /api/x HTTP/1.1\r\nHost: TENANT.Example.TEST\r\n\r\n", reach: "D"},
		{name: "trailing dot", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + ".\r\n\r\n", reach: "D"},
		{name: "port", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + ":8443\r\n\r\n", reach: "D"},
		{name: "empty port", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + ":\r\n\r\n", reach: "D"},

		// Forged spellings never match the domain; they go to the API without one.
		{name: "empty Host", raw: "GET /api/x HTTP/1.1\r\nHost: \r\n\r\n", reach: "A"},
		{name: "HTTP/1.0 without Host", raw: "GET /api/x HTTP/1.0\r\n\r\n", reach: "A"},
		{name: "domain as a prefix", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + ".evil.test\r\n\r\n", reach: "A"},
		{name: "domain as a suffix", raw: "GET /api/x HTTP/1.1\r\nHost: x" + hostDomain + "\r\n\r\n", reach: "A"},
		{name: "two trailing dots", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + "..\r\n\r\n", reach: "A"},
		{name: "encoded dots", raw: "GET /api/x HTTP/1.1\r\nHost: tenant%2eexample%2etest\r\n\r\n", reach: "A"},
		{name: "domain in brackets", raw: "GET /api/x HTTP/1.1\r\nHost: [" + hostDomain + "]\r\n\r\n", reach: "A"},
		{name: "domain after a colon", raw: "GET /api/x HTTP/1.1\r\nHost: other.test:" + hostDomain + "\r\n\r\n", reach: "A"},
		{name: "two ports", raw: "GET /api/x HTTP/1.1\r\nHost: " + hostDomain + ":80:80\r\n\r\n", reach: "A"},
		{name: "X-Forwarded-Host is not the host", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\nX-Forwarded-Host: " + hostDomain + "\r\n\r\n", reach: "A"},
		{name: "Forwarded host is not the host", raw: "GET /api/x HTTP/1.1\r\nHost: other.test\r\nForwarded: host=" + hostDomain + "\r\n\r\n", reach: "A"},

		// Absolute form: the target's authority is the host, whatever Host says.
		{name: "absolute-form naming the domain", raw: "GET http://" + hostDomain + "/api/x HTTP/1.1\r\nHost: other.test\r\n\r\n", reach: "D"},
		{name: "absolute-form naming another host", raw: "GET http://other.test/api/x HTTP/1.1\r\nHost: " + hostDomain + "\r\n\r\n", reach: "A"},
		{name: "absolute-form with userinfo naming the domain", raw: "GET http://evil@" + hostDomain + "/api/x HTTP/1.1\r\nHost: other.test\r\n\r\n", reach: "D"},
		{name: "absolute-form with the domain as userinfo", raw: "GET http://" + hostDomain + "@other.test/api/x HTTP/1.1\r\nHost: " + hostDomain + "\r\n\r\n", reach: "A"},
	}
	ups := map[string]*gt.Upstream{"A": a, "D": d}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int{"A": len(a.Requests()), "D": len(d.Requests())}
			if tc.reach == "" {
				res, err := secExchange(g.Server.Addr(), tc.raw+pipelined)
				if err != nil {
					t.Fatalf("sending: %v", err)
				}
				if len(res.codes) != 1 || res.codes[0] != http.StatusBadRequest {
					t.Errorf("responses %v, want exactly one 400", res.codes)
				}
				if !res.closed {
					t.Errorf("the connection was not closed after the refusal (%v)", res.err)
				}
			} else {
				r, err := g.Raw(tc.raw)
				if err != nil {
					t.Fatalf("sending: %v", err)
				}
				if r.Code != http.StatusOK {
					t.Errorf("status %d, want 200; body: %s", r.Code, r.Body)
				}
			}
			for name, u := range ups {
				got := u.Requests()[before[name]:]
				want := 0
				if name == tc.reach {
					want = 1
				}
				if len(got) != want {
					uris := make([]string, len(got))
					for i, s := range got {
						uris[i] = s.URI
					}
					t.Errorf("upstream %s received %q, want %d request(s)", name, uris, want)
					continue
				}
				if want == 1 && got[0].Path != "/x" {
					t.Errorf("upstream %s received path %q, want /x", name, got[0].Path)
				}
			}
		})
	}
}

// TestSecurityConnect covers S20 over HTTP/1.1: CONNECT gets 405 and opens no tunnel, whatever
// its target (one of them is the upstream's own address), and the bytes a client sends after it,
// as it would through a tunnel, are never relayed: no upstream receives anything. Those bytes are
// read as the next request on the connection and answered by the gateway (404: /x is not routed),
// or the connection is closed.
func TestSecurityConnect(t *testing.T) {
	env := startSecGateway(t)
	upAddr := strings.TrimPrefix(env.a.URL, "http://")
	// What a client would send through an open tunnel: a request for the upstream's /x.
	tunnelled := "GET /x HTTP/1.1\r\nHost: " + upAddr + "\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name, raw string
		code      int // the first status; 405 when 0
	}{
		{name: "authority-form to the upstream", raw: "CONNECT " + upAddr + " HTTP/1.1\r\nHost: " + upAddr + "\r\n\r\n"},
		{name: "authority-form to a metadata address", raw: "CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n"},
		{name: "without Host", raw: "CONNECT " + upAddr + " HTTP/1.1\r\n\r\n"},
		{name: "origin-form naming an API", raw: "CONNECT /public/x HTTP/1.1\r\nHost: " + secHost + "\r\n\r\n"},
		{name: "with a body", raw: "CONNECT " + upAddr + " HTTP/1.1\r\nHost: " + upAddr + "\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "with a chunked body", raw: "CONNECT " + upAddr + " HTTP/1.1\r\nHost: " + upAddr + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		// Methods are case-sensitive: "connect" is another method, and its authority-form target
		// is no request-target Go accepts for it.
		{name: "lower-case method is not CONNECT", raw: "connect " + upAddr + " HTTP/1.1\r\nHost: " + upAddr + "\r\n\r\n",
			code: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := env.counts()
			res, err := secExchange(env.g.Server.Addr(), tc.raw+tunnelled)
			if err != nil {
				t.Fatalf("sending: %v", err)
			}
			var ne net.Error
			if errors.As(res.err, &ne) && ne.Timeout() {
				t.Errorf("the connection stayed open after %v: a tunnel?", res.codes)
			}
			if len(res.codes) == 0 {
				t.Fatalf("no response (%v)", res.err)
			}
			want := tc.code
			if want == 0 {
				want = http.StatusMethodNotAllowed
			}
			if res.codes[0] != want {
				t.Errorf("first status %d, want %d", res.codes[0], want)
			}
			for i, c := range res.codes[1:] {
				if c != http.StatusNotFound {
					t.Errorf("response %d to the bytes after CONNECT: status %d, want 404 (read as a request, /x is not routed)", i+2, c)
				}
			}
			env.received(t, before, "")
		})
	}
}
