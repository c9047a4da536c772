package gateway_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// TestSeveralAuthMethods calls APIs that enable several auth methods through the gateway with
// a real upstream: every method must pass, each failing alone refuses the request with its own
// answer (never fail-open), a key that would be refused on its own (expired, no access) helps
// nothing in, and the rate limit is the base identity provider's, whichever it is.
func TestSeveralAuthMethods(t *testing.T) {
	clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	// Basic auth in Authorization, the signature in Signature, the key in X-Api-Key; the basic
	// auth user is the base identity.
	multi := gt.Keyed(gt.API("multi", "/multi/", up.URL))
	multi.OrgID, multi.UseBasicAuth, multi.EnableSignatureChecking = "acme", true, true
	multi.AuthConfigs = map[string]apidef.AuthConfig{
		"basic":     {AuthHeaderName: "Authorization"},
		"hmac":      {AuthHeaderName: "Signature"},
		"authToken": {AuthHeaderName: "X-Api-Key"},
	}
	multi.BaseIdentityProvidedBy = apidef.AuthBasicUser
	multi.StripAuthData = true
	// JWT and the key check: with the JWT as the base identity, and with none named (the key
	// check runs last, so its key is the base, as in Tyk).
	jwtSecret := []byte("jwt-secret-for-the-multi-auth-test")
	jwtAPI := func(id, base string) *apidef.APIDefinition {
		a := gt.Keyed(gt.API(id, "/"+id+"/", up.URL))
		a.OrgID, a.EnableJWT, a.JWTSigningMethod = "acme", true, "hmac"
		a.JWTSource = base64.StdEncoding.EncodeToString(jwtSecret)
		a.JWTDefaultPolicies = []string{"jwt-users"}
		a.AuthConfigs = map[string]apidef.AuthConfig{"authToken": {AuthHeaderName: "X-Api-Key"}}
		a.BaseIdentityProvidedBy = base
		return a
	}
	jwtBase, jwtUnset := jwtAPI("jwtbase", apidef.AuthJWTClaim), jwtAPI("jwtunset", "")
	g := gt.Start(t, gt.Options{Now: clock.Now, APIs: []*apidef.APIDefinition{multi, jwtBase, jwtUnset}, Policies: `{
		"jwt-users": {"org_id": "acme", "rate": 2, "per": 60, "access_rights": {"jwtbase": {"api_id": "jwtbase"}, "jwtunset": {"api_id": "jwtunset"}}}
	}`})

	rights := func(ids ...string) string {
		s := `{`
		for i, id := range ids {
			if i > 0 {
				s += ","
			}
			s += `"` + id + `": {"api_id": "` + id + `", "versions": ["Default"]}`
		}
		return s + `}`
	}
	for _, u := range []struct{ name, rate string }{{"alice", "2"}, {"bob", "100"}} {
		if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/" + u.name,
			Body: `{"org_id": "acme", "rate": ` + u.rate + `, "per": 60, "access_rights": ` + rights("multi") + `, "basic_auth_data": {"password": "pw-` + u.name + `"}}`}); r.Code != 200 {
			t.Fatalf("creating %s: %d %s", u.name, r.Code, r.Body)
		}
	}
	hkey, hsecret := hmacKey(t, g, `{"org_id": "acme", "rate": 100, "per": 60, "hmac_enabled": true, "access_rights": `+rights("multi")+`}`)
	token := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, AccessRights: map[string]apidef.AccessDefinition{
		"multi": {APIID: "multi", Versions: []string{"Default"}}, "jwtbase": {APIID: "jwtbase", Versions: []string{"Default"}}, "jwtunset": {APIID: "jwtunset", Versions: []string{"Default"}}}})
	expired := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60, Expires: clock.Now().Add(-time.Hour).Unix(),
		AccessRights: map[string]apidef.AccessDefinition{"multi": {APIID: "multi", Versions: []string{"Default"}}}})
	elsewhere := g.CreateKey(&apidef.SessionState{OrgID: "acme", Rate: 100, Per: 60,
		AccessRights: map[string]apidef.AccessDefinition{"other": {APIID: "other", Versions: []string{"Default"}}}})

	date := clock.Now().Format(http.TimeFormat)
	headers := func(user, tok string) map[string]string {
		return map[string]string{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":pw-"+user)),
			"Date":          date,
			"Signature":     httpSign(hkey, hsecret, "hmac-sha256", sha256.New, []string{"(request-target)", "date"}, []string{"(request-target): get /multi/x", "date: " + date}),
			"X-Api-Key":     tok,
		}
	}
	without := func(h map[string]string, name, value string) map[string]string {
		c := map[string]string{}
		for k, v := range h {
			c[k] = v
		}
		c[name] = value
		return c
	}
	good := headers("alice", token)
	g.Run(t,
		gt.Case{Name: "no basic auth", Path: "/multi/x", Headers: without(good, "Authorization", ""), Code: 401, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "wrong password", Path: "/multi/x", Headers: without(good, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:nope"))),
			Code: 401, BodyMatch: jsonError("User not authorised")},
		gt.Case{Name: "no signature", Path: "/multi/x", Headers: without(good, "Signature", ""), Code: 400, BodyMatch: jsonError("Authorization field missing, malformed or invalid")},
		gt.Case{Name: "bad signature", Path: "/multi/x", Headers: without(good, "Signature", httpSign(hkey, "wrong", "hmac-sha256", sha256.New, []string{"date"}, []string{"date: " + date})),
			Code: 400, BodyMatch: jsonError("Authorization field missing, malformed or invalid")},
		gt.Case{Name: "no key", Path: "/multi/x", Headers: without(good, "X-Api-Key", ""), Code: 401, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "unknown key", Path: "/multi/x", Headers: without(good, "X-Api-Key", token+"x"), Code: 403, BodyMatch: jsonError("Access to this API has been disallowed")},
		gt.Case{Name: "an expired key", Path: "/multi/x", Headers: without(good, "X-Api-Key", expired), Code: 401, BodyMatch: jsonError("Key has expired, please renew")},
		gt.Case{Name: "a key for another API", Path: "/multi/x", Headers: without(good, "X-Api-Key", elsewhere), Code: 403, BodyMatch: jsonError("Access to this API has been disallowed")},
	)
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d refused requests", n)
	}
	// alice (the base identity) may make 2 requests a minute; the key and the HMAC key allow
	// 100 but are not counted. bob, with the same key and HMAC key, has his own limit.
	g.Run(t,
		gt.Case{Name: "every method passes", Path: "/multi/x", Headers: good, Code: 200},
		gt.Case{Name: "again", Path: "/multi/x", Headers: good, Code: 200},
		gt.Case{Name: "alice's limit", Path: "/multi/x", Headers: good, Code: 429, BodyMatch: jsonError("Rate limit exceeded")},
		gt.Case{Name: "bob with the same key", Path: "/multi/x", Headers: headers("bob", token), Code: 200},
	)
	last, _ := up.Last()
	for _, h := range []string{"Authorization", "Signature", "X-Api-Key"} {
		if last.Headers[h] != "" {
			t.Errorf("strip_auth_data: the upstream got %s", h)
		}
	}

	// JWT and the key check: the JWT's policy allows 2 a minute, the key 100.
	bearer := func(sub, tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + hs256(jwtSecret, nil, map[string]any{"sub": sub}), "X-Api-Key": tok}
	}
	g.Run(t,
		gt.Case{Name: "jwt base: no JWT", Path: "/jwtbase/x", Headers: map[string]string{"X-Api-Key": token}, Code: 400, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "jwt base: no key", Path: "/jwtbase/x", Headers: bearer("carol", ""), Code: 401, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "jwt base: 1", Path: "/jwtbase/x", Headers: bearer("carol", token), Code: 200},
		gt.Case{Name: "jwt base: 2", Path: "/jwtbase/x", Headers: bearer("carol", token), Code: 200},
		gt.Case{Name: "jwt base: the JWT's limit", Path: "/jwtbase/x", Headers: bearer("carol", token), Code: 429},
		gt.Case{Name: "unset base: 1", Path: "/jwtunset/x", Headers: bearer("dave", token), Code: 200},
		gt.Case{Name: "unset base: 2", Path: "/jwtunset/x", Headers: bearer("dave", token), Code: 200},
		gt.Case{Name: "unset base: the key's limit, not the JWT's", Path: "/jwtunset/x", Headers: bearer("dave", token), Code: 200},
		gt.Case{Name: "unset base: a bad JWT still refuses", Path: "/jwtunset/x",
			Headers: map[string]string{"Authorization": "Bearer " + hs256([]byte("other"), nil, map[string]any{"sub": "dave"}), "X-Api-Key": token}, Code: 403, BodyMatch: jsonError("Key not authorized")},
	)
}

