package mtls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewRefuses: what cannot name a certificate stops the API with the entry named; an empty
// list too (nothing would be let in).
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	keyOnly := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyOnly, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		entries []string
		want    string
	}{
		"none":               {nil, "allows no certificate"},
		"empty entry":        {[]string{" "}, "client_certificates[0]: empty"},
		"a store id":         {[]string{"globex-5f1e"}, "neither a PEM file"},
		"a missing file":     {[]string{filepath.Join(dir, "missing.pem")}, "neither a PEM file"},
		"a file, no cert":    {[]string{keyOnly}, "holds no PEM certificate"},
		"bad PEM text":       {[]string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "certificate 1"},
		"63 hex digits":      {[]string{strings.Repeat("a", 63)}, "neither a PEM file"},
		"not hex at the end": {[]string{strings.Repeat("a", 63) + "g"}, "neither a PEM file"},
	} {
		where := make([]string, len(c.entries))
		for i := range where {
			where[i] = "client_certificates[" + string(rune('0'+i)) + "]"
		}
		_, err := New(c.entries, where, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	if _, err := New([]string{"acme" + strings.Repeat("AB", 32)}, nil, nil); err != nil {
		t.Errorf("an id ending with an upper-case fingerprint: %v", err)
	}
}
