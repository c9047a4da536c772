package gateway_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

func access(ids ...string) map[string]apidef.AccessDefinition {
	m := map[string]apidef.AccessDefinition{}
	for _, id := range ids {
		m[id] = apidef.AccessDefinition{APIID: id, APIName: id}
	}
	return m
}

func TestKeyAuth(t *testing.T) { gt.EachStore(t, testKeyAuth) }

func testKeyAuth(t *testing.T, store gt.Options) {
	clock := storagetest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	other := gt.Keyed(gt.API("other", "/other/", up.URL))
	param := gt.Keyed(gt.API("param", "/param/", up.URL))
	param.Auth = apidef.AuthConfig{AuthHeaderName: "X-Api-Key", UseParam: true, ParamName: "api_key", UseCookie: true, CookieName: "session"}
	param.StripAuthData = true
	versioned := gt.Keyed(gt.API("versioned", "/versioned/", up.URL))
	versioned.VersionDefinition = apidef.VersionDefinition{Location: "header", Key: "x-api-version"}
	versioned.VersionData = apidef.VersionData{DefaultVersion: "v1", Versions: map[string]apidef.VersionInfo{
		"v1": {Name: "v1"}, "v2": {Name: "v2"},
	}}
	store.Now, store.APIs = clock.Now, []*apidef.APIDefinition{keyed, other, param, versioned}
	g := gt.Start(t, store)

	good := g.CreateKey(&apidef.SessionState{OrgID: "default", AccessRights: access("keyed", "param")})
	inactive := g.CreateKey(&apidef.SessionState{AccessRights: access("keyed"), IsInactive: true})
	expiring := g.CreateKey(&apidef.SessionState{AccessRights: access("keyed"), Expires: clock.Now().Add(time.Hour).Unix()})
	v1only := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"versioned": {APIID: "versioned", Versions: []string{"v1"}}}})
	urls := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"keyed": {APIID: "keyed", AllowedURLs: []apidef.AccessSpec{{URL: "/users/{id}", Methods: []string{"GET"}}}}}})

	g.Run(t,
		gt.Case{Name: "missing key", Path: "/keyed/x", Code: 401, BodyMatch: `"error": "Authorization field missing"`},
		gt.Case{Name: "unknown key", Path: "/keyed/x", Headers: map[string]string{"Authorization": "nope"}, Code: 403,
			BodyMatch: `"error": "Access to this API has been disallowed"`},
		gt.Case{Name: "good key", Path: "/keyed/x", Headers: map[string]string{"Authorization": good}, Code: 200,
			HeadersMatch: map[string]string{"X-Echo": "1"}},
		gt.Case{Name: "bearer prefix", Path: "/keyed/x", Headers: map[string]string{"Authorization": "Bearer " + good}, Code: 200},
		gt.Case{Name: "no access right to the API", Path: "/other/x", Headers: map[string]string{"Authorization": good}, Code: 403,
			BodyMatch: "Access to this API has been disallowed"},
		gt.Case{Name: "inactive key", Path: "/keyed/x", Headers: map[string]string{"Authorization": inactive}, Code: 403,
			BodyMatch: "Key is inactive, please renew"},
		gt.Case{Name: "key not yet expired", Path: "/keyed/x", Headers: map[string]string{"Authorization": expiring}, Code: 200},
		gt.Case{Name: "allowed version", Path: "/versioned/x", Headers: map[string]string{"Authorization": v1only, "X-Api-Version": "v1"}, Code: 200},
		gt.Case{Name: "default version", Path: "/versioned/x", Headers: map[string]string{"Authorization": v1only}, Code: 200},
		gt.Case{Name: "version without access", Path: "/versioned/x", Headers: map[string]string{"Authorization": v1only, "X-Api-Version": "v2"}, Code: 403},
		gt.Case{Name: "unknown version", Path: "/versioned/x", Headers: map[string]string{"Authorization": v1only, "X-Api-Version": "v9"}, Code: 403,
			BodyMatch: "This API version does not seem to exist"},
		gt.Case{Name: "allowed url", Path: "/keyed/users/7", Headers: map[string]string{"Authorization": urls}, Code: 200},
		gt.Case{Name: "allowed url, other method", Method: "DELETE", Path: "/keyed/users/7", Headers: map[string]string{"Authorization": urls}, Code: 403,
			BodyMatch: "Access to this resource has been disallowed"},
		gt.Case{Name: "url not allowed", Path: "/keyed/orders/7", Headers: map[string]string{"Authorization": urls}, Code: 403},
		gt.Case{Name: "query parameter", Path: "/param/x?api_key=" + good + "&keep=1", Code: 200},
		gt.Case{Name: "cookie", Path: "/param/x", Headers: map[string]string{"Cookie": "other=1; session=" + good}, Code: 200},
		gt.Case{Name: "custom header", Path: "/param/x", Headers: map[string]string{"X-Api-Key": good}, Code: 200},
		gt.Case{Name: "default header not used when another is named", Path: "/param/x", Headers: map[string]string{"Authorization": good}, Code: 401},
		// Tyk's precedence: a non-empty query parameter overrides the header, a non-empty
		// cookie overrides both.
		gt.Case{Name: "the query parameter overrides the header", Path: "/param/x?api_key=" + good,
			Headers: map[string]string{"X-Api-Key": "not-the-key"}, Code: 200},
		gt.Case{Name: "the cookie overrides the header", Path: "/param/x",
			Headers: map[string]string{"X-Api-Key": "not-the-key", "Cookie": "session=" + good}, Code: 200},
		gt.Case{Name: "the cookie overrides the query parameter", Path: "/param/x?api_key=not-the-key",
			Headers: map[string]string{"Cookie": "session=" + good}, Code: 200},
		gt.Case{Name: "a wrong cookie is not passed over for the header", Path: "/param/x",
			Headers: map[string]string{"X-Api-Key": good, "Cookie": "session=not-the-key"}, Code: 403},
		gt.Case{Name: "an empty query parameter does not override", Path: "/param/x?api_key=",
			Headers: map[string]string{"X-Api-Key": good}, Code: 200},
	)

	t.Run("strip_auth_data removes the token from query and cookie", func(t *testing.T) {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/param/x?api_key=" + good + "&keep=1", Headers: map[string]string{"Cookie": "other=1; session=" + good}}))
		seen, _ := up.Last()
		if strings.Contains(seen.Query, good) || seen.Query != "keep=1" {
			t.Errorf("upstream query = %q, want keep=1 only", seen.Query)
		}
		if c := seen.Headers["Cookie"]; strings.Contains(c, good) || !strings.Contains(c, "other=1") {
			t.Errorf("upstream cookie = %q, want other=1 without the key", c)
		}
	})

	t.Run("expired key", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		gt.Check(t, gt.Case{Code: 401, BodyMatch: `"error": "Key has expired, please renew"`},
			g.Do(gt.Case{Path: "/keyed/x", Headers: map[string]string{"Authorization": expiring}}))
	})
}

