// Package secrets resolves Tyk's secret variables in header transform values and URL rewrite
// targets: `$secret_env.<name>` is the environment variable TYK_SECRET_<NAME> (the name
// upper-cased) and `$secret_conf.<name>` the value of <name> in tyk.conf's `secrets`. They are
// resolved when an API loads, into literal text: the environment and the configuration do not
// change while the gateway runs, and a secret's value is never read as variables itself.
//
// As in Tyk, a secret that is not set (or is empty) is the empty string; the compiled
// middleware names it (Missing) so that the gateway warns once per definition.
package secrets

import "strings"

// The variable prefixes, as Tyk spells them.
const (
	EnvPrefix  = "$secret_env."
	ConfPrefix = "$secret_conf."
)

// Resolver reads secret variables. The zero value and nil resolve every variable to "".
type Resolver struct {
	conf map[string]string
	env  func(string) string
}

// New returns a resolver reading conf (tyk.conf's secrets) and env (os.Getenv).
func New(conf map[string]string, env func(string) string) *Resolver {
	return &Resolver{conf: conf, env: env}
}

// VarChar reports whether b may be part of a Tyk variable's name, as Tyk's patterns
// `[A-Za-z0-9_\-\.]+` ($tyk_context, $tyk_meta, $secret_env): the header transforms and URL
// rewrites read names with it too.
func VarChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.'
}

// confChar is a character of a $secret_conf name, as Tyk's `[A-Za-z0-9[.\-\_]+`.
func confChar(b byte) bool { return VarChar(b) || b == '[' }

// Match reports whether s begins with a secret variable with a name, and returns its length,
// its value and, when it has none, the variable (for Missing).
func (r *Resolver) Match(s string) (n int, value, missing string, ok bool) {
	var prefix string
	var char func(byte) bool
	switch {
	case strings.HasPrefix(s, EnvPrefix):
		prefix, char = EnvPrefix, VarChar
	case strings.HasPrefix(s, ConfPrefix):
		prefix, char = ConfPrefix, confChar
	default:
		return 0, "", "", false
	}
	end := len(prefix)
	for end < len(s) && char(s[end]) {
		end++
	}
	if end == len(prefix) {
		return 0, "", "", false
	}
	name := s[len(prefix):end]
	if r != nil {
		if prefix == EnvPrefix && r.env != nil {
			value = r.env("TYK_SECRET_" + strings.ToUpper(name))
		} else if prefix == ConfPrefix {
			value = r.conf[name]
		}
	}
	if value == "" {
		missing = s[:end]
	}
	return end, value, missing, true
}

// Describe says where a missing variable is looked for, for the gateway's warning.
func Describe(variable string) string {
	if name, ok := strings.CutPrefix(variable, EnvPrefix); ok {
		return variable + " (environment variable TYK_SECRET_" + strings.ToUpper(name) + ")"
	}
	if name, ok := strings.CutPrefix(variable, ConfPrefix); ok {
		return variable + " (secrets." + name + " in the gateway's configuration)"
	}
	return variable
}
