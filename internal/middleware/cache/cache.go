// Package cache is an API's response cache (`cache_options`, a version's `extended_paths.cache`).
// Responses to safe requests (GET, HEAD, OPTIONS) are kept for `cache_timeout` seconds (60 when
// 0) and served again, with `X-Tyk-Cached-Response: 1`, without calling the upstream: every
// safe request with `cache_all_safe_requests`, else those to the paths of the version's `cache`
// list. As in Tyk, a response is cached per API, per client (the key, or for a keyless API the
// client's address; on a keyed API a request without a key of its own is not cached), per method and URL (path and query), and per value of each
// `cache_by_headers` header; only with a status in `cache_response_codes` (any, when empty);
// with `enable_upstream_cache_control`, only when the upstream's response says so
// (`X-Tyk-Cache-Action-Set`), for as long as its TTL header says.
//
// Unlike Tyk, which keeps the cache in Redis, each gateway keeps its own, in memory, bounded
// (Store). What is never cached: the gateway's own answers (an upstream that could not be
// reached, a refused response transform), a response cut short, a body over MaxEntryBytes, and
// a response that sets a cookie (it belongs to one client's session). The key's rate limit and
// quota headers and the trace id are those of the request served, not of the cached one.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// Headers the cache reads and writes.
const (
	// CachedHeader marks a response served from the cache.
	CachedHeader = "X-Tyk-Cached-Response"
	// ActionHeader, from the upstream with enable_upstream_cache_control, asks for the
	// response to be cached.
	ActionHeader = "X-Tyk-Cache-Action-Set"
	// DefaultTTLHeader carries the upstream's TTL (seconds) when cache_control_ttl_header is
	// not set.
	DefaultTTLHeader = "X-Tyk-Cache-Action-Set-Ttl"
)

// DefaultTimeout is how long a response is cached when cache_timeout is 0, as in Tyk.
const DefaultTimeout = 60 * time.Second

// Cache is the compiled response cache of one API.
type Cache struct {
	api             string
	keyed           bool
	ttl             time.Duration
	allSafe         bool
	paths           *endpoint.Table[bool]
	codes           []int
	byHeaders       []string
	upstreamControl bool
	ttlHeader       string
	store           *Store
}

// Compile returns the cache of def over store, or nil when def caches nothing.
func Compile(def *apidef.APIDefinition, store *Store) (*Cache, error) {
	o := def.CacheOptions
	if !o.EnableCache {
		return nil, nil
	}
	c := &Cache{
		api: def.APIID, keyed: !def.UseKeylessAccess, ttl: time.Duration(o.CacheTimeout) * time.Second, allSafe: o.CacheAllSafeRequests,
		codes: o.CacheOnlyResponseCodes, upstreamControl: o.EnableUpstreamCacheControl,
		ttlHeader: o.CacheControlTTLHeader, store: store,
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTimeout
	}
	if c.ttlHeader == "" {
		c.ttlHeader = DefaultTTLHeader
	}
	for _, h := range o.CacheByHeaders {
		c.byHeaders = append(c.byHeaders, http.CanonicalHeaderKey(h))
	}
	if !c.allSafe {
		t := &endpoint.Table[bool]{}
		for name, v := range def.VersionData.Versions {
			if !v.UseExtendedPaths {
				continue
			}
			for i, p := range v.ExtendedPaths.Cached {
				for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
					where := "version " + strconv.Quote(name) + ": extended_paths.cache[" + strconv.Itoa(i) + "]"
					if err := t.Add(name, where, p, m, v.IgnoreEndpointCase, true); err != nil {
						return nil, err
					}
				}
			}
		}
		if t.Empty() {
			return nil, nil // nothing to cache: no path, and not every safe request
		}
		c.paths = t
	}
	return c, nil
}

// Step returns the chain step: it answers from the cache, or marks the request's response to
// be captured (chain.Context.Cache) on its way to the client.
func (ca *Cache) Step() chain.Step {
	return chain.Step{Name: "cache", Run: ca.run}
}

