package httpsig

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/hdrname"
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

// Sign signs r, an upstream request whose URL is final: it sets the Date, Content-Length as
// sent, and the signature header. It fails only when the RSA
// signature cannot be made, which NewSigner's check rules out.
func (s *Signer) Sign(r *http.Request) error {
	s.prepare(r)
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

// prepare makes r's header what the upstream gets, where the transport writes its own: the
// Content-Length it sends (its rule: a positive length, or zero for POST, PUT and PATCH; the map's
// value is not what is written, and a plugin that replaced the body changed only the request's
// length); the gateway's Date, replacing the client's, and no X-Aux-Date (which Tyk's check
// reads before Date): a client choosing the date signed could have the gateway sign requests for
// later, which a checker's clock skew would then let in (Tyk signs the client's date). A client
// header spelling the signature header, Date or X-Aux-Date with '_' for '-' or in another case,
// which some servers read as the same (CGI's HTTP_X_SIGNATURE), is removed.
func (s *Signer) prepare(r *http.Request) {
	h := r.Header
	delete(h, "Content-Length")
	switch n := r.ContentLength; {
	case n > 0, n == 0 && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch):
		h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	h["Date"] = []string{s.now().UTC().Format(http.TimeFormat)}
	for k := range h {
		if k != s.header && hdrname.Same(k, s.header) || k != "Date" && hdrname.Same(k, "Date") || hdrname.Same(k, "X-Aux-Date") {
			delete(h, k)
		}
	}
}

// signed returns the names signed in r, lower case, as Tyk chooses them.
//
// Without header_list: (request-target), then every header r carries with one value, in
// canonical form, sorted, except the signature header (which the signature replaces). Tyk also
// signs headers with several values (by their first) and the client's signature header, which a
// checker may read otherwise, or which the signature then replaces.
//
// With header_list: its names that r carries, in its order, (request-target) whenever it names
// it (Tyk leaves it out); none of them: "(request-target) date".
func (s *Signer) signed(r *http.Request) []string {
	h := r.Header
	if s.headers == nil {
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
		if n == apidef.RequestTarget || h.Get(n) != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		names = append(names, apidef.RequestTarget, "date")
	}
	return names
}
