package oas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// VersionName is the name of the one version of the Classic definition an OAS API maps to (an
// OAS API is not versioned inside itself).
const VersionName = "Default"

// Classic maps the document onto the Classic model, as Tyk's ExtractTo does for the subset
// Gatehouse implements, with is_oas set. Fields with a Classic equivalent are mapped even when
// Gatehouse does not implement them (JWT, client certificates, certificate pinning, ...), so
// that the Classic checks (apidef.APIDefinition.Unsupported) refuse them as for any Classic
// definition; the others are reported by Unsupported. The error names the missing or malformed
// x-tyk-api-gateway fields.
func (d *Document) Classic() (*apidef.APIDefinition, error) {
	x := &d.Ext
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(ExtensionKey+"."+format, args...)) }

	def := &apidef.APIDefinition{
		IsOAS:      true,
		APIID:      x.Info.ID,
		Name:       x.Info.Name,
		OrgID:      x.Info.OrgID,
		Active:     x.Info.State.Active,
		Internal:   x.Info.State.Internal,
		Expiration: x.Info.Expiration,
		Slug:       x.Server.Slug,
		ListenPort: x.Server.Port,
		Protocol:   x.Server.Protocol,
	}
	if x.Info.ID == "" {
		add("info.id: missing; an OAS definition in app_path needs the API's id")
	}
	if x.Info.Name == "" {
		add("info.name: missing")
	}
	if x.Server.ListenPath.Value == "" {
		add("server.listenPath.value: missing")
	}

	if vs := x.Info.Versioning; vs != nil {
		// As Tyk's ExtractTo: the fields one to one, the list as a map (a name listed twice:
		// the last wins). Only enabled makes the API a base.
		apis := &apidef.VersionAPIs{Enabled: vs.Enabled, Name: vs.Name, Default: vs.Default,
			StripVersioningData: vs.StripVersioningData, URLVersioningPattern: vs.URLVersioningPattern,
			FallbackToDefault: vs.FallbackToDefault}
		for _, v := range vs.Versions {
			if apis.Versions == nil {
				apis.Versions = map[string]string{}
			}
			apis.Versions[v.Name] = v.ID
		}
		def.VersionDefinition = apidef.VersionDefinition{Location: vs.Location, Key: vs.Key, VersionAPIs: apis}
	}
	if eo := x.ErrorOverrides; eo != nil {
		def.ErrorOverrides, def.ErrorOverridesDisabled = eo.classic(), !eo.Enabled
	}
	d.upstreamTo(def, add)
	d.serverTo(def)
	d.eventHandlersTo(def, add)
	d.authTo(def, add)
	if reqs, err := d.SecurityRequirements(); err != nil {
		add("%v", err)
	} else {
		def.SecurityRequirements = reqs
	}
	v := apidef.VersionInfo{Name: VersionName, UseExtendedPaths: true}
	if t := x.Upstream.EnforceTimeout; t != nil {
		v.GlobalEnforceTimeout = t.Duration
		v.GlobalEnforceTimeoutDisabled = !t.Enabled
		if t.Enabled && t.Duration == "" {
			// An empty duration would switch the timeout off; one meant to be on is refused.
			add("upstream.enforceTimeout.duration: missing; a timeout such as \"5s\" is needed when it is enabled")
		}
	}
	d.globalTo(def, &v)
	errs = append(errs, d.operationsTo(&v)...)
	def.VersionData = apidef.VersionData{NotVersioned: true, Versions: map[string]apidef.VersionInfo{VersionName: v}}
	return def, errors.Join(errs...)
}

