// Package tlstest makes certificates for tests: a private CA, made with crypto/x509 in the
// test, that issues leaf certificates written to PEM files, and clients that trust it.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a private certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// Pool holds the CA certificate, for clients.
	Pool *x509.CertPool
	dir  string
}

var serial atomic.Int64

// NewCA makes a CA whose files live in a temporary directory of the test.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: "Gatehouse test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, key: key, Pool: pool, dir: t.TempDir()}
}

// Leaf is an issued certificate and where its files are.
type Leaf struct {
	Cert     *x509.Certificate
	CertFile string // the certificate, PEM
	KeyFile  string // the key, PEM
	BothFile string // the certificate then the key, PEM (for ssl_certificates)
}

// Issue makes a server certificate for names (DNS names or IP addresses), the first also its
// common name, valid from an hour ago for a day.
func (ca *CA) Issue(t testing.TB, names ...string) *Leaf {
	t.Helper()
	return ca.IssueValid(t, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), names...)
}

// IssueValid is Issue with the validity period given.
func (ca *CA) IssueValid(t testing.TB, notBefore, notAfter time.Time, names ...string) *Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := serial.Add(1)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	base := filepath.Join(ca.dir, big.NewInt(n).String())
	l := &Leaf{Cert: cert, CertFile: base + "-cert.pem", KeyFile: base + "-key.pem", BothFile: base + "-both.pem"}
	for file, data := range map[string][]byte{l.CertFile: certPEM, l.KeyFile: keyPEM, l.BothFile: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// Client returns an HTTP client that trusts the CA, sends serverName in SNI (the URL's host
// when ""), and speaks HTTP/2 when h2 is set (HTTP/1.1 only otherwise).
func (ca *CA) Client(serverName string, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool, ServerName: serverName},
		ForceAttemptHTTP2: h2,
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(h2)
	tr.Protocols = p
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Copy copies a file over another, as an operator rotating a certificate would.
func Copy(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
