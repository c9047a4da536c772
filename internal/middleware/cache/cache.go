// Package cache is an API's response cache (`cache_options`, a version's `extended_paths.cache`
// and `advance_cache_config`). Responses to safe requests (GET, HEAD, OPTIONS) are kept for
// `cache_timeout` seconds (60 when 0) and served again, with `X-Tyk-Cached-Response: 1`, without
// calling the upstream: every safe request with `cache_all_safe_requests`, else those to the
// paths of the version's `cache` list; an `advance_cache_config` entry caches its own method (a
// POST, PUT or PATCH keyed by its body, or by what its cache_key_regex finds there) with its own
// codes and timeout. As in Tyk, a response is cached per API, per client (the key, or for a keyless API the
// client's address; on a keyed API a request without a key of its own is not cached), per method and URL (path and query), and per value of each
// `cache_by_headers` header; only with a status in `cache_response_codes` (any, when empty);
// with `enable_upstream_cache_control`, only when the upstream's response says so
// (`X-Tyk-Cache-Action-Set`), for as long as its TTL header says.
//
// Responses are kept in a Backend: in Redis for the fleet (Shared), as Tyk keeps them, or in
// each gateway's memory, bounded (Store). Beyond Tyk, entries are keyed by version and
// Accept-Encoding too. What is never cached (cacheable, keep):
// the gateway's own answers (an upstream that could not be reached, a refused response
// transform), a response cut short, a body over MaxEntryBytes, a response that sets a cookie
// or says Cache-Control no-store (or private, on a keyless API), a 206 or 304, a partial or conditional request, a request a method transform changes, a
// keyless API's request with credentials for the upstream it is not keyed by, and a response
// whose request began before a flush. The key's rate limit and quota headers, the trace id and
// the CORS headers are those of the request served, not of the cached one.
package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/proxy"
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
	paths           *endpoint.Table[*rule]
	codes           []int
	byHeaders       []string
	upstreamControl bool
	ttlHeader       string
	store           Backend
	// ns names the definition the cache was compiled from (Backend.Lookup).
	ns string
}

// rule is what a matching extended_paths entry sets: nothing for a `cache` path, an
// advance_cache_config entry's codes, timeout and body expression.
type rule struct {
	codes  []int
	ttl    time.Duration
	bodyRx *regexp.Regexp
}

// Compile returns the cache of def over store, or nil when def caches nothing.
func Compile(def *apidef.APIDefinition, store Backend) (*Cache, error) {
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
	// As in Tyk, the `cache` paths first, then the advance_cache_config entries; the first
	// entry that matches a request wins. With cache_all_safe_requests a safe request is cached
	// with cache_options' settings whatever the entries say; they still cache other methods.
	t := &endpoint.Table[*rule]{}
	plain := &rule{}
	for name, v := range def.VersionData.Versions {
		if !v.UseExtendedPaths {
			continue
		}
		at := func(list string, i int) string {
			return "version " + strconv.Quote(name) + ": extended_paths." + list + "[" + strconv.Itoa(i) + "]"
		}
		for i, p := range v.ExtendedPaths.Cached {
			for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
				if err := t.Add(name, at("cache", i), p, m, v.IgnoreEndpointCase, plain); err != nil {
					return nil, err
				}
			}
		}
		for i, e := range v.ExtendedPaths.AdvanceCacheConfig {
			en := &rule{codes: e.CacheOnlyResponseCodes, ttl: time.Duration(e.Timeout) * time.Second}
			if e.CacheKeyRegex != "" {
				rx, err := regexp.Compile(e.CacheKeyRegex)
				if err != nil {
					return nil, fmt.Errorf("%s: cache_key_regex: %w", at("advance_cache_config", i), err)
				}
				en.bodyRx = rx
			}
			if err := t.Add(name, at("advance_cache_config", i), e.Path, e.Method, v.IgnoreEndpointCase, en); err != nil {
				return nil, err
			}
		}
	}
	if !t.Empty() {
		c.paths = t
	}
	if c.paths == nil && !c.allSafe {
		return nil, nil // nothing to cache: no entry, and not every safe request
	}
	c.ns = Namespace(def)
	return c, nil
}

