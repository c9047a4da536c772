package gateway_test

// A reference model of docs/request-path.md steps 1 and 2, for FuzzGatewayPath: what the gateway
// must do with `GET <target>`, worked out without the router package, which it checks. It is
// written for clarity, segment by segment, where the router works byte by byte.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/echo"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// oracleRoute is one API of the fuzzed gateway, as the oracle sees it.
type oracleRoute struct {
	listenPath string // without a trailing slash
	upstream   string // the name of its upstream
	keyed      bool   // no fuzzed request carries a key: a keyed API answers 401
	// blackListAdmin is set when "/admin" is black-listed for GET: as in Tyk, the entry
	// matches anywhere in the path, listen path stripped.
	blackListAdmin bool
}

// oracleRoutes are the APIs FuzzGatewayPath serves: "inner" is nested in "public", so that
// routing must pick the longest listen path.
var oracleRoutes = []oracleRoute{
	{listenPath: "/public", upstream: "A", blackListAdmin: true},
	{listenPath: "/public/inner", upstream: "C"},
	{listenPath: "/secret", upstream: "B", keyed: true},
}

// oracleVerdict is what the gateway must answer to a target, and what must reach an upstream.
type oracleVerdict struct {
	// code is the status the client must get; 0 when the gateway's own handlers (the health
	// check, the Gateway API) answer, which the oracle does not model beyond "no upstream, no
	// 5xx".
	code int
	// upstream names the upstream that must receive the request, with path (decoded, listen
	// path stripped); empty when none may receive anything.
	upstream, path string
	// orRefused is set when the oracle does not model how Go's URL parser reads the target's
	// authority: a 400 with nothing forwarded is then also right.
	orRefused bool
	why       string
}

// oracleGatewayPaths are answered by the gateway itself when Go's decoded path (not the canonical
// one) is, or starts with, one of them: the health check and the Gateway API, which share the
// listener in the fuzzed gateway. They are the one place where a path is matched before step 1
// runs; see FuzzGatewayPath.
const oracleHealthPath, oracleAPIPrefix = "/hello", "/tyk/"

// oracleMaxParams is the documented limit on query parameters ("more than 1,000 get 400"), counted
// the way Go splits a query: on '&' and ';'.
const oracleMaxParams = 1000

// oracleJudge returns what the gateway must do with `GET target`.
func oracleJudge(target string) oracleVerdict {
	refuse := func(why string) oracleVerdict { return oracleVerdict{code: http.StatusBadRequest, why: why} }
	raw, query, simpleAuthority, why := oracleSplitTarget(target)
	if why != "" {
		return refuse(why)
	}
	// Go's own URL parser refuses an invalid escape anywhere in the path before the gateway
	// runs; the gateway's step 1 would refuse it too.
	goPath, ok := oraclePercentDecode(raw)
	if !ok {
		return refuse("invalid percent-escape")
	}
	if goPath == oracleHealthPath || strings.HasPrefix(goPath, oracleAPIPrefix) {
		return oracleVerdict{orRefused: !simpleAuthority, why: "the gateway's own handler"}
	}
	// Go keeps a '#' of a request-target in the path; the gateway refuses it.
	if strings.Contains(target, "#") {
		return refuse("fragment")
	}
	v := oracleRoute1(raw, query)
	v.orRefused = !simpleAuthority
	return v
}

// oracleRoute1 applies steps 1 and 2 to an escaped path.
func oracleRoute1(raw, query string) oracleVerdict {
	canon, why := oracleCanonical(raw)
	if why != "" {
		return oracleVerdict{code: http.StatusBadRequest, why: why}
	}
	if query != "" && strings.Count(query, "&")+strings.Count(query, ";")+1 > oracleMaxParams {
		return oracleVerdict{code: http.StatusBadRequest, why: "too many query parameters"}
	}
	var best *oracleRoute
	for i, r := range oracleRoutes {
		if (canon == r.listenPath || strings.HasPrefix(canon, r.listenPath+"/")) &&
			(best == nil || len(r.listenPath) > len(best.listenPath)) {
			best = &oracleRoutes[i]
		}
	}
	switch {
	case best == nil:
		return oracleVerdict{code: http.StatusNotFound, why: "no listen path is a segment prefix of " + canon}
	case best.keyed:
		return oracleVerdict{code: http.StatusUnauthorized, why: "keyed API " + best.listenPath}
	}
	rest := strings.TrimPrefix(canon, best.listenPath)
	if rest == "" {
		rest = "/"
	}
	if best.blackListAdmin && strings.Contains(rest, "/admin") {
		return oracleVerdict{code: http.StatusForbidden, why: "black-listed /admin in " + rest}
	}
	return oracleVerdict{code: http.StatusOK, upstream: best.upstream, path: rest, why: "routed to " + best.listenPath}
}