func (d *Document) upstreamTo(def *apidef.APIDefinition, add func(string, ...any)) {
	u := &d.Ext.Upstream
	def.Proxy.TargetURL = u.URL
	// With service discovery the targets are the service's: load balancing needs none here.
	discovered := u.ServiceDiscovery != nil && u.ServiceDiscovery.Enabled
	if lb := u.LoadBalancing; lb != nil && lb.Enabled && (len(lb.Targets) > 0 || discovered) {
		def.Proxy.EnableLoadBalancing = true
		for i, t := range lb.Targets {
			// Tyk repeats each target as many times as its weight; a fractional weight is
			// truncated there too.
			w := int(t.Weight)
			if t.Weight < 0 || t.Weight > 1000 {
				add("upstream.loadBalancing.targets[%d].weight: %v is not between 0 and 1000", i, t.Weight)
				continue
			}
			for range w {
				def.Proxy.Targets = append(def.Proxy.Targets, t.URL)
			}
		}
	} else if u.URL == "" {
		add("upstream.url: missing")
	}
	if lb := u.LoadBalancing; lb != nil && lb.Enabled {
		def.Proxy.CheckHostAgainstUptimeTests = lb.SkipUnavailableHosts
	}
	d.uptimeTo(def, add)
	if u.PreserveHostHeader != nil {
		def.Proxy.PreserveHostHeader = u.PreserveHostHeader.Enabled
	}
	if a := u.Authentication; a != nil {
		def.UpstreamAuth.Enabled = a.Enabled
		if b := a.BasicAuth; b != nil {
			def.UpstreamAuth.BasicAuth = apidef.UpstreamBasicAuth{Enabled: b.Enabled, Username: b.Username, Password: b.Password}
			if h := b.Header; h != nil {
				def.UpstreamAuth.BasicAuth.Header = apidef.UpstreamAuthHdr{Enabled: h.Enabled, Name: h.Name}
			}
		}
		if a.OAuth != nil {
			def.UpstreamAuth.OAuth.Enabled = a.OAuth.Enabled
		}
		// Tyk signs with requestSigning.enabled whatever authentication.enabled says.
		if rs := a.RequestSigning; rs != nil {
			def.RequestSigning = apidef.RequestSigning{IsEnabled: rs.Enabled, Secret: rs.Secret, KeyID: rs.KeyID, Algorithm: rs.Algorithm,
				HeaderList: rs.Headers, CertificateID: rs.CertificateID, SignatureHeader: rs.SignatureHeader}
		}
	}
	if u.PreserveTrailingSlash != nil {
		def.Proxy.DisableStripSlash = u.PreserveTrailingSlash.Enabled
	}
	if sd := u.ServiceDiscovery; sd != nil {
		// As Tyk's ExtractTo: cache, when present, wins over the older cacheTimeout.
		def.Proxy.ServiceDiscovery = apidef.ServiceDiscovery{UseDiscoveryService: sd.Enabled, QueryEndpoint: sd.QueryEndpoint,
			UseNestedQuery: sd.UseNestedQuery, ParentDataPath: sd.ParentDataPath, DataPath: sd.DataPath, PortDataPath: sd.PortDataPath,
			TargetPath: sd.TargetPath, UseTargetList: sd.UseTargetList, CacheTimeout: sd.CacheTimeout, EndpointReturnsList: sd.EndpointReturnsList}
		if c := sd.Cache; c != nil {
			def.Proxy.ServiceDiscovery.CacheDisabled, def.Proxy.ServiceDiscovery.CacheTimeout = !c.Enabled, c.Timeout
		}
	}
	if t := u.TLSTransport; t != nil {
		tr := &def.Proxy.Transport
		tr.SSLInsecureSkipVerify = t.InsecureSkipVerify
		tr.SSLCipherSuites = append([]string(nil), t.Ciphers...)
		tr.SSLForceCommonNameCheck = t.ForceCommonNameCheck
		for _, v := range []struct {
			field, value string
			to           *uint16
		}{{"minVersion", t.MinVersion, &tr.SSLMinVersion}, {"maxVersion", t.MaxVersion, &tr.SSLMaxVersion}} {
			n, ok := tlsVersions[v.value]
			if !ok {
				add("upstream.tlsTransport.%s: %q is not one of 1.0, 1.1, 1.2, 1.3", v.field, v.value)
			}
			*v.to = n
		}
	}
	if p := u.Proxy; p != nil && p.Enabled {
		def.Proxy.Transport.ProxyURL = p.URL
	}
	if m := u.MutualTLS; m != nil && len(m.DomainToCertificateMapping) > 0 {
		def.UpstreamCertificates = map[string]string{}
		for _, e := range m.DomainToCertificateMapping {
			def.UpstreamCertificates[e.Domain] = e.Certificate
		}
		def.UpstreamCertificatesDisabled = !m.Enabled
	}
	if p := u.CertificatePinning; p != nil && len(p.DomainToPublicKeysMapping) > 0 {
		def.PinnedPublicKeys = map[string]string{}
		for _, e := range p.DomainToPublicKeysMapping {
			def.PinnedPublicKeys[e.Domain] = strings.Join(e.PublicKeys, ",")
		}
		def.CertificatePinningDisabled = !p.Enabled
	}
	if rl := u.RateLimit; rl != nil {
		def.GlobalRateLimit.Disabled = !rl.Enabled
		def.GlobalRateLimit.Rate = rl.Rate
		per, err := time.ParseDuration(rl.Per)
		switch {
		case !rl.Enabled:
		case err != nil || per <= 0:
			// Tyk reads a bad `per` as 0, which switches the limit off: a limit written
			// wrongly is refused here rather than silently not applied.
			add("upstream.rateLimit.per: %q is not a positive duration such as \"1s\" or \"1m\"", rl.Per)
		default:
			def.GlobalRateLimit.Per = per.Seconds()
		}
	}
}

// tlsVersions are Tyk's OAS names of TLS versions and their Classic numbers ("" keeps the
// gateway's).
var tlsVersions = map[string]uint16{"": 0, "1.0": 769, "1.1": 770, "1.2": 771, "1.3": 772}

