//go:build gatehouse_compat

// Package user is Gatehouse's rendering of Tyk's session (key) types, with Tyk's field names,
// Go types and JSON names. ctx.GetSession and ctx.SetSession convert them to and from the
// gateway's session (github.com/gatehouse/gatehouse/apidef.SessionState); fields the gateway
// does not keep are listed in docs/tyk-plugins.md.
package user

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/TykTechnologies/tyk/apidef"
)

// HashType names how a basic-auth password is stored.
type HashType string

// The password hash types.
const (
	HashPlainText HashType = ""
	HashBCrypt    HashType = "bcrypt"
	HashSha256    HashType = "sha256"
	HashMurmur32  HashType = "murmur32"
	HashMurmur64  HashType = "murmur64"
	HashMurmur128 HashType = "murmur128"
)

// IsHashType reports whether t names a hash type.
func IsHashType(t string) bool {
	switch HashType(t) {
	case HashBCrypt, HashSha256, HashMurmur32, HashMurmur64, HashMurmur128:
		return true
	}
	return false
}

// BasicAuthData is a basic-auth user's password.
type BasicAuthData struct {
	Password string   `json:"password"`
	Hash     HashType `json:"hash_type"`
}

// JWTData is a key's JWT secret.
type JWTData struct {
	Secret string `json:"secret"`
}

// Monitor lists the quota percentages that fire events.
type Monitor struct {
	TriggerLimits []float64 `json:"trigger_limits"`
}

// PostExpiryAction says what happens to a key once it expires.
type PostExpiryAction string

// AccessSpec restricts a key to methods on paths matching URL.
type AccessSpec struct {
	URL     string   `json:"url"`
	Methods []string `json:"methods"`
}

// RateLimit is a rate limit: Rate requests per Per seconds.
type RateLimit struct {
	Rate      float64                    `json:"rate"`
	Per       float64                    `json:"per"`
	Smoothing *apidef.RateLimitSmoothing `json:"smoothing,omitempty"`
}

// APILimit is a key's rate limit and quota on one API.
type APILimit struct {
	RateLimit
	ThrottleInterval   float64 `json:"throttle_interval"`
	ThrottleRetryLimit int     `json:"throttle_retry_limit"`
	MaxQueryDepth      int     `json:"max_query_depth"`
	QuotaMax           int64   `json:"quota_max"`
	QuotaRenews        int64   `json:"quota_renews"`
	QuotaRemaining     int64   `json:"quota_remaining"`
	QuotaRenewalRate   int64   `json:"quota_renewal_rate"`
	SetBy              string  `json:"-"`
}

// IsEmpty reports whether the limit sets nothing.
func (l APILimit) IsEmpty() bool {
	return l.Rate == 0 && l.Per == 0 && l.Smoothing == nil && l.ThrottleInterval == 0 && l.ThrottleRetryLimit == 0 &&
		l.MaxQueryDepth == 0 && l.QuotaMax == 0 && l.QuotaRenews == 0 && l.QuotaRemaining == 0 && l.QuotaRenewalRate == 0
}

// Clone returns a copy of the limit.
func (l *APILimit) Clone() *APILimit {
	if l == nil {
		return nil
	}
	c := *l
	if l.Smoothing != nil {
		s := *l.Smoothing
		c.Smoothing = &s
	}
	return &c
}

// Duration returns the rate limit's period.
func (l APILimit) Duration() time.Duration {
	return time.Duration(l.Per * float64(time.Second))
}

// EndpointMethod is a rate limit on one method of an endpoint.
type EndpointMethod struct {
	Name  string    `json:"name"`
	Limit RateLimit `json:"limit"`
}

// Endpoint is a rate limit on one path.
type Endpoint struct {
	Path    string           `json:"path"`
	Methods []EndpointMethod `json:"methods"`
}

// FieldLimits limits a GraphQL field.
type FieldLimits struct {
	MaxQueryDepth int `json:"max_query_depth"`
}