func TestMasterKeys(t *testing.T) {
	up := gt.NewUpstream(t)
	for _, allow := range []bool{false, true} {
		g := gt.Start(t, gt.Options{
			APIs:   []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))},
			Config: func(c *config.Config) { c.AllowMasterKeys = allow },
		})
		r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/master-key", Body: `{"rate": 10, "per": 1}`})
		if !allow {
			gt.Check(t, gt.Case{Code: 400, BodyMatch: "at least one Access Rights"}, r)
			continue
		}
		gt.Check(t, gt.Case{Code: 200}, r)
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": "master-key"}}))
	}
}

// TestNearMissKeys checks that keys are found by a cryptographic hash of the whole key: none of
// a key's near misses gets in (Tyk's murmur32 default let several of them through).
func TestNearMissKeys(t *testing.T) { gt.EachStore(t, testNearMissKeys) }

func testNearMissKeys(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, store)
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("a")})
	rng := rand.New(rand.NewPCG(1, 2))
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	mutations := []string{
		key + "a", key + "abc", "x" + key, key[1:], key[:len(key)-1], strings.ToUpper(key),
		key[:len(key)/2], " " + key + "x",
	}
	for i := 0; i < 200; i++ {
		mutations = append(mutations, flip(key, rng.IntN(len(key))))
	}
	for _, m := range mutations {
		if m == key {
			continue
		}
		r := g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": m}})
		if r.Code == 200 {
			t.Fatalf("near-miss key %q was let in", m)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream received %d requests from near-miss keys", n)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": key}}))
}