func (d *Document) serverTo(def *apidef.APIDefinition) {
	s := &d.Ext.Server
	def.Proxy.ListenPath = s.ListenPath.Value
	def.Proxy.StripListenPath = s.ListenPath.Strip
	if c := s.CustomDomain; c != nil && c.Enabled {
		def.Domain = c.Name
		def.Certificates = append([]string(nil), c.Certificates...)
	}
	if t := s.GatewayTags; t != nil {
		// As Tyk maps them: the tags tag analytics records whatever enabled says; disabled,
		// segmented gateways read the API as untagged.
		def.Tags = append([]string(nil), t.Tags...)
		def.TagsDisabled = !t.Enabled
	}
	if s.ClientCertificates != nil {
		def.UseMutualTLSAuth = s.ClientCertificates.Enabled
		def.ClientCertificates = append([]string(nil), s.ClientCertificates.Allowlist...)
	}
	if s.BatchProcessing != nil {
		def.EnableBatchRequestSupport = s.BatchProcessing.Enabled
	}
	if s.DetailedActivityLogs != nil {
		def.EnableDetailedRecording = s.DetailedActivityLogs.Enabled
	}
	if s.ContextVariables != nil && s.ContextVariables.Enabled {
		def.EnableContextVars = true
	}
	if s.DetailedTracing != nil && s.DetailedTracing.Enabled {
		def.DetailedTracing = true
	}
	// As Tyk's ExtractTo: the lists are copied and ip_access_control_disabled is !enabled
	// (absent: disabled), so a list is enforced exactly when the block is enabled. The Classic
	// enable flags are set for a non-empty list of an enabled block too: that changes nothing
	// for who gets in, and the Classic view then says what is enforced.
	ip := s.IPAccessControl
	if ip == nil {
		ip = &IPAccessControl{}
	}
	def.IPAccessControlDisabled = !ip.Enabled
	def.AllowedIPs = append([]string(nil), ip.Allow...)
	def.BlacklistedIPs = append([]string(nil), ip.Block...)
	def.EnableIPWhiteListing = ip.Enabled && len(ip.Allow) > 0
	def.EnableIPBlacklisting = ip.Enabled && len(ip.Block) > 0
}

