package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/certtest"
)

// TestVerifyPinned: an upstream passes a pinned check when its own certificate has a pinned
// key, or when its certificate chains, by signature, to a certificate with one (presented or
// among the roots) and names the host; never because a pinned certificate merely appears in
// what it presented, and never on the usual CA check alone.
func TestVerifyPinned(t *testing.T) {
	root := certtest.NewCA(t, "pinned root")
	inter := root.Intermediate(t, "pinned intermediate")
	leaf := inter.Localhost(t)
	leafCert := parse(t, leaf.TLS.Certificate[0])
	self := certtest.NewCA(t, "localhost") // a self-signed certificate, served as is
	attacker := certtest.NewCA(t, "attacker")
	forged := attacker.Localhost(t)
	noSAN := root.Issue(t, certtest.Leaf{CommonName: "backend.internal"})
	billing := parse(t, inter.Issue(t, certtest.Leaf{CommonName: "billing.example", DNSNames: []string{"billing.example"}}).TLS.Certificate[0])
	proxyCA := certtest.NewCA(t, "outbound proxy CA")
	proxyCert := parse(t, proxyCA.Issue(t, certtest.Leaf{CommonName: "proxy.example", DNSNames: []string{"proxy.example"}}).TLS.Certificate[0])

	pin := func(certs ...*x509.Certificate) [][32]byte {
		var out [][32]byte
		for _, c := range certs {
			out = append(out, sha256.Sum256(c.RawSubjectPublicKeyInfo))
		}
		return out
	}
	state := func(server string, certs ...*x509.Certificate) tls.ConnectionState {
		return tls.ConnectionState{ServerName: server, PeerCertificates: certs}
	}
	tests := []struct {
		name string
		cs   tls.ConnectionState
		o    TransportOptions
		ok   bool
	}{
		{name: "the leaf's key, self-signed, no CA", cs: state("localhost", self.Cert), o: TransportOptions{Pins: pin(self.Cert)}, ok: true},
		{name: "the leaf's key, whatever the name", cs: state("other.example", leafCert), o: TransportOptions{Pins: pin(leafCert)}, ok: true},
		{name: "an intermediate presented", cs: state("localhost", leafCert, inter.Cert), o: TransportOptions{Pins: pin(inter.Cert)}, ok: true},
		{name: "the root presented", cs: state("localhost", leafCert, inter.Cert, root.Cert), o: TransportOptions{Pins: pin(root.Cert)}, ok: true},
		{name: "the root among the roots, not presented", cs: state("localhost", leafCert, inter.Cert),
			o: TransportOptions{Pins: pin(root.Cert), RootCAs: root.Pool()}, ok: true},
		{name: "a chain to the pin for another host", cs: state("other.example", leafCert, inter.Cert), o: TransportOptions{Pins: pin(inter.Cert)}},
		{name: "another host with checks off", cs: state("other.example", leafCert, inter.Cert),
			o: TransportOptions{Pins: pin(inter.Cert), InsecureSkipVerify: true}, ok: true},
		{name: "trusted by the CAs but no pinned key", cs: state("localhost", leafCert, inter.Cert),
			o: TransportOptions{Pins: pin(self.Cert), RootCAs: root.Pool()}},
		{name: "a pinned intermediate appended to a forged leaf", cs: state("localhost", parse(t, forged.TLS.Certificate[0]), inter.Cert, root.Cert),
			o: TransportOptions{Pins: pin(inter.Cert, root.Cert)}},
		{name: "a pinned intermediate appended, checks off", cs: state("localhost", parse(t, forged.TLS.Certificate[0]), inter.Cert),
			o: TransportOptions{Pins: pin(inter.Cert), InsecureSkipVerify: true}},
		{name: "the intermediate's pin without the intermediate", cs: state("localhost", leafCert), o: TransportOptions{Pins: pin(inter.Cert)}},
		{name: "common name check", cs: state("backend.internal", parse(t, noSAN.TLS.Certificate[0]), root.Cert),
			o: TransportOptions{Pins: pin(root.Cert), CommonName: "backend.internal"}, ok: true},
		{name: "common name check, another name", cs: state("backend.internal", parse(t, noSAN.TLS.Certificate[0]), root.Cert),
			o: TransportOptions{Pins: pin(root.Cert), CommonName: "other.internal"}},
		{name: "no common name check, no alternative name", cs: state("backend.internal", parse(t, noSAN.TLS.Certificate[0]), root.Cert),
			o: TransportOptions{Pins: pin(root.Cert)}},
		{name: "no certificate", cs: state("localhost"), o: TransportOptions{Pins: pin(root.Cert)}},
		// Go sends no server name for an IP address: the target's address is checked all the same.
		{name: "an IP target its certificate names", cs: state("", leafCert, inter.Cert), o: TransportOptions{Pins: pin(inter.Cert), PinHost: "127.0.0.1"}, ok: true},
		{name: "an IP target its certificate does not name", cs: state("", billing, inter.Cert), o: TransportOptions{Pins: pin(inter.Cert), PinHost: "127.0.0.1"}},
		{name: "an IPv6 target its certificate does not name", cs: state("", billing, inter.Cert), o: TransportOptions{Pins: pin(inter.Cert), PinHost: "::1"}},
		// An https outbound proxy's handshake: verified as usual, pins aside.
		{name: "the proxy, trusted", cs: state("proxy.example", proxyCert), o: TransportOptions{Pins: pin(inter.Cert), PinHost: "localhost", RootCAs: proxyCA.Pool()}, ok: true},
		{name: "the proxy, not trusted", cs: state("proxy.example", proxyCert), o: TransportOptions{Pins: pin(proxyCA.Cert), PinHost: "localhost"}},
		{name: "the proxy, not trusted, checks off", cs: state("proxy.example", proxyCert), o: TransportOptions{Pins: pin(inter.Cert), PinHost: "localhost", InsecureSkipVerify: true}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.PinHost == "" {
				tc.o.PinHost = tc.cs.ServerName
			}
			err := verifyPinned(tc.cs, tc.o)
			if tc.ok != (err == nil) {
				t.Fatalf("verifyPinned = %v, want ok %v", err, tc.ok)
			}
			var ve *tls.CertificateVerificationError
			if err != nil && len(tc.cs.PeerCertificates) > 0 && !errors.As(err, &ve) {
				t.Errorf("error %T is not a certificate verification error, which the gateway's log hint reads", err)
			}
		})
	}
}

