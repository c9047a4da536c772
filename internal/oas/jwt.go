package oas

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// JWTScheme is Tyk's side of an OpenAPI `http` `bearer` security scheme: JWT auth, mapped onto
// Classic's enable_jwt and jwt_* fields.
type JWTScheme struct {
	Enabled bool `json:"enabled"`
	AuthSources
	Source            string     `json:"source"`
	JWKSURIs          []JWKSURI  `json:"jwksURIs"`
	SigningMethod     string     `json:"signingMethod"`
	IdentityBaseField string     `json:"identityBaseField"`
	SubjectClaims     []string   `json:"subjectClaims"`
	SkipKid           bool       `json:"skipKid"`
	PolicyFieldName   string     `json:"policyFieldName"`
	BasePolicyClaims  []string   `json:"basePolicyClaims"`
	ClientBaseField   string     `json:"clientBaseField"`
	Scopes            *JWTScopes `json:"scopes,omitempty"`
	DefaultPolicies   []string   `json:"defaultPolicies"`
	// Skews are seconds, as Classic's.
	IssuedAtValidationSkew     uint64          `json:"issuedAtValidationSkew"`
	NotBeforeValidationSkew    uint64          `json:"notBeforeValidationSkew"`
	ExpiresAtValidationSkew    uint64          `json:"expiresAtValidationSkew"`
	IDPClientIDMappingDisabled bool            `json:"idpClientIdMappingDisabled"`
	AllowedIssuers             []string        `json:"allowedIssuers"`
	AllowedAudiences           []string        `json:"allowedAudiences"`
	AllowedSubjects            []string        `json:"allowedSubjects"`
	JTIValidation              *Feature        `json:"jtiValidation,omitempty"`
	CustomClaimValidation      json.RawMessage `json:"customClaimValidation,omitempty"`
}

// JWKSURI is one entry of jwksURIs.
type JWKSURI struct {
	URL          string          `json:"url"`
	CacheTimeout json.RawMessage `json:"cacheTimeout,omitempty"`
}

// JWTScopes is `scopes` of a JWT scheme: where the scopes are and the policies they map to.
type JWTScopes struct {
	ClaimName            string   `json:"claimName"`
	Claims               []string `json:"claims"`
	ScopeToPolicyMapping []struct {
		Scope    string `json:"scope"`
		PolicyID string `json:"policyId"`
	} `json:"scopeToPolicyMapping"`
}

