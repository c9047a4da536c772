package oas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// Unsupported lists what the extension switches on that Gatehouse does not implement, that
// guards or shapes traffic, and that Classic does not map (what it maps is refused by the Classic
// checks). A definition with any must not be served.
func (d *Document) Unsupported() []string {
	var out []string
	flag := func(on bool, what string) {
		if on {
			out = append(out, what)
		}
	}
	x := &d.Ext
	on := func(f *Feature) bool { return f != nil && f.Enabled }
	if a := x.Server.Authentication; a != nil && a.Enabled {
		flag(on(a.ProtectedResourceMetadata), "OAuth protected resource metadata (server.authentication.protectedResourceMetadata)")
		for _, name := range d.schemeNames() {
			s, ok := d.SecuritySchemes[name]
			if !ok {
				continue
			}
			var f Feature
			_ = json.Unmarshal(a.SecuritySchemes[name], &f)
			t := strings.ToLower(s.Type)
			known := t == "apikey" || t == "oauth2" || t == "openidconnect" || t == "mutualtls" ||
				t == "http" && (strings.EqualFold(s.Scheme, "basic") || strings.EqualFold(s.Scheme, "bearer"))
			flag(f.Enabled && !known, fmt.Sprintf("security scheme %q of type %q", name, strings.TrimSpace(s.Type+" "+s.Scheme)))
			if t == "oauth2" {
				// Tyk's OAuth 2.0 server is mapped (oauthTo); its external OAuth and its
				// OAS-native OAuth 2.0 (tokens from another server) are not served.
				var o OAuthScheme
				_ = json.Unmarshal(a.SecuritySchemes[name], &o)
				flag(f.Enabled && o.external(), fmt.Sprintf("external OAuth (security scheme %q with providers; Classic's external_oauth, which Gatehouse does not serve either: JWT auth with jwksURIs validates such tokens)", name))
				flag(f.Enabled && !o.external() && present(o.ScopeCheck), fmt.Sprintf("OAS-native OAuth 2.0 with scopeCheck (security scheme %q; JWT auth with jwksURIs and scopes validates such tokens)", name))
			}
			// Tyk maps it onto the Classic flag without the certificates to allow, which
			// server.clientCertificates' allowlist gives.
			flag(f.Enabled && t == "mutualtls", fmt.Sprintf("a mutualTLS security scheme (%q; server.clientCertificates with its allowlist is served)", name))
		}
	}
	if m := x.Middleware; m != nil {
		flag(nonEmpty(m.MCPTools) || nonEmpty(m.MCPResources) || nonEmpty(m.MCPPrompts), "MCP proxies (middleware.mcpTools, mcpResources, mcpPrompts)")
	}
	out = append(out, d.unsupportedOperations()...)
	return out
}

// unsupportedOperations lists the switched-on operation middleware Gatehouse does not
// implement, for the operations `paths` declares (others are ignored, as in Tyk).
func (d *Document) unsupportedOperations() []string {
	var out []string
	for _, id := range d.operationIDs() {
		if len(d.OperationsByID(id)) == 0 {
			continue
		}
		m := d.OperationMiddleware(id)
		if m == nil {
			continue
		}
		at := func(field string) string { return "middleware.operations." + id + "." + field }
		for _, f := range []struct {
			name string
			f    *Feature
		}{
			{"virtualEndpoint", m.VirtualEndpoint},
			{"scopeCheck", m.ScopeCheck},
			{"exchange", m.Exchange},
		} {
			if f.f != nil && f.f.Enabled {
				out = append(out, at(f.name))
			}
		}
	}
	return out
}

