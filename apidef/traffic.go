package apidef

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// CORSConfig is the `CORS` block of a definition: the gateway answers browsers' cross-origin
// checks itself, with the semantics of rs/cors v1.11 that Tyk uses.
type CORSConfig struct {
	Enable bool `json:"enable,omitempty"`
	// Enabled is not Tyk's Classic spelling (that is Enable); it is read only so that a
	// definition written with it is refused rather than served without the CORS it asks for.
	Enabled bool `json:"enabled,omitempty"`
	// AllowedOrigins may hold "*" (every origin) and entries with one "*" wildcard
	// (https://*.example.com); empty means every origin.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// AllowedMethods defaults to GET, POST and HEAD.
	AllowedMethods []string `json:"allowed_methods,omitempty"`
	// AllowedHeaders may hold "*"; it defaults to Accept, Content-Type and X-Requested-With.
	AllowedHeaders     []string `json:"allowed_headers,omitempty"`
	ExposedHeaders     []string `json:"exposed_headers,omitempty"`
	AllowCredentials   bool     `json:"allow_credentials,omitempty"`
	MaxAge             int      `json:"max_age,omitempty"`
	OptionsPassthrough bool     `json:"options_passthrough,omitempty"`
	Debug              bool     `json:"debug,omitempty"`
}

// On reports whether the gateway answers CORS for the API (Tyk's `enable`).
func (c *CORSConfig) On() bool { return c.Enable }

// IPAllowListActive reports whether allowed_ips is enforced. As in Tyk 5.14, a non-empty list
// is enforced unless ip_access_control_disabled is set without enable_ip_whitelisting.
func (a *APIDefinition) IPAllowListActive() bool {
	return len(a.AllowedIPs) > 0 && (a.EnableIPWhiteListing || !a.IPAccessControlDisabled)
}

// IPBlockListActive reports whether blacklisted_ips is enforced, by the rule of
// IPAllowListActive.
func (a *APIDefinition) IPBlockListActive() bool {
	return len(a.BlacklistedIPs) > 0 && (a.EnableIPBlacklisting || !a.IPAccessControlDisabled)
}

// ParseIPEntry reads an entry of allowed_ips, blacklisted_ips or trusted_proxies: one IPv4 or
// IPv6 address, or a CIDR range. A single address is returned as the range holding only it. An
// IPv4 address or range written as IPv6 (`::ffff:192.0.2.1`, `::ffff:192.0.2.0/120`) is the
// IPv4 one, as client addresses are compared unmapped (and as Tyk reads it): kept as IPv6, a
// block list would never match the clients it names.
func ParseIPEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range", s)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%q: an IPv4 range written as IPv6 (::ffff:a.b.c.d/n) needs a prefix length of 96 or more; write it as IPv4 (a.b.c.d/%d)", s, max(p.Bits()-96, 0))
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// RequestSizeMeta is an entry of `extended_paths.size_limits`: the largest request body, in
// bytes, for requests with the method to the path.
type RequestSizeMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	SizeLimit  int64  `json:"size_limit"`
}

// RateLimitMeta is an entry of `extended_paths.rate_limit`: an API-level rate limit for
// requests with the method to the path, counted over every client, in place of
// global_rate_limit for them.
type RateLimitMeta struct {
	Disabled bool    `json:"disabled,omitempty"`
	Path     string  `json:"path"`
	Method   string  `json:"method"`
	Rate     float64 `json:"rate"`
	Per      float64 `json:"per"`
}

// HardTimeoutMeta is an entry of `extended_paths.hard_timeouts`: how long the upstream may take
// for requests with the method to the path. Duration ("1.5s"), when set, wins over TimeOut
// (whole seconds).
type HardTimeoutMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	TimeOut    int    `json:"timeout"`
	Duration   string `json:"duration,omitempty"`
}

// Timeout returns the entry's timeout.
func (h HardTimeoutMeta) Timeout() (time.Duration, error) {
	if h.Duration != "" {
		d, err := time.ParseDuration(h.Duration)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("duration %q is not a positive duration such as \"1.5s\"", h.Duration)
		}
		return d, nil
	}
	if h.TimeOut <= 0 {
		return 0, fmt.Errorf("timeout is %d; it must be a positive number of seconds (or set duration)", h.TimeOut)
	}
	return time.Duration(h.TimeOut) * time.Second, nil
}

