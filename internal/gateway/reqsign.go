package gateway

import (
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/httpsig"
)

// compileRequestSigning compiles the signing of the requests def sends its upstream
// (request_signing), nil when it has none. For rsa-sha256 it reads certificate_id, a PEM file or
// a certificate store id holding a certificate and its RSA private key, and adds it to read, so
// that a reload compiles the API again when that changed or was removed from the store. A key
// that cannot be read refuses the API, saying why: Tyk answers every request 500.
func (g *Gateway) compileRequestSigning(def *apidef.APIDefinition, read *certsRead) (*httpsig.Signer, error) {
	rs := def.RequestSigning
	if !rs.On() {
		return nil, nil
	}
	var key *rsa.PrivateKey
	if rs.Algorithm == apidef.RSASHA256 {
		data, err := g.readCert(rs.CertificateID)
		if err != nil {
			return nil, fmt.Errorf("request_signing.certificate_id: %w", err)
		}
		pair, err := tls.X509KeyPair(data, data)
		if err != nil {
			return nil, fmt.Errorf("request_signing.certificate_id (%s): a certificate with its private key is needed", rs.CertificateID)
		}
		var ok bool
		if key, ok = pair.PrivateKey.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("request_signing.certificate_id (%s): rsa-sha256 needs an RSA private key, not %T", rs.CertificateID, pair.PrivateKey)
		}
		read.add(rs.CertificateID, data)
	}
	return httpsig.NewSigner(rs, key, nil)
}

// signFunc is s's Sign, nil without s.
func signFunc(s *httpsig.Signer) func(*http.Request) error {
	if s == nil {
		return nil
	}
	return s.Sign
}
