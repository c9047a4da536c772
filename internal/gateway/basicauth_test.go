package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/middleware/basicauth"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
	"github.com/gatehouse/gatehouse/sdk"
)

// TestBasicAuth creates basic auth users through the Gateway API and calls a basic auth API
// with curl-style Authorization headers: Tyk's answers when refused (nothing reaching the
// upstream), a rate limit per user, and the password in neither the logs nor the key the
// Gateway API returns.
func TestBasicAuth(t *testing.T) {
	up := gt.NewUpstream(t)
	ba := gt.Keyed(gt.API("basic", "/basic/", up.URL))
	ba.Name, ba.OrgID, ba.UseBasicAuth, ba.UseStandardAuth = "Basic API", "acme", true, false
	ba.StripAuthData = true
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.OrgID = "acme"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{ba, keyed}})

	const alicePW, bobPW = "correct horse battery", "tr0ub4dor&3"
	user := func(name, pw string) {
		t.Helper()
		body := `{"org_id": "acme", "rate": 2, "per": 60, "access_rights": {"basic": {"api_id": "basic", "versions": ["Default"]},
			"keyed": {"api_id": "keyed", "versions": ["Default"]}}, "basic_auth_data": {"password": "` + pw + `"}}`
		r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/" + name, Body: body})
		if r.Code != 200 || !strings.Contains(r.Body, `"key":"`+name+`"`) && !strings.Contains(r.Body, `"key": "`+name+`"`) {
			t.Fatalf("creating %s: %d %s", name, r.Code, r.Body)
		}
		if strings.Contains(r.Body, pw) {
			t.Errorf("creating %s: the reply holds the password: %s", name, r.Body)
		}
	}
	user("alice", alicePW)
	user("bob", bobPW)

	// What the Gateway API returns holds a bcrypt hash, never the password.
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/alice"})
	var got apidef.SessionState
	if err := json.Unmarshal([]byte(r.Body), &got); r.Code != 200 || err != nil {
		t.Fatalf("GET alice: %d %s %v", r.Code, r.Body, err)
	}
	if strings.Contains(r.Body, alicePW) || got.BasicAuthData.HashType != "bcrypt" || !strings.HasPrefix(got.BasicAuthData.Password, "$2a$10$") {
		t.Errorf("GET alice: basic_auth_data %+v", got.BasicAuthData)
	}
	// Written back as read, the key keeps its password.
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/keys/alice", Body: r.Body}); r.Code != 200 {
		t.Fatalf("PUT alice: %d %s", r.Code, r.Body)
	}

	// curl -u user:password
	basic := func(user, pw string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}
	}
	realm := map[string]string{"WWW-Authenticate": `Basic realm="Basic API"`}
	g.Run(t,
		gt.Case{Name: "no header", Path: "/basic/x", Code: 401, BodyMatch: jsonError("Authorization field missing"), HeadersMatch: realm},
		gt.Case{Name: "header not in basic auth format", Path: "/basic/x", Headers: map[string]string{"Authorization": "Basic"}, Code: 400,
			BodyMatch: jsonError("Attempted access with malformed header, header not in basic auth format"), HeadersNotPresent: []string{"WWW-Authenticate"}},
		gt.Case{Name: "not base64", Path: "/basic/x", Headers: map[string]string{"Authorization": "Basic %%%"}, Code: 400,
			BodyMatch: jsonError("Attempted access with malformed header, auth data not encoded correctly")},
		gt.Case{Name: "no colon", Path: "/basic/x", Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, Code: 400,
			BodyMatch: jsonError("Attempted access with malformed header, values not in basic auth format")},
		gt.Case{Name: "wrong password", Path: "/basic/x", Headers: basic("alice", "wrong"), Code: 401, BodyMatch: jsonError("User not authorised"), HeadersMatch: realm},
		gt.Case{Name: "unknown user", Path: "/basic/x", Headers: basic("mallory", alicePW), Code: 401, BodyMatch: jsonError("User not authorised"), HeadersMatch: realm},
		gt.Case{Name: "the password hash as the password", Path: "/basic/x", Headers: basic("alice", got.BasicAuthData.Password), Code: 401, BodyMatch: jsonError("User not authorised")},
		// A username is no secret: it is not a token on a key-auth API.
		gt.Case{Name: "username as a token", Path: "/keyed/x", Headers: map[string]string{"Authorization": "alice"}, Code: 403,
			BodyMatch: jsonError("Access to this API has been disallowed")},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d refused requests", n)
	}

	// Rate limits count per user: 2 a minute each.
	g.Run(t,
		gt.Case{Name: "alice 1", Path: "/basic/x", Headers: basic("alice", alicePW), Code: 200},
		gt.Case{Name: "alice 2", Path: "/basic/x", Headers: basic("alice", alicePW), Code: 200},
		gt.Case{Name: "alice limited", Path: "/basic/x", Headers: basic("alice", alicePW), Code: 429, BodyMatch: jsonError("Rate limit exceeded")},
		gt.Case{Name: "bob has his own limit", Path: "/basic/x", Headers: basic("bob", bobPW), Code: 200},
	)
	if n := len(up.Requests()); n != 3 {
		t.Errorf("the upstream received %d requests, want 3", n)
	}
	if last, ok := up.Last(); !ok || last.Headers["Authorization"] != "" {
		t.Errorf("strip_auth_data: the upstream got the credentials: %+v", last)
	}
	// A deleted user is refused at once, cached check or not.
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/keys/bob"}); r.Code != 200 {
		t.Fatalf("DELETE bob: %d %s", r.Code, r.Body)
	}
	g.Run(t, gt.Case{Name: "bob deleted", Path: "/basic/x", Headers: basic("bob", bobPW), Code: 401, BodyMatch: jsonError("User not authorised")})

	logs := g.Logs()
	for _, secret := range []string{alicePW, bobPW, base64.StdEncoding.EncodeToString([]byte("alice:" + alicePW)), got.BasicAuthData.Password} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// TestBasicAuthLockout: after basicauth.MaxFailures wrong passwords from one client address a