// FieldAccessDefinition limits one GraphQL field.
type FieldAccessDefinition struct {
	TypeName  string      `json:"type_name"`
	FieldName string      `json:"field_name"`
	Limits    FieldLimits `json:"limits"`
}

// AccessDefinition grants a key access to one API.
type AccessDefinition struct {
	APIName              string                  `json:"api_name"`
	APIID                string                  `json:"api_id"`
	Versions             []string                `json:"versions"`
	AllowedURLs          []AccessSpec            `json:"allowed_urls"`
	Limit                APILimit                `json:"limit"`
	FieldAccessRights    []FieldAccessDefinition `json:"field_access_rights"`
	DisableIntrospection bool                    `json:"disable_introspection"`
	AllowanceScope       string                  `json:"allowance_scope"`
	Endpoints            []Endpoint              `json:"endpoints,omitempty"`
}

// SessionState is a key: who may call which APIs, how often, until when.
type SessionState struct {
	LastCheck                     int64                       `json:"last_check"`
	Allowance                     float64                     `json:"allowance"`
	Rate                          float64                     `json:"rate"`
	Per                           float64                     `json:"per"`
	ThrottleInterval              float64                     `json:"throttle_interval"`
	ThrottleRetryLimit            int                         `json:"throttle_retry_limit"`
	MaxQueryDepth                 int                         `json:"max_query_depth"`
	DateCreated                   time.Time                   `json:"date_created"`
	Expires                       int64                       `json:"expires"`
	QuotaMax                      int64                       `json:"quota_max"`
	QuotaRenews                   int64                       `json:"quota_renews"`
	QuotaRemaining                int64                       `json:"quota_remaining"`
	QuotaRenewalRate              int64                       `json:"quota_renewal_rate"`
	AccessRights                  map[string]AccessDefinition `json:"access_rights"`
	OrgID                         string                      `json:"org_id"`
	OauthClientID                 string                      `json:"oauth_client_id"`
	OauthKeys                     map[string]string           `json:"oauth_keys"`
	Certificate                   string                      `json:"certificate"`
	MtlsStaticCertificateBindings []string                    `json:"mtls_static_certificate_bindings,omitempty"`
	BasicAuthData                 BasicAuthData               `json:"basic_auth_data"`
	JWTData                       JWTData                     `json:"jwt_data"`
	HMACEnabled                   bool                        `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool                        `json:"enable_http_signature_validation"`
	HmacSecret                    string                      `json:"hmac_string"`
	RSACertificateId              string                      `json:"rsa_certificate_id"`
	IsInactive                    bool                        `json:"is_inactive"`
	ApplyPolicyID                 string                      `json:"apply_policy_id"`
	ApplyPolicies                 []string                    `json:"apply_policies"`
	DataExpires                   int64                       `json:"data_expires"`
	Monitor                       Monitor                     `json:"monitor"`
	// Deprecated: use EnableDetailedRecording.
	EnableDetailRecording   bool                       `json:"enable_detail_recording"`
	EnableDetailedRecording bool                       `json:"enable_detailed_recording"`
	MetaData                map[string]interface{}     `json:"meta_data"`
	Tags                    []string                   `json:"tags"`
	Alias                   string                     `json:"alias"`
	LastUpdated             string                     `json:"last_updated"`
	IdExtractorDeadline     int64                      `json:"id_extractor_deadline"`
	SessionLifetime         int64                      `json:"session_lifetime"`
	Smoothing               *apidef.RateLimitSmoothing `json:"smoothing,omitempty"`
	PostExpiryAction        PostExpiryAction           `json:"post_expiry_action,omitempty"`
	PostExpiryGracePeriod   int64                      `json:"post_expiry_grace_period,omitempty"`

	// KeyID is the key itself; it is never serialised.
	KeyID string `json:"-"`

	keyHash  string
	modified bool
}

// NewSessionState returns an empty session.
func NewSessionState() *SessionState { return &SessionState{} }

// APILimit returns the session's own rate limit and quota.
func (s *SessionState) APILimit() APILimit {
	return APILimit{
		RateLimit:          RateLimit{Rate: s.Rate, Per: s.Per, Smoothing: s.Smoothing},
		ThrottleInterval:   s.ThrottleInterval,
		ThrottleRetryLimit: s.ThrottleRetryLimit,
		MaxQueryDepth:      s.MaxQueryDepth,
		QuotaMax:           s.QuotaMax,
		QuotaRenews:        s.QuotaRenews,
		QuotaRemaining:     s.QuotaRemaining,
		QuotaRenewalRate:   s.QuotaRenewalRate,
	}
}

// Touch marks the session changed, so that it is stored.
func (s *SessionState) Touch() { s.modified = true }

// Reset clears the changed mark.
func (s *SessionState) Reset() { s.modified = false }

// IsModified reports whether the session was marked changed.
func (s *SessionState) IsModified() bool { return s.modified }

// KeyHash returns the key's hash. Like Tyk's, it panics when none was set.
func (s *SessionState) KeyHash() string {
	if s.keyHash == "" {
		panic("KeyHash used but not set")
	}
	return s.keyHash
}

// SetKeyHash sets the key's hash.
func (s *SessionState) SetKeyHash(h string) { s.keyHash = h }

// KeyHashEmpty reports whether no key hash is set.
func (s *SessionState) KeyHashEmpty() bool { return s.keyHash == "" }

// Clone returns a deep copy of the session (a value, as Tyk's).
func (s *SessionState) Clone() SessionState {
	c := *s
	c.AccessRights = cloneRights(s.AccessRights)
	if s.OauthKeys != nil {
		c.OauthKeys = make(map[string]string, len(s.OauthKeys))
		for k, v := range s.OauthKeys {
			c.OauthKeys[k] = v
		}
	}
	c.MtlsStaticCertificateBindings = slices.Clone(s.MtlsStaticCertificateBindings)
	c.ApplyPolicies = slices.Clone(s.ApplyPolicies)
	c.Monitor.TriggerLimits = slices.Clone(s.Monitor.TriggerLimits)
	c.MetaData = cloneMap(s.MetaData)
	c.Tags = slices.Clone(s.Tags)
	if s.Smoothing != nil {
		sm := *s.Smoothing
		c.Smoothing = &sm
	}
	return c
}

func cloneRights(m map[string]AccessDefinition) map[string]AccessDefinition {
	if m == nil {
		return nil
	}
	c := make(map[string]AccessDefinition, len(m))
	for k, a := range m {
		a.Versions = slices.Clone(a.Versions)
		a.AllowedURLs = slices.Clone(a.AllowedURLs)
		for i := range a.AllowedURLs {
			a.AllowedURLs[i].Methods = slices.Clone(a.AllowedURLs[i].Methods)
		}
		a.Limit = *a.Limit.Clone()
		a.FieldAccessRights = slices.Clone(a.FieldAccessRights)
		a.Endpoints = slices.Clone(a.Endpoints)
		for i := range a.Endpoints {
			a.Endpoints[i].Methods = slices.Clone(a.Endpoints[i].Methods)
		}
		c[k] = a
	}
	return c
}

func cloneMap(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	c := make(map[string]interface{}, len(m))
	for k, v := range m {
		c[k] = cloneValue(v)
	}
	return c
}

func cloneValue(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		return cloneMap(x)
	case []interface{}:
		c := make([]interface{}, len(x))
		for i, e := range x {
			c[i] = cloneValue(e)
		}
		return c
	}
	return v
}

// MD5Hash returns a hash of the session's content.
func (s *SessionState) MD5Hash() string {
	data, _ := json.Marshal(s)
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// Lifetime returns how long the session is kept, in seconds: the global lifetime when forced,
// else the session's own lifetime or fallback (the API's), capped by the key's expiry when
// respectKeyExpiration is set. 0 means for ever.
func (s *SessionState) Lifetime(respectKeyExpiration bool, fallback int64, forceGlobal bool, global int64) int64 {
	if forceGlobal {
		return global
	}
	lifetime := fallback
	if s.SessionLifetime > 0 {
		lifetime = s.SessionLifetime
	}
	if respectKeyExpiration && s.Expires > 0 {
		left := s.Expires - time.Now().Unix()
		if left < 1 {
			left = 1
		}
		if lifetime <= 0 || left < lifetime {
			lifetime = left
		}
	}
	return lifetime
}

// PolicyIDs returns the policies the session applies.
func (s *SessionState) PolicyIDs() []string {
	if len(s.ApplyPolicies) > 0 {
		return s.ApplyPolicies
	}
	if s.ApplyPolicyID != "" {
		return []string{s.ApplyPolicyID}
	}
	return nil
}

// SetPolicies makes ids the session's policies (and clears the older single-policy field).
func (s *SessionState) SetPolicies(ids ...string) {
	s.ApplyPolicyID = ""
	s.ApplyPolicies = ids
}

// PoliciesEqualTo reports whether the session applies exactly ids, in order.
func (s *SessionState) PoliciesEqualTo(ids []string) bool {
	return slices.Equal(s.PolicyIDs(), ids)
}

// GetQuotaLimitByAPIID returns the quota of the session's access right to apiID, or zeros.
func (s *SessionState) GetQuotaLimitByAPIID(apiID string) (max, remaining, renewalRate, renews int64) {
	if ar, ok := s.AccessRights[apiID]; ok {
		l := ar.Limit
		return l.QuotaMax, l.QuotaRemaining, l.QuotaRenewalRate, l.QuotaRenews
	}
	return 0, 0, 0, 0
}

// IsBasicAuth reports whether the session is a basic-auth user's.
func (s *SessionState) IsBasicAuth() bool { return s.BasicAuthData.Password != "" }

// TagsFromMetadata adds to the session's tags the strings of data["tags"] it does not have,
// and reports whether it added any.
func (s *SessionState) TagsFromMetadata(data map[string]interface{}) (updated bool) {
	list, _ := data["tags"].([]interface{})
	for _, v := range list {
		if t, ok := v.(string); ok && !slices.Contains(s.Tags, t) {
			s.Tags = append(s.Tags, t)
			updated = true
		}
	}
	return updated
}

// Policy is a security policy.
type Policy struct {
	MID                           string                      `json:"_id,omitempty"`
	ID                            string                      `json:"id"`
	Name                          string                      `json:"name"`
	OrgID                         string                      `json:"org_id"`
	Rate                          float64                     `json:"rate"`
	Per                           float64                     `json:"per"`
	QuotaMax                      int64                       `json:"quota_max"`
	QuotaRenewalRate              int64                       `json:"quota_renewal_rate"`
	ThrottleInterval              float64                     `json:"throttle_interval"`
	ThrottleRetryLimit            int                         `json:"throttle_retry_limit"`
	MaxQueryDepth                 int                         `json:"max_query_depth"`
	AccessRights                  map[string]AccessDefinition `json:"access_rights"`
	HMACEnabled                   bool                        `json:"hmac_enabled"`
	EnableHTTPSignatureValidation bool                        `json:"enable_http_signature_validation"`
	Active                        bool                        `json:"active"`
	IsInactive                    bool                        `json:"is_inactive"`
	Tags                          []string                    `json:"tags"`
	KeyExpiresIn                  int64                       `json:"key_expires_in"`
	Partitions                    PolicyPartitions            `json:"partitions"`
	LastUpdated                   string                      `json:"last_updated"`
	MetaData                      map[string]interface{}      `json:"meta_data"`
	Smoothing                     *apidef.RateLimitSmoothing  `json:"smoothing,omitempty"`
	PostExpiryAction              PostExpiryAction            `json:"post_expiry_action,omitempty"`
	PostExpiryGracePeriod         int64                       `json:"post_expiry_grace_period,omitempty"`
}

// PolicyPartitions says which parts of a policy apply.
type PolicyPartitions struct {
	Quota      bool `json:"quota"`
	RateLimit  bool `json:"rate_limit"`
	Complexity bool `json:"complexity"`
	Acl        bool `json:"acl"`
	PerAPI     bool `json:"per_api"`
}
