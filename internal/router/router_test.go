package router

import (
	"reflect"
	"sync"
	"testing"
)

// testRoutes is one router exercising boundaries, precedence and host forms. Values are names.
var testRoutes = []Route[string]{
	0:  {ListenPath: "/", Value: "root"},
	1:  {ListenPath: "/api", Value: "api"},
	2:  {ListenPath: "/api-admin/", Value: "api-admin"},
	3:  {Domain: "a.com", ListenPath: "/api", Value: "a-api"},
	4:  {ListenPath: "/api/v2", Value: "api-v2"},
	5:  {Domain: "B.Example.", ListenPath: "/b", Value: "b-domain"},
	6:  {Domain: "c.com:8080", ListenPath: "/c", Value: "c-port"},
	7:  {Domain: "c.com", ListenPath: "/c", Value: "c-any-port"},
	8:  {Domain: "[::1]:9000", ListenPath: "/v6", Value: "v6-port"},
	9:  {Domain: "::1", ListenPath: "/v6", Value: "v6"},
	10: {ListenPath: "/api/", Value: "dup-api"},
	11: {Domain: "A.COM.", ListenPath: "/api/", Value: "dup-a-api"},
	12: {ListenPath: "/users/1/profile", Value: "profile"},
	13: {Domain: "d.com", ListenPath: "/d", Value: "d-only"},
	14: {Domain: ".", ListenPath: "/dot", Value: "dot-domain"},
	15: {Domain: "[::1]:9000", ListenPath: "/v6/", Value: "dup-v6-port"},
}

func TestMatch(t *testing.T) {
	rt, _ := New(testRoutes)
	tests := []struct {
		name, host, path string
		want, wantLP     string // want "" means no match
	}{
		// S5: listen paths match on segment boundaries only.
		{name: "exact", host: "x.com", path: "/api", want: "api", wantLP: "/api"},
		{name: "trailing slash", host: "x.com", path: "/api/", want: "api", wantLP: "/api"},
		{name: "below", host: "x.com", path: "/api/x", want: "api", wantLP: "/api"},
		{name: "sibling with dash", host: "x.com", path: "/api-admin", want: "api-admin", wantLP: "/api-admin"},
		{name: "below sibling", host: "x.com", path: "/api-admin/x", want: "api-admin", wantLP: "/api-admin"},
		{name: "no boundary falls to root", host: "x.com", path: "/apix", want: "root", wantLP: "/"},
		{name: "case sensitive", host: "x.com", path: "/API/x", want: "root", wantLP: "/"},
		{name: "root", host: "x.com", path: "/", want: "root", wantLP: "/"},
		{name: "deep listen path", host: "x.com", path: "/users/1/profile/photo", want: "profile", wantLP: "/users/1/profile"},
		{name: "deep listen path parent", host: "x.com", path: "/users/1", want: "root", wantLP: "/"},

		// Longest listen path first, then domain.
		{name: "longest beats domain", host: "a.com", path: "/api/v2/x", want: "api-v2", wantLP: "/api/v2"},
		{name: "longest exact", host: "a.com", path: "/api/v2", want: "api-v2", wantLP: "/api/v2"},
		{name: "longest no boundary", host: "a.com", path: "/api/v22", want: "a-api", wantLP: "/api"},
		{name: "domain beats no domain", host: "a.com", path: "/api/x", want: "a-api", wantLP: "/api"},
		{name: "other host gets no-domain route", host: "b.com", path: "/api/x", want: "api", wantLP: "/api"},
		{name: "empty host gets no-domain route", host: "", path: "/api/x", want: "api", wantLP: "/api"},

		// S14: host normalisation.
		{name: "host upper case", host: "A.COM", path: "/api/x", want: "a-api", wantLP: "/api"},
		{name: "host trailing dot", host: "a.com.", path: "/api/x", want: "a-api", wantLP: "/api"},
		{name: "host with port", host: "a.com:8443", path: "/api/x", want: "a-api", wantLP: "/api"},
		{name: "host mixed", host: "A.Com.:8443", path: "/api/x", want: "a-api", wantLP: "/api"},
		{name: "domain normalised", host: "b.example", path: "/b/x", want: "b-domain", wantLP: "/b"},
		{name: "domain normalised with port", host: "B.EXAMPLE:80", path: "/b", want: "b-domain", wantLP: "/b"},
		{name: "domain never matches other host", host: "x.com", path: "/b/x", want: "root", wantLP: "/"},
		{name: "domain suffix is another host", host: "xb.example", path: "/b", want: "root", wantLP: "/"},
		{name: "domain-only listen path other host", host: "e.com", path: "/d", want: "root", wantLP: "/"},
		{name: "dot domain matches nothing", host: ".", path: "/dot", want: "root", wantLP: "/"},
		{name: "port domain on its port", host: "c.com:8080", path: "/c", want: "c-port", wantLP: "/c"},
		{name: "port domain upper case", host: "C.COM.:8080", path: "/c/x", want: "c-port", wantLP: "/c"},
		{name: "portless domain without port", host: "c.com", path: "/c", want: "c-any-port", wantLP: "/c"},
		{name: "portless domain other port", host: "c.com:9090", path: "/c", want: "c-any-port", wantLP: "/c"},

		// IPv6 literals.
		{name: "IPv6 with port", host: "[::1]:9000", path: "/v6", want: "v6-port", wantLP: "/v6"},
		{name: "IPv6 without port", host: "[::1]", path: "/v6/x", want: "v6", wantLP: "/v6"},
		{name: "IPv6 other port", host: "[::1]:1234", path: "/v6", want: "v6", wantLP: "/v6"},
		{name: "IPv6 other address", host: "[::2]:9000", path: "/v6", want: "root", wantLP: "/"},
		{name: "IPv6 malformed", host: "[::1]x", path: "/v6", want: "root", wantLP: "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, lp, ok := rt.Match(tc.host, tc.path)
			if ok != (tc.want != "") || got != tc.want || lp != tc.wantLP {
				t.Fatalf("Match(%q, %q) = %q, %q, %v; want %q, %q", tc.host, tc.path, got, lp, ok, tc.want, tc.wantLP)
			}
		})
	}
}

