package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/basicauth"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// compileBasicAuth compiles the basic auth of an API that enables it (use_basic_auth).
func (g *Gateway) compileBasicAuth(def *apidef.APIDefinition, pols policy.Set) (*basicAuth, error) {
	if !def.UseBasicAuth || def.UseKeylessAccess {
		return nil, nil
	}
	a, err := basicauth.New(def, basicauth.Options{Sessions: g.sessions, Policies: pols, Now: g.now, Limiter: g.basicFailures})
	if err != nil {
		return nil, fmt.Errorf("basic auth: %w", err)
	}
	return a, nil
}

// basicAuth is the compiled basic auth an apiRuntime holds.
type basicAuth = basicauth.Auth
