package apidef

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Upstream client certificates (upstream_certificates) and pinned public keys
// (pinned_public_keys) are maps from an upstream host to what applies to it. Both are read the
// same way in a definition and in tyk.conf (security.certificates.upstream,
// security.pinned_public_keys).

// MaxPinnedKeys bounds the public keys one entry of pinned_public_keys lists, and
// MaxUpstreamHostKeys the hosts one such map names.
const (
	MaxPinnedKeys       = 100
	MaxUpstreamHostKeys = 1000
)

// ForUpstreamHost returns the value that applies to an upstream across maps, as Tyk 5.14
// chooses it. Within a map the most specific entry wins: host and port ("api.example.com:8443"),
// the host ("api.example.com"), "*." and the parent domain with the port, without it, then "*".
// A later map's entry, when it has one for the upstream, wins over an earlier map's (a
// definition's own map over tyk.conf's). port is the target's, its scheme's default when the
// URL writes none; "" leaves entries with a port aside. "" when no entry applies.
func ForUpstreamHost(host, port string, maps ...map[string]string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String() // keys write addresses as it does (UpstreamHostKeyProblem)
	}
	var keys []string
	if port != "" {
		keys = append(keys, net.JoinHostPort(host, port))
	}
	keys = append(keys, host)
	if _, parent, ok := strings.Cut(host, "."); ok {
		if port != "" {
			keys = append(keys, net.JoinHostPort("*."+parent, port))
		}
		keys = append(keys, "*."+parent)
	}
	keys = append(keys, "*")
	v := ""
	for _, m := range maps {
		for _, k := range keys {
			if f, ok := m[k]; ok {
				v = f
				break
			}
		}
	}
	return v
}

// UpstreamHostKeyProblem says why a key of such a map cannot match an upstream, or "" when it
// can: "*", a host name or IP address in lower case, or "*." followed by a domain, either of
// the last two with a port.
func UpstreamHostKeyProblem(key string) string {
	d := strings.TrimPrefix(key, "*.")
	if h, port, err := net.SplitHostPort(d); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "0") {
			return fmt.Sprintf("the key %q has a port that is not a number from 1 to 65535", key)
		}
		d = h
	}
	if a, err := netip.ParseAddr(d); err == nil && a.String() != d {
		return fmt.Sprintf("the key %q writes an IP address as %q does not: write %q", key, a.String(), a.String())
	}
	if key == "*" || (ValidHost(d) && !strings.Contains(d, "*") && strings.ToLower(d) == d && !strings.HasSuffix(d, ".")) {
		return ""
	}
	return fmt.Sprintf("the key %q is not \"*\", a host name, an IP address or \"*.\" followed by "+
		"a domain, in lower case and with an optional port (entries are chosen by the target's "+
		"host; write no scheme, path or trailing dot)", key)
}

// ValidHost reports whether s is an IP address (IPv6 zones allowed) or a host name. Underscores
// are accepted in host names because container names often have them.
func ValidHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	// An all-digit last label is a malformed IP address, not a host name.
	_, err := strconv.Atoi(labels[len(labels)-1])
	return err != nil
}

// PinnedKeys splits an entry of pinned_public_keys, a comma-separated list, into its public
// keys: each a SHA-256 fingerprint of a public key (64 hex digits, or a Tyk certificate-store
// id ending with one) or a PEM file.
func PinnedKeys(list string) ([]string, error) {
	var out []string
	for k := range strings.SplitSeq(list, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if len(out) == MaxPinnedKeys {
			return nil, fmt.Errorf("lists more than %d public keys", MaxPinnedKeys)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lists no public key; give SHA-256 fingerprints of public keys or PEM files, separated by commas")
	}
	return out, nil
}

// PinFingerprint returns the public key fingerprint an entry of a pinned_public_keys list
// names, when it is one: 64 hex digits, alone or at the end of a Tyk certificate-store id (the
// org id followed by the fingerprint), in lower case. Other entries, and any holding '/', '\'
// or '.', are files: a file named after a fingerprint is still read.
func PinFingerprint(entry string) (string, bool) {
	if strings.ContainsAny(entry, "/\\.") {
		return "", false
	}
	return CertificateFingerprint(entry)
}

// validateUpstreamTLS checks upstream_certificates and pinned_public_keys. The files they name
// are read when the API is compiled.
func (a *APIDefinition) validateUpstreamTLS() []error {
	var errs []error
	check := func(field string, m map[string]string, value func(string) error) {
		if len(m) > MaxUpstreamHostKeys {
			errs = append(errs, fmt.Errorf("%s: names more than %d hosts", field, MaxUpstreamHostKeys))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if why := UpstreamHostKeyProblem(k); why != "" {
				errs = append(errs, fmt.Errorf("%s: %s", field, why))
				continue
			}
			if err := value(m[k]); err != nil {
				errs = append(errs, fmt.Errorf("%s[%q]: %w", field, k, err))
			}
		}
	}
	check("upstream_certificates", a.UpstreamCertificates, func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("is empty; give the path of a PEM file holding the client certificate and its private key")
		}
		return nil
	})
	check("pinned_public_keys", a.PinnedPublicKeys, func(v string) error {
		_, err := PinnedKeys(v)
		return err
	})
	return errs
}
