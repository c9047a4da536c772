package endpoint_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

type matchCase struct {
	method string
	path   string
	want   bool
}

func TestCompileMatch(t *testing.T) {
	tests := []struct {
		name       string
		pattern    string
		methods    []string
		ignoreCase bool
		cases      []matchCase
	}{
		{
			name:    "segment-boundary prefix",
			pattern: "/users",
			cases: []matchCase{
				{"GET", "/users", true},
				{"GET", "/users/", true},
				{"GET", "/users/1", true},
				{"GET", "/users/1/orders", true},
				{"GET", "/users-admin", false},
				{"GET", "/usersx", false},
				{"GET", "/user", false},
				{"GET", "/api/users", false},
				{"GET", "/Users", false},
				{"GET", "", false},
			},
		},
		{
			name:    "trailing slash matches everything below",
			pattern: "/users/",
			cases: []matchCase{
				{"GET", "/users/", true},
				{"GET", "/users/1", true},
				{"GET", "/users/1/2", true},
				{"GET", "/users", false},
				{"GET", "/usersx/", false},
			},
		},
		{
			name:    "root slash matches everything",
			pattern: "/",
			cases: []matchCase{
				{"GET", "/", true},
				{"GET", "/anything/at/all", true},
			},
		},
		{
			name:    "variable matches one segment",
			pattern: "/users/{id}",
			cases: []matchCase{
				{"GET", "/users/42", true},
				{"GET", "/users/abc", true},
				{"GET", "/users/42/orders", true},
				{"GET", "/users/", false},
				{"GET", "/users", false},
			},
		},
		{
			name:    "variable in the middle",
			pattern: "/users/{id}/orders",
			cases: []matchCase{
				{"GET", "/users/5/orders", true},
				{"GET", "/users/5/orders/7", true},
				{"GET", "/users/5/6/orders", false},
				{"GET", "/users//orders", false},
				{"GET", "/users/5/ordersx", false},
			},
		},
		{
			name:    "variable with regex",
			pattern: "/users/{id:[0-9]+}",
			cases: []matchCase{
				{"GET", "/users/42", true},
				{"GET", "/users/42/x", true},
				{"GET", "/users/abc", false},
				{"GET", "/users/42abc", false},
			},
		},
		{
			name:    "variable with empty regex is one segment",
			pattern: "/users/{id:}",
			cases: []matchCase{
				{"GET", "/users/x", true},
				{"GET", "/users/", false},
			},
		},
		{
			name:    "variable regex with a counted repetition",
			pattern: "/items/{id:[0-9]{3}}",
			cases: []matchCase{
				{"GET", "/items/123", true},
				{"GET", "/items/12", false},
				{"GET", "/items/1234", false},
			},
		},
		{
			name:    "star wildcard after slash",
			pattern: "/files/*",
			cases: []matchCase{
				{"GET", "/files/", true},
				{"GET", "/files/a", true},
				{"GET", "/files/a/b/c", true},
				{"GET", "/files", false},
				{"GET", "/filesx/a", false},
			},
		},
		{
			name:    "lone star matches anything",
			pattern: "*",
			cases: []matchCase{
				{"GET", "/", true},
				{"GET", "/a/b", true},
			},
		},
		{
			name:    "star in the middle",
			pattern: "/a/*/c",
			cases: []matchCase{
				{"GET", "/a/b/c", true},
				{"GET", "/a/b/b/c", true},
				{"GET", "/a/b/c/d", true},
				{"GET", "/a/b/cd", false},
			},
		},
		{
			name:    "regex character class",
			pattern: "/users/[0-9]+",
			cases: []matchCase{
				{"GET", "/users/12", true},
				{"GET", "/users/12/x", true},
				{"GET", "/users/ab", false},
				{"GET", "/users/12ab", false},
			},
		},
		{
			name:    "regex alternation",
			pattern: "/(foo|bar)",
			cases: []matchCase{
				{"GET", "/foo", true},
				{"GET", "/bar/x", true},
				{"GET", "/baz", false},
				{"GET", "/foobar", false},
			},
		},
		{
			name:    "regex star quantifier keeps the segment boundary",
			pattern: "/ab*",
			cases: []matchCase{
				{"GET", "/a", true},
				{"GET", "/abb", true},
				{"GET", "/ab/x", true},
				{"GET", "/abc", false},
			},
		},
		{
			name:    "regex plus quantifier keeps the segment boundary",
			pattern: "/ab+",
			cases: []matchCase{
				{"GET", "/ab", true},
				{"GET", "/abbb/x", true},
				{"GET", "/a", false},
				{"GET", "/abc", false},
			},
		},
		{
			name:       "ignore case",
			pattern:    "/Users",
			ignoreCase: true,
			cases: []matchCase{
				{"GET", "/users", true},
				{"GET", "/USERS/1", true},
				{"GET", "/Users", true},
				{"GET", "/usersx", false},
			},
		},
		{
			name:    "case-sensitive by default",
			pattern: "/Users",
			cases: []matchCase{
				{"GET", "/Users", true},
				{"GET", "/users", false},
				{"GET", "/USERS", false},
			},
		},
		{
			name:    "methods filter",
			pattern: "/users",
			methods: []string{"get", " post ", "GET", ""},
			cases: []matchCase{
				{"GET", "/users", true},
				{"POST", "/users/1", true},
				{"DELETE", "/users", false},
				{"PUT", "/users", false},
				{"GET", "/other", false},
			},
		},
		{
			name:    "methods compare without case",
			pattern: "/users",
			methods: []string{"GET"},
			cases: []matchCase{
				{"get", "/users", true},
				{"Get", "/users", true},
				{"post", "/users", false},
			},
		},
		{
			name:    "two variables with nested braces",
			pattern: "/{a:x{1,2}}/{b}",
			cases: []matchCase{
				{"GET", "/x/y", true},
				{"GET", "/xx/y/z", true},
				{"GET", "/xxx/y", false},
				{"GET", "/x", false},
			},
		},
		{
			name:    "unclosed brace is literal",
			pattern: "/a{b",
			cases: []matchCase{
				{"GET", "/a{b", true},
				{"GET", "/ab", false},
			},
		},
		{
			name:    "star wildcard not at the end keeps the boundary",
			pattern: "/*/admin",
			cases: []matchCase{
				{"GET", "/x/admin", true},
				{"GET", "/x/y/admin/z", true},
				{"GET", "/x/administrator", false},
			},
		},
		{
			name:    "empty methods list means every method",
			pattern: "/users",
			methods: []string{},
			cases: []matchCase{
				{"PATCH", "/users", true},
				{"OPTIONS", "/users", true},
			},
		},
		{
			name:    "pattern without leading slash",
			pattern: "users",
			cases: []matchCase{
				{"GET", "/users", true},
				{"GET", "/users/1", true},
				{"GET", "/api/users", false},
			},
		},
		{
			name:    "pattern without leading slash with variable",
			pattern: "users/{id}",
			cases: []matchCase{
				{"GET", "/users/1", true},
				{"GET", "/users", false},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := endpoint.Compile(tc.pattern, tc.methods, tc.ignoreCase)
			if err != nil {
				t.Fatalf("Compile(%q) error: %v", tc.pattern, err)
			}
			if p.Raw != tc.pattern {
				t.Errorf("Raw = %q, want %q", p.Raw, tc.pattern)
			}
			for _, c := range tc.cases {
				if got := p.Match(c.method, c.path); got != c.want {
					t.Errorf("Compile(%q).Match(%s, %q) = %v, want %v", tc.pattern, c.method, c.path, got, c.want)
				}
			}
		})
	}
}

