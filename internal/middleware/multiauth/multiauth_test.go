package multiauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// method is a fake auth method: it records that it ran, then fails or sets a session named
// after it.
func method(name string, ran *[]string, fail map[string]bool) Method {
	return Method{Name: name, Tokens: auth.NewTokenSource(apidef.AuthConfig{AuthHeaderName: "X-" + name}),
		Step: chain.Step{Name: name, Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
			*ran = append(*ran, name)
			if fail[name] {
				return chain.Errorf(http.StatusForbidden, name+" refused", nil)
			}
			if name != "nosession" {
				c.State.Session, c.State.Token, c.KeyHash = &apidef.SessionState{Alias: name}, name+"-token", name+"-hash"
			}
			return nil
		}}}
}

// refusingCheck is a key check that refuses the key of the method named alias.
func refusingCheck(alias string) chain.Step {
	return chain.Step{Name: "check", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.State.Session.Alias == alias {
			return chain.Errorf(http.StatusForbidden, "key check", nil)
		}
		return nil
	}}
}

func TestAll(t *testing.T) {
	tests := []struct {
		name      string
		methods   []string
		base      string
		fail      map[string]bool
		check     string // the key of this method fails the checks
		wantErr   string
		wantRan   []string
		wantAlias string
	}{
		{name: "every method passes, the base's session is kept", methods: []string{"basic", "hmac", "token"}, base: "hmac",
			wantRan: []string{"basic", "hmac", "token"}, wantAlias: "hmac"},
		{name: "the base is the first", methods: []string{"basic", "token"}, base: "basic", wantRan: []string{"basic", "token"}, wantAlias: "basic"},
		{name: "the first fails: nothing else runs", methods: []string{"basic", "hmac", "token"}, base: "token", fail: map[string]bool{"basic": true},
			wantErr: "basic refused", wantRan: []string{"basic"}},
		{name: "the last fails", methods: []string{"basic", "hmac", "token"}, base: "basic", fail: map[string]bool{"token": true},
			wantErr: "token refused", wantRan: []string{"basic", "hmac", "token"}},
		{name: "the base fails", methods: []string{"hmac", "token"}, base: "hmac", fail: map[string]bool{"hmac": true},
			wantErr: "hmac refused", wantRan: []string{"hmac"}},
		{name: "another method's key fails the key checks", methods: []string{"hmac", "token"}, base: "token", check: "hmac",
			wantErr: "key check", wantRan: []string{"hmac"}},
		{name: "the base's key is checked later in the chain", methods: []string{"hmac", "token"}, base: "token", check: "token",
			wantRan: []string{"hmac", "token"}, wantAlias: "token"},
		{name: "a method that sets no session", methods: []string{"nosession", "token"}, base: "token",
			wantErr: chain.MsgSessionMissing, wantRan: []string{"nosession"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			var ms []Method
			for _, n := range tc.methods {
				ms = append(ms, method(n, &ran, tc.fail))
			}
			check := refusingCheck(tc.check)
			a, err := New(ms, nil, tc.base, []chain.Step{check}, true)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			for _, n := range tc.methods {
				r.Header.Set("X-"+n, "credential")
			}
			// A session a pre hook set counts for nothing.
			c := &chain.Context{State: &reqctx.State{Session: &apidef.SessionState{Alias: "from a pre hook"}}}
			err = a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c)
			if !slices.Equal(ran, tc.wantRan) {
				t.Errorf("ran %q, want %q", ran, tc.wantRan)
			}
			if tc.wantErr != "" {
				var e *chain.Error
				if !errors.As(err, &e) || e.Message != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				// A key check's refusal names the check (its events are the check's, not auth's).
				var se *chain.StepError
				if inCheck := errors.As(err, &se) && se.Step == "check"; inCheck != (tc.check != "") {
					t.Errorf("err = %v: named as the check's %v, want %v", err, inCheck, tc.check != "")
				}
				if r.Header.Get("X-"+tc.methods[0]) == "" {
					t.Error("credentials stripped from a refused request")
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if c.State.Session.Alias != tc.wantAlias || c.State.Token != tc.wantAlias+"-token" || c.KeyHash != tc.wantAlias+"-hash" {
				t.Errorf("session %q token %q hash %q, want %q's", c.State.Session.Alias, c.State.Token, c.KeyHash, tc.wantAlias)
			}
			for _, n := range tc.methods {
				if r.Header.Get("X-"+n) != "" {
					t.Errorf("strip_auth_data: X-%s kept", n)
				}
			}
		})
	}
	if _, err := New([]Method{{Name: "a"}}, nil, "b", nil, false); err == nil {
		t.Error("New accepted a base that names no method")
	}
}

func TestIgnoredEndpoint(t *testing.T) {
	var ran []string
	a, _ := New([]Method{method("a", &ran, nil), method("b", &ran, nil)}, nil, "a", nil, false)
	c := &chain.Context{State: &reqctx.State{}, Ignored: true}
	if err := a.Step().Run(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), c); err != nil || len(ran) != 0 {
		t.Errorf("ignored endpoint: err %v, ran %q", err, ran)
	}
}

