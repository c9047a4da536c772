package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// TestSetURLIsStdlib: setURL leaves the outbound request as httputil's ProxyRequest.SetURL
// does, the path aside (Tyk's JoinPath, given, with RawPath cleared): scheme, host, the queries
// joined the same way, the Host header left to follow the URL.
func TestSetURLIsStdlib(t *testing.T) {
	targets := []string{"http://up:8080", "http://up:8080/base/", "https://up/base?fixed=1", "http://up?a=1&b=2", "http://[::1]:9/x"}
	requests := []string{"/p", "/p?q=1", "/p?q=1&r=2", "/p%2Fq?x", "/?"}
	for _, ts := range targets {
		target, err := url.Parse(ts)
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range requests {
			in := httptest.NewRequest(http.MethodGet, "http://client.example"+rs, nil)
			want := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
			want.SetURL(target)
			got := in.Clone(in.Context())
			setURL(got, target, "/joined")
			w, g := *want.Out.URL, *got.URL
			// The path is the one given, and RawPath cleared, as rewrite did after SetURL.
			w.Path, w.RawPath, g.Path, g.RawPath = "", "", "", ""
			if w != g || want.Out.Host != got.Host {
				t.Errorf("target %s, request %s: URL %#v Host %q; SetURL gives %#v Host %q", ts, rs, g, got.Host, w, want.Out.Host)
			}
			if got.URL.Path != "/joined" || got.URL.RawPath != "" {
				t.Errorf("target %s, request %s: path %q raw %q, want the one given", ts, rs, got.URL.Path, got.URL.RawPath)
			}
		}
	}
}

// TestJoinPathAllocs: joining under a target without a path returns the forwarded path itself
// when it is already in shape, rather than a new string per request.
func TestJoinPathAllocs(t *testing.T) {
	sub := "/users/42"
	if n := testing.AllocsPerRun(100, func() {
		if JoinPath("", sub, false) != sub {
			t.Fatal("not the forwarded path")
		}
	}); n != 0 {
		t.Errorf("JoinPath with an empty target path allocates %.0f times, want 0", n)
	}
}