func (ca *Cache) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return nil
	}
	if !ca.allSafe {
		if _, ok := ca.paths.Lookup(c.Version, r.Method, c.Readings); !ok {
			return nil
		}
	}
	if ca.keyed && (c.KeyHash == "" || c.State == nil || c.State.Token == "") {
		// A keyed API's entries are per key: a request without one (an ignored endpoint, a
		// plugin's session without a token) has no entry of its own, and is not cached.
		return nil
	}
	key := ca.key(r, c)
	if res := ca.store.Get(ca.api, key); res != nil {
		c.CachedResponse = true
		serve(w, r, res)
		return chain.ErrHandled
	}
	c.Cache = &capture{ca: ca, key: key}
	return nil
}

// key identifies what the request asks of the API: the client, the method, the URL and the
// cache_by_headers values, hashed.
func (ca *Cache) key(r *http.Request, c *chain.Context) string {
	h := sha256.New()
	who := c.KeyHash
	if who == "" {
		if c.ClientIP.IsValid() {
			who = "ip:" + c.ClientIP.String()
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			who = "ip:" + host
		} else {
			who = "ip:" + r.RemoteAddr
		}
	}
	for _, part := range []string{who, r.Method, r.URL.EscapedPath(), r.URL.RawQuery} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, name := range ca.byHeaders {
		h.Write([]byte(name))
		h.Write([]byte{'='})
		h.Write([]byte(strings.Join(r.Header.Values(name), ",")))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// perRequest reports whether a response header belongs to the request served rather than to
// the response: it is neither kept nor served from the cache. Names compare without case: the
// gateway sets some in Tyk's spelling (X-RateLimit-Remaining), not Go's canonical one.
func perRequest(name string) bool {
	const rl = "x-ratelimit-"
	return len(name) > len(rl) && strings.EqualFold(name[:len(rl)], rl) ||
		strings.EqualFold(name, "X-Tyk-Trace-Id") || strings.EqualFold(name, "Set-Cookie") || strings.EqualFold(name, CachedHeader)
}

// serve writes a cached response.
func serve(w http.ResponseWriter, r *http.Request, res *Response) {
	h := w.Header()
	for k, vs := range res.Header {
		if perRequest(k) {
			continue
		}
		h[k] = slices.Clone(vs) // the cached slices are shared; a later step may append
	}
	h.Set(CachedHeader, "1")
	w.WriteHeader(res.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.Body)
	}
}

// capture records the response to a request the cache did not answer, for Done to keep.
type capture struct {
	ca          *Cache
	key         string
	status      int
	header      http.Header
	body        []byte
	over        bool
	wroteHeader bool
}

// Wrap implements chain.Capture.
func (p *capture) Wrap(w http.ResponseWriter) http.ResponseWriter {
	return &recorder{ResponseWriter: w, p: p}
}

// Done implements chain.Capture: it keeps the response when it was the upstream's, whole, and
// cacheable.
func (p *capture) Done(c *chain.Context) {
	ca := p.ca
	if !c.UpstreamAnswered || !p.wroteHeader || p.over {
		return
	}
	if len(ca.codes) > 0 && !slices.Contains(ca.codes, p.status) {
		return
	}
	if len(p.header.Values("Set-Cookie")) > 0 {
		return
	}
	ttl := ca.ttl
	if ca.upstreamControl {
		if p.header.Get(ActionHeader) == "" {
			return
		}
		if secs, err := strconv.ParseInt(p.header.Get(ca.ttlHeader), 10, 64); err == nil && secs > 0 {
			ttl = time.Duration(min(secs, apidef.MaxPeriod)) * time.Second
		}
	}
	for k := range p.header {
		if perRequest(k) {
			delete(p.header, k)
		}
	}
	ca.store.Put(ca.api, p.key, &Response{Status: p.status, Header: p.header, Body: p.body}, ttl)
}

// recorder passes a response through to the client, keeping a copy.
type recorder struct {
	http.ResponseWriter
	p *capture
}

func (r *recorder) WriteHeader(code int) {
	if !r.p.wroteHeader && code >= 200 {
		r.p.wroteHeader, r.p.status, r.p.header = true, code, r.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.p.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	if !r.p.over {
		if len(r.p.body)+len(b) > MaxEntryBytes {
			r.p.over, r.p.body = true, nil
		} else {
			r.p.body = append(r.p.body, b...)
		}
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (r *recorder) Flush() {
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the client's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
