package router

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// canonicalizeCases covers every spelling of cases S1–S8 of the security reference. An empty
// wantErr means the path is accepted; otherwise wantErr is part of the expected reason.
var canonicalizeCases = []struct {
	name, in, want, wantErr string
}{
	{name: "root", in: "/", want: "/"},
	{name: "plain", in: "/api/users/42", want: "/api/users/42"},
	{name: "three dots is a name", in: "/api/.../x", want: "/api/.../x"},
	{name: "dot prefix is a name", in: "/api/.hidden/x..y", want: "/api/.hidden/x..y"},
	{name: "sub-delims kept", in: "/api/a!$&'()*+,=:@~-_", want: "/api/a!$&'()*+,=:@~-_"},

	// S1: dot segments are refused, not resolved.
	{name: "S1 dot-dot", in: "/api/../admin", wantErr: "'.' and '..'"},
	{name: "S1 dot", in: "/api/./x", wantErr: "'.' and '..'"},
	{name: "S1 trailing dot-dot", in: "/api/..", wantErr: "'.' and '..'"},
	{name: "S1 trailing dot", in: "/api/x/.", wantErr: "'.' and '..'"},
	{name: "S1 root dot-dot", in: "/..", wantErr: "'.' and '..'"},
	{name: "S1 dot-dot then slash", in: "/../", wantErr: "'.' and '..'"},
	{name: "S1 dot-dot with params", in: "/api/..;/admin", wantErr: "'.' and '..'"},
	{name: "S1 dot with params", in: "/api/.;x=1/admin", wantErr: "'.' and '..'"},
	{name: "S1 encoded dot-dot with params", in: "/api/%2e%2e;x", wantErr: "'.' and '..'"},
	{name: "params on a name", in: "/api/..x;/y;", want: "/api/..x;/y;"},
	{name: "params alone", in: "/api/;x/y", want: "/api/;x/y"},

	// S2: encoded dots are judged after decoding; double encoding stays literal.
	{name: "S2 encoded dot-dot", in: "/api/%2e%2e/admin", wantErr: "'.' and '..'"},
	{name: "S2 mixed dot-dot", in: "/api/.%2E/admin", wantErr: "'.' and '..'"},
	{name: "S2 mixed dot-dot other way", in: "/api/%2e./admin", wantErr: "'.' and '..'"},
	{name: "S2 upper dot-dot at end", in: "/api/%2E%2E", wantErr: "'.' and '..'"},
	{name: "S2 encoded dot", in: "/api/%2e/x", wantErr: "'.' and '..'"},
	{name: "S2 double-encoded stays literal", in: "/api/%252e%252e/admin", want: "/api/%2e%2e/admin"},
	{name: "S2 encoded percent", in: "/api/100%25", want: "/api/100%"},
	{name: "S2 overlong dot-dot", in: "/api/%c0%ae%c0%ae/admin", wantErr: "UTF-8"},

	// S3: encoded separators and specials.
	{name: "S3 encoded slash lower", in: "/api/%2f", wantErr: "encoded '/'"},
	{name: "S3 encoded slash then dots", in: "/api/%2F..", wantErr: "encoded '/'"},
	{name: "S3 encoded slash before dot-dot", in: "/api/..%2Fadmin", wantErr: "encoded '/'"},
	{name: "S3 encoded backslash lower", in: "/api/%5c", wantErr: `encoded '\'`},
	{name: "S3 encoded backslash upper", in: "/api/%5C..", wantErr: `encoded '\'`},
	{name: "S3 encoded NUL", in: "/api/%00", wantErr: "NUL"},
	{name: "S3 encoded semicolon lower", in: "/api/%3b", wantErr: "encoded ';'"},
	{name: "S3 encoded semicolon upper", in: "/api/x%3Bjsessionid=1", wantErr: "encoded ';'"},
	{name: "S3 encoded question upper", in: "/api/%3F", wantErr: "encoded '?'"},
	{name: "S3 encoded question lower", in: "/api/%3fx=1", wantErr: "encoded '?'"},
	{name: "S3 encoded hash", in: "/api/%23", wantErr: "encoded '#'"},
	{name: "S3 encoded LF", in: "/api/%0a", wantErr: "encoded control"},
	{name: "S3 encoded CR", in: "/api/%0D", wantErr: "encoded control"},
	{name: "S3 encoded ESC", in: "/api/%1b[31m", wantErr: "encoded control"},
	{name: "S3 encoded DEL", in: "/api/%7f", wantErr: "encoded control"},

	// Invalid escapes.
	{name: "bad escape letters", in: "/api/x%zz", wantErr: "invalid percent-escape"},
	{name: "bad escape short", in: "/api/%4", wantErr: "invalid percent-escape"},
	{name: "bad escape second digit", in: "/api/%4g", wantErr: "invalid percent-escape"},
	{name: "bad escape first digit", in: "/api/%g4", wantErr: "invalid percent-escape"},
	{name: "trailing percent", in: "/api/x%", wantErr: "invalid percent-escape"},
	{name: "lone percent", in: "/%", wantErr: "invalid percent-escape"},

	// Literal bytes.
	{name: "literal NUL", in: "/api/\x00", wantErr: "control character"},
	{name: "literal LF", in: "/api/a\nb", wantErr: "control character"},
	{name: "literal tab", in: "/api/a\tb", wantErr: "control character"},
	{name: "literal DEL", in: "/api/\x7f", wantErr: "control character"},
	{name: "literal backslash", in: `/api\..\admin`, wantErr: `'\'`},
	{name: "literal hash", in: "/api/x#frag", wantErr: "'#'"},
	{name: "literal question", in: "/api/x?y=1", wantErr: "'?'"},
	{name: "literal invalid UTF-8", in: "/api/\xff", wantErr: "UTF-8"},
	{name: "encoded invalid UTF-8", in: "/api/caf%E9", wantErr: "UTF-8"},

	// S4: slashes are merged, a trailing slash is kept.
	{name: "S4 leading double slash", in: "//api//x", want: "/api/x"},
	{name: "S4 triple slash", in: "/api///x", want: "/api/x"},
	{name: "S4 only slashes", in: "///", want: "/"},
	{name: "S4 double trailing slash", in: "/a//", want: "/a/"},
	{name: "S4 merged then dot-dot", in: "//..//admin", wantErr: "'.' and '..'"},
	{name: "S4 merged then encoded dot", in: "//a/%2e", wantErr: "'.' and '..'"},

	// S6: documented semantics for case and trailing tricks.
	{name: "S6 case kept", in: "/API/x", want: "/API/x"},
	{name: "S6 trailing slash kept", in: "/api/x/", want: "/api/x/"},
	{name: "S6 matrix params kept", in: "/api/x;jsessionid=1", want: "/api/x;jsessionid=1"},
	{name: "S6 encoded space", in: "/api/x%20", want: "/api/x "},
	{name: "S6 encoded letter", in: "/api/%41", want: "/api/A"},
	{name: "UTF-8 escaped upper", in: "/api/caf%C3%A9", want: "/api/café"},
	{name: "UTF-8 escaped lower", in: "/api/caf%c3%a9", want: "/api/café"},
	{name: "UTF-8 literal", in: "/api/café", want: "/api/café"},

	// S8 and rule 1: only paths starting with '/' are accepted.
	{name: "empty", in: "", wantErr: "start with '/'"},
	{name: "relative", in: "api/x", wantErr: "start with '/'"},
	{name: "asterisk", in: "*", wantErr: "start with '/'"},
	{name: "absolute URL", in: "http://example.com/a", wantErr: "start with '/'"},
}

