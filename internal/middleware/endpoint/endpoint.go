// Package endpoint matches requests against the endpoint lists of an API version (`ignored`,
// `white_list`, `black_list`) and against a key's allowed URLs.
//
// A pattern is matched against the request path with the listen path (and a URL version
// segment) stripped, as in Tyk. A grant (ignored, white list, allowed URL) is anchored at the
// start and matches the whole path or a prefix of it that ends on a segment boundary: `/users`
// matches `/users` and `/users/1`, never `/users-admin` or `/api/users`. A black-list entry, like
// a per-endpoint plugin, matches anywhere in the path, as in Tyk: `/admin` also refuses
// `/admin.json` and `/v2/admin`.
// A pattern written anchored (`^/admin`, as Tyk's regular expressions often are) is anchored at
// the start of the path in every list. A pattern ending in `/` matches everything below it. `{name}` matches one segment and `*`
// anything; other regular-expression syntax is used as written. Matching is case-sensitive
// unless the entry (`ignore_case`) or the version (`ignore_endpoint_case`) says otherwise.
// Matrix parameters (`;name=value` in a segment) make a path ambiguous: many upstreams read
// `/admin;x=1` as `/admin`. A black list refuses every reading it matches; a grant (ignored, white
// list, allowed URL) applies only when it matches every reading, so ambiguity always fails closed.
//
// With Tyk's enable_path_suffix_matching, a grant covers the paths it matches whole and none
// below them (`/users` matches `/users` only); refusals still match anywhere.
//
// An invalid pattern is an error when the API loads: the API is not served, rather than the
// entry being dropped (which, for a black list, would open a door).
package endpoint

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
)

// Pattern is a compiled endpoint pattern, limited to some methods or to none.
type Pattern struct {
	Raw     string
	re      *regexp.Regexp
	methods []string // upper-case; empty means every method
}

// Compile compiles an endpoint pattern for a grant (ignored, white list, allowed URL): anchored
// at the start of the path and ending on a segment boundary, so it grants no more than it names.
func Compile(pattern string, methods []string, ignoreCase bool) (Pattern, error) {
	return compile(pattern, methods, ignoreCase, grant)
}

// CompileExact compiles an endpoint pattern for a grant that covers the paths it matches whole
// and none below them (`/users` matches `/users`, not `/users/1`): Tyk's
// enable_path_suffix_matching.
func CompileExact(pattern string, methods []string, ignoreCase bool) (Pattern, error) {
	return compile(pattern, methods, ignoreCase, exact)
}

// CompileAnywhere compiles an endpoint pattern for a refusal or a per-endpoint plugin, the way
// Tyk matches them: anywhere in the path, so `/admin` also catches `/admin.json`,
// `/administrator` and `/v2/admin`. A refusal that catches too much is safe; one that catches
// too little is a bypass.
func CompileAnywhere(pattern string, methods []string, ignoreCase bool) (Pattern, error) {
	return compile(pattern, methods, ignoreCase, anywhere)
}

// GrantCompiler returns the compile function of grants: CompileExact when exact (Tyk's
// enable_path_suffix_matching), else Compile.
func GrantCompiler(exact bool) func(string, []string, bool) (Pattern, error) {
	if exact {
		return CompileExact
	}
	return Compile
}

// reach is how much of the path a pattern must match.
type reach int

const (
	anywhere reach = iota // anywhere in the path
	grant                 // from its start, ending on a segment boundary
	exact                 // from its start to its end
)

func compile(pattern string, methods []string, ignoreCase bool, how reach) (Pattern, error) {
	if pattern == "" {
		return Pattern{}, fmt.Errorf("empty endpoint path")
	}
	// A pattern written anchored (Tyk's are regular expressions, so `^/login$` is common) is
	// anchored at the start of the path, whatever the list: the `^` is not part of the path.
	p, startAnchored := strings.CutPrefix(pattern, "^")
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	var b strings.Builder
	if ignoreCase {
		b.WriteString("(?i)")
	}
	expr, wildcardEnd := translate(p)
	if how != anywhere || startAnchored {
		b.WriteString("^")
	}
	b.WriteString("(?:")
	b.WriteString(expr)
	b.WriteString(")")
	switch {
	case how == exact:
		b.WriteString("$")
	case how == grant && !strings.HasSuffix(p, "/") && !wildcardEnd:
		b.WriteString("(?:/|$)")
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Pattern{}, fmt.Errorf("endpoint path %q is not a valid pattern: %w", pattern, err)
	}
	up := make([]string, 0, len(methods))
	for _, m := range methods {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" && !slices.Contains(up, m) {
			up = append(up, m)
		}
	}
	return Pattern{Raw: pattern, re: re, methods: up}, nil
}

