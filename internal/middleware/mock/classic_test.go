package mock

import (
	"net/http/httptest"
	"testing"
)

func TestClassicWrite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		code       int
		body       string
		headers    map[string]string
		wantBody   string
		wantLength string
		wantHeader [2]string
	}{
		{name: "headers, code and body", code: 503, body: "down", headers: map[string]string{"retry-after": "120"},
			wantBody: "down", wantLength: "4", wantHeader: [2]string{"Retry-After", "120"}},
		{name: "a configured length is replaced", code: 200, body: "abc", headers: map[string]string{"Content-Length": "99", "Transfer-Encoding": "chunked"},
			wantBody: "abc", wantLength: "3", wantHeader: [2]string{"Transfer-Encoding", ""}},
		{name: "no body with 204", code: 204, body: "x", wantBody: "", wantLength: ""},
		{name: "no body with 304", code: 304, body: "x", wantBody: "", wantLength: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Classic(tc.code, tc.body, tc.headers).Write(w)
			if w.Code != tc.code || w.Body.String() != tc.wantBody || w.Header().Get("Content-Length") != tc.wantLength {
				t.Errorf("got %d %q (Content-Length %q), want %d %q (%q)", w.Code, w.Body.String(), w.Header().Get("Content-Length"), tc.code, tc.wantBody, tc.wantLength)
			}
			if n := tc.wantHeader[0]; n != "" && w.Header().Get(n) != tc.wantHeader[1] {
				t.Errorf("%s = %q, want %q", n, w.Header().Get(n), tc.wantHeader[1])
			}
		})
	}
}
