package headers

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/hdrname"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

// op is one set of changes: headers removed, then headers set.
type op struct {
	remove []string
	set    []setHeader
}

type setHeader struct {
	name  string // canonical
	value Value
}

// apply changes h for a request with the context variables ctx and the session meta.
// underscored says h may hold a name with '_' (see hasUnderscore): every spelling an upstream
// may read as a removed or set name ('_' for '-', any case) is then removed too, so that a
// client's X_Secret does not pass global_headers_remove, nor its X_Gw stand beside the gateway's
// X-Gw, at an upstream that maps '_' to '-' (CGI's HTTP_X_SECRET, WSGI, older gunicorn, nginx
// with underscores_in_headers). Responses are applied with underscored false.
func (o *op) apply(h http.Header, ctx []string, meta map[string]any, underscored bool) {
	for _, n := range o.remove {
		h.Del(n)
		if underscored {
			dropSpellings(h, n, "")
		}
	}
	for i := range o.set {
		s := &o.set[i]
		if underscored {
			dropSpellings(h, s.name, s.name)
		}
		h[s.name] = []string{s.value.render(ctx, meta)}
	}
}

// hasUnderscore reports whether a name in h holds '_': only then can a client header be another
// spelling of one the transforms remove or set, and only then does apply look for them.
func hasUnderscore(h http.Header) bool {
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 {
			return true
		}
	}
	return false
}

// dropSpellings deletes the names of h other than keep that are name once '_' is read as '-'
// and case is ignored.
func dropSpellings(h http.Header, name, keep string) {
	for k := range h {
		if k != keep && hdrname.Same(k, name) {
			delete(h, k)
		}
	}
}

// version is what one API version changes.
type version struct {
	request, response *op // the global_* fields; nil when none or disabled
	// processors are the response_processors' header_injector options, applied after response
	// (and, as in Tyk, not when the version's global response headers are disabled).
	processors []*op
}

// Transforms are the compiled header transforms of every version of an API.
type Transforms struct {
	versions          map[string]*version
	request, response endpoint.Table[*op]
	// vars are the context variables the values use, by index; nil without enable_context_vars
	// (every $tyk_context variable is then empty, as in Tyk).
	vars        []string
	late        []int // the indexes in vars of the variables auth sets (late)
	contextVars bool
	// missing are the secret variables the values use that have no value (empty, as in Tyk).
	missing []string
}

// MissingSecrets returns the secret variables the values use that have no value, and are
// therefore substituted with the empty string.
func (t *Transforms) MissingSecrets() []string {
	if t == nil {
		return nil
	}
	return t.missing
}

// Compile returns the header transforms of the definition, or nil when it has none. sec
// resolves the secret variables of the values.
func Compile(def *apidef.APIDefinition, sec *secrets.Resolver) (*Transforms, error) {
	t := &Transforms{versions: map[string]*version{}, contextVars: def.EnableContextVars}
	missing := func(v string) {
		if !slices.Contains(t.missing, v) {
			t.missing = append(t.missing, v)
		}
	}
	index := map[string]int{}
	names := func(n string) int {
		i, ok := index[n]
		if !ok {
			i = len(t.vars)
			index[n] = i
			t.vars = append(t.vars, n)
		}
		return i
	}
	compile := func(remove []string, add map[string]string) *op {
		if len(remove) == 0 && len(add) == 0 {
			return nil
		}
		o := &op{remove: remove}
		keys := make([]string, 0, len(add))
		for k := range add {
			keys = append(keys, k)
		}
		sort.Strings(keys) // Tyk's order is a map's; a fixed one makes duplicates predictable
		for _, k := range keys {
			o.set = append(o.set, setHeader{name: textproto.CanonicalMIMEHeaderKey(k), value: compileValue(add[k], names, sec, missing)})
		}
		return o
	}
	used := false
	injectors := def.HeaderInjectors()
	for name, v := range def.VersionData.Versions {
		cv := &version{}
		if !v.GlobalHeadersDisabled {
			cv.request = compile(v.GlobalHeadersRemove, v.GlobalHeaders)
		}
		if !v.GlobalResponseHeadersDisabled {
			cv.response = compile(v.GlobalResponseHeadersRemove, v.GlobalResponseHeaders)
			for _, in := range injectors {
				if o := compile(in.RemoveHeaders, in.AddHeaders); o != nil {
					cv.processors = append(cv.processors, o)
				}
			}
		}
		if cv.request != nil || cv.response != nil || len(cv.processors) > 0 {
			t.versions[name] = cv
			used = true
		}
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for _, l := range []struct {
			list    string
			table   *endpoint.Table[*op]
			entries []apidef.HeaderInjectionMeta
		}{
			{"transform_headers", &t.request, v.ExtendedPaths.TransformHeader},
			{"transform_response_headers", &t.response, v.ExtendedPaths.TransformResponseHeader},
		} {
			for i, e := range l.entries {
				if e.Disabled {
					continue
				}
				where := fmt.Sprintf("version %q: extended_paths.%s[%d]", name, l.list, i)
				o := compile(e.DeleteHeaders, e.AddHeaders)
				if o == nil {
					o = &op{} // matches, changes nothing: a later entry must not apply
				}
				if err := l.table.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, o); err != nil {
					return nil, err
				}
				used = true
			}
		}
	}
	if !used {
		return nil, nil
	}
	if !t.contextVars {
		t.vars = nil
	}
	for i, n := range t.vars {
		if late(n) {
			t.late = append(t.late, i)
		}
	}
	return t, nil
}

