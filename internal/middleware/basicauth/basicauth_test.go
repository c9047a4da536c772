package basicauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// fixture is a basic auth step over a memory key store, with a counted bcrypt and a clock.
type fixture struct {
	a        *Auth
	sessions *session.Manager
	compares atomic.Int64
	now      time.Time
}

func newFixture(t *testing.T, def *apidef.APIDefinition, maxCached int) *fixture {
	t.Helper()
	f := &fixture{sessions: newSessions(t), now: time.Unix(1_700_000_000, 0)}
	a, err := New(def, Options{
		Sessions: f.sessions, Policies: policy.Set{}, MaxCached: maxCached,
		Now: func() time.Time { return f.now },
		Compare: func(hash, pw []byte) error {
			f.compares.Add(1)
			if bytes.Equal(hash, dummyHash()) {
				// Counted, not run: a cost-10 bcrypt is slow under the race detector.
				return bcrypt.ErrMismatchedHashAndPassword
			}
			return bcrypt.CompareHashAndPassword(hash, pw)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

// newSessions returns sessions on a fresh memory store, closed when t ends.
func newSessions(t *testing.T) *session.Manager {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	return session.NewManager(store, true)
}

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// user stores a basic auth user under name.
func (f *fixture) user(t *testing.T, name string, d apidef.BasicAuthData) {
	t.Helper()
	s := &apidef.SessionState{OrgID: "acme", BasicAuthData: d,
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
	if err := f.sessions.Put(context.Background(), session.ID{Key: name}, s, 0); err != nil {
		t.Fatal(err)
	}
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// do runs the step on a request with the given Authorization header ("" for none).
func (f *fixture) do(header string) (*chain.Context, error) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	c := &chain.Context{State: &reqctx.State{}}
	c.State.Gateway = c
	r = reqctx.With(r, c.State)
	return c, f.a.Step().Run(httptest.NewRecorder(), r, c)
}

func def() *apidef.APIDefinition {
	return &apidef.APIDefinition{Name: "Orders API", APIID: "api", OrgID: "acme", UseBasicAuth: true}
}

func TestBasicAuth(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret"))
	tests := []struct {
		name     string
		header   string
		status   int // 0: passes
		message  string
		realm    bool   // the answer carries WWW-Authenticate
		keyID    string // the key the session was found under, when it passes
		compares int64
	}{
		{name: "good password", header: basic("alice", "s3cret"), keyID: "alice", compares: 1},
		{name: "good password, key named org_id+username", header: basic("bob", "hunter2"), keyID: "acmebob", compares: 1},
		{name: "plain text hash type", header: basic("plain", "s3cret"), keyID: "plain"},
		{name: "sha256 hash type", header: basic("sha", "s3cret"), keyID: "sha"},
		{name: "wrong password", header: basic("alice", "wrong"), status: 401, message: MsgNotAuthorised, realm: true, compares: 1},
		{name: "wrong plain text password", header: basic("plain", "wrong"), status: 401, message: MsgNotAuthorised, realm: true},
		{name: "wrong sha256 password", header: basic("sha", "wrong"), status: 401, message: MsgNotAuthorised, realm: true},
		// Both cost a bcrypt, as a known user's wrong password does.
		{name: "unknown user", header: basic("mallory", "s3cret"), status: 401, message: MsgNotAuthorised, realm: true, compares: 1},
		{name: "a key without a password, empty password", header: basic("token-key", ""), status: 401, message: MsgNotAuthorised, realm: true, compares: 1},
		{name: "no header", status: 401, message: chain.MsgAuthFieldMissing, realm: true},
		{name: "one part", header: "Basic", status: 400, message: MsgMalformedHeader},
		{name: "three parts", header: "Basic a b", status: 400, message: MsgMalformedHeader},
		{name: "not base64", header: "Basic !!!", status: 400, message: MsgMalformedEncoding},
		{name: "no colon", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), status: 400, message: MsgMalformedValues},
		{name: "colon in the password", header: basic("alice", "s3:cret"), status: 400, message: MsgMalformedValues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, def(), 0)
			f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, "s3cret"), HashType: "bcrypt"})
			f.user(t, "acmebob", apidef.BasicAuthData{Password: bcryptOf(t, "hunter2"), HashType: "bcrypt"})
			f.user(t, "plain", apidef.BasicAuthData{Password: "s3cret"})
			f.user(t, "sha", apidef.BasicAuthData{Password: hex.EncodeToString(sum[:]), HashType: "sha256"})
			f.user(t, "token-key", apidef.BasicAuthData{})
			c, err := f.do(tc.header)
			if got := f.compares.Load(); got != tc.compares {
				t.Errorf("bcrypt ran %d times, want %d", got, tc.compares)
			}
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				// (The request reads the key store's shared decoding, whose KeyID is unset; a
				// plugin is handed a copy with it.)
				if c.State.Session == nil || c.State.Token != tc.keyID || c.State.MutableSession().KeyID != tc.keyID || c.KeyHash != session.HashKey(tc.keyID) {
					t.Errorf("session %+v, token %q, key hash %q; want the key %q", c.State.Session, c.State.Token, c.KeyHash, tc.keyID)
				}
				return
			}
			var ce *chain.Error
			if !errors.As(err, &ce) || ce.Status != tc.status || ce.Message != tc.message {
				t.Fatalf("err = %v, want %d %q", err, tc.status, tc.message)
			}
			// No header, or one that cannot be read, is no credential: it fires no AuthFailure.
			if got, want := errors.Is(err, chain.ErrNoCredentials), tc.status == 400 || tc.message == chain.MsgAuthFieldMissing; got != want {
				t.Errorf("err = %v: no credentials %v, want %v", err, got, want)
			}
			want := ""
			if tc.realm {
				want = `Basic realm="Orders API"`
			}
			if got := ce.Header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	}
}

