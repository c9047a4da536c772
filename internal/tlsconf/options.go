package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Options are the listener settings besides the certificates.
type Options struct {
	// MinVersion and MaxVersion bound the TLS version (crypto/tls numbers); see ResolveVersions.
	MinVersion, MaxVersion uint16
	// CipherSuites, when not empty, limits the TLS 1.2 (and older) cipher suites; TLS 1.3's
	// are not configurable in Go.
	CipherSuites []uint16
}

// ServerConfig returns the tls.Config of a listener serving certs. Protocol negotiation
// (NextProtos) is left to http.Server, which offers h2 only when its Protocols allow HTTP/2.
func ServerConfig(certs *Certs, o Options) *tls.Config {
	return &tls.Config{
		GetCertificate: certs.GetCertificate,
		MinVersion:     o.MinVersion,
		MaxVersion:     o.MaxVersion,
		CipherSuites:   slices.Clone(o.CipherSuites),
	}
}

// Default versions, as in Tyk: TLS 1.2 to 1.3 unless configured.
const (
	DefaultMinVersion = tls.VersionTLS12
	DefaultMaxVersion = tls.VersionTLS13
)

// versionNumbers are tyk.conf's TLS version numbers (the protocol's own: 0x0301 = 769 = TLS 1.0).
var versionNumbers = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// validVersions lists the accepted numbers for a message.
const validVersions = "769 (TLS 1.0), 770 (TLS 1.1), 771 (TLS 1.2) or 772 (TLS 1.3)"

// ResolveVersions turns tyk.conf's numeric min and max versions (0 when not set) into the
// versions to serve, with Tyk's rules: unset means TLS 1.2 to 1.3; min above max, min alone
// above 1.3 and max alone below 1.2 are errors. minKey and maxKey name the keys in errors.
func ResolveVersions(min, max int, minKey, maxKey string) (lo, hi uint16, err error) {
	check := func(key string, v int) error {
		if v != 0 && !slices.Contains(versionNumbers, uint16(v)) || v < 0 || v > 0xffff {
			return fmt.Errorf("%s is %d, which is not a TLS version; use %s", key, v, validVersions)
		}
		return nil
	}
	if err := check(minKey, min); err != nil {
		return 0, 0, err
	}
	if err := check(maxKey, max); err != nil {
		return 0, 0, err
	}
	lo, hi = DefaultMinVersion, DefaultMaxVersion
	if min != 0 {
		lo = uint16(min)
	}
	if max != 0 {
		hi = uint16(max)
	}
	switch {
	case min != 0 && max != 0 && lo > hi:
		return 0, 0, fmt.Errorf("%s %d (%s) is above %s %d (%s)", minKey, min, tls.VersionName(lo), maxKey, max, tls.VersionName(hi))
	case min != 0 && max == 0 && lo > hi:
		return 0, 0, fmt.Errorf("%s %d (%s) is above the highest version, 772 (TLS 1.3)", minKey, min, tls.VersionName(lo))
	case max != 0 && min == 0 && hi < lo:
		return 0, 0, fmt.Errorf("%s %d (%s) is below the default %s, 771 (TLS 1.2); set %s too", maxKey, max, tls.VersionName(hi), minKey, minKey)
	}
	return lo, hi, nil
}

// legacyCipherNames are the names Go used before it added _SHA256 to the ChaCha20 suites;
// tyk.conf files still use them.
var legacyCipherNames = map[string]uint16{
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
}

// cipherTable maps every cipher-suite name Go knows, secure and insecure, to its ID.
var cipherTable = sync.OnceValues(func() (map[string]*tls.CipherSuite, []string) {
	m := map[string]*tls.CipherSuite{}
	var names []string
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range list {
			m[s.Name] = s
			names = append(names, s.Name)
		}
	}
	for name, id := range legacyCipherNames {
		for _, s := range tls.CipherSuites() {
			if s.ID == id {
				m[name] = s
			}
		}
	}
	return m, names
})

// CipherSuite returns the cipher suite a Go name stands for (the legacy ChaCha20 names
// included) and whether it is known.
func CipherSuite(name string) (*tls.CipherSuite, bool) {
	m, _ := cipherTable()
	s, ok := m[strings.TrimSpace(name)]
	return s, ok
}

// CipherNames returns the cipher-suite names Go knows, secure ones first.
func CipherNames() []string {
	_, names := cipherTable()
	return slices.Clone(names)
}

// CipherSuites returns the IDs of the named suites, in order and without repeats. An unknown
// name is an error that lists the valid ones; key names the setting in it. Insecure suites are
// returned with a note each.
func CipherSuites(names []string, key string) (ids []uint16, notes []string, err error) {
	var unknown []string
	for _, name := range names {
		s, ok := CipherSuite(name)
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", name))
			continue
		}
		if s.Insecure {
			notes = append(notes, fmt.Sprintf("%s names %s, which Go marks insecure", key, s.Name))
		}
		if !slices.Contains(ids, s.ID) {
			ids = append(ids, s.ID)
		}
	}
	if len(unknown) > 0 {
		return nil, notes, fmt.Errorf("%s: unknown cipher suite %s; use Go's names: %s",
			key, strings.Join(unknown, ", "), strings.Join(CipherNames(), ", "))
	}
	return ids, notes, nil
}

// HTTP2CipherProblem returns why HTTP/2 cannot be served with these suites and this lowest
// version, or "". HTTP/2 over TLS 1.2 requires TLS_ECDHE_*_WITH_AES_128_GCM_SHA256 (RFC 7540
// 9.2.2), and Go's server refuses to start without one.
func HTTP2CipherProblem(suites []uint16, minVersion uint16) string {
	if len(suites) == 0 || minVersion >= tls.VersionTLS13 {
		return ""
	}
	if slices.Contains(suites, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) || slices.Contains(suites, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) {
		return ""
	}
	return "HTTP/2 over TLS 1.2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 among the cipher suites"
}
