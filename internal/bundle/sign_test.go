package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

// concat returns the listed files' bytes, concatenated in order, read back from dir.
func concat(t *testing.T, dir string, list []string) []byte {
	t.Helper()
	var all []byte
	for _, n := range list {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}

func TestDigestsMatchIndependentComputation(t *testing.T) {
	binary := make([]byte, 70000) // more than one read buffer
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	tests := []struct {
		name  string
		files map[string][]byte
		list  []string
	}{
		{"one file", map[string][]byte{"plugin.so": []byte("hello")}, []string{"plugin.so"}},
		{"several files in order, with an empty one and a sub-folder",
			map[string][]byte{"b.so": []byte("second"), "a.so": []byte("first"), "empty": nil, "lib/x.so": binary},
			[]string{"b.so", "empty", "lib/x.so", "a.so"}},
		{"the same files in another order",
			map[string][]byte{"b.so": []byte("second"), "a.so": []byte("first")},
			[]string{"a.so", "b.so"}},
		{"empty file list", map[string][]byte{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundleDir(t, tt.files)
			all := concat(t, dir, tt.list)
			wantMD5 := md5.Sum(all)
			wantSHA := sha256.Sum256(all)

			checksum, tykHash, perFile, err := bundle.Digests(dir, tt.list)
			if err != nil {
				t.Fatalf("Digests: %v", err)
			}
			if checksum != hex.EncodeToString(wantMD5[:]) {
				t.Errorf("checksum = %s, want md5 of the concatenation %x", checksum, wantMD5)
			}
			if !bytes.Equal(tykHash, wantSHA[:]) {
				t.Errorf("tykHash = %x, want sha256 of the concatenation %x", tykHash, wantSHA)
			}
			if len(perFile) != len(tt.list) {
				t.Errorf("perFile has %d entries, want %d", len(perFile), len(tt.list))
			}
			for _, n := range tt.list {
				sum := sha256.Sum256(tt.files[n])
				if perFile[n] != hex.EncodeToString(sum[:]) {
					t.Errorf("perFile[%q] = %s, want %x", n, perFile[n], sum)
				}
			}
		})
	}
	t.Run("empty list gives Tyk's empty checksum", func(t *testing.T) {
		checksum, _, _, err := bundle.Digests(t.TempDir(), nil)
		if err != nil || checksum != "d41d8cd98f00b204e9800998ecf8427e" {
			t.Errorf("Digests(empty) = %q, %v; want d41d8cd98f00b204e9800998ecf8427e", checksum, err)
		}
	})
	t.Run("a missing listed file is an error naming it", func(t *testing.T) {
		dir := bundleDir(t, map[string][]byte{"a.so": []byte("a")})
		_, _, _, err := bundle.Digests(dir, []string{"a.so", "missing.so"})
		if err == nil || !strings.Contains(err.Error(), "missing.so") {
			t.Errorf("Digests = %v, want an error naming missing.so", err)
		}
	})
}

// tykSign signs a manifest the way Tyk's bundler does, computed here from scratch: MD5 hex of
// the concatenation, and RSA PKCS#1 v1.5 over its SHA-256, base64; no seal.
func tykSign(t *testing.T, m *apidef.BundleManifest, dir string, key *rsa.PrivateKey) {
	t.Helper()
	all := concat(t, dir, m.FileList)
	sum := md5.Sum(all)
	m.Checksum = hex.EncodeToString(sum[:])
	m.Signature, m.Seal = "", nil
	if key != nil {
		h := sha256.Sum256(all)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		m.Signature = base64.StdEncoding.EncodeToString(sig)
	}
}

func TestVerifyTykSignedManifest(t *testing.T) {
	key, other := testKeys()
	files := map[string][]byte{"plugin.so": []byte("plugin bytes"), "lib/dep.so": []byte("dep bytes")}
	dir := bundleDir(t, files)
	m := goManifest("plugin.so", "lib/dep.so")
	tykSign(t, m, dir, key)
	m = cloneManifest(t, m)

	tests := []struct {
		name          string
		key           *rsa.PublicKey
		allowUnsealed bool
		want          error
	}{
		{"with the signer's key", &key.PublicKey, true, nil},
		{"with the signer's key, the seal required", &key.PublicKey, false, bundle.ErrUnsealed},
		{"with no key", nil, false, nil},
		{"with another key", &other.PublicKey, true, bundle.ErrBadSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.VerifyFiles(m, dir, "b.zip", tt.key, tt.allowUnsealed)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifyFiles = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyFiles = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignIsTykCompatible(t *testing.T) {
	key, _ := testKeys()
	files := map[string][]byte{"plugin.so": []byte("plugin bytes"), "lib/dep.so": []byte("dep bytes")}
	dir := bundleDir(t, files)
	m := goManifest("plugin.so", "lib/dep.so")
	if err := bundle.Sign(m, dir, "b.zip", key); err != nil {
		t.Fatal(err)
	}
	all := concat(t, dir, m.FileList)
	sum := md5.Sum(all)
	if m.Checksum != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum = %s, want %x", m.Checksum, sum)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		t.Fatalf("signature is not base64 (StdEncoding): %v", err)
	}
	h := sha256.Sum256(all)
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, h[:], sig); err != nil {
		t.Errorf("Tyk's check (PKCS#1 v1.5 over sha256 of the concatenation) fails: %v", err)
	}
	if m.Seal == nil {
		t.Fatal("Sign with a key left no seal")
	}
	if m.Seal.Version != 3 || m.Seal.Name != "b.zip" {
		t.Errorf("seal version %d for the name %q, want version 3 for b.zip", m.Seal.Version, m.Seal.Name)
	}
	for name, data := range files {
		s := sha256.Sum256(data)
		if m.Seal.Files[name] != hex.EncodeToString(s[:]) {
			t.Errorf("seal file %q = %s, want %x", name, m.Seal.Files[name], s)
		}
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key, _ := testKeys()
	files := map[string][]byte{"plugin.so": []byte("plugin bytes"), "lib/dep.so": []byte("dep")}
	tests := []struct {
		name      string
		signKey   *rsa.PrivateKey
		verifyKey *rsa.PublicKey
		want      error
		wantSeal  bool
	}{
		{"signed and sealed, verified with the key", key, &key.PublicKey, nil, true},
		{"signed and sealed, verified without a key", key, nil, nil, true},
		{"checksum only, verified without a key", nil, nil, nil, false},
		{"checksum only, but a key is required", nil, &key.PublicKey, bundle.ErrUnsigned, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundleDir(t, files)
			m := goManifest("plugin.so", "lib/dep.so")
			m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Post", Path: "lib/dep.so", RequireSession: true}}
			m.Signature = "stale"
			if err := bundle.Sign(m, dir, "b.zip", tt.signKey); err != nil {
				t.Fatal(err)
			}
			if got := m.Seal != nil; got != tt.wantSeal {
				t.Errorf("seal present = %v, want %v", got, tt.wantSeal)
			}
			if tt.signKey == nil && m.Signature != "" {
				t.Errorf("Sign without a key left signature %q", m.Signature)
			}
			// As read back from disk.
			got := cloneManifest(t, m)
			_, err := bundle.VerifyFiles(got, dir, "b.zip", tt.verifyKey, false)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifyFiles = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyFiles = %v, want %v", err, tt.want)
			}
		})
	}
}

// tamperCase changes a signed bundle (its manifest and the folder of its files).
type tamperCase struct {
	name string
	// keepsChecksum says the change leaves Tyk's checksum (and so its signature) valid: only
	// the seal can catch it.
	keepsChecksum bool
	tamper        func(t *testing.T, m *apidef.BundleManifest, dir string)
	want          error // nil: any error
}

func tamperCases() []tamperCase {
	_, other := testKeys()
	return []tamperCase{
		{name: "a changed byte in a listed file", want: bundle.ErrChecksum,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				writeFiles(t, dir, map[string][]byte{"plugin.so": []byte("AAAAbBBB")})
			}},
		{name: "bytes appended to a listed file", want: bundle.ErrChecksum,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				writeFiles(t, dir, map[string][]byte{"lib/helper.so": []byte("CCCC!")})
			}},
		{name: "a listed file deleted",
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				os.Remove(filepath.Join(dir, "lib", "helper.so"))
			}},
		{name: "file_list reordered", want: bundle.ErrChecksum,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.FileList[0], m.FileList[1] = m.FileList[1], m.FileList[0]
			}},
		{name: "signature made with another key", want: bundle.ErrBadSig,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				h := sha256.Sum256(concat(t, dir, m.FileList))
				sig, err := rsa.SignPKCS1v15(rand.Reader, other, crypto.SHA256, h[:])
				if err != nil {
					t.Fatal(err)
				}
				m.Signature = base64.StdEncoding.EncodeToString(sig)
			}},
		{name: "signature not base64", want: bundle.ErrBadSig,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Signature = "!!not base64!!"
			}},
		{name: "signature and seal removed", want: bundle.ErrUnsigned,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Signature, m.Seal = "", nil
			}},
		{name: "signature removed, seal kept", want: bundle.ErrUnsigned,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Signature = ""
			}},
		{name: "bytes moved between two listed files", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				// "AAAABBBB"+"CCCC" becomes "AAAA"+"BBBBCCCC": the concatenation is the same.
				writeFiles(t, dir, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/helper.so": []byte("BBBBCCCC")})
			}},
		{name: "bytes moved, and the seal's file hashes updated to match", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				writeFiles(t, dir, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/helper.so": []byte("BBBBCCCC")})
				_, _, perFile, err := bundle.Digests(dir, m.FileList)
				if err != nil {
					t.Fatal(err)
				}
				m.Seal.Files = perFile
			}},
		{name: "a file renamed in file_list and on disk", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				if err := os.Rename(filepath.Join(dir, "lib", "helper.so"), filepath.Join(dir, "lib", "other.so")); err != nil {
					t.Fatal(err)
				}
				m.FileList[1] = "lib/other.so"
				m.CustomMiddleware.Post[0].Path = "lib/other.so"
			}},
		{name: "a renamed file, with the seal's entry renamed too", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				if err := os.Rename(filepath.Join(dir, "lib", "helper.so"), filepath.Join(dir, "lib", "other.so")); err != nil {
					t.Fatal(err)
				}
				m.FileList[1] = "lib/other.so"
				m.CustomMiddleware.Post[0].Path = "lib/other.so"
				m.Seal.Files["lib/other.so"] = m.Seal.Files["lib/helper.so"]
				delete(m.Seal.Files, "lib/helper.so")
			}},
		{name: "a hook's name changed", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.Pre[0].Name = "Evil"
			}},
		{name: "a hook's path changed to another listed file", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.Pre[0].Path = "lib/helper.so"
			}},
		{name: "a hook disabled", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.Post[0].Disabled = true
			}},
		{name: "a hook moved from pre to post_key_auth", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.PostKeyAuth, m.CustomMiddleware.Pre = m.CustomMiddleware.Pre, nil
			}},
		{name: "an auth_check hook added", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.AuthCheck = apidef.MiddlewareDefinition{Name: "LetAllIn", Path: "plugin.so"}
			}},
		{name: "the driver changed", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.CustomMiddleware.Driver = "python"
			}},
		{name: "a seal with an extra file entry", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Files["extra.so"] = strings.Repeat("0", 64)
			}},
		{name: "a seal missing a file entry", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				delete(m.Seal.Files, "lib/helper.so")
			}},
		{name: "a seal signed by another key", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				o := cloneManifest(t, m)
				if err := bundle.Sign(o, dir, "b.zip", other); err != nil {
					t.Fatal(err)
				}
				m.Seal.Signature = o.Seal.Signature
			}},
		{name: "a seal signature not base64", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Signature = "%%%"
			}},
		{name: "an unknown seal version", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Version = 4
			}},
		{name: "a version 3 seal relabelled version 1", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Version = 1
			}},
		// Versions 1 and 2 bind no name: relabelling a seal to pass for one must not verify.
		{name: "a version 3 seal relabelled version 2, its name dropped", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Version, m.Seal.Name = 2, ""
			}},
		{name: "the sealed name rewritten", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Name = "other.zip"
			}},
		{name: "the sealed name dropped", keepsChecksum: true, want: bundle.ErrBadSeal,
			tamper: func(t *testing.T, m *apidef.BundleManifest, dir string) {
				m.Seal.Name = ""
			}},
	}
}

