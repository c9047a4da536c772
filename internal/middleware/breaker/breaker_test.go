package breaker

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// step is one request through the breaker: the status the upstream would answer (0: the client
// went away) and the status the client must get.
type step struct {
	upstream int
	want     int
	advance  time.Duration // before the request
}

func TestBreaker(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		steps []step
	}{
		{name: "trips at the threshold over the last samples", opts: Options{Threshold: 0.5, Samples: 4, Wait: 10 * time.Second},
			steps: []step{{200, 200, 0}, {500, 500, 0}, {200, 200, 0}, {502, 502, 0}, {200, 503, 0}, {200, 503, 9 * time.Second}}},
		{name: "not before samples requests", opts: Options{Threshold: 0.5, Samples: 4, Wait: 10 * time.Second},
			steps: []step{{500, 500, 0}, {500, 500, 0}, {500, 500, 0}, {500, 500, 0}, {200, 503, 0}}},
		{name: "old outcomes slide out", opts: Options{Threshold: 0.5, Samples: 4, Wait: 10 * time.Second},
			steps: []step{{500, 500, 0}, {200, 200, 0}, {200, 200, 0}, {200, 200, 0}, {200, 200, 0}, {500, 500, 0}, {200, 200, 0}, {200, 200, 0}, {500, 500, 0}, {200, 503, 0}}},
		{name: "4xx is not a failure", opts: Options{Threshold: 0.5, Samples: 2, Wait: time.Second},
			steps: []step{{404, 404, 0}, {429, 429, 0}, {200, 200, 0}}},
		{name: "client gone counts neither way", opts: Options{Threshold: 1, Samples: 2, Wait: time.Second},
			steps: []step{{500, 500, 0}, {0, 0, 0}, {500, 500, 0}, {200, 503, 0}}},
		{name: "half-open probe fails then succeeds", opts: Options{Threshold: 1, Samples: 1, Wait: 10 * time.Second},
			steps: []step{{500, 500, 0}, {200, 503, 0}, {500, 500, 10 * time.Second}, {200, 503, 0}, {200, 200, 10 * time.Second}, {200, 200, 0}}},
		{name: "half-open disabled: closes after the wait", opts: Options{Threshold: 1, Samples: 1, Wait: 10 * time.Second, NoHalfOpen: true},
			steps: []step{{500, 500, 0}, {200, 503, 0}, {500, 500, 10 * time.Second}, {200, 503, 0}, {200, 200, 10 * time.Second}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1000, 0)}
			tc.opts.Now = clk.now
			b := New(tc.opts)
			for i, s := range tc.steps {
				clk.t = clk.t.Add(s.advance)
				w := httptest.NewRecorder()
				called := false
				b.Serve(w, nil, func(w http.ResponseWriter) {
					called = true
					if s.upstream != 0 {
						w.WriteHeader(s.upstream)
					}
				})
				got := w.Code
				if !w.Flushed && w.Body.Len() == 0 && s.upstream == 0 && called {
					got = 0
				}
				if got != s.want {
					t.Fatalf("request %d: status %d, want %d", i, got, s.want)
				}
				if called == (s.want == 503) {
					t.Fatalf("request %d: upstream called = %v with status %d", i, called, s.want)
				}
			}
		})
	}
}

func TestHalfOpenLetsOneProbe(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	b := New(Options{Threshold: 1, Samples: 1, Wait: time.Second, Now: clk.now})
	b.Serve(httptest.NewRecorder(), nil, func(w http.ResponseWriter) { w.WriteHeader(500) })
	clk.t = clk.t.Add(time.Second)
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.Serve(httptest.NewRecorder(), nil, func(w http.ResponseWriter) {
			close(started)
			<-release
			w.WriteHeader(200)
		})
	}()
	<-started
	w := httptest.NewRecorder()
	b.Serve(w, nil, func(http.ResponseWriter) { t.Error("a second request went through while the probe was under way") })
	if w.Code != 503 {
		t.Errorf("second request during the probe = %d, want 503", w.Code)
	}
	close(release)
	wg.Wait()
	w = httptest.NewRecorder()
	b.Serve(w, nil, func(w http.ResponseWriter) { w.WriteHeader(200) })
	if w.Code != 200 {
		t.Errorf("after a good probe = %d, want 200", w.Code)
	}
}

// TestBreakerConcurrent serves through one breaker from 8 goroutines, half the answers failures:
// (with -race) no data race; every request is either forwarded or refused with 503, never
// both or neither; and the breaker opens.
func TestBreakerConcurrent(t *testing.T) {
	b := New(Options{Threshold: 0.5, Samples: 10, Wait: time.Millisecond})
	var wg sync.WaitGroup
	var forwarded, refused atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				rec := httptest.NewRecorder()
				called := false
				b.Serve(rec, nil, func(w http.ResponseWriter) {
					called = true
					forwarded.Add(1)
					w.WriteHeader(200 + 300*((i+j)%2))
				})
				if !called {
					if rec.Code != http.StatusServiceUnavailable {
						t.Errorf("a request not forwarded got %d, want 503", rec.Code)
					}
					refused.Add(1)
				}
			}
		}(i)
	}
	wg.Wait()
	if f, r := forwarded.Load(), refused.Load(); f+r != 1600 || r == 0 || f < 10 {
		t.Errorf("forwarded %d, refused %d: want 1600 in all, the breaker opening after its 10 samples", f, r)
	}
}

func TestCompile(t *testing.T) {
	def := &apidef.APIDefinition{APIID: "a", VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{CircuitBreaker: []apidef.CircuitBreakerMeta{
			{Path: "/off", Method: "GET", Disabled: true, ThresholdPercent: 1, Samples: 1, ReturnToServiceAfter: 1},
			{Path: "/reports/{id}", Method: "get", ThresholdPercent: 1, Samples: 1, ReturnToServiceAfter: 1},
		}}},
		"v2": {ExtendedPaths: apidef.ExtendedPathsSet{CircuitBreaker: []apidef.CircuitBreakerMeta{
			{Path: "/x", Method: "GET", ThresholdPercent: 1, Samples: 1, ReturnToServiceAfter: 1},
		}}},
	}}}
	s, err := Compile(def, nil, nil, nil)
	if err != nil || s == nil {
		t.Fatalf("Compile = %v, %v", s, err)
	}
	if s.For("v1", "GET", endpoint.Readings("/v2/reports/7")) == nil {
		t.Error("no breaker for GET /v2/reports/7 (Tyk matches anywhere in the path)")
	}
	if s.For("v1", "HEAD", endpoint.Readings("/reports/7")) != s.For("v1", "GET", endpoint.Readings("/reports/7")) {
		t.Error("a HEAD no entry names does not share its GET's breaker")
	}
	for _, c := range []struct{ v, m, p string }{{"v1", "POST", "/reports/7"}, {"v1", "GET", "/off"}, {"v2", "GET", "/x"}} {
		if s.For(c.v, c.m, endpoint.Readings(c.p)) != nil {
			t.Errorf("breaker for %s %s %s, want none", c.v, c.m, c.p)
		}
	}
	if s, err := Compile(&apidef.APIDefinition{}, nil, nil, nil); s != nil || err != nil {
		t.Errorf("Compile(empty) = %v, %v, want nil, nil", s, err)
	}
}
