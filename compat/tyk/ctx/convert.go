//go:build gatehouse_compat

package ctx

import (
	gh "github.com/gatehouse/gatehouse/apidef"

	"github.com/TykTechnologies/tyk/apidef"
	"github.com/TykTechnologies/tyk/user"
)

// fromGateway converts the gateway's session to Tyk's. Maps and slices are shared, not copied:
// the session sdk.GetSession returns is already this request's own, so a plugin that changes
// the meta data of the session it got changes the request's, as in Tyk.
func fromGateway(s *gh.SessionState) *user.SessionState {
	if s == nil {
		return nil
	}
	u := &user.SessionState{
		LastCheck:               s.LastCheck,
		Allowance:               s.Allowance,
		Rate:                    s.Rate,
		Per:                     s.Per,
		Smoothing:               smoothingFrom(s.Smoothing),
		QuotaMax:                s.QuotaMax,
		QuotaRenews:             s.QuotaRenews,
		QuotaRemaining:          s.QuotaRemaining,
		QuotaRenewalRate:        s.QuotaRenewalRate,
		ThrottleInterval:        s.ThrottleInterval,
		ThrottleRetryLimit:      s.ThrottleRetryLimit,
		Expires:                 s.Expires,
		OrgID:                   s.OrgID,
		ApplyPolicyID:           s.ApplyPolicyID,
		ApplyPolicies:           s.ApplyPolicies,
		DateCreated:             s.DateCreated,
		LastUpdated:             s.LastUpdated,
		IsInactive:              s.IsInactive,
		MetaData:                s.MetaData,
		Tags:                    s.Tags,
		Alias:                   s.Alias,
		OauthClientID:           s.OauthClientID,
		SessionLifetime:         s.SessionLifetime,
		DataExpires:             s.DataExpires,
		EnableDetailedRecording: s.EnableDetailedRecording,
		BasicAuthData:           user.BasicAuthData{Password: s.BasicAuthData.Password, Hash: user.HashType(s.BasicAuthData.HashType)},
		HMACEnabled:             s.HMACEnabled,
		HmacSecret:              s.HmacSecret,
		JWTData:                 user.JWTData{Secret: s.JWTData.Secret},
		KeyID:                   s.KeyID,

		MtlsStaticCertificateBindings: s.MtlsStaticCertificateBindings,
	}
	if s.AccessRights != nil {
		u.AccessRights = make(map[string]user.AccessDefinition, len(s.AccessRights))
		for id, a := range s.AccessRights {
			ua := user.AccessDefinition{APIName: a.APIName, APIID: a.APIID, Versions: a.Versions}
			if a.AllowedURLs != nil {
				ua.AllowedURLs = make([]user.AccessSpec, len(a.AllowedURLs))
				for i, spec := range a.AllowedURLs {
					ua.AllowedURLs[i] = user.AccessSpec{URL: spec.URL, Methods: spec.Methods}
				}
			}
			if l := a.Limit; l != nil {
				ua.Limit = user.APILimit{
					RateLimit:          user.RateLimit{Rate: l.Rate, Per: l.Per, Smoothing: smoothingFrom(l.Smoothing)},
					ThrottleInterval:   l.ThrottleInterval,
					ThrottleRetryLimit: l.ThrottleRetryLimit,
					QuotaMax:           l.QuotaMax,
					QuotaRenews:        l.QuotaRenews,
					QuotaRemaining:     l.QuotaRemaining,
					QuotaRenewalRate:   l.QuotaRenewalRate,
				}
			}
			if a.Endpoints != nil {
				ua.Endpoints = make([]user.Endpoint, len(a.Endpoints))
				for i, e := range a.Endpoints {
					ua.Endpoints[i] = user.Endpoint{Path: e.Path, Methods: make([]user.EndpointMethod, len(e.Methods))}
					for j, m := range e.Methods {
						ua.Endpoints[i].Methods[j] = user.EndpointMethod{Name: m.Name, Limit: user.RateLimit{Rate: m.Limit.Rate, Per: m.Limit.Per}}
					}
				}
			}
			u.AccessRights[id] = ua
		}
	}
	return u
}

