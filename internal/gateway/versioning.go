package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/hdrname"
	"github.com/gatehouse/gatehouse/internal/router"
)

// Versioning through separate APIs (Tyk's base and child APIs): a base API (definition.enabled)
// reads the version a request names (header, query parameter or first path segment) before
// anything else runs, and has the request served by that version's API, in process and through
// that API's whole chain (auth, limits, plugins, its upstream), as if it had been routed there
// with the path that follows the base's listen path. The base's own chain never runs for it, so
// only the version API counts it in metrics and analytics, as in Tyk. A request naming the
// base's own version (definition.name, or "self") is served by the base; a version API need
// not be reachable on its own (internal: true), and its own definition block is not read.
//
// As in Tyk 5.14: no version named → definition.default; an unknown version, or one whose API is
// not loaded → 404 This API version does not seem to exist, or with fallback_to_default the
// default version; nothing to serve → 403 Version information not found.

// versionRouter is a base API's choice of version APIs.
type versionRouter struct {
	location, key, name string
	// def is definition.default: the version of a request naming none, and with fallback
	// that of one naming a version no API serves.
	def             string
	versions        map[string]string
	fallback, strip bool
	pattern         *regexp.Regexp
}

// newVersionRouter compiles def's definition block; nil when the API is no base API.
func newVersionRouter(def *apidef.APIDefinition) (*versionRouter, error) {
	vd := def.VersionDefinition.APIs()
	if !vd.Enabled {
		return nil, nil
	}
	loc := def.VersionDefinition
	v := &versionRouter{location: loc.Location, key: loc.Key, name: vd.Name, def: vd.Default, versions: vd.Versions,
		fallback: vd.FallbackToDefault, strip: vd.StripVersioningData || loc.Location == "url" && loc.StripPath}
	if v.key == "" {
		v.key = versionKey(loc.Location)
	}
	if p := vd.URLVersioningPattern; p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("definition.url_versioning_pattern: %w", err)
		}
		v.pattern = re
	}
	return v, nil
}

// versionKey is the header or query parameter a version is read from when definition.key names
// none.
func versionKey(location string) string {
	if location == "url-param" {
		return "version"
	}
	return "x-api-version"
}

// isBase reports whether version names the base API itself.
func (v *versionRouter) isBase(version string) bool {
	return version == apidef.SelfVersion || version == v.name
}

// versionChoice is what a base API does with a request: serve it itself (child nil, refusal
// nil), have child serve it, or refuse it.
type versionChoice struct {
	child *apiRuntime
	// rel is the path after the base's listen path, its version segment taken out when the
	// version came from the URL and is stripped.
	rel string
	// segment is the first path segment that named the base's own version, taken out of the
	// path the base forwards when stripped.
	segment string
	refusal error
	// version is the version that serves, for logs.
	version string
}

// choose decides, for a request the base took with rel the path after its listen path.
func (v *versionRouter) choose(r *http.Request, rel string, snap *snapshot, base *apiRuntime) versionChoice {
	name, seg, rest := "", "", ""
	switch v.location {
	case "header":
		name = r.Header.Get(v.key)
	case "url-param":
		name = r.URL.Query().Get(v.key)
	case "url":
		seg, rest, _ = strings.Cut(strings.TrimPrefix(rel, "/"), "/")
		name = seg
	}
	if name == "" {
		name = v.def
	}
	ch := versionChoice{rel: rel, version: name}
	switch {
	case v.isBase(name):
	case name == "":
		ch.refusal = chain.Errorf(http.StatusForbidden, msgVersionInfoNotFound, errors.New("the request names no version and the base API has no default"))
		return ch
	default:
		if ch.child = v.api(name, snap, base); ch.child == nil {
			if !v.fallback {
				ch.refusal = chain.Errorf(http.StatusNotFound, chain.MsgVersionNotFound, fmt.Errorf("no API serves version %q", name))
				return ch
			}
			// The first segment named no version that serves: it stays part of the path.
			seg = ""
			ch.version = v.def
			if !v.isBase(v.def) {
				if ch.child = v.api(v.def, snap, base); ch.child == nil {
					ch.refusal = chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError,
						fmt.Errorf("the default version %q has no API loaded", v.def))
					return ch
				}
			}
		}
	}
	if v.strip {
		switch v.location {
		case "header", "url-param":
			stripVersionData(r, v.location, v.key)
		case "url":
			if seg != "" && (v.pattern == nil || v.pattern.MatchString(seg)) {
				if ch.child != nil {
					ch.rel = "/" + rest
				} else {
					ch.segment = seg
				}
			}
		}
	}
	return ch
}

// api returns the API serving version name: its id, else its looping name, in the snapshot.
func (v *versionRouter) api(name string, snap *snapshot, base *apiRuntime) *apiRuntime {
	id, ok := v.versions[name]
	if !ok {
		return nil
	}
	// loopTarget resolves "self" and the base's own id or name to the base: not a version.
	if rt := snap.loopTarget(id, apidef.LoopKey(id), base); rt != base {
		return rt
	}
	return nil
}

// stripVersionData removes the version a request names in a header (its spellings with '_' for
// '-' too, which some upstreams read as the same) or a query parameter (strip_versioning_data).
func stripVersionData(r *http.Request, location, key string) {
	switch location {
	case "header":
		for k := range r.Header {
			if hdrname.Same(k, key) {
				delete(r.Header, k)
			}
		}
	case "url-param":
		r.URL.RawQuery = withoutParam(r.URL.RawQuery, key)
	}
}

// withoutParam returns the raw query q without its key parameters, the others left byte for
// byte as the client wrote them (Tyk re-encodes the whole query).
func withoutParam(q, key string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == key {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}

// msgVersionInfoNotFound is Tyk's answer to a request a base API has no version for.
const msgVersionInfoNotFound = "Version information not found"

// serveVersion serves a request a base API took: by the version API the request names, or by
// the base (serveAPI) with the choice made.
func (g *Gateway) serveVersion(w http.ResponseWriter, r *http.Request, base *apiRuntime, listenPath, canon string, start time.Time, loop *chain.Loop, from *chain.Context) {
	ch := base.rare.vrouter.choose(r, relative(canon, listenPath), g.snap.Load(), base)
	if ch.child == nil {
		g.serveChain(w, r, base, listenPath, canon, start, loop, from, &ch)
		return
	}
	lp := router.NormalizeListenPath(ch.child.listenPath)
	full := ch.rel
	if lp != "/" {
		full = lp + ch.rel
	}
	// canon is decoded already: escaped again, it canonicalises to itself, never decoded twice.
	childCanon, err := router.Canonicalize(router.Escape(full))
	if err != nil || lp != "/" && !hasSegmentPrefix(childCanon, lp) {
		g.serveChain(w, r, base, listenPath, canon, start, loop, from, &versionChoice{
			refusal: chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("the path for version %q does not stay under its API's listen path", ch.version))})
		return
	}
	g.serveChain(w, r, ch.child, lp, childCanon, start, loop, from, nil)
}
