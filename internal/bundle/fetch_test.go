package bundle_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bundle"
)

// newFetcher is a Fetcher with test-sized defaults.
func newFetcher(t *testing.T, o bundle.FetchOptions) *bundle.Fetcher {
	t.Helper()
	if o.ProgressTimeout == 0 {
		o.ProgressTimeout = 5 * time.Second
	}
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	f, err := bundle.NewFetcher(o)
	if err != nil {
		t.Fatalf("NewFetcher(%+v): %v", o, err)
	}
	return f
}

// fetch downloads name with FetchFile into a directory of its own and returns the bundle's
// bytes; it checks that the size FetchFile gives is the file's, and that a failed download
// leaves nothing behind.
func fetch(t *testing.T, f *bundle.Fetcher, ctx context.Context, name string) ([]byte, error) {
	dir := t.TempDir()
	file, size, err := f.FetchFile(ctx, dir, name)
	if err != nil {
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("a failed download of %s left %d files behind", name, len(left))
		}
		return nil, err
	}
	defer func() {
		file.Close()
		os.Remove(file.Name())
	}()
	data, err := io.ReadAll(file)
	if err == nil && int64(len(data)) != size {
		t.Errorf("FetchFile(%s) gave size %d for %d bytes", name, size, len(data))
	}
	return data, err
}

// countingServer answers with h and counts requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFetchSuccess(t *testing.T) {
	payload := bytes.Repeat([]byte("bundle"), 1000)
	var gotPath atomic.Value
	srv, n := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		w.Write(payload)
	})
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL + "/bundles/", Attempts: 3})
	data, err := fetch(t, f, context.Background(), "b.zip")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(data, payload) {
		t.Errorf("Fetch returned %d bytes, want %d", len(data), len(payload))
	}
	if p := gotPath.Load(); p != "/bundles/b.zip" {
		t.Errorf("request path = %v, want /bundles/b.zip", p)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestFetchStatusRetries(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		attempts int
		want     int64 // requests made
	}{
		{"404 is not retried", http.StatusNotFound, 4, 1},
		{"403 is not retried", http.StatusForbidden, 4, 1},
		{"500 is retried up to Attempts", http.StatusInternalServerError, 3, 3},
		{"503 is retried up to Attempts", http.StatusServiceUnavailable, 4, 4},
		{"429 is retried", http.StatusTooManyRequests, 2, 2},
		{"one attempt", http.StatusBadGateway, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			})
			f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: tt.attempts})
			_, err := fetch(t, f, context.Background(), "b.zip")
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("Fetch = %v, want an error naming status %d", err, tt.status)
			}
			if got := n.Load(); got != tt.want {
				t.Errorf("%d requests, want %d", got, tt.want)
			}
		})
	}
}

func TestFetchRetryBacksOff(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv, n := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		fail := len(times) <= 2
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte("third time lucky"))
	})
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 4, Backoff: 30 * time.Millisecond})
	data, err := fetch(t, f, context.Background(), "b.zip")
	if err != nil || string(data) != "third time lucky" {
		t.Fatalf("Fetch = %q, %v", data, err)
	}
	if n.Load() != 3 {
		t.Fatalf("%d requests, want 3", n.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if d := times[1].Sub(times[0]); d < 30*time.Millisecond {
		t.Errorf("first wait %v, want at least the backoff 30ms", d)
	}
	if d := times[2].Sub(times[1]); d < 60*time.Millisecond {
		t.Errorf("second wait %v, want at least the doubled backoff 60ms", d)
	}
}

func TestFetchCancelDuringBackoff(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 5, Backoff: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fetch(t, f, ctx, "b.zip")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Fetch = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Fetch took %v after its context ended", d)
	}
}

