package iplist

import (
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestContains(t *testing.T) {
	l, err := Parse("allowed_ips", []string{"192.0.2.10", "198.51.100.0/24", "2001:db8::/32", "::1", " 10.0.0.1 ", "203.0.113.9/24"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"192.0.2.10", true},
		{"192.0.2.11", false},
		{"198.51.100.255", true},
		{"198.51.101.0", false},
		{"2001:db8:1::5", true},
		{"2001:db9::1", false},
		{"::1", true},
		{"10.0.0.1", true},
		{"::ffff:192.0.2.10", true}, // an IPv4 address written as IPv6 is the IPv4 address
		{"203.0.113.200", true},     // a range written with host bits set covers its network
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := l.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

// TestMappedRanges: an IPv4 range written as IPv6 is the IPv4 range, in a block list (where kept
// as IPv6 it would never match a client, whose address is compared unmapped) and an allow list.
func TestMappedRanges(t *testing.T) {
	block, err := Parse("blacklisted_ips", []string{"::ffff:127.0.0.0/104", "::ffff:192.0.2.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	allow, err := Parse("allowed_ips", []string{"::ffff:198.51.100.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	k := &Check{Allow: allow, Block: block}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1", false}, {"192.0.2.10", false}, {"::ffff:192.0.2.10", false}, {"198.51.100.7", true}, {"198.51.101.7", false}} {
		if err := k.Allowed(netip.MustParseAddr(tc.addr)); (err == nil) != tc.ok {
			t.Errorf("Allowed(%s) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
	// ::ffff:0:0/96 is every IPv4 address.
	all, err := apidef.ParseIPEntry("::ffff:0.0.0.0/96")
	if err != nil || all != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("::ffff:0.0.0.0/96 = %v, %v; want 0.0.0.0/0", all, err)
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for _, e := range []string{"10.0.0.300", "10.0.0.0/33", "example.com", "", "fe80::1%eth0", "10.0.0.1-10.0.0.9", "::ffff:10.0.0.0/95"} {
		if _, err := Parse("allowed_ips", []string{"10.0.0.1", e}); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", e)
		}
	}
}

func TestAllowed(t *testing.T) {
	allow, _ := Parse("a", []string{"10.0.0.0/8"})
	block, _ := Parse("b", []string{"10.9.0.0/16"})
	k := &Check{Allow: allow, Block: block}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"10.1.2.3", true}, {"10.9.1.1", false}, {"192.0.2.1", false}, {"", false}} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if err := k.Allowed(a); (err == nil) != tc.ok {
			t.Errorf("Allowed(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}

func TestCompileActivation(t *testing.T) {
	tests := []struct {
		name              string
		def               apidef.APIDefinition
		wantAllow, wantBl bool
	}{
		{"nothing", apidef.APIDefinition{}, false, false},
		{"flag and list", apidef.APIDefinition{EnableIPWhiteListing: true, AllowedIPs: []string{"10.0.0.1"}}, true, false},
		{"list without flag (Tyk 5.14)", apidef.APIDefinition{AllowedIPs: []string{"10.0.0.1"}, BlacklistedIPs: []string{"10.0.0.2"}}, true, true},
		{"switched off", apidef.APIDefinition{AllowedIPs: []string{"10.0.0.1"}, IPAccessControlDisabled: true}, false, false},
		{"flag beats the switch", apidef.APIDefinition{EnableIPBlacklisting: true, BlacklistedIPs: []string{"10.0.0.1"}, IPAccessControlDisabled: true}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Compile(&tc.def)
			if err != nil {
				t.Fatal(err)
			}
			gotAllow, gotBlock := k != nil && k.Allow != nil, k != nil && k.Block != nil
			if gotAllow != tc.wantAllow || gotBlock != tc.wantBl {
				t.Errorf("allow, block = %v, %v; want %v, %v", gotAllow, gotBlock, tc.wantAllow, tc.wantBl)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"peer only", "192.0.2.1:5000", nil, trusted, "192.0.2.1"},
		{"no trusted proxies: header ignored", "10.0.0.5:5000", []string{"203.0.113.9"}, nil, "10.0.0.5"},
		{"untrusted peer: header ignored", "192.0.2.1:5000", []string{"203.0.113.9"}, trusted, "192.0.2.1"},
		{"trusted peer", "10.0.0.5:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"rightmost untrusted wins", "10.0.0.5:5000", []string{"198.51.100.1, 203.0.113.9, 10.0.0.7"}, trusted, "203.0.113.9"},
		{"several header lines", "10.0.0.5:5000", []string{"198.51.100.1", "203.0.113.9, 10.1.1.1"}, trusted, "203.0.113.9"},
		{"all trusted: leftmost", "10.0.0.5:5000", []string{"10.0.0.9, 10.0.0.8"}, trusted, "10.0.0.9"},
		{"garbage stops at the last trusted hop", "10.0.0.5:5000", []string{"203.0.113.9, nonsense, 10.0.0.8"}, trusted, "10.0.0.8"},
		{"address with port", "10.0.0.5:5000", []string{"203.0.113.9:1234"}, trusted, "203.0.113.9"},
		{"IPv6 peer and client", "[fd00::1]:5000", []string{"2001:db8::9"}, trusted, "2001:db8::9"},
		{"mapped IPv4 peer", "[::ffff:10.0.0.5]:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"empty entries skipped", "10.0.0.5:5000", []string{"203.0.113.9, ,"}, trusted, "203.0.113.9"},
		{"bad remote", "nonsense", []string{"203.0.113.9"}, trusted, "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientAddr(tc.remote, tc.xff, tc.trusted).String(); got != tc.want {
				t.Errorf("ClientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestZonedPeer: a link-local IPv6 peer comes with a zone (RemoteAddr "[fe80::1%eth0]:port"),
// which netip.Prefix.Contains never matches: the lists must judge the address without it, or a
// block list's fe80::/10 lets the peer through and an allow list refuses it.
func TestZonedPeer(t *testing.T) {
	block, _ := Parse("blacklisted_ips", []string{"fe80::/10"})
	exact, _ := Parse("blacklisted_ips", []string{"fe80::1"})
	allow, _ := Parse("allowed_ips", []string{"fe80::/10"})
	peer := ClientAddr("[fe80::1%eth0]:4242", nil, nil)
	for _, c := range []struct {
		name string
		k    *Check
		ok   bool
	}{
		{"blocked range", &Check{Block: block}, false},
		{"blocked address", &Check{Block: exact}, false},
		{"allowed range", &Check{Allow: allow}, true},
	} {
		if err := c.k.Allowed(peer); (err == nil) != c.ok {
			t.Errorf("%s: Allowed(%s) = %v, want ok=%v", c.name, peer, err, c.ok)
		}
	}
	// A zone on an address given directly (not from the peer) is ignored too.
	if !block.Contains(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("Contains(fe80::1 with zone eth0) = false for fe80::/10")
	}
	// Through trusted proxies: a link-local proxy is recognised as trusted.
	trusted := []netip.Prefix{netip.MustParsePrefix("fe80::/10")}
	if got := ClientAddr("[fe80::1%eth0]:4242", []string{"192.0.2.7"}, trusted); got != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("ClientAddr through a link-local trusted proxy = %s, want 192.0.2.7", got)
	}
}
