package jwt

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
)

// BenchmarkOneToOne is a request of Tyk's one-to-one mode, the token verified with its key's
// jwt_data.secret: an HMAC secret, or an RSA public key's PEM.
func BenchmarkOneToOne(b *testing.B) {
	rk := rsaKey(b)
	secret := []byte("per-key-secret-0123456789abcdef")
	for _, tc := range []struct {
		name, method, alg, material string
		signer                      any
	}{
		{"hmac", "hmac", "HS256", string(secret), secret},
		{"rsa", "rsa", "RS256", string(pemPublic(b, &rk.PublicKey)), rk},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, m := newAuth(b, &apidef.APIDefinition{JWTSigningMethod: tc.method}, Options{})
			s := &apidef.SessionState{OrgID: "org", JWTData: apidef.JWTData{Secret: tc.material},
				AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}}}
			if err := m.Put(context.Background(), session.ID{Key: "key-1"}, s, 0); err != nil {
				b.Fatal(err)
			}
			header := "Bearer " + signJWS(b, tc.alg, "key-1", tc.signer, map[string]any{"sub": "x"})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := run(a, header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
