package proxy_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/proxy"
)

// closeRecorder is a body that records Close.
type closeRecorder struct {
	io.Reader
	closed   int
	closeErr error
}

func (c *closeRecorder) Close() error {
	c.closed++
	return c.closeErr
}

// oneByteReader returns at most one byte per Read, as a slow network would.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func limited(body io.Reader, limit int64) *proxy.LimitedBody {
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = &closeRecorder{Reader: body}
	return proxy.LimitBody(r, limit)
}

// readAll reads b with a buffer of size bufSize, returning everything read and the first
// error other than io.EOF (nil at a clean EOF).
func readAll(b io.Reader, bufSize int) ([]byte, error) {
	var out []byte
	buf := make([]byte, bufSize)
	for i := 0; i < 1<<20; i++ {
		n, err := b.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, errors.New("too many reads")
}

func TestLimitedBody(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		limit    int64
		bufSize  int
		slow     bool
		wantRead string
		wantErr  bool
	}{
		{name: "under limit", body: "abc", limit: 10, bufSize: 512, wantRead: "abc"},
		{name: "exactly at limit", body: "abcde", limit: 5, bufSize: 512, wantRead: "abcde"},
		{name: "exactly at limit with an exact buffer", body: "abcde", limit: 5, bufSize: 5, wantRead: "abcde"},
		{name: "exactly at limit one byte at a time", body: "abcde", limit: 5, bufSize: 1, wantRead: "abcde"},
		{name: "exactly at limit slow reader", body: "abcde", limit: 5, bufSize: 512, slow: true, wantRead: "abcde"},
		{name: "one byte over", body: "abcdef", limit: 5, bufSize: 512, wantRead: "abcde", wantErr: true},
		{name: "one byte over with a one-byte buffer", body: "abcdef", limit: 5, bufSize: 1, wantRead: "abcde", wantErr: true},
		{name: "one byte over with a two-byte buffer", body: "abcdef", limit: 5, bufSize: 2, wantRead: "abcde", wantErr: true},
		{name: "one byte over slow reader", body: "abcdef", limit: 5, bufSize: 512, slow: true, wantRead: "abcde", wantErr: true},
		{name: "far over", body: strings.Repeat("x", 10000), limit: 100, bufSize: 512, wantRead: strings.Repeat("x", 100), wantErr: true},
		{name: "zero limit empty body", body: "", limit: 0, bufSize: 512, wantRead: ""},
		{name: "zero limit one byte", body: "a", limit: 0, bufSize: 512, wantRead: "", wantErr: true},
		{name: "empty body", body: "", limit: 5, bufSize: 512, wantRead: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var src io.Reader = strings.NewReader(tc.body)
			if tc.slow {
				src = oneByteReader{src}
			}
			b := limited(src, tc.limit)
			got, err := readAll(b, tc.bufSize)
			if string(got) != tc.wantRead {
				t.Errorf("read %q, want %q", got, tc.wantRead)
			}
			if tc.wantErr {
				if !errors.Is(err, proxy.ErrBodyTooLarge) {
					t.Errorf("error = %v, want proxy.ErrBodyTooLarge", err)
				}
				if !b.LimitExceeded() {
					t.Error("LimitExceeded() = false after the limit was passed")
				}
				// Reads after the failure keep failing, with nothing read.
				for i := 0; i < 3; i++ {
					n, err := b.Read(make([]byte, 10))
					if n != 0 || !errors.Is(err, proxy.ErrBodyTooLarge) {
						t.Errorf("read %d after failure = %d, %v; want 0, proxy.ErrBodyTooLarge", i, n, err)
					}
				}
				return
			}
			if err != nil {
				t.Errorf("error = %v, want a clean EOF", err)
			}
			if b.LimitExceeded() {
				t.Error("LimitExceeded() = true for a body within the limit")
			}
		})
	}
}