func TestCanonicalize(t *testing.T) {
	for _, tc := range canonicalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonicalize(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Canonicalize(%q) = %q, want error containing %q", tc.in, got, tc.wantErr)
				}
				if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Canonicalize(%q) error = %v, want ErrBadPath containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Canonicalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if back, err := Canonicalize(Escape(got)); err != nil || back != got {
				t.Fatalf("Canonicalize(Escape(%q)) = %q, %v; want it unchanged", got, back, err)
			}
		})
	}
}

func TestCanonicalizePlainPathDoesNotAllocate(t *testing.T) {
	const p = "/api/v1/users/42/orders"
	allocs := testing.AllocsPerRun(100, func() {
		if got, err := Canonicalize(p); err != nil || got != p {
			t.Fatalf("Canonicalize(%q) = %q, %v", p, got, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Canonicalize of a plain path allocated %v times, want 0", allocs)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "/api/users/42", "/api/users/42"},
		{"root", "/", "/"},
		{"pchar kept", "/a!$&'()*+,;=:@~-._/b", "/a!$&'()*+,;=:@~-._/b"},
		{"percent", "/api/%2e%2e", "/api/%252e%252e"},
		{"space", "/api/x ", "/api/x%20"},
		{"UTF-8", "/api/café", "/api/caf%C3%A9"},
		{"unsafe ASCII", "/a\"<>^`{|}", "/a%22%3C%3E%5E%60%7B%7C%7D"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Escape(tc.in)
			if got != tc.want {
				t.Fatalf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
			// Whatever else it keeps literal, Escape must agree with net/url on the decoded path.
			if dec, err := url.PathUnescape(got); err != nil || dec != tc.in {
				t.Fatalf("url.PathUnescape(%q) = %q, %v; want %q", got, dec, err, tc.in)
			}
		})
	}
}

func TestRawPath(t *testing.T) {
	tests := []struct {
		name string
		// target is used as RequestURI; when it is empty the request is built from url with
		// http.NewRequest, which leaves RequestURI empty.
		target, url string
		want        string
		wantErr     string
	}{
		{name: "origin-form", target: "/a/b?x=1", want: "/a/b"},
		{name: "origin-form no query", target: "/a/b", want: "/a/b"},
		{name: "origin-form stays escaped", target: "/api/%2e%2e/admin?x", want: "/api/%2e%2e/admin"},
		{name: "origin-form double slash", target: "//api/x", want: "//api/x"},
		{name: "origin-form empty query", target: "/a?", want: "/a"},
		{name: "fragment", target: "/a#x", wantErr: "'#'"},
		{name: "fragment after query", target: "/a?b=1#x", wantErr: "'#'"},
		{name: "absolute-form", target: "http://example.com/a/b?x", want: "/a/b"},
		{name: "absolute-form https upper-case", target: "HTTPS://Example.com:8443/a%2Fb", want: "/a%2Fb"},
		{name: "absolute-form empty path", target: "http://example.com", want: "/"},
		{name: "absolute-form empty path with query", target: "http://example.com?x=/y", want: "/"},
		{name: "absolute-form userinfo ignored", target: "http://user@evil.example/admin", want: "/admin"},
		{name: "absolute-form IPv6 authority", target: "http://[::1]:8080/a", want: "/a"},
		{name: "absolute-form empty authority", target: "http:///a", want: "/a"},
		{name: "absolute-form fragment", target: "http://example.com/a#x", wantErr: "'#'"},
		{name: "opaque", target: "http:example.com/admin", wantErr: "origin-form or absolute-form"},
		{name: "opaque single slash", target: "http:/admin", wantErr: "origin-form or absolute-form"},
		{name: "opaque mailto", target: "mailto:a@example.com", wantErr: "origin-form or absolute-form"},
		{name: "other scheme", target: "ftp://example.com/a", wantErr: "http or https"},
		{name: "bad scheme", target: "1http://example.com/a", wantErr: "origin-form or absolute-form"},
		{name: "asterisk", target: "*", wantErr: "'*'"},
		{name: "relative", target: "a/b", wantErr: "origin-form or absolute-form"},
		{name: "authority-form", target: "example.com:443", wantErr: "origin-form or absolute-form"},
		{name: "URL fallback", url: "http://h.example/a%2Fb?x=1", want: "/a%2Fb"},
		{name: "URL fallback empty path", url: "http://h.example", want: "/"},
		{name: "URL fallback opaque", url: "http:example.com/admin", wantErr: "origin-form or absolute-form"},
		{name: "URL fallback fragment", url: "http://h.example/a#x", wantErr: "'#'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *http.Request
			if tc.target != "" {
				r = &http.Request{Method: http.MethodGet, RequestURI: tc.target, URL: &url.URL{}}
			} else {
				var err error
				if r, err = http.NewRequest(http.MethodGet, tc.url, nil); err != nil {
					t.Fatal(err)
				}
			}
			got, err := RawPath(r)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RawPath(%q) = %q, %v; want ErrBadPath containing %q", tc.target+tc.url, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("RawPath(%q) = %q, %v; want %q", tc.target+tc.url, got, err, tc.want)
			}
		})
	}
}

func TestRawPathHTTPTest(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/a/%2e%2e/b?x=1", nil)
	if got, err := RawPath(r); err != nil || got != "/a/%2e%2e/b" {
		t.Fatalf("RawPath = %q, %v; want %q", got, err, "/a/%2e%2e/b")
	}
}
