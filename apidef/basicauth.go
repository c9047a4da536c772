package apidef

import (
	"fmt"
	"regexp"
)

// BasicAuthConfig is Tyk's basic_auth object: how basic auth (use_basic_auth) caches its
// password checks and where it reads the credentials.
type BasicAuthConfig struct {
	// DisableCaching makes every request check its password with the stored hash.
	DisableCaching bool `json:"disable_caching,omitempty"`
	// CacheTTL is how long, in seconds, a successful check is remembered; 0 means 60.
	CacheTTL int `json:"cache_ttl,omitempty"`
	// ExtractFromBody reads the credentials from the body when the Authorization header does
	// not hold them: the first submatch of BodyUserRegexp is the username, of
	// BodyPasswordRegexp the password (a SOAP envelope's, say).
	ExtractFromBody    bool   `json:"extract_from_body,omitempty"`
	BodyUserRegexp     string `json:"body_user_regexp,omitempty"`
	BodyPasswordRegexp string `json:"body_password_regexp,omitempty"`
}

// Password hash types of basic_auth_data.hash_type, Tyk's names.
const (
	HashPlainText = ""
	HashBCrypt    = "bcrypt"
	HashSHA256    = "sha256"
)

// BasicAuthData is a basic-auth user's password, as a key stores it: the hash (or, from a
// store Tyk wrote, the plain text when HashType is "") and how it was made.
type BasicAuthData struct {
	Password string `json:"password"`
	HashType string `json:"hash_type"`
}

// BasicAuthTokenConfig is where a basic-auth API reads its Authorization header:
// auth_configs.basic, as in Tyk (the legacy auth object is not used).
func (a *APIDefinition) BasicAuthTokenConfig() AuthConfig {
	return a.AuthConfigs[ConfigBasic]
}

// validateBasicAuth checks basic_auth on an API with use_basic_auth: credentials from the
// body need both expressions, each compiling and with a group to capture (Tyk drops the whole
// check when an expression is missing or bad, and answers 400 at each request without a
// group).
func (a *APIDefinition) validateBasicAuth() []error {
	if !a.UseBasicAuth || a.UseKeylessAccess || !a.BasicAuth.ExtractFromBody {
		return nil
	}
	var errs []error
	for _, f := range []struct{ name, expr string }{
		{"body_user_regexp", a.BasicAuth.BodyUserRegexp},
		{"body_password_regexp", a.BasicAuth.BodyPasswordRegexp},
	} {
		if _, err := BodyCapture(f.name, f.expr); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// BodyCapture compiles the basic_auth expression field (body_user_regexp,
// body_password_regexp), which must capture the value in a group: what the validation checks
// and basic auth runs.
func BodyCapture(field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, fmt.Errorf("basic_auth.%s: missing; extract_from_body needs it, with a group capturing the value (e.g. \"<User>(.*)</User>\")", field)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("basic_auth.%s: %w", field, err)
	}
	if re.NumSubexp() == 0 {
		return nil, fmt.Errorf("basic_auth.%s: %q captures nothing; put the value in a group, e.g. \"<User>(.*)</User>\"", field, expr)
	}
	return re, nil
}
