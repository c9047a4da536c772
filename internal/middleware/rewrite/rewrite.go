// Package rewrite applies an API's `extended_paths.url_rewrites` as Tyk does: for a request
// with an entry's method to its path, `match_pattern` is tried on the request URL (path with
// the listen path, and query; then its percent-decoded form), and when it matches the URL
// becomes `rewrite_to`, or the `rewrite_to` of the first trigger that fires. `$1`…`$n` are the
// pattern's groups; `$tyk_context.<name>` and `$tyk_meta.<name>` are substituted,
// query-escaped. Patterns and targets are compiled when the API loads.
//
// The result is only ever a path (and query) on the API's own upstream: it is split at its
// first '?', the path is canonicalised as a client's would be (a dot segment, an encoded '/' or
// a control byte gets 400) and repeated slashes merge, so nothing a client sends can name
// another host or scheme; the query is re-escaped so that it cannot break the request line.
package rewrite

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/headers"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/router"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

// MaxPayload bounds how much of a request body payload_matches looks at; the body itself is
// forwarded whole.
const MaxPayload = 1 << 20

// Rewrites are the compiled URL rewrites of every version of an API.
type Rewrites struct {
	table endpoint.Table[*rule]
	// contextVars is enable_context_vars: without it only trigger variables are set.
	contextVars bool
	// missing are the secret variables the targets use that have no value (empty, as in Tyk).
	missing []string
	// loops is set when a target loops to an API (tyk://).
	loops bool
}

// Loops reports whether a rewrite may loop the request to an API (tyk://).
func (rw *Rewrites) Loops() bool { return rw != nil && rw.loops }

// MissingSecrets returns the secret variables the targets use that have no value, and are
// therefore substituted with the empty string.
func (rw *Rewrites) MissingSecrets() []string {
	if rw == nil {
		return nil
	}
	return rw.missing
}

type rule struct {
	match    *regexp.Regexp
	to       target
	triggers []trigger
}

type trigger struct {
	all                           bool
	header, query, pathPart, meta []option
	reqCtx                        []option
	payload                       *option
	to                            target
}

type option struct {
	name    string
	rx      *regexp.Regexp
	reverse bool
}

// test reports whether v passes the option, with the submatches to record (none when it
// passes by not matching, with reverse).
func (o *option) test(v string) (bool, []string) {
	m := o.rx.FindStringSubmatch(v)
	if o.reverse {
		return m == nil, nil
	}
	return m != nil, m
}

// Compile returns the rewrites of the definition, or nil when it has none. As in Tyk, entries
// apply only to a version with use_extended_paths. A pattern that does not compile or a target
// Gatehouse does not follow refuses the definition, the field named. sec resolves the secret
// variables of the targets.
func Compile(def *apidef.APIDefinition, sec *secrets.Resolver) (*Rewrites, error) {
	rw := &Rewrites{contextVars: def.EnableContextVars}
	tc := targetCompiler{sec: sec, missing: func(v string) {
		if !slices.Contains(rw.missing, v) {
			rw.missing = append(rw.missing, v)
		}
	}}
	for name, v := range def.VersionData.Versions {
		if !v.UseExtendedPaths {
			continue
		}
		for i, e := range v.ExtendedPaths.URLRewrite {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.url_rewrites[%d]", name, i)
			ru, err := tc.rule(e, where)
			if err != nil {
				return nil, err
			}
			rw.loops = rw.loops || ru.to.loop || slices.ContainsFunc(ru.triggers, func(t trigger) bool { return t.to.loop })
			if err := rw.table.Add(name, where, e.Path, e.Method, v.IgnoreEndpointCase || e.IgnoreCase, ru); err != nil {
				return nil, err
			}
		}
	}
	if rw.table.Empty() {
		return nil, nil
	}
	return rw, nil
}

