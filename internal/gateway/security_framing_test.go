package gateway_test

// Obs-fold (S16), a key in a query that parses two ways (S18) and upstream redirects (S39).

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// TestSecurityObsFold covers the obs-fold rows of S16: a header line starting with a space or a
// tab, which RFC 9112 5.2 calls obsolete line folding. The server must either refuse the request
// with 400 or replace the fold by spaces before reading the value. Go does the second, before any
// handler runs (net/textproto joins the lines with one space), so the gateway cannot tell a
// folded value from one sent on one line: what this test locks is that the fold never makes a
// header of its own. A fold that spells "Transfer-Encoding: chunked" or "Content-Length: 0" stays
// inside the previous header's value, the request is framed by its real Content-Length, the
// upstream receives that value on one line and no second framing header, and the request
// pipelined after the body is served as the separate request it is, once. A fold inside a framing
// header itself, or before the first header, is refused (400, or 501 for the transfer coding) and
// the connection closed, the pipelined request never served.
//
// Refusing every fold with 400, as AWS http-desync-guardian classes it, needs the raw header
// bytes, which net/http does not give a handler; it is not done (docs/coverage.md, S16).
func TestSecurityObsFold(t *testing.T) {
	env := startSecGateway(t)
	second := func(row string) string {
		return "GET /public/" + row + "-next HTTP/1.1\r\nHost: " + secHost + "\r\nConnection: close\r\n\r\n"
	}
	tests := []struct {
		name string
		// head follows "POST /public/<row> HTTP/1.1\r\n": header lines, the blank line and body.
		head string
		// codes are the statuses of the responses, the second being the pipelined request's.
		codes []int
		// folded is the header A must receive with its one-line value; body its body.
		folded, value, body string
	}{
		{name: "fold spelling Transfer-Encoding after a tab",
			head:   "Host: " + secHost + "\r\nX-A: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
			codes:  []int{200, 200},
			folded: "X-A", value: "a Transfer-Encoding: chunked", body: "abc"},
		{name: "fold spelling Content-Length after a space",
			head:   "Host: " + secHost + "\r\nX-A: a\r\n Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
			codes:  []int{200, 200},
			folded: "X-A", value: "a Content-Length: 0", body: "hello"},
		{name: "several folded lines",
			head:   "Host: " + secHost + "\r\nX-A: a\r\n b\r\n\t \tc\r\nContent-Length: 2\r\n\r\nhi",
			codes:  []int{200, 200},
			folded: "X-A", value: "a b c", body: "hi"},
		{name: "fold continuing Content-Length", head: "Host: " + secHost + "\r\nContent-Length: 3\r\n 0\r\n\r\nabc",
			codes: []int{400}},
		{name: "fold continuing Transfer-Encoding", head: "Host: " + secHost + "\r\nTransfer-Encoding: chunked\r\n , identity\r\n\r\n0\r\n\r\n",
			codes: []int{501}},
		{name: "space before the first header line", head: " Host: " + secHost + "\r\nContent-Length: 3\r\n\r\nabc",
			codes: []int{400}},
		{name: "tab before the first header line", head: "\tX-A: a\r\nHost: " + secHost + "\r\nContent-Length: 3\r\n\r\nabc",
			codes: []int{400}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := fmt.Sprintf("fold%d", i)
			before := env.counts()
			res, err := secExchange(env.g.Server.Addr(), "POST /public/"+row+" HTTP/1.1\r\n"+tc.head+second(row))
			if err != nil {
				t.Fatalf("sending: %v", err)
			}
			if !reflect.DeepEqual(res.codes, tc.codes) {
				t.Errorf("responses %v, want %v", res.codes, tc.codes)
			}
			if !res.closed {
				t.Errorf("the connection did not end with a close: %v", res.err)
			}
			if len(tc.codes) == 1 {
				env.received(t, before, "")
				return
			}
			got := env.a.Requests()[before["A"]:]
			if len(got) != 2 || got[0].Path != "/"+row || got[1].Path != "/"+row+"-next" {
				paths := make([]string, len(got))
				for i, s := range got {
					paths[i] = s.Method + " " + s.Path
				}
				t.Fatalf("A received %q, want POST /%s then GET /%s-next", paths, row, row)
			}
			first, next := got[0], got[1]
			if first.Headers[tc.folded] != tc.value {
				t.Errorf("A received %s %q, want %q", tc.folded, first.Headers[tc.folded], tc.value)
			}
			if te, ok := first.Headers["Transfer-Encoding"]; ok {
				t.Errorf("A received Transfer-Encoding %q", te)
			}
			if first.Body != tc.body || first.BodyLength != len(tc.body) {
				t.Errorf("A received body %q (%d bytes), want %q", first.Body, first.BodyLength, tc.body)
			}
			if next.Method != http.MethodGet || next.BodyLength != 0 {
				t.Errorf("A received the pipelined request as %s with a %d-byte body", next.Method, next.BodyLength)
			}
			if n := len(env.b.Requests()) - before["B"]; n != 0 {
				t.Errorf("B received %d requests", n)
			}
		})
	}
}

