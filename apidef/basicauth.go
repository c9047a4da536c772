package apidef

// BasicAuthConfig is Tyk's basic_auth object: how basic auth (use_basic_auth) caches its
// password checks and where it reads the credentials.
type BasicAuthConfig struct {
	// DisableCaching makes every request check its password with the stored hash.
	DisableCaching bool `json:"disable_caching,omitempty"`
	// CacheTTL is how long, in seconds, a successful check is remembered; 0 means 60.
	CacheTTL int `json:"cache_ttl,omitempty"`
	// ExtractFromBody and the two regular expressions read the credentials from the body
	// (not implemented: refused).
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

// unsupportedBasicAuth lists the basic auth settings Gatehouse does not implement.
func (a *APIDefinition) unsupportedBasicAuth() []string {
	if !a.UseBasicAuth {
		return nil
	}
	var out []string
	if a.BasicAuth.ExtractFromBody {
		out = append(out, "basic auth credentials from the body (basic_auth.extract_from_body)")
	}
	return out
}
