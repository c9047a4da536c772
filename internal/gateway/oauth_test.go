package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/session"
)

// oauthAPI is an API with Tyk's OAuth 2.0 server, every grant on, whose clients get the policy
// "oa-pol" (2 requests a minute).
func oauthAPI(up string) *apidef.APIDefinition {
	a := gt.Keyed(gt.API("oa", "/oa/", up))
	a.Name, a.OrgID, a.UseStandardAuth, a.UseOauth2 = "OAuth API", "acme", false, true
	a.OAuthMeta = apidef.OAuthMeta{
		AllowedAccessTypes:    []string{"authorization_code", "refresh_token", "password", "client_credentials"},
		AllowedAuthorizeTypes: []string{"code", "token"},
		AuthLoginRedirect:     "http://login.test/sign-in",
	}
	return a
}

const oauthPolicies = `{"oa-pol": {"id": "oa-pol", "org_id": "acme", "rate": 2, "per": 60, "quota_max": -1, "active": true,
	"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}},
	"other-pol": {"id": "other-pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
	"access_rights": {"keyed": {"api_id": "keyed", "versions": ["Default"]}}}}`

// oauthClient is a client as the Gateway API returns it.
type oauthClient struct {
	ClientID    string `json:"client_id"`
	Secret      string `json:"secret"`
	RedirectURI string `json:"redirect_uri"`
	PolicyID    string `json:"policy_id"`
}

// tokenReply is the token endpoint's answer.
type tokenReply struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Error        string `json:"error"`
}

func oauthError(code string) string { return `"error":"` + code + `"` }

// notificationReceiver is a server taking OAuth key change notifications: each one's headers,
// with its body in X-Body.
func notificationReceiver(t *testing.T) (*httptest.Server, chan http.Header) {
	notes := make(chan http.Header, 100)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Set("X-Body", string(body))
		notes <- h
	}))
	t.Cleanup(recv.Close)
	return recv, notes
}

