package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

func TestEndpoint(t *testing.T) {
	for rel, want := range map[string]string{
		"/oauth/token": PathToken, "/oauth/token/": PathToken, "/tyk/oauth/authorize-client/": PathAuthorizeClient,
		"/oauth/revoke": PathRevoke, "/oauth/tokens": "", "/x/oauth/token": "", "/oauth/token//": "", "/": "",
	} {
		if got := Endpoint(rel); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", rel, got, want)
		}
	}
}

func TestRedirectURIs(t *testing.T) {
	c := &Client{RedirectURI: "https://a.test/cb; https://b.test/cb;"}
	if got := c.RedirectURIs(";"); len(got) != 2 || got[0] != "https://a.test/cb" || got[1] != "https://b.test/cb" {
		t.Errorf("with ';': %q", got)
	}
	if got := c.RedirectURIs(""); len(got) != 1 || got[0] != c.RedirectURI {
		t.Errorf("without a separator: %q", got)
	}
	s := &Server{RedirectSeparator: ";"}
	for asked, ok := range map[string]bool{"": true, "https://b.test/cb": true, "https://b.test/cb/x": false, "https://b.test": false, "https://a.test/cb; https://b.test/cb;": false} {
		if _, err := s.redirectFor(c, asked); (err == nil) != ok {
			t.Errorf("redirectFor(%q): %v, want ok %v", asked, err, ok)
		}
	}
}

// newTestServer is a server of API "oa" over a memory store, with client "app" (secret
// "s3cret", policy "pol").
func newTestServer(t *testing.T) *Server {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { _ = st.Close() })
	s := &Server{
		APIID: "oa",
		Meta: apidef.OAuthMeta{AllowedAccessTypes: []string{"client_credentials", "authorization_code", "refresh_token"},
			AllowedAuthorizeTypes: []string{"code"}},
		Store:    Store{KV: st},
		Sessions: session.NewManager(st, true),
		Policies: policy.Set{"pol": {ID: "pol", OrgID: "acme", Active: true, AccessRights: map[string]apidef.AccessDefinition{"oa": {APIID: "oa"}}}},
	}
	if err := s.Store.PutClient(context.Background(), &Client{APIID: "oa", ClientID: "app", Secret: "s3cret", RedirectURI: "https://app.test/cb", PolicyID: "pol"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// postAtOnce sends n token requests with the form body at once and returns how many got 200.
func postAtOnce(s *Server, n int, body string) int {
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := post(s, PathToken, "application/x-www-form-urlencoded", body); w.Code == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

func post(s *Server, path, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.SetBasicAuth("app", "s3cret")
	w := httptest.NewRecorder()
	s.serve(w, r, Endpoint(path), netip.Addr{})
	return w
}

// TestTokenJSONBody: a flat JSON object of strings is read as the form (Tyk takes it so);
// anything else in a JSON body is an invalid request, and a body over the bound too.
func TestTokenJSONBody(t *testing.T) {
	s := newTestServer(t)
	w := post(s, PathToken, "application/json", `{"grant_type": "client_credentials"}`)
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); w.Code != 200 || err != nil || tr.AccessToken == "" {
		t.Fatalf("JSON body: %d %s", w.Code, w.Body)
	}
	sess, err := s.Sessions.Get(context.Background(), session.ID{Key: tr.AccessToken})
	if err != nil || sess.OauthClientID != "app" || len(sess.ApplyPolicies) != 1 || sess.ApplyPolicies[0] != "pol" || sess.OrgID != "acme" || sess.Expires == 0 {
		t.Errorf("the token's key: %+v, %v", sess, err)
	}
	for name, body := range map[string]string{
		"not an object": `["grant_type"]`, "a number": `{"grant_type": 1}`, "nested": `{"grant_type": {"a": "b"}}`,
		"too large": `{"grant_type": "client_credentials", "x": "` + strings.Repeat("a", maxForm) + `"}`,
	} {
		if w := post(s, PathToken, "application/json", body); w.Code != 403 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if w := post(s, PathToken, "application/x-www-form-urlencoded", "grant_type=client_credentials&x="+strings.Repeat("a", maxForm)); w.Code != 403 {
		t.Errorf("a form over the bound: %d %s", w.Code, w.Body)
	}
}

// barrierKV holds every Get of a code until n of them were made, so that the requests
// trading a code all find it before any uses it up.
type barrierKV struct {
	storage.KV
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrierKV) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := b.KV.Get(ctx, key)
	if strings.HasPrefix(key, codePrefix) {
		b.mu.Lock()
		b.arrived++
		if b.arrived == b.n {
			close(b.all)
		}
		b.mu.Unlock()
		select {
		case <-b.all:
		case <-time.After(5 * time.Second):
		}
	}
	return v, err
}

// TestCodeUsedOnce: of many token requests trading one code at once, all of which found it,
// exactly one gets a token.
func TestCodeUsedOnce(t *testing.T) {
	s := newTestServer(t)
	s.Store.KV = &barrierKV{KV: s.Store.KV, n: 20, all: make(chan struct{})}
	const code = "the-code"
	if err := s.Store.putGrant(context.Background(), codePrefix, code, &grant{APIID: "oa", ClientID: "app", RedirectURI: "https://app.test/cb"}, CodeExpire); err != nil {
		t.Fatal(err)
	}
	if ok := postAtOnce(s, 20, "grant_type=authorization_code&code="+code); ok != 1 {
		t.Errorf("%d token requests traded the code, want 1", ok)
	}
	// What the store holds is the code's hash, not the code.
	keys, _ := s.Store.KV.Keys(context.Background(), "")
	for _, k := range keys {
		if strings.Contains(k, code) {
			t.Errorf("a store key holds the code: %q", k)
		}
	}
}

// failingKV fails the writes of keys under a prefix while failing is set, as a store that
// fails part way through a token request does.
type failingKV struct {
	storage.KV
	mu      sync.Mutex
	failing string // the prefix; "" fails nothing
}

func (f *failingKV) set(prefix string) { f.mu.Lock(); f.failing = prefix; f.mu.Unlock() }
func (f *failingKV) fails(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing != "" && strings.HasPrefix(key, f.failing)
}

func (f *failingKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if f.fails(key) {
		return errors.New("the store refuses writes")
	}
	return f.KV.Set(ctx, key, value, ttl)
}

func (f *failingKV) Delete(ctx context.Context, key string) (bool, error) {
	if f.fails(key) {
		return false, errors.New("the store refuses writes")
	}
	return f.KV.Delete(ctx, key)
}

func tokenOf(t *testing.T, w *httptest.ResponseRecorder) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); w.Code != 200 || err != nil {
		t.Fatalf("token request: %d %s", w.Code, w.Body)
	}
	return tr
}