func TestCompileInvalid(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    string
	}{
		{name: "empty", pattern: "", want: "empty endpoint path"},
		{name: "unclosed group", pattern: "/users/(", want: `endpoint path "/users/(" is not a valid pattern`},
		{name: "unclosed class", pattern: "/[a-", want: `endpoint path "/[a-" is not a valid pattern`},
		{name: "bad variable regex", pattern: "/{id:[}", want: `endpoint path "/{id:[}" is not a valid pattern`},
		{name: "bad repetition", pattern: "/a**", want: `endpoint path "/a**" is not a valid pattern`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := endpoint.Compile(tc.pattern, nil, false)
			if err == nil {
				t.Fatalf("Compile(%q) = nil error, want %q", tc.pattern, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile(%q) error = %q, want it to contain %q", tc.pattern, err, tc.want)
			}
		})
	}
}

func rawsOf(ps []endpoint.Pattern) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Raw)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCompileVersion(t *testing.T) {
	legacy := apidef.LegacyPaths{
		Ignored:   []string{"/legacy-ignored"},
		WhiteList: []string{"/legacy-white"},
		BlackList: []string{"/legacy-black"},
	}
	extended := apidef.ExtendedPathsSet{
		Ignored:   []apidef.EndPointMeta{{Path: "/ext-ignored"}, {Path: "/ext-ignored-off", Disabled: true}},
		WhiteList: []apidef.EndPointMeta{{Path: "/ext-white", Method: "GET"}},
		BlackList: []apidef.EndPointMeta{{Path: "/ext-black-off", Disabled: true}, {Path: "/ext-black"}},
	}
	tests := []struct {
		name                         string
		v                            apidef.VersionInfo
		wantIgnored, wantWhite, want []string // want is the black list
		wantEmpty                    bool
	}{
		{
			name:        "extended paths when use_extended_paths",
			v:           apidef.VersionInfo{UseExtendedPaths: true, Paths: legacy, ExtendedPaths: extended},
			wantIgnored: []string{"/ext-ignored"},
			wantWhite:   []string{"/ext-white"},
			want:        []string{"/ext-black"},
		},
		{
			name:        "legacy paths otherwise",
			v:           apidef.VersionInfo{Paths: legacy, ExtendedPaths: extended},
			wantIgnored: []string{"/legacy-ignored"},
			wantWhite:   []string{"/legacy-white"},
			want:        []string{"/legacy-black"},
		},
		{
			name:      "extended with only disabled entries",
			v:         apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/x", Disabled: true}}}, Paths: legacy},
			wantEmpty: true,
		},
		{
			name:      "nothing",
			v:         apidef.VersionInfo{},
			wantEmpty: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := endpoint.CompileVersion(&tc.v, false)
			if err != nil {
				t.Fatalf("CompileVersion: %v", err)
			}
			if got := l.Empty(); got != tc.wantEmpty {
				t.Errorf("Empty() = %v, want %v", got, tc.wantEmpty)
			}
			if got := rawsOf(l.Ignored); !equalStrings(got, tc.wantIgnored) {
				t.Errorf("Ignored = %q, want %q", got, tc.wantIgnored)
			}
			if got := rawsOf(l.White); !equalStrings(got, tc.wantWhite) {
				t.Errorf("White = %q, want %q", got, tc.wantWhite)
			}
			if got := rawsOf(l.Black); !equalStrings(got, tc.want) {
				t.Errorf("Black = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCompileVersionMethods(t *testing.T) {
	v := &apidef.VersionInfo{
		UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{
				{Path: "/actions", Method: "POST", MethodActions: map[string]apidef.EndpointMethodMeta{
					"GET": {Action: "no_action"},
					"put": {Action: "no_action"},
				}},
				{Path: "/method-only", Method: "delete"},
				{Path: "/any"},
			},
		},
	}
	l, err := endpoint.CompileVersion(v, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Black) != 3 {
		t.Fatalf("Black has %d patterns, want 3", len(l.Black))
	}
	tests := []struct {
		name   string
		p      endpoint.Pattern
		method string
		want   bool
	}{
		{name: "method_actions GET", p: l.Black[0], method: "GET", want: true},
		{name: "method_actions lower-case put", p: l.Black[0], method: "PUT", want: true},
		{name: "method field POST", p: l.Black[0], method: "POST", want: true},
		{name: "unlisted DELETE", p: l.Black[0], method: "DELETE", want: false},
		{name: "method only DELETE", p: l.Black[1], method: "DELETE", want: true},
		{name: "method only GET", p: l.Black[1], method: "GET", want: false},
		{name: "no method any GET", p: l.Black[2], method: "GET", want: true},
		{name: "no method any PATCH", p: l.Black[2], method: "PATCH", want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Match(tc.method, tc.p.Raw); got != tc.want {
				t.Errorf("%q.Match(%s) = %v, want %v", tc.p.Raw, tc.method, got, tc.want)
			}
		})
	}
}

func TestCompileVersionCase(t *testing.T) {
	tests := []struct {
		name string
		v    apidef.VersionInfo
		path string
		want bool
	}{
		{
			name: "version ignore_endpoint_case extended",
			v:    apidef.VersionInfo{UseExtendedPaths: true, IgnoreEndpointCase: true, ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/Admin"}}}},
			path: "/ADMIN", want: true,
		},
		{
			name: "version ignore_endpoint_case legacy",
			v:    apidef.VersionInfo{IgnoreEndpointCase: true, Paths: apidef.LegacyPaths{Ignored: []string{"/Admin"}}},
			path: "/admin", want: true,
		},
		{
			name: "entry ignore_case",
			v:    apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/Admin", IgnoreCase: true}}}},
			path: "/admin", want: true,
		},
		{
			name: "case-sensitive by default",
			v:    apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/Admin"}}}},
			path: "/admin", want: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := endpoint.CompileVersion(&tc.v, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Ignored) != 1 {
				t.Fatalf("Ignored has %d patterns, want 1", len(l.Ignored))
			}
			if got := l.Ignored[0].Match("GET", tc.path); got != tc.want {
				t.Errorf("Match(GET, %q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestCompileVersionInvalid(t *testing.T) {
	tests := []struct {
		name string
		v    apidef.VersionInfo
		want string
	}{
		{
			name: "extended ignored",
			v:    apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{{Path: "/("}}}},
			want: `extended_paths.ignored: endpoint path "/(" is not a valid pattern`,
		},
		{
			name: "extended white_list",
			v:    apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{WhiteList: []apidef.EndPointMeta{{Path: ""}}}},
			want: "extended_paths.white_list: empty endpoint path",
		},
		{
			name: "extended black_list",
			v:    apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{BlackList: []apidef.EndPointMeta{{Path: "/ok"}, {Path: "/[x"}}}},
			want: `extended_paths.black_list: endpoint path "/[x"`,
		},
		{
			name: "legacy black_list",
			v:    apidef.VersionInfo{Paths: apidef.LegacyPaths{BlackList: []string{"/("}}},
			want: `paths.black_list: endpoint path "/("`,
		},
		{
			name: "legacy white_list",
			v:    apidef.VersionInfo{Paths: apidef.LegacyPaths{WhiteList: []string{""}}},
			want: "paths.white_list: empty endpoint path",
		},
		{
			name: "legacy ignored",
			v:    apidef.VersionInfo{Paths: apidef.LegacyPaths{Ignored: []string{"/)"}}},
			want: `paths.ignored: endpoint path "/)"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := endpoint.CompileVersion(&tc.v, false)
			if err == nil {
				t.Fatalf("CompileVersion = %+v, nil; want error %q", l, tc.want)
			}
			if l != nil {
				t.Errorf("CompileVersion returned lists %+v with the error", l)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCompileVersionSkipsDisabledInvalid(t *testing.T) {
	// A disabled entry is not compiled, so an invalid pattern in it does not fail the version.
	v := &apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		BlackList: []apidef.EndPointMeta{{Path: "/(", Disabled: true}},
	}}
	l, err := endpoint.CompileVersion(v, false)
	if err != nil {
		t.Fatalf("CompileVersion: %v", err)
	}
	if !l.Empty() {
		t.Errorf("lists not empty: %+v", l)
	}
}

func mustLists(t *testing.T, ignored, white, black []string) *endpoint.Lists {
	t.Helper()
	l, err := endpoint.CompileVersion(&apidef.VersionInfo{Paths: apidef.LegacyPaths{Ignored: ignored, WhiteList: white, BlackList: black}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestListsCheck(t *testing.T) {
	tests := []struct {
		name        string
		lists       *endpoint.Lists
		method      string
		path        string
		wantIgnored bool
		wantRefused bool
		wantCause   string
	}{
		{name: "nil lists", lists: nil, method: "GET", path: "/x"},
		{name: "empty lists", lists: &endpoint.Lists{}, method: "GET", path: "/x"},
		{name: "black listed", lists: mustLists(t, nil, nil, []string{"/admin"}), method: "GET", path: "/admin/users", wantRefused: true, wantCause: `endpoint black-listed by "/admin"`},
		{name: "black list matches anywhere, as in Tyk", lists: mustLists(t, nil, nil, []string{"/admin"}), method: "GET", path: "/v2/administrator", wantRefused: true, wantCause: "black-listed"},
		{name: "black list other path", lists: mustLists(t, nil, nil, []string{"/admin"}), method: "GET", path: "/users/1"},
		// Tyk's entries are regular expressions: one written anchored (^) refuses what it names.
		{name: "black list written anchored", lists: mustLists(t, nil, nil, []string{"^/admin"}), method: "GET", path: "/admin/users", wantRefused: true, wantCause: "black-listed"},
		{name: "black list written anchored without its slash", lists: mustLists(t, nil, nil, []string{"^admin$"}), method: "GET", path: "/admin", wantRefused: true, wantCause: "black-listed"},
		{name: "black list written anchored, elsewhere", lists: mustLists(t, nil, nil, []string{"^/admin"}), method: "GET", path: "/v2/admin"},
		{name: "white list written anchored", lists: mustLists(t, nil, []string{"^/public$"}, nil), method: "GET", path: "/public"},
		{name: "white list written anchored, refused below", lists: mustLists(t, nil, []string{"^/public$"}, nil), method: "GET", path: "/public/x", wantRefused: true, wantCause: "endpoint not on the white list"},
		{name: "black beats ignored", lists: mustLists(t, []string{"/admin"}, nil, []string{"/admin"}), method: "GET", path: "/admin", wantRefused: true, wantCause: "black-listed"},
		{name: "black beats white", lists: mustLists(t, nil, []string{"/admin"}, []string{"/admin/secret"}), method: "GET", path: "/admin/secret", wantRefused: true, wantCause: "black-listed"},
		{name: "black with matrix parameter", lists: mustLists(t, nil, nil, []string{"/admin"}), method: "GET", path: "/admin;x=1", wantRefused: true, wantCause: "black-listed"},
		{name: "black with matrix parameter in a deeper segment", lists: mustLists(t, nil, nil, []string{"/api/admin"}), method: "GET", path: "/api;v=2/admin;x=1/users", wantRefused: true, wantCause: "black-listed"},
		{name: "ignored", lists: mustLists(t, []string{"/health"}, nil, nil), method: "GET", path: "/health", wantIgnored: true},
		// A grant must match every reading: "/health;a=b" as sent is not "/health".
		{name: "ignored with matrix parameter fails closed", lists: mustLists(t, []string{"/health"}, nil, nil), method: "GET", path: "/health;a=b"},
		{name: "ignored with matrix parameter below a trailing-slash entry", lists: mustLists(t, []string{"/health/"}, nil, nil), method: "GET", path: "/health/a;b=c", wantIgnored: true},
		{name: "white list with matrix parameter in a listed segment refused", lists: mustLists(t, nil, []string{"/public"}, nil), method: "GET", path: "/public;x=1", wantRefused: true, wantCause: "endpoint not on the white list"},
		{name: "white list with matrix parameter below the listed segment", lists: mustLists(t, nil, []string{"/public"}, nil), method: "GET", path: "/public/a;x=1"},
		{name: "white list where the stripped reading escapes", lists: mustLists(t, nil, []string{"/public/{x}/doc"}, nil), method: "GET", path: "/public/;x/doc", wantRefused: true, wantCause: "endpoint not on the white list"},
		{name: "black list with empty segment", lists: mustLists(t, nil, nil, []string{"/admin"}), method: "GET", path: "//admin", wantRefused: true, wantCause: "black-listed"},
		{name: "black list on the raw reading", lists: mustLists(t, nil, nil, []string{"/a;v=1"}), method: "GET", path: "/a;v=1", wantRefused: true, wantCause: `black-listed by "/a;v=1"`},
		{name: "not ignored", lists: mustLists(t, []string{"/health"}, nil, nil), method: "GET", path: "/healthz"},
		{name: "white listed", lists: mustLists(t, nil, []string{"/public"}, nil), method: "GET", path: "/public/x"},
		{name: "not on white list", lists: mustLists(t, nil, []string{"/public"}, nil), method: "GET", path: "/private", wantRefused: true, wantCause: "endpoint not on the white list"},
		{name: "ignored on a white-listed API is let through as in Tyk", lists: mustLists(t, []string{"/health"}, []string{"/public"}, nil), method: "GET", path: "/health", wantIgnored: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ignored, _, err := tc.lists.Check(tc.method, endpoint.Readings(tc.path), false)
			if ignored != tc.wantIgnored {
				t.Errorf("Check ignored = %v, want %v", ignored, tc.wantIgnored)
			}
			if !tc.wantRefused {
				if err != nil {
					t.Errorf("Check error = %v, want nil", err)
				}
				return
			}
			var ce *chain.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Check error = %v (%T), want *chain.Error", err, err)
			}
			if ce.Status != http.StatusForbidden || ce.Message != chain.MsgEndpointForbidden {
				t.Errorf("Check error = %d %q, want 403 %q", ce.Status, ce.Message, chain.MsgEndpointForbidden)
			}
			if ce.Cause == nil || !strings.Contains(ce.Cause.Error(), tc.wantCause) {
				t.Errorf("Check cause = %v, want it to contain %q", ce.Cause, tc.wantCause)
			}
		})
	}
}

func TestListsCheckMethods(t *testing.T) {
	l, err := endpoint.CompileVersion(&apidef.VersionInfo{
		UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{{Path: "/items", Method: "DELETE"}},
			WhiteList: []apidef.EndPointMeta{{Path: "/items", Method: "GET"}},
		},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		wantErr bool
	}{
		{name: "GET on white list", method: "GET"},
		{name: "DELETE black-listed", method: "DELETE", wantErr: true},
		{name: "POST not on white list", method: "POST", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := l.Check(tc.method, endpoint.Readings("/items"), false)
			if (err != nil) != tc.wantErr {
				t.Errorf("Check(%s, /items) error = %v, want error %v", tc.method, err, tc.wantErr)
			}
			if err != nil && chain.StatusOf(err) != http.StatusForbidden {
				t.Errorf("StatusOf = %d, want 403", chain.StatusOf(err))
			}
		})
	}
}

func TestListsCheckHead(t *testing.T) {
	l, err := endpoint.CompileVersion(&apidef.VersionInfo{
		UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			BlackList: []apidef.EndPointMeta{
				{Path: "/secret", Method: "GET"},
				{Path: "/upload", Method: "POST"},
			},
		},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	white, err := endpoint.CompileVersion(&apidef.VersionInfo{
		UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{
			WhiteList: []apidef.EndPointMeta{{Path: "/public", Method: "GET"}},
		},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		lists   *endpoint.Lists
		method  string
		path    string
		wantErr bool
	}{
		{name: "HEAD refused where GET is black-listed", lists: l, method: "HEAD", path: "/secret", wantErr: true},
		{name: "lower-case head refused too", lists: l, method: "head", path: "/secret", wantErr: true},
		{name: "lower-case get black-listed", lists: l, method: "get", path: "/secret", wantErr: true},
		{name: "HEAD not refused by a POST entry", lists: l, method: "HEAD", path: "/upload"},
		{name: "OPTIONS not refused by a GET entry", lists: l, method: "OPTIONS", path: "/secret"},
		{name: "GET on a GET white list", lists: white, method: "GET", path: "/public"},
		// Grants are not widened: only refusals extend GET to HEAD.
		{name: "HEAD not granted by a GET white list", lists: white, method: "HEAD", path: "/public", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.lists.Check(tc.method, endpoint.Readings(tc.path), false)
			if (err != nil) != tc.wantErr {
				t.Errorf("Check(%s, %s) error = %v, want error %v", tc.method, tc.path, err, tc.wantErr)
			}
		})
	}
}

func TestListsEmpty(t *testing.T) {
	p, err := endpoint.Compile("/x", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		l    *endpoint.Lists
		want bool
	}{
		{name: "nil", l: nil, want: true},
		{name: "zero", l: &endpoint.Lists{}, want: true},
		{name: "ignored", l: &endpoint.Lists{Ignored: []endpoint.Pattern{p}}, want: false},
		{name: "white", l: &endpoint.Lists{White: []endpoint.Pattern{p}}, want: false},
		{name: "black", l: &endpoint.Lists{Black: []endpoint.Pattern{p}}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Empty(); got != tc.want {
				t.Errorf("Empty() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStripMatrix(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "no matrix", in: "/a/b", want: "/a/b"},
		{name: "last segment", in: "/a;x=1", want: "/a"},
		{name: "middle segment", in: "/a;x=1/c", want: "/a/c"},
		{name: "several params in one segment", in: "/a;b=1;c=2/d", want: "/a/d"},
		{name: "several segments", in: "/a;b/c;d/e", want: "/a/c/e"},
		{name: "whole segment leaves no empty segment", in: "/;x=1/admin", want: "/admin"},
		{name: "matrix then double slash", in: "/a;b//c", want: "/a/c"},
		{name: "double slash alone", in: "//a", want: "/a"},
		{name: "inner double slash", in: "/a//b", want: "/a/b"},
		{name: "trailing slash kept", in: "/a;x/", want: "/a/"},
		{name: "trailing double slash kept as one", in: "/a//", want: "/a/"},
		{name: "no leading slash", in: ";x/a", want: "/a"},
		{name: "lone semicolon", in: "/a;", want: "/a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := endpoint.StripMatrix(tc.in); got != tc.want {
				t.Errorf("StripMatrix(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestReadings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "plain", in: "/a/b", want: []string{"/a/b"}},
		{name: "root", in: "/", want: []string{"/"}},
		{name: "matrix", in: "/a;x=1/b", want: []string{"/a;x=1/b", "/a/b"}},
		{name: "empty segment", in: "/a//b", want: []string{"/a//b", "/a/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := endpoint.Readings(tc.in); !equalStrings(got, tc.want) {
				t.Errorf("Readings(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMatchAnyAllMatch(t *testing.T) {
	admin, err := endpoint.Compile("/admin", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	public, err := endpoint.Compile("/public", []string{"GET"}, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		patterns     []endpoint.Pattern
		method       string
		readings     []string
		wantAny      bool // MatchAny of the first pattern
		wantAllMatch bool
	}{
		{name: "no patterns", patterns: nil, method: "GET", readings: []string{"/admin"}, wantAllMatch: false},
		{name: "single reading matched", patterns: []endpoint.Pattern{admin}, method: "GET", readings: []string{"/admin"}, wantAny: true, wantAllMatch: true},
		{name: "one of two readings matched", patterns: []endpoint.Pattern{admin}, method: "GET", readings: []string{"/admin;x", "/admin"}, wantAny: true, wantAllMatch: false},
		{name: "readings matched by different patterns", patterns: []endpoint.Pattern{admin, public}, method: "GET", readings: []string{"/admin", "/public"}, wantAny: true, wantAllMatch: true},
		{name: "method filter applies", patterns: []endpoint.Pattern{public}, method: "POST", readings: []string{"/public"}, wantAny: false, wantAllMatch: false},
		{name: "nothing matched", patterns: []endpoint.Pattern{admin}, method: "GET", readings: []string{"/x", "/y"}, wantAny: false, wantAllMatch: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.patterns) > 0 {
				if got := tc.patterns[0].MatchAny(tc.method, tc.readings); got != tc.wantAny {
					t.Errorf("MatchAny(%s, %q) = %v, want %v", tc.method, tc.readings, got, tc.wantAny)
				}
			}
			if got := endpoint.AllMatch(tc.patterns, tc.method, tc.readings); got != tc.wantAllMatch {
				t.Errorf("AllMatch(%s, %q) = %v, want %v", tc.method, tc.readings, got, tc.wantAllMatch)
			}
		})
	}
}

// TestExactGrants: with Tyk's enable_path_suffix_matching, a grant covers the paths it matches
// whole and none below them, in the lists and in allowed URLs; refusals still match anywhere.
func TestExactGrants(t *testing.T) {
	for _, c := range []struct {
		pattern   string
		match, no []string
	}{
		{"/users", []string{"/users"}, []string{"/users/1", "/users/", "/users-admin", "/v2/users"}},
		{"/users/{id}", []string{"/users/1"}, []string{"/users/1/secrets", "/users"}},
		{"/users/", []string{"/users/"}, []string{"/users/1"}},
		{"/files/*", []string{"/files/a", "/files/a/b"}, []string{"/file"}},
		{"^/login$", []string{"/login"}, []string{"/login/x"}},
	} {
		p, err := endpoint.CompileExact(c.pattern, nil, false)
		if err != nil {
			t.Fatalf("CompileExact(%q): %v", c.pattern, err)
		}
		for _, m := range c.match {
			if !p.Match("GET", m) {
				t.Errorf("CompileExact(%q) does not match %s", c.pattern, m)
			}
		}
		for _, m := range c.no {
			if p.Match("GET", m) {
				t.Errorf("CompileExact(%q) matches %s", c.pattern, m)
			}
		}
	}
	v := &apidef.VersionInfo{UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{
		Ignored:   []apidef.EndPointMeta{{Path: "/health", Method: "GET"}},
		WhiteList: []apidef.EndPointMeta{{Path: "/health", Method: "GET"}, {Path: "/admin", Method: "GET"}},
		BlackList: []apidef.EndPointMeta{{Path: "/admin", Method: "GET"}},
	}}
	for _, exact := range []bool{false, true} {
		l, err := endpoint.CompileVersion(v, exact)
		if err != nil {
			t.Fatal(err)
		}
		ignored, _, err := l.Check("GET", endpoint.Readings("/health/deep"), false)
		if ignored == exact || (err != nil) == !exact {
			t.Errorf("exact %v: /health/deep ignored %v, refused %v", exact, ignored, err)
		}
		if _, _, err := l.Check("GET", endpoint.Readings("/x/admin/y"), false); err == nil {
			t.Errorf("exact %v: a black-listed path below and after others is let through", exact)
		}
	}
	pc := &endpoint.PatternCache{Exact: true}
	p, err := pc.Get(apidef.AccessSpec{URL: "/users", Methods: []string{"GET"}})
	if err != nil || !p.Match("GET", "/users") || p.Match("GET", "/users/1") {
		t.Errorf("an exact cache's allowed URL /users: err %v, /users %v, /users/1 %v", err, p.Match("GET", "/users"), p.Match("GET", "/users/1"))
	}
}
