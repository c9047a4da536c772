package apidef

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MaxListenPathLength bounds listen paths; longer ones are refused.
const MaxListenPathLength = 1024

// Validate checks the fields Gatehouse relies on and returns every problem found, joined.
// It does not report unsupported features; see Unsupported.
func (a *APIDefinition) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := ValidateAPIID(a.APIID); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateListenPath(a.Proxy.ListenPath); err != nil {
		errs = append(errs, err)
	}
	if a.Domain != "" {
		if err := validateDomain(a.Domain); err != nil {
			errs = append(errs, err)
		}
	}
	// With service discovery the targets are the discovery service's: target_url only stands in
	// until it first answers, and may be left empty.
	discovered := a.Proxy.ServiceDiscovery.UseDiscoveryService
	if a.Proxy.EnableLoadBalancing {
		if len(a.Proxy.Targets) == 0 && !discovered {
			add("proxy.target_list: load balancing is enabled but the list is empty")
		}
		if discovered && a.Proxy.TargetURL != "" {
			if err := ValidateTargetURL(a.Proxy.TargetURL); err != nil {
				add("proxy.target_url: %w", err)
			}
		}
		for i, t := range a.Proxy.Targets {
			if err := ValidateTargetURL(t); err != nil {
				add("proxy.target_list[%d]: %w", i, err)
			}
		}
	} else if IsLoopTarget(a.Proxy.TargetURL) {
		if err := ValidateLoopTarget(a.Proxy.TargetURL); err != nil {
			add("proxy.target_url: %w", err)
		}
	} else if !discovered || a.Proxy.TargetURL != "" {
		if err := ValidateTargetURL(a.Proxy.TargetURL); err != nil {
			add("proxy.target_url: %w", err)
		}
	}
	if p := a.Proxy.Transport.ProxyURL; p != "" {
		if err := validateProxyURL(p); err != nil {
			add("proxy.transport.proxy_url: %w", err)
		}
	}
	errs = append(errs, a.validateUptimeTests()...)
	errs = append(errs, a.validateJWT()...)
	errs = append(errs, a.validateProcessors()...)
	errs = append(errs, a.validateUpstreamAuth()...)
	errs = append(errs, a.validateRequestSigning()...)
	errs = append(errs, a.validateServiceDiscovery()...)
	if !a.ErrorOverridesDisabled {
		errs = append(errs, a.ErrorOverrides.Validate("error_overrides")...)
	}
	errs = append(errs, a.validateUpstreamTLS()...)
	errs = append(errs, a.validateHMAC()...)
	errs = append(errs, a.validateAuthMethods()...)
	errs = append(errs, a.validateOAuth()...)
	errs = append(errs, a.validateBasicAuth()...)
	if !a.UseKeylessAccess {
		c := a.AuthTokenConfig()
		if c.UseParam && c.ParamName == "" && c.AuthHeaderName == "" {
			add("auth: use_param is set but neither param_name nor auth_header_name names the parameter")
		}
		if c.UseCookie && c.CookieName == "" && c.AuthHeaderName == "" {
			add("auth: use_cookie is set but neither cookie_name nor auth_header_name names the cookie")
		}
	}
	// A disabled limit is never applied, so its numbers are not checked.
	if rl := a.GlobalRateLimit; !rl.Disabled {
		errs = append(errs, CheckRate("global_rate_limit: ", rl.Rate, rl.Per)...)
	}
	if a.SessionLifetime < 0 || a.SessionLifetime > MaxPeriod {
		add("session_lifetime: must be between 0 and %d seconds", MaxPeriod)
	}
	errs = append(errs, a.validateVersions()...)
	errs = append(errs, a.validateVersionAPIs()...)
	errs = append(errs, a.validateTraffic()...)
	return errors.Join(errs...)
}

