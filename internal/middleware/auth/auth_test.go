package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// keyAuth returns the key check of a fresh memory store, its keys stored hashed, and the
// store's session manager.
func keyAuth(t testing.TB, pols policy.Set) (*auth.KeyAuth, *session.Manager) {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	return &auth.KeyAuth{Tokens: auth.NewTokenSource(apidef.AuthConfig{}), Sessions: m, Policies: pols}, m
}

// request runs the key check on a request carrying token, as a pre hook that set a session
// would leave it.
func request(t *testing.T, a *auth.KeyAuth, token string) (*chain.Context, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", token)
	c := &chain.Context{State: &reqctx.State{Session: &apidef.SessionState{}}, SessionFromPlugin: true}
	c.State.Gateway = c
	r = reqctx.With(r, c.State)
	err := a.Step().Run(httptest.NewRecorder(), r, c)
	return c, err
}

func stored() *apidef.SessionState {
	return &apidef.SessionState{
		Rate: 10, Per: 60, Alias: "alice",
		AccessRights: map[string]apidef.AccessDefinition{"api": {
			APIID: "api", Versions: []string{"Default"},
			AllowedURLs: []apidef.AccessSpec{{URL: "/users", Methods: []string{"GET"}}},
			Limit:       &apidef.APILimit{Rate: 5, Per: 1},
		}},
		MetaData: map[string]interface{}{"user": "alice", "nested": map[string]interface{}{"list": []interface{}{"a"}}},
		Tags:     []string{"t"},
	}
}

// scribble changes s at every depth, as a plugin may change the session it is given.
func scribble(s *apidef.SessionState) {
	s.Rate = 99
	for i := range s.ApplyPolicies {
		s.ApplyPolicies[i] = "changed"
	}
	for id, ar := range s.AccessRights {
		ar.Versions[0] = "changed"
		ar.AllowedURLs[0].Methods[0] = "DELETE"
		ar.Limit.Rate = 99
		s.AccessRights[id] = ar
	}
	s.AccessRights["other"] = apidef.AccessDefinition{APIID: "other"}
	s.MetaData["user"] = "mallory"
	s.MetaData["nested"].(map[string]interface{})["list"].([]interface{})[0] = "changed"
	s.Tags[0] = "changed"
}

