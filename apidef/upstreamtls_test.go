package apidef_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestForUpstreamHost: within a map the most specific entry wins (host and port, host, "*."
// parent with and without the port, "*"); a later map's entry, of any kind, wins over an
// earlier map's, as Tyk 5.14's getCertificateIDForHost.
func TestForUpstreamHost(t *testing.T) {
	global := map[string]string{"*": "g-any", "*.example.com": "g-domain", "api.example.com": "g-host"}
	api := map[string]string{"*.example.com:8443": "a-domain-port", "pay.example.com": "a-host", "pay.example.com:9443": "a-host-port"}
	tests := []struct {
		host, port string
		maps       []map[string]string
		want       string
	}{
		{host: "api.example.com", maps: []map[string]string{global}, want: "g-host"},
		{host: "API.Example.com.", maps: []map[string]string{global}, want: "g-host"},
		{host: "www.example.com", maps: []map[string]string{global}, want: "g-domain"},
		{host: "a.b.example.com", maps: []map[string]string{global}, want: "g-any"}, // one level only
		{host: "example.org", maps: []map[string]string{global}, want: "g-any"},
		{host: "example.org", maps: []map[string]string{nil}, want: ""},
		{host: "pay.example.com", port: "9443", maps: []map[string]string{api}, want: "a-host-port"},
		{host: "pay.example.com", port: "8443", maps: []map[string]string{api}, want: "a-host"},
		{host: "www.example.com", port: "8443", maps: []map[string]string{api}, want: "a-domain-port"},
		{host: "www.example.com", maps: []map[string]string{api}, want: ""},
		// The API's map wins where it has an entry, even a wildcard over tyk.conf's host.
		{host: "api.example.com", port: "8443", maps: []map[string]string{global, api}, want: "a-domain-port"},
		{host: "api.example.com", port: "443", maps: []map[string]string{global, api}, want: "g-host"},
		{host: "api.example.com", maps: []map[string]string{global, {"*": "a-any"}}, want: "a-any"},
		{host: "::1", port: "443", maps: []map[string]string{{"[::1]:443": "v6-port", "::1": "v6"}}, want: "v6-port"},
		{host: "::1", maps: []map[string]string{{"[::1]:443": "v6-port", "::1": "v6"}}, want: "v6"},
		// Addresses compare in their canonical spelling, as keys must write them.
		{host: "::ffff:7f00:1", maps: []map[string]string{{"::ffff:127.0.0.1": "mapped"}}, want: "mapped"},
		{host: "0:0:0:0:0:0:0:1", maps: []map[string]string{{"::1": "v6"}}, want: "v6"},
	}
	for _, tc := range tests {
		if got := apidef.ForUpstreamHost(tc.host, tc.port, tc.maps...); got != tc.want {
			t.Errorf("ForUpstreamHost(%q, %q, %v) = %q, want %q", tc.host, tc.port, tc.maps, got, tc.want)
		}
	}
}

func TestUpstreamHostKeyProblem(t *testing.T) {
	for _, k := range []string{"*", "api.example.com", "*.example.com", "10.0.0.1", "::1", "api.example.com:8443",
		"*.example.com:443", "[::1]:443", "backend_1"} {
		if why := apidef.UpstreamHostKeyProblem(k); why != "" {
			t.Errorf("%q refused: %s", k, why)
		}
	}
	for _, k := range []string{"", "https://api.example.com", "api.example.com/", "API.example.com", "api.example.com.",
		"*.*.example.com", "a*.example.com", "api.example.com:0", "api.example.com:65536", "api.example.com:08",
		"*:443", "[::1]", "api.example.com:https", "0:0:0:0:0:0:0:1", "::ffff:7f00:1", "[0::1]:443"} {
		if why := apidef.UpstreamHostKeyProblem(k); why == "" {
			t.Errorf("%q accepted", k)
		}
	}
}

func TestPinnedKeys(t *testing.T) {
	got, err := apidef.PinnedKeys(" a.pem , ,b.pem,")
	if err != nil || strings.Join(got, "|") != "a.pem|b.pem" {
		t.Errorf("PinnedKeys = %q, %v", got, err)
	}
	if _, err := apidef.PinnedKeys(" , "); err == nil {
		t.Error("a list of no key accepted")
	}
	if _, err := apidef.PinnedKeys(strings.Repeat("k,", apidef.MaxPinnedKeys)); err != nil {
		t.Errorf("%d keys refused: %v", apidef.MaxPinnedKeys, err)
	}
	if _, err := apidef.PinnedKeys(strings.Repeat("k,", apidef.MaxPinnedKeys+1)); err == nil {
		t.Errorf("%d keys accepted", apidef.MaxPinnedKeys+1)
	}
}

// TestPinFingerprint: 64 hex digits, alone or ending a store id, are a fingerprint; an entry
// with a path separator or a dot is a file, whatever its name ends with.
func TestPinFingerprint(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for entry, want := range map[string]bool{
		hex64: true, "globex" + hex64: true, strings.ToUpper(hex64): true,
		"pins/backend-" + hex64: false, "/etc/pins/" + hex64: false, hex64 + ".pem": false, "key.pem": false,
	} {
		if _, got := apidef.PinFingerprint(entry); got != want {
			t.Errorf("PinFingerprint(%q) = %v, want %v", entry, got, want)
		}
	}
}