// TestKeysAreStoredHashed checks that with hash_keys the raw key never reaches the store or the
// key listing, and that ?hashed=true addresses a key by its hash.
func TestKeysAreStoredHashed(t *testing.T) { gt.EachStore(t, testKeysAreStoredHashed) }

func testKeysAreStoredHashed(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	g := gt.Start(t, store)
	body, _ := json.Marshal(apidef.SessionState{AccessRights: access("a"), Alias: "alice"})
	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/create", Body: string(body)})
	var created struct{ Key, KeyHash string }
	created.KeyHash = ""
	var raw map[string]string
	if err := json.Unmarshal([]byte(r.Body), &raw); err != nil {
		t.Fatal(err)
	}
	created.Key, created.KeyHash = raw["key"], raw["key_hash"]
	if created.KeyHash == "" || created.KeyHash == created.Key || len(created.KeyHash) != 64 {
		t.Fatalf("key_hash = %q, want the SHA-256 of the key", created.KeyHash)
	}
	list := g.Do(gt.Case{Admin: true, Path: "/tyk/keys"})
	if strings.Contains(list.Body, created.Key) || !strings.Contains(list.Body, created.KeyHash) {
		t.Errorf("key list %s must show the hash and never the key", list.Body)
	}
	if strings.Contains(g.Logs(), created.Key) {
		t.Error("the raw key appears in the logs")
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"alias": "alice"`},
		g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + created.KeyHash + "?hashed=true"}))
	gt.Check(t, gt.Case{Code: 404},
		g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + created.KeyHash}))
	// Any value of hashed means hashed, as in Tyk: a revocation script sending ?hashed=1 must
	// not be answered 404 while the key stays.
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"alias": "alice"`},
		g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + created.KeyHash + "?hashed=1"}))
	// A key named like a hash would let whoever saw a hash use it: refused, by name or hash.
	// A name reading as another (U+202E reverses the text after it) is refused; spaces are not.
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `invisible formatting characters`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/abc%E2%80%AEdef", Body: string(body)}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `line and paragraph separators`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/abc%E2%80%A8def", Body: string(body)}))
	gt.Check(t, gt.Case{Code: 200},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/with%20space", Body: string(body)}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `form of a key hash`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + created.KeyHash, Body: string(body)}))
	gt.Check(t, gt.Case{Code: 400, BodyMatch: `not by its hash`},
		g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + strings.Repeat("ab", 32) + "?hashed=1", Body: string(body)}))
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"action": "deleted"`},
		g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + created.KeyHash + "?hashed=1"}))
	for _, token := range []string{created.Key, created.KeyHash} {
		gt.Check(t, gt.Case{Code: http.StatusForbidden},
			g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": token}}))
	}
}

func TestPolicies(t *testing.T) { gt.EachStore(t, testPolicies) }

func testPolicies(t *testing.T, store gt.Options) {
	up := gt.NewUpstream(t)
	policies := `{
	  "gold": {"rate": 1000, "per": 1, "quota_max": 3, "quota_renewal_rate": 3600,
	           "access_rights": {"a": {"api_id": "a", "versions": ["Default"]}}},
	  "inactive": {"is_inactive": true, "access_rights": {"a": {"api_id": "a"}}},
	  "org2": {"org_id": "org2", "access_rights": {"a": {"api_id": "a"}}}
	}`
	store.Policies, store.APIs = policies, []*apidef.APIDefinition{
		gt.Keyed(gt.API("a", "/a/", up.URL)), gt.Keyed(gt.API("b", "/b/", up.URL)),
	}
	g := gt.Start(t, store)
	gold := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"gold"}})
	off := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"inactive"}})
	auth := func(k string) map[string]string { return map[string]string{"Authorization": k} }
	g.Run(t,
		gt.Case{Name: "policy grants access", Path: "/a/x", Headers: auth(gold), Code: 200,
			HeadersMatch: map[string]string{"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2"}},
		gt.Case{Name: "policy does not grant b", Path: "/b/x", Headers: auth(gold), Code: 403},
		gt.Case{Name: "second", Path: "/a/x", Headers: auth(gold), Code: 200},
	)
	// The key read through the Gateway API is shown as its policy makes it, as in Tyk: the
	// policy's rate, quota and access rights, and the quota its requests left.
	got := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + gold})
	var shown apidef.SessionState
	if err := json.Unmarshal([]byte(got.Body), &shown); err != nil || got.Code != 200 {
		t.Fatalf("reading the key: %d %s (%v)", got.Code, got.Body, err)
	}
	if shown.Rate != 1000 || shown.QuotaMax != 3 || shown.QuotaRemaining != 1 || len(shown.AccessRights) != 1 ||
		shown.AccessRights["a"].APIID != "a" || !slices.Equal(shown.ApplyPolicies, []string{"gold"}) {
		t.Errorf("the key read: rate %v, quota %d of %d left, access rights %v, policies %q; want rate 1000, 1 of 3, API a, gold",
			shown.Rate, shown.QuotaRemaining, shown.QuotaMax, shown.AccessRights, shown.ApplyPolicies)
	}
	g.Run(t,
		gt.Case{Name: "third", Path: "/a/x", Headers: auth(gold), Code: 200, HeadersMatch: map[string]string{"X-RateLimit-Remaining": "0"}},
		gt.Case{Name: "policy quota used up", Path: "/a/x", Headers: auth(gold), Code: 403, BodyMatch: "Quota exceeded"},
		gt.Case{Name: "inactive policy", Path: "/a/x", Headers: auth(off), Code: 403},
		gt.Case{Name: "unknown policy refused at creation", Admin: true, Method: "POST", Path: "/tyk/keys/create",
			Body: `{"apply_policies": ["nope"]}`, Code: 400, BodyMatch: "policy"},
		// Another org's policy would refuse every request of the key: refused at once, saying why.
		gt.Case{Name: "another org's policy refused at creation", Admin: true, Method: "POST", Path: "/tyk/keys/create",
			Body: `{"org_id": "org1", "apply_policies": ["org2"]}`, Code: 400, BodyMatch: `policy \\"org2\\" belongs to org \\"org2\\", the key to org \\"org1\\"`},
	)
}

// TestMasterKeyThroughPluginHooks checks that a key without access rights (a master key) stays
// refused with allow_master_keys off whatever hooks set a session around the key check: a
// post_key_auth hook that sets the key's session again, or a pre hook that sets one before the
// key check replaces it. Only a session an auth_check hook set may have no access rights.
func TestMasterKeyThroughPluginHooks(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	plain := gt.Keyed(gt.API("plain", "/plain/", up.URL))
	post := gt.Keyed(gt.API("post", "/post/", up.URL))
	post.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", PostKeyAuth: hooks(so, "ResetSession")}
	pre := gt.Keyed(gt.API("pre", "/pre/", up.URL))
	pre.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginApplyingPolicy")}
	g := gt.Start(t, gt.Options{
		// A policy giving only a rate limit leaves a key without access rights of its own a
		// master key, and lets the Gateway API create it with allow_master_keys off.
		Policies: `{"rate-only": {"rate": 100, "per": 1, "partitions": {"rate_limit": true}},
			"my-pol": {"rate": 114, "per": 1, "access_rights": {"pre": {"api_id": "pre"}}}}`,
		APIs: []*apidef.APIDefinition{plain, post, pre},
	})
	master := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"rate-only"}})
	auth := map[string]string{"Authorization": master}
	g.Run(t,
		gt.Case{Name: "no hooks", Path: "/plain/x", Headers: auth, Code: 403, BodyMatch: "Access to this API has been disallowed"},
		gt.Case{Name: "post_key_auth hook sets the session again", Path: "/post/x", Headers: auth, Code: 403,
			BodyMatch: "Access to this API has been disallowed"},
		gt.Case{Name: "pre hook set a session before the key check", Path: "/pre/x", Headers: auth, Code: 403,
			BodyMatch: "Access to this API has been disallowed"},
	)
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream received %d requests from a master key", n)
	}
}

// TestUnappliablePolicies checks that a session whose policies cannot be applied never passes,
// with Tyk's statuses: a stored key whose policy was removed gets 403, a session a pre hook set
// naming a policy that does not exist gets 500.
func TestUnappliablePolicies(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	plugin := gt.API("plugin", "/plugin/", up.URL)
	plugin.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "MyPluginApplyingPolicy")}
	g := gt.Start(t, gt.Options{Policies: `{"p": {"rate": 10, "per": 1, "access_rights": {"keyed": {"api_id": "keyed"}}}}`,
		APIs: []*apidef.APIDefinition{keyed, plugin}})
	key := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"p"}})
	g.Run(t, gt.Case{Name: "key with its policy", Path: "/keyed/x", Headers: map[string]string{"Authorization": key}, Code: 200})
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "key whose policy was removed", Path: "/keyed/x", Headers: map[string]string{"Authorization": key}, Code: 403,
			BodyMatch: "Access to this API has been disallowed"},
		gt.Case{Name: "plugin session naming an unknown policy", Path: "/plugin/x", Code: 500,
			BodyMatch: chain.MsgInternalServerError},
	)
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream received %d requests, want 1", n)
	}
}

// TestBrokenPolicyInFileNotLoaded: a policy in the policies file that the Gateway API would
// refuse (an allowed_urls pattern that does not compile, a per out of range) is not loaded: the
// others are, /hello says which and why, and a key created beforehand naming it is refused
// rather than served with what the broken policy would give.
func TestBrokenPolicyInFileNotLoaded(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{
		Policies: `{"good": {"rate": 100, "per": 1, "access_rights": {"a": {"api_id": "a"}}},
			"later": {"rate": 100, "per": 1, "access_rights": {"a": {"api_id": "a"}}}}`,
		APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))},
	})
	good := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"good"}})
	later := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"later"}})
	auth := func(k string) map[string]string { return map[string]string{"Authorization": k} }
	g.Run(t, gt.Case{Name: "before", Path: "/a/x", Headers: auth(later), Code: 200})

	broken := `{"good": {"rate": 100, "per": 1, "access_rights": {"a": {"api_id": "a"}}},
		"later": {"rate": 100, "per": 1, "access_rights": {"a": {"api_id": "a", "allowed_urls": [{"url": "/x(", "methods": ["GET"]}]}}},
		"slow": {"rate": 5, "per": 1e-12, "access_rights": {"a": {"api_id": "a"}}}}`
	if err := os.WriteFile(g.Config.Policies.PolicyRecordName, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.Run(t,
		gt.Case{Name: "a valid policy still loads", Path: "/a/x", Headers: auth(good), Code: 200},
		gt.Case{Name: "a key naming the broken policy is refused", Path: "/a/x", Headers: auth(later), Code: 403},
		gt.Case{Name: "/hello names the pattern", Admin: true, Path: "/hello", Code: 200,
			BodyMatch: `policy \\"later\\" in [^ ]+ is not loaded, and keys naming it are refused: access_rights\[\\"a\\"\]\.allowed_urls`},
		gt.Case{Name: "/hello names the per", Admin: true, Path: "/hello", Code: 200, BodyMatch: `policy \\"slow\\" in [^ ]+ is not loaded[^"]*per`},
		gt.Case{Name: "no new key may name it", Admin: true, Method: "POST", Path: "/tyk/keys/create",
			Body: `{"apply_policies": ["later"]}`, Code: 400, BodyMatch: "policy"},
	)
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream received %d requests, want 2", n)
	}
}

