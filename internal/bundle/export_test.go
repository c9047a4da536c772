package bundle

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// SealVersion is the version Sign writes.
const SealVersion = sealVersion

// SealContent returns the content a seal of the given version signs for a bundle named name, as
// encoded.
func SealContent(version int, m *apidef.BundleManifest, files map[string]string, name string) ([]byte, error) {
	f, ok := sealFormats[version]
	if !ok {
		return nil, fmt.Errorf("unknown seal version %d", version)
	}
	return f.encode(m, files, name)
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

// Reseal replaces a signed manifest's seal with a seal of an earlier version (1 or 2), as the
// builds before the next version wrote it, over the same files: with no name.
func Reseal(m *apidef.BundleManifest, key *rsa.PrivateKey, version int) error {
	if version >= NameBoundSeal {
		return fmt.Errorf("version %d is not an earlier one", version)
	}
	digest, err := sealDigest(version, m, m.Seal.Files, "")
	if err != nil {
		return err
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest)
	if err != nil {
		return err
	}
	m.Seal.Version, m.Seal.Name, m.Seal.Signature = version, "", base64.StdEncoding.EncodeToString(sig)
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
	for name := range s.unbound {
		seen[name] = true
	}
	return len(seen)
}

// Timeouts returns the fetcher's ProgressTimeout and AttemptTimeout, defaults applied.
func (f *Fetcher) Timeouts() (progress, attempt time.Duration) {
	return f.o.ProgressTimeout, f.o.AttemptTimeout
}