func (a *APIDefinition) validateVersions() []error {
	var errs []error
	vd := a.VersionData
	if len(vd.Versions) == 0 {
		return nil // an API with no versions serves as not versioned with empty lists
	}
	if !vd.NotVersioned && len(vd.Versions) > 1 {
		switch a.VersionDefinition.Location {
		case "header", "url-param", "url":
		default:
			errs = append(errs, fmt.Errorf("definition.location: %q is not one of header, url-param, url; it is needed when version_data has several versions and not_versioned is false", a.VersionDefinition.Location))
		}
	}
	if vd.DefaultVersion != "" {
		if _, ok := vd.Versions[vd.DefaultVersion]; !ok {
			errs = append(errs, fmt.Errorf("version_data.default_version: %q is not among the versions", vd.DefaultVersion))
		}
	}
	if a.Expiration != "" && a.Expiration != "-1" {
		if _, err := time.Parse(ExpiresLayout, a.Expiration); err != nil {
			errs = append(errs, fmt.Errorf("expiration: %q is not a date like %q (UTC), or -1 for never", a.Expiration, ExpiresLayout))
		}
	}
	for name, v := range vd.Versions {
		if v.Expires != "" && v.Expires != "-1" {
			if _, err := time.Parse(ExpiresLayout, v.Expires); err != nil {
				errs = append(errs, fmt.Errorf("version_data.versions[%q].expires: %q is not a date like %q", name, v.Expires, ExpiresLayout))
			}
		}
		if v.OverrideTarget != "" {
			if err := ValidateTargetURL(v.OverrideTarget); err != nil {
				errs = append(errs, fmt.Errorf("version_data.versions[%q].override_target: %w", name, err))
			}
		}
		if v.GlobalSizeLimit < 0 {
			errs = append(errs, fmt.Errorf("version_data.versions[%q].global_size_limit: must not be negative", name))
		}
	}
	return errs
}

// ValidateAPIID checks that id can name an API in URLs and as a file name.
func ValidateAPIID(id string) error {
	if id == "" {
		return errors.New("api_id: missing")
	}
	if len(id) > 128 {
		return errors.New("api_id: longer than 128 characters")
	}
	if id[0] == '.' {
		return fmt.Errorf("api_id: %q must not start with a dot", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("api_id: %q may hold only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// ValidateListenPath checks a listen path: absolute, canonical (no empty, `.` or `..` segments),
// and free of characters that need escaping or that Tyk reads as patterns.
func ValidateListenPath(p string) error {
	switch {
	case p == "":
		return errors.New("proxy.listen_path: missing")
	case len(p) > MaxListenPathLength:
		return fmt.Errorf("proxy.listen_path: longer than %d characters", MaxListenPathLength)
	case p[0] != '/':
		return fmt.Errorf("proxy.listen_path: %q must start with '/'", p)
	}
	for _, c := range p {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`%?#{}*\"<>|^`+"`", c) {
			return fmt.Errorf("proxy.listen_path: %q holds %q; listen paths are plain path segments (no spaces, escapes, patterns or variables)", p, c)
		}
	}
	if p == "/" {
		return nil
	}
	// Only one trailing slash may be dropped: every other segment must be a real one.
	segs := strings.Split(strings.TrimSuffix(p[1:], "/"), "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return fmt.Errorf("proxy.listen_path: %q has an empty, '.' or '..' segment", p)
		}
	}
	return nil
}

// validateProxyURL checks an outbound proxy's URL: http, https or socks5 with a host. The
// URL may carry credentials, so it is never quoted back.
func validateProxyURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return fmt.Errorf("scheme %q: use http, https or socks5", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	return nil
}

// ValidateTargetURL checks an upstream URL: http, https or h2c (cleartext HTTP/2) with a host.
func ValidateTargetURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch u.Scheme {
	case "http", "https", "h2c":
	case "tyk":
		return fmt.Errorf("%q: looping (tyk://) is supported in proxy.target_url and URL rewrites only", s)
	default:
		return fmt.Errorf("%q: scheme must be http or https (or h2c for cleartext HTTP/2)", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: a target URL may not carry a query or fragment", s)
	}
	return nil
}

func validateDomain(d string) error {
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("domain: %q may hold only a host name and optional port (patterns are not supported)", d)
		}
	}
	return nil
}