// TestFetchSlowServer: a server that does not answer is cut after ProgressTimeout and tried
// again; one that trickles a byte now and then, never silent for ProgressTimeout, is cut by
// AttemptTimeout, and not tried again (the next attempt would take as long).
func TestFetchSlowServer(t *testing.T) {
	tests := []struct {
		name     string
		h        http.HandlerFunc
		requests int64
		reason   string
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}, 2, "sent nothing for 200ms while connecting and waiting for its answer"},
		{"headers, then a body that never ends", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			for i := 0; i < 300; i++ {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}, 1, "still under way after 600ms, the bound for one attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := countingServer(t, tt.h)
			f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 2,
				ProgressTimeout: 200 * time.Millisecond, AttemptTimeout: 600 * time.Millisecond})
			start := time.Now()
			_, err := fetch(t, f, context.Background(), "b.zip")
			d := time.Since(start)
			if err == nil {
				t.Fatal("Fetch from a server that never finishes succeeded")
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Fetch: %v; want the reason %q", err, tt.reason)
			}
			if d > 3*time.Second {
				t.Errorf("Fetch took %v; its bounds should end it well within 3s", d)
			}
			if n.Load() != tt.requests {
				t.Errorf("%d requests, want %d", n.Load(), tt.requests)
			}
		})
	}
}

// trickle serves payload in chunks of size bytes, pausing between them, and then (stall) holds
// the connection open without a byte more until the client goes away; sent counts what was
// written.
func trickle(payload []byte, size int, pause time.Duration, stallAfter int, sent *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		w.WriteHeader(http.StatusOK)
		for off := 0; off < len(payload); off += size {
			if stallAfter >= 0 && off >= stallAfter {
				<-r.Context().Done()
				return
			}
			chunk := payload[off:min(off+size, len(payload))]
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(pause):
			}
		}
	}
}

// TestFetchSlowButSteady: a bundle whose transfer takes several times ProgressTimeout, from a
// server that never pauses that long, downloads in one attempt. Before, the timeout bounded the
// whole transfer: such a bundle was cut at every attempt, and its API never served.
func TestFetchSlowButSteady(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4<<10) // 64 KiB
	var sent atomic.Int64
	// 32 chunks of 2 KiB, 60ms apart: about 2s, against a bound of 400ms for a pause.
	srv, n := countingServer(t, trickle(payload, 2<<10, 60*time.Millisecond, -1, &sent))
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 2, ProgressTimeout: 400 * time.Millisecond})
	start := time.Now()
	data, err := fetch(t, f, context.Background(), "b.zip")
	d := time.Since(start)
	if err != nil {
		t.Fatalf("Fetch of a bundle arriving steadily over %v: %v", d, err)
	}
	if !bytes.Equal(data, payload) {
		t.Fatalf("Fetch = %d bytes, want the %d of the bundle", len(data), len(payload))
	}
	if d < 1500*time.Millisecond {
		t.Errorf("the transfer took %v; the test needs it to last several times the 400ms bound", d)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

// TestFetchStall: a server that sends part of the bundle and then nothing, holding the
// connection open, is cut after ProgressTimeout, at each attempt, with the reason.
func TestFetchStall(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 64<<10)
	var sent atomic.Int64
	srv, n := countingServer(t, trickle(payload, 4<<10, 10*time.Millisecond, 16<<10, &sent))
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 2, ProgressTimeout: 300 * time.Millisecond})
	// The test's own bound: without the progress bound the download would wait for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := fetch(t, f, ctx, "b.zip")
	d := time.Since(start)
	if err == nil {
		t.Fatal("Fetch from a server that stalled succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("Fetch ended only with the test's deadline, after %v: %v", d, err)
	}
	want := "the bundle server sent nothing for 300ms after 16384 bytes of the bundle (bundle_download_progress_timeout)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Fetch: %v\nwant the reason %q", err, want)
	}
	if n.Load() != 2 || sent.Load() != 2*16<<10 {
		t.Errorf("%d requests, %d bytes sent; want 2 attempts of 16384 bytes each", n.Load(), sent.Load())
	}
	if d > 3*time.Second {
		t.Errorf("Fetch took %v; 2 attempts cut after 300ms of silence should end well within 3s", d)
	}
}

