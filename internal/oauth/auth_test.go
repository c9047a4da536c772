package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestAuthClientGone: a token whose client is no longer the API's is refused with Tyk's
// "client access was revoked", at once when the client was never seen, and within
// clientCheckEvery when it was.
func TestAuthClientGone(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	store := Store{KV: st}
	sessions := session.NewManager(st, true)
	a := NewAuth(&apidef.APIDefinition{APIID: "oa"}, Auth{Sessions: sessions, Store: store, Now: func() time.Time { return now }})
	if err := store.PutClient(ctx, &Client{APIID: "oa", ClientID: "app", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	for key, client := range map[string]string{"tok-app": "app", "tok-ghost": "ghost"} {
		if err := sessions.Put(ctx, session.ID{Key: key}, &apidef.SessionState{OrgID: "acme", OauthClientID: client,
			AccessRights: map[string]apidef.AccessDefinition{"oa": {APIID: "oa"}}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	check := func(token string) error {
		r := httptest.NewRequest(http.MethodGet, "/oa/x", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		c := &chain.Context{State: &reqctx.State{}}
		return a.Step().Run(httptest.NewRecorder(), r, c)
	}
	status := func(err error) (int, string) {
		var ce *chain.Error
		if errors.As(err, &ce) {
			return ce.Status, ce.Message
		}
		return 0, ""
	}
	if code, msg := status(check("tok-ghost")); code != 403 || msg != DefaultClientDeleted.Message {
		t.Errorf("a client never there: %d %q", code, msg)
	}
	if err := check("tok-app"); err != nil {
		t.Fatalf("a live client's token: %v", err)
	}
	if _, err := store.DeleteClient(ctx, "oa", "app"); err != nil {
		t.Fatal(err)
	}
	if err := check("tok-app"); err != nil {
		t.Errorf("within a second of the last check the client is taken as there: %v", err)
	}
	now = now.Add(clientCheckEvery)
	if code, msg := status(check("tok-app")); code != 403 || msg != DefaultClientDeleted.Message {
		t.Errorf("a deleted client, after a second: %d %q", code, msg)
	}
}

// TestAuthNoCredentials: as in Tyk, no Authorization header, or one that is not a bearer token,
// is no credential (it fires no AuthFailure); an empty or unknown bearer token is one.
func TestAuthNoCredentials(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { _ = st.Close() })
	a := NewAuth(&apidef.APIDefinition{APIID: "oa"}, Auth{Sessions: session.NewManager(st, true), Store: Store{KV: st}, Now: time.Now})
	for header, want := range map[string]bool{"": true, "Basic dXNlcjpwdw==": true, "Bearer ": false, "Bearer unknown-token": false} {
		r := httptest.NewRequest(http.MethodGet, "/oa/x", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		err := a.Step().Run(httptest.NewRecorder(), r, &chain.Context{State: &reqctx.State{}})
		if err == nil {
			t.Fatalf("%q: let in", header)
		}
		if got := errors.Is(err, chain.ErrNoCredentials); got != want {
			t.Errorf("%q: no credentials %v, want %v (%v)", header, got, want, err)
		}
	}
}