// oracleSplitTarget splits a request-target into its escaped path and its query, as Go's URL
// parser does for r.URL (a '#' is kept), or says why the target is refused. simpleAuthority is false for an absolute-form target whose authority is more
// than a host name or IPv4 address with an optional port: Go may refuse such a target itself.
func oracleSplitTarget(target string) (raw, query string, simpleAuthority bool, why string) {
	switch {
	case target == "":
		return "", "", true, "empty target"
	case target == "*":
		return "", "", true, "asterisk-form"
	case target[0] == '/': // origin-form
		raw, query, _ = strings.Cut(target, "?")
		return raw, query, true, ""
	}
	// absolute-form: scheme "://" authority path-abempty [ "?" query ]
	scheme, rest, ok := strings.Cut(target, ":")
	if !ok {
		return "", "", true, "neither origin-form nor absolute-form"
	}
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return "", "", true, "scheme " + scheme + " is not http or https"
	}
	rest, ok = strings.CutPrefix(rest, "//")
	if !ok {
		return "", "", true, "opaque target"
	}
	rest, query, _ = strings.Cut(rest, "?")
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	return path, query, oracleSimpleAuthority(authority), ""
}

// oracleSimpleAuthority reports whether a is a host of letters, digits, '.' and '-' (possibly
// empty), optionally followed by ':' and a port of digits.
func oracleSimpleAuthority(a string) bool {
	host, port, _ := strings.Cut(a, ":")
	for _, c := range []byte(host) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	for _, c := range []byte(port) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// oraclePercentDecode decodes every %XX escape of s, as Go's URL parser does for r.URL.Path; ok
// is false when s holds an invalid escape.
func oraclePercentDecode(s string) (string, bool) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !oracleIsHex(s[i+1]) || !oracleIsHex(s[i+2]) {
			return "", false
		}
		b = append(b, oracleHexVal(s[i+1])<<4|oracleHexVal(s[i+2]))
		i += 2
	}
	return string(b), true
}

func oracleIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func oracleHexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// oracleCanonical is docs/request-path.md step 1 for an escaped path: it returns the canonical
// decoded path, or why the path is refused. The path is split into segments on its literal
// slashes; empty segments are dropped (slashes merged, a trailing slash kept); each segment is
// decoded once, refusing escapes of separators and control bytes; a segment that reads "." or
// ".." (before any ';' parameters) is refused, never resolved.
func oracleCanonical(raw string) (string, string) {
	if !strings.HasPrefix(raw, "/") {
		return "", "path does not start with '/'"
	}
	for _, c := range []byte(raw) {
		switch {
		case c < 0x20 || c == 0x7f:
			return "", "control byte"
		case c == '\\':
			return "", "backslash"
		case c == '?' || c == '#':
			return "", "'?' or '#' in the path"
		}
	}
	var segs []string
	for _, seg := range strings.Split(raw[1:], "/") {
		if seg == "" {
			continue
		}
		dec, why := oracleDecodeSegment(seg)
		if why != "" {
			return "", why
		}
		if name, _, _ := strings.Cut(dec, ";"); name == "." || name == ".." {
			return "", "dot segment " + seg
		}
		segs = append(segs, dec)
	}
	canon := "/" + strings.Join(segs, "/")
	if len(segs) > 0 && strings.HasSuffix(raw, "/") {
		canon += "/"
	}
	if !utf8.ValidString(canon) {
		return "", "not UTF-8 once decoded"
	}
	return canon, ""
}

// oracleDecodeSegment decodes the escapes of one segment, once, refusing an invalid escape and
// the escaped bytes upstreams read as structure: '/', '\', ';', '?', '#' and control bytes.
func oracleDecodeSegment(seg string) (string, string) {
	var b []byte
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' {
			b = append(b, seg[i])
			continue
		}
		if i+2 >= len(seg) || !oracleIsHex(seg[i+1]) || !oracleIsHex(seg[i+2]) {
			return "", "invalid percent-escape"
		}
		c := oracleHexVal(seg[i+1])<<4 | oracleHexVal(seg[i+2])
		if c < 0x20 || c == 0x7f || strings.IndexByte("/\\;?#", c) >= 0 {
			return "", "escaped separator or control byte " + seg[i:i+3]
		}
		b = append(b, c)
		i += 2
	}
	return string(b), ""
}

// oracleForwardable reports why a path an upstream received is not one the gateway may forward:
// "" when it is canonical (no dot segment, no empty segment, nothing a canonical path cannot
// hold). It is oracleCanonical's image, checked on its own.
func oracleForwardable(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "does not start with '/'"
	}
	if strings.Contains(p, "//") {
		return "has an empty segment"
	}
	if !utf8.ValidString(p) {
		return "is not UTF-8"
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f || c == '\\' || c == '?' || c == '#' {
			return "holds a control byte, '\\', '?' or '#'"
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if name, _, _ := strings.Cut(seg, ";"); name == "." || name == ".." {
			return "has a dot segment"
		}
	}
	return ""
}

