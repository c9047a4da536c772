package router

import "strings"

// Route binds a listen path, optionally limited to one domain, to a value (typically the API that
// serves it).
type Route[T any] struct {
	// Domain, when not empty, limits the route to requests for that host. It is compared without
	// regard to case or a trailing dot. A Domain without a port matches the host on any port; a
	// Domain with a port ("api.example.com:8443") matches that port only. An IPv6 literal may be
	// written with or without brackets ("[::1]" or "::1"); with a port it needs them ("[::1]:8443").
	Domain string
	// ListenPath is a canonical decoded path such as "/api" (see apidef.ValidateListenPath). A
	// trailing slash is dropped: "/api/" and "/api" are the same listen path. A listen path that is
	// not canonical (empty, relative, holding "//") never matches.
	ListenPath string
	// Value is what Match returns for the route.
	Value T
}

// Conflict reports a route that New did not add because an earlier route has the same normalised
// domain and listen path. Domain and ListenPath are the normalised forms (lower-case domain
// without a trailing dot, listen path without a trailing slash); Index is the refused route's
// index in the slice given to New and Existing is the index of the route that kept the place.
type Conflict struct {
	Domain, ListenPath string
	Index, Existing    int
}

// Router finds the route for a request. It is built once by New and never modified, so any number
// of goroutines may call Match at the same time.
type Router[T any] struct {
	// paths holds the nodes by value: one allocation less per listen path, which a gateway
	// with many APIs pays for on every collection.
	paths map[string]node[T]
	n     int
}

// node holds the routes that share one normalised listen path.
type node[T any] struct {
	// domains is nil when no route at this listen path has a Domain, which spares Match from
	// parsing the host at all.
	domains map[hostKey]T
	anyHost T
	hasAny  bool
}

// hostKey is a normalised host: host is lower-case without a trailing dot (an IPv6 literal keeps
// its brackets) and port is empty when there is none. A struct key lets Match look up a host with
// and without its port without building a new string.
type hostKey struct{ host, port string }

// New builds a router from routes given in priority order. A route whose normalised domain and
// listen path equal those of an earlier route is not added and is reported as a Conflict.
func New[T any](routes []Route[T]) (*Router[T], []Conflict) {
	rt := &Router[T]{paths: make(map[string]node[T], len(routes))}
	seen := make(map[place]int, len(routes))
	var conflicts []Conflict
	for i, r := range routes {
		k := placeOf(r.Domain, r.ListenPath)
		lp, hk, hasDomain := k.path, k.host, k.hasDomain
		if j, dup := seen[k]; dup {
			conflicts = append(conflicts, Conflict{Domain: hk.String(), ListenPath: lp, Index: i, Existing: j})
			continue
		}
		seen[k] = i
		nd := rt.paths[lp]
		if !hasDomain {
			nd.anyHost, nd.hasAny = r.Value, true
		} else {
			if nd.domains == nil {
				nd.domains = make(map[hostKey]T)
			}
			nd.domains[hk] = r.Value
		}
		rt.paths[lp] = nd
		rt.n++
	}
	return rt, conflicts
}

// place is where a route sits: two routes with the same place conflict.
type place struct {
	path      string
	host      hostKey
	hasDomain bool
}

func placeOf(domain, listenPath string) place {
	// A Domain such as "." normalises to nothing yet must not widen to every host, so whether a
	// Domain was given is decided on the raw field.
	return place{NormalizeListenPath(listenPath), splitHost(domain), domain != ""}
}

// SameRoute reports whether two routes, given by domain and listen path, claim the same place:
// New would refuse the later one as a Conflict.
func SameRoute(domainA, listenPathA, domainB, listenPathB string) bool {
	return placeOf(domainA, listenPathA) == placeOf(domainB, listenPathB)
}

// Len returns the number of routes the router holds (conflicting routes are not counted).
func (rt *Router[T]) Len() int { return rt.n }