// HasResponse reports whether upstream responses are changed.
func (t *Transforms) HasResponse() bool {
	if t == nil {
		return false
	}
	if !t.response.Empty() {
		return true
	}
	for _, v := range t.versions {
		if v.response != nil || len(v.processors) > 0 {
			return true
		}
	}
	return false
}

// meta returns the session's meta_data of the request, or nil.
func meta(r *http.Request) map[string]any {
	if st := reqctx.From(r); st != nil && st.Session != nil {
		return st.Session.MetaData
	}
	return nil
}

// ctxValues returns the context variable values for the request, those known only once auth
// ran (late: the key, a JWT's claims) filled in.
func (t *Transforms) ctxValues(r *http.Request, c *chain.Context) []string {
	vals := c.ContextVars
	for _, i := range t.late {
		if i >= len(vals) {
			break
		}
		if n := t.vars[i]; n == "token" {
			if st := reqctx.From(r); st != nil {
				vals[i] = st.Token
			}
		} else {
			vals[i] = contextVar(n, r, c, nil)
		}
	}
	return vals
}

// Step returns the request step (Tyk's TransformHeaders), or ok false when requests are not
// changed.
func (t *Transforms) Step() (chain.Step, bool) {
	if t == nil {
		return chain.Step{}, false
	}
	has := !t.request.Empty()
	for _, v := range t.versions {
		has = has || v.request != nil
	}
	return chain.Step{Name: "transform_headers", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		v := t.versions[c.Version]
		o, found := t.request.Lookup(c.Version, r.Method, c.Readings)
		if (v == nil || v.request == nil) && !found {
			return nil
		}
		ctx, m := t.ctxValues(r, c), meta(r)
		us := hasUnderscore(r.Header)
		if v != nil && v.request != nil {
			v.request.apply(r.Header, ctx, m, us)
		}
		if found {
			o.apply(r.Header, ctx, m, us)
		}
		return nil
	}}, has
}

// Response changes an upstream response (Tyk's HeaderInjector): the matching
// transform_response_headers entry, then the version's global response headers, then the
// response_processors' header_injector options. req is the client's request as forwarded, c
// its gateway context; the entry is matched with the client's method, not the one a method
// transform forwarded (c.ResponseMethod).
func (t *Transforms) Response(res *http.Response, req *http.Request, c *chain.Context) {
	v := t.versions[c.Version]
	o, found := t.response.Lookup(c.Version, c.ResponseMethod(req), c.Readings)
	if (v == nil || v.response == nil && len(v.processors) == 0) && !found {
		return
	}
	ctx, m := t.ctxValues(req, c), meta(req)
	if found {
		o.apply(res.Header, ctx, m, false)
	}
	if v == nil {
		return
	}
	if v.response != nil {
		v.response.apply(res.Header, ctx, m, false)
	}
	for _, p := range v.processors {
		p.apply(res.Header, ctx, m, false)
	}
}
