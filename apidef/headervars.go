package apidef

import (
	"fmt"
	"sort"
	"strings"
)

// The variables header transform values may hold, as Tyk spells them.
const (
	contextVarPrefix = "$tyk_context."
	metaVarPrefix    = "$tyk_meta."
	secretVarPrefix  = "$secret_"
)

// unsupportedContextVars are the $tyk_context names Tyk fills from middleware Gatehouse does not
// run the same way (rate limit and quota counters): a value using one would reach the upstream
// differently, so the definition is refused.
var unsupportedContextVars = []string{"rate_limit_", "quota_"}

// unsupportedContextVarsIn returns, in order of appearance, the unsupportedContextVars prefix of
// each $tyk_context variable in s that names one.
func unsupportedContextVarsIn(s string) []string {
	var out []string
	for rest := s; ; {
		i := strings.Index(rest, contextVarPrefix)
		if i < 0 {
			return out
		}
		rest = rest[i+len(contextVarPrefix):]
		for _, p := range unsupportedContextVars {
			if strings.HasPrefix(rest, p) {
				out = append(out, p)
			}
		}
	}
}

// eachHeaderValue calls fn with where and the value of every header transform value of the
// definition that applies (request and response, version-wide and per endpoint).
func (a *APIDefinition) eachHeaderValue(fn func(where, value string)) {
	names := make([]string, 0, len(a.VersionData.Versions))
	for name := range a.VersionData.Versions {
		names = append(names, name)
	}
	sort.Strings(names)
	each := func(where string, m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fn(fmt.Sprintf("%s[%q]", where, k), m[k])
		}
	}
	for _, name := range names {
		v := a.VersionData.Versions[name]
		at := fmt.Sprintf("version %q: ", name)
		if !v.GlobalHeadersDisabled {
			each(at+"global_headers", v.GlobalHeaders)
		}
		if !v.GlobalResponseHeadersDisabled {
			each(at+"global_response_headers", v.GlobalResponseHeaders)
			for i, o := range a.HeaderInjectors() {
				each(fmt.Sprintf("%sresponse_processors header_injector %d: add_headers", at, i), o.AddHeaders)
			}
		}
		if !v.UseExtendedPaths {
			continue
		}
		for _, l := range []struct {
			name    string
			entries []HeaderInjectionMeta
		}{{"transform_headers", v.ExtendedPaths.TransformHeader}, {"transform_response_headers", v.ExtendedPaths.TransformResponseHeader}} {
			for i, e := range l.entries {
				if !e.Disabled {
					each(fmt.Sprintf("%sextended_paths.%s[%d].add_headers", at, l.name, i), e.AddHeaders)
				}
			}
		}
	}
}

// usesHeaderVar reports whether a header transform value holds a variable with the prefix.
func (a *APIDefinition) usesHeaderVar(prefix string) bool {
	used := false
	a.eachHeaderValue(func(_, v string) { used = used || strings.Contains(v, prefix) })
	return used
}

// unsupportedSecretIn returns the first secret variable of s that Gatehouse does not resolve
// ($secret_vault, $secret_consul, $secret_file: Gatehouse reads no key-value store), as far as
// its kind ("$secret_vault"), or "". $secret_env and $secret_conf are resolved.
func unsupportedSecretIn(s string) string {
	for rest := s; ; {
		i := strings.Index(rest, secretVarPrefix)
		if i < 0 {
			return ""
		}
		rest = rest[i:]
		if !strings.HasPrefix(rest, "$secret_env.") && !strings.HasPrefix(rest, "$secret_conf.") {
			end := len(secretVarPrefix)
			for end < len(rest) && (rest[end] >= 'a' && rest[end] <= 'z' || rest[end] >= 'A' && rest[end] <= 'Z' || rest[end] >= '0' && rest[end] <= '9' || rest[end] == '_') {
				end++
			}
			return rest[:end]
		}
		rest = rest[len(secretVarPrefix):]
	}
}

// unsupportedHeaderVars lists the header transform values that use variables Gatehouse does not
// substitute: secrets from key-value stores ($secret_vault, $secret_consul, $secret_file), and
// the context variables of unsupportedContextVars. Tyk would send the secret or the value;
// Gatehouse would send the variable's text.
func (a *APIDefinition) unsupportedHeaderVars() []string {
	var out []string
	a.eachHeaderValue(func(where, v string) {
		if sv := unsupportedSecretIn(v); sv != "" {
			out = append(out, fmt.Sprintf("%s: secret variable %s (only $secret_env and $secret_conf are read)", where, sv))
		}
		for _, p := range unsupportedContextVarsIn(v) {
			out = append(out, fmt.Sprintf("%s: context variable $tyk_context.%s*", where, p))
		}
	})
	return out
}
