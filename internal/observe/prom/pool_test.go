package prom

import (
	"net/http/httptest"
	"runtime"
	"testing"
	"weak"
)

// TestScrapeKeepsNoResponse: the compressor a gzipped scrape returns to the pool must not keep
// the scrape's response writer (and through it the connection's buffers) alive until the next
// scrape takes it.
func TestScrapeKeepsNoResponse(t *testing.T) {
	o := New("test")
	h := o.Handler()
	var w weak.Pointer[httptest.ResponseRecorder]
	func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("the scrape was not gzipped: %v", rec.Header())
		}
		w = weak.Make(rec)
	}()
	// One collection moves the pool's contents to its victim cache, where they are still
	// reachable; the recorder must be gone all the same.
	runtime.GC()
	if w.Value() != nil {
		t.Error("the pooled compressor keeps the last scrape's response writer alive")
	}
}