func (tc targetCompiler) rule(e apidef.URLRewriteMeta, where string) (*rule, error) {
	rx, err := regexp.Compile(e.MatchPattern)
	if err != nil {
		return nil, fmt.Errorf("%s.match_pattern: %q is not a valid regular expression: %w", where, e.MatchPattern, err)
	}
	ru := &rule{match: rx}
	if ru.to, err = tc.target(e.RewriteTo); err != nil {
		return nil, fmt.Errorf("%s.rewrite_to: %w", where, err)
	}
	for n, t := range e.Triggers {
		tw := fmt.Sprintf("%s.triggers[%d]", where, n)
		tr := trigger{all: t.On == "all"}
		if t.On != "all" && t.On != "any" {
			return nil, fmt.Errorf("%s.on: %q is not \"any\" or \"all\"", tw, t.On)
		}
		if tr.to, err = tc.target(t.RewriteTo); err != nil {
			return nil, fmt.Errorf("%s.rewrite_to: %w", tw, err)
		}
		o := t.Options
		for _, set := range []struct {
			name  string
			in    map[string]apidef.StringRegexMap
			out   *[]option
			canon bool
		}{
			{"header_matches", o.HeaderMatches, &tr.header, true},
			{"query_val_matches", o.QueryValMatches, &tr.query, false},
			{"path_part_matches", o.PathPartMatches, &tr.pathPart, false},
			{"session_meta_matches", o.SessionMetaMatches, &tr.meta, false},
			{"request_context_matches", o.RequestContextMatches, &tr.reqCtx, false},
		} {
			keys := make([]string, 0, len(set.in))
			for k := range set.in {
				keys = append(keys, k)
			}
			sort.Strings(keys) // Tyk's order is a map's; a fixed one makes trigger variables stable
			for _, k := range keys {
				m := set.in[k]
				rx, err := regexp.Compile(m.MatchRx)
				if err != nil {
					return nil, fmt.Errorf("%s.options.%s[%q].match_rx: %q is not a valid regular expression: %w", tw, set.name, k, m.MatchRx, err)
				}
				name := k
				if set.canon {
					name = http.CanonicalHeaderKey(k)
				}
				*set.out = append(*set.out, option{name: name, rx: rx, reverse: m.Reverse})
			}
		}
		if p := o.PayloadMatches; p.MatchRx != "" {
			rx, err := regexp.Compile(p.MatchRx)
			if err != nil {
				return nil, fmt.Errorf("%s.options.payload_matches.match_rx: %q is not a valid regular expression: %w", tw, p.MatchRx, err)
			}
			tr.payload = &option{name: "payload", rx: rx, reverse: p.Reverse}
		}
		ru.triggers = append(ru.triggers, tr)
	}
	return ru, nil
}

// Step returns the chain step (Tyk's URLRewrite, after the request header transforms and
// before the method transform). Later steps keep matching endpoints against the client's path,
// as Tyk's do.
func (rw *Rewrites) Step() chain.Step {
	return chain.Step{Name: "url_rewrite", Run: rw.run}
}

func (rw *Rewrites) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	ru, ok := rw.table.Lookup(c.Version, r.Method, c.Readings)
	if !ok {
		return nil
	}
	raw := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		raw += "?" + r.URL.RawQuery
	}
	groups := ru.match.FindStringSubmatch(raw)
	if groups == nil {
		if dec, err := url.PathUnescape(raw); err == nil && dec != raw {
			groups = ru.match.FindStringSubmatch(dec)
		}
	}
	if groups == nil {
		return nil // no match: not rewritten, triggers not consulted, as in Tyk
	}
	ev := &eval{r: r, c: c, rw: rw}
	to := &ru.to
	for n := range ru.triggers {
		fired, err := ev.fires(&ru.triggers[n], n)
		if err != nil {
			return err
		}
		if fired {
			to = &ru.triggers[n].to
			break
		}
	}
	s, err := to.render(groups, ev)
	if err != nil {
		return err
	}
	if to.loop {
		lt, err := loopTarget(s, to.loopCtl)
		if err != nil {
			return err
		}
		c.LoopTo = lt
		return nil
	}
	return apply(r, s, to.secret)
}

// loopTarget reads a rendered tyk:// rewrite target's path (what followed the API, which
// ctl names, with the control parameters read when the target compiled), below the looped
// API's listen path. The request keeps its own query, as in Tyk; a '?' or '#' a substituted
// value brought ends the path.
func loopTarget(p string, ctl chain.LoopTarget) (*chain.LoopTarget, error) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	canon, err := router.Canonicalize("/" + strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("url rewrite: the looped path %q: %w", p, err))
	}
	lt := ctl
	lt.Path = canon
	return &lt, nil
}

// apply makes s the request's URL: a path on the API's upstream and a query. secret keeps the
// path out of the error: it holds a secret's value.
func apply(r *http.Request, s string, secret bool) error {
	p, q, hasQuery := strings.Cut(s, "?")
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	canon, err := router.Canonicalize(p)
	if err != nil {
		if secret {
			return chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("url rewrite: the rewritten path (not shown: it holds a secret): %w", err))
		}
		return chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("url rewrite: the rewritten path %q: %w", p, err))
	}
	r.URL.Path, r.URL.RawPath = canon, ""
	r.URL.RawQuery = ""
	if hasQuery {
		r.URL.RawQuery = escapeQuery(q)
	}
	return nil
}

// escapeQuery escapes the bytes a query may not hold literally (RFC 3986: anything but
// unreserved, sub-delims, ':', '@', '/', '?' and '%'), so that a value cannot end the request
// line or add a fragment; existing escapes are kept.
func escapeQuery(q string) string { return router.EscapeExcept(q, queryChar) }

func queryChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}

// eval is one request's trigger evaluation: the trigger variables it set, and the request's
// body and context variables, read once when an option needs them.
type eval struct {
	r    *http.Request
	c    *chain.Context
	rw   *Rewrites
	vars map[string]string
	body *string
}