// TestFetchResponseHeaderCap: a bundle server whose answer carries more header than
// MaxResponseHeaderBytes is refused before its body is read; one just under it is served.
func TestFetchResponseHeaderCap(t *testing.T) {
	for _, c := range []struct {
		name string
		size int
		ok   bool
	}{
		{"under the cap", bundle.MaxResponseHeaderBytes - 1024, true},
		{"over the cap", bundle.MaxResponseHeaderBytes + 1024, false},
		{"a megabyte", 1 << 20, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Padding", strings.Repeat("p", c.size))
				io.WriteString(w, "bundle")
			})
			f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 1})
			data, err := fetch(t, f, context.Background(), "b.zip")
			if c.ok {
				if err != nil || string(data) != "bundle" {
					t.Fatalf("Fetch = %q, %v; want the bundle", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "headers exceeded") {
				t.Fatalf("Fetch = %d bytes, %v; want the answer's headers refused", len(data), err)
			}
		})
	}
}

func TestFetchSizeCap(t *testing.T) {
	const max = 64 << 10
	tests := []struct {
		name string
		h    http.HandlerFunc
		ok   bool
	}{
		{"exactly MaxBytes, with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(max))
			w.Write(make([]byte, max))
		}, true},
		{"exactly MaxBytes, chunked", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, max/2))
			w.(http.Flusher).Flush()
			w.Write(make([]byte, max/2))
		}, true},
		{"over MaxBytes, with Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(max+1))
			w.Write(make([]byte, max+1))
		}, false},
		{"a huge Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(int64(2)<<30))
			w.(http.Flusher).Flush()
		}, false},
		{"over MaxBytes, chunked without Content-Length", func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, max))
			w.(http.Flusher).Flush()
			w.Write([]byte("one more"))
		}, false},
		{"an endless stream", func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, 32<<10)
			for i := 0; i < 100000; i++ { // bounded: 3 GiB at most
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := countingServer(t, tt.h)
			f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL, Attempts: 3, MaxBytes: max})
			start := time.Now()
			data, err := fetch(t, f, context.Background(), "b.zip")
			if tt.ok {
				if err != nil || len(data) != max {
					t.Fatalf("Fetch = %d bytes, %v; want %d bytes", len(data), err, max)
				}
				return
			}
			if err == nil {
				t.Fatalf("Fetch accepted %d bytes over the limit of %d", len(data), max)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1 (an oversized bundle is not retried)", n.Load())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Fetch took %v", d)
			}
		})
	}
}

func TestFetchRedirects(t *testing.T) {
	other, otherHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("from elsewhere"))
	})
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bundles/same.zip":
			http.Redirect(w, r, "/store/same.zip", http.StatusFound)
		case "/store/same.zip":
			w.Write([]byte("same host"))
		case "/bundles/other.zip":
			http.Redirect(w, r, other.URL+"/other.zip", http.StatusFound)
		case "/bundles/loopback2.zip":
			http.Redirect(w, r, "http://127.0.0.2"+strings.TrimPrefix(srv.URL, "http://127.0.0.1")+"/x.zip", http.StatusFound)
		case "/bundles/localhost.zip":
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/store/same.zip", http.StatusFound)
		case "/bundles/https.zip":
			http.Redirect(w, r, strings.Replace(srv.URL, "http://", "https://", 1)+"/store/same.zip", http.StatusFound)
		case "/bundles/loop.zip":
			http.Redirect(w, r, "/bundles/loop.zip", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		want string // "" means refused
	}{
		{"same.zip", "same host"},
		{"other.zip", ""},
		{"loopback2.zip", ""},
		{"localhost.zip", ""},
		{"https.zip", ""},
		{"loop.zip", ""},
	}
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL + "/bundles", Attempts: 2})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			data, err := fetch(t, f, context.Background(), tt.name)
			if tt.want != "" {
				if err != nil || string(data) != tt.want {
					t.Fatalf("Fetch = %q, %v; want %q", data, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Fetch followed the redirect: %q", data)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Fetch took %v", d)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

func TestFetchTLS(t *testing.T) {
	quiet := log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over tls"))
	}))
	srv.Config.ErrorLog = quiet
	srv.StartTLS()
	t.Cleanup(srv.Close)
	old := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("old tls"))
	}))
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.Config.ErrorLog = quiet
	old.StartTLS()
	t.Cleanup(old.Close)

	dt := http.DefaultTransport.(*http.Transport)
	before := dt.TLSClientConfig
	var beforeSkip bool
	if before != nil {
		beforeSkip = before.InsecureSkipVerify
	}

	tests := []struct {
		name     string
		url      string
		insecure bool
		want     string // "" means refused
	}{
		{"self-signed, verified: refused", srv.URL, false, ""},
		{"self-signed, InsecureSkipVerify: accepted", srv.URL, true, "over tls"},
		{"TLS 1.1 server, even with InsecureSkipVerify: refused", old.URL, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFetcher(t, bundle.FetchOptions{BaseURL: tt.url, InsecureSkipVerify: tt.insecure, Attempts: 1})
			data, err := fetch(t, f, context.Background(), "b.zip")
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Fetch = %q, want a TLS error", data)
				}
				return
			}
			if err != nil || string(data) != tt.want {
				t.Fatalf("Fetch = %q, %v; want %q", data, err, tt.want)
			}
		})
	}

	t.Run("InsecureSkipVerify leaves http.DefaultTransport alone", func(t *testing.T) {
		if http.DefaultTransport.(*http.Transport) != dt {
			t.Fatal("http.DefaultTransport was replaced")
		}
		if dt.TLSClientConfig != before {
			t.Errorf("http.DefaultTransport.TLSClientConfig changed from %p to %p", before, dt.TLSClientConfig)
		}
		if c := dt.TLSClientConfig; c != nil && c.InsecureSkipVerify != beforeSkip {
			t.Errorf("http.DefaultTransport's InsecureSkipVerify is now %v", c.InsecureSkipVerify)
		}
		resp, err := http.Get(srv.URL + "/b.zip")
		if err == nil {
			resp.Body.Close()
			t.Fatal("http.Get to the self-signed server succeeded: certificate checks are off process-wide")
		}
	})
}