// Unanchored lists the guards switched on in middleware.operations for an operationId that no
// operation in paths has (allow, block, internal, validateRequest, mockResponse,
// requestSizeLimit, rateLimit), each as `middleware.operations.<id>.<field> is enabled, but no
// operation in paths has operationId "<id>"`. Tyk ignores such an
// entry without a word, so a renamed or misspelt operation silently stops blocking, validating
// or limiting: Gatehouse refuses the API instead (guards never fail open). What fails closed
// without its operation (ignoreAuthentication) or only shapes traffic is noted by Inert.
func (d *Document) Unanchored() []string {
	var out []string
	for _, id := range d.operationIDs() {
		m := d.OperationMiddleware(id)
		if m == nil || len(d.OperationsByID(id)) > 0 {
			continue
		}
		for _, f := range []struct {
			name string
			on   bool
		}{
			{"allow", m.Allow != nil && m.Allow.Enabled},
			{"block", m.Block != nil && m.Block.Enabled},
			{"internal", m.Internal != nil && m.Internal.Enabled},
			{"rateLimit", m.RateLimit != nil && m.RateLimit.Enabled},
			{"requestSizeLimit", m.RequestSizeLimit != nil && m.RequestSizeLimit.Enabled},
			{"validateRequest", m.ValidateRequest != nil && m.ValidateRequest.Enabled},
		} {
			if f.on {
				out = append(out, "middleware.operations."+id+"."+f.name+" is enabled, but no operation in paths has operationId "+strconv.Quote(id))
			}
		}
	}
	return out
}

// Notes lists, as sentences for the Gateway API's answer, what the gateway logs when it loads
// the document (Findings of its Classic form).
func (d *Document) Notes() []string {
	classic, _ := d.Classic()
	ignored, inert := d.Findings(classic)
	out := make([]string, 0, len(ignored)+len(inert))
	for _, f := range ignored {
		out = append(out, f+": Gatehouse does not read this field, so it has no effect (check its spelling and where it is)")
	}
	for _, f := range inert {
		out = append(out, f+": read, but it has no effect")
	}
	return out
}

// Findings lists what the document sets to no effect: the extension's fields Gatehouse does not
// read (Ignored), and what it reads but changes nothing (Inert), classic's first: the API's
// Classic form (the generated one, or the Classic file of Tyk's pair; nil: the document's alone).
func (d *Document) Findings(classic *apidef.APIDefinition) (ignored, inert []string) {
	if classic != nil {
		inert = classic.Inert()
	}
	return d.Ignored(), append(inert, d.Inert()...)
}

