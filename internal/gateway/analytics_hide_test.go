package gateway_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/sdk"
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
	// Keys of one and two characters are refused by default (min_token_length 3, as in Tyk);
	// a gateway allowing them must still hide them only where they stand as the credential.
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) {
		analytics(c)
		c.MinTokenLength = 1
	}})
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
			if r.Path != "/rec/a/1" || r.RawPath != "/rec/a/1" || r.OriginalPath != "/rec/a/1" {
				t.Errorf("%s: path %q, raw_path %q, original_path %q, want /rec/a/1", c.Name, r.Path, r.RawPath, r.OriginalPath)
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
		// And in the path fields, which hold the same path.
		if want := "/rec/[redacted]/x"; r.Path != want || r.RawPath != want || r.OriginalPath != want {
			t.Errorf("long: path %q, raw_path %q, original_path %q, want %q", r.Path, r.RawPath, r.OriginalPath, want)
		}
	}
}

// TestDetailedRecordHidesCredentialsAsSent: what a client sent as its credentials is hidden
// wherever else it stands in a detailed record, not only the key the session was found by: a
// basic auth user's encoded password (the key is the user name) echoed back by the upstream,
// and a cookie's value.
func TestDetailedRecordHidesCredentialsAsSent(t *testing.T) {
	// The API's detailed recording, and a key's with strip_auth_data (the credentials are gone
	// from the request when the key makes the record detailed, after auth).
	for _, byKey := range []bool{false, true} {
		t.Run(map[bool]string{false: "api", true: "key, stripped"}[byKey], func(t *testing.T) {
			up := gt.NewUpstream(t)
			file, analytics := analyticsFile(t)
			api := gt.Keyed(gt.API("basicrec", "/basicrec/", up.URL))
			api.UseBasicAuth, api.UseStandardAuth, api.EnableDetailedRecording, api.StripAuthData = true, false, !byKey, byKey
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
			body := `{"access_rights": {"basicrec": {"api_id": "basicrec", "versions": ["Default"]}}, "basic_auth_data": {"password": "correct horse battery"}, "enable_detailed_recording": ` + fmt.Sprint(byKey) + `}`
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
			if err1 != nil || err2 != nil || len(req) == 0 {
				t.Fatalf("decoding: %v, %v (%d bytes)", err1, err2, len(req))
			}
			for _, secret := range []string{creds, session} {
				if strings.Contains(string(req), secret) || strings.Contains(string(resp), secret) {
					t.Errorf("the credential %q stands in the record:\n%s\n%s", secret, req, resp)
				}
			}
			if !strings.Contains(string(req), "\r\nX-Copy: [redacted]\r\n") || !strings.Contains(string(resp), `"X-Copy": "[redacted]"`) {
				t.Errorf("the credentials are not hidden in another header, or where the upstream echoed it:\n%s\n%s", req, resp)
			}
			if !byKey && !strings.Contains(string(resp), `"Authorization": "Basic [redacted]"`) {
				t.Errorf("the credentials are not hidden where the upstream echoed them:\n%s", resp)
			}
		})
	}
}