// authTo maps server.authentication. Without it, or with enabled false, the API is keyless.
// In legacy mode (Tyk's default) only the first requirement of the top-level `security` picks
// the auth methods, each by its OpenAPI type and switched on by Tyk's `enabled` for the scheme.
func (d *Document) authTo(def *apidef.APIDefinition, add func(string, ...any)) {
	a := d.Ext.Server.Authentication
	if a == nil || !a.Enabled {
		def.UseKeylessAccess = true
		return
	}
	def.StripAuthData = a.StripAuthorizationData
	def.BaseIdentityProvidedBy = a.BaseIdentityProvider
	if h := a.HMAC; h != nil && h.Enabled {
		// As Tyk maps it: the header only where hmac.header names it.
		def.EnableSignatureChecking = true
		def.HmacAllowedAlgorithms = append([]string(nil), h.AllowedAlgorithms...)
		def.HmacAllowedClockSkew = h.AllowedClockSkew
		if def.AuthConfigs == nil {
			def.AuthConfigs = map[string]apidef.AuthConfig{}
		}
		def.AuthConfigs[apidef.ConfigHMAC] = h.apply(apidef.AuthConfig{Name: apidef.ConfigHMAC, DisableHeader: true})
	}
	if a.OIDC != nil && a.OIDC.Enabled {
		def.UseOpenID = true
	}
	if c := a.Custom; c != nil && c.Enabled {
		def.CustomPluginAuthEnabled = true
		if p := c.Config; p != nil {
			def.CustomMiddleware.AuthCheck = apidef.MiddlewareDefinition{
				Disabled: !p.Enabled, Name: p.FunctionName, Path: p.Path,
				RawBodyOnly: p.RawBodyOnly, RequireSession: p.RequireSession,
			}
			if ie := p.IDExtractor; ie != nil && ie.Enabled {
				def.CustomMiddleware.IdExtractor.ExtractFrom = ie.Source
				def.CustomMiddleware.IdExtractor.ExtractWith = ie.With
			}
		}
	}
	if kl := a.CustomKeyLifetime; kl != nil && kl.Enabled {
		life, err := time.ParseDuration(kl.Value)
		if err != nil || life <= 0 {
			add("server.authentication.customKeyLifetime.value: %q is not a positive duration such as \"24h\"", kl.Value)
		} else {
			def.SessionLifetime = int64(math.Ceil(life.Seconds()))
		}
	}

	var tokenNames, oauthNames []string
	for _, name := range d.schemeNames() {
		scheme, ok := d.SecuritySchemes[name]
		if !ok {
			continue // reported by Inert
		}
		var on Feature
		if raw, ok := a.SecuritySchemes[name]; ok {
			// A field of the wrong type ("enabled": "true") must not read as off: the API would
			// run with less auth than its author asked for.
			if err := json.Unmarshal(raw, &on); err != nil {
				add("server.authentication.securitySchemes.%s: %v", name, err)
				continue
			}
		}
		switch t := strings.ToLower(scheme.Type); {
		case t == "apikey":
			tokenNames = append(tokenNames, name)
		case t == "http" && strings.EqualFold(scheme.Scheme, "basic"):
			def.UseBasicAuth = def.UseBasicAuth || on.Enabled
			if on.Enabled {
				var b struct {
					DisableCaching bool `json:"disableCaching"`
					CacheTTL       int  `json:"cacheTTL"`
					FromBody       struct {
						Enabled        bool   `json:"enabled"`
						UserRegexp     string `json:"userRegexp"`
						PasswordRegexp string `json:"passwordRegexp"`
					} `json:"extractCredentialsFromBody"`
				}
				if err := json.Unmarshal(a.SecuritySchemes[name], &b); err != nil {
					add("server.authentication.securitySchemes.%s: %v", name, err)
				}
				def.BasicAuth = apidef.BasicAuthConfig{DisableCaching: b.DisableCaching, CacheTTL: b.CacheTTL,
					ExtractFromBody: b.FromBody.Enabled, BodyUserRegexp: b.FromBody.UserRegexp, BodyPasswordRegexp: b.FromBody.PasswordRegexp}
			}
		case t == "http" && strings.EqualFold(scheme.Scheme, "bearer"):
			if on.Enabled {
				jwtTo(def, name, a.SecuritySchemes[name], add)
			}
		case t == "oauth2":
			oauthNames = append(oauthNames, name)
		case t == "openidconnect":
			def.UseOpenID = def.UseOpenID || on.Enabled
		case t == "mutualtls":
			def.UseMutualTLSAuth = def.UseMutualTLSAuth || on.Enabled
		}
	}
	if ca := a.CertificateAuth; ca != nil && ca.Enabled {
		// Tyk 5.12's certificate auth: its Classic form is the key check with
		// auth_configs.authToken.use_certificate, which reads no token.
		defer func() {
			def.UseStandardAuth = true
			if def.AuthConfigs == nil {
				def.AuthConfigs = map[string]apidef.AuthConfig{}
			}
			ac := def.AuthConfigs[apidef.ConfigAuthToken]
			ac.Name, ac.UseCertificate = apidef.ConfigAuthToken, true
			def.AuthConfigs[apidef.ConfigAuthToken] = ac
		}()
	}
	d.oauthTo(def, oauthNames, add)
	if len(tokenNames) == 0 {
		return
	}
	// With several token schemes in the requirement, Tyk uses the one switched on.
	name := tokenNames[0]
	for _, n := range tokenNames {
		var on Feature
		if json.Unmarshal(a.SecuritySchemes[n], &on) == nil && on.Enabled {
			name = n
			break
		}
	}
	var tok TokenScheme
	if raw, ok := a.SecuritySchemes[name]; ok {
		if err := json.Unmarshal(raw, &tok); err != nil {
			add("server.authentication.securitySchemes.%s: %v", name, err)
		}
	}
	def.UseStandardAuth = tok.Enabled
	ac := apidef.AuthConfig{Name: apidef.ConfigAuthToken, DisableHeader: true, UseCertificate: tok.EnableClientCertificate}
	if tok.SignatureValidation != nil {
		ac.ValidateSignature = tok.SignatureValidation.Enabled
	}
	// Tyk's own sources first; the OpenAPI scheme's `in` and `name` then win for the primary
	// location.
	ac = tok.apply(ac)
	s := d.SecuritySchemes[name]
	switch strings.ToLower(s.In) {
	case "header":
		ac.DisableHeader, ac.AuthHeaderName = false, s.Name
	case "query":
		ac.UseParam, ac.ParamName = true, s.Name
	case "cookie":
		ac.UseCookie, ac.CookieName = true, s.Name
	}
	if def.AuthConfigs == nil {
		def.AuthConfigs = map[string]apidef.AuthConfig{}
	}
	def.AuthConfigs[apidef.ConfigAuthToken] = ac
}

// schemeEnabled reports whether server.authentication switches on the scheme name, of the
// Classic kind kind.
func (d *Document) schemeEnabled(name, kind string) bool {
	a := d.Ext.Server.Authentication
	switch kind {
	case apidef.ConfigHMAC:
		return a.HMAC != nil && a.HMAC.Enabled
	case apidef.ConfigCoprocess:
		return a.Custom != nil && a.Custom.Enabled
	}
	var f Feature
	return json.Unmarshal(a.SecuritySchemes[name], &f) == nil && f.Enabled
}

// compliant reports whether the API asks for Tyk's compliant security processing: any one of
// its security requirements, every scheme of it.
func (d *Document) compliant() bool {
	a := d.Ext.Server.Authentication
	return a != nil && a.Enabled && strings.EqualFold(a.SecurityProcessingMode, "compliant")
}

