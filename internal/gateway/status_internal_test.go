package gateway

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestAuthKind names an API's auth methods as the status page shows them.
func TestAuthKind(t *testing.T) {
	for _, c := range []struct {
		name string
		def  apidef.APIDefinition
		want string
	}{
		{"keyless", apidef.APIDefinition{UseKeylessAccess: true, UseStandardAuth: true}, "keyless"},
		{"key", apidef.APIDefinition{}, "auth token"},
		{"jwt", apidef.APIDefinition{EnableJWT: true}, "jwt"},
		{"basic and key", apidef.APIDefinition{UseBasicAuth: true, UseStandardAuth: true}, "basic, auth token"},
		{"hmac and jwt", apidef.APIDefinition{EnableSignatureChecking: true, EnableJWT: true}, "hmac, jwt"},
		{"plugin", apidef.APIDefinition{UseGoPluginAuth: true, UseStandardAuth: true}, "auth_check plugin"},
	} {
		if got := authKind(&c.def); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
