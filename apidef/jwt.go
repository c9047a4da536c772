package apidef

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// JWT signing methods (jwt_signing_method).
const (
	JWTHMAC  = "hmac"
	JWTRSA   = "rsa"
	JWTECDSA = "ecdsa"
)

// JWTTokenConfig is where a JWT API reads its token: auth_configs.jwt, else the legacy auth
// object, as in Tyk.
func (a *APIDefinition) JWTTokenConfig() AuthConfig {
	if c, ok := a.AuthConfigs[ConfigJWT]; ok {
		return c
	}
	return a.Auth
}

// JWTSourceKind tells what jwt_source holds: a JWKS URL (given as is or base64-encoded) or the
// decoded key material (an HMAC secret, or a PEM public key or certificate).
func (a *APIDefinition) JWTSourceKind() (jwksURL string, key []byte, err error) {
	src := strings.TrimSpace(a.JWTSource)
	if isHTTPURL(src) {
		return src, nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(src)
	if err != nil {
		return "", nil, errors.New("jwt_source: neither an http(s) JWKS URL nor base64")
	}
	if s := strings.TrimSpace(string(raw)); isHTTPURL(s) {
		return s, nil, nil
	}
	return "", raw, nil
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// JWKSURI is one of jwt_jwks_uris: a JWKS URL, and how long its keys are kept (seconds; 0: the
// gateway's default).
type JWKSURI struct {
	URL          string `json:"url"`
	CacheTimeout int64  `json:"cache_timeout,omitempty"`
}

// MaxJWKSURIs bounds jwt_jwks_uris: each is fetched, on a token with an unknown kid, in turn.
const MaxJWKSURIs = 10

// JWTData is what a key holds for Tyk's one-to-one JWT mode (an API with enable_jwt and no
// jwt_source): the secret its tokens are verified with, an HMAC secret or a PEM public key
// (or certificate) of the API's signing method.
type JWTData struct {
	Secret string `json:"secret"`
}

// validateJWT checks the JWT settings of a definition that enables JWT auth.
func (a *APIDefinition) validateJWT() []error {
	if !a.EnableJWT || a.UseKeylessAccess {
		return nil
	}
	var errs []error
	switch a.JWTSigningMethod {
	case "", JWTHMAC, JWTRSA, JWTECDSA:
	default:
		errs = append(errs, fmt.Errorf("jwt_signing_method: %q is not one of hmac, rsa, ecdsa", a.JWTSigningMethod))
	}
	errs = append(errs, a.JWTClaimValidation.Validate("jwt_claim_validation")...)
	if len(a.JWTJwksURIs) > 0 {
		if a.JWTSigningMethod != JWTRSA && a.JWTSigningMethod != JWTECDSA {
			errs = append(errs, errors.New("jwt_jwks_uris: JWKS keys need jwt_signing_method rsa or ecdsa"))
		}
		if len(a.JWTJwksURIs) > MaxJWKSURIs {
			errs = append(errs, fmt.Errorf("jwt_jwks_uris: %d URLs, at most %d", len(a.JWTJwksURIs), MaxJWKSURIs))
		}
		for i, u := range a.JWTJwksURIs {
			if !isHTTPURL(strings.TrimSpace(u.URL)) {
				errs = append(errs, fmt.Errorf("jwt_jwks_uris[%d].url: %q is not an http(s) URL", i, u.URL))
			}
			if u.CacheTimeout < 0 {
				errs = append(errs, fmt.Errorf("jwt_jwks_uris[%d].cache_timeout: %d is negative", i, u.CacheTimeout))
			}
		}
		return errs // they take the place of jwt_source, which is not read
	}
	if a.JWTSource == "" {
		return errs // one-to-one mode: each key holds its secret (jwt_data)
	}
	if _, _, err := a.JWTSourceKind(); err != nil {
		errs = append(errs, err)
	}
	return errs
}