// TestSecurityQueryKey covers S18 for a key sent in the query (use_param, param "tok"), combined
// with ';' and bad escapes, on an API that forwards the query (q) and one that strips the key
// (strip_auth_data, qs). Since Go 1.17 a pair holding ';' or a bad escape is dropped by
// url.ParseQuery, which is what authentication reads (r.URL.Query()), and ReverseProxy re-encodes a
// query holding either from what ParseQuery kept. The invariants, for every row:
//
//   - the request is let in exactly when the first "tok" ParseQuery finds is the key;
//   - the query the upstream receives parses without error to exactly what the gateway parsed
//     (the key removed on qs): nothing the checks did not see reaches the upstream, and nothing
//     they saw arrives differently;
//   - a pre plugin that reads the query with r.URL.Query() (tykcompat's MyPluginPre reports
//     r.URL.RequestURI() in X-Initial-URI) sees what the upstream parses; its raw RawQuery is
//     the client's bytes, ';' and bad escapes included.
//
// The upstream's raw query is checked too, so that a change in how it is re-encoded is seen.
func TestSecurityQueryKey(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	q := gt.Keyed(gt.API("q", "/q/", up.URL))
	q.Auth.UseParam, q.Auth.ParamName = true, "tok"
	q.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginPre")}
	qs := gt.Keyed(gt.API("qs", "/qs/", up.URL))
	qs.Auth.UseParam, qs.Auth.ParamName, qs.StripAuthData = true, "tok", true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{q, qs}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("q", "qs")})
	// other is a real key without access to q or qs: a request it authenticates is refused.
	other := g.CreateKey(&apidef.SessionState{AccessRights: access("elsewhere")})
	escKey := fmt.Sprintf("%%%02X", key[0]) + key[1:]

	tests := []struct {
		name, query string
		ok          bool   // let in
		wantQ       string // the raw query the upstream of q receives
		wantQS      string // the raw query the upstream of qs receives
	}{
		{name: "control: key alone", query: "tok={K}", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "control: no key", query: "a=1"},
		{name: "semicolon after the key", query: "tok={K};x=1"},
		{name: "semicolon before the key", query: "x=1;tok={K}"},
		{name: "semicolon as the separator before the key", query: "a=1&x=1;tok={K}"},
		{name: "key behind a semicolon pair", query: "tok={O};&tok={K}", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "bad escape in the key", query: "tok={K}%zz"},
		{name: "truncated escape after the key", query: "tok={K}%4"},
		{name: "bad escape before the key", query: "tok=%zz&tok={K}", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "bad escape after the key", query: "tok={K}&tok=%zz", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "bad escape in another pair", query: "tok={K}&x=%zz&y=1", ok: true, wantQ: "tok={K}&y=1", wantQS: "y=1"},
		{name: "bad escape in a name", query: "%zz=1&tok={K}", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "semicolon pair after the key", query: "tok={K}&a=1;b=2&c=3", ok: true, wantQ: "c=3&tok={K}", wantQS: "c=3"},
		{name: "escaped parameter name", query: "to%6B={K}&a=%20", ok: true, wantQ: "to%6B={K}&a=%20", wantQS: "a=%20"},
		{name: "escaped key", query: "tok={E}", ok: true, wantQ: "tok={E}", wantQS: ""},
		{name: "escaped parameter name with a semicolon pair", query: "to%6B={K}&a=1;b", ok: true, wantQ: "tok={K}", wantQS: ""},
		{name: "plus in the key decodes to a space", query: "tok={K}+"},
		{name: "first of two keys is used", query: "tok={O}&tok={K}"},
		{name: "second key rides along", query: "tok={K}&tok={O}", ok: true, wantQ: "tok={K}&tok={O}", wantQS: ""},
		{name: "empty key first", query: "tok=&tok={K}"},
		{name: "name without value first", query: "tok&tok={K}"},
		{name: "upper-case name is another parameter", query: "TOK={K}"},
	}
	fill := func(s string) string {
		return strings.NewReplacer("{K}", key, "{O}", other, "{E}", escKey).Replace(s)
	}
	for _, tc := range tests {
		for _, api := range []string{"q", "qs"} {
			t.Run(tc.name+" on "+api, func(t *testing.T) {
				query := fill(tc.query)
				before := len(up.Requests())
				r := g.Do(gt.Case{Path: "/" + api + "/x?" + query})
				got := up.Requests()[before:]

				sent, _ := url.ParseQuery(query) // what r.URL.Query() gave the auth step
				if authOK := sent.Get("tok") == key; authOK != tc.ok {
					t.Fatalf("test bug: ParseQuery gives tok=%q for %q", sent.Get("tok"), query)
				}
				if !tc.ok {
					if r.Code != http.StatusUnauthorized && r.Code != http.StatusForbidden {
						t.Errorf("status %d, want 401 or 403; body: %s", r.Code, r.Body)
					}
					if len(got) != 0 {
						t.Errorf("the upstream received %s", got[0].URI)
					}
					return
				}
				if r.Code != http.StatusOK || len(got) != 1 {
					t.Fatalf("status %d, %d upstream requests; want 200 and 1; body: %s", r.Code, len(got), r.Body)
				}
				seen := got[0]
				want := fill(tc.wantQ)
				if api == "qs" {
					want = fill(tc.wantQS)
					sent.Del("tok")
				}
				if seen.Query != want {
					t.Errorf("the upstream received query %q, want %q", seen.Query, want)
				}
				parsed, err := url.ParseQuery(seen.Query)
				if err != nil {
					t.Errorf("the upstream's query %q does not parse: %v", seen.Query, err)
				}
				if !reflect.DeepEqual(parsed, sent) {
					t.Errorf("the upstream's query parses to %v, the gateway's to %v", parsed, sent)
				}
				if api != "q" {
					return
				}
				pu, err := url.ParseRequestURI(r.Header.Get("X-Initial-URI"))
				if err != nil {
					t.Fatalf("X-Initial-URI %q: %v", r.Header.Get("X-Initial-URI"), err)
				}
				if pu.RawQuery != query {
					t.Errorf("the pre plugin saw the raw query %q, want the client's %q", pu.RawQuery, query)
				}
				if pq := pu.Query(); !reflect.DeepEqual(pq, parsed) {
					t.Errorf("the pre plugin's r.URL.Query() is %v, the upstream's %v", pq, parsed)
				}
			})
		}
	}
}

