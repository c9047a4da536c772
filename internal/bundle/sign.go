// Package bundle builds, signs, fetches, verifies and extracts plugin bundles: zip archives of a
// manifest.json and the files it lists, in Tyk's format.
//
// The checksum and signature are computed exactly as Tyk's bundler computes them (MD5, and RSA
// PKCS#1 v1.5 over SHA-256, of the listed files' bytes concatenated in order), so bundles move
// between Tyk and Gatehouse in both directions. Tyk's signature leaves out the hook
// configuration, the file names and the bundle's own name; Gatehouse adds a seal (the
// manifest's gatehouse_seal field, which Tyk ignores) signing the hooks, the file list, each
// file's own SHA-256 and the name the bundle was built as, and requires it to verify when it is
// present. The sealed content has an encoding of its own, versioned and independent of the
// apidef types (see seal.go): Sign writes version 3, and VerifyFiles also accepts versions 1 and
// 2, which earlier builds wrote and which do not bind the name.
package bundle

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse/apidef"
)

// Digests computes, over the listed files of dir in order, Tyk's MD5 checksum (hex), the SHA-256
// Tyk's signature covers, and each file's own SHA-256 (hex) for the seal.
func Digests(dir string, files []string) (checksum string, tykHash []byte, perFile map[string]string, err error) {
	md := md5.New()
	all := sha256.New()
	perFile = make(map[string]string, len(files))
	for _, name := range files {
		one := sha256.New()
		if err := hashFile(filepath.Join(dir, filepath.FromSlash(name)), md, all, one); err != nil {
			return "", nil, nil, fmt.Errorf("file %q of file_list: %w", name, err)
		}
		perFile[name] = hex.EncodeToString(one.Sum(nil))
	}
	return hex.EncodeToString(md.Sum(nil)), all.Sum(nil), perFile, nil
}

func hashFile(path string, hs ...hash.Hash) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ws := make([]io.Writer, len(hs))
	for i, h := range hs {
		ws[i] = h
	}
	_, err = io.Copy(io.MultiWriter(ws...), f)
	return err
}

// Sign fills in a manifest's checksum and, with a key, Tyk's signature and Gatehouse's seal
// (version 3), over the files of dir. name is the bundle's name, the one gateways are to ask the
// bundle server for (Write's output file's base name): the seal binds it. It refuses to seal a
// manifest that sets a field the seal does not cover, and a name no gateway can ask for.
func Sign(m *apidef.BundleManifest, dir, name string, key *rsa.PrivateKey) error {
	checksum, tykHash, files, err := Digests(dir, m.FileList)
	if err != nil {
		return err
	}
	m.Checksum, m.Signature, m.Seal = checksum, "", nil
	if key == nil {
		return nil
	}
	if err := CheckBundleName(name); err != nil {
		return fmt.Errorf("sealing: the seal binds the bundle's name, the one gateways ask the bundle server for: %w", err)
	}
	digest, err := sealDigest(sealVersion, m, files, name)
	if err != nil {
		return fmt.Errorf("sealing: %w", err)
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, tykHash)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	seal, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest)
	if err != nil {
		return fmt.Errorf("sealing: %w", err)
	}
	m.Seal = &apidef.BundleSeal{Version: sealVersion, Name: name, Files: files, Signature: base64.StdEncoding.EncodeToString(seal)}
	return nil
}

// Verification errors.
var (
	ErrChecksum = errors.New("the bundle's checksum does not match its files")
	ErrUnsigned = errors.New("the bundle is not signed, and public_key_path says bundles must be")
	ErrBadSig   = errors.New("the bundle's signature does not verify with public_key_path's key")
	ErrBadSeal  = errors.New("the bundle's gatehouse_seal does not verify: its hooks, file names or files were changed after signing")
	ErrUnsealed = errors.New("the bundle is signed but has no gatehouse_seal, and public_key_path says bundles must be sealed: " +
		"Tyk's signature covers the files' contents only, not the hooks the manifest runs nor the files' names, which anyone able to change the bundle could rewrite " +
		"(a security hook dropped, say). Rebuild it with `gatehouse bundle build -k KEY`, which seals them, " +
		"or, for a bundle built by Tyk's tooling, set bundle_allow_unsealed to accept its hooks unauthenticated, as Tyk does")
	// ErrWrongName is matched by the error for a bundle whose seal binds another name than the
	// one it is served as (see NameError).
	ErrWrongName = errors.New("the bundle was built under another name")
)

