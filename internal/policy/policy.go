// Package policy loads Tyk security policies from a file and applies them to sessions.
//
// The file is Tyk's policies.json: a JSON object mapping policy ids to policies (a policy
// without an "id" takes its map key). A session naming policies in apply_policies (or the older
// apply_policy_id) gets its rate limit, quota and access rights from them when a request is
// checked; what is stored for the key is left as it was written.
//
// With several policies: access rights are merged (the union of APIs, and for an API named by
// more than one policy the union of its versions and allowed URLs); the highest rate (requests
// per second) among the policies that set one wins, -1 (no limit) above all; the highest quota
// among those that set one wins, -1 (unlimited) above all; any inactive policy makes the session
// inactive; per-endpoint rate limits (access_rights[api].endpoints) go with the rate limit, the
// policies' merged per method and path with the more permissive limit winning, as in Tyk (an
// entry without a rate is left out). A
// policy with partitions gives only those parts (acl, rate_limit, quota; per_api
// makes its limits each API's own). A part no policy gives stays as the key has it.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/regfile"
)

// Set is the loaded policies by id.
type Set map[string]*apidef.Policy

// Load reads a policies file. An empty path gives an empty set.
func Load(path string) (Set, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return Set{}, nil
	}
	return Parse(data)
}

// MaxFileSize bounds the policies file: 64 MiB, far above any real one (tens of thousands of
// policies), as for a definition file in app_path.
const MaxFileSize = 64 << 20

// ReadFile reads the policies file at path: nil without a path. What is not a regular file (a
// named pipe, whose read would block the reload until a writer came, a device) is refused, and
// so is a file larger than MaxFileSize.
func ReadFile(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := regfile.Read(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading policies: %w", err)
	}
	return data, nil
}

// Parse decodes a policies document: an object of policies by id, or an array of policies
// with ids. In an object the key is the policy's id, as in Tyk, whatever its "id" field says:
// keys name it by the key, and two policies with the same "id" cannot replace each other at
// random.
func Parse(data []byte) (Set, error) {
	set := Set{}
	var byID map[string]*apidef.Policy
	if err := json.Unmarshal(data, &byID); err == nil {
		for k, p := range byID {
			if p == nil {
				continue
			}
			p.ID = k
			set[k] = p
		}
		return set, nil
	}
	var list []*apidef.Policy
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decoding policies: want an object of policies by id (or an array of policies): %w", err)
	}
	for i, p := range list {
		if p == nil || p.ID == "" {
			return nil, fmt.Errorf("decoding policies: policy %d has no id", i)
		}
		set[p.ID] = p
	}
	return set, nil
}

// Check reports what makes a policy unusable: a rate, per or quota renewal rate out of range, or
// an allowed_urls pattern that does not compile (which would grant nothing, hiding the mistake;
// in Tyk an invalid pattern once granted access). The Gateway API refuses such a policy; a
// policies file holding one loads the others and reports it.
func Check(p *apidef.Policy) error {
	limits := apidef.SessionState{Rate: p.Rate, Per: p.Per, Smoothing: p.Smoothing, QuotaRenewalRate: p.QuotaRenewalRate, ThrottleInterval: p.ThrottleInterval, AccessRights: p.AccessRights}
	if err := limits.Validate(); err != nil {
		return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return endpoint.CheckPatterns(p.AccessRights)
}

// Valid splits a set into the policies that pass Check and, by id, why each other one does not.
func (set Set) Valid() (Set, map[string]error) {
	var bad map[string]error
	for id, p := range set {
		if err := Check(p); err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[id] = err
		}
	}
	if bad == nil {
		return set, nil
	}
	good := make(Set, len(set)-len(bad))
	for id, p := range set {
		if bad[id] == nil {
			good[id] = p
		}
	}
	return good, bad
}

// Uses are the policies a session names, as a set held them: Effective(s) reads nothing else
// of the set, so what it gave for s under one set holds under any set that holds the same
// policies (the same loaded objects, which are never changed) under those ids (HeldBy). They
// hold only those policies: what was computed from s and kept does not keep a whole set, and
// every earlier reload's with it, alive.
type Uses []use

type use struct {
	id string
	p  *apidef.Policy // nil: the set held none under id
}

// Uses returns the policies s names as set holds them.
func (set Set) Uses(s *apidef.SessionState) Uses {
	ids := s.PolicyIDs()
	u := make(Uses, len(ids))
	for i, id := range ids {
		u[i] = use{id, set[id]}
	}
	return u
}

// HeldBy reports whether set holds the same policies under the same ids as the set u was
// taken from (the same loaded objects, or the same absence).
func (u Uses) HeldBy(set Set) bool {
	for _, x := range u {
		if set[x.id] != x.p {
			return false
		}
	}
	return true
}