// TestBasicAuthCache checks that a successful check is remembered (bcrypt runs once for many
// requests), that failures are not, that entries expire after cache_ttl, that a changed
// password is checked afresh, and that disable_caching checks every request.
func TestBasicAuthCache(t *testing.T) {
	type step struct {
		pw       string
		advance  time.Duration
		rehash   string // store this password first
		ok       bool
		compares int64 // total so far
	}
	tests := []struct {
		name    string
		disable bool
		ttl     int
		steps   []step
	}{
		{name: "hits avoid bcrypt", steps: []step{
			{pw: "pw", ok: true, compares: 1}, {pw: "pw", ok: true, compares: 1}, {pw: "pw", ok: true, compares: 1}}},
		{name: "failures are not cached", steps: []step{
			{pw: "bad", compares: 1}, {pw: "bad", compares: 2}, {pw: "pw", ok: true, compares: 3}, {pw: "bad", compares: 4}}},
		{name: "entries expire after the default 60 s", steps: []step{
			{pw: "pw", ok: true, compares: 1}, {pw: "pw", advance: 59 * time.Second, ok: true, compares: 1},
			{pw: "pw", advance: time.Second, ok: true, compares: 2}}},
		{name: "cache_ttl", ttl: 5, steps: []step{
			{pw: "pw", ok: true, compares: 1}, {pw: "pw", advance: 4 * time.Second, ok: true, compares: 1},
			{pw: "pw", advance: time.Second, ok: true, compares: 2}}},
		{name: "a changed password is checked afresh", steps: []step{
			{pw: "pw", ok: true, compares: 1}, {pw: "pw", rehash: "new", compares: 2}, {pw: "new", ok: true, compares: 3},
			{pw: "new", ok: true, compares: 3}}},
		{name: "disable_caching", disable: true, steps: []step{
			{pw: "pw", ok: true, compares: 1}, {pw: "pw", ok: true, compares: 2}, {pw: "pw", ok: true, compares: 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := def()
			d.BasicAuth = apidef.BasicAuthConfig{DisableCaching: tc.disable, CacheTTL: tc.ttl}
			f := newFixture(t, d, 0)
			f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, "pw"), HashType: "bcrypt"})
			for i, s := range tc.steps {
				if s.rehash != "" {
					f.user(t, "alice", apidef.BasicAuthData{Password: bcryptOf(t, s.rehash), HashType: "bcrypt"})
				}
				f.now = f.now.Add(s.advance)
				_, err := f.do(basic("alice", s.pw))
				if (err == nil) != s.ok {
					t.Errorf("step %d: err = %v, want ok %v", i, err, s.ok)
				}
				if got := f.compares.Load(); got != s.compares {
					t.Errorf("step %d: bcrypt ran %d times in all, want %d", i, got, s.compares)
				}
			}
			if tc.disable && f.a.cache != nil {
				t.Error("disable_caching kept a cache")
			}
		})
	}
}

