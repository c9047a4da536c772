package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httputil"
	"reflect"
	"testing"
)

// TestSetXForwardedIsStdlib checks the hand copy of httputil.ProxyRequest.SetXForwarded against
// the original: for the same incoming request and outgoing header, both leave the same header,
// so that a change on either side (ours, or Go's in a new release) fails here.
func TestSetXForwardedIsStdlib(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		host   string
		tls    bool
		out    http.Header // the outgoing header before
	}{
		{"IPv4", "192.0.2.7:51000", "api.example.com", false, http.Header{}},
		{"TLS", "192.0.2.7:51000", "api.example.com:8443", true, http.Header{}},
		{"IPv6", "[2001:db8::1]:443", "[2001:db8::2]:8080", true, http.Header{}},
		{"IPv6 with a zone", "[fe80::1%eth0]:80", "gw", false, http.Header{}},
		{"loopback IPv6", "[::1]:9", "localhost", false, http.Header{}},
		{"a chain", "10.0.0.1:1", "h", false, http.Header{"X-Forwarded-For": {"203.0.113.5"}}},
		{"a chain of several lines", "10.0.0.1:1", "h", false,
			http.Header{"X-Forwarded-For": {"203.0.113.5, 198.51.100.1", "2001:db8::9"}}},
		{"an empty chain", "10.0.0.1:1", "h", false, http.Header{"X-Forwarded-For": {}}},
		{"a chain of one empty value", "10.0.0.1:1", "h", false, http.Header{"X-Forwarded-For": {""}}},
		{"a non-canonical chain key", "10.0.0.1:1", "h", false, http.Header{"x-forwarded-for": {"1.1.1.1"}}},
		{"no port: the chain goes", "192.0.2.7", "h", false,
			http.Header{"X-Forwarded-For": {"203.0.113.5"}, "X-Other": {"kept"}}},
		{"no address", "", "h", true, http.Header{"X-Forwarded-For": {"203.0.113.5"}}},
		{"a unix socket", "@", "h", false, http.Header{}},
		{"host and proto replaced", "192.0.2.7:1", "new.example", false,
			http.Header{"X-Forwarded-Host": {"old", "older"}, "X-Forwarded-Proto": {"https"}}},
		{"no host", "192.0.2.7:1", "", false, http.Header{}},
		{"a host as sent", "192.0.2.7:1", "API.Example.COM:80", false, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &http.Request{RemoteAddr: tt.remote, Host: tt.host, Header: http.Header{}}
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			want := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: tt.out.Clone()}}
			want.SetXForwarded()
			got := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: tt.out.Clone()}}
			var vals headerValues
			setXForwarded(got, &vals)
			if !reflect.DeepEqual(got.Out.Header, want.Out.Header) {
				t.Errorf("setXForwarded gives\n%q\nhttputil gives\n%q", got.Out.Header, want.Out.Header)
			}
			// Each value is a slice of its own: whoever appends to one copies it, never writing
			// over the next value kept beside it.
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host"} {
				if v, ok := got.Out.Header[k]; ok {
					got.Out.Header[k] = append(v, "appended")
				}
			}
			got.Out.Header["X-Forwarded-Proto"] = append(got.Out.Header["X-Forwarded-Proto"], "appended")
			for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if w := want.Out.Header[k]; got.Out.Header[k][0] != w[0] {
					t.Errorf("after appends %s = %q, want %q first", k, got.Out.Header[k], w[0])
				}
			}
		})
	}
}
