package apidef

import (
	"fmt"
	"slices"
	"strings"
)

// RequestSigning is Tyk's request_signing: the gateway signs each request it sends the upstream
// as Tyk's HMAC signature check reads them (draft-cavage HTTP signatures), with the secret
// (hmac-*) or the private key of certificate_id (rsa-sha256), and puts
//
//	Signature keyId="<key_id>",algorithm="<algorithm>",headers="<names>",signature="<sig>"
//
// in the Authorization header, or in signature_header. header_list names what is signed; empty,
// every header the request carries is.
type RequestSigning struct {
	IsEnabled       bool     `json:"is_enabled,omitempty"`
	Secret          string   `json:"secret,omitempty"`
	KeyID           string   `json:"key_id,omitempty"`
	Algorithm       string   `json:"algorithm,omitempty"`
	HeaderList      []string `json:"header_list,omitempty"`
	CertificateID   string   `json:"certificate_id,omitempty"`
	SignatureHeader string   `json:"signature_header,omitempty"`
}

// On reports whether request signing is on.
func (r RequestSigning) On() bool { return r.IsEnabled }

// Header returns the header the signature goes in: signature_header, or Authorization.
func (r RequestSigning) Header() string {
	if r.SignatureHeader != "" {
		return r.SignatureHeader
	}
	return "Authorization"
}

// RequestTarget is the name of the request line among signed headers.
const RequestTarget = "(request-target)"

// maxSignedHeaders bounds header_list.
const maxSignedHeaders = 100

// validateRequestSigning reports settings with which Tyk answers 500 to every request of the
// API (a field missing, an algorithm it does not sign with or that hmac_allowed_algorithms
// leaves out), and ones that would send a signature the upstream cannot check.
func (a *APIDefinition) validateRequestSigning() []error {
	rs := a.RequestSigning
	if !rs.On() {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("request_signing."+format, args...))
	}
	switch {
	case rs.KeyID == "":
		bad("key_id: missing (it names the key to the upstream)")
	case !quotable(rs.KeyID):
		bad("key_id: %q cannot stand between the quotes of a signature parameter (no '\"', '\\\\' or control characters)", rs.KeyID)
	}
	switch {
	case rs.Algorithm == "":
		bad("algorithm: missing; one of %s", strings.Join(HMACAlgorithms, ", "))
	case !slices.Contains(HMACAlgorithms, rs.Algorithm):
		bad("algorithm: %q is not one of %s", rs.Algorithm, strings.Join(HMACAlgorithms, ", "))
	case len(a.HmacAllowedAlgorithms) > 0 && !slices.Contains(a.HmacAllowedAlgorithms, rs.Algorithm):
		// Tyk's rule: it answers every request with 500 then.
		bad("algorithm: %q is not among hmac_allowed_algorithms, which Tyk also requires of request signing", rs.Algorithm)
	case rs.Algorithm == RSASHA256 && rs.CertificateID == "":
		bad("certificate_id: missing; rsa-sha256 signs with the private key of a certificate (a PEM file or a certificate store id)")
	case rs.Algorithm != RSASHA256 && rs.Secret == "":
		bad("secret: missing; %s signs with a shared secret", rs.Algorithm)
	}
	if len(rs.HeaderList) > maxSignedHeaders {
		bad("header_list: more than %d names", maxSignedHeaders)
	}
	sig := rs.Header()
	for i, h := range rs.HeaderList {
		switch {
		case strings.EqualFold(h, RequestTarget):
		case !IsToken(h):
			bad("header_list[%d]: %q is not a header name", i, h)
		case strings.EqualFold(h, sig):
			bad("header_list[%d]: %q is the header the signature goes in; it cannot sign itself", i, h)
		case strings.EqualFold(h, "x-aux-date"):
			// Checks read it before Date: the gateway sends its own Date and no X-Aux-Date.
			bad("header_list[%d]: x-aux-date is the client's date, which the gateway does not sign; name date", i)
		}
	}
	switch {
	case !IsToken(sig):
		bad("signature_header: %q is not a header name", sig)
	case hopByHop(sig) || strings.EqualFold(sig, "date") || strings.EqualFold(sig, "x-aux-date"):
		bad("signature_header: %q is a hop-by-hop, framing or date header, not one for a signature", sig)
	case a.UpstreamAuth.BasicAuthOn() && strings.EqualFold(sig, a.UpstreamAuth.BasicAuth.HeaderFor()):
		bad("signature_header: upstream_auth.basic_auth puts its credentials in %q too; name another header for one of them", sig)
	}
	return errs
}

// quotable reports whether s can be a quoted parameter value of a signature header as is.
func quotable(s string) bool {
	for _, c := range []byte(s) {
		if c < ' ' || c == 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
