// Package cors answers browsers' cross-origin checks for an API with a Classic `CORS` block, as
// Tyk does with rs/cors v1.11: a preflight (OPTIONS with Access-Control-Request-Method) is
// answered 204 by the gateway, with the Access-Control-Allow-* headers when the origin, method
// and headers are allowed and without them otherwise; any other OPTIONS request gets an empty
// 200; other requests go on, with Access-Control-Allow-Origin (and the credentials and exposed
// headers) added when their origin is allowed. A disallowed origin is never refused: the
// browser refuses it for want of the headers, which the upstream cannot supply either (the
// gateway drops the upstream's own Access-Control-* headers; unlike Tyk, which drops only those
// it set itself). With options_passthrough, OPTIONS requests go to the upstream untouched,
// skipping every later step of the chain, auth included, as in Tyk, and the upstream's answer
// to them keeps its CORS headers (chain.Context.CORSPassthrough).
package cors

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/hdrname"
)

// Policy is a compiled CORS block.
type Policy struct {
	originsAll     bool
	origins        []string // lower case
	wildcards      []wildcard
	methods        []string // upper case
	headersAll     bool
	headers        []string // lower case
	exposed        string   // Access-Control-Expose-Headers, "" for none
	credentials    bool
	maxAge         string // Access-Control-Max-Age, "" for none
	passthrough    bool
	debug          bool
	log            *slog.Logger
	apiID          string
	preflightVary  []string
	actualVary     []string
	headerTrue     []string
	headerAllowAll []string
}

type wildcard struct{ prefix, suffix string }

func (w wildcard) match(s string) bool {
	return len(s) >= len(w.prefix)+len(w.suffix) && strings.HasPrefix(s, w.prefix) && strings.HasSuffix(s, w.suffix)
}

// New compiles a CORS block with rs/cors' defaults: every origin when none is listed; GET,
// POST and HEAD when no method is; Accept, Content-Type and X-Requested-With (and Origin,
// always) when no header is.
func New(c apidef.CORSConfig, apiID string, log *slog.Logger) *Policy {
	p := &Policy{
		credentials:    c.AllowCredentials,
		passthrough:    c.OptionsPassthrough,
		debug:          c.Debug,
		log:            log,
		apiID:          apiID,
		preflightVary:  []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
		actualVary:     []string{"Origin"},
		headerTrue:     []string{"true"},
		headerAllowAll: []string{"*"},
	}
	if len(c.AllowedOrigins) == 0 {
		p.originsAll = true
	}
	for _, o := range c.AllowedOrigins {
		o = strings.ToLower(strings.TrimSpace(o))
		if o == "*" {
			p.originsAll, p.origins, p.wildcards = true, nil, nil
			break
		}
		if i := strings.IndexByte(o, '*'); i >= 0 {
			p.wildcards = append(p.wildcards, wildcard{o[:i], o[i+1:]})
		} else {
			p.origins = append(p.origins, o)
		}
	}
	if len(c.AllowedMethods) == 0 {
		p.methods = []string{http.MethodGet, http.MethodPost, http.MethodHead}
	}
	for _, m := range c.AllowedMethods {
		p.methods = append(p.methods, strings.ToUpper(strings.TrimSpace(m)))
	}
	hs := c.AllowedHeaders
	if len(hs) == 0 {
		hs = []string{"Accept", "Content-Type", "X-Requested-With"}
	}
	p.headers = []string{"origin"}
	for _, h := range hs {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			p.headersAll, p.headers = true, nil
			break
		}
		p.headers = append(p.headers, h)
	}
	if len(c.ExposedHeaders) > 0 {
		ex := make([]string, len(c.ExposedHeaders))
		for i, h := range c.ExposedHeaders {
			ex[i] = http.CanonicalHeaderKey(strings.TrimSpace(h))
		}
		p.exposed = strings.Join(ex, ", ")
	}
	switch {
	case c.MaxAge > 0:
		p.maxAge = strconv.Itoa(c.MaxAge)
	case c.MaxAge < 0:
		p.maxAge = "0" // as rs/cors: a negative max_age asks browsers not to cache
	}
	return p
}

// UnsafeAnyOrigin reports whether the policy lets every origin make credentialed requests (the
// request's origin is echoed back, as rs/cors does): worth a warning when the API loads.
func (p *Policy) UnsafeAnyOrigin() bool { return p.originsAll && p.credentials }

// Step returns the chain step.
func (p *Policy) Step() chain.Step {
	return chain.Step{Name: "cors", Run: p.run}
}

func (p *Policy) run(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	if r.Method == http.MethodOptions {
		if p.passthrough {
			if p.debug {
				p.debugf(r, "OPTIONS request passed through to the upstream")
			}
			dropMethodOverrides(r.Header)
			c.CORSPassthrough = true
			return chain.ErrForward
		}
		if r.Header.Get("Access-Control-Request-Method") != "" {
			p.preflight(w, r)
			w.WriteHeader(http.StatusNoContent)
			return chain.ErrHandled
		}
		// As in Tyk: an OPTIONS request that is not a preflight stops here too.
		if p.debug {
			p.debugf(r, "OPTIONS request that is not a preflight answered without headers")
		}
		w.WriteHeader(http.StatusOK)
		return chain.ErrHandled
	}
	p.actual(w, r)
	return nil
}