// TestOAuth2 runs Tyk's OAuth 2.0 flows against a gateway, on the memory store and on Redis
// shared by two gateways (a token issued by one serves on the other): clients through the
// Gateway API, the four grants, bearer tokens on requests with the client's policy, refresh
// token rotation, revocation, and a deleted client's tokens refused.
func TestOAuth2(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
		keyed.OrgID = "acme"
		o := store
		o.APIs, o.Policies = []*apidef.APIDefinition{oauthAPI(up.URL), keyed}, oauthPolicies
		g := gt.Start(t, o)
		other := g // the gateway that serves the tokens g issues
		if store.Redis != "" {
			other = gt.Start(t, o)
		}

		// Clients, through the Gateway API.
		create := func(body string) gt.Response {
			return g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create", Body: body})
		}
		g.Run(t,
			gt.Case{Name: "client of a keyed API", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
				Body: `{"api_id": "keyed", "redirect_uri": "http://app.test/cb"}`, Code: 400, BodyMatch: `API is not OAuth2`},
			gt.Case{Name: "client of no API", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
				Body: `{"api_id": "nope", "redirect_uri": "http://app.test/cb"}`, Code: 400, BodyMatch: `API doesn't exist`},
			gt.Case{Name: "policy not granting the API", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
				Body: `{"api_id": "oa", "policy_id": "other-pol", "redirect_uri": "http://app.test/cb"}`, Code: 400, BodyMatch: `Policy access rights doesn't contain API`},
			gt.Case{Name: "client id with a colon", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
				Body: `{"api_id": "oa", "client_id": "a:b", "policy_id": "oa-pol"}`, Code: 400, BodyMatch: `client_id`},
			gt.Case{Name: "without the secret", Method: http.MethodPost, Path: "/tyk/oauth/clients/create", Code: 403},
		)
		r := create(`{"api_id": "oa", "policy_id": "oa-pol", "redirect_uri": "http://app.test/cb", "meta_data": {"team": "billing"}, "description": "billing app"}`)
		var app oauthClient
		if err := json.Unmarshal([]byte(r.Body), &app); r.Code != 200 || err != nil || app.ClientID == "" || app.Secret == "" {
			t.Fatalf("creating a client: %d %s", r.Code, r.Body)
		}
		// Without api_id, a client is made for every OAuth API its policy grants.
		r = create(`{"client_id": "by-policy", "secret": "s3cret-by-policy", "policy_id": "oa-pol", "redirect_uri": "http://app.test/cb"}`)
		if r.Code != 200 {
			t.Fatalf("creating a client by policy: %d %s", r.Code, r.Body)
		}
		r = g.Do(gt.Case{Admin: true, Path: "/tyk/oauth/clients/oa"})
		if r.Code != 200 || !strings.Contains(r.Body, app.ClientID) || !strings.Contains(r.Body, `"by-policy"`) {
			t.Fatalf("listing the clients: %d %s", r.Code, r.Body)
		}
		g.Run(t,
			gt.Case{Name: "one client", Admin: true, Path: "/tyk/oauth/clients/oa/" + app.ClientID, Code: 200, BodyMatch: `"description": "billing app"`},
			gt.Case{Name: "unknown client", Admin: true, Path: "/tyk/oauth/clients/oa/nobody", Code: 404, BodyMatch: `OAuth Client ID not found`},
			gt.Case{Name: "clients of no API", Admin: true, Path: "/tyk/oauth/clients/nope", Code: 404, BodyMatch: `OAuth client not found`},
			gt.Case{Name: "a client of no API", Admin: true, Path: "/tyk/oauth/clients/nope/x", Code: 404, BodyMatch: `API doesn't exist`},
			gt.Case{Name: "clients of an API without OAuth", Admin: true, Path: "/tyk/oauth/clients/keyed", Code: 200, BodyMatch: `^\[\]\s*$`},
		)

		basic := func(id, secret string) map[string]string {
			return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)),
				"Content-Type": "application/x-www-form-urlencoded"}
		}
		token := func(gw *gt.Gateway, id, secret string, form url.Values) (tokenReply, gt.Response) {
			t.Helper()
			r := gw.Do(gt.Case{Method: http.MethodPost, Path: "/oa/oauth/token", Headers: basic(id, secret), Body: form.Encode()})
			var tr tokenReply
			if err := json.Unmarshal([]byte(r.Body), &tr); err != nil {
				t.Fatalf("token endpoint: %d %s", r.Code, r.Body)
			}
			return tr, r
		}
		bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

		// client_credentials: an access token with the client's policy, no refresh token.
		cc, r := token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"client_credentials"}})
		if r.Code != 200 || cc.AccessToken == "" || cc.RefreshToken != "" || cc.ExpiresIn != 3600 || cc.TokenType != "bearer" {
			t.Fatalf("client_credentials: %d %s", r.Code, r.Body)
		}
		if r.Header.Get("Cache-Control") != "no-cache, no-store, must-revalidate" {
			t.Errorf("token answer Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		plainKey := g.CreateKey(&apidef.SessionState{OrgID: "acme", AccessRights: map[string]apidef.AccessDefinition{"oa": {APIID: "oa", Versions: []string{"Default"}}}})
		before := len(up.Requests())
		other.Run(t,
			gt.Case{Name: "bearer token", Path: "/oa/get", Headers: bearer(cc.AccessToken), Code: 200},
			gt.Case{Name: "no token", Path: "/oa/get", Code: 400, BodyMatch: jsonError("Authorization field missing")},
			gt.Case{Name: "token without a scheme", Path: "/oa/get", Headers: map[string]string{"Authorization": cc.AccessToken}, Code: 400, BodyMatch: jsonError("Authorization field missing")},
			gt.Case{Name: "not bearer", Path: "/oa/get", Headers: map[string]string{"Authorization": "Basic " + cc.AccessToken}, Code: 400, BodyMatch: jsonError("Bearer token malformed")},
			gt.Case{Name: "unknown token", Path: "/oa/get", Headers: bearer("acme0123456789abcdef0123456789abcdef"), Code: 403, BodyMatch: jsonError("Key not authorised")},
			// A key no client was issued is not a bearer token, whatever its access rights.
			gt.Case{Name: "ordinary key as a bearer token", Path: "/oa/get", Headers: bearer(plainKey), Code: 403, BodyMatch: jsonError("Key not authorised")},
			// The policy's rate limit: 2 a minute.
			gt.Case{Name: "second request", Path: "/oa/get", Headers: bearer(cc.AccessToken), Code: 200},
			gt.Case{Name: "third request", Path: "/oa/get", Headers: bearer(cc.AccessToken), Code: 429},
		)
		if n := len(up.Requests()) - before; n != 2 {
			t.Errorf("the upstream got %d requests, want the 2 let in", n)
		}

		// Token endpoint refusals.
		_, r = token(g, app.ClientID, "wrong", url.Values{"grant_type": {"client_credentials"}})
		gt.Check(t, gt.Case{Name: "wrong secret", Code: 403, BodyMatch: oauthError("invalid_client")}, r)
		_, r = token(g, "nobody", app.Secret, url.Values{"grant_type": {"client_credentials"}})
		gt.Check(t, gt.Case{Name: "unknown client", Code: 403, BodyMatch: oauthError("invalid_client")}, r)
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"assertion"}})
		gt.Check(t, gt.Case{Name: "grant not allowed", Code: 403, BodyMatch: oauthError("unsupported_grant_type")}, r)
		g.Run(t,
			gt.Case{Name: "no client credentials", Method: http.MethodPost, Path: "/oa/oauth/token", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				Body: "grant_type=client_credentials&client_id=" + app.ClientID + "&client_secret=" + app.Secret, Code: 403, BodyMatch: oauthError("invalid_request")},
			gt.Case{Name: "GET token", Path: "/oa/oauth/token?grant_type=client_credentials", Headers: basic(app.ClientID, app.Secret), Code: 403, BodyMatch: oauthError("invalid_request")},
			gt.Case{Name: "PUT token", Method: http.MethodPut, Path: "/oa/oauth/token", Code: 405},
		)

		// authorization_code: the login page approves the client (with the gateway secret),
		// the app trades the code once.
		g.Run(t,
			gt.Case{Name: "authorize-client without the secret", Method: http.MethodPost, Path: "/oa/tyk/oauth/authorize-client/",
				Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "response_type=code&client_id=" + app.ClientID, Code: 403},
			gt.Case{Name: "authorize redirects to the login page", Path: "/oa/oauth/authorize?response_type=code&client_id=" + app.ClientID + "&redirect_uri=http%3A%2F%2Fapp.test%2Fcb&state=xyz",
				Code: 307, HeadersMatch: map[string]string{"Location": "http://login.test/sign-in?response_type=code&client_id=" + app.ClientID + "&redirect_uri=http%3A%2F%2Fapp.test%2Fcb&state=xyz"}},
			gt.Case{Name: "authorize, unknown client", Path: "/oa/oauth/authorize?response_type=code&client_id=nobody", Code: 403},
			gt.Case{Name: "authorize, foreign redirect", Path: "/oa/oauth/authorize?response_type=code&client_id=" + app.ClientID + "&redirect_uri=http%3A%2F%2Fevil.test%2Fcb", Code: 403},
			gt.Case{Name: "authorize, a longer path than the client's", Path: "/oa/oauth/authorize?response_type=code&client_id=" + app.ClientID + "&redirect_uri=http%3A%2F%2Fapp.test%2Fcb%2Fmore", Code: 403},
		)
		approve := func(form url.Values) (map[string]any, gt.Response) {
			t.Helper()
			r := g.Do(gt.Case{Method: http.MethodPost, Path: "/oa/tyk/oauth/authorize-client/", Body: form.Encode(),
				Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Tyk-Authorization": gt.Secret}})
			var out map[string]any
			if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
				t.Fatalf("authorize-client: %d %s", r.Code, r.Body)
			}
			return out, r
		}
		out, r := approve(url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {"http://app.test/cb"}, "state": {"xyz"}})
		code, _ := out["code"].(string)
		if r.Code != 200 || code == "" || out["redirect_to"] != "http://app.test/cb?code="+code+"&state=xyz" {
			t.Fatalf("authorize-client: %d %s", r.Code, r.Body)
		}
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://app.test/cb/other"}})
		gt.Check(t, gt.Case{Name: "code with another redirect_uri", Code: 403, BodyMatch: oauthError("invalid_request")}, r)
		// That attempt used the code up: a code serves one token request.
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://app.test/cb"}})
		gt.Check(t, gt.Case{Name: "code used", Code: 403, BodyMatch: oauthError("invalid_grant")}, r)

		out, _ = approve(url.Values{"response_type": {"code"}, "client_id": {app.ClientID}})
		code, _ = out["code"].(string)
		_, r = token(g, "by-policy", "s3cret-by-policy", url.Values{"grant_type": {"authorization_code"}, "code": {code}})
		gt.Check(t, gt.Case{Name: "another client's code", Code: 403, BodyMatch: oauthError("invalid_grant")}, r)
		out, _ = approve(url.Values{"response_type": {"code"}, "client_id": {app.ClientID}})
		code, _ = out["code"].(string)
		ac, r := token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
		if r.Code != 200 || ac.AccessToken == "" || ac.RefreshToken == "" {
			t.Fatalf("authorization_code: %d %s", r.Code, r.Body)
		}
		other.Run(t, gt.Case{Name: "code's token", Path: "/oa/get", Headers: bearer(ac.AccessToken), Code: 200})

		// refresh_token: a new pair; the old access and refresh tokens stop.
		_, r = token(g, "by-policy", "s3cret-by-policy", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ac.RefreshToken}})
		gt.Check(t, gt.Case{Name: "another client's refresh token", Code: 403, BodyMatch: oauthError("invalid_client")}, r)
		rf, r := token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ac.RefreshToken}})
		if r.Code != 200 || rf.AccessToken == "" || rf.RefreshToken == "" || rf.RefreshToken == ac.RefreshToken {
			t.Fatalf("refresh_token: %d %s", r.Code, r.Body)
		}
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ac.RefreshToken}})
		gt.Check(t, gt.Case{Name: "refresh token used", Code: 403, BodyMatch: oauthError("invalid_grant")}, r)
		other.Run(t,
			gt.Case{Name: "refreshed token", Path: "/oa/get", Headers: bearer(rf.AccessToken), Code: 200},
			gt.Case{Name: "the token a refresh replaced", Path: "/oa/get", Headers: bearer(ac.AccessToken), Code: 403},
		)

		// The implicit grant through authorize-client, with key_rules making the session.
		rules := `{"org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}, "meta_data": {"who": "rules"}}`
		out, r = approve(url.Values{"response_type": {"token"}, "client_id": {app.ClientID}, "key_rules": {rules}})
		implicit, _ := out["access_token"].(string)
		if r.Code != 200 || implicit == "" || out["refresh_token"] != nil || !strings.HasPrefix(out["redirect_to"].(string), "http://app.test/cb#access_token=") {
			t.Fatalf("authorize-client, token: %d %s", r.Code, r.Body)
		}
		for i := range 3 { // past the policy's 2 a minute: key_rules' limit applies
			other.Run(t, gt.Case{Name: "implicit token " + string(rune('1'+i)), Path: "/oa/get", Headers: bearer(implicit), Code: 200})
		}
		r = g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + implicit})
		if r.Code != 200 || !strings.Contains(r.Body, `"oauth_client_id":"`+app.ClientID+`"`) || !strings.Contains(r.Body, `"team":"billing"`) || !strings.Contains(r.Body, `"who":"rules"`) {
			t.Errorf("the implicit token's key: %d %s", r.Code, r.Body)
		}
		_, r = approve(url.Values{"response_type": {"token"}, "client_id": {app.ClientID}, "key_rules": {`{"rate": "x"}`}})
		gt.Check(t, gt.Case{Name: "key_rules not a key", Code: 403, BodyMatch: oauthError("invalid_request")}, r)
		_, r = approve(url.Values{"response_type": {"token"}, "client_id": {app.ClientID}, "key_rules": {`{"rate": 10, "per": 1,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"], "endpoints": [{"path": "/x/(", "methods": [{"name": "GET", "limit": {"rate": 1, "per": 1}}]}]}}}`}})
		gt.Check(t, gt.Case{Name: "key_rules with a path that is no pattern", Code: 403, BodyMatch: oauthError("invalid_request")}, r)

		// password: a basic auth user's rights.
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/alice", Body: `{"org_id": "acme", "rate": 100, "per": 1,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}, "basic_auth_data": {"password": "correct horse"}}`}); r.Code != 200 {
			t.Fatalf("creating alice: %d %s", r.Code, r.Body)
		}
		pw, r := token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse"}})
		if r.Code != 200 || pw.AccessToken == "" || pw.RefreshToken == "" {
			t.Fatalf("password: %d %s", r.Code, r.Body)
		}
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}})
		gt.Check(t, gt.Case{Name: "password grant, wrong password", Code: 403, BodyMatch: oauthError("access_denied")}, r)
		other.Run(t, gt.Case{Name: "password token", Path: "/oa/get", Headers: bearer(pw.AccessToken), Code: 200})
		r = g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + pw.AccessToken})
		if r.Code != 200 || strings.Contains(r.Body, "basic_auth_data") {
			t.Errorf("the password grant's token carries the user's password: %s", r.Body)
		}

		// Revocation, then a deleted client.
		g.Run(t,
			gt.Case{Name: "revoke without a token", Method: http.MethodPost, Path: "/oa/oauth/revoke", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Code: 400},
			gt.Case{Name: "revoke an ordinary key", Method: http.MethodPost, Path: "/oa/oauth/revoke", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				Body: "token=" + plainKey, Code: 200},
			gt.Case{Name: "revoke", Method: http.MethodPost, Path: "/oa/oauth/revoke", Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				Body: "token=" + rf.AccessToken, Code: 200, BodyMatch: `token revoked successfully`},
		)
		if r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + plainKey}); r.Code != 200 {
			t.Errorf("an ordinary key revoked through the OAuth endpoint: %d %s", r.Code, r.Body)
		}
		other.Run(t, gt.Case{Name: "revoked token", Path: "/oa/get", Headers: bearer(rf.AccessToken), Code: 403, BodyMatch: jsonError("Key not authorised")})

		// The client's token index: the Gateway API lists its live tokens by hash.
		r = g.Do(gt.Case{Admin: true, Path: "/tyk/oauth/clients/oa/" + app.ClientID + "/tokens"})
		var listed []struct {
			Code    string `json:"code"`
			Expires int64  `json:"expires"`
		}
		if err := json.Unmarshal([]byte(r.Body), &listed); r.Code != 200 || err != nil || len(listed) == 0 || strings.Contains(r.Body, implicit) {
			t.Errorf("the client's tokens: %d %s", r.Code, r.Body)
		}

		if r := g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/clients/oa/" + app.ClientID}); r.Code != 200 {
			t.Fatalf("deleting the client: %d %s", r.Code, r.Body)
		}
		// Its tokens go with it, refresh tokens too.
		other.Run(t, gt.Case{Name: "a deleted client's token", Path: "/oa/get", Headers: bearer(implicit), Code: 403, BodyMatch: jsonError("Key not authorised")})
		if r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + implicit}); r.Code != 404 {
			t.Errorf("a deleted client's token is still a key: %d %s", r.Code, r.Body)
		}
		// Made again under the same id, the client gets none of them back.
		if r := create(`{"api_id": "oa", "client_id": "` + app.ClientID + `", "secret": "` + app.Secret + `", "policy_id": "oa-pol"}`); r.Code != 200 {
			t.Fatalf("creating the client again: %d %s", r.Code, r.Body)
		}
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.RefreshToken}})
		gt.Check(t, gt.Case{Name: "a deleted client's refresh token", Code: 403, BodyMatch: oauthError("invalid_grant")}, r)
		other.Run(t, gt.Case{Name: "a deleted client's token, client made again", Path: "/oa/get", Headers: bearer(pw.AccessToken), Code: 403})
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/clients/oa/" + app.ClientID}); r.Code != 200 {
			t.Fatalf("deleting the client again: %d %s", r.Code, r.Body)
		}
		_, r = token(g, app.ClientID, app.Secret, url.Values{"grant_type": {"client_credentials"}})
		gt.Check(t, gt.Case{Name: "a deleted client", Code: 403, BodyMatch: oauthError("invalid_client")}, r)
	})
}