// TestAuthAlternatives: a JWT-or-key API in compliant mode, shaped as Tyk's own CI definition of
// it (security [{jwt}, {authToken}], mapped to security_requirements [["jwt"], ["authToken"]]),
// serves either credential; a request with neither is refused with the first set's answer, one
// with a bad token with that token's refusal; a bad token beside a good key passes.
func TestAuthAlternatives(t *testing.T) {
	up := gt.NewUpstream(t)
	doc := `{"openapi": "3.0.3", "info": {"title": "multiauth", "version": "1"}, "paths": {},
	  "security": [{"jwt": []}, {"authToken": []}],
	  "components": {"securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
	    "authToken": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
	  "x-tyk-api-gateway": {"info": {"id": "multiauth", "name": "multiauth", "orgId": "acme", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"},
	    "server": {"listenPath": {"value": "/multiauth/", "strip": true},
	      "authentication": {"enabled": true, "securityProcessingMode": "compliant", "baseIdentityProvider": "jwt_claim",
	        "securitySchemes": {
	          "jwt": {"enabled": true, "source": "dHlrLWp3dC10ZXN0LXNlY3JldA==", "signingMethod": "hmac", "identityBaseField": "sub",
	            "defaultPolicies": ["multiauth-test-policy"], "header": {"enabled": true, "name": "Authorization"}},
	          "authToken": {"enabled": true, "header": {"enabled": true, "name": "X-API-Key"}}}}}}}`
	pol := `{"multiauth-test-policy": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"multiauth": {"api_id": "multiauth"}}}}`
	g := gt.Start(t, gt.Options{Policies: pol})
	g.WriteFile("multiauth.json", []byte(doc))
	g.Reload()
	key := g.CreateKey(&apidef.SessionState{OrgID: "acme", Alias: "keyed", AccessRights: map[string]apidef.AccessDefinition{"multiauth": {APIID: "multiauth"}}})
	secret, _ := base64.StdEncoding.DecodeString("dHlrLWp3dC10ZXN0LXNlY3JldA==")
	good := hs256(secret, nil, map[string]any{"sub": "alice"})
	g.Run(t,
		gt.Case{Name: "a JWT alone", Path: "/multiauth/x", Headers: map[string]string{"Authorization": "Bearer " + good}, Code: 200},
		gt.Case{Name: "a key alone", Path: "/multiauth/x", Headers: map[string]string{"X-API-Key": key}, Code: 200},
		gt.Case{Name: "nothing", Path: "/multiauth/x", Code: 400, BodyMatch: jsonError("Authorization field missing")},
		gt.Case{Name: "a bad JWT and no key", Path: "/multiauth/x", Headers: map[string]string{"Authorization": "Bearer " + hs256([]byte("nope"), nil, map[string]any{"sub": "alice"})},
			Code: 403, BodyMatch: jsonError("Key not authorized")},
		gt.Case{Name: "a bad key and no JWT", Path: "/multiauth/x", Headers: map[string]string{"X-API-Key": "nope"}, Code: 403},
		gt.Case{Name: "a bad JWT with a good key", Path: "/multiauth/x", Headers: map[string]string{"Authorization": "Bearer x.y.z", "X-API-Key": key}, Code: 200},
	)
	if n := len(up.Requests()); n != 3 {
		t.Errorf("the upstream saw %d requests, want 3", n)
	}
	// The key's request carried the key's session, the JWT's the JWT identity's.
	r := g.Do(gt.Case{Path: "/tyk/keys/acme" + md5Hex("alice"), Admin: true})
	if r.Code != 200 {
		t.Errorf("the JWT identity's session: %d %s", r.Code, r.Body)
	}
}

