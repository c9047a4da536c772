package router

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzCanonicalize(f *testing.F) {
	for _, tc := range canonicalizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := Canonicalize(raw)
		if err != nil {
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("Canonicalize(%q) = %q: does not start with '/'", raw, out)
		}
		if strings.Contains(out, "//") {
			t.Fatalf("Canonicalize(%q) = %q: holds //", raw, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if name, _, _ := strings.Cut(seg, ";"); name == "." || name == ".." {
				t.Fatalf("Canonicalize(%q) = %q: holds a dot segment", raw, out)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Canonicalize(%q) = %q: not UTF-8", raw, out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c == 0x7f || c == '\\' || c == '#' || c == '?' {
				t.Fatalf("Canonicalize(%q) = %q: holds byte %#x", raw, out, c)
			}
		}
		if !strings.Contains(raw, "%") && !strings.Contains(raw, "//") && out != raw {
			t.Fatalf("Canonicalize(%q) = %q: a plain path must come back unchanged", raw, out)
		}
		if back, err := Canonicalize(Escape(out)); err != nil || back != out {
			t.Fatalf("Canonicalize(Escape(%q)) = %q, %v; want it unchanged", out, back, err)
		}
	})
}

func FuzzRouterMatch(f *testing.F) {
	for _, tc := range canonicalizeCases {
		f.Add("/api", "a.com", "A.com:80", tc.in)
	}
	for _, r := range testRoutes {
		f.Add(r.ListenPath, r.Domain, "a.com", r.ListenPath+"/x")
	}
	f.Add("/api/v2", "", "[::1]:8080", "/api/v2/x")
	f.Add("/", "b.com.", "B.COM", "/")
	f.Fuzz(func(t *testing.T, listenPath, domain, host, path string) {
		routes := []Route[int]{
			{ListenPath: "/", Value: 0},
			{ListenPath: "/api", Value: 1},
			{Domain: "a.com", ListenPath: "/api", Value: 2},
			{ListenPath: "/api/v2", Value: 3},
			{Domain: domain, ListenPath: listenPath, Value: 4},
			{ListenPath: listenPath, Value: 5},
		}
		rt, conflicts := New(routes)
		refused := make(map[int]bool)
		for _, c := range conflicts {
			refused[c.Index] = true
		}
		v, lp, ok := rt.Match(host, path)
		if ok {
			if !boundaryPrefix(lp, path) {
				t.Fatalf("Match(%q, %q) = listen path %q, not a segment-boundary prefix", host, path, lp)
			}
			if got := NormalizeListenPath(routes[v].ListenPath); got != lp || refused[v] {
				t.Fatalf("Match(%q, %q) = route %d (listen path %q, refused %v), reported listen path %q", host, path, v, got, refused[v], lp)
			}
		}
		// Against a brute-force matcher, for the inputs the gateway actually passes: a canonical
		// path and canonical listen paths.
		if c, err := Canonicalize(Escape(path)); err != nil || c != path || !canonicalListenPath(listenPath) {
			return
		}
		wv, wlp, wok := bruteMatch(routes, refused, host, path)
		if ok != wok || (ok && (v != wv || lp != wlp)) {
			t.Fatalf("Match(%q, %q) = %d, %q, %v; brute force says %d, %q, %v", host, path, v, lp, ok, wv, wlp, wok)
		}
	})
}

func boundaryPrefix(lp, path string) bool {
	return lp == "/" || strings.HasPrefix(path, lp) && (len(path) == len(lp) || path[len(lp)] == '/')
}

func canonicalListenPath(lp string) bool {
	c, err := Canonicalize(Escape(lp))
	return err == nil && c == lp
}

// bruteMatch is the specification of Match written as a loop over every route.
func bruteMatch(routes []Route[int], refused map[int]bool, host, path string) (int, string, bool) {
	best, bestLP, bestScore := -1, "", 0
	hk := splitHost(host)
	for i, r := range routes {
		lp := NormalizeListenPath(r.ListenPath)
		if refused[i] || !boundaryPrefix(lp, path) {
			continue
		}
		score := 1
		if r.Domain != "" {
			dk := splitHost(r.Domain)
			switch {
			case hk.host == "" || dk.host != hk.host:
				continue
			case dk.port == "":
				score = 2
			case dk.port == hk.port:
				score = 3
			default:
				continue
			}
		}
		if len(lp) > len(bestLP) || len(lp) == len(bestLP) && score > bestScore {
			best, bestLP, bestScore = i, lp, score
		}
	}
	return best, bestLP, best >= 0
}
