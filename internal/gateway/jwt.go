package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/jwt"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// compileJWT compiles the JWT auth of a definition that enables it (nil otherwise). A JWKS is
// fetched on first use, never during a reload.
func (g *Gateway) compileJWT(def *apidef.APIDefinition, pols policy.Set) (*jwtAuth, error) {
	if !def.EnableJWT || def.UseKeylessAccess {
		return nil, nil
	}
	a, err := jwt.New(def, jwt.Options{Sessions: g.sessions, Policies: pols, Now: g.now, Cache: g.jwtTokens, JWKS: g.jwks,
		Log: g.log.With("api_id", def.APIID)})
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	return a, nil
}

// jwtAuth is the compiled JWT auth an apiRuntime holds.
type jwtAuth = jwt.Auth

// retainJWT drops, once snap serves, the verified tokens of the APIs it replaced (every cached
// token is verified again once after a reload) and the JWKS no API of snap uses any more.
func (g *Gateway) retainJWT(snap *snapshot) {
	g.jwtTokens.Reset()
	used := map[string]bool{}
	for _, rt := range snap.apis {
		if rt.authn != nil && rt.authn.jwt != nil {
			for _, k := range rt.authn.jwt.JWKSKeys() {
				used[k] = true
			}
		}
	}
	g.jwks.Retain(used)
}
