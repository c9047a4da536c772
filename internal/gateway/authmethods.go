package gateway

import (
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/auth"
	"github.com/gatehouse/gatehouse/internal/middleware/httpsig"
	"github.com/gatehouse/gatehouse/internal/middleware/multiauth"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// compileHMAC compiles the request signature check of an API that enables it
// (enable_signature_checking).
func (g *Gateway) compileHMAC(def *apidef.APIDefinition, pols policy.Set) (*httpsig.Auth, error) {
	if !def.EnableSignatureChecking || def.UseKeylessAccess {
		return nil, nil
	}
	a, err := httpsig.New(def, httpsig.Options{Sessions: g.sessions, Policies: pols, Now: g.now, PublicKey: g.certStore.PublicKey})
	if err != nil {
		return nil, fmt.Errorf("hmac: %w", err)
	}
	return a, nil
}

// authDefinition is the definition the auth methods of def are compiled from: def itself, or,
// when several methods run and strip_auth_data is on, a copy that does not strip, so that no
// method removes credentials another one reads; every method's are stripped once all passed.
func authDefinition(def *apidef.APIDefinition) *apidef.APIDefinition {
	if len(def.AuthMethods()) < 2 || !def.StripAuthData {
		return def
	}
	c := *def
	c.StripAuthData = false
	return &c
}

// authStep is the auth of a keyed API: its one method's step, or, with several, every method
// in Tyk's order (or, with security_requirements, every method of any one of its sets), the
// base identity provider's session kept.
// def is the API's definition, ad its authDefinition.
func (g *Gateway) authStep(rt *apiRuntime, def, ad *apidef.APIDefinition, pols policy.Set, checks []chain.Step) (chain.Step, error) {
	names := def.AuthMethods()
	method := func(name string) multiauth.Method {
		switch name {
		case apidef.AuthBasicUser:
			return multiauth.Method{Name: name, Step: rt.authn.basic.Step(), Tokens: auth.NewTokenSource(ad.BasicAuthTokenConfig())}
		case apidef.AuthHMACKey:
			return multiauth.Method{Name: name, Step: rt.authn.hmac.Step(), Tokens: auth.NewTokenSource(ad.HMACTokenConfig())}
		case apidef.AuthJWTClaim:
			return multiauth.Method{Name: name, Step: rt.authn.jwt.Step(), Tokens: auth.NewTokenSource(ad.JWTTokenConfig())}
		case apidef.AuthOAuthKey:
			return multiauth.Method{Name: name, Step: rt.authn.oauth.auth.Step(), Tokens: auth.NewTokenSource(ad.OAuthTokenConfig())}
		case apidef.AuthCustom:
			if rt.hooks.auth != nil {
				return multiauth.Method{Name: name, Step: *rt.hooks.auth}
			}
		}
		// A looped request that brought a session skips the key lookup (Tyk's AuthKey does);
		// the other methods check their own credentials, as Tyk's do.
		if ad.AuthTokenConfig().UseCertificate {
			// Certificate auth reads no token: nothing to strip.
			return multiauth.Method{Name: apidef.AuthToken, Step: reuseLoopedKey(g.certAuth(def, pols))}
		}
		return multiauth.Method{Name: apidef.AuthToken, Step: reuseLoopedKey(g.keyAuth(ad, pols)), Tokens: auth.NewTokenSource(ad.AuthTokenConfig())}
	}
	if len(names) == 1 {
		m := method(names[0])
		if m.Name == apidef.AuthCustom && def.StripAuthData {
			// The built-in methods strip what they read themselves; a plugin does not. (A
			// custom auth plugin beside other methods is refused: apidef's unsupported list.)
			return stripAfter(m.Step, customAuthTokens(def)), nil
		}
		return m.Step, nil
	}
	methods := make([]multiauth.Method, len(names))
	for i, n := range names {
		methods[i] = method(n)
	}
	alternatives, err := def.AuthAlternatives()
	if err != nil {
		return chain.Step{}, err
	}
	a, err := multiauth.New(methods, alternatives, def.BaseIdentity(), checks, def.StripAuthData)
	if err != nil {
		return chain.Step{}, err
	}
	return a.Step(), nil
}

// customAuthTokens are what strip_auth_data removes on an API whose auth is an auth_check
// plugin, which may read its credentials anywhere: as Tyk's StripAuth does, the token source of
// every auth_configs entry, or of the legacy auth object (default Authorization) when there is
// none.
func customAuthTokens(def *apidef.APIDefinition) []auth.TokenSource {
	if len(def.AuthConfigs) == 0 {
		return []auth.TokenSource{auth.NewTokenSource(def.Auth)}
	}
	out := make([]auth.TokenSource, 0, len(def.AuthConfigs))
	for _, c := range def.AuthConfigs {
		out = append(out, auth.NewTokenSource(c))
	}
	return out
}

// stripAfter runs step, then, when it let the request go on, strips tokens from the request.
func stripAfter(step chain.Step, tokens []auth.TokenSource) chain.Step {
	run := step.Run
	step.Run = func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if err := run(w, r, c); err != nil {
			return err
		}
		for _, ts := range tokens {
			ts.Strip(r)
		}
		return nil
	}
	return step
}
