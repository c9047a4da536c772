package jwt

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// claim returns the claim at path, a name or a dot path into nested objects. A claim whose
// name itself holds dots is found too.
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

// identity is the user the token speaks for: the jwt_identity_base_field claim, else sub.
func (a *Auth) identity(claims jwtlib.MapClaims) (string, error) {
	if a.identityField != "" {
		if v, ok := claim(claims, a.identityField); ok {
			if s, _ := v.(string); s != "" {
				return s, nil
			}
			return "", chain.Errorf(http.StatusForbidden, msgEmptyBaseClaim+a.identityField, errors.New("empty identity claim"))
		}
	}
	if v, ok := claims["sub"]; ok {
		if s, _ := v.(string); s != "" {
			return s, nil
		}
		return "", chain.Errorf(http.StatusForbidden, msgEmptySub, errors.New("empty sub"))
	}
	return "", chain.Errorf(http.StatusForbidden, msgNoIdentity, errors.New("no identity claim"))
}

// policyIDs returns the policies of the token's session: the base policy the
// jwt_policy_field_name claim names, else jwt_default_policies; with
// jwt_scope_to_policy_mapping, the policies the token's scopes map to are added to a base
// policy from the claim, and replace the defaults. Every policy must exist.
func (a *Auth) policyIDs(claims jwtlib.MapClaims) ([]string, error) {
	var pols []string
	fromClaim := false
	if a.policyField != "" {
		if v, ok := claim(claims, a.policyField); ok {
			switch p := v.(type) {
			case string:
				if p != "" {
					pols, fromClaim = []string{p}, true
				}
			case []any:
				for _, e := range p {
					if s, ok := e.(string); ok && s != "" && !slices.Contains(pols, s) {
						pols = append(pols, s)
					}
				}
				fromClaim = len(pols) > 0
			}
		}
	}
	if !fromClaim {
		pols = slices.Clone(a.defaults)
	}
	if len(a.scopes) > 0 {
		scopes, present := a.scopeValues(claims)
		var mapped []string
		for _, sc := range scopes {
			if id, ok := a.scopes[sc]; ok && !slices.Contains(mapped, id) {
				mapped = append(mapped, id)
			}
		}
		switch {
		case present && len(mapped) == 0 && !fromClaim && len(pols) == 0:
			return nil, chain.Errorf(http.StatusForbidden, msgNoScopePolicy, errors.New("no scope of the token maps to a policy"))
		case len(mapped) > 0 && fromClaim:
			for _, id := range mapped {
				if !slices.Contains(pols, id) {
					pols = append(pols, id)
				}
			}
		case len(mapped) > 0:
			pols = mapped
		case !present && len(pols) == 0:
			return nil, chain.Errorf(http.StatusForbidden, msgNoScopeOrPolicy, errors.New("the token has neither a scope nor a policy claim"))
		}
	}
	if len(pols) == 0 {
		return nil, chain.Errorf(http.StatusForbidden, msgNoPolicy, errors.New("the token names no policy and the API has no jwt_default_policies"))
	}
	for _, id := range pols {
		if _, ok := a.policies[id]; !ok {
			return nil, chain.Errorf(http.StatusForbidden, msgPolicyNotFound, fmt.Errorf("policy %q does not exist", id))
		}
	}
	return pols, nil
}

// scopeValues reads the scope claim: a space-separated string or an array of strings.
func (a *Auth) scopeValues(claims jwtlib.MapClaims) ([]string, bool) {
	v, ok := claim(claims, a.scopeClaim)
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
