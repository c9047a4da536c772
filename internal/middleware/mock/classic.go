package mock

import (
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
)

// Classic returns the answer of a Classic mock reply (a `method_actions` entry with action
// "reply", or an `extended_paths.mock_response` entry): its headers, code and body as written.
// Header names are canonicalised and set in name order, so that a definition always gives the
// same answer.
func Classic(code int, body string, headers map[string]string) *Static {
	s := &Static{Code: code, Body: body}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.Headers = append(s.Headers, Header{Name: textproto.CanonicalMIMEHeaderKey(n), Value: headers[n]})
	}
	return s
}

// Write sends the answer to the client as Tyk sends a Classic reply: the headers, then the code,
// then the body. No response hook runs on it, as in Tyk. Content-Length always says the body's
// length (a configured one that did not would leave the connection unusable), and a
// configured Transfer-Encoding is dropped for the same reason.
func (s *Static) Write(w http.ResponseWriter) {
	h := w.Header()
	for _, x := range s.Headers {
		h.Set(x.Name, x.Value)
	}
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	if bodyAllowed(s.Code) {
		h.Set("Content-Length", strconv.Itoa(len(s.Body)))
	}
	code := s.Code
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	if bodyAllowed(code) {
		_, _ = w.Write([]byte(s.Body))
	}
}

// bodyAllowed reports whether a response with the code may carry a body.
func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified && !(code >= 100 && code < 200)
}
