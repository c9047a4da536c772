package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/tlsconf"
	"github.com/gatehouse/gatehouse/internal/tlsconf/tlstest"
)

// served returns the common name of the certificate GetCertificate picks for serverName.
func served(t *testing.T, c *tlsconf.Certs, serverName string) string {
	t.Helper()
	cert, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: serverName})
	if err != nil {
		t.Fatal(err)
	}
	return cert.Leaf.Subject.CommonName
}

func TestGetCertificateBySNI(t *testing.T) {
	ca := tlstest.NewCA(t)
	first := ca.Issue(t, "first.test", "alt.first.test")
	second := ca.Issue(t, "second.test")
	wild := ca.Issue(t, "*.wild.test")
	c, err := tlsconf.Load([]tlsconf.Pair{
		{CertFile: first.CertFile, KeyFile: first.KeyFile},
		{Domain: "named.test", CertFile: second.CertFile, KeyFile: second.KeyFile},
		{CertFile: wild.BothFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ sni, want string }{
		{"first.test", "first.test"},
		{"ALT.First.Test.", "first.test"},
		{"second.test", "second.test"},
		{"named.test", "second.test"}, // by domain_name
		{"a.wild.test", "*.wild.test"},
		{"b.a.wild.test", "first.test"}, // a wildcard covers one label only: the default
		{"unknown.test", "first.test"},  // the first configured is the default
		{"", "first.test"},              // no SNI (an IP address)
	} {
		if got := served(t, c, tt.sni); got != tt.want {
			t.Errorf("SNI %q: served %q, want %q", tt.sni, got, tt.want)
		}
	}
}

func TestDomainNameWinsOverCertificateNames(t *testing.T) {
	ca := tlstest.NewCA(t)
	a := ca.Issue(t, "a.test")
	b := ca.Issue(t, "b.test")
	c, err := tlsconf.Load([]tlsconf.Pair{
		{CertFile: a.CertFile, KeyFile: a.KeyFile},
		{Domain: "a.test", CertFile: b.CertFile, KeyFile: b.KeyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, c, "a.test"); got != "b.test" {
		t.Errorf("a.test: served %q, want b.test (named by domain_name)", got)
	}
	// Served as asked, and said: b.test's certificate does not cover a.test.
	if e := c.Expiry(); len(e) != 1 || !strings.Contains(e[0], "does not cover the domain a.test") {
		t.Errorf("Expiry() = %q, want one line saying the certificate does not cover a.test", e)
	}
	// A domain the certificate covers, by name or by its wildcard, is not reported.
	w := ca.Issue(t, "*.w.test", "w.test")
	c, err = tlsconf.Load([]tlsconf.Pair{{Domain: "b.test", CertFile: b.CertFile, KeyFile: b.KeyFile},
		{Domain: "*.w.test", CertFile: w.CertFile, KeyFile: w.KeyFile}, {Domain: "x.w.test", CertFile: w.CertFile, KeyFile: w.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Expiry(); len(e) != 0 {
		t.Errorf("Expiry() = %q for domains the certificates cover", e)
	}
}

func TestLoadErrors(t *testing.T) {
	ca := tlstest.NewCA(t)
	good := ca.Issue(t, "good.test")
	other := ca.Issue(t, "other.test")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	for _, tt := range []struct {
		name  string
		pairs []tlsconf.Pair
		want  []string
	}{
		{"none", nil, []string{"no certificate is configured"}},
		{"missing file", []tlsconf.Pair{{Source: "certificates[0]", CertFile: filepath.Join(dir, "nope.pem"), KeyFile: good.KeyFile}},
			[]string{"certificates[0]", "nope.pem", "no such file"}},
		{"store id", []tlsconf.Pair{{Source: "ssl_certificates[0]", CertFile: "5e9d9544a1dcd60001d0ed20abc"}},
			[]string{"ssl_certificates[0]", "certificate store"}},
		{"garbage", []tlsconf.Pair{{Source: "certificates[1]", CertFile: garbage, KeyFile: good.KeyFile}},
			[]string{"certificates[1]", "garbage.pem"}},
		{"key of another certificate", []tlsconf.Pair{{Source: "certificates[0]", CertFile: good.CertFile, KeyFile: other.KeyFile}},
			[]string{"certificates[0]", "private key does not match public key"}},
		{"certificate without key", []tlsconf.Pair{{Source: "ssl_certificates[0]", CertFile: good.CertFile}},
			[]string{"ssl_certificates[0]", "must hold the certificate and its private key"}},
		{"every bad one named", []tlsconf.Pair{
			{Source: "certificates[0]", CertFile: garbage, KeyFile: good.KeyFile},
			{Source: "certificates[1]", CertFile: good.CertFile, KeyFile: good.KeyFile},
			{Source: "ssl_certificates[0]", CertFile: good.CertFile},
		}, []string{"certificates[0]", "ssl_certificates[0]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsconf.Load(tt.pairs)
			if err == nil {
				t.Fatalf("Load succeeded, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestReloadKeepsOldOnError: a file broken between reloads leaves the certificates loaded
// before serving; once fixed, the next reload serves the new ones.
func TestReloadKeepsOldOnError(t *testing.T) {
	ca := tlstest.NewCA(t)
	v1 := ca.Issue(t, "v1.test")
	v2 := ca.Issue(t, "v2.test")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	tlstest.Copy(t, v1.CertFile, cert)
	tlstest.Copy(t, v1.KeyFile, key)
	c, err := tlsconf.Load([]tlsconf.Pair{{CertFile: cert, KeyFile: key}})
	if err != nil {
		t.Fatal(err)
	}
	// Half a rotation: the new certificate beside the old key.
	tlstest.Copy(t, v2.CertFile, cert)
	if err := c.Reload(); err == nil {
		t.Fatal("Reload with a mismatched key succeeded")
	}
	if got := served(t, c, ""); got != "v1.test" {
		t.Fatalf("after a failed reload: served %q, want v1.test", got)
	}
	tlstest.Copy(t, v2.KeyFile, key)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, c, ""); got != "v2.test" {
		t.Fatalf("after the rotation: served %q, want v2.test", got)
	}
}

func TestExpiry(t *testing.T) {
	ca := tlstest.NewCA(t)
	old := ca.IssueValid(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), "old.test")
	c, err := tlsconf.Load([]tlsconf.Pair{{Source: "certificates[0]", CertFile: old.CertFile, KeyFile: old.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Expiry(); len(e) != 1 || !strings.Contains(e[0], `"old.test" expired on`) {
		t.Errorf("Expiry() = %q, want one line saying old.test expired", e)
	}
}

func TestResolveVersions(t *testing.T) {
	const tls10, tls11, tls12, tls13 = 769, 770, 771, 772
	for _, tt := range []struct {
		name     string
		min, max int
		lo, hi   uint16
		err      string
	}{
		{"unset", 0, 0, tls.VersionTLS12, tls.VersionTLS13, ""},
		{"min only", tls13, 0, tls.VersionTLS13, tls.VersionTLS13, ""},
		{"old min only", tls10, 0, tls.VersionTLS10, tls.VersionTLS13, ""},
		{"max only", 0, tls12, tls.VersionTLS12, tls.VersionTLS12, ""},
		{"both", tls11, tls12, tls.VersionTLS11, tls.VersionTLS12, ""},
		{"min above max", tls13, tls12, 0, 0, "min_version 772 (TLS 1.3) is above max_version 771 (TLS 1.2)"},
		{"max only below 1.2", 0, tls11, 0, 0, "max_version 770 (TLS 1.1) is below the default min_version, 771 (TLS 1.2); set min_version too"},
		{"not a version", 768, 0, 0, 0, "min_version is 768, which is not a TLS version; use 769 (TLS 1.0)"},
		{"max not a version", 0, 773, 0, 0, "max_version is 773, which is not a TLS version"},
		{"negative", -1, 0, 0, 0, "min_version is -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi, err := tlsconf.ResolveVersions(tt.min, tt.max, "min_version", "max_version")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || lo != tt.lo || hi != tt.hi {
				t.Fatalf("got %x..%x, %v; want %x..%x", lo, hi, err, tt.lo, tt.hi)
			}
		})
	}
}

func TestCipherSuites(t *testing.T) {
	ids, notes, err := tlsconf.CipherSuites([]string{
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", // the legacy name
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_RSA_WITH_RC4_128_SHA",
	}, "ssl_ciphers")
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_RSA_WITH_RC4_128_SHA}
	if len(ids) != len(want) {
		t.Fatalf("ids %x, want %x", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %x, want %x", ids, want)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "TLS_RSA_WITH_RC4_128_SHA, which Go marks insecure") {
		t.Errorf("notes %q, want one about RC4", notes)
	}
	_, _, err = tlsconf.CipherSuites([]string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", "bogus"}, "ssl_ciphers")
	if err == nil || !strings.Contains(err.Error(), `ssl_ciphers: unknown cipher suite "AES128-GCM-SHA256", "bogus"; use Go's names: TLS_`) {
		t.Errorf("error %v, want the unknown names and the valid ones", err)
	}
}

func TestHTTP2CipherProblem(t *testing.T) {
	if p := tlsconf.HTTP2CipherProblem(nil, tls.VersionTLS12); p != "" {
		t.Errorf("Go's defaults: %q", p)
	}
	only256 := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}
	if p := tlsconf.HTTP2CipherProblem(only256, tls.VersionTLS12); p == "" {
		t.Error("no AES_128_GCM suite with TLS 1.2: no problem reported")
	}
	if p := tlsconf.HTTP2CipherProblem(only256, tls.VersionTLS13); p != "" {
		t.Errorf("TLS 1.3 only: %q", p)
	}
}

// TestReadPEMFile: files a definition names are read only when regular and of a bounded size,
// so that naming a device, a FIFO or a huge file cannot block a reload or fill the memory.
func TestReadPEMFile(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.pem")
	if err := os.WriteFile(ok, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := tlsconf.ReadPEMFile(ok); err != nil || !strings.HasPrefix(string(data), "-----BEGIN") {
		t.Errorf("a regular file: %q, %v", data, err)
	}
	huge := filepath.Join(dir, "huge.pem")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(tlsconf.MaxPEMFile + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "not a regular file"},
		{fifo, "not a regular file"}, // opened without waiting for a writer
		{empty, "is empty"},
		{"/proc/self/stat", "is empty"}, // a pseudo-file: size 0, whatever reading it gives
		{dir, "not a regular file"},
		{huge, "larger than 4 MiB"},
		{filepath.Join(dir, "missing.pem"), "no such file"},
	} {
		if _, err := tlsconf.ReadPEMFile(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadPEMFile(%s) = %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
}

// TestReloadDropsAbsent: a pair whose read says it is gone (tlsconf.Absent: removed from the
// certificate store) stops being served at the next reload, while the others go on; when none
// is left, the reload fails and the certificates loaded before keep serving.
func TestReloadDropsAbsent(t *testing.T) {
	ca := tlstest.NewCA(t)
	kept := ca.Issue(t, "kept.test")
	gone := ca.Issue(t, "gone.test")
	removed := map[string]bool{}
	read := func(f string) ([]byte, error) {
		if removed[f] {
			return nil, tlsconf.Absent{Err: errors.New("removed from the store")}
		}
		return os.ReadFile(f)
	}
	c, err := tlsconf.Load([]tlsconf.Pair{
		{Source: "ssl_certificates[0]", CertFile: gone.BothFile, Read: read},
		{Source: "ssl_certificates[1]", CertFile: kept.BothFile, Read: read},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, c, "gone.test"); got != "gone.test" {
		t.Fatalf("before: %q", got)
	}
	removed[gone.BothFile] = true
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, c, "gone.test"); got != "kept.test" {
		t.Errorf("after its removal: served %q, want the other", got)
	}
	if e := c.Expiry(); len(e) != 1 || !strings.Contains(e[0], "no longer served") {
		t.Errorf("not reported: %q", e)
	}
	removed[kept.BothFile] = true
	if err := c.Reload(); err == nil || !strings.Contains(err.Error(), "no certificate is left") {
		t.Errorf("all removed: %v", err)
	}
	if got := served(t, c, ""); got != "kept.test" {
		t.Errorf("after a reload with none left: served %q", got)
	}
	// At start, a certificate that is gone is an error.
	if _, err := tlsconf.Load([]tlsconf.Pair{{CertFile: gone.BothFile, Read: read}}); err == nil {
		t.Error("Load with a removed certificate succeeded")
	}
}
