package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TransportOptions say how a transport reaches upstreams. The zero value verifies https
// upstreams against the system's roots and speaks HTTP/1.1.
type TransportOptions struct {
	// ResponseHeaderTimeout bounds the wait for an upstream's response headers; past it the
	// client gets 504.
	ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost bounds the idle connections kept to each upstream host.
	MaxIdleConnsPerHost int

	// InsecureSkipVerify accepts any certificate from an https upstream.
	InsecureSkipVerify bool
	// CommonName, when set, replaces Go's check of the certificate's alternative names: the
	// chain is verified, then its subject common name must be CommonName (Tyk's
	// ssl_force_common_name_check, for certificates without alternative names). A transport
	// with it set serves the one upstream host it names.
	CommonName string
	// MinVersion and MaxVersion bound the TLS version; 0 leaves Go's client defaults.
	MinVersion, MaxVersion uint16
	// CipherSuites are the suites offered up to TLS 1.2; nil offers Go's defaults.
	CipherSuites []uint16
	// DisableRenegotiation refuses an upstream's request to renegotiate TLS 1.2; otherwise,
	// as in Tyk, it may renegotiate freely.
	DisableRenegotiation bool
	// RootCAs are the certificate authorities upstream certificates must chain to; nil means
	// the system's.
	RootCAs *x509.CertPool
	// Pins, when set, are the SHA-256 fingerprints of public keys (of their DER
	// SubjectPublicKeyInfo) one of which the upstream's certificate chain must hold (Tyk's
	// pinned_public_keys). The handshake is accepted when the upstream's own certificate has a
	// pinned key, which it proved it holds, or when its certificate chains, signature by
	// signature, to a certificate with a pinned key, presented by the upstream or among
	// RootCAs, and names the host (unless InsecureSkipVerify, or CommonName, which then
	// names it). So a pinned key is trusted in place of the CAs: a self-signed upstream or a
	// private CA needs no CA file. A certificate that merely appears in the presented chain,
	// unsigned by it, counts for nothing. A certificate with a pinned key that anchors the
	// chain is trusted as presented (its own dates and constraints are not checked), as a
	// trust anchor is.
	Pins [][32]byte
	// PinHost is the upstream host the pins are for: the chain must name it (a host name, or
	// an IP address). A handshake for another server (an https outbound proxy's) is verified
	// as usual instead.
	PinHost string
	// ClientCert, when set, is presented to upstreams that ask for one (mutual TLS).
	ClientCert *tls.Certificate
	// HTTP2 speaks HTTP/2 to https upstreams that offer it (by ALPN), HTTP/1.1 to the others.
	HTTP2 bool
	// H2C speaks cleartext HTTP/2 with prior knowledge to http URLs, and nothing else: the
	// transport of h2c:// targets.
	H2C bool
	// ProxyURL, when set, is the outbound proxy every request goes through (http, https or
	// socks5); https upstreams are reached through a CONNECT tunnel.
	ProxyURL *url.URL
}

// MaxResponseHeaderBytes bounds the status line and header fields of an upstream's response
// (1 MiB, against Go's 10 MiB default): an upstream that sends more is answered for with a 502.
// It is what the transport may buffer for each response in flight, so under load a hostile or
// broken upstream could otherwise make the gateway hold 10 MiB per request; 1 MiB is still far
// above what proxies commonly accept (Envoy 60 KiB, NGINX and HAProxy a buffer of 4 to 16 KiB),
// so no real response is refused.
const MaxResponseHeaderBytes = 1 << 20

// NewTransport returns an upstream transport. It ignores proxy environment variables, so an
// upstream is reached the way its definition says and no other.
func NewTransport(o TransportOptions) *http.Transport {
	perHost := o.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = 100
	}
	t := &http.Transport{
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           10 * perHost,
		MaxIdleConnsPerHost:    perHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		// Bodies pass through as the upstream encoded them.
		DisableCompression: true,
		TLSClientConfig:    tlsClientConfig(o),
	}
	if o.ProxyURL != nil {
		t.Proxy = http.ProxyURL(o.ProxyURL)
	}
	p := new(http.Protocols)
	switch {
	case o.H2C:
		p.SetUnencryptedHTTP2(true)
	case o.HTTP2:
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	t.Protocols = p
	return t
}

