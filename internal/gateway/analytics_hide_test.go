package gateway_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestDetailedRecordShortKey: a key of one or two characters (or any key that is a common
// substring) is hidden where it stands as the credential, and nowhere else: the rest of the
// raw request and response (request line, header names and values, body, status line) is
// recorded as it was. A long key is hidden wherever it stands whole (the body, the upstream's
// echo), but not inside a longer word.
func TestDetailedRecordShortKey(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("rec", "/rec/", up.URL))
	api.Auth.AuthHeaderName = "X-Api-Key"
	api.EnableDetailedRecording = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	const long = "team-key-0123456789"
	for _, name := range []string{"a", "1", "ab", long} {
		body := `{"rate": 100, "per": 60, "access_rights": {"rec": {"api_id": "rec", "versions": ["Default"]}}}`
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/" + name, Body: body}); r.Code != 200 {
			t.Fatalf("creating key %q: %d %s", name, r.Code, r.Body)
		}
	}
	const shortBody = `{"a": 1, "ab": "a1 b2", "HTTP/1.1": "OK"}`
	longBody := `{"token": "` + long + `", "other": "x` + long + `"}`
	cases := []gt.Case{
		{Name: "a", Method: "POST", Path: "/rec/a/1?ab=1", Headers: map[string]string{"X-Api-Key": "a", "X-Note": "a 1 ab"}, Body: shortBody},
		{Name: "1", Method: "POST", Path: "/rec/a/1?ab=1", Headers: map[string]string{"X-Api-Key": "1", "X-Note": "a 1 ab"}, Body: shortBody},
		{Name: "ab", Method: "POST", Path: "/rec/a/1?ab=1", Headers: map[string]string{"X-Api-Key": "ab", "X-Note": "a 1 ab"}, Body: shortBody},
		{Name: "long", Method: "POST", Path: "/rec/" + long + "/x", Headers: map[string]string{"X-Api-Key": long, "X-Note": long}, Body: longBody},
	}
	for _, c := range cases {
		gt.Check(t, gt.Case{Name: c.Name, Code: 200}, g.Do(c))
	}
	records := readRecords(t, file, len(cases))
	if len(records) != len(cases) {
		t.Fatalf("%d records, want %d", len(records), len(cases))
	}
	for i, r := range records {
		c := cases[i]
		req, err1 := base64.StdEncoding.DecodeString(r.RawRequest)
		resp, err2 := base64.StdEncoding.DecodeString(r.RawResponse)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: decoding: %v, %v", c.Name, err1, err2)
		}
		rq, rs := string(req), string(resp)
		if !strings.Contains(rq, "\r\nX-Api-Key: [redacted]\r\n") {
			t.Errorf("%s: the credential header is not hidden:\n%s", c.Name, rq)
		}
		if !strings.HasPrefix(rs, "HTTP/1.1 200 OK\r\n") || !strings.Contains(rs, "\r\nContent-Type: application/json\r\n") {
			t.Errorf("%s: the raw response's status line or headers are changed:\n%s", c.Name, rs)
		}
		if c.Name != "long" {
			// Everything but the credential is as sent.
			for _, want := range []string{"POST /rec/a/1?ab=1 HTTP/1.1\r\n", "\r\nX-Note: a 1 ab\r\n", "\r\n\r\n" + shortBody} {
				if !strings.Contains(rq, want) {
					t.Errorf("%s: the raw request lacks %q:\n%s", c.Name, want, rq)
				}
			}
			if strings.Contains(rq+rs, "[redacted]") && strings.Count(rq+rs, "[redacted]") != 1 {
				t.Errorf("%s: more than the credential is hidden:\n%s\n%s", c.Name, rq, rs)
			}
			if !strings.Contains(rs, `"X-Note": "a 1 ab"`) || !strings.Contains(rs, `"body": "{\"a\": 1, \"ab\": \"a1 b2\", \"HTTP/1.1\": \"OK\"}"`) {
				t.Errorf("%s: the upstream's echo is changed:\n%s", c.Name, rs)
			}
			continue
		}
		// The long key: hidden in the path, another header, the body and the echo, where it
		// stands whole; "x<key>" is another word and stays.
		for _, want := range []string{"POST /rec/[redacted]/x HTTP/1.1\r\n", "\r\nX-Note: [redacted]\r\n",
			`{"token": "[redacted]", "other": "x` + long + `"}`} {
			if !strings.Contains(rq, want) {
				t.Errorf("long: the raw request lacks %q:\n%s", want, rq)
			}
		}
		if strings.Count(rq, long) != 1 || strings.Count(rs, long) != 1 {
			t.Errorf("long: the key stands whole in the record:\n%s\n%s", rq, rs)
		}
		if !strings.Contains(rs, `"X-Api-Key": "[redacted]"`) {
			t.Errorf("long: the upstream's echo of the key is not hidden:\n%s", rs)
		}
	}
}

// TestDetailedRecordHidesCredentialsAsSent: what a client sent as its credentials is hidden
// wherever else it stands in a detailed record, not only the key the session was found by: a
// basic auth user's encoded password (the key is the user name) echoed back by the upstream,
// and a cookie's value.
func TestDetailedRecordHidesCredentialsAsSent(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("basicrec", "/basicrec/", up.URL))
	api.UseBasicAuth, api.UseStandardAuth, api.EnableDetailedRecording = true, false, true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	body := `{"access_rights": {"basicrec": {"api_id": "basicrec", "versions": ["Default"]}}, "basic_auth_data": {"password": "correct horse battery"}}`
	if r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/alice", Body: body}); r.Code != http.StatusOK {
		t.Fatalf("creating alice: %d %s", r.Code, r.Body)
	}
	creds := base64.StdEncoding.EncodeToString([]byte("alice:correct horse battery"))
	const session = "session-0123456789abcdef"
	gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(gt.Case{Path: "/basicrec/x", Headers: map[string]string{
		"Authorization": "Basic " + creds, "Cookie": "sid=" + session, "X-Copy": creds}}))
	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	req, err1 := base64.StdEncoding.DecodeString(records[0].RawRequest)
	resp, err2 := base64.StdEncoding.DecodeString(records[0].RawResponse)
	if err1 != nil || err2 != nil {
		t.Fatalf("decoding: %v, %v", err1, err2)
	}
	for _, secret := range []string{creds, session} {
		if strings.Contains(string(req), secret) || strings.Contains(string(resp), secret) {
			t.Errorf("the credential %q stands in the record:\n%s\n%s", secret, req, resp)
		}
	}
	if !strings.Contains(string(resp), `"Authorization": "Basic [redacted]"`) || !strings.Contains(string(req), "\r\nX-Copy: [redacted]\r\n") {
		t.Errorf("the credentials are not hidden where the upstream echoed them, or in another header:\n%s\n%s", req, resp)
	}
}
