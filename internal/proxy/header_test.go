package proxy

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
)

// TestMoveHeaderIsCopyHeader checks that moving the upstream's header into the client's gives
// what ReverseProxy's copy (Add, value by value) gives, once ReverseProxy has copied the
// Content-Type that the move leaves behind.
func TestMoveHeaderIsCopyHeader(t *testing.T) {
	tests := []struct {
		name     string
		dst, src http.Header
	}{
		{"empty client header", http.Header{}, http.Header{
			"Content-Type": {"text/plain"}, "Content-Length": {"5"}, "Set-Cookie": {"a=1", "b=2"}}},
		{"client header has the key", http.Header{"X-Ratelimit-Limit": {"10"}, "Vary": {"Origin"}}, http.Header{
			"X-Ratelimit-Limit": {"99"}, "Vary": {"Accept", "Accept-Encoding"}, "Date": {"today"}}},
		{"non-canonical keys from a hook", http.Header{"X-Seen": {"gw"}}, http.Header{
			"x-seen": {"up"}, "content-type": {"text/html"}, "x-other": {"1"}}},
		{"empty values add nothing", http.Header{}, http.Header{"X-Empty": {}, "X-Nil": nil, "X-One": {"1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.dst.Clone()
			for k, vv := range tt.src {
				for _, v := range vv {
					want.Add(k, v)
				}
			}
			got, src := tt.dst.Clone(), tt.src.Clone()
			moveHeader(got, src)
			for k, vv := range src {
				if k := http.CanonicalHeaderKey(k); k != "Content-Type" && len(vv) > 0 {
					t.Errorf("%s left behind with values %q", k, vv)
				}
			}
			for k, vv := range src { // what ReverseProxy copies afterwards
				for _, v := range vv {
					got.Add(k, v)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("moved: %v\ncopied: %v", got, want)
			}
		})
	}
}

// TestMoveHeaderAfterFailedHook checks that a response hook that fails leaves the upstream's
// header where it was: the error answer the client gets must not carry it.
func TestMoveHeaderAfterFailedHook(t *testing.T) {
	fail := errors.New("hook failed")
	modify := moveHeaderAfter(func(*http.Response) error { return fail })
	res := &http.Response{StatusCode: 200, Header: http.Header{"X-Upstream": {"1"}}, Request: &http.Request{}}
	if err := modify(res); !errors.Is(err, fail) {
		t.Fatalf("error %v, want the hook's", err)
	}
	if res.Header.Get("X-Upstream") != "1" {
		t.Errorf("the upstream's header was moved although the hook failed: %v", res.Header)
	}
}
