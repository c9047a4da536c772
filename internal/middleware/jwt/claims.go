package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/session"
)

// claim returns the claim at path, a name or a dot path into nested objects. A claim whose
// name itself holds dots is found too. It reads the identity, policy and scope claims
// (jwt_identity_base_field, ...), as they were read before claim checks came; the checks'
// paths follow gjson strictly (claimAt), since there a top-level dotted name standing in for a
// nested claim would let a token past a rule.
func claim(claims jwtlib.MapClaims, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = map[string]any(claims)
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// identity is the user the token speaks for: the first of the identity claims
// (jwt_subject_claims, or jwt_identity_base_field) the token holds as a string, else sub, as in
// Tyk. A claim the token holds as an empty string refuses it; one of another type is passed
// over.
func (a *Auth) identity(claims jwtlib.MapClaims) (string, error) {
	for _, field := range a.identityFields {
		v, ok := claim(claims, field)
		if !ok {
			continue
		}
		switch s, isString := v.(string); {
		case isString && s != "":
			return s, nil
		case isString:
			return "", chain.Errorf(http.StatusForbidden, msgEmptyBaseClaim+field, errors.New("empty identity claim")).Flagged("TCV")
		}
	}
	if v, ok := claims["sub"]; ok {
		if s, _ := v.(string); s != "" {
			return s, nil
		}
		return "", chain.Errorf(http.StatusForbidden, msgEmptySub, errors.New("empty sub")).Flagged("TCV")
	}
	return "", chain.Errorf(http.StatusForbidden, msgNoIdentity, errors.New("no identity claim")).Flagged("TCV")
}

// claimPolicies is what a token says about its session's policies: the base policies its
// jwt_policy_field_name claim names (fromClaim), or, with jwt_client_base_field instead, the
// client key its claim names (resolved per request: the key may change), and its scopes.
type claimPolicies struct {
	base          []string
	fromClaim     bool
	clientID      string
	scopes        []string
	scopesPresent bool
}

// readPolicies reads the policy claims of a token.
func (a *Auth) readPolicies(claims jwtlib.MapClaims) claimPolicies {
	var cp claimPolicies
	switch {
	case len(a.policyFields) > 0:
		// As in Tyk, a policy claim name wins over jwt_client_base_field; of several, the
		// first the token names a policy in.
		for _, field := range a.policyFields {
			if v, ok := claim(claims, field); ok {
				switch p := v.(type) {
				case string:
					if p != "" {
						cp.base, cp.fromClaim = []string{p}, true
					}
				case []any:
					for _, e := range p {
						if s, ok := e.(string); ok && s != "" && !slices.Contains(cp.base, s) {
							cp.base = append(cp.base, s)
						}
					}
					cp.fromClaim = len(cp.base) > 0
				}
			}
			if cp.fromClaim {
				break
			}
		}
	case a.clientField != "":
		if v, ok := claim(claims, a.clientField); ok {
			cp.clientID, _ = v.(string)
		}
	}
	if len(a.scopes) > 0 {
		cp.scopes, cp.scopesPresent = a.scopeValues(claims)
	}
	return cp
}

// clientPolicy resolves jwt_client_base_field: the key the token's client id names, whose
// first policy is the base policy. No such key, or a key without policies, leaves the token
// without a base policy (the defaults then apply), as in Tyk.
func (a *Auth) clientPolicy(ctx context.Context, cp claimPolicies) (claimPolicies, error) {
	if cp.clientID == "" {
		return cp, nil
	}
	client, _, err := a.sessions.Lookup(ctx, cp.clientID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return cp, nil
	case err != nil:
		return cp, chain.Errorf(http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable), err)
	}
	if ids := client.PolicyIDs(); len(ids) > 0 && ids[0] != "" {
		cp.base, cp.fromClaim = []string{ids[0]}, true
	}
	return cp, nil
}

// policyIDs returns the policies of the token's session: the base policy from the claim (or
// the client key), else jwt_default_policies; with jwt_scope_to_policy_mapping, the policies
// the token's scopes map to are added to a base policy from the claim, and replace the
// defaults. Every policy must exist.
func (a *Auth) policyIDs(cp claimPolicies) ([]string, error) {
	pols, fromClaim := cp.base, cp.fromClaim
	if !fromClaim {
		pols = slices.Clone(a.defaults)
	}
	if len(a.scopes) > 0 {
		var mapped []string
		for _, sc := range cp.scopes {
			if id, ok := a.scopes[sc]; ok && !slices.Contains(mapped, id) {
				mapped = append(mapped, id)
			}
		}
		switch {
		case cp.scopesPresent && len(mapped) == 0 && !fromClaim && len(pols) == 0:
			return nil, chain.Errorf(http.StatusForbidden, msgNoScopePolicy, errors.New("no scope of the token maps to a policy")).Flagged("AKI")
		case len(mapped) > 0 && fromClaim:
			pols = slices.Clone(pols)
			for _, id := range mapped {
				if !slices.Contains(pols, id) {
					pols = append(pols, id)
				}
			}
		case len(mapped) > 0:
			pols = mapped
		case !cp.scopesPresent && len(pols) == 0:
			return nil, chain.Errorf(http.StatusForbidden, msgNoScopeOrPolicy, errors.New("the token has neither a scope nor a policy claim")).Flagged("AKI")
		}
	}
	if len(pols) == 0 {
		return nil, chain.Errorf(http.StatusForbidden, msgNoPolicy, errors.New("the token names no policy and the API has no jwt_default_policies")).Flagged("AKI")
	}
	for _, id := range pols {
		if _, ok := a.policies[id]; !ok {
			return nil, chain.Errorf(http.StatusForbidden, msgPolicyNotFound, fmt.Errorf("policy %q does not exist", id)).Flagged("AKI")
		}
	}
	return pols, nil
}

// scopeValues reads the scope claim, the first of the scope claims (jwt_scope_claims, or
// jwt_scope_claim_name, else scope) the token holds: a space-separated string or an array of
// strings.
func (a *Auth) scopeValues(claims jwtlib.MapClaims) ([]string, bool) {
	var v any
	ok := false
	for _, name := range a.scopeClaims {
		if v, ok = claim(claims, name); ok {
			break
		}
	}
	if !ok {
		return nil, false
	}
	switch s := v.(type) {
	case string:
		return strings.Fields(s), true
	case []any:
		out := make([]string, 0, len(s))
		for _, e := range s {
			if str, ok := e.(string); ok {
				out = append(out, str)
			}
		}
		return out, true
	}
	return nil, true
}