// translate turns Tyk's mux-style variables into expressions: `{name}` (or `{name:regex}`)
// matches one segment and a lone `*` matches anything. It reports whether the pattern ends in
// that wildcard, in which case no segment boundary is added after it.
func translate(p string) (expr string, wildcardEnd bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '{':
			end := closingBrace(p, i)
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			inner := p[i+1 : end]
			if _, re, ok := strings.Cut(inner, ":"); ok && re != "" {
				b.WriteString("(?:" + re + ")")
			} else {
				b.WriteString("[^/]+")
			}
			i = end
		case '*':
			// A lone `*` is a wildcard; `x*` after an atom is already a regular expression.
			if i == 0 || p[i-1] == '/' {
				b.WriteString(".*")
				if i == len(p)-1 {
					wildcardEnd = true
				}
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), wildcardEnd
}

// closingBrace returns the index of the brace closing the one at open, counting nested braces
// (as in `{id:[0-9]{3}}`), or -1.
func closingBrace(p string, open int) int {
	depth := 0
	for j := open; j < len(p); j++ {
		switch p[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// Match reports whether the pattern applies to method and path. Methods compare without case.
func (p Pattern) Match(method, path string) bool {
	if len(p.methods) > 0 && !slices.Contains(p.methods, strings.ToUpper(method)) {
		return false
	}
	return p.re.MatchString(path)
}

// denyMatch is Match for refusals: a HEAD is refused wherever a GET would be, since upstreams
// answer HEAD with their GET handler.
func (p Pattern) denyMatch(method string, readings []string) bool {
	if p.MatchAny(method, readings) {
		return true
	}
	return strings.EqualFold(method, http.MethodHead) && p.MatchAny(http.MethodGet, readings)
}

// Lists are the compiled endpoint lists of one API version.
type Lists struct {
	Ignored, White, Black []Pattern
	// Internal are the endpoints only a loop reaches (extended_paths.internal): refused
	// otherwise (matched anywhere in the path and in any case: a refusal that catches more
	// is the safe side), and InternalGrant grants them to a loop where a white list is on
	// (anchored, as a grant is: no more than it names).
	Internal, InternalGrant []Pattern
	// WhiteOn is set when the version has a white list, even one whose entries all reply:
	// an endpoint on none of its entries is then refused.
	WhiteOn bool
	// Replies are the entries that answer requests themselves (Classic mock replies: method
	// actions "reply" of ignored, black_list and white_list, then mock_response), in that
	// order, with Reply holding what each answers.
	Replies []Pattern
	Reply   []Reply
}

// Reply is a Classic mock reply: the status, body and headers the gateway answers with.
type Reply struct {
	Code    int
	Body    string
	Headers map[string]string
}

// Empty reports whether no list holds an entry.
func (l *Lists) Empty() bool {
	return l == nil || len(l.Ignored)+len(l.White)+len(l.Black)+len(l.Replies)+len(l.Internal) == 0 && !l.WhiteOn
}

// CompileVersion compiles the endpoint lists of v: the extended paths when
// use_extended_paths is set, else the legacy `paths` lists, as Tyk does. Disabled entries are
// skipped. With exactGrants (Tyk's enable_path_suffix_matching), what the lists grant (ignored,
// white list, mock replies, a loop's internal endpoints) covers the paths it matches whole,
// none below them.
func CompileVersion(v *apidef.VersionInfo, exactGrants bool) (*Lists, error) {
	l := &Lists{}
	var err error
	grantOf := GrantCompiler(exactGrants)
	if v.UseExtendedPaths {
		ep := v.ExtendedPaths
		if l.Ignored, err = compileMeta("ignored", ep.Ignored, v.IgnoreEndpointCase, grantOf); err != nil {
			return nil, err
		}
		if l.White, err = compileMeta("white_list", ep.WhiteList, v.IgnoreEndpointCase, grantOf); err != nil {
			return nil, err
		}
		if l.Black, err = compileMeta("black_list", ep.BlackList, v.IgnoreEndpointCase, CompileAnywhere); err != nil {
			return nil, err
		}
		for _, e := range ep.WhiteList {
			l.WhiteOn = l.WhiteOn || !e.Disabled
		}
		for i, raw := range ep.Internal {
			var e struct {
				Path, Method string
				Disabled     bool
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, fmt.Errorf("extended_paths.internal[%d]: %w", i, err)
			}
			if e.Disabled {
				continue
			}
			deny, err := CompileAnywhere(e.Path, []string{e.Method}, true)
			if err != nil {
				return nil, fmt.Errorf("extended_paths.internal[%d]: %w", i, err)
			}
			grant, err := grantOf(e.Path, []string{e.Method}, v.IgnoreEndpointCase)
			if err != nil {
				return nil, fmt.Errorf("extended_paths.internal[%d]: %w", i, err)
			}
			l.Internal, l.InternalGrant = append(l.Internal, deny), append(l.InternalGrant, grant)
		}
		if err := l.compileReplies(ep, v.IgnoreEndpointCase, grantOf); err != nil {
			return nil, err
		}
		return l, nil
	}
	for _, list := range []struct {
		name    string
		in      []string
		out     *[]Pattern
		compile func(string, []string, bool) (Pattern, error)
	}{
		{"paths.ignored", v.Paths.Ignored, &l.Ignored, grantOf},
		{"paths.white_list", v.Paths.WhiteList, &l.White, grantOf},
		{"paths.black_list", v.Paths.BlackList, &l.Black, CompileAnywhere},
	} {
		for _, p := range list.in {
			pat, err := list.compile(p, nil, v.IgnoreEndpointCase)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", list.name, err)
			}
			*list.out = append(*list.out, pat)
		}
	}
	return l, nil
}

// compileReplies compiles the mock replies of the extended paths. A reply entry matches as a
// grant does (grantOf), with the one method it answers.
func (l *Lists) compileReplies(ep apidef.ExtendedPathsSet, ignoreCase bool, grantOf func(string, []string, bool) (Pattern, error)) error {
	for _, list := range []struct {
		name    string
		entries []apidef.EndPointMeta
	}{{"ignored", ep.Ignored}, {"black_list", ep.BlackList}, {"white_list", ep.WhiteList}} {
		for i, e := range list.entries {
			if e.Disabled {
				continue
			}
			methods := make([]string, 0, len(e.MethodActions))
			for m, act := range e.MethodActions {
				if act.Action == apidef.ActionReply {
					methods = append(methods, m)
				}
			}
			slices.Sort(methods) // a fixed order for a map's keys
			for _, m := range methods {
				act := e.MethodActions[m]
				p, err := grantOf(e.Path, []string{m}, ignoreCase || e.IgnoreCase)
				if err != nil {
					return fmt.Errorf("extended_paths.%s[%d]: %w", list.name, i, err)
				}
				l.Replies = append(l.Replies, p)
				l.Reply = append(l.Reply, Reply{Code: act.Code, Body: act.Data, Headers: act.Headers})
			}
		}
	}
	for i, e := range ep.MockResponse {
		if e.Disabled {
			continue
		}
		p, err := grantOf(e.Path, []string{e.Method}, ignoreCase || e.IgnoreCase)
		if err != nil {
			return fmt.Errorf("extended_paths.mock_response[%d]: %w", i, err)
		}
		l.Replies = append(l.Replies, p)
		l.Reply = append(l.Reply, Reply{Code: e.Code, Body: e.Body, Headers: e.Headers})
	}
	return nil
}

func compileMeta(name string, entries []apidef.EndPointMeta, ignoreCase bool, compile func(string, []string, bool) (Pattern, error)) ([]Pattern, error) {
	var out []Pattern
	for _, e := range entries {
		if e.Disabled {
			continue
		}
		var methods []string
		replies := 0
		for m, act := range e.MethodActions {
			if act.Action == apidef.ActionReply {
				replies++ // answered by its reply, not by the list (see compileReplies)
				continue
			}
			methods = append(methods, m)
		}
		if e.Method != "" {
			methods = append(methods, e.Method)
		}
		if len(methods) == 0 && replies > 0 {
			continue // no method left: it must not become an entry for every method
		}
		slices.Sort(methods)
		p, err := compile(e.Path, methods, ignoreCase || e.IgnoreCase)
		if err != nil {
			return nil, fmt.Errorf("extended_paths.%s: %w", name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Check applies the lists to a request: a black-listed endpoint is refused (black lists win
// over everything, unlike Tyk where an ignored entry listed first would let it through); then
// the first mock reply that matches answers it (reply is its index in Reply, else -1); an
// ignored endpoint skips auth and limits; with a white list, any endpoint not on it is refused.
//
// A path with matrix parameters or empty segments can be read two ways (as sent, or as a
// servlet container reads it); see Readings. A black list refuses it when either reading
// matches; ignored and white lists let it through only when both readings match; a reply
// answers when either matches (it lets nothing through).
//
// readings are the request path's (see Readings).
func (l *Lists) Check(method string, readings []string, looped bool) (ignored bool, reply int, err error) {
	if l.Empty() {
		return false, -1, nil
	}
	for _, p := range l.Black {
		if p.denyMatch(method, readings) {
			return false, -1, chain.Errorf(http.StatusForbidden, chain.MsgEndpointForbidden, fmt.Errorf("endpoint black-listed by %q", p.Raw))
		}
	}
	if !looped {
		for _, p := range l.Internal {
			if p.denyMatch(method, readings) {
				return false, -1, chain.Errorf(http.StatusForbidden, chain.MsgEndpointForbidden, fmt.Errorf("internal endpoint %q: only a loop reaches it", p.Raw))
			}
		}
	}
	for i, p := range l.Replies {
		if p.MatchAny(method, readings) {
			return false, i, nil
		}
	}
	if AllMatch(l.Ignored, method, readings) {
		return true, -1, nil
	}
	if !l.WhiteOn && len(l.White) == 0 || AllMatch(l.White, method, readings) || looped && AllMatch(l.InternalGrant, method, readings) {
		return false, -1, nil
	}
	return false, -1, chain.Errorf(http.StatusForbidden, chain.MsgEndpointForbidden, fmt.Errorf("endpoint not on the white list"))
}

// Readings returns the ways an upstream may read path: as sent and, when it differs, with
// matrix parameters and empty segments removed (StripMatrix). The caller's path is canonical,
// so these are the only ambiguities left.
func Readings(path string) []string {
	return AppendReadings(make([]string, 0, 2), path)
}

// AppendReadings appends the readings of path to dst: Readings without an allocation when dst
// has room for two.
func AppendReadings(dst []string, path string) []string {
	dst = append(dst, path)
	if s := StripMatrix(path); s != path {
		dst = append(dst, s)
	}
	return dst
}

// MatchAny reports whether the pattern matches any of the readings.
func (p Pattern) MatchAny(method string, readings []string) bool {
	for _, r := range readings {
		if p.Match(method, r) {
			return true
		}
	}
	return false
}

// AllMatch reports whether every reading is matched by some pattern: what a grant (an ignored
// or white-listed endpoint, an allowed URL) needs, so that no reading escapes it.
func AllMatch(patterns []Pattern, method string, readings []string) bool {
	if len(patterns) == 0 {
		return false
	}
	for _, r := range readings {
		matched := false
		for _, p := range patterns {
			if p.Match(method, r) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// StripMatrix removes matrix parameters (`;...` up to the next `/`) from each segment of path,
// and then the empty segments that leaves or that were there: `/;x=1/admin` and `/a;b//c` read
// as `/admin` and `/a/c`, as a servlet container would read them. A trailing slash is kept.
func StripMatrix(path string) string {
	if strings.IndexByte(path, ';') < 0 && !strings.Contains(path, "//") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	skipping := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/':
			skipping = false
			if b.Len() == 0 || !strings.HasSuffix(b.String(), "/") {
				b.WriteByte(c)
			}
		case c == ';':
			skipping = true
		case !skipping:
			b.WriteByte(c)
		}
	}
	return b.String()
}