// username is refused to that address with Tyk's answer for a failed check, its right password
// included, until the lockout ends; the lockout outlives a reload; other users, and the same
// user from another address, are not affected. The address is the one trusted_proxies decide:
// behind a trusted proxy, X-Forwarded-For's.
func TestBasicAuthLockout(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	ba := gt.Keyed(gt.API("basic-lock", "/bl/", up.URL))
	ba.Name, ba.OrgID, ba.UseBasicAuth, ba.UseStandardAuth = "Locked API", "acme", true, false
	ba.BasicAuth.DisableCaching = true
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{ba},
		Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
	for _, u := range []string{"carol", "dave"} {
		body := `{"org_id": "acme", "access_rights": {"basic-lock": {"api_id": "basic-lock", "versions": ["Default"]}}, "basic_auth_data": {"password": "pw-of-` + u + `"}}`
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/" + u, Body: body}); r.Code != 200 {
			t.Fatalf("creating %s: %d %s", u, r.Code, r.Body)
		}
	}
	const attacker, other = "203.0.113.9", "198.51.100.7"
	basicFrom := func(client, user, pw string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)), "X-Forwarded-For": client}
	}
	basic := func(user, pw string) map[string]string { return basicFrom(attacker, user, pw) }
	refused := func(name string, h map[string]string) gt.Case {
		return gt.Case{Name: name, Path: "/bl/x", Headers: h, Code: 401, BodyMatch: jsonError("User not authorised"),
			HeadersMatch: map[string]string{"WWW-Authenticate": `Basic realm="Locked API"`}}
	}
	var cases []gt.Case
	for i := range basicauth.MaxFailures {
		cases = append(cases, refused(fmt.Sprintf("wrong password %d", i+1), basic("carol", "guess")))
	}
	cases = append(cases,
		refused("locked: the right password is refused", basic("carol", "pw-of-carol")),
		gt.Case{Name: "another user is not locked", Path: "/bl/x", Headers: basic("dave", "pw-of-dave"), Code: 200},
		gt.Case{Name: "the user from another address is not locked", Path: "/bl/x", Headers: basicFrom(other, "carol", "pw-of-carol"), Code: 200},
	)
	g.Run(t, cases...)
	g.Reload()
	g.Run(t, refused("still locked after a reload", basic("carol", "pw-of-carol")))
	clock.Advance(basicauth.Lockout)
	g.Run(t, gt.Case{Name: "after the lockout", Path: "/bl/x", Headers: basic("carol", "pw-of-carol"), Code: 200})
	if n := len(up.Requests()); n != 3 {
		t.Errorf("the upstream received %d requests, want 3", n)
	}
}