// TestProxyPassesRedirects covers S39: the proxy hands an upstream's redirect to the client as it
// is (status, Location, body) and never follows it itself: the redirect target, another recording
// server on loopback standing for an internal service, receives nothing, whatever the status and
// method.
func TestProxyPassesRedirects(t *testing.T) {
	target := gt.NewUpstream(t)
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		mu.Unlock()
		loc := r.URL.Query().Get("to")
		var code int
		fmt.Sscan(r.URL.Query().Get("code"), &code)
		w.Header().Set("Location", loc)
		w.Header().Set("Set-Cookie", "s=1; Path=/")
		w.WriteHeader(code)
		io.WriteString(w, "moved")
	}))
	t.Cleanup(up.Close)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("r", "/r/", up.URL)}})

	internal := target.URL + "/internal/secret?x=1"
	tests := []struct {
		name, method, location string
		code                   int
	}{
		{name: "301 to an internal port", method: "GET", location: internal, code: 301},
		{name: "302 to an internal port", method: "GET", location: internal, code: 302},
		{name: "303 to an internal port", method: "POST", location: internal, code: 303},
		{name: "307 POST to an internal port", method: "POST", location: internal, code: 307},
		{name: "308 PUT to an internal port", method: "PUT", location: internal, code: 308},
		{name: "302 relative", method: "GET", location: "/internal/secret", code: 302},
		{name: "302 to the metadata address", method: "GET", location: "http://169.254.169.254/latest/meta-data/", code: 302},
		{name: "302 to a gateway path", method: "GET", location: g.URL + "/r/loop", code: 302},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := len(seen)
			mu.Unlock()
			path := "/r/go?code=" + fmt.Sprint(tc.code) + "&to=" + url.QueryEscape(tc.location)
			body := ""
			if tc.method != "GET" {
				body = "payload"
			}
			r := g.Do(gt.Case{Method: tc.method, Path: path, Body: body, Headers: map[string]string{"Authorization": "client-credential"}})
			gt.Check(t, gt.Case{Code: tc.code, BodyEquals: "moved", HeadersMatch: map[string]string{
				"Location": tc.location, "Set-Cookie": "s=1; Path=/"}}, r)
			mu.Lock()
			got := append([]string(nil), seen[before:]...)
			mu.Unlock()
			if want := tc.method + " " + strings.TrimPrefix(path, "/r") + " " + body; len(got) != 1 || got[0] != want {
				t.Errorf("the upstream received %q, want exactly %q", got, want)
			}
			if reqs := target.Requests(); len(reqs) != 0 {
				t.Errorf("the redirect target received %d requests, first %s %s", len(reqs), reqs[0].Method, reqs[0].URI)
			}
		})
	}
}