// Unsupported lists the features the definition enables that Gatehouse does not implement and
// that guard or shape traffic. A definition with any of them must not be served: serving it
// without them could let in requests it was meant to refuse.
func (a *APIDefinition) Unsupported() []string {
	var out []string
	flag := func(on bool, what string) {
		if on {
			out = append(out, what)
		}
	}
	flag(a.ListenPort != 0, "a listen_port of its own")
	flag(a.Protocol != "" && a.Protocol != "http", fmt.Sprintf("protocol %q", a.Protocol))
	if !a.UseKeylessAccess {
		flag(a.UseOpenID, "OpenID Connect (use_openid)")
		out = append(out, a.unsupportedHMAC()...)
		out = append(out, a.unsupportedAuthMethods()...)
		flag(a.ExternalOAuth.On(), "external OAuth (external_oauth)")
		c, where := a.authTokenConfig()
		flag(c.ValidateSignature, fmt.Sprintf("request signatures (%s.validate_signature)", where))
	}
	flag(a.CORS.Enabled && !a.CORS.Enable, "CORS.enabled (Tyk's Classic field is CORS.enable)")
	flag(a.GraphQL.On(), "GraphQL (graphql.enabled)")
	flag(a.UpstreamAuth.Enabled && a.UpstreamAuth.OAuth.On(), "upstream OAuth (upstream_auth.oauth)")
	out = append(out, a.unsupportedProcessors()...)
	out = append(out, a.unsupportedUptime()...)
	if a.CustomMiddleware.Enabled() && a.CustomMiddleware.Driver != GoPluginDriver {
		out = append(out, fmt.Sprintf("custom_middleware driver %q (only %q is supported)", a.CustomMiddleware.Driver, GoPluginDriver))
	}

	for name, v := range a.VersionData.Versions {
		ep := v.ExtendedPaths
		lists := []struct {
			name    string
			entries []json.RawMessage
		}{
			{"transform_jq", ep.TransformJQ},
			{"transform_jq_response", ep.TransformJQResponse},
			{"virtual", ep.Virtual},
			{"validate_request", ep.ValidateRequest},
			{"persist_graphql", ep.PersistGraphQL},
		}
		for _, l := range lists {
			if anyEnabled(l.entries) {
				out = append(out, fmt.Sprintf("version %q: extended_paths.%s", name, l.name))
			}
		}
		for _, list := range [][]EndPointMeta{ep.Ignored, ep.WhiteList, ep.BlackList} {
			for _, e := range list {
				for m, act := range e.MethodActions {
					if act.Action != "" && act.Action != ActionNoAction && act.Action != ActionReply && !e.Disabled {
						out = append(out, fmt.Sprintf("version %q: endpoint %q method %s action %q (only no_action and reply are supported)", name, e.Path, m, act.Action))
					}
				}
			}
		}
	}
	return append(out, a.unsupportedHeaderVars()...)
}

