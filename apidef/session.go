package apidef

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// SessionState is a key: who may call which APIs, how often, until when. It is stored as JSON
// with Tyk's field names.
type SessionState struct {
	LastCheck        int64   `json:"last_check"`
	Allowance        float64 `json:"allowance"`
	Rate             float64 `json:"rate"`
	Per              float64 `json:"per"`
	QuotaMax         int64   `json:"quota_max"`
	QuotaRenews      int64   `json:"quota_renews"`
	QuotaRemaining   int64   `json:"quota_remaining"`
	QuotaRenewalRate int64   `json:"quota_renewal_rate"`
	// ThrottleInterval and ThrottleRetryLimit make a request the rate limit refuses wait
	// ThrottleInterval seconds and be checked again, up to ThrottleRetryLimit times, before it
	// gets 429 (Tyk's request throttling); either at 0 or less, it is refused at once.
	ThrottleInterval   float64 `json:"throttle_interval"`
	ThrottleRetryLimit int     `json:"throttle_retry_limit"`
	// Smoothing makes the rate limit follow the traffic (with enable_rate_limit_smoothing).
	Smoothing RateLimitSmoothing `json:"smoothing,omitzero"`
	// Expires is a Unix timestamp after which the key is refused; 0 means never.
	Expires int64 `json:"expires"`

	AccessRights map[string]AccessDefinition `json:"access_rights"`
	OrgID        string                      `json:"org_id"`

	// ApplyPolicyID is Tyk's older single-policy field; ApplyPolicies supersedes it.
	ApplyPolicyID string   `json:"apply_policy_id,omitempty"`
	ApplyPolicies []string `json:"apply_policies"`

	DateCreated     time.Time              `json:"date_created"`
	LastUpdated     string                 `json:"last_updated,omitempty"`
	IsInactive      bool                   `json:"is_inactive"`
	MetaData        map[string]interface{} `json:"meta_data"`
	Tags            []string               `json:"tags"`
	Alias           string                 `json:"alias"`
	SessionLifetime int64                  `json:"session_lifetime,omitempty"`
	DataExpires     int64                  `json:"data_expires,omitempty"`

	EnableDetailedRecording bool `json:"enable_detailed_recording,omitempty"`

	// Monitor sets the quota percentages at which the gateway's quota monitor tells of the key
	// (or, in an org's session, of the org): Tyk's monitor.trigger_limits.
	Monitor Monitor `json:"monitor,omitzero"`

	// BasicAuthData is the password of a basic-auth user (a key named by its username).
	BasicAuthData BasicAuthData `json:"basic_auth_data,omitzero"`
	// JWTData holds the secret of a key used by JWT APIs in Tyk's one-to-one mode.
	JWTData JWTData `json:"jwt_data,omitzero"`

	// HMACEnabled lets the key sign requests to APIs with enable_signature_checking, with
	// HmacSecret (Tyk's hmac_string) as the HMAC key. The Gateway API generates the secret
	// when a key enables HMAC without one.
	HMACEnabled bool   `json:"hmac_enabled,omitempty"`
	HmacSecret  string `json:"hmac_string,omitempty"`
	// EnableHTTPSignatureValidation lets the key sign requests with rsa-sha256, verified with
	// the public key that RSACertificateID names in the certificate store (a public key, or a
	// certificate's).
	EnableHTTPSignatureValidation bool   `json:"enable_http_signature_validation,omitempty"`
	RSACertificateID              string `json:"rsa_certificate_id,omitempty"`

	// MtlsStaticCertificateBindings binds the key to client certificates, as Tyk's static
	// certificate binding: a request using the key must present one of them in its TLS
	// handshake. Each is a certificate's SHA-256 fingerprint in hex, or Tyk's certificate id
	// ending with it (<org id><fingerprint>).
	MtlsStaticCertificateBindings []string `json:"mtls_static_certificate_bindings,omitempty"`
	// Certificate makes the key the one of a client certificate, for certificate auth
	// (auth_configs.authToken.use_certificate): the id of the certificate in the certificate
	// store (<org id><SHA-256 fingerprint>). Such a key is named from it (the Gateway API
	// chooses the name) and is found by the certificate a request presents, never by a token.
	Certificate string `json:"certificate,omitempty"`

	// OauthClientID is the OAuth 2.0 client an access token was issued to (Tyk's
	// oauth_client_id). An API with use_oauth2 accepts a key as a bearer token only when it
	// names one of the API's clients.
	OauthClientID string `json:"oauth_client_id,omitempty"`

	// KeyID is the key itself. It is never serialised: stores hold it only as their lookup key,
	// hashed when the gateway hashes keys.
	KeyID string `json:"-"`
}

