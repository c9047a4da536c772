package apidef

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// HMAC signature algorithms, Tyk's names (hmac_allowed_algorithms, a signature's algorithm).
const (
	HMACSHA1   = "hmac-sha1"
	HMACSHA256 = "hmac-sha256"
	HMACSHA384 = "hmac-sha384"
	HMACSHA512 = "hmac-sha512"
)

// RSASHA256 is Tyk's RSA signature algorithm: PKCS #1 v1.5 over SHA-256, verified with the
// public key of the key's rsa_certificate_id.
const RSASHA256 = "rsa-sha256"

// HMACAlgorithms are the signature algorithms Gatehouse verifies, Tyk's: four HMACs and
// rsa-sha256.
var HMACAlgorithms = []string{HMACSHA1, HMACSHA256, HMACSHA384, HMACSHA512, RSASHA256}

// HMACTokenConfig is where an API with HMAC request signatures (enable_signature_checking)
// reads its Authorization header: auth_configs.hmac, as in Tyk (the legacy auth object is not
// used).
func (a *APIDefinition) HMACTokenConfig() AuthConfig {
	return a.AuthConfigs[ConfigHMAC]
}

// validateHMAC checks the HMAC settings of a definition that enables request signatures.
func (a *APIDefinition) validateHMAC() []error {
	if !a.EnableSignatureChecking || a.UseKeylessAccess {
		return nil
	}
	var errs []error
	for i, alg := range a.HmacAllowedAlgorithms {
		// An RSA algorithm is refused as unsupported, not invalid.
		if !slices.Contains(HMACAlgorithms, alg) && !strings.HasPrefix(alg, "rsa-") {
			// Tyk would verify an unknown name with HMAC-SHA1.
			errs = append(errs, fmt.Errorf("hmac_allowed_algorithms[%d]: %q is not one of %s", i, alg, strings.Join(HMACAlgorithms, ", ")))
		}
	}
	if s := a.HmacAllowedClockSkew; math.IsNaN(s) || math.IsInf(s, 0) {
		errs = append(errs, fmt.Errorf("hmac_allowed_clock_skew: %v is not a number of milliseconds", s))
	}
	return errs
}

// unsupportedHMAC lists the request signature settings Gatehouse does not implement.
func (a *APIDefinition) unsupportedHMAC() []string {
	if !a.EnableSignatureChecking {
		return nil
	}
	var out []string
	for _, alg := range a.HmacAllowedAlgorithms {
		if strings.HasPrefix(alg, "rsa-") && alg != RSASHA256 {
			out = append(out, fmt.Sprintf("RSA request signatures (hmac_allowed_algorithms %q)", alg))
		}
	}
	return out
}
