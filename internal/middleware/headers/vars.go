package headers

import (
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/iplist"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// maxFormBody bounds the form body read for request_data, as net/http's ParseForm does.
const maxFormBody = 10 << 20

// VarsStep returns the step that takes the request's context variables (Tyk's
// MiddlewareContextVars, after the pre plugins and before auth), or ok false when no value uses
// one or enable_context_vars is off. Only the variables the values use are computed.
func (t *Transforms) VarsStep() (chain.Step, bool) {
	if t == nil || len(t.vars) == 0 {
		return chain.Step{}, false
	}
	form := false
	for _, n := range t.vars {
		form = form || n == "request_data" || strings.HasPrefix(n, "request_data_")
	}
	return chain.Step{Name: "context_vars", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		var values url.Values
		if form {
			var err error
			if values, err = formValues(r); err != nil {
				return chain.Errorf(http.StatusBadRequest, chain.MsgBadRequest, err)
			}
		}
		vals := make([]string, len(t.vars))
		for i, n := range t.vars {
			vals[i] = contextVar(n, r, c, values)
		}
		c.ContextVars = vals
		return nil
	}}, true
}

// JWTClaimsPrefix begins the context variables holding a JWT's header parameters and claims
// (jwt_claims_sub), set by JWT auth.
const JWTClaimsPrefix = "jwt_claims_"

// late reports whether the context variable n is known only once auth ran: the key (token)
// and a JWT's claims.
func late(n string) bool { return n == "token" || strings.HasPrefix(n, JWTClaimsPrefix) }

// contextVar is one of Tyk's request context variables; an unknown name is empty.
func contextVar(n string, r *http.Request, c *chain.Context, form url.Values) string {
	switch n {
	case "path":
		return r.URL.Path
	case "path_parts":
		// Tyk's valToStr of strings.Split(path, "/"), joined with the leading empty part trimmed.
		return strings.TrimPrefix(strings.ReplaceAll(r.URL.Path, "/", ","), ",")
	case "remote_addr":
		if c.ClientIP.IsValid() {
			return c.ClientIP.String()
		}
		if a := iplist.ClientAddr(r.RemoteAddr, nil, nil); a.IsValid() {
			return a.String()
		}
		return ""
	case "request_id":
		if c.RequestID == "" {
			c.RequestID = newUUID()
		}
		return c.RequestID
	case "headers_Host":
		return r.Host
	case "tyk_trace_id":
		return c.TraceID
	case "request_data":
		// Tyk formats url.Values as key:v1,v2;key2:v (in map order; sorted here).
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(k + ":" + strings.Join(form[k], ","))
		}
		return b.String()
	case "token", "headers":
		// token is filled in after auth; headers (a map) renders empty in Tyk.
		return ""
	}
	switch {
	case strings.HasPrefix(n, JWTClaimsPrefix):
		return MetaValue(c.JWTClaims()[n[len(JWTClaimsPrefix):]])
	case strings.HasPrefix(n, "headers_"):
		want := n[len("headers_"):]
		for k, v := range r.Header {
			if len(v) > 0 && strings.ReplaceAll(k, "-", "_") == want {
				return v[0]
			}
		}
	case strings.HasPrefix(n, "request_data_"):
		want := n[len("request_data_"):]
		for k, v := range form {
			if len(v) > 0 && strings.ReplaceAll(k, "-", "_") == want {
				return v[0]
			}
		}
	case strings.HasPrefix(n, "cookies_"):
		want := n[len("cookies_"):]
		for _, ck := range r.Cookies() {
			if strings.ReplaceAll(ck.Name, "-", "_") == want {
				return ck.Value
			}
		}
	}
	return ""
}

// formValues returns the request's form and query values as ParseForm would (body values
// first), leaving the body readable for the upstream and r.Form unset.
func formValues(r *http.Request) (url.Values, error) {
	out := url.Values{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" && r.Body != nil && r.Body != http.NoBody &&
		(r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil {
			return nil, fmt.Errorf("reading the form body: %w", err)
		}
		if len(raw) > maxFormBody {
			return nil, fmt.Errorf("form body over %d bytes", maxFormBody)
		}
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		if body, err := url.ParseQuery(string(raw)); err == nil {
			out = body
		}
	}
	for k, v := range r.URL.Query() {
		out[k] = append(out[k], v...)
	}
	return out, nil
}

// newUUID returns a random (version 4) UUID, as Tyk's request_id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// UsesVar reports whether a value uses the context variable name (and enable_context_vars is
// on), so that the gateway decides what it needs, such as the client address, only then.
func (t *Transforms) UsesVar(name string) bool {
	return t != nil && slices.Contains(t.vars, name)
}

// ContextValue returns the request context variable name as it is now (Tyk's
// `$tyk_context.<name>`), for middleware after auth that substitutes variables (URL rewrites,
// body transforms): the same names as the header transforms', `token` included. A form body
// read for request_data is put back for the upstream.
func ContextValue(name string, r *http.Request, c *chain.Context) (string, error) {
	if name == "token" {
		if st := reqctx.From(r); st != nil {
			return st.Token, nil
		}
		return "", nil
	}
	var form url.Values
	if name == "request_data" || strings.HasPrefix(name, "request_data_") {
		var err error
		if form, err = formValues(r); err != nil {
			return "", err
		}
	}
	return contextVar(name, r, c, form), nil
}