// TestKeyAuthSessionIsTheRequests checks that the session a request gets from the key store is
// its own: the store's decoding is shared by every request with the key, so what a plugin does
// to the session it is given (sdk.GetSession, which is State.MutableSession) must not reach the
// next request. With and without policies. And the copy is made only then: requests that only
// read the session share the decoding's meta data (copy-on-write; it can be large).
func TestKeyAuthSessionIsTheRequests(t *testing.T) {
	pols := policy.Set{"p": {ID: "p", Rate: 100, Per: 1, Tags: []string{"pt"},
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Versions: []string{"v1"},
			AllowedURLs: []apidef.AccessSpec{{URL: "/p", Methods: []string{"GET"}}}, Limit: &apidef.APILimit{Rate: 7, Per: 1}}},
		MetaData: map[string]interface{}{"nested": map[string]interface{}{"list": []interface{}{"a"}}, "from": "p"}}}
	tests := []struct {
		name     string
		policies []string
	}{
		{name: "no policies"},
		{name: "policies"},
	}
	tests[1].policies = []string{"p"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, m := keyAuth(t, pols)
			const token = "the-token"
			s := stored()
			s.ApplyPolicies = tc.policies
			if err := m.Put(context.Background(), session.ID{Key: token}, s, 0); err != nil {
				t.Fatal(err)
			}
			c1, err := request(t, a, token)
			if err != nil {
				t.Fatalf("first request: %v", err)
			}
			got := c1.State.Session
			if c1.State.Token != token || c1.KeyHash != session.HashKey(token) {
				t.Errorf("token, key hash = %q, %q; want %q, %q", c1.State.Token, c1.KeyHash, token, session.HashKey(token))
			}
			if c1.SessionFromPlugin {
				t.Error("SessionFromPlugin is still set after the key check replaced the session")
			}
			if !c1.State.SessionShared {
				t.Error("SessionShared is not set on a session from the key store")
			}
			c0, err := request(t, a, token)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			// (A policy adding meta data gives the request a map of its own, the key's values in it
			// still shared.)
			if reflect.ValueOf(c0.State.Session.MetaData["nested"]).Pointer() != reflect.ValueOf(got.MetaData["nested"]).Pointer() {
				t.Error("two requests that only read the session each copied its meta data")
			}
			// Without policies, not even the session's struct is copied: both read the decoding.
			if tc.policies == nil && c0.State.Session != got {
				t.Error("two requests that only read the session each copied it")
			}
			want := got.Clone()
			want.KeyID = token
			got = c1.State.MutableSession()
			if got.KeyID != token {
				t.Errorf("the session handed out has KeyID %q, want the token %q", got.KeyID, token)
			}
			scribble(got)
			// Without policies another request reads the key store's decoding itself, which no
			// request may change, its KeyID included; a plugin is handed a copy with the KeyID.
			if tc.policies == nil && c0.State.Session.KeyID != "" {
				t.Errorf("the key store's shared decoding was given KeyID %q", c0.State.Session.KeyID)
			}
			if c0s := c0.State.MutableSession(); !reflect.DeepEqual(c0s, want) {
				t.Errorf("a plugin's change reached another request in flight: %+v", c0s)
			}
			c2, err := request(t, a, token)
			if err != nil {
				t.Fatalf("second request: %v", err)
			}
			if c2s := c2.State.MutableSession(); !reflect.DeepEqual(c2s, want) {
				t.Errorf("second request's session = %+v\nwant %+v (what the first got before changing it)", c2s, want)
			}
			if !reflect.DeepEqual(pols["p"].AccessRights["api"].Versions, []string{"v1"}) || pols["p"].MetaData["from"] != "p" {
				t.Errorf("policy changed: %+v", pols["p"])
			}
		})
	}
}

// TestKeyAuthUnappliablePolicy checks that a stored key naming a policy that does not exist is
// refused with 403, as in Tyk.
func TestKeyAuthUnappliablePolicy(t *testing.T) {
	a, m := keyAuth(t, policy.Set{})
	s := stored()
	s.ApplyPolicies = []string{"gone"}
	if err := m.Put(context.Background(), session.ID{Key: "k"}, s, 0); err != nil {
		t.Fatal(err)
	}
	_, err := request(t, a, "k")
	var ce *chain.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || ce.Message != chain.MsgAccessDisallowed || !errors.Is(err, policy.ErrUnknownPolicy) {
		t.Errorf("error = %v, want 403 %q caused by ErrUnknownPolicy", err, chain.MsgAccessDisallowed)
	}
}