// Step returns the chain step: it answers from the cache, or marks the request's response to
// be captured (chain.Context.Cache) on its way to the client.
func (ca *Cache) Step() chain.Step {
	return chain.Step{Name: "cache", Run: ca.run}
}

func (ca *Cache) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	var en *rule
	switch safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions; {
	case safe && ca.allSafe:
	default:
		var ok bool
		if en, ok = ca.paths.Lookup(c.Version, r.Method, c.Readings); !ok {
			return nil
		}
	}
	if ca.keyed && (c.KeyHash == "" || c.State == nil || c.State.Token == "") {
		// A keyed API's entries are per key: a request without one (an ignored endpoint, a
		// plugin's session without a token) has no entry of its own, and is not cached.
		return nil
	}
	if !ca.cacheable(r, c) {
		return nil
	}
	var body []byte
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		// Keyed by the body, or by what the entry's expression finds in it, as in Tyk.
		data, full, err := proxy.ReadBody(r, MaxEntryBytes)
		if err != nil {
			return proxy.ReadBodyError(c, err)
		}
		if !full {
			return nil // too large to key by: forwarded whole, not cached
		}
		body = data
		if en != nil && en.bodyRx != nil {
			found := en.bodyRx.FindAll(data, -1)
			if len(found) == 0 {
				return nil // Tyk caches only a body the expression matches
			}
			body = bytes.Join(found, []byte{0})
		}
	}
	key := ca.key(r, c, body)
	res, mark := ca.store.Lookup(r.Context(), ca.api, ca.ns, key)
	if res != nil {
		c.CachedResponse = true
		serve(w, r, res)
		return chain.ErrHandled
	}
	c.Cache = &capture{ca: ca, key: key, entry: en, mark: mark}
	return nil
}

// cacheable reports whether a request may be answered from, and stored in, the cache, beyond
// what the configuration selects. Not: a request whose method a transform changes (the
// upstream gets another method, maybe one with effects); a partial or conditional request
// (Range, If-*: its 206 or 304 is no answer to a plain request); and on a keyless API, a
// request with credentials for the upstream (Authorization, Cookie) that cache_by_headers does
// not key by, since the upstream may answer it for that user alone.
func (ca *Cache) cacheable(r *http.Request, c *chain.Context) bool {
	if c.Method != "" && c.Method != r.Method {
		return false
	}
	for name := range r.Header {
		if name == "Range" || strings.HasPrefix(name, "If-") {
			return false
		}
	}
	if !ca.keyed {
		for _, name := range []string{"Authorization", "Cookie"} {
			if len(r.Header[name]) > 0 && !slices.Contains(ca.byHeaders, name) {
				return false
			}
		}
	}
	return true
}

