package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestInterimAnswers: an upstream's 103 Early Hints reach the client with the upstream's headers
// alone, and the final answer (or the error answer after a 103) keeps the headers the gateway set
// before forwarding: Go's ReverseProxy sends a 1xx with every header the writer holds and then
// clears them all.
func TestInterimAnswers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Link", "</b.js>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		if r.URL.Path == "/cut" {
			// The upstream dies after its hints: the client gets the gateway's 502.
			panic(http.ErrAbortHandler)
		}
		w.Header().Del("Link")
		w.Header().Set("X-Up", "1")
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	api := gt.Keyed(gt.API("hints", "/hints/", up.URL))
	api.CORS = apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://app.example.com"}}
	// Without CORS, no response step runs before the upstream's headers are moved in.
	plain := gt.Keyed(gt.API("plain", "/plain/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api, plain}})
	key := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 1, QuotaMax: 50, QuotaRenewalRate: 3600,
		AccessRights: map[string]apidef.AccessDefinition{"hints": {APIID: "hints"}, "plain": {APIID: "plain"}}})

	get := func(path string) (*http.Response, []textproto.MIMEHeader) {
		t.Helper()
		var mu sync.Mutex
		var interim []textproto.MIMEHeader
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			interim = append(interim, h)
			return nil
		}}
		req, err := http.NewRequest("GET", g.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		req.Header.Set("Authorization", key)
		req.Header.Set("Origin", "https://app.example.com")
		res, err := g.Client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		return res, interim
	}
	limits := []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining"}
	cors := append([]string{"Access-Control-Allow-Origin", "Vary"}, limits...)
	for _, c := range []struct {
		path     string
		code     int
		gateways []string
	}{{"/hints/ok", 200, cors}, {"/hints/cut", 502, cors}, {"/plain/ok", 200, limits}, {"/plain/cut", 502, limits}} {
		gateways := c.gateways
		res, interim := get(c.path)
		if res.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", c.path, res.StatusCode, c.code)
		}
		for _, name := range gateways {
			if res.Header.Get(name) == "" {
				t.Errorf("%s: the final answer (%d) lost the gateway's %s: %v", c.path, res.StatusCode, name, res.Header)
			}
		}
		if len(interim) != 2 {
			t.Fatalf("%s: %d interim answers, want 2", c.path, len(interim))
		}
		for i, h := range interim {
			if h.Get("Link") == "" {
				t.Errorf("%s: 103 #%d without the upstream's Link: %v", c.path, i, h)
			}
			for _, name := range gateways {
				if h.Get(name) != "" {
					t.Errorf("%s: 103 #%d carries the gateway's %s: %v", c.path, i, name, h)
				}
			}
		}
		if c.code == 200 && (res.Header.Get("X-Up") != "1" || res.Header.Get("Link") != "") {
			t.Errorf("%s: the final answer's own headers: %v", c.path, res.Header)
		}
	}
}