// Inert lists what the document sets that Gatehouse reads but that changes nothing, with why:
// it does not guard or shape traffic, or Tyk does not use it either. The gateway logs it once.
func (d *Document) Inert() []string {
	var out []string
	note := func(on bool, what string) {
		if on {
			out = append(out, what)
		}
	}
	x := &d.Ext
	u := &x.Upstream
	note(u.LoadBalancing != nil && !u.LoadBalancing.Enabled && u.LoadBalancing.SkipUnavailableHosts,
		"upstream.loadBalancing.skipUnavailableHosts (load balancing is off: only the load balancer passes over hosts that are down)")
	if ut := u.UptimeTests; ut != nil && ut.Enabled {
		note(ut.HostDownRetestPeriod != "", "upstream.uptimeTests.hostDownRetestPeriod (for service discovery, which uptime tests do not use here)")
	}
	s := &x.Server
	d.inertEventHandlers(note)
	if a := s.Authentication; a != nil && a.Enabled {
		legacy := !d.compliant()
		note(legacy && len(d.Security) > 1, "security requirements after the first (in legacy securityProcessingMode only the first is used, as in Tyk)")
		note(legacy && nonEmpty(a.Security), "server.authentication.security (used in compliant securityProcessingMode only)")
		for _, name := range d.schemeNames() {
			tyks := d.compliant() && (name == "hmac" || name == "custom") // Tyk's own, not OpenAPI's
			note(reflect.ValueOf(d.SecuritySchemes[name]).IsZero() && !tyks, fmt.Sprintf("security requirement %q (components.securitySchemes does not define it)", name))
			if s := d.SecuritySchemes[name]; strings.EqualFold(s.Type, "http") && strings.EqualFold(s.Scheme, "bearer") {
				out = append(out, inertJWT(name, a.SecuritySchemes[name])...)
			}
			if strings.EqualFold(d.SecuritySchemes[name].Type, "oauth2") {
				scoped := false
				for _, req := range d.Security {
					scoped = scoped || len(req[name]) > 0
				}
				note(scoped, fmt.Sprintf("the scopes the security requirements list for %q (Tyk's OAuth 2.0 server does not check them either; a policy per client gives its rights)", name))
			}
		}
		note(a.CustomKeyLifetime != nil && a.CustomKeyLifetime.RespectValidity, "server.authentication.customKeyLifetime.respectValidity")
		if c := a.Custom; c != nil && c.Enabled {
			note(c.Header != nil || c.Query != nil || c.Cookie != nil, "server.authentication.custom header, query and cookie (a Go auth plugin reads the request itself)")
		}
	}
	if m := x.Middleware; m != nil {
		if g := m.Global; g != nil {
			note(g.Cache != nil && g.Cache.Enabled && !g.Cache.CacheAllSafeRequests && !d.anyOperationCache(),
				"middleware.global.cache without cacheAllSafeRequests or an operation's cache (nothing is cached)")
			if tl := g.TrafficLogs; tl != nil {
				note(tl.CustomRetentionPeriod != "", "middleware.global.trafficLogs.customRetentionPeriod")
			}
			note(g.SkipQuotaReset, "middleware.global.skipQuotaReset")
		}
		for _, id := range d.operationIDs() {
			at := "middleware.operations." + id
			if len(d.OperationsByID(id)) == 0 {
				out = append(out, at+" (no operation in paths has this operationId; ignored, as in Tyk)")
				continue
			}
			op := m.Operations[id]
			if op == nil {
				continue
			}
			note(len(op.PostPlugins) > 1, at+".postPlugins after the first (only the first is used, as in Tyk)")
		}
	}
	for _, id := range d.opSecurity {
		out = append(out, "paths: the security of operation "+strconv.Quote(id)+" (operation-level security is not used, as in Tyk; use ignoreAuthentication)")
	}
	return out
}

// Ignored returns, sorted, the x-tyk-api-gateway fields Gatehouse does not know that hold
// something other than a zero value, as dotted paths. The contents of objects it reads only the
// `enabled` flag of are not listed.
func (d *Document) Ignored() []string {
	var out []string
	walk(d.ExtRaw, reflect.TypeFor[Extension](), ExtensionKey+".", &out)
	sort.Strings(out)
	return out
}

var (
	featureType = reflect.TypeFor[Feature]()
	rawType     = reflect.TypeFor[json.RawMessage]()
)

func walk(raw []byte, t reflect.Type, prefix string, out *[]string) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return
	}
	known := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		known[strings.ToLower(name)] = f.Type
	}
	for k, v := range fields {
		ft, ok := known[strings.ToLower(k)]
		if !ok {
			if nonEmpty(v) {
				*out = append(*out, prefix+k)
			}
			continue
		}
		walkValue(v, ft, prefix+k, out)
	}
}

func walkValue(raw json.RawMessage, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == featureType || t == rawType {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		walk(raw, t, path+".", out)
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for i, item := range items {
				walkValue(item, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
			}
		}
	case reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for k, v := range m {
				walkValue(v, t.Elem(), path+"."+k, out)
			}
		}
	}
}

// nonEmpty reports whether a JSON value holds anything but zero values (false, 0, "", null,
// and objects and arrays of those).
func nonEmpty(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return true
	}
	return !isZero(x)
}

func isZero(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		for _, e := range v {
			if !isZero(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !isZero(e) {
				return false
			}
		}
		return true
	}
	return false
}

// anyOperationCache reports whether an operation switches its cache on.
func (d *Document) anyOperationCache() bool {
	m := d.Ext.Middleware
	if m == nil {
		return false
	}
	for _, op := range m.Operations {
		if op != nil && op.Cache != nil && op.Cache.Enabled {
			return true
		}
	}
	return false
}