func TestMatchWithoutRoot(t *testing.T) {
	rt, conflicts := New([]Route[int]{
		{ListenPath: "/api/", Value: 1},
		{Domain: "a.com", ListenPath: "/admin", Value: 2},
		{ListenPath: "", Value: 3},
		{ListenPath: "api", Value: 4},
	})
	if len(conflicts) != 0 {
		t.Fatalf("conflicts = %v, want none", conflicts)
	}
	tests := []struct {
		name, host, path string
		want             int
		wantLP           string
		wantOK           bool
	}{
		{name: "match", host: "a.com", path: "/api/x", want: 1, wantLP: "/api", wantOK: true},
		{name: "root path", host: "a.com", path: "/", wantOK: false},
		{name: "unrouted", host: "a.com", path: "/other", wantOK: false},
		{name: "domain only", host: "b.com", path: "/admin", wantOK: false},
		{name: "empty path", host: "a.com", path: "", wantOK: false},
		{name: "relative path", host: "a.com", path: "api", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, lp, ok := rt.Match(tc.host, tc.path)
			if got != tc.want || lp != tc.wantLP || ok != tc.wantOK {
				t.Fatalf("Match(%q, %q) = %d, %q, %v; want %d, %q, %v", tc.host, tc.path, got, lp, ok, tc.want, tc.wantLP, tc.wantOK)
			}
		})
	}
}

func TestNewConflicts(t *testing.T) {
	rt, conflicts := New(testRoutes)
	want := []Conflict{
		{Domain: "", ListenPath: "/api", Index: 10, Existing: 1},
		{Domain: "a.com", ListenPath: "/api", Index: 11, Existing: 3},
		{Domain: "[::1]:9000", ListenPath: "/v6", Index: 15, Existing: 8},
	}
	if !reflect.DeepEqual(conflicts, want) {
		t.Fatalf("conflicts = %+v, want %+v", conflicts, want)
	}
	if got, want := rt.Len(), len(testRoutes)-len(want); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	// The earlier route keeps the place.
	if got, _, _ := rt.Match("x.com", "/api"); got != "api" {
		t.Fatalf("Match after conflict = %q, want %q", got, "api")
	}
}

func TestNewEmpty(t *testing.T) {
	rt, conflicts := New[int](nil)
	if rt.Len() != 0 || conflicts != nil {
		t.Fatalf("New(nil) = Len %d, conflicts %v", rt.Len(), conflicts)
	}
	if _, _, ok := rt.Match("a.com", "/x"); ok {
		t.Fatal("empty router matched")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	rt, _ := New(testRoutes)
	allocs := testing.AllocsPerRun(100, func() {
		if v, _, _ := rt.Match("a.com:8443", "/api/v22/users/42"); v != "a-api" {
			t.Fatalf("Match = %q", v)
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocated %v times, want 0", allocs)
	}
}

func TestMatchConcurrent(t *testing.T) {
	rt, _ := New(testRoutes)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if v, _, _ := rt.Match("A.COM", "/api/x"); v != "a-api" {
					t.Errorf("Match = %q, want a-api", v)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSameRoute checks SameRoute against New itself: two routes are the same exactly when New
// refuses the second as a conflict.
func TestSameRoute(t *testing.T) {
	tests := []struct {
		domainA, lpA, domainB, lpB string
		want                       bool
	}{
		{"", "/api", "", "/api", true},
		{"", "/api/", "", "/api", true},
		{"", "/", "", "/", true},
		{"", "/api", "", "/api2", false},
		{"", "/api//", "", "/api", false}, // one trailing slash is dropped, not every one
		{"Example.COM", "/api", "example.com.", "/api/", true},
		{"example.com", "/api", "", "/api", false},
		{".", "/api", "", "/api", false}, // a Domain that normalises to nothing is still a Domain
		{"example.com:8443", "/api", "example.com", "/api", false},
		{"example.com:8443", "/api", "EXAMPLE.com:8443", "/api", true},
		{"[::1]", "/api", "::1", "/api", true},
		{"[::1]:8443", "/api", "::1", "/api", false},
	}
	for _, tc := range tests {
		got := SameRoute(tc.domainA, tc.lpA, tc.domainB, tc.lpB)
		if got != tc.want {
			t.Errorf("SameRoute(%q, %q, %q, %q) = %v, want %v", tc.domainA, tc.lpA, tc.domainB, tc.lpB, got, tc.want)
		}
		_, conflicts := New([]Route[int]{{Domain: tc.domainA, ListenPath: tc.lpA}, {Domain: tc.domainB, ListenPath: tc.lpB}})
		if (len(conflicts) == 1) != got {
			t.Errorf("SameRoute(%q, %q, %q, %q) = %v, but New reports %d conflicts", tc.domainA, tc.lpA, tc.domainB, tc.lpB, got, len(conflicts))
		}
	}
}

func TestDomainHost(t *testing.T) {
	for in, want := range map[string]string{
		"API.Example.com": "api.example.com", "api.example.com.:8443": "api.example.com",
		"[::1]:8443": "::1", "::1": "::1", "secure.localhost": "secure.localhost", "": "",
	} {
		if got := DomainHost(in); got != want {
			t.Errorf("DomainHost(%q) = %q, want %q", in, got, want)
		}
	}
}
