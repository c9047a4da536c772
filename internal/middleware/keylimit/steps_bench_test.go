package keylimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/keylimit"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// discard is a ResponseWriter with a header map of its own per request, as a server's is.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkKeyedSteps measures what a keyed request costs the gateway's own steps, without
// net/http or an upstream around them: the key check (lookup in the memory store, hashed keys),
// the session and access checks, and the rate limit and quota with their headers, as the
// gateway compiles them for the keyed scenario of the load benchmark (bench/): a token of
// Tyk's shape, a rate limit and a quota that never trip. Each request has a context and a
// header map of its own, as in the gateway; allocs/op is the steps' own allocations.
//
//	go test -run XXX -bench KeyedSteps -benchmem ./internal/middleware/keylimit
func BenchmarkKeyedSteps(b *testing.B) {
	store := memory.New()
	b.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	const token = "5e9d9544a1dcd60001d0ed20a6ab77653d5da938f452bb8cc9b3b6b4" // org id, then 32 hex digits
	s := &apidef.SessionState{Rate: 1e9, Per: 1, QuotaMax: 1e12, QuotaRenewalRate: 3600, DateCreated: time.Now(),
		AccessRights: map[string]apidef.AccessDefinition{apiID: {APIID: apiID, Versions: []string{"Default"}}}}
	if err := m.Put(context.Background(), session.ID{Key: token}, s, 0); err != nil {
		b.Fatal(err)
	}
	steps := []chain.Step{
		(&auth.KeyAuth{Tokens: auth.NewTokenSource(apidef.AuthConfig{}), Sessions: m, Policies: policy.Set{}}).Step(),
		(&auth.SessionCheck{Now: time.Now}).Step(),
		(&auth.AccessCheck{APIID: apiID, Patterns: &endpoint.PatternCache{}}).Step(),
		(&keylimit.Key{APIID: apiID, Limits: store, Now: time.Now}).Step(),
	}
	served := 0
	ch := chain.New(steps, func(w http.ResponseWriter, r *http.Request, c *chain.Context) { served++ },
		func(w http.ResponseWriter, r *http.Request, c *chain.Context, step string, err error) {
			b.Fatalf("step %s refused the request: %v", step, err)
		})
	in := httptest.NewRequest(http.MethodGet, "/bench/x", nil)
	in.Header.Set("Authorization", token)
	in.Body = http.NoBody
	var st reqctx.State
	var c chain.Context
	w := &discard{}
	serve := func() {
		st, c = reqctx.State{}, chain.Context{State: &st, Path: "/x", Version: "Default"}
		st.Gateway = &c
		w.h = make(http.Header, 4)
		ch.Serve(w, reqctx.With(in, &st), &c)
	}
	serve()
	if v := w.h[keylimit.HeaderLimit]; served != 1 || len(v) != 1 || v[0] != "1000000000000" {
		b.Fatalf("the first request was not served as a keyed one: served %d, headers %v", served, w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}