// BenchmarkAccessCheckAllowedURLs is the access check of a key restricted to a few URLs.
func BenchmarkAccessCheckAllowedURLs(b *testing.B) {
	ac := &auth.AccessCheck{APIID: "api", Patterns: &endpoint.PatternCache{}}
	step := ac.Step()
	c := &chain.Context{State: &reqctx.State{Session: &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"api": {
		APIID: "api", AllowedURLs: []apidef.AccessSpec{{URL: "/orders", Methods: []string{"GET"}}, {URL: "/users/{id}", Methods: []string{"GET"}}}}}}},
		Path: "/users/7", Readings: []string{"/users/7"}}
	r := httptest.NewRequest(http.MethodGet, "/users/7", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := step.Run(w, r, c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyAuthRefusesBasicAuthUsers checks that a basic auth user's key, named by its username
// (no secret), is not accepted as a token.
func TestKeyAuthRefusesBasicAuthUsers(t *testing.T) {
	a, m := keyAuth(t, policy.Set{})
	s := stored()
	s.BasicAuthData = apidef.BasicAuthData{Password: "$2a$10$hash", HashType: "bcrypt"}
	if err := m.Put(context.Background(), session.ID{Key: "alice"}, s, 0); err != nil {
		t.Fatal(err)
	}
	_, err := request(t, a, "alice")
	var ce *chain.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || ce.Message != chain.MsgAccessDisallowed {
		t.Errorf("error = %v, want 403 %q", err, chain.MsgAccessDisallowed)
	}
}

// TestPatternCacheKeepsMethodListsApart: the compiled allowed-URL patterns, shared by every key,
// are cached by URL and methods, and two method lists that join to the same text are still two
// entries: a key listing the single method "GET,POST" (which matches no request method) must not
// be served the pattern of another key's ["GET", "POST"] on the same URL, whichever was first,
// nor ["A,B", "C"] that of ["A", "B,C"].
func TestPatternCacheKeepsMethodListsApart(t *testing.T) {
	ac := &auth.AccessCheck{APIID: "api", Patterns: &endpoint.PatternCache{}}
	step := ac.Step()
	check := func(methods []string, method string) error {
		t.Helper()
		c := &chain.Context{State: &reqctx.State{Session: &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"api": {
			APIID: "api", AllowedURLs: []apidef.AccessSpec{{URL: "/orders", Methods: methods}}}}}},
			Path: "/orders", Readings: []string{"/orders"}}
		return step.Run(httptest.NewRecorder(), httptest.NewRequest(method, "/orders", nil), c)
	}
	for _, tc := range []struct {
		first, second []string
		method        string
	}{
		{[]string{"GET", "POST"}, []string{"GET,POST"}, http.MethodGet},
		{[]string{"PUT", "B,C"}, []string{"PUT,B", "C"}, http.MethodPut},
	} {
		if err := check(tc.first, tc.method); err != nil {
			t.Fatalf("%q allows %s: %v", tc.first, tc.method, err)
		}
		if err := check(tc.second, tc.method); err == nil {
			t.Errorf("methods %q were served the pattern of %q: %s allowed", tc.second, tc.first, tc.method)
		}
	}
}

// TestBindingCheck: a key bound to client certificates passes only with one of them presented,
// within its validity (its fingerprint compared without case, any prefix aside); a key without
// bindings is not concerned, TLS or not.
func TestBindingCheck(t *testing.T) {
	ca := certtest.NewCA(t, "client CA")
	cert, err := x509.ParseCertificate(ca.Issue(t, certtest.Leaf{CommonName: "c", Client: true}).TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	fp := hex.EncodeToString(sum[:])
	other := strings.Repeat("ab", 32)
	now := time.Now()
	for _, tc := range []struct {
		name     string
		bindings []string
		tls      *tls.ConnectionState
		at       time.Time
		want     string // "" passes; else the message of the 403
	}{
		{"no bindings, no TLS", nil, nil, now, ""},
		{"bound, no TLS", []string{fp}, nil, now, chain.MsgAccessDisallowed},
		{"bound, TLS without a certificate", []string{fp}, &tls.ConnectionState{}, now, chain.MsgAccessDisallowed},
		{"bound, its certificate", []string{other, fp}, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, now, ""},
		{"bound by Tyk's id, upper case", []string{"org" + strings.ToUpper(fp)}, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, now, ""},
		{"bound, another certificate", []string{other}, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, now, chain.MsgAccessDisallowed},
		{"bound, expired", []string{fp}, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, cert.NotAfter.Add(time.Second), "Certificate has expired"},
		{"bound, not valid yet", []string{fp}, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, cert.NotBefore.Add(-time.Second), chain.MsgAccessDisallowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.at
			step := (&auth.BindingCheck{Now: func() time.Time { return at }}).Step()
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.TLS = tc.tls
			c := &chain.Context{State: &reqctx.State{Session: &apidef.SessionState{MtlsStaticCertificateBindings: tc.bindings}}}
			err := step.Run(httptest.NewRecorder(), r, c)
			var ce *chain.Error
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &ce) || ce.Status != http.StatusForbidden || ce.Message != tc.want):
				t.Errorf("error = %v, want 403 %q", err, tc.want)
			}
		})
	}
}