// TestBasicAuthCacheBound checks that the cache holds at most its bound of entries, however
// many users succeed, and keeps working.
func TestBasicAuthCacheBound(t *testing.T) {
	f := newFixture(t, def(), 3)
	hash := bcryptOf(t, "pw")
	for i := range 10 {
		name := fmt.Sprintf("user%d", i)
		f.user(t, name, apidef.BasicAuthData{Password: hash, HashType: "bcrypt"})
		if _, err := f.do(basic(name, "pw")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := f.a.cache.len(); n > 3 {
			t.Fatalf("after %d users the cache holds %d entries, bound 3", i+1, n)
		}
	}
	if got := f.compares.Load(); got != 10 {
		t.Errorf("bcrypt ran %d times, want 10", got)
	}
	// The last user is cached.
	if _, err := f.do(basic("user9", "pw")); err != nil || f.compares.Load() != 10 {
		t.Errorf("last user: err %v, bcrypt ran %d times in all, want 10", err, f.compares.Load())
	}
	// Expired entries go first when the cache is full.
	f.now = f.now.Add(2 * DefaultCacheTTL)
	if _, err := f.do(basic("user0", "pw")); err != nil {
		t.Fatal(err)
	}
	if n := f.a.cache.len(); n != 1 {
		t.Errorf("after expiry the cache holds %d entries, want 1", n)
	}
}

func TestCacheKeyIsUnambiguous(t *testing.T) {
	if cacheKey("h", "a\x00b", "c") == cacheKey("h", "a", "b\x00c") || cacheKey("h", "ab", "c") == cacheKey("h", "a", "bc") {
		t.Error("different credentials share a cache key")
	}
}

// TestBodyCredentials: expressions that cannot read credentials are refused; credentials from
// the body are checked as the header's are, and their refusal says they were presented (for
// multi-auth's answer), a header's does not need to.
func TestBodyCredentials(t *testing.T) {
	for _, b := range []apidef.BasicAuthConfig{
		{ExtractFromBody: true},
		{ExtractFromBody: true, BodyUserRegexp: "<u>.*</u>", BodyPasswordRegexp: "<p>(.*)</p>"},
		{ExtractFromBody: true, BodyUserRegexp: "<u>(.*)</u>", BodyPasswordRegexp: "<p>(</p>"},
	} {
		d := def()
		d.BasicAuth = b
		if _, err := New(d, Options{}); err == nil {
			t.Errorf("New accepted %+v", b)
		}
	}
	d := def()
	d.BasicAuth = apidef.BasicAuthConfig{ExtractFromBody: true, BodyUserRegexp: "<u>(.*)</u>", BodyPasswordRegexp: "<p>(.*)</p>"}
	f := newFixture(t, d, 0)
	f.user(t, "acmealice", apidef.BasicAuthData{Password: bcryptOf(t, "pw"), HashType: apidef.HashBCrypt})
	post := func(body string) (*chain.Context, error) {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		c := &chain.Context{State: &reqctx.State{}}
		c.State.Gateway = c
		return c, f.a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c)
	}
	if c, err := post("<u>alice</u><p>pw</p>"); err != nil || !c.Secret {
		t.Fatalf("right credentials in the body: %v, secret %v", err, c.Secret)
	}
	if _, err := post("<u>alice</u><p>guess</p>"); err == nil || !errors.Is(err, chain.ErrPresented) {
		t.Errorf("a wrong password in the body: %v, want a refusal of presented credentials", err)
	}
	if _, err := post("<p>pw</p>"); err == nil || errors.Is(err, chain.ErrPresented) || !errors.Is(err, chain.ErrNoCredentials) {
		t.Errorf("no username in the body: %v, want no credentials", err)
	}
}

func TestHashPassword(t *testing.T) {
	existing := bcryptOf(t, "pw")
	tests := []struct {
		name    string
		in      apidef.BasicAuthData
		keep    bool // the stored value is the input
		plain   string
		wantErr bool
	}{
		{name: "no password", in: apidef.BasicAuthData{}, keep: true},
		{name: "plain text, no hash type", in: apidef.BasicAuthData{Password: "pw"}, plain: "pw"},
		{name: "plain text, hash type bcrypt", in: apidef.BasicAuthData{Password: "pw", HashType: "bcrypt"}, plain: "pw"},
		{name: "plain text, hash type sha256", in: apidef.BasicAuthData{Password: "pw", HashType: "sha256"}, plain: "pw"},
		{name: "a bcrypt hash read back", in: apidef.BasicAuthData{Password: existing, HashType: "bcrypt"}, keep: true},
		{name: "a bcrypt hash without its type is plain text", in: apidef.BasicAuthData{Password: existing}, plain: existing},
		{name: "longer than bcrypt takes", in: apidef.BasicAuthData{Password: string(make([]byte, 73))}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.in
			err := HashPassword(&d)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.keep {
				if d != tc.in {
					t.Errorf("got %+v, want it kept", d)
				}
				return
			}
			if d.HashType != "bcrypt" || bcrypt.CompareHashAndPassword([]byte(d.Password), []byte(tc.plain)) != nil {
				t.Errorf("got %+v, want a bcrypt hash of the password", d)
			}
			if cost, _ := bcrypt.Cost([]byte(d.Password)); cost != BcryptCost {
				t.Errorf("cost %d, want %d", cost, BcryptCost)
			}
		})
	}
}