// TestPathOracle checks the oracle against hand-written answers, among them every row of
// secPathCases that uses only the APIs the fuzzed gateway also serves, so that FuzzGatewayPath
// compares the gateway with a model that is right where we know the answer.
func TestPathOracle(t *testing.T) {
	type want struct {
		target   string
		code     int
		upstream string
		path     string
	}
	var cases []want
	for _, tc := range secPathCases {
		if tc.method != "" || strings.Contains(tc.target, "/allow") {
			continue // POST and the white-listed API are not fuzzed
		}
		cases = append(cases, want{tc.target, tc.code, tc.reach, tc.path})
	}
	cases = append(cases,
		want{"/public/inner/admin", 200, "C", "/admin"},
		want{"/public//inner//x/", 200, "C", "/x/"},
		want{"/public/%69nner", 200, "C", "/"},
		want{"/public/innerx/admin", 403, "", ""},
		want{"/public/innerx", 200, "A", "/innerx"},
		want{"/public/inner;x/y", 200, "A", "/inner;x/y"},
		want{"/secret", 401, "", ""},
		want{"/secretive", 404, "", ""},
		want{"/", 404, "", ""},
		want{"//", 404, "", ""},
		want{"/public/%e2%82%ac", 200, "A", "/\u20ac"},
		want{"/public/%e2%82", 400, "", ""},
		want{"/public/%7f", 400, "", ""},
		want{"/public/%20", 200, "A", "/ "},
		want{"/public/...", 200, "A", "/..."},
		want{"/public/.x/..y", 200, "A", "/.x/..y"},
		want{"/public/x;y", 200, "A", "/x;y"},
		want{"/public/x?" + strings.Repeat("a&", 1000), 400, "", ""},
		want{"/public/x?" + strings.Repeat("a;", 500) + strings.Repeat("a&", 499), 200, "A", "/x"},
		want{"/public/a;b%41", 200, "A", "/a;bA"},
		want{"/public/a%3bb", 400, "", ""},
		want{"/hello", 0, "", ""},
		want{"/hell%6f", 0, "", ""},
		want{"//hello", 404, "", ""},
		want{"/tyk/%2e%2e/public/x", 0, "", ""},
		want{"/tyk", 404, "", ""},
		want{"/tyk/#x", 0, "", ""},
		want{"/public/x#/../../tyk/", 400, "", ""},
		want{"http://h/tyk/#x", 0, "", ""},
		want{"https://a.b:8080/public/x?q", 200, "A", "/x"},
		want{"http:///public/x", 200, "A", "/x"},
		want{"http://a.b?/public/x", 404, "", ""},
	)
	for _, c := range cases {
		v := oracleJudge(c.target)
		if v.code != c.code || v.upstream != c.upstream || v.path != c.path || v.orRefused {
			t.Errorf("oracle for %q: status %d, upstream %q, path %q (or refused: %v; %s); want %d, %q, %q",
				c.target, v.code, v.upstream, v.path, v.orRefused, v.why, c.code, c.upstream, c.path)
		}
	}
	if v := oracleJudge("http://u@h/public/x"); !v.orRefused || v.code != 200 {
		t.Errorf("oracle for a target with user info: %+v, want 200 or refused", v)
	}
}

// pathEnv is the gateway FuzzGatewayPath and TestGatewayPathEveryByte send requests through: the
// APIs of oracleRoutes, in front of recording upstreams.
type pathEnv struct {
	g          *gt.Gateway
	ups        map[string]*gt.Upstream // by the names oracleRoutes use
	listenPath map[string]string       // of the API in front of each upstream
}

func startPathGateway(tb testing.TB) *pathEnv {
	a, b, c := gt.NewUpstream(tb), gt.NewUpstream(tb), gt.NewUpstream(tb)
	e := &pathEnv{
		g: gt.Start(tb, gt.Options{APIs: []*apidef.APIDefinition{
			secPublicAPI(a.URL), gt.API("inner", "/public/inner/", c.URL), secSecretAPI(b.URL),
		}}),
		ups:        map[string]*gt.Upstream{"A": a, "B": b, "C": c},
		listenPath: map[string]string{},
	}
	for _, r := range oracleRoutes {
		e.listenPath[r.upstream] = r.listenPath
	}
	return e
}