// TestOAuth2Hostile: what a hostile review of the OAuth server found, each closed: the password
// grant for users expired, inactive or without access to the API; tokens of a changed policy or
// a deleted client living on in other APIs; one API revoking another's tokens; secrets in
// detailed analytics records; redirect URIs that are no way back to an application.
func TestOAuth2Hostile(t *testing.T) {
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.OrgID = "acme"
	oa, ob := oauthAPI(up.URL), oauthAPI(up.URL)
	oa.EnableDetailedRecording = true
	recv, notes := notificationReceiver(t)
	oa.Notifications = apidef.Notifications{SharedSecret: "shh", OAuthKeyChangeURL: recv.URL + "/tokens"}
	ob.APIID, ob.Proxy.ListenPath = "ob", "/ob/"
	file, analyticsOn := analyticsFile(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{oa, ob, keyed}, Config: analyticsOn,
		Policies: `{"oa-pol": {"id": "oa-pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}},
		"big-pol": {"id": "big-pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}, "keyed": {"api_id": "keyed", "versions": ["Default"]}}},
		"ob-pol": {"id": "ob-pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
			"access_rights": {"ob": {"api_id": "ob", "versions": ["Default"]}}}}`})

	admin := func(method, path, body string) gt.Response {
		return g.Do(gt.Case{Admin: true, Method: method, Path: path, Body: body})
	}
	for _, c := range []string{
		`{"api_id": "oa", "client_id": "big", "secret": "big-secret", "policy_id": "big-pol", "redirect_uri": "http://app.test/cb"}`,
		`{"api_id": "oa", "client_id": "same", "secret": "same-secret", "policy_id": "oa-pol"}`,
		`{"api_id": "ob", "client_id": "same", "secret": "same-secret", "policy_id": "ob-pol"}`,
	} {
		if r := admin(http.MethodPost, "/tyk/oauth/clients/create", c); r.Code != 200 {
			t.Fatalf("creating %s: %d %s", c, r.Code, r.Body)
		}
	}
	for _, bad := range []string{"javascript:alert(1)", "data:text/html,x", "/relative/cb", "http://app.test/cb#frag"} {
		r := admin(http.MethodPost, "/tyk/oauth/clients/create", `{"api_id": "oa", "policy_id": "oa-pol", "redirect_uri": "`+bad+`"}`)
		gt.Check(t, gt.Case{Name: "redirect_uri " + bad, Code: 400, BodyMatch: `redirect_uri`}, r)
	}

	form := func(api, id, secret string, f url.Values) (tokenReply, gt.Response) {
		t.Helper()
		r := g.Do(gt.Case{Method: http.MethodPost, Path: "/" + api + "/oauth/token", Body: f.Encode(),
			Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)), "Content-Type": "application/x-www-form-urlencoded"}})
		var tr tokenReply
		_ = json.Unmarshal([]byte(r.Body), &tr)
		return tr, r
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	// Password grant: only active, unexpired users with access to the API.
	users := map[string]string{
		"expired":   `"expires": 1000000000, "access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}`,
		"inactive":  `"is_inactive": true, "access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}`,
		"elsewhere": `"access_rights": {"keyed": {"api_id": "keyed", "versions": ["Default"]}}`,
		"soon":      `"expires": ` + strconv.FormatInt(time.Now().Add(10*time.Minute).Unix(), 10) + `, "access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}}`,
	}
	for name, rights := range users {
		if r := admin(http.MethodPost, "/tyk/keys/"+name, `{"org_id": "acme", "rate": 100, "per": 1, `+rights+`, "basic_auth_data": {"password": "pw-`+name+`"}}`); r.Code != 200 {
			t.Fatalf("creating %s: %d %s", name, r.Code, r.Body)
		}
	}
	for _, name := range []string{"expired", "inactive", "elsewhere"} {
		_, r := form("oa", "big", "big-secret", url.Values{"grant_type": {"password"}, "username": {name}, "password": {"pw-" + name}})
		gt.Check(t, gt.Case{Name: "password grant for " + name, Code: 403, BodyMatch: oauthError("access_denied")}, r)
	}
	soon, r := form("oa", "big", "big-secret", url.Values{"grant_type": {"password"}, "username": {"soon"}, "password": {"pw-soon"}})
	if r.Code != 200 || soon.ExpiresIn > 600 || soon.ExpiresIn < 60 {
		t.Errorf("a user expiring in 10 minutes: %d %s, want a token living no longer", r.Code, r.Body)
	}
	// Tyk's key change notification for it.
	select {
	case h := <-notes:
		var n struct {
			Token   string `json:"new_oauth_token"`
			Refresh string `json:"refresh_token"`
			Type    string `json:"notification_type"`
		}
		if err := json.Unmarshal([]byte(h.Get("X-Body")), &n); err != nil || n.Token != soon.AccessToken || n.Refresh != soon.RefreshToken ||
			n.Type != "new" || h.Get("X-Tyk-Shared-Secret") != "shh" {
			t.Errorf("the notification: %v %q, secret %q", err, h.Get("X-Body"), h.Get("X-Tyk-Shared-Secret"))
		}
	case <-time.After(5 * time.Second):
		t.Error("no key change notification")
	}

	// A changed policy revokes the client's tokens of the old one, wherever they were used.
	cc, r := form("oa", "big", "big-secret", url.Values{"grant_type": {"client_credentials"}})
	if r.Code != 200 {
		t.Fatalf("client_credentials: %d %s", r.Code, r.Body)
	}
	g.Run(t, gt.Case{Name: "big-pol token on keyed", Path: "/keyed/get", Headers: map[string]string{"Authorization": cc.AccessToken}, Code: 200})
	if r := admin(http.MethodPut, "/tyk/oauth/clients/oa/big", `{"policy_id": "oa-pol", "redirect_uri": "http://app.test/cb"}`); r.Code != 200 {
		t.Fatalf("changing the policy: %d %s", r.Code, r.Body)
	}
	g.Run(t,
		gt.Case{Name: "old policy's token on keyed", Path: "/keyed/get", Headers: map[string]string{"Authorization": cc.AccessToken}, Code: 403},
		gt.Case{Name: "old policy's token on oa", Path: "/oa/get", Headers: bearer(cc.AccessToken), Code: 403},
	)
	if r := admin(http.MethodPut, "/tyk/oauth/clients/oa/big", `{"policy_id": "nope"}`); r.Code != 404 {
		t.Errorf("a policy that does not exist: %d %s, want 404", r.Code, r.Body)
	}

	// A deleted client's tokens stop everywhere, not only on its API.
	if r := admin(http.MethodPut, "/tyk/oauth/clients/oa/big", `{"policy_id": "big-pol", "redirect_uri": "http://app.test/cb"}`); r.Code != 200 {
		t.Fatalf("changing the policy back: %d %s", r.Code, r.Body)
	}
	cc, _ = form("oa", "big", "big-secret", url.Values{"grant_type": {"client_credentials"}})
	g.Run(t, gt.Case{Name: "before the delete", Path: "/keyed/get", Headers: map[string]string{"Authorization": cc.AccessToken}, Code: 200})
	if r := admin(http.MethodDelete, "/tyk/oauth/clients/oa/big", ""); r.Code != 200 {
		t.Fatalf("deleting big: %d %s", r.Code, r.Body)
	}
	if r := admin(http.MethodDelete, "/tyk/oauth/clients/oa/big", ""); r.Code != 404 || !strings.Contains(r.Body, "OAuth Client ID not found") {
		t.Errorf("deleting big again: %d %s, want 404", r.Code, r.Body)
	}
	g.Run(t, gt.Case{Name: "a deleted client's token on keyed", Path: "/keyed/get", Headers: map[string]string{"Authorization": cc.AccessToken}, Code: 403})

	// A deleted client's codes go too: made again under the same id, it cannot trade them.
	cx := `{"api_id": "oa", "client_id": "cx", "secret": "cx-secret", "policy_id": "oa-pol", "redirect_uri": "http://app.test/cb"}`
	if r := admin(http.MethodPost, "/tyk/oauth/clients/create", cx); r.Code != 200 {
		t.Fatalf("creating cx: %d %s", r.Code, r.Body)
	}
	r = g.Do(gt.Case{Method: http.MethodPost, Path: "/oa/tyk/oauth/authorize-client/", Body: "response_type=code&client_id=cx",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Tyk-Authorization": gt.Secret}})
	var approved struct{ Code string }
	if err := json.Unmarshal([]byte(r.Body), &approved); r.Code != 200 || err != nil || approved.Code == "" {
		t.Fatalf("authorize-client: %d %s", r.Code, r.Body)
	}
	if r := admin(http.MethodDelete, "/tyk/oauth/clients/oa/cx", ""); r.Code != 200 {
		t.Fatalf("deleting cx: %d %s", r.Code, r.Body)
	}
	if r := admin(http.MethodPost, "/tyk/oauth/clients/create", cx); r.Code != 200 {
		t.Fatalf("creating cx again: %d %s", r.Code, r.Body)
	}
	_, r = form("oa", "cx", "cx-secret", url.Values{"grant_type": {"authorization_code"}, "code": {approved.Code}})
	gt.Check(t, gt.Case{Name: "a deleted client's code", Code: 403, BodyMatch: oauthError("invalid_grant")}, r)

	// The token list shows only tokens whose keys are there.
	gone, _ := form("oa", "cx", "cx-secret", url.Values{"grant_type": {"client_credentials"}})
	kept, _ := form("oa", "cx", "cx-secret", url.Values{"grant_type": {"client_credentials"}})
	if r := admin(http.MethodDelete, "/tyk/keys/"+gone.AccessToken, ""); r.Code != 200 {
		t.Fatalf("deleting a token's key: %d %s", r.Code, r.Body)
	}
	r = admin(http.MethodGet, "/tyk/oauth/clients/oa/cx/tokens", "")
	if r.Code != 200 || strings.Count(r.Body, `"code"`) != 1 || !strings.Contains(r.Body, session.HashKey(kept.AccessToken)) {
		t.Errorf("the token list after a key's delete: %d %s", r.Code, r.Body)
	}

	// One API's revoke endpoint leaves another's tokens, whatever their clients are called.
	sa, _ := form("oa", "same", "same-secret", url.Values{"grant_type": {"client_credentials"}})
	sb, _ := form("ob", "same", "same-secret", url.Values{"grant_type": {"client_credentials"}})
	revoke := func(api, tok string) {
		t.Helper()
		if r := g.Do(gt.Case{Method: http.MethodPost, Path: "/" + api + "/oauth/revoke", Body: "token=" + tok,
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}); r.Code != 200 {
			t.Fatalf("revoke at %s: %d %s", api, r.Code, r.Body)
		}
	}
	revoke("ob", sa.AccessToken)
	g.Run(t, gt.Case{Name: "oa's token after ob's revoke", Path: "/oa/get", Headers: bearer(sa.AccessToken), Code: 200})

	// revoke_all: the client's credentials revoke everything it was issued.
	g.Run(t,
		gt.Case{Name: "revoke_all, wrong secret", Method: http.MethodPost, Path: "/ob/oauth/revoke_all", Body: "client_id=same&client_secret=x",
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Code: 401, BodyMatch: `client secret is wrong`},
		gt.Case{Name: "revoke_all", Method: http.MethodPost, Path: "/ob/oauth/revoke_all", Body: "client_id=same&client_secret=same-secret",
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Code: 200, BodyMatch: `tokens revoked successfully`},
		gt.Case{Name: "after revoke_all", Path: "/ob/get", Headers: bearer(sb.AccessToken), Code: 403},
		gt.Case{Name: "the other API's client of that name keeps its token", Path: "/oa/get", Headers: bearer(sa.AccessToken), Code: 200},
	)

	// Detailed records of the OAuth endpoints hold none of what they carried.
	pw, r := form("oa", "same", "same-secret", url.Values{"grant_type": {"client_credentials"}})
	if r.Code != 200 {
		t.Fatalf("client_credentials: %d %s", r.Code, r.Body)
	}
	for _, rec := range readRecords(t, file, 1) {
		raw, _ := base64.StdEncoding.DecodeString(rec.RawRequest)
		resp, _ := base64.StdEncoding.DecodeString(rec.RawResponse)
		for _, secret := range []string{"same-secret", "pw-soon", pw.AccessToken, soon.AccessToken, soon.RefreshToken} {
			if strings.Contains(string(raw), secret) || strings.Contains(string(resp), secret) {
				t.Errorf("a record of %s %s holds %q", rec.Method, rec.Path, secret)
			}
		}
		for _, s := range []string{base64.StdEncoding.EncodeToString([]byte("same:same-secret"))} {
			if strings.Contains(string(raw), s) {
				t.Errorf("a record of %s holds the client's basic credentials", rec.Path)
			}
		}
	}
}

// TestOAuth2NoGrants: an OAuth API that allows no grant is served (Tyk serves it too) and its
// token endpoint refuses every grant; the log says why and what to list.
func TestOAuth2NoGrants(t *testing.T) {
	up := gt.NewUpstream(t)
	a := oauthAPI(up.URL)
	a.OAuthMeta.AllowedAccessTypes = nil
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{a}})
	g.Run(t, gt.Case{Name: "token", Method: http.MethodPost, Path: "/oa/oauth/token", Body: "grant_type=client_credentials",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Code: 403, BodyMatch: oauthError("unsupported_grant_type")})
	if !strings.Contains(g.Logs(), "oauth_meta.allowed_access_types is empty") {
		t.Errorf("no warning that the API allows no grant:\n%s", g.Logs())
	}
}