// TestDetailedRecordHidesBasicAuthPassword: a basic auth password the client also put in the
// body, another header or the path, or that the upstream echoes back decoded, is hidden there
// as the key would be, in the raw request, the raw response and the path fields; by the API's
// detailed recording and by a key's after strip_auth_data took the header away. The username
// is not a secret and stays; a password shorter than a hidden key (8) is hidden only as the
// credential, as a short key is, so that the record is not mangled.
func TestDetailedRecordHidesBasicAuthPassword(t *testing.T) {
	const long, short = "correct-horse-battery-staple", "pw-1234"
	for _, byKey := range []bool{false, true} {
		t.Run(map[bool]string{false: "api", true: "key, stripped"}[byKey], func(t *testing.T) {
			up := gt.NewUpstream(t)
			file, analytics := analyticsFile(t)
			api := gt.Keyed(gt.API("basicpw", "/basicpw/", up.URL))
			api.UseBasicAuth, api.UseStandardAuth, api.EnableDetailedRecording, api.StripAuthData = true, false, !byKey, byKey
			g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
			for user, pw := range map[string]string{"alice": long, "bob": short} {
				body := `{"access_rights": {"basicpw": {"api_id": "basicpw", "versions": ["Default"]}}, "basic_auth_data": {"password": "` + pw + `"}, "enable_detailed_recording": ` + fmt.Sprint(byKey) + `}`
				if r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + user, Body: body}); r.Code != http.StatusOK {
					t.Fatalf("creating %s: %d %s", user, r.Code, r.Body)
				}
			}
			sent := 0
			send := func(user, pw string) (req, resp string, rec sdk.AnalyticsRecord) {
				t.Helper()
				sent++
				creds := base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
				c := gt.Case{Method: "POST", Path: "/basicpw/reset/" + pw, Headers: map[string]string{
					"Authorization": "Basic " + creds, "X-Password": pw, "X-User": user, "Content-Type": "application/x-www-form-urlencoded"},
					Body: "user=" + user + "&password=" + url.QueryEscape(pw) + "&note=my+password+is+" + pw}
				gt.Check(t, gt.Case{Code: http.StatusOK}, g.Do(c))
				records := readRecords(t, file, sent)
				if len(records) != sent {
					t.Fatalf("%d records, want %d", len(records), sent)
				}
				last := records[sent-1]
				q, err1 := base64.StdEncoding.DecodeString(last.RawRequest)
				s, err2 := base64.StdEncoding.DecodeString(last.RawResponse)
				if err1 != nil || err2 != nil || len(q) == 0 || len(s) == 0 {
					t.Fatalf("decoding: %v, %v (%d, %d bytes)", err1, err2, len(q), len(s))
				}
				return string(q), string(s), last
			}

			req, resp, rec := send("alice", long)
			if strings.Contains(req+resp+rec.Path+rec.RawPath+rec.OriginalPath, long) {
				t.Errorf("the password stands in the record:\n%s\n%s\npath %q %q %q", req, resp, rec.Path, rec.RawPath, rec.OriginalPath)
			}
			for _, want := range []string{"POST /basicpw/reset/[redacted] HTTP/1.1\r\n", "\r\nX-Password: [redacted]\r\n",
				"user=alice&password=[redacted]&note=my+password+is+[redacted]"} {
				if !strings.Contains(req, want) {
					t.Errorf("the raw request lacks %q:\n%s", want, req)
				}
			}
			for _, want := range []string{`"X-Password": "[redacted]"`, `"path": "/reset/[redacted]"`} {
				if !strings.Contains(resp, want) {
					t.Errorf("the upstream's echo lacks %q:\n%s", want, resp)
				}
			}
			if want := "/basicpw/reset/[redacted]"; rec.Path != want || rec.RawPath != want || rec.OriginalPath != want {
				t.Errorf("path %q, raw_path %q, original_path %q, want %q", rec.Path, rec.RawPath, rec.OriginalPath, want)
			}
			// The username is no secret: it stays.
			if !strings.Contains(req, "\r\nX-User: alice\r\n") || !strings.Contains(resp, `"X-User": "alice"`) {
				t.Errorf("the username is hidden:\n%s\n%s", req, resp)
			}

			// A short password: hidden as the credential alone, like a short key.
			req, resp, _ = send("bob", short)
			if strings.Count(req, "[redacted]") > 1 || strings.Contains(resp, "[redacted]") && !strings.Contains(resp, `"Authorization": "Basic [redacted]"`) {
				t.Errorf("more than the credential is hidden:\n%s\n%s", req, resp)
			}
			for _, want := range []string{"\r\nX-Password: " + short + "\r\n", "note=my+password+is+" + short} {
				if !strings.Contains(req, want) {
					t.Errorf("the raw request lacks %q:\n%s", want, req)
				}
			}
			if !byKey && !strings.Contains(req, "\r\nAuthorization: [redacted]\r\n") {
				t.Errorf("the credential header is not hidden:\n%s", req)
			}
		})
	}
}