// toGateway converts Tyk's session to the gateway's, sharing maps and slices (the plugin hands
// the session over). Fields the gateway does not keep are dropped (docs/tyk-plugins.md lists
// them); a zero per-API limit is no limit, as in Tyk.
func toGateway(u *user.SessionState) *gh.SessionState {
	s := &gh.SessionState{
		LastCheck:               u.LastCheck,
		Allowance:               u.Allowance,
		Rate:                    u.Rate,
		Per:                     u.Per,
		Smoothing:               smoothingTo(u.Smoothing),
		QuotaMax:                u.QuotaMax,
		QuotaRenews:             u.QuotaRenews,
		QuotaRemaining:          u.QuotaRemaining,
		QuotaRenewalRate:        u.QuotaRenewalRate,
		ThrottleInterval:        u.ThrottleInterval,
		ThrottleRetryLimit:      u.ThrottleRetryLimit,
		Expires:                 u.Expires,
		OrgID:                   u.OrgID,
		ApplyPolicyID:           u.ApplyPolicyID,
		ApplyPolicies:           u.ApplyPolicies,
		DateCreated:             u.DateCreated,
		LastUpdated:             u.LastUpdated,
		IsInactive:              u.IsInactive,
		MetaData:                u.MetaData,
		Tags:                    u.Tags,
		Alias:                   u.Alias,
		OauthClientID:           u.OauthClientID,
		SessionLifetime:         u.SessionLifetime,
		DataExpires:             u.DataExpires,
		EnableDetailedRecording: u.EnableDetailedRecording || u.EnableDetailRecording,
		BasicAuthData:           gh.BasicAuthData{Password: u.BasicAuthData.Password, HashType: string(u.BasicAuthData.Hash)},
		HMACEnabled:             u.HMACEnabled,
		HmacSecret:              u.HmacSecret,
		JWTData:                 gh.JWTData{Secret: u.JWTData.Secret},
		KeyID:                   u.KeyID,
	}
	if u.AccessRights != nil {
		s.AccessRights = make(map[string]gh.AccessDefinition, len(u.AccessRights))
		for id, ua := range u.AccessRights {
			a := gh.AccessDefinition{APIName: ua.APIName, APIID: ua.APIID, Versions: ua.Versions}
			if ua.AllowedURLs != nil {
				a.AllowedURLs = make([]gh.AccessSpec, len(ua.AllowedURLs))
				for i, spec := range ua.AllowedURLs {
					a.AllowedURLs[i] = gh.AccessSpec{URL: spec.URL, Methods: spec.Methods}
				}
			}
			if l := ua.Limit; l.Rate != 0 || l.Per != 0 || l.QuotaMax != 0 || l.QuotaRenews != 0 || l.QuotaRemaining != 0 || l.QuotaRenewalRate != 0 {
				a.Limit = &gh.APILimit{
					Rate:               l.Rate,
					Per:                l.Per,
					Smoothing:          smoothingTo(l.Smoothing),
					ThrottleInterval:   l.ThrottleInterval,
					ThrottleRetryLimit: l.ThrottleRetryLimit,
					QuotaMax:           l.QuotaMax,
					QuotaRenews:        l.QuotaRenews,
					QuotaRemaining:     l.QuotaRemaining,
					QuotaRenewalRate:   l.QuotaRenewalRate,
				}
			}
			if ua.Endpoints != nil {
				a.Endpoints = make([]gh.EndpointLimit, len(ua.Endpoints))
				for i, e := range ua.Endpoints {
					a.Endpoints[i] = gh.EndpointLimit{Path: e.Path, Methods: make([]gh.EndpointMethodLimit, len(e.Methods))}
					for j, m := range e.Methods {
						a.Endpoints[i].Methods[j] = gh.EndpointMethodLimit{Name: m.Name, Limit: gh.RateLimit{Rate: m.Limit.Rate, Per: m.Limit.Per}}
					}
				}
			}
			s.AccessRights[id] = a
		}
	}
	s.MtlsStaticCertificateBindings = u.MtlsStaticCertificateBindings
	return s
}

// smoothingFrom is a rate limit's smoothing as Tyk's session has it: nil when none is set.
func smoothingFrom(s gh.RateLimitSmoothing) *apidef.RateLimitSmoothing {
	if s == (gh.RateLimitSmoothing{}) {
		return nil
	}
	return &apidef.RateLimitSmoothing{Enabled: s.Enabled, Threshold: s.Threshold, Trigger: s.Trigger, Step: s.Step, Delay: s.Delay}
}

// smoothingTo is Tyk's smoothing of a rate limit as the gateway keeps it.
func smoothingTo(s *apidef.RateLimitSmoothing) gh.RateLimitSmoothing {
	if s == nil {
		return gh.RateLimitSmoothing{}
	}
	return gh.RateLimitSmoothing{Enabled: s.Enabled, Threshold: s.Threshold, Trigger: s.Trigger, Step: s.Step, Delay: s.Delay}
}