// Inert lists the fields the definition sets that Gatehouse reads but that change nothing, with
// why: they have no effect in Tyk either for what Gatehouse serves (Go plugins), or what they
// would act on is refused where it appears.
func (a *APIDefinition) Inert() []string {
	var out []string
	if a.EnableJWT && len(a.JWTJwksURIs) > 0 && a.JWTSource != "" {
		out = append(out, "jwt_source (jwt_jwks_uris are used in its place; Tyk reads them for Tyk OAS APIs only, so a Classic definition from Tyk verifies with jwt_source there)")
	}
	if a.EnableContextVars && !a.usesHeaderVar(contextVarPrefix) && !a.usesContextVarsOutsideHeaders() {
		out = append(out, "enable_context_vars (no header transform, URL rewrite or body transform uses context variables, and Go plugins read the request itself)")
	}
	cm := a.CustomMiddleware
	if cm.IdExtractor.ExtractFrom != "" || cm.IdExtractor.ExtractWith != "" {
		out = append(out, "custom_middleware.id_extractor (Tyk uses it for co-process auth plugins only; a Go auth_check plugin runs on every request)")
	}
	var session, raw bool
	for _, list := range [][]MiddlewareDefinition{cm.Pre, cm.Post, cm.PostKeyAuth, cm.Response, {cm.AuthCheck}} {
		for _, d := range list {
			session = session || d.RequireSession
			raw = raw || d.RawBodyOnly
		}
	}
	if session {
		out = append(out, "require_session on a hook (for JavaScript plugins in Tyk; a Go plugin reads the session with GetSession)")
	}
	if raw {
		out = append(out, "raw_body_only on a hook (for co-process plugins in Tyk; a Go plugin reads the request body itself)")
	}
	if a.VersionData.NotVersioned {
		for _, name := range slices.Sorted(maps.Keys(a.VersionData.Versions)) {
			if e := a.VersionData.Versions[name].Expires; e != "" && e != "-1" {
				out = append(out, fmt.Sprintf("version_data.versions[%q].expires (the API is not versioned: its expiration applies, as in Tyk)", name))
			}
		}
	}
	if a.Expiration != "" && a.Expiration != "-1" && !a.VersionData.NotVersioned {
		out = append(out, "expiration (the API is versioned: each version's expires applies, as in Tyk)")
	}
	if procs, _ := a.Processors(); slices.ContainsFunc(procs, func(p ResponseProcessor) bool { return p.Name == ProcessorResponseBodyTransform }) {
		out = append(out, "response_processors response_body_transform (every extended_paths.transform_response entry runs without it, as in today's Tyk)")
	}
	var cachePaths bool
	for _, v := range a.VersionData.Versions {
		cachePaths = cachePaths || v.UseExtendedPaths && len(v.ExtendedPaths.Cached)+len(v.ExtendedPaths.AdvanceCacheConfig) > 0
	}
	if a.CacheOptions.EnableCache && !a.CacheOptions.CacheAllSafeRequests && !cachePaths {
		out = append(out, "cache_options.enable_cache without cache_all_safe_requests or an extended_paths.cache or advance_cache_config entry (nothing is cached)")
	}
	for _, name := range slices.Sorted(maps.Keys(a.VersionData.Versions)) {
		v := a.VersionData.Versions[name]
		if v.UseExtendedPaths && len(v.Paths.Ignored) > 0 {
			out = append(out, fmt.Sprintf("version_data.versions[%q].paths.ignored (the version sets use_extended_paths, so, as in Tyk, the legacy lists do not apply: use extended_paths.ignored)", name))
		}
		if _, others := v.ExtendedPathsOff(); len(others) > 0 {
			out = append(out, fmt.Sprintf("version_data.versions[%q].extended_paths.%s (the version does not set use_extended_paths, so, as in Tyk, no extended_paths entry applies: set \"use_extended_paths\": true to apply them)", name, strings.Join(others, ", extended_paths.")))
		}
	}
	if v := a.VersionDefinition.APIs(); v.FallbackToDefault && !v.Enabled {
		out = append(out, "definition.fallback_to_default (it is for versions served by other APIs: an unknown version_data version is refused, as in Tyk)")
	}
	if !a.JWTClaimValidation.IsZero() && (!a.EnableJWT || a.UseKeylessAccess) {
		out = append(out, "jwt_claim_validation (the API does not use JWT auth: no token is checked)")
	}
	out = append(out, a.inertEvents()...)
	return append(out, a.inertUptime()...)
}

func nonEmptyJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}" && s != "[]" && s != `""`
}

// anyEnabled reports whether a list of endpoint entries holds one that is not disabled.
func anyEnabled(entries []json.RawMessage) bool {
	for _, e := range entries {
		var meta struct {
			Disabled bool `json:"disabled"`
		}
		if json.Unmarshal(e, &meta) != nil || !meta.Disabled {
			return true
		}
	}
	return false
}

func enabledTemplates(entries []TemplateMeta) bool {
	for _, e := range entries {
		if !e.Disabled {
			return true
		}
	}
	return false
}
