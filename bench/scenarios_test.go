package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/transform"
)

// What a scenario derives must fit together: requests go to an API it defines, carry a key it
// stores (with access to that API), and the plugin's hooks are on that API.
func TestScenariosDeriveConsistentRequests(t *testing.T) {
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			defs := s.definitions("http://upstream.invalid", "bench.so")
			if want := max(s.apis, 1); len(defs) != want {
				t.Fatalf("%d definitions, want %d", len(defs), want)
			}
			i := slices.IndexFunc(defs, func(d *apidef.APIDefinition) bool { return d.Proxy.ListenPath == s.path() })
			if i < 0 {
				t.Fatalf("no API listens on the request path %q", s.path())
			}
			def := defs[i]
			if def.APIID != s.apiID() {
				t.Errorf("the request path %q is API %q's, apiID() says %q", s.path(), def.APIID, s.apiID())
			}
			if authed := s.keyed || s.jwt; def.UseKeylessAccess == authed {
				t.Errorf("keyless access %v on a scenario with keyed %v, jwt %v", def.UseKeylessAccess, s.keyed, s.jwt)
			}
			if err := def.Validate(); err != nil {
				t.Errorf("the definition is invalid: %v", err)
			}
			if u := def.Unsupported(); len(u) > 0 {
				t.Errorf("the definition uses what gatehouse refuses: %v", u)
			}
			keys := s.keyNames()
			if !s.keyed {
				// Only the jwt (a token) and transforms (a header to remove) scenarios send one.
				if len(keys) != 0 || (s.header() != "") != (s.jwt || s.transforms) {
					t.Errorf("keyless scenario stores %d keys, sends %q", len(keys), s.header())
				}
			} else {
				key, ok := strings.CutPrefix(s.header(), "Authorization: ")
				if !ok || !slices.Contains(keys, key) {
					t.Errorf("header %q does not carry one of the %d stored keys", s.header(), len(keys))
				}
				if want := max(s.keys, 1); len(keys) != want {
					t.Errorf("%d keys, want %d", len(keys), want)
				}
				sess := s.session()
				if _, ok := sess.AccessRights[def.APIID]; !ok {
					t.Errorf("the key has no access to %q", def.APIID)
				}
				if data, _ := json.Marshal(sess.MetaData); len(data) < s.metaFields*1024 {
					t.Errorf("the key's meta_data is %d bytes, want at least %d", len(data), s.metaFields*1024)
				}
			}
			cm := def.CustomMiddleware
			if got := len(cm.Pre) + len(cm.Post) + len(cm.Response); got != len(s.hooks) {
				t.Errorf("%d hooks on the API, want %d (%v)", got, len(s.hooks), s.hooks)
			}
		})
	}
}

// Each Redis scenario is its twin on the memory store but for its store (and name and goal).
func TestRedisScenariosMirrorTheirTwins(t *testing.T) {
	byName := map[string]*scenario{}
	for _, s := range scenarios() {
		byName[s.name] = s
	}
	for twin, name := range map[string]string{"keyless": "keyless-redis", "keyed": "keyed-redis"} {
		r, m := byName[name], byName[twin]
		if r == nil || m == nil {
			t.Fatalf("no %s or %s scenario", name, twin)
		}
		if !r.redis || m.redis || r.storage() != "redis" || m.storage() != "memory" {
			t.Errorf("%s on %s, %s on %s", name, r.storage(), twin, m.storage())
		}
		if r.keyed != m.keyed || r.apis != m.apis || r.keys != m.keys || r.reloads != m.reloads || !slices.Equal(r.hooks, m.hooks) ||
			r.path() != m.path() || r.header() != m.header() || !strings.HasPrefix(r.desc, m.desc+", ") {
			t.Errorf("%s differs from %s: %+v vs %+v", name, twin, *r, *m)
		}
	}
	if g := byName["keyless-redis"].goal; g != (goal{"bare", 1.00}) {
		t.Errorf("keyless-redis goal %v", g)
	}
	if g := byName["keyed-redis"].goal; g != (goal{"bare", 0.80}) {
		t.Errorf("keyed-redis goal %v", g)
	}
}

