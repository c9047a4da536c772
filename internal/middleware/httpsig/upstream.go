package httpsig

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// Signer signs the requests an API sends its upstream (Tyk's request_signing), in the form the
// signature check above reads: the upstream, another gateway or a service of its own, checks
// that they come from the gateway.
//
// It signs the request as it leaves, after every step and plugin changed it and the proxy
// added its own headers: what is signed is what the upstream gets. (request-target) is the
// method and the request's target as sent (the upstream's path and query, as in Tyk).
type Signer struct {
	keyID     string
	algorithm string
	secret    string
	key       *rsa.PrivateKey
	// headers are header_list's names in lower case; nil: every header the request carries.
	headers []string
	// header is the canonical name of the header the signature goes in.
	header string
	now    func() time.Time
}

// NewSigner compiles request_signing, validated (apidef), with key the RSA private key of its
// certificate_id for rsa-sha256. now defaults to time.Now.
func NewSigner(rs apidef.RequestSigning, key *rsa.PrivateKey, now func() time.Time) (*Signer, error) {
	s := &Signer{keyID: rs.KeyID, algorithm: rs.Algorithm, secret: rs.Secret, header: textproto.CanonicalMIMEHeaderKey(rs.Header()), now: now}
	if s.now == nil {
		s.now = time.Now
	}
	for _, h := range rs.HeaderList {
		if h := strings.ToLower(h); !slices.Contains(s.headers, h) {
			s.headers = append(s.headers, h)
		}
	}
	if rs.Algorithm == apidef.RSASHA256 {
		if key == nil {
			return nil, errors.New("request_signing: rsa-sha256 needs an RSA private key")
		}
		s.key = key
		// A key Go refuses to sign with (too short) is refused now, not on every request.
		if _, err := SignRSA(key, "test"); err != nil {
			return nil, fmt.Errorf("request_signing.certificate_id: the private key cannot sign: %w", err)
		}
	}
	return s, nil
}

// Sign signs r, an upstream request whose URL is final: it sets the Date when the date is
// signed, and the signature header. It fails only when the RSA
// signature cannot be made, which NewSigner's check rules out.
func (s *Signer) Sign(r *http.Request) error {
	names := s.signed(r)
	str := signingString(r, r.URL.RequestURI(), names)
	var sig string
	if s.key != nil {
		var err error
		if sig, err = SignRSA(s.key, str); err != nil {
			return err
		}
	} else {
		sig = Sign(s.secret, s.algorithm, str)
	}
	var b strings.Builder
	b.Grow(len(s.keyID) + len(s.algorithm) + len(sig) + 64 + 16*len(names))
	b.WriteString(`Signature keyId="`)
	b.WriteString(s.keyID)
	b.WriteString(`",algorithm="`)
	b.WriteString(s.algorithm)
	b.WriteString(`",headers="`)
	b.WriteString(strings.Join(names, " "))
	b.WriteString(`",signature="`)
	b.WriteString(sig)
	b.WriteString(`"`)
	r.Header[s.header] = []string{b.String()}
	return nil
}

// signed returns the names signed in r, lower case, as Tyk chooses them; when date is among
// them, r's Date is set to the gateway's clock.
//
// Without header_list: (request-target), then every header r carries with one value, sorted,
// except the signature header (which the signature replaces), and date. Tyk also signs headers
// with several values (by their first) and the client's signature header, which a checker may
// read otherwise, or which the signature then replaces.
//
// With header_list: its names that r carries, in its order, (request-target) and date always
// (Tyk leaves out both when r has no Date); none of them: "(request-target) date".
func (s *Signer) signed(r *http.Request) []string {
	h := r.Header
	if s.headers == nil {
		s.setDate(h)
		names := make([]string, 0, len(h)+1)
		for k, v := range h {
			if len(v) == 1 && k != s.header && textproto.CanonicalMIMEHeaderKey(k) == k {
				names = append(names, strings.ToLower(k))
			}
		}
		slices.Sort(names)
		return slices.Insert(names, 0, apidef.RequestTarget)
	}
	names := make([]string, 0, len(s.headers))
	for _, n := range s.headers {
		switch n {
		case apidef.RequestTarget:
		case "date":
			s.setDate(h)
		default:
			if h.Get(n) == "" {
				continue
			}
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		s.setDate(h)
		names = append(names, apidef.RequestTarget, "date")
	}
	return names
}

// setDate gives h the gateway's date, in the form HTTP and Tyk's check read, for the date
// signed. It replaces the client's, and removes its X-Aux-Date (which Tyk's check reads before
// Date): a client choosing the date signed could have the gateway sign requests for later,
// which a checker's clock skew would then let in (Tyk signs the client's date).
func (s *Signer) setDate(h http.Header) {
	h["Date"] = []string{s.now().UTC().Format(http.TimeFormat)}
	delete(h, "X-Aux-Date")
}