// requirements returns the security requirements Tyk reads, each its scheme names sorted: in
// legacy mode the first top-level one only; in compliant mode every top-level one, then
// server.authentication.security's (which may name Tyk's own hmac and custom auth).
func (d *Document) requirements() ([][]string, error) {
	var out [][]string
	for i, req := range d.Security {
		if i > 0 && !d.compliant() {
			break
		}
		names := make([]string, 0, len(req))
		for n := range req {
			names = append(names, n)
		}
		sort.Strings(names)
		out = append(out, names)
	}
	if a := d.Ext.Server.Authentication; d.compliant() && nonEmpty(a.Security) {
		var more [][]string
		if err := json.Unmarshal(a.Security, &more); err != nil {
			return out, fmt.Errorf("server.authentication.security: %v (a list of lists of scheme names is expected)", err)
		}
		for _, req := range more {
			out = append(out, slices.Sorted(slices.Values(req)))
		}
	}
	return out, nil
}

// schemeNames returns the names the security requirements Tyk reads use, sorted, each once.
func (d *Document) schemeNames() []string {
	reqs, _ := d.requirements() // an error is Classic's to report
	var names []string
	for _, req := range reqs {
		for _, n := range req {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// SecurityRequirements returns compliant mode's requirements as Classic
// security_requirements: each scheme by its auth_configs name (an apiKey scheme authToken, a
// JWT bearer scheme jwt, basic auth basic, Tyk's hmac hmac and custom coprocess); nil in legacy
// mode, where Tyk reads none. Classic has one method of each kind, so two schemes of one kind
// are refused, as are requirements Gatehouse cannot serve as written. For Tyk's pair of files
// these replace what the Classic file says (apistore), which Tyk writes in legacy mode too,
// by the document's scheme names.
func (d *Document) SecurityRequirements() (json.RawMessage, error) {
	if !d.compliant() {
		return nil, nil
	}
	reqs, err := d.requirements()
	if err != nil {
		return nil, err
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	byKind := map[string]string{} // auth_configs name -> the scheme that has it
	out := [][]string{}
	for i, req := range reqs {
		if len(req) == 0 {
			add("security requirement %d is empty (OpenAPI's optional auth), which would let any request in; make the API keyless if that is meant", i)
			continue
		}
		var set []string
		for _, name := range req {
			kind := ""
			if s, ok := d.SecuritySchemes[name]; ok {
				switch t := strings.ToLower(s.Type); {
				case t == "apikey":
					kind = apidef.ConfigAuthToken
				case t == "http" && strings.EqualFold(s.Scheme, "bearer"):
					kind = apidef.ConfigJWT
				case t == "http" && strings.EqualFold(s.Scheme, "basic"):
					kind = apidef.ConfigBasic
				default:
					// OAuth 2.0, OpenID Connect, mutual TLS, ...: left out, the set would ask
					// for less than the document does.
					add("server.authentication: security requirement %d names %q, a scheme of type %q, which compliant mode does not serve here", i, name, strings.TrimSpace(s.Type+" "+s.Scheme))
					continue
				}
			} else {
				switch name {
				case "hmac":
					kind = apidef.ConfigHMAC
				case "custom":
					kind = apidef.ConfigCoprocess
				default:
					add("server.authentication: security requirement %d names %q, which is no scheme of components.securitySchemes, nor Tyk's hmac or custom", i, name)
					continue
				}
			}
			if !d.schemeEnabled(name, kind) {
				add("server.authentication: security requirement %d names %q, which is not enabled; a requirement needs every scheme it names", i, name)
				continue
			}
			if other, ok := byKind[kind]; ok && other != name {
				add("server.authentication: the security requirements name %q and %q, both %s schemes; in compliant mode Gatehouse serves one scheme of each kind (Classic has one auth_configs.%s)", other, name, kind, kind)
				continue
			}
			byKind[kind] = name
			set = append(set, kind)
		}
		out = append(out, set)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return json.Marshal(out)
}

func (d *Document) globalTo(def *apidef.APIDefinition, v *apidef.VersionInfo) {
	// Without trafficLogs, Tyk records nothing for an OAS API.
	def.DoNotTrack = true
	if d.Ext.Middleware == nil || d.Ext.Middleware.Global == nil {
		return
	}
	g := d.Ext.Middleware.Global
	if c := g.CORS; c != nil {
		def.CORS = apidef.CORSConfig{
			Enable: c.Enabled, MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials,
			ExposedHeaders: append([]string(nil), c.ExposedHeaders...), AllowedHeaders: append([]string(nil), c.AllowedHeaders...),
			OptionsPassthrough: c.OptionsPassthrough, Debug: c.Debug,
			AllowedOrigins: append([]string(nil), c.AllowedOrigins...), AllowedMethods: append([]string(nil), c.AllowedMethods...),
		}
	}
	if pc := g.PluginConfig; pc != nil {
		def.CustomMiddleware.Driver = pc.Driver
		if b := pc.Bundle; b != nil {
			def.CustomMiddlewareBundle = b.Path
			def.CustomMiddlewareBundleDisabled = !b.Enabled
		}
		if data := pc.Data; data != nil {
			// As in Tyk, Go plugins see config_data even when it is disabled.
			def.ConfigData = data.Value
			def.ConfigDataDisabled = !data.Enabled
		}
	}
	def.CustomMiddleware.Pre = hooks(g.PrePlugins, g.PrePlugin)
	def.CustomMiddleware.PostKeyAuth = hooks(g.PostAuthenticationPlugins, g.PostAuthenticationPlugin)
	def.CustomMiddleware.Post = hooks(g.PostPlugins, g.PostPlugin)
	def.CustomMiddleware.Response = hooks(g.ResponsePlugins, g.ResponsePlugin)
	if h := g.TransformRequestHeaders; h != nil && h.Enabled {
		v.GlobalHeadersRemove = append([]string(nil), h.Remove...)
		for _, kv := range h.Add {
			if v.GlobalHeaders == nil {
				v.GlobalHeaders = map[string]string{}
			}
			v.GlobalHeaders[kv.Name] = kv.Value
		}
	}
	if h := g.TransformResponseHeaders; h != nil && h.Enabled {
		v.GlobalResponseHeadersRemove = append([]string(nil), h.Remove...)
		for _, kv := range h.Add {
			if v.GlobalResponseHeaders == nil {
				v.GlobalResponseHeaders = map[string]string{}
			}
			v.GlobalResponseHeaders[kv.Name] = kv.Value
		}
	}
	if g.ContextVariables != nil && g.ContextVariables.Enabled {
		def.EnableContextVars = true
	}
	if g.IgnoreCase != nil {
		v.IgnoreEndpointCase = g.IgnoreCase.Enabled
	}
	if tl := g.TrafficLogs; tl != nil {
		def.DoNotTrack = !tl.Enabled
		def.TagHeaders = tl.TagHeaders
		for _, p := range tl.Plugins {
			if p.Enabled {
				def.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: p.Path, FuncName: p.FunctionName}
				break
			}
		}
	}
	if sl := g.RequestSizeLimit; sl != nil && sl.Enabled {
		v.GlobalSizeLimit = sl.Value
	}
	def.DisableRateLimit = g.SkipRateLimit
	if c := g.Cache; c != nil {
		def.CacheOptions = apidef.CacheOptions{
			EnableCache: c.Enabled, CacheTimeout: c.Timeout, CacheAllSafeRequests: c.CacheAllSafeRequests,
			CacheOnlyResponseCodes: c.CacheResponseCodes, CacheByHeaders: c.CacheByHeaders,
			EnableUpstreamCacheControl: c.EnableUpstreamCacheControl, CacheControlTTLHeader: c.ControlTTLHeaderName,
		}
	}
	def.DisableQuota = g.SkipQuota
}

// hooks maps a plugin list: the plural form, or the older singular one when the plural is
// absent.
func hooks(plural []Plugin, singular *PluginList) []apidef.MiddlewareDefinition {
	list := plural
	if list == nil && singular != nil {
		list = singular.Plugins
	}
	if len(list) == 0 {
		return nil
	}
	out := make([]apidef.MiddlewareDefinition, len(list))
	for i, p := range list {
		out[i] = apidef.MiddlewareDefinition{
			Disabled: !p.Enabled, Name: p.FunctionName, Path: p.Path,
			RawBodyOnly: p.RawBodyOnly, RequireSession: p.RequireSession,
		}
	}
	return out
}

// operationsTo emits the extended_paths entries of middleware.operations: one per operation
// of `paths` with that operationId, longest path first. An id no operation has is ignored, as
// in Tyk (Inert reports it). As in Tyk, the traffic entries (size limit, timeout, circuit
// breaker, method transform) are emitted switched off when not enabled; the Classic checks and
// middleware skip those.
func (d *Document) operationsTo(v *apidef.VersionInfo) []error {
	var errs []error
	ep := &v.ExtendedPaths
	for _, op := range d.operations {
		m := d.OperationMiddleware(op.ID)
		if m == nil {
			continue
		}
		entry := func(path string, a *Allowance) apidef.EndPointMeta {
			return apidef.EndPointMeta{Path: path, Method: op.Method, IgnoreCase: a.IgnoreCase}
		}
		// Only switched-on entries are emitted: any allow entry puts the version in
		// allow-list mode. What an operation grants (allow, ignoreAuthentication) is its path
		// exactly (Operation.Pattern): never the paths below it, which other operations may
		// declare with authentication. What it refuses (block) is matched as Classic entries
		// are, anywhere in the path: a refusal that catches more is the safe side.
		if a := m.Allow; a != nil && a.Enabled {
			ep.WhiteList = append(ep.WhiteList, entry(op.Pattern(), a))
		}
		if a := m.Block; a != nil && a.Enabled {
			ep.BlackList = append(ep.BlackList, entry(op.Path, a))
		}
		if a := m.IgnoreAuthentication; a != nil && a.Enabled {
			ep.Ignored = append(ep.Ignored, entry(op.Pattern(), a))
		}
		if f := m.Internal; f != nil && f.Enabled {
			raw, _ := json.Marshal(map[string]string{"path": op.Path, "method": op.Method})
			ep.Internal = append(ep.Internal, raw)
		}
		if len(m.PostPlugins) > 0 {
			p := m.PostPlugins[0]
			fn := p.FunctionName
			if fn == "" {
				fn = p.Name
			}
			ep.GoPlugin = append(ep.GoPlugin, apidef.GoPluginMeta{
				Disabled: !p.Enabled, Path: op.Path, Method: op.Method, PluginPath: p.Path, SymbolName: fn,
			})
		}
		if s := m.RequestSizeLimit; s != nil {
			ep.SizeLimit = append(ep.SizeLimit, apidef.RequestSizeMeta{
				Disabled: !s.Enabled, Path: op.Path, Method: op.Method, SizeLimit: s.Value,
			})
		}
		if c := m.Cache; c != nil && c.Enabled {
			ep.AdvanceCacheConfig = append(ep.AdvanceCacheConfig, apidef.CacheMeta{
				Method: op.Method, Path: op.Path, CacheKeyRegex: c.CacheByRegex,
				CacheOnlyResponseCodes: c.CacheResponseCodes, Timeout: c.Timeout,
			})
		}
		if rl := m.RateLimit; rl != nil && rl.Enabled {
			// An API-level limit for the operation, in place of upstream.rateLimit.
			if per, err := time.ParseDuration(rl.Per); err != nil || per <= 0 {
				errs = append(errs, fmt.Errorf("middleware.operations.%s.rateLimit.per: %q is not a positive duration such as \"1s\" or \"1m\"", op.ID, rl.Per))
			} else {
				ep.RateLimit = append(ep.RateLimit, apidef.RateLimitMeta{Path: op.Path, Method: op.Method, Rate: rl.Rate, Per: per.Seconds()})
			}
		}
		if f := m.TrackEndpoint; f != nil {
			ep.TrackEndpoints = append(ep.TrackEndpoints, apidef.TrackEndpointMeta{Disabled: !f.Enabled, Path: op.Path, Method: op.Method})
		}
		if f := m.DoNotTrackEndpoint; f != nil {
			ep.DoNotTrackEndpoints = append(ep.DoNotTrackEndpoints, apidef.TrackEndpointMeta{Disabled: !f.Enabled, Path: op.Path, Method: op.Method})
		}
		if t := m.EnforceTimeout; t != nil {
			ep.HardTimeouts = append(ep.HardTimeouts, apidef.HardTimeoutMeta{
				Disabled: !t.Enabled, Path: op.Path, Method: op.Method, TimeOut: t.Value, Duration: t.Duration,
			})
		}
		if c := m.CircuitBreaker; c != nil {
			ep.CircuitBreaker = append(ep.CircuitBreaker, apidef.CircuitBreakerMeta{
				Disabled: !c.Enabled, Path: op.Path, Method: op.Method, ThresholdPercent: c.Threshold,
				Samples: c.SampleSize, ReturnToServiceAfter: c.CoolDownPeriod, DisableHalfOpenState: !c.HalfOpenStateEnabled,
			})
		}
		if h := m.TransformRequestHeaders; h != nil {
			ep.TransformHeader = append(ep.TransformHeader, headerEntry(op, h, false))
		}
		if h := m.TransformResponseHeaders; h != nil {
			ep.TransformResponseHeader = append(ep.TransformResponseHeader, headerEntry(op, h, true))
		}
		if t := m.TransformRequestBody; t != nil {
			ep.Transform = append(ep.Transform, bodyEntry(op, t))
		}
		if t := m.TransformResponseBody; t != nil {
			ep.TransformResponse = append(ep.TransformResponse, bodyEntry(op, t))
		}
		if mt := m.TransformRequestMethod; mt != nil {
			ep.MethodTransforms = append(ep.MethodTransforms, apidef.MethodTransformMeta{
				Disabled: !mt.Enabled, Path: op.Path, Method: op.Method, ToMethod: mt.ToMethod,
			})
		}
		if u := m.URLRewrite; u != nil {
			e, err := rewriteEntry(op, u)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.middleware.operations.%s.urlRewrite: %w", ExtensionKey, op.ID, err))
				continue
			}
			ep.URLRewrite = append(ep.URLRewrite, e)
		}
	}
	return errs
}

// rewriteEntry is an operation's urlRewrite as Tyk's Classic url_rewrites entry: pattern is
// match_pattern, each trigger's condition its on, and each rule an option of the kind its in
// names. Two rules of one trigger on the same name (or two on the body) cannot both be
// expressed, and are an error.
func rewriteEntry(op Operation, u *URLRewrite) (apidef.URLRewriteMeta, error) {
	e := apidef.URLRewriteMeta{Disabled: !u.Enabled, Path: op.Path, Method: op.Method, MatchPattern: u.Pattern, RewriteTo: u.RewriteTo}
	for i, t := range u.Triggers {
		tr := apidef.RoutingTrigger{On: t.Condition, RewriteTo: t.RewriteTo}
		o := &tr.Options
		for j, r := range t.Rules {
			m := apidef.StringRegexMap{MatchRx: r.Pattern, Reverse: r.Negate}
			var set *map[string]apidef.StringRegexMap
			switch r.In {
			case "query":
				set = &o.QueryValMatches
			case "path":
				set = &o.PathPartMatches
			case "header":
				set = &o.HeaderMatches
			case "sessionMetadata":
				set = &o.SessionMetaMatches
			case "requestContext":
				set = &o.RequestContextMatches
			case "requestBody":
				if o.PayloadMatches.MatchRx != "" {
					return e, fmt.Errorf("triggers[%d].rules[%d]: a second requestBody rule", i, j)
				}
				o.PayloadMatches = m
				continue
			default:
				return e, fmt.Errorf("triggers[%d].rules[%d].in: %q is not query, path, header, sessionMetadata, requestContext or requestBody", i, j, r.In)
			}
			if *set == nil {
				*set = map[string]apidef.StringRegexMap{}
			}
			if _, dup := (*set)[r.Name]; dup {
				return e, fmt.Errorf("triggers[%d].rules[%d]: a second %s rule on %q", i, j, r.In, r.Name)
			}
			(*set)[r.Name] = m
		}
		e.Triggers = append(e.Triggers, tr)
	}
	return e, nil
}

// bodyEntry is an operation's transformRequestBody or transformResponseBody as Tyk's Classic
// transform or transform_response entry: the template in body (base64), else in the file path;
// the key's meta_data is in the template's data (_tyk_meta).
func bodyEntry(op Operation, t *TransformBody) apidef.TemplateMeta {
	e := apidef.TemplateMeta{Disabled: !t.Enabled, Path: op.Path, Method: op.Method,
		TemplateData: apidef.TemplateData{Input: t.Format, EnableSession: true}}
	if t.Body != "" {
		e.TemplateData.Mode, e.TemplateData.TemplateSource = apidef.TemplateModeBlob, t.Body
	} else {
		e.TemplateData.Mode, e.TemplateData.TemplateSource = apidef.TemplateModeFile, t.Path
	}
	return e
}

// headerEntry is an operation's transformRequestHeaders or transformResponseHeaders as Tyk's
// Classic transform_headers or transform_response_headers entry.
func headerEntry(op Operation, h *TransformHeaders, response bool) apidef.HeaderInjectionMeta {
	e := apidef.HeaderInjectionMeta{Disabled: !h.Enabled, Path: op.Path, Method: op.Method,
		DeleteHeaders: append([]string(nil), h.Remove...), ActOnResponse: response}
	for _, kv := range h.Add {
		if e.AddHeaders == nil {
			e.AddHeaders = map[string]string{}
		}
		e.AddHeaders[kv.Name] = kv.Value
	}
	return e
}

// uptimeTo maps upstream.uptimeTests to Classic's uptime_tests: the tests of an enabled block
// become the check list, a timeout written as a duration and a tcp:// or tls:// URL giving the
// protocol.
func (d *Document) uptimeTo(def *apidef.APIDefinition, add func(string, ...any)) {
	ut := d.Ext.Upstream.UptimeTests
	if ut == nil || !ut.Enabled {
		return
	}
	for i, tc := range ut.Tests {
		hc := apidef.HostCheck{URL: tc.URL, Protocol: tc.Protocol, Method: tc.Method, Headers: tc.Headers, Body: tc.Body, EnableProxyProtocol: tc.EnableProxyProtocol}
		if scheme, _, ok := strings.Cut(tc.URL, "://"); ok && hc.Protocol == "" && (strings.EqualFold(scheme, "tcp") || strings.EqualFold(scheme, "tls")) {
			hc.Protocol = strings.ToLower(scheme)
		}
		if tc.Timeout != "" {
			t, err := time.ParseDuration(tc.Timeout)
			if err != nil || t < 0 {
				add("upstream.uptimeTests.tests[%d].timeout: %q is not a duration such as \"2s\"", i, tc.Timeout)
				continue
			}
			hc.Timeout = t
		}
		for _, c := range tc.Commands {
			hc.Commands = append(hc.Commands, apidef.CheckCommand{Name: c.Name, Message: c.Message})
		}
		def.UptimeTests.CheckList = append(def.UptimeTests.CheckList, hc)
	}
	if ut.ServiceDiscovery != nil && ut.ServiceDiscovery.Enabled {
		def.UptimeTests.Config.ServiceDiscovery.UseDiscoveryService = true
	}
	// How long uptime analytics records are kept, as Tyk maps it (expire_utime_after).
	if p := ut.LogRetentionPeriod; p != "" {
		d, err := time.ParseDuration(p)
		switch {
		case err != nil || d < 0:
			add("upstream.uptimeTests.logRetentionPeriod: %q is not a duration such as \"720h\"", p)
			return
		case d > apidef.MaxPeriod*time.Second:
			add("upstream.uptimeTests.logRetentionPeriod: %q is more than 100 years", p)
			return
		}
		def.UptimeTests.Config.ExpireUptimeAnalyticsAfter = int64(d / time.Second)
	}
}