// TestKeyRewriteKeepsPasswordAndCreationDate: a key written over (PUT, or POST to its name)
// keeps, as in Tyk, its creation date, and a basic auth user's password when the new session
// names none. An operator who changes alice's rate limit without repeating her password must not
// lock her out, nor make her username, which is no secret, a key that opens the key-auth API.
// A new password given replaces the old one.
func TestKeyRewriteKeepsPasswordAndCreationDate(t *testing.T) {
	up := gt.NewUpstream(t)
	ba := gt.Keyed(gt.API("basic", "/basic/", up.URL))
	ba.OrgID, ba.UseBasicAuth, ba.UseStandardAuth = "acme", true, false
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.OrgID = "acme"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{ba, keyed}})

	const rights = `"access_rights": {"basic": {"api_id": "basic", "versions": ["Default"]}, "keyed": {"api_id": "keyed", "versions": ["Default"]}}`
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/alice",
		Body: `{"org_id": "acme", "rate": 100, "per": 60, ` + rights + `, "date_created": "2020-01-02T03:04:05Z", "basic_auth_data": {"password": "correct horse"}}`}))
	login := func(pw string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+pw))}
	}
	asToken := map[string]string{"Authorization": "alice"}
	g.Run(t,
		gt.Case{Name: "alice logs in", Path: "/basic/x", Headers: login("correct horse"), Code: 200},
		gt.Case{Name: "her username is no key", Path: "/keyed/x", Headers: asToken, Code: 403},
	)

	for _, method := range []string{http.MethodPut, http.MethodPost} {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: method, Path: "/tyk/keys/alice",
			Body: `{"org_id": "acme", "rate": 10, "per": 60, ` + rights + `}`}))
		var s apidef.SessionState
		r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/alice"})
		if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
			t.Fatalf("GET alice after %s: %d %s", method, r.Code, r.Body)
		}
		if s.Rate != 10 || s.BasicAuthData.HashType != "bcrypt" || !s.DateCreated.Equal(created) {
			t.Errorf("after %s without a password: rate %v, basic_auth_data %+v, date_created %v; want rate 10, the password kept, date_created %v",
				method, s.Rate, s.BasicAuthData, s.DateCreated, created)
		}
		g.Run(t,
			gt.Case{Name: method + ": alice still logs in", Path: "/basic/x", Headers: login("correct horse"), Code: 200},
			gt.Case{Name: method + ": her username is still no key", Path: "/keyed/x", Headers: asToken, Code: 403},
		)
	}

	// A new password replaces the old one.
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/keys/alice",
		Body: `{"org_id": "acme", "rate": 10, "per": 60, ` + rights + `, "basic_auth_data": {"password": "battery staple"}}`}))
	g.Run(t,
		gt.Case{Name: "the new password", Path: "/basic/x", Headers: login("battery staple"), Code: 200},
		gt.Case{Name: "the old password", Path: "/basic/x", Headers: login("correct horse"), Code: 401},
	)
}