// KeyExpiry returns when a key created naming the policies ids expires, as Tyk gives it
// (checkAndApplyTrialPeriod, a "trial" key): now plus the key_expires_in (seconds) of the last
// of them the set holds that sets one above 0; 0 when none does. It is for a key being
// created: Tyk never applies it to a key that exists.
func (set Set) KeyExpiry(ids []string, now time.Time) int64 {
	var in int64
	for _, id := range ids {
		if p := set[id]; p != nil && p.KeyExpiresIn > 0 {
			in = p.KeyExpiresIn
		}
	}
	if in == 0 {
		return 0
	}
	t := now.Unix()
	if in > math.MaxInt64-t {
		return math.MaxInt64 // saturated: an expiry that wrapped round would read as never
	}
	return t + in
}

// ErrUnknownPolicy is returned when a session names a policy the set does not hold.
var ErrUnknownPolicy = errors.New("unknown policy")

// Apply returns the session with its policies applied. A session naming no policy is returned
// as is; otherwise the result is a deep copy the caller owns and s, which may be shared, is not
// changed.
func (set Set) Apply(s *apidef.SessionState) (*apidef.SessionState, error) {
	eff, err := set.Effective(s)
	if err != nil || eff == s {
		return eff, err
	}
	return eff.Clone(), nil
}

// Effective is Apply for the request path, which mostly reads the session: a session naming no
// policy is returned as is; otherwise the result is a new session whose fields the caller owns,
// but whose maps and slices may be s's (the key's meta data, its own access rights, its tags
// when no policy adds one): read-only, to be cloned before they are changed. Nothing in it is a
// policy's, and s is not changed.
func (set Set) Effective(s *apidef.SessionState) (*apidef.SessionState, error) {
	ids := s.PolicyIDs()
	if len(ids) == 0 {
		return s, nil
	}
	out := *s
	// Clipped, so that appending a policy's tag makes a new array instead of writing into
	// the spare capacity of s's.
	out.Tags = slices.Clip(s.Tags)
	ownMeta := false
	acl := map[string]apidef.AccessDefinition{}
	aclSet, rateSet, quotaSet, throttleSet := false, false, false, false
	// The per-endpoint rate limits of each API that a policy giving the rate limit names.
	var endpoints map[string][]apidef.EndpointLimit
	for _, id := range ids {
		p, ok := set[id]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownPolicy, id)
		}
		if p.OrgID != "" && s.OrgID != "" && p.OrgID != s.OrgID {
			return nil, fmt.Errorf("policy %q belongs to org %q, the key to org %q", id, p.OrgID, s.OrgID)
		}
		parts := p.Partitions
		all := !parts.Quota && !parts.RateLimit && !parts.ACL
		if (all || parts.RateLimit) && rateGiven(p.Rate, p.Per) {
			if !rateSet || perSecond(p.Rate, p.Per) > perSecond(out.Rate, out.Per) {
				out.Rate, out.Per, out.Smoothing = p.Rate, p.Per, p.Smoothing
			}
			rateSet = true
		}
		if all || parts.RateLimit {
			for apiID, ar := range p.AccessRights {
				if endpoints == nil {
					endpoints = map[string][]apidef.EndpointLimit{}
				}
				endpoints[apiID] = mergeEndpointLimits(endpoints[apiID], ar.Endpoints)
			}
			// Throttling goes with the rate limit: the policies' replace the key's, and the
			// largest of theirs wins, as in Tyk.
			if !throttleSet {
				out.ThrottleInterval, out.ThrottleRetryLimit = p.ThrottleInterval, p.ThrottleRetryLimit
				throttleSet = true
			}
			out.ThrottleInterval = max(out.ThrottleInterval, p.ThrottleInterval)
			out.ThrottleRetryLimit = max(out.ThrottleRetryLimit, p.ThrottleRetryLimit)
		}
		if (all || parts.Quota) && p.QuotaMax != 0 {
			if !quotaSet || quotaAbove(p.QuotaMax, out.QuotaMax) {
				out.QuotaMax, out.QuotaRenewalRate = p.QuotaMax, p.QuotaRenewalRate
			}
			quotaSet = true
		}
		if p.IsInactive {
			out.IsInactive = true
		}
		if all || parts.ACL {
			aclSet = true
			mergeAccess(acl, p)
		}
		for _, t := range p.Tags {
			if !slices.Contains(out.Tags, t) {
				out.Tags = append(out.Tags, t)
			}
		}
		for k, v := range p.MetaData {
			if _, ok := out.MetaData[k]; ok {
				continue
			}
			if !ownMeta {
				// The key's values stay shared; only the map the policy adds to is new.
				out.MetaData = maps.Clone(out.MetaData)
				if out.MetaData == nil {
					out.MetaData = map[string]interface{}{}
				}
				ownMeta = true
			}
			out.MetaData[k] = apidef.CloneValue(v)
		}
	}
	if aclSet {
		// The policies' rights: their endpoint limits are those the policies giving the rate
		// limit set (none when no such policy names the API).
		for apiID, ar := range acl {
			ar.Endpoints = endpoints[apiID]
			acl[apiID] = ar
		}
		out.AccessRights = acl
	} else if len(endpoints) > 0 {
		// No policy speaks for access: the key keeps its own rights, with the endpoint limits
		// of the policies giving the rate limit on the APIs they name, in a map of its own.
		own := false
		for apiID, eps := range endpoints {
			ar, ok := out.AccessRights[apiID]
			if !ok {
				continue // a policy without the acl partition grants no API
			}
			if !own {
				out.AccessRights = maps.Clone(out.AccessRights)
				own = true
			}
			ar.Endpoints = eps
			out.AccessRights[apiID] = ar
		}
	}
	return &out, nil
}

