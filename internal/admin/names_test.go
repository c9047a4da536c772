package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBodiesNamingAFieldTwice: a definition or policy that spells one field twice in different
// case is refused with 400 naming both spellings, since what is checked and what is stored would
// read it differently; one spelling in any case is accepted. A key named by bytes that are not
// UTF-8 is refused rather than stored under a name the reply cannot give back.
func TestBodiesNamingAFieldTwice(t *testing.T) {
	s := newTestServer(t, true)
	tests := []struct {
		name, target, body string
		code               int
		msg                string
	}{
		{"keyless flipped", "/tyk/apis", `{"api_id":"flip","use_keyless":true,"USE_KEYLESS":false,"auth":{"auth_header_name":"Authorization"},"proxy":{"listen_path":"/p/","target_url":"http://p.test"}}`,
			400, `\"USE_KEYLESS\" and \"use_keyless\"`},
		{"long s", "/tyk/apis", `{"api_id":"flip2","use_keyless":false,"uſe_keyleſs":true,"proxy":{"listen_path":"/q/","target_url":"http://q.test"}}`,
			400, "names a field twice"},
		{"one spelling, upper case", "/tyk/apis", `{"API_ID":"upper","USE_KEYLESS":true,"proxy":{"listen_path":"/u/","target_url":"http://u.test"}}`,
			200, ""},
		{"policy rate twice", "/tyk/policies", `{"id":"p","rate":5e9,"per":1,"RATE":10}`, 400, `\"RATE\" and \"rate\"`},
		{"key not UTF-8", "/tyk/keys/%BA", `{"rate":1,"per":1}`, 400, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := s.do(t, http.MethodPost, tc.target, []byte(tc.body))
			if code != tc.code || !strings.Contains(string(out), tc.msg) {
				t.Errorf("%d %s, want %d with %q", code, out, tc.code, tc.msg)
			}
		})
	}
}

// TestPolicyWithInvalidPatternRefused (S5): a policy whose allowed_urls hold a pattern that does
// not compile is refused with 400 naming it, as a key is, rather than stored to grant nothing.
func TestPolicyWithInvalidPatternRefused(t *testing.T) {
	s := newTestServer(t, true)
	code, out := s.do(t, http.MethodPost, "/tyk/policies", []byte(`{"id":"bad","access_rights":{"a":{"api_id":"a","allowed_urls":[{"url":"/x(","methods":["GET"]}]}}}`))
	if code != http.StatusBadRequest || !strings.Contains(string(out), `access_rights[\"a\"].allowed_urls`) {
		t.Errorf("%d %s, want 400 naming the pattern", code, out)
	}
	code, out = s.do(t, http.MethodPost, "/tyk/policies", []byte(`{"id":"good","access_rights":{"a":{"api_id":"a","allowed_urls":[{"url":"/x/{id}","methods":["GET"]}]}}}`))
	if code != http.StatusOK {
		t.Errorf("a valid pattern: %d %s", code, out)
	}
}