// AccessDefinition grants a key access to one API.
type AccessDefinition struct {
	APIName     string       `json:"api_name"`
	APIID       string       `json:"api_id"`
	Versions    []string     `json:"versions"`
	AllowedURLs []AccessSpec `json:"allowed_urls,omitempty"`
	Limit       *APILimit    `json:"limit,omitempty"`
	// Endpoints are the key's per-endpoint rate limits on the API ({path, methods: [{name,
	// limit}]}); the first entry matching a request's method and path replaces Limit's (or the
	// key's) rate for it.
	Endpoints []EndpointLimit `json:"endpoints,omitempty"`
}

// AccessSpec restricts a key to the methods it lists on paths matching URL.
type AccessSpec struct {
	URL     string   `json:"url"`
	Methods []string `json:"methods"`
}

// APILimit gives a key its own rate limit and quota on one API, counted apart from its other APIs.
type APILimit struct {
	Rate               float64            `json:"rate"`
	Per                float64            `json:"per"`
	Smoothing          RateLimitSmoothing `json:"smoothing,omitzero"`
	ThrottleInterval   float64            `json:"throttle_interval"`
	ThrottleRetryLimit int                `json:"throttle_retry_limit"`
	QuotaMax           int64              `json:"quota_max"`
	QuotaRenews        int64              `json:"quota_renews"`
	QuotaRemaining     int64              `json:"quota_remaining"`
	QuotaRenewalRate   int64              `json:"quota_renewal_rate"`
}

// Throttled reports whether a request the rate limit refuses waits and is checked again.
func (l APILimit) Throttled() bool { return l.ThrottleRetryLimit > 0 && l.ThrottleInterval > 0 }

// IsZero reports whether the limit sets no rate limit or quota, in which case the key's own
// limits apply (its throttling settings with them).
func (l *APILimit) IsZero() bool {
	return l == nil || (l.Rate == 0 && l.Per == 0 && l.QuotaMax == 0 && l.QuotaRenewalRate == 0)
}

// PolicyIDs returns the policies the session names, the older single field included.
func (s *SessionState) PolicyIDs() []string {
	if s.ApplyPolicyID == "" {
		return s.ApplyPolicies
	}
	for _, id := range s.ApplyPolicies {
		if id == s.ApplyPolicyID {
			return s.ApplyPolicies
		}
	}
	return append([]string{s.ApplyPolicyID}, s.ApplyPolicies...)
}

// Monitor is a session's quota triggers (Tyk's monitor): percentages of the quota, highest
// first, at which the quota monitor fires TriggerExceeded.
type Monitor struct {
	TriggerLimits []float64 `json:"trigger_limits,omitempty"`
}

// Clone returns a deep copy of the session, KeyID included: changing the copy's maps and
// slices, meta_data at any depth included, changes nothing in s.
func (s *SessionState) Clone() *SessionState {
	if s == nil {
		return nil
	}
	c := *s
	c.ApplyPolicies = slices.Clone(s.ApplyPolicies)
	c.Tags = slices.Clone(s.Tags)
	c.MetaData = CloneMetaData(s.MetaData)
	c.MtlsStaticCertificateBindings = slices.Clone(s.MtlsStaticCertificateBindings)
	c.Monitor.TriggerLimits = slices.Clone(s.Monitor.TriggerLimits)
	if s.AccessRights != nil {
		c.AccessRights = make(map[string]AccessDefinition, len(s.AccessRights))
		for k, ar := range s.AccessRights {
			c.AccessRights[k] = ar.Clone()
		}
	}
	return &c
}

// Clone returns a deep copy of the access right.
func (a AccessDefinition) Clone() AccessDefinition {
	a.Versions = slices.Clone(a.Versions)
	// Each spec is copied whole, then its slices: a field added to AccessSpec is kept.
	a.AllowedURLs = slices.Clone(a.AllowedURLs)
	for i := range a.AllowedURLs {
		a.AllowedURLs[i].Methods = slices.Clone(a.AllowedURLs[i].Methods)
	}
	if a.Limit != nil {
		l := *a.Limit
		a.Limit = &l
	}
	a.Endpoints = slices.Clone(a.Endpoints)
	for i := range a.Endpoints {
		a.Endpoints[i].Methods = slices.Clone(a.Endpoints[i].Methods)
	}
	return a
}

