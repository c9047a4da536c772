package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"weak"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
)

func goldPolicies(rate float64) policy.Set {
	return policy.Set{"gold": {ID: "gold", Rate: rate, Per: 1, Tags: []string{"gold"},
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}}}
}

// TestKeyAuthKeepsAppliedPolicies: a key's policies are applied once for the loaded policy set
// and kept with the key's decoding: the next request gets the same session. Another set (a
// reload) applies them again, and so does a change of the key; a policy that cannot be applied
// refuses every request.
func TestKeyAuthKeepsAppliedPolicies(t *testing.T) {
	ctx := context.Background()
	pols := goldPolicies(100)
	a, m := keyAuth(t, pols)
	put := func(s *apidef.SessionState) {
		t.Helper()
		if err := m.Put(ctx, session.ID{Key: "k"}, s, 0); err != nil {
			t.Fatal(err)
		}
	}
	get := func(a *auth.KeyAuth, what string, rate float64) *apidef.SessionState {
		t.Helper()
		c, err := request(t, a, "k")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if s := c.State.Session; s.Rate != rate || !c.State.SessionShared || s.KeyID != "" {
			t.Fatalf("%s: rate %v, shared %t, KeyID %q; want rate %v, shared, no KeyID", what, s.Rate, c.State.SessionShared, s.KeyID, rate)
		}
		return c.State.Session
	}
	put(&apidef.SessionState{Rate: 1, Per: 1, ApplyPolicies: []string{"gold"}})
	first := get(a, "first", 100)
	if again := get(a, "second", 100); again != first {
		t.Error("the second request applied the policies again")
	}

	// A reload: a new set, the same key.
	reloaded := &auth.KeyAuth{Tokens: a.Tokens, Sessions: m, Policies: goldPolicies(200)}
	if s := get(reloaded, "new policies", 200); s == first {
		t.Error("the new policies were not applied")
	}
	// What the old set gave is not served for the new one, nor the reverse.
	get(a, "old policies again", 100)
	get(reloaded, "new policies again", 200)

	// The key changes: its own fields and its policies are read again.
	put(&apidef.SessionState{Rate: 1, Per: 1, ApplyPolicies: []string{"gold"}, Tags: []string{"vip"}})
	s := get(a, "changed key", 100)
	if len(s.Tags) != 2 || s.Tags[0] != "vip" {
		t.Errorf("changed key: tags %q, want [vip gold]", s.Tags)
	}
	put(&apidef.SessionState{Rate: 3, Per: 1})
	get(a, "key without policies", 3)

	// A policy that is not loaded: refused, the first time and the next.
	put(&apidef.SessionState{Rate: 1, Per: 1, ApplyPolicies: []string{"gone"}})
	for i := range 2 {
		_, err := request(t, a, "k")
		var ce *chain.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusForbidden || !errors.Is(err, policy.ErrUnknownPolicy) {
			t.Errorf("request %d naming a policy not loaded: %v", i, err)
		}
	}
}

// BenchmarkAdopt is a keyed request's adoption of its key's session with one policy: applying
// the policy each time (Adopt), or once (AdoptStored).
func BenchmarkAdopt(b *testing.B) {
	ctx := context.Background()
	pols := goldPolicies(100)
	for _, kept := range []bool{false, true} {
		name := "apply-each-time"
		if kept {
			name = "kept"
		}
		b.Run(name, func(b *testing.B) {
			_, m := keyAuth(b, pols)
			s := stored()
			s.ApplyPolicies = []string{"gold"}
			if err := m.Put(ctx, session.ID{Key: "k"}, s, 0); err != nil {
				b.Fatal(err)
			}
			shared, hash, err := m.Lookup(ctx, "k")
			if err != nil {
				b.Fatal(err)
			}
			c := &chain.Context{State: &reqctx.State{}}
			b.ReportAllocs()
			for b.Loop() {
				if kept {
					_, err = auth.AdoptStored(c, m, pols, shared, "k", hash)
				} else {
					_, err = auth.Adopt(c, pols, shared, true, "k", hash)
				}
				if err != nil || c.State.Session.Rate != 100 {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestKeptPoliciesHoldOnlyTheirOwn: what a key keeps with its decoding holds the policies it
// names, not the whole policy set it was computed with. Policies are reloaded often (every
// change through the Gateway API), and a key not requested since would otherwise keep its
// whole set, uncounted in the cache's bound: a cache of keys each last requested under another
// reload would hold as many whole sets. The unnamed policies of the reloaded sets must be
// collectable once nothing else holds them.
func TestKeptPoliciesHoldOnlyTheirOwn(t *testing.T) {
	ctx := context.Background()
	a, m := keyAuth(t, nil)
	const reloads = 20
	var others [reloads]weak.Pointer[apidef.Policy]
	var last *auth.KeyAuth
	var lastSession *apidef.SessionState
	for i := range reloads {
		key := fmt.Sprintf("key-%d", i)
		if err := m.Put(ctx, session.ID{Key: key}, &apidef.SessionState{ApplyPolicies: []string{"gold"}}, 0); err != nil {
			t.Fatal(err)
		}
		// A reload: a new set, with the key's policy and one it does not name.
		other := &apidef.Policy{ID: "other", Rate: float64(i + 1), Per: 1}
		others[i] = weak.Make(other)
		pols := goldPolicies(100)
		pols["other"] = other
		last = &auth.KeyAuth{Tokens: a.Tokens, Sessions: m, Policies: pols}
		c1, err := request(t, last, key)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := request(t, last, key)
		if err != nil || c2.State.Session != c1.State.Session {
			t.Fatalf("reload %d: the policies were applied again for the same set (%v)", i, err)
		}
		lastSession = c1.State.Session
	}
	runtime.GC()
	runtime.GC()
	held := 0
	for _, w := range others[:reloads-1] { // the last set is still in use
		if w.Value() != nil {
			held++
		}
	}
	if held > 0 {
		t.Errorf("%d of %d policies no key names are still held after their sets were replaced", held, reloads-1)
	}
	// Not because the keys lost what they kept: the last one is served it still.
	if c, err := request(t, last, fmt.Sprintf("key-%d", reloads-1)); err != nil || c.State.Session != lastSession {
		t.Errorf("after a collection the last key's policies were applied again (%v)", err)
	}
}

// TestKeptAdoptionAllocatesNothing: once a key's applied policies are kept, adopting them
// allocates nothing, whether the key names its policies in apply_policies or in the older
// apply_policy_id alone (whose list of ids, PolicyIDs, is built on each call).
func TestKeptAdoptionAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	pols := goldPolicies(100)
	for _, s := range []*apidef.SessionState{{ApplyPolicies: []string{"gold"}}, {ApplyPolicyID: "gold"}} {
		_, m := keyAuth(t, pols)
		if err := m.Put(ctx, session.ID{Key: "k"}, s, 0); err != nil {
			t.Fatal(err)
		}
		shared, hash, err := m.Lookup(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		c := &chain.Context{State: &reqctx.State{}}
		if _, err := auth.AdoptStored(c, m, pols, shared, "k", hash); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if _, err := auth.AdoptStored(c, m, pols, shared, "k", hash); err != nil || c.State.Session.Rate != 100 {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("policies %q, policy id %q: %v allocations per kept adoption, want none", s.ApplyPolicies, s.ApplyPolicyID, n)
		}
	}
}
