// Package benchkit holds what the load benchmark (bench/) and the Go benchmarks of the compiled
// chain (internal/gateway/bench_test.go) share, so that both measure the same thing: the
// upstream, the bare proxy they compare against, the benchmark API and its key. It imports no
// testing package, so that bench, a command, can use it.
package benchkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// Body is what the upstream answers: 100 bytes.
var Body = bytes.Repeat([]byte("gatehouse-bench-"), 7)[:100]

// VerifyPath is the request path suffix for which the upstream lists the X-Bench-* request
// headers it received, in X-Upstream-Saw, so that a benchmark can check that request hooks ran.
const VerifyPath = "/verify"

// PluginPkg is the benchmark plugin's package, relative to the module root: one hook per kind
// (BenchPre, BenchPost, BenchResponse), each setting one header.
const PluginPkg = "internal/plugintest/testdata/bench"

// APIID and ListenPath are the benchmark API's, in every scenario with a single API.
const (
	APIID      = "bench"
	ListenPath = "/bench/"
)

// HeaderUpstreamBody is the header in which the upstream answers a VerifyPath request with
// BodyDigest of the request body it received.
const HeaderUpstreamBody = "X-Upstream-Body"

// BodyDigest is a short digest of a request body, for HeaderUpstreamBody.
func BodyDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// UpstreamHandler answers every request with Body.
func UpstreamHandler() http.Handler {
	length := strconv.Itoa(len(Body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		if strings.HasSuffix(r.URL.Path, VerifyPath) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			h.Set(HeaderUpstreamBody, BodyDigest(body))
			var saw []string
			for k := range r.Header {
				if strings.HasPrefix(k, "X-Bench-") {
					saw = append(saw, k)
				}
			}
			sort.Strings(saw)
			h.Set("X-Upstream-Saw", strings.Join(saw, ","))
		}
		_, _ = w.Write(Body)
	})
}

// BareProxy returns the baseline: httputil.ReverseProxy with Rewrite (SetURL and SetXForwarded)
// to target, on the gateway's own upstream transport (an *http.Transport) and buffer pool.
func BareProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		BufferPool: proxy.BufferPool, // the gateway's own pool: a fair comparison
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: proxy.NewTransport(proxy.TransportOptions{ResponseHeaderTimeout: config.Default().ProxyTimeout()}),
	}
}

// API returns a keyless, not versioned API that strips its listen path.
func API(id, listenPath, target string) *apidef.APIDefinition {
	return &apidef.APIDefinition{
		Name:             id,
		APIID:            id,
		OrgID:            "default",
		Active:           true,
		UseKeylessAccess: true,
		Proxy:            apidef.ProxyConfig{ListenPath: listenPath, TargetURL: target, StripListenPath: true},
		VersionData: apidef.VersionData{
			NotVersioned: true,
			Versions:     map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true}},
		},
	}
}

// Keyed changes def to require a key in the Authorization header, and returns it.
func Keyed(def *apidef.APIDefinition) *apidef.APIDefinition {
	def.UseKeylessAccess = false
	def.UseStandardAuth = true
	def.Auth = apidef.AuthConfig{AuthHeaderName: "Authorization"}
	return def
}

// WithHooks adds the benchmark plugin so (built from PluginPkg) to def at each of
// hooks ("pre", "post", "response"), and returns def.
func WithHooks(def *apidef.APIDefinition, so string, hooks ...string) *apidef.APIDefinition {
	if len(hooks) == 0 {
		return def
	}
	def.CustomMiddleware.Driver = apidef.GoPluginDriver
	for _, h := range hooks {
		md := func(name string) []apidef.MiddlewareDefinition {
			return []apidef.MiddlewareDefinition{{Name: name, Path: so}}
		}
		switch h {
		case "pre":
			def.CustomMiddleware.Pre = append(def.CustomMiddleware.Pre, md("BenchPre")...)
		case "post":
			def.CustomMiddleware.Post = append(def.CustomMiddleware.Post, md("BenchPost")...)
		case "response":
			def.CustomMiddleware.Response = append(def.CustomMiddleware.Response, md("BenchResponse")...)
		}
	}
	return def
}

// HookSigns returns what the benchmark plugin's hooks leave behind: saw, the X-Upstream-Saw the
// upstream answers a VerifyPath request with (the request hooks' headers), and respHook, whether
// the response carries X-Bench-Response: 1.
func HookSigns(hooks []string) (saw string, respHook bool) {
	var headers []string
	for _, h := range hooks {
		switch h {
		case "pre":
			headers = append(headers, "X-Bench-Pre")
		case "post":
			headers = append(headers, "X-Bench-Post")
		case "response":
			respHook = true
		}
	}
	sort.Strings(headers)
	return strings.Join(headers, ","), respHook
}

// LargeMetaData returns meta data of n fields of 1 KiB each, for the scenario of a large key.
func LargeMetaData(n int) map[string]interface{} {
	m := make(map[string]interface{}, n)
	for i := range n {
		m[fmt.Sprintf("field-%04d", i)] = strings.Repeat("m", 1024)
	}
	return m
}

// Session is the key of every keyed scenario: access to apiID, and a rate limit and a quota far
// above what a run can reach, so that they are checked on every request and never refuse one.
func Session(apiID string) *apidef.SessionState {
	return &apidef.SessionState{
		Rate:             1e6,
		Per:              1,
		QuotaMax:         1e12,
		QuotaRenewalRate: 3600,
		OrgID:            "default",
		AccessRights: map[string]apidef.AccessDefinition{
			apiID: {APIID: apiID, APIName: apiID, Versions: []string{"Default"}},
		},
	}
}

// LiveHeap returns the bytes of the heap in use after a complete collection: what the memory
// benchmarks and tests take differences of.
func LiveHeap() uint64 {
	return uint64(LiveHeapStats().Bytes)
}

// HeapStats describe the heap in use after a complete collection.
type HeapStats struct {
	// Bytes and Objects are the heap's objects and their size.
	Bytes, Objects int64
	// Scan is the part of those bytes the collector reads when it marks (each object up to its
	// last pointer; runtime/metrics' /gc/scan/heap:bytes): pointer-free bytes cost it next to
	// nothing, so the marking work of each cycle follows Scan and Objects, not Bytes.
	Scan int64
}

// Sub returns the difference s - t.
func (s HeapStats) Sub(t HeapStats) HeapStats {
	return HeapStats{Bytes: s.Bytes - t.Bytes, Objects: s.Objects - t.Objects, Scan: s.Scan - t.Scan}
}

// LiveHeapStats returns the heap in use after a complete collection.
func LiveHeapStats() HeapStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sample := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(sample)
	var scan int64
	if sample[0].Value.Kind() == metrics.KindUint64 {
		scan = int64(sample[0].Value.Uint64())
	}
	return HeapStats{Bytes: int64(ms.HeapAlloc), Objects: int64(ms.HeapObjects), Scan: scan}
}