// TestPinnedTransport: a transport with pins reaches a self-signed upstream whose key is pinned
// without trusting any CA, and refuses one whose key is not, with ErrPinning.
func TestPinnedTransport(t *testing.T) {
	self := certtest.NewCA(t, "self-signed upstream")
	other := certtest.NewCA(t, "other")
	pair := self.Localhost(t) // issued by self: the server presents its leaf only
	srv := startTLS(t, pair.TLS)
	for _, tc := range []struct {
		name string
		pins [][32]byte
		ok   bool
	}{
		{name: "leaf pinned", pins: [][32]byte{sha256.Sum256(parse(t, pair.TLS.Certificate[0]).RawSubjectPublicKeyInfo)}, ok: true},
		{name: "unknown key", pins: [][32]byte{sha256.Sum256(other.Cert.RawSubjectPublicKeyInfo)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTransport(TransportOptions{Pins: tc.pins, PinHost: "127.0.0.1"})
			defer tr.CloseIdleConnections()
			req, _ := newGet(srv)
			resp, err := tr.RoundTrip(req)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("a connection to an upstream with no pinned key was made")
			}
			if !errors.Is(err, ErrPinning) {
				t.Errorf("error %v, want ErrPinning", err)
			}
		})
	}
}

func parse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startTLS starts an https server on loopback presenting cert.
func startTLS(t *testing.T, cert tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newGet(srv *httptest.Server) (*http.Request, error) {
	return http.NewRequest(http.MethodGet, srv.URL+"/", nil)
}