// TestLimitedBodyCrossingRead checks which read fails: the one that crosses the limit, not an
// earlier one, and that it still hands over the bytes up to the limit.
func TestLimitedBodyCrossingRead(t *testing.T) {
	tests := []struct {
		name  string
		reads []int // buffer sizes
		// want is, per read, the bytes returned and whether it fails.
		want []struct {
			data string
			fail bool
		}
	}{
		{
			name:  "third two-byte read crosses",
			reads: []int{2, 2, 2},
			want: []struct {
				data string
				fail bool
			}{{"ab", false}, {"cd", false}, {"e", true}},
		},
		{
			name:  "big read crosses at once",
			reads: []int{100},
			want: []struct {
				data string
				fail bool
			}{{"abcde", true}},
		},
		{
			name:  "exact read then one more",
			reads: []int{5, 5},
			want: []struct {
				data string
				fail bool
			}{{"abcde", false}, {"", true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := limited(strings.NewReader("abcdefgh"), 5)
			for i, size := range tc.reads {
				buf := make([]byte, size)
				n, err := b.Read(buf)
				w := tc.want[i]
				if string(buf[:n]) != w.data {
					t.Errorf("read %d returned %q, want %q", i, buf[:n], w.data)
				}
				if failed := errors.Is(err, proxy.ErrBodyTooLarge); failed != w.fail {
					t.Errorf("read %d error = %v, want failure %v", i, err, w.fail)
				}
				if !w.fail && b.LimitExceeded() {
					t.Errorf("LimitExceeded() = true after read %d", i)
				}
			}
		})
	}
}

func TestLimitedBodyDoesNotOverread(t *testing.T) {
	// At most one byte past the limit is taken from the underlying body.
	src := strings.NewReader(strings.Repeat("x", 1000))
	b := limited(src, 10)
	_, err := readAll(b, 4096)
	if !errors.Is(err, proxy.ErrBodyTooLarge) {
		t.Fatalf("error = %v, want proxy.ErrBodyTooLarge", err)
	}
	if consumed := 1000 - src.Len(); consumed != 11 {
		t.Errorf("consumed %d bytes of the body, want 11 (limit + 1)", consumed)
	}
}

func TestLimitedBodyPassesErrors(t *testing.T) {
	boom := errors.New("connection reset")
	b := limited(io.MultiReader(strings.NewReader("ab"), &errReader{boom}), 10)
	got, err := readAll(b, 512)
	if string(got) != "ab" || !errors.Is(err, boom) {
		t.Errorf("read %q, %v; want \"ab\", %v", got, err, boom)
	}
	if b.LimitExceeded() {
		t.Error("LimitExceeded() = true after an upstream read error")
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func TestLimitedBodyClose(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{name: "ok", err: nil, wantErr: nil},
		{name: "error passed through", err: errors.New("close failed"), wantErr: errors.New("close failed")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			rec := &closeRecorder{Reader: bytes.NewReader(nil), closeErr: tc.err}
			r.Body = rec
			b := proxy.LimitBody(r, 10)
			err := b.Close()
			if rec.closed != 1 {
				t.Errorf("underlying Close called %d times, want 1", rec.closed)
			}
			if (err == nil) != (tc.wantErr == nil) || (err != nil && err.Error() != tc.wantErr.Error()) {
				t.Errorf("Close() = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestLimitedBodyStaysEnded: once the body gave io.EOF, later reads give io.EOF too, even after
// Go's HTTP/1 server closed the body underneath, as it does when a handler writes the response
// headers (golang/go#40747). The transport makes such a read: after a Content-Length body's
// declared bytes it reads once more to check there are no more; had it failed, the transport
// would drop the upstream connection and cut the response streaming from it.
func TestLimitedBodyStaysEnded(t *testing.T) {
	const payload = "the whole body"
	type result struct {
		read     string
		n        int
		err      error
		watchErr error
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := proxy.WatchBody(r)
		// As the transport does: the declared bytes, then one more read.
		data, err := io.ReadAll(io.LimitReader(body, r.ContentLength))
		if err != nil {
			got <- result{err: err}
			return
		}
		// Writing the headers makes the server consume and close what is left of its body.
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		n, err := body.Read(make([]byte, 512))
		got <- result{read: string(data), n: n, err: err, watchErr: body.ClientError()}
	}))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	if r.read != payload {
		t.Fatalf("read %q (%v), want %q", r.read, r.err, payload)
	}
	if r.n != 0 || r.err != io.EOF {
		t.Errorf("a read after the end and the server's close = %d, %v; want 0, io.EOF", r.n, r.err)
	}
	if r.watchErr != nil {
		t.Errorf("ClientError() = %v, want none: the client sent its body whole", r.watchErr)
	}
}