func countKeys(t *testing.T, kv storage.KV, prefix string) int {
	t.Helper()
	keys, err := kv.Keys(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestStoreFailureLeavesTheGrant: a code or refresh token exchanged while the store refuses
// writes gets 503 and stays usable, so the client's retry is not final; nothing half made is
// left behind.
func TestStoreFailureLeavesTheGrant(t *testing.T) {
	s := newTestServer(t)
	mem := s.Store.KV
	f := &failingKV{KV: mem}
	s.Store.KV = f
	s.Sessions = session.NewManager(f, true)
	ctx := context.Background()
	const code = "code-1"
	if err := s.Store.putGrant(ctx, codePrefix, code, &grant{APIID: "oa", ClientID: "app", RedirectURI: "https://app.test/cb"}, CodeExpire); err != nil {
		t.Fatal(err)
	}
	form := "application/x-www-form-urlencoded"
	// The key's write fails, after the code was taken: it is put back.
	f.set(session.KeyPrefix)
	if w := post(s, PathToken, form, "grant_type=authorization_code&code="+code); w.Code != 503 {
		t.Fatalf("a code while writes fail: %d %s, want 503", w.Code, w.Body)
	}
	f.set("")
	pair := tokenOf(t, post(s, PathToken, form, "grant_type=authorization_code&code="+code))

	for _, prefix := range []string{session.KeyPrefix, refreshPrefix} {
		f.set(prefix)
		if w := post(s, PathToken, form, "grant_type=refresh_token&refresh_token="+pair.RefreshToken); w.Code != 503 {
			t.Fatalf("a refresh while writes under %q fail: %d %s, want 503", prefix, w.Code, w.Body)
		}
		f.set("")
	}
	if _, err := s.Sessions.Get(ctx, session.ID{Key: pair.AccessToken}); err != nil {
		t.Errorf("the access token after a failed refresh: %v", err)
	}
	next := tokenOf(t, post(s, PathToken, form, "grant_type=refresh_token&refresh_token="+pair.RefreshToken))
	if _, err := s.Sessions.Get(ctx, session.ID{Key: pair.AccessToken}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the replaced access token: %v, want it gone", err)
	}
	if n := countKeys(t, mem, session.KeyPrefix); n != 1 {
		t.Errorf("%d keys stored, want the one live access token", n)
	}
	if n := countKeys(t, mem, tokenIndexPrefix); n != 1 {
		t.Errorf("%d access tokens indexed, want 1", n)
	}
	if n := countKeys(t, mem, refreshPrefix); n != 1 {
		t.Errorf("%d refresh tokens stored, want 1 (%s's)", n, next.RefreshToken)
	}
}

// TestRefreshUsedOnce: of many requests refreshing one token at once, one gets a new pair; the
// others' pairs are given up, so one access token and one refresh token are left.
func TestRefreshUsedOnce(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	if err := s.Store.putGrant(ctx, codePrefix, "c", &grant{APIID: "oa", ClientID: "app", RedirectURI: "https://app.test/cb"}, CodeExpire); err != nil {
		t.Fatal(err)
	}
	form := "application/x-www-form-urlencoded"
	pair := tokenOf(t, post(s, PathToken, form, "grant_type=authorization_code&code=c"))
	if ok := postAtOnce(s, 20, "grant_type=refresh_token&refresh_token="+pair.RefreshToken); ok != 1 {
		t.Errorf("%d refreshes succeeded, want 1", ok)
	}
	for prefix, want := range map[string]int{session.KeyPrefix: 1, tokenIndexPrefix: 1, refreshPrefix: 1, refreshIndexPrefix: 1} {
		if n := countKeys(t, s.Store.KV, prefix); n != want {
			t.Errorf("%d under %q, want %d", n, prefix, want)
		}
	}
}