// key identifies what the request asks of the API: the client, the version, the method, the
// URL, the encodings it accepts and the cache_by_headers values, hashed.
func (ca *Cache) key(r *http.Request, c *chain.Context, body []byte) string {
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
	for _, part := range []string{who, c.Version, r.Method, r.URL.EscapedPath(), r.URL.RawQuery, strings.Join(r.Header.Values("Accept-Encoding"), ",")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, name := range ca.byHeaders {
		h.Write([]byte(name))
		h.Write([]byte{'='})
		h.Write([]byte(strings.Join(r.Header.Values(name), ",")))
		h.Write([]byte{0})
	}
	if body != nil {
		sum := sha256.Sum256(body)
		h.Write([]byte("body="))
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Namespace names a definition for a shared backend: the hash of its JSON, so that every
// gateway serving the same definition reads the same responses, and one serving another does not.
func Namespace(def *apidef.APIDefinition) string {
	data, err := json.Marshal(def)
	if err != nil {
		return "x" // not reached: a definition always encodes
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// perRequest reports whether a response header belongs to the request served rather than to
// the response: it is neither kept nor served from the cache (the gateway sets it again for the
// request a cached answer serves: its limits, its trace id, its CORS answer for its Origin).
// Names compare without case: the gateway sets some in Tyk's spelling (X-RateLimit-Remaining),
// not Go's canonical one.
func perRequest(name string) bool {
	const rl, cors = "x-ratelimit-", "access-control-"
	return len(name) > len(rl) && strings.EqualFold(name[:len(rl)], rl) ||
		len(name) > len(cors) && strings.EqualFold(name[:len(cors)], cors) ||
		strings.EqualFold(name, "X-Tyk-Trace-Id") || strings.EqualFold(name, "Set-Cookie") || strings.EqualFold(name, CachedHeader)
}

// serve writes a cached response (its headers hold none that is perRequest: Done left them out).
func serve(w http.ResponseWriter, r *http.Request, res *Response) {
	h := w.Header()
	for k, vs := range res.Header {
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
	mark        Mark  // when the request began (Backend.Keep)
	entry       *rule // the extended_paths entry that matched; nil for cache_all_safe_requests
	status      int
	header      http.Header
	body        []byte
	over        bool // not to be kept: too large, or keep said no
	wroteHeader bool
	ttl         time.Duration
}

// Wrap implements chain.Capture.
func (p *capture) Wrap(w http.ResponseWriter) http.ResponseWriter {
	return &recorder{ResponseWriter: w, p: p}
}

// Done implements chain.Capture: it keeps the response when it was the upstream's, whole, and
// cacheable (keep decided that when the headers were written).
func (p *capture) Done(c *chain.Context) {
	if !c.UpstreamAnswered || !p.wroteHeader || p.over {
		return
	}
	for k := range p.header {
		if perRequest(k) || strings.EqualFold(k, "Trailer") {
			// Trailer: the proxy announces the upstream's trailers, which no cached answer carries.
			delete(p.header, k)
		}
	}
	body := slices.Clip(p.body)
	if cap(p.body) > len(p.body)+len(p.body)/4 {
		body = bytes.Clone(p.body) // not twice the memory the store counts
	}
	p.ca.store.Keep(p.mark, p.ca.api, p.ca.ns, p.key, &Response{Status: p.status, Header: p.header, Body: body}, p.ttl)
}

// keep decides, when the response's headers are written, whether it may be kept, and for how
// long: what is not kept is not copied.
func (p *capture) keep(status int, h http.Header) bool {
	ca := p.ca
	codes, ttl := ca.codes, ca.ttl
	if e := p.entry; e != nil {
		if len(e.codes) > 0 {
			codes = e.codes
		}
		if e.ttl > 0 {
			ttl = e.ttl
		}
	}
	switch {
	case status == http.StatusPartialContent || status == http.StatusNotModified:
		return false
	case len(codes) > 0 && !slices.Contains(codes, status):
		return false
	case len(h.Values("Set-Cookie")) > 0:
		return false
	case cacheControl(h, "no-store"):
		// The upstream says the response must not be kept anywhere (Tyk keeps it).
		return false
	case !ca.keyed && cacheControl(h, "private"):
		// For one user only: a keyless API's entries are per client address, which users
		// behind one proxy or NAT share (a keyed API's are per key, one user's).
		return false
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n > MaxEntryBytes {
			return false
		}
	}
	if ca.upstreamControl {
		if h.Get(ActionHeader) == "" {
			return false
		}
		if secs, err := strconv.ParseInt(h.Get(ca.ttlHeader), 10, 64); err == nil && secs > 0 {
			ttl = time.Duration(min(secs, apidef.MaxPeriod)) * time.Second
		}
	}
	p.ttl = ttl
	return true
}

// cacheControl reports whether the response's Cache-Control names the directive (without case;
// `private="Set-Cookie"` names private).
func cacheControl(h http.Header, directive string) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			if strings.EqualFold(strings.TrimSpace(name), directive) {
				return true
			}
		}
	}
	return false
}

// recorder passes a response through to the client, keeping a copy.
type recorder struct {
	http.ResponseWriter
	p *capture
}

func (r *recorder) WriteHeader(code int) {
	if !r.p.wroteHeader && code >= 200 {
		r.p.wroteHeader, r.p.status = true, code
		if r.p.keep(code, r.Header()) {
			r.p.header = r.Header().Clone()
		} else {
			r.p.over = true
		}
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