// TestKeyFieldsRefused: a key whose org_id could not be sent in a header once a key is generated
// from it, or whose access right's api_id names another API than its key, is refused naming the
// field, and nothing is stored.
func TestKeyFieldsRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL)), gt.Keyed(gt.API("b", "/b/", up.URL))}})
	for _, c := range []struct{ name, body, want string }{
		{"org id with a space", `{"org_id": "a b", "access_rights": {"a": {"api_id": "a"}}}`, "org_id"},
		{"org id with a right-to-left override", `{"org_id": "a\u202eb", "access_rights": {"a": {"api_id": "a"}}}`, "format characters"},
		{"org id too long", `{"org_id": "` + strings.Repeat("o", 300) + `", "access_rights": {"a": {"api_id": "a"}}}`, "1 to 256 bytes"},
		{"api_id of another API", `{"access_rights": {"b": {"api_id": "a"}}}`, `access_rights\[\\"b\\"\].api_id is \\"a\\"`},
	} {
		g.Run(t, gt.Case{Name: c.name, Admin: true, Method: "POST", Path: "/tyk/keys/refused-key", Body: c.body, Code: 400, BodyMatch: c.want})
	}
	g.Run(t,
		gt.Case{Name: "nothing stored", Admin: true, Path: "/tyk/keys/refused-key", Code: 404},
		gt.Case{Name: "a matching api_id is fine", Admin: true, Method: "POST", Path: "/tyk/keys/good-key", Body: `{"org_id": "acme", "access_rights": {"b": {"api_id": "b"}}}`, Code: 200},
	)
}