func TestFetchFileURL(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"b.zip": []byte("local bundle"), "big.zip": make([]byte, 2048)})
	tests := []struct {
		name, bundle string
		max          int64
		want         string // "" means an error
	}{
		{"a local file", "b.zip", 0, "local bundle"},
		{"a missing file", "missing.zip", 0, ""},
		{"a file over MaxBytes", "big.zip", 1024, ""},
		{"a climbing name", "../b.zip", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFetcher(t, bundle.FetchOptions{BaseURL: "file://" + filepath.ToSlash(dir), MaxBytes: tt.max})
			data, err := fetch(t, f, context.Background(), tt.bundle)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Fetch = %q, want an error", data)
				}
				return
			}
			if err != nil || string(data) != tt.want {
				t.Fatalf("Fetch = %q, %v; want %q", data, err, tt.want)
			}
		})
	}
}

// TestFetchFileURLRelative: Tyk reads a file:// base URL as the text after "file://"
// (FileBundleGetter trims the prefix from the whole URL), so file://middleware/bundles names
// the relative folder middleware/bundles. url.Parse puts "middleware" in the host: a fetcher
// that uses only the path reads /bundles/<name> instead.
func TestFetchFileURLRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string][]byte{"middleware/bundles/b.zip": []byte("relative bundle")})
	f := newFetcher(t, bundle.FetchOptions{BaseURL: "file://middleware/bundles"})
	data, err := fetch(t, f, context.Background(), "b.zip")
	if err != nil || string(data) != "relative bundle" {
		t.Fatalf("Fetch with base file://middleware/bundles = %q, %v; want the file middleware/bundles/b.zip (as Tyk reads it)", data, err)
	}
}

