package bundle

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// SealVersion is the version Sign writes.
const SealVersion = sealVersion

// SealContent returns the content a seal of the given version signs, as encoded.
func SealContent(version int, m *apidef.BundleManifest, files map[string]string) ([]byte, error) {
	f, ok := sealFormats[version]
	if !ok {
		return nil, fmt.Errorf("unknown seal version %d", version)
	}
	return f.encode(m, files)
}

// SealCoverage returns the fields a seal version covers: top-level, custom_middleware and hook
// fields.
func SealCoverage(version int) (manifest, section, hook []string) {
	c := sealFormats[version].cover
	return c.manifest, c.section, c.hook
}

// Uncovered lists the fields m sets that the given coverage does not name.
func Uncovered(m *apidef.BundleManifest, manifest, section, hook []string) []string {
	return uncovered(m, coverage{manifest: manifest, section: section, hook: hook})
}

// ResealV1 replaces a signed manifest's seal with a version 1 seal, as builds before version 2
// wrote it, over the same files.
func ResealV1(m *apidef.BundleManifest, key *rsa.PrivateKey) error {
	digest, err := sealDigest(1, m, m.Seal.Files)
	if err != nil {
		return err
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest)
	if err != nil {
		return err
	}
	m.Seal.Version, m.Seal.Signature = 1, base64.StdEncoding.EncodeToString(sig)
	return nil
}

// SetAfterExtract makes downloads call f between extracting a bundle and verifying it, until
// the test ends.
func SetAfterExtract(t *testing.T, f func(name string)) {
	afterExtract = f
	t.Cleanup(func() { afterExtract = nil })
}

// SetCachedInvalid makes Get call f when a bundle found on disk failed verification, before it
// removes it, until the test ends.
func SetCachedInvalid(t *testing.T, f func(name string)) {
	cachedInvalid = f
	t.Cleanup(func() { cachedInvalid = nil })
}

// Remembered returns how many bundles the Store remembers something of: the end of a download
// or a failure.
func (s *Store) Remembered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for name := range s.last {
		seen[name] = true
	}
	for name := range s.failed {
		seen[name] = true
	}
	return len(seen)
}
