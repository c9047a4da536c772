package headers

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

func TestCompileValue(t *testing.T) {
	ctx := []string{}
	names := func(n string) int {
		ctx = append(ctx, "<"+n+">")
		return len(ctx) - 1
	}
	meta := map[string]any{"tier": "gold", "n": float64(42), "tags": []any{"a", "b"}, "obj": map[string]any{}}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"$tyk_context.request_id", "<request_id>"},
		{"id=$tyk_context.headers_X_Id;tier=$tyk_meta.tier.", "id=<headers_X_Id>;tier="},
		{"$tyk_meta.tier-$tyk_meta.n", "42"}, // a name runs over '-' and '.', as in Tyk: "tier-" is the key
		{"$tyk_meta.n $tyk_meta.tags $tyk_meta.obj $tyk_meta.missing!", "42 a,b  !"},
		{"$tyk_meta.tier/x", "gold/x"},
		{"cost $5 and $tyk_context. and $tyk_meta", "cost $5 and $tyk_context. and $tyk_meta"},
		{"$tyk_contextXpath", "<path>"}, // Tyk's pattern: any character after the prefix
		{"$secret_env.X", ""},           // a secret without a value is empty, as in Tyk
		{"$secret_vault.X", "$secret_vault.X"},
	} {
		ctx = ctx[:0]
		v := compileValue(tc.in, names, nil, nil)
		got := v.render(ctx, meta)
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func entries(es ...apidef.HeaderInjectionMeta) []apidef.HeaderInjectionMeta { return es }

func TestRequestAndResponse(t *testing.T) {
	def := &apidef.APIDefinition{EnableContextVars: true, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {
			UseExtendedPaths:            true,
			GlobalHeaders:               map[string]string{"x-global": "g", "X-Path": "$tyk_context.path", "X-Tier": "$tyk_meta.tier"},
			GlobalHeadersRemove:         []string{"X-Secret"},
			GlobalResponseHeaders:       map[string]string{"X-Resp": "r-$tyk_context.request_id"},
			GlobalResponseHeadersRemove: []string{"Server"},
			ExtendedPaths: apidef.ExtendedPathsSet{
				TransformHeader: entries(
					apidef.HeaderInjectionMeta{Path: "/orders/{id}", Method: "GET", DeleteHeaders: []string{"X-Global"}, AddHeaders: map[string]string{"X-Order": "$tyk_context.headers_X_Client_Id"}},
					apidef.HeaderInjectionMeta{Path: "/orders", Method: "GET", AddHeaders: map[string]string{"X-Second": "never for /orders/1"}},
					apidef.HeaderInjectionMeta{Path: "/off", Method: "GET", Disabled: true, AddHeaders: map[string]string{"X-Off": "1"}},
				),
				TransformResponseHeader: entries(
					apidef.HeaderInjectionMeta{Path: "/orders", Method: "GET", DeleteHeaders: []string{"X-Resp"}, AddHeaders: map[string]string{"Cache-Control": "no-store", "Server": "endpoint"}},
				),
			},
		},
		"v2": {GlobalHeadersDisabled: true, GlobalHeaders: map[string]string{"X-Global": "g"}, GlobalResponseHeadersDisabled: true, GlobalResponseHeaders: map[string]string{"X-R": "1"}},
	}}}
	tr, err := Compile(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	vars, ok := tr.VarsStep()
	if !ok {
		t.Fatal("no context vars step")
	}
	step, ok := tr.Step()
	if !ok {
		t.Fatal("no request step")
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

	for _, tc := range []struct {
		name, version, method, path string
		want, gone                  map[string]string // want: header values; gone: headers absent
		wantResp                    map[string]string
	}{
		{
			name: "global and endpoint", version: "v1", method: "GET", path: "/api/orders/1",
			want:     map[string]string{"X-Path": "/api/orders/1", "X-Tier": "gold", "X-Order": "client-7"},
			gone:     map[string]string{"X-Global": "", "X-Secret": "", "X-Second": ""},
			wantResp: map[string]string{"Cache-Control": "no-store", "Server": "", "X-Resp": "uuid"},
		},
		{
			name: "global only", version: "v1", method: "POST", path: "/api/orders/1",
			want:     map[string]string{"X-Global": "g", "X-Path": "/api/orders/1"},
			gone:     map[string]string{"X-Secret": "", "X-Order": ""},
			wantResp: map[string]string{"Cache-Control": "", "Server": "", "X-Resp": "uuid"},
		},
		{
			name: "disabled entry", version: "v1", method: "GET", path: "/api/off",
			gone: map[string]string{"X-Off": ""}, want: map[string]string{"X-Global": "g"},
			wantResp: map[string]string{"Server": "", "X-Resp": "uuid"},
		},
		{
			name: "globals disabled", version: "v2", method: "GET", path: "/api/x",
			gone: map[string]string{"X-Global": ""}, want: map[string]string{"X-Secret": "s"},
			wantResp: map[string]string{"Server": "upstream", "X-R": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("X-Secret", "s")
			r.Header.Set("X-Client-Id", "client-7")
			st := &reqctx.State{Session: &apidef.SessionState{MetaData: map[string]any{"tier": "gold"}}}
			r = reqctx.With(r, st)
			rel := strings.TrimPrefix(tc.path, "/api")
			c := &chain.Context{Version: tc.version, Path: rel, Readings: endpoint.Readings(rel)}
			if err := vars.Run(httptest.NewRecorder(), r, c); err != nil {
				t.Fatal(err)
			}
			if err := step.Run(httptest.NewRecorder(), r, c); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got := r.Header.Get(k); got != v {
					t.Errorf("request %s = %q, want %q", k, got, v)
				}
			}
			for k := range tc.gone {
				if _, ok := r.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("request %s = %q, want it absent", k, r.Header.Get(k))
				}
			}
			res := &http.Response{Header: http.Header{"Server": {"upstream"}}, Request: r}
			tr.Response(res, r, c)
			for k, v := range tc.wantResp {
				got := res.Header.Get(k)
				switch {
				case v == "uuid":
					if !uuid.MatchString(strings.TrimPrefix(got, "r-")) {
						t.Errorf("response %s = %q, want r-<uuid>", k, got)
					}
				case got != v:
					t.Errorf("response %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestContextVars(t *testing.T) {
	value := strings.Join([]string{
		"$tyk_context.remote_addr", "$tyk_context.headers_Host", "$tyk_context.cookies_sess_id",
		"$tyk_context.request_data", "$tyk_context.request_data_q", "$tyk_context.request_data_form_field",
		"$tyk_context.path_parts", "$tyk_context.headers", "$tyk_context.token", "$tyk_context.unknown",
	}, "|")
	mk := func(on bool) *Transforms {
		tr, err := Compile(&apidef.APIDefinition{EnableContextVars: on, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
			"v1": {GlobalHeaders: map[string]string{"X-V": value}},
		}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	run := func(tr *Transforms, c *chain.Context) (*http.Request, string) {
		r := httptest.NewRequest("POST", "http://api.test/a/b?q=1&q=2", strings.NewReader("form-field=x&q=0"))
		r.RemoteAddr = "192.0.2.7:4000"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Cookie", "sess-id=abc")
		r = reqctx.With(r, &reqctx.State{Token: "key-1"})
		if s, ok := tr.VarsStep(); ok {
			if err := s.Run(httptest.NewRecorder(), r, c); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := tr.Step()
		if err := s.Run(httptest.NewRecorder(), r, c); err != nil {
			t.Fatal(err)
		}
		return r, r.Header.Get("X-V")
	}
	r, got := run(mk(true), &chain.Context{Version: "v1"})
	want := "192.0.2.7|api.test|abc|form-field:x;q:0,1,2|0|x|a,b||key-1|"
	if got != want {
		t.Errorf("with enable_context_vars: %q, want %q", got, want)
	}
	if body := make([]byte, 64); true {
		n, _ := r.Body.Read(body)
		if string(body[:n]) != "form-field=x&q=0" {
			t.Errorf("body after reading the form = %q, want it intact", body[:n])
		}
	}
	_, got = run(mk(true), &chain.Context{Version: "v1", ClientIP: netip.MustParseAddr("198.51.100.9")})
	if !strings.HasPrefix(got, "198.51.100.9|") {
		t.Errorf("remote_addr with a decided client address: %q", got)
	}
	if _, got = run(mk(false), &chain.Context{Version: "v1"}); got != "|||||||||" {
		t.Errorf("without enable_context_vars: %q, want every variable empty", got)
	}
}

func TestCompileNone(t *testing.T) {
	tr, err := Compile(&apidef.APIDefinition{VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {GlobalHeadersDisabled: true, GlobalHeaders: map[string]string{"X": "1"},
			ExtendedPaths: apidef.ExtendedPathsSet{TransformHeader: entries(apidef.HeaderInjectionMeta{Path: "/x", Method: "GET"})}},
	}}}, nil)
	if err != nil || tr != nil {
		t.Fatalf("Compile = %v, %v; want nil (disabled globals, entries without use_extended_paths)", tr, err)
	}
	if _, ok := tr.Step(); ok {
		t.Error("nil transforms have a step")
	}
}

// TestSubstitutedValuesStayOneField: a context variable or meta data value holding CR, LF, NUL
// or DEL (a client's %0d%0a in request_data) is rendered with spaces there, so the upstream
// request stays valid; tab passes, as header values allow it.
func TestSubstitutedValuesStayOneField(t *testing.T) {
	v := compileValue("q=$tyk_context.request_data_q m=$tyk_meta.note", func(string) int { return 0 }, nil, nil)
	got := v.render([]string{"a\r\nX-Injected: 1\x00"}, map[string]any{"note": "b\tc\x7f"})
	if want := "q=a  X-Injected: 1  m=b\tc "; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
}

// TestUnderscoreSpellings: the request step removes every spelling of a removed or set name
// that an upstream mapping '_' to '-' reads as the same, and leaves the rest; looking for them
// allocates nothing, with or without such headers (the step allocated 2 before it looked).
func TestUnderscoreSpellings(t *testing.T) {
	tr, err := Compile(&apidef.APIDefinition{VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {GlobalHeaders: map[string]string{"X-Gw": "1"}, GlobalHeadersRemove: []string{"x-secret"}},
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := tr.Step()
	c := &chain.Context{Version: "v1", Path: "/", Readings: endpoint.Readings("/")}
	accept, ua, id, evil, leak, kept := []string{"*/*"}, []string{"t"}, []string{"1"}, []string{"evil"}, []string{"leak"}, []string{"kept"}
	fill := func(h http.Header, underscores bool) { // allocates nothing once h has grown
		clear(h)
		h["Accept"], h["User-Agent"], h["X-Request-Id"] = accept, ua, id
		if underscores {
			h["X_gw"], h["X_SECRET"], h["x-Secret"], h["X_other"] = evil, leak, leak, kept
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	fill(r.Header, true)
	if err := step.Run(nil, r, c); err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Accept": {"*/*"}, "User-Agent": {"t"}, "X-Request-Id": {"1"}, "X-Gw": {"1"}, "X_other": {"kept"}}
	if len(r.Header) != len(want) {
		t.Errorf("headers %v, want %v", r.Header, want)
	}
	for k, v := range want {
		if got := r.Header[k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("headers %v, want %v", r.Header, want)
		}
	}
	for _, us := range []bool{false, true} {
		allocs := testing.AllocsPerRun(200, func() {
			fill(r.Header, us)
			_ = step.Run(nil, r, c)
		})
		t.Logf("underscores %v: %.0f allocations", us, allocs)
		if allocs > 2 {
			t.Errorf("underscores %v: %.0f allocations per request, want at most 2, as before the step looked for other spellings", us, allocs)
		}
	}
}