// CloneMetaData returns a deep copy of meta data: the maps and slices JSON decodes to are
// copied at every depth; other values are shared.
func CloneMetaData(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	c := make(map[string]interface{}, len(m))
	for k, v := range m {
		c[k] = CloneValue(v)
	}
	return c
}

// CloneValue returns a deep copy of a decoded JSON value (maps and slices copied at every depth).
func CloneValue(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		return CloneMetaData(x)
	case []interface{}:
		c := make([]interface{}, len(x))
		for i, e := range x {
			c[i] = CloneValue(e)
		}
		return c
	}
	return v
}

// Policy is a Tyk security policy: limits and access rights shared by the keys that name it.
type Policy struct {
	MID              string  `json:"_id,omitempty"`
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	OrgID            string  `json:"org_id"`
	Rate             float64 `json:"rate"`
	Per              float64 `json:"per"`
	QuotaMax         int64   `json:"quota_max"`
	QuotaRenewalRate int64   `json:"quota_renewal_rate"`
	// Smoothing goes with the rate limit: the policy whose rate wins gives it.
	Smoothing RateLimitSmoothing `json:"smoothing,omitzero"`
	// ThrottleInterval and ThrottleRetryLimit are given with the rate limit (its partition),
	// the larger of the key's policies' winning, as in Tyk.
	ThrottleInterval   float64                     `json:"throttle_interval"`
	ThrottleRetryLimit int                         `json:"throttle_retry_limit"`
	AccessRights       map[string]AccessDefinition `json:"access_rights"`
	Active             bool                        `json:"active"`
	IsInactive         bool                        `json:"is_inactive"`
	Tags               []string                    `json:"tags"`
	KeyExpiresIn       int64                       `json:"key_expires_in"`
	MetaData           map[string]interface{}      `json:"meta_data"`
	// Partitions, when any is set, limit what the policy gives a key to those parts.
	Partitions PolicyPartitions `json:"partitions"`
}

// PolicyPartitions says which parts of a policy apply: with none set, all of them do.
type PolicyPartitions struct {
	Quota      bool `json:"quota"`
	RateLimit  bool `json:"rate_limit"`
	Complexity bool `json:"complexity"`
	ACL        bool `json:"acl"`
	PerAPI     bool `json:"per_api"`
}

// LimitFor returns the rate limit and quota that apply to the session on the API apiID: the
// access right's own limit when it sets one (perAPI true: counted apart from the key's other
// APIs), else the session's.
func (s *SessionState) LimitFor(apiID string) (limit APILimit, perAPI bool) {
	if ar, ok := s.AccessRights[apiID]; ok && !ar.Limit.IsZero() {
		return *ar.Limit, true
	}
	return APILimit{
		Rate:               s.Rate,
		Per:                s.Per,
		Smoothing:          s.Smoothing,
		ThrottleInterval:   s.ThrottleInterval,
		ThrottleRetryLimit: s.ThrottleRetryLimit,
		QuotaMax:           s.QuotaMax,
		QuotaRenews:        s.QuotaRenews,
		QuotaRemaining:     s.QuotaRemaining,
		QuotaRenewalRate:   s.QuotaRenewalRate,
	}, false
}

// RateLimitSmoothing is Tyk's rate limit smoothing of a key's or policy's rate limit: the
// requests allowed per period start at Threshold and move by Step, at most once every Delay
// seconds: up while the requests in the period reach the allowance less Trigger×Step (never
// above the rate), down while they stay at or under the allowance less (1+Trigger)×Step (never
// below Threshold). It applies only with Enabled and Threshold, Step and Delay all above 0
// (Valid), and only where tyk.conf sets enable_rate_limit_smoothing.
type RateLimitSmoothing struct {
	Enabled   bool    `json:"enabled"`
	Threshold int64   `json:"threshold"`
	Trigger   float64 `json:"trigger"`
	Step      int64   `json:"step"`
	Delay     int64   `json:"delay"`
}

// Valid reports whether the smoothing applies: enabled, with Threshold, Step and Delay above 0.
func (s RateLimitSmoothing) Valid() bool {
	return s.Enabled && s.Threshold > 0 && s.Step > 0 && s.Delay > 0
}