func scenarioNamed(t *testing.T, name string) *scenario {
	t.Helper()
	for _, s := range scenarios() {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("no %s scenario", name)
	return nil
}

// The jwt scenario's token, made by hand, is one a JOSE library (not the signer) accepts with
// the secret the API's jwt_source holds; its header is the one the API reads; its policy grants
// the API with the keyed scenarios' limits, which never trip.
func TestJWTScenario(t *testing.T) {
	s := scenarioNamed(t, "jwt")
	if s.goal != (goal{"bare", 0.85}) {
		t.Errorf("goal %v, want ≥0.85 of bare (issue 12)", s.goal)
	}
	def := s.definitions("http://upstream.invalid", "bench.so")[0]
	if !def.EnableJWT || def.JWTSigningMethod != apidef.JWTHMAC || def.UseStandardAuth || def.UseKeylessAccess {
		t.Fatalf("not an HMAC JWT API: %+v", def)
	}
	_, secret, err := def.JWTSourceKind()
	if err != nil || len(secret) == 0 {
		t.Fatalf("jwt_source %q: key %q, %v", def.JWTSource, secret, err)
	}
	name, value, _ := strings.Cut(s.header(), ": ")
	if name != def.JWTTokenConfig().AuthHeaderName {
		t.Errorf("requests carry %q, the API reads %q", name, def.JWTTokenConfig().AuthHeaderName)
	}
	raw, ok := strings.CutPrefix(value, "Bearer ")
	if !ok {
		t.Fatalf("header %q has no bearer token", s.header())
	}
	parse := func(key []byte) (*jwt.Token, error) {
		return jwt.Parse(raw, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithValidMethods([]string{"HS256"}))
	}
	tok, err := parse(secret)
	if err != nil {
		t.Fatalf("the token does not verify with the API's secret: %v", err)
	}
	if sub, _ := tok.Claims.GetSubject(); sub != jwtIdentity {
		t.Errorf("sub %q, want %q", sub, jwtIdentity)
	}
	if exp, _ := tok.Claims.GetExpirationTime(); exp != nil {
		t.Errorf("the token expires (%v); runs of any length need it valid", exp)
	}
	if _, err := parse([]byte("another secret")); err == nil {
		t.Error("the token verifies with another secret")
	}
	// What verify sends to see a bad signature refused must differ from the token in its signature.
	bad := signHS256(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"`+jwtIdentity+`"}`, "not-the-secret")
	if _, err := jwt.Parse(bad, func(*jwt.Token) (any, error) { return secret, nil }); err == nil {
		t.Error("the bad token verifies")
	}

	pols := s.policies()
	if !slices.Equal(def.JWTDefaultPolicies, []string{jwtPolicy}) || len(pols) != 1 || pols[jwtPolicy] == nil {
		t.Fatalf("default policies %v, policies %v", def.JWTDefaultPolicies, slices.Collect(maps.Keys(pols)))
	}
	pol, sess := pols[jwtPolicy], benchkit.Session(def.APIID)
	if pol.ID != jwtPolicy || !pol.Active || pol.IsInactive || pol.OrgID != def.OrgID {
		t.Errorf("policy %+v", pol)
	}
	if _, ok := pol.AccessRights[def.APIID]; !ok {
		t.Errorf("the policy does not grant %q: %v", def.APIID, pol.AccessRights)
	}
	if pol.Rate != sess.Rate || pol.Per != sess.Per || pol.QuotaMax != sess.QuotaMax || pol.QuotaRenewalRate != sess.QuotaRenewalRate {
		t.Errorf("policy limits %v/%v, quota %d/%d; want the keyed scenarios' %v/%v, %d/%d",
			pol.Rate, pol.Per, pol.QuotaMax, pol.QuotaRenewalRate, sess.Rate, sess.Per, sess.QuotaMax, sess.QuotaRenewalRate)
	}
	if data, err := json.Marshal(pols); err != nil || !strings.Contains(string(data), `"`+jwtPolicy+`":{"id":"`+jwtPolicy+`"`) {
		t.Errorf("policies file %s (%v): not Tyk's object of policies by id", data, err)
	}
	for _, o := range scenarios() {
		if o.name != "jwt" && o.policies() != nil {
			t.Errorf("%s loads policies", o.name)
		}
	}
}

// The transforms scenario's API removes the header its requests carry, adds two (one the
// request id, with context variables on), has a transform_headers entry matching the request
// path, and sets a response header; what verify expects the upstream to see is what they add.
func TestTransformsScenario(t *testing.T) {
	s := scenarioNamed(t, "transforms")
	if s.goal != (goal{"bare", 0.85}) {
		t.Errorf("goal %v, want ≥0.85 of bare (issue 12)", s.goal)
	}
	def := s.definitions("http://upstream.invalid", "bench.so")[0]
	if !def.UseKeylessAccess || !def.EnableContextVars {
		t.Errorf("keyless %v, enable_context_vars %v", def.UseKeylessAccess, def.EnableContextVars)
	}
	if len(def.VersionData.Versions) != 1 {
		t.Fatalf("%d versions", len(def.VersionData.Versions))
	}
	var v apidef.VersionInfo
	for _, vi := range def.VersionData.Versions {
		v = vi
	}
	if !v.UseExtendedPaths {
		t.Error("use_extended_paths is off: transform_headers would not apply")
	}
	name, _, _ := strings.Cut(s.header(), ":")
	if !slices.Contains(v.GlobalHeadersRemove, name) {
		t.Errorf("requests carry %q, global_headers_remove is %v", name, v.GlobalHeadersRemove)
	}
	if len(v.GlobalHeaders) != 2 || v.GlobalHeaders["X-Bench-Request-Id"] != "$tyk_context.request_id" {
		t.Errorf("global_headers %v: want two, one $tyk_context.request_id", v.GlobalHeaders)
	}
	th := v.ExtendedPaths.TransformHeader
	if len(th) != 1 || th[0].Method != "GET" || len(th[0].AddHeaders) == 0 || th[0].Disabled {
		t.Fatalf("transform_headers %+v", th)
	}
	// Endpoints match anywhere in the path with the listen path stripped: both the measured
	// path and the verify path.
	re := regexp.MustCompile(th[0].Path)
	for _, p := range []string{s.path(), strings.TrimSuffix(s.path(), "/") + benchkit.VerifyPath} {
		if stripped := "/" + strings.TrimPrefix(p, def.Proxy.ListenPath); !re.MatchString(stripped) {
			t.Errorf("transform_headers path %q does not match %q", th[0].Path, stripped)
		}
	}
	saw, resp := s.upstreamSaw()
	var added []string
	for _, m := range []map[string]string{v.GlobalHeaders, th[0].AddHeaders} {
		added = append(added, slices.Collect(maps.Keys(m))...)
	}
	slices.Sort(added)
	if want := strings.Join(added, ","); saw != want {
		t.Errorf("verify expects the upstream to see %q, the API adds %q", saw, want)
	}
	if strings.Contains(saw, name) {
		t.Errorf("verify expects the removed %q", name)
	}
	if !maps.Equal(resp, v.GlobalResponseHeaders) || len(resp) == 0 {
		t.Errorf("verify expects response headers %v, the API sets %v", resp, v.GlobalResponseHeaders)
	}
}

// Without transforms, what verify expects is the plugin hooks' signs.
func TestUpstreamSawFollowsHooks(t *testing.T) {
	for _, s := range scenarios() {
		if s.transforms {
			continue
		}
		saw, resp := s.upstreamSaw()
		wantSaw, respHook := benchkit.HookSigns(s.hooks)
		if saw != wantSaw || (resp["X-Bench-Response"] == "1") != respHook || len(resp) > 1 {
			t.Errorf("%s: upstreamSaw %q, %v; hooks give %q, %v", s.name, saw, resp, wantSaw, respHook)
		}
	}
}

// The body-transform scenario's template makes bodyTransformed of oasBody: what verify expects
// the upstream to receive.
func TestBodyTransformScenario(t *testing.T) {
	s := scenarioNamed(t, "body-transform")
	def := s.definitions("http://upstream.invalid", "bench.so")[0]
	tr, err := transform.Compile(def, "")
	if err != nil || tr == nil {
		t.Fatalf("Compile = %v, %v", tr, err)
	}
	step, ok := tr.Step()
	if !ok {
		t.Fatal("no request transform")
	}
	r := httptest.NewRequest("POST", s.path(), strings.NewReader(oasBody))
	c := &chain.Context{Version: "Default", Readings: endpoint.Readings("/")}
	if err := step.Run(httptest.NewRecorder(), r, c); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	if string(got) != bodyTransformed {
		t.Errorf("transformed body = %s, want %s", got, bodyTransformed)
	}
	if !strings.Contains(s.script(), "wrk.method = \"POST\"") {
		t.Errorf("the scenario's requests are not POSTs: %q", s.script())
	}
}

// TestReloadScenariosChangeOne: reloads-10000 changes one API's file before each reload, never
// the one the requests go to; the single-API reloads scenario changes nothing.
func TestReloadScenariosChangeOne(t *testing.T) {
	byName := map[string]*scenario{}
	for _, s := range scenarios() {
		byName[s.name] = s
	}
	many, one := byName["reloads-10000"], byName["reloads"]
	if many == nil || one == nil {
		t.Fatal("the reloads scenarios are missing")
	}
	if many.apis != manyAPIs || !many.reloads || many.goal.Against != "errors" {
		t.Errorf("reloads-10000: %d APIs, reloads %v, goal %v", many.apis, many.reloads, many.goal)
	}
	changed := many.changeOne()
	if changed == "" || changed == many.apiID() {
		t.Errorf("reloads-10000 changes %q, the requests go to %q: want another API changed", changed, many.apiID())
	}
	found := false
	for _, d := range many.definitions("http://127.0.0.1:1", "") {
		found = found || d.APIID == changed
	}
	if !found {
		t.Errorf("reloads-10000 changes %q, which it does not define", changed)
	}
	if c := one.changeOne(); c != "" {
		t.Errorf("reloads changes %q, want nothing", c)
	}
}