// NameError is a bundle served under another name than the one its seal binds.
type NameError struct {
	Built  string // the name the seal binds (gatehouse bundle build -o)
	Served string // the name the gateway asked for
}

func (e *NameError) Error() string {
	return fmt.Sprintf("built as %s, served as %s: its gatehouse_seal binds the name it was built as, so that no signed bundle "+
		"built under another name (another API's, another release's) passes for this one. If it is the bundle meant, rebuild it with "+
		"`gatehouse bundle build -o %s`; otherwise the bundle server holds the wrong file under this name", e.Built, e.Served, e.Served)
}

func (e *NameError) Is(target error) bool { return target == ErrWrongName }

// VerifyFiles checks a manifest against the files of dir, for the bundle named name (the name the
// gateway asked for): the checksum always; with a key, Tyk's signature (required) and the seal
// (of version 1, 2 or 3; a seal is refused when the manifest sets a field its version does not
// cover). A seal of version 3 binds the name the bundle was built as: under another name the
// bundle is refused with a NameError. Versions 1 and 2 bind no name, and pass for any (the
// caller warns: see NameBoundSeal). The seal is required too unless allowUnsealed (for bundles
// Tyk's tooling signs, which seals nothing): without it, the hooks and file names are not
// authenticated. It returns the SHA-256 of each listed file as verified, so that a file can be
// checked again when it is used.
func VerifyFiles(m *apidef.BundleManifest, dir, name string, key *rsa.PublicKey, allowUnsealed bool) (map[string]string, error) {
	checksum, tykHash, files, err := Digests(dir, m.FileList)
	if err != nil {
		return nil, err
	}
	if checksum != m.Checksum {
		return nil, fmt.Errorf("%w (manifest %q, files %q)", ErrChecksum, m.Checksum, checksum)
	}
	if key == nil {
		return files, nil
	}
	if m.Signature == "" {
		return nil, ErrUnsigned
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSig, err)
	}
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, tykHash, sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSig, err)
	}
	if m.Seal == nil {
		if allowUnsealed {
			return files, nil
		}
		return nil, ErrUnsealed
	}
	if _, ok := sealFormats[m.Seal.Version]; !ok {
		return nil, fmt.Errorf("%w: unknown seal version %d", ErrBadSeal, m.Seal.Version)
	}
	if len(m.Seal.Files) != len(files) {
		return nil, fmt.Errorf("%w: it covers %d files, the file list has %d", ErrBadSeal, len(m.Seal.Files), len(files))
	}
	for name, h := range files {
		if m.Seal.Files[name] != h {
			return nil, fmt.Errorf("%w: file %q", ErrBadSeal, name)
		}
	}
	seal, err := base64.StdEncoding.DecodeString(m.Seal.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSeal, err)
	}
	digest, err := sealDigest(m.Seal.Version, m, m.Seal.Files, m.Seal.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest, seal); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSeal, err)
	}
	// The name the seal signs, now authenticated, must be the one asked for.
	if m.Seal.Version >= NameBoundSeal && m.Seal.Name != name {
		return nil, &NameError{Built: m.Seal.Name, Served: name}
	}
	return files, nil
}

// LoadPrivateKey reads a PEM RSA private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY").
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: bundles are signed with RSA keys; this is a %T", path, k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("%s: want a PEM RSA PRIVATE KEY or PRIVATE KEY, found %s", path, block.Type)
}

// LoadPublicKey reads a PEM RSA public key (PKIX "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY").
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: bundles are verified with RSA keys; this is a %T", path, k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("%s: want a PEM PUBLIC KEY or RSA PUBLIC KEY, found %s", path, block.Type)
}

func readPEM(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	return block, nil
}