func TestFetcherURL(t *testing.T) {
	tests := []struct {
		base, name, want string
	}{
		{"http://h", "b.zip", "http://h/b.zip"},
		{"http://h/", "b.zip", "http://h/b.zip"},
		{"http://h/bundles", "b.zip", "http://h/bundles/b.zip"},
		{"http://h/bundles/", "b.zip", "http://h/bundles/b.zip"},
		{"https://h:8443/a/b/", "x-1.0_beta.zip", "https://h:8443/a/b/x-1.0_beta.zip"},
		{"http://h/bundles/?token=t", "b.zip", "http://h/bundles/b.zip?token=t"},
		{"http://h/my%20bundles/", "b.zip", "http://h/my%20bundles/b.zip"},
		{"file:///var/bundles", "b.zip", "file:///var/bundles/b.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.base+"+"+tt.name, func(t *testing.T) {
			f := newFetcher(t, bundle.FetchOptions{BaseURL: tt.base})
			if got := f.URL(tt.name); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestFetchRefusesBadNamesWithoutARequest(t *testing.T) {
	srv, n := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	f := newFetcher(t, bundle.FetchOptions{BaseURL: srv.URL + "/a/b/c/"})
	for _, name := range []string{"../x.zip", "..", "a/b.zip", "%2e%2e", "@evil", ""} {
		if _, err := fetch(t, f, context.Background(), name); err == nil {
			t.Errorf("Fetch(%q) = nil error", name)
		}
	}
	if n.Load() != 0 {
		t.Errorf("%d requests were made for refused names", n.Load())
	}
}

func TestCheckBundleName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"b.zip", true},
		{"bundle", true},
		{"My-Bundle_1.2.3.zip", true},
		{"a..b.zip", true},
		{strings.Repeat("a", 255), true},

		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"..%2fx", false},
		{"a/b", false},
		{"/abs.zip", false},
		{`a\b`, false},
		{"%2f", false},
		{"a%2fb.zip", false},
		{".hidden", false},
		{"@evil", false},
		{"user@evil.com", false},
		{"a:b", false},
		{"a?b", false},
		{"a#b", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"ünïcode.zip", false},
		{strings.Repeat("a", 256), false},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, "/", "|"), func(t *testing.T) {
			err := bundle.CheckBundleName(tt.name)
			if tt.ok && err != nil {
				t.Fatalf("CheckBundleName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("CheckBundleName(%q) = nil, want an error", tt.name)
			}
		})
	}
}

func TestNewFetcher(t *testing.T) {
	tests := []struct {
		base string
		ok   bool
	}{
		{"http://bundles.example", true},
		{"https://bundles.example/path/", true},
		{"HTTPS://bundles.example/", true},
		{"file:///var/bundles", true},

		{"", false},
		{"http://user:pass@bundles.example/", false},
		{"http://user@bundles.example/", false},
		{"https://:secret@bundles.example/", false},
		{"ftp://bundles.example/", false},
		{"gopher://bundles.example/", false},
		{"s3://bucket/bundles", false},
		{"javascript:alert(1)", false},
		{"bundles/", false},
		{"/var/bundles", false},
		{"http://[::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			f, err := bundle.NewFetcher(bundle.FetchOptions{BaseURL: tt.base})
			if tt.ok && (err != nil || f == nil) {
				t.Fatalf("NewFetcher(%q) = %v", tt.base, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("NewFetcher(%q) accepted it", tt.base)
			}
		})
	}
}

// TestFetcherDefaultTimeouts: the bound for a pause is 30s, and an attempt may take as long as
// the size cap takes at MinTransferRate (about 68 minutes for 256 MiB), at least
// MinAttemptTimeout.
func TestFetcherDefaultTimeouts(t *testing.T) {
	for _, c := range []struct {
		name     string
		o        bundle.FetchOptions
		progress time.Duration
		attempt  time.Duration
	}{
		{"defaults", bundle.FetchOptions{}, 30 * time.Second, 4096 * time.Second},
		{"a small size cap", bundle.FetchOptions{MaxBytes: 1 << 20}, 30 * time.Second, 10 * time.Minute},
		{"set", bundle.FetchOptions{ProgressTimeout: 2 * time.Minute, AttemptTimeout: 3 * time.Hour}, 2 * time.Minute, 3 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.BaseURL = "http://127.0.0.1:30999/"
			f, err := bundle.NewFetcher(c.o)
			if err != nil {
				t.Fatal(err)
			}
			if p, a := f.Timeouts(); p != c.progress || a != c.attempt {
				t.Errorf("timeouts %v, %v; want %v, %v", p, a, c.progress, c.attempt)
			}
		})
	}
}