// CircuitBreakerMeta is an entry of `extended_paths.circuit_breakers`.
type CircuitBreakerMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	// ThresholdPercent is the failure ratio (0 to 1) over the last Samples requests that
	// opens the breaker.
	ThresholdPercent float64 `json:"threshold_percent"`
	Samples          int64   `json:"samples"`
	// ReturnToServiceAfter is how many seconds the breaker stays open.
	ReturnToServiceAfter int  `json:"return_to_service_after"`
	DisableHalfOpenState bool `json:"disable_half_open_state,omitempty"`
}

// MaxBreakerSamples bounds a circuit breaker's samples: the breaker keeps that many outcomes.
const MaxBreakerSamples = 100000

// MethodTransformMeta is an entry of `extended_paths.method_transforms`: requests with the
// method to the path reach the upstream with ToMethod.
type MethodTransformMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	ToMethod   string `json:"to_method"`
}

// TransformMethods are the methods a method transform may send, as in Tyk.
var TransformMethods = []string{"GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}

// ValidatePathMeta is an entry of `extended_paths.validate_json`: the JSON body of requests
// with the method to the path must match Schema, a JSON Schema (draft-04, as in Tyk); a body
// that does not gets ErrorResponseCode (0: Tyk's 422).
type ValidatePathMeta struct {
	Disabled   bool   `json:"disabled,omitempty"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	IgnoreCase bool   `json:"ignore_case,omitempty"`
	// Schema is the schema as written; the gateway compiles it when the API loads.
	Schema            json.RawMessage `json:"schema,omitempty"`
	ErrorResponseCode int             `json:"error_response_code,omitempty"`
}

// HeaderInjectionMeta is an entry of `extended_paths.transform_headers` (request headers) or
// `transform_response_headers` (upstream response headers): for requests with the method to
// the path, DeleteHeaders are removed and AddHeaders set. Values may hold `$tyk_context.<name>`
// and `$tyk_meta.<name>` variables.
type HeaderInjectionMeta struct {
	Disabled      bool              `json:"disabled,omitempty"`
	Path          string            `json:"path"`
	Method        string            `json:"method"`
	IgnoreCase    bool              `json:"ignore_case,omitempty"`
	DeleteHeaders []string          `json:"delete_headers,omitempty"`
	AddHeaders    map[string]string `json:"add_headers,omitempty"`
	// ActOnResponse is Tyk's legacy `act_on`; Tyk does not use it either: the list an entry
	// is in says which headers it changes.
	ActOnResponse bool `json:"act_on,omitempty"`
}

// SchemaDraft4 is the only `$schema` Tyk's validate_json accepts; a schema without one is read
// as draft-04.
const SchemaDraft4 = "http://json-schema.org/draft-04/schema#"

// EnforceTimeout returns the version's global_enforce_timeout, 0 when unset or disabled.
func (v *VersionInfo) EnforceTimeout() (time.Duration, error) {
	if v.GlobalEnforceTimeout == "" || v.GlobalEnforceTimeoutDisabled {
		return 0, nil
	}
	d, err := time.ParseDuration(v.GlobalEnforceTimeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("global_enforce_timeout: %q is not a positive duration such as \"5s\"", v.GlobalEnforceTimeout)
	}
	return d, nil
}

// validateTraffic checks the IP lists, the CORS block and the per-endpoint traffic entries:
// an entry that cannot be applied as written refuses the definition.
func (a *APIDefinition) validateTraffic() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.EnableIPWhiteListing && len(a.AllowedIPs) == 0 {
		add("allowed_ips: enable_ip_whitelisting is set but the list is empty; Tyk would then let every address in: list the addresses, or turn the flag off")
	}
	if a.EnableIPBlacklisting && len(a.BlacklistedIPs) == 0 {
		add("blacklisted_ips: enable_ip_blacklisting is set but the list is empty: list the addresses, or turn the flag off")
	}
	for _, l := range []struct {
		name    string
		active  bool
		entries []string
	}{{"allowed_ips", a.IPAllowListActive(), a.AllowedIPs}, {"blacklisted_ips", a.IPBlockListActive(), a.BlacklistedIPs}} {
		if !l.active {
			continue
		}
		for i, e := range l.entries {
			if _, err := ParseIPEntry(e); err != nil {
				add("%s[%d]: %w", l.name, i, err)
			}
		}
	}
	if a.CORS.On() {
		for i, o := range a.CORS.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				add("CORS.allowed_origins[%d]: %q has more than one '*'; an origin may hold one wildcard", i, o)
			}
		}
	}
	errs = append(errs, a.CacheOptions.validate()...)
	for name, v := range a.VersionData.Versions {
		if _, err := v.EnforceTimeout(); err != nil {
			add("version_data.versions[%q].%w", name, err)
		}
		if !v.UseExtendedPaths {
			// As in Tyk, extended_paths apply only with use_extended_paths. Entries that guard
			// traffic would then be silently off: the definition is refused rather than served
			// unguarded (the others are noted by Inert).
			if guards, _ := v.ExtendedPathsOff(); len(guards) > 0 {
				add("version_data.versions[%q]: extended_paths.%s would not apply, because the version does not set use_extended_paths (Tyk ignores them too, logging \"Legacy path detected! Upgrade to extended.\"): set \"use_extended_paths\": true in the version, or remove the entries (or mark them disabled)", name, strings.Join(guards, ", extended_paths."))
			}
			continue
		}
		// The reverse: with use_extended_paths, the legacy lists (paths.white_list,
		// paths.black_list) do not apply, as in Tyk; guards written there would be off.
		if len(v.Paths.WhiteList) > 0 || len(v.Paths.BlackList) > 0 {
			add("version_data.versions[%q]: paths.white_list and paths.black_list would not apply, because the version sets use_extended_paths (as in Tyk, the legacy lists are then ignored): move the entries to extended_paths.white_list or extended_paths.black_list, or remove them", name)
		}
		ep := v.ExtendedPaths
		at := func(list string, i int) string {
			return fmt.Sprintf("version_data.versions[%q].extended_paths.%s[%d]", name, list, i)
		}
		errs = append(errs, validateEndpointExtras(name, &v)...)
		for i, e := range ep.SizeLimit {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("size_limits", i))...)
			if e.SizeLimit < 0 {
				add("%s: size_limit must not be negative", at("size_limits", i))
			}
		}
		for i, p := range ep.Cached {
			if p == "" {
				add("%s: path is missing", at("cache", i))
			}
		}
		for i, e := range ep.AdvanceCacheConfig {
			errs = append(errs, checkEntry(e.Path, e.Method, at("advance_cache_config", i))...)
			if e.CacheKeyRegex != "" {
				if _, err := regexp.Compile(e.CacheKeyRegex); err != nil {
					add("%s: cache_key_regex: %w", at("advance_cache_config", i), err)
				}
			}
			if e.Timeout < 0 || e.Timeout > MaxPeriod {
				add("%s: timeout is %d; it must be between 0 (cache_options.cache_timeout) and %d seconds", at("advance_cache_config", i), e.Timeout, MaxPeriod)
			}
			for j, c := range e.CacheOnlyResponseCodes {
				if c < 100 || c > 599 {
					add("%s: cache_response_codes[%d] is %d, not an HTTP status code", at("advance_cache_config", i), j, c)
				}
			}
		}
		for i, e := range ep.RateLimit {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("rate_limit", i))...)
			errs = append(errs, CheckRate(at("rate_limit", i)+": ", e.Rate, e.Per)...)
		}
		for i, e := range ep.HardTimeouts {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("hard_timeouts", i))...)
			if _, err := e.Timeout(); err != nil {
				add("%s: %w", at("hard_timeouts", i), err)
			}
		}
		for i, e := range ep.CircuitBreaker {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("circuit_breakers", i))...)
			if e.ThresholdPercent <= 0 || e.ThresholdPercent > 1 {
				add("%s: threshold_percent is %v; it is a failure ratio above 0 and at most 1 (0.5 is half)", at("circuit_breakers", i), e.ThresholdPercent)
			}
			if e.Samples < 1 || e.Samples > MaxBreakerSamples {
				add("%s: samples is %d; it must be between 1 and %d", at("circuit_breakers", i), e.Samples, MaxBreakerSamples)
			}
			if e.ReturnToServiceAfter < 1 {
				add("%s: return_to_service_after must be at least 1 second", at("circuit_breakers", i))
			}
		}
		for i, e := range ep.ValidateJSON {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("validate_json", i))...)
			errs = append(errs, e.check(at("validate_json", i))...)
		}
		for _, l := range []struct {
			name    string
			entries []HeaderInjectionMeta
		}{{"transform_headers", ep.TransformHeader}, {"transform_response_headers", ep.TransformResponseHeader}} {
			for i, e := range l.entries {
				if !e.Disabled {
					errs = append(errs, checkEntry(e.Path, e.Method, at(l.name, i))...)
				}
			}
		}
		for i, e := range ep.MethodTransforms {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at("method_transforms", i))...)
			ok := false
			for _, m := range TransformMethods {
				ok = ok || strings.EqualFold(e.ToMethod, m)
			}
			if !ok {
				add("%s: to_method %q is not one of %s", at("method_transforms", i), e.ToMethod, strings.Join(TransformMethods, ", "))
			}
		}
	}
	return errs
}

// check reports what Tyk would answer with an error on every matching request (no schema: 500
// "no schemas to validate against"; a $schema other than draft-04: 500 "unsupported schema,
// unable to validate"), and an error_response_code that is not an error status. Whether the
// schema compiles is checked when the gateway builds the API.
func (e ValidatePathMeta) check(where string) []error {
	var errs []error
	var schema map[string]json.RawMessage
	switch {
	case len(e.Schema) == 0 || string(e.Schema) == "null":
		errs = append(errs, fmt.Errorf("%s: schema is missing; Tyk would answer every matching request with 500", where))
	case json.Unmarshal(e.Schema, &schema) != nil:
		errs = append(errs, fmt.Errorf("%s: schema is not a JSON object", where))
	default:
		if raw, ok := schema["$schema"]; ok {
			var s string
			if json.Unmarshal(raw, &s) != nil || s != SchemaDraft4 {
				errs = append(errs, fmt.Errorf("%s: schema.$schema is %s; Tyk accepts only %q (and answers every matching request with 500 otherwise)", where, raw, SchemaDraft4))
			}
		}
	}
	if c := e.ErrorResponseCode; c != 0 && (c < 400 || c > 599) {
		errs = append(errs, fmt.Errorf("%s: error_response_code %d is not an error status (400 to 599)", where, c))
	}
	return errs
}

// checkEntry reports an entry without the path or method Tyk matches it by.
func checkEntry(path, method, where string) []error {
	var errs []error
	if path == "" {
		errs = append(errs, fmt.Errorf("%s: path is missing", where))
	}
	if strings.TrimSpace(method) == "" {
		errs = append(errs, fmt.Errorf("%s: method is missing; an entry applies to the one method it names", where))
	}
	return errs
}

// validate checks cache_options when the cache is on.
func (o CacheOptions) validate() []error {
	if !o.EnableCache {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.CacheTimeout < 0 || o.CacheTimeout > MaxPeriod {
		add("cache_options.cache_timeout is %d; it must be between 0 (the default, 60 seconds) and %d seconds", o.CacheTimeout, MaxPeriod)
	}
	for i, c := range o.CacheOnlyResponseCodes {
		if c < 100 || c > 599 {
			add("cache_options.cache_response_codes[%d] is %d, not an HTTP status code", i, c)
		}
	}
	for i, h := range o.CacheByHeaders {
		if !IsToken(h) {
			add("cache_options.cache_by_headers[%d] %q is not a header name", i, h)
		}
	}
	if h := o.CacheControlTTLHeader; h != "" && !IsToken(h) {
		add("cache_options.cache_control_ttl_header %q is not a header name", h)
	}
	return errs
}

// IsToken reports whether s is an HTTP token (RFC 9110 5.6.2): a method or a header field
// name.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// ExtendedPathsOff lists the extended_paths lists of a version without use_extended_paths that
// hold an entry not disabled: none of them applies, in Tyk as in Gatehouse. Guards are the lists
// that refuse or bound requests (black_list, white_list, internal, validate_json, size_limits,
// rate_limit): an author who wrote them believes the API guarded, so the definition is refused.
// Others are those that only change, answer, cache or count requests (ignored, which opens
// endpoints, mock replies, transforms, rewrites, timeouts, breakers, tracking): they are noted as
// having no effect. go_plugin entries apply without use_extended_paths, and the lists Gatehouse
// does not support refuse the definition wherever they are, so neither is named here. Both are
// nil for a version with use_extended_paths.
func (v *VersionInfo) ExtendedPathsOff() (guards, others []string) {
	if v.UseExtendedPaths {
		return nil, nil
	}
	ep := &v.ExtendedPaths
	on := func(n int, disabled func(int) bool) bool {
		for i := range n {
			if !disabled(i) {
				return true
			}
		}
		return false
	}
	internal := false
	for _, raw := range ep.Internal {
		var e struct {
			Disabled bool `json:"disabled"`
		}
		if json.Unmarshal(raw, &e) != nil || !e.Disabled {
			internal = true
		}
	}
	for _, l := range []struct {
		name  string
		guard bool
		on    bool
	}{
		{"black_list", true, on(len(ep.BlackList), func(i int) bool { return ep.BlackList[i].Disabled })},
		{"white_list", true, on(len(ep.WhiteList), func(i int) bool { return ep.WhiteList[i].Disabled })},
		{"internal", true, internal},
		{"validate_json", true, on(len(ep.ValidateJSON), func(i int) bool { return ep.ValidateJSON[i].Disabled })},
		{"size_limits", true, on(len(ep.SizeLimit), func(i int) bool { return ep.SizeLimit[i].Disabled })},
		{"rate_limit", true, on(len(ep.RateLimit), func(i int) bool { return ep.RateLimit[i].Disabled })},
		{"ignored", false, on(len(ep.Ignored), func(i int) bool { return ep.Ignored[i].Disabled })},
		{"mock_response", false, on(len(ep.MockResponse), func(i int) bool { return ep.MockResponse[i].Disabled })},
		{"cache", false, len(ep.Cached) > 0},
		{"advance_cache_config", false, len(ep.AdvanceCacheConfig) > 0},
		{"transform", false, on(len(ep.Transform), func(i int) bool { return ep.Transform[i].Disabled })},
		{"transform_response", false, on(len(ep.TransformResponse), func(i int) bool { return ep.TransformResponse[i].Disabled })},
		{"transform_headers", false, on(len(ep.TransformHeader), func(i int) bool { return ep.TransformHeader[i].Disabled })},
		{"transform_response_headers", false, on(len(ep.TransformResponseHeader), func(i int) bool { return ep.TransformResponseHeader[i].Disabled })},
		{"hard_timeouts", false, on(len(ep.HardTimeouts), func(i int) bool { return ep.HardTimeouts[i].Disabled })},
		{"circuit_breakers", false, on(len(ep.CircuitBreaker), func(i int) bool { return ep.CircuitBreaker[i].Disabled })},
		{"url_rewrites", false, on(len(ep.URLRewrite), func(i int) bool { return ep.URLRewrite[i].Disabled })},
		{"method_transforms", false, on(len(ep.MethodTransforms), func(i int) bool { return ep.MethodTransforms[i].Disabled })},
		{"track_endpoints", false, on(len(ep.TrackEndpoints), func(i int) bool { return ep.TrackEndpoints[i].Disabled })},
		{"do_not_track_endpoints", false, on(len(ep.DoNotTrackEndpoints), func(i int) bool { return ep.DoNotTrackEndpoints[i].Disabled })},
	} {
		switch {
		case !l.on:
		case l.guard:
			guards = append(guards, l.name)
		default:
			others = append(others, l.name)
		}
	}
	return guards, others
}