// Match returns the route for a request to host (the Host header, port included if sent) with the
// canonical path canonicalPath (from Canonicalize). It picks the longest listen path that equals
// the path or is followed in it by '/': "/api" matches "/api", "/api/" and "/api/x" but not
// "/api-admin", and "/" matches every path. The longest listen path is decided first; among the
// routes at that listen path, a Domain equal to the host with its port wins, then a Domain equal
// to the host without its port, then a route without Domain. A route with a Domain never matches
// another host.
//
// listenPath is the normalised listen path that matched, so the rest of the path is
// canonicalPath[len(listenPath):] (for the root listen path "/" that is the path without its
// leading slash). Match costs a few map lookups per path segment, whatever the number of routes,
// and allocates nothing unless host has upper-case letters or is malformed.
func (rt *Router[T]) Match(host, canonicalPath string) (value T, listenPath string, ok bool) {
	p := canonicalPath
	if p == "" || p[0] != '/' {
		return value, "", false
	}
	// Listen paths are stored without a trailing slash, so "/api/" is looked up as "/api".
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	var hk hostKey
	parsed := false
	for {
		if nd, ok := rt.paths[p]; ok {
			if nd.domains != nil {
				if !parsed {
					hk, parsed = splitHost(host), true
				}
				if v, found := nd.lookup(hk); found {
					return v, p, true
				}
			}
			if nd.hasAny {
				return nd.anyHost, p, true
			}
		}
		if p == "/" {
			return value, "", false
		}
		// Cutting at the last '/' yields exactly the segment-boundary prefixes, longest first.
		if i := strings.LastIndexByte(p, '/'); i > 0 {
			p = p[:i]
		} else {
			p = "/"
		}
	}
}

// lookup returns the value of the route whose Domain matches the host, preferring a Domain with
// the host's port to one without. A request without a host name matches no Domain.
func (nd *node[T]) lookup(hk hostKey) (T, bool) {
	if hk.host == "" {
		var zero T
		return zero, false
	}
	if hk.port != "" {
		if v, found := nd.domains[hk]; found {
			return v, true
		}
	}
	v, found := nd.domains[hostKey{host: hk.host}]
	return v, found
}

// NormalizeListenPath drops one trailing slash, except from the root "/": the listen path as
// Match returns it.
func NormalizeListenPath(lp string) string {
	if len(lp) > 1 && lp[len(lp)-1] == '/' {
		return lp[:len(lp)-1]
	}
	return lp
}

// DomainHost returns the host of a route's Domain (or of a TLS server name) as routes compare
// it: lower case, without a port or a trailing dot; an IPv6 literal without its brackets.
func DomainHost(domain string) string {
	return strings.TrimSuffix(strings.TrimPrefix(splitHost(domain).host, "["), "]")
}

// splitHost normalises a Host header or a route's Domain: lower case, port split off, trailing dot
// of the name removed. A bracketless IPv6 literal (only a Domain is written so) gains brackets.
func splitHost(h string) hostKey {
	// ToLower returns h itself when there is nothing to lower.
	h = strings.ToLower(h)
	var k hostKey
	switch first, last := strings.IndexByte(h, ':'), strings.LastIndexByte(h, ':'); {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return hostKey{host: h}
		}
		rest := h[end+1:]
		if rest != "" && rest[0] != ':' {
			// Malformed; kept whole so that it can only match a Domain spelled the same way.
			return hostKey{host: h}
		}
		k.host = h[:end+1]
		if rest != "" {
			k.port = rest[1:]
		}
	case first < 0:
		k.host = h
	case first == last:
		k.host, k.port = h[:first], h[first+1:]
	default:
		k.host = "[" + h + "]"
	}
	k.host = strings.TrimSuffix(k.host, ".")
	return k
}

// String returns the key as host or host:port.
func (k hostKey) String() string {
	if k.port == "" {
		return k.host
	}
	return k.host + ":" + k.port
}