func (ev *eval) set(key string, match []string) {
	if len(match) == 0 {
		return
	}
	if ev.vars == nil {
		ev.vars = map[string]string{}
	}
	ev.vars[key] = match[0]
	for j, g := range match[1:] {
		ev.vars[key+"-"+strconv.Itoa(j)] = g
	}
}

// contextValue returns a context variable: a trigger variable of this request, else (with
// enable_context_vars) the request's context variable.
func (ev *eval) contextValue(name string) (string, error) {
	if v, ok := ev.vars[name]; ok {
		return v, nil
	}
	if !ev.rw.contextVars {
		return "", nil
	}
	v, err := headers.ContextValue(name, ev.r, ev.c)
	if err != nil {
		return "", chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, err)
	}
	return v, nil
}

func (ev *eval) meta() map[string]any {
	if st := reqctx.From(ev.r); st != nil && st.Session != nil {
		return st.Session.MetaData
	}
	return nil
}

// fires evaluates trigger n: with "any", the first option kind with a passing option fires it;
// with "all", every kind it configures must pass every one of its options (Tyk counts passing
// values against options, as here).
func (ev *eval) fires(t *trigger, n int) (bool, error) {
	prefix := "trigger-" + strconv.Itoa(n) + "-"
	kinds := 0
	passed := 0
	check := func(opts []option, count func(o *option) (int, error)) error {
		if len(opts) == 0 {
			return nil
		}
		kinds++
		hits := 0
		for i := range opts {
			k, err := count(&opts[i])
			if err != nil {
				return err
			}
			hits += k
		}
		if hits > 0 && (!t.all || hits >= len(opts)) {
			passed++
		}
		return nil
	}
	multi := func(values func(name string) []string) func(o *option) (int, error) {
		return func(o *option) (int, error) {
			k := 0
			for i, v := range values(o.name) {
				if ok, m := o.test(v); ok {
					ev.set(prefix+o.name+"-"+strconv.Itoa(i), m)
					k++
				}
			}
			return k, nil
		}
	}
	if err := check(t.header, multi(func(name string) []string { return ev.r.Header[name] })); err != nil {
		return false, err
	}
	if !t.all && passed > 0 {
		return true, nil
	}
	if len(t.query) > 0 {
		q := ev.r.URL.Query()
		if err := check(t.query, multi(func(name string) []string { return q[name] })); err != nil {
			return false, err
		}
		if !t.all && passed > 0 {
			return true, nil
		}
	}
	if err := check(t.pathPart, func(o *option) (int, error) {
		k := 0
		for _, part := range strings.Split(ev.r.URL.Path, "/") {
			if ok, m := o.test(part); ok {
				ev.set(prefix+o.name+"-"+strconv.Itoa(k), m)
				k++
			}
		}
		return k, nil
	}); err != nil {
		return false, err
	}
	if !t.all && passed > 0 {
		return true, nil
	}
	if err := check(t.meta, func(o *option) (int, error) {
		s, ok := ev.meta()[o.name].(string)
		if !ok {
			return 0, nil
		}
		if ok, m := o.test(s); ok {
			ev.set(prefix+o.name, m)
			return 1, nil
		}
		return 0, nil
	}); err != nil {
		return false, err
	}
	if !t.all && passed > 0 {
		return true, nil
	}
	if err := check(t.reqCtx, func(o *option) (int, error) {
		s, err := ev.contextValue(o.name)
		if err != nil || s == "" {
			return 0, err
		}
		if ok, m := o.test(s); ok {
			ev.set(prefix+o.name, m)
			return 1, nil
		}
		return 0, nil
	}); err != nil {
		return false, err
	}
	if !t.all && passed > 0 {
		return true, nil
	}
	if t.payload != nil {
		if err := check([]option{*t.payload}, func(o *option) (int, error) {
			body, err := ev.payload()
			if err != nil {
				return 0, err
			}
			if ok, m := o.test(body); ok {
				ev.set(prefix+"payload", m)
				return 1, nil
			}
			return 0, nil
		}); err != nil {
			return false, err
		}
	}
	if t.all {
		return kinds > 0 && passed == kinds, nil
	}
	return passed > 0, nil
}

// payload returns the first MaxPayload bytes of the request body, read once; the body is put
// back whole.
func (ev *eval) payload() (string, error) {
	if ev.body != nil {
		return *ev.body, nil
	}
	data, _, err := proxy.ReadBody(ev.r, MaxPayload)
	if err != nil {
		if b, ok := ev.c.Body.(*proxy.LimitedBody); ok && b.LimitExceeded() {
			return "", chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, err)
		}
		return "", chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, fmt.Errorf("reading the request body: %w", err))
	}
	s := string(data)
	ev.body = &s
	return s, nil
}