// preflight sets the headers of a preflight answer.
func (p *Policy) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	addVary(h, p.preflightVary)
	origin := r.Header.Get("Origin")
	if origin == "" {
		if p.debug {
			p.debugf(r, "preflight aborted: no Origin")
		}
		return
	}
	if !p.originAllowed(origin) {
		if p.debug {
			p.debugf(r, "preflight aborted: origin not allowed", "origin", origin)
		}
		return
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !p.methodAllowed(method) {
		if p.debug {
			p.debugf(r, "preflight aborted: method not allowed", "request_method", method)
		}
		return
	}
	reqHeaders := r.Header.Values("Access-Control-Request-Headers")
	if !p.headersAllowed(reqHeaders) {
		if p.debug {
			p.debugf(r, "preflight aborted: headers not allowed", "request_headers", strings.Join(reqHeaders, ","))
		}
		return
	}
	p.setOrigin(h, origin)
	h.Set("Access-Control-Allow-Methods", strings.ToUpper(method))
	if len(reqHeaders) > 0 && strings.TrimSpace(strings.Join(reqHeaders, "")) != "" {
		h.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ", "))
	}
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = p.headerTrue
	}
	if p.maxAge != "" {
		h.Set("Access-Control-Max-Age", p.maxAge)
	}
}

// actual sets the headers of an answer to a cross-origin request when its origin and method
// are allowed.
func (p *Policy) actual(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	addVary(h, p.actualVary)
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	if !p.originAllowed(origin) {
		if p.debug {
			p.debugf(r, "no CORS headers: origin not allowed", "origin", origin)
		}
		return
	}
	if !p.methodAllowed(r.Method) {
		if p.debug {
			p.debugf(r, "no CORS headers: method not allowed", "method", r.Method)
		}
		return
	}
	p.setOrigin(h, origin)
	if p.exposed != "" {
		h.Set("Access-Control-Expose-Headers", p.exposed)
	}
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = p.headerTrue
	}
}

func (p *Policy) setOrigin(h http.Header, origin string) {
	if p.originsAll && !p.credentials {
		h["Access-Control-Allow-Origin"] = p.headerAllowAll
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
}

func (p *Policy) originAllowed(origin string) bool {
	if p.originsAll {
		return true
	}
	origin = strings.ToLower(origin)
	for _, o := range p.origins {
		if o == origin {
			return true
		}
	}
	for _, w := range p.wildcards {
		if w.match(origin) {
			return true
		}
	}
	return false
}

func (p *Policy) methodAllowed(method string) bool {
	if len(p.methods) == 0 {
		return false
	}
	method = strings.ToUpper(method)
	if method == http.MethodOptions {
		return true // preflights are always allowed
	}
	for _, m := range p.methods {
		if m == method {
			return true
		}
	}
	return false
}

// headersAllowed checks the comma-separated header names a preflight asks for.
func (p *Policy) headersAllowed(values []string) bool {
	if p.headersAll {
		return true
	}
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			found := false
			for _, h := range p.headers {
				if h == name {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// addVary adds a Vary value. A response without Vary shares the policy's slice, so that the
// common case allocates nothing: its length is its capacity, so appending to it copies.
func addVary(h http.Header, v []string) {
	if old := h["Vary"]; len(old) > 0 {
		h["Vary"] = append(old, v...)
		return
	}
	h["Vary"] = v
}

// debugf logs a CORS decision; callers check p.debug first, so nothing is built otherwise.
func (p *Policy) debugf(r *http.Request, msg string, args ...any) {
	if p.log == nil {
		return
	}
	p.log.Info("cors: "+msg, append([]any{"api_id", p.apiID, "method", r.Method}, args...)...)
}

// IsCORSHeader reports whether an upstream response header is a CORS one (Access-Control-*),
// which the gateway drops when the API's CORS is on: the gateway answers CORS for the API.
func IsCORSHeader(name string) bool {
	return len(name) > len("Access-Control-") && strings.EqualFold(name[:len("Access-Control-")], "Access-Control-")
}

// methodOverrides are the headers frameworks read as the request's real method (Rails, Express's
// method-override, Laravel, Spring's HiddenHttpMethodFilter variants, ASP.NET), lower case.
var methodOverrides = [...]string{"x-http-method-override", "x-method-override", "x-http-method"}

// dropMethodOverrides removes the method-override headers, in any case and with '_' for '-' (as
// CGI and WSGI servers read them), from an OPTIONS request options_passthrough sends to the
// upstream without auth, limits or plugins: an upstream honouring them would act on the DELETE
// or PUT they name, unauthenticated. A preflight never carries them; other requests keep them,
// as in Tyk, since clients tunnel PATCH through POST with them.
func dropMethodOverrides(h http.Header) {
	for k := range h {
		for _, n := range methodOverrides {
			if hdrname.Same(k, n) {
				delete(h, k)
			}
		}
	}
}