// TestAlternatives: with security_requirements a request passes with any one set of methods,
// tried in order, every method of the set passing; the base is base_identity_provided_by when
// the set has it, else the set's last; when none passes, the answer is the first refusal of
// credentials the request presented, else the first set's.
func TestAlternatives(t *testing.T) {
	nocred := func(name string, ran *[]string) Method {
		m := method(name, ran, nil)
		m.Step.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
			*ran = append(*ran, name)
			return chain.Errorf(http.StatusUnauthorized, name+" missing", chain.ErrNoCredentials)
		}
		return m
	}
	tests := []struct {
		name      string
		sets      [][]string
		base      string
		fail      map[string]bool
		missing   string // this method finds no credentials
		unsent    string // this method's header is not sent; its refusals say the credentials were presented elsewhere
		check     string // the key of this method fails the key checks
		wantErr   string
		wantRan   []string
		wantAlias string
	}{
		{name: "the first set passes", sets: [][]string{{"token"}, {"jwt"}}, base: "jwt",
			wantRan: []string{"token"}, wantAlias: "token"},
		{name: "the first fails, the second passes", sets: [][]string{{"token"}, {"jwt"}}, base: "jwt", fail: map[string]bool{"token": true},
			wantRan: []string{"token", "jwt"}, wantAlias: "jwt"},
		{name: "a set passes only whole", sets: [][]string{{"basic", "token"}, {"jwt"}}, base: "basic", fail: map[string]bool{"token": true},
			wantRan: []string{"basic", "token", "jwt"}, wantAlias: "jwt"},
		{name: "the base of a set that has it", sets: [][]string{{"basic", "token"}}, base: "basic",
			wantRan: []string{"basic", "token"}, wantAlias: "basic"},
		{name: "none passes: the refusal of presented credentials", sets: [][]string{{"token"}, {"jwt"}}, base: "jwt",
			missing: "token", fail: map[string]bool{"jwt": true}, wantErr: "jwt refused", wantRan: []string{"token", "jwt"}},
		{name: "none passes: credentials presented where the method's header is not (a body)", sets: [][]string{{"token"}, {"basic"}}, base: "basic",
			missing: "token", fail: map[string]bool{"basic": true}, unsent: "basic", wantErr: "basic refused", wantRan: []string{"token", "basic"}},
		{name: "none passes, none presented: the first set's", sets: [][]string{{"token"}, {"jwt"}}, base: "jwt",
			missing: "jwt", fail: map[string]bool{"token": true}, wantErr: "token refused", wantRan: []string{"token", "jwt"}},
		{name: "a method that failed does not run again", sets: [][]string{{"basic", "jwt"}, {"basic", "token"}}, base: "jwt",
			fail: map[string]bool{"basic": true}, wantErr: "basic refused", wantRan: []string{"basic"}},
		{name: "the base's key checks choose the set", sets: [][]string{{"jwt"}, {"token"}}, base: "jwt", check: "jwt",
			wantRan: []string{"jwt", "token"}, wantAlias: "token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			var ms []Method
			for _, n := range []string{"basic", "jwt", "token"} {
				switch n {
				case tc.missing:
					ms = append(ms, nocred(n, &ran))
				case tc.unsent:
					m := method(n, &ran, nil)
					m.Step.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
						ran = append(ran, n)
						return chain.Errorf(http.StatusUnauthorized, n+" refused", chain.ErrPresented)
					}
					ms = append(ms, m)
				default:
					ms = append(ms, method(n, &ran, tc.fail))
				}
			}
			check := refusingCheck(tc.check)
			a, err := New(ms, tc.sets, tc.base, []chain.Step{check}, true)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			for _, n := range []string{"basic", "jwt", "token"} {
				if n != tc.unsent {
					r.Header.Set("X-"+n, "credential")
				}
			}
			c := &chain.Context{State: &reqctx.State{}}
			err = a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c)
			if !slices.Equal(ran, tc.wantRan) {
				t.Errorf("ran %q, want %q", ran, tc.wantRan)
			}
			if tc.wantErr != "" {
				var e *chain.Error
				if !errors.As(err, &e) || e.Message != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if c.State.Session != nil {
					t.Errorf("a refused request keeps the session of %q", c.State.Session.Alias)
				}
				return
			}
			if err != nil || c.State.Session == nil || c.State.Session.Alias != tc.wantAlias {
				t.Fatalf("err %v, session %+v, want %q's", err, c.State.Session, tc.wantAlias)
			}
			// Every method's credentials are stripped, those of sets that did not pass too.
			for _, n := range []string{"basic", "jwt", "token"} {
				if r.Header.Get("X-"+n) != "" {
					t.Errorf("strip_auth_data: X-%s kept", n)
				}
			}
		})
	}
	if _, err := New([]Method{{Name: "a"}}, [][]string{{"a"}, {"b"}}, "a", nil, false); err == nil {
		t.Error("New accepted a set naming a method the API does not run")
	}
}