// signedFixture returns a signed, sealed two-file bundle in a fresh folder.
func signedFixture(t *testing.T) (*apidef.BundleManifest, string) {
	t.Helper()
	key, _ := testKeys()
	dir := bundleDir(t, map[string][]byte{"plugin.so": []byte("AAAABBBB"), "lib/helper.so": []byte("CCCC")})
	m := goManifest("plugin.so", "lib/helper.so")
	m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Post", Path: "lib/helper.so"}}
	if err := bundle.Sign(m, dir, "b.zip", key); err != nil {
		t.Fatal(err)
	}
	return cloneManifest(t, m), dir
}

func TestVerifyCatchesTampering(t *testing.T) {
	key, other := testKeys()
	t.Run("untampered verifies", func(t *testing.T) {
		m, dir := signedFixture(t)
		if _, err := bundle.VerifyFiles(m, dir, "b.zip", &key.PublicKey, false); err != nil {
			t.Fatalf("VerifyFiles = %v", err)
		}
	})
	t.Run("verified with another key", func(t *testing.T) {
		m, dir := signedFixture(t)
		if _, err := bundle.VerifyFiles(m, dir, "b.zip", &other.PublicKey, false); !errors.Is(err, bundle.ErrBadSig) {
			t.Fatalf("VerifyFiles = %v, want ErrBadSig", err)
		}
	})
	for _, tt := range tamperCases() {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := signedFixture(t)
			before := m.Checksum
			tt.tamper(t, m, dir)
			if tt.keepsChecksum {
				// The premise: Tyk's own check cannot see this change.
				checksum, _, _, err := bundle.Digests(dir, m.FileList)
				if err != nil || checksum != before {
					t.Fatalf("test premise broken: checksum after tampering = %s, %v; before %s", checksum, err, before)
				}
			}
			_, err := bundle.VerifyFiles(m, dir, "b.zip", &key.PublicKey, false)
			if err == nil {
				t.Fatal("VerifyFiles accepted a tampered bundle")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyFiles = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyWithoutKeyChecksChecksumOnly(t *testing.T) {
	for _, tt := range tamperCases() {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := signedFixture(t)
			tt.tamper(t, m, dir)
			checksum, _, _, derr := bundle.Digests(dir, m.FileList)
			checksumOK := derr == nil && checksum == m.Checksum
			_, err := bundle.VerifyFiles(m, dir, "b.zip", nil, false)
			if checksumOK && err != nil {
				t.Fatalf("VerifyFiles without a key = %v, want nil (only the checksum is checked)", err)
			}
			if !checksumOK && err == nil {
				t.Fatal("VerifyFiles without a key accepted a bundle whose checksum does not match")
			}
			if !checksumOK && derr == nil && !errors.Is(err, bundle.ErrChecksum) {
				t.Fatalf("VerifyFiles without a key = %v, want ErrChecksum", err)
			}
		})
	}
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadKeys(t *testing.T) {
	key, _ := testKeys()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	must := func(der []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pkcs8 := must(x509.MarshalPKCS8PrivateKey(key))
	ecPKCS8 := must(x509.MarshalPKCS8PrivateKey(ec))
	ecSEC1 := must(x509.MarshalECPrivateKey(ec))
	pkix := must(x509.MarshalPKIXPublicKey(&key.PublicKey))
	ecPKIX := must(x509.MarshalPKIXPublicKey(&ec.PublicKey))

	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("this is not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")

	privTests := []struct {
		name    string
		path    string
		wantErr string // "" means success; "*" any error; else a fragment of the error
	}{
		{"PKCS#1 RSA PRIVATE KEY", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), ""},
		{"PKCS#8 PRIVATE KEY", writePEM(t, "PRIVATE KEY", pkcs8), ""},
		{"PKCS#8 ecdsa key", writePEM(t, "PRIVATE KEY", ecPKCS8), "RSA"},
		{"SEC1 EC PRIVATE KEY", writePEM(t, "EC PRIVATE KEY", ecSEC1), "EC PRIVATE KEY"},
		{"RSA PRIVATE KEY block holding PKCS#8", writePEM(t, "RSA PRIVATE KEY", pkcs8), "*"},
		{"corrupt PKCS#8 bytes", writePEM(t, "PRIVATE KEY", []byte("junk")), "*"},
		{"a public key", writePEM(t, "PUBLIC KEY", pkix), "PUBLIC KEY"},
		{"garbage", garbage, "no PEM"},
		{"missing file", missing, "missing.pem"},
	}
	for _, tt := range privTests {
		t.Run("private/"+tt.name, func(t *testing.T) {
			k, err := bundle.LoadPrivateKey(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadPrivateKey = %v", err)
				}
				if !k.Equal(key) {
					t.Fatal("LoadPrivateKey returned another key")
				}
				return
			}
			if err == nil || k != nil {
				t.Fatalf("LoadPrivateKey = %v, %v; want an error", k, err)
			}
			if tt.wantErr != "*" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}

	pubTests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"PKIX PUBLIC KEY", writePEM(t, "PUBLIC KEY", pkix), ""},
		{"PKCS#1 RSA PUBLIC KEY", writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)), ""},
		{"PKIX ecdsa key", writePEM(t, "PUBLIC KEY", ecPKIX), "RSA"},
		{"corrupt PKIX bytes", writePEM(t, "PUBLIC KEY", []byte("junk")), "*"},
		{"a certificate block", writePEM(t, "CERTIFICATE", pkix), "CERTIFICATE"},
		{"a private key", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), "RSA PRIVATE KEY"},
		{"garbage", garbage, "no PEM"},
		{"missing file", missing, "missing.pem"},
	}
	for _, tt := range pubTests {
		t.Run("public/"+tt.name, func(t *testing.T) {
			k, err := bundle.LoadPublicKey(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadPublicKey = %v", err)
				}
				if !k.Equal(&key.PublicKey) {
					t.Fatal("LoadPublicKey returned another key")
				}
				return
			}
			if err == nil || k != nil {
				t.Fatalf("LoadPublicKey = %v, %v; want an error", k, err)
			}
			if tt.wantErr != "*" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}

	t.Run("loaded keys sign and verify a bundle", func(t *testing.T) {
		priv, err := bundle.LoadPrivateKey(writePEM(t, "PRIVATE KEY", pkcs8))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := bundle.LoadPublicKey(writePEM(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		dir := bundleDir(t, map[string][]byte{"p.so": []byte("x")})
		m := goManifest("p.so")
		if err := bundle.Sign(m, dir, "b.zip", priv); err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.VerifyFiles(cloneManifest(t, m), dir, "b.zip", pub, false); err != nil {
			t.Fatalf("VerifyFiles = %v", err)
		}
	})
}