func tlsClientConfig(o TransportOptions) *tls.Config {
	c := &tls.Config{
		MinVersion:         o.MinVersion,
		MaxVersion:         o.MaxVersion,
		CipherSuites:       o.CipherSuites,
		RootCAs:            o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify,
		Renegotiation:      tls.RenegotiateFreelyAsClient,
	}
	if o.DisableRenegotiation {
		c.Renegotiation = tls.RenegotiateNever
	}
	if o.ClientCert != nil {
		c.Certificates = []tls.Certificate{*o.ClientCert}
	}
	if len(o.Pins) > 0 {
		// Pinning replaces the usual check: verifyPinned does it, or its own.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPinned(cs, o)
		}
		return c
	}
	if o.CommonName != "" && !o.InsecureSkipVerify {
		// Go's own check reads only the alternative names; this one replaces it.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyCommonName(cs, o.RootCAs, o.CommonName)
		}
	}
	return c
}

// verifyCommonName verifies the chain the upstream presented and that its leaf's subject common
// name is host.
func verifyCommonName(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the upstream presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	if cn := leaf.Subject.CommonName; cn == "" || !strings.EqualFold(cn, host) {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates,
			Err: fmt.Errorf("ssl_force_common_name_check: the certificate's common name %q is not the upstream host %q", cn, host)}
	}
	return nil
}

// ErrPinning is what a handshake with an upstream whose certificate chain holds no pinned public
// key fails with, wrapped in a tls.CertificateVerificationError.
var ErrPinning = errors.New("certificate public key pinning error: no certificate the upstream proved, or chained to, holds a pinned public key (pinned_public_keys)")

// verifyPinned accepts the upstream's certificates when its own has a pinned public key, or
// when it chains to one that has, as TransportOptions.Pins says.
func verifyPinned(cs tls.ConnectionState, o TransportOptions) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("the upstream presented no certificate")
	}
	if cs.ServerName != "" && !strings.EqualFold(cs.ServerName, o.PinHost) {
		// Not the upstream: the outbound proxy the request goes through (proxy_url), checked
		// as any server is.
		if o.InsecureSkipVerify {
			return nil
		}
		return verifyUsual(certs, o.RootCAs, cs.ServerName)
	}
	pinned := func(c *x509.Certificate) bool {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		return slices.Contains(o.Pins, sum)
	}
	leaf := certs[0]
	// The handshake's signature proved the upstream holds this certificate's key, and the key
	// is the one pinned: nothing else needs trusting, as in Tyk.
	if pinned(leaf) {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: o.RootCAs, Intermediates: inter}
	if !o.InsecureSkipVerify && o.CommonName == "" {
		// The target's host, not the handshake's server name: Go sends none for an IP
		// address, whose certificate must name it all the same.
		opts.DNSName = o.PinHost
	}
	var chains [][]*x509.Certificate
	if ch, err := leaf.Verify(opts); err == nil {
		chains = ch
	}
	// The presented certificates with a pinned key may anchor the chain themselves (a chain
	// through a pinned certificate verifies with it as the root, so other anchors add nothing).
	anchors := x509.NewCertPool()
	n := 0
	for _, c := range certs[1:] {
		if pinned(c) {
			anchors.AddCert(c)
			n++
		}
	}
	if n > 0 {
		opts.Roots = anchors
		if ch, err := leaf.Verify(opts); err == nil {
			chains = append(chains, ch...)
		}
	}
	for _, chain := range chains {
		if slices.ContainsFunc(chain, pinned) {
			if o.CommonName != "" && !o.InsecureSkipVerify {
				if cn := leaf.Subject.CommonName; cn == "" || !strings.EqualFold(cn, o.CommonName) {
					return &tls.CertificateVerificationError{UnverifiedCertificates: certs,
						Err: fmt.Errorf("ssl_force_common_name_check: the certificate's common name %q is not the upstream host %q", cn, o.CommonName)}
				}
			}
			return nil
		}
	}
	return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: ErrPinning}
}

// verifyUsual verifies a chain as crypto/tls does by default: to roots (nil: the system's),
// naming host.
func verifyUsual(certs []*x509.Certificate, roots *x509.CertPool, host string) error {
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host}); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}