// TestBasicAuthFromBody: with basic_auth.extract_from_body, a request whose Authorization
// header holds no credentials is checked with the username and password its body holds (a SOAP
// envelope), as in Tyk; the body reaches the upstream whole, a large one too; Tyk's answers
// when the body holds neither; the header still serves; a detailed record keeps neither the
// request nor the answer (the password is in the body); and definitions whose expressions
// cannot work are refused, saying why.
func TestBasicAuthFromBody(t *testing.T) {
	up := gt.NewUpstream(t)
	ba := gt.Keyed(gt.API("soap", "/soap/", up.URL))
	ba.Name, ba.OrgID, ba.UseBasicAuth, ba.UseStandardAuth = "SOAP API", "acme", true, false
	ba.EnableDetailedRecording = true
	ba.BasicAuth = apidef.BasicAuthConfig{ExtractFromBody: true, BodyUserRegexp: `<User>(.*)</User>`, BodyPasswordRegexp: `<Password>(.*)</Password>`}
	small := gt.Keyed(gt.API("soap-small", "/soap-small/", up.URL))
	small.OrgID, small.UseBasicAuth, small.UseStandardAuth, small.EnableDetailedRecording, small.BasicAuth = "acme", true, false, true, ba.BasicAuth
	small.VersionData.Versions["Default"] = apidef.VersionInfo{Name: "Default", GlobalSizeLimit: 100}
	file, analyticsOn := analyticsFile(t)
	// An OAuth API whose basic_auth asks for the body with no expressions: not basic auth's
	// (its password grant checks users from its form), so it loads.
	oa := oauthAPI(up.URL)
	oa.BasicAuth.ExtractFromBody = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{ba, small, oa}, Config: analyticsOn})
	g.Run(t, gt.Case{Name: "the OAuth API loaded", Path: "/oa/get", Code: 400, BodyMatch: jsonError("Authorization field missing")})
	const pw = "s3cret-soap-pw"
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/carol", Body: `{"org_id": "acme", "rate": 100, "per": 60,
		"access_rights": {"soap": {"api_id": "soap", "versions": ["Default"]}, "soap-small": {"api_id": "soap-small", "versions": ["Default"]}},
		"basic_auth_data": {"password": "` + pw + `"}}`}); r.Code != 200 {
		t.Fatalf("creating carol: %d %s", r.Code, r.Body)
	}
	envelope := func(user, pass string) string {
		return `<Envelope><Header><User>` + user + `</User><Password>` + pass + `</Password></Header><Body><Order>7</Order></Body></Envelope>`
	}
	g.Run(t,
		gt.Case{Name: "credentials in the body", Method: http.MethodPost, Path: "/soap/orders", Body: envelope("carol", pw), Code: 200},
		gt.Case{Name: "a wrong password in the body", Method: http.MethodPost, Path: "/soap/orders", Body: envelope("carol", "guess"), Code: 401, BodyMatch: jsonError("User not authorised")},
		gt.Case{Name: "no username", Method: http.MethodPost, Path: "/soap/orders", Body: `<Password>` + pw + `</Password>`, Code: 400, BodyMatch: jsonError("Body do not contain username")},
		gt.Case{Name: "no password", Method: http.MethodPost, Path: "/soap/orders", Body: `<User>carol</User>`, Code: 400, BodyMatch: jsonError("Body do not contain password")},
		gt.Case{Name: "no body", Path: "/soap/orders", Code: 400, BodyMatch: jsonError("Body do not contain username")},
		gt.Case{Name: "the header still serves", Path: "/soap/orders", Code: 200,
			Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("carol:"+pw))}},
	)
	// The body that carried the credentials reached the upstream as sent.
	if reqs := up.Requests(); len(reqs) != 2 || reqs[0].Method != http.MethodPost || reqs[0].Body != envelope("carol", pw) {
		t.Fatalf("the upstream got %+v, want the POST with its envelope, then the GET", reqs)
	}
	// A large body, the credentials at its start: the upstream gets all of it.
	big := envelope("carol", pw) + strings.Repeat("x", 3<<20)
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Method: http.MethodPost, Path: "/soap/big", Body: big}))
	if last, _ := up.Last(); last.BodyLength != len(big) {
		t.Errorf("the upstream got %d bytes of a %d-byte body", last.BodyLength, len(big))
	}
	// Credentials past the first MiB are not looked for.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: jsonError("Body do not contain username")},
		g.Do(gt.Case{Method: http.MethodPost, Path: "/soap/far", Body: strings.Repeat("x", basicauth.MaxCredentialsBody) + envelope("carol", pw)}))
	// A body over the API's size limit, sent chunked: 413, and the part read is in no record.
	chunked, err := http.NewRequest(http.MethodPost, g.URL+"/soap-small/x", io.MultiReader(strings.NewReader(envelope("carol", pw)), strings.NewReader(strings.Repeat("x", 4096))))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := g.Client.Do(chunked); err != nil || res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked body over the limit: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// The detailed records of the requests whose body was read hold neither request nor
	// answer; the one authenticated by its header holds its request, the header hidden.
	var recs []sdk.AnalyticsRecord
	for _, rec := range readRecords(t, file, 10) {
		if rec.APIID != "oa" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 9 {
		t.Fatalf("%d records of the basic auth APIs, want 9", len(recs))
	}
	shown := 0
	for _, rec := range recs {
		raw, _ := base64.StdEncoding.DecodeString(rec.RawRequest)
		switch {
		case strings.Contains(string(raw), pw) || strings.Contains(string(raw), "<User>"):
			t.Errorf("the detailed record of %s %s holds the body's credentials:\n%.300s", rec.Method, rec.Path, raw)
		case strings.HasPrefix(string(raw), "GET /soap/orders"):
			shown++
		case !strings.HasPrefix(string(raw), "[not recorded"):
			t.Errorf("the detailed record of %s %s: %.300s", rec.Method, rec.Path, raw)
		}
	}
	if shown != 1 {
		t.Errorf("%d records show their request, want the one authenticated by its header", shown)
	}

	// Expressions that cannot work refuse the definition.
	for _, tc := range []struct {
		user, pass, want string
	}{
		{"", `<P>(.*)</P>`, "basic_auth.body_user_regexp: missing"},
		{`<U>.*</U>`, `<P>(.*)</P>`, "basic_auth.body_user_regexp: \"<U>.*</U>\" captures nothing"},
		{`<U>(.*)</U>`, `<P>(.*</P>`, "basic_auth.body_password_regexp: error parsing regexp"},
	} {
		bad := gt.Keyed(gt.API("bad-soap", "/bad-soap/", up.URL))
		bad.UseBasicAuth, bad.UseStandardAuth = true, false
		bad.BasicAuth = apidef.BasicAuthConfig{ExtractFromBody: true, BodyUserRegexp: tc.user, BodyPasswordRegexp: tc.pass}
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("expressions %q and %q: %v, want %q", tc.user, tc.pass, err, tc.want)
		}
	}
}