// TestOAuth2GatewayAPITokens: the Gateway API's OAuth token endpoints (Tyk's), on the memory
// store and on Redis shared by two gateways: a refresh token invalidated, a token revoked by
// client, every token of a client revoked with its secret, the APIs of a client, lapsed tokens.
func TestOAuth2GatewayAPITokens(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		oa, ob, oz := oauthAPI(up.URL), oauthAPI(up.URL), oauthAPI(up.URL)
		ob.APIID, ob.Proxy.ListenPath = "ob", "/ob/"
		oz.APIID, oz.Proxy.ListenPath, oz.OrgID = "oz", "/oz/", "zeta"
		keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
		o := store
		o.APIs = []*apidef.APIDefinition{oa, ob, oz, keyed}
		o.Policies = `{"pol": {"id": "pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}, "ob": {"api_id": "ob", "versions": ["Default"]}}},
			"zpol": {"id": "zpol", "org_id": "zeta", "rate": 100, "per": 1, "quota_max": -1, "active": true,
			"access_rights": {"oz": {"api_id": "oz", "versions": ["Default"]}}}}`
		g := gt.Start(t, o)
		other := g // a second gateway on Redis, where what the first did must hold
		if store.Redis != "" {
			other = gt.Start(t, o)
		}
		formH := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		admin := func(method, path, body string) gt.Response {
			return g.Do(gt.Case{Admin: true, Method: method, Path: path, Body: body,
				Headers: formH})
		}
		for _, c := range []string{
			`{"api_id": "oa", "client_id": "same", "secret": "same-secret", "policy_id": "pol"}`,
			`{"api_id": "ob", "client_id": "same", "secret": "same-secret", "policy_id": "pol"}`,
			`{"api_id": "oa", "client_id": "other", "secret": "other-secret", "policy_id": "pol"}`,
			`{"api_id": "oz", "client_id": "same", "secret": "zeta-secret", "policy_id": "zpol"}`,
		} {
			if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create", Body: c}); r.Code != 200 {
				t.Fatalf("creating %s: %d %s", c, r.Code, r.Body)
			}
		}
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/alice", Body: `{"org_id": "acme", "rate": 100, "per": 1,
			"access_rights": {"oa": {"api_id": "oa", "versions": ["Default"]}, "ob": {"api_id": "ob", "versions": ["Default"]}},
			"basic_auth_data": {"password": "pw"}}`}); r.Code != 200 {
			t.Fatalf("creating alice: %d %s", r.Code, r.Body)
		}
		pair := func(api string) tokenReply {
			t.Helper()
			r := g.Do(gt.Case{Method: http.MethodPost, Path: "/" + api + "/oauth/token",
				Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("same:same-secret")),
					"Content-Type": "application/x-www-form-urlencoded"},
				Body: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}}.Encode()})
			var tr tokenReply
			if json.Unmarshal([]byte(r.Body), &tr) != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
				t.Fatalf("password grant on %s: %d %s", api, r.Code, r.Body)
			}
			return tr
		}
		refresh := func(api, rt string) int {
			return g.Do(gt.Case{Method: http.MethodPost, Path: "/" + api + "/oauth/token",
				Headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("same:same-secret")),
					"Content-Type": "application/x-www-form-urlencoded"},
				Body: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()}).Code
		}
		works := func(api, tok string) int {
			return other.Do(gt.Case{Path: "/" + api + "/get", Headers: map[string]string{"Authorization": "Bearer " + tok}}).Code
		}

		// The APIs of a client, of an org.
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `^\[\s*"oa",\s*"ob",\s*"oz"\s*\]\s*$`}, admin(http.MethodGet, "/tyk/oauth/clients/apis/same?orgID=", ""))
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `^\[\s*"oz"\s*\]\s*$`}, admin(http.MethodGet, "/tyk/oauth/clients/apis/same?orgID=zeta", ""))
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `^\[\]\s*$`}, admin(http.MethodGet, "/tyk/oauth/clients/apis/nobody?orgID=", ""))
		// Without orgID, as in Tyk, the path names client "same" of an API whose id is "apis".
		gt.Check(t, gt.Case{Code: 404, BodyMatch: `API doesn't exist`}, admin(http.MethodGet, "/tyk/oauth/clients/apis/same", ""))

		// A refresh token invalidated.
		a1, b1 := pair("oa"), pair("ob")
		g.Run(t,
			gt.Case{Name: "refresh without api_id", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/refresh/" + a1.RefreshToken, Code: 400, BodyMatch: `Missing parameter api_id`},
			gt.Case{Name: "refresh of no API", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/refresh/" + a1.RefreshToken + "?api_id=nope", Code: 404, BodyMatch: `API for this refresh token not found`},
			gt.Case{Name: "refresh of an API without OAuth", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/refresh/" + a1.RefreshToken + "?api_id=keyed", Code: 400, BodyMatch: `OAuth is not enabled on this API`},
			gt.Case{Name: "refresh of another API: nothing", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/refresh/" + a1.RefreshToken + "?api_id=ob", Code: 200},
		)
		if code := refresh("oa", a1.RefreshToken); code != 200 {
			t.Fatalf("a refresh token invalidated on another API stopped working: %d", code)
		}
		a1 = pair("oa")
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`},
			admin(http.MethodDelete, "/tyk/oauth/refresh/"+a1.RefreshToken+"?api_id=oa", ""))
		if code := refresh("oa", a1.RefreshToken); code == 200 {
			t.Error("an invalidated refresh token still refreshes")
		}
		if code := works("oa", a1.AccessToken); code != 200 {
			t.Errorf("invalidating the refresh token stopped its access token: %d", code)
		}

		// A token revoked by client id.
		g.Run(t,
			gt.Case{Name: "revoke without a token", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke", Headers: formH, Body: "client_id=same", Code: 400, BodyMatch: `token is required`},
			gt.Case{Name: "revoke without a client", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke", Headers: formH, Body: "token=x", Code: 400, BodyMatch: `client_id is required`},
			gt.Case{Name: "revoke for no client", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke", Headers: formH, Body: "token=x&client_id=nobody", Code: 400, BodyMatch: `oauth client doesn't exist`},
			gt.Case{Name: "revoke without the secret", Method: http.MethodPost, Path: "/tyk/oauth/revoke", Headers: formH, Body: "token=" + a1.AccessToken + "&client_id=same", Code: 403},
		)
		// Another client of the same API names the token: it is not that client's.
		a2 := pair("oa")
		gt.Check(t, gt.Case{Code: 200}, admin(http.MethodPost, "/tyk/oauth/revoke", "token="+a2.AccessToken+"&client_id=other"))
		gt.Check(t, gt.Case{Code: 200}, admin(http.MethodPost, "/tyk/oauth/revoke", "token="+a2.RefreshToken+"&client_id=other"))
		if code := works("oa", a2.AccessToken); code != 200 {
			t.Errorf("revoked as another client's access token: %d", code)
		}
		if code := refresh("oa", a2.RefreshToken); code != 200 {
			t.Errorf("revoked as another client's refresh token: %d", code)
		}
		// A refresh token revoked by its client, with and without the hint.
		a3, a4 := pair("oa"), pair("oa")
		gt.Check(t, gt.Case{Code: 200}, admin(http.MethodPost, "/tyk/oauth/revoke", "token="+a3.RefreshToken+"&client_id=same&token_type_hint=refresh_token"))
		gt.Check(t, gt.Case{Code: 200}, admin(http.MethodPost, "/tyk/oauth/revoke", "token="+a4.RefreshToken+"&client_id=same"))
		for _, rt := range []string{a3.RefreshToken, a4.RefreshToken} {
			if code := refresh("oa", rt); code == 200 {
				t.Error("a revoked refresh token still refreshes")
			}
		}
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `token revoked successfully`},
			admin(http.MethodPost, "/tyk/oauth/revoke", "token="+a1.AccessToken+"&client_id=same&token_type_hint=access_token"))
		if code := works("oa", a1.AccessToken); code != 403 {
			t.Errorf("a revoked access token: %d, want 403", code)
		}
		if code := works("ob", b1.AccessToken); code != 200 {
			t.Errorf("revoking one token stopped another: %d", code)
		}

		// Every token of a client, with its secret.
		g.Run(t,
			gt.Case{Name: "revoke_all without a client", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke_all", Headers: formH, Body: "client_secret=x", Code: 401, BodyMatch: `client_id is required`},
			gt.Case{Name: "revoke_all without a secret", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke_all", Headers: formH, Body: "client_id=same", Code: 401, BodyMatch: `client_secret is required`},
			gt.Case{Name: "revoke_all for no client", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke_all", Headers: formH, Body: "client_id=nobody&client_secret=x", Code: 404, BodyMatch: `oauth client doesn't exist`},
			gt.Case{Name: "revoke_all, wrong secret", Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/revoke_all", Headers: formH, Body: "client_id=same&client_secret=wrong", Code: 401, BodyMatch: `client secret is wrong`},
		)
		if code := works("ob", b1.AccessToken); code != 200 {
			t.Errorf("a refused revoke_all revoked: %d", code)
		}
		gt.Check(t, gt.Case{Code: 200, BodyMatch: `tokens revoked successfully`},
			admin(http.MethodPost, "/tyk/oauth/revoke_all", "client_id=same&client_secret=same-secret&org_id=acme"))
		if code := works("ob", b1.AccessToken); code != 403 {
			t.Errorf("after revoke_all, a token of the client: %d, want 403", code)
		}
		if code := refresh("ob", b1.RefreshToken); code == 200 {
			t.Error("after revoke_all, a refresh token of the client still refreshes")
		}

		// Lapsed tokens: each entry lapses with its token.
		g.Run(t,
			gt.Case{Name: "purge without a scope", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/tokens", Code: 422, BodyMatch: `scope parameter is required`},
			gt.Case{Name: "purge an unknown scope", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/tokens?scope=all", Code: 400, BodyMatch: `unknown scope`},
			gt.Case{Name: "purge two scopes", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/tokens?scope=lapsed&scope=all", Code: 400, BodyMatch: `unknown scope`},
			gt.Case{Name: "purge lapsed", Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/tokens?scope=lapsed", Code: 200, BodyMatch: `lapsed tokens purged`},
		)
	})
}

// TestOAuth2OAS: a Tyk OAS API with an `oauth2` security scheme is Tyk's OAuth 2.0 server, as
// Tyk maps it: clients through the Gateway API, the grants its flows name (and refreshToken),
// the authorize types and login page it lists, tokens read where its sources say, and the key
// change notifications it asks for.
func TestOAuth2OAS(t *testing.T) {
	up := gt.NewUpstream(t)
	recv, notes := notificationReceiver(t)
	g := gt.Start(t, gt.Options{Policies: `{"oo-pol": {"id": "oo-pol", "org_id": "acme", "rate": 100, "per": 1, "quota_max": -1, "active": true,
		"access_rights": {"oas-oauth": {"api_id": "oas-oauth", "versions": ["Default"]}}}}`})
	g.WriteFile("oas-oauth.json", []byte(`{"openapi": "3.0.3", "info": {"title": "oas-oauth", "version": "1"},
	  "paths": {"/a": {"get": {"operationId": "getA"}}},
	  "components": {"securitySchemes": {"oauth": {"type": "oauth2", "flows": {
	    "clientCredentials": {"tokenUrl": "/oo/oauth/token", "scopes": {}},
	    "implicit": {"authorizationUrl": "/oo/oauth/authorize", "scopes": {}},
	    "authorizationCode": {"authorizationUrl": "/oo/oauth/authorize", "tokenUrl": "/oo/oauth/token", "scopes": {}}}}}},
	  "security": [{"oauth": []}],
	  "x-tyk-api-gateway": {"info": {"id": "oas-oauth", "name": "oas-oauth", "orgId": "acme", "state": {"active": true}},
	    "upstream": {"url": "`+up.URL+`"},
	    "server": {"listenPath": {"value": "/oo/", "strip": true},
	      "authentication": {"enabled": true, "securitySchemes": {"oauth": {"enabled": true,
	        "header": {"enabled": true, "name": "X-Access"},
	        "allowedAuthorizeTypes": ["code"], "refreshToken": true, "authLoginRedirect": "http://login.test/in",
	        "notifications": {"sharedSecret": "oas-shh", "onKeyChangeUrl": "`+recv.URL+`/tokens"}}}}}}}`))
	g.Reload()
	r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
		Body: `{"api_id": "oas-oauth", "client_id": "app", "secret": "app-secret", "policy_id": "oo-pol", "redirect_uri": "http://app.test/cb"}`})
	if r.Code != 200 {
		t.Fatalf("creating a client of the OAS API: %d %s", r.Code, r.Body)
	}
	headers := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("app:app-secret")),
		"Content-Type": "application/x-www-form-urlencoded"}
	token := func(grant string) (tokenReply, gt.Response) {
		t.Helper()
		r := g.Do(gt.Case{Method: http.MethodPost, Path: "/oo/oauth/token", Headers: headers, Body: "grant_type=" + grant})
		var tr tokenReply
		if err := json.Unmarshal([]byte(r.Body), &tr); err != nil {
			t.Fatalf("token endpoint: %d %s", r.Code, r.Body)
		}
		return tr, r
	}
	cc, r := token("client_credentials")
	if r.Code != 200 || cc.AccessToken == "" {
		t.Fatalf("client_credentials (flows.clientCredentials): %d %s", r.Code, r.Body)
	}
	_, r = token("password")
	gt.Check(t, gt.Case{Name: "password (no flow names it)", Code: 403, BodyMatch: oauthError("unsupported_grant_type")}, r)
	_, r = token("__implicit")
	gt.Check(t, gt.Case{Name: "Tyk's implicit marker is no grant of the token endpoint", Code: 403, BodyMatch: oauthError("unsupported_grant_type")}, r)
	g.Run(t,
		gt.Case{Name: "the token where the scheme's header source says", Path: "/oo/a", Headers: map[string]string{"X-Access": "Bearer " + cc.AccessToken}, Code: 200},
		gt.Case{Name: "Authorization is not read", Path: "/oo/a", Headers: map[string]string{"Authorization": "Bearer " + cc.AccessToken}, Code: 400, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "authorize, code (allowedAuthorizeTypes), to the login page", Path: "/oo/oauth/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2Fapp.test%2Fcb",
			Code: 307, HeadersMatch: map[string]string{"Location": "http://login.test/in?response_type=code&client_id=app&redirect_uri=http%3A%2F%2Fapp.test%2Fcb"}},
		gt.Case{Name: "authorize, token (not listed)", Path: "/oo/oauth/authorize?response_type=token&client_id=app&redirect_uri=http%3A%2F%2Fapp.test%2Fcb", Code: 403},
	)
	// authorization_code (flows.authorizationCode) with a refresh token (refreshToken).
	r = g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/oo/tyk/oauth/authorize-client/",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "response_type=code&client_id=app&redirect_uri=http%3A%2F%2Fapp.test%2Fcb"})
	var code struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(r.Body), &code); r.Code != 200 || err != nil || code.Code == "" {
		t.Fatalf("authorize-client: %d %s", r.Code, r.Body)
	}
	ac, r := token("authorization_code&redirect_uri=http%3A%2F%2Fapp.test%2Fcb&code=" + code.Code)
	if r.Code != 200 || ac.AccessToken == "" || ac.RefreshToken == "" {
		t.Fatalf("authorization_code: %d %s, want an access and a refresh token", r.Code, r.Body)
	}
	if _, r = token("refresh_token&refresh_token=" + ac.RefreshToken); r.Code != 200 {
		t.Errorf("refresh_token: %d %s", r.Code, r.Body)
	}
	// The notification of the first token issued.
	select {
	case h := <-notes:
		if !strings.Contains(h.Get("X-Body"), cc.AccessToken) || h.Get("X-Tyk-Shared-Secret") != "oas-shh" {
			t.Errorf("the notification: %q, secret %q", h.Get("X-Body"), h.Get("X-Tyk-Shared-Secret"))
		}
	case <-time.After(5 * time.Second):
		t.Error("no key change notification (notifications.onKeyChangeUrl)")
	}
}

// TestOAuthClientWritesRace: an update of a client racing a secret rotation, or its deletion,
// never undoes either (on the memory store and on Redis): once the rotation answered 200, its
// secret is the one stored and the old one is refused; once the delete answered 200, the client
// stays deleted. A write that lost its race answers 409 or 404.
func TestOAuthClientWritesRace(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		o := store
		o.APIs, o.Policies = []*apidef.APIDefinition{oauthAPI(up.URL)}, oauthPolicies
		g := gt.Start(t, o)
		put := `{"policy_id": "oa-pol", "redirect_uri": "http://app.test/cb", "description": "edited"}`
		secretOf := func(id string) (string, int) {
			r := g.Do(gt.Case{Admin: true, Path: "/tyk/oauth/clients/oa/" + id})
			var c oauthClient
			_ = json.Unmarshal([]byte(r.Body), &c)
			return c.Secret, r.Code
		}
		for round := range 15 {
			id := fmt.Sprintf("race-%d", round)
			if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/oauth/clients/create",
				Body: `{"api_id": "oa", "client_id": "` + id + `", "policy_id": "oa-pol", "redirect_uri": "http://app.test/cb"}`}); r.Code != 200 {
				t.Fatalf("creating %s: %d %s", id, r.Code, r.Body)
			}
			old, _ := secretOf(id)
			var wg sync.WaitGroup
			var rotated gt.Response
			codes := make(chan int, 16)
			for i := range 9 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 4 {
						rotated = g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/oauth/clients/oa/" + id + "/rotate"})
						return
					}
					codes <- g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/oauth/clients/oa/" + id, Body: put}).Code
				}()
			}
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != 200 && c != 409 {
					t.Errorf("round %d: an update racing a rotation answered %d, want 200 or 409", round, c)
				}
			}
			var rc oauthClient
			if rotated.Code == 200 {
				_ = json.Unmarshal([]byte(rotated.Body), &rc)
				if got, _ := secretOf(id); got != rc.Secret || got == old {
					t.Fatalf("round %d: the rotation answered 200 with a new secret, but the stored secret is the old one: an update undid it", round)
				}
			} else if rotated.Code != 409 {
				t.Errorf("round %d: the rotation answered %d %s", round, rotated.Code, rotated.Body)
			}

			// A delete racing updates and a rotation: once it answered 200, the client stays gone.
			var deleted gt.Response
			codes = make(chan int, 16)
			for i := range 9 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch i {
					case 4:
						deleted = g.Do(gt.Case{Admin: true, Method: http.MethodDelete, Path: "/tyk/oauth/clients/oa/" + id})
					case 5:
						codes <- g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/oauth/clients/oa/" + id + "/rotate"}).Code
					default:
						codes <- g.Do(gt.Case{Admin: true, Method: http.MethodPut, Path: "/tyk/oauth/clients/oa/" + id, Body: put}).Code
					}
				}()
			}
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != 200 && c != 404 && c != 409 {
					t.Errorf("round %d: a write racing a delete answered %d", round, c)
				}
			}
			if deleted.Code != 200 {
				t.Fatalf("round %d: the delete answered %d %s", round, deleted.Code, deleted.Body)
			}
			if _, code := secretOf(id); code != 404 {
				t.Fatalf("round %d: the client is there (%d) after its delete answered 200: a write brought it back", round, code)
			}
		}
	})
}
