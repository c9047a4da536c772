package cache

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// resp is a response whose body's capacity is its length, whatever the compiler does with it.
func resp(body string) *Response {
	b := make([]byte, len(body))
	copy(b, body)
	return &Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: b}
}

// TestStoreBound: whatever clients ask, the store holds at most its bound; the least recently
// used responses go first.
func TestStoreBound(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	one := resp(strings.Repeat("x", 1000)).size()
	s := NewStore(10*one, c.now)
	for i := range 1000 { // a client walking query strings
		s.Put("api", fmt.Sprint(i), resp(strings.Repeat("x", 1000)), time.Minute)
		if _, bytes := s.Stats(); bytes > 10*one {
			t.Fatalf("after %d responses the store holds %d bytes, over its bound of %d", i+1, bytes, 10*one)
		}
	}
	if n, _ := s.Stats(); n != 10 {
		t.Errorf("the store holds %d responses, want the 10 that fit", n)
	}
	if s.Get("api", "989") != nil || s.Get("api", "990") == nil {
		t.Error("not the 10 most recent responses are kept")
	}
	// A read makes a response recent: the next Put evicts another.
	s.Get("api", "990")
	s.Put("api", "new", resp(strings.Repeat("x", 1000)), time.Minute)
	if s.Get("api", "990") == nil || s.Get("api", "991") != nil {
		t.Error("the least recently used response was not the one evicted")
	}
	s.Put("api", "huge", resp(strings.Repeat("x", int(20*one))), time.Minute)
	if s.Get("api", "huge") != nil {
		t.Error("a response larger than the whole bound was kept")
	}
}

// TestStoreExpiryAndFlush: a response is served until its TTL; Flush and Retain drop an API's.
func TestStoreExpiryAndFlush(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	s := NewStore(0, c.now)
	s.Put("a", "k", resp("a"), 10*time.Second)
	s.Put("b", "k", resp("b"), 10*time.Second)
	s.Put("c", "k", resp("c"), 10*time.Second)
	c.t = c.t.Add(9 * time.Second)
	if r := s.Get("a", "k"); r == nil || string(r.Body) != "a" {
		t.Fatalf("before its TTL: %v", r)
	}
	if r := s.Get("b", "k"); r == nil || string(r.Body) != "b" {
		t.Fatalf("another API's response under the same key: %v", r)
	}
	if n, _ := s.Flush(t.Context(), "a"); n != 1 || s.Get("a", "k") != nil || s.Get("b", "k") == nil {
		t.Errorf("Flush(a) = %d; a's response gone, b's kept", n)
	}
	s.Retain(func(api string) bool { return api == "b" })
	if s.Get("c", "k") != nil || s.Get("b", "k") == nil {
		t.Error("Retain kept c or dropped b")
	}
	c.t = c.t.Add(time.Second)
	if s.Get("b", "k") != nil {
		t.Error("served at its TTL")
	}
	if n, bytes := s.Stats(); n != 0 || bytes != 0 {
		t.Errorf("an empty store counts %d responses, %d bytes", n, bytes)
	}
}

// TestCompile: nothing to cache gives no cache; paths apply to safe methods only, with
// use_extended_paths.
func TestCompile(t *testing.T) {
	def := func(o apidef.CacheOptions, extended bool, paths ...string) *apidef.APIDefinition {
		return &apidef.APIDefinition{APIID: "a", CacheOptions: o, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
			"v": {UseExtendedPaths: extended, ExtendedPaths: apidef.ExtendedPathsSet{Cached: paths}},
		}}}
	}
	for _, tc := range []struct {
		name string
		def  *apidef.APIDefinition
		nil  bool
	}{
		{"off", def(apidef.CacheOptions{CacheAllSafeRequests: true}, true, "/x"), true},
		{"on without paths", def(apidef.CacheOptions{EnableCache: true}, true), true},
		{"paths without use_extended_paths", def(apidef.CacheOptions{EnableCache: true}, false, "/x"), true},
		{"paths", def(apidef.CacheOptions{EnableCache: true}, true, "/x"), false},
		{"every safe request", def(apidef.CacheOptions{EnableCache: true, CacheAllSafeRequests: true}, false), false},
	} {
		c, err := Compile(tc.def, NewStore(0, nil))
		if err != nil || (c == nil) != tc.nil {
			t.Errorf("%s: %v, %v; want nil %v", tc.name, c, err, tc.nil)
		}
	}
	c, _ := Compile(def(apidef.CacheOptions{EnableCache: true}, true, "/x"), NewStore(0, nil))
	if c.ttl != DefaultTimeout || c.ttlHeader != DefaultTTLHeader {
		t.Errorf("defaults: ttl %v, header %q", c.ttl, c.ttlHeader)
	}
}