// TestDetailedRecordingByKeyStrippedParam: a key sent as a query parameter that auth strips
// (strip_auth_data) is hidden in the request line of a record its key made detailed, short as it
// is, as it is in one the API makes detailed.
func TestDetailedRecordingByKeyStrippedParam(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("param", "/param/", up.URL))
	api.Auth.UseParam, api.Auth.ParamName, api.StripAuthData = true, "key", true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	body := `{"enable_detailed_recording": true, "access_rights": {"param": {"api_id": "param", "versions": ["Default"]}}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/abc12", Body: body}); r.Code != 200 {
		t.Fatalf("creating the key: %d %s", r.Code, r.Body)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/param/x?key=abc12&z=1"}))
	recs := readRecords(t, file, 1)
	req, _ := base64.StdEncoding.DecodeString(recs[0].RawRequest)
	if !strings.HasPrefix(string(req), "GET /param/x?key=%5Bredacted%5D&z=1 HTTP/1.1\r\n") || strings.Contains(string(req), "abc12") {
		t.Errorf("the stripped key in the request line:\n%s", req)
	}
}

// TestDetailedRecordingPerKeyAndOrg: as Tyk decides it when it records, a key's own
// enable_detailed_recording makes its requests' records detailed (body, response, credentials
// hidden) on an API that records no detail, and other keys' are not; with
// enforce_org_data_detailed_logging, the org session's setting decides over the global one,
// keyless APIs included, and an org without a session keeps the global one.
func TestDetailedRecordingPerKeyAndOrg(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	keyed := gt.Keyed(gt.API("perkey", "/perkey/", up.URL))
	keyed.OrgID = "acme"
	open := gt.API("orgopen", "/orgopen/", up.URL)
	open.OrgID = "acme"
	lone := gt.API("loneopen", "/loneopen/", up.URL)
	lone.OrgID = "nobody"
	var global bool
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keyed, open, lone}, Config: func(c *config.Config) {
		analytics(c)
		c.EnforceOrgDataDetailLogging = true
		c.AnalyticsConfig.EnableDetailedRecording = global
	}})
	rights := map[string]apidef.AccessDefinition{"perkey": {APIID: "perkey", Versions: []string{"Default"}}}
	loud := g.CreateKey(&apidef.SessionState{EnableDetailedRecording: true, AccessRights: rights})
	quiet := g.CreateKey(&apidef.SessionState{AccessRights: rights})
	const body = `{"order": 42}`
	for _, k := range []string{loud, quiet} {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Method: "POST", Path: "/perkey/x", Body: body, Headers: map[string]string{"Authorization": k}}))
	}
	recs := readRecords(t, file, 2)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	raw := func(r sdk.AnalyticsRecord) (string, string) {
		req, _ := base64.StdEncoding.DecodeString(r.RawRequest)
		resp, _ := base64.StdEncoding.DecodeString(r.RawResponse)
		return string(req), string(resp)
	}
	for _, r := range recs {
		req, resp := raw(r)
		switch r.APIKey {
		case session.HashKey(loud):
			if !strings.Contains(req, "POST /perkey/x HTTP/1.1\r\n") || !strings.HasSuffix(req, "\r\n\r\n"+body) || !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\n") {
				t.Errorf("the detailed key's record:\n%s\n%s", req, resp)
			}
			if strings.Contains(req+resp, loud) || !strings.Contains(req, "Authorization: [redacted]") {
				t.Errorf("the detailed key's record shows the key:\n%s\n%s", req, resp)
			}
		case session.HashKey(quiet):
			if r.RawRequest != "" || r.RawResponse != "" {
				t.Errorf("another key's record is detailed:\n%s\n%s", req, resp)
			}
		default:
			t.Errorf("a record for key %q", r.APIKey)
		}
	}

	// The org's setting decides for its APIs, keyless ones included.
	count := len(recs)
	next := func(path string) sdk.AnalyticsRecord {
		t.Helper()
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Method: "POST", Path: path, Body: body}))
		count++
		all := readRecords(t, file, count)
		return all[len(all)-1]
	}
	if r := next("/orgopen/a"); r.RawRequest != "" {
		t.Error("an org without a session got detailed records with the global setting off")
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"enable_detailed_recording": true}`}))
	if req, _ := raw(next("/orgopen/b")); !strings.HasSuffix(req, "\r\n\r\n"+body) {
		t.Errorf("the org's detailed recording did not make its record detailed: %q", req)
	}
	if r := next("/loneopen/b"); r.RawRequest != "" {
		t.Error("another org's API got the org's detailed recording")
	}

	// With the global setting on, an org session saying no wins; an org without one keeps it.
	g.Stop()
	global = true
	file2, analytics2 := analyticsFile(t)
	g = gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keyed, open, lone}, Config: func(c *config.Config) {
		analytics2(c)
		c.EnforceOrgDataDetailLogging = true
		c.AnalyticsConfig.EnableDetailedRecording = true
	}})
	file, count = file2, 0
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/org/keys/acme", Body: `{"enable_detailed_recording": false}`}))
	if r := next("/orgopen/c"); r.RawRequest != "" || r.RawResponse != "" {
		t.Error("the org session's enable_detailed_recording false did not win over the global setting")
	}
	if r := next("/loneopen/c"); r.RawRequest == "" {
		t.Error("an org without a session lost the global detailed recording")
	}
	// A request auth refuses follows the org too; a key's own setting wins over the org's.
	gt.Check(t, gt.Case{Code: 401}, g.Do(gt.Case{Method: "POST", Path: "/perkey/nokey", Body: body}))
	count++
	if all := readRecords(t, file, count); all[len(all)-1].RawRequest != "" {
		t.Error("a request auth refused was recorded in detail though its org says no")
	}
	loud2 := g.CreateKey(&apidef.SessionState{EnableDetailedRecording: true, AccessRights: rights})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Method: "POST", Path: "/perkey/loud", Body: body, Headers: map[string]string{"Authorization": loud2}}))
	count++
	if all := readRecords(t, file, count); !strings.HasSuffix(string(must64(t, all[len(all)-1].RawRequest)), "\r\n\r\n"+body) {
		t.Error("a key's own detailed recording lost to its org's no")
	}
}

