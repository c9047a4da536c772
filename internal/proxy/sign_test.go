package proxy_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// TestUpstreamSign: Sign sees the request as it leaves (its URL and the proxy's own headers),
// what it sets reaches the upstream, and a request it fails is cut off, never sent unsigned.
func TestUpstreamSign(t *testing.T) {
	var got atomic.Value
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		got.Store(r.Header.Get("X-Sig"))
	}))
	t.Cleanup(up.Close)
	var fail atomic.Bool
	u, err := proxy.New(proxy.Options{
		APIID: "signed", Targets: []string{up.URL + "/base"}, Via: "1.1 gw",
		Credentials: proxy.Header{Name: "X-Up-Auth", Value: "Basic x"},
		Transport:   http.DefaultTransport,
		Logger:      slog.New(slog.DiscardHandler),
		Sign: func(r *http.Request) error {
			if fail.Load() {
				return errors.New("cannot sign")
			}
			r.Header.Set("X-Sig", r.URL.RequestURI()+" "+r.Header.Get("X-Forwarded-For")+" "+r.Header.Get("Via")+" "+r.Header.Get("X-Up-Auth"))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.ServeHTTP(w, reqctx.With(r, &reqctx.State{Gateway: &chain.Context{ForwardPath: r.URL.Path}}))
	}))
	t.Cleanup(gw.Close)

	res, err := http.Get(gw.URL + "/p?q=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := "/base/p?q=1 127.0.0.1 1.1 gw Basic x"; got.Load() != want {
		t.Errorf("the upstream got X-Sig %q, want %q", got.Load(), want)
	}

	fail.Store(true)
	if res, err := http.Get(gw.URL + "/p"); err == nil {
		res.Body.Close()
		t.Errorf("a request Sign failed was answered %d; want it cut off", res.StatusCode)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the upstream got %d requests, want only the signed one", n)
	}
}
