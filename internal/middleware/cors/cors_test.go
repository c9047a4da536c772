package cors

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
)

func TestPolicy(t *testing.T) {
	strict := apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://App.example", "https://*.example.org"},
		AllowedMethods: []string{"get", "PUT"}, AllowedHeaders: []string{"X-Custom"}, ExposedHeaders: []string{"x-request-id", "x-b"},
		AllowCredentials: true, MaxAge: 60}
	tests := []struct {
		name     string
		cfg      apidef.CORSConfig
		method   string
		headers  map[string]string
		wantErr  error // nil: the chain goes on
		wantCode int   // written status when the step answered
		want     map[string]string
		absent   []string
	}{
		{name: "preflight allowed", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "put", "Access-Control-Request-Headers": "x-custom"},
			wantErr: chain.ErrHandled, wantCode: 204,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "PUT",
				"Access-Control-Allow-Headers": "x-custom", "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "60"}},
		{name: "preflight Origin header always allowed", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "origin,X-CUSTOM"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Allow-Origin": "https://app.example"}},
		{name: "preflight wildcard", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://a.b.example.org", "Access-Control-Request-Method": "GET"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Allow-Origin": "https://a.b.example.org"},
			absent: []string{"Access-Control-Allow-Headers"}},
		{name: "wildcard needs its prefix and suffix", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Origin": "http://a.example.org", "Access-Control-Request-Method": "GET"},
			wantErr: chain.ErrHandled, wantCode: 204, absent: []string{"Access-Control-Allow-Origin"}},
		{name: "preflight without Origin", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Access-Control-Request-Method": "GET"},
			wantErr: chain.ErrHandled, wantCode: 204, absent: []string{"Access-Control-Allow-Origin"},
			want: map[string]string{"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}},
		{name: "preflight OPTIONS method always allowed", cfg: strict, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "OPTIONS"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Allow-Methods": "OPTIONS"}},
		{name: "plain OPTIONS stops", cfg: strict, method: "OPTIONS", headers: map[string]string{"Origin": "https://app.example"},
			wantErr: chain.ErrHandled, wantCode: 200, absent: []string{"Access-Control-Allow-Origin"}},
		{name: "passthrough", cfg: apidef.CORSConfig{Enable: true, OptionsPassthrough: true}, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
			wantErr: chain.ErrForward, absent: []string{"Access-Control-Allow-Origin"}},
		{name: "actual allowed", cfg: strict, method: "GET", headers: map[string]string{"Origin": "https://APP.example"},
			want: map[string]string{"Access-Control-Allow-Origin": "https://APP.example", "Access-Control-Expose-Headers": "X-Request-Id, X-B",
				"Access-Control-Allow-Credentials": "true", "Vary": "Origin"},
			absent: []string{"Access-Control-Max-Age", "Access-Control-Allow-Methods"}},
		{name: "actual method not allowed", cfg: strict, method: "POST", headers: map[string]string{"Origin": "https://app.example"},
			absent: []string{"Access-Control-Allow-Origin"}},
		{name: "actual origin not allowed", cfg: strict, method: "GET", headers: map[string]string{"Origin": "https://evil.example"},
			absent: []string{"Access-Control-Allow-Origin"}, want: map[string]string{"Vary": "Origin"}},
		{name: "defaults: any origin, star", cfg: apidef.CORSConfig{Enable: true}, method: "HEAD", headers: map[string]string{"Origin": "https://x.example"},
			want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "star with credentials echoes the origin", cfg: apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"*"}, AllowCredentials: true},
			method: "GET", headers: map[string]string{"Origin": "https://x.example"}, want: map[string]string{"Access-Control-Allow-Origin": "https://x.example"}},
		{name: "defaults: DELETE not allowed", cfg: apidef.CORSConfig{Enable: true}, method: "DELETE", headers: map[string]string{"Origin": "https://x.example"},
			absent: []string{"Access-Control-Allow-Origin"}},
		{name: "default headers", cfg: apidef.CORSConfig{Enable: true}, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-requested-with, accept"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "content-type, x-requested-with, accept"}},
		{name: "default headers refuse others", cfg: apidef.CORSConfig{Enable: true}, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
			wantErr: chain.ErrHandled, wantCode: 204, absent: []string{"Access-Control-Allow-Origin"}},
		{name: "any header", cfg: apidef.CORSConfig{Enable: true, AllowedHeaders: []string{"*"}}, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Allow-Headers": "authorization"}},
		{name: "negative max_age", cfg: apidef.CORSConfig{Enable: true, MaxAge: -1}, method: "OPTIONS",
			headers: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
			wantErr: chain.ErrHandled, wantCode: 204, want: map[string]string{"Access-Control-Max-Age": "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.cfg, "api", nil)
			r := httptest.NewRequest(tc.method, "/x", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			c := &chain.Context{}
			err := p.Step().Run(w, r, c)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("step = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCode != 0 && w.Code != tc.wantCode {
				t.Errorf("status = %d, want %d", w.Code, tc.wantCode)
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := w.Header()[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
			// Only an OPTIONS request passed through lets the upstream's CORS headers reach the
			// client.
			if passed := errors.Is(tc.wantErr, chain.ErrForward); c.CORSPassthrough != passed {
				t.Errorf("c.CORSPassthrough = %v, want %v", c.CORSPassthrough, passed)
			}
		})
	}
}

func TestActualAllocatesNothingWithoutOrigin(t *testing.T) {
	p := New(apidef.CORSConfig{Enable: true, AllowedOrigins: []string{"https://app.example"}}, "api", nil)
	r := httptest.NewRequest("GET", "/x", nil)
	h := http.Header{}
	w := headerOnly{h}
	c := &chain.Context{}
	allocs := testing.AllocsPerRun(100, func() {
		delete(h, "Vary")
		_ = p.run(w, r, c)
	})
	if allocs != 0 {
		t.Errorf("a request without Origin allocates %v times", allocs)
	}
}

type headerOnly struct{ h http.Header }

func (w headerOnly) Header() http.Header       { return w.h }
func (headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (headerOnly) WriteHeader(int)             {}

func TestIsCORSHeader(t *testing.T) {
	for name, want := range map[string]bool{"Access-Control-Allow-Origin": true, "access-control-max-age": true, "Access-Control-": false, "X-Access-Control-A": false, "Vary": false} {
		if got := IsCORSHeader(name); got != want {
			t.Errorf("IsCORSHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
