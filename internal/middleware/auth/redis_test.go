package auth_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
)

// TestKeptPoliciesFollowAnotherGateway: on Redis, a gateway keeps a key's applied policies
// with its decoding, read through the client-side cache; when another gateway changes the
// key (it names another policy) or deletes it, the first gateway's next request after Redis
// told it so gets the new policy, or is refused: never what it kept for the old key.
func TestKeptPoliciesFollowAnotherGateway(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const key = "the-key"
	sk := session.KeyPrefix + session.HashKey(key)
	invalidated := make(chan struct{}, 16)
	var here *session.Manager
	open := func(onInvalidate func([]string)) *redis.Store {
		t.Helper()
		store, err := redis.New(redis.Options{Addrs: []string{srv.Addr}, OnInvalidate: onInvalidate})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := store.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		return store
	}
	hereStore := open(func(keys []string) {
		here.ForgetStorageKeys(keys)
		if slices.Contains(keys, sk) {
			invalidated <- struct{}{}
		}
	})
	here = session.NewManager(hereStore, true)
	there := session.NewManager(open(nil), true)

	pols := goldPolicies(100)
	pols["silver"] = &apidef.Policy{ID: "silver", Rate: 50, Per: 1,
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}}
	a := &auth.KeyAuth{Tokens: auth.NewTokenSource(apidef.AuthConfig{}), Sessions: here, Policies: pols}
	ctx := context.Background()
	put := func(policies ...string) {
		t.Helper()
		if err := there.Put(ctx, session.ID{Key: key}, &apidef.SessionState{Rate: 1, Per: 1, ApplyPolicies: policies}, 0); err != nil {
			t.Fatal(err)
		}
	}
	rate := func(step string) float64 {
		t.Helper()
		c, err := request(t, a, key)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return c.State.Session.Rate
	}
	waitInvalidated := func(step string) {
		t.Helper()
		select {
		case <-invalidated:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: Redis never told this gateway the key changed", step)
		}
	}

	put("gold")
	for i := range 3 { // the first read fills the client-side cache, the next ones use it
		if r := rate("gold"); r != 100 {
			t.Fatalf("request %d under gold: rate %v, want 100", i, r)
		}
	}
	first, err := request(t, a, key)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := request(t, a, key); err != nil || again.State.Session != first.State.Session {
		t.Fatalf("the applied policies were not kept between requests (%v)", err)
	}

	put("silver")
	waitInvalidated("changed to silver")
	if r := rate("after the change"); r != 50 {
		t.Errorf("after another gateway changed the key to silver: rate %v, want 50", r)
	}

	if _, err := there.Delete(ctx, session.ID{Key: key}); err != nil {
		t.Fatal(err)
	}
	waitInvalidated("deleted")
	_, err = request(t, a, key)
	var ce *chain.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
		t.Errorf("after another gateway deleted the key: %v, want 403", err)
	}
}