// jwtTo maps an enabled JWT scheme onto the Classic fields the JWT middleware reads: jwksURIs
// onto jwt_jwks_uris, and subjectClaims, basePolicyClaims and scopes.claims onto Gatehouse's
// Classic lists (jwt_subject_claims, ...), their first entries onto Tyk's single fields too.
func jwtTo(def *apidef.APIDefinition, name string, raw json.RawMessage, add func(string, ...any)) {
	var j JWTScheme
	if err := json.Unmarshal(raw, &j); err != nil {
		add("server.authentication.securitySchemes.%s: %v", name, err)
		return
	}
	def.EnableJWT = true
	def.JWTSource = j.Source
	for _, u := range j.JWKSURIs {
		secs, _ := cacheTimeout(u.CacheTimeout)
		def.JWTJwksURIs = append(def.JWTJwksURIs, apidef.JWKSURI{URL: u.URL, CacheTimeout: secs})
	}
	def.JWTSubjectClaims = append([]string(nil), j.SubjectClaims...)
	def.JWTBasePolicyClaims = append([]string(nil), j.BasePolicyClaims...)
	def.JWTSigningMethod = j.SigningMethod
	// As in Tyk, the OAS lists win over the single Classic-style fields.
	def.JWTIdentityBaseField = first(j.SubjectClaims, j.IdentityBaseField)
	def.JWTPolicyFieldName = first(j.BasePolicyClaims, j.PolicyFieldName)
	def.JWTSkipKid = j.SkipKid
	def.JWTClientIDBaseField = j.ClientBaseField
	def.JWTDefaultPolicies = append([]string(nil), j.DefaultPolicies...)
	def.JWTIssuedAtValidationSkew = j.IssuedAtValidationSkew
	def.JWTNotBeforeValidationSkew = j.NotBeforeValidationSkew
	def.JWTExpiresAtValidationSkew = j.ExpiresAtValidationSkew
	def.IDPClientIDMappingDisabled = j.IDPClientIDMappingDisabled
	cv := apidef.JWTClaimValidation{AllowedIssuers: j.AllowedIssuers, AllowedAudiences: j.AllowedAudiences,
		AllowedSubjects: j.AllowedSubjects, RequireJTI: j.JTIValidation != nil && j.JTIValidation.Enabled}
	if c := strings.TrimSpace(string(j.CustomClaimValidation)); c != "" && c != "null" {
		var rules map[string]struct {
			Type          string `json:"type"`
			AllowedValues []any  `json:"allowedValues"`
			NonBlocking   bool   `json:"nonBlocking"`
		}
		if err := json.Unmarshal(j.CustomClaimValidation, &rules); err != nil {
			add("server.authentication.securitySchemes.%s.customClaimValidation: %v (an object of rules by claim is expected)", name, err)
		}
		for claim, r := range rules {
			if cv.Custom == nil {
				cv.Custom = map[string]apidef.ClaimRule{}
			}
			cv.Custom[claim] = apidef.ClaimRule{Type: r.Type, AllowedValues: r.AllowedValues, NonBlocking: r.NonBlocking}
		}
	}
	def.JWTClaimValidation = cv
	if s := j.Scopes; s != nil {
		def.JWTScopeClaimName = first(s.Claims, s.ClaimName)
		def.JWTScopeClaims = append([]string(nil), s.Claims...)
		for _, m := range s.ScopeToPolicyMapping {
			if m.Scope == "" {
				continue
			}
			if def.JWTScopeToPolicyMapping == nil {
				def.JWTScopeToPolicyMapping = map[string]string{}
			}
			def.JWTScopeToPolicyMapping[m.Scope] = m.PolicyID
		}
	}
	// Where the token is read: Tyk's sources; without a header object the header is not read.
	ac := j.apply(apidef.AuthConfig{Name: apidef.ConfigJWT, DisableHeader: true})
	if def.AuthConfigs == nil {
		def.AuthConfigs = map[string]apidef.AuthConfig{}
	}
	def.AuthConfigs[apidef.ConfigJWT] = ac
}

// first is list's first entry, else single.
func first(list []string, single string) string {
	if len(list) > 0 {
		return list[0]
	}
	return single
}

// inertJWT lists what a JWT scheme sets that changes nothing here, with why.
func inertJWT(name string, raw json.RawMessage) []string {
	var j JWTScheme
	if json.Unmarshal(raw, &j) != nil || !j.Enabled {
		return nil
	}
	var out []string
	for i, u := range j.JWKSURIs {
		if _, ok := cacheTimeout(u.CacheTimeout); !ok {
			out = append(out, fmt.Sprintf("server.authentication.securitySchemes.%s.jwksURIs[%d].cacheTimeout (not a duration such as \"5m\" or a number of seconds: the gateway's 240 s are used)", name, i))
		}
	}
	if len(j.JWKSURIs) > 0 && j.Source != "" {
		out = append(out, fmt.Sprintf("server.authentication.securitySchemes.%s.source (jwksURIs are used in its place, as in Tyk)", name))
	}
	return out
}

// cacheTimeout reads a jwksURIs entry's cacheTimeout, a duration ("5m", Tyk's form) or a number
// of seconds, as whole seconds (rounded up); 0 and true for none, false for one that does not
// read.
func cacheTimeout(raw json.RawMessage) (int64, bool) {
	c := strings.TrimSpace(string(raw))
	if c == "" || c == "null" || c == `""` {
		return 0, true
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil && secs >= 0 && secs <= 1<<31 {
		return int64(math.Ceil(secs)), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, false
	}
	return int64(math.Ceil(d.Seconds())), true
}