// check sends `GET target` and checks the answer against the oracle and the invariants listed on
// FuzzGatewayPath; target must be sendable in a request line.
func (e *pathEnv) check(t *testing.T, target string) {
	t.Helper()
	want := oracleJudge(target)
	code, name, seen := e.send(t, target)
	switch {
	case want.orRefused && code == http.StatusBadRequest && name == "":
		// Go's URL parser refused the authority: right, and nothing more to check.
	case want.code == 0:
		if name != "" {
			t.Errorf("GET %q (%s) reached %s as %q", target, want.why, name, seen.URI)
		}
	case code != want.code || name != want.upstream || seen.Path != want.path:
		t.Errorf("GET %q: status %d, upstream %q received path %q; the oracle says %d, %q, %q (%s)",
			target, code, name, seen.Path, want.code, want.upstream, want.path, want.why)
	}
	if name == "" {
		return
	}
	// Idempotence: what the upstream received, behind the same listen path, routes to the same
	// API and is forwarded unchanged.
	again := e.listenPath[name] + seen.URI
	code2, name2, seen2 := e.send(t, again)
	if code2 != http.StatusOK || name2 != name || seen2.URI != seen.URI || seen2.Path != seen.Path {
		t.Errorf("GET %q reached %s as %q (path %q); sent again as %q it got %d and reached %q as %q (path %q)",
			target, name, seen.URI, seen.Path, again, code2, name2, seen2.URI, seen2.Path)
	}
}

// send sends `GET target` and returns the status and the one request an upstream received (name
// is empty when none did), after checking the invariants that hold whatever the target.
func (e *pathEnv) send(t *testing.T, target string) (code int, name string, seen echo.Request) {
	t.Helper()
	before := map[string]int{}
	for n, u := range e.ups {
		before[n] = len(u.Requests())
	}
	r, err := e.g.Raw(secRequest("GET", target, ""))
	if err != nil {
		t.Fatalf("GET %q: no response: %v", target, err)
	}
	if r.Code >= 500 {
		t.Fatalf("GET %q: status %d: %s", target, r.Code, r.Body)
	}
	for _, n := range []string{"A", "B", "C"} {
		for _, s := range e.ups[n].Requests()[before[n]:] {
			if name != "" {
				t.Fatalf("GET %q reached more than one upstream, or one twice: %s (%q) and %s (%q)", target, name, seen.URI, n, s.URI)
			}
			name, seen = n, s
		}
	}
	if name == "B" {
		t.Fatalf("GET %q (status %d) reached B without a key: %q", target, r.Code, seen.URI)
	}
	if name != "" {
		if r.Code != http.StatusOK {
			t.Errorf("GET %q reached %s but the client got %d", target, name, r.Code)
		}
		secCheckReceived(t, target, name, e.ups[name], seen)
	}
	return r.Code, name, seen
}

// secCheckReceived checks what an upstream received for target, without the router: a path the
// gateway may forward, a request-URI that decodes once to that path, the default escaping, the
// upstream's own Host and, for A, nothing a servlet container reads as the black-listed /admin.
func secCheckReceived(t *testing.T, target, name string, u *gt.Upstream, seen echo.Request) {
	t.Helper()
	if why := oracleForwardable(seen.Path); why != "" {
		t.Errorf("GET %q: %s received path %q, which %s", target, name, seen.Path, why)
	}
	uriPath, _, _ := strings.Cut(seen.URI, "?")
	if c, why := oracleCanonical(uriPath); why != "" || c != seen.Path {
		t.Errorf("GET %q: %s's request-URI %q decodes to %q (%s), not to its path %q", target, name, seen.URI, c, why, seen.Path)
	}
	if seen.RawPath != "" {
		t.Errorf("GET %q: %s received a non-default escaping %q of %q", target, name, seen.RawPath, seen.Path)
	}
	if host := strings.TrimPrefix(u.URL, "http://"); seen.Host != host {
		t.Errorf("GET %q: %s received Host %q, want %q", target, name, seen.Host, host)
	}
	if p := secServletReading(seen.Path); name == "A" && (p == "/admin" || strings.HasPrefix(p, "/admin/")) {
		t.Errorf("GET %q reached the black-listed /admin: A received %q, which a servlet container reads as %q", target, seen.Path, p)
	}
}

// TestGatewayPathEveryByte sends every byte through pathEnv.check, escaped (both cases of hex
// digits) and, where a request line can carry it, literal; alone in a segment and inside one.
func TestGatewayPathEveryByte(t *testing.T) {
	e := startPathGateway(t)
	for b := 0; b < 256; b++ {
		for _, esc := range []string{fmt.Sprintf("%%%02x", b), fmt.Sprintf("%%%02X", b)} {
			e.check(t, "/public/"+esc)
			e.check(t, "/public/inner/x"+esc+"y/")
		}
		if b > 0x20 && b < 0x7f {
			e.check(t, "/public/"+string(rune(b)))
			e.check(t, "/public/inner/x"+string(rune(b))+"y/")
		}
	}
}
