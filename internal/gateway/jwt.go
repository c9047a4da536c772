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
	a, err := jwt.New(def, jwt.Options{Sessions: g.sessions, Policies: pols, Now: g.now})
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	return a, nil
}

// jwtAuth is the compiled JWT auth an apiRuntime holds.
type jwtAuth = jwt.Auth