// CheckSmoothing is the rule for a rate limit's smoothing wherever it is written: numbers the
// limiter can count with (a trigger that is a number from 0 to MaxRate, a threshold and step up to
// MaxRate, a delay up to MaxPeriod seconds). Settings Tyk would not apply (not enabled, or a
// threshold, step or delay of 0 or less) are kept and change nothing, as in Tyk. where prefixes
// each message.
func CheckSmoothing(where string, s RateLimitSmoothing) []error {
	var errs []error
	if math.IsNaN(s.Trigger) || s.Trigger < 0 || s.Trigger > MaxRate {
		errs = append(errs, fmt.Errorf("%ssmoothing.trigger %v must be a number from 0 to %v", where, s.Trigger, float64(MaxRate)))
	}
	if s.Threshold > MaxRate || s.Step > MaxRate {
		errs = append(errs, fmt.Errorf("%ssmoothing.threshold and step must be at most %v", where, float64(MaxRate)))
	}
	if s.Delay > MaxPeriod {
		errs = append(errs, fmt.Errorf("%ssmoothing.delay %d is more than %d seconds", where, s.Delay, MaxPeriod))
	}
	return errs
}

// Limits on the numbers a key, policy or definition may hold: beyond them, conversions to
// counts and durations would overflow.
const (
	// MaxRate is the largest rate (requests per period).
	MaxRate = 1e9
	// MaxPeriod is the longest per, quota_renewal_rate or session_lifetime, in seconds (100 years).
	MaxPeriod = 100 * 365 * 24 * 3600
	// MinPeriod is the shortest per that limits, in seconds: a millisecond.
	MinPeriod = 0.001
)

// CheckRate is the one rule for a rate limit's rate and per, wherever they are written: a key,
// an access right's limit, a policy, a definition's global_rate_limit. A rate of 0 or less sets
// no limit, whatever per says (Tyk runs its rate limiter only for a positive rate; a policy's -1
// means none). A positive rate limits: it is at most MaxRate, and per must then be a number of
// seconds from MinPeriod to MaxPeriod (a per of 0 is refused rather than read as no limit,
// which would open the door a rate was meant to close). where prefixes each message.
func CheckRate(where string, rate, per float64) []error {
	var errs []error
	if math.IsNaN(rate) || math.IsNaN(per) {
		errs = append(errs, fmt.Errorf("%srate and per must be numbers", where))
	}
	if !(rate > 0) {
		return errs
	}
	if rate > MaxRate {
		errs = append(errs, fmt.Errorf("%srate %v is more than %v", where, rate, MaxRate))
	}
	switch {
	case math.IsNaN(per):
	case per <= 0:
		errs = append(errs, fmt.Errorf("%sper is %v; with a rate of %v it must be a positive number of seconds (a rate of 0 sets no limit)", where, per, rate))
	case per < MinPeriod:
		errs = append(errs, fmt.Errorf("%sper %v is less than %v seconds", where, per, MinPeriod))
	case per > MaxPeriod:
		errs = append(errs, fmt.Errorf("%sper %v is more than %d seconds", where, per, MaxPeriod))
	}
	return errs
}

// MaxThrottleInterval is the longest throttle_interval, in seconds: a request waits that long
// between checks while it holds a connection and a goroutine.
const MaxThrottleInterval = 3600

// CheckThrottle is the rule for throttle_interval wherever it is written: a number of seconds
// up to MaxThrottleInterval (0 or less: no throttling). where prefixes each message.
func CheckThrottle(where string, interval float64) []error {
	if math.IsNaN(interval) || interval > MaxThrottleInterval {
		return []error{fmt.Errorf("%sthrottle_interval %v must be a number of seconds up to %d", where, interval, MaxThrottleInterval)}
	}
	return nil
}