// TestFailedSetLeavesNothing: a set that fails after one of its methods passed leaves neither
// that method's session nor its verified JWT on the request.
func TestFailedSetLeavesNothing(t *testing.T) {
	var ran []string
	jwt := method("jwt", &ran, nil)
	run := jwt.Step.Run
	jwt.Step.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		c.JWT = "header.claims.sig"
		return run(w, r, c)
	}
	ms := []Method{method("basic", &ran, map[string]bool{"basic": true}), jwt, method("token", &ran, nil)}
	// jwt passes, then basic fails: the set fails after one of its methods passed.
	a, err := New(ms, [][]string{{"jwt", "basic"}, {"token"}}, "jwt", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	c := &chain.Context{State: &reqctx.State{}}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if err := a.Step().Run(httptest.NewRecorder(), reqctx.With(r, c.State), c); err != nil {
		t.Fatal(err)
	}
	if c.JWT != "" || c.State.Session.Alias != "token" {
		t.Errorf("after the first set failed: JWT %q, session %q; want none and the token's", c.JWT, c.State.Session.Alias)
	}
}

// TestAlternativesAllocations: trying several sets allocates nothing of its own per request
// (the failed methods are kept on the stack).
func TestAlternativesAllocations(t *testing.T) {
	var ran []string
	ms := []Method{method("basic", &ran, map[string]bool{"basic": true}), method("jwt", &ran, nil), method("token", &ran, nil)}
	a, err := New(ms, [][]string{{"basic", "jwt"}, {"basic", "token"}, {"token"}}, "token", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	c := &chain.Context{State: &reqctx.State{}}
	step := a.Step()
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		ran = ran[:0]
		if err := step.Run(w, r, c); err != nil {
			t.Fatal(err)
		}
	})
	// What the methods themselves allocate, run as the sets run them (basic refuses once, its
	// failure remembered; token passes): anything beyond is the sets' own.
	own := testing.AllocsPerRun(100, func() {
		_ = ms[0].Step.Run(w, r, c)
		_ = ms[2].Step.Run(w, r, c)
	})
	if allocs > own {
		t.Errorf("%v allocations per request, the methods' own %v", allocs, own)
	}
}
