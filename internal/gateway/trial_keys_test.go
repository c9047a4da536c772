package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// trialPolicies give API a; trial and long set key_expires_in, plain does not.
const trialPolicies = `{
	"trial": {"access_rights": {"a": {"api_id": "a"}}, "key_expires_in": 2},
	"long": {"access_rights": {"a": {"api_id": "a"}}, "key_expires_in": 3600},
	"plain": {"access_rights": {"a": {"api_id": "a"}}}
}`

// keyExpires reads a key's expires through the Gateway API.
func keyExpires(t *testing.T, g *gt.Gateway, key string) int64 {
	t.Helper()
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/" + key})
	var s apidef.SessionState
	if err := json.Unmarshal([]byte(r.Body), &s); r.Code != 200 || err != nil {
		t.Fatalf("GET the key: %d %s", r.Code, r.Body)
	}
	return s.Expires
}

// TestPolicyKeyExpiresIn: a key created through the Gateway API naming a policy with
// key_expires_in expires that many seconds after its creation, as in Tyk (a "trial" key): the
// last of its policies that sets one gives it, over any expires the key was sent with; a key
// updated to name such a policy keeps its expiry.
func TestPolicyKeyExpiresIn(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		up := gt.NewUpstream(t)
		store.APIs = []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
		store.Policies = trialPolicies
		g := gt.Start(t, store)

		before := time.Now().Unix()
		trial := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"trial"}})
		after := time.Now().Unix()
		if e := keyExpires(t, g, trial); e < before+2 || e > after+2 {
			t.Errorf("a trial key's expires = %d, want %d to %d (its creation + key_expires_in 2)", e, before+2, after+2)
		}
		auth := map[string]string{"Authorization": trial}
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/a/x", Headers: auth}))
		// Refused once it expires: polled, not slept for a fixed time.
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := g.Do(gt.Case{Path: "/a/x", Headers: auth})
			if r.Code == 401 {
				gt.Check(t, gt.Case{BodyMatch: "Key has expired, please renew"}, r)
				if now := time.Now().Unix(); now < before+2 {
					t.Errorf("refused at %d, before the key expired (%d)", now, before+2)
				}
				break
			}
			if r.Code != 200 || time.Now().After(deadline) {
				t.Fatalf("the trial key: %d %s, want 200 until it expires, then 401", r.Code, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}

		// Several policies: the last that sets key_expires_in wins, as in Tyk.
		now := time.Now().Unix()
		if e := keyExpires(t, g, g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"trial", "long", "plain"}})); e < now+3600 || e > now+3602 {
			t.Errorf("trial, long, plain: expires = %d, want about %d", e, now+3600)
		}
		if e := keyExpires(t, g, g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"long", "trial"}})); e < now+2 || e > now+4 {
			t.Errorf("long, trial: expires = %d, want about %d", e, now+2)
		}
		if e := keyExpires(t, g, g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"plain"}})); e != 0 {
			t.Errorf("a policy without key_expires_in: expires = %d, want 0", e)
		}
		// Over the expires the key was sent with (Tyk's order), and for a key created by name.
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/named-trial-key",
			Body: `{"expires": 4102444800, "apply_policies": ["long"]}`}))
		if e := keyExpires(t, g, "named-trial-key"); e < now+3600 || e > now+3602 {
			t.Errorf("a key created by name with expires set: expires = %d, want about %d", e, now+3600)
		}
		// Not on an update: the key keeps what it was given.
		plain := g.CreateKey(&apidef.SessionState{ApplyPolicies: []string{"plain"}})
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/" + plain, Body: `{"apply_policies": ["trial"]}`}))
		if e := keyExpires(t, g, plain); e != 0 {
			t.Errorf("a key updated to name a trial policy: expires = %d, want 0 (as in Tyk, only new keys)", e)
		}
	})
}

// TestJWTSessionKeyExpiresIn: a JWT session is created from its base policy as in Tyk, with
// that policy's key_expires_in: it expires that long after, or with the token when the token
// lives longer.
func TestJWTSessionKeyExpiresIn(t *testing.T) {
	gt.EachStore(t, func(t *testing.T, store gt.Options) {
		clock := storagetest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		now := clock.Now().Unix()
		up := gt.NewUpstream(t)
		secret := []byte("jwt-secret-for-the-trial-tests-0123")
		def := gt.Keyed(gt.API("jt", "/jt/", up.URL))
		def.EnableJWT, def.JWTSigningMethod, def.UseStandardAuth = true, "hmac", false
		def.JWTSource = base64.StdEncoding.EncodeToString(secret)
		def.JWTDefaultPolicies = []string{"trial", "plain"}
		// The base policy is the first: here one without key_expires_in.
		plainFirst := *def
		plainFirst.APIID, plainFirst.Proxy.ListenPath = "jp", "/jp/"
		plainFirst.JWTDefaultPolicies = []string{"plain", "trial"}
		store.APIs, store.Now = []*apidef.APIDefinition{def, &plainFirst}, clock.Now
		store.Policies = `{
			"trial": {"access_rights": {"jt": {"api_id": "jt"}, "jp": {"api_id": "jp"}}, "key_expires_in": 60},
			"plain": {"access_rights": {"jt": {"api_id": "jt"}, "jp": {"api_id": "jp"}}}
		}`
		g := gt.Start(t, store)
		bearer := func(claims map[string]any) map[string]string {
			return map[string]string{"Authorization": "Bearer " + hs256(secret, nil, claims)}
		}
		short := bearer(map[string]any{"sub": "alice"})
		long := bearer(map[string]any{"sub": "bob", "exp": now + 600})
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jt/x", Headers: short}))
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jt/x", Headers: long}))
		carol := bearer(map[string]any{"sub": "carol"})
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jp/x", Headers: carol}))
		clock.Advance(59 * time.Second)
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jt/x", Headers: short}))
		clock.Advance(2 * time.Second)
		gt.Check(t, gt.Case{Code: 401, BodyMatch: "Key has expired, please renew"}, g.Do(gt.Case{Path: "/jt/x", Headers: short}))
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jt/x", Headers: long}))
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/jp/x", Headers: carol}))
	})
}