// Validate checks that the session's numbers are in range, returning every problem found.
func (s *SessionState) Validate() error {
	var errs []error
	check := func(where string, rate, per float64, renewal int64, throttle float64, smoothing RateLimitSmoothing) {
		errs = append(errs, CheckRate(where, rate, per)...)
		errs = append(errs, CheckSmoothing(where, smoothing)...)
		errs = append(errs, CheckThrottle(where, throttle)...)
		if renewal > MaxPeriod {
			errs = append(errs, fmt.Errorf("%squota_renewal_rate %d is more than %d seconds", where, renewal, MaxPeriod))
		}
	}
	check("", s.Rate, s.Per, s.QuotaRenewalRate, s.ThrottleInterval, s.Smoothing)
	if s.SessionLifetime > MaxPeriod {
		errs = append(errs, fmt.Errorf("session_lifetime %d is more than %d seconds", s.SessionLifetime, MaxPeriod))
	}
	errs = append(errs, checkCertificateBindings(s.MtlsStaticCertificateBindings)...)
	if id := s.Certificate; id != "" && !IsCertificateStoreID(id) {
		errs = append(errs, fmt.Errorf("certificate %.80q is not an id of the certificate store (an org id followed by 64 lowercase hex digits): add the client certificate with POST /tyk/certs and give the id it answers", id))
	}
	if s.Certificate != "" && (s.BasicAuthData.Password != "" || s.JWTData.Secret != "" || s.HMACEnabled || s.OauthClientID != "") {
		// Its name, computable from the public certificate, would then stand for the
		// certificate with another method's credentials.
		errs = append(errs, errors.New("a key with certificate is found by the client certificate only: it cannot also be a basic auth user, a JWT key, an HMAC key or an OAuth token"))
	}
	if id := s.RSACertificateID; id != "" {
		if !IsCertificateStoreID(id) {
			errs = append(errs, fmt.Errorf("rsa_certificate_id %.80q is not an id of the certificate store (an org id followed by 64 hex digits)", id))
		}
	}
	if p, ok := s.MetaData[RateLimitPatternMeta]; ok && p != nil && p != "" {
		// Counting by the key instead would merge or split the counters the pattern meant.
		errs = append(errs, fmt.Errorf("meta_data.%s (Tyk's custom rate limit and quota key) is not supported: "+
			"the key's limits would count per key, not per pattern; remove it, or give the keys that share a "+
			"counter one key, or a policy each", RateLimitPatternMeta))
	}
	for _, id := range slices.Sorted(maps.Keys(s.AccessRights)) {
		ar := s.AccessRights[id]
		if ar.Limit != nil {
			check(fmt.Sprintf("access_rights[%q].limit.", id), ar.Limit.Rate, ar.Limit.Per, ar.Limit.QuotaRenewalRate, ar.Limit.ThrottleInterval, ar.Limit.Smoothing)
		}
		errs = append(errs, checkEndpointLimits(fmt.Sprintf("access_rights[%q].endpoints", id), ar.Endpoints)...)
	}
	return errors.Join(errs...)
}

// RateLimitPatternMeta is the meta_data entry Tyk reads a key's custom rate limit and quota
// counter from (expanded with context variables); Gatehouse refuses keys that set it.
const RateLimitPatternMeta = "rate_limit_pattern"

// MaxCertificateBindings bounds a key's mtls_static_certificate_bindings.
const MaxCertificateBindings = 100

// checkCertificateBindings reports bindings that name no certificate: each must end with a
// SHA-256 fingerprint in hex (64 digits), as Tyk's certificate ids do.
func checkCertificateBindings(bindings []string) []error {
	if len(bindings) > MaxCertificateBindings {
		return []error{fmt.Errorf("mtls_static_certificate_bindings has %d entries; at most %d are allowed", len(bindings), MaxCertificateBindings)}
	}
	var errs []error
	for i, b := range bindings {
		if _, ok := CertificateFingerprint(b); !ok {
			errs = append(errs, fmt.Errorf("mtls_static_certificate_bindings[%d] %q is not a certificate: write its SHA-256 fingerprint in hex, or Tyk's certificate id (<org id><fingerprint>)", i, b))
		}
	}
	return errs
}

// IsCertificateStoreID reports whether id has the form of an id of the certificate store: an
// organisation id (CertificateStoreOrgID) followed by 64 lowercase hex digits.
func IsCertificateStoreID(id string) bool {
	const n = 64
	if len(id) < n || !CertificateStoreOrgID(id[:len(id)-n]) {
		return false
	}
	for _, c := range []byte(id[len(id)-n:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// MaxCertificateStoreOrgID bounds the organisation id an id of the certificate store starts with.
const MaxCertificateStoreOrgID = 256

// CertificateStoreOrgID reports whether org can start an id of the certificate store: at most
// MaxCertificateStoreOrgID bytes, without spaces, control characters, commas, slashes or *?[]
// (ids are names in the store, listed by prefix, and named in comma-separated lists).
func CertificateStoreOrgID(org string) bool {
	if len(org) > MaxCertificateStoreOrgID {
		return false
	}
	for _, c := range org {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(",/\\*?[]", c) {
			return false
		}
	}
	return true
}

// CertificateFingerprint returns the SHA-256 fingerprint a certificate binding or id ends with,
// in lower-case hex.
func CertificateFingerprint(id string) (string, bool) {
	const n = 64
	if len(id) < n || len(id) > n+256 || strings.TrimSpace(id) != id {
		return "", false
	}
	fp := strings.ToLower(id[len(id)-n:])
	for i := 0; i < n; i++ {
		if c := fp[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return fp, true
}