// TestAuthAlternativesPair: for Tyk's pair of files, the OAS document says which sets let a
// request in: Tyk writes security_requirements into the Classic file in legacy mode too, by
// the document's scheme names, and reads them in compliant mode only.
func TestAuthAlternativesPair(t *testing.T) {
	up := gt.NewUpstream(t)
	secret := []byte("pair-secret-0123456789abcdef0123")
	pol := `{"pair-policy": {"org_id": "acme", "rate": 1000, "per": 1, "access_rights": {"legacy": {"api_id": "legacy"}, "compliant": {"api_id": "compliant"}}}}`
	g := gt.Start(t, gt.Options{Policies: pol})
	for _, mode := range []string{"legacy", "compliant"} {
		classic := `{"name": "` + mode + `", "api_id": "` + mode + `", "org_id": "acme", "active": true, "is_oas": true,
		  "proxy": {"listen_path": "/` + mode + `/", "target_url": "` + up.URL + `", "strip_listen_path": true},
		  "use_standard_auth": true, "enable_jwt": true, "jwt_signing_method": "hmac",
		  "jwt_source": "` + base64.StdEncoding.EncodeToString(secret) + `", "jwt_default_policies": ["pair-policy"],
		  "auth_configs": {"authToken": {"auth_header_name": "X-Api-Key"}, "jwt": {"auth_header_name": "Authorization"}},
		  "base_identity_provided_by": "jwt_claim",
		  "security_requirements": [["api_key", "bearer"], ["bearer"]],
		  "version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}`
		doc := `{"openapi": "3.0.3", "info": {"title": "` + mode + `", "version": "1"}, "paths": {},
		  "security": [{"api_key": [], "bearer": []}, {"bearer": []}],
		  "components": {"securitySchemes": {"api_key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
		    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
		  "x-tyk-api-gateway": {"info": {"id": "` + mode + `", "name": "` + mode + `", "state": {"active": true}},
		    "upstream": {"url": "` + up.URL + `"},
		    "server": {"listenPath": {"value": "/` + mode + `/", "strip": true},
		      "authentication": {"enabled": true, "securityProcessingMode": "` + mode + `",
		        "securitySchemes": {"api_key": {"enabled": true}, "bearer": {"enabled": true, "source": "c2VjcmV0"}}}}}}`
		g.WriteFile(mode+".json", []byte(classic))
		g.WriteFile(mode+"-oas.json", []byte(doc))
	}
	g.Reload()
	jwtOnly := map[string]string{"Authorization": "Bearer " + hs256(secret, nil, map[string]any{"sub": "alice"})}
	cases := []gt.Case{
		{Name: "legacy: every method, a JWT alone is refused", Path: "/legacy/x", Headers: jwtOnly, Code: 401},
		{Name: "compliant: the second set, a JWT alone", Path: "/compliant/x", Headers: jwtOnly, Code: 200},
	}
	g.Run(t, cases...)
	// Compiled again from files read before (the policies changed): the same.
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(strings.Replace(pol, `"rate": 1000`, `"rate": 999`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Run(t, cases...)
	for _, k := range []string{"api:legacy", "api:compliant"} {
		if d, ok := health(t, g).Details[k]; ok {
			t.Errorf("/hello %s after a recompile: %s", k, d.Output)
		}
	}
}