// mergeEndpointLimits adds a policy's per-endpoint rate limits (add) to those of the policies
// before it (acc), as Tyk does: for a method and path both set, the more permissive limit wins
// (the higher rate per second; between equal ones, the higher rate). A method whose rate is 0
// or less sets no limit (the key's rate applies to its requests) and is left out before
// merging, so that it neither wins nor loses. A merged list is sorted by path, its methods by
// name; a list taken whole keeps its order. The result shares nothing with add, which is a
// policy's.
func mergeEndpointLimits(acc, add []apidef.EndpointLimit) []apidef.EndpointLimit {
	add = limiting(add)
	if len(acc) == 0 {
		return apidef.AccessDefinition{Endpoints: add}.Clone().Endpoints
	}
	if len(add) == 0 {
		return acc
	}
	type methodPath struct{ method, path string }
	merged := map[methodPath]apidef.RateLimit{}
	for _, list := range [][]apidef.EndpointLimit{acc, add} {
		for _, e := range list {
			for _, m := range e.Methods {
				k := methodPath{strings.ToUpper(m.Name), e.Path}
				prev, ok := merged[k]
				if !ok || morePermissive(m.Limit, prev) {
					merged[k] = m.Limit
				}
			}
		}
	}
	byPath := map[string][]apidef.EndpointMethodLimit{}
	for k, l := range merged {
		byPath[k.path] = append(byPath[k.path], apidef.EndpointMethodLimit{Name: k.method, Limit: l})
	}
	out := make([]apidef.EndpointLimit, 0, len(byPath))
	for _, path := range slices.Sorted(maps.Keys(byPath)) {
		methods := byPath[path]
		slices.SortFunc(methods, func(a, b apidef.EndpointMethodLimit) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, apidef.EndpointLimit{Path: path, Methods: methods})
	}
	return out
}

// limiting returns eps without the methods that set no limit and the entries left without
// one: eps itself when every method limits.
func limiting(eps []apidef.EndpointLimit) []apidef.EndpointLimit {
	all := true
	for _, e := range eps {
		all = all && len(e.Methods) > 0 && !slices.ContainsFunc(e.Methods, noLimit)
	}
	if all {
		return eps
	}
	var out []apidef.EndpointLimit
	for _, e := range eps {
		methods := slices.DeleteFunc(slices.Clone(e.Methods), noLimit)
		if len(methods) > 0 {
			out = append(out, apidef.EndpointLimit{Path: e.Path, Methods: methods})
		}
	}
	return out
}

func noLimit(m apidef.EndpointMethodLimit) bool { return m.Limit.PerSecond() == 0 }

// morePermissive reports whether limit a allows more than b: a higher rate per second, or the
// higher rate between equal ones.
func morePermissive(a, b apidef.RateLimit) bool {
	if ra, rb := a.PerSecond(), b.PerSecond(); ra != rb {
		return ra > rb
	}
	return a.Rate > b.Rate
}

// mergeAccess adds a policy's access rights to acl. Copies go all the way down: a plugin may
// change the session it is given, and that must never reach the policy every key shares. With
// the per_api partition, each API gets the policy's limits as its own.
func mergeAccess(acl map[string]apidef.AccessDefinition, p *apidef.Policy) {
	for apiID, ar := range p.AccessRights {
		ar = ar.Clone()
		if ar.APIID == "" {
			ar.APIID = apiID
		}
		if p.Partitions.PerAPI && ar.Limit.IsZero() {
			ar.Limit = &apidef.APILimit{Rate: p.Rate, Per: p.Per, Smoothing: p.Smoothing, QuotaMax: p.QuotaMax, QuotaRenewalRate: p.QuotaRenewalRate,
				ThrottleInterval: p.ThrottleInterval, ThrottleRetryLimit: p.ThrottleRetryLimit}
		}
		prev, ok := acl[apiID]
		if !ok {
			acl[apiID] = ar
			continue
		}
		prev.Versions = union(prev.Versions, ar.Versions)
		prev.AllowedURLs = append(prev.AllowedURLs, ar.AllowedURLs...)
		if prev.Limit.IsZero() {
			prev.Limit = ar.Limit
		}
		acl[apiID] = prev
	}
}

// rateGiven reports whether a policy sets a rate: a positive rate and period, or -1 (no limit).
func rateGiven(rate, per float64) bool {
	return rate < 0 || (rate > 0 && per > 0)
}

// perSecond is the request rate a rate/per pair allows; no limit counts as infinite.
func perSecond(rate, per float64) float64 {
	if rate <= 0 || per <= 0 {
		return inf
	}
	return rate / per
}

const inf = 1e308

// quotaAbove reports whether quota a allows more than quota b (zero or less is unlimited).
func quotaAbove(a, b int64) bool {
	if b <= 0 {
		return false
	}
	return a <= 0 || a > b
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