// TestPathSuffixMatching: with Tyk's http_server_options.enable_path_suffix_matching, what
// endpoint lists and keys' allowed URLs grant covers the paths they match whole, none below
// them: an ignored /health does not let /health/admin in without a key, an allowed URL
// /users/{id} does not reach /users/7/secrets. Refusals still match anywhere.
func TestPathSuffixMatching(t *testing.T) {
	up := gt.NewUpstream(t)
	api := gt.Keyed(gt.API("exact", "/exact/", up.URL))
	v := api.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.Ignored = []apidef.EndPointMeta{{Path: "/health", Method: "GET"}}
	v.ExtendedPaths.BlackList = []apidef.EndPointMeta{{Path: "/admin", Method: "GET"}}
	api.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) {
		c.HTTPServerOptions.EnablePathSuffixMatching = true
	}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"exact": {APIID: "exact", AllowedURLs: []apidef.AccessSpec{{URL: "/users/{id}", Methods: []string{"GET"}}, {URL: "/x", Methods: []string{"GET"}}}}}})
	auth := map[string]string{"Authorization": key}
	g.Run(t,
		gt.Case{Name: "ignored path", Path: "/exact/health", Code: 200},
		gt.Case{Name: "below an ignored path a key is asked for", Path: "/exact/health/deep", Code: 401},
		gt.Case{Name: "allowed url", Path: "/exact/users/7", Headers: auth, Code: 200},
		gt.Case{Name: "below an allowed url", Path: "/exact/users/7/secrets", Headers: auth, Code: 403, BodyMatch: "Access to this resource has been disallowed"},
		gt.Case{Name: "a refusal still matches anywhere", Path: "/exact/x/admin", Headers: auth, Code: 403, BodyMatch: "Requested endpoint is forbidden"},
	)
}