// must64 decodes a record's base64 field.
func must64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDetailedRecordHidesSetCookie: the cookies an upstream issues are credentials as the
// client's are: a detailed record keeps each Set-Cookie's name and attributes, never its value.
func TestDetailedRecordHidesSetCookie(t *testing.T) {
	const issued = "upstream-issued-0123456789"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "session="+issued+"; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "theme=dark")
		w.Header().Set("X-Other", "kept")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	file, analytics := analyticsFile(t)
	api := gt.API("cookies", "/cookies/", up.URL)
	api.EnableDetailedRecording = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	gt.Check(t, gt.Case{Code: 200, HeadersMatch: map[string]string{"Set-Cookie": "session=" + issued + "; Path=/; HttpOnly"}}, g.Do(gt.Case{Path: "/cookies/x"}))
	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	resp, err := base64.StdEncoding.DecodeString(records[0].RawResponse)
	if err != nil {
		t.Fatal(err)
	}
	rs := string(resp)
	for _, want := range []string{"\r\nSet-Cookie: session=[redacted]; Path=/; HttpOnly\r\n", "\r\nSet-Cookie: theme=[redacted]\r\n", "\r\nX-Other: kept\r\n", "\r\n\r\nok"} {
		if !strings.Contains(rs, want) {
			t.Errorf("the raw response lacks %q:\n%s", want, rs)
		}
	}
	if strings.Contains(rs, issued) || strings.Contains(rs, "dark") {
		t.Errorf("the raw response keeps a cookie's value:\n%s", rs)
	}
}

// TestDetailedRecordTooManyCredentials: a request carrying more credentials than a record
// searches for is recorded without its raw request and response, and the key it was served
// by is still hidden in the path fields.
func TestDetailedRecordTooManyCredentials(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("many", "/many/", up.URL))
	api.Auth.AuthHeaderName = "X-Api-Key"
	api.EnableDetailedRecording = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	const key = "many-key-0123456789"
	body := `{"rate": 100, "per": 60, "access_rights": {"many": {"api_id": "many", "versions": ["Default"]}}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/" + key, Body: body}); r.Code != 200 {
		t.Fatalf("creating the key: %d %s", r.Code, r.Body)
	}
	req, err := http.NewRequest(http.MethodGet, g.URL+"/many/"+key+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("X-Api-Key", key)
	for i := range 20 { // more than a record searches for (16)
		req.Header.Add("X-Api-Key", fmt.Sprintf("other-credential-%02d", i))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	r := records[0]
	raw, _ := base64.StdEncoding.DecodeString(r.RawRequest)
	if strings.Contains(string(raw), key) || !strings.HasPrefix(string(raw), "[not recorded") {
		t.Errorf("raw request %q, want it not recorded", raw)
	}
	if want := "/many/[redacted]/x"; r.Path != want || r.RawPath != want || r.OriginalPath != want {
		t.Errorf("path %q, raw_path %q, original_path %q, want %q", r.Path, r.RawPath, r.OriginalPath, want)
	}
}
